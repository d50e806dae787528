//! A reviewer's answer, read: its findings (`- [severity] path:line — issue — fix`) and its
//! verdict, for `review.json`.

use serde::{Deserialize, Serialize};

/// A reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Approve,
    ChangesRequested,
    /// The reviewer ignored the format: its text is kept, no verdict read.
    Unknown,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::ChangesRequested => "changes-requested",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One finding of a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: String,
    pub path: String,
    pub line: Option<usize>,
    pub issue: String,
    pub fix: Option<String>,
}

/// What `review.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// Reads a reviewer's answer: findings (`- [severity] path:line — issue — fix`) and the last
/// `VERDICT:` line; `unknown` when there is none.
pub fn parse_review(text: &str) -> Review {
    let mut verdict = Verdict::Unknown;
    let mut findings = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(found) = verdict_of(trimmed) {
            verdict = found;
            continue;
        }
        let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
            .map(str::trim_start)
        else {
            continue;
        };
        let Some(rest) = item.strip_prefix('[') else {
            continue;
        };
        let Some((severity, rest)) = rest.split_once(']') else {
            continue;
        };
        let parts: Vec<&str> = rest
            .split(['—', '–'])
            .flat_map(|p| p.split(" - "))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let Some((place, rest)) = parts.split_first() else {
            continue;
        };
        let place = place.trim_matches('`');
        let (path, line) = match place.rsplit_once(':') {
            Some((path, line)) if line.parse::<usize>().is_ok() => {
                (path.to_string(), line.parse().ok())
            }
            _ => (place.to_string(), None),
        };
        findings.push(Finding {
            severity: severity.trim().to_ascii_lowercase(),
            path: path.trim_matches('`').to_string(),
            line,
            issue: rest.first().map(|s| s.to_string()).unwrap_or_default(),
            fix: (rest.len() > 1).then(|| rest[1..].join(" — ")),
        });
    }
    Review { verdict, findings }
}

/// The verdict a line gives: `VERDICT: approve`, with Markdown around it or in it
/// (`**Verdict:** approve`, `## Verdict: approve`, `> Final verdict: `changes-requested``).
/// `None` when the line gives none, or a value that is neither verdict.
fn verdict_of(line: &str) -> Option<Verdict> {
    // Emphasis and code marks, and heading, quote and list marks, are not part of the verdict;
    // `_` only where it emphasises (`_Verdict:_`, `__Verdict__:`), not inside a word.
    let bare: String = line.chars().filter(|c| !matches!(c, '*' | '`')).collect();
    let words: Vec<String> = bare
        .split_whitespace()
        .map(|word| {
            let word = word.trim_matches('_');
            match word.strip_suffix(':') {
                Some(head) => format!("{}:", head.trim_end_matches('_')),
                None => word.to_string(),
            }
        })
        .collect();
    let bare = words.join(" ");
    let bare = bare.trim_start_matches(['#', '>', ' ', '-', '+']).trim();
    let rest = strip_prefix_ignore_case(bare, "verdict:")
        .or_else(|| strip_prefix_ignore_case(bare, "final verdict:"))?;
    // The value alone, or with a note in parentheses: `approve (minor nits only)`. Anything more
    // (`approve | changes-requested`, `approve once the findings are fixed`) is no verdict.
    let mut value = rest.trim().to_string();
    if value.ends_with(')') {
        if let Some(open) = value.rfind('(') {
            value.truncate(open);
        }
    }
    let value = value
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_ascii_lowercase()
        .replace(['_', '-'], " ");
    match value.as_str() {
        "approve" | "approved" => Some(Verdict::Approve),
        "changes requested" | "request changes" => Some(Verdict::ChangesRequested),
        _ => None,
    }
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_are_read_into_findings_and_a_verdict() {
        let text = "Looks mostly fine.\n\n- [high] src/a.rs:12 — off by one in the loop — use `..=`\n- [Low] README.md — typo\n* [medium] `src/b.rs:3` - missing test - add one\nnot a finding\n\nVERDICT: changes-requested\n";
        let review = parse_review(text);
        assert_eq!(review.verdict, Verdict::ChangesRequested);
        assert_eq!(review.findings.len(), 3);
        assert_eq!(
            review.findings[0],
            Finding {
                severity: "high".into(),
                path: "src/a.rs".into(),
                line: Some(12),
                issue: "off by one in the loop".into(),
                fix: Some("use `..=`".into()),
            }
        );
        assert_eq!(review.findings[1].line, None);
        assert_eq!(review.findings[1].severity, "low");
        assert_eq!(review.findings[2].path, "src/b.rs");
        assert_eq!(
            parse_review("**VERDICT: approve**").verdict,
            Verdict::Approve
        );
        assert_eq!(parse_review("I like it.").verdict, Verdict::Unknown);
        for line in [
            "**Verdict:** approve",
            "## Verdict: approve",
            "> Final verdict: `approve`.",
            "VERDICT: __approved__",
            "- VERDICT: approve",
            "Verdict: approve (minor nits only)",
        ] {
            assert_eq!(parse_review(line).verdict, Verdict::Approve, "{line}");
        }
        for line in [
            "**Verdict:** changes requested",
            "VERDICT: changes_requested",
            "verdict: request-changes.",
        ] {
            assert_eq!(
                parse_review(line).verdict,
                Verdict::ChangesRequested,
                "{line}"
            );
        }
        assert_eq!(
            parse_review("VERDICT: not approved").verdict,
            Verdict::Unknown
        );
        // A verdict line with another value does not count.
        assert_eq!(
            parse_review("VERDICT: approve\nVerdict: maybe\n").verdict,
            Verdict::Approve
        );
    }
}
