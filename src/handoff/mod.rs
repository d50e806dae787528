//! The handoff layer: plan → execute → review, each phase's context packed for its model's
//! window, piped into the model's CLI, with a plan contract, a scope check, git worktrees and a
//! cost ledger. A layer on top of the pipeline: it builds requests for `pack::pack` and never
//! calls back into the command line.
//!
//! A phase is a small function: build the prompt from what the pipeline returns, fit it exactly
//! to the model's window, run the model ([`runner`]), record the call ([`ledger`]), write the
//! artifact ([`task`]). Process handling and git stay at the edges.

pub mod apply;
pub mod config;
pub mod ledger;
pub mod prompt;
pub mod review;
pub mod runner;
pub mod scope;
pub mod task;
pub mod worktree;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::diff::{DiffError, DiffRequest};
use crate::git::{Git, GitError};
use crate::pack::{self, Output, PackError, PlanInput, Request, Session};
use crate::plan::{self, Action, Checked, PlanError, Status};
use crate::render::Format;
use crate::secrets;
use crate::tokens::{Tiktoken, TokenCounter};
use crate::types::{Fidelity, Reporter};
use crate::walk::Source;
use apply::ApplyError;
use config::{Config, ConfigError, Edits, Model, Phase};
use ledger::Entry;
use prompt::{PromptError, TaskValues, Template, Values};
pub use review::{parse_review, Finding, Review, Verdict};
use runner::{Ending, RunError};
use scope::Scope;
use task::{Task, TaskError, TaskInfo, Tasks, STATE_DIR};

/// How many times a prompt is refitted when the packed context made it a few tokens too long.
const FIT_ATTEMPTS: usize = 4;

/// Why a phase or a task command could not do its work. Each message says what to run or fix.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Run(#[from] RunError),
    // The message holds the cause: not a `source`, or it would be printed twice.
    #[error("{phase}: {error}")]
    Apply { phase: Phase, error: ApplyError },
    #[error("the handoff layer needs a git repository; {} is not in one (run git init)", dir.display())]
    NotARepository { dir: PathBuf },
    #[error("task {id}: {message}")]
    Order { id: String, message: String },
    #[error("{0}")]
    Refused(String),
    #[error(
        "task {id} is done{}; make a new task to go on (ctxpack task new)",
        branch.as_deref().map_or(String::new(), |b| format!(": its work is on branch {b}"))
    )]
    Done { id: String, branch: Option<String> },
    #[error(
        "task {id}: its worktree {worktree} is gone (removed by hand?); `ctxpack task done {id}` \
         finishes the task (its work is on branch {branch}), or `git worktree prune` then \
         `git worktree add {worktree} {branch}` brings it back"
    )]
    WorktreeGone {
        id: String,
        worktree: String,
        branch: String,
    },
    #[error(
        "task {id}: the {phase} prompt for {model} still took {last} tokens after {FIT_ATTEMPTS} \
         attempts to fit it within {limit}; please report this, with the prompt in {}",
        prompt.display()
    )]
    NoFit {
        id: String,
        phase: Phase,
        model: String,
        limit: usize,
        last: usize,
        prompt: PathBuf,
    },
    #[error(
        "task {id}: {model} changed files during {phase}, a phase that only reads: {}. Its \
         answer is kept in {}; the changes are left as they are for you to look at (git status). \
         Give the model a command that cannot edit: readonly_command in ctxpack.toml",
        files.join(", "),
        artifact.display()
    )]
    ChangedTree {
        id: String,
        phase: Phase,
        model: String,
        files: Vec<String>,
        artifact: PathBuf,
    },
    #[error(
        "task {id}: the executor's changes are in {} but could not be committed: {message}\n\
         ctxpack review {id} reviews them as they are; commit them on branch {branch} yourself \
         when a commit hook is satisfied",
        dir.display()
    )]
    Commit {
        id: String,
        dir: PathBuf,
        branch: String,
        message: String,
    },
    #[error(
        "task {id}: the {phase} prompt's fixed parts ({parts}) alone take {needed} tokens, {} more \
         than the {limit} that model {model}'s window minus its reserve leaves; shorten them, or \
         use a model with a larger window (--model)",
        needed - limit
    )]
    TooLarge {
        id: String,
        phase: Phase,
        parts: &'static str,
        needed: usize,
        limit: usize,
        model: String,
    },
    #[error(
        "task {id}: the plan names what the tree does not have ({list}); fix plan.md, or run \
         without --strict"
    )]
    Strict { id: String, list: String },
    #[error(
        "task {id}: a {phase} call to {model} could cost up to ${would:.4}, and the task has spent \
         ${spent:.4} of its max_cost ${max:.4}; raise [task] max_cost in ctxpack.toml"
    )]
    CostCap {
        id: String,
        phase: Phase,
        model: String,
        spent: f64,
        would: f64,
        max: f64,
    },
    #[error(
        "task {id}: {phase} failed: {tried}; {}",
        partial.as_deref().map_or("no model printed anything".to_string(), |p| format!("the partial output is in {}", p.display()))
    )]
    ModelFailed {
        id: String,
        phase: Phase,
        tried: String,
        partial: Option<PathBuf>,
    },
    #[error(
        "interrupted: {}; nothing else was changed",
        if *.started { "the model's processes were ended" } else { "no model was started" }
    )]
    Interrupted { started: bool },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl HandoffError {
    /// Whether the user asked for something that cannot be (exit 2), rather than the work
    /// failing.
    pub fn is_usage(&self) -> bool {
        match self {
            HandoffError::Config(_)
            | HandoffError::NotARepository { .. }
            | HandoffError::Order { .. }
            | HandoffError::Refused(_)
            | HandoffError::Done { .. }
            | HandoffError::WorktreeGone { .. }
            | HandoffError::TooLarge { .. }
            | HandoffError::File { .. } => true,
            HandoffError::Task(TaskError::Unknown { .. }) => true,
            HandoffError::Diff(error) => error.is_usage(),
            HandoffError::Git(error) => error.is_usage(),
            HandoffError::Run(RunError::NotFound { .. }) => true,
            _ => false,
        }
    }
}

