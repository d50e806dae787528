//! Resolving what a plan mentions: each path, glob and symbol becomes `exists`, `new`,
//! `missing`, `ambiguous` or `outside-root`, with the files and line spans it points at.
//!
//! Paths are confined to the root before anything touches the disk: `..` that climbs out, an
//! absolute path elsewhere, and a link whose target lies outside are `outside-root`, and their
//! targets are never opened. A name the repository uses but never defines (`HashMap`,
//! `serde_json`, a local variable) is somebody else's code, not a reference; a strong mention
//! that is neither defined nor used anywhere is something the plan made up.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path};

use serde::Serialize;

use super::extract::{Action, LineSpan, Mention, Target, BUILD_DIRS};
use super::index::{Defined, RepoIndex};
use crate::rank;

/// Roots of standard libraries and of the ecosystems' best-known packages: a path that starts
/// with one (`std::fs::read`, `os.path.join`, `fmt.Println`) is never this repository's. The
/// manifests' dependencies are added to these.
const EXTERNAL_ROOTS: &[&str] = &[
    // Rust
    "std",
    "core",
    "alloc",
    "fmt",
    "io",
    "fs",
    "sync",
    "thread",
    "time",
    "collections",
    "env",
    "path",
    "process",
    "mem",
    "ptr",
    "ops",
    "iter",
    "str",
    "string",
    "vec",
    "hash",
    "cmp",
    "convert",
    "borrow",
    "cell",
    "rc",
    "boxed",
    "error",
    "net",
    "serde",
    "tokio",
    "anyhow",
    "thiserror",
    "rand",
    "chrono",
    "tracing",
    "log",
    "regex",
    "rayon",
    "clap",
    "futures",
    // Python
    "os",
    "sys",
    "re",
    "json",
    "datetime",
    "pathlib",
    "typing",
    "itertools",
    "functools",
    "subprocess",
    "logging",
    "asyncio",
    "math",
    "random",
    "uuid",
    "dataclasses",
    "enum",
    "abc",
    "shutil",
    "tempfile",
    "unittest",
    "pytest",
    "collections",
    "contextlib",
    "threading",
    "np",
    "pd",
    "numpy",
    "pandas",
    "torch",
    "requests",
    "django",
    "flask",
    "pydantic",
    "sqlalchemy",
    // JavaScript, TypeScript
    "console",
    "Math",
    "JSON",
    "Object",
    "Array",
    "Promise",
    "Date",
    "Number",
    "String",
    "Map",
    "Set",
    "Reflect",
    "Symbol",
    "window",
    "document",
    "navigator",
    "globalThis",
    "React",
    "react",
    "vi",
    "jest",
    "expect",
    "z",
    "axios",
    "lodash",
    // Go
    "strings",
    "strconv",
    "errors",
    "context",
    "http",
    "bytes",
    "filepath",
    "ioutil",
    "sort",
    "regexp",
    "atomic",
    "bufio",
    "testing",
    "reflect",
    "slices",
    "maps",
];

/// Types every program has from its language's standard library or prelude: `Mutex::lock()`
/// or `Instant::now()` in a plan is not an invention.
const STANDARD_TYPES: &[&str] = &[
    "Vec",
    "String",
    "HashMap",
    "HashSet",
    "BTreeMap",
    "BTreeSet",
    "VecDeque",
    "BinaryHeap",
    "Option",
    "Result",
    "Box",
    "Rc",
    "Arc",
    "Weak",
    "Mutex",
    "RwLock",
    "Cell",
    "RefCell",
    "OnceCell",
    "OnceLock",
    "LazyLock",
    "Instant",
    "Duration",
    "SystemTime",
    "Path",
    "PathBuf",
    "File",
    "OpenOptions",
    "Cow",
    "Ordering",
    "PhantomData",
    "DefaultHasher",
    "Iterator",
    "IntoIterator",
    "Display",
    "Debug",
    "Default",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "From",
    "Into",
    "TryFrom",
    "TryInto",
    "AsRef",
    "AsMut",
    "Deref",
    "DerefMut",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "Error",
    "Read",
    "Write",
    "BufRead",
    "BufReader",
    "BufWriter",
    "Command",
    "Stdio",
    "Sender",
    "Receiver",
    "AtomicBool",
    "AtomicUsize",
    "AtomicU64",
    "Condvar",
    "Barrier",
    "Pin",
    "Future",
    "Poll",
    "Waker",
    "Hash",
    "Hasher",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Exception",
    "ValueError",
    "TypeError",
    "KeyError",
    "RuntimeError",
    "Enum",
    "Optional",
    "List",
    "Dict",
    "Any",
    "Union",
    "Callable",
    "Iterable",
    "Sequence",
    "Mapping",
    "Promise",
    "Array",
    "Object",
    "Map",
    "Set",
    "Date",
    "RegExp",
    "Record",
    "Partial",
    "Readonly",
    "Response",
    "Request",
    "URL",
    "URLSearchParams",
    "Buffer",
    "EventEmitter",
];

