//! Secret scanning: finds credentials in a file's text and replaces them before anything counts,
//! analyzes or emits that text.
//!
//! It runs right after `load`, so every later stage (language analysis, token counts, the
//! budget, every fidelity) only ever sees the redacted text. The rules are data, in [`rules`].

pub mod policy;
pub mod rules;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

pub use policy::{redact_name, Policy};
use rules::{
    Check, Rule, Scope, KNOWN_EXAMPLES, NOT_SECRET_NAME_ENDINGS, PLACEHOLDER_PASSWORDS,
    PLACEHOLDER_VALUES, PLACEHOLDER_WORDS, RULES,
};

/// Rule sets are `u64` bit masks.
const _: () = assert!(
    RULES.len() <= 64,
    "more than 64 secret rules: widen the rule masks"
);

/// A line holding this keeps its matches in place, reported as examples.
pub const ALLOW_MARKER: &str = "ctxpack:allow-secret";

/// What `pack` does with the secrets it finds (`--secrets`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Replace each secret with `[REDACTED:<rule-id>]`; the rest of the file is kept.
    #[default]
    Redact,
    /// Leave out every file that holds a secret (reason `secrets`).
    OmitFile,
    /// Write no document and fail when any secret is found.
    Fail,
    /// Do not scan.
    Off,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Redact => "redact",
            Mode::OmitFile => "omit-file",
            Mode::Fail => "fail",
            Mode::Off => "off",
        }
    }
}

/// Whether a match is a credential or a published example left in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Secret,
    Example,
}

/// One match: which rule, on which line (1-based, of the loaded text; 0 for a match in the
/// file's path). Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub line: usize,
    pub kind: Kind,
    /// Where the value lies in the scanned text (bytes), for tools that show it masked.
    pub range: Range<usize>,
}

impl Finding {
    pub fn is_secret(&self) -> bool {
        self.kind == Kind::Secret
    }
}

/// A file's text with its secrets replaced, and what was found.
#[derive(Debug)]
pub struct Redacted<'a> {
    pub text: Cow<'a, str>,
    /// Secrets and examples, in text order.
    pub findings: Vec<Finding>,
}

/// What of a path a scan depends on: whether it names an environment file, and its file name
/// (some rules apply to files of one name). Two texts scanned under the same scope give the same
/// findings.
pub fn scope_of(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    format!("{}{name}", if is_env_file(path) { "env:" } else { "" })
}

/// The rule whose id is `id`, as the scanner names it.
pub fn rule_named(id: &str) -> Option<&'static str> {
    rules::RULES.iter().find(|r| r.id == id).map(|r| r.id)
}

/// What [`Scanner::redact`] gives for `text`, rebuilt from its findings (kept from an earlier
/// scan of the same text): each secret's range replaced by its marker. `None` when the findings
/// do not fit the text (out of order, out of bounds, off a character boundary, on another line):
/// then the text is scanned again.
pub fn apply(text: &str, findings: Vec<Finding>) -> Option<Redacted<'_>> {
    let mut out = String::new();
    let mut copied = 0;
    let mut line = 1;
    let mut counted = 0;
    let mut last_end = 0;
    for finding in &findings {
        let range = &finding.range;
        if range.start < last_end
            || range.start >= range.end
            || range.end > text.len()
            || !text.is_char_boundary(range.start)
            || !text.is_char_boundary(range.end)
        {
            return None;
        }
        line += memchr::memchr_iter(b'\n', &text.as_bytes()[counted..range.start]).count();
        counted = range.start;
        if finding.line != line {
            return None;
        }
        last_end = range.end;
        if finding.kind == Kind::Secret {
            if out.is_empty() {
                out.reserve(text.len());
            }
            out.push_str(&text[copied..range.start]);
            out.push_str("[REDACTED:");
            out.push_str(finding.rule);
            out.push(']');
            copied = range.end;
        }
    }
    let text = if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    };
    Some(Redacted { text, findings })
}

