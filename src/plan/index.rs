//! What the repository holds for a plan to be checked against: every path the walk lists, and
//! the definitions and uses of the names the plan mentions.
//!
//! Only names the plan mentions are looked for. Each source file's text is searched for them as
//! whole words (one Aho-Corasick pass), and only files that contain one are parsed for
//! definitions, so checking a plan against a large tree costs about one read of it. Prose
//! (Markdown, text) and the plan itself do not count as uses: a design note that repeats the
//! plan's invented name does not make it real.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::path::Path;

use aho_corasick::AhoCorasick;

use crate::lang::{self, symbols, syntax};
use crate::load::{self, Loaded};
use crate::render::Format;
use crate::walk::Source;
use crate::walk::{self, Entry, Status, WalkError};

use super::extract::LineIndex;

/// A definition of a mentioned name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defined {
    /// Index into [`RepoIndex::files`].
    pub file: usize,
    pub kind: String,
    pub start_line: usize,
    pub end_line: usize,
    pub scope: Option<String>,
}

/// The repository as the plan's resolver sees it.
#[derive(Debug, Default)]
pub struct RepoIndex {
    /// Every path the walk listed, relative to the root with `/`, sorted.
    pub files: Vec<String>,
    /// Whether the walk would read the file (false: binary, too large, a link, ...).
    pub readable: Vec<bool>,
    /// Every directory that holds a listed file, without a trailing `/`.
    pub dirs: BTreeSet<String>,
    /// File stems and directory names: what `module.func` and `module::func` can qualify by.
    pub modules: BTreeSet<String>,
    /// Mentioned name → its definitions.
    pub definitions: HashMap<String, Vec<Defined>>,
    /// Mentioned name → the files whose text contains it as a whole word.
    pub uses: HashMap<String, Vec<usize>>,
    /// (mentioned name, file) → the lines where it occurs (the first 256).
    pub use_lines: HashMap<(String, usize), Vec<usize>>,
    /// Dependencies the manifests declare (Cargo.toml, package.json, go.mod, requirements.txt,
    /// pyproject.toml), as code names them (`serde_json` for serde-json): other projects' code.
    pub dependencies: BTreeSet<String>,
    /// Warnings from the walk.
    pub warnings: Vec<String>,
    /// The walk's size limit: a file is never read past it.
    pub max_file_size: u64,
}

/// Indexes files one at a time, as a walk finds them: on a walk of its own
/// ([`RepoIndex::build`]), or as a pack reads each file ([`Indexer::file`]).
pub struct Indexer {
    names: Vec<String>,
    matcher: Option<AhoCorasick>,
    /// The plan's own file: listed, but its words are not uses.
    plan: Option<std::path::PathBuf>,
    max_file_size: u64,
    scanned: std::sync::Mutex<Vec<Scanned>>,
}

impl Indexer {
    /// An indexer of `names` (identifiers the plan mentions) that leaves the file `plan` out.
    pub fn new(names: &BTreeSet<String>, plan: Option<&Path>, max_file_size: u64) -> Indexer {
        let names: Vec<String> = names.iter().cloned().collect();
        let matcher = (!names.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(&names)
                .expect("a handful of identifiers always builds an automaton")
        });
        Indexer {
            names,
            matcher,
            plan: plan.and_then(|p| p.canonicalize().ok()),
            max_file_size,
            scanned: Default::default(),
        }
    }

    /// Indexes the file of `entry`, whose text (as loaded, before anything is redacted) is
    /// `text`, or `None` when it is not read (binary, too large, a link, ...).
    pub fn file(&self, entry: &Entry, text: Option<&str>) {
        let one = self.scan(entry, text.map(Cow::Borrowed), self.is_plan(entry));
        self.scanned.lock().expect("index lock").push(one);
    }

    /// Whether `entry` is the plan's own file, when that matters: there are names to look for,
    /// and the walk would read it (one system call each, not per entry).
    fn is_plan(&self, entry: &Entry) -> bool {
        self.matcher.is_some()
            && matches!(entry.status, Status::Load)
            && self
                .plan
                .as_ref()
                .is_some_and(|p| entry.abs.canonicalize().is_ok_and(|a| &a == p))
    }

    fn scan(&self, entry: &Entry, text: Option<Cow<'_, str>>, is_plan: bool) -> Scanned {
        let matcher = self.matcher.as_ref().filter(|_| !is_plan);
        scan_file(entry, text, &self.names, matcher)
    }

    /// The index of every file seen, with the walk's `warnings`.
    pub fn finish(self, warnings: Vec<String>) -> RepoIndex {
        let mut scanned = self.scanned.into_inner().expect("index lock");
        scanned.sort_by(|a, b| a.path.cmp(&b.path));
        let names = self.names;
        let mut index = RepoIndex {
            warnings,
            max_file_size: self.max_file_size,
            ..RepoIndex::default()
        };
        for (file, one) in scanned.into_iter().enumerate() {
            let mut parts: Vec<&str> = one.path.split('/').collect();
            let name = parts.pop().unwrap_or_default();
            let stem = name.split('.').next().unwrap_or(name);
            if !stem.is_empty() {
                index.modules.insert(stem.to_string());
            }
            for depth in 1..=parts.len() {
                index.dirs.insert(parts[..depth].join("/"));
                index.modules.insert(parts[depth - 1].to_string());
            }
            for (used, lines) in one.uses {
                let name = names[used].to_string();
                index.uses.entry(name.clone()).or_default().push(file);
                index.use_lines.insert((name, file), lines);
            }
            index.dependencies.extend(one.dependencies);
            for (name, mut defined) in one.definitions {
                defined.file = file;
                index.definitions.entry(name).or_default().push(defined);
            }
            index.readable.push(one.readable);
            index.files.push(one.path);
        }
        index
    }
}