/// Methods that every type has through derives, traits or the language (`Config::clone()`,
/// `obj.toString()`, `__init__`): invisible to a symbol table of the repository's own code.
const UNIVERSAL_METHODS: &[&str] = &[
    "clone",
    "fmt",
    "to_string",
    "default",
    "eq",
    "ne",
    "hash",
    "from",
    "into",
    "try_from",
    "try_into",
    "as_ref",
    "as_mut",
    "deref",
    "deref_mut",
    "drop",
    "cmp",
    "partial_cmp",
    "to_owned",
    "borrow",
    "borrow_mut",
    "serialize",
    "deserialize",
    "__init__",
    "__str__",
    "__repr__",
    "__eq__",
    "__hash__",
    "__enter__",
    "__exit__",
    "toString",
    "valueOf",
    "constructor",
    "toJSON",
];

/// A value's member written like a file name: `request.json`, `process.env`. Only these
/// receivers with these members; `app.py` or `data.json` stay file names.
const RECEIVERS: &[&str] = &[
    "process", "request", "req", "res", "response", "self", "this", "ctx", "context", "os", "sys",
    "window", "document", "event", "e", "err", "args", "options", "opts", "params", "props",
];
const MEMBERS: &[&str] = &[
    "json", "env", "cfg", "body", "headers", "query", "params", "text", "html", "status", "data",
];

/// What became of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Exists,
    New,
    Missing,
    Ambiguous,
    OutsideRoot,
    /// The plan says it creates a file that exists.
    Conflict,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Exists => "exists",
            Status::New => "new",
            Status::Missing => "missing",
            Status::Ambiguous => "ambiguous",
            Status::OutsideRoot => "outside-root",
            Status::Conflict => "conflict",
        }
    }

    /// Whether `refs --check` fails on it: the plan names something that is not there, reaches
    /// outside the tree, or creates a file that exists.
    pub fn fails_check(self) -> bool {
        matches!(
            self,
            Status::Missing | Status::OutsideRoot | Status::Conflict
        )
    }

    pub const ALL: [Status; 6] = [
        Status::Exists,
        Status::New,
        Status::Missing,
        Status::Ambiguous,
        Status::OutsideRoot,
        Status::Conflict,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Directory,
    Glob,
    Symbol,
    /// A path only ever named as an argument of a shell command (`pytest tests/ -k retry`):
    /// checked for existence, never packed as a list of files.
    Command,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Directory => "directory",
            Kind::Glob => "glob",
            Kind::Symbol => "symbol",
            Kind::Command => "command",
        }
    }
}

/// One place a reference resolves to (or, when ambiguous, could).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// Relative to the root, with `/`; a directory ends with `/`.
    pub path: String,
    /// The lines meant: the plan's own span for a path, the definition's for a symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<LineSpan>,
    /// For a symbol: the definition's kind (`function`, `method`, `class`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// For a symbol: the enclosing definition (`Client` for `Client::send`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A reference of the plan, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    /// As written in the plan.
    pub text: String,
    /// The first plan line where it appears.
    pub line: usize,
    /// Every plan line where it appears.
    pub lines: Vec<usize>,
    pub kind: Kind,
    pub status: Status,
    /// Exists: what it points at. Ambiguous: the candidates.
    pub resolved: Vec<Resolved>,
    /// Why, when the status alone does not say (`Client` has no `reconnect`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the plan's `## Files` section says happens to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

