//! Documents too large for one response, kept by the server so that an agent pages through them
//! with `read_pack`: by token range (pages laid end to end give the document byte for byte) or by
//! line range.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use crate::render::human;
use crate::tokens::{self, Encoding};

/// The most documents kept at once; the oldest goes first.
const MAX_KEPT: usize = 16;
/// The most bytes kept at once (the newest document is always kept).
const MAX_KEPT_BYTES: usize = 512 << 20;

/// One kept document.
pub struct KeptDoc {
    pub id: String,
    pub text: String,
    pub encoding: Encoding,
    /// Byte offset of each token's start, and the text's length last; made on first use.
    offsets: OnceLock<Vec<usize>>,
    /// Byte offset of each line's start; made on first use.
    lines: OnceLock<Vec<usize>>,
}

/// A piece of a kept document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub text: String,
    /// Where it starts and ends: tokens `[start, end)`, or lines `start..=end` (1-based).
    pub start: usize,
    pub end: usize,
    /// Tokens or lines in the whole document.
    pub total: usize,
    /// Its exact token count.
    pub tokens: usize,
}

impl KeptDoc {
    fn offsets(&self) -> &[usize] {
        self.offsets
            .get_or_init(|| tokens::token_offsets(self.encoding, &self.text))
    }

    fn line_starts(&self) -> &[usize] {
        self.lines.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(at, _)| at + 1))
                .filter(|&at| at < self.text.len())
                .collect()
        })
    }

    /// The document's exact token count.
    pub fn tokens(&self) -> usize {
        self.offsets().len() - 1
    }

    /// The document's lines.
    pub fn lines(&self) -> usize {
        self.line_starts().len()
    }

    /// Tokens `[start, end)`, at most `max` of them. A token that ends inside a character is
    /// given whole to the page it starts in: pages laid end to end are the document.
    pub fn by_tokens(&self, start: usize, end: Option<usize>, max: usize) -> Result<Page, String> {
        let total = self.tokens();
        if start >= total && total > 0 {
            return Err(format!(
                "start_token {start} is past the end: the document has {} tokens (0 to {})",
                human(total),
                human(total - 1)
            ));
        }
        let end = end.unwrap_or(start + max).min(start + max).min(total);
        if end <= start && total > 0 {
            return Err(format!(
                "end_token {end} is not after start_token {start}; the range is [start, end)"
            ));
        }
        let offsets = self.offsets();
        let from = boundary(&self.text, offsets[start]);
        let to = boundary(&self.text, offsets[end]);
        Ok(Page {
            text: self.text[from..to].to_string(),
            start,
            end,
            total,
            tokens: end - start,
        })
    }

    /// Lines `start..=end` (1-based), cut at the last whole line within `max` tokens.
    pub fn by_lines(
        &self,
        start: usize,
        end: Option<usize>,
        max: usize,
        count: &dyn Fn(&str) -> usize,
    ) -> Result<Page, String> {
        let starts = self.line_starts();
        let total = starts.len();
        if start == 0 || start > total {
            return Err(format!(
                "start_line {start} is not a line of the document: its lines are 1 to {}",
                human(total)
            ));
        }
        let end = end.unwrap_or(total).min(total);
        if end < start {
            return Err(format!(
                "end_line {end} is before start_line {start}; the range is start to end, inclusive"
            ));
        }
        let at = |line: usize| starts.get(line).copied().unwrap_or(self.text.len());
        let from = at(start - 1);
        // Widen a line at a time while the page holds `max` tokens, judged by the document's
        // own tokens (a binary search each), then counted exactly.
        let offsets = self.offsets();
        let token_at = |byte: usize| offsets.partition_point(|&o| o < byte);
        let first = token_at(from);
        let mut last = start - 1;
        while last < end && token_at(at(last + 1)) - first <= max {
            last += 1;
        }
        let mut tokens = count(&self.text[from..at(last)]);
        while tokens > max && last >= start {
            last -= 1;
            tokens = count(&self.text[from..at(last)]);
        }
        if last < start {
            return Err(format!(
                "line {start} alone takes more than the {max} tokens a response may carry; read \
                 it by tokens (start_token, end_token)"
            ));
        }
        Ok(Page {
            text: self.text[from..at(last)].to_string(),
            start,
            end: last,
            total,
            tokens,
        })
    }
}

