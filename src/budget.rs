//! `pack --budget`: rank every file, choose one fidelity per file with the fit, render what was
//! chosen, and verify the whole document's exact count against the budget.
//!
//! Deciding and writing are separate steps: [`compute`] returns a [`Packing`], every file's fate
//! and the rendered document, and [`write()`] emits it. `pack --budget` does both; `stats --budget`
//! reports the same [`Packing`], so it shows exactly what the pack would do.
//!
//! The walk counts each file's full text exactly and indexes it for ranking; nothing is parsed
//! yet. Compressed and outline sizes start as estimates from the full count, and a file is parsed
//! only when the fit picks one of those views for it; from then on its exact size replaces the
//! estimate. Rounds of fit → render → exact count continue until the document is within the
//! budget and uses at least 97 % of it (or nothing more fits).
//!
//! Order: files appear in decreasing rank from both ends towards the middle (ranks 1, 3, 5, …
//! first, …, 6, 4, 2 last). Models attend most to the beginning and the end of a long context,
//! so the most relevant files sit where attention is highest and the least relevant in the middle.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::ops::ControlFlow;

use crate::config::PackConfig;
use crate::fit::{self, Choice, Item, Solution};
use crate::lang::{self, grammar, Fidelity, Language};
use crate::output::Sink;
use crate::pack::{self, Element, PackError, Prepared};
use crate::rank::{self, FileIndex, RankInput};
use crate::render::report;
use crate::render::xml;
use crate::render::{Summary, TreeItem};
use crate::secrets::{Finding, ScanSummary, SecretsFound};
use crate::tokens::{SplitCount, Tiktoken, TokenCounter};
use crate::walk::{self, Entry, OmitReason, Status};

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

/// How a layer above the pipeline (a plan) steers a budgeted pack: what comes first, which files
/// the document must hold, and which others are worth a view. Without it, the ranking decides.
#[derive(Debug, Default)]
pub struct Steering {
    /// A complete element written before the summary (the plan itself), counted in the budget.
    pub prelude: Vec<u8>,
    /// Files the document must hold, in the order it holds them.
    pub required: Vec<Required>,
    /// Files with a weaker claim (candidates of an ambiguous name): views, after the required.
    pub candidates: Vec<String>,
    /// Names being changed: files that use them are neighbours of the required files.
    pub changed: std::collections::HashSet<String>,
    /// Files never shown (the plan itself, which the prelude holds already).
    pub skip: Vec<String>,
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
}

/// What a budgeted pack's role for one candidate file is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Ranked like every file (no steering).
    Ranked,
    /// Required, at this position in the steering's order.
    Required(usize),
    /// Next to the required files, this strongly (0, 1]: compressed or outline only.
    Near(f64),
    /// Steered away: the tree only.
    Left,
}

/// What the walk learned about one file.
struct Indexed {
    entry: Entry,
    /// Full-text tokens, or why the file is left out.
    tokens: Result<usize, (OmitReason, Option<String>)>,
    index: FileIndex,
    parseable: bool,
    /// Lines of text (0 when not read).
    lines: usize,
    /// Source code (not Markdown or text): what a plan's neighbourhood is made of.
    code: bool,
    findings: Vec<Finding>,
}

/// What a budgeted pack decided, before anything is written.
pub struct Packing {
    /// Every file considered, in path order.
    pub files: Vec<FileDecision>,
    /// The tokens the document may use (the budget less --reserve).
    pub budget: usize,
    /// The whole document's exact count.
    pub document_tokens: usize,
    /// The depth (0: the top level) at which the document's tree shows each directory as one
    /// line, when the whole tree would have taken too much of the budget.
    pub tree_depth: Option<usize>,
    /// The document's summary: counts per fidelity, omitted files, secrets.
    pub summary: Summary,
    /// Every secret found in the tree, and (`left_out`) how many are in files the document
    /// leaves out: what stderr and `stats` report. The summary lists only the document's.
    pub scan: ScanSummary,
    header: Vec<u8>,
    footer: Vec<u8>,
    /// The packed files' elements in document order, each with its index in `files`.
    elements: Vec<(usize, Element)>,
}

