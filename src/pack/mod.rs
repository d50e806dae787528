//! The library's entry point: a [`Request`] (what to pack, the budget, the focus, a plan, the
//! fidelity, the format, the secrets mode) goes in; a [`Document`] (bytes and exact count) and
//! a [`Report`] (every file's fate, what was left out and why, secrets, cache use, plan
//! resolution) come out as data. Nothing here prints: the command line, the handoff layer and
//! the MCP server each show the report their own way.
//!
//! One call picks the path: a plain pack ([`plain`]: every file at one fidelity, streamed), a
//! budgeted pack (`fit::budget`), or a plan pack (the plan's steering, then a budgeted pack).

pub mod plain;

use std::path::PathBuf;

use crate::cache::Cache;
use crate::document::Document;
use crate::file::Tools;
use crate::fit::budget::{self, FitError, Job};
pub use crate::plan::PlanInput;
use crate::plan::{self, PlanError};
use crate::rank::Focus;
use crate::render::stats::{BudgetStats, DirectoryNode, Stats};
use crate::render::{self, Format, Summary};
use crate::secrets::{self, Policy, ScanSummary, SecretsFound};
use crate::tokens::{Encoding, Tiktoken};
use crate::types::{Fidelity, FileDecision, Progress};
use crate::walk::{Source, WalkError};

/// The budget of a plan pack when the request names none.
pub const DEFAULT_PLAN_BUDGET: usize = 128_000;

/// What to pack, and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// Which files to read.
    pub source: Source,
    /// How tokens are counted.
    pub encoding: Encoding,
    /// What to do with secrets.
    pub secrets: secrets::Mode,
    pub format: Format,
    /// The one fidelity of a plain pack (a budgeted pack chooses per file).
    pub fidelity: Fidelity,
    /// The tokens the whole document may use; `None` packs every file.
    pub budget: Option<usize>,
    /// What the reader is about to work on: texts (a spec, a question) that steer the ranking.
    pub focus: Vec<String>,
    /// The plan to pack for: its files first, then their neighbours.
    pub plan: Option<PlanInput>,
}

/// State that lives across packs of one root: the cache between runs and the worker pool. A
/// server or a handoff task keeps one for many requests; the command line makes one per run.
pub struct Session {
    cache: Cache,
    pool: rayon::ThreadPool,
}

impl Session {
    /// A session with `threads` workers (at least one) and `cache`.
    pub fn new(threads: usize, cache: Cache) -> Result<Session, PackError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("ctxpack-{i}"))
            .build()
            .map_err(PackError::Threads)?;
        Ok(Session { cache, pool })
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }
}

/// A document and its report.
pub struct Packed {
    pub document: Document,
    pub report: Report,
}

/// What a pack did, as data.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every file considered, in path order, with what the pack did with it.
    pub files: Vec<FileDecision>,
    /// What the document's summary says: counts per fidelity, omitted files per reason, the
    /// secrets in the files it holds, the budget and the plan.
    pub summary: Summary,
    /// Every secret found in the tree (with `left_out`: how many lie in files a budgeted document
    /// leaves out).
    pub scan: ScanSummary,
    /// The whole document's exact count.
    pub document_tokens: usize,
    /// With a budget: the depth (0: the top level) at which the document's tree shows each
    /// directory as one line, when the whole tree would have taken too much of the budget.
    pub tree_depth: Option<usize>,
    /// Warnings for people (paths redacted): files that could not be read, ignore files that
    /// could not be parsed.
    pub warnings: Vec<String>,
    /// With a plan: how its references resolved.
    pub plan: Option<plan::steer::PlanReport>,
    /// How many token counts and views came from the cache, of how many looked up.
    pub cache: CacheUse,
}

