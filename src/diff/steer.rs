//! How a change steers a budgeted pack (`pack --diff`): its patches first, redacted like file
//! text, then the files it touches after the change (ranked, in full as far as the budget goes),
//! then their one-hop neighbourhood as views; with a plan, the plan first and its files after the
//! touched ones.

use std::collections::{HashMap, HashSet};

use super::{Change, DiffError, Head, Patch};
use crate::fit::budget::{patch_label, DiffText, PatchText, Required, Steering, LOG_LABEL};
use crate::git::Git;
use crate::secrets::{Finding, Policy, SecretsFound};
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
/// there is one. With `--secrets fail`, a secret in the diff or the log fails the pack.
pub fn steer(
    change: &Change,
    source: &Source,
    policy: Policy,
    plan: Option<Steering>,
) -> Result<Steered, DiffError> {
    let mut findings: Vec<(String, Vec<Finding>)> = Vec::new();
    let patches: Vec<PatchText> = change
        .patches
        .iter()
        .map(|patch| {
            let (text, found) = redact_patch(policy, patch);
            let redactions = found.iter().filter(|f| f.is_secret()).count();
            let path = policy.shown(&patch.path);
            findings.push((patch_label(&path), found));
            PatchText {
                key: patch.path.clone(),
                from: patch.from.as_deref().map(|from| policy.shown(from)),
                status: patch.status.name(),
                binary: patch.binary,
                added: patch.added,
                removed: patch.removed,
                text,
                redactions,
                path,
            }
        })
        .collect();
    let log = change.log.as_ref().map(|log| {
        let redacted = policy.redact_text("", log);
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
    let changed_lines = changed_lines(&change.patches);
    steering.changed.extend(identifiers(&changed_lines));
    steering.changed_defined_by_required = true;
    steering.diff = Some(DiffText {
        base: policy.shown(&change.base),
        head: change.head.name(),
        patches,
    });
    steering.log = log;
    steering.scan = scan;

    let overlay = match &change.head {
        Head::WorkTree => HashMap::new(),
        Head::Commit(revision) => at_revision(change, source, revision)?,
    };
    Ok(Steered {
        steering,
        focus: changed_lines,
        overlay,
    })
}

/// The touched files' bytes at `revision`, for a change whose files after it are in a commit.
fn at_revision(
    change: &Change,
    source: &Source,
    revision: &str,
) -> Result<HashMap<String, Vec<u8>>, DiffError> {
    let git = Git::open(&source.inputs.root)?;
    let mut overlay = HashMap::new();
    for patch in change.touched().filter(|p| !p.binary) {
        // `./` makes the path relative to the directory git runs in: the root.
        let bytes = git.show(revision, &format!("./{}", patch.path))?;
        overlay.insert(patch.path.clone(), bytes);
    }
    Ok(overlay)
}

/// The added and removed lines of every patch, without their markers.
fn changed_lines(patches: &[Patch]) -> String {
    let mut lines = String::new();
    for patch in patches {
        for line in patch.text.lines() {
            let changed = (line.starts_with('+') && !line.starts_with("+++"))
                || (line.starts_with('-') && !line.starts_with("---"));
            if changed {
                lines.push_str(&line[1..]);
                lines.push('\n');
            }
        }
    }
    lines
}

/// The identifiers in `text` (three characters or more).
fn identifiers(text: &str) -> HashSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.len() >= 3 && w.starts_with(|c: char| c.is_alphabetic() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// A patch with its secrets replaced, and what was found (lines counted within the patch).
///
/// The scanner reads the patch's lines without their `+`, `-` or space markers, so that a file's
/// rules apply to its lines as they are in the file (every value of a `.env` file, a key at the
/// start of a line); a secret in a removed line counts like one in an added line. Each secret is
/// then replaced in the patch as git printed it.
pub fn redact_patch(policy: Policy, patch: &Patch) -> (String, Vec<Finding>) {
    if !policy.scans() {
        return (patch.text.clone(), Vec::new());
    }
    let text = patch.text.as_str();
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
    let redacted = policy.redact_text(&patch.path, &stripped);
    let findings = redacted.findings;
    // A position in the stripped text, in the patch: past the marker of its line.
    let to_patch = |offset: usize| {
        let line = lines.partition_point(|&(_, start, _)| start <= offset) - 1;
        let (patch_start, stripped_start, marker) = lines[line];
        patch_start + marker + (offset - stripped_start)
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for finding in findings.iter().filter(|f| f.is_secret()) {
        let (start, end) = (to_patch(finding.range.start), to_patch(finding.range.end));
        if start < copied {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str("[REDACTED:");
        out.push_str(finding.rule);
        out.push(']');
        copied = end;
    }
    out.push_str(&text[copied..]);
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
        }
    }

    #[test]
    fn secrets_in_added_and_removed_lines_are_replaced_in_place() {
        let token = "ghp_Qm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4u";
        let text = format!(
            "diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n@@ -1,2 +1,2 @@\n-OLD_KEY=s3cr3tValue99x\n+GITHUB_TOKEN={token}\n KEEP=1\n"
        );
        let (out, found) = redact_patch(Policy::new(Mode::Redact), &patch(".env", &text));
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
        assert_eq!(
            redact_patch(Policy::new(Mode::Redact), &patch("a", plain)).0,
            plain
        );
        assert_eq!(
            redact_patch(Policy::new(Mode::Off), &patch(".env", &text)).0,
            text
        );
    }

    #[test]
    fn changed_lines_and_their_identifiers() {
        let text = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-fn old_name() {}\n+fn new_name(x: Retry) {}\n ctx\n";
        let lines = changed_lines(&[patch("a", text)]);
        assert_eq!(lines, "fn old_name() {}\nfn new_name(x: Retry) {}\n");
        let names = identifiers(&lines);
        for name in ["old_name", "new_name", "Retry"] {
            assert!(names.contains(name), "{names:?}");
        }
        assert!(!names.contains("fn") && !names.contains("x"));
    }
}
