//! The `pack` command: walk → load → tokens → render, streamed in path order with exact counts.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::{ControlFlow, Range};
use std::path::PathBuf;

use crate::config::PackConfig;
use crate::lang::{self, Fidelity};
use crate::load::{self, LineEnds, Loaded};
use crate::output::{Sink, Spool};
use crate::render::report::{self, PackReport};
use crate::render::xml;
use crate::render::{FileElement, Summary, TreeItem};
use crate::secrets::{self, Finding, Located, Redacted, ScanSummary, Scanner, SecretsFound};
use crate::tokens::{SplitCount, Tiktoken, TokenCounter};
use crate::walk::{self, Entry, OmitReason, Status, WalkError};

/// One file's fate, sent from the workers to the writer.
struct Record {
    entry: Entry,
    outcome: Outcome,
    /// What secret scanning found in the file (also when it was then left out).
    findings: Vec<Finding>,
}

enum Outcome {
    Packed {
        bytes: Vec<u8>,
        tokens: usize,
        document_tokens: usize,
        degraded: bool,
    },
    Omitted(OmitReason, Option<String>),
}

/// A record once its rendered bytes are in the spool.
struct Stored {
    entry: Entry,
    packed: Option<Packed>,
    findings: Vec<Finding>,
    /// Why reading the file failed, for a warning.
    failure: Option<String>,
}

struct Packed {
    range: Range<u64>,
    tokens: usize,
    /// The view fell back (head of file, empty outline).
    degraded: bool,
}

/// Why a pack failed. Each message says what could not be done; the I/O error behind it is its
/// source.
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
        source: io::Error,
    },
    #[error("could not write {destination}")]
    Output {
        destination: String,
        #[source]
        source: io::Error,
    },
    #[error("could not write to standard error")]
    Report(#[source] io::Error),
    #[error(transparent)]
    Secrets(#[from] SecretsFound),
    #[error(
        "the budget is too small: the smallest document (summary, collapsed tree, the list of \
         omitted files, and with --plan the plan itself) needs {needed} tokens; use --budget \
         {needed} or more"
    )]
    BudgetTooSmall { needed: usize },
}

impl From<io::Error> for PackError {
    /// Writing notes, warnings and the summary.
    fn from(error: io::Error) -> PackError {
        PackError::Report(error)
    }
}

