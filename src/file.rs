//! One file's work, shared by every kind of pack: read it, make it text the format can carry,
//! redact it, and render it at a fidelity with its exact count. Plain and budgeted packs differ
//! in which files they render and how; what happens to one file is the same.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::cache::Cache;
use crate::lang::{self, Language};
use crate::load::{self, LineEnds, Loaded};
use crate::render::{FileElement, Renderer};
use crate::secrets::{self, Finding, Policy};
use crate::tokens::{Encoding, SplitCount, TokenCounter};
use crate::types::{Fidelity, OmitReason};
use crate::walk::{Entry, Status};

/// A file read, admitted to the format and redacted: everything after this sees only this text,
/// so views, counts and budgets hold for what is emitted.
pub struct SourceFile {
    pub text: String,
    pub language: Language,
    /// Secrets replaced in `text`.
    pub redactions: usize,
    /// A UTF-8 byte-order mark was removed.
    pub bom_stripped: bool,
    /// The bytes were not valid UTF-8 and were decoded lossily.
    pub lossy: bool,
    /// Characters the format cannot carry were replaced with U+FFFD.
    pub sanitized: bool,
    pub line_ends: LineEnds,
}

/// Why a file is left out, and the error behind it for a warning.
pub type Left = (OmitReason, Option<String>);

/// A file's element, rendered at some fidelity.
pub struct Element {
    pub bytes: Vec<u8>,
    /// Tokens of the view's text (its tokens attribute).
    pub tokens: usize,
    /// Tokens the element adds to the document.
    pub document_tokens: usize,
    /// The view fell back (head of file, empty outline).
    pub degraded: bool,
}

/// Counts through the cache: an element's ends (its wrapper with the text's first and last
/// lines, or all of a text that has no line to cut at), a document's frame, are counted once,
/// then found by their hash. A run whose counts all come from the cache never loads the
/// tokenizer's vocabulary.
pub struct CachedCount<'a>(pub &'a Tools<'a>);

impl TokenCounter for CachedCount<'_> {
    fn count(&self, text: &str) -> usize {
        let tools = self.0;
        tools
            .cache
            .total(tools.encoding, text, || tools.counter.count(text))
    }
}

/// What every file's work needs: the secrets policy, the format, the counter and the cache.
#[derive(Clone, Copy)]
pub struct Tools<'a> {
    pub policy: Policy,
    pub renderer: &'a dyn Renderer,
    pub encoding: Encoding,
    pub counter: &'a dyn TokenCounter,
    pub cache: &'a Cache,
    pub max_file_size: u64,
    /// Texts that stand in for files on disk, by path (relative to the root, unredacted): a
    /// change's files as they are at a commit.
    pub overlay: Option<&'a HashMap<String, Vec<u8>>>,
}

