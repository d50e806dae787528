//! Bytes to text: size limits, binary detection, BOM, UTF-8 repair and line ends. It knows no
//! output format: what a format cannot carry is the renderer's business (`render::Renderer::admit`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::types::OmitReason;

/// How many leading bytes are searched for a NUL byte to call a file binary (as git does).
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// A file read as text.
#[derive(Debug)]
pub struct TextFile {
    pub text: String,
    /// A UTF-8 byte-order mark was removed.
    pub bom_stripped: bool,
    /// The bytes were not valid UTF-8 and were decoded lossily (invalid sequences became U+FFFD).
    pub lossy: bool,
    /// Line ends other than LF were found and turned into LF (see [`normalize_line_ends`]).
    pub line_ends: LineEnds,
}

/// The line ends a file had on disk, before they were normalized to LF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnds {
    /// LF only (or no line end at all): nothing changed.
    Lf,
    /// CRLF only.
    Crlf,
    /// Lone CR, or a mix of CR, CRLF and LF.
    Mixed,
}

impl LineEnds {
    pub fn name(self) -> &'static str {
        match self {
            LineEnds::Lf => "lf",
            LineEnds::Crlf => "crlf",
            LineEnds::Mixed => "mixed",
        }
    }
}

#[derive(Debug)]
pub enum Loaded {
    Text(TextFile),
    Omitted(OmitReason, Option<String>),
}

/// Reads one regular file. Never blocks on special files and never trusts the size it saw earlier:
/// the file may change while it is read, and reading stops at `max_size + 1` bytes either way.
pub fn load(path: &Path, max_size: u64) -> Loaded {
    match read_limited(path, max_size) {
        Ok(ReadOutcome::Bytes(bytes)) => decode(bytes),
        Ok(ReadOutcome::TooLarge) => Loaded::Omitted(OmitReason::TooLarge, None),
        Ok(ReadOutcome::NotRegular) => Loaded::Omitted(OmitReason::SpecialFile, None),
        Err(err) => Loaded::Omitted(OmitReason::Unreadable, Some(err.to_string())),
    }
}

enum ReadOutcome {
    Bytes(Vec<u8>),
    TooLarge,
    NotRegular,
}

