//! The budgeted pack (`pack --budget`, and `pack --plan` through [`Steering`]): survey every
//! file, rank them, choose one fidelity per file with the solver, render what was chosen, and
//! verify the whole document's exact count against the budget.
//!
//! The survey counts each file's full text exactly and indexes it for ranking; nothing is parsed
//! yet. Compressed and outline sizes start as estimates from the full count, and a file is parsed
//! only when the fit picks one of those views for it; from then on its exact size replaces the
//! estimate. Rounds of fit → render → exact count continue until the document is within the
//! budget and uses at least 97 % of it (or nothing more fits).
//!
//! The decision runs in named steps, each a function below: [`survey`], `rank::rank` and
//! [`positions`] (or [`roles`] under a steering), [`options`], [`frame`], [`rounds`],
//! [`attention_order`], then the decisions and the document ([`decide`]).
//!
//! Order: files appear in decreasing rank from both ends towards the middle (ranks 1, 3, 5, …
//! first, …, 6, 4, 2 last). Models attend most to the beginning and the end of a long context,
//! so the most relevant files sit where attention is highest and the least relevant in the middle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;

use rayon::iter::{IntoParallelRefIterator as _, ParallelIterator as _};

use super::{solve, Choice, Item, Solution};
use crate::document::Document;
use crate::file::{CachedCount, Element, Left, SourceFile, Tools};
use crate::lang::{self, grammar, Language};
use crate::rank::{self, Definers, FileIndex, Focus, Names, RankInput};
use crate::render::{
    omitted_counts, BudgetSummary, DiffSummary, PatchElement, PlanSummary, Summary, TreeItem,
};
use crate::secrets::{redact_name, Finding, Located, Policy, ScanSummary, SecretsFound};
use crate::tokens::{self, TokenCounter as _};
use crate::types::{Fidelity, FileDecision, OmitReason, PackedView, RelPath, Reporter};
use crate::walk::{self, Entry, Source, Status, WalkError};

/// Share of the full text that views are estimated at before they are made.
const COMPRESSED_ESTIMATE: f64 = 0.35;
const OUTLINE_ESTIMATE: f64 = 0.10;
/// How much a reader gets from each view, relative to the full text, as (compressed, outline).
/// Without a focus, views are the overview and worth more per token than the text.
const VIEW_VALUES: (f64, f64) = (0.55, 0.2);
/// With a focus, the reader is about to change files, and a file cannot be changed through a view
/// of it: views are worth a little less per token than the text (compare the estimates above), so
/// they fill the room whole files leave rather than crowd the most relevant files' text out.
const FOCUS_VIEW_VALUES: (f64, f64) = (0.3, 0.08);
/// The tree may take at most this share of the budget before directories are collapsed: at small
/// budgets, file text is worth more than a listing of every path.
const TREE_SHARE: f64 = 0.1;
/// With a focus, the task is known and the files it needs matter more than the map of the rest.
const FOCUS_TREE_SHARE: f64 = 0.05;
/// Rounds of fit → render → count before settling for the best document within budget.
const ROUNDS: usize = 16;

/// A file bigger than this many tokens, referenced only by symbols or line ranges, is shown as an
/// excerpt: those lines in full, the outline of the rest.
const EXCERPT_ABOVE: usize = 4_000;
/// How much a required file is worth next to any other: enough that every required file is in
/// before any neighbour, and upgraded to full before a neighbour gets a view.
const REQUIRED_VALUE: f64 = 1_000.0;

/// How a layer above the pipeline (a plan, a change under review) steers a budgeted pack: what
/// comes first, which files the document must hold, and which others are worth a view. Without
/// it, the ranking decides.
#[derive(Debug, Default, Clone)]
pub struct Steering {
    /// The plan, written before the summary and counted in the budget.
    pub plan: Option<PlanText>,
    /// The change under review, after the plan: its patches come before every file.
    pub diff: Option<DiffText>,
    /// Commit messages, after the diff (redacted).
    pub log: Option<String>,
    /// Files the document must hold, in the order it holds them (see `rank_required`).
    pub required: Vec<Required>,
    /// Order the required files by rank within each of their groups, rather than as listed.
    pub rank_required: bool,
    /// Files with a weaker claim (candidates of an ambiguous name): views, after the required.
    pub candidates: Vec<String>,
    /// Names being changed: files that use them are neighbours of the required files.
    pub changed: HashSet<String>,
    /// Count only those of `changed` that a required file defines (a diff's changed lines name
    /// many things they only use).
    pub changed_defined_by_required: bool,
    /// Names whose definition is gone (a change removed it): files that still use them are
    /// neighbours.
    pub removed: HashSet<String>,
    /// Files never shown (the plan itself, which the document holds already).
    pub skip: Vec<String>,
    /// What secret scanning found in the prelude (a diff, commit messages), by label.
    pub scan: ScanSummary,
}

/// A change under review, as the document shows it.
#[derive(Debug, Clone)]
pub struct DiffText {
    /// The base as given, and where the files after the change are.
    pub base: String,
    pub head: String,
    /// File by file, in git's order, each redacted.
    pub patches: Vec<PatchText>,
    /// Files whose patch holds a secret and is left out (`--secrets omit-file`).
    pub withheld: Vec<String>,
}

/// One file's part of a diff.
#[derive(Debug, Clone)]
pub struct PatchText {
    /// After the change (before it, for a deleted file), as the document shows paths.
    pub path: String,
    /// The path the document's files are matched on (unredacted).
    pub key: String,
    pub from: Option<String>,
    pub status: &'static str,
    pub binary: bool,
    pub added: usize,
    pub removed: usize,
    pub text: String,
    pub redactions: usize,
}

/// The plan a plan pack is made for, as the document shows it.
#[derive(Debug, Clone)]
pub struct PlanText {
    /// Its name (relative to the root, or its file name; never a machine path), redacted.
    pub name: String,
    /// Its text, redacted unless scanning is off.
    pub text: String,
    /// Secrets replaced in `text`.
    pub redactions: usize,
}

/// A file the document must hold.
#[derive(Debug, Clone)]
pub struct Required {
    /// As the walk shows it (relative, `/`).
    pub path: String,
    /// The line spans wanted (1-based, inclusive); with `whole` false and a large file, the
    /// document shows just these and the outline of the rest.
    pub spans: Vec<(usize, usize)>,
    pub whole: bool,
    /// Named by the plan itself, not as a member of a directory or glob it names: worth more.
    pub direct: bool,
    /// With `rank_required`, files are ranked within their group, groups in order (a change's
    /// touched files, then a plan's).
    pub group: usize,
}

/// Everything a budgeted pack works from.
pub struct Job<'a> {
    pub source: &'a Source,
    /// The tokens the document may use.
    pub budget: usize,
    pub focus: &'a Focus,
    pub steering: Option<&'a Steering>,
    pub tools: Tools<'a>,
    pub pool: &'a rayon::ThreadPool,
    pub reporter: &'a dyn Reporter,
    /// Count every file exactly for the report (`stats`). The choice does not depend on it:
    /// files are chosen by estimates either way, and what the document holds is counted exactly.
    pub exact_counts: bool,
    /// Sees every file the walk finds, with its text as loaded from disk (`None`: not read as
    /// text): a layer above that learns about the tree in the same pass (a plan's reference
    /// index). Not for packs with an overlay, whose texts are not the files on disk.
    pub observe: Option<&'a Observer<'a>>,
}

/// See [`Job::observe`].
pub type Observer<'a> = dyn Fn(&Entry, Option<&str>) + Sync + 'a;

/// Why a budgeted pack failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Secrets(#[from] SecretsFound),
    #[error(
        "the budget is too small: the smallest document (summary, collapsed tree, the list of \
         omitted files, and with --plan the plan itself) needs {needed} tokens; use --budget \
         {needed} or more"
    )]
    BudgetTooSmall { needed: usize },
}

/// What a budgeted pack made.
pub struct Budgeted {
    pub document: Document,
    /// Every file considered, in path order.
    pub files: Vec<FileDecision>,
    /// The document's summary: counts per fidelity, omitted files, the secrets it holds.
    pub summary: Summary,
    /// Every secret found in the tree, and (`left_out`) how many are in files the document
    /// leaves out: what stderr and `stats` report. The summary lists only the document's.
    pub scan: ScanSummary,
    /// The depth (0: the top level) at which the document's tree shows each directory as one
    /// line, when the whole tree would have taken too much of the budget.
    pub tree_depth: Option<usize>,
    /// Warnings for people (already redacted).
    pub warnings: Vec<String>,
}