impl RepoIndex {
    /// Walks `source` and indexes it with `indexer`.
    pub fn build(
        source: &Source,
        indexer: Indexer,
        pool: &rayon::ThreadPool,
    ) -> Result<RepoIndex, WalkError> {
        let work = |entry: Entry| {
            // Without names to look for, a file is listed but not read; nor is the plan.
            let is_plan = indexer.is_plan(&entry);
            let text = match (&indexer.matcher, &entry.status) {
                (Some(_), Status::Load) if !is_plan => {
                    match load::load(&entry.abs, source.max_file_size) {
                        Loaded::Text(file) => Some(file.text),
                        Loaded::Omitted(..) => None,
                    }
                }
                _ => None,
            };
            indexer.scan(&entry, text.map(Cow::Owned), is_plan)
        };
        let mut consume = |one: Scanned| {
            indexer.scanned.lock().expect("index lock").push(one);
            ControlFlow::Continue(())
        };
        let warnings = walk::walk_with(&source.inputs, &source.walk, pool, &work, &mut consume)?;
        Ok(indexer.finish(warnings))
    }

    /// Files under directory `dir` (no trailing `/`; empty for the root).
    pub fn files_under(&self, dir: &str) -> Vec<usize> {
        if dir.is_empty() {
            return (0..self.files.len()).collect();
        }
        let prefix = format!("{dir}/");
        let start = self.files.partition_point(|f| f.as_str() < prefix.as_str());
        (start..self.files.len())
            .take_while(|&i| self.files[i].starts_with(&prefix))
            .collect()
    }

    /// The file at exactly `path`.
    pub fn file(&self, path: &str) -> Option<usize> {
        self.files.binary_search_by(|f| f.as_str().cmp(path)).ok()
    }

    /// Files whose path ends with `/tail` or is `tail`: a bare name or a partial path.
    pub fn files_ending_with(&self, tail: &str) -> Vec<usize> {
        let suffix = format!("/{tail}");
        (0..self.files.len())
            .filter(|&i| self.files[i] == tail || self.files[i].ends_with(&suffix))
            .collect()
    }

    /// Directories whose path ends with `/tail` or is `tail`.
    pub fn dirs_ending_with(&self, tail: &str) -> Vec<String> {
        let suffix = format!("/{tail}");
        self.dirs
            .iter()
            .filter(|d| d.as_str() == tail || d.ends_with(&suffix))
            .cloned()
            .collect()
    }

