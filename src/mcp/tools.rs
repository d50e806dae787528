//! The MCP server's tools, each a thin call into the library: `pack`, `read_pack`, `stats`,
//! `refs`, `outline` and `symbol`. Arguments are typed structs: their JSON Schemas (schemars)
//! are what `tools/list` shows, and serde reads the calls, so an unknown argument or a value of
//! the wrong kind is a tool error that names it.
//!
//! Every path an agent passes is confined to the root: `..` that climbs out, an absolute path
//! elsewhere and a link whose target lies outside get a tool error before anything is read.
//! Secrets are redacted as `pack` redacts them, always.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{Root, State};
use crate::diff::DiffRequest;
use crate::inspect::{self, InspectError, Lookup};
use crate::pack::{self, Output, PlanInput, Request};
use crate::plan;
use crate::render::{human, Format};
use crate::secrets::{self, Policy};
use crate::tokens::{Encoding, Tiktoken, TokenCounter};
use crate::types::{Fidelity, Reporter};
use crate::walk::Source;

/// A token count: a number, or text such as `"64k"` or `"1.5m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCount(pub usize);

impl<'de> Deserialize<'de> for TokenCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TokenCount, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(deserializer)?;
        let bad = || {
            D::Error::custom(format!(
                "{value} is not a token count: give a whole number of at least 1 (64000), or text \
                 with k or m (\"64k\", \"1.5m\")"
            ))
        };
        match &value {
            Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(n), _) if n >= 1 => Ok(TokenCount(n as usize)),
                (None, Some(f)) if f >= 1.0 && f.fract() == 0.0 && f < 1e12 => {
                    Ok(TokenCount(f as usize))
                }
                _ => Err(bad()),
            },
            Value::String(text) => crate::tokens::parse_budget(text)
                .map(TokenCount)
                .map_err(D::Error::custom),
            _ => Err(bad()),
        }
    }
}

impl JsonSchema for TokenCount {
    fn schema_name() -> Cow<'static, str> {
        "TokenCount".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // One type, as every client reads: the server takes a plain number too.
        schemars::json_schema!({
            "description": "A token count of at least 1, as text with an optional k or m: \"64000\", \"64k\", \"1.5m\" (a plain number works too).",
            "type": "string"
        })
    }
}

/// How files are shown.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FidelityArg {
    /// The text exactly as it is.
    Full,
    /// Imports, declarations, signatures and doc comments; function bodies become placeholders.
    Compressed,
    /// One line per definition with its line range.
    Outline,
}

/// The tokenizer counts are made with.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum EncodingArg {
    /// GPT-4o, GPT-4.1, o-series and later OpenAI models (the default).
    #[serde(rename = "o200k_base")]
    O200kBase,
    /// GPT-4 and GPT-3.5.
    #[serde(rename = "cl100k_base")]
    Cl100kBase,
}

impl From<EncodingArg> for Encoding {
    fn from(arg: EncodingArg) -> Encoding {
        match arg {
            EncodingArg::O200kBase => Encoding::O200kBase,
            EncodingArg::Cl100kBase => Encoding::Cl100kBase,
        }
    }
}

/// Pack files into one XML document, fitted to a token budget.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackArgs {
    /// Which of the server's roots to read (its directory name or path); the first by default.
    pub root: Option<String>,
    /// Files and directories to pack, relative to the root; the whole root by default.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The most tokens the document may take: 64000, "64k", "200k". Without one, every file is
    /// packed whole (a plan or a diff gets 128k).
    pub budget: Option<TokenCount>,
    /// What the task is about: a description, or the path of a file inside the root (a spec)
    /// whose text is used. Steers which files a budget keeps.
    #[serde(default)]
    pub focus: Vec<String>,
    /// A plan to pack for: the path of a Markdown file inside the root, or the plan's text
    /// itself. The document holds the plan, the files it names, then their neighbours.
    pub plan: Option<String>,
    /// A change to review: a git revision to diff against ("main", "HEAD~3", "main..."), or ""
    /// for uncommitted work against HEAD. The document holds the diff, the files it touches,
    /// then their neighbours.
    pub diff: Option<String>,
    /// With diff: files git does not track yet are part of the change.
    #[serde(default)]
    pub untracked: bool,
    /// With diff: the last N commit messages of the range.
    pub git_log: Option<usize>,
    /// How files are shown when there is no budget (a budget chooses per file).
    pub fidelity: Option<FidelityArg>,
    /// Globs (gitignore syntax) of the files to pack; others are left out.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs (gitignore syntax) of files to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Pack hidden files too.
    #[serde(default)]
    pub hidden: bool,
    /// The tokenizer the counts and the budget are in.
    pub encoding: Option<EncodingArg>,
}