fn read_limited(path: &Path, max_size: u64) -> io::Result<ReadOutcome> {
    let file = open_nonblocking(path)?;
    // The walk already saw a regular file, but it may have been swapped for a FIFO since; check
    // the opened descriptor itself.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(ReadOutcome::NotRegular);
    }
    if meta.len() > max_size {
        return Ok(ReadOutcome::TooLarge);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.take(max_size + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_size {
        return Ok(ReadOutcome::TooLarge);
    }
    Ok(ReadOutcome::Bytes(bytes))
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; it has no
    // effect on reads from regular files.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Turns raw bytes into a [`TextFile`], or says why they are not text.
pub fn decode(mut bytes: Vec<u8>) -> Loaded {
    let sniff = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    if memchr::memchr(0, sniff).is_some() {
        return Loaded::Omitted(OmitReason::Binary, None);
    }
    let bom_stripped = bytes.starts_with(b"\xEF\xBB\xBF");
    if bom_stripped {
        bytes.drain(..3);
    }
    let (text, lossy) = match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(err) => (String::from_utf8_lossy(err.as_bytes()).into_owned(), true),
    };
    let (text, line_ends) = normalize_line_ends(text);
    Loaded::Text(TextFile {
        text,
        bom_stripped,
        lossy,
        line_ends,
    })
}

/// Turns CRLF and lone CR into LF.
///
/// XML parsers do exactly this to every line end they read (XML 1.0, section 2.11), CDATA
/// included, so emitting LF makes the bytes a model receives, the text a parser reads back, and
/// the text whose tokens are counted one and the same. The original style is reported.
pub fn normalize_line_ends(text: String) -> (String, LineEnds) {
    let Some(first_cr) = memchr::memchr(b'\r', text.as_bytes()) else {
        return (text, LineEnds::Lf);
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first_cr]);
    let (mut crlf, mut lone_cr) = (0usize, 0usize);
    let mut rest = &text[first_cr..];
    while let Some(cr) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..cr]);
        out.push('\n');
        if rest.as_bytes().get(cr + 1) == Some(&b'\n') {
            crlf += 1;
            rest = &rest[cr + 2..];
        } else {
            lone_cr += 1;
            rest = &rest[cr + 1..];
        }
    }
    out.push_str(rest);
    let lf_total = memchr::memchr_iter(b'\n', bytes).count();
    let line_ends = if lone_cr == 0 && lf_total == crlf {
        LineEnds::Crlf
    } else {
        LineEnds::Mixed
    };
    (out, line_ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(bytes: &[u8]) -> TextFile {
        match decode(bytes.to_vec()) {
            Loaded::Text(t) => t,
            Loaded::Omitted(reason, _) => panic!("omitted as {reason:?}"),
        }
    }

    #[test]
    fn nul_in_first_8k_is_binary_but_later_is_not() {
        assert!(matches!(
            decode(b"ab\0cd".to_vec()),
            Loaded::Omitted(OmitReason::Binary, _)
        ));
        let mut late = vec![b'a'; BINARY_SNIFF_BYTES];
        late.push(0);
        let t = text_of(&late);
        assert!(
            t.text.ends_with('\0'),
            "a NUL past the sniff window is text"
        );
    }

    #[test]
    fn bom_is_stripped_and_invalid_utf8_is_marked() {
        let t = text_of(b"\xEF\xBB\xBFfn main() {}");
        assert!(t.bom_stripped && !t.lossy);
        assert_eq!(t.text, "fn main() {}");
        let t = text_of(b"caf\xE9 ok");
        assert!(t.lossy);
        assert_eq!(t.text, "caf\u{FFFD} ok");
    }

    #[test]
    fn a_file_that_vanished_is_unreadable_and_a_directory_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone.rs");
        assert!(matches!(
            load(&gone, 1 << 20),
            Loaded::Omitted(OmitReason::Unreadable, Some(_))
        ));
        assert!(matches!(
            load(dir.path(), 1 << 20),
            Loaded::Omitted(OmitReason::SpecialFile, None)
        ));
    }

    #[test]
    fn growth_past_the_limit_is_caught_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "x".repeat(100)).unwrap();
        assert!(matches!(
            load(&path, 99),
            Loaded::Omitted(OmitReason::TooLarge, _)
        ));
        assert!(matches!(load(&path, 100), Loaded::Text(_)));
    }

    /// /proc files report a length of 0 but have content: only the cap on the read itself
    /// (`take(max + 1)`) can tell that they are too large.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_read_is_capped_even_when_the_length_on_disk_says_zero() {
        let status = Path::new("/proc/self/status");
        assert_eq!(std::fs::metadata(status).unwrap().len(), 0);
        assert!(matches!(
            load(status, 10),
            Loaded::Omitted(OmitReason::TooLarge, None)
        ));
        match load(status, 1 << 20) {
            Loaded::Text(file) => assert!(file.text.starts_with("Name:"), "{}", file.text),
            Loaded::Omitted(reason, detail) => panic!("omitted as {reason}: {detail:?}"),
        }
    }

    #[test]
    fn line_ends_become_lf_and_are_reported() {
        let t = text_of(b"a\r\nb\r\n");
        assert_eq!((t.text.as_str(), t.line_ends), ("a\nb\n", LineEnds::Crlf));
        let t = text_of(b"a\rb\nc\r\n\r");
        assert_eq!(
            (t.text.as_str(), t.line_ends),
            ("a\nb\nc\n\n", LineEnds::Mixed)
        );
        let t = text_of(b"a\nb");
        assert_eq!((t.text.as_str(), t.line_ends), ("a\nb", LineEnds::Lf));
    }
}
