//! How much each file matters: a reference graph (PageRank, personalised by the focus), lexical
//! relevance to the focus (BM25 over identifier sub-words), git history, and path priors.
//!
//! Ranking reads every file, so it must be cheap: it works from a lexical index made in the same
//! pass that counts tokens (identifiers, definition keywords, focus-term frequencies), not from
//! tree-sitter, whose parse costs about as much as the tokenizer. Views are parsed only for the
//! files the fit actually shows at compressed or outline fidelity.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

use lasso::{RodeoReader, Spur, ThreadedRodeo};
use regex::Regex;
use rustc_hash::FxHashMap;

/// An identifier, as [`Names`] holds it.
pub type Name = Spur;

/// The identifiers of one pack's files, each held once, whichever worker read it first. A file's
/// [`FileIndex`] holds numbers into it: a name used in ten thousand files is one string, not ten
/// thousand. The numbers depend on the order the workers ran in, so nothing is ordered by them.
#[derive(Debug, Default)]
pub struct Names(ThreadedRodeo<Name>);

impl Names {
    pub fn new() -> Names {
        Names::default()
    }

    pub fn intern(&self, name: &str) -> Name {
        self.0.get_or_intern(name)
    }

    /// The names, no longer to be added to: looked up without locks.
    pub fn into_table(self) -> NameTable {
        NameTable(self.0.into_reader())
    }
}

/// [`Names`] once every file is indexed.
#[derive(Debug)]
pub struct NameTable(RodeoReader<Name>);

/// Finding a name's number (if a file used or defined it), and a number's name: in [`Names`]
/// while files are indexed, in a [`NameTable`] once they all are.
pub trait Lookup: Sync {
    fn get(&self, name: &str) -> Option<Name>;
    fn resolve(&self, name: Name) -> &str;
}

impl Lookup for Names {
    fn get(&self, name: &str) -> Option<Name> {
        self.0.get(name)
    }

    fn resolve(&self, name: Name) -> &str {
        self.0.resolve(&name)
    }
}

impl Lookup for NameTable {
    fn get(&self, name: &str) -> Option<Name> {
        self.0.get(name)
    }

    fn resolve(&self, name: Name) -> &str {
        self.0.resolve(&name)
    }
}

/// Words that are never symbols worth linking on.
const STOP_IDENTIFIERS: &[&str] = &[
    "self",
    "Self",
    "this",
    "super",
    "crate",
    "true",
    "false",
    "None",
    "null",
    "nil",
    "undefined",
    "return",
    "const",
    "static",
    "struct",
    "enum",
    "impl",
    "trait",
    "type",
    "mod",
    "pub",
    "use",
    "let",
    "mut",
    "ref",
    "match",
    "if",
    "else",
    "for",
    "while",
    "loop",
    "break",
    "continue",
    "fn",
    "def",
    "class",
    "function",
    "func",
    "import",
    "from",
    "package",
    "public",
    "private",
    "protected",
    "void",
    "int",
    "string",
    "bool",
    "new",
    "var",
    "where",
    "async",
    "await",
    "String",
    "Vec",
    "Option",
    "Result",
    "Some",
    "Ok",
    "Err",
    "str",
    "usize",
    "u8",
    "u32",
    "u64",
    "i32",
    "i64",
    "f64",
    "Box",
    "with",
    "and",
    "or",
    "not",
    "the",
    "end",
    "begin",
    "then",
    "elif",
    "except",
    "try",
    "catch",
    "finally",
    "throw",
    "throws",
    "raise",
    "lambda",
    "yield",
    "case",
    "switch",
    "default",
    "interface",
    "extends",
    "implements",
    "module",
    "require",
    "export",
];

/// What ranking needs to know about one file, gathered while it is loaded.
#[derive(Debug, Clone, Default)]
pub struct FileIndex {
    /// Names this file defines (by a definition keyword: fn, class, def, func, struct, ...),
    /// sorted by name (not by number).
    pub definitions: Vec<Name>,
    /// Identifiers it uses, with counts (definitions included), sorted by name (not by number):
    /// sums over them add up in the same order on every run.
    pub references: Vec<(Name, u32)>,
    /// Occurrences of each focus term (by position in [`Focus::terms`]).
    pub focus_counts: Vec<u32>,
    /// Number of sub-word terms in the file (BM25's document length).
    pub length: u32,
}

/// The focus: what the user is about to work on.
#[derive(Debug, Clone, Default)]
pub struct Focus {
    /// Lower-case sub-words, deduplicated.
    pub terms: Vec<String>,
    /// Each term's position in `terms`, for lookups.
    pub term_slot: HashMap<String, usize>,
    /// Identifiers and paths as written (for exact matches with definitions and file names).
    pub identifiers: HashSet<String>,
    /// The identifiers that are unmistakably code: quoted in backticks, or written with an
    /// underscore, `::`, `()` or an inner capital (`block_in_place`, `ShardedList`).
    pub symbols: HashSet<String>,
    pub raw: String,
}

/// The identifiers of `text`: each longest run of ASCII letters, digits and `_` that starts with
/// a letter or `_` (what `[A-Za-z_][A-Za-z0-9_]*` finds, without a regex engine on the hottest
/// loop of ranking: every byte of every file goes through it).
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() && !(bytes[at].is_ascii_alphabetic() || bytes[at] == b'_') {
            at += 1;
        }
        if at == bytes.len() {
            return None;
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        // ASCII bytes: both ends lie on character boundaries.
        Some(&text[start..at])
    })
}

