//! The plain pack: every file at one fidelity, read, counted and rendered as the walk finds it,
//! spooled, and put in path order once the header is known. Or, for a report alone (`stats`
//! without a budget), every file read and counted, nothing rendered.

use std::ops::{ControlFlow, Range};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::document::{Document, Spool};
use crate::file::{CachedCount, Element, Left, Tools};
use crate::render::{omitted_counts, Summary, TreeItem};
use crate::secrets::{Finding, ScanSummary, SecretsFound};
use crate::tokens::TokenCounter;
use crate::types::{Fidelity, FileDecision, OmitReason, PackedView, Reporter};
use crate::walk::{self, Entry, Source, WalkError};

/// Why a plain pack failed.
#[derive(Debug, thiserror::Error)]
pub enum PlainError {
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
}

/// What a plain pack makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The document and its report.
    Document,
    /// The report alone: files are counted in full, nothing is rendered.
    Report,
}

/// One file, as a worker leaves it: its element (or just its counts, for a report alone), or why
/// it is left out.
struct Worked {
    entry: Entry,
    element: Result<Element, Left>,
    /// What secret scanning found in the file (also when it was then left out).
    findings: Vec<Finding>,
}

/// One file once its element is in the spool.
struct Spooled {
    entry: Entry,
    /// Where its element is and its view, or why it is left out.
    outcome: Result<(Range<u64>, PackedView), OmitReason>,
    /// Why reading it failed, for a warning.
    failure: Option<String>,
    findings: Vec<Finding>,
}

impl Spooled {
    fn omitted(&self) -> Option<OmitReason> {
        self.outcome.as_ref().err().copied()
    }

    fn view(&self) -> Option<&PackedView> {
        self.outcome.as_ref().ok().map(|(_, view)| view)
    }
}

/// What a plain pack made.
pub struct Plain {
    /// `None` for a report alone.
    pub document: Option<Document>,
    pub files: Vec<FileDecision>,
    pub summary: Summary,
    pub scan: ScanSummary,
    pub warnings: Vec<String>,
}

