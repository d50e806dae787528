//! Exact token counting behind one small trait, and exact counts of wrapped text without
//! re-tokenizing it.

use std::fmt;
use std::str::FromStr;

use tiktoken_rs::CoreBPE;

/// Counts tokens exactly as the reference tokenizer would for the same text.
///
/// Special-token text such as `<|endoftext|>` is counted as ordinary text: it is file content, and
/// a model API receiving it as a prompt treats it that way too.
pub trait TokenCounter: Sync {
    fn count(&self, text: &str) -> usize;
}

/// The BPE encodings ctxpack counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
}

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::O200kBase, Encoding::Cl100kBase];

    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    /// Maps a model name to its encoding. The second value is a note for the user when the
    /// mapping is an approximation.
    pub fn for_model(model: &str) -> Result<(Encoding, Option<String>), String> {
        use tiktoken_rs::tokenizer::{get_tokenizer, Tokenizer};
        let lower = model.trim().to_ascii_lowercase();
        match get_tokenizer(&lower) {
            Some(Tokenizer::O200kBase) | Some(Tokenizer::O200kHarmony) => {
                return Ok((Encoding::O200kBase, None))
            }
            Some(Tokenizer::Cl100kBase) => return Ok((Encoding::Cl100kBase, None)),
            Some(other) => {
                return Err(format!(
                    "model {model:?} uses the {other:?} encoding, which ctxpack does not support; \
                     use --encoding o200k_base or cl100k_base"
                ))
            }
            None => {}
        }
        const APPROXIMATED: [&str; 8] = [
            "claude",
            "gemini",
            "llama",
            "mistral",
            "codestral",
            "deepseek",
            "qwen",
            "grok",
        ];
        if APPROXIMATED.iter().any(|family| lower.starts_with(family)) {
            let note = format!(
                "{model}'s tokenizer is not public; token counts use o200k_base and are an \
                 approximation: leave headroom in the budget"
            );
            return Ok((Encoding::O200kBase, Some(note)));
        }
        Err(format!(
            "unknown model {model:?}: use an OpenAI model name (gpt-4o, gpt-4.1, gpt-5, o3, \
             gpt-4, ...), a claude-*/gemini-* name, or pick --encoding o200k_base|cl100k_base"
        ))
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "o200k_base" | "o200k" => Ok(Encoding::O200kBase),
            "cl100k_base" | "cl100k" => Ok(Encoding::Cl100kBase),
            _ => Err(format!(
                "unknown encoding {raw:?}: use o200k_base (default) or cl100k_base"
            )),
        }
    }
}

/// The tiktoken-rs port of OpenAI's tiktoken.
pub struct Tiktoken {
    bpe: &'static CoreBPE,
}

impl Tiktoken {
    pub fn new(encoding: Encoding) -> Self {
        let bpe = match encoding {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        };
        Tiktoken { bpe }
    }
}

impl TokenCounter for Tiktoken {
    fn count(&self, text: &str) -> usize {
        self.bpe.count_ordinary(text)
    }
}

/// A text's exact token count, split at its first and last *cut* so that the count of the text
/// wrapped in markup can be had without re-tokenizing the middle.
///
/// Both supported encodings split text into pieces with a regex before BPE, and BPE never crosses
/// a piece. A cut is a byte offset `p` just after a `\n` where the line that starts there is not
/// blank and does not start with `/`. It is a piece boundary whatever surrounds the text:
///
/// - no alternative of either pattern continues past a newline into a non-space character
///   (o200k's `[\r\n/]*` tail is why `/` is excluded);
/// - a run of white space that holds a newline ends, as a piece, at its last newline (`\s*[\r\n]+`
///   backtracks to it) unless the run reaches the end of the text, which a non-blank line rules
///   out; cl100k's `\s++$` gives the same piece when the text ends right at `p`;
/// - the pieces from `p` on depend only on the text from `p` on (no look-behind), and no match
///   attempt starting before `p` reads past the first non-space character of the line.
///
/// So with `h` the first cut and `t` the last one,
/// `count(text) = count(text[..h]) + count(text[h..t]) + count(text[t..])`, and once wrapped only
/// the two ends can tokenize differently:
///
/// `count(prefix+text+suffix) = count(prefix+text[..h]) + count(text[h..t]) + count(text[t..]+suffix)`.
///
/// Text without a cut is counted whole, and again when wrapped. Tests check both identities
/// against direct counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SplitCount {
    /// `(h, t)`, when the text has a cut.
    cuts: Option<(usize, usize)>,
    head: usize,
    middle: usize,
    tail: usize,
}

impl SplitCount {
    pub fn new(counter: &dyn TokenCounter, text: &str) -> SplitCount {
        match (first_cut(text), last_cut(text)) {
            (Some(h), Some(t)) => SplitCount {
                cuts: Some((h, t)),
                head: counter.count(&text[..h]),
                middle: counter.count(&text[h..t]),
                tail: counter.count(&text[t..]),
            },
            _ => SplitCount {
                cuts: None,
                head: 0,
                middle: counter.count(text),
                tail: 0,
            },
        }
    }

