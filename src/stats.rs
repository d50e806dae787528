//! The `stats` command: where the tokens are, per directory and per file, and with a budget what
//! `pack --budget` would pack, at which fidelity and rank, from the very same decisions.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::budget::{self, FileDecision};
use crate::config::StatsConfig;
use crate::lang::Fidelity;
use crate::pack::PackError;
use crate::render;
use crate::secrets::ScanSummary;

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

/// Runs `stats`: the report goes to `out`, notes and warnings to `err`.
pub fn run(
    config: &StatsConfig,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PackError> {
    let (stats, tree) = collect(config, err)?;
    // `stats` writes to standard output: its pack configuration has no output file.
    let output_error = |source: io::Error| crate::pack::output_error(&config.pack, source);
    let mut out = io::BufWriter::new(out);
    if config.json {
        serde_json::to_writer_pretty(&mut out, &stats)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let layout = render::stats::Layout {
            depth: config.depth,
            entries: config.entries,
            top: config.top,
        };
        render::stats::write_text(&mut out, &stats, &tree, &layout)
    }
    .map_err(output_error)?;
    out.flush().map_err(output_error)
}

/// Runs the pipeline as `pack` would, and gathers what it decided, with its directory tree.
pub fn collect(
    config: &StatsConfig,
    err: &mut dyn Write,
) -> Result<(Stats, DirectoryNode), PackError> {
    let pack = &config.pack;
    let (decisions, scan, budget) = match pack.budget {
        Some(limit) => {
            let packing = budget::compute(pack, limit, err)?;
            let counts = &packing.summary.budget;
            let left_out = packing
                .files
                .iter()
                .filter(|f| f.full_tokens.is_ok() && f.packed.is_none())
                .count();
            let budget = BudgetStats {
                budget: packing.budget,
                reserve: config.reserve,
                document_tokens: packing.document_tokens,
                tree_depth: packing.tree_depth,
                full: counts.as_ref().map_or(0, |c| c.full),
                compressed: counts.as_ref().map_or(0, |c| c.compressed),
                outline: counts.as_ref().map_or(0, |c| c.outline),
                left_out,
            };
            (packing.files, packing.scan, Some(budget))
        }
        None => {
            let corpus = budget::index(pack, err)?;
            (corpus.decisions(), corpus.scan().clone(), None)
        }
    };
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
        root: pack.source.root_name.clone(),
        encoding: pack.encoding.name(),
        budget,
        totals,
        omitted,
        secrets: secret_stats(&scan),
        directories: Vec::new(),
        files,
    };
    let tree = tree(&stats);
    stats.directories = directories(&tree);
    Ok((stats, tree))
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
pub fn tree(stats: &Stats) -> DirectoryNode {
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