/// Runs a plain pack of `source`, every file at `fidelity`.
pub fn run(
    source: &Source,
    fidelity: Fidelity,
    output: Output,
    tools: &Tools<'_>,
    pool: &rayon::ThreadPool,
    reporter: &dyn Reporter,
) -> Result<Plain, PlainError> {
    let spool_error = |source: std::io::Error| PlainError::Spool {
        dir: std::env::temp_dir(),
        source,
    };

    // Workers read, count and render each file as soon as the walk finds it; this thread stores
    // the results. Order is restored afterwards, from the paths.
    let mut spool = Spool::new();
    let mut stored: Vec<Spooled> = Vec::new();
    let mut body_tokens = 0usize;
    let mut failed = None;
    // With --secrets fail, the first secret decides the outcome: from then on files are only
    // scanned (to list every secret), never counted or rendered.
    let doomed = AtomicBool::new(false);
    let work = |mut entry: Entry| {
        let (read, findings) = tools.open(&mut entry);
        if tools.policy.fails() && findings.iter().any(Finding::is_secret) {
            doomed.store(true, Ordering::Relaxed);
        }
        let element = match read {
            Ok(_) if doomed.load(Ordering::Relaxed) => Err((OmitReason::Secrets, None)),
            Ok(file) if output == Output::Report => {
                let tokens = tools.count(&file.text).total();
                Ok(Element {
                    bytes: Vec::new(),
                    tokens,
                    document_tokens: 0,
                    degraded: false,
                })
            }
            Ok(file) => {
                let path = entry.rel.display();
                Ok(tools.element(&path, &file, fidelity, &[], None))
            }
            Err(left) => Err(left),
        };
        Worked {
            entry,
            element,
            findings,
        }
    };
    let mut consume = |rendered: Worked| {
        reporter.file_done();
        let (outcome, failure) = match rendered.element {
            Ok(element) => {
                body_tokens += element.document_tokens;
                match spool.append(&element.bytes) {
                    Ok(range) => {
                        let view = PackedView {
                            fidelity,
                            tokens: element.tokens,
                            degraded: element.degraded,
                        };
                        (Ok((range, view)), None)
                    }
                    Err(error) => {
                        // Stops the walk; the error is reported once it has wound down.
                        failed = Some(spool_error(error));
                        return ControlFlow::Break(());
                    }
                }
            }
            Err((reason, detail)) => (Err(reason), detail),
        };
        stored.push(Spooled {
            entry: rendered.entry,
            outcome,
            failure,
            findings: rendered.findings,
        });
        ControlFlow::Continue(())
    };
    let walked = walk::walk_with(&source.inputs, &source.walk, pool, &work, &mut consume);
    if let Some(error) = failed {
        return Err(error);
    }
    // Warnings name paths: they are redacted like the paths in the document.
    let mut warnings: Vec<String> = walked?.iter().map(|w| tools.policy.shown(w)).collect();
    stored.sort_unstable_by(|a, b| a.entry.rel.cmp(&b.entry.rel));
    for item in &stored {
        if let Some(failure) = &item.failure {
            warnings.push(format!(
                "skipped {}: {}",
                item.entry.rel.display(),
                tools.policy.shown(failure)
            ));
        }
    }

    for warning in &warnings {
        reporter.warning(warning);
    }

    let scan = tools.policy.summarize(
        stored
            .iter()
            .map(|s| (s.entry.rel.display(), &s.findings[..])),
    );
    tools.policy.verdict(&scan)?;
    let views: Vec<&PackedView> = stored.iter().filter_map(Spooled::view).collect();
    let summary = Summary {
        root_name: source.root_name.clone(),
        encoding: tools.encoding.name(),
        files: views.len(),
        fidelity,
        degraded: views.iter().filter(|v| v.degraded).count(),
        file_tokens: views.iter().map(|v| v.tokens).sum(),
        omitted: omitted_counts(stored.iter().filter_map(Spooled::omitted)),
        secrets: scan.clone(),
        budget: None,
        plan: None,
        diff: None,
    };
    let document = match output {
        Output::Report => None,
        Output::Document => Some(document(&stored, &summary, tools, spool, body_tokens)?),
    };
    let files = stored
        .into_iter()
        .map(|s| {
            let packed = s.view().copied();
            FileDecision {
                components: s.entry.rel.components().to_vec(),
                // The tokens of the text shown: the full text's for a report alone and at
                // `--fidelity full`; of the view, at another fidelity (see `FileDecision`).
                full_tokens: s.outcome.map(|(_, view)| view.tokens),
                rank: None,
                score: None,
                packed,
            }
        })
        .collect();
    Ok(Plain {
        document,
        files,
        summary,
        scan,
        warnings,
    })
}

/// The document of a plain pack: header, the spooled elements in path order, footer.
fn document(
    stored: &[Spooled],
    summary: &Summary,
    tools: &Tools<'_>,
    spool: Spool,
    body_tokens: usize,
) -> Result<Document, PlainError> {
    let tree: Vec<TreeItem<'_>> = stored
        .iter()
        .map(|s| TreeItem {
            components: s.entry.rel.components(),
            omitted: s.omitted(),
        })
        .collect();
    let renderer = tools.renderer;
    let header = renderer.header(summary, &tree, None);
    let omitted_paths: Vec<(String, OmitReason)> = stored
        .iter()
        .filter_map(|s| s.omitted().map(|r| (s.entry.rel.display(), r)))
        .collect();
    let omitted_refs: Vec<(&str, OmitReason)> = omitted_paths
        .iter()
        .map(|(p, r)| (p.as_str(), *r))
        .collect();
    let footer = renderer.footer(&omitted_refs, None);

    // The document's count is the sum of its parts' counts (see `render`).
    let count = |bytes: &[u8]| CachedCount(tools).count(&String::from_utf8_lossy(bytes));
    let rest = count(&header) + body_tokens + count(&footer);
    let encoding = tools.encoding.name();
    let total = renderer.document_tokens(&CachedCount(tools), encoding, rest);
    let mut head = renderer.root_line(encoding, total).into_bytes();
    head.extend_from_slice(&header);

    let reader = spool.into_reader().map_err(|source| PlainError::Spool {
        dir: std::env::temp_dir(),
        source,
    })?;
    let ranges = stored
        .iter()
        .filter_map(|s| s.outcome.as_ref().ok().map(|(range, _)| range.clone()))
        .collect();
    Ok(Document::spooled(total, head, reader, ranges, footer))
}