/// Identifiers a resolver will ask the index about: every segment of every symbol mention.
pub fn names_of(mentions: &[Mention]) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for mention in mentions {
        if let Target::Symbol {
            qualifier, name, ..
        } = &mention.target
        {
            names.insert(name.clone());
            names.extend(qualifier.iter().cloned());
        }
    }
    names
}

/// How one mention came out, before strength and announcements decide its status.
enum Outcome {
    Found {
        kind: Kind,
        status: Status,
        resolved: Vec<Resolved>,
        note: Option<String>,
    },
    Absent {
        kind: Kind,
        note: Option<String>,
    },
    /// Not code of this repository after all (an external crate's type, a local variable).
    NotAReference,
}

/// Resolves every mention against `index`; the same text mentioned twice is one reference with
/// both lines. Weak mentions that resolve to nothing are dropped.
///
/// A missing name the plan announces as new elsewhere (a later bare mention of a file it
/// creates, a method of a type it adds), declares in its own code blocks, or that names a test
/// (plans list the tests they will write) is `new` too.
pub fn resolve(
    mentions: &[Mention],
    declared: &BTreeSet<String>,
    index: &RepoIndex,
    root: &Path,
) -> Vec<Reference> {
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // Per target: its first mention and what all its mentions say together.
    struct Group<'m> {
        mention: &'m Mention,
        lines: Vec<usize>,
        /// Any mention is strong.
        strong: bool,
        /// Any mention announces it as new.
        announced_new: bool,
        /// Any mention's creating verb (or "new" right by it) says the plan makes it.
        created: bool,
        /// The action a `## Files` section gives it.
        action: Option<Action>,
        /// Every mention is in a shell command.
        command: bool,
        /// Paths named beside any of its mentions.
        near: Vec<String>,
    }
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut seen: HashMap<&Target, usize> = HashMap::new();
    for mention in mentions {
        let key = &mention.target;
        match seen.get(&key) {
            Some(&g) => {
                let group = &mut groups[g];
                if !group.lines.contains(&mention.line) {
                    group.lines.push(mention.line);
                }
                group.strong |= mention.strong;
                group.announced_new |= mention.announced_new;
                group.created |= mention.created;
                group.action = group.action.or(mention.action);
                group.command &= mention.command;
                for path in &mention.near {
                    if !group.near.contains(path) {
                        group.near.push(path.clone());
                    }
                }
            }
            None => {
                seen.insert(key, groups.len());
                groups.push(Group {
                    mention,
                    lines: vec![mention.line],
                    strong: mention.strong,
                    announced_new: mention.announced_new,
                    created: mention.created,
                    action: mention.action,
                    command: mention.command,
                    near: mention.near.clone(),
                });
            }
        }
    }
    // Every path the plan names, to rank a symbol's candidates by.
    let named: Vec<&str> = mentions
        .iter()
        .filter_map(|m| match &m.target {
            Target::Path { path, .. } if !m.command => Some(path.as_str()),
            _ => None,
        })
        .collect();

    let mut references = Vec::new();
    for group in groups {
        let Group {
            mention,
            lines,
            strong,
            announced_new,
            created,
            action,
            command,
            near,
        } = group;
        let outcome = match &mention.target {
            Target::Path { path, span } => {
                resolve_path(path, *span, strong, index, root, &canonical_root)
            }
            Target::Glob { pattern } => resolve_glob(pattern, index),
            Target::Symbol {
                qualifier,
                name,
                dotted,
            } => match resolve_symbol(qualifier, name, *dotted, index) {
                Outcome::Found {
                    kind,
                    status: Status::Ambiguous,
                    resolved,
                    note,
                } => in_context(kind, resolved, note, &near, &named),
                other => other,
            },
        };
        let (kind, status, resolved, note) = match (outcome, action) {
            // A `## Files` section says outright whether the file exists before the change.
            (
                Outcome::Found {
                    kind,
                    status: Status::Exists,
                    resolved,
                    ..
                },
                Some(Action::Create),
            ) => (
                kind,
                Status::Conflict,
                resolved,
                Some("the plan creates it, but it exists".to_string()),
            ),
            // "Create `x.rs`" of a file that exists: the plan's words say it is made.
            (
                Outcome::Found {
                    kind: Kind::File,
                    status: Status::Exists,
                    resolved,
                    ..
                },
                None,
            ) if created && !command => (
                Kind::File,
                Status::Conflict,
                resolved,
                Some("the plan creates it, but it exists".to_string()),
            ),
            (Outcome::Absent { kind, .. }, Some(action)) => {
                if action.expects_existing() {
                    let verb = match action {
                        Action::Modify => "modifies",
                        Action::Delete => "deletes",
                        _ => "reads",
                    };
                    (
                        kind,
                        Status::Missing,
                        Vec::new(),
                        Some(format!("the plan {verb} it, but it does not exist")),
                    )
                } else {
                    (kind, Status::New, Vec::new(), None)
                }
            }
            (
                Outcome::Found {
                    kind,
                    status,
                    resolved,
                    note,
                },
                _,
            ) => (kind, status, resolved, note),
            (Outcome::Absent { kind, note }, None) => {
                if !strong {
                    continue; // prose that only might have been code
                } else if announced_new {
                    (kind, Status::New, Vec::new(), None)
                } else {
                    (kind, Status::Missing, Vec::new(), note)
                }
            }
            (Outcome::NotAReference, _) => continue,
        };
        // A path only a command names is the command's argument, whatever it points at.
        let kind = match (&mention.target, command) {
            (Target::Path { .. } | Target::Glob { .. }, true) => Kind::Command,
            _ => kind,
        };
        references.push((
            &mention.target,
            Reference {
                text: mention.text.clone(),
                line: mention.line,
                lines,
                kind,
                status,
                resolved,
                note,
                action,
            },
        ));
    }

    // What the plan creates, by every name it may be mentioned by again. A name the tree
    // already defines is not created by quoting it (`pub struct Cache` in a code block), and a new
    // member of an existing type does not make the type new.
    let in_tree = |n: &str| !index.defined(n).is_empty() || index.modules.contains(n);
    let mut created: BTreeSet<String> = declared.iter().filter(|n| !in_tree(n)).cloned().collect();
    for (target, reference) in &references {
        if reference.status != Status::New {
            continue;
        }
        match target {
            Target::Path { path, .. } | Target::Glob { pattern: path } => {
                let path = path.trim_end_matches('/');
                let name = path.rsplit('/').next().unwrap_or(path);
                // A new file's module name (`skills_manifest` for skills_manifest.py).
                if let Some((stem, _)) = name.split_once('.') {
                    created.insert(stem.to_string());
                }
                created.insert(name.to_string());
                created.insert(path.to_string());
                // The directories that will hold it.
                let mut dir = path;
                while let Some((parent, _)) = dir.rsplit_once('/') {
                    created.insert(format!("{parent}/"));
                    dir = parent;
                }
            }
            Target::Symbol {
                qualifier, name, ..
            } => {
                if !in_tree(name) {
                    created.insert(name.clone());
                }
                created.extend(qualifier.iter().filter(|q| !in_tree(q)).cloned());
            }
        }
    }
    references
        .into_iter()
        .map(|(target, mut reference)| {
            // A file the `## Files` section says exists is missing, whatever else the plan says.
            let declared = reference.action.is_some_and(Action::expects_existing);
            if reference.status == Status::Missing
                && !declared
                && created_elsewhere(target, &created)
            {
                reference.status = Status::New;
                reference.note = None;
            }
            reference
        })
        .collect()
}