/// What a pack does with one file.
#[derive(Debug, Clone)]
pub struct FileDecision {
    /// The path components as every output shows them (a secret in a name is redacted).
    pub components: Vec<String>,
    /// Tokens of the full text, or why the file is left out whatever the budget.
    pub full_tokens: Result<usize, OmitReason>,
    /// Position in the ranking (1 = most relevant), for files that can be packed.
    pub rank: Option<usize>,
    /// The ranking's score behind `rank`.
    pub score: Option<f64>,
    /// The view in the document; None when the file is omitted or left out to fit the budget.
    pub packed: Option<PackedView>,
}

impl FileDecision {
    /// The `/`-joined path, as the document shows it.
    pub fn path(&self) -> String {
        self.components.join("/")
    }
}

/// A file's view as the document holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedView {
    pub fidelity: Fidelity,
    /// Tokens of the view's text (the element's tokens attribute).
    pub tokens: usize,
    /// The view fell back (head of file, empty outline).
    pub degraded: bool,
}

/// Every file the walk found, read, counted and indexed for ranking, with what the secrets scan
/// found: the input of [`decide`].
pub struct Corpus {
    files: Vec<Indexed>,
    scan: ScanSummary,
}

impl Corpus {
    /// Every file in path order, with its full-text tokens (nothing ranked or fitted yet).
    pub fn decisions(&self) -> Vec<FileDecision> {
        self.files
            .iter()
            .map(|f| FileDecision {
                components: f.entry.rel.components().to_vec(),
                full_tokens: f.tokens.as_ref().copied().map_err(|(reason, _)| *reason),
                rank: None,
                score: None,
                packed: None,
            })
            .collect()
    }

    /// What secret scanning found, in path order.
    pub fn scan(&self) -> &ScanSummary {
        &self.scan
    }
}

/// Runs a budgeted pack and writes the document.
pub fn run(config: &PackConfig, budget: usize, err: &mut dyn Write) -> Result<(), PackError> {
    let packing = compute(config, budget, err)?;
    write(config, packing, err)
}

/// Decides everything a budgeted pack writes: [`index`], then [`decide`].
pub fn compute(
    config: &PackConfig,
    budget: usize,
    err: &mut dyn Write,
) -> Result<Packing, PackError> {
    let corpus = index(config, err)?;
    decide(config, budget, corpus)
}

/// Walks, reads, counts and (when the config has a budget) indexes every file for ranking. Notes
/// and warnings go to `err`; with `--secrets fail`, any secret is an error.
pub fn index(config: &PackConfig, err: &mut dyn Write) -> Result<Corpus, PackError> {
    let source = &config.source;
    let pool = pack::start(config, err)?;
    let counter = Tiktoken::new(config.encoding);
    let progress = report::progress(config.quiet);

    let work = |entry: Entry| index_file(entry, config, &counter);
    let mut files: Vec<Indexed> = Vec::new();
    let mut consume = |indexed: Indexed| {
        progress.inc(1);
        files.push(indexed);
        ControlFlow::Continue(())
    };
    let warnings = walk::walk_with(&source.inputs, &source.walk, &pool, &work, &mut consume);
    progress.finish_and_clear();
    // Warnings name paths: they are redacted like the paths in the document.
    let shown = |message: &str| match config.secrets {
        crate::secrets::Mode::Off => message.to_string(),
        _ => crate::secrets::Scanner::get().redact_message(message),
    };
    for warning in &warnings? {
        writeln!(err, "ctxpack: warning: {}", shown(warning))?;
    }
    files.sort_unstable_by(|a, b| a.entry.rel.cmp(&b.entry.rel));
    for file in &files {
        if let Err((OmitReason::Unreadable, Some(detail))) = &file.tokens {
            writeln!(
                err,
                "ctxpack: warning: skipped {}: {}",
                file.entry.rel.display(),
                shown(detail)
            )?;
        }
    }
    let scan = pack::scan_of(
        config.secrets,
        files.iter().map(|f| (&f.entry, &f.findings[..])),
    );
    if config.secrets == crate::secrets::Mode::Fail && !scan.secrets.is_empty() {
        return Err(SecretsFound {
            secrets: scan.secrets,
        }
        .into());
    }
    Ok(Corpus { files, scan })
}

