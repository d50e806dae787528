//! Writing what the earlier stages decided: the document in its format (one [`Renderer`] per
//! format; `xml` is the one there is), the stderr report, and `stats`.
//!
//! A renderer owns its format's escaping, sanitizing and framing, and counts what it emits: the
//! budget counts the document as written. The parts it returns must be countable one by one: the
//! document's exact count is the sum of its parts' counts. XML gets that by starting every part
//! with `<` right after a line break, where the tokenizer always cuts (see `tokens::SplitCount`);
//! another format must find its own such boundary, and `render::xml`'s tests show how to check it.

pub mod report;
pub mod stats;
pub mod xml;

use std::borrow::Cow;

use crate::secrets::ScanSummary;
use crate::tokens::{SplitCount, TokenCounter};
use crate::types::{Fidelity, OmitReason};

/// The document formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Xml,
}

impl Format {
    /// The renderer that writes this format.
    pub fn renderer(self) -> &'static dyn Renderer {
        match self {
            Format::Xml => &xml::Xml,
        }
    }
}

/// Writes one document format. The parts come in document order: the root line, the optional
/// plan, the header (summary and tree), one element per file, and the footer.
pub trait Renderer: Sync {
    /// `text` as this format can carry it (XML: characters XML 1.0 forbids become U+FFFD):
    /// applied to every file's text before anything counts or views it, so that counts hold for
    /// what is emitted. Borrowed when nothing had to change.
    fn admit<'a>(&self, text: &'a str) -> Cow<'a, str>;

    /// One file's element, with the tokens it adds to the document.
    fn file(&self, file: &FileElement<'_>, counter: &dyn TokenCounter) -> RenderedFile;

    /// The plan a plan pack is made for (its text already redacted), before the summary.
    fn plan(
        &self,
        name: &str,
        text: &str,
        redactions: usize,
        counter: &dyn TokenCounter,
    ) -> Vec<u8>;

    /// The start of a change's diff (`base` against `head`), before its patches.
    fn diff_open(&self, base: &str, head: &str) -> Vec<u8>;

    /// One file's patch, with the tokens it adds to the document.
    fn patch(&self, patch: &PatchElement<'_>, counter: &dyn TokenCounter) -> RenderedFile;

    /// The end of a change's diff.
    fn diff_close(&self) -> Vec<u8>;

    /// Commit messages (already redacted), after the diff.
    fn log(&self, text: &str, counter: &dyn TokenCounter) -> Vec<u8>;

    /// Summary and tree; with `depth`, the tree collapsed below that many directories.
    fn header(&self, summary: &Summary, tree: &[TreeItem<'_>], depth: Option<usize>) -> Vec<u8>;

    /// The files left out (per collapsed directory below `depth`), and the document's end.
    fn footer(&self, omitted: &[(&str, OmitReason)], depth: Option<usize>) -> Vec<u8>;

    /// About how many tokens the markup around a file's text at `path` takes: the fit's estimate
    /// until the element is rendered and counted exactly.
    fn markup_estimate(&self, path: &str) -> usize;

    /// Tokens a budgeted pack keeps in hand for the root line, which states the whole count.
    fn root_line_allowance(&self) -> usize;

    /// The document's first line, which states its whole count.
    fn root_line(&self, encoding: &str, tokens: usize) -> String;

    /// The whole document's exact count, given `rest`, the count of everything after the root
    /// line (whose own count depends on the number it states).
    fn document_tokens(&self, counter: &dyn TokenCounter, encoding: &str, rest: usize) -> usize;
}

/// One file as the document shows it.
#[derive(Debug, Clone)]
pub struct FileElement<'a> {
    pub path: &'a str,
    pub lang: &'a str,
    pub fidelity: Fidelity,
    /// Position in the ranking (1 = most relevant), in budgeted packs.
    pub rank: Option<usize>,
    /// Token count of `text` alone, split for exact counts once wrapped in markup.
    pub tokens: SplitCount,
    pub text: &'a str,
    pub bom_stripped: bool,
    pub lossy: bool,
    pub sanitized: bool,
    /// The original line-end style, when it was not LF (the text itself always uses LF).
    pub eol: Option<&'static str>,
    /// Why the view fell back (head of file, empty outline), when it did.
    pub degraded: Option<&'static str>,
    /// How many secrets in `text` were replaced with `[REDACTED:<rule>]`.
    pub redactions: usize,
}

/// One file's part of a diff as the document shows it.
#[derive(Debug, Clone)]
pub struct PatchElement<'a> {
    pub path: &'a str,
    /// Where a renamed or copied file came from.
    pub from: Option<&'a str>,
    /// added, deleted, modified, renamed, copied, type-changed or mode-changed.
    pub status: &'a str,
    pub binary: bool,
    pub added: usize,
    pub removed: usize,
    /// The patch text (redacted), counted and split for exact counts once wrapped in markup.
    pub text: &'a str,
    pub tokens: SplitCount,
    pub redactions: usize,
}

/// A `<file>` element, rendered, with the tokens it adds to the whole document.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    pub bytes: Vec<u8>,
    pub document_tokens: usize,
}