/// What the survey learned about one file.
pub struct Measured {
    pub entry: Entry,
    /// Full-text tokens (exact with [`Job::exact_counts`], else the estimate), or why the file
    /// is left out.
    pub tokens: Result<usize, Left>,
    /// [`tokens::estimate`] of the full text: what the fit chooses by before it counts.
    pub estimate: usize,
    pub index: FileIndex,
    pub parseable: bool,
    /// Lines of text (0 when not read).
    pub lines: usize,
    /// Source code (not Markdown or text): what a plan's neighbourhood is made of.
    pub code: bool,
    pub findings: Vec<Finding>,
}

/// Every file the walk found, read, counted and indexed for ranking, with what the secrets scan
/// found.
pub struct Survey {
    /// In path order.
    pub files: Vec<Measured>,
    /// The identifiers of their ranking indexes.
    pub names: Names,
    pub scan: ScanSummary,
    pub warnings: Vec<String>,
}

/// Hands the memory freed so far back to the system. glibc's allocator returns a freed block to
/// the arena that allocated it: what the worker threads allocated, and the main thread has now
/// freed, stays in their arenas, where the main thread's later allocations (the tokenizer's
/// vocabulary, the document) cannot reuse it.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs a budgeted pack: [`survey`], then [`decide`].
pub fn run(job: &Job<'_>) -> Result<Budgeted, FitError> {
    let survey = survey(job)?;
    decide(job, survey)
}

/// Walks, reads, counts and indexes every file for ranking. With `--secrets fail`, any secret is
/// an error.
pub fn survey(job: &Job<'_>) -> Result<Survey, FitError> {
    let tools = &job.tools;
    let names = Names::new();
    let work = |entry: Entry| {
        measure(
            entry,
            tools,
            job.focus,
            &names,
            job.exact_counts,
            job.observe,
        )
    };
    let mut files: Vec<Measured> = Vec::new();
    let mut consume = |measured: Measured| {
        job.reporter.file_done();
        files.push(measured);
        ControlFlow::Continue(())
    };
    let walk_warnings = walk::walk_with(
        &job.source.inputs,
        &job.source.walk,
        job.pool,
        &work,
        &mut consume,
    )?;
    // Files that stand in for files on disk (a change's files at its right-hand commit) and
    // that the walk did not find: the document holds them as the commit has them.
    if let Some(overlay) = tools.overlay {
        let walked: HashSet<String> = files.iter().map(|f| f.entry.rel.unredacted()).collect();
        let mut missing: Vec<&String> = overlay
            .keys()
            .filter(|path| !walked.contains(*path))
            .collect();
        missing.sort();
        for path in missing {
            let entry = Entry {
                rel: RelPath::from_relative(std::path::Path::new(path)),
                abs: job.source.inputs.root.join(path),
                status: Status::Load,
            };
            files.push(measure(
                entry,
                tools,
                job.focus,
                &names,
                job.exact_counts,
                None,
            ));
        }
    }
    // Warnings name paths: they are redacted like the paths in the document.
    let mut warnings: Vec<String> = walk_warnings
        .iter()
        .map(|w| tools.policy.shown(w))
        .collect();
    files.sort_unstable_by(|a, b| a.entry.rel.cmp(&b.entry.rel));
    for file in &files {
        if let Err((OmitReason::Unreadable, Some(detail))) = &file.tokens {
            warnings.push(format!(
                "skipped {}: {}",
                file.entry.rel.display(),
                tools.policy.shown(detail)
            ));
        }
    }
    for warning in &warnings {
        job.reporter.warning(warning);
    }
    let scan = tools.policy.summarize(
        files
            .iter()
            .map(|f| (f.entry.rel.display(), &f.findings[..])),
    );
    tools.policy.verdict(&scan)?;
    Ok(Survey {
        files,
        names,
        scan,
        warnings,
    })
}

/// One file's survey: its full count (estimated unless `exact`), its ranking index, and what
/// ranking and views need to know.
fn measure(
    mut entry: Entry,
    tools: &Tools<'_>,
    focus: &Focus,
    names: &Names,
    exact: bool,
    observe: Option<&Observer<'_>>,
) -> Measured {
    let mut seen = false;
    let (read, findings) = match observe {
        Some(observe) => tools.open_seen(&mut entry, &mut |entry, text| {
            seen = true;
            observe(entry, Some(text));
        }),
        None => tools.open(&mut entry),
    };
    if let (Some(observe), false) = (observe, seen) {
        observe(&entry, None);
    }
    match read {
        Ok(source) => {
            let estimate = tokens::estimate(&source.text);
            Measured {
                tokens: Ok(if exact {
                    tools.count(&source.text).total()
                } else {
                    estimate
                }),
                estimate,
                index: FileIndex::new(tools.terms(&source.text), focus, names),
                parseable: grammar::parses(source.language),
                lines: memchr::memchr_iter(b'\n', source.text.as_bytes()).count() + 1,
                code: !matches!(source.language, Language::Markdown | Language::Text),
                entry,
                findings,
            }
        }
        Err(left) => Measured {
            entry,
            tokens: Err(left),
            estimate: 0,
            index: FileIndex::default(),
            parseable: false,
            lines: 0,
            code: false,
            findings,
        },
    }
}

/// Ranks as positions: the highest score first, ties in path order.
pub fn positions(scores: &[f64]) -> Vec<usize> {
    let mut by_score: Vec<usize> = (0..scores.len()).collect();
    by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut rank_of = vec![0usize; scores.len()];
    for (position, &c) in by_score.iter().enumerate() {
        rank_of[c] = position + 1;
    }
    rank_of
}

/// What a budgeted pack's role for one candidate file is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// Ranked like every file (no steering).
    Ranked,
    /// Required, at this position in the steering's order.
    Required(usize),
    /// Next to the required files, this strongly (0, 1]: compressed or outline only.
    Near(f64),
    /// Steered away: the tree only.
    Left,
}

/// Each candidate's role under `steering`, and its rank in the document's order: required files
/// in the steering's order, then neighbours by how strongly they are tied, then the rest by
/// score. `unredacted` are the candidates' paths before redaction: a plan names files by their
/// real names.
pub fn roles(
    steering: &Steering,
    unredacted: &[String],
    inputs: &[RankInput<'_>],
    definers: &Definers<'_>,
    scores: &[f64],
) -> (Vec<Role>, Vec<usize>) {
    let position: HashMap<&str, usize> = unredacted
        .iter()
        .enumerate()
        .map(|(c, p)| (p.as_str(), c))
        .collect();
    let mut roles = vec![Role::Left; unredacted.len()];
    let mut seeds = Vec::new();
    for (k, required) in steering.required.iter().enumerate() {
        if let Some(&c) = position.get(required.path.as_str()) {
            roles[c] = Role::Required(k);
            seeds.push(c);
        }
    }
    let changed: HashSet<String> = if steering.changed_defined_by_required {
        steering
            .changed
            .iter()
            .filter(|name| {
                definers.names.get(name).is_some_and(|name| {
                    seeds
                        .iter()
                        .any(|&seed| inputs[seed].index.definitions.contains(&name))
                })
            })
            .cloned()
            .collect()
    } else {
        steering.changed.clone()
    };
    let near = rank::neighbours(inputs, definers, &seeds, &changed, &steering.removed);
    for (c, &w) in near.iter().enumerate() {
        if w > 0.0 && roles[c] == Role::Left {
            roles[c] = Role::Near(w);
        }
    }
    for path in &steering.candidates {
        if let Some(&c) = position.get(path.as_str()) {
            if let Role::Left | Role::Near(_) = roles[c] {
                roles[c] = Role::Near(1.0);
            }
        }
    }
    for path in &steering.skip {
        if let Some(&c) = position.get(path.as_str()) {
            roles[c] = Role::Left;
        }
    }
    let order_key = |c: usize| match roles[c] {
        Role::Required(k) => (0, k as f64),
        Role::Near(w) => (1, -w),
        _ => (2, -scores[c]),
    };
    let mut order: Vec<usize> = (0..unredacted.len()).collect();
    order.sort_by(|&a, &b| {
        let (ga, ka) = order_key(a);
        let (gb, kb) = order_key(b);
        ga.cmp(&gb).then(ka.total_cmp(&kb)).then(a.cmp(&b))
    });
    let mut rank_of = vec![0usize; unredacted.len()];
    for (position, &c) in order.iter().enumerate() {
        rank_of[c] = position + 1;
    }
    (roles, rank_of)
}

/// What the solver needs to know of one candidate.
pub struct Candidate<'a> {
    /// Full-text tokens.
    pub tokens: usize,
    /// The path as shown.
    pub path: &'a str,
    /// The renderer's estimate of the markup around the file's text.
    pub markup: usize,
    pub score: f64,
    pub role: Role,
    /// The spans a steering asks for, when it requires the file.
    pub required: Option<&'a Required>,
    pub parseable: bool,
    pub code: bool,
    pub lines: usize,
}

