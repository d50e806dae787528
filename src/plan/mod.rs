//! Plans: read a plan (AI-PLAN.md), resolve what it references against the tree and the symbol
//! table, and report what does not exist. A layer on top of the pipeline: it walks, loads and
//! parses through the pipeline's stages, which never call back into it.

pub mod extract;
pub mod index;
pub mod pack;
pub mod resolve;
pub mod select;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::SourceConfig;
use crate::secrets::Scanner;
use crate::walk::WalkError;
pub use extract::LineSpan;
pub use index::RepoIndex;
pub use resolve::{Kind, Reference, Resolved, Status};

/// The largest plan read: plans are prose, and a multi-megabyte one is a mistake.
const MAX_PLAN_BYTES: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("could not read the plan {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the plan {} is larger than {} MiB; is it really a plan?", path.display(), MAX_PLAN_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("the plan {} is not text (binary data, or UTF-16 without a byte-order mark)", path.display())]
    NotText { path: PathBuf },
    #[error("the plan and --stdin cannot both come from standard input")]
    StdinTwice,
    #[error("could not start worker threads: {0}")]
    Threads(#[source] rayon::ThreadPoolBuildError),
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Pack(#[from] crate::pack::PackError),
}

impl PlanError {
    /// Whether the user asked for something impossible (exit 2) rather than the system failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            PlanError::Read { .. }
                | PlanError::TooLarge { .. }
                | PlanError::NotText { .. }
                | PlanError::StdinTwice
        )
    }
}

/// Reads the plan at `path` (`-`: standard input), as text.
pub fn read_plan(path: &Path, stdin: &mut dyn Read) -> Result<String, PlanError> {
    let read_error = |source| PlanError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        stdin
            .take(MAX_PLAN_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
    } else {
        let file = std::fs::File::open(path).map_err(read_error)?;
        if file.metadata().map_err(read_error)?.is_dir() {
            return Err(read_error(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory; give the plan's Markdown file",
            )));
        }
        file.take(MAX_PLAN_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
    }
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(PlanError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = decode_plan(&bytes).ok_or_else(|| PlanError::NotText {
        path: path.to_path_buf(),
    })?;
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// A plan's bytes as text: UTF-8 (a BOM dropped) or, with a BOM, UTF-16 as PowerShell writes it;
/// invalid UTF-8 is replaced. None for binary data.
fn decode_plan(bytes: &[u8]) -> Option<String> {
    let utf16 = |bytes: &[u8], decode: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| decode([pair[0], pair[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    let text = if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, u16::from_be_bytes)
    } else {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.contains(&0) {
            return None;
        }
        String::from_utf8_lossy(bytes).into_owned()
    };
    Some(text)
}

/// A plan's references, resolved, with the index they were resolved against.
pub struct Analysis {
    pub references: Vec<Reference>,
    pub index: RepoIndex,
}

/// Finds and resolves the references of `plan` in the tree `source` describes.
///
/// `plan_path` (`-` for standard input) is, when the plan is a file inside the tree, left out of
/// the index: the plan's own words must not make its inventions look used.
pub fn analyze(plan: &str, plan_path: &Path, source: &SourceConfig) -> Result<Analysis, PlanError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(source.threads)
        .build()
        .map_err(PlanError::Threads)?;
    let plan_path = (plan_path != Path::new("-")).then_some(plan_path);
    let extracted = extract::read(plan);
    let names = resolve::names_of(&extracted.mentions);
    // References resolve against the whole tree under the root, whatever paths, --stdin list or
    // --include/--exclude chose what to pack: a plan naming a file outside them names something
    // real (and the pack then says it did not pack it).
    let mut whole = source.clone();
    whole.inputs.paths = vec![whole.inputs.root.clone()];
    whole.walk.globs = Default::default();
    let index = RepoIndex::build(&whole, &names, plan_path, &pool)?;
    let references = resolve::resolve(
        &extracted.mentions,
        &extracted.declared,
        &index,
        &source.inputs.root,
    );
    Ok(Analysis { references, index })
}

/// Counts per status, in the order of [`Status::ALL`].
pub fn tally(references: &[Reference]) -> Vec<(Status, usize)> {
    Status::ALL
        .iter()
        .map(|&s| (s, references.iter().filter(|r| r.status == s).count()))
        .collect()
}

/// One line for people and CI logs: `12 references: 8 exist, 1 new, 2 missing, ...`.
pub fn summary_line(references: &[Reference]) -> String {
    let counts: Vec<String> = tally(references)
        .into_iter()
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    let noun = if references.len() == 1 {
        "reference"
    } else {
        "references"
    };
    format!("{} {noun}: {}", references.len(), counts.join(", "))
}

/// What `refs` decided, for the exit code.
pub struct Verdict {
    /// References that fail `--check`: missing or outside the root.
    pub failing: usize,
    pub summary: String,
}

/// The `refs` command: prints the plan's references as a table or JSON.
pub fn refs(
    plan_path: &Path,
    plan: &str,
    source: &SourceConfig,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Verdict, PlanError> {
    let analysis = analyze(plan, plan_path, source)?;
    let scanner = Scanner::get();
    for warning in &analysis.index.warnings {
        writeln!(err, "ctxpack: warning: {}", scanner.redact_message(warning))?;
    }
    // Plans and paths can carry credentials too: everything printed is redacted.
    let references: Vec<Reference> = analysis
        .references
        .iter()
        .map(|r| Reference {
            text: scanner.redact_message(&r.text),
            note: r.note.as_deref().map(|n| scanner.redact_message(n)),
            resolved: r
                .resolved
                .iter()
                .map(|x| Resolved {
                    path: scanner.redact_message(&x.path),
                    ..x.clone()
                })
                .collect(),
            ..r.clone()
        })
        .collect();
    let summary = summary_line(&references);
    if json {
        write_json(plan_path, &references, out)?;
    } else {
        write_table(&references, out)?;
        writeln!(out, "{summary}")?;
    }
    Ok(Verdict {
        failing: references.iter().filter(|r| r.status.fails_check()).count(),
        summary,
    })
}

#[derive(Serialize)]
struct JsonReport<'a> {
    plan: String,
    references: &'a [Reference],
    summary: std::collections::BTreeMap<&'static str, usize>,
}

fn write_json(
    plan_path: &Path,
    references: &[Reference],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let report = JsonReport {
        plan: if plan_path == Path::new("-") {
            "standard input".to_string()
        } else {
            Scanner::get().redact_message(&plan_path.to_string_lossy())
        },
        references,
        summary: tally(references)
            .into_iter()
            .map(|(s, n)| (s.name(), n))
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}

/// `LINE  STATUS  KIND  REFERENCE  RESOLVED`, one row per reference.
fn write_table(references: &[Reference], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = references
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_decode_from_utf8_with_a_bom_utf16_and_old_mac_line_ends() {
        let plan = "Edit `src/a.rs`.\nThen `b.rs`.\n";
        let mut utf16le = vec![0xFF, 0xFE];
        utf16le.extend(plan.encode_utf16().flat_map(u16::to_le_bytes));
        let mut utf16be = vec![0xFE, 0xFF];
        utf16be.extend(plan.encode_utf16().flat_map(u16::to_be_bytes));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(plan.as_bytes());
        for bytes in [utf16le, utf16be, bom, plan.replace('\n', "\r").into_bytes()] {
            let text = read_plan(Path::new("-"), &mut bytes.as_slice()).unwrap();
            assert_eq!(text, plan);
        }
        assert!(matches!(
            read_plan(Path::new("-"), &mut &b"\x7FELF\0\0"[..]),
            Err(PlanError::NotText { .. })
        ));
    }
}
