//! The human summary of a pack, for stderr.

use std::io::Write;

use super::{human, plural, BudgetSummary, DiffSummary, PlanSummary};
use crate::secrets::{Located, Mode, ScanSummary};
use crate::types::Fidelity;
use crate::types::OmitReason;

/// What the stderr summary reports.
#[derive(Debug)]
pub struct PackReport {
    pub files: usize,
    pub fidelity: Fidelity,
    /// Files whose view fell back (head of file, empty outline).
    pub degraded: usize,
    pub document_tokens: usize,
    pub encoding: &'static str,
    pub destination: Option<String>,
    /// The largest files by tokens, largest first.
    pub top_files: Vec<(String, usize)>,
    pub omitted: Vec<(OmitReason, usize)>,
    pub secrets: ScanSummary,
    pub budget: Option<BudgetSummary>,
    /// Set for `pack --plan` and `pack --diff`: what became of the files the plan references,
    /// or that the change touches.
    pub plan: Option<PlanSummary>,
    /// Set for `pack --diff`: the change, and the patches left out.
    pub diff: Option<DiffSummary>,
    /// Every list in full; otherwise each stops at [`SHORT_LIST`] with a count of the rest.
    pub verbose: bool,
}

/// How many entries a list on stderr shows without `--verbose`.
const SHORT_LIST: usize = 5;

/// How many of this run's token counts and views came from the cache (nothing without lookups).
pub fn print_cache(err: &mut dyn Write, hits: usize, lookups: usize) -> std::io::Result<()> {
    if lookups == 0 {
        return Ok(());
    }
    writeln!(
        err,
        "  cache: {} of {} token counts and views reused",
        human(hits),
        human(lookups)
    )
}

/// How many findings of each kind stderr lists by place; the document's summary lists all
/// secrets.
const LISTED_ON_STDERR: usize = 20;

pub fn print_summary(err: &mut dyn Write, report: &PackReport) -> std::io::Result<()> {
    let destination = match &report.destination {
        Some(path) => format!(" -> {path}"),
        None => String::new(),
    };
    let fidelity = match report.fidelity {
        Fidelity::Full => String::new(),
        other => format!(" as {} views", other.name()),
    };
    writeln!(
        err,
        "ctxpack: packed {} files{fidelity}, {} tokens ({}){destination}",
        human(report.files),
        human(report.document_tokens),
        report.encoding
    )?;
    if let Some(b) = &report.budget {
        let excerpts = if b.excerpt > 0 {
            format!(", {} excerpt", human(b.excerpt))
        } else {
            String::new()
        };
        writeln!(
            err,
            "  budget: {} of {} tokens used; {} full, {} compressed, {} outline{excerpts}",
            human(report.document_tokens),
            human(b.budget),
            human(b.full),
            human(b.compressed),
            human(b.outline)
        )?;
    }
    if let Some(plan) = &report.plan {
        if let Some(diff) = &report.diff {
            print_diff(err, diff)?;
        }
        let (label, noun) = match &report.diff {
            Some(diff) if diff.with_plan => ("change", "touched or planned file"),
            Some(_) => ("change", "touched file"),
            None => ("plan", "referenced file"),
        };
        print_plan(err, plan, label, noun, report.verbose)?;
    }
    if report.degraded > 0 {
        writeln!(
            err,
            "  {} files could not be parsed cleanly and show their first lines or nothing \
             (see their degraded attribute)",
            human(report.degraded)
        )?;
    }
    if !report.top_files.is_empty() {
        writeln!(err, "  largest files by tokens:")?;
        let width = report
            .top_files
            .iter()
            .map(|(_, t)| human(*t).len())
            .max()
            .unwrap_or(0);
        for (path, tokens) in &report.top_files {
            writeln!(err, "    {:>width$}  {path}", human(*tokens))?;
        }
    }
    if report.omitted.is_empty() {
        writeln!(err, "  omitted: none")?;
    } else {
        let parts: Vec<String> = report
            .omitted
            .iter()
            .map(|(reason, n)| format!("{} {reason}", human(*n)))
            .collect();
        writeln!(err, "  omitted: {}", parts.join(", "))?;
    }
    print_secrets(err, &report.secrets, report.verbose)
}

