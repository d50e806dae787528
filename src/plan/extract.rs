//! Reading a plan: the file paths, directories, globs and code symbols it names, each with the
//! plan line it is on, how sure we are that it means code, and whether its sentence or list item
//! announces it as new.
//!
//! The plan is Markdown (plain text is Markdown too), read with pulldown-cmark, so code spans,
//! fenced blocks, links and prose are told apart by a real parser. Where a mention sits decides
//! how much it is trusted:
//!
//! - a code span holds one thing the planner meant as code: a path, a glob, or a symbol;
//! - a fenced or indented block is code or a command: only file paths are taken from it, since
//!   every identifier in a snippet would be noise;
//! - a link's destination is a path when it is relative;
//! - prose gives paths with a known extension, `Type::method` and `func()` with confidence, and
//!   `module.func`, CamelCase names and extension-less `a/b` only if they resolve to something
//!   (prose is full of "and/or", "e.g." and product names).

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// One thing the plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// As written, without surrounding punctuation.
    pub text: String,
    /// 1-based line in the plan.
    pub line: usize,
    pub target: Target,
    /// Strong mentions that resolve to nothing are the plan's inventions; weak ones (prose that
    /// merely could be code) are kept only when they resolve.
    pub strong: bool,
    /// Its sentence or list item says it is to be created.
    pub announced_new: bool,
    /// The verb governing it is a creating one, or "new" stands right by it (`Create \`x.rs\``,
    /// `\`x.rs\` (new)`): a file that exists already is then a conflict.
    pub created: bool,
    /// The paths named in the same list item, table row or sentence: a symbol resolves in them
    /// first (`\`tests/test_client.py\`: add a case to \`test_get\``).
    pub near: Vec<String>,
    /// What a `## Files` section says happens to it (`- modify \`src/a.rs\``): said outright,
    /// this wins over any reading of the prose.
    pub action: Option<Action>,
    /// It is an argument of a shell command (`pytest tests/ -k retry`): something to check, not
    /// a file list to pack.
    pub command: bool,
}

/// What a plan's `## Files` section says happens to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Modify,
    Delete,
    Read,
}

impl Action {
    /// The action a `## Files` list item starts with: the contract's four words, and the
    /// synonyms planners write anyway.
    pub fn from_word(word: &str) -> Option<Action> {
        Some(match word.to_ascii_lowercase().as_str() {
            "create" | "add" | "new" => Action::Create,
            "modify" | "update" | "edit" | "change" => Action::Modify,
            "delete" | "remove" => Action::Delete,
            "read" => Action::Read,
            _ => return None,
        })
    }

    /// The file must exist before the change (modify, delete, read), or must not (create).
    pub fn expects_existing(self) -> bool {
        self != Action::Create
    }

    /// The change writes the file.
    pub fn changes(self) -> bool {
        self != Action::Read
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A file or directory path, relative to the root unless absolute, with a line span if the
    /// plan gave one (`path:42`, `path:10-40`, `path#L10-L40`).
    Path {
        path: String,
        span: Option<LineSpan>,
    },
    /// A glob over paths (`src/net/**`).
    Glob { pattern: String },
    /// A code symbol: `Type::method` is qualifier `[Type]` and name `method`.
    Symbol {
        qualifier: Vec<String>,
        name: String,
        /// Qualified with `.` or `#` (`module.func`, `value.field`), not `::`.
        dotted: bool,
    },
}

/// Lines, 1-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LineSpan {
    pub start: usize,
    pub end: usize,
}

/// Extensions that make a word a file name. Enough to recognise source, build and
/// documentation files; a bare `name.xyz` with another extension is read as `module.member`.
const EXTENSIONS: &[&str] = &[
    "rs",
    "py",
    "pyi",
    "js",
    "jsx",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "mts",
    "cts",
    "go",
    "java",
    "kt",
    "kts",
    "scala",
    "c",
    "h",
    "cc",
    "cpp",
    "cxx",
    "hh",
    "hpp",
    "hxx",
    "cs",
    "fs",
    "rb",
    "php",
    "swift",
    "m",
    "mm",
    "sh",
    "bash",
    "zsh",
    "fish",
    "ps1",
    "lua",
    "pl",
    "pm",
    "r",
    "jl",
    "ex",
    "exs",
    "erl",
    "hrl",
    "hs",
    "ml",
    "mli",
    "clj",
    "dart",
    "vue",
    "svelte",
    "astro",
    "zig",
    "nim",
    "sql",
    "proto",
    "graphql",
    "gql",
    "md",
    "mdx",
    "rst",
    "txt",
    "adoc",
    "toml",
    "yaml",
    "yml",
    "json",
    "jsonc",
    "json5",
    "xml",
    "html",
    "htm",
    "css",
    "scss",
    "sass",
    "less",
    "ini",
    "cfg",
    "conf",
    "env",
    "lock",
    "mod",
    "sum",
    "gradle",
    "cmake",
    "mk",
    "make",
    "bazel",
    "bzl",
    "nix",
    "tf",
    "hcl",
    "dockerfile",
    "csv",
    "tsv",
    "svg",
    "scm",
    "snap",
    "tmpl",
    "tpl",
    "j2",
    "erb",
    "ejs",
    "hbs",
    "properties",
    "plist",
    "pb",
    "thrift",
    "avsc",
    "wasm",
    "patch",
    "diff",
];

/// File names without an extension that are still unmistakably files.
const PLAIN_FILE_NAMES: &[&str] = &[
    "Makefile",
    "Dockerfile",
    "Containerfile",
    "Jenkinsfile",
    "Gemfile",
    "Rakefile",
    "Procfile",
    "Vagrantfile",
    "Justfile",
    "justfile",
    "CMakeLists.txt",
    "LICENSE",
    "CODEOWNERS",
    "BUILD",
    "WORKSPACE",
];

/// Words in a sentence or list item that announce what it names as something to create.
/// The words that make a whole section new from its heading ("### Task 3: Create the progress
/// bar"): "add", "implement" and "extend" head sections about features that change existing
/// files ("### Add market impact modeling"), and "new" heads sections about behaviour ("## New
/// behaviour").
fn heading_announces_new(heading: &str) -> bool {
    const MARKERS: &[&str] = &["create", "creates", "creating", "scaffold"];
    heading
        .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
        .any(|word| MARKERS.contains(&word.to_ascii_lowercase().as_str()))
}

/// Verbs whose whole sentence (or list item) after them is about something to make: "Create
/// `x.rs` with a `Jitter` struct and `Jitter::sample()`".
const CREATING_VERBS: &[&str] = &[
    "create",
    "creates",
    "creating",
    "introduce",
    "introduces",
    "introducing",
    "scaffold",
];

/// Verbs that make only their direct object new: "Add `retry_pct` to `Config`" adds the field,
/// not `Config`; "Add a call to `x()`" adds a call, not `x`.
const ADDING_VERBS: &[&str] = &[
    "add",
    "adds",
    "adding",
    "implement",
    "implements",
    "implementing",
    "define",
    "defines",
    "write",
    "writes",
    "generate",
    "generates",
];

/// Words that may stand between an adding verb and its object: "add a new public `x`".
const OBJECT_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "new",
    "and",
    "or",
    "public",
    "private",
    "optional",
    "small",
    "simple",
    "separate",
    "dedicated",
    "function",
    "functions",
    "method",
    "methods",
    "file",
    "files",
    "module",
    "modules",
    "struct",
    "structs",
    "class",
    "classes",
    "field",
    "fields",
    "test",
    "tests",
    "helper",
    "helpers",
    "type",
    "types",
    "enum",
    "trait",
    "interface",
    "constant",
    "constants",
    "variant",
    "variants",
    "const",
    "fn",
    "hook",
    "component",
    "endpoint",
    "column",
    "table",
    "migration",
    "script",
    "flag",
    "option",
    "parameter",
    "argument",
    "property",
    "unit",
    "integration",
    "called",
    "named",
    "",
];

