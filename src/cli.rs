//! Command-line definitions (clap derive): raw flags and value parsers, nothing validated yet.
//!
//! The doc comments here are the `--help` text users read, written for a terminal: `<tree>` is an
//! element's name there, not HTML.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::types::Fidelity;

/// Pack a codebase into a single, well-formed XML context for a large language model, with exact
/// token counts.
#[derive(Debug, Parser)]
#[command(name = "ctxpack", version, about, long_about = None)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pack files into one XML document (stdout, or -o FILE).
    ///
    /// Walks the given paths (default: the current directory), honours .gitignore, .ignore,
    /// .git/info/exclude, the global git excludes and .ctxpackignore, reads every text file, counts
    /// its tokens exactly and writes one well-formed XML document. Binary, oversized, unreadable and
    /// special files stay in the <tree> and are listed in <omitted> with the reason.
    #[command(after_help = PACK_EXAMPLES)]
    Pack(PackArgs),

    /// Print the outline of files: one line per definition with its line range.
    ///
    /// Markdown files get their headings. Files in languages without a grammar, or with syntax
    /// errors, have an empty outline (a note on stderr says why).
    #[command(after_help = OUTLINE_EXAMPLES)]
    Outline(OutlineArgs),

    /// Print the symbol table: each file's definitions (name, kind, lines, enclosing scope) and
    /// the identifiers it references.
    ///
    /// Takes the same path and filter flags as `pack`.
    #[command(after_help = SYMBOLS_EXAMPLES)]
    Symbols(SymbolsArgs),

    /// List what a plan references (files, line ranges, directories, globs, symbols) and
    /// whether each exists in the tree.
    ///
    /// Reads the plan as Markdown (plain text works too): paths in code spans, fenced blocks,
    /// links and prose, with `path:42`, `path:10-40` and `path#L10-L40` suffixes; globs; and
    /// symbols such as `Type::method`, `module.func`, `func()` and backticked names. Each
    /// reference gets a status: exists, new (its sentence or list item says it is to be
    /// created), missing (nothing in the tree matches: the plan invented it), ambiguous (a bare
    /// name matching several files or definitions; the candidates are listed) or outside-root
    /// (`..`, an absolute path or a link leading out of the root; never read).
    ///
    /// URLs, prose words, and names the code uses but does not define (standard library and
    /// dependency types, crate names) are not references. Takes the same path and filter flags as
    /// `pack`; the root is the current directory unless --root or one directory is given.
    #[command(after_help = REFS_EXAMPLES)]
    Refs(RefsArgs),

    /// Show where the tokens are: a token tree per directory, the largest files, and with
    /// --budget what `pack --budget` would pack, at which fidelity and rank.
    ///
    /// Takes the same path, filter, budget, focus, encoding and secrets flags as `pack`, and runs
    /// the same steps: with --budget it reports the decisions the pack would write, file by file.
    /// Paths are redacted as the pack redacts them. Nothing is written but the report (stdout).
    #[command(after_help = STATS_EXAMPLES, after_long_help = STATS_LONG_HELP)]
    Stats(StatsArgs),

    /// Write a commented ctxpack.toml at the repository's top, with the model CLIs found on
    /// PATH set up as models. Never overwrites one.
    #[command(after_help = HANDOFF_EXAMPLES)]
    Init(InitArgs),

    /// Make a task (`task new`), or finish one (`task done`).
    #[command(subcommand)]
    Task(TaskCommand),

    /// Plan a task: its spec and the repository packed at the planner's window go to the
    /// planner model; its answer is the task's plan.md, then checked like `refs --check`.
    #[command(after_help = HANDOFF_EXAMPLES)]
    Plan(PhaseArgs),

    /// Carry out a task's plan: the plan and `pack --plan` at the executor's window go to the
    /// executor model, which edits the files (agent) or answers with diffs ctxpack applies, all
    /// or nothing (diff). Then the scope check compares the files that changed with the plan's.
    #[command(after_help = HANDOFF_EXAMPLES)]
    Execute(ExecuteArgs),

    /// Review a task's change: spec, plan, scope check and `pack --diff` against the task's base
    /// go to the reviewer model; its findings and verdict land in review.md and review.json.
    #[command(after_help = HANDOFF_EXAMPLES)]
    Review(ReviewArgs),

    /// Plan, execute and review a task in turn, stopping at the first phase that fails.
    #[command(after_help = HANDOFF_EXAMPLES)]
    Run(RunArgs),

    /// Tasks, their phases, plan check, scope check and verdict.
    Status(StatusArgs),

    /// Tokens and cost of the model calls, by phase and model, and what the same calls would
    /// have cost on the priciest configured model.
    Cost(StatusArgs),

    /// Serve ctxpack's tools to coding agents over the Model Context Protocol, on stdio.
    ///
    /// Tools: pack (a budget, a focus, a plan, a diff base, fidelity, globs, encoding),
    /// read_pack (page through a document too large for one response), stats, refs (a plan's
    /// references and whether refs --check passes), outline and symbol. Every path a tool is
    /// given must lie inside the root (or one of the roots); secrets are always redacted. The
    /// cache between runs is used, so a second call on the same tree is fast. The server runs
    /// until the client closes its standard input.
    #[command(after_help = MCP_EXAMPLES)]
    Mcp(McpArgs),
}