/// Whether a missing `target` is something the plan creates: named as new elsewhere, declared
/// in the plan's code, or a test function (plans list the tests they will write; a test *file*
/// that does not exist is as likely a wrong path).
fn created_elsewhere(target: &Target, created: &BTreeSet<String>) -> bool {
    match target {
        Target::Path { path, .. } | Target::Glob { pattern: path } => {
            // By its exact path, a directory that will hold a new file, or (written as a bare
            // name) by the name of a file created elsewhere in the plan.
            let dir = path.ends_with('/').then(|| path.to_string());
            let path = path.trim_end_matches('/');
            created.contains(path)
                || dir.is_some_and(|d| created.contains(&d))
                || (!path.contains('/') && created.contains(path))
        }
        Target::Symbol {
            qualifier, name, ..
        } => {
            created.contains(name)
                || qualifier.last().is_some_and(|q| created.contains(q))
                || is_test_name(name)
        }
    }
}

fn is_test_name(name: &str) -> bool {
    name.starts_with("test_")
        || name.ends_with("_test")
        || name.ends_with("_tests")
        || name
            .strip_prefix("Test")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase() || c == '_'))
}

fn resolve_path(
    path: &str,
    span: Option<LineSpan>,
    strong: bool,
    index: &RepoIndex,
    root: &Path,
    canonical_root: &Path,
) -> Outcome {
    let dir_only = path.ends_with('/');
    let kind = if dir_only {
        Kind::Directory
    } else {
        Kind::File
    };
    let outside = |kind| Outcome::Found {
        kind,
        status: Status::OutsideRoot,
        resolved: Vec::new(),
        note: Some("outside the root: never read".into()),
    };
    // Absolute paths count only when they lead into the root.
    let mut relative = path.to_string();
    let is_absolute = path.starts_with('/')
        || path.starts_with('~')
        || path
            .as_bytes()
            .get(1..3)
            .is_some_and(|s| s == b":\\" || s == b":/");
    if is_absolute {
        let inside = [root, canonical_root]
            .iter()
            .find_map(|r| Path::new(path).strip_prefix(r).ok());
        match inside {
            Some(rest) => relative = rest.to_string_lossy().replace('\\', "/"),
            // A weak absolute path ("/api/users" in prose) is flagged only when it is a real
            // path on this machine; a strong one always is.
            None if strong || Path::new(path).exists() => return outside(kind),
            None => return Outcome::NotAReference,
        }
    }
    // `..` that climbs above the root is refused before the disk is touched.
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(&relative).components() {
        match component {
            Component::Normal(part) => match part.to_str() {
                Some(part) => parts.push(part),
                None => return Outcome::NotAReference,
            },
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return outside(kind);
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return outside(kind),
        }
    }
    let normal = parts.join("/");
    if normal.is_empty() {
        return Outcome::NotAReference;
    }
    // A link (anywhere along the path) that leads out of the root.
    let on_disk = root.join(&normal);
    let meta = std::fs::symlink_metadata(&on_disk);
    if meta.is_ok() {
        if let Ok(target) = on_disk.canonicalize() {
            if !target.starts_with(canonical_root) {
                return outside(kind);
            }
        }
    }

    let found_file = |file: usize| {
        // A listed link (found by its name) whose target lies outside is outside too.
        if !index.readable[file] {
            let target = root.join(&index.files[file]).canonicalize();
            if target.is_ok_and(|t| !t.starts_with(canonical_root)) {
                return outside(Kind::File);
            }
        }
        let (span, span_note) = check_span(index, root, file, span);
        Outcome::Found {
            kind: Kind::File,
            status: if span_note.as_ref().is_some_and(|n| n.1) {
                Status::Missing
            } else {
                Status::Exists
            },
            resolved: vec![Resolved {
                path: index.files[file].clone(),
                span,
                definition: None,
                scope: None,
            }],
            note: span_note.map(|n| n.0),
        }
    };
    let found_dirs = |dirs: Vec<String>, note: Option<String>| Outcome::Found {
        kind: Kind::Directory,
        status: if dirs.len() == 1 {
            Status::Exists
        } else {
            Status::Ambiguous
        },
        resolved: dirs
            .into_iter()
            .map(|d| Resolved {
                path: format!("{d}/"),
                span: None,
                definition: None,
                scope: None,
            })
            .collect(),
        note,
    };

    if !dir_only {
        if let Some(file) = index.file(&normal) {
            return found_file(file);
        }
    }
    if index.dirs.contains(&normal) {
        return found_dirs(vec![normal], None);
    }
    // On disk, but not something the walk lists (ignored, hidden, filtered out).
    if let Ok(meta) = meta {
        let note = Some("exists, but the walk skips it (ignored, hidden or filtered)".into());
        return if meta.is_dir() {
            found_dirs(vec![normal], note)
        } else if dir_only {
            Outcome::Absent { kind, note: None }
        } else {
            Outcome::Found {
                kind: Kind::File,
                status: Status::Exists,
                resolved: vec![Resolved {
                    path: normal,
                    span,
                    definition: None,
                    scope: None,
                }],
                note,
            }
        };
    }
    // A bare name or a partial path: the unique file (or directory) it ends.
    if !dir_only {
        let files = index.files_ending_with(&normal);
        match files.len() {
            0 => {}
            1 => return found_file(files[0]),
            _ => {
                return Outcome::Found {
                    kind: Kind::File,
                    status: Status::Ambiguous,
                    resolved: files
                        .iter()
                        .map(|&f| Resolved {
                            path: index.files[f].clone(),
                            span,
                            definition: None,
                            scope: None,
                        })
                        .collect(),
                    note: Some(format!("{} files end with this path", files.len())),
                }
            }
        }
    }
    let dirs = index.dirs_ending_with(&normal);
    if !dirs.is_empty() {
        return found_dirs(dirs, None);
    }
    if BUILD_DIRS.contains(&parts[0]) {
        return Outcome::NotAReference; // `target/`, `node_modules/`: made by tools, not the plan
    }
    if let Some((receiver, member)) = normal.split_once('.') {
        if parts.len() == 1 && RECEIVERS.contains(&receiver) && MEMBERS.contains(&member) {
            return Outcome::NotAReference; // `request.json`, `process.env`: a value's member
        }
    }
    Outcome::Absent { kind, note: None }
}