/// A finding with its file, for the summary and the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: String,
    pub line: usize,
    pub rule: &'static str,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {} (in the path)", self.path, self.rule)
        } else {
            write!(f, "{}:{}: {}", self.path, self.line, self.rule)
        }
    }
}

/// What scanning found over a whole pack, in path order.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    pub mode: Mode,
    /// Secrets: redacted, or the reason their file was left out, depending on `mode`.
    pub secrets: Vec<Located>,
    /// Files holding at least one secret.
    pub files: usize,
    /// Matches that are known examples, left as they are.
    pub examples: Vec<Located>,
    /// Secrets found in files a budgeted document leaves out to fit (not listed).
    pub left_out: usize,
}

/// `--secrets fail` found secrets: no document is written.
#[derive(Debug)]
pub struct SecretsFound {
    pub secrets: Vec<Located>,
}

impl fmt::Display for SecretsFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.secrets.len();
        writeln!(
            f,
            "found {n} secret{} (--secrets fail), so no document was written:",
            if n == 1 { "" } else { "s" }
        )?;
        for found in &self.secrets {
            writeln!(f, "  {found}")?;
        }
        write!(
            f,
            "Remove them from the files, leave the files out (--exclude), or pack with \
             --secrets redact to replace each with a [REDACTED:<rule>] marker."
        )
    }
}

impl std::error::Error for SecretsFound {}

/// The rule table, compiled once.
pub struct Scanner {
    rules: Vec<CompiledRule>,
    /// Every keyword of every rule, lower-cased and deduplicated.
    keywords: AhoCorasick,
    /// For each keyword, the rules (as bits) it switches on.
    keyword_rules: Vec<u64>,
    /// The rules that run without a keyword.
    always: u64,
}

struct CompiledRule {
    rule: &'static Rule,
    regex: Regex,
    /// Indices of the capture groups named `key...` (a pattern with alternatives has several).
    key_groups: Vec<usize>,
    /// Index of the capture group named `bare` (an unquoted value), if any; also a value group.
    bare_group: Option<usize>,
    /// Indices of the unnamed capture groups: the first that took part holds the secret.
    value_groups: Vec<usize>,
}

static SCANNER: LazyLock<Scanner> = LazyLock::new(Scanner::compile);