const MCP_EXAMPLES: &str = "\
Examples:
  claude mcp add ctxpack -- ctxpack mcp            # Claude Code, in the repository
  ctxpack mcp --root path/to/repo                  # confined to one tree
  ctxpack mcp --root api --root web                # two trees; tools take root: \"web\"

Cursor and Gemini CLI take this in their JSON settings (VS Code and Zed under their own keys):
  {\"mcpServers\": {\"ctxpack\": {\"command\": \"ctxpack\", \"args\": [\"mcp\", \"--root\", \"/path/to/repo\"]}}}";

/// `ctxpack mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// A directory the tools may read; repeat for several (a tool call picks one by name, the
    /// first by default). Default: the current directory.
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<PathBuf>,

    /// The most tokens one response carries. A larger document is kept by the server and
    /// returned as a summary and an id to page through with read_pack.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::mcp::DEFAULT_MAX_RESPONSE_TOKENS,
        value_parser = parse_budget
    )]
    pub max_response_tokens: usize,

    /// Where the cache between runs lives (default: as for pack).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
}

const HANDOFF_EXAMPLES: &str = "\
Examples:
  ctxpack init                                   # a commented ctxpack.toml
  ctxpack task new \"Add retry support\" --spec SPEC.md --worktree
  ctxpack plan add-retry-support                 # -> .ctxpack/tasks/add-retry-support/plan.md
  ctxpack execute add-retry-support --strict
  ctxpack review add-retry-support --check       # exit 1 unless the verdict is approve
  ctxpack run add-retry-support                  # all three
  ctxpack plan add-retry-support --print | less  # the exact prompt, nothing called
  ctxpack status; ctxpack cost --json

A task lives in .ctxpack/tasks/<id>/: spec.md, plan.md, plan-check.json, execute.log,
scope.json, review.md, review.json, ledger.jsonl (one line per model call) and prompts/ (the
exact prompt of each call). Nothing is overwritten: an earlier plan.md becomes plan.1.md.";

/// `ctxpack init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also write a Claude Code skill (.claude/skills/ctxpack/SKILL.md) telling an agent when
    /// and how to call ctxpack.
    #[arg(long)]
    pub skill: bool,
}

/// `ctxpack task`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Make a task and print its id. Its spec is SPEC (copied into the task), or its title.
    New(TaskNewArgs),
    /// Remove a task's worktree; its branch (ctxpack/<id>) stays. Refused while the worktree
    /// holds changes that are not committed, unless --force.
    Done(TaskDoneArgs),
}

#[derive(Debug, Args)]
pub struct TaskNewArgs {
    /// What the task is, in a few words: its id is made from them.
    #[arg(value_name = "TITLE")]
    pub title: String,

    /// The spec: what to build, the contract every phase reads.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// Give the task its own git worktree (.ctxpack/worktrees/<id>, on branch ctxpack/<id>,
    /// from HEAD), so that its phases never touch the main checkout or another task.
    #[arg(long)]
    pub worktree: bool,

    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, Args)]
pub struct TaskDoneArgs {
    #[arg(value_name = "ID")]
    pub id: String,

    /// Remove the worktree even if it holds changes that are not committed (they are lost).
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub config: ConfigArg,
}