/// Read a piece of a document the server kept: by tokens or by lines.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadPackArgs {
    /// The id a pack (or another tool) returned with a document too large for one response.
    pub id: String,
    /// The first token to return (0-based; 0 by default).
    pub start_token: Option<usize>,
    /// The token to stop before (exclusive); at most the server's response limit past
    /// start_token.
    pub end_token: Option<usize>,
    /// The first line to return (1-based), instead of tokens.
    pub start_line: Option<usize>,
    /// The last line to return (inclusive).
    pub end_line: Option<usize>,
}

/// What a pack with these arguments would hold, as `ctxpack stats --json` gives it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsArgs {
    /// Which of the server's roots to read (its directory name or path); the first by default.
    pub root: Option<String>,
    /// Files and directories, relative to the root; the whole root by default.
    #[serde(default)]
    pub paths: Vec<String>,
    /// A token budget ("64k"): then the report says what a pack would keep, at which fidelity.
    pub budget: Option<TokenCount>,
    /// What the task is about: a description, or a file inside the root.
    #[serde(default)]
    pub focus: Vec<String>,
    /// A plan (a file inside the root, or its text) the pack would be for.
    pub plan: Option<String>,
    /// A git revision whose change the pack would review ("" for uncommitted work).
    pub diff: Option<String>,
    /// With diff: files git does not track yet are part of the change.
    #[serde(default)]
    pub untracked: bool,
    /// With diff: the last N commit messages of the range.
    pub git_log: Option<usize>,
    /// Globs (gitignore syntax) of the files to count.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs (gitignore syntax) of files to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Count hidden files too.
    #[serde(default)]
    pub hidden: bool,
    /// The tokenizer the counts are in.
    pub encoding: Option<EncodingArg>,
}

/// What a plan references, resolved, as `ctxpack refs --json` gives it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefsArgs {
    /// The plan: the path of a Markdown file inside the root, or the plan's text itself.
    pub plan: String,
    /// Which of the server's roots to check against; the first by default.
    pub root: Option<String>,
    /// Files and directories the plan is checked against; the whole root by default.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Globs (gitignore syntax) of the files to check against.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs of files to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Check against hidden files too.
    #[serde(default)]
    pub hidden: bool,
}

/// Files' outlines: one line per definition with its line range.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlineArgs {
    /// The files, relative to the root.
    pub files: Vec<String>,
    /// Which of the server's roots they are in; the first by default.
    pub root: Option<String>,
}

/// Where a symbol is defined, with the text of each definition.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SymbolArgs {
    /// A name as code writes it: `retry`, `Client::send`, `module.func`, `Class#method`.
    pub name: String,
    /// The most tokens the definitions' text may take (8k by default, at most the server's
    /// response limit).
    pub budget: Option<TokenCount>,
    /// Which of the server's roots to look in; the first by default.
    pub root: Option<String>,
    /// Files and directories to look in; the whole root by default.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Globs (gitignore syntax) of the files to look in.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs of files to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Look in hidden files too.
    #[serde(default)]
    pub hidden: bool,
    /// The tokenizer the budget is in.
    pub encoding: Option<EncodingArg>,
}

/// The default budget of `symbol`.
const SYMBOL_BUDGET: usize = 8_000;

