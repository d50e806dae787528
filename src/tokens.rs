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
///
/// tiktoken-rs keeps one copy of its regex per thread, but the copies share fancy-regex's scratch
/// and cache pools, so on every thread but one each piece of text takes the pools' locked path:
/// about an eighth of a full pack's time. For o200k_base, each thread therefore splits text into
/// pieces with a regex of its own, built from tiktoken-rs's pattern, and keeps the count of each
/// piece it has seen. A piece it has not seen is counted by tiktoken-rs alone, and remembered
/// only when tiktoken-rs would split it, on its own, into that same one piece: then its count is
/// the BPE of that piece, exactly what it adds inside any text. The counts are those of
/// `CoreBPE::count_ordinary`: the tests compare the two on every fixture and on generated text.
/// cl100k_base is counted by tiktoken-rs alone.
#[derive(Clone, Copy)]
pub struct Tiktoken {
    encoding: Encoding,
}

/// Distinct pieces each thread remembers before it starts afresh: code repeats a few thousand
/// pieces endlessly, and starting afresh keeps those of the files now being counted. With keys of
/// at most [`REMEMBERED_LEN`] bytes this bounds each thread's memo to about 16 MB.
const REMEMBERED: usize = 1 << 17;

/// Longer pieces (runs of CJK text, of punctuation, hashes) rarely come back; they are counted
/// each time and not remembered.
const REMEMBERED_LEN: usize = 64;

struct Splitter {
    regex: fancy_regex::Regex,
    counts: rustc_hash::FxHashMap<Box<[u8]>, u32>,
}

thread_local! {
    static O200K: std::cell::RefCell<Splitter> = std::cell::RefCell::new(Splitter::o200k());
}

impl Splitter {
    fn o200k() -> Splitter {
        Splitter {
            regex: fancy_regex::Regex::new(tiktoken_rs::O200K_BASE_PAT_STR)
                .expect("tiktoken-rs's o200k_base pattern compiles"),
            counts: Default::default(),
        }
    }

    /// Counts `text` piece by piece; None if a new piece would split otherwise on its own (which
    /// the pattern, without look-behind and with look-ahead only for white space, should never
    /// allow), or if the regex gave up (then so would tiktoken-rs's, which panics: as before).
    fn count(&mut self, bpe: impl Fn() -> &'static CoreBPE, text: &str) -> Option<usize> {
        let mut total = 0;
        for piece in self.regex.find_iter(text) {
            let piece = piece.ok()?.as_str();
            if let Some(&count) = self.counts.get(piece.as_bytes()) {
                total += count as usize;
                continue;
            }
            if !self.is_one_piece(piece)? {
                return None;
            }
            let count = bpe().count_ordinary(piece);
            if piece.len() <= REMEMBERED_LEN {
                if self.counts.len() >= REMEMBERED {
                    self.counts.clear();
                }
                self.counts.insert(piece.as_bytes().into(), count as u32);
            }
            total += count;
        }
        Some(total)
    }

    /// Whether `piece`, split on its own, is that one piece.
    fn is_one_piece(&self, piece: &str) -> Option<bool> {
        let mut alone = self.regex.find_iter(piece);
        let first = alone.next().transpose().ok()?;
        Some(first.is_some_and(|m| m.range() == (0..piece.len())) && alone.next().is_none())
    }
}

impl Tiktoken {
    /// A counter in `encoding`. Its vocabulary is loaded on the first count (a tenth of a
    /// second): a run whose counts all come from the cache never loads it.
    pub fn new(encoding: Encoding) -> Self {
        Tiktoken { encoding }
    }

    fn bpe(&self) -> &'static CoreBPE {
        match self.encoding {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        }
    }
}

impl TokenCounter for Tiktoken {
    fn count(&self, text: &str) -> usize {
        let fast = match self.encoding {
            Encoding::O200kBase => O200K.with(|s| s.borrow_mut().count(|| self.bpe(), text)),
            Encoding::Cl100kBase => None,
        };
        fast.unwrap_or_else(|| self.bpe().count_ordinary(text))
    }
}

