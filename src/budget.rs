//! `pack --budget`: rank every file, choose one fidelity per file with the fit, render what was
//! chosen, and verify the whole document's exact count against the budget.
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
use crate::lang::{grammar, Fidelity};
use crate::output::Sink;
use crate::pack::{self, Element, PackError, Prepared};
use crate::rank::{self, FileIndex, RankInput};
use crate::render::report::{self, PackReport};
use crate::render::xml;
use crate::render::{Summary, TreeItem};
use crate::secrets::{Finding, SecretsFound};
use crate::tokens::{Tiktoken, TokenCounter};
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
/// Rounds of fit → render → count before settling for the best document within budget.
const ROUNDS: usize = 16;

/// What the walk learned about one file.
struct Indexed {
    entry: Entry,
    /// Full-text tokens, or why the file is left out.
    tokens: Result<usize, (OmitReason, Option<String>)>,
    index: FileIndex,
    parseable: bool,
    findings: Vec<Finding>,
}

/// Runs a budgeted pack and writes the document.
pub fn run(config: &PackConfig, budget: usize, err: &mut dyn Write) -> Result<(), PackError> {
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
                "ctxpack: warning: skipped {}: {detail}",
                file.entry.rel.display()
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
    let scores = rank::rank(&inputs, &config.focus);
    let mut by_score: Vec<usize> = (0..candidates.len()).collect();
    by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut rank_of = vec![0usize; candidates.len()];
    for (position, &c) in by_score.iter().enumerate() {
        rank_of[c] = position + 1;
    }

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
            let value = scores[c] * (1.0 + (1.0 + tokens as f64 / 400.0).ln());
            let mut choices = vec![Choice {
                fidelity: Fidelity::Full,
                tokens: tokens + markup,
                value,
            }];
            if files[i].parseable && tokens > 60 {
                choices.push(Choice {
                    fidelity: Fidelity::Compressed,
                    tokens: (tokens as f64 * COMPRESSED_ESTIMATE) as usize + markup,
                    value: value * compressed_value,
                });
                choices.push(Choice {
                    fidelity: Fidelity::Outline,
                    tokens: (tokens as f64 * OUTLINE_ESTIMATE) as usize + markup,
                    value: value * outline_value,
                });
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
    let footer = xml::footer(&omitted_paths);
    let footer_tokens = counter.count(&String::from_utf8_lossy(&footer));
    let tree: Vec<TreeItem<'_>> = files
        .iter()
        .map(|f| TreeItem {
            components: f.entry.rel.components(),
            omitted: f.tokens.as_ref().err().map(|(r, _)| *r),
        })
        .collect();
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
        secrets: scan,
        budget: Some(crate::render::BudgetSummary {
            budget,
            ..Default::default()
        }),
    };
    let header_tokens = |summary: &Summary, depth: Option<usize>| {
        counter.count(&String::from_utf8_lossy(&xml::header_body_collapsed(
            summary, &tree, depth,
        )))
    };
    let max_depth = files
        .iter()
        .map(|f| f.entry.rel.components().len())
        .max()
        .unwrap_or(1);
    let mut depth: Option<usize> = None;
    let mut fixed = header_tokens(&summary, None) + footer_tokens + 30;
    if fixed as f64 > budget as f64 * TREE_SHARE {
        for d in (0..max_depth).rev() {
            depth = Some(d);
            fixed = header_tokens(&summary, depth) + footer_tokens + 30;
            if fixed as f64 <= budget as f64 * TREE_SHARE {
                break;
            }
        }
    }
    if fixed > budget {
        return Err(PackError::BudgetTooSmall { needed: fixed });
    }

    // Fit → render → count, until the document fits and fills the budget. Views are estimated
    // from the full count until made; every view made also recalibrates the estimates of the
    // views not yet made (per fidelity, the median of actual over estimated).
    let estimates: Vec<Vec<Choice>> = items.iter().map(|i| i.choices.clone()).collect();
    let mut rendered: HashMap<(usize, Fidelity), Element> = HashMap::new();
    let mut prepared: HashMap<usize, Prepared> = HashMap::new();
    let mut target = budget - fixed;
    let mut best: Option<(Solution, usize, Vec<u8>)> = None;
    for _ in 0..ROUNDS {
        let solution = fit::solve(&items, target);
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
            let element = pack::render_element(
                &files[i].entry,
                &prepared[&c],
                choice.fidelity,
                Some(rank_of[c]),
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
        let chosen: Vec<(usize, Fidelity)> = solution
            .chosen
            .iter()
            .enumerate()
            .filter_map(|(c, choice)| choice.map(|ch| (c, ch.fidelity)))
            .filter(|key| rendered.contains_key(key))
            .collect();
        fill_summary(&mut summary, &chosen, &rendered);
        let header = xml::header_body_collapsed(&summary, &tree, depth);
        let body: usize = chosen.iter().map(|k| rendered[k].document_tokens).sum();
        let rest = counter.count(&String::from_utf8_lossy(&header)) + body + footer_tokens;
        let version = env!("CARGO_PKG_VERSION");
        let total = xml::document_tokens(&counter, version, config.encoding.name(), rest);
        if total <= budget {
            let better = best
                .as_ref()
                .is_none_or(|(b, _, _)| solution.value > b.value);
            if better {
                best = Some((solution.clone(), total, header));
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
    let Some((solution, total, header)) = best else {
        return Err(PackError::BudgetTooSmall { needed: fixed });
    };

    // Write the files in the attention-friendly order.
    let mut chosen: Vec<(usize, Fidelity)> = solution
        .chosen
        .iter()
        .enumerate()
        .filter_map(|(c, choice)| choice.map(|ch| (c, ch.fidelity)))
        .filter(|key| rendered.contains_key(key))
        .collect();
    chosen.sort_by_key(|&(c, _)| rank_of[c]);
    let (odd, even): (Vec<_>, Vec<_>) = chosen.iter().enumerate().partition(|(n, _)| n % 2 == 0);
    let order: Vec<(usize, Fidelity)> = odd
        .into_iter()
        .map(|(_, k)| *k)
        .chain(even.into_iter().rev().map(|(_, k)| *k))
        .collect();
    fill_summary(&mut summary, &order, &rendered);
    let root_line = xml::root_line(env!("CARGO_PKG_VERSION"), config.encoding.name(), total);
    let output_error = |source| pack::output_error(config, source);
    let mut sink = Sink::open(config.output.as_deref()).map_err(output_error)?;
    let out = sink.writer();
    out.write_all(root_line.as_bytes()).map_err(output_error)?;
    out.write_all(&header).map_err(output_error)?;
    for key in &order {
        out.write_all(&rendered[key].bytes).map_err(output_error)?;
    }
    out.write_all(&footer).map_err(output_error)?;
    sink.finish().map_err(output_error)?;

    if !config.quiet {
        let mut top: Vec<(String, usize)> = order
            .iter()
            .map(|&(c, f)| (paths[candidates[c]].clone(), rendered[&(c, f)].tokens))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(5);
        let report = PackReport {
            files: order.len(),
            fidelity: Fidelity::Full,
            degraded: summary.degraded,
            document_tokens: total,
            encoding: config.encoding.name(),
            destination: config
                .output
                .as_ref()
                .and_then(|p| p.file_name())
                .map(walk::shown_name),
            top_files: top,
            omitted: summary.omitted.clone(),
            secrets: summary.secrets.clone(),
            budget: summary.budget.clone(),
        };
        report::print_summary(err, &report)?;
    }
    Ok(())
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
    }
}

fn index_file(mut entry: Entry, config: &PackConfig, counter: &dyn TokenCounter) -> Indexed {
    let mut path_findings = pack::redact_path(&mut entry, config);
    if let Status::Omitted(reason) = entry.status {
        return Indexed {
            entry,
            tokens: Err((reason, None)),
            index: FileIndex::default(),
            parseable: false,
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
            findings,
        };
    }
    match prepared {
        Ok(p) => Indexed {
            tokens: Ok(counter.count(&p.file.text)),
            index: rank::index(&p.file.text, &config.focus),
            parseable: grammar::grammar(p.language).is_some(),
            entry,
            findings,
        },
        Err(reason) => Indexed {
            entry,
            tokens: Err(reason),
            index: FileIndex::default(),
            parseable: false,
            findings,
        },
    }
}