fn words(prose: &str) -> impl Iterator<Item = String> + '_ {
    prose
        .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
        .map(str::to_ascii_lowercase)
}

/// Whether a scope announces the mention at `offset` as new: "new" anywhere in it ("`x.rs`
/// (new)"), a creating verb before it, or an adding verb whose object it is.
fn announces_mention(prose: &str, scope_start: usize, offset: usize) -> bool {
    let split = offset.saturating_sub(scope_start).min(prose.len());
    let split = (0..=split)
        .rev()
        .find(|&i| prose.is_char_boundary(i))
        .unwrap_or(0);
    let before: Vec<String> = words(&prose[..split]).filter(|w| !w.is_empty()).collect();
    let after: Vec<String> = words(&prose[split..])
        .filter(|w| !w.is_empty())
        .take(4)
        .collect();
    // "a new `Jitter` struct", "`x.rs` (new)", "add a migration `0010_x.py`": "new" right by
    // the mention, not anywhere ("update `x.rs` to use the new backoff").
    let near_before = &before[before.len().saturating_sub(4)..];
    if near_before
        .iter()
        .chain(after.iter())
        .any(|w| w == "new" || w == "migration")
    {
        return true;
    }
    // "Do not create", "instead of adding", "avoid introducing": negated verbs make nothing.
    let negated = |at: usize| {
        before[at.saturating_sub(3)..at].iter().any(|w| {
            matches!(
                w.as_str(),
                "not" | "don" | "dont" | "never" | "avoid" | "without" | "instead" | "no"
            )
        })
    };
    if before
        .iter()
        .enumerate()
        .any(|(at, w)| CREATING_VERBS.contains(&w.as_str()) && !negated(at))
    {
        return true;
    }
    // The last adding verb, and only object words after it.
    match before
        .iter()
        .rposition(|w| ADDING_VERBS.contains(&w.as_str()))
    {
        Some(at) if !negated(at) => before[at + 1..]
            .iter()
            .all(|w| OBJECT_WORDS.contains(&w.as_str())),
        _ => false,
    }
}

/// Whether a list's lead-in line ("Create `m.py` with functions:") announces its items: a
/// creating verb or "new", not negated; or an adding verb with only object words up to the
/// colon ("Add the following helpers:"), not one in passing ("To add jitter, edit these files:").
fn lead_in_announces(lead_in: &str) -> bool {
    let text = lead_in.trim_end().trim_end_matches(':');
    let end = text.len();
    if announces_mention(text, 0, end) && !words(text).any(|w| ADDING_VERBS.contains(&w.as_str())) {
        return true;
    }
    let list: Vec<String> = words(text).filter(|w| !w.is_empty()).collect();
    match list.iter().position(|w| ADDING_VERBS.contains(&w.as_str())) {
        Some(0) => list[1..].iter().all(|w| {
            OBJECT_WORDS.contains(&w.as_str()) || matches!(w.as_str(), "following" | "these")
        }),
        _ => list
            .iter()
            .any(|w| CREATING_VERBS.contains(&w.as_str()) || w == "new"),
    }
}

/// What the words around a mention say happens to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// To be made; `created` when a creating verb or "new" says so outright (an adding verb's
    /// object may be a part of something that exists: "add a `CHANGELOG.md` entry").
    New { created: bool },
    /// To be changed, used or read: it must exist.
    Existing,
}

/// Verbs whose object must exist: "update `x.py` to use the new policy".
const EXISTING_VERBS: &[&str] = &[
    "update",
    "updates",
    "updating",
    "updated",
    "modify",
    "modifies",
    "modifying",
    "modified",
    "edit",
    "edits",
    "editing",
    "change",
    "changes",
    "changing",
    "fix",
    "fixes",
    "fixing",
    "refactor",
    "refactors",
    "refactoring",
    "rewrite",
    "rewrites",
    "rewriting",
    "wire",
    "wires",
    "wiring",
    "reuse",
    "reuses",
    "reusing",
    "call",
    "calls",
    "calling",
    "extend",
    "extends",
    "extending",
    "use",
    "uses",
    "using",
    "import",
    "imports",
    "importing",
    "export",
    "exports",
    "exporting",
    "re-export",
    "re-exports",
    "expose",
    "exposes",
    "patch",
    "patches",
    "patching",
    "adjust",
    "adjusts",
    "replace",
    "replaces",
    "replacing",
    "rename",
    "renames",
    "renaming",
    "move",
    "moves",
    "moving",
    "delete",
    "deletes",
    "deleting",
    "remove",
    "removes",
    "removing",
    "read",
    "reads",
    "reading",
    "see",
    "open",
    "opens",
    "tweak",
    "tweaks",
    "amend",
    "amends",
    "register",
    "registers",
    "registering",
    "invoke",
    "invokes",
    "invoking",
    "mirror",
    "mirrors",
    "follow",
    "follows",
    "consult",
    "review",
    "inspect",
    "inspects",
    "touch",
    "simplify",
    "simplifies",
    "migrate",
    "extract",
    "extracts",
    "bump",
    "bumps",
    "annotate",
    "wrap",
    "wraps",
    "rework",
    "reworks",
    "harden",
    "tighten",
    "relax",
    "loosen",
];

/// Words that make the words after them, up to the mention, a place or a relation of the
/// thing made, not the thing itself: "add a case to `tests/x.py`", "create `a.rs` next to
/// `b.rs`".
const RELATION_WORDS: &[&str] = &[
    "to",
    "in",
    "into",
    "inside",
    "within",
    "under",
    "from",
    "next",
    "beside",
    "besides",
    "alongside",
    "like",
    "after",
    "before",
    "of",
    "for",
    "on",
    "onto",
    "at",
    "by",
    "via",
    "than",
    "per",
    "based",
    "similar",
    "mirroring",
    "near",
    "around",
    "across",
    "behind",
    "through",
    "when",
    "where",
    "which",
    "that",
    "so",
    "if",
    "once",
    "while",
    "against",
    "over",
    "between",
    "beneath",
    "above",
    "below",
    "except",
    "instead",
    "replacing",
    "matching",
    "covering",
    "testing",
    "exercising",
    "checking",
    "verifying",
];

/// Words after which a verb's word is a noun: "with imports", "a call to `x()`".
const DETERMINERS: &[&str] = &[
    "a", "an", "the", "with", "its", "their", "of", "our", "your", "these", "those", "some", "any",
    "each", "every", "no",
];

/// Relation words that name where the thing made goes.
const LOCATION_WORDS: &[&str] = &["in", "at", "into", "inside", "within", "under"];

/// Words that make the words after them the contents of the thing made: "create `a.rs` with a
/// `Jitter` struct and `Jitter::sample()`".
const CONTENT_WORDS: &[&str] = &[
    "with",
    "containing",
    "holding",
    "defining",
    "declaring",
    "including",
    "plus",
    "exporting",
    "exposing",
    "providing",
    "implementing",
    "as",
    "named",
    "called",
];

/// Words a list item or table row may start with before the mention it is about.
const LABEL_WORDS: &[&str] = &[
    "file", "files", "path", "paths", "location", "test", "tests", "module", "s",
];

