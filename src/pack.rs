//! The library's entry point: a [`Request`] (what to pack, the budget, the focus, a plan, the
//! fidelity, the format, the secrets mode) goes in; a [`Document`] (bytes and exact count) and
//! a [`Report`] (every file's fate, what was left out and why, secrets, cache use, plan
//! resolution) come out as data. Nothing here prints: the command line, the handoff layer and
//! the MCP server each show the report their own way.
//!
//! One call picks the path: a plain pack (`plain`: every file at one fidelity, streamed), a
//! budgeted pack (`fit::budget`), or a steered one: a plan's (`plan::steer`) or a change's under
//! review (`diff::steer`), then a budgeted pack. The plan and diff layers sit below this entry
//! point and above the pipeline: they turn a plan or a change into a steering, and never call
//! back up.

use crate::cache::Cache;
pub use crate::diff::DiffRequest;
use crate::diff::{self, DiffError};
use crate::document::Document;
use crate::file::Tools;
use crate::fit::budget::{self, FitError, Job};
pub use crate::plain::Output;
use crate::plain::{self, PlainError};
pub use crate::plan::PlanInput;
use crate::plan::{self, PlanError};
use crate::rank::Focus;
use crate::render::stats::{BudgetStats, DirectoryNode, Stats};
use crate::render::{self, Format, Summary};
use crate::secrets::{self, Policy, ScanSummary, SecretsFound};
use crate::tokens::{Encoding, Tiktoken};
use crate::types::{Fidelity, FileDecision, Reporter};
use crate::walk::{Entry, Source, WalkError};

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
    /// The change to review: its diff first, then the files it touches, then their neighbours.
    pub diff: Option<DiffRequest>,
    /// The document and its report, or (for `stats` without a budget) the report alone.
    pub output: Output,
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
    /// `None` when the request asked for the report alone (and no budget needed a document).
    pub document: Option<Document>,
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
    /// The whole document's exact count (`None` without a document).
    pub document_tokens: Option<usize>,
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
            document_tokens: self.document_tokens.unwrap_or(0),
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
            self.summary.diff.clone(),
        )
    }
}