/// The JSON Schema of `T`'s arguments, as clients of every make read it: sub-schemas inlined
/// (no `$ref`), and an argument that may be left out not also typed `null`.
pub fn schema<T: JsonSchema>() -> Arc<JsonObject> {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    fn plain(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(types)) = map.get_mut("type") {
                    types.retain(|t| t != "null");
                    if types.len() == 1 {
                        let only = types.remove(0);
                        map.insert("type".into(), only);
                    }
                }
                let any_of = map.get("anyOf").and_then(Value::as_array).cloned();
                if let Some(options) = any_of {
                    let kept: Vec<Value> = options
                        .into_iter()
                        .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                        .collect();
                    map.remove("anyOf");
                    if kept.len() == 1 {
                        if let Value::Object(inner) = &kept[0] {
                            for (k, v) in inner {
                                map.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    } else {
                        map.insert("anyOf".into(), Value::Array(kept));
                    }
                }
                if map.get("default").is_some_and(Value::is_null) {
                    map.remove("default");
                }
                // An enum written as `oneOf` of `const`s (what documented variants become) as a
                // plain string `enum`, which clients that know no `const` read too.
                let consts = map
                    .get("oneOf")
                    .and_then(Value::as_array)
                    .and_then(|options| {
                        options
                            .iter()
                            .map(|o| Some((o.get("const")?.clone(), o.get("description").cloned())))
                            .collect::<Option<Vec<_>>>()
                    });
                if let Some(consts) = consts {
                    map.remove("oneOf");
                    let described: Vec<String> = consts
                        .iter()
                        .filter_map(|(value, about)| {
                            Some(format!(
                                "{}: {}",
                                value.as_str()?,
                                about.as_ref()?.as_str()?
                            ))
                        })
                        .collect();
                    if !described.is_empty() {
                        let head = map
                            .get("description")
                            .and_then(Value::as_str)
                            .map(|d| format!("{d} "))
                            .unwrap_or_default();
                        map.insert(
                            "description".into(),
                            Value::String(format!("{head}({})", described.join("; "))),
                        );
                    }
                    map.insert("type".into(), Value::String("string".into()));
                    map.insert(
                        "enum".into(),
                        Value::Array(consts.into_iter().map(|(v, _)| v).collect()),
                    );
                }
                map.remove("$schema");
                map.values_mut().for_each(plain);
            }
            Value::Array(items) => items.iter_mut().for_each(plain),
            _ => {}
        }
    }
    plain(&mut value);
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// The tools, as `tools/list` shows them.
pub fn list() -> Vec<Tool> {
    let read_only = || ToolAnnotations::new().read_only(true);
    let tool = |name: &'static str, title: &str, description: &'static str, input| {
        Tool::new(name, description, input)
            .with_title(title)
            .annotate(read_only().idempotent(true))
    };
    vec![
        tool(
            "pack",
            "Pack files for a model",
            "Pack the repository (or some of its files) into one XML document with exact token \
             counts: a summary, the file tree, then the files. With a budget, the files that \
             matter most (for the focus, the plan or the change under review) are kept whole, \
             others as compressed views or outlines, and the document fits the budget. A \
             document larger than the server's response limit is kept and returned as a summary \
             and an id for read_pack.",
            schema::<PackArgs>(),
        ),
        tool(
            "read_pack",
            "Read a kept document",
            "Read a piece of a document the server kept (an id from pack): by tokens \
             (start_token, end_token: pages laid end to end are the document) or by lines \
             (start_line, end_line).",
            schema::<ReadPackArgs>(),
        ),
        tool(
            "stats",
            "What a pack would hold",
            "Where the tokens are, as `ctxpack stats --json`: tokens per directory, the largest \
             files, and with a budget what a pack with the same arguments would keep, at which \
             fidelity and rank. Nothing is packed.",
            schema::<StatsArgs>(),
        ),
        tool(
            "refs",
            "Check a plan's references",
            "Every file, line range, directory, glob and symbol a plan names, and whether each \
             exists in the tree (exists, new, missing, ambiguous, conflict, outside-root), as \
             `ctxpack refs --json`; and whether `refs --check` would pass. Check a plan before \
             acting on it.",
            schema::<RefsArgs>(),
        ),
        tool(
            "outline",
            "Outline files",
            "Each file's outline, as `ctxpack outline`: one line per definition (function, \
             type, method, heading) with its line range.",
            schema::<OutlineArgs>(),
        ),
        tool(
            "symbol",
            "Find a symbol's definitions",
            "Where a name (`retry`, `Client::send`, `module.func`) is defined, with the full text \
             of each definition, within a token budget.",
            schema::<SymbolArgs>(),
        ),
    ]
}

/// Runs the tool `name` with `arguments`. Every failure is a tool error with a message saying
/// what to fix.
pub fn call(state: &State, name: &str, arguments: JsonObject) -> CallToolResult {
    let outcome = match name {
        "pack" => parse(arguments).and_then(|args| pack(state, args)),
        "read_pack" => parse(arguments).and_then(|args| read_pack(state, args)),
        "stats" => parse(arguments).and_then(|args| stats(state, args)),
        "refs" => parse(arguments).and_then(|args| refs(state, args)),
        "outline" => parse(arguments).and_then(|args| outline(state, args)),
        "symbol" => parse(arguments).and_then(|args| symbol(state, args)),
        _ => Err(format!("no tool {name:?}")),
    };
    outcome.unwrap_or_else(|message| CallToolResult::error(vec![ContentBlock::text(message)]))
}