impl Report {
    /// The `stats` report of this pack (`reserve`: the tokens `--reserve` kept free of the
    /// budget), and its directory tree for the text form.
    pub fn stats(&self, reserve: usize) -> (Stats, DirectoryNode) {
        let budget = self.summary.budget.as_ref().map(|counts| BudgetStats {
            budget: counts.budget,
            reserve,
            document_tokens: self.document_tokens,
            tree_depth: self.tree_depth,
            full: counts.full,
            compressed: counts.compressed,
            outline: counts.outline,
            left_out: self
                .files
                .iter()
                .filter(|f| f.full_tokens.is_ok() && f.packed.is_none())
                .count(),
        });
        render::stats::build(
            &self.summary.root_name,
            self.summary.encoding,
            self.files.clone(),
            &self.scan,
            budget,
        )
    }
}

/// This call's use of the cache between runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheUse {
    pub reused: usize,
    pub lookups: usize,
}

/// Why a pack failed. Each message says what could not be done.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("could not start worker threads")]
    Threads(#[source] rayon::ThreadPoolBuildError),
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(
        "could not keep the rendered files in a temporary file in {} (set TMPDIR to a writable \
         directory with free space)",
        dir.display()
    )]
    Spool {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Secrets(#[from] SecretsFound),
    #[error(
        "the budget is too small: the smallest document (summary, collapsed tree, the list of \
         omitted files, and with --plan the plan itself) needs {needed} tokens; use --budget \
         {needed} or more"
    )]
    BudgetTooSmall { needed: usize },
    #[error(transparent)]
    Plan(PlanError),
}

impl From<FitError> for PackError {
    fn from(error: FitError) -> PackError {
        match error {
            FitError::Walk(error) => PackError::Walk(error),
            FitError::Secrets(found) => PackError::Secrets(found),
            FitError::BudgetTooSmall { needed } => PackError::BudgetTooSmall { needed },
        }
    }
}

impl From<PlanError> for PackError {
    fn from(error: PlanError) -> PackError {
        match error {
            PlanError::Secrets(found) => PackError::Secrets(found),
            PlanError::Walk(error) => PackError::Walk(error),
            error => PackError::Plan(error),
        }
    }
}

/// Packs what `request` asks for. Progress goes to `progress`; nothing is printed.
pub fn pack(
    request: &Request,
    session: &Session,
    progress: &dyn Progress,
) -> Result<Packed, PackError> {
    let before = session.cache.hits();
    let counter = Tiktoken::new(request.encoding);
    let policy = Policy::new(request.secrets);
    let tools = Tools {
        policy,
        renderer: request.format.renderer(),
        encoding: request.encoding,
        counter: &counter,
        cache: &session.cache,
        max_file_size: request.source.max_file_size,
    };
    let cache_use = |session: &Session| {
        let after = session.cache.hits();
        CacheUse {
            reused: after.0.saturating_sub(before.0),
            lookups: after.1.saturating_sub(before.1),
        }
    };

    let (steered, budget) = match &request.plan {
        Some(plan) => {
            let steered = plan::steer::steer(plan, &request.source, policy, &session.pool)?;
            (Some(steered), request.budget.or(Some(DEFAULT_PLAN_BUDGET)))
        }
        None => (None, request.budget),
    };
    let Some(budget) = budget else {
        let plain = plain::pack(request, &tools, &session.pool, progress)?;
        return Ok(Packed {
            report: Report {
                files: plain.files,
                summary: plain.summary,
                scan: plain.scan,
                document_tokens: plain.document.tokens,
                tree_depth: None,
                warnings: plain.warnings,
                plan: None,
                cache: cache_use(session),
            },
            document: plain.document,
        });
    };
    let focus = Focus::new(&request.focus);
    let job = Job {
        source: &request.source,
        budget,
        focus: &focus,
        steering: steered.as_ref().map(|s| &s.steering),
        tools,
        pool: &session.pool,
        progress,
    };
    let budgeted = budget::pack(&job)?;
    Ok(Packed {
        report: Report {
            files: budgeted.files,
            summary: budgeted.summary,
            scan: budgeted.scan,
            document_tokens: budgeted.document.tokens,
            tree_depth: budgeted.tree_depth,
            warnings: budgeted.warnings,
            plan: steered.map(|s| s.report),
            cache: cache_use(session),
        },
        document: budgeted.document,
    })
}