/// Each candidate's options (full text, compressed view, outline, or an excerpt), with views at
/// estimated sizes until they are made, and their values.
pub fn options(candidates: &[Candidate<'_>], focused: bool) -> Vec<Item> {
    let (compressed_value, outline_value) = if focused {
        FOCUS_VIEW_VALUES
    } else {
        VIEW_VALUES
    };
    candidates
        .iter()
        .map(|c| {
            let tokens = c.tokens;
            let markup = c.markup;
            let size = 1.0 + (1.0 + tokens as f64 / 400.0).ln();
            let value = match c.role {
                Role::Ranked => c.score * size,
                // Direct references first, then members of referenced directories and globs;
                // earlier in the plan a little ahead of later.
                Role::Required(k) => {
                    let direct = c.required.is_some_and(|r| r.direct);
                    // A thousand members of a directory still weigh less than one file the
                    // plan names: the fit takes every direct reference first.
                    let base = if direct {
                        REQUIRED_VALUE * 1_000.0
                    } else {
                        REQUIRED_VALUE
                    };
                    base * (1.0 + 0.5 / (1.0 + k as f64))
                }
                Role::Near(w) => w * size,
                Role::Left => return Item::default(),
            };
            if let Some(required) = c.required {
                if !required.whole && !required.spans.is_empty() && tokens > EXCERPT_ABOVE {
                    // The spans' share of the file, plus an outline of the rest.
                    let span_lines: usize = required
                        .spans
                        .iter()
                        .map(|(a, b)| b - a + 1 + 2 * lang::EXCERPT_CONTEXT)
                        .sum();
                    let share = (span_lines as f64 / c.lines.max(1) as f64).min(1.0);
                    let estimate = (tokens as f64 * (share + OUTLINE_ESTIMATE)) as usize + markup;
                    return Item {
                        choices: vec![Choice {
                            fidelity: Fidelity::Excerpt,
                            tokens: estimate.min(tokens + markup),
                            value,
                        }],
                    };
                }
            }
            // The two views, at their estimated sizes.
            let views = || {
                [
                    (Fidelity::Compressed, COMPRESSED_ESTIMATE, compressed_value),
                    (Fidelity::Outline, OUTLINE_ESTIMATE, outline_value),
                ]
                .map(|(fidelity, estimate, share)| Choice {
                    fidelity,
                    tokens: (tokens as f64 * estimate) as usize + markup,
                    value: value * share,
                })
            };
            let mut choices = Vec::new();
            if let Role::Near(_) = c.role {
                // A neighbour is code shown as a view, never whole: no grammar, no place.
                if c.parseable && c.code {
                    choices.extend(views());
                }
                return Item { choices };
            }
            choices.push(Choice {
                fidelity: Fidelity::Full,
                tokens: tokens + markup,
                value,
            });
            if c.parseable && tokens > 60 {
                choices.extend(views());
            }
            Item { choices }
        })
        .collect()
}

/// The parts of a document that do not depend on which files it holds: the header of an empty
/// document (the plan, the summary and the tree, collapsed if need be) and the footer.
pub struct Frame {
    /// The tree's collapse depth, if it is collapsed.
    pub depth: Option<usize>,
    pub footer: Vec<u8>,
    pub footer_tokens: usize,
    /// Tokens of the empty document's header and footer, plus the root line's allowance.
    pub fixed: usize,
    /// That allowance.
    pub slack: usize,
}

/// What a document's fixed parts are made from, and how they are counted.
pub struct FrameParts<'a> {
    pub tools: &'a Tools<'a>,
    /// The plan element, already rendered, or nothing.
    pub prelude: &'a [u8],
    pub tree: &'a [TreeItem<'a>],
    /// Files left out for other reasons than the budget, with why.
    pub omitted: &'a [(&'a str, OmitReason)],
    pub tree_share: f64,
    /// Tokens of the prelude that do not count against the tree's share: a change's diff and
    /// log, which are not the frame's to give up.
    pub exempt: usize,
}

impl FrameParts<'_> {
    /// The header: the prelude, then the summary and the tree at `depth`.
    pub fn header(&self, summary: &Summary, depth: Option<usize>) -> Vec<u8> {
        let mut header = self.prelude.to_vec();
        header.extend(self.tools.renderer.header(summary, self.tree, depth));
        header
    }

    fn tokens(&self, bytes: &[u8]) -> usize {
        CachedCount(self.tools).count(&String::from_utf8_lossy(bytes))
    }

    fn fixed_at(&self, summary: &Summary, depth: Option<usize>) -> usize {
        self.tokens(&self.header(summary, depth))
            + self.tokens(&self.tools.renderer.footer(self.omitted, depth))
            + self.tools.renderer.root_line_allowance()
    }
}

/// The fixed parts at `budget`, with the tree collapsed as far as it must be to stay within its
/// share of the budget; `BudgetTooSmall` (naming a budget that would do) when even the most
/// collapsed frame does not fit.
pub fn frame(
    parts: &FrameParts<'_>,
    summary: &mut Summary,
    budget: usize,
) -> Result<Frame, FitError> {
    let max_depth = parts
        .tree
        .iter()
        .map(|item| item.components.len())
        .max()
        .unwrap_or(1);
    // The summary names the budget, so the budget is part of what is counted.
    let at = |summary: &mut Summary, budget: usize| {
        if let Some(b) = &mut summary.budget {
            b.budget = budget;
        }
        let mut depth: Option<usize> = None;
        let mut fixed = parts.fixed_at(summary, None);
        let over_share = |fixed: usize| {
            fixed.saturating_sub(parts.exempt) as f64 > budget as f64 * parts.tree_share
        };
        if over_share(fixed) {
            for d in (0..max_depth).rev() {
                depth = Some(d);
                fixed = parts.fixed_at(summary, depth);
                if !over_share(fixed) {
                    break;
                }
            }
        }
        (fixed, depth)
    };
    let (fixed, depth) = at(summary, budget);
    if fixed > budget {
        // Named in the summary, a larger budget can take more tokens itself ("1,003" against
        // "915"): settle on one that holds its own smallest document. The fixed parts grow with
        // the budget only by its digits, so this ends within a step or two.
        let mut needed = fixed;
        loop {
            let (at_needed, _) = at(summary, needed);
            if at_needed <= needed {
                break;
            }
            needed = at_needed;
        }
        return Err(FitError::BudgetTooSmall { needed });
    }
    let footer = parts.tools.renderer.footer(parts.omitted, depth);
    let footer_tokens = parts.tokens(&footer);
    Ok(Frame {
        depth,
        footer,
        footer_tokens,
        fixed,
        slack: parts.tools.renderer.root_line_allowance(),
    })
}

/// The document the rounds settled on.
pub struct Fitted {
    /// Its exact count.
    pub total: usize,
    pub header: Vec<u8>,
    /// The (candidate, fidelity) pairs it shows, not yet in document order.
    pub chosen: Vec<(usize, Fidelity)>,
    pub summary: Summary,
    /// Every view rendered on the way, by (candidate, fidelity).
    pub rendered: HashMap<(usize, Fidelity), Element>,
}

/// What the rounds need beyond the options: how to read and render a candidate, and how to
/// describe a document that shows a given set of files.
pub trait Rounds {
    /// Renders each (candidate, fidelity) of `wanted`, answering in the same order; `None` for a
    /// candidate that can no longer be read (it vanished or changed since the survey).
    fn render(&mut self, wanted: &[(usize, Fidelity)]) -> Vec<Option<Element>>;
    /// The summary of a document showing `chosen`, and its header.
    fn describe(
        &self,
        summary: &mut Summary,
        chosen: &[(usize, Fidelity)],
        rendered: &HashMap<(usize, Fidelity), Element>,
    ) -> Vec<u8>;
    /// The exact count of a text.
    fn count(&self, bytes: &[u8]) -> usize;
    /// The whole document's count, given everything after its root line.
    fn document_tokens(&self, rest: usize) -> usize;
}