/// A quick estimate of `text`'s token count, for choosing before counting: one pass over the
/// bytes that mimics how the encodings split text (a word with the space before it is a token,
/// a long identifier a few, digits in threes, a line break with the next line's indentation one,
/// punctuation about one in two), without the vocabulary. A pure function of the text, so every
/// run estimates alike; the fit counts exactly whatever it may pick.
pub fn estimate(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut tokens = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            tokens += 1 + (i - start) / WORD_BYTES;
        } else if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            tokens += (i - start).div_ceil(3);
        } else if c == b' ' {
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            // A single space joins the word after it.
            if i - start > 1 || i == bytes.len() || !bytes[i].is_ascii_alphabetic() {
                tokens += 1;
            }
        } else if c.is_ascii_whitespace() {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            tokens += 1;
        } else if c < 0x80 {
            // Punctuation in runs of up to four, a control character alone.
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_punctuation() && i - start < 4 {
                i += 1;
            }
            tokens += 1;
        } else {
            while i < bytes.len() && bytes[i] >= 0x80 {
                i += 1;
            }
            tokens += (i - start).div_ceil(NON_ASCII_BYTES);
        }
    }
    // The pass above overcounts by about a sixth on source code (merged punctuation).
    tokens * 6 / 7
}

/// Letters a token of a long word holds, for [`estimate`].
const WORD_BYTES: usize = 8;

/// Bytes of non-ASCII text a token holds, for [`estimate`].
const NON_ASCII_BYTES: usize = 3;

