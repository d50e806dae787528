//! The human summary on stderr, and a progress bar while packing when stderr is a terminal.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::human;
use crate::walk::OmitReason;

/// What the stderr summary reports.
#[derive(Debug, Default)]
pub struct PackReport {
    pub files: usize,
    pub document_tokens: usize,
    pub encoding: &'static str,
    pub destination: Option<String>,
    /// The largest files by tokens, largest first.
    pub top_files: Vec<(String, usize)>,
    pub omitted: Vec<(OmitReason, usize)>,
}

pub fn print_summary(err: &mut dyn Write, report: &PackReport) -> std::io::Result<()> {
    let destination = match &report.destination {
        Some(path) => format!(" -> {path}"),
        None => String::new(),
    };
    writeln!(
        err,
        "ctxpack: packed {} files, {} tokens ({}){destination}",
        human(report.files),
        human(report.document_tokens),
        report.encoding
    )?;
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
    Ok(())
}

/// A progress counter on stderr; invisible when stderr is not a terminal or when `quiet`. Files
/// are counted as they are found, so there is no total to show.
pub fn progress(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} packing: {pos} files {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