impl Scanner {
    /// The scanner for the built-in rules, compiled on first use.
    pub fn get() -> &'static Scanner {
        &SCANNER
    }

    fn compile() -> Scanner {
        let mut words: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<u64> = Vec::new();
        let mut always = 0u64;
        let mut rules = Vec::with_capacity(RULES.len());
        for (index, rule) in RULES.iter().enumerate() {
            let bit = 1u64 << index;
            if rule.keywords.is_empty() {
                always |= bit;
            }
            for keyword in rule.keywords {
                let keyword = keyword.to_ascii_lowercase();
                match words.iter().position(|w| *w == keyword) {
                    Some(at) => keyword_rules[at] |= bit,
                    None => {
                        words.push(keyword);
                        keyword_rules.push(bit);
                    }
                }
            }
            // The patterns are constants of this crate; a unit test compiles every one.
            let regex = linear_time_regex(rule).unwrap_or_else(|message| panic!("{message}"));
            let mut key_groups = Vec::new();
            let mut bare_group = None;
            let mut value_groups = Vec::new();
            for (group, name) in regex.capture_names().enumerate().skip(1) {
                match name {
                    Some(name) if name.starts_with("key") => key_groups.push(group),
                    Some("bare") => {
                        bare_group = Some(group);
                        value_groups.push(group);
                    }
                    Some(_) => {}
                    None => value_groups.push(group),
                }
            }
            rules.push(CompiledRule {
                rule,
                regex,
                key_groups,
                bare_group,
                value_groups,
            });
        }
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&words)
            .expect("a few short keywords always build");
        Scanner {
            rules,
            keywords,
            keyword_rules,
            always,
        }
    }

    /// The rules whose keywords occur in `text`, plus those that need none.
    fn active_rules(&self, text: &str) -> u64 {
        let all_keyword_rules = self.keyword_rules.iter().fold(0, |acc, bits| acc | bits);
        let mut active = self.always;
        for found in self.keywords.find_overlapping_iter(text) {
            active |= self.keyword_rules[found.pattern().as_usize()];
            if active & all_keyword_rules == all_keyword_rules {
                break;
            }
        }
        active
    }

    /// Finds the secrets in `text` (the file at `path`, relative, `/`-separated) and replaces each
    /// with `[REDACTED:<rule-id>]`. The text is borrowed back unchanged when nothing is replaced.
    pub fn redact<'a>(&self, path: &str, text: &'a str) -> Redacted<'a> {
        let env_file = is_env_file(path);
        let name = path.rsplit('/').next().unwrap_or(path);
        let active = self.active_rules(text);
        let mut candidates: Vec<Span> = Vec::new();
        for (index, compiled) in self.rules.iter().enumerate() {
            let in_scope = match compiled.rule.scope {
                Scope::AnyFile => true,
                Scope::EnvFile => env_file,
                Scope::FileNamed(names) => names.contains(&name),
            };
            if active & (1 << index) == 0 || !in_scope {
                continue;
            }
            // Find with the fast engines first; resolving capture groups over a whole file would
            // force the slow one (the PikeVM) across every byte of it.
            for found in compiled.regex.find_iter(text) {
                let Some(caps) = compiled.regex.captures_at(text, found.start()) else {
                    continue;
                };
                let group = compiled
                    .value_groups
                    .iter()
                    .copied()
                    .find(|&g| caps.get(g).is_some());
                let bare = group.is_some() && group == compiled.bare_group;
                let value = group.and_then(|g| caps.get(g)).or_else(|| caps.get(0));
                let Some(value) = value.filter(|v| !v.is_empty()) else {
                    continue;
                };
                let key = compiled
                    .key_groups
                    .iter()
                    .find_map(|&g| caps.get(g))
                    .map(|m| m.as_str());
                let kind = match judge(compiled.rule.check, key, value.as_str(), bare) {
                    Verdict::Secret if line_allows(text, value.start()) => Kind::Example,
                    Verdict::Secret => Kind::Secret,
                    Verdict::Example => Kind::Example,
                    Verdict::NotFound => continue,
                };
                candidates.push(Span {
                    start: value.start(),
                    end: value.end(),
                    rule: index,
                    kind,
                });
            }
        }
        let spans = resolve_overlaps(candidates);
        if spans.is_empty() {
            return Redacted {
                text: Cow::Borrowed(text),
                findings: Vec::new(),
            };
        }

        let mut findings = Vec::with_capacity(spans.len());
        let mut out = String::new();
        let mut copied = 0;
        let mut line = 1;
        let mut counted = 0;
        for span in &spans {
            line += memchr::memchr_iter(b'\n', &text.as_bytes()[counted..span.start]).count();
            counted = span.start;
            let rule = self.rules[span.rule].rule.id;
            findings.push(Finding {
                rule,
                line,
                kind: span.kind,
                range: span.start..span.end,
            });
            if span.kind == Kind::Secret {
                if out.is_empty() {
                    out.reserve(text.len());
                }
                out.push_str(&text[copied..span.start]);
                out.push_str("[REDACTED:");
                out.push_str(rule);
                out.push(']');
                copied = span.end;
            }
        }
        let text = if copied == 0 {
            Cow::Borrowed(text)
        } else {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        };
        Redacted { text, findings }
    }

    /// Redacts the secrets in a path (relative, `/`-separated), component by component, so that
    /// a token used as a file name reaches no output. Findings are on line 0. `None` when the
    /// path holds none.
    pub fn redact_path(&self, components: &[String]) -> Option<(Vec<String>, Vec<Finding>)> {
        let mut findings = Vec::new();
        let mut shown = Vec::with_capacity(components.len());
        let mut changed = false;
        for component in components {
            // No `.env` rule for a name: scan it as ordinary text.
            let redacted = self.redact("", component);
            for mut finding in redacted.findings {
                finding.line = 0;
                finding.range = 0..0;
                findings.push(finding);
            }
            changed |= matches!(redacted.text, Cow::Owned(_));
            shown.push(redacted.text.into_owned());
        }
        (!findings.is_empty() || changed).then_some((shown, findings))
    }

    /// `text` with its secrets replaced: for one-off messages such as warnings that name paths.
    pub fn redact_message(&self, text: &str) -> String {
        self.redact("", text).text.into_owned()
    }
}