fn definition_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(
            r"(?m)\b(?:fn|struct|enum|trait|union|type|mod|class|def|function|func|interface|module|namespace|macro_rules!|record|object)\s+([A-Za-z_][A-Za-z0-9_]*)|\bfunc\s*\([^)]*\)\s*([A-Za-z_][A-Za-z0-9_]*)",
        )
        .expect("a valid pattern")
    })
}

/// Calls `each` with every sub-word of `word` that [`sub_words`] gives, in the same order, without
/// allocating for an ASCII word (every identifier [`identifiers`] finds).
fn for_each_sub_word(word: &str, lower: &mut String, mut each: impl FnMut(&str)) {
    if !word.is_ascii() {
        sub_words(word).iter().for_each(|part| each(part));
        return;
    }
    let mut emit = |part: &[u8]| {
        if part.len() >= 2 {
            lower.clear();
            lower.extend(part.iter().map(|b| b.to_ascii_lowercase() as char));
            each(lower);
        }
    };
    for chunk in word.as_bytes().split(|b| !b.is_ascii_alphanumeric()) {
        let mut start = 0;
        for i in 1..chunk.len() {
            let (prev, cur) = (chunk[i - 1], chunk[i]);
            let next_lower = chunk.get(i + 1).is_some_and(u8::is_ascii_lowercase);
            let boundary = (prev.is_ascii_lowercase() && cur.is_ascii_uppercase())
                || (prev.is_ascii_uppercase() && cur.is_ascii_uppercase() && next_lower);
            if boundary {
                emit(&chunk[start..i]);
                start = i;
            }
        }
        if start < chunk.len() {
            emit(&chunk[start..]);
        }
    }
}

/// Splits an identifier or word into lower-case sub-words: `parseHTTPRequest_v2` → parse, http,
/// request, v2.
pub fn sub_words(word: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for chunk in word.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = chunk.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (prev, cur) = (chars[i - 1], chars[i]);
            let next_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
            let boundary = (prev.is_lowercase() && cur.is_uppercase())
                || (prev.is_uppercase() && cur.is_uppercase() && next_lower);
            if boundary {
                parts.push(chars[start..i].iter().collect::<String>());
                start = i;
            }
        }
        if start < chars.len() {
            parts.push(chars[start..].iter().collect::<String>());
        }
    }
    parts
        .into_iter()
        .map(|p| p.to_lowercase())
        .filter(|p| p.len() >= 2)
        .collect()
}

impl Focus {
    /// Builds a focus from texts (file contents or free text).
    pub fn new(texts: &[String]) -> Focus {
        let raw = texts.join("\n");
        let mut terms = Vec::new();
        let mut seen = HashSet::new();
        let mut identifiers = HashSet::new();
        let mut symbols = HashSet::new();
        // Odd pieces between backticks are code spans.
        for (n, piece) in raw.split('`').enumerate() {
            for word in piece.split(|c: char| c.is_whitespace() || "'\",;<>[]{}!?".contains(c)) {
                if word.is_empty() {
                    continue;
                }
                let quoted = n % 2 == 1;
                let code_like = quoted
                    || word.contains("::")
                    || word.ends_with("()")
                    || word.trim_matches('_').contains('_')
                    || word
                        .chars()
                        .zip(word.chars().skip(1))
                        .any(|(a, b)| a.is_lowercase() && b.is_uppercase());
                if !code_like {
                    continue;
                }
                for part in word.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                    if part.len() >= 3 && part.chars().next().is_some_and(|c| !c.is_ascii_digit()) {
                        symbols.insert(part.to_string());
                    }
                }
            }
        }
        for word in raw.split(|c: char| c.is_whitespace() || "`'\"(),;:<>[]{}".contains(c)) {
            let word = word.trim_matches(|c: char| c == '.' || c == '!' || c == '?');
            if word.len() >= 3 {
                identifiers.insert(word.to_string());
                for part in word.split("::").flat_map(|p| p.split('.')) {
                    if part.len() >= 3 {
                        identifiers.insert(part.to_string());
                    }
                }
            }
            for term in sub_words(word) {
                if term.len() >= 3 && !is_stop_word(&term) && seen.insert(term.clone()) {
                    terms.push(term);
                }
            }
        }
        let term_slot = terms
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        Focus {
            terms,
            term_slot,
            identifiers,
            symbols,
            raw,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

fn is_stop_word(term: &str) -> bool {
    const WORDS: &[&str] = &[
        "the", "and", "for", "with", "that", "this", "from", "into", "when", "are", "was", "not",
        "but", "all", "can", "has", "have", "use", "via", "its", "out", "add", "fix", "new", "get",
        "set", "should", "will", "make", "more", "also", "than", "then", "which",
    ];
    WORDS.contains(&term)
}

/// The names `text` defines by a definition keyword (`fn`, `class`, `def`, `func`, …), in
/// order, without repeats.
pub fn definitions_in(text: &str) -> Vec<String> {
    let mut names: Vec<String> = definition_pattern()
        .captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_string())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// What ranking learns from one file's text whatever the focus: the cache keeps it, keyed by
/// the text, so an unchanged file is not read for ranking again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    /// Names the file defines (see [`definitions_in`]).
    pub definitions: Vec<String>,
    /// Identifiers it uses, with counts, as [`FileIndex::references`] holds them.
    pub references: Vec<(String, u32)>,
    /// Each sub-word of its identifiers with its count, sorted: what a focus is matched against.
    pub sub_words: Vec<(String, u32)>,
    /// Number of sub-word terms in the file (BM25's document length).
    pub length: u32,
}

/// The focus-independent part of a file's index.
pub fn terms(text: &str) -> Terms {
    let mut counts: FxHashMap<&str, u32> = FxHashMap::default();
    for word in identifiers(text) {
        *counts.entry(word).or_default() += 1;
    }
    let mut length = 0u32;
    let mut parts: FxHashMap<String, u32> = FxHashMap::default();
    let mut lower = String::new();
    for (word, &count) in &counts {
        for_each_sub_word(word, &mut lower, |part| {
            length += count;
            match parts.get_mut(part) {
                Some(total) => *total += count,
                None => {
                    parts.insert(part.to_string(), count);
                }
            }
        });
    }
    let mut references: Vec<(String, u32)> = counts
        .into_iter()
        .filter(|(w, _)| w.len() >= 3 && !STOP_IDENTIFIERS.contains(w))
        .map(|(w, c)| (w.to_string(), c))
        .collect();
    references.sort_unstable();
    let mut sub_words: Vec<(String, u32)> = parts.into_iter().collect();
    sub_words.sort_unstable();
    Terms {
        definitions: definitions_in(text),
        references,
        sub_words,
        length,
    }
}

impl FileIndex {
    /// The index of a file whose [`Terms`] are `terms`, for `focus`, its names held in `names`.
    pub fn new(terms: Terms, focus: &Focus, names: &Names) -> FileIndex {
        let mut focus_counts = vec![0u32; focus.terms.len()];
        if !focus.term_slot.is_empty() {
            for (part, count) in &terms.sub_words {
                if let Some(&slot) = focus.term_slot.get(part.as_str()) {
                    focus_counts[slot] += count;
                }
            }
        }
        FileIndex {
            definitions: terms.definitions.iter().map(|d| names.intern(d)).collect(),
            references: terms
                .references
                .iter()
                .map(|(r, count)| (names.intern(r), *count))
                .collect(),
            focus_counts,
            length: terms.length,
        }
    }
}

/// Indexes one file's text for ranking.
pub fn index(text: &str, focus: &Focus, names: &Names) -> FileIndex {
    FileIndex::new(terms(text), focus, names)
}

/// A multiplier from the path alone: READMEs, manifests and entry points up; tests, examples,
/// fixtures, generated, vendored, minified and lock files down. It is the product of
/// [`noise_prior`] and [`role_prior`].
pub fn path_prior(path: &str) -> f64 {
    noise_prior(path) * role_prior(path)
}

/// Directories of test data: noise for a reader, and not tests themselves.
const FIXTURE_DIRS: &[&str] = &[
    "fixtures",
    "fixture",
    "testdata",
    "test_data",
    "__snapshots__",
    "snapshots",
];

/// A lower-cased path split for the priors: its file name and its directories.
struct PathParts<'a> {
    name: &'a str,
    dirs: Vec<&'a str>,
}