fn print_secrets(err: &mut dyn Write, scan: &ScanSummary, verbose: bool) -> std::io::Result<()> {
    let found = scan.secrets.len();
    match scan.mode {
        Mode::Off => writeln!(err, "  secrets: not scanned (--secrets off)")?,
        _ if found == 0 => writeln!(err, "  secrets: none found")?,
        Mode::OmitFile => writeln!(
            err,
            "  secrets: {} found; {} left out:",
            human(found),
            plural(scan.files, "file")
        )?,
        Mode::Redact | Mode::Fail => writeln!(
            err,
            "  secrets: {} redacted in {}:",
            human(found),
            plural(scan.files, "file")
        )?,
    }
    let more = if scan.left_out > 0 {
        "the document's summary lists up to 100 of those in the files it holds"
    } else {
        "the document's summary lists up to 100"
    };
    let listed = if verbose {
        LISTED_ON_STDERR
    } else {
        SHORT_LIST
    };
    print_places(err, &scan.secrets, more, listed)?;
    if scan.left_out > 0 {
        writeln!(
            err,
            "  of these, {} in files left out of the document",
            human(scan.left_out)
        )?;
    }
    if !scan.examples.is_empty() {
        writeln!(
            err,
            "  examples left in place (known example or placeholder values): {}",
            human(scan.examples.len())
        )?;
        if verbose {
            print_places(
                err,
                &scan.examples,
                "the document's summary lists more",
                LISTED_ON_STDERR,
            )?;
        }
    }
    Ok(())
}

fn print_places(
    err: &mut dyn Write,
    places: &[Located],
    more: &str,
    listed: usize,
) -> std::io::Result<()> {
    for place in places.iter().take(listed) {
        writeln!(err, "    {place}")?;
    }
    if places.len() > listed {
        writeln!(
            err,
            "    ... and {} more ({more})",
            human(places.len() - listed)
        )?;
    }
    Ok(())
}

/// The change a diff pack is for, and the patches the budget left out.
fn print_diff(err: &mut dyn Write, diff: &DiffSummary) -> std::io::Result<()> {
    let kinds: Vec<String> = [
        (diff.added, "added"),
        (diff.modified, "modified"),
        (diff.deleted, "deleted"),
        (diff.renamed, "renamed"),
        (diff.other, "other"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, kind)| format!("{} {kind}", human(*n)))
    .collect();
    if diff.files == 0 {
        writeln!(
            err,
            "  change from {} to {}: empty (git diff shows no difference)",
            diff.base, diff.head
        )?;
    } else {
        writeln!(
            err,
            "  change from {} to {}: {} ({}), +{} -{} lines",
            diff.base,
            diff.head,
            plural(diff.files, "file"),
            kinds.join(", "),
            human(diff.lines_added),
            human(diff.lines_removed)
        )?;
    }
    for (paths, heading) in [
        (
            &diff.dropped,
            "the budget does not hold the patches of these files (raise --budget):",
        ),
        (
            &diff.withheld,
            "the patches of these files hold secrets and are left out (--secrets omit-file):",
        ),
    ] {
        if !paths.is_empty() {
            writeln!(err, "  change: {heading}")?;
            for path in paths {
                writeln!(err, "    {path}")?;
            }
        }
    }
    if diff.log_dropped > 0 {
        writeln!(
            err,
            "  change: the budget leaves out the {} (raise --budget, or lower --git-log)",
            plural(diff.log_dropped, "oldest commit message")
        )?;
    }
    Ok(())
}

/// What a plan or diff pack did with the files the plan references or the change touches
/// (`noun`), naming those that did not fit.
fn print_plan(
    err: &mut dyn Write,
    plan: &PlanSummary,
    label: &str,
    noun: &str,
    verbose: bool,
) -> std::io::Result<()> {
    let these = format!("these {noun}s");
    writeln!(
        err,
        "  {label}: {}: {} in full, {} as excerpts; {} as views",
        plural(plan.required, noun),
        human(plan.full),
        human(plan.excerpt),
        plural(plan.nearby, "neighbouring file")
    )?;
    for (paths, heading) in [
        (
            &plan.reduced,
            format!("the budget holds {these} only as compressed views or outlines:"),
        ),
        (
            &plan.dropped,
            format!("the budget does not hold {these} at all (raise --budget):"),
        ),
        (
            &plan.unpackable,
            format!(
                "{these} are not packed: binary, too large, links, hidden or ignored (see \
                 --hidden, --no-ignore, --follow), or holding a secret:"
            ),
        ),
    ] {
        if !paths.is_empty() {
            writeln!(err, "  {label}: {heading}")?;
            let listed = if verbose { paths.len() } else { SHORT_LIST };
            for path in paths.iter().take(listed) {
                writeln!(err, "    {path}")?;
            }
            if paths.len() > listed {
                writeln!(
                    err,
                    "    ... and {} more (--verbose lists them)",
                    human(paths.len() - listed)
                )?;
            }
        }
    }
    Ok(())
}