/// Compiles a rule's pattern for the `regex` crate, whose searches take time linear in the text
/// whatever the pattern and the input: it has no backtracking engine, and refuses the constructs
/// that need one (backreferences, look-around). This is what keeps a file crafted against the
/// rules (long runs that almost match) as cheap to scan as any other; the speed itself is
/// measured in `benches/secrets.rs`, not asserted in a test.
///
/// Word boundaries are made ASCII: credentials are ASCII, and the fast engines (the lazy DFA)
/// cannot do Unicode word boundaries, which would leave every rule to the slower PikeVM on any
/// file with a non-ASCII character.
fn linear_time_regex(rule: &Rule) -> Result<Regex, String> {
    let pattern = rule.pattern.replace(r"\b", r"(?-u:\b)");
    Regex::new(&pattern).map_err(|error| {
        format!(
            "secret rule {} is not a pattern the linear-time regex engine accepts \
             (backreferences and look-around would need backtracking): {error}",
            rule.id
        )
    })
}

/// How many `[REDACTED:<rule-id>]` markers `text` holds.
pub fn count_markers(text: &str) -> usize {
    text.match_indices("[REDACTED:")
        .filter(|(at, m)| {
            let rest = &text[at + m.len()..];
            let id = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
                .unwrap_or(rest.len());
            id > 0 && rest[id..].starts_with(']')
        })
        .count()
}

/// Whether the line holding `at` carries [`ALLOW_MARKER`].
fn line_allows(text: &str, at: usize) -> bool {
    let start = memchr::memrchr(b'\n', &text.as_bytes()[..at]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &text.as_bytes()[at..]).map_or(text.len(), |i| at + i);
    text[start..end].contains(ALLOW_MARKER)
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    rule: usize,
    kind: Kind,
}

/// Keeps non-overlapping spans: secrets first (the one starting first wins, then the longer,
/// then the earlier rule), then the examples that overlap no kept span. Sorted by position.
fn resolve_overlaps(mut candidates: Vec<Span>) -> Vec<Span> {
    candidates.sort_by_key(|s| (s.kind, s.start, std::cmp::Reverse(s.end), s.rule));
    let split = candidates.partition_point(|s| s.kind == Kind::Secret);
    let (secrets, examples) = candidates.split_at(split);
    let mut kept: Vec<Span> = Vec::with_capacity(candidates.len());
    let mut end = 0;
    for span in secrets {
        if kept.is_empty() || span.start >= end {
            kept.push(*span);
            end = span.end;
        }
    }
    let secret_count = kept.len();
    let mut example_end = 0;
    for span in examples {
        // The kept secrets are sorted and disjoint: only the last one starting before this
        // span's end can overlap it.
        let before = kept[..secret_count].partition_point(|k| k.start < span.end);
        let hits_secret = before > 0 && kept[before - 1].end > span.start;
        if !hits_secret && (span.start >= example_end || kept.len() == secret_count) {
            kept.push(*span);
            example_end = span.end;
        }
    }
    kept.sort_by_key(|s| (s.start, s.end));
    kept
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Secret,
    Example,
    NotFound,
}