/// `--config FILE`: shared by the handoff commands.
#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// The configuration to use instead of ctxpack.toml at the repository's top.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What every phase command takes.
#[derive(Debug, Args, Clone)]
pub struct PhaseArgs {
    /// The task's id (`ctxpack status` lists them).
    #[arg(value_name = "ID")]
    pub id: String,

    /// Run this phase on another model of ctxpack.toml, for this run.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// Write the exact prompt to stdout and call nothing (pipe it yourself).
    #[arg(long)]
    pub print: bool,

    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, Args)]
pub struct ExecuteArgs {
    #[command(flatten)]
    pub phase: PhaseArgs,

    /// Refuse to start while the plan names files or symbols that do not exist (or creates a
    /// file that does). `strict = true` under [task] in ctxpack.toml does the same.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub phase: PhaseArgs,

    /// Exit 1 unless the reviewer's verdict is approve (for CI).
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub phase: PhaseArgs,

    /// As for execute: refuse to execute a plan that names what does not exist.
    #[arg(long)]
    pub strict: bool,

    /// As for review: exit 1 unless the verdict is approve.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One task; default: every task.
    #[arg(value_name = "ID")]
    pub id: Option<String>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub config: ConfigArg,
}

// Examples are kept out of the doc comments, where clap would join their lines into one
// paragraph and re-wrap it.
const PACK_EXAMPLES: &str = "\
Examples:
  ctxpack pack                                  # the current directory, to stdout
  ctxpack pack path/to/repo -o context.xml
  git ls-files -z | ctxpack pack --stdin -0
  ctxpack pack --fidelity compressed | gemini -p \"Plan the refactor\"
  ctxpack pack --budget 200k | claude -p \"Review this codebase\"
  ctxpack pack --plan AI-PLAN.md --budget 200k | claude -p \"Implement this plan\"
  ctxpack pack --diff main --budget 64k | claude -p \"Review this change\"
  ctxpack pack --diff --budget 32k            # uncommitted work against HEAD";

const OUTLINE_EXAMPLES: &str = "\
Example:
  ctxpack outline src/lib.rs";

const REFS_EXAMPLES: &str = "\
Examples:
  ctxpack refs AI-PLAN.md                    # table: each reference, what it resolved to, status
  ctxpack refs AI-PLAN.md --json
  ctxpack refs AI-PLAN.md --check            # exit 1 if the plan names things that do not exist
  ctxpack refs AI-PLAN.md path/to/repo

Exit status: 0, or 1 with --check when a reference is missing, outside the root, or a file the
plan creates that exists already (conflict); 2 for bad usage (no such plan file, bad flags).";

const SYMBOLS_EXAMPLES: &str = "\
Examples:
  ctxpack symbols src/
  ctxpack symbols --json > symbols.json";

// The examples stand in both the short and the long help: one literal, joined with concat!.
macro_rules! stats_examples {
    () => {
        "\
Examples:
  ctxpack stats                                 # where the tokens are
  ctxpack stats --budget 128k                   # what would be packed, and why
  ctxpack stats --budget 32k --focus SPEC.md --depth all --entries all
  ctxpack stats --diff main --budget 64k        # what a review pack of the branch would hold
  ctxpack stats --budget 200k --json | jq '.files[] | select(.fidelity == \"full\") | .path'
"
    };
}

const STATS_EXAMPLES: &str = concat!(
    stats_examples!(),
    "\nRun `ctxpack stats --help` for the JSON schema."
);