/// Where the phases tell people what happens. The command line prints status lines on stderr
/// and the model's output on stdout as it streams.
pub trait Console: Sync {
    /// A line about what is happening.
    fn status(&self, line: &str);
    /// A piece of the model's output, as it arrives (or a printed prompt).
    fn output(&self, bytes: &[u8]);
    /// Something that went wrong and did not stop the work.
    fn warning(&self, line: &str);
}

/// Passes the pack's warnings to the console.
struct Relay<'a>(&'a dyn Console);

impl Reporter for Relay<'_> {
    fn warning(&self, message: &str) {
        self.0.warning(message);
    }

    fn note(&self, message: &str) {
        self.0.status(message);
    }
}

/// What a phase command was asked.
#[derive(Debug, Clone, Default)]
pub struct PhaseOptions {
    /// `--model NAME`: another model for this run.
    pub model: Option<String>,
    /// `--print`: write the exact prompt to the console's output and call nothing.
    pub print: bool,
    /// `--strict`: execute refuses while the plan has missing references.
    pub strict: bool,
}

/// What a phase did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PhaseOutcome {
    /// The artifact it wrote (`plan.md`, `execute.log`, `review.md`).
    pub artifact: Option<PathBuf>,
    /// After plan (and before execute): the plan check's one-line summary, and what fails it.
    pub check: Option<String>,
    pub unresolved: Vec<String>,
    /// After execute: the scope check.
    pub scope: Option<Scope>,
    /// After review: the verdict.
    pub verdict: Option<Verdict>,
    /// Only the prompt was printed.
    pub printed: bool,
}

/// The handoff layer for one repository.
pub struct Handoff {
    /// The top of the repository's main checkout.
    pub top: PathBuf,
    pub tasks: Tasks,
    /// Where the configuration is (or would be).
    pub config_path: PathBuf,
    /// Set by a Ctrl-C handler; a model call in flight then ends, with its process group.
    pub interrupted: Arc<AtomicBool>,
}