/// Whether `word` (lower case) is a verb of any of the three kinds.
fn is_verb(word: &str) -> bool {
    EXISTING_VERBS.contains(&word) || CREATING_VERBS.contains(&word) || ADDING_VERBS.contains(&word)
}

/// What the verb governing the mention at `offset` says of it, in its scope (a list item, a
/// table row, or a sentence): the nearest verb before it, its object if only object words
/// stand between (or content words after a creating verb: "create `a.rs` with `B`"), a place
/// or relation if a relation word does ("add a case to `x.py`"). "New" right by the mention
/// speaks for it whatever the verb. A mention that opens its item (`- \`x.py\`: update ...`,
/// a table row) is governed by the verb right after it. None: nothing in the scope says.
fn governing(prose: &str, scope_start: usize, offset: usize) -> Option<Expect> {
    let split = offset.saturating_sub(scope_start).min(prose.len());
    let split = (0..=split)
        .rev()
        .find(|&i| prose.is_char_boundary(i))
        .unwrap_or(0);
    // The mention's clause: from the last sentence end, semicolon or colon before it ("Create
    // the module. Then `x.py` imports it": the creation is not `x.py`'s).
    // A label right before the mention speaks for it ("Create: `x.py`", "Single migration:
    // `0010_x.py`"). Parenthesised words before it are another mention's ("`a.go` (extend),
    // `b.go`").
    let head = &prose[..split];
    let ends: Vec<(usize, char)> = head
        .char_indices()
        .filter(|&(i, c)| {
            matches!(c, '.' | ';' | ':' | '!' | '?')
                && head[i + 1..].starts_with(char::is_whitespace)
        })
        .collect();
    let mut clause = ends.last().map_or(0..split, |&(i, _)| i + 1..split);
    if let [.., (label, ':')] = ends[..] {
        if words(&head[clause.clone()]).all(|w| w.is_empty()) {
            let start = ends.iter().rev().nth(1).map_or(0, |&(i, _)| i + 1);
            clause = start..label;
        }
    }
    let mut text = String::new();
    let mut depth = 0usize;
    for c in head[clause].chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let before: Vec<String> = words(&text).filter(|w| !w.is_empty()).collect();
    // Past the mention itself when it is prose (a code span is blanked already).
    let rest = prose[split..].trim_start_matches(|c: char| !c.is_whitespace());
    let after: Vec<String> = words(rest).filter(|w| !w.is_empty()).take(4).collect();

    // "with imports", "a call to", "the changes": after a determiner a verb's word is a noun.
    let verb_at = |at: usize| {
        is_verb(&before[at]) && (at == 0 || !DETERMINERS.contains(&before[at - 1].as_str()))
    };
    // "`x.rs` (new)", "`x.rs`, a new module"; "a new `Jitter` struct", "the new docs page
    // `x.md`" (but not "a new test in `x.py`": there "new" is the test's).
    let new_after = after.first().is_some_and(|w| w == "new")
        || (after.len() > 1 && matches!(after[0].as_str(), "a" | "an" | "is") && after[1] == "new");
    let new_at = before
        .iter()
        .rposition(|w| w == "new")
        .filter(|&at| before.len() - at <= 4 && !(at + 1..before.len()).any(verb_at));
    if let Some(at) = new_at {
        let between = &before[at + 1..];
        // "New" may describe the mention or what follows it ("the new `x.py` helpers"): new
        // if absent, never a conflict.
        if !between.iter().any(|w| RELATION_WORDS.contains(&w.as_str())) {
            return Some(Expect::New { created: false });
        }
        // "the new module in `src/x.py`" is that file; "a new test in `tests/x.py`" goes into
        // one that exists: new if absent, never a conflict.
        if between
            .last()
            .is_some_and(|w| LOCATION_WORDS.contains(&w.as_str()))
        {
            return Some(Expect::New { created: false });
        }
    }
    if new_after {
        return Some(Expect::New { created: false });
    }
    // "add a migration `0010_x.py`": migrations are always new files.
    if before
        .iter()
        .rev()
        .take(3)
        .any(|w| w == "migration" || w == "migrations")
    {
        return Some(Expect::New { created: false });
    }
    let negated = |at: usize| {
        before[at.saturating_sub(3)..at].iter().any(|w| {
            matches!(
                w.as_str(),
                "not" | "don" | "dont" | "never" | "avoid" | "without" | "instead" | "no"
            )
        })
    };
    let Some(at) = (0..before.len()).rev().find(|&at| verb_at(at)) else {
        // `- \`x.py\`: update the handler`, `| \`x.py\` | create |`: the item's verb follows.
        let marker = |w: &str| w.chars().all(|c| c == '-' || c.is_ascii_digit());
        if !before
            .iter()
            .all(|w| LABEL_WORDS.contains(&w.as_str()) || marker(w))
        {
            return None;
        }
        let verb = after.first()?.as_str();
        // An instruction's verb ("create"), not a description ("creates clients per request").
        if verb.ends_with('s') || verb.ends_with("ing") || verb.ends_with("ed") {
            return None;
        }
        return if EXISTING_VERBS.contains(&verb) {
            Some(Expect::Existing)
        } else if CREATING_VERBS.contains(&verb) {
            Some(Expect::New { created: true })
        } else if ADDING_VERBS.contains(&verb) && after.len() == 1 {
            Some(Expect::New { created: false })
        } else {
            None
        };
    };
    let verb = before[at].as_str();
    if negated(at) || EXISTING_VERBS.contains(&verb) {
        return Some(Expect::Existing);
    }
    let creating = CREATING_VERBS.contains(&verb);
    let between = &before[at + 1..];
    // The last relation or content word between the verb and the mention decides; after a
    // creating verb, "and" starts another thing made ("create `a.py` for the policy and
    // `b.py` for its tests").
    let marker = between.iter().rev().find_map(|w| {
        if creating && matches!(w.as_str(), "and" | "or") {
            Some(true)
        } else if RELATION_WORDS.contains(&w.as_str()) {
            Some(false)
        } else if CONTENT_WORDS.contains(&w.as_str()) {
            Some(true)
        } else {
            None
        }
    });
    // Only the verb's own object is a conflict when it exists: "create `a.py`", "create the
    // module `a.py` and `b.py`", not "create a class wrapping `b.py`".
    let direct = between
        .iter()
        .all(|w| OBJECT_WORDS.contains(&w.as_str()) || matches!(w.as_str(), "or"));
    match marker {
        // "Create the `Filter` service in `src/filter.py`": the file holds what is created, so
        // it is new if absent, and no conflict if it exists.
        Some(false)
            if creating
                && before
                    .last()
                    .is_some_and(|w| LOCATION_WORDS.contains(&w.as_str())) =>
        {
            Some(Expect::New { created: false })
        }
        Some(false) => Some(Expect::Existing),
        _ => Some(Expect::New {
            created: creating && direct,
        }),
    }
}

/// What a parent list item's own words say of its sub-items: "- Create these files:" makes
/// them new, "- Update the handlers:" expects them to exist.
fn parent_governs(text: &str) -> Option<Expect> {
    if lead_in_announces(text) {
        return Some(Expect::New {
            created: words(text).any(|w| CREATING_VERBS.contains(&w.as_str())),
        });
    }
    let verb = words(text).filter(|w| is_verb(w)).last()?;
    // Only a lead-in's verb ("Update:", "Change these:") speaks for the sub-items.
    (EXISTING_VERBS.contains(&verb.as_str()) && text.trim_end().ends_with(':'))
        .then_some(Expect::Existing)
}

