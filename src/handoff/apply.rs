//! Applying a text-only executor's answer: the unified diffs in its fenced blocks, checked with
//! `git apply --check` and then applied, all or nothing.

use std::path::Path;

use crate::git::{Git, GitError};

/// Why an answer's diffs were not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the answer holds no unified diff (expected ```diff blocks with --- a/PATH and +++ \
         b/PATH headers)"
    )]
    NoDiff,
    #[error("the diffs do not apply, so nothing was changed:\n{0}")]
    DoesNotApply(String),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// The unified diffs in an answer: every fenced block that holds one (a ```diff or ```patch
/// block, or any block with `---`/`+++` headers and a hunk), in order, joined.
pub fn diffs_in(answer: &str) -> Option<String> {
    let mut found = String::new();
    let mut block: Option<(String, String)> = None; // (fence, text)
    for line in answer.split_inclusive('\n') {
        let trimmed = line.trim_start();
        match &mut block {
            None => {
                if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                    let fence: String = trimmed
                        .chars()
                        .take_while(|c| *c == '`' || *c == '~')
                        .collect();
                    block = Some((fence, String::new()));
                }
            }
            Some((fence, text)) => {
                if trimmed.trim_end() == fence.as_str() {
                    if looks_like_diff(text) {
                        if !text.ends_with('\n') {
                            text.push('\n');
                        }
                        found.push_str(text);
                    }
                    block = None;
                } else {
                    text.push_str(line);
                }
            }
        }
    }
    (!found.is_empty()).then_some(found)
}

fn looks_like_diff(text: &str) -> bool {
    let has = |prefix: &str| text.lines().any(|l| l.starts_with(prefix));
    has("--- ") && has("+++ ") && has("@@")
}

/// Applies `patch` in the work tree of `dir`, or changes nothing: `git apply --check` first, then
/// `git apply` with the same options. Tried with the usual `a/` and `b/` prefixes, then without;
/// each as written, then with the hunks' line counts recounted (models miscount them).
pub fn apply(dir: &Path, patch: &str) -> Result<(), ApplyError> {
    let git = Git::open(dir)?;
    let mut last = String::new();
    for options in [
        ["-p1", "--verbose"],
        ["-p0", "--verbose"],
        ["-p1", "--recount"],
        ["-p0", "--recount"],
    ] {
        let check: Vec<&str> = ["apply", "--check"]
            .iter()
            .chain(&options)
            .copied()
            .collect();
        match git.run_with_input(&check, patch.as_bytes()) {
            Ok(_) => {
                let apply: Vec<&str> = ["apply"].iter().chain(&options).copied().collect();
                git.run_with_input(&apply, patch.as_bytes())?;
                return Ok(());
            }
            Err(GitError::Failed { message, .. }) => {
                if last.is_empty() {
                    last = message;
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApplyError::DoesNotApply(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_are_read_from_fenced_blocks_between_prose() {
        let answer = "I changed two files.\n\n```diff\n--- a/a.rs\n+++ b/a.rs\n@@ -1 +1 @@\n-old\n+new\n```\n\nAnd:\n\n````patch\n--- /dev/null\n+++ b/b.rs\n@@ -0,0 +1 @@\n+fn b() {}\n````\n\n```rust\nfn not_a_diff() {}\n```\n";
        let diffs = diffs_in(answer).unwrap();
        assert_eq!(
            diffs,
            "--- a/a.rs\n+++ b/a.rs\n@@ -1 +1 @@\n-old\n+new\n--- /dev/null\n+++ b/b.rs\n@@ -0,0 +1 @@\n+fn b() {}\n"
        );
        assert_eq!(diffs_in("No changes needed.\n"), None);
    }
}