/// One line of the `<tree>`: a file's path components, and why it was left out, if it was.
#[derive(Debug, Clone, Copy)]
pub struct TreeItem<'a> {
    pub components: &'a [String],
    pub omitted: Option<OmitReason>,
}

/// What the `<summary>` tells a model about the document.
#[derive(Debug, Clone)]
pub struct Summary {
    pub root_name: String,
    pub encoding: &'static str,
    /// Files in `<files>`, all shown at `fidelity`.
    pub files: usize,
    pub fidelity: Fidelity,
    /// Of those, files whose view fell back (head of file, empty outline).
    pub degraded: usize,
    pub file_tokens: usize,
    /// Omitted counts per reason, in a stable order.
    pub omitted: Vec<(OmitReason, usize)>,
    pub secrets: ScanSummary,
    /// Set for `pack --budget`.
    pub budget: Option<BudgetSummary>,
    /// Set for `pack --plan`, and for `pack --diff` (the touched files are required as a
    /// plan's are).
    pub plan: Option<PlanSummary>,
    /// Set for `pack --diff`.
    pub diff: Option<DiffSummary>,
}

/// What a change under review is, and what of its diff the document leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffSummary {
    /// The base as given, and where the files after the change are.
    pub base: String,
    pub head: String,
    pub files: usize,
    pub added: usize,
    pub modified: usize,
    pub deleted: usize,
    pub renamed: usize,
    /// Copied, type-changed and mode-changed files.
    pub other: usize,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// Files whose patch the budget leaves out.
    pub dropped: Vec<String>,
    /// Files whose patch holds a secret and is left out (`--secrets omit-file`).
    pub withheld: Vec<String>,
    /// The commit messages the budget leaves out (`--git-log`), counted in commits.
    pub log_dropped: usize,
    /// With --plan too: the document also holds a plan.
    pub with_plan: bool,
}

/// What a budgeted pack chose.
#[derive(Debug, Clone, Default)]
pub struct BudgetSummary {
    /// The tokens the document may use (after --reserve).
    pub budget: usize,
    pub full: usize,
    pub compressed: usize,
    pub outline: usize,
    /// Files shown as excerpts (a plan's line spans, and the outline of the rest).
    pub excerpt: usize,
}

/// What a plan pack did with the files the plan references.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Files the plan references that the document was to hold.
    pub required: usize,
    /// Of those, in full.
    pub full: usize,
    /// Of those, as excerpts (large files referenced by symbols or line ranges).
    pub excerpt: usize,
    /// Shown at a lower fidelity than asked for, because the budget did not allow more.
    pub reduced: Vec<String>,
    /// Left out: not even an outline fitted.
    pub dropped: Vec<String>,
    /// Referenced, but not packable whatever the budget: omitted by the walk (binary, too
    /// large, a link, hidden or ignored) or for holding a secret.
    pub unpackable: Vec<String>,
    /// Other files shown: neighbours of the referenced ones.
    pub nearby: usize,
}

/// Omitted counts per reason, in a stable order.
pub fn omitted_counts(reasons: impl Iterator<Item = OmitReason>) -> Vec<(OmitReason, usize)> {
    let mut omitted: std::collections::BTreeMap<OmitReason, usize> = Default::default();
    for reason in reasons {
        *omitted.entry(reason).or_default() += 1;
    }
    omitted.into_iter().collect()
}

/// `1 file`, `2 files`, `3 directories`: a count and its noun, for people.
pub fn plural(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{} {stem}ies", human(n)),
        _ => format!("{} {noun}s", human(n)),
    }
}

/// Formats a count with thousands separators, for people.
pub fn human(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_inserts_separators() {
        assert_eq!(human(0), "0");
        assert_eq!(human(999), "999");
        assert_eq!(human(1000), "1,000");
        assert_eq!(human(1234567), "1,234,567");
    }
}