/// Where in the Markdown a piece of text sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Prose,
    /// A code span of one word: the planner marked exactly this as code.
    CodeSpan,
    /// A word of a code span with several words: a fragment of code or a command.
    CodeFragment,
    CodeBlock {
        diff: bool,
    },
    /// A word of a shell command (in a code span, a shell block, or a `$ ` line): its arguments
    /// are flags, scratch paths and test filters as often as files of the tree.
    Command,
    LinkTarget,
}

/// Programs whose command lines a plan quotes (`cargo test -p x`, `git worktree add ../y`).
const COMMANDS: &[&str] = &[
    "cargo",
    "rustc",
    "rustup",
    "go",
    "gofmt",
    "npm",
    "npx",
    "pnpm",
    "yarn",
    "bun",
    "deno",
    "node",
    "tsc",
    "python",
    "python3",
    "pip",
    "pip3",
    "uv",
    "poetry",
    "pytest",
    "ruff",
    "mypy",
    "black",
    "make",
    "cmake",
    "git",
    "gh",
    "cd",
    "ls",
    "cat",
    "cp",
    "mv",
    "rm",
    "mkdir",
    "touch",
    "echo",
    "grep",
    "rg",
    "sed",
    "awk",
    "find",
    "curl",
    "wget",
    "docker",
    "kubectl",
    "helm",
    "terraform",
    "bash",
    "sh",
    "zsh",
    "sudo",
    "export",
    "source",
    "chmod",
    "sqlite3",
    "psql",
    "mysql",
    "redis-cli",
    "java",
    "javac",
    "mvn",
    "gradle",
    "./gradlew",
    "dotnet",
    "ruby",
    "bundle",
    "rake",
    "rails",
    "php",
    "composer",
    "ctxpack",
    "claude",
    "gemini",
    "codex",
    "just",
    "task",
    "alembic",
    "flask",
    "django-admin",
    "uvicorn",
    "gunicorn",
    "jest",
    "vitest",
    "eslint",
    "prettier",
    "bazel",
    "nix",
];

/// Whether a line (of a code block, or a multi-word code span) is a shell command.
fn is_command_line(line: &str) -> bool {
    let line = line.trim_start();
    let line = line
        .strip_prefix("$ ")
        .or_else(|| line.strip_prefix("> "))
        .or_else(|| line.strip_prefix("% "))
        .unwrap_or(line);
    let first = line.split_whitespace().next().unwrap_or("");
    // `FOO=1 cargo test`: environment assignments before the program.
    let first = if first.contains('=') {
        line.split_whitespace()
            .find(|w| !w.contains('='))
            .unwrap_or("")
    } else {
        first
    };
    // `mantis backtest --data prices.csv`: the project's own program, known by its flags.
    // A bare name (`mantis`), not a path of the tree (`scripts/gone.sh --fix`), which is checked.
    let program = !first.is_empty()
        && first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    COMMANDS.contains(&first)
        || (program
            && line.split_whitespace().skip(1).any(|w| {
                w.strip_prefix("--")
                    .is_some_and(|flag| flag.starts_with(|c: char| c.is_ascii_lowercase()))
            }))
}

/// Code-block info strings that mean a shell session.
fn is_shell_block(info: &str) -> bool {
    matches!(
        info,
        "sh" | "bash"
            | "shell"
            | "console"
            | "zsh"
            | "fish"
            | "powershell"
            | "ps1"
            | "cmd"
            | "bat"
            | "terminal"
    )
}

/// Names that are a language's own, never a repository's: primitive types and literals.
const BUILTIN_NAMES: &[&str] = &[
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "bool",
    "char",
    "str",
    "int",
    "float",
    "double",
    "long",
    "short",
    "byte",
    "rune",
    "string",
    "void",
    "any",
    "unknown",
    "never",
    "object",
    "number",
    "boolean",
    "bigint",
    "symbol",
    "true",
    "false",
    "True",
    "False",
    "None",
    "null",
    "nil",
    "undefined",
    "self",
    "Self",
    "this",
    "super",
    "crate",
    "async",
    "await",
    "return",
    "yield",
    "static",
    "const",
    "mut",
    "pub",
    "let",
    "var",
    "fn",
    "def",
    "func",
    "class",
    "struct",
    "enum",
    "trait",
    "impl",
    "interface",
    "type",
    "import",
    "export",
    "from",
    "main",
    "new",
    "NULL",
    "TODO",
    "FIXME",
    "JSON",
    "YAML",
    "TOML",
    "HTTP",
    "HTTPS",
    "URL",
    "URI",
    "API",
    "CLI",
    "SQL",
    "UTF",
    "OK",
    "ID",
];

/// Directories that builds and tools make: named in plans, rarely part of the tree.
pub const BUILD_DIRS: &[&str] = &[
    "target",
    "node_modules",
    "dist",
    "build",
    "out",
    ".venv",
    "venv",
    "__pycache__",
    ".next",
    ".cache",
    ".git",
    ".idea",
    ".vscode",
    "coverage",
    ".pytest_cache",
    ".mypy_cache",
    ".tox",
];

/// A mention before its scope (sentence or list item) is known.
struct Found {
    mention: Mention,
    offset: usize,
}

/// What a plan says: its mentions, and the names its own code blocks declare (`fn x`, `class
/// Y`, `func (s *S) Z`), which it means to write.
#[derive(Debug, Default)]
pub struct Extracted {
    pub mentions: Vec<Mention>,
    pub declared: std::collections::BTreeSet<String>,
}

/// Finds every mention in `plan`, in order of appearance.
pub fn mentions(plan: &str) -> Vec<Mention> {
    read(plan).mentions
}

