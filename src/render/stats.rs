//! What `stats` reports (the data its JSON serializes), built from a pack's decisions, and its
//! text form: a token tree cut to a readable size (and saying what was cut), the top files, and
//! the omitted and secret counts.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::xml::tree_name;
use super::{human, plural};
use crate::secrets::ScanSummary;
use crate::types::{Fidelity, FileDecision};

/// The version of the JSON schema: raised only when a field changes meaning or goes away (new
/// fields may appear without it).
pub const SCHEMA_VERSION: u32 = 1;

/// The reason `omitted` gives for a file the budget left out (the other reasons are the walk's).
pub const LEFT_OUT: &str = "budget";

/// Everything `stats` reports; serialized as is for `--json` (see the schema in `stats --help`).
#[derive(Debug, Serialize)]
pub struct Stats {
    pub version: u32,
    pub root: String,
    pub encoding: &'static str,
    pub budget: Option<BudgetStats>,
    /// With --diff: the change, and the patches left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<super::DiffSummary>,
    pub totals: Totals,
    /// Files left out, per reason.
    pub omitted: BTreeMap<&'static str, usize>,
    pub secrets: SecretStats,
    /// Every directory that holds a file, the root (".") first, then depth first in name order.
    pub directories: Vec<DirectoryStats>,
    /// Every file considered, in path order.
    pub files: Vec<FileStats>,
}

/// What the budget allowed.
#[derive(Debug, Serialize)]
pub struct BudgetStats {
    /// The tokens the document may use: --budget less --reserve.
    pub budget: usize,
    pub reserve: usize,
    /// The exact count of the document `pack --budget` would write.
    pub document_tokens: usize,
    /// The depth (0: the top level) at which the document's tree shows each directory as one
    /// line, if it does.
    pub tree_depth: Option<usize>,
    pub full: usize,
    pub compressed: usize,
    pub outline: usize,
    /// Files that could be packed but were left out to fit.
    pub left_out: usize,
}

/// Sums over a set of files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Files, omitted ones included.
    pub files: usize,
    /// Tokens of their full text (omitted files count 0).
    pub tokens: usize,
    /// Files that the document holds.
    pub packed_files: usize,
    /// Tokens of their text as the document holds it.
    pub packed_tokens: usize,
}

impl Totals {
    pub fn add(&mut self, other: Totals) {
        self.files += other.files;
        self.tokens += other.tokens;
        self.packed_files += other.packed_files;
        self.packed_tokens += other.packed_tokens;
    }
}

#[derive(Debug, Serialize)]
pub struct DirectoryStats {
    /// Relative to the root, `/`-separated, without a trailing `/`; the root is ".".
    pub path: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Serialize)]
pub struct FileStats {
    /// As the document shows it (a secret in a name is redacted).
    pub path: String,
    /// Tokens of the full text; null when the file is not read (see `omitted`).
    pub tokens: Option<usize>,
    /// Why the file is not in the document, or null.
    pub omitted: Option<&'static str>,
    /// The view the document holds: full, compressed or outline; null when omitted.
    pub fidelity: Option<&'static str>,
    /// Tokens of the text as the document holds it (its tokens attribute); 0 when omitted.
    pub packed_tokens: usize,
    /// With --budget: position in the ranking (1 = most relevant), for every file that can be
    /// packed; null otherwise.
    pub rank: Option<usize>,
    /// With --budget: the ranking's score behind `rank`.
    pub score: Option<f64>,
    /// The view fell back to the head of the file or an empty outline.
    pub degraded: bool,
    /// The path's components, for the tree (the path is their `/`-join).
    #[serde(skip)]
    pub components: Vec<String>,
}

impl FileStats {
    /// The file's share of its directories' sums.
    pub fn totals(&self) -> Totals {
        Totals {
            files: 1,
            tokens: self.tokens.unwrap_or(0),
            packed_files: usize::from(self.fidelity.is_some()),
            packed_tokens: self.packed_tokens,
        }
    }
}

/// What secret scanning found: counts only, never a value.
#[derive(Debug, Serialize)]
pub struct SecretStats {
    /// redact, omit-file, fail or off.
    pub mode: &'static str,
    /// Secrets found (redacted, or their files left out).
    pub found: usize,
    /// Files holding them.
    pub files: usize,
    /// Known example values, left in place.
    pub examples: usize,
    /// Of the secrets found, those in files a budgeted pack leaves out (its document neither
    /// holds nor lists them); 0 without --budget.
    pub left_out: usize,
}