const STATS_LONG_HELP: &str = concat!(
    stats_examples!(),
    "\nText: the root's totals; with --budget the budget used and the files per fidelity; a tree with
the full-text tokens (and with --budget the packed tokens) and the file count of each directory,
the largest entries first, each file with its fidelity and rank or why it is left out; the
largest files, and with --budget the highest ranked; omitted files per reason; secrets found.

JSON (--json), schema version 1. New fields may be added; a field that changes meaning or goes
away raises \"version\". Token counts are in the chosen encoding.
  {
    \"version\": 1,
    \"root\": \"repo\",                      the root directory's name
    \"encoding\": \"o200k_base\",
    \"budget\": null, or with --budget {
      \"budget\": 120000,                  tokens the document may use: --budget less --reserve
      \"reserve\": 8000,
      \"document_tokens\": 119000,         exact count of the document pack --budget would write
      \"tree_depth\": null,                or N: the tree shows each directory at depth N
                                         (0: the top level) as one line
      \"full\": 30,                        files per fidelity
      \"compressed\": 5,
      \"outline\": 2,
      \"left_out\": 3                      files that could be read but were left out to fit
    },
    \"diff\": with --diff only {          the change, and what of its diff is left out
      \"base\": \"main\", \"head\": \"the working tree\", \"files\": 6,
      \"added\": 1, \"modified\": 3, \"deleted\": 1, \"renamed\": 1, \"other\": 0,
      \"lines_added\": 120, \"lines_removed\": 30,
      \"dropped\": [\"src/big.rs\"],          patches the budget leaves out
      \"withheld\": [],                     patches holding secrets (--secrets omit-file)
      \"log_dropped\": 0,                   commit messages left out (--git-log)
      \"with_plan\": false
    },
    \"totals\": {
      \"files\": 42,                       every file considered, omitted ones included
      \"tokens\": 150000,                  full-text tokens of the files that can be read
      \"packed_files\": 37,                files the document holds
      \"packed_tokens\": 98000             tokens of their text as held (views hold fewer)
    },
    \"omitted\": {\"binary\": 1, \"budget\": 3},
                                         files left out, per reason: binary, too-large,
                                         unreadable, symlink, symlink-loop, outside-root,
                                         special-file, secrets; and budget (left out to fit)
    \"secrets\": {                         counts only, never a value
      \"mode\": \"redact\",                  redact, omit-file, fail or off
      \"found\": 2, \"files\": 1,            secrets found, and the files holding them
      \"examples\": 0,                     known example values left in place
      \"left_out\": 0                      of those found, in files --budget leaves out
    },
    \"directories\": [                     every directory holding a file: the root \".\" first,
      {\"path\": \"src\", \"files\": 30, ...}  then depth first in name order, with the four
    ],                                   sums of \"totals\" over the files below it
    \"files\": [                           every file considered, in path order
      {
        \"path\": \"src/main.rs\",           as the document shows it (secrets in names redacted)
        \"tokens\": 12000,                 full-text tokens; null when the file is not read
        \"omitted\": null,                 or why it is not in the document (as above)
        \"fidelity\": \"full\",              full, compressed or outline; null when omitted
        \"packed_tokens\": 12000,          tokens of its text in the document; 0 when omitted
        \"rank\": 1,                       with --budget: 1 = most relevant; else null
        \"score\": 0.0132,                 with --budget: the ranking's score; else null
        \"degraded\": false                the view fell back to the head of the file or nothing
      }
    ]
  }
Without --budget every readable file is \"full\", as in a plain pack. The JSON always lists every
file and directory: --depth, --entries and --top shape only the text."
);