/// Where each of `text`'s tokens starts, as byte offsets, and `text.len()` last: the tokens
/// tiktoken-rs encodes `text` into, laid end to end. A token may end inside a character (a
/// multi-byte character split across tokens); callers that cut text at these offsets move to a
/// character boundary.
pub fn token_offsets(encoding: Encoding, text: &str) -> Vec<usize> {
    let bpe = match encoding {
        Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
    };
    let tokens = bpe.encode_ordinary(text);
    let mut offsets = Vec::with_capacity(tokens.len() + 1);
    let mut at = 0;
    for token in tokens {
        offsets.push(at);
        at += bpe
            .decode_bytes(&[token])
            .map_or(0, |bytes: Vec<u8>| bytes.len());
    }
    offsets.push(at);
    offsets
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

/// Parses token budgets: `200k`, `1m`, `1.5M`, `128000` (k = 1,000 and m = 1,000,000: token
/// budgets are decimal, unlike file sizes).
pub fn parse_budget(raw: &str) -> Result<usize, String> {
    let text = raw.trim().replace('_', "");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        _ => {
            return Err(format!(
                "{raw:?} is not a token count: use a number with an optional k or m (200k, 1.5m, 128000)"
            ))
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("{raw:?} is not a token count: use a number with an optional k or m (200k, 1.5m, 128000)")
    })?;
    let tokens = value * multiplier;
    if !tokens.is_finite() || !(1.0..=1e12).contains(&tokens) {
        return Err(format!(
            "{raw:?} is not a usable token count: use a number of at least 1, with an optional k \
             or m (200k, 1.5m, 128000)"
        ));
    }
    Ok(tokens.round() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_offsets_tile_the_text_one_token_each() {
        for text in ["", "fn main() {}\n", "héllo wörld 日本語 🎉 done\n"] {
            for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
                let offsets = token_offsets(encoding, text);
                assert_eq!(offsets.len(), Tiktoken::new(encoding).count(text) + 1);
                assert_eq!(offsets.first(), Some(&0));
                assert_eq!(offsets.last(), Some(&text.len()));
                assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }

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

    /// A fixed stream of pseudo-random numbers, so that generated texts are the same every run.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
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
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
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

    /// The splitter's counts are tiktoken-rs's, and OpenAI's where the fixtures record them, both
    /// on first sight of each piece and from what it remembers.
    #[test]
    fn the_splitter_counts_as_tiktoken_rs_does() {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let mut splitter = Splitter::o200k();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let reference: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.join("fixtures/tokens/reference_counts.json")).unwrap(),
        )
        .unwrap();
        let reference = reference["files"].as_object().unwrap();
        for round in 0..2 {
            let mut split = 0;
            for (path, counts) in reference {
                let text =
                    std::fs::read_to_string(root.join("fixtures/tokens").join(path)).unwrap();
                let expected = counts["o200k_base"].as_u64().unwrap() as usize;
                if let Some(count) = splitter.count(|| bpe, &text) {
                    assert_eq!(count, expected, "round {round}, {path}: OpenAI's count");
                    split += 1;
                }
                assert_eq!(Tiktoken::new(Encoding::O200kBase).count(&text), expected);
            }
            assert!(split >= 20, "the splitter counted the fixtures ({split})");
        }

        let mut texts: Vec<String> = Vec::new();
        let mut dirs = vec![root.join("src"), root.join("fixtures"), root.join("tests")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push(text);
                }
            }
        }
        let alphabet = [
            "a",
            "B",
            "é",
            "7",
            "123",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "/",
            "]",
            "'s",
            "'LL",
            "{",
            "<|endoftext|>",
            "\u{a0}",
            "文",
            "😀",
            "\u{301}",
            "_",
            "\u{2028}",
            "\u{85}",
            "\r",
            "=",
        ];
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..3000 {
            let len = (next() % 80) as usize;
            texts.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        for n in [99, 100, 500] {
            for unit in ["a", "Zx", "=", " ", "\n", "7", "😀"] {
                texts.push(format!("let x = {};\n", unit.repeat(n)));
            }
        }
        for round in 0..2 {
            let mut split = 0;
            for text in &texts {
                let expected = bpe.count_ordinary(text);
                if let Some(count) = splitter.count(|| bpe, text) {
                    assert_eq!(count, expected, "round {round}: {text:?}");
                    split += 1;
                }
                assert_eq!(Tiktoken::new(Encoding::O200kBase).count(text), expected);
            }
            assert!(
                split * 10 >= texts.len() * 9,
                "round {round}: most texts are counted by the splitter ({split} of {})",
                texts.len()
            );
        }
        assert!(splitter.counts.len() > 1000, "pieces are remembered");
    }

    /// The estimate reads every byte once and stays near the exact count on ordinary text,
    /// control characters and non-ASCII text included (a byte it did not advance past would
    /// loop forever).
    #[test]
    fn estimates_end_and_stay_near_the_count() {
        let counter = Tiktoken::new(Encoding::O200kBase);
        assert_eq!(estimate(""), 0);
        for text in [
            "\u{b}\u{0}\u{1}x\u{7f}",
            "fn main() {\n    println!(\"hello, world\");\n}\n",
            include_str!("tokens.rs"),
            "Grüße, 世界! Привет, мир.",
        ] {
            let (guess, exact) = (estimate(text), counter.count(text));
            assert!(guess > 0, "{text:?}");
            assert!(
                guess * 2 >= exact && guess <= exact * 2,
                "{guess} against {exact} for {text:?}"
            );
        }
    }

    /// How far [`estimate`] is from the exact count over the files of a tree:
    /// `CTXPACK_ESTIMATE_CORPUS=DIR cargo test --release --lib estimate_calibration -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn estimate_calibration() {
        let dir = std::env::var("CTXPACK_ESTIMATE_CORPUS").expect("CTXPACK_ESTIMATE_CORPUS");
        let counter = Tiktoken::new(Encoding::O200kBase);
        let mut ratios = Vec::new();
        let (mut exact_sum, mut estimate_sum) = (0usize, 0usize);
        for entry in ignore::Walk::new(dir).flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            if text.len() < 200 || text.len() > 1 << 20 {
                continue;
            }
            let exact = counter.count(&text);
            let guess = estimate(&text);
            exact_sum += exact;
            estimate_sum += guess;
            ratios.push(guess as f64 / exact.max(1) as f64);
        }
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q) as usize];
        println!(
            "{} files: estimate / exact: total {:.3}, p5 {:.3}, p25 {:.3}, median {:.3}, p75 {:.3}, p95 {:.3}",
            ratios.len(),
            estimate_sum as f64 / exact_sum as f64,
            at(0.05),
            at(0.25),
            at(0.5),
            at(0.75),
            at(0.95)
        );
    }
}