/// A directory in the text tree: its totals, its subdirectories by name, and its files (indices
/// into [`Stats::files`]).
#[derive(Debug, Default)]
pub struct DirectoryNode {
    pub name: String,
    pub totals: Totals,
    pub directories: BTreeMap<String, DirectoryNode>,
    pub files: Vec<usize>,
}

/// How much of the tree and the top lists to show.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Levels below the root whose entries are listed (a directory at the last level is one
    /// line); None: all.
    pub depth: Option<usize>,
    /// Entries listed per directory, the largest first; the rest become one line. None: all.
    pub entries: Option<usize>,
    /// Files in each top list.
    pub top: usize,
}

/// The report for `files` (every file considered, in path order): totals per directory and per
/// reason, the secrets counts, and the directory tree for the text form.
pub fn build(
    root: &str,
    encoding: &'static str,
    decisions: Vec<FileDecision>,
    scan: &ScanSummary,
    budget: Option<BudgetStats>,
    diff: Option<super::DiffSummary>,
) -> (Stats, DirectoryNode) {
    let budgeted = budget.is_some();
    let files: Vec<FileStats> = decisions
        .into_iter()
        .map(|d| file_stats(d, budgeted))
        .collect();
    let mut totals = Totals::default();
    let mut omitted: BTreeMap<&'static str, usize> = BTreeMap::new();
    for file in &files {
        totals.add(file.totals());
        if let Some(reason) = file.omitted {
            *omitted.entry(reason).or_default() += 1;
        }
    }
    let mut stats = Stats {
        version: SCHEMA_VERSION,
        root: root.to_string(),
        encoding,
        budget,
        diff,
        totals,
        omitted,
        secrets: secret_stats(scan),
        directories: Vec::new(),
        files,
    };
    let tree = tree(&stats);
    stats.directories = directories(&tree);
    (stats, tree)
}

/// One file's line in the report. Without a budget, `pack` holds every readable file in full.
fn file_stats(decision: FileDecision, budgeted: bool) -> FileStats {
    let path = decision.path();
    let (tokens, omitted) = match decision.full_tokens {
        Ok(tokens) => (Some(tokens), None),
        Err(reason) => (None, Some(reason.as_str())),
    };
    let (fidelity, packed_tokens, degraded, omitted) = match (decision.packed, tokens) {
        (Some(view), _) => (Some(view.fidelity), view.tokens, view.degraded, omitted),
        (None, Some(tokens)) if !budgeted => (Some(Fidelity::Full), tokens, false, omitted),
        (None, Some(_)) => (None, 0, false, Some(LEFT_OUT)),
        (None, None) => (None, 0, false, omitted),
    };
    FileStats {
        path,
        tokens,
        omitted,
        fidelity: fidelity.map(Fidelity::name),
        packed_tokens,
        rank: decision.rank,
        score: decision.score,
        degraded,
        components: decision.components,
    }
}

fn secret_stats(scan: &ScanSummary) -> SecretStats {
    SecretStats {
        mode: scan.mode.name(),
        found: scan.secrets.len(),
        files: scan.files,
        examples: scan.examples.len(),
        left_out: scan.left_out,
    }
}

/// The directory tree of `stats.files`, with totals summed up from the files.
fn tree(stats: &Stats) -> DirectoryNode {
    let mut root = DirectoryNode {
        name: stats.root.clone(),
        ..DirectoryNode::default()
    };
    for (i, file) in stats.files.iter().enumerate() {
        let totals = file.totals();
        let Some((_, dirs)) = file.components.split_last() else {
            continue;
        };
        let mut node = &mut root;
        node.totals.add(totals);
        for dir in dirs {
            node = node
                .directories
                .entry(dir.clone())
                .or_insert_with(|| DirectoryNode {
                    name: dir.clone(),
                    ..DirectoryNode::default()
                });
            node.totals.add(totals);
        }
        node.files.push(i);
    }
    root
}