/// Checks a plan's line span against the file: a span that starts past the end is invented
/// (status missing); one that runs past the end is cut to it. Returns the span to use and a
/// note with whether it is fatal.
fn check_span(
    index: &RepoIndex,
    root: &Path,
    file: usize,
    span: Option<LineSpan>,
) -> (Option<LineSpan>, Option<(String, bool)>) {
    let Some(span) = span else {
        return (None, None);
    };
    // Only what the walk would read itself: a regular file inside the root, within the size
    // limit. A link, a FIFO or a device named by the plan is never opened.
    if !index.readable[file] {
        return (Some(span), None);
    }
    let path = root.join(&index.files[file]);
    let crate::load::Loaded::Text(text) = crate::load::load(&path, index.max_file_size) else {
        return (Some(span), None);
    };
    let text = text.text.as_bytes();
    let mut lines = memchr::memchr_iter(b'\n', text).count();
    if !text.is_empty() && !text.ends_with(b"\n") {
        lines += 1;
    }
    if span.start > lines {
        let note = format!(
            "line {} is past the end of the file ({lines} lines)",
            span.start
        );
        return (Some(span), Some((note, true)));
    }
    if span.end > lines {
        let note = format!("the file ends at line {lines}");
        let cut = LineSpan {
            start: span.start,
            end: lines,
        };
        return (Some(cut), Some((note, false)));
    }
    (Some(span), None)
}