/// Runs a pack and writes the document. Progress, warnings and the summary go to `err`.
pub fn run(config: &PackConfig, err: &mut dyn Write) -> Result<(), PackError> {
    if let Some(budget) = config.budget {
        return crate::budget::run(config, budget, err);
    }
    let source = &config.source;
    let pool = start(config, err)?;
    let counter = Tiktoken::new(config.encoding);
    let progress = report::progress(config.quiet);
    let spool_error = |source: io::Error| PackError::Spool {
        dir: std::env::temp_dir(),
        source,
    };

    // Workers read, count and render each file as soon as the walk finds it; this thread stores
    // the results. Order is restored afterwards, from the paths.
    let mut spool = Spool::new();
    let mut stored: Vec<Stored> = Vec::new();
    let mut body_tokens = 0usize;
    let mut failed = None;
    // With --secrets fail, the first secret decides the outcome: from then on files are only
    // scanned (to list every secret), never counted or rendered.
    let doomed = std::sync::atomic::AtomicBool::new(false);
    let work = |mut entry: Entry| {
        let mut path_findings = redact_path(&mut entry, config);
        let fail_mode = config.secrets == secrets::Mode::Fail;
        if fail_mode && path_findings.iter().any(Finding::is_secret) {
            doomed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let (outcome, mut findings) = match entry.status {
            Status::Load => process(&entry, config, &counter, fail_mode.then_some(&doomed)),
            Status::Omitted(reason) => (Outcome::Omitted(reason, None), Vec::new()),
        };
        let outcome = match outcome {
            Outcome::Packed { .. }
                if config.secrets == secrets::Mode::OmitFile
                    && path_findings.iter().any(Finding::is_secret) =>
            {
                Outcome::Omitted(OmitReason::Secrets, None)
            }
            outcome => outcome,
        };
        path_findings.append(&mut findings);
        let findings = path_findings;
        Record {
            entry,
            outcome,
            findings,
        }
    };
    let mut consume = |record: Record| {
        progress.inc(1);
        let mut entry = record.entry;
        let mut failure = None;
        let packed = match record.outcome {
            Outcome::Packed {
                bytes,
                tokens,
                document_tokens,
                degraded,
            } => {
                body_tokens += document_tokens;
                match spool.append(&bytes) {
                    Ok(range) => Some(Packed {
                        range,
                        tokens,
                        degraded,
                    }),
                    Err(error) => {
                        // Stops the walk; the error is reported once it has wound down.
                        failed = Some(spool_error(error));
                        return ControlFlow::Break(());
                    }
                }
            }
            Outcome::Omitted(reason, detail) => {
                entry.status = Status::Omitted(reason);
                failure = detail;
                None
            }
        };
        stored.push(Stored {
            entry,
            packed,
            findings: record.findings,
            failure,
        });
        ControlFlow::Continue(())
    };
    let warnings = walk::walk_with(&source.inputs, &source.walk, &pool, &work, &mut consume);
    progress.finish_and_clear();
    if let Some(error) = failed {
        return Err(error);
    }
    let warnings = warnings?;
    // Warnings name paths: they are redacted like the paths in the document.
    let shown = |message: &str| match config.secrets {
        secrets::Mode::Off => message.to_string(),
        _ => Scanner::get().redact_message(message),
    };
    for warning in &warnings {
        writeln!(err, "ctxpack: warning: {}", shown(warning))?;
    }
    stored.sort_unstable_by(|a, b| a.entry.rel.cmp(&b.entry.rel));
    for item in &stored {
        if let Some(failure) = &item.failure {
            writeln!(
                err,
                "ctxpack: warning: skipped {}: {}",
                item.entry.rel.display(),
                shown(failure)
            )?;
        }
    }

    let scan = scan_summary(config.secrets, &stored);
    if config.secrets == secrets::Mode::Fail && !scan.secrets.is_empty() {
        return Err(SecretsFound {
            secrets: scan.secrets,
        }
        .into());
    }
    let summary = summarize(config, &stored, scan);
    let tree: Vec<TreeItem<'_>> = stored
        .iter()
        .map(|s| TreeItem {
            components: s.entry.rel.components(),
            omitted: omit_reason(&s.entry),
        })
        .collect();
    let header = xml::header_body(&summary, &tree);
    let omitted_paths: Vec<(String, OmitReason)> = stored
        .iter()
        .filter_map(|s| omit_reason(&s.entry).map(|r| (s.entry.rel.display(), r)))
        .collect();
    let omitted_refs: Vec<(&str, OmitReason)> = omitted_paths
        .iter()
        .map(|(p, r)| (p.as_str(), *r))
        .collect();
    let footer = xml::footer(&omitted_refs);

    // The document's count is the sum of its parts' counts only because every part ends with a
    // line break and every element starts a line with `<` (see tokens::SplitCount).
    debug_assert!(header.ends_with(b"\n") && header.starts_with(b"<"));
    debug_assert!(footer.ends_with(b"\n") && footer.starts_with(b"<"));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let rest = counter.count(&text(&header)) + body_tokens + counter.count(&text(&footer));
    let version = env!("CARGO_PKG_VERSION");
    let total = xml::document_tokens(&counter, version, config.encoding.name(), rest);
    let root_line = xml::root_line(version, config.encoding.name(), total);
    debug_assert!(root_line.ends_with('\n'));

    let body = spool.into_reader().map_err(spool_error)?;
    let output_error = |source| output_error(config, source);
    let mut sink = Sink::open(config.output.as_deref()).map_err(output_error)?;
    let out = sink.writer();
    out.write_all(root_line.as_bytes()).map_err(output_error)?;
    out.write_all(&header).map_err(output_error)?;
    let mut buffer = Vec::new();
    for packed in stored.iter().filter_map(|s| s.packed.as_ref()) {
        body.copy_range(packed.range.clone(), &mut buffer, out)
            .map_err(output_error)?;
    }
    out.write_all(&footer).map_err(output_error)?;
    sink.finish().map_err(output_error)?;

    if !config.quiet {
        let packed = stored
            .iter()
            .filter_map(|s| s.packed.as_ref().map(|p| (s.entry.rel.display(), p.tokens)))
            .collect();
        print_report(config, summary, total, packed, err)?;
    }
    Ok(())
}

/// Prints the stderr report of a written document: what its `summary` says, its exact count,
/// and the five largest of the `packed` files (path, tokens).
pub(crate) fn print_report(
    config: &PackConfig,
    summary: Summary,
    document_tokens: usize,
    mut packed: Vec<(String, usize)>,
    err: &mut dyn Write,
) -> io::Result<()> {
    packed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    packed.truncate(5);
    let report = PackReport {
        files: summary.files,
        fidelity: summary.fidelity,
        degraded: summary.degraded,
        document_tokens,
        encoding: config.encoding.name(),
        destination: config
            .output
            .as_ref()
            .and_then(|p| p.file_name())
            .map(walk::shown_name),
        top_files: packed,
        omitted: summary.omitted,
        secrets: summary.secrets,
        budget: summary.budget,
        plan: summary.plan,
    };
    report::print_summary(err, &report)
}

fn omit_reason(entry: &Entry) -> Option<OmitReason> {
    match entry.status {
        Status::Load => None,
        Status::Omitted(reason) => Some(reason),
    }
}

/// Every finding with its path, in path order (the order of `stored`) and then line order.
fn scan_summary(mode: secrets::Mode, stored: &[Stored]) -> ScanSummary {
    scan_of(mode, stored.iter().map(|s| (&s.entry, &s.findings[..])))
}

/// Every finding with its path, in the order given and then line order.
pub(crate) fn scan_of<'a>(
    mode: secrets::Mode,
    files: impl Iterator<Item = (&'a Entry, &'a [Finding])>,
) -> ScanSummary {
    let mut scan = ScanSummary {
        mode,
        ..ScanSummary::default()
    };
    for (entry, findings) in files.filter(|(_, f)| !f.is_empty()) {
        let path = entry.rel.display();
        let mut has_secret = false;
        for finding in findings {
            let located = Located {
                path: path.clone(),
                line: finding.line,
                rule: finding.rule,
            };
            if finding.is_secret() {
                has_secret = true;
                scan.secrets.push(located);
            } else {
                scan.examples.push(located);
            }
        }
        scan.files += usize::from(has_secret);
    }
    scan
}