impl<'a> PathParts<'a> {
    fn new(lower: &'a str) -> PathParts<'a> {
        let mut dirs: Vec<&str> = lower.split('/').collect();
        let name = dirs.pop().unwrap_or(lower);
        PathParts { name, dirs }
    }

    /// Whether any of its directories is one of `names`.
    fn in_dir(&self, names: &[&str]) -> bool {
        self.dirs.iter().any(|d| names.contains(d))
    }
}

/// Down-weights files that are rarely worth reading whatever the task: lock files, minified
/// bundles, vendored code, generated code and test fixtures.
pub fn noise_prior(path: &str) -> f64 {
    let lower = path.to_ascii_lowercase();
    let parts = PathParts::new(&lower);
    let name = parts.name;
    let in_dir = |names: &[&str]| parts.in_dir(names);

    const LOCKS: &[&str] = &[
        "cargo.lock",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "composer.lock",
        "gemfile.lock",
        "go.sum",
        "pipfile.lock",
        "uv.lock",
        "bun.lockb",
    ];
    if LOCKS.contains(&name) || name.ends_with(".lock") {
        return 0.05;
    }
    if name.contains(".min.") || name.ends_with(".map") {
        return 0.05;
    }
    if in_dir(&[
        "vendor",
        "third_party",
        "third-party",
        "node_modules",
        "external",
    ]) {
        return 0.1;
    }
    let mut prior = 1.0;
    if lower.contains("generated") || name.contains(".pb.") || name.ends_with("_pb2.py") {
        prior *= 0.2;
    }
    if in_dir(FIXTURE_DIRS) {
        prior *= 0.2;
    }
    prior
}

/// Whether `path` is a test or benchmark file, by its directories or its name.
pub fn is_test_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let parts = PathParts::new(&lower);
    let name = parts.name;
    parts.in_dir(&[
        "tests",
        "test",
        "spec",
        "__tests__",
        "benches",
        "bench",
        "e2e",
    ]) || name.starts_with("test_")
        || name.ends_with("_test.go")
        || name.ends_with("_test.py")
        || name.contains(".test.")
        || name.contains(".spec.")
        || name.ends_with("_spec.rb")
        || name.ends_with("tests.rs")
}