    pub fn defined(&self, name: &str) -> &[Defined] {
        self.definitions.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn used(&self, name: &str) -> bool {
        self.uses.get(name).is_some_and(|files| !files.is_empty())
    }
}

/// What one file contributes.
struct Scanned {
    path: String,
    readable: bool,
    /// Indexes of the names it contains, with the lines they are on.
    uses: Vec<(usize, Vec<usize>)>,
    /// Dependencies, if it is a manifest.
    dependencies: Vec<String>,
    definitions: Vec<(String, Defined)>,
}

/// What `entry` contributes, from its `text` as loaded (`None`: it could not be read as text).
/// Without a `matcher` the text is not looked at.
fn scan_file(
    entry: &Entry,
    text: Option<Cow<'_, str>>,
    names: &[String],
    matcher: Option<&AhoCorasick>,
) -> Scanned {
    let mut scanned = Scanned {
        // As the walk lists it, whatever a pack shows of it.
        path: entry.rel.unredacted(),
        readable: matches!(entry.status, Status::Load),
        uses: Vec::new(),
        dependencies: Vec::new(),
        definitions: Vec::new(),
    };
    let (Some(matcher), Status::Load) = (matcher, &entry.status) else {
        return scanned;
    };
    let Some(loaded) = text else {
        scanned.readable = false;
        return scanned;
    };
    // The text a pack would show: what the document format cannot carry replaced.
    let admitted = Format::default().renderer().admit(&loaded);
    let text = admitted.as_ref();
    let file_name = scanned.path.rsplit('/').next().unwrap_or("");
    scanned.dependencies = manifest_dependencies(file_name, text);
    let language = lang::detect(&entry.abs, text);
    if matches!(language, lang::Language::Markdown | lang::Language::Text) {
        return scanned; // prose is not code: only source and config files define or use names
    }
    let bytes = text.as_bytes();
    let word_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let lines = LineIndex::new(text);
    let mut uses: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for found in matcher.find_iter(text) {
        let before = found.start().checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(found.end()).copied();
        if before.is_some_and(word_byte) || after.is_some_and(word_byte) {
            continue;
        }
        let at = uses.entry(found.pattern().as_usize()).or_default();
        if at.len() < 256 {
            at.push(lines.line(found.start()));
        }
    }
    if uses.is_empty() {
        return scanned;
    }
    // A file that cannot be parsed (no grammar, or more work than its bound) still counts its
    // uses; it just defines nothing the resolver can point at.
    if let Ok(table) = syntax::parse(language, text).and_then(|p| symbols::definitions(&p, text)) {
        let wanted: BTreeSet<&str> = uses.keys().map(|&u| names[u].as_str()).collect();
        for d in table.definitions {
            if wanted.contains(d.name.as_str()) {
                scanned.definitions.push((
                    d.name,
                    Defined {
                        file: 0,
                        kind: d.kind,
                        start_line: d.start_line,
                        end_line: d.end_line,
                        scope: d.scope,
                    },
                ));
            }
        }
    }
    scanned.uses = uses.into_iter().collect();
    scanned
}

/// The dependency names a manifest declares, as code writes them (`-` becomes `_`).
fn manifest_dependencies(file_name: &str, text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    match file_name {
        "Cargo.toml" | "pyproject.toml" => {
            // `name = ...` lines in dependency tables, and `[dependencies.name]` headers.
            let mut in_deps = false;
            for line in text.lines().map(str::trim) {
                if let Some(header) = line.strip_prefix('[') {
                    let header = header.trim_end_matches(']');
                    in_deps = header.ends_with("dependencies");
                    if let Some((table, name)) = header.rsplit_once('.') {
                        if table.ends_with("dependencies") {
                            names.push(name.trim_matches('"').to_string());
                        }
                    }
                    continue;
                }
                if in_deps {
                    if let Some((name, _)) = line.split_once('=') {
                        names.push(name.trim().trim_matches('"').to_string());
                    }
                }
                // pyproject's `dependencies = ["requests>=2", ...]` lists.
                if line.starts_with('"') && file_name == "pyproject.toml" {
                    names.push(requirement_name(
                        line.trim_matches(|c| c == '"' || c == ','),
                    ));
                }
            }
        }
        "package.json" => {
            if let Ok(serde_json::Value::Object(root)) = serde_json::from_str(text) {
                for table in ["dependencies", "devDependencies", "peerDependencies"] {
                    if let Some(serde_json::Value::Object(deps)) = root.get(table) {
                        names.extend(
                            deps.keys()
                                .map(|k| k.rsplit('/').next().unwrap_or(k).to_string()),
                        );
                    }
                }
            }
        }
        "go.mod" => {
            for line in text.lines().map(str::trim) {
                let line = line.strip_prefix("require ").unwrap_or(line);
                let mut parts = line.split_whitespace();
                if let (Some(module), Some(version)) = (parts.next(), parts.next()) {
                    if version.starts_with('v') && module.contains('.') {
                        if let Some(last) = module.trim_end_matches("/v2").rsplit('/').next() {
                            names.push(last.to_string());
                        }
                    }
                }
            }
        }
        name if name.starts_with("requirements") && name.ends_with(".txt") => {
            for line in text.lines().map(str::trim) {
                if !line.is_empty() && !line.starts_with('#') && !line.starts_with('-') {
                    names.push(requirement_name(line));
                }
            }
        }
        _ => {}
    }
    names
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(|n| n.replace('-', "_"))
        .collect()
}

/// `requests[security]>=2.0; python_version > "3"` → `requests`.
fn requirement_name(line: &str) -> String {
    line.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .next()
        .unwrap_or("")
        .to_string()
}