fn resolve_glob(pattern: &str, index: &RepoIndex) -> Outcome {
    if pattern.starts_with('/') || pattern.split('/').any(|part| part == "..") {
        return Outcome::Found {
            kind: Kind::Glob,
            status: Status::OutsideRoot,
            resolved: Vec::new(),
            note: Some("outside the root: never read".into()),
        };
    }
    let glob = globset::GlobBuilder::new(pattern.trim_start_matches("./"))
        .literal_separator(true)
        .build();
    let Ok(glob) = glob else {
        return Outcome::NotAReference;
    };
    let matcher = glob.compile_matcher();
    // Without a `/`, a pattern matches a file name anywhere (as in .gitignore).
    let by_name = !pattern.contains('/');
    let resolved: Vec<Resolved> = index
        .files
        .iter()
        .filter(|f| {
            if by_name {
                matcher.is_match(f.rsplit('/').next().unwrap_or(f))
            } else {
                matcher.is_match(f.as_str())
            }
        })
        .map(|f| Resolved {
            path: f.clone(),
            span: None,
            definition: None,
            scope: None,
        })
        .collect();
    if resolved.is_empty() {
        return Outcome::Absent {
            kind: Kind::Glob,
            note: Some("matches no file".into()),
        };
    }
    Outcome::Found {
        kind: Kind::Glob,
        status: Status::Exists,
        resolved,
        note: None,
    }
}