/// What a file's role in the project says about its general importance: READMEs, manifests and
/// entry points up; tests, benchmarks, examples and docs down. This is about orienting a reader
/// who has no task in mind; with a focus, the tests and examples of the focused code are among
/// the files a change touches, so [`rank`] softens it.
pub fn role_prior(path: &str) -> f64 {
    let lower = path.to_ascii_lowercase();
    let parts = PathParts::new(&lower);
    let (name, dirs) = (parts.name, &parts.dirs);
    let in_dir = |names: &[&str]| parts.in_dir(names);

    let mut prior = 1.0;
    if !in_dir(FIXTURE_DIRS) && is_test_path(path) {
        prior *= 0.35;
    }
    if in_dir(&["examples", "example", "samples", "demo", "docs"]) {
        prior *= 0.5;
    }
    const MANIFESTS: &[&str] = &[
        "cargo.toml",
        "package.json",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "go.mod",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "gemfile",
        "composer.json",
        "makefile",
        "cmakelists.txt",
        "dockerfile",
        "requirements.txt",
        "tsconfig.json",
    ];
    const ENTRY_POINTS: &[&str] = &[
        "main.rs",
        "lib.rs",
        "main.py",
        "__main__.py",
        "__init__.py",
        "app.py",
        "main.go",
        "index.js",
        "index.ts",
        "main.js",
        "main.ts",
        "app.js",
        "app.ts",
        "main.c",
        "main.cpp",
        "program.cs",
        "main.java",
        "application.java",
    ];
    if name.starts_with("readme") {
        prior *= if dirs.is_empty() { 4.0 } else { 1.5 };
    } else if MANIFESTS.contains(&name) {
        prior *= if dirs.is_empty() { 2.5 } else { 1.5 };
    } else if ENTRY_POINTS.contains(&name) {
        prior *= 1.5;
    }
    prior
}

/// Per-file git activity: commits that touched the file, and the newest commit's time.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitActivity {
    pub commits: u32,
    pub newest: i64,
}

/// Reads recent history cheaply (`git log` of the last 1,000 commits, names only). Paths are
/// relative to `root`. None when `root` is not in a git work tree or git is not installed.
pub fn git_activity(root: &Path) -> Option<HashMap<String, GitActivity>> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "log",
            "-n",
            "1000",
            "--no-renames",
            "--relative",
            "--name-only",
            "--format=@%ct",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut activity: HashMap<String, GitActivity> = HashMap::new();
    let mut time = 0i64;
    for line in text.lines() {
        if let Some(stamp) = line.strip_prefix('@') {
            time = stamp.trim().parse().unwrap_or(0);
        } else if !line.is_empty() {
            let entry = activity.entry(line.to_string()).or_default();
            entry.commits += 1;
            entry.newest = entry.newest.max(time);
        }
    }
    Some(activity)
}

/// Everything ranking combines, per file.
pub struct RankInput<'a> {
    pub path: &'a str,
    pub index: &'a FileIndex,
    pub git: Option<GitActivity>,
}

/// Scores, one per input, in (0, 1], the best file at 1.
///
/// The fit trades these scores against tokens, so their scale matters, not only their order.
/// Without a focus they measure general importance and stay broad. With one, they are sharpened
/// (raised to a fourth power) to behave like the chance that a file is one the task
/// is about: on a linear scale, where the tenth file scores half the first, dozens of barely
/// related small files outweigh the one large file the focus points at.
pub fn rank(files: &[RankInput<'_>], definers: &Definers<'_>, focus: &Focus) -> Vec<f64> {
    let n = files.len();
    if n == 0 {
        return Vec::new();
    }
    let bm25 = bm25(files, focus);
    let graph = graph_rank(files, definers, focus, &bm25);
    let git = git_scores(files);
    let scores = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            // With a focus, its words decide; the graph spreads relevance to what those files use
            // and to what uses them.
            let (relevance, prior, git_weight) = if focus.is_empty() {
                (graph[i], path_prior(file.path), 0.15)
            } else {
                // A file's role says little once the task is known: the tests and examples of
                // the focused code are among the files a change touches. Noise stays down.
                (
                    0.25 * graph[i] + 0.75 * bm25[i],
                    noise_prior(file.path),
                    0.05,
                )
            };
            let mentioned = focus.identifiers.contains(file.path)
                || file
                    .path
                    .rsplit('/')
                    .next()
                    .is_some_and(|name| focus.identifiers.contains(name));
            // Defining a name the focus writes as code is strong evidence, shared among the files
            // that define it.
            let defines: f64 = file
                .index
                .definitions
                .iter()
                .filter(|&&d| focus.symbols.contains(definers.names.resolve(d)))
                .filter_map(|&d| definers.of(d))
                .map(|owners| 1.0 / owners.len() as f64)
                .sum::<f64>()
                .min(1.0);
            let named = if !focus.is_empty() && focus_names_file(focus, file.path) {
                NAMED_FILE_BOOST
            } else {
                1.0
            };
            let boost = if mentioned { 2.0 } else { 1.0 } * named * (1.0 + defines);
            prior * boost * (0.05 + relevance + git_weight * git[i])
        })
        .collect();
    let scores = normalize(scores);
    if focus.is_empty() {
        return scores;
    }
    scores
        .into_iter()
        .map(|s| s.powi(FOCUS_SHARPNESS).max(1e-12))
        .collect()
}

/// With a focus, the power scores are raised to (see [`rank`]).
const FOCUS_SHARPNESS: i32 = 4;

/// How much more a file weighs when the focus names it by its file name's words (before the
/// sharpening, so about five times after it).
const NAMED_FILE_BOOST: f64 = 1.5;

/// File names that say nothing of their module: the directory above names it instead.
const GENERIC_STEMS: &[&str] = &["mod", "lib", "index", "__init__", "main", "init"];
/// Directories that say nothing of the module either.
const GENERIC_DIRS: &[&str] = &["src", "lib", "source", "sources"];