/// Which files to read: shared by every command that walks a tree.
#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    /// Files or directories. Default: the current directory (with --stdin: none but the list).
    ///
    /// Paths in the output are relative to the root (see --root) and use '/'.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The directory that output paths are relative to.
    ///
    /// Default: the PATH itself when exactly one directory is given (and not --stdin), otherwise
    /// the current directory. Every input path must lie inside the root.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Read the list of paths from standard input, one per line.
    ///
    /// Relative paths are taken relative to the current directory, as PATH arguments are (git
    /// ls-files prints them that way). PATH arguments are packed too, in addition to the list,
    /// and the root is --root or the current directory. Listed files are read even when an
    /// ignore file would skip them (the list is what you asked for); --include/--exclude still
    /// apply. A listed path that does not exist, or lies outside the root, is an error.
    #[arg(long)]
    pub stdin: bool,

    /// With --stdin: paths are separated by NUL bytes instead of newlines (git ls-files -z,
    /// find -print0).
    #[arg(short = '0', long = "null", requires = "stdin")]
    pub null: bool,

    /// Only read files matching GLOB (gitignore syntax; repeatable). A '!' prefix removes files
    /// from what earlier --include globs matched; '!' globs alone match nothing, so they are
    /// refused (use --exclude to leave files out).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Skip files and directories matching GLOB (gitignore syntax; repeatable). A '!' prefix
    /// re-admits what an earlier --exclude glob matched.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Also read hidden files and directories (names starting with '.'). .git/ is never read.
    #[arg(long)]
    pub hidden: bool,

    /// Do not read ignore files (.gitignore, .ignore, .git/info/exclude, global git excludes,
    /// .ctxpackignore). Built-in excludes (.git/, binary files) still apply.
    ///
    /// Without it, ignore files above the root count from the top of the enclosing git
    /// repository down; outside a repository, only those inside the root do.
    #[arg(long)]
    pub no_ignore: bool,

    /// Follow symbolic links, including links given as PATH or listed with --stdin. Links that
    /// lead outside the root, or into a loop, are never followed; they are listed as omitted.
    /// Without --follow every link is listed as omitted ("symlink").
    #[arg(short = 'L', long)]
    pub follow: bool,

    /// Skip files larger than SIZE (reason "too-large"). Accepts 500k, 1m, 1.5M, 2MiB or bytes.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_file_size: u64,

    /// Worker threads for reading, parsing and counting. Default: all cores. The output is
    /// identical for every thread count.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Write the document to FILE instead of stdout. The file is replaced atomically: readers see
    /// the old file or the complete new one, never a partial write.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Show every file at this fidelity: full (the text as it is), compressed (imports, types,
    /// signatures and doc comments; function bodies become a placeholder saying how many lines
    /// they had), or outline (one line per definition with its line range).
    ///
    /// Compressed and outline views need a parser: files in other languages, or with syntax
    /// errors, get the head of the file (compressed) or an empty outline.
    #[arg(
        long,
        value_name = "FIDELITY",
        default_value = "full",
        value_parser = parse_fidelity,
        conflicts_with_all = ["budget", "diff"]
    )]
    pub fidelity: Fidelity,

    #[command(flatten)]
    pub budget: BudgetArgs,

    #[command(flatten)]
    pub change: ChangeArgs,

    /// Pack what an implementation plan needs, for the model that carries it out: the plan
    /// itself first, then the files it references in full, in the order it names them, then
    /// their neighbours (files defining names they use, files using the symbols the plan
    /// changes) as compressed views or outlines; every other file in the tree only.
    ///
    /// A large file (over 4,000 tokens) that the plan names only through symbols or line ranges
    /// is shown as an excerpt: those lines in full, the outline of the rest. The budget holds as
    /// with --budget (default for --plan: 128k); if the referenced files do not all fit, the
    /// summary and stderr name those shown only as views or left out. `ctxpack refs PLAN` shows
    /// how each reference resolved. PLAN may be '-' (standard input) unless --stdin is used.
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["fidelity", "focus"])]
    pub plan: Option<PathBuf>,

    #[command(flatten)]
    pub counting: CountingArgs,

    /// Do not print the summary (and progress) on stderr. Errors and warnings are still printed.
    #[arg(short, long)]
    pub quiet: bool,

    /// Print the whole summary on stderr: every file a plan or change names that the budget
    /// shows only as a view or leaves out, and every secret and example location. By default
    /// each list stops at five, with a count of the rest.
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,
}

/// Reviewing a change: shared by `pack` and `stats`.
#[derive(Debug, Args, Clone)]
pub struct ChangeArgs {
    /// Pack a change for review: the diff git shows (`git diff BASE`), then the files it touches
    /// as they are after the change, then their neighbours, within the budget (default 128k).
    ///
    /// BASE is any revision (`main`, `HEAD~3`): the change from it to the working tree. A range
    /// reads as git reads it: `main...` is what the current branch did since it left main, `a..b`
    /// the difference between two commits (files are then read at the right-hand commit).
    /// Without BASE: uncommitted work, staged and unstaged, against HEAD. Untracked files are not
    /// part of a change until they are added. Needs the git command.
    ///
    /// The diff comes first and is never cut inside a file: when it does not fit, the patches of
    /// the lowest-ranked files are left out whole, and the summary and stderr name them. Secrets
    /// in the diff, added or removed lines alike, are redacted as in files.
    #[arg(
        long,
        value_name = "BASE",
        num_args = 0..=1,
        conflicts_with = "stdin"
    )]
    pub diff: Option<Option<String>>,

    /// With --diff: the last N commit messages of the range, in a <log> element counted in the
    /// budget (without BASE: the last N commits of HEAD).
    #[arg(long, value_name = "N", requires = "diff")]
    pub git_log: Option<usize>,

    /// With --diff: files git does not track yet (and does not ignore) are part of the change,
    /// as new files.
    #[arg(long, requires = "diff")]
    pub untracked: bool,
}