impl Handoff {
    /// The handoff layer of the repository `dir` lies in; `config` is `--config FILE`.
    pub fn open(dir: &Path, config: Option<&Path>) -> Result<Handoff, HandoffError> {
        let top = main_top(dir)?;
        Ok(Handoff {
            tasks: Tasks::new(&top),
            config_path: config
                .map(Path::to_path_buf)
                .unwrap_or_else(|| top.join(config::FILE_NAME)),
            top,
            interrupted: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn config(&self) -> Result<Config, HandoffError> {
        Ok(Config::load(&self.config_path)?)
    }

    fn state_dir(&self) -> PathBuf {
        self.top.join(STATE_DIR)
    }

    /// Makes a task: its directory, its spec (from `spec`, or its title), and with `worktree`
    /// a git worktree on the branch `ctxpack/<id>` from `HEAD`.
    pub fn new_task(
        &self,
        title: &str,
        spec: Option<&Path>,
        with_worktree: bool,
    ) -> Result<Task, HandoffError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(HandoffError::Refused(
                "a task needs a title: ctxpack task new \"Add retry support\" --spec SPEC.md"
                    .into(),
            ));
        }
        let spec_text = match spec {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| HandoffError::File {
                    path: path.to_path_buf(),
                    message: format!("cannot read the spec: {e}"),
                })?;
                if text.trim().is_empty() {
                    return Err(HandoffError::File {
                        path: path.to_path_buf(),
                        message: "the spec is empty".into(),
                    });
                }
                text
            }
            None => format!("# {title}\n"),
        };
        let git = Git::open(&self.top)?;
        let base = git.commit_of("HEAD").map_err(|_| {
            HandoffError::Refused(
                "the repository has no commits yet: commit something first, so the task has a \
                 base to review against"
                    .into(),
            )
        })?;
        exclude_state_dir(&git)?;
        // The id (and the branch and worktree named after it) is made from the title as a
        // prompt shows it: a token in the title reaches none of them.
        let id = self.tasks.new_id(&redact("the title", title));
        let (worktree, branch) = if with_worktree {
            let relative = format!("{STATE_DIR}/worktrees/{id}");
            let branch = format!("ctxpack/{id}");
            worktree::add(&git, &self.top.join(&relative), &branch, &base)?;
            (Some(relative), Some(branch))
        } else {
            (None, None)
        };
        let info = TaskInfo {
            id,
            title: title.to_string(),
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            base,
            worktree,
            branch,
            done: None,
        };
        Ok(self.tasks.create(&info, &spec_text)?)
    }

    /// Finishes a task: removes its worktree (its branch stays) and marks it done. Refused, by
    /// git, when the worktree holds changes that are not committed, unless `force`.
    pub fn done(&self, id: &str, force: bool) -> Result<Option<String>, HandoffError> {
        let mut task = self.tasks.open(id)?;
        let _lock = task.lock()?;
        let mark = |task: &mut Task| -> Result<(), HandoffError> {
            if task.info.done.is_none() {
                task.info.done =
                    Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
                task.save_info()?;
            }
            Ok(())
        };
        let Some(relative) = task.info.worktree.clone() else {
            mark(&mut task)?;
            return Ok(None);
        };
        let path = self.top.join(&relative);
        if path.exists() {
            let git = Git::open(&self.top)?;
            worktree::remove(&git, &path, force).map_err(|error| match error {
                GitError::Failed { message, .. } => HandoffError::Order {
                    id: id.to_string(),
                    message: format!(
                        "git keeps the worktree {relative}: {message}\ncommit the changes on \
                         branch {} or pass --force to discard them",
                        task.info.branch.as_deref().unwrap_or("?")
                    ),
                },
                error => error.into(),
            })?;
        }
        mark(&mut task)?;
        Ok(task.info.branch.clone())
    }

    /// Runs one phase of task `id`.
    pub fn phase(
        &self,
        id: &str,
        phase: Phase,
        options: &PhaseOptions,
        console: &dyn Console,
    ) -> Result<PhaseOutcome, HandoffError> {
        let config = self.config()?;
        let task = self.open_live(id)?;
        let _lock = task.lock()?;
        self.phase_locked(&task, &config, phase, options, console)
    }

    /// Task `id`, unless it is done.
    fn open_live(&self, id: &str) -> Result<Task, HandoffError> {
        let task = self.tasks.open(id)?;
        if task.info.done.is_some() {
            return Err(HandoffError::Done {
                id: task.info.id.clone(),
                branch: task.info.branch.clone(),
            });
        }
        if let Some(worktree) = &task.info.worktree {
            if !self.top.join(worktree).exists() {
                return Err(HandoffError::WorktreeGone {
                    id: task.info.id.clone(),
                    worktree: worktree.clone(),
                    branch: task.info.branch.clone().unwrap_or_default(),
                });
            }
        }
        Ok(task)
    }

    /// Runs `phase` of `task`, whose lock the caller holds.
    fn phase_locked(
        &self,
        task: &Task,
        config: &Config,
        phase: Phase,
        options: &PhaseOptions,
        console: &dyn Console,
    ) -> Result<PhaseOutcome, HandoffError> {
        let model = config.model_for(phase, options.model.as_deref())?;
        // Every command the phase could run exists, before anything runs (a printed prompt
        // runs nothing).
        if !options.print {
            for candidate in chain(config, model) {
                runner::locate(&candidate.command_for(phase)[0])?;
            }
        }
        let run = PhaseRun {
            handoff: self,
            config,
            task,
            console,
            options,
        };
        match phase {
            Phase::Plan => run.plan(model),
            Phase::Execute => run.execute(model),
            Phase::Review => run.review(model),
        }
    }

    /// Plan, execute and review in turn; stops at the first phase that fails (and before
    /// execute, under strict, when the plan check fails).
    pub fn run_all(
        &self,
        id: &str,
        options: &PhaseOptions,
        console: &dyn Console,
        done_with: &mut dyn FnMut(Phase, &PhaseOutcome),
    ) -> Result<Vec<(Phase, PhaseOutcome)>, HandoffError> {
        let config = self.config()?;
        let task = self.open_live(id)?;
        // One lock for all three phases: no other process slips in between them.
        let _lock = task.lock()?;
        let mut done = Vec::new();
        for phase in Phase::ALL {
            console.status(&format!("== {phase}"));
            let outcome = self.phase_locked(&task, &config, phase, options, console)?;
            done_with(phase, &outcome);
            let printed = outcome.printed;
            done.push((phase, outcome));
            if printed {
                break;
            }
        }
        Ok(done)
    }

    /// Every task's status, or task `id`'s.
    pub fn status(&self, id: Option<&str>) -> Result<Vec<TaskStatus>, HandoffError> {
        let ids = match id {
            Some(id) => vec![self.tasks.open(id)?.info.id],
            None => self.tasks.ids(),
        };
        ids.iter()
            .map(|id| Ok(TaskStatus::of(&self.tasks.open(id)?)))
            .collect()
    }

    /// The cost of task `id`, or of every task: by phase and model, and what the same calls
    /// would have cost on the priciest configured model.
    pub fn cost(&self, id: Option<&str>) -> Result<CostReport, HandoffError> {
        let ids = match id {
            Some(id) => vec![self.tasks.open(id)?.info.id],
            None => self.tasks.ids(),
        };
        let mut entries = Vec::new();
        for id in &ids {
            let task = self.tasks.open(id)?;
            entries.extend(ledger::read(
                &task.read(ledger::FILE_NAME).unwrap_or_default(),
            ));
        }
        // The configuration is needed only for the comparison: cost works without it.
        let config = self.config().ok();
        let priciest = config.as_ref().and_then(|c| c.priciest()).map(|model| {
            let cost: f64 = entries
                .iter()
                .map(|e| model.cost(e.input_tokens, e.output_tokens))
                .sum();
            (model.name.clone(), cost)
        });
        Ok(CostReport {
            tasks: ids,
            rollup: ledger::rollup(&entries),
            priciest,
        })
    }
}

/// What `status` shows of a task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub id: String,
    pub title: String,
    pub base: String,
    pub worktree: Option<String>,
    pub branch: Option<String>,
    /// When `task done` finished it.
    pub done: Option<String>,
    /// The plan check's summary line, when there is a plan.
    pub plan: Option<String>,
    /// References that fail the check.
    pub plan_failing: Option<usize>,
    pub executed: bool,
    pub scope: Option<Scope>,
    pub verdict: Option<Verdict>,
    pub cost_usd: f64,
    pub calls: usize,
}

impl TaskStatus {
    fn of(task: &Task) -> TaskStatus {
        let check: Option<CheckRead> = task
            .read("plan-check.json")
            .and_then(|text| serde_json::from_str(&text).ok());
        let entries = ledger::read(&task.read(ledger::FILE_NAME).unwrap_or_default());
        TaskStatus {
            id: task.info.id.clone(),
            title: task.info.title.clone(),
            base: task.info.base.clone(),
            worktree: task.info.worktree.clone(),
            branch: task.info.branch.clone(),
            done: task.info.done.clone(),
            plan: check.as_ref().map(|c| c.summary_line.clone()).or_else(|| {
                task.path("plan.md")
                    .exists()
                    .then(|| "not checked".to_string())
            }),
            plan_failing: check.as_ref().map(|c| c.failing),
            executed: task.path("scope.json").exists(),
            scope: task
                .read("scope.json")
                .and_then(|text| serde_json::from_str(&text).ok()),
            verdict: task
                .read("review.json")
                .and_then(|text| serde_json::from_str::<Review>(&text).ok())
                .map(|review| review.verdict),
            // Folded from +0.0: an empty sum of f64 is -0.0, printed as "$-0.0000".
            cost_usd: entries.iter().fold(0.0, |sum, e| sum + e.cost_usd),
            calls: entries.len(),
        }
    }
}

