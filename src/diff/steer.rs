//! How a change steers a budgeted pack (`pack --diff`): its patches first, redacted like file
//! text, then the files it touches after the change (ranked, in full as far as the budget goes),
//! then their one-hop neighbourhood as views; with a plan, the plan first and its files after the
//! touched ones.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::{blobs, Change, DiffError, Head, Patch};
use crate::fit::budget::{patch_label, DiffText, PatchText, Required, Steering, LOG_LABEL};
use crate::git::Git;
use crate::load::{self, Loaded};
use crate::rank;
use crate::render::Renderer;
use crate::secrets::{Finding, Kind, Policy, SecretsFound};
use crate::walk::Source;

/// A change's steering, and what else the pack needs from it.
pub struct Steered {
    pub steering: Steering,
    /// The changed lines, as a focus for the ranking: files that use what the change touches
    /// rank higher.
    pub focus: String,
    /// The text of touched files at the head commit, when the files after the change are there
    /// rather than in the working tree: path (relative to the root) → bytes.
    pub overlay: HashMap<String, Vec<u8>>,
}

/// Builds the steering for `change` in the tree of `source`, on top of a plan's steering when
/// there is one. With `--secrets fail`, a secret in the diff or the log fails the pack; with
/// `--secrets omit-file`, a patch holding one is left out.
pub fn steer(
    change: &Change,
    source: &Source,
    policy: Policy,
    renderer: &dyn Renderer,
    plan: Option<Steering>,
) -> Result<Steered, DiffError> {
    let root = &source.inputs.root;
    let git = Git::open(root)?;
    // Every blob the redaction and the overlay need, read at once.
    let ids: Vec<&str> = change
        .patches
        .iter()
        .filter(|p| !p.submodule)
        .flat_map(|p| [p.old_blob.as_deref(), p.new_blob.as_deref()])
        .flatten()
        .collect();
    let blobs = blobs(&git, &ids)?;
    let text_of = |id: Option<&String>| {
        id.and_then(|id| blobs.get(id))
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    };

    let mut findings: Vec<(String, Vec<Finding>)> = Vec::new();
    let mut withheld = Vec::new();
    let mut patches: Vec<PatchText> = Vec::new();
    for patch in &change.patches {
        let text = renderer.admit(&patch.text).into_owned();
        let path = policy.shown(&patch.path);
        let (text, found) = if patch.submodule || patch.binary {
            redact_patch(policy, patch, &text, None, None)
        } else {
            let old = text_of(patch.old_blob.as_ref());
            let new = match &change.head {
                Head::Commit(_) => text_of(patch.new_blob.as_ref()),
                Head::WorkTree => on_disk(root, &patch.path, source.max_file_size),
            };
            redact_patch(policy, patch, &text, old.as_deref(), new.as_deref())
        };
        let secret = found.iter().any(Finding::is_secret);
        findings.push((patch_label(&path), found));
        if secret && policy.omits(&findings.last().expect("just pushed").1) {
            withheld.push(path);
            continue;
        }
        let redactions = findings
            .last()
            .map_or(0, |(_, f)| f.iter().filter(|f| f.is_secret()).count());
        patches.push(PatchText {
            key: patch.path.clone(),
            from: patch.from.as_deref().map(|from| policy.shown(from)),
            status: patch.status.name(),
            binary: patch.binary,
            added: patch.added,
            removed: patch.removed,
            text,
            redactions,
            path,
        });
    }
    let log = change.log.as_ref().map(|log| {
        let log = renderer.admit(log);
        let redacted = policy.redact_text("", &log);
        findings.push((LOG_LABEL.to_string(), redacted.findings));
        redacted.text.into_owned()
    });
    let scan = policy.summarize(findings.iter().map(|(label, f)| (label.clone(), &f[..])));
    if policy.fails() && !scan.secrets.is_empty() {
        return Err(DiffError::Secrets(SecretsFound {
            secrets: scan.secrets,
        }));
    }

    let mut steering = plan.unwrap_or_default();
    // The change's files first (group 0), ranked; a plan's after them.
    for required in &mut steering.required {
        required.group = 1;
    }
    let touched: Vec<Required> = change
        .touched()
        .filter(|patch| !patch.submodule)
        .map(|patch| Required {
            path: patch.path.clone(),
            spans: Vec::new(),
            whole: true,
            direct: true,
            group: 0,
        })
        .collect();
    let planned: Vec<Required> = std::mem::take(&mut steering.required)
        .into_iter()
        .filter(|r| !touched.iter().any(|t| t.path == r.path))
        .collect();
    steering.required = touched.into_iter().chain(planned).collect();
    steering.rank_required = true;
    let (added, removed) = changed_lines(&change.patches);
    let changed = format!("{added}{removed}");
    steering.changed.extend(identifiers(&changed));
    steering.changed_defined_by_required = true;
    // Names whose definition the change removes: their users are neighbours, though nothing
    // defines them any more.
    steering.removed = rank::definitions_in(&removed)
        .into_iter()
        .filter(|name| !rank::definitions_in(&added).contains(name))
        .collect();
    steering.diff = Some(DiffText {
        base: policy.shown(&change.base),
        head: change.head.name(),
        patches,
        withheld,
    });
    steering.log = log;
    steering.scan = scan;

    // With a range, the files after the change are read at its right-hand commit.
    let overlay = match &change.head {
        Head::WorkTree => HashMap::new(),
        Head::Commit(_) => change
            .touched()
            .filter(|p| !p.submodule && !p.binary)
            .filter_map(|p| {
                let bytes = p.new_blob.as_ref().and_then(|id| blobs.get(id))?;
                Some((p.path.clone(), bytes.clone()))
            })
            .collect(),
    };
    Ok(Steered {
        steering,
        focus: changed,
        overlay,
    })
}

