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
///
/// Inside a hunk, the lines its `@@` header counts belong to the hunk even when they look like a
/// closing fence: a context line ` ``` ` (a fence in a Markdown file the diff changes) does not
/// end the block.
pub fn diffs_in(answer: &str) -> Option<String> {
    let mut found = String::new();
    let mut block: Option<Block> = None;
    for line in answer.split_inclusive('\n') {
        let trimmed = line.trim_start();
        match &mut block {
            None => {
                if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                    let fence: String = trimmed
                        .chars()
                        .take_while(|c| *c == '`' || *c == '~')
                        .collect();
                    block = Some(Block {
                        fence,
                        text: String::new(),
                        old_left: 0,
                        new_left: 0,
                    });
                }
            }
            Some(open) => {
                let in_hunk = open.old_left > 0 || open.new_left > 0;
                let closes = trimmed.trim_end() == open.fence.as_str()
                    && !(in_hunk && line.starts_with(' '));
                if closes {
                    if looks_like_diff(&open.text) {
                        if !open.text.ends_with('\n') {
                            open.text.push('\n');
                        }
                        found.push_str(&open.text);
                    }
                    block = None;
                } else {
                    open.count(line);
                    open.text.push_str(line);
                }
            }
        }
    }
    (!found.is_empty()).then_some(found)
}

/// A fenced block being read: its fence, its text, and the lines the current hunk's header
/// says are still to come on each side.
struct Block {
    fence: String,
    text: String,
    old_left: usize,
    new_left: usize,
}

impl Block {
    fn count(&mut self, line: &str) {
        if let Some((old, new)) = hunk_header(line) {
            (self.old_left, self.new_left) = (old, new);
            return;
        }
        if self.old_left == 0 && self.new_left == 0 {
            return;
        }
        match line.as_bytes().first() {
            Some(b'+') => self.new_left = self.new_left.saturating_sub(1),
            Some(b'-') => self.old_left = self.old_left.saturating_sub(1),
            Some(b'\\') => {}
            // A context line (models often drop the space of an empty one).
            _ => {
                self.old_left = self.old_left.saturating_sub(1);
                self.new_left = self.new_left.saturating_sub(1);
            }
        }
    }
}

/// The line counts of a hunk header `@@ -a,b +c,d @@` (a count left out is 1).
fn hunk_header(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let count = |range: &str| match range.split_once(',') {
        Some((_, n)) => n.trim().parse().ok(),
        None => range.trim().parse::<usize>().ok().map(|_| 1),
    };
    Some((count(old)?, count(new)?))
}

fn looks_like_diff(text: &str) -> bool {
    let has = |prefix: &str| text.lines().any(|l| l.starts_with(prefix));
    has("--- ") && has("+++ ") && has("@@")
}

/// Whether the file headers carry git's `a/` and `b/` prefixes (so `-p1` strips them), or none
/// do (`-p0`). `None` when they are mixed: no one strip level reads every path right.
fn strip_level(patch: &str) -> Option<&'static str> {
    let mut prefixed = 0;
    let mut bare = 0;
    // A file header is a `--- ` line followed by a `+++ ` line; a removed `-- comment` inside
    // a hunk is followed by anything else (hunk counts are not trusted: models miscount them).
    let lines: Vec<&str> = patch.lines().collect();
    for pair in lines.windows(2) {
        let (Some(old), Some(new)) = (pair[0].strip_prefix("--- "), pair[1].strip_prefix("+++ "))
        else {
            continue;
        };
        for (path, prefix) in [(old, "a/"), (new, "b/")] {
            let path = path.split('\t').next().unwrap_or(path).trim_end();
            if path == "/dev/null" {
                continue;
            }
            if path.starts_with(prefix) {
                prefixed += 1;
            } else {
                bare += 1;
            }
        }
    }
    match (prefixed, bare) {
        (_, 0) => Some("-p1"),
        (0, _) => Some("-p0"),
        _ => None,
    }
}

/// What an applied patch changed: per file, lines added and removed (`git apply --numstat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub files: Vec<(String, usize, usize)>,
}