fn parse<T: DeserializeOwned>(arguments: JsonObject) -> Result<T, String> {
    serde_path_to_error::deserialize(Value::Object(arguments)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("bad arguments: {inner}; tools/list gives each tool's arguments")
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// The root `given` names (a directory name or a path), or the first.
fn root<'s>(state: &'s State, given: Option<&str>) -> Result<&'s Root, String> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Ok(&state.roots[0]);
    };
    // A bare word is a name, never a path relative to where the server runs.
    let canonical = given
        .contains(['/', std::path::MAIN_SEPARATOR])
        .then(|| std::fs::canonicalize(given).ok())
        .flatten();
    let by_path: Vec<&Root> = state
        .roots
        .iter()
        .filter(|r| Some(&r.path) == canonical.as_ref())
        .collect();
    let by_name: Vec<&Root> = state.roots.iter().filter(|r| r.name == given).collect();
    let roots = |list: &[Root]| {
        list.iter()
            .map(|r| format!("{} ({})", r.name, r.path.display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (by_path.first(), by_name.as_slice()) {
        (Some(root), _) => Ok(root),
        (None, [root]) => Ok(root),
        (None, []) => Err(format!(
            "root {given:?} is not one of this server's roots: {}",
            roots(&state.roots)
        )),
        (None, _) => Err(format!(
            "root {given:?} names several of this server's roots; give its path: {}",
            roots(&state.roots)
        )),
    }
}

/// `given` inside `root` (confined: never a read outside it).
fn inside(root: &Root, given: &str, what: &str) -> Result<PathBuf, String> {
    crate::walk::confine(&root.path, given).map_err(|e| format!("{what}: {e}"))
}

/// `given` inside `root`, which must be a regular file (a FIFO or a device would hang the call).
fn file_inside(root: &Root, given: &str, what: &str) -> Result<PathBuf, String> {
    let path = inside(root, given, what)?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("{what}: {given}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{what}: {given} is a directory; give a file"));
    }
    if !meta.is_file() {
        return Err(format!("{what}: {given} is not a regular file"));
    }
    Ok(path)
}

/// The files to read: `paths` inside `root` (all of it when empty), with the globs.
fn source(
    root: &Root,
    paths: &[String],
    include: &[String],
    exclude: &[String],
    hidden: bool,
) -> Result<Source, String> {
    let mut source = Source::for_root(
        &root.path,
        include,
        exclude,
        hidden,
        Some(crate::cache::is_store_name),
    )
    .map_err(|e| format!("include/exclude: {e}"))?;
    if !paths.is_empty() {
        source.inputs.paths = paths
            .iter()
            .map(|p| {
                let resolved = inside(root, p, "paths")?;
                // A link stays a link, as on the command line: the walk decides what to do with
                // it (it does not follow links), once its target is known to be inside.
                let given = root.path.join(p);
                match (std::fs::symlink_metadata(&given), given.file_name()) {
                    (Ok(meta), Some(name)) if meta.file_type().is_symlink() => {
                        let parent = given.parent().unwrap_or(&root.path);
                        let parent = std::fs::canonicalize(parent)
                            .map_err(|e| format!("paths: {p}: {e}"))?;
                        if !parent.starts_with(&root.path) {
                            return Err(format!("paths: {p}: outside the root"));
                        }
                        Ok(parent.join(name))
                    }
                    _ => Ok(resolved),
                }
            })
            .collect::<Result<_, String>>()?;
    }
    Ok(source)
}

/// Focus texts: a file inside the root is read, anything else is the text itself (as
/// `pack --focus` does).
fn focus(root: &Root, given: &[String]) -> Result<Vec<String>, String> {
    given
        .iter()
        .map(|text| {
            let names_a_file = !text.contains('\n')
                && std::fs::metadata(root.path.join(text)).is_ok_and(|m| m.is_file());
            if !names_a_file {
                // A path that escapes the root is refused even when it is only a text's guess.
                if !text.contains('\n') && std::fs::metadata(root.path.join(text)).is_ok() {
                    inside(root, text, "focus")?;
                }
                return Ok(text.clone());
            }
            let path = file_inside(root, text, "focus")?;
            std::fs::read_to_string(&path).map_err(|e| format!("focus: {text}: {e}"))
        })
        .collect()
}

