//! The few nouns every stage shares: a root-relative path, why a file is left out, how much of a
//! file the document shows, what a pack did with each file, and how work reports as it goes.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::Path;

/// Why a file considered by the walk is not in `<files>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OmitReason {
    /// A known binary or media extension, or a NUL byte near the start.
    Binary,
    /// Larger than `--max-file-size`.
    TooLarge,
    /// Could not be opened or read.
    Unreadable,
    /// A symbolic link, not followed (see `--follow`).
    Symlink,
    /// A symbolic link that leads back into one of its own ancestors.
    SymlinkLoop,
    /// A symbolic link whose target lies outside the root.
    OutsideRoot,
    /// A FIFO, socket or device: never opened.
    SpecialFile,
    /// Holds a secret, and `--secrets omit-file` was given.
    Secrets,
}

impl OmitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            OmitReason::Binary => "binary",
            OmitReason::TooLarge => "too-large",
            OmitReason::Unreadable => "unreadable",
            OmitReason::Symlink => "symlink",
            OmitReason::SymlinkLoop => "symlink-loop",
            OmitReason::OutsideRoot => "outside-root",
            OmitReason::SpecialFile => "special-file",
            OmitReason::Secrets => "secrets",
        }
    }
}

impl fmt::Display for OmitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A path relative to the root.
///
/// Identity and order come from the raw name bytes, so that two names which differ only in bytes
/// that are not UTF-8 stay two files, in the same order on every run. What the document shows is
/// a text form of each component ([`shown_name`]), unique and printable.
#[derive(Debug, Clone)]
pub struct RelPath {
    raw: Vec<OsString>,
    shown: Vec<String>,
}

impl RelPath {
    /// The path `rel` (relative to the root), shown as text.
    pub fn from_relative(rel: &Path) -> RelPath {
        let raw: Vec<OsString> = rel
            .components()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        let shown = raw.iter().map(|c| shown_name(c)).collect();
        RelPath { raw, shown }
    }

    /// The components as the document shows them.
    pub fn components(&self) -> &[String] {
        &self.shown
    }

    /// The `/`-joined path as the document shows it.
    pub fn display(&self) -> String {
        self.shown.join("/")
    }

    /// The `/`-joined path before any redaction: for matching paths named elsewhere (a plan),
    /// never for output.
    pub fn unredacted(&self) -> String {
        self.raw
            .iter()
            .map(|c| shown_name(c))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Replaces the shown components (one per raw component), for secret redaction: identity and
    /// order stay those of the raw path.
    pub fn set_shown(&mut self, shown: Vec<String>) {
        debug_assert_eq!(shown.len(), self.raw.len());
        self.shown = shown;
    }
}

// `shown` is derived from `raw` (a text form, possibly redacted), so comparing `raw` alone is
// comparing the whole path.
impl PartialEq for RelPath {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for RelPath {}

impl std::hash::Hash for RelPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl PartialOrd for RelPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RelPath {
    /// Component by component, each by its raw bytes.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}

/// A file name as text that is unique and printable in any output: a byte that is not part of
/// valid UTF-8, or that encodes a character no text format should carry (C0 controls other than
/// tab, LF and CR; the noncharacters U+FFFE and U+FFFF), is written `\xHH`. A backslash followed by
/// `x` is itself written `\x5C`, so every `\x` in a shown name starts an escape and distinct names
/// never look alike. Any other character, backslashes included, is shown as it is.
pub fn shown_name(name: &OsStr) -> String {
    let bytes = name.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    let escape = |out: &mut String, bytes: &[u8]| {
        for b in bytes {
            out.push_str(&format!("\\x{b:02X}"));
        }
    };
    for chunk in bytes.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.peek() == Some(&'x') {
                out.push_str("\\x5C");
            } else if is_name_char(c) {
                out.push(c);
            } else {
                escape(&mut out, c.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
        escape(&mut out, chunk.invalid());
    }
    out
}

/// The characters [`shown_name`] keeps as they are: tab, LF, CR, and everything from U+0020 but
/// the noncharacters U+FFFE and U+FFFF (surrogates cannot occur in a Rust string).
fn is_name_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// How much of a file the document shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fidelity {
    /// The text exactly as it is.
    Full,
    /// Imports, declarations, signatures and doc comments; function bodies become placeholders.
    Compressed,
    /// One line per definition with its line range.
    Outline,
    /// Chosen line spans in full, and the outline of the rest: a very large file that a plan
    /// references only by a symbol or a line range. Not a `--fidelity` choice.
    Excerpt,
}

impl Fidelity {
    pub const ALL: [Fidelity; 3] = [Fidelity::Full, Fidelity::Compressed, Fidelity::Outline];