/// `at`, or the next character boundary after it.
fn boundary(text: &str, mut at: usize) -> usize {
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    at.min(text.len())
}

/// The kept documents, oldest first.
#[derive(Default)]
pub struct Kept {
    docs: VecDeque<Arc<KeptDoc>>,
    made: usize,
}

impl Kept {
    /// Keeps `text`; returns it with its id. The oldest documents go when there are too many.
    pub fn keep(&mut self, text: String, encoding: Encoding, prefix: &str) -> Arc<KeptDoc> {
        self.made += 1;
        let doc = Arc::new(KeptDoc {
            id: format!("{prefix}-{}", self.made),
            text,
            encoding,
            offsets: OnceLock::new(),
            lines: OnceLock::new(),
        });
        self.docs.push_back(Arc::clone(&doc));
        // A document's token offsets (made for paging) take about twice its text again.
        let bytes =
            |docs: &VecDeque<Arc<KeptDoc>>| docs.iter().map(|d| 3 * d.text.len()).sum::<usize>();
        while self.docs.len() > MAX_KEPT
            || (self.docs.len() > 1 && bytes(&self.docs) > MAX_KEPT_BYTES)
        {
            self.docs.pop_front();
        }
        doc
    }

    pub fn get(&self, id: &str) -> Option<Arc<KeptDoc>> {
        self.docs.iter().find(|d| d.id == id).cloned()
    }

    /// The ids kept, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.docs.iter().map(|d| d.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tiktoken, TokenCounter};

    fn doc(text: &str) -> Arc<KeptDoc> {
        Kept::default().keep(text.to_string(), Encoding::O200kBase, "t")
    }

    #[test]
    fn token_pages_laid_end_to_end_are_the_document() {
        let text = "fn main() {\n    println!(\"héllo wörld 日本語 🎉\");\n}\n".repeat(40);
        let doc = doc(&text);
        assert_eq!(
            doc.tokens(),
            Tiktoken::new(Encoding::O200kBase).count(&text)
        );
        for size in [1, 3, 7, 100] {
            let mut joined = String::new();
            let mut start = 0;
            while start < doc.tokens() {
                let page = doc.by_tokens(start, None, size).unwrap();
                assert!(page.end - page.start <= size);
                joined.push_str(&page.text);
                start = page.end;
            }
            assert_eq!(joined, text, "pages of {size}");
        }
        assert!(doc.by_tokens(doc.tokens(), None, 10).is_err());
        assert!(doc.by_tokens(5, Some(5), 10).is_err());
    }

    #[test]
    fn line_pages_hold_whole_lines_within_the_limit() {
        let text = "one\ntwo\nthree\nfour\n";
        let doc = doc(text);
        let count = |t: &str| Tiktoken::new(Encoding::O200kBase).count(t);
        assert_eq!(doc.lines(), 4);
        let page = doc.by_lines(2, Some(3), 1000, &count).unwrap();
        assert_eq!((page.text.as_str(), page.end), ("two\nthree\n", 3));
        // Two tokens hold "two\n" only.
        let page = doc.by_lines(2, None, 2, &count).unwrap();
        assert_eq!((page.text.as_str(), page.end), ("two\n", 2));
        assert!(doc.by_lines(0, None, 10, &count).is_err());
        assert!(doc.by_lines(5, None, 10, &count).is_err());
        assert!(doc.by_lines(3, Some(2), 10, &count).is_err());
    }

    #[test]
    fn the_oldest_documents_go_first() {
        let mut kept = Kept::default();
        for i in 0..MAX_KEPT + 2 {
            kept.keep(format!("doc {i}"), Encoding::O200kBase, "pack");
        }
        let ids = kept.ids();
        assert_eq!(ids.len(), MAX_KEPT);
        assert_eq!(ids[0], "pack-3");
        assert!(kept.get("pack-1").is_none() && kept.get("pack-18").is_some());
    }
}