/// Whether every word (of three letters or more) of the file's name, without its extension, is
/// a word of the focus: `sync: add blocking_acquire to Semaphore` names `sync/semaphore.rs` and
/// `tests/sync_semaphore.rs`; `time: simplify wheel constants` names `time/wheel/mod.rs`. A
/// commit message or ticket names the module it is about far more often than its text's words
/// rank that module's file first.
fn focus_names_file(focus: &Focus, path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let name = parts.next().unwrap_or(path);
    let stem = name.split_once('.').map_or(name, |(stem, _)| stem);
    let stem = if GENERIC_STEMS.contains(&stem.to_ascii_lowercase().as_str()) {
        // A crate's `src/lib.rs` is not named by `src`, nor by the crate's name, which most
        // messages about a project mention.
        match parts.next() {
            Some(dir) if !GENERIC_DIRS.contains(&dir.to_ascii_lowercase().as_str()) => dir,
            _ => return false,
        }
    } else {
        stem
    };
    let words: Vec<String> = sub_words(stem)
        .into_iter()
        .filter(|w| w.len() >= 3)
        .collect();
    !words.is_empty() && words.iter().all(|w| focus.term_slot.contains_key(w))
}

fn normalize(values: Vec<f64>) -> Vec<f64> {
    let max = values.iter().cloned().fold(0.0, f64::max);
    if max <= 0.0 {
        return vec![1.0; values.len()];
    }
    values.into_iter().map(|v| (v / max).max(1e-9)).collect()
}

/// BM25 (k1 = 1.2, b = 0.75) of the focus terms, normalised to [0, 1].
fn bm25(files: &[RankInput<'_>], focus: &Focus) -> Vec<f64> {
    let n = files.len() as f64;
    if focus.is_empty() {
        return vec![0.0; files.len()];
    }
    let average = files.iter().map(|f| f.index.length as f64).sum::<f64>() / n;
    let idf: Vec<f64> = (0..focus.terms.len())
        .map(|t| {
            let df = files
                .iter()
                .filter(|f| f.index.focus_counts.get(t).is_some_and(|&c| c > 0))
                .count() as f64;
            ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
        })
        .collect();
    let scores: Vec<f64> = files
        .iter()
        .map(|f| {
            // A term in the file's path counts as three occurrences in its text.
            let path_terms: Vec<String> = sub_words(f.path);
            let length = f.index.length as f64;
            let norm = 1.2 * (0.25 + 0.75 * length / average.max(1.0));
            f.index
                .focus_counts
                .iter()
                .zip(&idf)
                .zip(&focus.terms)
                .map(|((&tf, idf), term)| {
                    let in_path = path_terms.iter().filter(|p| *p == term).count();
                    let tf = tf as f64 + 3.0 * in_path as f64;
                    idf * tf * 2.2 / (tf + norm)
                })
                .sum()
        })
        .collect();
    let max = scores.iter().cloned().fold(0.0, f64::max);
    if max <= 0.0 {
        return scores;
    }
    scores.into_iter().map(|s| s / max).collect()
}

/// Names defined in more files than this say little about who depends on whom (new, run, get):
/// the graph and [`neighbours`] skip their links.
const MAX_OWNERS: usize = 8;

/// For each defined name, the files that define it (a file once per definition).
pub struct Definers<'a> {
    pub names: &'a dyn Lookup,
    owners: HashMap<Name, Vec<usize>>,
}

impl Definers<'_> {
    /// The files that define `name`.
    pub fn get(&self, name: &str) -> Option<&[usize]> {
        self.of(self.names.get(name)?)
    }

    pub fn of(&self, name: Name) -> Option<&[usize]> {
        self.owners.get(&name).map(Vec::as_slice)
    }

    pub fn defines(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The [`Definers`] of `files` (whose names `names` holds), which [`rank`] and [`neighbours`]
/// both follow.
pub fn definers<'a>(files: &[RankInput<'_>], names: &'a dyn Lookup) -> Definers<'a> {
    let mut owners: HashMap<Name, Vec<usize>> = HashMap::new();
    for (i, file) in files.iter().enumerate() {
        for &name in &file.index.definitions {
            owners.entry(name).or_default().push(i);
        }
    }
    Definers { names, owners }
}

/// PageRank over "file A uses a name file B defines", personalised towards the focus: the random
/// surfer restarts at files in proportion to their BM25 score (or uniformly without a focus).
/// With a focus, each link also runs back from definer to user at half weight: relevance reaches
/// the callers and tests of the focused code, which a change to it must often update too.
fn graph_rank(
    files: &[RankInput<'_>],
    definers: &Definers<'_>,
    focus: &Focus,
    bm25: &[f64],
) -> Vec<f64> {
    let n = files.len();
    // Weighted links from user to definer. A file's links are in the order of their targets, and
    // each link's weight is summed in the order of the file's references: the same sums on every
    // run, so the scores, and the ranks of files that tie, do not vary from one run to the next.
    let mut forward = Links::new(n);
    let mut pending: Vec<(u32, f64)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        pending.clear();
        for &(name, count) in &file.index.references {
            let Some(owners) = definers.of(name) else {
                continue;
            };
            // Names defined everywhere (new, run, get) say little about who depends on whom.
            if owners.len() > MAX_OWNERS {
                continue;
            }
            let name = definers.names.resolve(name);
            let mut weight = (count as f64).sqrt() / owners.len() as f64;
            if focus.identifiers.contains(name) {
                weight *= 10.0;
            }
            if name.len() >= 8 && (name.contains('_') || name.chars().any(|c| c.is_uppercase())) {
                weight *= 2.0;
            }
            pending.extend(
                owners
                    .iter()
                    .filter(|&&owner| owner != i)
                    .map(|&owner| (owner as u32, weight)),
            );
        }
        // Stable: a link's weights keep the order of the references.
        pending.sort_by_key(|&(owner, _)| owner);
        forward.push(&pending);
    }
    // With a focus, each link also runs back from definer to user at half weight.
    let backward = (!focus.is_empty()).then(|| forward.reversed(0.5));
    let graphs: Vec<&Links> = std::iter::once(&forward).chain(&backward).collect();
    let restart: Vec<f64> = if bm25.iter().any(|&s| s > 0.0) {
        let sum: f64 = bm25.iter().sum();
        bm25.iter().map(|s| s / sum).collect()
    } else {
        vec![1.0 / n as f64; n]
    };
    let out_weight: Vec<f64> = (0..n)
        .map(|i| {
            graphs
                .iter()
                .map(|g| g.weights(i).iter().sum::<f64>())
                .sum()
        })
        .collect();
    let mut rank = restart.clone();
    const DAMPING: f64 = 0.85;
    for _ in 0..40 {
        let mut next: Vec<f64> = restart.iter().map(|r| (1.0 - DAMPING) * r).collect();
        let mut dangling = 0.0;
        for i in 0..n {
            if out_weight[i] == 0.0 {
                dangling += rank[i];
                continue;
            }
            for graph in &graphs {
                for (&j, &w) in graph.targets(i).iter().zip(graph.weights(i)) {
                    next[j as usize] += DAMPING * rank[i] * w / out_weight[i];
                }
            }
        }
        for (value, r) in next.iter_mut().zip(&restart) {
            *value += DAMPING * dangling * r;
        }
        rank = next;
    }
    let max = rank.iter().cloned().fold(0.0, f64::max);
    rank.into_iter()
        .map(|r| r / max.max(f64::MIN_POSITIVE))
        .collect()
}