impl Report {
    /// Writes what the command line prints on stderr after a pack (and the MCP server returns
    /// beside the document): what the summary says, the exact count, the five largest files,
    /// and with a plan how its references resolved. `destination`: the file's name, if any.
    pub fn write_summary(
        &self,
        out: &mut dyn std::io::Write,
        destination: Option<String>,
        verbose: bool,
    ) -> std::io::Result<()> {
        let mut top: Vec<(String, usize)> = self
            .files
            .iter()
            .filter_map(|f| f.packed.map(|view| (f.path(), view.tokens)))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(5);
        let summary = &self.summary;
        let printed = render::report::PackReport {
            files: summary.files,
            fidelity: summary.fidelity,
            degraded: summary.degraded,
            document_tokens: self.document_tokens.unwrap_or(0),
            encoding: summary.encoding,
            destination,
            top_files: top,
            omitted: summary.omitted.clone(),
            // Every secret found, with how many lie in files a budget leaves out.
            secrets: self.scan.clone(),
            budget: summary.budget.clone(),
            plan: summary.plan.clone(),
            diff: summary.diff.clone(),
            verbose,
        };
        render::report::print_summary(out, &printed)?;
        if let Some(plan) = &self.plan {
            writeln!(out, "  plan {}: {}", plan.name, plan.summary_line)?;
            if !plan.unresolved.is_empty() {
                let more = if plan.more_unresolved > 0 {
                    format!(", and {} more", render::human(plan.more_unresolved))
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "  plan names what the tree does not have: {}{more} (see ctxpack refs)",
                    plan.unresolved.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

/// This call's use of the cache: its lookups of token counts and views, and how many the cache
/// answered (from the store, or from what an earlier pack of the same session made).
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
    #[error(transparent)]
    Secrets(#[from] SecretsFound),
    /// The budget cannot hold the smallest document.
    #[error(transparent)]
    Fit(FitError),
    /// The plain pack's spool could not be kept.
    #[error(transparent)]
    Plain(PlainError),
    #[error(transparent)]
    Plan(PlanError),
    #[error(transparent)]
    Diff(DiffError),
}

impl From<PlainError> for PackError {
    fn from(error: PlainError) -> PackError {
        match error {
            PlainError::Walk(error) => PackError::Walk(error),
            PlainError::Secrets(found) => PackError::Secrets(found),
            error => PackError::Plain(error),
        }
    }
}

impl From<DiffError> for PackError {
    fn from(error: DiffError) -> PackError {
        match error {
            DiffError::Secrets(found) => PackError::Secrets(found),
            error => PackError::Diff(error),
        }
    }
}

impl From<FitError> for PackError {
    fn from(error: FitError) -> PackError {
        match error {
            FitError::Walk(error) => PackError::Walk(error),
            FitError::Secrets(found) => PackError::Secrets(found),
            error => PackError::Fit(error),
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

/// Packs what `request` asks for. `reporter` hears of progress, warnings and notes as the work
/// goes; nothing is printed.
pub fn pack(
    request: &Request,
    session: &Session,
    reporter: &dyn Reporter,
) -> Result<Packed, PackError> {
    let before = session.cache.lookups();
    let counter = Tiktoken::new(request.encoding);
    let policy = Policy::new(request.secrets);
    let cache_use = |session: &Session| {
        let after = session.cache.lookups();
        CacheUse {
            reused: after.0.saturating_sub(before.0),
            lookups: after.1.saturating_sub(before.1),
        }
    };

    let note_plan_secrets = |secrets: usize| {
        if secrets > 0 {
            reporter.note(&format!(
                "the plan holds {} credential{}; the document shows it redacted",
                secrets,
                if secrets == 1 { "" } else { "s" }
            ));
        }
    };
    // A plan, a change, or both steer the pack. A plan alone, checked in the very tree the pack
    // walks, is indexed as the pack reads each file (one walk, one read); otherwise it is
    // checked first, on a walk of its own.
    let one_pass = request
        .plan
        .as_ref()
        .filter(|_| request.diff.is_none() && plan::Reading::walks_with(&request.source));
    let mut plan_report = None;
    let mut steering = None;
    if let (Some(plan), None) = (&request.plan, one_pass) {
        let steered = plan::steer::steer(plan, &request.source, policy, &session.pool)?;
        note_plan_secrets(steered.report.secrets);
        plan_report = Some(steered.report);
        steering = Some(steered.steering);
    }
    let mut focus_texts = request.focus.clone();
    let mut overlay = None;
    if let Some(wanted) = &request.diff {
        let change = diff::read(&request.source.inputs.root, wanted)?;
        let steered = diff::steer::steer(
            &change,
            &request.source,
            policy,
            request.format.renderer(),
            steering.take(),
        )?;
        focus_texts.push(steered.focus);
        overlay = Some(steered.overlay);
        steering = Some(steered.steering);
    }
    let tools = Tools {
        policy,
        renderer: request.format.renderer(),
        encoding: request.encoding,
        counter: &counter,
        cache: &session.cache,
        max_file_size: request.source.max_file_size,
        overlay: overlay.as_ref(),
    };

    let budget = match (&steering, one_pass) {
        (None, None) => request.budget,
        _ => Some(request.budget.unwrap_or(DEFAULT_PLAN_BUDGET)),
    };
    let Some(budget) = budget else {
        let plain = plain::run(
            &request.source,
            request.fidelity,
            request.output,
            &tools,
            &session.pool,
            reporter,
        )?;
        return Ok(Packed {
            report: Report {
                files: plain.files,
                summary: plain.summary,
                scan: plain.scan,
                document_tokens: plain.document.as_ref().map(|d| d.tokens),
                tree_depth: None,
                warnings: plain.warnings,
                plan: None,
                cache: cache_use(session),
            },
            document: plain.document,
        });
    };
    let focus = Focus::new(&focus_texts);
    let job = Job {
        source: &request.source,
        budget,
        focus: &focus,
        steering: steering.as_ref(),
        tools,
        pool: &session.pool,
        reporter,
        exact_counts: request.output == Output::Report,
        observe: None,
    };
    let budgeted = match one_pass {
        None => budget::run(&job)?,
        Some(plan) => {
            // The plan's own credentials are found (and, with --secrets fail, refused) before
            // the tree's, as when the plan is checked on a walk of its own.
            let shown = plan::steer::shown(plan, policy)?;
            note_plan_secrets(shown.1);
            let reading = plan::Reading::new(&plan.text, &plan.path, &request.source);
            let observe = |entry: &Entry, text: Option<&str>| reading.indexer.file(entry, text);
            let survey = budget::survey(&Job {
                observe: Some(&observe),
                ..job
            })?;
            // The survey reports its walk's warnings itself.
            let analysis = reading.finish(Vec::new(), &request.source.inputs.root);
            let steered = plan::steer::steer_by(plan, &request.source, shown, analysis)?;
            plan_report = Some(steered.report);
            let job = Job {
                steering: Some(&steered.steering),
                ..job
            };
            budget::decide(&job, survey)?
        }
    };
    Ok(Packed {
        report: Report {
            files: budgeted.files,
            summary: budgeted.summary,
            scan: budgeted.scan,
            document_tokens: Some(budgeted.document.tokens),
            tree_depth: budgeted.tree_depth,
            warnings: budgeted.warnings,
            plan: plan_report,
            cache: cache_use(session),
        },
        document: Some(budgeted.document),
    })
}