/// What `cost` shows.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub tasks: Vec<String>,
    pub rollup: ledger::Rollup,
    /// The priciest configured model, and what every call would have cost on it.
    pub priciest: Option<(String, f64)>,
}

/// `plan-check.json`: every reference as `refs --json` gives it, and the verdict in short.
#[derive(Debug, Serialize)]
struct CheckFile<'a> {
    #[serde(flatten)]
    check: &'a Checked,
    summary_line: String,
    /// References that fail `refs --check`.
    failing: usize,
}

/// What `status` reads back of `plan-check.json`.
#[derive(Debug, Deserialize)]
struct CheckRead {
    summary_line: String,
    failing: usize,
}

/// The top of the repository's main checkout, from anywhere in it or in one of its worktrees.
pub fn main_top(dir: &Path) -> Result<PathBuf, HandoffError> {
    let git = Git::open(dir).map_err(|error| match error {
        GitError::NotARepository { dir } => HandoffError::NotARepository { dir },
        error => error.into(),
    })?;
    let common = String::from_utf8_lossy(&git.run(["rev-parse", "--git-common-dir"])?)
        .trim()
        .to_string();
    let common = dir.join(common);
    let common = common.canonicalize().unwrap_or(common);
    match (
        common.file_name().is_some_and(|n| n == ".git"),
        common.parent(),
    ) {
        (true, Some(top)) => Ok(top.to_path_buf()),
        _ => {
            let top = String::from_utf8_lossy(&git.run(["rev-parse", "--show-toplevel"])?)
                .trim()
                .to_string();
            Ok(PathBuf::from(top))
        }
    }
}

/// Keeps `.ctxpack/` out of git: a line in the repository's `info/exclude` (not in a file the
/// user commits).
fn exclude_state_dir(git: &Git) -> Result<(), HandoffError> {
    let common = String::from_utf8_lossy(&git.run(["rev-parse", "--git-common-dir"])?)
        .trim()
        .to_string();
    let exclude = git.dir().join(common).join("info").join("exclude");
    let line = format!("/{STATE_DIR}/");
    let text = std::fs::read_to_string(&exclude).unwrap_or_default();
    if text.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    if let Some(parent) = exclude.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_file(&exclude, e))?;
    }
    let mut text = text;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "# ctxpack's tasks and worktrees (ctxpack task new)\n{line}\n"
    ));
    std::fs::write(&exclude, text).map_err(|e| io_file(&exclude, e))
}