/// Weighted links between files, each file's laid out flat in one array (a name used by a
/// hundred thousand files is a hundred thousand numbers, not a map per file).
struct Links {
    /// Where each file's links begin in `targets` and `weights`; one more than the files.
    starts: Vec<usize>,
    targets: Vec<u32>,
    weights: Vec<f64>,
}

impl Links {
    fn new(files: usize) -> Links {
        let mut starts = Vec::with_capacity(files + 1);
        starts.push(0);
        Links {
            starts,
            targets: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// Adds the next file's links, sorted by target: the weights of one target are summed in
    /// the order they come.
    fn push(&mut self, sorted: &[(u32, f64)]) {
        let start = self.targets.len();
        for &(target, weight) in sorted {
            if self.targets.len() > start && self.targets.last() == Some(&target) {
                *self.weights.last_mut().expect("one weight per target") += weight;
            } else {
                self.targets.push(target);
                self.weights.push(weight);
            }
        }
        self.starts.push(self.targets.len());
    }

    fn targets(&self, file: usize) -> &[u32] {
        &self.targets[self.starts[file]..self.starts[file + 1]]
    }

    fn weights(&self, file: usize) -> &[f64] {
        &self.weights[self.starts[file]..self.starts[file + 1]]
    }

    /// Every link turned around, its weight times `scale`; each file's in the order of their
    /// targets.
    fn reversed(&self, scale: f64) -> Links {
        let files = self.starts.len() - 1;
        let mut starts = vec![0usize; files + 1];
        for &target in &self.targets {
            starts[target as usize + 1] += 1;
        }
        for file in 0..files {
            starts[file + 1] += starts[file];
        }
        let mut at = starts.clone();
        let mut targets = vec![0u32; self.targets.len()];
        let mut weights = vec![0.0f64; self.targets.len()];
        for source in 0..files {
            for (&target, &weight) in self.targets(source).iter().zip(self.weights(source)) {
                let slot = &mut at[target as usize];
                targets[*slot] = source as u32;
                weights[*slot] = scale * weight;
                *slot += 1;
            }
        }
        Links {
            starts,
            targets,
            weights,
        }
    }
}

fn git_scores(files: &[RankInput<'_>]) -> Vec<f64> {
    let newest = files
        .iter()
        .filter_map(|f| f.git.map(|g| g.newest))
        .max()
        .unwrap_or(0);
    let raw: Vec<f64> = files
        .iter()
        .map(|f| match f.git {
            Some(g) if g.commits > 0 => {
                let age_days = (newest - g.newest).max(0) as f64 / 86_400.0;
                (1.0 + g.commits as f64).ln() * (-age_days / 180.0).exp()
            }
            _ => 0.0,
        })
        .collect();
    let max = raw.iter().cloned().fold(0.0, f64::max);
    if max <= 0.0 {
        return raw;
    }
    raw.into_iter().map(|r| r / max).collect()
}

/// One hop in the reference graph from `seeds` (the files a plan references): how strongly each
/// file is tied to them, in [0, 1] (0: not at all; seeds get 0 too). A file is tied when it
/// defines a name a seed uses (what the seeds build on), uses a name in `changed` (the names the
/// plan changes: callers that may need to follow), or uses a name in `removed` (names whose
/// definition a change removes, which nothing defines any more: callers it may have broken).
/// Names defined in more than eight files say little about who depends on whom and are skipped,
/// as in the ranking's graph; so are removed names that many files use.
pub fn neighbours(
    files: &[RankInput<'_>],
    definers: &Definers<'_>,
    seeds: &[usize],
    changed: &HashSet<String>,
    removed: &HashSet<String>,
) -> Vec<f64> {
    let n = files.len();
    let mut weight = vec![0.0f64; n];
    // What the seeds use, defined elsewhere.
    for &seed in seeds {
        for &(name, count) in &files[seed].index.references {
            let Some(owners) = definers.of(name) else {
                continue;
            };
            if owners.len() > MAX_OWNERS {
                continue;
            }
            for &owner in owners {
                weight[owner] += (count as f64).sqrt() / owners.len() as f64;
            }
        }
    }
    // Who uses what the plan changes.
    let mut changed: Vec<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|name| definers.get(name).is_some_and(|o| o.len() <= MAX_OWNERS))
        .collect();
    // How many files use each removed name that nothing defines any more: one pass.
    let mut users: HashMap<Name, usize> = removed
        .iter()
        .filter(|name| !definers.defines(name))
        .filter_map(|name| definers.names.get(name))
        .map(|name| (name, 0))
        .collect();
    if !users.is_empty() {
        for file in files {
            for (name, _) in &file.index.references {
                if let Some(n) = users.get_mut(name) {
                    *n += 1;
                }
            }
        }
    }
    changed.extend(removed.iter().map(String::as_str).filter(|name| {
        !definers.defines(name)
            && definers
                .names
                .get(name)
                .is_none_or(|name| users[&name] <= MAX_OWNERS)
    }));
    let changed: HashSet<Name> = changed
        .into_iter()
        .filter_map(|name| definers.names.get(name))
        .collect();
    if !changed.is_empty() {
        for (i, file) in files.iter().enumerate() {
            // References are sorted by name: the sum is taken in the order of the names, as it
            // always was.
            for (name, count) in &file.index.references {
                if changed.contains(name) {
                    weight[i] += (*count as f64).sqrt();
                }
            }
        }
    }
    for &seed in seeds {
        weight[seed] = 0.0;
    }
    let max = weight.iter().cloned().fold(0.0, f64::max);
    if max > 0.0 {
        for w in &mut weight {
            *w /= max;
        }
    }
    weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_what_the_identifier_pattern_finds() {
        let pattern = Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").unwrap();
        for text in [
            "",
            "9abc x1 _ __init__ a9b 12 é_x éclair naïve ünder_score",
            "fn parseHTTPRequest_v2() { let x=y+z9; }\n\t$dollar #hash",
            "日本語ident_ifier混ざるABC",
            "trailing_word",
        ] {
            let ours: Vec<&str> = identifiers(text).collect();
            let theirs: Vec<&str> = pattern.find_iter(text).map(|m| m.as_str()).collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    #[test]
    fn sub_words_are_split_alike_on_every_path() {
        let mut lower = String::new();
        for word in [
            "parseHTTPRequest_v2",
            "XMLHttpRequest",
            "ABC",
            "a",
            "__init__",
            "snake_case_Name",
            "v2X3yZ",
            "HTTPServer9Z",
        ] {
            let mut ours = Vec::new();
            for_each_sub_word(word, &mut lower, |part| ours.push(part.to_string()));
            assert_eq!(ours, sub_words(word), "{word}");
        }
    }

    #[test]
    fn sub_words_split_case_and_separators() {
        assert_eq!(
            sub_words("parseHTTPRequest_v2"),
            ["parse", "http", "request", "v2"]
        );
        assert_eq!(sub_words("retry-logic"), ["retry", "logic"]);
        assert_eq!(sub_words("x"), Vec::<String>::new());
    }

    #[test]
    fn priors_favour_entry_points_over_tests_and_locks() {
        assert!(path_prior("README.md") > path_prior("src/lib.rs"));
        assert!(path_prior("src/lib.rs") > path_prior("src/util.rs"));
        assert!(path_prior("src/util.rs") > path_prior("tests/util.rs"));
        assert!(path_prior("tests/util.rs") > path_prior("Cargo.lock"));
        assert!(path_prior("src/a.rs") > path_prior("vendor/a.rs"));
    }

    #[test]
    fn the_file_defining_what_others_use_ranks_first() {
        let names = Names::new();
        let focus = Focus::default();
        let core = index(
            "pub struct RetryPolicy;\nfn backoff_delay() {}\n",
            &focus,
            &names,
        );
        let user1 = index(
            "use RetryPolicy; fn a() { backoff_delay(); RetryPolicy }",
            &focus,
            &names,
        );
        let user2 = index("fn b() { RetryPolicy::new() }", &focus, &names);
        let lonely = index("fn unrelated_thing() {}", &focus, &names);
        let files = [
            RankInput {
                path: "src/a.rs",
                index: &user1,
                git: None,
            },
            RankInput {
                path: "src/policy.rs",
                index: &core,
                git: None,
            },
            RankInput {
                path: "src/b.rs",
                index: &user2,
                git: None,
            },
            RankInput {
                path: "src/c.rs",
                index: &lonely,
                git: None,
            },
        ];
        let scores = rank(&files, &definers(&files, &names), &focus);
        let best = (0..4)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap();
        assert_eq!(files[best].path, "src/policy.rs");
    }

    #[test]
    fn the_focus_pulls_matching_files_up() {
        let names = Names::new();
        let focus = Focus::new(&["retry logic in the http client".to_string()]);
        let http = index(
            "fn send_request() { retry(); }\nfn retry() {}\n// http client",
            &focus,
            &names,
        );
        let other = index("fn render_page() { draw(); }", &focus, &names);
        let files = [
            RankInput {
                path: "src/render.rs",
                index: &other,
                git: None,
            },
            RankInput {
                path: "src/http.rs",
                index: &http,
                git: None,
            },
        ];
        let scores = rank(&files, &definers(&files, &names), &focus);
        assert!(scores[1] > scores[0] * 2.0, "{scores:?}");
    }

    #[test]
    fn neighbours_are_what_seeds_use_and_who_uses_what_changes() {
        let names = Names::new();
        let focus = Focus::default();
        let seed = index("fn handler() { RetryPolicy::new(); }\n", &focus, &names);
        let used = index("pub struct RetryPolicy;\n", &focus, &names);
        let caller = index("fn main() { handler(); }\n", &focus, &names);
        let unrelated = index("fn other_thing() {}\n", &focus, &names);
        let files: Vec<RankInput<'_>> = [&seed, &used, &caller, &unrelated]
            .iter()
            .zip(["seed.rs", "used.rs", "caller.rs", "unrelated.rs"])
            .map(|(index, path)| RankInput {
                path,
                index,
                git: None,
            })
            .collect();
        let changed: HashSet<String> = ["handler".to_string()].into();
        let weights = neighbours(
            &files,
            &definers(&files, &names),
            &[0],
            &changed,
            &HashSet::new(),
        );
        assert_eq!(weights[0], 0.0, "a seed is not its own neighbour");
        assert!(weights[1] > 0.0, "defines what the seed uses: {weights:?}");
        assert!(weights[2] > 0.0, "uses what the plan changes: {weights:?}");
        assert_eq!(weights[3], 0.0);
        assert!(
            neighbours(
                &files,
                &definers(&files, &names),
                &[0],
                &HashSet::new(),
                &HashSet::new()
            )[2] == 0.0
        );
    }

    #[test]
    fn focus_symbols_are_code_spans_and_code_shaped_words() {
        let focus = Focus::new(&[
            "sync: add `blocking_acquire` methods to `Semaphore` via ShardedList and tokio::fs"
                .to_string(),
        ]);
        for symbol in [
            "blocking_acquire",
            "Semaphore",
            "ShardedList",
            "tokio",
            "fs",
        ] {
            let expected = symbol.len() >= 3;
            assert_eq!(focus.symbols.contains(symbol), expected, "{symbol}");
        }
        for word in ["sync", "add", "methods", "via", "and"] {
            assert!(!focus.symbols.contains(word), "{word}");
        }
    }

    #[test]
    fn the_file_defining_a_quoted_name_outranks_files_that_only_use_it() {
        let names = Names::new();
        let focus =
            Focus::new(&["move `block_in_place` setup out of the generic path".to_string()]);
        let definer = index(
            "pub fn block_in_place() { setup(); }\nfn other() {}",
            &focus,
            &names,
        );
        let user = index(
            "fn run() { block_in_place(); block_in_place(); }\n// block_in_place setup",
            &focus,
            &names,
        );
        let files = [
            RankInput {
                path: "src/user.rs",
                index: &user,
                git: None,
            },
            RankInput {
                path: "src/worker.rs",
                index: &definer,
                git: None,
            },
        ];
        let scores = rank(&files, &definers(&files, &names), &focus);
        assert!(scores[1] > scores[0], "{scores:?}");
    }

    #[test]
    fn with_a_focus_the_tests_of_the_focused_code_are_not_pushed_down() {
        let names = Names::new();
        let focus = Focus::new(&["wake the delay queue when cleared".to_string()]);
        let text = "fn delay_queue_clear() { queue.clear(); wake(); }";
        let (code, test) = (index(text, &focus, &names), index(text, &focus, &names));
        let files = [
            RankInput {
                path: "src/delay.rs",
                index: &code,
                git: None,
            },
            RankInput {
                path: "tests/delay.rs",
                index: &test,
                git: None,
            },
        ];
        let scores = rank(&files, &definers(&files, &names), &focus);
        assert_eq!(scores[0], scores[1]);
        // Without a focus, the role prior keeps tests down.
        let scores = rank(&files, &definers(&files, &names), &Focus::default());
        assert!(scores[1] < scores[0], "{scores:?}");
    }

    #[test]
    fn a_focus_names_the_files_whose_name_words_it_uses() {
        let focus = Focus::new(&["sync: add `blocking_acquire` methods to `Semaphore`".into()]);
        assert!(focus_names_file(&focus, "tokio/src/sync/semaphore.rs"));
        assert!(focus_names_file(&focus, "tokio/tests/sync_semaphore.rs"));
        assert!(!focus_names_file(&focus, "tokio/src/sync/mutex.rs"));
        assert!(!focus_names_file(
            &focus,
            "tokio/src/sync/batch_semaphore.rs"
        ));
        let focus = Focus::new(&["time: simplify wheel constants".into()]);
        assert!(focus_names_file(
            &focus,
            "tokio/src/runtime/time/wheel/mod.rs"
        ));
        assert!(!focus_names_file(
            &focus,
            "tokio/src/runtime/time/wheel/level.rs"
        ));
        assert!(
            !focus_names_file(&focus, "mod.rs"),
            "a generic name at the root"
        );
        // `src` names no module: a focus on `src/...` does not name every crate's lib.rs, and
        // neither does the crate's name, which most messages about a project carry.
        let focus = Focus::new(&["tokio-stream: move helpers out of src/".into()]);
        assert!(!focus_names_file(&focus, "tokio-stream/src/lib.rs"));
        assert!(!focus_names_file(&focus, "crates/tls/src/lib.rs"));
        assert!(!focus_names_file(&focus, "src/lib.rs"));
        assert!(focus_names_file(&focus, "tokio-stream/src/stream/mod.rs"));
        // Words of two letters say nothing either way: `io_simplex` is named by `simplex`.
        let focus = Focus::new(&["io: handle empty vectored writes in simplex".into()]);
        assert!(focus_names_file(&focus, "tokio-util/tests/io_simplex.rs"));
    }

    #[test]
    fn noise_and_role_priors_multiply_to_the_path_prior() {
        for path in [
            "Cargo.lock",
            "tests/a.rs",
            "README.md",
            "vendor/x.rs",
            "src/a.rs",
        ] {
            assert_eq!(path_prior(path), noise_prior(path) * role_prior(path));
        }
        assert!(noise_prior("tests/fixtures/a.rs") < 1.0);
        assert_eq!(role_prior("tests/fixtures/a.rs"), 1.0);
        assert_eq!(noise_prior("tests/a.rs"), 1.0);
    }
}