/// Fitting a token budget: shared by `pack` and `stats`, so that stats shows what pack would do.
#[derive(Debug, Args, Clone)]
pub struct BudgetArgs {
    /// Fit the document into N tokens: the whole document as emitted (summary, tree, tags and
    /// text) counts, in the chosen encoding, and never exceeds N.
    ///
    /// Every file gets one fidelity (full, compressed, outline, or left out and listed in the
    /// tree only), chosen to spend the budget on the files that matter most: a ranking by the
    /// repository's reference graph, the --focus, git history and path priors. Accepts 200k,
    /// 1m, 1.5M or 128000 (k = 1,000, m = 1,000,000).
    #[arg(long, value_name = "N", value_parser = parse_budget)]
    pub budget: Option<usize>,

    /// With --budget: keep N tokens of the budget free (for the model's answer or a prompt).
    #[arg(long, value_name = "N", value_parser = parse_budget, requires = "budget")]
    pub reserve: Option<usize>,

    /// With --budget: rank files by their relevance to FILE (a spec, a ticket, a plan) or TEXT
    /// (a question). Repeatable. Identifiers, paths and words in it pull the files that define
    /// or mention them up.
    #[arg(long, value_name = "FILE|TEXT", requires = "budget")]
    pub focus: Vec<String>,
}

/// How text is counted, what is done with secrets in it, and where counts are cached: shared by
/// `pack` and `stats`.
#[derive(Debug, Args, Clone)]
pub struct CountingArgs {
    /// Token encoding: o200k_base (GPT-4o, GPT-4.1, GPT-5, o-series) or cl100k_base (GPT-4,
    /// GPT-3.5).
    #[arg(long, value_name = "NAME", conflicts_with = "model")]
    pub encoding: Option<String>,

    /// Pick the encoding for a model name (gpt-4o, gpt-4, gpt-5, o3, ...). Model families whose
    /// tokenizer is not public (claude-*, gemini-*) are counted with o200k_base, as an
    /// approximation, and a note says so.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// What to do with credentials found in the text of packed files.
    ///
    /// Detected: private keys, AWS, GCP, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, npm
    /// and PyPI tokens, JWTs, passwords in database URLs, high-entropy values assigned to names
    /// like password, secret, token or api_key, and every value in .env files. Known example
    /// values (AKIAIOSFODNN7EXAMPLE, your-api-key, ...) are reported and left in place, as are
    /// matches on a line holding `ctxpack:allow-secret`. Secret values are never printed, and a
    /// secret in a file's path is redacted wherever the path is shown.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = SecretsChoice::Redact)]
    pub secrets: SecretsChoice,

    /// Keep token counts, views, secret findings and ranking terms for the next run here.
    ///
    /// Counting, parsing, scanning for secrets and indexing for the ranking are the costly
    /// stages, and between two runs most files have not changed. Results are stored under a hash
    /// of the text they were made from (and of the encoding, language, fidelity or file name
    /// they depend on), so a changed file is always counted, parsed and scanned again and the
    /// output is identical with or without the cache. One store file per root, readable
    /// by you only, about the size of the views it holds; a store written by another ctxpack
    /// build is replaced. Default: ctxpack in your user cache directory ($XDG_CACHE_HOME or
    /// ~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows), or
    /// $CTXPACK_CACHE_DIR when set and not empty. With --secrets off, views hold secrets as the
    /// files do.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Neither read nor write the cache: count and parse every file. Overrides --cache-dir and
    /// CTXPACK_CACHE_DIR.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub budget: BudgetArgs,

    #[command(flatten)]
    pub change: ChangeArgs,

    #[command(flatten)]
    pub counting: CountingArgs,

    /// Print JSON instead of the tree (schema below, under "JSON"). The JSON lists every file
    /// and directory: --depth, --entries and --top shape only the text.
    #[arg(long)]
    pub json: bool,