/// The plan `given`: a file inside the root, or the plan's text (with a line break, or naming
/// no file). A one-line name that looks like a file but is not there is an error, not a plan.
fn plan_input(root: &Root, given: &str) -> Result<PlanInput, String> {
    if given.trim().is_empty() {
        return Err("plan: it is empty; give a plan's text or the path of its file".into());
    }
    let one_line = !given.trim().contains('\n');
    let looks_like_a_file = one_line
        && !given.trim().contains(char::is_whitespace)
        && (given.contains('/')
            || Path::new(given.trim())
                .extension()
                .is_some_and(|e| matches!(e.to_str(), Some("md" | "markdown" | "txt"))));
    if one_line && (looks_like_a_file || root.path.join(given.trim()).exists()) {
        // A FIFO is read too, as `pack --plan <(…)` reads one: the call waits for its writer.
        let path = inside(root, given.trim(), "plan")?;
        let meta = std::fs::metadata(&path).map_err(|e| format!("plan: {given}: {e}"))?;
        #[cfg(unix)]
        let fifo = std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type());
        #[cfg(not(unix))]
        let fifo = false;
        if meta.is_dir() {
            return Err(format!(
                "plan: {given} is a directory; give the plan's file"
            ));
        }
        if !meta.is_file() && !fifo {
            return Err(format!("plan: {given} is not a regular file"));
        }
        let text = plan::read_plan(&path, &mut std::io::empty()).map_err(|e| e.to_string())?;
        return Ok(PlanInput { text, path });
    }
    Ok(PlanInput {
        text: given.replace("\r\n", "\n"),
        path: PathBuf::from("-"),
    })
}

/// A change to review: `""` is uncommitted work against HEAD.
fn diff_request(base: &str, untracked: bool, log: Option<usize>) -> Result<DiffRequest, String> {
    let base = base.trim();
    if base.starts_with('-') {
        return Err(format!(
            "diff: {base:?} is not a revision (\"main\", \"HEAD~3\", \"main...\", or \"\" for \
             uncommitted work)"
        ));
    }
    Ok(DiffRequest {
        base: (!base.is_empty()).then(|| base.to_string()),
        log,
        untracked,
        only: None,
    })
}

/// Collects what a pack reports while it works.
#[derive(Default)]
struct Collect(Mutex<Vec<String>>);

impl Reporter for Collect {
    fn warning(&self, message: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("warning: {message}"));
    }

    fn note(&self, message: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message.to_string());
    }
}

/// The parts `pack` and `stats` share, as a request.
struct Common<'a> {
    paths: &'a [String],
    budget: Option<TokenCount>,
    focus: &'a [String],
    plan: Option<&'a str>,
    diff: Option<&'a str>,
    untracked: bool,
    git_log: Option<usize>,
    include: &'a [String],
    exclude: &'a [String],
    hidden: bool,
    encoding: Option<EncodingArg>,
}

fn request(root: &Root, common: &Common<'_>, output: Output) -> Result<Request, String> {
    Ok(Request {
        source: source(
            root,
            common.paths,
            common.include,
            common.exclude,
            common.hidden,
        )?,
        encoding: common.encoding.map_or(Encoding::O200kBase, Encoding::from),
        secrets: secrets::Mode::Redact,
        format: Format::Xml,
        fidelity: Fidelity::Full,
        budget: common.budget.map(|b| b.0),
        focus: focus(root, common.focus)?,
        plan: common.plan.map(|p| plan_input(root, p)).transpose()?,
        diff: common
            .diff
            .map(|base| diff_request(base, common.untracked, common.git_log))
            .transpose()?,
        output,
    })
}

/// Refuses what the command line refuses: an argument that would be ignored.
fn check_combination(common: &Common<'_>) -> Result<(), String> {
    if !common.focus.is_empty() && common.budget.is_none() {
        return Err("focus: only with a budget, whose files it chooses; add \"budget\"".into());
    }
    if !common.focus.is_empty() && common.plan.is_some() {
        return Err(
            "focus: not with a plan, which is the focus itself; leave one of them out".into(),
        );
    }
    if common.diff.is_none() && (common.untracked || common.git_log.is_some()) {
        return Err("untracked and git_log: only with diff".into());
    }
    Ok(())
}

/// Runs `request` in `root`'s session and keeps what the cache learnt.
fn run(root: &Root, request: &Request) -> Result<(pack::Packed, Vec<String>), String> {
    let session = root.session()?;
    let heard = Collect::default();
    let packed = pack::pack(request, session, &heard);
    // A cache that cannot be written costs the next call time, not this one its result.
    let _ = session.cache().save();
    let packed = packed.map_err(|e| e.to_string())?;
    Ok((packed, heard.0.into_inner().unwrap_or_default()))
}