fn resolve_symbol(qualifier: &[String], name: &str, dotted: bool, index: &RepoIndex) -> Outcome {
    let known = |n: &str| !index.defined(n).is_empty() || index.modules.contains(n);
    let definitions = index.defined(name);
    // `path/to/file.py::name`: the name in that file, and nowhere else.
    if let [file] = qualifier {
        let extension = file.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        let path_like = !extension.is_empty()
            && extension.len() <= 5
            && extension.chars().all(|c| c.is_ascii_alphanumeric())
            && file.chars().any(|c| c == '/' || c == '.');
        if path_like && !known(file) {
            let file = file.trim_start_matches("./");
            let found = index
                .file(file)
                .or_else(|| match index.files_ending_with(file)[..] {
                    [only] => Some(only),
                    _ => None,
                });
            let Some(f) = found else {
                return Outcome::Absent {
                    kind: Kind::Symbol,
                    note: Some(format!("`{file}` does not exist")),
                };
            };
            let here: Vec<Defined> = definitions
                .iter()
                .filter(|d| d.file == f)
                .cloned()
                .collect();
            if !here.is_empty() {
                return found_definitions(index, &here);
            }
            return Outcome::Absent {
                kind: Kind::Symbol,
                note: Some(format!("`{file}` does not define `{name}`")),
            };
        }
    }
    let external = |n: &str| {
        !known(n)
            && (EXTERNAL_ROOTS.contains(&n)
                || STANDARD_TYPES.contains(&n)
                || index.dependencies.contains(n))
    };
    if qualifier.first().is_some_and(|q| external(q))
        || (qualifier.is_empty() && definitions.is_empty() && external(name))
    {
        return Outcome::NotAReference;
    }
    // `std::fs::read`, `serde_json::to_string`, `HashMap::new`: the outermost name is used here
    // but defined elsewhere, so the whole path belongs to another project. A lower-case single
    // qualifier may be a variable instead: `client.send()` is `send` wherever it is defined.
    if let Some(first) = qualifier.first() {
        if !known(first) && index.used(first) {
            let receiver = qualifier.len() == 1 && first.starts_with(|c: char| c.is_lowercase());
            if receiver && !definitions.is_empty() {
                return found_definitions(index, definitions);
            }
            return Outcome::NotAReference;
        }
    }
    let Some(q) = qualifier.last() else {
        if !definitions.is_empty() {
            return found_definitions(index, definitions);
        }
        if index.used(name) {
            return Outcome::NotAReference; // used but defined elsewhere
        }
        return Outcome::Absent {
            kind: Kind::Symbol,
            note: Some(format!("`{name}` is not defined or used anywhere")),
        };
    };
    // A qualifier the tree defines (a type) scopes by definition; one it does not (a module)
    // by file or directory name.
    let q_is_type = !index.defined(q).is_empty();
    let in_scope: Vec<Defined> = definitions
        .iter()
        .filter(|d| {
            d.scope.as_deref() == Some(q.as_str())
                || !q_is_type && names_module(&index.files[d.file], q)
        })
        .cloned()
        .collect();
    if !in_scope.is_empty() {
        return found_definitions(index, &in_scope);
    }
    if known(q) {
        // A member the symbol table does not index (a field, an enum variant) is still named
        // inside its type's definition, or (for a module) in its file.
        let inside_type = index
            .defined(q)
            .iter()
            .filter(|d| d.kind != "impl")
            .any(|d| {
                index
                    .use_lines
                    .get(&(name.to_string(), d.file))
                    .is_some_and(|lines| {
                        lines.iter().any(|&l| d.start_line <= l && l <= d.end_line)
                    })
            });
        let in_module = (0..index.files.len()).any(|f| {
            names_module(&index.files[f], q) && index.use_lines.contains_key(&(name.to_string(), f))
        });
        // `Config::clone()`: derived or inherited, so no definition of its own.
        if inside_type || in_module || UNIVERSAL_METHODS.contains(&name) {
            return Outcome::NotAReference;
        }
        // `daemonClient.getRecentPaths()`: a lower-case qualifier named like a file is as often
        // a value as the module, and the method may live on its type.
        if dotted && q.starts_with(|c: char| c.is_lowercase()) && !definitions.is_empty() {
            return found_definitions(index, definitions);
        }
        return Outcome::Absent {
            kind: Kind::Symbol,
            note: Some(format!("`{q}` exists but has no `{name}`")),
        };
    }
    if index.used(name) || index.used(q) || dotted {
        // `a::Foo::bar` with `Foo` from another project; `hub.challenge`, a value's member; a
        // name the code has that the symbol table does not index.
        return Outcome::NotAReference;
    }
    Outcome::Absent {
        kind: Kind::Symbol,
        note: Some(format!("`{q}` is not defined or used anywhere")),
    }
}