/// Reads `plan`: every mention in order of appearance, and the names it declares.
pub fn read(plan: &str) -> Extracted {
    let lines = LineIndex::new(plan);
    let mut found: Vec<Found> = Vec::new();
    let mut declared = std::collections::BTreeSet::new();
    // Blocks that decide "new": list items and table rows (with their parents), else the
    // sentence of a paragraph or heading; and the section's heading.
    let mut scopes: Vec<(Range<usize>, bool)> = Vec::new(); // (range, is item-like)
    let mut open: Vec<(Range<usize>, bool)> = Vec::new();
    let mut headings: Vec<(usize, HeadingLevel, Range<usize>)> = Vec::new(); // (start, level, range)
    let mut code_spans: Vec<Range<usize>> = Vec::new();
    let mut code_blocks: Vec<Range<usize>> = Vec::new();
    let mut lead_ins: Vec<(Range<usize>, Range<usize>)> = Vec::new(); // (lead-in, list)
    let mut in_block: Option<Place> = None;

    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = pulldown_cmark::utils::TextMergeWithOffset::new(
        Parser::new_ext(plan, options).into_offset_iter(),
    );
    for (event, range) in events {
        match event {
            Event::Start(tag) => match &tag {
                Tag::Item | Tag::TableRow | Tag::TableHead => open.push((range.clone(), true)),
                Tag::Paragraph => open.push((range.clone(), false)),
                Tag::List(_) => {
                    // "Create `x.py` with functions:" then a list: the lead-in speaks for it.
                    let lead_in = scopes
                        .iter()
                        .rev()
                        .find(|(r, item)| !*item && r.end <= range.start)
                        .filter(|(r, _)| {
                            let text = plan[r.clone()].trim_end();
                            text.ends_with(':') && plan[r.end..range.start].trim().is_empty()
                        });
                    if let Some((r, _)) = lead_in {
                        lead_ins.push((r.clone(), range.clone()));
                    }
                }
                Tag::Heading { level, .. } => {
                    open.push((range.clone(), false));
                    headings.push((range.start, *level, range.clone()));
                }
                Tag::CodeBlock(kind) => {
                    code_blocks.push(range.clone());
                    let info = match kind {
                        CodeBlockKind::Fenced(info) => {
                            info.split_whitespace().next().unwrap_or("").to_string()
                        }
                        CodeBlockKind::Indented => String::new(),
                    };
                    in_block = Some(if is_shell_block(&info) {
                        Place::Command
                    } else {
                        Place::CodeBlock {
                            diff: info == "diff" || info == "patch",
                        }
                    });
                }
                Tag::Link { dest_url, .. } => {
                    let start = found.len();
                    scan(dest_url, Place::LinkTarget, range.start, &lines, &mut found);
                    // A link's target is on the line where the link starts.
                    for f in &mut found[start..] {
                        f.offset = range.start;
                        f.mention.line = lines.line(range.start);
                    }
                }
                _ => {}
            },
            Event::End(end) => match end {
                TagEnd::Item
                | TagEnd::TableRow
                | TagEnd::TableHead
                | TagEnd::Paragraph
                | TagEnd::Heading(_) => {
                    if let Some(scope) = open.pop() {
                        scopes.push(scope);
                    }
                }
                TagEnd::CodeBlock => in_block = None,
                _ => {}
            },
            Event::Text(text) => match in_block {
                Some(place) => {
                    declared.extend(declarations(&text));
                    scan(&text, place, range.start, &lines, &mut found);
                }
                None => scan(&text, Place::Prose, range.start, &lines, &mut found),
            },
            // Comments and markup (`<!-- new -->`) say nothing about what the plan makes.
            Event::Html(_) | Event::InlineHtml(_) => code_blocks.push(range.clone()),
            Event::Code(code) => {
                code_spans.push(range.clone());
                let code = code.trim();
                let place = if !code.contains(char::is_whitespace) {
                    Place::CodeSpan
                } else if is_command_line(code) {
                    Place::Command
                } else {
                    Place::CodeFragment
                };
                scan(code, place, range.start, &lines, &mut found);
            }
            _ => {}
        }
    }

    // Decide "new" from the prose around each mention, with code spans blanked out so that
    // `Client::new` does not announce itself.
    let mut masked = plan.as_bytes().to_vec();
    for span in code_spans.iter().chain(&code_blocks) {
        for b in &mut masked[span.clone()] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    let masked = String::from_utf8_lossy(&masked).into_owned();
    contract_paths(
        plan,
        &code_spans,
        &scopes,
        &headings,
        &masked,
        &lines,
        &mut found,
    );
    let announced_lists: Vec<Range<usize>> = lead_ins
        .into_iter()
        .filter(|(lead_in, _)| lead_in_announces(&masked[lead_in.clone()]))
        .map(|(_, list)| list)
        .collect();
    // The paths of each innermost scope, for the symbols that share it.
    let innermost = |offset: usize| scope_of(offset, &scopes, &masked).into_iter().next();
    let paths_in: Vec<(Option<Range<usize>>, String)> = found
        .iter()
        .filter_map(|f| match &f.mention.target {
            Target::Path { path, .. } if !f.mention.command => {
                Some((innermost(f.offset), path.clone()))
            }
            _ => None,
        })
        .collect();
    let mentions = found
        .into_iter()
        .map(|mut f| {
            let scope = scope_of(f.offset, &scopes, &masked);
            // The innermost scope's verb governing the mention; failing that, a parent item's
            // (the action of the item a sub-item belongs to).
            let bound = scope.iter().enumerate().find_map(|(depth, range)| {
                let text = &masked[range.clone()];
                if depth == 0 {
                    governing(text, range.start, f.offset)
                } else {
                    parent_governs(text)
                }
            });
            f.mention.created = matches!(bound, Some(Expect::New { created: true }));
            f.mention.announced_new = match bound {
                Some(expect) => matches!(expect, Expect::New { .. }),
                None => {
                    announced_lists.iter().any(|r| r.contains(&f.offset))
                        || section_announces(f.offset, &headings, &masked)
                }
            };
            if matches!(f.mention.target, Target::Path { .. }) {
                f.mention.action = files_section_action(f.offset, &scopes, &headings, &masked);
            }
            if matches!(f.mention.target, Target::Symbol { .. }) {
                if let Some(here) = scope.first() {
                    f.mention.near = paths_in
                        .iter()
                        .filter(|(s, _)| s.as_ref() == Some(here))
                        .map(|(_, p)| p.clone())
                        .collect();
                }
            }
            f.mention
        })
        .collect();
    Extracted { mentions, declared }
}

/// In a `## Files` section, the first code span of a list item with an action is the file the
/// item is about, whatever it looks like (`- modify \`README\``, `- create \`Makefile\``): read
/// as a path, strongly, so that a file the plan modifies but the tree lacks is `missing` rather
/// than dropped as a word that only might have been code.
fn contract_paths(
    plan: &str,
    code_spans: &[Range<usize>],
    scopes: &[(Range<usize>, bool)],
    headings: &[(usize, HeadingLevel, Range<usize>)],
    masked: &str,
    lines: &LineIndex,
    found: &mut Vec<Found>,
) {
    for span in code_spans {
        if files_section_action(span.start, scopes, headings, masked).is_none() {
            continue;
        }
        let Some((item, _)) = files_item(span.start, scopes) else {
            continue;
        };
        let first = code_spans
            .iter()
            .filter(|s| item.contains(&s.start))
            .map(|s| s.start)
            .min();
        if first != Some(span.start) {
            continue;
        }
        let text = plan[span.clone()].trim_matches('`').trim();
        if text.is_empty() || text.contains(char::is_whitespace) {
            continue;
        }
        let as_path = |mention: Option<&Mention>| Mention {
            text: text.to_string(),
            line: lines.line(span.start),
            target: Target::Path {
                path: text.to_string(),
                span: None,
            },
            strong: true,
            announced_new: mention.is_some_and(|m| m.announced_new),
            created: mention.is_some_and(|m| m.created),
            near: Vec::new(),
            action: None,
            command: false,
        };
        match found.iter_mut().find(|f| f.offset == span.start) {
            Some(f) => {
                // A bare name (`README`) read as a symbol; paths, globs and qualified names stay.
                if let Target::Symbol { qualifier, .. } = &f.mention.target {
                    if qualifier.is_empty() {
                        f.mention = as_path(Some(&f.mention));
                    }
                }
            }
            None => found.push(Found {
                mention: as_path(None),
                offset: span.start,
            }),
        }
    }
    found.sort_by_key(|f| f.offset);
}

/// The action a `## Files` section gives the mention at `offset`: the first word of its list
/// item (`- modify \`src/a.rs\``), when the nearest heading above it is `Files`.
fn files_section_action(
    offset: usize,
    scopes: &[(Range<usize>, bool)],
    headings: &[(usize, HeadingLevel, Range<usize>)],
    masked: &str,
) -> Option<Action> {
    let heading = headings
        .iter()
        .rev()
        .find(|(start, _, _)| *start < offset)?;
    let title = masked[heading.2.clone()].trim_start_matches('#').trim();
    // Past a section number: `## 2. Files`, `## 3) Files`.
    let first = title
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))?;
    if !first.eq_ignore_ascii_case("files") {
        return None;
    }
    let item = files_item(offset, scopes)?;
    let text = &masked[item.0.clone()];
    // Past the list marker (`-`, `*`, `1.`, a task box) and emphasis.
    let word = text
        .split(|c: char| c.is_whitespace() || "*_:`[]".contains(c))
        .map(|w| w.trim_end_matches(['.', ')']))
        .find(|w| {
            !w.is_empty()
                && !w
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == 'x')
        })?;
    Action::from_word(word)
}