fn pack(state: &State, args: PackArgs) -> Result<CallToolResult, String> {
    let root = root(state, args.root.as_deref())?;
    let common = Common {
        paths: &args.paths,
        budget: args.budget,
        focus: &args.focus,
        plan: args.plan.as_deref(),
        diff: args.diff.as_deref(),
        untracked: args.untracked,
        git_log: args.git_log,
        include: &args.include,
        exclude: &args.exclude,
        hidden: args.hidden,
        encoding: args.encoding,
    };
    check_combination(&common)?;
    if args
        .fidelity
        .is_some_and(|f| !matches!(f, FidelityArg::Full))
        && (args.budget.is_some() || args.plan.is_some() || args.diff.is_some())
    {
        return Err(
            "fidelity: only without budget, plan or diff, which choose each file's fidelity \
             themselves"
                .into(),
        );
    }
    let mut request = request(root, &common, Output::Document)?;
    request.fidelity = match args.fidelity {
        None | Some(FidelityArg::Full) => Fidelity::Full,
        Some(FidelityArg::Compressed) => Fidelity::Compressed,
        Some(FidelityArg::Outline) => Fidelity::Outline,
    };
    let (packed, heard) = run(root, &request)?;
    let document = packed
        .document
        .ok_or("the pack made no document; please report this")?;
    let tokens = document.tokens;
    let bytes = document
        .to_bytes()
        .map_err(|e| format!("could not read the document back: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| format!("the document is not UTF-8: {e}"))?;
    let mut report = Vec::new();
    let _ = packed.report.write_summary(&mut report, None, false);
    let mut report = String::from_utf8_lossy(&report).into_owned();
    for line in heard {
        report.push_str(&format!("  {line}\n"));
    }
    let cache = packed.report.cache;
    if cache.lookups > 0 {
        report.push_str(&format!(
            "  cache: {} of {} token counts and views reused\n",
            human(cache.reused),
            human(cache.lookups)
        ));
    }
    Ok(respond(
        state,
        text,
        tokens,
        request.encoding,
        "pack",
        Some(report),
    ))
}

/// `text` (of `tokens` tokens) as a response: whole when it is within the server's limit, else
/// kept, with a summary and its id.
fn respond(
    state: &State,
    text: String,
    tokens: usize,
    encoding: Encoding,
    what: &str,
    report: Option<String>,
) -> CallToolResult {
    let limit = state.max_response_tokens;
    let mut content = Vec::new();
    if tokens <= limit {
        content.push(ContentBlock::text(text));
    } else {
        let summary = summary_element(&text, encoding, limit / 2);
        let doc = state
            .kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keep(text, encoding, what);
        let lines = doc.lines();
        let hint = if what == "pack" {
            format!(
                " For a document that fits one response, pack again with a budget (\"budget\": \
                 {limit})."
            )
        } else {
            String::new()
        };
        let mut message = format!(
            "The {what} result is {} tokens ({}), more than one response carries ({}), so the \
             server keeps it as \"{id}\". Read it with read_pack: {{\"id\": \"{id}\", \
             \"start_token\": 0, \"end_token\": {limit}}}, then start_token {limit}, and so on: \
             the pages laid end to end are the whole text. Or by lines (it has {}): {{\"id\": \
             \"{id}\", \"start_line\": 1, \"end_line\": 500}}.{hint}",
            human(tokens),
            encoding.name(),
            human(limit),
            human(lines),
            id = doc.id,
        );
        if let Some(summary) = summary {
            message.push_str("\n\nIts summary:\n\n");
            message.push_str(&summary);
        }
        content.push(ContentBlock::text(message));
    }
    if let Some(report) = report.filter(|r| !r.is_empty()) {
        content.push(ContentBlock::text(report));
    }
    CallToolResult::success(content)
}

/// A document's `<summary>` element, if it takes at most `max` tokens.
fn summary_element(text: &str, encoding: Encoding, max: usize) -> Option<String> {
    let start = text.find("<summary")?;
    let end = start + text[start..].find("</summary>")? + "</summary>".len();
    let summary = &text[start..end];
    (Tiktoken::new(encoding).count(summary) <= max).then(|| summary.to_string())
}

fn read_pack(state: &State, args: ReadPackArgs) -> Result<CallToolResult, String> {
    let doc = {
        let kept = state.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(&args.id).ok_or_else(|| {
            let ids = kept.ids();
            format!(
                "no kept document {:?}; {} (the server keeps the newest 16 while it runs: pack \
                 again for one that went)",
                args.id,
                if ids.is_empty() {
                    "none is kept".to_string()
                } else {
                    format!("kept: {}", ids.join(", "))
                }
            )
        })?
    };
    let limit = state.max_response_tokens;
    let by_lines = args.start_line.is_some() || args.end_line.is_some();
    let by_tokens = args.start_token.is_some() || args.end_token.is_some();
    if by_lines && by_tokens {
        return Err(
            "give a token range (start_token, end_token) or a line range (start_line, end_line), \
             not both"
                .into(),
        );
    }
    let (page, next) = if by_lines {
        let counter = Tiktoken::new(doc.encoding);
        let page = doc.by_lines(args.start_line.unwrap_or(1), args.end_line, limit, &|t| {
            counter.count(t)
        })?;
        let next = (page.end < page.total).then(|| {
            format!(
                "next: {{\"id\": \"{}\", \"start_line\": {}}}",
                doc.id,
                page.end + 1
            )
        });
        let place = format!("lines {}-{} of {}", page.start, page.end, human(page.total));
        (
            page,
            next.map_or(format!("{place}; the end"), |n| format!("{place}; {n}")),
        )
    } else {
        let page = doc.by_tokens(args.start_token.unwrap_or(0), args.end_token, limit)?;
        let next = (page.end < page.total).then(|| {
            format!(
                "next: {{\"id\": \"{}\", \"start_token\": {}}}",
                doc.id, page.end
            )
        });
        let place = format!(
            "tokens {}-{} of {} (end exclusive)",
            page.start,
            page.end,
            human(page.total)
        );
        (
            page,
            next.map_or(format!("{place}; the end"), |n| format!("{place}; {n}")),
        )
    };
    let clipped = match (by_lines, args.end_line, args.end_token) {
        (true, Some(end), _) if page.end < end.min(page.total) => {
            format!(" (cut at the response limit of {} tokens)", human(limit))
        }
        (false, _, Some(end)) if page.end < end.min(page.total) => {
            format!(" (cut at the response limit of {} tokens)", human(limit))
        }
        _ => String::new(),
    };
    Ok(CallToolResult::success(vec![
        ContentBlock::text(page.text),
        ContentBlock::text(format!("{next}{clipped}")),
    ]))
}

fn stats(state: &State, args: StatsArgs) -> Result<CallToolResult, String> {
    let root = root(state, args.root.as_deref())?;
    let common = Common {
        paths: &args.paths,
        budget: args.budget,
        focus: &args.focus,
        plan: args.plan.as_deref(),
        diff: args.diff.as_deref(),
        untracked: args.untracked,
        git_log: args.git_log,
        include: &args.include,
        exclude: &args.exclude,
        hidden: args.hidden,
        encoding: args.encoding,
    };
    check_combination(&common)?;
    let request = request(root, &common, Output::Report)?;
    let (packed, _) = run(root, &request)?;
    let (stats, _) = packed.report.stats(0);
    let json = serde_json::to_string_pretty(&stats).map_err(|e| e.to_string())? + "\n";
    let tokens = Tiktoken::new(request.encoding).count(&json);
    Ok(respond(
        state,
        json,
        tokens,
        request.encoding,
        "stats",
        None,
    ))
}

fn refs(state: &State, args: RefsArgs) -> Result<CallToolResult, String> {
    let root = root(state, args.root.as_deref())?;
    let plan = plan_input(root, &args.plan)?;
    let source = source(root, &args.paths, &args.include, &args.exclude, args.hidden)?;
    let session = root.session()?;
    let mut checked =
        plan::check(&plan.text, &plan.path, &source, session.pool()).map_err(|e| e.to_string())?;
    if plan.path != Path::new("-") {
        // Named as the agent named it, as `refs` names it: not by its path on this machine.
        checked.plan = args.plan.trim().to_string();
    }
    let json = serde_json::to_string_pretty(&checked).map_err(|e| e.to_string())? + "\n";
    let failing = checked.failing();
    let summary = checked.summary_line();
    let mut verdict = if failing == 0 {
        format!("refs --check would pass: {summary}")
    } else {
        format!(
            "refs --check would fail: {failing} of the plan's references do not exist or lie \
             outside the root ({summary})"
        )
    };
    for warning in &checked.warnings {
        verdict.push_str(&format!("\nwarning: {warning}"));
    }
    let tokens = Tiktoken::new(Encoding::O200kBase).count(&json);
    Ok(respond(
        state,
        json,
        tokens,
        Encoding::O200kBase,
        "refs",
        Some(verdict),
    ))
}

fn outline(state: &State, args: OutlineArgs) -> Result<CallToolResult, String> {
    let root = root(state, args.root.as_deref())?;
    if args.files.is_empty() {
        return Err("files: give at least one file, relative to the root".into());
    }
    let files = args
        .files
        .iter()
        .map(|given| Ok((file_inside(root, given, "files")?, given.clone())))
        .collect::<Result<Vec<_>, String>>()?;
    let policy = Policy::new(secrets::Mode::Redact);
    let outlines = inspect::outlines(&files, policy).map_err(|e| match e {
        InspectError::Read { path, source } => format!("could not read {path}: {source}"),
        error => error.to_string(),
    })?;
    let notes = outlines.notes.join("\n");
    if outlines.text.is_empty() {
        // Nothing to outline: the notes say why.
        let why = if notes.is_empty() {
            "no definitions or headings to outline".to_string()
        } else {
            notes
        };
        return Ok(CallToolResult::success(vec![ContentBlock::text(why)]));
    }
    let tokens = Tiktoken::new(Encoding::O200kBase).count(&outlines.text);
    Ok(respond(
        state,
        outlines.text,
        tokens,
        Encoding::O200kBase,
        "outline",
        Some(notes),
    ))
}

fn symbol(state: &State, args: SymbolArgs) -> Result<CallToolResult, String> {
    let root = root(state, args.root.as_deref())?;
    let name = args.name.trim();
    if name.is_empty()
        || name.contains(char::is_whitespace)
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "name: {:?} is not a symbol; give one as code writes it (`retry`, `Client::send`)",
            args.name
        ));
    }
    let limit = state.max_response_tokens;
    let budget = args.budget.map_or(SYMBOL_BUDGET.min(limit), |b| b.0);
    if budget > limit {
        return Err(format!(
            "budget: {} is more than one response carries ({}); ask for less",
            human(budget),
            human(limit)
        ));
    }
    let source = source(root, &args.paths, &args.include, &args.exclude, args.hidden)?;
    let session = root.session()?;
    let encoding = args.encoding.map_or(Encoding::O200kBase, Encoding::from);
    let lookup = inspect::symbol(
        name,
        &source,
        Policy::new(secrets::Mode::Redact),
        budget,
        &Tiktoken::new(encoding),
        session.pool(),
    )
    .map_err(|e| e.to_string())?;
    let text = describe(&lookup, budget);
    let tokens = Tiktoken::new(Encoding::O200kBase).count(&text);
    Ok(respond(
        state,
        text,
        tokens,
        Encoding::O200kBase,
        "symbol",
        None,
    ))
}