/// Fit → render → count, until the document fits and fills the budget. Views are estimated from
/// the full count until made; every view made also recalibrates the estimates of the views not
/// yet made (per fidelity, the median of actual over estimated).
pub fn rounds(
    items: &mut [Item],
    budget: usize,
    frame: &Frame,
    mut summary: Summary,
    work: &mut dyn Rounds,
) -> Result<Fitted, FitError> {
    let estimates: Vec<Vec<Choice>> = items.iter().map(|i| i.choices.clone()).collect();
    let mut rendered: HashMap<(usize, Fidelity), Element> = HashMap::new();
    let mut target = budget - frame.fixed;
    // The header grows with what the document holds (counts, the secrets listed in the files
    // held, a plan's lists); `fixed` counted the header of an empty document. The last round's
    // growth is kept off the room the next solve fills.
    let empty_header = frame.fixed - frame.footer_tokens - frame.slack;
    let mut growth = 0usize;
    // The best document within budget: its value, count, header, the files it shows and its
    // summary.
    type Best = (f64, usize, Vec<u8>, Vec<(usize, Fidelity)>, Summary);
    let mut best: Option<Best> = None;
    for _ in 0..ROUNDS {
        let solution = solve(items, target.saturating_sub(growth));
        // Render every chosen view not made yet, and correct the item's cost to the exact one.
        let wanted: Vec<(usize, Fidelity)> = solution
            .chosen
            .iter()
            .enumerate()
            .filter_map(|(c, choice)| choice.as_ref().map(|choice| (c, choice.fidelity)))
            .filter(|key| !rendered.contains_key(key))
            .collect();
        let made = work.render(&wanted);
        let mut changed = false;
        for (key, element) in wanted.into_iter().zip(made) {
            let Some(element) = element else { continue };
            let (c, fidelity) = key;
            let estimated = solution.chosen[c]
                .as_ref()
                .map_or(0, |choice| choice.tokens);
            changed |= element.document_tokens != estimated;
            for option in items[c].choices.iter_mut() {
                if option.fidelity == fidelity {
                    option.tokens = element.document_tokens;
                }
            }
            rendered.insert(key, element);
        }
        recalibrate(items, &estimates, &rendered);
        let chosen = shown(&solution, &rendered);
        let header = work.describe(&mut summary, &chosen, &rendered);
        let header_tokens = work.count(&header);
        growth = header_tokens.saturating_sub(empty_header);
        let body: usize = chosen.iter().map(|k| rendered[k].document_tokens).sum();
        let total = work.document_tokens(header_tokens + body + frame.footer_tokens);
        if total <= budget {
            let better = best
                .as_ref()
                .is_none_or(|(value, ..)| solution.value > *value);
            if better {
                best = Some((solution.value, total, header, chosen, summary.clone()));
            }
            if total * 100 >= budget * 97 || target >= budget {
                break;
            }
            if !changed {
                target += budget - total;
            }
        } else if !changed {
            target = target.saturating_sub(total - budget);
        }
    }
    let (_, total, header, chosen, summary) = match best {
        Some(best) => best,
        None => {
            // No round fitted: the empty document does, since its fixed parts are within budget.
            let header = work.describe(&mut summary, &[], &rendered);
            let total = work.document_tokens(work.count(&header) + frame.footer_tokens);
            if total > budget {
                return Err(FitError::BudgetTooSmall { needed: total });
            }
            (0.0, total, header, Vec::new(), summary)
        }
    };
    Ok(Fitted {
        total,
        header,
        chosen,
        summary,
        rendered,
    })
}

/// The document's order of the files `chosen` shows: steered, in rank order (a plan's files in
/// the plan's order, right after it; their neighbours after them); otherwise by rank from both
/// ends towards the middle.
pub fn attention_order(
    mut chosen: Vec<(usize, Fidelity)>,
    rank_of: &[usize],
    steered: bool,
) -> Vec<(usize, Fidelity)> {
    chosen.sort_by_key(|&(c, _)| rank_of[c]);
    if steered {
        return chosen;
    }
    let (odd, even): (Vec<_>, Vec<_>) = chosen.iter().enumerate().partition(|(n, _)| n % 2 == 0);
    odd.into_iter()
        .map(|(_, k)| *k)
        .chain(even.into_iter().rev().map(|(_, k)| *k))
        .collect()
}

/// `steering` with its required files ordered by rank within each group, groups in order.
pub fn rank_required(steering: &Steering, unredacted: &[String], scores: &[f64]) -> Steering {
    let score: HashMap<&str, f64> = unredacted
        .iter()
        .zip(scores)
        .map(|(path, &score)| (path.as_str(), score))
        .collect();
    let mut ranked = steering.clone();
    // Files the tree cannot hold (binary, unreadable) go last in their group.
    let key = |r: &Required| score.get(r.path.as_str()).copied().unwrap_or(-1.0);
    ranked.required.sort_by(|a, b| {
        a.group
            .cmp(&b.group)
            .then(key(b).total_cmp(&key(a)))
            .then(a.path.cmp(&b.path))
    });
    ranked
}

/// Which items fit `room` tokens, taken in `priority` order, each whole: one that no longer fits
/// is left out, and later, smaller ones may still fit.
pub fn select_in_order(costs: &[usize], priority: &[usize], room: usize) -> Vec<bool> {
    let mut selected = vec![false; costs.len()];
    let mut used = 0usize;
    for &i in priority {
        if used + costs[i] <= room {
            used += costs[i];
            selected[i] = true;
        }
    }
    selected
}

/// What comes before the summary: the plan, the change's diff (its patches rendered once, with
/// the order in which they claim the budget), and commit messages.
pub struct Prelude<'a> {
    plan: Vec<u8>,
    diff: Option<&'a DiffText>,
    diff_open: Vec<u8>,
    diff_close: Vec<u8>,
    /// Each patch's element and the tokens it adds.
    patches: Vec<(Vec<u8>, usize)>,
    /// Patch indexes, the first to be kept first.
    priority: Vec<usize>,
    /// The commit messages, newest first, each whole.
    commits: Vec<String>,
}

impl<'a> Prelude<'a> {
    fn new(
        steering: Option<&'a Steering>,
        tools: &Tools<'_>,
        unredacted: &[String],
        rank_of: &[usize],
    ) -> Prelude<'a> {
        let renderer = tools.renderer;
        let plan = match steering.and_then(|s| s.plan.as_ref()) {
            Some(plan) => renderer.plan(&plan.name, &plan.text, plan.redactions, tools.counter),
            None => Vec::new(),
        };
        let commits = steering
            .and_then(|s| s.log.as_deref())
            .map(split_commits)
            .unwrap_or_default();
        let Some(diff) = steering.and_then(|s| s.diff.as_ref()) else {
            return Prelude {
                plan,
                diff: None,
                diff_open: Vec::new(),
                diff_close: Vec::new(),
                patches: Vec::new(),
                priority: Vec::new(),
                commits,
            };
        };
        let patches = diff
            .patches
            .iter()
            .map(|patch| {
                let rendered = renderer.patch(
                    &PatchElement {
                        path: &patch.path,
                        from: patch.from.as_deref(),
                        status: patch.status,
                        binary: patch.binary,
                        added: patch.added,
                        removed: patch.removed,
                        text: &patch.text,
                        tokens: tools.count(&patch.text),
                        redactions: patch.redactions,
                    },
                    tools.counter,
                );
                (rendered.bytes, rendered.document_tokens)
            })
            .collect();
        // A patch claims the budget in its file's rank; patches of files the document cannot
        // hold (deleted, binary) come after, in git's order.
        let rank: HashMap<&str, usize> = unredacted
            .iter()
            .enumerate()
            .map(|(c, path)| (path.as_str(), rank_of[c]))
            .collect();
        let mut priority: Vec<usize> = (0..diff.patches.len()).collect();
        priority.sort_by_key(|&p| {
            let patch = &diff.patches[p];
            let held = patch.status != "deleted";
            let rank = rank.get(patch.key.as_str()).copied().filter(|_| held);
            (rank.is_none(), rank.unwrap_or(usize::MAX), p)
        });
        Prelude {
            plan,
            diff: Some(diff),
            diff_open: renderer.diff_open(&diff.base, &diff.head),
            diff_close: renderer.diff_close(),
            patches,
            priority,
            commits,
        }
    }

    /// The prelude's bytes with the `selected` patches (in git's order) and the newest
    /// `commits` commit messages; and how many of its tokens are the diff's and the log's.
    fn bytes(&self, tools: &Tools<'_>, selected: &[bool], commits: usize) -> (Vec<u8>, usize) {
        let mut bytes = self.plan.clone();
        if self.diff.is_some() {
            bytes.extend_from_slice(&self.diff_open);
            for (patch, _) in self.patches.iter().zip(selected).filter(|(_, s)| **s) {
                bytes.extend_from_slice(&patch.0);
            }
            bytes.extend_from_slice(&self.diff_close);
        }
        if commits > 0 {
            let log: String = self.commits[..commits].concat();
            bytes.extend(tools.renderer.log(&log, tools.counter));
        }
        let count = |b: &[u8]| CachedCount(tools).count(&String::from_utf8_lossy(b));
        let exempt = count(&bytes) - count(&self.plan);
        (bytes, exempt)
    }

    /// How the scan names the log's findings, for the summary to list them.
    fn labels_always_shown(&self) -> Vec<String> {
        let mut labels = Vec::new();
        if !self.commits.is_empty() {
            labels.push(LOG_LABEL.to_string());
        }
        labels
    }

    /// What the summary says of the change, with every patch left out until some are selected.
    fn summary(&self, with_plan: bool) -> Option<DiffSummary> {
        let diff = self.diff?;
        let count = |status: &str| diff.patches.iter().filter(|p| p.status == status).count();
        Some(DiffSummary {
            base: diff.base.clone(),
            head: diff.head.clone(),
            files: diff.patches.len(),
            added: count("added"),
            modified: count("modified"),
            deleted: count("deleted"),
            renamed: count("renamed"),
            other: count("copied") + count("type-changed") + count("mode-changed"),
            lines_added: diff.patches.iter().map(|p| p.added).sum(),
            lines_removed: diff.patches.iter().map(|p| p.removed).sum(),
            dropped: diff.patches.iter().map(|p| p.path.clone()).collect(),
            withheld: diff.withheld.clone(),
            log_dropped: self.commits.len(),
            with_plan,
        })
    }
}