/// The innermost list item holding `offset`.
fn files_item(offset: usize, scopes: &[(Range<usize>, bool)]) -> Option<&(Range<usize>, bool)> {
    scopes
        .iter()
        .filter(|(r, item)| *item && r.contains(&offset))
        .min_by_key(|(r, _)| r.len())
}

/// Whether the heading of the section holding `offset` (the nearest heading above it) says
/// its content is to be created: "### Task 3: Create the progress bar".
fn section_announces(
    offset: usize,
    headings: &[(usize, HeadingLevel, Range<usize>)],
    text: &str,
) -> bool {
    let Some((_, level, range)) = headings.iter().rev().find(|(start, _, _)| *start <= offset)
    else {
        return false;
    };
    if *level < HeadingLevel::H2 {
        return false;
    }
    let heading = &text[range.clone()];
    if heading_announces_new(heading) {
        return true;
    }
    // "## Task 2: Implement the learning store" then "**File(s)**: `store.go`": a task
    // heading with an adding verb speaks for the files its label line names.
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..offset]
        .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '*' | '+' | '>'))
        .to_ascii_lowercase();
    let labelled = [
        "file",
        "files",
        "file(s)",
        "test file",
        "test files",
        "location",
        "path",
    ]
    .iter()
    .any(|label| {
        line.strip_prefix(label)
            .is_some_and(|rest| rest.trim_start_matches('*').starts_with(':'))
    });
    labelled && words(heading).any(|w| ADDING_VERBS.contains(&w.as_str()))
}

/// Names a code block declares: `fn name`, `def name`, `class Name`, `func (r *R) Name`, ...
fn declarations(code: &str) -> Vec<String> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        regex::Regex::new(
            r"(?m)\b(?:fn|func|def|class|struct|interface|trait|enum|type|function|module|record)\s+(?:\([^)]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)",
        )
        .expect("a valid pattern")
    });
    pattern
        .captures_iter(code)
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .collect()
}

/// The list items and table rows holding `offset` (a parent item's words carry down to its
/// sub-items); outside any, the sentence of its paragraph or heading.
fn scope_of(offset: usize, scopes: &[(Range<usize>, bool)], text: &str) -> Vec<Range<usize>> {
    let mut items: Vec<Range<usize>> = scopes
        .iter()
        .filter(|(r, item)| *item && r.contains(&offset))
        .map(|(r, _)| r.clone())
        .collect();
    if !items.is_empty() {
        items.sort_by_key(|r| r.len());
        // The innermost item whole; each parent's own words, up to its first nested item, so
        // a sibling's "new" stays with the sibling.
        let mut own = vec![items[0].clone()];
        for parent in &items[1..] {
            let end = scopes
                .iter()
                .filter(|(r, item)| *item && r.start > parent.start && r.end <= parent.end)
                .map(|(r, _)| r.start)
                .min()
                .unwrap_or(parent.end);
            own.push(parent.start..end);
        }
        return own;
    }
    let Some(block) = scopes
        .iter()
        .filter(|(r, _)| r.contains(&offset))
        .min_by_key(|(r, _)| r.len())
        .map(|(r, _)| r.clone())
    else {
        return Vec::new();
    };
    let bytes = text.as_bytes();
    let is_end = |i: usize| {
        matches!(bytes[i], b'.' | b'!' | b'?' | b';')
            && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace())
    };
    let mut start = offset.min(block.end);
    while start > block.start && !is_end(start - 1) {
        start -= 1;
    }
    let mut end = offset;
    while end < block.end && !is_end(end) {
        end += 1;
    }
    std::iter::once(start..end.min(block.end)).collect()
}

/// Byte offset → 1-based line.
pub(super) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    pub(super) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}

/// Finds mentions in one piece of text. `base` is the source offset where it starts: exact for
/// code blocks and most text, and at worst on the right line (escapes shift offsets a little).
fn scan(text: &str, place: Place, base: usize, lines: &LineIndex, found: &mut Vec<Found>) {
    if place == Place::CodeSpan {
        // One token: the whole span is the mention.
        if let Some(mention) = classify(text, place) {
            push(found, mention, base, lines);
        }
        return;
    }
    let in_code = matches!(
        place,
        Place::CodeBlock { .. } | Place::Command | Place::CodeFragment
    );
    let mut line_offset = 0;
    for line in text.split_inclusive('\n') {
        let line_place = match place {
            Place::CodeBlock { .. } if is_command_line(line) => Place::Command,
            other => other,
        };
        let mut at = 0;
        for word in line.split(|c: char| c.is_whitespace() || (!in_code && c == '`')) {
            let offset = base + line_offset + at;
            at += word.len() + 1;
            // In code, a quoted word is a string's value (a temporary file name, a key), not
            // a reference to the tree.
            if in_code && word.contains(['"', '\'', '`']) {
                continue;
            }
            let mut word = word;
            if let Place::CodeBlock { diff: true } = place {
                // `--- a/src/x.rs` and `+++ b/src/x.rs`: the path without git's prefix.
                word = word
                    .strip_prefix("a/")
                    .or_else(|| word.strip_prefix("b/"))
                    .unwrap_or(word);
            }
            let Some(mention) = classify(word, line_place) else {
                continue;
            };
            push(found, mention, offset, lines);
        }
        line_offset += line.len();
    }
}

fn push(found: &mut Vec<Found>, mention: Mention, offset: usize, lines: &LineIndex) {
    let mention = Mention {
        line: lines.line(offset),
        ..mention
    };
    found.push(Found { mention, offset });
}

/// Top-level directories of a machine: an absolute path under one of them is a real path (and
/// outside the root); any other absolute path without an extension is a route (`/v1/chat`).
const SYSTEM_ROOTS: &[&str] = &[
    "etc",
    "usr",
    "var",
    "home",
    "root",
    "opt",
    "proc",
    "sys",
    "dev",
    "tmp",
    "bin",
    "sbin",
    "lib",
    "Users",
    "private",
    "mnt",
    "srv",
    "Library",
    "Applications",
    "System",
    "Volumes",
];