/// A lookup for a model to read: each definition's text in an element, as a pack shows files.
fn describe(lookup: &Lookup, budget: usize) -> String {
    let count = lookup.definitions.len() + lookup.left_out.len();
    let mut out = match lookup.status {
        "missing" => format!(
            "{}: not defined in the tree (nor in the paths given)\n",
            lookup.name
        ),
        status => format!(
            "{}: {status}, {count} definition{}\n",
            lookup.name,
            if count == 1 { "" } else { "s" }
        ),
    };
    for d in &lookup.definitions {
        out.push_str(&format!(
            "<definition path=\"{}\" lines=\"{}-{}\" tokens=\"{}\">\n{}",
            d.path, d.start_line, d.end_line, d.tokens, d.text
        ));
        if !d.text.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("</definition>\n");
    }
    const LISTED: usize = 10;
    for left in lookup.left_out.iter().take(LISTED) {
        out.push_str(&format!("left out: {left}\n"));
    }
    if lookup.left_out.len() > LISTED {
        out.push_str(&format!(
            "left out: {} more\n",
            human(lookup.left_out.len() - LISTED)
        ));
    }
    if !lookup.left_out.is_empty() {
        let alone_too_large = lookup.definitions.is_empty();
        out.push_str(&if alone_too_large {
            format!(
                "(each is larger than the budget of {} tokens: outline its file, or ask again \
                 with a larger budget)\n",
                human(budget)
            )
        } else {
            "(the budget was used by the definitions above: ask again with a larger budget, or \
             narrow the search with paths)\n"
                .to_string()
        });
    }
    out
}