/// Whether a matched value is a secret, per the rule's check. `bare`: the value was unquoted.
fn judge(check: Check, key: Option<&str>, value: &str, bare: bool) -> Verdict {
    if check == Check::EnvValue {
        return Verdict::Secret;
    }
    // Names and values that are never secrets, and short values, are not findings, not even
    // examples.
    if let Check::Assignment { min_len, .. } = check {
        let unquoted_word = bare
            && !(value.bytes().any(|b| b.is_ascii_alphabetic())
                && value.bytes().any(|b| b.is_ascii_digit()));
        if value.len() < min_len
            || unquoted_word
            || key.is_some_and(|k| !name_is_secret_like(k) || name_is_not_secret(k))
            || value_is_not_secret(value)
        {
            return Verdict::NotFound;
        }
    }
    match classify_value(value) {
        ValueClass::Reference => return Verdict::NotFound,
        ValueClass::Example => return Verdict::Example,
        ValueClass::Plausible => {}
    }
    let accept = |ok: bool| {
        if ok {
            Verdict::Secret
        } else {
            Verdict::NotFound
        }
    };
    match check {
        Check::Shape | Check::EnvValue => Verdict::Secret,
        Check::PemBody => accept(longest_base64_run(value) >= 40),
        Check::Base64PrivateKey => accept(decodes_to_private_key(value)),
        Check::Entropy { min_len, min_bits } | Check::Assignment { min_len, min_bits } => {
            accept(value.len() >= min_len && shannon_entropy(value) >= min_bits)
        }
        Check::UrlPassword | Check::OtherUrlPassword => {
            let lower = value.to_ascii_lowercase();
            if PLACEHOLDER_PASSWORDS.contains(&lower.as_str()) {
                Verdict::Example
            } else if check == Check::OtherUrlPassword
                && (value.len() < 8 || is_identifier_like(value))
            {
                Verdict::NotFound
            } else {
                Verdict::Secret
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueClass {
    /// Not a value but a reference to one: `${TOKEN}`, `$password`, `%env(KEY)%`, `%s`.
    Reference,
    /// A placeholder or published example, as a whole value.
    Example,
    Plausible,
}

/// The placeholder tests shared by every rule but `.env` values. Only whole values are examples
/// (see `rules`): a realistic value must not pass `--secrets fail` because it holds a word.
fn classify_value(value: &str) -> ValueClass {
    // Anchored tests, so that a random password holding `%s` is not mistaken for a format.
    let is_reference = value.starts_with('$')
        || ["%env(", "%(", "{%", "<%", "#{", "@{"]
            .iter()
            .any(|m| value.starts_with(m))
        || (value.len() > 2 && value.starts_with('%') && value.ends_with('%'))
        || (value.starts_with('{') && value.ends_with('}'))
        || ["%s", "%d", "%v", "?"].contains(&value)
        || ["${", "{{", "$("].iter().any(|m| value.contains(m))
        || has_named_placeholder(value)
        // Our own marker, so that packing a packed document changes nothing.
        || value.contains("[REDACTED:");
    if is_reference {
        return ValueClass::Reference;
    }
    if KNOWN_EXAMPLES.contains(&value) || is_placeholder(token_body(value)) {
        return ValueClass::Example;
    }
    ValueClass::Plausible
}

/// The value without a token's fixed prefix (`ghp_`, `sk_live_`, `xoxb-`, `glpat-`, `sk-proj-`):
/// lower-case letters ending in `_` or `-`, at most three of them.
fn token_body(value: &str) -> &str {
    let mut body = value;
    for _ in 0..3 {
        let prefix = body.find(['_', '-']).filter(|&at| {
            (2..=7).contains(&at) && body[..at].bytes().all(|b| b.is_ascii_lowercase())
        });
        match prefix {
            Some(at) if at + 1 < body.len() => body = &body[at + 1..],
            _ => break,
        }
    }
    body
}

/// A whole-value placeholder: a listed value, `<...>`, words that only say "put it here"
/// (`your-api-key`), a counting run, or one or two repeated characters.
fn is_placeholder(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    if PLACEHOLDER_VALUES.contains(&lower.as_str())
        || (body.starts_with('<') && body.ends_with('>'))
        || ["...", "\u{2026}"].contains(&body)
    {
        return true;
    }
    let words: Vec<&str> = lower
        .split(['-', '_', '.', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    let placeholder_words = !words.is_empty()
        && words
            .iter()
            .all(|w| PLACEHOLDER_WORDS.contains(w) || w.bytes().all(|b| b == b'x'));
    placeholder_words || is_counting_run(&lower) || has_low_diversity(body)
}

/// `0123456789`, `abcdefghij`, `1234567890123...`: each character follows the one before.
fn is_counting_run(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() >= 8
        && bytes.windows(2).all(|pair| {
            pair[1] == pair[0] + 1 || (pair[0] == b'9' && pair[1] == b'0') || pair[0] == pair[1]
        })
        && bytes.windows(2).filter(|p| p[0] == p[1]).count() * 4 < bytes.len()
}

/// A `{name}` template placeholder anywhere in the value (format strings, f-strings).
fn has_named_placeholder(value: &str) -> bool {
    value.match_indices('{').any(|(at, _)| {
        let rest = &value[at + 1..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        name_len > 0 && rest[name_len..].starts_with('}')
    })
}

/// One or two distinct characters (`AKIA0000000000000000`, `xxxx...`), or a very low entropy over
/// a long value.
fn has_low_diversity(value: &str) -> bool {
    let mut distinct: Vec<char> = value.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() <= 2 || (value.len() >= 16 && shannon_entropy(value) < 2.5)
}

/// The words of a name, split at `_`, `-`, `.`, other punctuation and lower-to-upper case
/// changes, lower-cased.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether a name the generic pattern matched is really secret-like: `pass` must be a word of
/// its own (`DB_PASS`, `smtpPass`), not part of `bypass` or `compass`.
fn name_is_secret_like(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let other = ["passw", "pwd", "secret", "token", "credential", "key"]
        .iter()
        .any(|w| lower.contains(w));
    other
        || name_words(name)
            .iter()
            .any(|w| w == "pass" || w == "passphrase")
}

fn name_is_not_secret(name: &str) -> bool {
    last_word(name).is_some_and(|w| NOT_SECRET_NAME_ENDINGS.contains(&w.as_str()))
}

/// The last word of `name`, split at `_`, `-`, `.` and lower-to-upper case changes, lower-cased.
fn last_word(name: &str) -> Option<String> {
    name_words(name).pop()
}

/// Whether a run of letters and digits looks machine-made: it switches often from lower to upper
/// case or between letters and digits (`QmXkTzRw`, `K7MDENG`), unlike identifiers and words
/// (`getUserName`, `XMLHttpRequest`, `sha256`).
fn looks_random(word: &str) -> bool {
    let bytes = word.as_bytes();
    if bytes.len() < 6 {
        return false;
    }
    let switches = bytes
        .windows(2)
        .filter(|p| {
            (p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase())
                || (p[0].is_ascii_alphabetic() && p[1].is_ascii_digit())
                || (p[0].is_ascii_digit() && p[1].is_ascii_alphabetic())
        })
        .count();
    // Random letters are about half upper case with many lower-to-upper steps; identifiers
    // have a capital every few letters (`getUserNameFromToken`) or an acronym (`XMLHttp`).
    let upper = bytes.iter().filter(|b| b.is_ascii_uppercase()).count();
    let letters = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let humps = bytes
        .windows(2)
        .filter(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase())
        .count();
    let mixed_case = letters >= 8 && upper * 10 >= letters * 3 && upper * 10 <= letters * 7;
    switches * 4 >= bytes.len() || (mixed_case && humps >= 3)
}

/// Whether any alphanumeric run of `value` looks machine-made.
fn has_random_run(value: &str) -> bool {
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(looks_random)
}

/// Letters and separators only, with no machine-made run: `Authorization-Header-Name`,
/// `apiSecret`, `APPLICATION_SECRET`. `QmXkTzRwPvLs` is not one.
fn is_identifier_like(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.' | ':' | '/'))
        && !has_random_run(value)
}

/// Assigned values that are not credentials: UUIDs, paths and URLs, numbers, identifiers and
/// words, prose, unsigned JWTs, password hashes.
fn value_is_not_secret(value: &str) -> bool {
    let is_uuid = value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    // A leading `/` alone does not make a path: one base64 secret in 64 starts with it.
    let is_path_or_url = value.contains("://")
        || (["/", "./", "../", "~/"]
            .iter()
            .any(|p| value.starts_with(p))
            && !value.contains(['+', '='])
            && !has_random_run(value));
    let is_number = value.chars().all(|c| c.is_ascii_digit() || c == '.');
    let is_word = is_identifier_like(value);
    // A constant or path in code: `D3DKMT_PRESENTHISTORYTOKEN`, `windows_sys::core::PWSTR`.
    let is_constant = value.contains('_')
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b':');
    let is_dotted_identifier = value.contains('.')
        && value.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && part.bytes().filter(u8::is_ascii_digit).count() <= 3
                && !looks_random(part)
        });
    // Text with blanks is prose (`Your token has expired.`) unless a word in it mixes letters
    // and digits (`Bearer 9fK2mQ7x`, `Xk9$ mQ2#pL`).
    // Many words or parentheses are code or prose, not a password (`"+lr);switch(...`).
    let is_prose = value.contains(' ')
        && (value.split_whitespace().count() > 4
            || value.contains(['(', ')'])
            || !value.split_whitespace().any(|w| {
                w.len() >= 6
                    && w.bytes().any(|b| b.is_ascii_alphabetic())
                    && w.bytes().any(|b| b.is_ascii_digit())
            }));
    let is_password_hash = value.starts_with("{SSHA")
        || value.starts_with("{SHA")
        || value.starts_with("pbkdf2_")
        || value.starts_with("sha1$")
        || value.starts_with("md5$");
    is_uuid
        || is_path_or_url
        || is_number
        || is_word
        || is_constant
        || is_dotted_identifier
        || is_prose
        || is_unsigned_jwt(value)
        || is_password_hash
}

/// `header.payload.` with an empty signature: not a credential (see the `jwt` rule).
fn is_unsigned_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts[2].is_empty()
}

/// Whether a base64 value decodes to a PEM private key's BEGIN line.
fn decodes_to_private_key(value: &str) -> bool {
    // 96 characters decode to 72 bytes: enough for the longest BEGIN line.
    let head = &value[..value.len().min(96) / 4 * 4];
    let decoded = decode_base64(head);
    let text = String::from_utf8_lossy(&decoded);
    text.starts_with("-----BEGIN") && text.contains("PRIVATE KEY")
}

/// Standard base64 without padding checks; stops at the first character outside the alphabet.
fn decode_base64(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => break,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// Shannon entropy of the bytes of `value`, in bits per byte.
pub fn shannon_entropy(value: &str) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value.as_bytes() {
        counts[b as usize] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = n as f64 / len;
            -p * p.log2()
        })
        .sum()
}

fn longest_base64_run(value: &str) -> usize {
    value
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// `.env`, `.env.local`, `.env.production`, `prod.env`, `.envrc`; not the templates
/// `.env.example`, `.env.sample`, `.env.template`, `.env.dist` (see `rules::RULES`), nor code
/// such as `.env.local.php`.
pub fn is_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let env = name == ".env"
        || name == ".envrc"
        || name.starts_with(".env.")
        || (name.ends_with(".env") && name.len() > 4);
    let template = name.split('.').any(|part| {
        ["example", "sample", "template", "dist", "tpl"]
            .iter()
            .any(|t| part.eq_ignore_ascii_case(t))
    });
    // `.env.local.php` (Symfony's compiled dotenv) and the like are code, read by other rules.
    let code = name.rsplit('.').next().is_some_and(|ext| {
        [
            "php", "js", "mjs", "cjs", "ts", "json", "yaml", "yml", "py", "rb", "go", "rs", "md",
        ]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
    });
    env && !template && !code
}

#[cfg(test)]
mod tests;