/// Reads one word as a mention, or None when it is not code-like.
fn classify(raw: &str, place: Place) -> Option<Mention> {
    let word = trim_punctuation(raw);
    if word.is_empty() || word.len() > 400 {
        return None;
    }
    if word.contains("://") || word.starts_with("www.") || word.starts_with("mailto:") {
        return None; // URLs are never references
    }
    if word.starts_with('#') || word.starts_with('@') || word.starts_with('-') {
        return None; // anchors, handles and command-line flags
    }
    if word.starts_with("//") {
        return None; // a comment or directive (`//go:embed`), not a path
    }
    if word.starts_with('~') {
        return None; // a path in someone's home directory: the machine's, never the tree's
    }
    let mention = |target: Target, strong: bool| {
        Some(Mention {
            text: word.to_string(),
            line: 0,
            target,
            strong,
            announced_new: false,
            created: false,
            near: Vec::new(),
            action: None,
            command: place == Place::Command,
        })
    };

    // `httpx/_utils.py::get_environment_proxies`, `tests/test_x.py::TestY::test_z`: a symbol in
    // a file (pytest's node ids write them so).
    if let Some((file, member)) = word.split_once("::") {
        let name = member.rsplit("::").next().unwrap_or(member);
        let name = name.trim_end_matches("()");
        let identifier = !name.is_empty()
            && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if has_file_extension(file) && file.contains(['/', '.']) && identifier {
            return mention(
                Target::Symbol {
                    qualifier: vec![file.to_string()],
                    name: name.to_string(),
                    dotted: false,
                },
                true,
            );
        }
    }

    // `src\net\client.rs`: a Windows path, read with `/`.
    let slashed = (word.contains('\\') && !word.contains('/'))
        .then(|| word.replace('\\', "/"))
        .filter(|w| has_file_extension(split_line_suffix(w).0));
    if let Some((path, span)) = path_like(slashed.as_deref().unwrap_or(word)) {
        let globby = path.contains(['*', '?', '[']);
        let has_extension = has_file_extension(&path);
        let dotted_start = path.starts_with("./") || path.starts_with("../");
        let explicit_dir = path.ends_with('/');
        if let Some(absolute) = path.strip_prefix('/') {
            let top = absolute.split('/').next().unwrap_or("");
            if !has_extension && !SYSTEM_ROOTS.contains(&top) {
                return None; // an HTTP route or an API path: `/v1/chat`, `/health`
            }
        }
        let strong = match place {
            Place::CodeSpan | Place::LinkTarget => {
                has_extension || dotted_start || explicit_dir || globby || path.starts_with('/')
            }
            Place::CodeFragment | Place::CodeBlock { .. } => has_extension || dotted_start,
            // "Node.js", "Vue.js": product names, not files, unless they exist.
            Place::Prose => (has_extension && !is_product_name(&path)) || dotted_start,
            // A command's arguments: scratch directories (`git worktree add ../wt`), temporary
            // files and outputs as often as files of the tree. Kept only if they resolve.
            Place::Command => {
                if dotted_start || path.starts_with('/') || path.contains("..") || globby {
                    return None;
                }
                false
            }
        };
        if globby {
            if !has_extension && !matches!(place, Place::CodeSpan | Place::LinkTarget) {
                return None; // `*` in prose or a code line is rarely a path pattern
            }
            return mention(Target::Glob { pattern: path }, strong);
        }
        // In prose and code blocks, slashes alone make too many false paths ("and/or",
        // "application/json"); those are kept as weak and reported only if they exist.
        return mention(Target::Path { path, span }, strong);
    }
    if matches!(
        place,
        Place::CodeBlock { .. } | Place::Command | Place::LinkTarget
    ) {
        return None; // only paths are taken from code blocks, commands and links
    }
    let (qualifier, name, call, separator) = symbol_like(word)?;
    if name.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    if qualifier.is_empty() && BUILTIN_NAMES.contains(&name.as_str()) {
        return None;
    }
    // `_get_X_rate()`, `pulse.X`, `X_limit`: placeholders of a template, not names.
    let placeholder = |part: &str| {
        part.split('_')
            .any(|piece| piece.len() == 1 && piece.chars().all(|c| c.is_ascii_uppercase()))
    };
    if placeholder(&name) || qualifier.iter().any(|q| placeholder(q)) {
        return None;
    }
    let camel = is_camel(&name);
    let snake = name.contains('_') && name.chars().any(|c| c.is_ascii_lowercase());
    // `STRAVA_CLIENT_ID`, `MAX_RETRIES`: environment variables and settings as often as
    // constants; reported only when defined.
    let all_caps = !name.chars().any(|c| c.is_lowercase());
    let dotted = separator == Some(".") || separator == Some("#");
    let strong = !all_caps
        && match place {
            Place::CodeSpan => {
                separator == Some("::")
                    || call
                    || (dotted && !qualifier.is_empty())
                    || camel
                    || snake
                    || name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && name.len() > 1
            }
            Place::Prose | Place::CodeFragment => separator == Some("::") || call,
            _ => false,
        };
    if place == Place::CodeFragment && !strong {
        return None; // a word of a code fragment: only `Type::method` and calls are names
    }
    if place == Place::Prose && !strong {
        // Prose: only qualified names, calls, CamelCase and snake_case can be code at all.
        let qualified = !qualifier.is_empty();
        if !(qualified || camel || snake) {
            return None;
        }
        if qualified
            && dotted
            && !(camel || snake || qualifier.iter().any(|q| is_camel(q) || q.contains('_')))
        {
            // "e.g.", "Node.js", "i.e": dotted prose words resolve only as weak mentions, and
            // plain lowercase ones are too common to try.
            return None;
        }
    }
    mention(
        Target::Symbol {
            qualifier,
            name,
            dotted,
        },
        strong,
    )
}

/// Strips punctuation that prose puts around a word, keeping a call's `()` and a balanced
/// closing bracket. Underscores stay: `_private` is a name (pulldown-cmark has already taken
/// Markdown's emphasis apart).
fn trim_punctuation(word: &str) -> &str {
    let mut word = word.trim_start_matches(['(', '[', '{', '<', '\'', '"', '`', '“', '‘']);
    loop {
        let Some(last) = word.chars().last() else {
            return word;
        };
        let unbalanced = |open: char, close: char| {
            last == close && word.matches(open).count() < word.matches(close).count()
        };
        let strip = matches!(
            last,
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | '>' | '`' | '”' | '’'
        ) || unbalanced('(', ')')
            || unbalanced('[', ']')
            || unbalanced('{', '}');
        if !strip {
            return word;
        }
        word = &word[..word.len() - last.len_utf8()];
    }
}

/// `Node.js`, `Next.js`: a capitalised name ending in `.js`, with no directory.
fn is_product_name(path: &str) -> bool {
    !path.contains('/')
        && path.ends_with(".js")
        && path.starts_with(|c: char| c.is_ascii_uppercase())
}