impl Applied {
    /// `src/a.rs +3 -1, src/b.rs +10 -0`.
    pub fn describe(&self) -> String {
        self.files
            .iter()
            .map(|(path, added, removed)| format!("{path} +{added} -{removed}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Applies `patch` in the work tree of `dir`, or changes nothing: `git apply --check` first, then
/// `git apply` with the same options. The strip level follows the file headers (`a/` and `b/`
/// prefixes, or none); the patch is tried as written, then with its hunks' line counts
/// recounted (models miscount them).
pub fn apply(dir: &Path, patch: &str) -> Result<Applied, ApplyError> {
    let git = Git::open(dir)?;
    let strip = strip_level(patch).ok_or_else(|| {
        ApplyError::DoesNotApply(
            "some file headers have git's a/ and b/ prefixes and some do not; the paths cannot \
             all be read the same way"
                .to_string(),
        )
    })?;
    let mut last = String::new();
    for recount in ["--verbose", "--recount"] {
        let options = [strip, recount];
        let check: Vec<&str> = ["apply", "--check"]
            .iter()
            .chain(&options)
            .copied()
            .collect();
        match git.run_with_input(&check, patch.as_bytes()) {
            Ok(_) => {
                let numstat: Vec<&str> = ["apply", "--numstat"]
                    .iter()
                    .chain(&options)
                    .copied()
                    .collect();
                let stat = git.run_with_input(&numstat, patch.as_bytes())?;
                let apply: Vec<&str> = ["apply"].iter().chain(&options).copied().collect();
                git.run_with_input(&apply, patch.as_bytes())?;
                return Ok(Applied {
                    files: parse_numstat(&stat),
                });
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

/// `ADDED\tREMOVED\tPATH` lines (`-` for a binary file's counts).
fn parse_numstat(out: &[u8]) -> Vec<(String, usize, usize)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let added = parts.next()?.parse().unwrap_or(0);
            let removed = parts.next()?.parse().unwrap_or(0);
            Some((parts.next()?.to_string(), added, removed))
        })
        .collect()
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

    #[test]
    fn a_fence_inside_a_hunk_does_not_end_the_block() {
        // A Markdown file whose context holds a fence, indented by the diff's context space.
        let diff = "--- a/README.md\n+++ b/README.md\n@@ -1,4 +1,5 @@\n # demo\n+new line\n ```\n code\n ```\n@@ -9 +10 @@\n-end\n+the end\n";
        let answer = format!("Here:\n\n```diff\n{diff}```\n\nDone.\n");
        assert_eq!(diffs_in(&answer).as_deref(), Some(diff));
        // A fence after the hunk's counted lines closes the block as usual.
        let answer = "```diff\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n```\nprose ``` here\n";
        assert_eq!(
            diffs_in(answer).as_deref(),
            Some("--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n")
        );
        assert_eq!(hunk_header("@@ -0,0 +1,3 @@ fn x"), Some((0, 3)));
        assert_eq!(hunk_header("@@ -7 +7 @@"), Some((1, 1)));
    }

    #[test]
    fn the_strip_level_follows_the_headers() {
        assert_eq!(
            strip_level("--- a/x\n+++ b/x\n--- /dev/null\n+++ b/y\n"),
            Some("-p1")
        );
        assert_eq!(strip_level("--- x\n+++ x\n"), Some("-p0"));
        assert_eq!(strip_level("--- a/x\n+++ x\n"), None);
        // A removed SQL comment inside a hunk is not a header.
        assert_eq!(
            strip_level(
                "--- a/s.sql\n+++ b/s.sql\n@@ -1,2 +1,2 @@\n--- users table\n+-- people\n keep\n"
            ),
            Some("-p1")
        );
        // Even when the hunk's counts are wrong.
        assert_eq!(
            strip_level("--- a/s.sql\n+++ b/s.sql\n@@ -2 +2 @@\n x\n--- end\n+-- the end\n"),
            Some("-p1")
        );
    }
}
