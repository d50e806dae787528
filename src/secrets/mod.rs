//! Secret scanning: finds credentials in a file's text and replaces them before anything counts,
//! analyzes or emits that text.
//!
//! It runs right after `load`, so every later stage (language analysis, token counts, the
//! budget, every fidelity) only ever sees the redacted text. The rules are data, in [`rules`].

pub mod rules;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

use rules::{Check, Rule, Scope, KNOWN_EXAMPLES, RULES};

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

/// One match: which rule, on which line (1-based, of the loaded text). Never the value.
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

/// A finding with its file, for the summary and the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: String,
    pub line: usize,
    pub rule: &'static str,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.rule)
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
    /// Index of the capture group named `key`, if the pattern has one.
    key_group: Option<usize>,
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
        assert!(RULES.len() <= 64, "rule sets are u64 bit masks");
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
            let regex = Regex::new(rule.pattern).expect("built-in secret rules compile");
            let mut key_group = None;
            let mut bare_group = None;
            let mut value_groups = Vec::new();
            for (group, name) in regex.capture_names().enumerate().skip(1) {
                match name {
                    Some("key") => key_group = Some(group),
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
                key_group,
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
        let active = self.active_rules(text);
        let mut candidates: Vec<Span> = Vec::new();
        for (index, compiled) in self.rules.iter().enumerate() {
            if active & (1 << index) == 0 || (compiled.rule.scope == Scope::EnvFile && !env_file) {
                continue;
            }
            for caps in compiled.regex.captures_iter(text) {
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
                    .key_group
                    .and_then(|g| caps.get(g))
                    .map(|m| m.as_str());
                let kind = match judge(compiled.rule.check, key, value.as_str(), bare) {
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
            || key.is_some_and(|k| name_is_not_secret(k) || is_password_digest(k, value))
            || value_is_not_secret(value)
        {
            return Verdict::NotFound;
        }
    }
    match classify_value(value, matches!(check, Check::Assignment { .. })) {
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
        Check::Entropy { min_len, min_bits } => {
            accept(value.len() >= min_len && shannon_entropy(value) >= min_bits)
        }
        Check::UrlPassword => {
            let lower = value.to_ascii_lowercase();
            let placeholder = key.is_some_and(|user| user.eq_ignore_ascii_case(value))
                || PLACEHOLDER_PASSWORDS.contains(&lower.as_str())
                || ["pass", "pwd", "secret"].iter().any(|w| lower.contains(w));
            if placeholder {
                Verdict::Example
            } else {
                Verdict::Secret
            }
        }
        Check::Assignment { min_len, min_bits } => {
            accept(value.len() >= min_len && shannon_entropy(value) >= min_bits)
        }
    }
}

/// Passwords in URLs that are placeholders or well-known defaults of local services.
const PLACEHOLDER_PASSWORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "changeme",
    "!changeme!",
    "change_me",
    "changeit",
    "test",
    "testing",
    "dummy",
    "foo",
    "bar",
    "baz",
    "xxx",
    "***",
    "pa$$word",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueClass {
    /// Not a value but a reference to one: `${TOKEN}`, `$password`, `%env(KEY)%`, `%s`.
    Reference,
    /// A placeholder or published example.
    Example,
    Plausible,
}

/// The placeholder tests shared by every rule but `.env` values. `human` is set for values
/// assigned to a secret-like name, which people choose, unlike machine-made tokens.
fn classify_value(value: &str, human: bool) -> ValueClass {
    let lower = value.to_ascii_lowercase();
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
    if KNOWN_EXAMPLES.iter().any(|e| value.contains(e))
        || lower.contains("example")
        || ["xxxxx", "...", "\u{2026}", "123456789", "abcdefghij"]
            .iter()
            .any(|m| lower.contains(m))
        || (value.contains('<') && value.contains('>'))
        || has_low_diversity(value)
    {
        return ValueClass::Example;
    }
    // A marker word standing apart: `your-api-key`, `xoxb-your-token-here`, `<token>`.
    let apart_words: usize = MARKER_WORDS
        .iter()
        .map(|word| {
            lower
                .match_indices(word)
                .filter(|(at, _)| {
                    let apart = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
                    apart(lower[..*at].chars().next_back())
                        && apart(lower[at + word.len()..].chars().next())
                })
                .count()
                * word.len()
        })
        .sum();
    // Marker words must make up much of the value: a random token that happens to hold `-here-`
    // is still a secret. People choose the values assigned to names like `password`, so there
    // a few telling fragments count anywhere (`MySecretPassw0rd`).
    let placeholder = apart_words * 10 >= value.len() * 3
        || (human && HUMAN_MARKERS.iter().any(|m| lower.contains(m)));
    if placeholder {
        return ValueClass::Example;
    }
    ValueClass::Plausible
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

/// Words that mark a placeholder when they stand apart.
const MARKER_WORDS: &[&str] = &[
    "your",
    "my",
    "the",
    "changeme",
    "change_me",
    "changeit",
    "placeholder",
    "dummy",
    "fake",
    "sample",
    "redacted",
    "replace",
    "insert",
    "todo",
    "here",
    "secret",
    "password",
    "token",
    "key",
    "api",
    "test",
];

/// Parts of words that mark a person's placeholder anywhere in an assigned value.
const HUMAN_MARKERS: &[&str] = &[
    "passw",
    "secret",
    "changeme",
    "changeit",
    "dummy",
    "sample",
    "placeholder",
    "your",
];

/// One or two distinct characters after any prefix (`AKIA0000000000000000`, `ghp_xxxx...`), or a
/// very low entropy over a long value.
fn has_low_diversity(value: &str) -> bool {
    let body = value.rsplit(['_', '-']).next().unwrap_or(value);
    let body = if body.len() >= 8 { body } else { value };
    let mut distinct: Vec<char> = body.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() <= 2 || (value.len() >= 16 && shannon_entropy(value) < 2.5)
}

/// Words that, as the last word of an assigned name, say the value is not a secret:
/// `password_hash`, `token_type`, `secret_name`, `api_key_id`, `auth_token_url`...
const NOT_SECRET_NAME_ENDINGS: &[&str] = &[
    "id",
    "ids",
    "url",
    "uri",
    "urls",
    "path",
    "file",
    "filename",
    "dir",
    "name",
    "names",
    "type",
    "types",
    "kind",
    "length",
    "len",
    "size",
    "count",
    "header",
    "headers",
    "field",
    "fields",
    "param",
    "parameter",
    "prefix",
    "suffix",
    "endpoint",
    "env",
    "var",
    "variable",
    "hash",
    "hashed",
    "digest",
    "format",
    "algorithm",
    "alg",
    "mode",
    "policy",
    "provider",
    "manager",
    "storage",
    "ttl",
    "lifetime",
    "expires",
    "expiry",
    "expiration",
    "timeout",
    "limit",
    "min",
    "max",
    "label",
    "hint",
    "message",
    "error",
    "pattern",
    "regex",
    "class",
    "service",
    "generator",
    "handler",
    "strategy",
    "attribute",
    "option",
    "options",
    "template",
    "route",
    "method",
    "enabled",
    "required",
    "version",
    "location",
    "source",
    "store",
    "reset",
    "request",
];

/// A hex digest assigned to a password name: a stored hash (`sha1("password")`), not a password.
fn is_password_digest(name: &str, value: &str) -> bool {
    let name = name.to_ascii_lowercase();
    (name.contains("passw") || name.contains("pwd"))
        && [32, 40, 64, 128].contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn name_is_not_secret(name: &str) -> bool {
    last_word(name).is_some_and(|w| NOT_SECRET_NAME_ENDINGS.contains(&w.as_str()))
}

/// The last word of `name`, split at `_`, `-`, `.` and lower-to-upper case changes, lower-cased.
fn last_word(name: &str) -> Option<String> {
    let trimmed = name.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut start = 0;
    let bytes = trimmed.as_bytes();
    for i in 1..bytes.len() {
        let boundary = !bytes[i - 1].is_ascii_alphanumeric()
            || (bytes[i - 1].is_ascii_lowercase() && bytes[i].is_ascii_uppercase());
        if boundary && bytes[i].is_ascii_alphanumeric() {
            start = i;
        }
    }
    let word = &trimmed[start..];
    (!word.is_empty()).then(|| word.to_ascii_lowercase())
}

/// Assigned values that are not credentials: UUIDs, paths and URLs, numbers, plain words and
/// identifiers, password hashes.
fn value_is_not_secret(value: &str) -> bool {
    let is_uuid = value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    let is_path_or_url = value.contains("://")
        || value.starts_with('/')
        || value.starts_with("./")
        || value.starts_with("../")
        || value.starts_with("~/");
    let is_number = value.chars().all(|c| c.is_ascii_digit() || c == '.');
    let is_word = value
        .chars()
        .all(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.' | ':' | '/'));
    let is_dotted_identifier = value.contains('.')
        && value.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    let is_password_hash = value.starts_with("{SSHA")
        || value.starts_with("{SHA")
        || value.starts_with("pbkdf2_")
        || value.starts_with("sha1$")
        || value.starts_with("md5$");
    is_uuid || is_path_or_url || is_number || is_word || is_dotted_identifier || is_password_hash
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