/// Ranks the files of `corpus`, chooses each one's fidelity and renders the document within
/// `budget`, in rounds of fit → render → exact count.
///
/// Everything a caller may want to steer per file (its score, the views it may take) is settled
/// between the ranking and the first fit, in this function's `scores` and `items`.
pub fn decide(config: &PackConfig, budget: usize, corpus: Corpus) -> Result<Packing, PackError> {
    decide_steered(config, budget, corpus, None)
}

/// [`decide`], steered: the required files first and whole (or as excerpts) as far as the budget
/// goes, then their one-hop neighbours as views, nothing else. The same guarantees hold: the
/// document is counted exactly and never exceeds the budget.
pub fn decide_steered(
    config: &PackConfig,
    budget: usize,
    corpus: Corpus,
    steering: Option<&Steering>,
) -> Result<Packing, PackError> {
    let source = &config.source;
    let counter = Tiktoken::new(config.encoding);
    let mut decisions = corpus.decisions();
    let Corpus { files, scan } = corpus;

    // Rank the files that can be packed.
    let candidates: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].tokens.is_ok())
        .collect();
    let paths: Vec<String> = files.iter().map(|f| f.entry.rel.display()).collect();
    let git = rank::git_activity(&source.inputs.root);
    let inputs: Vec<RankInput<'_>> = candidates
        .iter()
        .map(|&i| RankInput {
            path: &paths[i],
            index: &files[i].index,
            git: git.as_ref().and_then(|g| g.get(&paths[i]).copied()),
        })
        .collect();
    let definers = rank::definers(&inputs);
    let scores = rank::rank(&inputs, &definers, &config.focus);
    let mut by_score: Vec<usize> = (0..candidates.len()).collect();
    by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut rank_of = vec![0usize; candidates.len()];
    for (position, &c) in by_score.iter().enumerate() {
        rank_of[c] = position + 1;
    }

    // With steering, each candidate's role; the rank becomes the steering's order.
    let roles: Vec<Role> = match steering {
        None => vec![Role::Ranked; candidates.len()],
        Some(steering) => {
            // Matched on the paths before redaction: the plan names files by their real names.
            let unredacted: Vec<String> = candidates
                .iter()
                .map(|&i| files[i].entry.rel.unredacted())
                .collect();
            let position: HashMap<&str, usize> = unredacted
                .iter()
                .enumerate()
                .map(|(c, p)| (p.as_str(), c))
                .collect();
            let mut roles = vec![Role::Left; candidates.len()];
            let mut seeds = Vec::new();
            for (k, required) in steering.required.iter().enumerate() {
                if let Some(&c) = position.get(required.path.as_str()) {
                    roles[c] = Role::Required(k);
                    seeds.push(c);
                }
            }
            let near = rank::neighbours(&inputs, &definers, &seeds, &steering.changed);
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
            // Ranks follow the document's order: required, then neighbours, then the rest.
            let order_key = |c: usize| match roles[c] {
                Role::Required(k) => (0, k as f64),
                Role::Near(w) => (1, -w),
                _ => (2, -scores[c]),
            };
            by_score.sort_by(|&a, &b| {
                let (ga, ka) = order_key(a);
                let (gb, kb) = order_key(b);
                ga.cmp(&gb).then(ka.total_cmp(&kb)).then(a.cmp(&b))
            });
            for (position, &c) in by_score.iter().enumerate() {
                rank_of[c] = position + 1;
            }
            roles
        }
    };
    let steered_spans = |c: usize| -> Option<&Required> {
        match (roles[c], steering) {
            (Role::Required(k), Some(s)) => Some(&s.required[k]),
            _ => None,
        }
    };

    // Each candidate's options, estimated until rendered.
    let (compressed_value, outline_value) = if config.focus.is_empty() {
        VIEW_VALUES
    } else {
        FOCUS_VIEW_VALUES
    };
    let mut items: Vec<Item> = candidates
        .iter()
        .enumerate()
        .map(|(c, &i)| {
            let tokens = *files[i].tokens.as_ref().expect("candidates are packable");
            let markup = 30 + paths[i].len() / 3;
            let size = 1.0 + (1.0 + tokens as f64 / 400.0).ln();
            let value = match roles[c] {
                Role::Ranked => scores[c] * size,
                // Direct references first, then members of referenced directories and globs;
                // earlier in the plan a little ahead of later.
                Role::Required(k) => {
                    let direct = steering.is_some_and(|s| s.required[k].direct);
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
            let parseable = files[i].parseable && tokens > 60;
            if let Some(required) = steered_spans(c) {
                if !required.whole && !required.spans.is_empty() && tokens > EXCERPT_ABOVE {
                    // The spans' share of the file, plus an outline of the rest.
                    let span_lines: usize = required
                        .spans
                        .iter()
                        .map(|(a, b)| b - a + 1 + 2 * lang::EXCERPT_CONTEXT)
                        .sum();
                    let lines = files[i].lines.max(1);
                    let share = (span_lines as f64 / lines as f64).min(1.0);
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
            if let Role::Near(_) = roles[c] {
                // A neighbour is code shown as a view, never whole: no grammar, no place.
                if files[i].parseable && files[i].code {
                    choices.extend(views());
                }
                return Item { choices };
            }
            choices.push(Choice {
                fidelity: Fidelity::Full,
                tokens: tokens + markup,
                value,
            });
            if parseable {
                choices.extend(views());
            }
            Item { choices }
        })
        .collect();

    // The fixed parts: the footer (files left out for other reasons than the budget), and the
    // tree, collapsed if it would take too much of the budget.
    let omitted_paths: Vec<(&str, OmitReason)> = files
        .iter()
        .zip(&paths)
        .filter_map(|(f, p)| f.tokens.as_ref().err().map(|(r, _)| (p.as_str(), *r)))
        .collect();
    // The footer lists omitted files one by one, or per directory where the tree is collapsed.
    let footer_tokens_at = |depth: Option<usize>| {
        counter.count(&String::from_utf8_lossy(&xml::footer_collapsed(
            &omitted_paths,
            depth,
        )))
    };
    let tree: Vec<TreeItem<'_>> = files
        .iter()
        .map(|f| TreeItem {
            components: f.entry.rel.components(),
            omitted: f.tokens.as_ref().err().map(|(r, _)| *r),
        })
        .collect();
    let skipped: &[String] = steering.map_or(&[], |s| s.skip.as_slice());
    let mut summary = Summary {
        root_name: source.root_name.clone(),
        encoding: config.encoding.name(),
        files: 0,
        fidelity: Fidelity::Full,
        degraded: 0,
        file_tokens: 0,
        omitted: pack::omitted_counts(
            files
                .iter()
                .filter_map(|f| f.tokens.as_ref().err().map(|(r, _)| *r)),
        ),
        secrets: scan_shown(&scan, &paths, &[], skipped),
        budget: Some(crate::render::BudgetSummary {
            budget,
            ..Default::default()
        }),
        plan: None,
    };
    // The header: the steering's prelude (the plan), then the summary and the tree.
    let prelude: &[u8] = steering.map_or(&[], |s| s.prelude.as_slice());
    let header_of = |summary: &Summary, depth: Option<usize>| {
        let mut header = prelude.to_vec();
        header.extend(xml::header_body_collapsed(summary, &tree, depth));
        header
    };
    let header_tokens = |summary: &Summary, depth: Option<usize>| {
        counter.count(&String::from_utf8_lossy(&header_of(summary, depth)))
    };
    let max_depth = files
        .iter()
        .map(|f| f.entry.rel.components().len())
        .max()
        .unwrap_or(1);
    // The fixed parts' tokens at a budget, and the tree depth that keeps them within its share.
    // The summary names the budget, so the budget is part of what is counted.
    let fixed_at = |summary: &mut Summary, budget: usize| {
        if let Some(b) = &mut summary.budget {
            b.budget = budget;
        }
        let mut depth: Option<usize> = None;
        let mut fixed = header_tokens(summary, None) + footer_tokens_at(None) + 30;
        let share = if config.focus.is_empty() {
            TREE_SHARE
        } else {
            FOCUS_TREE_SHARE
        };
        if fixed as f64 > budget as f64 * share {
            for d in (0..max_depth).rev() {
                depth = Some(d);
                fixed = header_tokens(summary, depth) + footer_tokens_at(depth) + 30;
                if fixed as f64 <= budget as f64 * share {
                    break;
                }
            }
        }
        (fixed, depth)
    };
    let (fixed, depth) = fixed_at(&mut summary, budget);
    let footer = xml::footer_collapsed(&omitted_paths, depth);
    let footer_tokens = counter.count(&String::from_utf8_lossy(&footer));
    if fixed > budget {
        // Named in the summary, a larger budget can take more tokens itself ("1,003" against
        // "915"): settle on one that holds its own smallest document. The fixed parts grow with
        // the budget only by its digits, so this ends within a step or two.
        let mut needed = fixed;
        loop {
            let (at_needed, _) = fixed_at(&mut summary, needed);
            if at_needed <= needed {
                break;
            }
            needed = at_needed;
        }
        return Err(PackError::BudgetTooSmall { needed });
    }

    // Fit → render → count, until the document fits and fills the budget. Views are estimated
    // from the full count until made; every view made also recalibrates the estimates of the
    // views not yet made (per fidelity, the median of actual over estimated).
    let estimates: Vec<Vec<Choice>> = items.iter().map(|i| i.choices.clone()).collect();
    let mut rendered: HashMap<(usize, Fidelity), Element> = HashMap::new();
    let mut prepared: HashMap<usize, Prepared> = HashMap::new();
    let mut target = budget - fixed;
    // The header grows with what the document holds (counts, the secrets listed in the files
    // held, a plan's lists); `fixed` counted the header of an empty document. The last round's
    // growth is kept off the room the next solve fills.
    let empty_header = fixed - footer_tokens - 30;
    let mut growth = 0usize;
    // What the summary says of a document showing `chosen`: its counts, the secrets in the files
    // it holds, and what became of a plan's files. It does not depend on their order.
    let describe = |summary: &mut Summary,
                    chosen: &[(usize, Fidelity)],
                    rendered: &HashMap<(usize, Fidelity), Element>| {
        fill_summary(summary, chosen, rendered);
        let held: Vec<usize> = chosen.iter().map(|&(c, _)| candidates[c]).collect();
        summary.secrets = scan_shown(&scan, &paths, &held, skipped);
        if let Some(steering) = steering {
            summary.plan = Some(plan_summary(steering, &roles, chosen, &candidates, &paths));
        }
    };
    let version = env!("CARGO_PKG_VERSION");
    let document_tokens = |header_tokens: usize, body: usize| {
        xml::document_tokens(
            &counter,
            version,
            config.encoding.name(),
            header_tokens + body + footer_tokens,
        )
    };
    // The best document within budget: its value, count, header, the files it shows and its
    // summary.
    type Fitted = (f64, usize, Vec<u8>, Vec<(usize, Fidelity)>, Summary);
    let mut best: Option<Fitted> = None;
    for _ in 0..ROUNDS {
        let solution = fit::solve(&items, target.saturating_sub(growth));
        // Render every chosen view, and correct the item's cost to the exact one.
        let mut changed = false;
        for (c, choice) in solution.chosen.iter().enumerate() {
            let Some(choice) = choice else { continue };
            let key = (c, choice.fidelity);
            if rendered.contains_key(&key) {
                continue;
            }
            let i = candidates[c];
            if let std::collections::hash_map::Entry::Vacant(slot) = prepared.entry(c) {
                match pack::prepare(&files[i].entry, config).0 {
                    Ok(p) => {
                        slot.insert(p);
                    }
                    Err(_) => continue, // vanished or changed since the walk
                }
            }
            let spans = steered_spans(c).map_or(&[][..], |r| r.spans.as_slice());
            let element = pack::render_element(
                &files[i].entry,
                &prepared[&c],
                choice.fidelity,
                spans,
                Some(rank_of[c]),
                config,
                &counter,
            );
            changed |= element.document_tokens != choice.tokens;
            for option in items[c].choices.iter_mut() {
                if option.fidelity == choice.fidelity {
                    option.tokens = element.document_tokens;
                }
            }
            rendered.insert(key, element);
        }
        recalibrate(&mut items, &estimates, &rendered);
        let chosen = shown(&solution, &rendered);
        describe(&mut summary, &chosen, &rendered);
        let header = header_of(&summary, depth);
        let header_tokens = counter.count(&String::from_utf8_lossy(&header));
        growth = header_tokens.saturating_sub(empty_header);
        let body: usize = chosen.iter().map(|k| rendered[k].document_tokens).sum();
        let total = document_tokens(header_tokens, body);
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
    if best.is_none() {
        // No round fitted: the empty document does, since its fixed parts are within budget.
        describe(&mut summary, &[], &rendered);
        let header = header_of(&summary, depth);
        let total = document_tokens(counter.count(&String::from_utf8_lossy(&header)), 0);
        if total > budget {
            return Err(PackError::BudgetTooSmall { needed: total });
        }
        best = Some((0.0, total, header, Vec::new(), summary));
    }
    let (_, total, header, mut chosen, summary) = best.expect("the empty document fits");

    // The files in the attention-friendly order.
    chosen.sort_by_key(|&(c, _)| rank_of[c]);
    let order: Vec<(usize, Fidelity)> = if steering.is_some() {
        // A plan's files in the plan's order, right after it; their neighbours after them.
        chosen
    } else {
        let (odd, even): (Vec<_>, Vec<_>) =
            chosen.iter().enumerate().partition(|(n, _)| n % 2 == 0);
        odd.into_iter()
            .map(|(_, k)| *k)
            .chain(even.into_iter().rev().map(|(_, k)| *k))
            .collect()
    };
    // The report (stderr, stats) covers every secret found, and says how many the document
    // leaves out.
    let scan = ScanSummary {
        left_out: summary.secrets.left_out,
        ..scan
    };

    for (c, &i) in candidates.iter().enumerate() {
        decisions[i].rank = Some(rank_of[c]);
        decisions[i].score = Some(scores[c]);
    }
    let mut elements = Vec::with_capacity(order.len());
    for key in &order {
        // Every key in `order` was filtered on being in `rendered`, and keys are distinct.
        let element = rendered.remove(key).expect("chosen views are rendered");
        let i = candidates[key.0];
        decisions[i].packed = Some(PackedView {
            fidelity: key.1,
            tokens: element.tokens,
            degraded: element.degraded,
        });
        elements.push((i, element));
    }
    Ok(Packing {
        files: decisions,
        budget,
        document_tokens: total,
        tree_depth: depth,
        summary,
        scan,
        header,
        footer,
        elements,
    })
}

/// Writes the document `packing` holds, and the summary on `err` unless `--quiet`.
pub fn write(config: &PackConfig, packing: Packing, err: &mut dyn Write) -> Result<(), PackError> {
    let Packing {
        files,
        document_tokens: total,
        summary,
        scan,
        header,
        footer,
        elements,
        ..
    } = packing;
    let root_line = xml::root_line(env!("CARGO_PKG_VERSION"), config.encoding.name(), total);
    let output_error = |source| pack::output_error(config, source);
    let mut sink = Sink::open(config.output.as_deref()).map_err(output_error)?;
    let out = sink.writer();
    out.write_all(root_line.as_bytes()).map_err(output_error)?;
    out.write_all(&header).map_err(output_error)?;
    for (_, element) in &elements {
        out.write_all(&element.bytes).map_err(output_error)?;
    }
    out.write_all(&footer).map_err(output_error)?;
    sink.finish().map_err(output_error)?;

    if !config.quiet {
        let packed = elements
            .iter()
            .map(|(i, element)| (files[*i].path(), element.tokens))
            .collect();
        let summary = Summary {
            secrets: scan,
            ..summary
        };
        pack::print_report(config, summary, total, packed, err)?;
    }
    Ok(())
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
    for fidelity in [Fidelity::Compressed, Fidelity::Outline] {
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
    if scan.mode == crate::secrets::Mode::OmitFile {
        return scan.clone();
    }
    let held: std::collections::HashSet<&str> = held
        .iter()
        .map(|&i| paths[i].as_str())
        .chain(skipped.iter().map(String::as_str))
        .collect();
    let keep =
        |found: &&crate::secrets::Located| found.line == 0 || held.contains(found.path.as_str());
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
) -> crate::render::PlanSummary {
    let shown: HashMap<usize, Fidelity> = chosen.iter().map(|&(c, f)| (c, f)).collect();
    let mut of_required: Vec<Option<usize>> = vec![None; steering.required.len()];
    for (c, role) in roles.iter().enumerate() {
        if let Role::Required(k) = role {
            of_required[*k] = Some(c);
        }
    }
    let mut summary = crate::render::PlanSummary {
        required: steering.required.len(),
        ..Default::default()
    };
    for (k, required) in steering.required.iter().enumerate() {
        let Some(c) = of_required[k] else {
            let shown = crate::secrets::Scanner::get().redact_message(&required.path);
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

fn index_file(mut entry: Entry, config: &PackConfig, counter: &dyn TokenCounter) -> Indexed {
    let mut path_findings = pack::redact_path(&mut entry, config);
    if let Status::Omitted(reason) = entry.status {
        return Indexed {
            entry,
            tokens: Err((reason, None)),
            index: FileIndex::default(),
            parseable: false,
            lines: 0,
            code: false,
            findings: path_findings,
        };
    }
    let secret_in_path = path_findings.iter().any(Finding::is_secret);
    let (prepared, mut findings) = pack::prepare(&entry, config);
    path_findings.append(&mut findings);
    let findings = path_findings;
    if secret_in_path && config.secrets == crate::secrets::Mode::OmitFile {
        return Indexed {
            entry,
            tokens: Err((OmitReason::Secrets, None)),
            index: FileIndex::default(),
            parseable: false,
            lines: 0,
            code: false,
            findings,
        };
    }
    match prepared {
        Ok(p) => Indexed {
            // Counted the way a full view is (so that rendering it later is a cache hit).
            tokens: Ok(config
                .cache
                .count(config.encoding, &p.file.text, || {
                    SplitCount::new(counter, &p.file.text)
                })
                .total()),
            // Only a budget ranks (`stats` without one reads the counts alone).
            index: match config.budget {
                Some(_) => rank::index(&p.file.text, &config.focus),
                None => FileIndex::default(),
            },
            parseable: grammar::grammar(p.language).is_some(),
            lines: memchr::memchr_iter(b'\n', p.file.text.as_bytes()).count() + 1,
            code: !matches!(p.language, Language::Markdown | Language::Text),
            entry,
            findings,
        },
        Err(reason) => Indexed {
            entry,
            tokens: Err(reason),
            index: FileIndex::default(),
            parseable: false,
            lines: 0,
            code: false,
            findings,
        },
    }
}