    /// The three counts, to be stored (see [`SplitCount::from_parts`]).
    pub fn parts(&self) -> [usize; 3] {
        [self.head, self.middle, self.tail]
    }

    /// A count stored with [`SplitCount::parts`], for the same `text`. The cuts are found in
    /// `text` again, so that whatever the numbers, [`SplitCount::wrapped`] slices `text` where
    /// it may.
    pub fn from_parts(text: &str, [head, middle, tail]: [usize; 3]) -> Self {
        SplitCount {
            cuts: first_cut(text).zip(last_cut(text)),
            head,
            middle,
            tail,
        }
    }

    /// `count(text)`.
    pub fn total(&self) -> usize {
        self.head + self.middle + self.tail
    }

    /// `count(prefix + text + suffix)`, where `text` is the text this count was made from.
    pub fn wrapped(
        &self,
        counter: &dyn TokenCounter,
        prefix: &str,
        text: &str,
        suffix: &str,
    ) -> usize {
        match self.cuts {
            Some((h, t)) => {
                count_joined(counter, &[prefix, &text[..h]])
                    + self.middle
                    + count_joined(counter, &[&text[t..], suffix])
            }
            None => count_joined(counter, &[prefix, text, suffix]),
        }
    }
}

fn count_joined(counter: &dyn TokenCounter, parts: &[&str]) -> usize {
    counter.count(&parts.concat())
}

/// Whether byte offset `p` of `text` is a cut (see [`SplitCount`]).
fn is_cut(text: &str, p: usize) -> bool {
    if p == 0 || text.as_bytes()[p - 1] != b'\n' || text.as_bytes().get(p) == Some(&b'/') {
        return false;
    }
    // The line starting at `p` must hold something other than white space.
    let first_visible = text[p..]
        .chars()
        .find(|&c| !c.is_whitespace() || c == '\n' || c == '\r');
    first_visible.is_some_and(|c| c != '\n' && c != '\r')
}

/// The first cut in `text`, if any.
pub fn first_cut(text: &str) -> Option<usize> {
    memchr::memchr_iter(b'\n', text.as_bytes())
        .map(|i| i + 1)
        .find(|&p| is_cut(text, p))
}

/// The last cut in `text`, if any.
pub fn last_cut(text: &str) -> Option<usize> {
    memchr::memrchr_iter(b'\n', text.as_bytes())
        .map(|i| i + 1)
        .find(|&p| is_cut(text, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_skip_whitespace_and_slash_line_starts() {
        let text = "a\n  \n//c\n\n  d\ne\n \t\n";
        assert_eq!(first_cut(text), Some(text.find("  d").unwrap()));
        assert_eq!(last_cut(text), Some(text.find("e").unwrap()));
        assert_eq!(first_cut("x\n\tindented"), Some(2));
        assert_eq!(first_cut("no newline"), None);
        assert_eq!(first_cut("ends\n"), None);
    }

    #[test]
    fn models_map_to_encodings() {
        assert_eq!(
            Encoding::for_model("gpt-4o").unwrap().0,
            Encoding::O200kBase
        );
        assert_eq!(
            Encoding::for_model("gpt-4").unwrap().0,
            Encoding::Cl100kBase
        );
        let (enc, note) = Encoding::for_model("claude-sonnet-4-5").unwrap();
        assert_eq!(enc, Encoding::O200kBase);
        assert!(note.is_some());
        assert!(Encoding::for_model("text-davinci-003").is_err());
        assert!(Encoding::for_model("no-such-model").is_err());
    }

    /// Wrapped counts must equal direct counts, for every mix of the characters that decide
    /// where pieces split. The alphabet is small so that every junction case occurs.
    #[test]
    fn wrapped_count_equals_direct_count() {
        let alphabet = [
            "a", "B", "é", "7", "123", " ", "  ", "\t", "\n", "\r\n", "/", "//", "]", "]]>", "'s",
            "'LL", "{", "}", "<", "\u{a0}", "文", "😀", "\u{301}", "_", "x\n", "\n ", "\n\t",
            "\u{2028}", "\u{85}", "\r", "  \n", "\n/",
        ];
        let wrappers = [
            ("<file path=\"a\"><![CDATA[", "]]></file>\n"),
            ("", ""),
            ("x", "y"),
            ("\n", "\n"),
            (" ", " "),
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for encoding in Encoding::ALL {
            let counter = Tiktoken::new(encoding);
            for _ in 0..4000 {
                let len = (next() % 40) as usize;
                let text: String = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                let (prefix, suffix) = wrappers[(next() % wrappers.len() as u64) as usize];
                let split = SplitCount::new(&counter, &text);
                assert_eq!(split.total(), counter.count(&text), "{encoding}: {text:?}");
                let direct = counter.count(&format!("{prefix}{text}{suffix}"));
                let wrapped = split.wrapped(&counter, prefix, &text, suffix);
                assert_eq!(
                    wrapped, direct,
                    "{encoding}: {prefix:?} + {text:?} + {suffix:?}"
                );
            }
        }
    }
}