/// How the scan names findings in commit messages.
pub const LOG_LABEL: &str = "(git log)";

/// How the scan names findings in a file's patch.
pub fn patch_label(path: &str) -> String {
    format!("{path} (diff)")
}

/// Splits `git log` output into its commits, each whole, newest first.
fn split_commits(log: &str) -> Vec<String> {
    let mut commits: Vec<String> = Vec::new();
    for line in log.split_inclusive('\n') {
        if line.starts_with("commit ") || commits.is_empty() {
            commits.push(String::new());
        }
        if let Some(last) = commits.last_mut() {
            last.push_str(line);
        }
    }
    commits
}

/// The prelude a document can hold within `budget`, and the frame `frame_at` counts for it
/// (given the prelude's bytes and its tokens exempt from the tree's share).
///
/// A change's patches come before everything but the plan: each in priority order, whole, while
/// it fits beside those kept before it (a patch that does not is left out, and smaller ones after
/// it may still fit). Commit messages come after the patches, newest first. The room is what the
/// frame of a document that holds no patch and names every patch and required file as left out
/// leaves: so whatever the summary then says, the document fits.
/// Returns the prelude, its exempt tokens, and the scan labels of the patches it holds.
fn fit_prelude(
    prelude: &Prelude<'_>,
    tools: &Tools<'_>,
    summary: &mut Summary,
    budget: usize,
    frame_at: impl Fn(&[u8], usize, &mut Summary) -> Result<Frame, FitError>,
) -> Result<(Vec<u8>, usize, Vec<String>), FitError> {
    let Some(diff) = prelude.diff else {
        let (bytes, _) = prelude.bytes(tools, &[], 0);
        return Ok((bytes, 0, Vec::new()));
    };
    let none = vec![false; prelude.patches.len()];
    let (empty_bytes, empty_exempt) = prelude.bytes(tools, &none, 0);
    let empty = frame_at(&empty_bytes, empty_exempt, summary)?;
    let costs: Vec<usize> = prelude.patches.iter().map(|(_, tokens)| *tokens).collect();
    let mut selected = select_in_order(&costs, &prelude.priority, budget - empty.fixed);
    let used: usize = costs
        .iter()
        .zip(&selected)
        .filter(|(_, s)| **s)
        .map(|(c, _)| c)
        .sum();
    // Commit messages, newest first, while they fit what the patches left.
    let mut commits = 0;
    let mut room = (budget - empty.fixed).saturating_sub(used);
    for commit in &prelude.commits {
        let cost = tools.counter.count(commit) + 4;
        if cost > room {
            break;
        }
        room -= cost;
        commits += 1;
    }
    loop {
        if let Some(d) = &mut summary.diff {
            d.dropped = diff
                .patches
                .iter()
                .zip(&selected)
                .filter(|(_, s)| !**s)
                .map(|(p, _)| p.path.clone())
                .collect();
            d.log_dropped = prelude.commits.len() - commits;
        }
        let (bytes, exempt) = prelude.bytes(tools, &selected, commits);
        match frame_at(&bytes, exempt, summary) {
            Ok(_) => {
                let labels = diff
                    .patches
                    .iter()
                    .zip(&selected)
                    .filter(|(_, s)| **s)
                    .map(|(p, _)| patch_label(&p.path))
                    .collect();
                return Ok((bytes, exempt, labels));
            }
            // Counting in pieces misjudged a few tokens: give up the oldest commit, then the
            // last patch kept.
            Err(FitError::BudgetTooSmall { .. }) if commits > 0 => commits -= 1,
            Err(FitError::BudgetTooSmall { .. }) if selected.iter().any(|s| *s) => {
                let last = prelude
                    .priority
                    .iter()
                    .rev()
                    .find(|&&p| selected[p])
                    .copied();
                if let Some(last) = last {
                    selected[last] = false;
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// Ranks the surveyed files, chooses each one's fidelity and renders the document within the
/// budget, in rounds of fit → render → exact count. With steering: the required files first and
/// whole (or as excerpts) as far as the budget goes, then their one-hop neighbours as views,
/// nothing else. The same guarantees hold: the document is counted exactly and never exceeds the
/// budget.
pub fn decide(job: &Job<'_>, survey: Survey) -> Result<Budgeted, FitError> {
    let tools = &job.tools;
    let steering = job.steering;
    let budget = job.budget;
    let Survey {
        mut files,
        names,
        scan,
        warnings,
    } = survey;

    // Rank the files that can be packed.
    let candidates: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].tokens.is_ok())
        .collect();
    let paths: Vec<String> = files.iter().map(|f| f.entry.rel.display()).collect();
    let git = rank::git_activity(&job.source.inputs.root);
    // The ranking indexes serve until the ranks and roles are known, and are let go before the
    // document is made (which loads the tokenizer's vocabulary).
    let indexes: Vec<FileIndex> = files
        .iter_mut()
        .map(|f| std::mem::take(&mut f.index))
        .collect();
    let inputs: Vec<RankInput<'_>> = candidates
        .iter()
        .map(|&i| RankInput {
            path: &paths[i],
            index: &indexes[i],
            git: git.as_ref().and_then(|g| g.get(&paths[i]).copied()),
        })
        .collect();
    let names = names.into_table();
    let definers = rank::definers(&inputs, &names);
    let scores = rank::rank(&inputs, &definers, job.focus);
    let unredacted: Vec<String> = candidates
        .iter()
        .map(|&i| files[i].entry.rel.unredacted())
        .collect();
    // Required files ranked within their groups, when the steering asks for it (a change's
    // touched files have no order of their own).
    let ranked_steering;
    let steering = match steering {
        Some(s) if s.rank_required => {
            ranked_steering = rank_required(s, &unredacted, &scores);
            Some(&ranked_steering)
        }
        other => other,
    };
    let (roles, rank_of) = match steering {
        None => (vec![Role::Ranked; candidates.len()], positions(&scores)),
        Some(steering) => roles(steering, &unredacted, &inputs, &definers, &scores),
    };
    drop(inputs);
    drop(definers);
    drop(indexes);
    drop(names);
    return_freed_memory();
    let required = |c: usize| -> Option<&Required> {
        match (roles[c], steering) {
            (Role::Required(k), Some(s)) => Some(&s.required[k]),
            _ => None,
        }
    };
    let described: Vec<Candidate<'_>> = candidates
        .iter()
        .enumerate()
        .map(|(c, &i)| Candidate {
            tokens: files[i].estimate,
            path: &paths[i],
            markup: tools.renderer.markup_estimate(&paths[i]),
            score: scores[c],
            role: roles[c],
            required: required(c),
            parseable: files[i].parseable,
            code: files[i].code,
            lines: files[i].lines,
        })
        .collect();
    let mut items = options(&described, !job.focus.is_empty());

    // The fixed parts: the plan, the footer (files left out for other reasons than the budget),
    // and the tree, collapsed if it would take too much of the budget.
    let omitted: Vec<(&str, OmitReason)> = files
        .iter()
        .zip(&paths)
        .filter_map(|(f, p)| f.tokens.as_ref().err().map(|(r, _)| (p.as_str(), *r)))
        .collect();
    let tree: Vec<TreeItem<'_>> = files
        .iter()
        .map(|f| TreeItem {
            components: f.entry.rel.components(),
            omitted: f.tokens.as_ref().err().map(|(r, _)| *r),
        })
        .collect();
    // What the prelude holds whatever the budget: its secrets are listed by the summary.
    let mut skipped: Vec<String> = steering.map_or(Vec::new(), |s| s.skip.clone());
    let mut scan = scan;
    if let Some(extra) = steering.map(|s| &s.scan) {
        scan.secrets.extend(extra.secrets.iter().cloned());
        scan.examples.extend(extra.examples.iter().cloned());
        scan.files += extra.files;
    }
    let prelude = Prelude::new(steering, tools, &unredacted, &rank_of);
    skipped.extend(prelude.labels_always_shown());
    let mut summary = Summary {
        root_name: job.source.root_name.clone(),
        encoding: tools.encoding.name(),
        files: 0,
        fidelity: Fidelity::Full,
        degraded: 0,
        file_tokens: 0,
        omitted: omitted_counts(omitted.iter().map(|(_, r)| *r)),
        secrets: scan_shown(&scan, &paths, &[], &skipped),
        budget: Some(BudgetSummary {
            budget,
            ..Default::default()
        }),
        plan: None,
        diff: prelude.summary(steering.is_some_and(|s| s.plan.is_some())),
    };
    let tree_share = if job.focus.is_empty() {
        TREE_SHARE
    } else {
        FOCUS_TREE_SHARE
    };
    // A change's summary may name every patch and every touched file as left out: the patches
    // get only the room that leaves.
    if let Some(steering) = steering.filter(|s| s.diff.is_some()) {
        summary.plan = Some(plan_summary(steering, &roles, &[], &candidates, &paths));
    }
    let (prelude, exempt, selected) = fit_prelude(
        &prelude,
        tools,
        &mut summary,
        budget,
        |prelude: &[u8], exempt: usize, summary: &mut Summary| {
            let parts = FrameParts {
                tools,
                prelude,
                tree: &tree,
                omitted: &omitted,
                tree_share,
                exempt,
            };
            frame(&parts, summary, budget)
        },
    )?;
    skipped.extend(selected);
    let parts = FrameParts {
        tools,
        prelude: &prelude,
        tree: &tree,
        omitted: &omitted,
        tree_share,
        exempt,
    };
    let frame = frame(&parts, &mut summary, budget)?;

    let mut work = Render {
        job,
        files: &files,
        candidates: &candidates,
        paths: &paths,
        rank_of: &rank_of,
        spans: &required,
        opened: HashMap::new(),
        parts: &parts,
        depth: frame.depth,
        scan: &scan,
        skipped: &skipped,
        steering,
        roles: &roles,
    };
    let Fitted {
        total,
        header,
        chosen,
        summary,
        mut rendered,
    } = rounds(&mut items, budget, &frame, summary, &mut work)?;
    let order = attention_order(chosen, &rank_of, steering.is_some());

    // The report (stderr, stats) covers every secret found, and says how many the document
    // leaves out.
    let scan = ScanSummary {
        left_out: summary.secrets.left_out,
        ..scan
    };
    let mut decisions: Vec<FileDecision> = files
        .iter()
        .map(|f| FileDecision {
            components: f.entry.rel.components().to_vec(),
            full_tokens: f.tokens.as_ref().copied().map_err(|(reason, _)| *reason),
            rank: None,
            score: None,
            packed: None,
        })
        .collect();
    for (c, &i) in candidates.iter().enumerate() {
        decisions[i].rank = Some(rank_of[c]);
        decisions[i].score = Some(scores[c]);
    }
    let mut elements = Vec::with_capacity(order.len());
    for key in &order {
        // Every key in `order` was filtered on being in `rendered`, and keys are distinct.
        let element = rendered.remove(key).expect("chosen views are rendered");
        decisions[candidates[key.0]].packed = Some(PackedView {
            fidelity: key.1,
            tokens: element.tokens,
            degraded: element.degraded,
        });
        elements.push(element.bytes);
    }
    let mut head = tools
        .renderer
        .root_line(tools.encoding.name(), total)
        .into_bytes();
    head.extend_from_slice(&header);
    Ok(Budgeted {
        document: Document::held(total, head, elements, frame.footer),
        files: decisions,
        summary,
        scan,
        tree_depth: frame.depth,
        warnings,
    })
}

/// The rounds' work on the surveyed files: reading and rendering candidates, and describing a
/// document.
struct Render<'a, 'j> {
    job: &'a Job<'j>,
    files: &'a [Measured],
    candidates: &'a [usize],
    paths: &'a [String],
    rank_of: &'a [usize],
    spans: &'a (dyn Fn(usize) -> Option<&'a Required> + Sync),
    /// Candidates read so far.
    opened: HashMap<usize, SourceFile>,
    parts: &'a FrameParts<'a>,
    depth: Option<usize>,
    scan: &'a ScanSummary,
    skipped: &'a [String],
    steering: Option<&'a Steering>,
    roles: &'a [Role],
}

impl Rounds for Render<'_, '_> {
    // Files are read, and views made and counted, on the worker threads.
    fn render(&mut self, wanted: &[(usize, Fidelity)]) -> Vec<Option<Element>> {
        let tools = &self.job.tools;
        let (files, candidates, paths) = (self.files, self.candidates, self.paths);
        let mut unread: Vec<usize> = wanted
            .iter()
            .map(|&(c, _)| c)
            .filter(|c| !self.opened.contains_key(c))
            .collect();
        unread.sort_unstable();
        unread.dedup();
        let read: Vec<(usize, Option<SourceFile>)> = self.job.pool.install(|| {
            unread
                .par_iter()
                .map(|&c| (c, tools.read(&files[candidates[c]].entry).0.ok()))
                .collect()
        });
        // Vanished or changed since the survey: not rendered.
        self.opened.extend(
            read.into_iter()
                .filter_map(|(c, source)| Some((c, source?))),
        );
        let (opened, spans, rank_of) = (&self.opened, self.spans, self.rank_of);
        self.job.pool.install(|| {
            wanted
                .par_iter()
                .map(|&(c, fidelity)| {
                    let spans = spans(c).map_or(&[][..], |r| r.spans.as_slice());
                    Some(tools.element(
                        &paths[candidates[c]],
                        opened.get(&c)?,
                        fidelity,
                        spans,
                        Some(rank_of[c]),
                    ))
                })
                .collect()
        })
    }

    // What the summary says of a document showing `chosen`: its counts, the secrets in the files
    // it holds, and what became of a plan's files. It does not depend on their order.
    fn describe(
        &self,
        summary: &mut Summary,
        chosen: &[(usize, Fidelity)],
        rendered: &HashMap<(usize, Fidelity), Element>,
    ) -> Vec<u8> {
        fill_summary(summary, chosen, rendered);
        let held: Vec<usize> = chosen.iter().map(|&(c, _)| self.candidates[c]).collect();
        summary.secrets = scan_shown(self.scan, self.paths, &held, self.skipped);
        if let Some(steering) = self.steering {
            summary.plan = Some(plan_summary(
                steering,
                self.roles,
                chosen,
                self.candidates,
                self.paths,
            ));
        }
        self.parts.header(summary, self.depth)
    }

    fn count(&self, bytes: &[u8]) -> usize {
        self.parts.tokens(bytes)
    }

    fn document_tokens(&self, rest: usize) -> usize {
        let tools = &self.job.tools;
        tools
            .renderer
            .document_tokens(&CachedCount(tools), tools.encoding.name(), rest)
    }
}

/// The (candidate, fidelity) pairs of `solution` that were rendered: what the document holds.
fn shown(
    solution: &Solution,
    rendered: &HashMap<(usize, Fidelity), Element>,
) -> Vec<(usize, Fidelity)> {
    solution
        .chosen
        .iter()
        .enumerate()
        .filter_map(|(c, choice)| choice.map(|ch| (c, ch.fidelity)))
        .filter(|key| rendered.contains_key(key))
        .collect()
}

/// Scales the estimated cost of every view not yet made by how far off the estimates of the views
/// made so far were, per fidelity.
fn recalibrate(
    items: &mut [Item],
    estimates: &[Vec<Choice>],
    rendered: &HashMap<(usize, Fidelity), Element>,
) {
    for fidelity in [Fidelity::Full, Fidelity::Compressed, Fidelity::Outline] {
        let mut ratios: Vec<f64> = rendered
            .iter()
            .filter(|((_, f), _)| *f == fidelity)
            .filter_map(|((c, _), element)| {
                let estimate = estimates[*c].iter().find(|e| e.fidelity == fidelity)?;
                Some(element.document_tokens as f64 / estimate.tokens.max(1) as f64)
            })
            .collect();
        if ratios.is_empty() {
            continue;
        }
        ratios.sort_by(|a, b| a.total_cmp(b));
        let scale = ratios[ratios.len() / 2];
        for (c, item) in items.iter_mut().enumerate() {
            if rendered.contains_key(&(c, fidelity)) {
                continue;
            }
            if let (Some(option), Some(estimate)) = (
                item.choices.iter_mut().find(|o| o.fidelity == fidelity),
                estimates[c].iter().find(|e| e.fidelity == fidelity),
            ) {
                option.tokens = (estimate.tokens as f64 * scale).ceil() as usize;
            }
        }
    }
}

/// The scan as the document reports it: the redactions and examples in the files it holds (by
/// index in `paths`, and the `skipped` paths a steering's prelude holds: the plan), not in the
/// thousands a small budget leaves out, whose text the reader never sees. Secrets in paths stay,
/// since they are redacted wherever a path is shown; with `--secrets omit`, so do the files left
/// out for their secrets, since that is why they are missing.
fn scan_shown(
    scan: &ScanSummary,
    paths: &[String],
    held: &[usize],
    skipped: &[String],
) -> ScanSummary {
    if Policy::new(scan.mode).lists_secrets_left_out() {
        return scan.clone();
    }
    let held: HashSet<&str> = held
        .iter()
        .map(|&i| paths[i].as_str())
        .chain(skipped.iter().map(String::as_str))
        .collect();
    let keep = |found: &&Located| found.line == 0 || held.contains(found.path.as_str());
    let secrets: Vec<_> = scan.secrets.iter().filter(keep).cloned().collect();
    let mut in_files: Vec<&str> = secrets.iter().map(|s| s.path.as_str()).collect();
    in_files.dedup();
    ScanSummary {
        mode: scan.mode,
        files: in_files.len(),
        left_out: scan.secrets.len() - secrets.len(),
        examples: scan.examples.iter().filter(keep).cloned().collect(),
        secrets,
    }
}

fn fill_summary(
    summary: &mut Summary,
    chosen: &[(usize, Fidelity)],
    rendered: &HashMap<(usize, Fidelity), Element>,
) {
    let mut by_fidelity: BTreeMap<Fidelity, usize> = BTreeMap::new();
    for (_, fidelity) in chosen {
        *by_fidelity.entry(*fidelity).or_default() += 1;
    }
    summary.files = chosen.len();
    summary.file_tokens = chosen.iter().map(|k| rendered[k].tokens).sum();
    summary.degraded = chosen.iter().filter(|k| rendered[*k].degraded).count();
    if let Some(budget) = &mut summary.budget {
        budget.full = by_fidelity.get(&Fidelity::Full).copied().unwrap_or(0);
        budget.compressed = by_fidelity.get(&Fidelity::Compressed).copied().unwrap_or(0);
        budget.outline = by_fidelity.get(&Fidelity::Outline).copied().unwrap_or(0);
        budget.excerpt = by_fidelity.get(&Fidelity::Excerpt).copied().unwrap_or(0);
    }
}

/// What became of the steering's required files: in full (or as the excerpt asked for), at a
/// lower fidelity, left out to fit, or not packable at all (omitted by the walk or for secrets),
/// named as the document names files (redacted).
fn plan_summary(
    steering: &Steering,
    roles: &[Role],
    chosen: &[(usize, Fidelity)],
    candidates: &[usize],
    paths: &[String],
) -> PlanSummary {
    let shown: HashMap<usize, Fidelity> = chosen.iter().map(|&(c, f)| (c, f)).collect();
    let mut of_required: Vec<Option<usize>> = vec![None; steering.required.len()];
    for (c, role) in roles.iter().enumerate() {
        if let Role::Required(k) = role {
            of_required[*k] = Some(c);
        }
    }
    let mut summary = PlanSummary {
        required: steering.required.len(),
        ..Default::default()
    };
    for (k, required) in steering.required.iter().enumerate() {
        let Some(c) = of_required[k] else {
            let shown = redact_name(&required.path);
            summary.unpackable.push(shown);
            continue;
        };
        let path = paths[candidates[c]].clone();
        match shown.get(&c) {
            Some(Fidelity::Full) => summary.full += 1,
            Some(Fidelity::Excerpt) => summary.excerpt += 1,
            Some(_) => summary.reduced.push(path),
            None => summary.dropped.push(path),
        }
    }
    summary.nearby = chosen
        .iter()
        .filter(|(c, _)| !matches!(roles[*c], Role::Required(_)))
        .count();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use crate::render::xml::Xml;
    use crate::secrets::Mode;
    use crate::tokens::{Encoding, Tiktoken};

    fn element(document_tokens: usize) -> Element {
        Element {
            bytes: Vec::new(),
            tokens: document_tokens.saturating_sub(20),
            document_tokens,
            degraded: false,
        }
    }

    fn candidate(tokens: usize, role: Role) -> Candidate<'static> {
        Candidate {
            tokens,
            path: "src/lib.rs",
            markup: 33,
            score: 0.5,
            role,
            required: None,
            parseable: true,
            code: true,
            lines: tokens / 10,
        }
    }

    fn fidelities(item: &Item) -> Vec<Fidelity> {
        item.choices.iter().map(|c| c.fidelity).collect()
    }

    #[test]
    fn positions_rank_by_score_with_ties_in_path_order() {
        assert_eq!(positions(&[0.2, 0.9, 0.2, 0.5]), [3, 1, 4, 2]);
        assert!(positions(&[]).is_empty());
    }

    #[test]
    fn roles_put_required_files_first_then_neighbours_then_the_rest() {
        let focus = Focus::default();
        let texts = [
            "fn handler() { RetryPolicy::new(); }\n",
            "pub struct RetryPolicy;\n",
            "fn unrelated_thing() {}\n",
            "fn skipped_plan() {}\n",
        ];
        let names = Names::new();
        let indexes: Vec<FileIndex> = texts
            .iter()
            .map(|t| rank::index(t, &focus, &names))
            .collect();
        let paths = ["a.rs", "policy.rs", "z.rs", "PLAN.md"].map(String::from);
        let inputs: Vec<RankInput<'_>> = indexes
            .iter()
            .zip(&paths)
            .map(|(index, path)| RankInput {
                path,
                index,
                git: None,
            })
            .collect();
        let names = names.into_table();
        let definers = rank::definers(&inputs, &names);
        let steering = Steering {
            required: vec![Required {
                path: "a.rs".into(),
                spans: Vec::new(),
                whole: true,
                direct: true,
                group: 0,
            }],
            skip: vec!["PLAN.md".into()],
            ..Steering::default()
        };
        // The unrelated file scores highest, and still comes after the plan's files.
        let scores = [0.1, 0.2, 0.9, 0.5];
        let (roles, rank_of) = roles(&steering, &paths, &inputs, &definers, &scores);
        assert_eq!(roles[0], Role::Required(0));
        assert!(matches!(roles[1], Role::Near(w) if w > 0.0), "{roles:?}");
        assert_eq!((roles[2], roles[3]), (Role::Left, Role::Left));
        assert_eq!(rank_of, [1, 2, 3, 4]);
    }

    #[test]
    fn options_follow_each_role() {
        let ranked = options(&[candidate(5_000, Role::Ranked)], false);
        assert_eq!(
            fidelities(&ranked[0]),
            [Fidelity::Full, Fidelity::Compressed, Fidelity::Outline]
        );
        // Too small to be worth a view, or without a grammar: the text or nothing.
        let tiny = candidate(50, Role::Ranked);
        assert_eq!(fidelities(&options(&[tiny], false)[0]), [Fidelity::Full]);
        let mut unparsed = candidate(5_000, Role::Ranked);
        unparsed.parseable = false;
        assert_eq!(
            fidelities(&options(&[unparsed], false)[0]),
            [Fidelity::Full]
        );
        // A neighbour is a view of code, never the whole text.
        let near = options(&[candidate(5_000, Role::Near(0.5))], false);
        assert_eq!(
            fidelities(&near[0]),
            [Fidelity::Compressed, Fidelity::Outline]
        );
        let mut prose = candidate(5_000, Role::Near(0.5));
        prose.code = false;
        assert!(options(&[prose], false)[0].choices.is_empty());
        assert!(options(&[candidate(5_000, Role::Left)], false)[0]
            .choices
            .is_empty());
        // A large required file named only by a span is an excerpt, priced by the span's share.
        let spans = Required {
            path: "src/lib.rs".into(),
            spans: vec![(10, 19)],
            whole: false,
            direct: true,
            group: 0,
        };
        let mut excerpt = candidate(10_000, Role::Required(0));
        excerpt.required = Some(&spans);
        excerpt.lines = 1_000;
        let item = &options(&[excerpt], false)[0];
        assert_eq!(fidelities(item), [Fidelity::Excerpt]);
        assert!(item.choices[0].tokens < 2_000, "{:?}", item.choices);
        // Direct references outweigh members of a named directory, and both outweigh any score.
        let indirect = Required {
            direct: false,
            whole: true,
            ..spans.clone()
        };
        let direct = Required {
            whole: true,
            ..spans.clone()
        };
        let mut a = candidate(1_000, Role::Required(1));
        a.required = Some(&direct);
        let mut b = candidate(1_000, Role::Required(0));
        b.required = Some(&indirect);
        let items = options(&[a, b, candidate(1_000, Role::Ranked)], false);
        let full = |i: usize| items[i].choices[0].value;
        assert!(full(0) > full(1) && full(1) > full(2) * 100.0);
        // With a focus, views are worth less next to the text.
        let plain = options(&[candidate(5_000, Role::Ranked)], false);
        let focused = options(&[candidate(5_000, Role::Ranked)], true);
        assert!(focused[0].choices[1].value < plain[0].choices[1].value);
    }

    fn tools<'a>(counter: &'a Tiktoken, cache: &'a Cache) -> Tools<'a> {
        Tools {
            policy: Policy::new(Mode::Redact),
            renderer: &Xml,
            encoding: Encoding::O200kBase,
            counter,
            cache,
            max_file_size: 1 << 20,
            overlay: None,
        }
    }

    fn empty_summary(budget: usize) -> Summary {
        Summary {
            root_name: "repo".into(),
            encoding: "o200k_base",
            files: 0,
            fidelity: Fidelity::Full,
            degraded: 0,
            file_tokens: 0,
            omitted: Vec::new(),
            secrets: ScanSummary::default(),
            budget: Some(BudgetSummary {
                budget,
                ..Default::default()
            }),
            plan: None,
            diff: None,
        }
    }

    #[test]
    fn the_frame_collapses_the_tree_to_its_share_and_names_a_budget_that_fits() {
        let counter = Tiktoken::new(Encoding::O200kBase);
        let cache = Cache::disabled();
        let tools = tools(&counter, &cache);
        let paths: Vec<Vec<String>> = (0..400)
            .map(|i| {
                vec![
                    "crates".to_string(),
                    format!("crate_{}", i / 20),
                    "src".to_string(),
                    format!("module_{i}.rs"),
                ]
            })
            .collect();
        let tree: Vec<TreeItem<'_>> = paths
            .iter()
            .map(|components| TreeItem {
                components,
                omitted: None,
            })
            .collect();
        let parts = FrameParts {
            tools: &tools,
            prelude: &[],
            tree: &tree,
            omitted: &[],
            tree_share: TREE_SHARE,
            exempt: 0,
        };
        let roomy = frame(&parts, &mut empty_summary(1_000_000), 1_000_000).unwrap();
        assert_eq!(roomy.depth, None);
        let tight = frame(&parts, &mut empty_summary(20_000), 20_000).unwrap();
        let depth = tight
            .depth
            .expect("a tree of 400 files is collapsed at 20k");
        assert!(tight.fixed as f64 <= 20_000.0 * TREE_SHARE || depth == 0);
        assert!(tight.fixed < roomy.fixed);
        // Too small for even the collapsed frame: the error names a budget that holds it.
        let Err(FitError::BudgetTooSmall { needed }) = frame(&parts, &mut empty_summary(50), 50)
        else {
            panic!("a 50-token budget cannot hold the frame");
        };
        assert!(frame(&parts, &mut empty_summary(needed), needed).is_ok());
        assert!(frame(&parts, &mut empty_summary(needed - 1), needed - 1).is_err());
    }

    /// Rounds over made-up files whose rendered size differs from the estimate.
    struct Fake {
        /// Actual document tokens per (candidate, fidelity).
        actual: HashMap<(usize, Fidelity), usize>,
        rendered: usize,
    }

    impl Rounds for Fake {
        fn render(&mut self, wanted: &[(usize, Fidelity)]) -> Vec<Option<Element>> {
            self.rendered += wanted.len();
            wanted
                .iter()
                .map(|key| Some(element(self.actual[key])))
                .collect()
        }

        fn describe(
            &self,
            summary: &mut Summary,
            chosen: &[(usize, Fidelity)],
            _: &HashMap<(usize, Fidelity), Element>,
        ) -> Vec<u8> {
            summary.files = chosen.len();
            // The header grows with what the document holds.
            vec![b'x'; 400 + 40 * chosen.len()]
        }

        fn count(&self, bytes: &[u8]) -> usize {
            bytes.len() / 4
        }

        fn document_tokens(&self, rest: usize) -> usize {
            rest + 12
        }
    }

    #[test]
    fn rounds_fit_exact_costs_within_the_budget() {
        let sizes = [3_000, 2_000, 1_500, 800, 600, 400, 300];
        let items: Vec<Item> = sizes
            .iter()
            .enumerate()
            .map(|(c, &tokens)| Item {
                choices: vec![
                    Choice {
                        fidelity: Fidelity::Full,
                        tokens,
                        value: 1.0 / (1.0 + c as f64),
                    },
                    Choice {
                        fidelity: Fidelity::Compressed,
                        tokens: tokens * 35 / 100,
                        value: 0.5 / (1.0 + c as f64),
                    },
                ],
            })
            .collect();
        // Views come out twice their estimate; full texts 10 % over.
        let mut actual = HashMap::new();
        for (c, &tokens) in sizes.iter().enumerate() {
            actual.insert((c, Fidelity::Full), tokens * 11 / 10);
            actual.insert((c, Fidelity::Compressed), tokens * 70 / 100);
        }
        let frame = Frame {
            depth: None,
            footer: Vec::new(),
            footer_tokens: 20,
            fixed: 100 + 20 + 30,
            slack: 30,
        };
        for budget in [1_000, 2_500, 5_000, 9_000, 20_000] {
            let mut work = Fake {
                actual: actual.clone(),
                rendered: 0,
            };
            let mut round_items = items.clone();
            let fitted = rounds(
                &mut round_items,
                budget,
                &frame,
                empty_summary(budget),
                &mut work,
            )
            .unwrap();
            let body: usize = fitted.chosen.iter().map(|k| actual[k]).sum();
            let expected = body + (400 + 40 * fitted.chosen.len()) / 4 + 20 + 12;
            assert_eq!(fitted.total, expected, "budget {budget}");
            assert!(fitted.total <= budget, "{} > {budget}", fitted.total);
            assert_eq!(fitted.summary.files, fitted.chosen.len());
            // Costs of what was rendered are now exact.
            for (c, fidelity) in &fitted.chosen {
                let choice = round_items[*c]
                    .choices
                    .iter()
                    .find(|o| o.fidelity == *fidelity)
                    .unwrap();
                assert_eq!(choice.tokens, actual[&(*c, *fidelity)]);
            }
        }
        // Everything fits a large budget, in full.
        let mut work = Fake {
            actual,
            rendered: 0,
        };
        let mut all = items.clone();
        let fitted = rounds(&mut all, 100_000, &frame, empty_summary(100_000), &mut work).unwrap();
        assert!(fitted.chosen.iter().all(|(_, f)| *f == Fidelity::Full));
        assert_eq!(fitted.chosen.len(), sizes.len());
    }

    #[test]
    fn attention_order_puts_the_best_ranked_at_both_ends() {
        let chosen: Vec<(usize, Fidelity)> = (0..5).map(|c| (c, Fidelity::Full)).collect();
        // Candidate c has rank c + 1.
        let rank_of = [1, 2, 3, 4, 5];
        let order: Vec<usize> = attention_order(chosen.clone(), &rank_of, false)
            .iter()
            .map(|k| k.0)
            .collect();
        assert_eq!(order, [0, 2, 4, 3, 1]);
        let steered: Vec<usize> = attention_order(chosen, &rank_of, true)
            .iter()
            .map(|k| k.0)
            .collect();
        assert_eq!(steered, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn unmade_views_are_rescaled_by_the_median_error_of_made_ones() {
        let view = |tokens| Item {
            choices: vec![Choice {
                fidelity: Fidelity::Compressed,
                tokens,
                value: 1.0,
            }],
        };
        let mut items = vec![view(100), view(200), view(300), view(1_000)];
        let estimates: Vec<Vec<Choice>> = items.iter().map(|i| i.choices.clone()).collect();
        let mut rendered = HashMap::new();
        rendered.insert((0, Fidelity::Compressed), element(200));
        rendered.insert((1, Fidelity::Compressed), element(400));
        rendered.insert((2, Fidelity::Compressed), element(300));
        recalibrate(&mut items, &estimates, &rendered);
        // Ratios 2, 2 and 1: the median is 2; made views keep their cost.
        assert_eq!(items[3].choices[0].tokens, 2_000);
        assert_eq!(items[0].choices[0].tokens, 100);
    }

    #[test]
    fn the_summary_lists_the_secrets_of_held_files_and_paths_only() {
        let at = |path: &str, line| Located {
            path: path.into(),
            line,
            rule: "github-token",
        };
        let scan = ScanSummary {
            mode: Mode::Redact,
            secrets: vec![
                at("a.rs", 3),
                at("b.rs", 7),
                at("tok.txt", 0),
                at("PLAN.md", 2),
            ],
            files: 4,
            examples: vec![at("b.rs", 9)],
            left_out: 0,
        };
        let paths = ["a.rs", "b.rs", "tok.txt", "PLAN.md"].map(String::from);
        let shown = scan_shown(&scan, &paths, &[0], &["PLAN.md".to_string()]);
        let listed: Vec<&str> = shown.secrets.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(listed, ["a.rs", "tok.txt", "PLAN.md"]);
        assert_eq!((shown.left_out, shown.files), (1, 3));
        assert!(shown.examples.is_empty());
        // With omit-file every secret is why a file is missing: all are listed.
        let omit = ScanSummary {
            mode: Mode::OmitFile,
            ..scan.clone()
        };
        assert_eq!(scan_shown(&omit, &paths, &[], &[]).secrets.len(), 4);
    }
}