    /// Expand directories down to N levels below the root (1: only the root's entries); deeper
    /// directories are one line with their totals. "all" expands everything.
    #[arg(long, value_name = "N|all", default_value = "3", value_parser = parse_limit)]
    pub depth: Limit,

    /// Show at most N entries per directory, the largest first; the rest are summed up in one
    /// line. "all" shows every entry.
    #[arg(long, value_name = "N|all", default_value = "20", value_parser = parse_limit)]
    pub entries: Limit,

    /// List the N largest files (and with --budget, the N highest ranked).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Do not print notes and progress on stderr. Errors and warnings are still printed.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A count limit that can be lifted: `--depth all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    At(usize),
    None,
}

fn parse_limit(raw: &str) -> Result<Limit, String> {
    if raw.trim().eq_ignore_ascii_case("all") {
        return Ok(Limit::None);
    }
    match raw.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(format!(
            "{raw:?} is not a limit: use a number of at least 1, or \"all\""
        )),
        Ok(n) => Ok(Limit::At(n)),
    }
}

#[derive(Debug, Args)]
pub struct OutlineArgs {
    /// The files to outline.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// What to do with credentials in the files (as for `pack`): the outline is made from the
    /// redacted text. omit-file prints nothing for such a file; fail prints nothing and exits 3.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = SecretsChoice::Redact)]
    pub secrets: SecretsChoice,
}

#[derive(Debug, Args)]
pub struct SymbolsArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Print JSON instead of text: {"files": [{"path", "lang", "definitions": [...],
    /// "references": [...]}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RefsArgs {
    /// The plan: a Markdown or text file ('-' reads it from standard input).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Print JSON: per reference its text, plan line(s), kind (file, directory, glob, symbol),
    /// status (exists, new, missing, ambiguous, outside-root), the resolved paths with line
    /// spans, and a note; then a count per status.
    #[arg(long)]
    pub json: bool,

    /// Exit 1 when any reference is missing, outside the root, or a file the plan creates that
    /// exists already (conflict), after printing the report and a summary line on stderr. For CI: catch plans that name files or functions that do not
    /// exist before a coder model follows them.
    #[arg(long)]
    pub check: bool,
}

/// Parses token budgets: `200k`, `1m`, `1.5M`, `128000` (see `tokens::parse_budget`).
pub fn parse_budget(raw: &str) -> Result<usize, String> {
    crate::tokens::parse_budget(raw)
}

fn parse_fidelity(raw: &str) -> Result<Fidelity, String> {
    raw.parse()
}

/// `--secrets` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretsChoice {
    /// Replace each secret with [REDACTED:<rule>] before tokens are counted, and list the
    /// redactions (path, line, rule) in the <summary> and on stderr.
    Redact,
    /// Leave out every file that holds a secret: it is listed in <omitted> with reason "secrets".
    OmitFile,
    /// Write no document; exit 3 and list path:line: rule for every secret (for CI gates).
    Fail,
    /// Do not scan. The <summary> says that scanning was off.
    Off,
}

/// Parses sizes such as `1048576`, `500k`, `1m`, `1.5M`, `2MiB` (k/m/g are binary multiples here:
/// file sizes, unlike token budgets, are conventionally counted in KiB/MiB).
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let text = raw.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {raw:?}: use a number of bytes, or k, m, g (e.g. 500k, 1.5m)"
            ))
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("{raw:?} is not a size: use a number of bytes, or k, m, g (e.g. 500k, 1.5m)")
    })?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{raw:?} is not a valid size"));
    }
    Ok((value * multiplier as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn budgets_parse_with_decimal_units() {
        use super::parse_budget;
        assert_eq!(parse_budget("200k"), Ok(200_000));
        assert_eq!(parse_budget("1m"), Ok(1_000_000));
        assert_eq!(parse_budget("1.5M"), Ok(1_500_000));
        assert_eq!(parse_budget("128000"), Ok(128_000));
        assert_eq!(parse_budget("32K"), Ok(32_000));
        for bad in ["", "lots", "12q", "-5", "0", "1.2.3k"] {
            assert!(parse_budget(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("500k"), Ok(500 * 1024));
        assert_eq!(parse_size("1.5m"), Ok(1_572_864));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("12q").is_err());
        assert!(parse_size("").is_err());
    }
}