/// Every directory of `root`, depth first in name order, with its path.
fn directories(root: &DirectoryNode) -> Vec<DirectoryStats> {
    fn visit(node: &DirectoryNode, path: &str, out: &mut Vec<DirectoryStats>) {
        out.push(DirectoryStats {
            path: path.to_string(),
            totals: node.totals,
        });
        for (name, child) in &node.directories {
            let child_path = if path == "." {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            visit(child, &child_path, out);
        }
    }
    let mut out = Vec::new();
    visit(root, ".", &mut out);
    out
}

/// Column widths, from the largest numbers shown (the root's).
struct Columns {
    budgeted: bool,
    tokens: usize,
    packed: usize,
    files: usize,
}

impl Columns {
    fn header(&self) -> String {
        if self.budgeted {
            format!(
                "{:>t$}  {:>p$}  {:>f$}",
                "tokens",
                "packed",
                "files",
                t = self.tokens,
                p = self.packed,
                f = self.files
            )
        } else {
            format!(
                "{:>t$}  {:>f$}",
                "tokens",
                "files",
                t = self.tokens,
                f = self.files
            )
        }
    }

    /// The number columns of a line; `files` is None on a file's own line.
    fn numbers(&self, tokens: Option<usize>, packed: usize, files: Option<usize>) -> String {
        let tokens = tokens.map_or_else(|| "-".to_string(), human);
        let files = files.map(human).unwrap_or_default();
        if self.budgeted {
            format!(
                "{tokens:>t$}  {:>p$}  {files:>f$}",
                human(packed),
                t = self.tokens,
                p = self.packed,
                f = self.files
            )
        } else {
            format!("{tokens:>t$}  {files:>f$}", t = self.tokens, f = self.files)
        }
    }

    fn totals(&self, totals: &Totals) -> String {
        self.numbers(
            Some(totals.tokens),
            totals.packed_tokens,
            Some(totals.files),
        )
    }
}

/// What the cut left out, for the closing line.
#[derive(Default)]
struct Cut {
    unexpanded: usize,
    hidden_entries: usize,
}

/// One entry of a directory listing.
enum Entry<'a> {
    Directory(&'a DirectoryNode),
    File(&'a FileStats),
}

impl Entry<'_> {
    fn tokens(&self) -> usize {
        match self {
            Entry::Directory(d) => d.totals.tokens,
            Entry::File(f) => f.tokens.unwrap_or(0),
        }
    }

    fn name(&self) -> &str {
        match self {
            Entry::Directory(d) => &d.name,
            Entry::File(f) => f.components.last().map_or("", String::as_str),
        }
    }

    fn totals(&self) -> Totals {
        match self {
            Entry::Directory(d) => d.totals,
            Entry::File(f) => f.totals(),
        }
    }
}

/// Writes the text report.
pub fn write_text(
    out: &mut dyn Write,
    stats: &Stats,
    tree: &DirectoryNode,
    layout: &Layout,
) -> io::Result<()> {
    let totals = &stats.totals;
    writeln!(
        out,
        "{}: {}, {} tokens of text ({})",
        tree_name(&stats.root),
        plural(totals.files, "file"),
        human(totals.tokens),
        stats.encoding
    )?;
    if let Some(b) = &stats.budget {
        let reserve = if b.reserve > 0 {
            format!(", {} more reserved", human(b.reserve))
        } else {
            String::new()
        };
        writeln!(
            out,
            "budget: {} of {} tokens used{reserve}; {} full, {} compressed, {} outline, {} left out",
            human(b.document_tokens),
            human(b.budget),
            human(b.full),
            human(b.compressed),
            human(b.outline),
            human(b.left_out)
        )?;
        if let Some(depth) = b.tree_depth {
            let which = match depth {
                0 => "each top-level directory".to_string(),
                d => format!("each directory at depth {d} (0: the top level)"),
            };
            writeln!(
                out,
                "  the document's tree shows {which} as one line, to leave room for files"
            )?;
        }
    }
    if let Some(diff) = &stats.diff {
        writeln!(
            out,
            "change from {} to {}: {}, +{} -{} lines; {} of {} patches held",
            diff.base,
            diff.head,
            plural(diff.files, "file"),
            human(diff.lines_added),
            human(diff.lines_removed),
            human(diff.files - diff.dropped.len() - diff.withheld.len()),
            human(diff.files)
        )?;
        for (paths, what) in [
            (&diff.dropped, "left out to fit"),
            (&diff.withheld, "left out, holding secrets"),
        ] {
            for path in paths {
                writeln!(out, "  patch {what}: {path}")?;
            }
        }
    }
    writeln!(out)?;

    let columns = Columns {
        budgeted: stats.budget.is_some(),
        tokens: human(tree.totals.tokens).len().max("tokens".len()),
        packed: human(tree.totals.packed_tokens).len().max("packed".len()),
        files: human(tree.totals.files).len().max("files".len()),
    };
    writeln!(out, "{}  path", columns.header())?;
    writeln!(
        out,
        "{}  {}/",
        columns.totals(&tree.totals),
        tree_name(&tree.name)
    )?;
    let mut cut = Cut::default();
    write_directory(out, stats, tree, 1, layout, &columns, &mut cut)?;
    if cut.unexpanded > 0 || cut.hidden_entries > 0 {
        let mut parts = Vec::new();
        if cut.unexpanded > 0 {
            parts.push(format!(
                "{} not expanded (--depth {})",
                plural(cut.unexpanded, "directory"),
                limit_name(layout.depth)
            ));
        }
        if cut.hidden_entries > 0 {
            parts.push(format!(
                "{} summed up in \"more\" lines (--entries {})",
                plural(cut.hidden_entries, "entry"),
                limit_name(layout.entries)
            ));
        }
        writeln!(
            out,
            "cut: {}; --depth all --entries all shows everything",
            parts.join(", ")
        )?;
    }

    write_top_lists(out, stats, layout.top)?;
    writeln!(out)?;
    if stats.omitted.is_empty() {
        writeln!(out, "omitted: none")?;
    } else {
        let parts: Vec<String> = stats
            .omitted
            .iter()
            .map(|(reason, n)| match *reason {
                LEFT_OUT => format!("{} left out to fit the budget", human(*n)),
                reason => format!("{} {reason}", human(*n)),
            })
            .collect();
        writeln!(out, "omitted: {}", parts.join(", "))?;
    }
    let secrets = &stats.secrets;
    let files = plural(secrets.files, "file");
    match secrets.mode {
        "off" => writeln!(out, "secrets: not scanned (--secrets off)")?,
        _ if secrets.found == 0 => writeln!(out, "secrets: none found")?,
        "omit-file" => writeln!(
            out,
            "secrets: {} found; {files} left out",
            human(secrets.found)
        )?,
        _ => writeln!(out, "secrets: {} redacted in {files}", human(secrets.found))?,
    }
    if secrets.left_out > 0 {
        writeln!(
            out,
            "  of these, {} in files the budget leaves out",
            human(secrets.left_out)
        )?;
    }
    Ok(())
}

fn write_directory(
    out: &mut dyn Write,
    stats: &Stats,
    node: &DirectoryNode,
    level: usize,
    layout: &Layout,
    columns: &Columns,
    cut: &mut Cut,
) -> io::Result<()> {
    let mut entries: Vec<Entry<'_>> = node
        .directories
        .values()
        .map(Entry::Directory)
        .chain(node.files.iter().map(|&i| Entry::File(&stats.files[i])))
        .collect();
    // The largest first: what a token budget cares about. Names break ties, for stable output.
    entries.sort_by(|a, b| {
        b.tokens()
            .cmp(&a.tokens())
            .then_with(|| a.name().cmp(b.name()))
    });
    let indent = "  ".repeat(level);
    let shown = layout
        .entries
        .map_or(entries.len(), |n| n.min(entries.len()));
    for entry in &entries[..shown] {
        match entry {
            Entry::Directory(dir) => {
                let expand = layout.depth.is_none_or(|depth| level < depth);
                let note = if expand { "" } else { "  [not expanded]" };
                writeln!(
                    out,
                    "{}  {indent}{}/{note}",
                    columns.totals(&dir.totals),
                    tree_name(&dir.name)
                )?;
                if expand {
                    write_directory(out, stats, dir, level + 1, layout, columns, cut)?;
                } else {
                    cut.unexpanded += 1;
                }
            }
            Entry::File(file) => {
                let numbers = columns.numbers(file.tokens, file.packed_tokens, None);
                let name = tree_name(entry.name());
                writeln!(out, "{numbers}  {indent}{name}{}", file_note(file))?;
            }
        }
    }
    let hidden = &entries[shown..];
    if !hidden.is_empty() {
        let mut totals = Totals::default();
        for entry in hidden {
            totals.add(entry.totals());
        }
        writeln!(
            out,
            "{}  {indent}... {} more {}",
            columns.totals(&totals),
            human(hidden.len()),
            if hidden.len() == 1 {
                "entry"
            } else {
                "entries"
            }
        )?;
        cut.hidden_entries += hidden.len();
    }
    Ok(())
}

/// What a file's tree line says after its name: its fidelity and rank, or why it is left out.
fn file_note(file: &FileStats) -> String {
    let rank = file.rank.map(|r| format!(", rank {r}")).unwrap_or_default();
    match (file.fidelity, file.omitted) {
        (_, Some(LEFT_OUT)) => format!("  [left out{rank}]"),
        (_, Some(reason)) => format!("  [omitted: {reason}]"),
        (Some(fidelity), None) if file.rank.is_some() => {
            let degraded = if file.degraded { ", degraded" } else { "" };
            format!("  [{fidelity}{rank}{degraded}]")
        }
        _ => String::new(),
    }
}

fn write_top_lists(out: &mut dyn Write, stats: &Stats, top: usize) -> io::Result<()> {
    if top == 0 {
        return Ok(());
    }
    let mut by_tokens: Vec<&FileStats> =
        stats.files.iter().filter(|f| f.tokens.is_some()).collect();
    by_tokens.sort_by(|a, b| b.tokens.cmp(&a.tokens).then_with(|| a.path.cmp(&b.path)));
    by_tokens.truncate(top);
    if by_tokens.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    if stats.budget.is_none() {
        writeln!(out, "largest files:")?;
        let width = by_tokens
            .iter()
            .map(|f| human(f.tokens.unwrap_or(0)).len())
            .max()
            .unwrap_or(0)
            .max("tokens".len());
        writeln!(out, "  {:>width$}  path", "tokens")?;
        for file in by_tokens {
            writeln!(
                out,
                "  {:>width$}  {}",
                human(file.tokens.unwrap_or(0)),
                tree_name(&file.path)
            )?;
        }
        return Ok(());
    }
    let mut by_rank: Vec<&FileStats> = stats.files.iter().filter(|f| f.rank.is_some()).collect();
    by_rank.sort_by_key(|f| f.rank);
    by_rank.truncate(top);
    writeln!(out, "highest ranked files:")?;
    write_ranked(out, &by_rank)?;
    writeln!(out)?;
    writeln!(out, "largest files:")?;
    write_ranked(out, &by_tokens)
}

/// A table of files with their rank, fidelity and tokens.
fn write_ranked(out: &mut dyn Write, files: &[&FileStats]) -> io::Result<()> {
    let number = |n: Option<usize>| n.map_or_else(|| "-".to_string(), human);
    let fidelity = |f: &FileStats| match (f.fidelity, f.omitted) {
        (Some(fidelity), _) => fidelity,
        (None, Some(LEFT_OUT)) => "left out",
        (None, _) => "omitted",
    };
    let width = |column: &dyn Fn(&FileStats) -> String, title: &str| {
        files
            .iter()
            .map(|f| column(f).len())
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let rank_w = width(&|f| number(f.rank), "rank");
    let fidelity_w = width(&|f| fidelity(f).to_string(), "fidelity");
    let packed_w = width(&|f| human(f.packed_tokens), "packed");
    let tokens_w = width(&|f| number(f.tokens), "tokens");
    writeln!(
        out,
        "  {:>rank_w$}  {:<fidelity_w$}  {:>packed_w$}  {:>tokens_w$}  path",
        "rank", "fidelity", "packed", "tokens"
    )?;
    for file in files {
        writeln!(
            out,
            "  {:>rank_w$}  {:<fidelity_w$}  {:>packed_w$}  {:>tokens_w$}  {}",
            number(file.rank),
            fidelity(file),
            human(file.packed_tokens),
            number(file.tokens),
            tree_name(&file.path)
        )?;
    }
    Ok(())
}

fn limit_name(limit: Option<usize>) -> String {
    limit.map_or_else(|| "all".to_string(), |n| n.to_string())
}