/// The text of `path` under `root`, when it is a text file within the size limit.
fn on_disk(root: &Path, path: &str, max_size: u64) -> Option<String> {
    match load::load(&root.join(path), max_size) {
        Loaded::Text(file) => Some(file.text),
        Loaded::Omitted(..) => None,
    }
}

/// The added and the removed lines of every patch, without their markers.
fn changed_lines(patches: &[Patch]) -> (String, String) {
    let (mut added, mut removed) = (String::new(), String::new());
    for patch in patches {
        let mut in_hunk = false;
        for line in patch.text.lines() {
            if line.starts_with("@@") {
                in_hunk = true;
            } else if in_hunk && line.starts_with('+') {
                added.push_str(&line[1..]);
                added.push('\n');
            } else if in_hunk && line.starts_with('-') {
                removed.push_str(&line[1..]);
                removed.push('\n');
            }
        }
    }
    (added, removed)
}

/// The identifiers in `text` (three characters or more).
fn identifiers(text: &str) -> HashSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.len() >= 3 && w.starts_with(|c: char| c.is_alphabetic() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// Where a line of a file holds secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OnLine {
    /// Part of a secret that spans lines: the whole line goes.
    Whole(&'static str),
    /// Secrets within the line: byte ranges of its text, in order.
    Within(Vec<(std::ops::Range<usize>, &'static str)>),
}

/// The lines (1-based) of `text` that hold a secret, and where in them.
fn secret_lines(policy: Policy, path: &str, text: Option<&str>) -> HashMap<usize, OnLine> {
    let mut lines: HashMap<usize, OnLine> = HashMap::new();
    let Some(text) = text else {
        return lines;
    };
    for finding in policy.redact_text(path, text).findings {
        if !finding.is_secret() {
            continue;
        }
        let (start, end) = (
            finding.range.start,
            finding.range.end.max(finding.range.start + 1),
        );
        let first = line_at(text, start);
        let last = line_at(text, end - 1);
        if first == last {
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let range = start - line_start..end - line_start;
            match lines.entry(first).or_insert(OnLine::Within(Vec::new())) {
                OnLine::Within(ranges) => ranges.push((range, finding.rule)),
                OnLine::Whole(_) => {}
            }
        } else {
            for line in first..=last {
                lines.insert(line, OnLine::Whole(finding.rule));
            }
        }
    }
    lines
}

/// `content` (a file line as the patch shows it, without its marker and line break) with what
/// `on` says replaced; `None` when the patch's line is not the file's (it cannot be trusted).
fn redact_line(content: &str, on: &OnLine) -> Option<String> {
    match on {
        OnLine::Whole(rule) => Some(format!("[REDACTED:{rule}]")),
        OnLine::Within(ranges) => {
            let mut out = String::new();
            let mut copied = 0;
            for (range, rule) in ranges {
                // Overlapping or out of the line's bounds: not the text the scan saw.
                content.get(range.clone())?;
                out.push_str(content.get(copied..range.start)?);
                out.push_str(&format!("[REDACTED:{rule}]"));
                copied = range.end;
            }
            out.push_str(content.get(copied..)?);
            Some(out)
        }
    }
}

/// The 1-based line holding byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    memchr::memchr_iter(b'\n', &text.as_bytes()[..offset.min(text.len())]).count() + 1
}

/// `@@ -a,b +c,d @@`: the first old and new line numbers.
fn hunk_start(line: &str) -> Option<(usize, usize)> {
    let mut parts = line.split_whitespace().skip(1);
    let number = |part: Option<&str>, sign: char| -> Option<usize> {
        part?.strip_prefix(sign)?.split(',').next()?.parse().ok()
    };
    Some((number(parts.next(), '-')?, number(parts.next(), '+')?))
}

/// A patch (its text `text`, already admitted to the format) with its secrets replaced, and what
/// was found, on the patch's own lines.
///
/// Two passes, each over what it can see:
///
/// 1. The whole file before and after the change (`old` and `new`, when there is text for them),
///    scanned with each side's path, so that a secret the hunks show only part of (the middle
///    lines of a private key) is still known: every patch line that shows a line of a secret is
///    replaced whole, marker kept, so the patch keeps its shape.
/// 2. The patch's lines without their `+`, `-` or space markers, for what the files could not
///    show (no text for a side, a hunk header): a secret within one line is replaced in place,
///    one spanning lines line by line.
///
/// A secret in a removed line counts like one in an added line.
pub fn redact_patch(
    policy: Policy,
    patch: &Patch,
    text: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> (String, Vec<Finding>) {
    if !policy.scans() {
        return (text.to_string(), Vec::new());
    }
    let old_lines = secret_lines(policy, patch.from.as_deref().unwrap_or(&patch.path), old);
    let new_lines = secret_lines(policy, &patch.path, new);
    let mut findings = Vec::new();
    let mut out = String::with_capacity(text.len());
    let (mut old_no, mut new_no, mut in_hunk) = (0usize, 0usize, false);
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with("@@") {
            if let Some((old_start, new_start)) = hunk_start(line) {
                (old_no, new_no, in_hunk) = (old_start, new_start, true);
            }
            out.push_str(line);
            continue;
        }
        let marker = line
            .chars()
            .next()
            .filter(|c| in_hunk && " +-".contains(*c));
        let Some(marker) = marker else {
            out.push_str(line);
            continue;
        };
        let (on_old, on_new) = match marker {
            ' ' => (Some(old_no), Some(new_no)),
            '-' => (Some(old_no), None),
            _ => (None, Some(new_no)),
        };
        if on_old.is_some() {
            old_no += 1;
        }
        if on_new.is_some() {
            new_no += 1;
        }
        let on = on_old
            .and_then(|n| old_lines.get(&n))
            .or_else(|| on_new.and_then(|n| new_lines.get(&n)));
        let Some(on) = on else {
            out.push_str(line);
            continue;
        };
        let content = line[1..].strip_suffix('\n').unwrap_or(&line[1..]);
        let rule = match on {
            OnLine::Whole(rule) => *rule,
            OnLine::Within(ranges) => ranges[0].1,
        };
        out.push(marker);
        // A line that is not the file's as the scan saw it (it should always be) goes whole.
        out.push_str(&redact_line(content, on).unwrap_or_else(|| format!("[REDACTED:{rule}]")));
        if line.ends_with('\n') {
            out.push('\n');
        }
        let at = out.len();
        findings.push(Finding {
            rule,
            line: index + 1,
            kind: Kind::Secret,
            range: at..at,
        });
    }
    let (out, more) = redact_lines(policy, &patch.path, &out);
    findings.extend(more);
    findings.sort_by_key(|f| f.line);
    (out, findings)
}

/// The second pass of [`redact_patch`]: the patch's lines scanned without their markers.
fn redact_lines(policy: Policy, path: &str, text: &str) -> (String, Vec<Finding>) {
    // Per line: where it starts in the patch, where in the stripped text, and its marker's size.
    let mut lines: Vec<(usize, usize, usize)> = Vec::new();
    let mut stripped = String::with_capacity(text.len());
    let mut in_hunk = false;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("@@") {
            in_hunk = true;
        }
        let marker = usize::from(in_hunk && line.starts_with([' ', '+', '-']));
        lines.push((at, stripped.len(), marker));
        stripped.push_str(&line[marker..]);
        at += line.len();
    }
    let findings = policy.redact_text(path, &stripped).findings;
    let line_of = |offset: usize| lines.partition_point(|&(_, start, _)| start <= offset) - 1;
    // A position in the stripped text, in the patch: past the marker of its line.
    let to_patch = |offset: usize| {
        let (patch_start, stripped_start, marker) = lines[line_of(offset)];
        patch_start + marker + (offset - stripped_start)
    };
    let line_end = |line: usize| {
        let (start, _, _) = lines[line];
        let next = lines.get(line + 1).map_or(text.len(), |l| l.0);
        // Before the line's break.
        if text[start..next].ends_with('\n') {
            next - 1
        } else {
            next
        }
    };
    // The spans to replace, in order: a secret within one line in place; one that spans lines,
    // each of its lines' text whole.
    let mut spans: Vec<(usize, usize, &'static str)> = Vec::new();
    for finding in findings.iter().filter(|f| f.is_secret()) {
        let first = line_of(finding.range.start);
        let last = line_of(finding.range.end.saturating_sub(1).max(finding.range.start));
        if first == last {
            let start = to_patch(finding.range.start);
            let end = to_patch(finding.range.end.saturating_sub(1).max(finding.range.start)) + 1;
            spans.push((start, end.min(line_end(first)).max(start), finding.rule));
        } else {
            for (line, &(start, _, marker)) in lines.iter().enumerate().take(last + 1).skip(first) {
                spans.push((start + marker, line_end(line), finding.rule));
            }
        }
    }
    spans.sort();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end, rule) in spans {
        if start < copied {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str("[REDACTED:");
        out.push_str(rule);
        out.push(']');
        copied = end;
    }
    out.push_str(&text[copied..]);
    let findings = findings
        .into_iter()
        .map(|mut f| {
            f.line = line_of(f.range.start) + 1;
            f
        })
        .collect();
    (out, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::PatchStatus;
    use crate::secrets::Mode;

    fn patch(path: &str, text: &str) -> Patch {
        Patch {
            path: path.to_string(),
            from: None,
            status: PatchStatus::Modified,
            binary: false,
            added: 1,
            removed: 1,
            text: text.to_string(),
            old_blob: None,
            new_blob: None,
            submodule: false,
        }
    }

    fn redact(p: &Patch, old: Option<&str>, new: Option<&str>) -> (String, Vec<Finding>) {
        redact_patch(Policy::new(Mode::Redact), p, &p.text, old, new)
    }

    #[test]
    fn secrets_in_added_and_removed_lines_are_replaced_in_place() {
        let token = "ghp_Qm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4u";
        let text = format!(
            "diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n@@ -1,2 +1,2 @@\n-OLD_KEY=s3cr3tValue99x\n+GITHUB_TOKEN={token}\n KEEP=1\n"
        );
        let (out, found) = redact(&patch(".env", &text), None, None);
        assert!(
            !out.contains(token) && !out.contains("s3cr3tValue99x"),
            "{out}"
        );
        assert!(
            out.contains("\n+GITHUB_TOKEN=[REDACTED:github-token]\n"),
            "{out}"
        );
        assert!(out.contains("\n-OLD_KEY=[REDACTED:env-file]\n"), "{out}");
        assert!(out.starts_with("diff --git a/.env b/.env\n--- a/.env\n"));
        let lines: Vec<usize> = found
            .iter()
            .filter(|f| f.is_secret())
            .map(|f| f.line)
            .collect();
        assert_eq!(lines, [5, 6, 7]);
        // Nothing to replace, or scanning off: the patch as git printed it.
        let plain = "diff --git a/a b/a\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(redact(&patch("a", plain), None, None).0, plain);
        let off = patch(".env", &text);
        assert_eq!(
            redact_patch(Policy::new(Mode::Off), &off, &text, None, None).0,
            text
        );
    }

    /// A hunk that shows only the middle of a private key: the file's scan knows the key.
    #[test]
    fn a_secret_the_hunk_shows_only_part_of_is_replaced_line_by_line() {
        let body: Vec<String> = (0..8)
            .map(|i| {
                format!("MIIEowIBAAKCAQEA{i}xQm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4uQm7xT2pL9vR4k")
            })
            .collect();
        let file = |middle: &str| {
            format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n{middle}\n{}\n-----END RSA PRIVATE KEY-----\n",
                body[..4].join("\n"),
                body[4..].join("\n")
            )
        };
        let old = file("MIIEoldLineOfTheKeyQm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4uQm7xT2pL9vR4kWx");
        let new = file("MIIEnewLineOfTheKeyQm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4uQm7xT2pL9vR4kWx");
        let text = format!(
            "diff --git a/key.pem b/key.pem\n--- a/key.pem\n+++ b/key.pem\n@@ -4,5 +4,5 @@\n {}\n {}\n-MIIEoldLineOfTheKeyQm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4uQm7xT2pL9vR4kWx\n+MIIEnewLineOfTheKeyQm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4uQm7xT2pL9vR4kWx\n {}\n",
            body[2], body[3], body[4]
        );
        let (out, found) = redact(&patch("key.pem", &text), Some(&old), Some(&new));
        for line in &body {
            assert!(!out.contains(line.as_str()), "{out}");
        }
        assert!(!out.contains("LineOfTheKey"), "{out}");
        // The patch keeps its shape: one line per line, each with its marker.
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(
            out.contains("\n-[REDACTED:private-key]\n+[REDACTED:private-key]\n"),
            "{out}"
        );
        assert!(found.iter().filter(|f| f.is_secret()).count() >= 5);
    }

    #[test]
    fn changed_lines_and_their_identifiers() {
        let text = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-fn old_name() {}\n+fn new_name(x: Retry) {}\n ctx\n";
        let (added, removed) = changed_lines(&[patch("a", text)]);
        assert_eq!(added, "fn new_name(x: Retry) {}\n");
        assert_eq!(removed, "fn old_name() {}\n");
        let names = identifiers(&format!("{added}{removed}"));
        for name in ["old_name", "new_name", "Retry"] {
            assert!(names.contains(name), "{names:?}");
        }
        assert!(!names.contains("fn") && !names.contains("x"));
        assert_eq!(hunk_start("@@ -12,3 +14,5 @@ fn x()"), Some((12, 14)));
        assert_eq!(hunk_start("@@ -1 +1 @@"), Some((1, 1)));
    }
}