    pub fn name(self) -> &'static str {
        match self {
            Fidelity::Full => "full",
            Fidelity::Compressed => "compressed",
            Fidelity::Outline => "outline",
            Fidelity::Excerpt => "excerpt",
        }
    }
}

impl std::str::FromStr for Fidelity {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Fidelity::ALL
            .into_iter()
            .find(|f| f.name() == raw)
            .ok_or_else(|| format!("unknown fidelity {raw:?}: use full, compressed or outline"))
    }
}

/// What a pack does with one file: the same record for plain and budgeted packs, and what
/// `stats` reports.
#[derive(Debug, Clone)]
pub struct FileDecision {
    /// The path components as every output shows them (a secret in a name is redacted).
    pub components: Vec<String>,
    /// Tokens of the full text, or why the file is left out whatever the budget. (A plain pack
    /// at a fidelity other than full counts only the view it shows: this is that count. A
    /// budgeted pack that makes a document gives the estimate it chose by; `stats` counts
    /// exactly.)
    pub full_tokens: Result<usize, OmitReason>,
    /// Position in the ranking (1 = most relevant), for files that can be packed (budgeted
    /// packs only).
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

/// Where long work reports as it goes: progress, and what people should hear before the result
/// (or instead of it, when the work fails). The command line draws a counter and prints to
/// stderr; a server or a test passes [`Silent`] and reads the report. Called from worker threads.
pub trait Reporter: Sync {
    /// One more file is done.
    fn file_done(&self) {}

    /// Something went wrong with one file or ignore file, and the work goes on (paths already
    /// redacted). The report lists it too.
    fn warning(&self, _message: &str) {}

    /// Something worth knowing about the input (paths already redacted).
    fn note(&self, _message: &str) {}
}

/// A reporter nobody watches.
pub struct Silent;

impl Reporter for Silent {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn os(bytes: &[u8]) -> &OsStr {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(bytes)
    }

    #[cfg(unix)]
    #[test]
    fn names_that_lossy_decoding_merges_stay_distinct() {
        assert_eq!(shown_name(os(b"d\xff")), "d\\xFF");
        assert_eq!(shown_name(os(b"d\xfe")), "d\\xFE");
        assert_eq!(shown_name(os(b"c\x01.txt")), "c\\x01.txt");
        assert_eq!(shown_name(os(b"c\x02.txt")), "c\\x02.txt");
        assert_eq!(
            shown_name(os("caf\u{e9} \u{FFFF}".as_bytes())),
            "caf\u{e9} \\xEF\\xBF\\xBF"
        );
        // Tab, LF and CR are allowed in XML (attributes escape them as character references).
        assert_eq!(shown_name(os(b"a\tb\nc")), "a\tb\nc");
        // A literal `\x` cannot pass for an escape.
        assert_eq!(shown_name(os(b"a\\xFF")), "a\\x5CxFF");
        assert_eq!(shown_name(os(b"a\\b\\")), "a\\b\\");

        let a = RelPath::from_relative(Path::new(os(b"d\xff/x")));
        let b = RelPath::from_relative(Path::new(os(b"d\xfe/x")));
        assert_ne!(a, b);
        assert!(b < a, "ordered by raw bytes");
        assert_ne!(a.display(), b.display());
    }
}