impl Tools<'_> {
    /// Redacts a token used as a file or directory name wherever the path is shown; returns what
    /// was found.
    pub fn redact_path(&self, entry: &mut Entry) -> Vec<Finding> {
        match self.policy.redact_path(entry.rel.components()) {
            Some((shown, found)) => {
                entry.rel.set_shown(shown);
                found
            }
            None => Vec::new(),
        }
    }

    /// Redacts the path of `entry` and reads it: its text, or why it is left out (by the walk,
    /// because it cannot be read as text, or because its path or text holds a secret under
    /// `--secrets omit-file`), with every finding in its path (line 0) and text.
    pub fn open(&self, entry: &mut Entry) -> (Result<SourceFile, Left>, Vec<Finding>) {
        self.open_seen(entry, &mut |_, _| {})
    }

    /// [`Tools::open`], showing `seen` the text as loaded (before it is admitted or redacted)
    /// when the file is read as text.
    pub fn open_seen(
        &self,
        entry: &mut Entry,
        seen: &mut dyn FnMut(&Entry, &str),
    ) -> (Result<SourceFile, Left>, Vec<Finding>) {
        let mut findings = self.redact_path(entry);
        if let Status::Omitted(reason) = entry.status {
            return (Err((reason, None)), findings);
        }
        let (read, mut in_text) = self.read_seen(entry, seen);
        findings.append(&mut in_text);
        match read {
            Ok(_) if self.policy.omits(&findings) => (Err((OmitReason::Secrets, None)), findings),
            read => (read, findings),
        }
    }

    /// Reads `entry` (whose status is `Load`) as text the format can carry, and redacts it.
    pub fn read(&self, entry: &Entry) -> (Result<SourceFile, Left>, Vec<Finding>) {
        self.read_seen(entry, &mut |_, _| {})
    }

    fn read_seen(
        &self,
        entry: &Entry,
        seen: &mut dyn FnMut(&Entry, &str),
    ) -> (Result<SourceFile, Left>, Vec<Finding>) {
        let overlaid = self
            .overlay
            .and_then(|overlay| overlay.get(&entry.rel.unredacted()));
        let loaded = match overlaid {
            Some(bytes) if bytes.len() as u64 > self.max_file_size => {
                Loaded::Omitted(OmitReason::TooLarge, None)
            }
            Some(bytes) => load::decode(bytes.clone()),
            None => load::load(&entry.abs, self.max_file_size),
        };
        let file = match loaded {
            Loaded::Text(file) => file,
            Loaded::Omitted(reason, detail) => return (Err((reason, detail)), Vec::new()),
        };
        seen(entry, &file.text);
        let (mut text, sanitized) = match self.renderer.admit(&file.text) {
            Cow::Borrowed(_) => (file.text, false),
            Cow::Owned(admitted) => (admitted, true),
        };
        let redacted = self.redact(&entry.rel.display(), &text);
        let findings = redacted.findings;
        if let Cow::Owned(redacted) = redacted.text {
            text = redacted;
        }
        let redactions = findings.iter().filter(|f| f.is_secret()).count();
        if redactions > 0 && self.policy.omits(&findings) {
            return (Err((OmitReason::Secrets, None)), findings);
        }
        let language = lang::detect(&entry.abs, &text);
        let source = SourceFile {
            text,
            language,
            redactions,
            bom_stripped: file.bom_stripped,
            lossy: file.lossy,
            sanitized,
            line_ends: file.line_ends,
        };
        (Ok(source), findings)
    }

    /// `text` (of the file at `path`) with its secrets replaced, and what was found: the
    /// findings of an unchanged text come from the cache, and are applied without scanning.
    fn redact<'t>(&self, path: &str, text: &'t str) -> secrets::Redacted<'t> {
        if !self.policy.scans() {
            return self.policy.redact_text(path, text);
        }
        let findings = self.cache.findings(&secrets::scope_of(path), text, || {
            self.policy.redact_text(path, text).findings
        });
        secrets::apply(text, findings).unwrap_or_else(|| self.policy.redact_text(path, text))
    }

    /// The ranking terms of `text`, from the cache when it has them.
    pub fn terms(&self, text: &str) -> crate::rank::Terms {
        self.cache.terms(text, || crate::rank::terms(text))
    }

    /// The exact count of the full text, as its element counts it (so that rendering it later
    /// is a cache hit).
    pub fn count(&self, text: &str) -> SplitCount {
        self.cache
            .count(self.encoding, text, || SplitCount::new(self.counter, text))
    }

    /// Renders `source` (shown at `path`) at `fidelity`, with its rank when the pack is
    /// budgeted. `spans` (1-based, inclusive line ranges) are what an excerpt shows in full.
    /// Views and counts come from the cache when it has them.
    pub fn element(
        &self,
        path: &str,
        source: &SourceFile,
        fidelity: Fidelity,
        spans: &[(usize, usize)],
        rank: Option<usize>,
    ) -> Element {
        let language = source.language;
        let (text, degraded) = match fidelity {
            Fidelity::Full => (Cow::Borrowed(source.text.as_str()), None),
            Fidelity::Excerpt => {
                let view = lang::excerpt(language, &source.text, spans);
                (Cow::Owned(view.text), view.degraded)
            }
            fidelity => {
                let view = self.cache.view(language, fidelity, &source.text, || {
                    lang::view(language, fidelity, &source.text)
                });
                (Cow::Owned(view.text), view.degraded)
            }
        };
        // What the emitted text holds: a view may drop a marker (an outline keeps no values).
        // The full text holds one per secret; a view at most that many of the markers it shows.
        let redactions = match fidelity {
            Fidelity::Full => source.redactions,
            _ => source.redactions.min(secrets::count_markers(&text)),
        };
        let split = self.count(&text);
        let element = FileElement {
            path,
            lang: language.name(),
            fidelity,
            rank,
            tokens: split,
            text: &text,
            degraded: degraded.map(|reason| reason.name()),
            bom_stripped: source.bom_stripped,
            lossy: source.lossy,
            sanitized: source.sanitized,
            eol: (source.line_ends != LineEnds::Lf).then(|| source.line_ends.name()),
            redactions,
        };
        let rendered = self.renderer.file(&element, &CachedCount(self));
        Element {
            bytes: rendered.bytes,
            tokens: split.total(),
            document_tokens: rendered.document_tokens,
            degraded: degraded.is_some(),
        }
    }
}
