//! `ctxpack refs`: a plan's references, resolved, as a table or JSON; `--check` gates on them.

use std::io::{self, Write};

use super::{source, Failure};
use crate::cli::RefsArgs;
use crate::pack::Session;
use crate::plan::{self, Checked, Kind, PlanError, Reference, Resolved, Status};

pub fn run(args: RefsArgs) -> Result<(), Failure> {
    if args.source.stdin && args.plan.as_os_str() == "-" {
        return Err(PlanError::StdinTwice.into());
    }
    let text = plan::read_plan(&args.plan, &mut io::stdin().lock())?;
    let source = source(&args.source)?;
    let session = Session::new(source.threads, crate::cache::Cache::disabled())?;
    let checked = plan::check(&text, &args.plan, &source, session.pool())?;
    let err = &mut io::stderr().lock();
    for warning in &checked.warnings {
        writeln!(err, "ctxpack: warning: {warning}")?;
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let summary = checked.summary_line();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &checked).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        write_table(&checked, &mut out)?;
        writeln!(out, "{summary}")?;
    }
    out.flush()?;
    let failing = checked.failing();
    if args.check && failing > 0 {
        return Err(Failure::CheckFailed(format!(
            "refs --check: {failing} of the plan's references do not exist, lie outside the \
             root, or are created by the plan but exist ({summary})"
        )));
    }
    Ok(())
}

/// `LINE  STATUS  KIND  REFERENCE  RESOLVED`, one row per reference.
fn write_table(checked: &Checked, out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<[String; 5]> = checked
        .references
        .iter()
        .map(|r| {
            [
                r.line.to_string(),
                r.status.name().to_string(),
                r.kind.name().to_string(),
                r.text.clone(),
                describe(r),
            ]
        })
        .collect();
    let header = ["LINE", "STATUS", "KIND", "REFERENCE", "RESOLVED"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count()).min(60);
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = format!("{:>w$}", row[0], w = widths[0]);
        for (cell, w) in row[1..4].iter().zip(&widths[1..4]) {
            line.push_str(&format!("  {cell:<w$}"));
        }
        line.push_str("  ");
        line.push_str(&row[4]);
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The RESOLVED cell: where it points, or why it points nowhere.
fn describe(r: &Reference) -> String {
    let place = |x: &Resolved| match x.span {
        Some(s) if s.start == s.end => format!("{}:{}", x.path, s.start),
        Some(s) => format!("{}:{}-{}", x.path, s.start, s.end),
        None => x.path.clone(),
    };
    let mut cell = match (r.status, r.kind) {
        (Status::New, _) => "(to be created)".to_string(),
        (Status::Missing | Status::OutsideRoot, _) => String::new(),
        (_, Kind::Glob) => format!("{} files", r.resolved.len()),
        _ => {
            let shown: Vec<String> = r.resolved.iter().take(3).map(place).collect();
            let more = r.resolved.len().saturating_sub(3);
            let mut cell = shown.join(", ");
            if more > 0 {
                cell.push_str(&format!(", and {more} more"));
            }
            cell
        }
    };
    if let Some(note) = &r.note {
        if !cell.is_empty() {
            cell.push_str(" — ");
        }
        cell.push_str(note);
    }
    cell
}