fn io_file(path: &Path, error: std::io::Error) -> HandoffError {
    HandoffError::File {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// `model`, then its fallbacks in order (each once).
fn chain<'c>(config: &'c Config, model: &'c Model) -> Vec<&'c Model> {
    let mut chain = vec![model];
    let mut next = model.fallback.as_deref();
    while let Some(name) = next {
        match config.models.get(name) {
            Some(m) if !chain.iter().any(|c| c.name == m.name) => {
                chain.push(m);
                next = m.fallback.as_deref();
            }
            _ => break,
        }
    }
    chain
}

/// Makes a phase's prompt for a model: its text and its exact count in the model's encoding.
type BuildPrompt<'a> = dyn Fn(&Model) -> Result<(String, usize), HandoffError> + 'a;

/// One phase of one task, under way.
struct PhaseRun<'a> {
    handoff: &'a Handoff,
    config: &'a Config,
    task: &'a Task,
    console: &'a dyn Console,
    options: &'a PhaseOptions,
}

/// What a phase packs for its prompt's `context`.
#[derive(Clone)]
enum Context {
    /// The whole repository, focused on the spec.
    Repository { focus: String },
    /// What the plan needs (`pack --plan`).
    Plan { plan: String },
    /// The change since the task's base (`pack --diff`): the files the executor changed.
    Change { base: String, files: Vec<String> },
}

impl PhaseRun<'_> {
    fn id(&self) -> String {
        self.task.info.id.clone()
    }

    fn workdir(&self) -> PathBuf {
        self.task.workdir(&self.handoff.top)
    }

    fn spec(&self) -> Result<String, HandoffError> {
        match self.task.read("spec.md") {
            Some(spec) if !spec.trim().is_empty() => Ok(spec),
            _ => Err(HandoffError::Order {
                id: self.id(),
                message: format!(
                    "it has no spec: write it to {}",
                    self.task.path("spec.md").display()
                ),
            }),
        }
    }

    fn plan_text(&self) -> Result<String, HandoffError> {
        match self.task.read("plan.md") {
            Some(plan) if !plan.trim().is_empty() => Ok(plan),
            _ => Err(HandoffError::Order {
                id: self.id(),
                message: format!("it has no plan yet: run `ctxpack plan {}` first", self.id()),
            }),
        }
    }

    /// What to walk for the task: its work tree, with the configuration's globs.
    fn source(&self) -> Result<Source, HandoffError> {
        let root = self.workdir();
        let root = root.canonicalize().map_err(|e| io_file(&root, e))?;
        let pack = &self.config.pack;
        Source::for_root(
            &root,
            &pack.include,
            &pack.exclude,
            pack.hidden,
            Some(crate::cache::is_store_name),
        )
        .map_err(|e| HandoffError::File {
            path: self.config.path.clone(),
            message: format!("[pack] {e}"),
        })
    }

    fn session(&self, source: &Source) -> Result<Session, HandoffError> {
        // As `pack` finds it: a relative CTXPACK_CACHE_DIR is relative to where ctxpack runs.
        let cwd = std::env::current_dir().unwrap_or_else(|_| self.handoff.top.clone());
        let cache = match Cache::configured_dir(&cwd) {
            Some(dir) => Cache::open(&dir, &source.inputs.root),
            None => Cache::disabled(),
        };
        Ok(Session::new(source.threads, cache)?)
    }

    /// Packs `context` for `model` within `budget` tokens.
    fn pack(
        &self,
        context: &Context,
        model: &Model,
        budget: usize,
        source: &Source,
        session: &Session,
    ) -> Result<String, HandoffError> {
        let mut request = Request {
            source: source.clone(),
            encoding: model.encoding,
            secrets: secrets::Mode::Redact,
            format: Format::Xml,
            fidelity: Fidelity::Full,
            budget: Some(budget),
            focus: Vec::new(),
            plan: None,
            diff: None,
            output: Output::Document,
        };
        match context {
            Context::Repository { focus } => request.focus.push(focus.clone()),
            Context::Plan { plan } => {
                request.plan = Some(PlanInput {
                    text: plan.clone(),
                    path: self.task.path("plan.md"),
                })
            }
            Context::Change { base, files } => {
                request.diff = Some(DiffRequest {
                    base: Some(base.clone()),
                    log: None,
                    untracked: true,
                    only: Some(files.clone()),
                })
            }
        }
        let packed = pack::pack(&request, session, &Relay(self.console))?;
        // Invariant: the request asks for a document.
        let document = packed.document.expect("a document was asked for");
        let bytes = document.to_bytes().map_err(|e| HandoffError::File {
            path: self.task.dir.clone(),
            message: format!("could not read the packed document back: {e}"),
        })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The prompt for `model`: the template rendered with `values` and a context packed to fill
    /// what the fixed parts leave of the model's window (minus its reserve and margin), counted
    /// exactly in the model's encoding. Refitted if the whole came out a few tokens over.
    fn prompt(
        &self,
        phase: Phase,
        model: &Model,
        values: &Values,
        context: &Context,
        parts: &'static str,
        extra_fixed: usize,
    ) -> Result<(String, usize), HandoffError> {
        let template = Template::for_phase(phase, &self.handoff.state_dir())?;
        let counter = Tiktoken::new(model.encoding);
        let limit = model.prompt_limit();
        let fixed = counter.count(&template.render(values)?) + extra_fixed;
        let too_large = |needed| HandoffError::TooLarge {
            id: self.id(),
            phase,
            parts,
            needed,
            limit,
            model: model.name.clone(),
        };
        if fixed >= limit {
            return Err(too_large(fixed));
        }
        let source = self.source()?;
        let session = self.session(&source)?;
        let mut budget = limit - fixed + extra_fixed;
        let mut last = (String::new(), 0);
        for _ in 0..FIT_ATTEMPTS {
            let packed = match self.pack(context, model, budget, &source, &session) {
                Ok(packed) => packed,
                // The plan inside a plan pack is a fixed part too.
                Err(HandoffError::Pack(PackError::Fit(
                    crate::fit::budget::FitError::BudgetTooSmall { needed },
                ))) => {
                    let _ = session.cache().save();
                    return Err(too_large(fixed - extra_fixed + needed));
                }
                Err(error) => return Err(error),
            };
            let prompt = template.render(&Values {
                context: packed,
                ..values.clone()
            })?;
            let tokens = counter.count(&prompt);
            if tokens <= limit {
                let _ = session.cache().save();
                return Ok((prompt, tokens));
            }
            budget = budget.saturating_sub(tokens - limit + 8);
            last = (prompt, tokens);
        }
        let _ = session.cache().save();
        // Kept for the report: the prompt that did not fit.
        let name = format!("prompts/{}.unfitted.md", phase.name());
        self.task.write(&name, last.0.as_bytes())?;
        Err(HandoffError::NoFit {
            id: self.id(),
            phase,
            model: model.name.clone(),
            limit,
            last: last.1,
            prompt: self.task.path(&name),
        })
    }

    /// The values every phase's template gets; the spec redacted as a pack redacts files.
    fn values(&self, model: &Model) -> Result<Values, HandoffError> {
        Ok(Values {
            task: TaskValues {
                id: self.id(),
                title: redact("the title", &self.task.info.title),
            },
            spec: redact("spec.md", &self.spec()?),
            edits: model.edits.name().to_string(),
            model: model.name.clone(),
            ..Values::default()
        })
    }

    /// Runs the phase's prompt on `model`, then on its retries and fallbacks until one call
    /// succeeds; every call goes to the ledger, and partial output of a failed one is kept as
    /// `<artifact>.partial`. `build` makes the prompt for a model (each is fitted to its own
    /// window); `echo_to` also receives the output as it streams. The model's standard error
    /// is kept in `logs/<phase>.stderr`.
    ///
    /// An agent executor that fails leaves its edits behind: in the task's own worktree, clean
    /// before the call, they are undone before the next attempt; in the main checkout they stay,
    /// and a warning names them.
    fn call(
        &self,
        phase: Phase,
        model: &Model,
        artifact: &str,
        build: &BuildPrompt<'_>,
        echo_to: &mut dyn FnMut(&[u8]),
    ) -> Result<Called, HandoffError> {
        let mut tried = Vec::new();
        let mut changed: Vec<String> = Vec::new();
        let mut partial = None;
        let mut attempt = 0u32;
        let mut spent: f64 = ledger::read(&self.task.read(ledger::FILE_NAME).unwrap_or_default())
            .iter()
            .fold(0.0, |sum, e| sum + e.cost_usd);
        let logs = self.task.path("logs");
        std::fs::create_dir_all(&logs).map_err(|e| io_file(&logs, e))?;
        let stderr_log = logs.join(format!("{}.stderr", phase.name()));
        let workdir = self.workdir();
        for candidate in chain(self.config, model) {
            let interrupted = || {
                self.handoff
                    .interrupted
                    .load(std::sync::atomic::Ordering::SeqCst)
            };
            if interrupted() {
                return Err(HandoffError::Interrupted {
                    started: attempt > 0,
                });
            }
            let (prompt, input_tokens) = build(candidate)?;
            self.task
                .write(&format!("prompts/{}.md", phase.name()), prompt.as_bytes())?;
            let hash = blake3::hash(prompt.as_bytes()).to_hex().to_string();
            for _ in 0..=candidate.retries {
                if interrupted() {
                    return Err(HandoffError::Interrupted {
                        started: attempt > 0,
                    });
                }
                attempt += 1;
                if let Some(max) = self.config.max_cost {
                    let would = candidate.cost(input_tokens, candidate.reserve);
                    if spent + would > max {
                        return Err(HandoffError::CostCap {
                            id: self.id(),
                            phase,
                            model: candidate.name.clone(),
                            spent,
                            would,
                            max,
                        });
                    }
                }
                self.console.status(&format!(
                    "{phase}: {} ({} tokens of its {} window, {} reserved){}",
                    candidate.name,
                    human(input_tokens),
                    human(candidate.window),
                    human(candidate.reserve),
                    if attempt > 1 {
                        format!(", attempt {attempt}")
                    } else {
                        String::new()
                    }
                ));
                if attempt > 1 {
                    echo_to(
                        format!("\n[ctxpack: attempt {attempt}, with {}]\n", candidate.name)
                            .as_bytes(),
                    );
                }
                let edits = phase == Phase::Execute && candidate.edits == Edits::Agent;
                let undo =
                    edits && self.task.info.worktree.is_some() && worktree::is_clean(&workdir)?;
                // What the model changes is what changed while it ran: your own work beside it
                // is yours.
                let before = worktree::snapshot(&workdir, &self.task.info.base)?;
                let started = SystemTime::now();
                let finished = runner::run(
                    &runner::Call {
                        command: candidate.command_for(phase),
                        dir: &workdir,
                        prompt: &prompt,
                        timeout: candidate.timeout,
                        interrupted: &self.handoff.interrupted,
                        stderr_log: Some(&stderr_log),
                    },
                    &mut |bytes| {
                        self.console.output(bytes);
                        echo_to(bytes);
                    },
                )?;
                if finished.stray {
                    self.console.warning(&format!(
                        "{phase}: {} started a process outside its process group that still \
                         held its output when the call ended; it was left running",
                        candidate.name
                    ));
                }
                let after = worktree::snapshot(&workdir, &self.task.info.base)?;
                let made = worktree::differences(&before, &after);
                let output = String::from_utf8_lossy(&finished.output).into_owned();
                let counter = Tiktoken::new(candidate.encoding);
                let output_tokens = counter.count(&output);
                let cost = candidate.cost(input_tokens, output_tokens);
                spent += cost;
                let entry = Entry {
                    task: self.id(),
                    phase: phase.name().to_string(),
                    model: candidate.name.clone(),
                    attempt,
                    started: humantime::format_rfc3339_seconds(started).to_string(),
                    duration_ms: finished.duration.as_millis() as u64,
                    input_tokens,
                    output_tokens,
                    cost_usd: cost,
                    status: finished.ending.describe(),
                    prompt_hash: hash.clone(),
                };
                self.task.append_line(
                    ledger::FILE_NAME,
                    &serde_json::to_string(&entry).expect("entries serialize"),
                )?;
                if finished.ending.is_ok() {
                    changed.extend(made);
                    self.record_changes(&changed)?;
                    changed.sort();
                    changed.dedup();
                    return Ok(Called {
                        output,
                        model: candidate.name.clone(),
                        changed,
                    });
                }
                tried.push(format!(
                    "{} (attempt {attempt}): {}",
                    candidate.name,
                    finished.ending.describe()
                ));
                if !output.trim().is_empty() {
                    self.task
                        .write(&format!("{artifact}.partial"), output.as_bytes())?;
                    partial = Some(self.task.path(&format!("{artifact}.partial")));
                }
                if undo {
                    worktree::restore(&workdir)?;
                } else if !made.is_empty() {
                    self.console.warning(&format!(
                        "{phase}: the failed call to {} left changes in {}: {}",
                        candidate.name,
                        relative_to(&self.handoff.top, &workdir),
                        made.join(", ")
                    ));
                    self.record_changes(&made)?;
                    changed.extend(made);
                }
                if finished.ending == Ending::Interrupted {
                    return Err(HandoffError::Interrupted { started: true });
                }
                self.console.warning(&format!(
                    "{phase}: {} failed: {}",
                    candidate.name,
                    finished.ending.describe()
                ));
            }
        }
        Err(HandoffError::ModelFailed {
            id: self.id(),
            phase,
            tried: tried.join("; "),
            partial,
        })
    }

    /// Runs `call` for a phase that only reads (plan, review) and fails it if the task's
    /// worktree changed meanwhile: the model was given a command that can edit. `artifact` is
    /// written with the answer either way. In the main checkout, where you may be editing too,
    /// a change is a warning, not a failure.
    fn read_only(
        &self,
        phase: Phase,
        model: &Model,
        artifact: &str,
        build: &BuildPrompt<'_>,
    ) -> Result<String, HandoffError> {
        let Called {
            output,
            model: used,
            changed,
        } = self.call(phase, model, artifact, build, &mut |_| {})?;
        self.task.write(artifact, output.as_bytes())?;
        if !changed.is_empty() && self.task.info.worktree.is_none() {
            self.console.warning(&format!(
                "{phase}: files changed in the main checkout while {used} ran: {}. If it made \
                 them, give it a command that cannot edit (readonly_command in ctxpack.toml)",
                changed.join(", ")
            ));
        } else if !changed.is_empty() {
            return Err(HandoffError::ChangedTree {
                id: self.id(),
                phase,
                model: used,
                files: changed,
                artifact: self.task.path(artifact),
            });
        }
        Ok(output)
    }

    /// Checks `plan` against the task's tree and records `plan-check.json`.
    fn check_plan(&self, plan: &str) -> Result<Checked, HandoffError> {
        let source = self.source()?;
        let session = self.session(&source)?;
        let checked = plan::check(plan, &self.task.path("plan.md"), &source, session.pool())?;
        let json = serde_json::to_string_pretty(&CheckFile {
            check: &checked,
            summary_line: checked.summary_line(),
            failing: checked.failing(),
        })
        .expect("a check serializes");
        self.task
            .write("plan-check.json", format!("{json}\n").as_bytes())?;
        Ok(checked)
    }

    fn unresolved(checked: &Checked) -> Vec<String> {
        checked
            .references
            .iter()
            .filter(|r| r.status.fails_check())
            .map(|r| format!("{} (line {}, {})", r.text, r.line, r.status.name()))
            .collect()
    }

    fn plan(&self, model: &Model) -> Result<PhaseOutcome, HandoffError> {
        let spec = self.spec()?;
        let values = self.values(model)?;
        let context = Context::Repository { focus: spec };
        let build = |m: &Model| {
            let values = Values {
                edits: m.edits.name().to_string(),
                model: m.name.clone(),
                ..values.clone()
            };
            self.prompt(
                Phase::Plan,
                m,
                &values,
                &context,
                "spec and instructions",
                0,
            )
        };
        if self.options.print {
            return self.print(&build(model)?.0);
        }
        let output = self.read_only(Phase::Plan, model, "plan.md", &build)?;
        let checked = self.check_plan(&output)?;
        Ok(PhaseOutcome {
            artifact: Some(self.task.path("plan.md")),
            check: Some(checked.summary_line()),
            unresolved: Self::unresolved(&checked),
            ..PhaseOutcome::default()
        })
    }

    fn execute(&self, model: &Model) -> Result<PhaseOutcome, HandoffError> {
        // Read again: the user may have edited the plan since the plan phase.
        let plan = self.plan_text()?;
        let checked = self.check_plan(&plan)?;
        let unresolved = Self::unresolved(&checked);
        if (self.options.strict || self.config.strict) && !unresolved.is_empty() {
            return Err(HandoffError::Strict {
                id: self.id(),
                list: unresolved.join(", "),
            });
        }
        let values = self.values(model)?;
        let shown_plan = redact("plan.md", &plan);
        let context = Context::Plan { plan: plan.clone() };
        let build = |m: &Model| {
            let values = Values {
                edits: m.edits.name().to_string(),
                model: m.name.clone(),
                plan: shown_plan.clone(),
                ..values.clone()
            };
            self.prompt(
                Phase::Execute,
                m,
                &values,
                &context,
                "plan and instructions",
                0,
            )
        };
        if self.options.print {
            return self.print(&build(model)?.0);
        }
        // The log is written as the output comes, so `tail -f` follows a long run.
        let mut log = self.task.stream("execute.log")?;
        let mut log_error = None;
        let Called {
            output,
            model: used,
            ..
        } = self.call(Phase::Execute, model, "execute.log", &build, &mut |b| {
            if log_error.is_none() {
                log_error = std::io::Write::write_all(&mut log, b).err();
            }
        })?;
        if let Some(error) = log_error {
            self.console.warning(&format!(
                "could not write {}: {error}",
                self.task.path("execute.log").display()
            ));
        }
        let used = self.config.models.get(&used).unwrap_or(model);
        if used.edits == Edits::Diff {
            let patch = apply::diffs_in(&output).ok_or(HandoffError::Apply {
                phase: Phase::Execute,
                error: ApplyError::NoDiff,
            })?;
            let applied =
                apply::apply(&self.workdir(), &patch).map_err(|error| HandoffError::Apply {
                    phase: Phase::Execute,
                    error,
                })?;
            self.console
                .status(&format!("execute: applied {}", applied.describe()));
            let files: Vec<String> = applied.files.iter().map(|f| f.0.clone()).collect();
            self.record_changes(&files)?;
        }
        // The scope check is recorded before the commit: if a commit hook refuses it, the
        // review can still run on the uncommitted changes.
        let scope = self.scope(&planned_files(&checked))?;
        if self.task.info.worktree.is_some() {
            let message = format!(
                "ctxpack {}: execute with {}\n\n{}",
                self.id(),
                used.name,
                redact("the title", &self.task.info.title)
            );
            worktree::commit_all(&self.workdir(), &message).map_err(|error| {
                HandoffError::Commit {
                    id: self.id(),
                    dir: self.workdir(),
                    branch: self.task.info.branch.clone().unwrap_or_default(),
                    message: error.to_string(),
                }
            })?;
        }
        Ok(PhaseOutcome {
            artifact: Some(self.task.path("execute.log")),
            check: Some(checked.summary_line()),
            unresolved,
            scope: Some(scope),
            ..PhaseOutcome::default()
        })
    }

    /// The files the task's models changed (while they ran, or by their applied diffs) that
    /// still differ from the task's base: what the scope check and the review look at. Your own
    /// work beside them is not theirs.
    fn executor_changes(&self) -> Result<Vec<String>, HandoffError> {
        let recorded = self.recorded_changes();
        let now = worktree::changed_files(&self.workdir(), &self.task.info.base)?;
        Ok(now.into_iter().filter(|f| recorded.contains(f)).collect())
    }

    fn recorded_changes(&self) -> Vec<String> {
        self.task
            .read(MODEL_CHANGES)
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Adds `files` to what the task's models changed.
    fn record_changes(&self, files: &[String]) -> Result<(), HandoffError> {
        if files.is_empty() {
            return Ok(());
        }
        let mut all = self.recorded_changes();
        all.extend(files.iter().cloned());
        all.sort();
        all.dedup();
        let json = serde_json::to_string_pretty(&all).expect("a list serializes");
        self.task
            .write_state(MODEL_CHANGES, format!("{json}\n").as_bytes())?;
        Ok(())
    }

    /// The scope check: `planned` (the files the plan changes) against the files the executor
    /// changed; recorded in `scope.json`.
    fn scope(&self, planned: &[String]) -> Result<Scope, HandoffError> {
        let scope = Scope::check(planned, &self.executor_changes()?);
        let json = serde_json::to_string_pretty(&scope).expect("a scope serializes");
        self.task
            .write("scope.json", format!("{json}\n").as_bytes())?;
        Ok(scope)
    }

    fn review(&self, model: &Model) -> Result<PhaseOutcome, HandoffError> {
        let plan = self.plan_text()?;
        // The scope check is written when an execute succeeds; the plan's files are the ones
        // that execute checked (the tree has changed since, so the plan is not checked again).
        let Some(executed) = self
            .task
            .read("scope.json")
            .and_then(|text| serde_json::from_str::<Scope>(&text).ok())
        else {
            return Err(HandoffError::Order {
                id: self.id(),
                message: format!(
                    "nothing was executed yet: run `ctxpack execute {}` first",
                    self.id()
                ),
            });
        };
        let scope = self.scope(&executed.planned())?;
        let base = self.task.info.base.clone();
        // What the executor changed (new files too) is the change; the user's own work beside
        // it in the main checkout is not.
        let files = self.executor_changes()?;
        let request = DiffRequest {
            base: Some(base.clone()),
            log: None,
            untracked: true,
            only: Some(files.clone()),
        };
        // The diff is a fixed part: a review of half a change is no review.
        let change = crate::diff::read(&self.workdir(), &request)?;
        let diff: String = change.patches.iter().map(|p| p.text.as_str()).collect();
        let values = Values {
            plan: redact("plan.md", &plan),
            scope: scope.describe(),
            diff: redact("the diff", &diff),
            ..self.values(model)?
        };
        let context = Context::Change { base, files };
        let build = |m: &Model| {
            let counter = Tiktoken::new(m.encoding);
            let diff_tokens: usize = change
                .patches
                .iter()
                .map(|p| counter.count(&p.text) + 40)
                .sum();
            let values = Values {
                edits: m.edits.name().to_string(),
                model: m.name.clone(),
                ..values.clone()
            };
            self.prompt(
                Phase::Review,
                m,
                &values,
                &context,
                "spec, plan, scope and diff",
                diff_tokens,
            )
        };
        if self.options.print {
            return self.print(&build(model)?.0);
        }
        let output = self.read_only(Phase::Review, model, "review.md", &build)?;
        let review = parse_review(&output);
        let json = serde_json::to_string_pretty(&review).expect("a review serializes");
        self.task
            .write("review.json", format!("{json}\n").as_bytes())?;
        Ok(PhaseOutcome {
            artifact: Some(self.task.path("review.md")),
            scope: Some(scope),
            verdict: Some(review.verdict),
            ..PhaseOutcome::default()
        })
    }

    fn print(&self, prompt: &str) -> Result<PhaseOutcome, HandoffError> {
        self.console.output(prompt.as_bytes());
        Ok(PhaseOutcome {
            printed: true,
            ..PhaseOutcome::default()
        })
    }
}

/// The files the task's models changed, recorded as they change them.
const MODEL_CHANGES: &str = "changed.json";

/// A model call that succeeded: its answer, the model that gave it, and the files that changed
/// while the calls of this phase ran.
struct Called {
    output: String,
    model: String,
    changed: Vec<String>,
}

/// `text` as a prompt may show it: secrets replaced, as a pack replaces them in files.
fn redact(name: &str, text: &str) -> String {
    secrets::Policy::new(secrets::Mode::Redact)
        .redact_text(name, text)
        .text
        .into_owned()
}

/// `path` relative to `top` for messages, or as it is.
fn relative_to(top: &Path, path: &Path) -> String {
    match path.strip_prefix(top) {
        Ok(rel) if rel.as_os_str().is_empty() => "the main checkout".to_string(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// The files a plan means to change: what its `## Files` section creates, modifies or deletes;
/// without one, every file it names that exists or is new.
pub fn planned_files(checked: &Checked) -> Vec<String> {
    let path_of = |r: &plan::Reference| {
        r.resolved
            .first()
            .map(|x| x.path.clone())
            .unwrap_or_else(|| r.text.split(':').next().unwrap_or(&r.text).to_string())
    };
    let contract: Vec<&plan::Reference> = checked
        .references
        .iter()
        .filter(|r| r.action.is_some())
        .collect();
    let mut files: Vec<String> = if contract.is_empty() {
        checked
            .references
            .iter()
            .filter(|r| r.kind == plan::Kind::File)
            .filter(|r| matches!(r.status, Status::Exists | Status::New))
            .map(path_of)
            .collect()
    } else {
        contract
            .into_iter()
            .filter(|r| r.action.is_some_and(Action::changes))
            .map(path_of)
            .collect()
    };
    files.sort();
    files.dedup();
    files
}

fn human(n: usize) -> String {
    crate::render::human(n)
}