/// Omitted counts per reason, in a stable order.
pub(crate) fn omitted_counts(
    reasons: impl Iterator<Item = OmitReason>,
) -> Vec<(OmitReason, usize)> {
    let mut omitted: BTreeMap<OmitReason, usize> = BTreeMap::new();
    for reason in reasons {
        *omitted.entry(reason).or_default() += 1;
    }
    omitted.into_iter().collect()
}

fn summarize(config: &PackConfig, stored: &[Stored], secrets: ScanSummary) -> Summary {
    let omitted = omitted_counts(stored.iter().filter_map(|s| omit_reason(&s.entry)));
    let packed: Vec<&Packed> = stored.iter().filter_map(|s| s.packed.as_ref()).collect();
    Summary {
        root_name: config.source.root_name.clone(),
        encoding: config.encoding.name(),
        files: packed.len(),
        fidelity: config.fidelity,
        degraded: packed.iter().filter(|p| p.degraded).count(),
        file_tokens: packed.iter().map(|p| p.tokens).sum(),
        omitted,
        secrets,
        budget: None,
        plan: None,
    }
}

/// A file read, redacted and ready for any view.
pub(crate) struct Prepared {
    pub file: load::TextFile,
    pub language: lang::Language,
    pub redactions: usize,
}

/// Prints the config's notes and starts the worker pool: the first steps of every pack.
pub(crate) fn start(
    config: &PackConfig,
    err: &mut dyn Write,
) -> Result<rayon::ThreadPool, PackError> {
    if !config.quiet {
        for note in &config.notes {
            writeln!(err, "ctxpack: note: {note}")?;
        }
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(config.source.threads)
        .thread_name(|i| format!("ctxpack-{i}"))
        .build()
        .map_err(PackError::Threads)
}

/// The error for a failed write of the document, naming where it was going.
pub(crate) fn output_error(config: &PackConfig, source: io::Error) -> PackError {
    PackError::Output {
        destination: match &config.output {
            Some(path) => path.display().to_string(),
            None => "standard output".to_string(),
        },
        source,
    }
}

/// Redacts a token used as a file or directory name wherever the path is shown; returns what was
/// found.
pub(crate) fn redact_path(entry: &mut Entry, config: &PackConfig) -> Vec<Finding> {
    if config.secrets == secrets::Mode::Off {
        return Vec::new();
    }
    match Scanner::get().redact_path(entry.rel.components()) {
        Some((shown, found)) => {
            entry.rel.set_shown(shown);
            found
        }
        None => Vec::new(),
    }
}

/// Why a file is left out, and the error behind it for a warning.
pub(crate) type Left = (OmitReason, Option<String>);

/// Reads `entry` and redacts its secrets: everything after this sees only the redacted text, so
/// views, counts and budgets hold for what is emitted.
pub(crate) fn prepare(
    entry: &Entry,
    config: &PackConfig,
) -> (Result<Prepared, Left>, Vec<Finding>) {
    let mut file = match load::load(&entry.abs, config.source.max_file_size) {
        Loaded::Text(file) => file,
        Loaded::Omitted(reason, detail) => return (Err((reason, detail)), Vec::new()),
    };
    let path = entry.rel.display();
    let findings = if config.secrets == secrets::Mode::Off {
        Vec::new()
    } else {
        let Redacted { text, findings } = Scanner::get().redact(&path, &file.text);
        if let Cow::Owned(text) = text {
            file.text = text;
        }
        findings
    };
    let redactions = findings.iter().filter(|f| f.is_secret()).count();
    if redactions > 0 && config.secrets == secrets::Mode::OmitFile {
        return (Err((OmitReason::Secrets, None)), findings);
    }
    let language = lang::detect(&entry.abs, &file.text);
    let prepared = Prepared {
        file,
        language,
        redactions,
    };
    (Ok(prepared), findings)
}

/// A rendered `<file>` element at some fidelity.
pub(crate) struct Element {
    pub bytes: Vec<u8>,
    /// Tokens of the view's text.
    pub tokens: usize,
    /// Tokens the element adds to the document.
    pub document_tokens: usize,
    pub degraded: bool,
}

/// Renders `prepared` at `fidelity`, with its rank when the pack is budgeted.
/// `spans` (1-based, inclusive line ranges) are what an excerpt shows in full.
/// Views and counts come from the config's cache when it has them.
pub(crate) fn render_element(
    entry: &Entry,
    prepared: &Prepared,
    fidelity: Fidelity,
    spans: &[(usize, usize)],
    rank: Option<usize>,
    config: &PackConfig,
    counter: &dyn TokenCounter,
) -> Element {
    let file = &prepared.file;
    let language = prepared.language;
    let (text, degraded) = match fidelity {
        Fidelity::Full => (Cow::Borrowed(file.text.as_str()), None),
        Fidelity::Excerpt => {
            let view = lang::excerpt(language, &file.text, spans);
            (Cow::Owned(view.text), view.degraded)
        }
        fidelity => {
            let view = config.cache.view(language, fidelity, &file.text, || {
                lang::view(language, fidelity, &file.text)
            });
            (Cow::Owned(view.text), view.degraded)
        }
    };
    // What the emitted text holds: a view may drop a marker (an outline keeps no values). The
    // full text holds one per secret; a view at most that many of the markers it shows.
    let redactions = match fidelity {
        Fidelity::Full => prepared.redactions,
        _ => prepared.redactions.min(secrets::count_markers(&text)),
    };
    let split = config
        .cache
        .count(config.encoding, &text, || SplitCount::new(counter, &text));
    let path = entry.rel.display();
    let element = FileElement {
        path: &path,
        lang: prepared.language.name(),
        fidelity,
        rank,
        tokens: split,
        text: &text,
        degraded: degraded.map(|reason| reason.name()),
        bom_stripped: file.bom_stripped,
        lossy: file.lossy,
        sanitized: file.sanitized,
        eol: (file.line_ends != LineEnds::Lf).then(|| file.line_ends.name()),
        redactions,
    };
    let rendered = xml::render_file(&element, counter);
    // A cut before and after the element: see the assertions in `run`.
    debug_assert!(rendered.bytes.starts_with(b"<") && rendered.bytes.ends_with(b"\n"));
    Element {
        bytes: rendered.bytes,
        tokens: split.total(),
        document_tokens: rendered.document_tokens,
        degraded: degraded.is_some(),
    }
}

/// Reads, scans, counts and renders one file. `doomed` (with `--secrets fail`) is set once any
/// file holds a secret; after that, files are scanned but not rendered.
fn process(
    entry: &Entry,
    config: &PackConfig,
    counter: &dyn TokenCounter,
    doomed: Option<&std::sync::atomic::AtomicBool>,
) -> (Outcome, Vec<Finding>) {
    let (prepared, findings) = prepare(entry, config);
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err((reason, detail)) => return (Outcome::Omitted(reason, detail), findings),
    };
    if let Some(doomed) = doomed {
        use std::sync::atomic::Ordering;
        if findings.iter().any(Finding::is_secret) {
            doomed.store(true, Ordering::Relaxed);
        }
        if doomed.load(Ordering::Relaxed) {
            return (Outcome::Omitted(OmitReason::Secrets, None), findings);
        }
    }
    let element = render_element(
        entry,
        &prepared,
        config.fidelity,
        &[],
        None,
        config,
        counter,
    );
    let outcome = Outcome::Packed {
        bytes: element.bytes,
        tokens: element.tokens,
        document_tokens: element.document_tokens,
        degraded: element.degraded,
    };
    (outcome, findings)
}