/// An ambiguous symbol in the context of its mention: defined in a file the plan names beside
/// it (the same list item, table row or sentence), it is that file's; otherwise its candidates
/// are ranked, those files first, then files the plan names anywhere, then definitions outside
/// tests.
fn in_context(
    kind: Kind,
    mut resolved: Vec<Resolved>,
    note: Option<String>,
    near: &[String],
    named: &[&str],
) -> Outcome {
    let names = |path: &str, written: &str| {
        let written = written.trim_start_matches("./");
        path == written
            || path.ends_with(&format!("/{written}"))
            || (written.ends_with('/') && path.starts_with(written))
    };
    let beside = |r: &Resolved| near.iter().any(|n| names(&r.path, n));
    let here: Vec<Resolved> = resolved.iter().filter(|r| beside(r)).cloned().collect();
    let mut files: Vec<&str> = here.iter().map(|r| r.path.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    if files.len() == 1 {
        return Outcome::Found {
            kind,
            status: Status::Exists,
            resolved: here,
            note: None,
        };
    }
    resolved.sort_by_key(|r| {
        (
            !beside(r),
            !named.iter().any(|n| names(&r.path, n)),
            rank::is_test_path(&r.path),
        )
    });
    Outcome::Found {
        kind,
        status: Status::Ambiguous,
        resolved,
        note,
    }
}

/// Whether `path` is (in) the module `module`: its file is named so (`cache.rs` for `cache`) or
/// one of its directories is.
fn names_module(path: &str, module: &str) -> bool {
    let mut parts = path.split('/');
    let file = parts.next_back().unwrap_or(path);
    file.split('.').next() == Some(module) || parts.any(|p| p == module)
}

fn found_definitions(index: &RepoIndex, definitions: &[Defined]) -> Outcome {
    // A Rust type is defined once and implemented in `impl` blocks: the definition is the answer
    // when there is one.
    let primary = definitions.iter().any(|d| d.kind != "impl");
    let resolved: Vec<Resolved> = definitions
        .iter()
        .filter(|d| !primary || d.kind != "impl")
        .map(|d| Resolved {
            path: index.files[d.file].clone(),
            span: Some(LineSpan {
                start: d.start_line,
                end: d.end_line,
            }),
            definition: Some(d.kind.clone()),
            scope: d.scope.clone(),
        })
        .collect();
    let mut files: Vec<&str> = resolved.iter().map(|r| r.path.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    Outcome::Found {
        kind: Kind::Symbol,
        status: if files.len() == 1 {
            Status::Exists
        } else {
            Status::Ambiguous
        },
        note: (files.len() > 1).then(|| format!("defined in {} files", files.len())),
        resolved,
    }
}