/// `path`, `path:42`, `path:10-40`, `path#L10-L40`: a path (normalised to `/` with `./`
/// removed) and its line span, when `word` looks like a file path at all.
fn path_like(word: &str) -> Option<(String, Option<LineSpan>)> {
    let (path, span) = split_line_suffix(word);
    if path.is_empty()
        || path.contains(['(', ')', '<', '>', '|', '=', ',', '\'', '"', '$', '{', '}'])
    {
        return None;
    }
    if path.contains("::") {
        return None;
    }
    let looks_like_path = path.contains('/')
        || has_file_extension(path)
        || PLAIN_FILE_NAMES.contains(&path)
        || path.starts_with('.') && path.len() > 1 && path[1..].chars().all(is_name_char);
    if !looks_like_path {
        return None;
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    // A version ("1.2.3"), a fraction ("1/2") or a date is not a path.
    if path
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '/' || c == '-')
    {
        return None;
    }
    let mut normal = path;
    while let Some(rest) = normal.strip_prefix("./") {
        normal = rest;
    }
    if normal.is_empty() || normal == "/" || normal == "." {
        return None;
    }
    Some((normal.to_string(), span))
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Splits `:42`, `:10-40`, `#L10`, `#L10-L40` (and `#L10-40`) off the end of a path.
fn split_line_suffix(word: &str) -> (&str, Option<LineSpan>) {
    let number = |s: &str| -> Option<usize> {
        (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .filter(|&n| n > 0)
    };
    let range = |s: &str, marker: &str| -> Option<LineSpan> {
        let s = s.strip_prefix(marker)?;
        match s.split_once('-') {
            Some((a, b)) => {
                let start = number(a)?;
                let end = number(b.strip_prefix(marker).unwrap_or(b))?;
                (end >= start).then_some(LineSpan { start, end })
            }
            None => number(s).map(|n| LineSpan { start: n, end: n }),
        }
    };
    if let Some((path, suffix)) = word.rsplit_once('#') {
        if let Some(span) = range(suffix, "L") {
            return (path, Some(span));
        }
        return (path, None);
    }
    // `path:10-40`, `path:42`, and `path:42:7` (a column, ignored).
    let mut parts = word.splitn(3, ':');
    let path = parts.next().unwrap_or(word);
    if let Some(lines) = parts.next() {
        if let Some(span) = range(lines, "") {
            let column_ok = parts.next().is_none_or(|c| number(c).is_some());
            if column_ok {
                return (path, Some(span));
            }
        }
    }
    (word, None)
}

fn has_file_extension(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    if PLAIN_FILE_NAMES.contains(&name) {
        return true;
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) => {
            !ext.is_empty()
                && EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
                && (!stem.is_empty() || name.len() > 1)
                && stem
                    .chars()
                    .all(|c| is_name_char(c) || c == '*' || c == '?')
        }
        None => false,
    }
}

/// `Type::method`, `a::b::c`, `module.func`, `Class#method`, `func()`, `func(args)`, `Name`:
/// (qualifier, name, is a call, separator).
fn symbol_like(word: &str) -> Option<(Vec<String>, String, bool, Option<&'static str>)> {
    let mut body = word;
    let mut call = false;
    if let Some(open) = body.find('(') {
        if !body.ends_with(')') {
            return None;
        }
        call = true;
        body = &body[..open];
    }
    // Generic arguments: `Vec<T>`, `Client<T>::new` are kept to their names.
    if body.contains(['<', '>']) {
        return None;
    }
    let body = body.trim_end_matches('!'); // a Rust macro call: `println!`
    let separator = if body.contains("::") {
        Some("::")
    } else if body.contains('#') {
        Some("#")
    } else if body.contains('.') {
        Some(".")
    } else {
        None
    };
    let parts: Vec<&str> = match separator {
        Some(sep) => body.split(sep).collect(),
        None => vec![body],
    };
    let parts: Vec<&str> = parts
        .into_iter()
        .skip_while(|p| p.is_empty()) // `::std::x`
        .collect();
    if parts.is_empty() || !parts.iter().all(|p| is_identifier(p)) {
        return None;
    }
    // `self.x`, `this.x`, `cls.x`: the receiver tells nothing.
    let skip = usize::from(
        matches!(
            parts[0],
            "self" | "this" | "cls" | "Self" | "crate" | "super"
        ) && parts.len() > 1,
    );
    let name = parts.last()?.to_string();
    let qualifier = parts[skip..parts.len() - 1]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Some((qualifier, name, call, separator))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// `RetryPolicy`, `httpClient`: an upper-case letter after a lower-case one.
fn is_camel(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(plan: &str) -> Vec<(String, usize, bool, bool)> {
        mentions(plan)
            .into_iter()
            .map(|m| (m.text, m.line, m.strong, m.announced_new))
            .collect()
    }

    #[test]
    fn line_suffixes_become_spans() {
        for (word, path, span) in [
            ("src/a.rs:42", "src/a.rs", Some((42, 42))),
            ("src/a.rs:10-40", "src/a.rs", Some((10, 40))),
            ("src/a.rs#L10-L40", "src/a.rs", Some((10, 40))),
            ("src/a.rs#L7", "src/a.rs", Some((7, 7))),
            ("./src/a.rs", "src/a.rs", None),
            ("src/a.rs:40-10", "src/a.rs:40-10", None),
        ] {
            let (p, s) = path_like(word).unwrap_or_else(|| panic!("{word} is a path"));
            assert_eq!(p, path, "{word}");
            assert_eq!(s.map(|s| (s.start, s.end)), span, "{word}");
        }
    }

    #[test]
    fn prose_that_only_looks_like_code_is_not_strong() {
        let plan = "Use and/or the client/server model, e.g. with Node.js; see https://example.com/a.rs and www.x.io.\n";
        assert!(
            targets(plan).iter().all(|(_, _, strong, _)| !strong),
            "{:?}",
            targets(plan)
        );
        assert!(!targets(plan)
            .iter()
            .any(|(t, ..)| t.contains("example.com")));
    }

    #[test]
    fn code_spans_blocks_and_links_are_read() {
        let plan = "# Plan\n\n1. Edit `src/net/client.rs:10-40` and [the docs](docs/guide.md#L3).\n2. Create `src/retry.rs` with `RetryPolicy::backoff()`.\n\n```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n```\n";
        let found = targets(plan);
        let texts: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
        assert!(texts.contains(&"src/net/client.rs:10-40"), "{texts:?}");
        assert!(texts.contains(&"docs/guide.md#L3"), "{texts:?}");
        assert!(texts.contains(&"RetryPolicy::backoff()"), "{texts:?}");
        let lib = found
            .iter()
            .find(|f| f.0 == "src/lib.rs")
            .expect("diff header path");
        assert_eq!(lib.1, 7);
        let retry = found.iter().find(|f| f.0 == "src/retry.rs").unwrap();
        assert!(retry.3, "announced as new by 'Create'");
        let client = found.iter().find(|f| f.0.starts_with("src/net")).unwrap();
        assert!(!client.3, "'Edit' does not announce a new file");
        assert_eq!(client.1, 3);
    }

    #[test]
    fn windows_paths_read_with_slashes() {
        let found = mentions("Edit `src\\net\\client.rs:12` and C:\\x.\n");
        assert_eq!(
            found[0].target,
            Target::Path {
                path: "src/net/client.rs".into(),
                span: Some(LineSpan { start: 12, end: 12 })
            }
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn new_is_not_announced_by_a_code_span() {
        let plan = "Call `Client::new` from `src/app.rs`.\n";
        assert!(targets(plan).iter().all(|f| !f.3), "{:?}", targets(plan));
    }

    proptest::proptest! {
        // Failing cases are kept beside the integration tests' (the default would be a
        // proptest-regressions/ folder at the top of the repository).
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct(
                    "tests/proptest-regressions/plan_extract.txt",
                ),
            )),
            ..proptest::test_runner::Config::default()
        })]

        /// Any text is a plan: reading it never panics, every mention is on a line of the plan,
        /// and its text is what the plan wrote there (a Windows path read with slashes aside).
        #[test]
        fn any_text_reads_as_a_plan(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("`src/a.rs:10-20`".to_string()),
                    proptest::strategy::Just("Create `b/c.py` ".to_string()),
                    proptest::strategy::Just("[x](d/e.md#L3-L9)".to_string()),
                    proptest::strategy::Just("`Type::method()`".to_string()),
                    proptest::strategy::Just("\n```diff\n--- a/f.go\n```\n".to_string()),
                    proptest::strategy::Just("\n- item `x_y` ".to_string()),
                    proptest::strategy::Just("# H\n".to_string()),
                    proptest::strategy::Just("https://e.com/a.rs ".to_string()),
                    "[ -~\n`*_#\\[\\]()<>:/.]{0,40}",
                    "\\PC{0,12}",
                ],
                0..24,
            )
        ) {
            let plan: String = pieces.concat();
            let lines: Vec<&str> = plan.split('\n').collect();
            for mention in mentions(&plan) {
                proptest::prop_assert!(mention.line >= 1 && mention.line <= lines.len());
                proptest::prop_assert!(!mention.text.is_empty());
                // Markdown's backslash escapes (`a\\/`) are gone from the text as read.
                let unescaped = plan.replace('\\', "");
                if !mention.text.contains('\\') {
                    proptest::prop_assert!(
                        unescaped.contains(mention.text.as_str()),
                        "{:?} not in {:?}", mention.text, plan
                    );
                }
            }
        }
    }
}
