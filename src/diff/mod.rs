//! Review context (`pack --diff`): the change `git diff BASE` shows, read from git file by file,
//! and how it steers a budgeted pack: the diff first, then the touched files after the change,
//! then their neighbours. git computes the diff; nothing here diffs text.

pub mod steer;

use std::path::Path;

use crate::git::{Git, GitError};

/// What the user asked to review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffRequest {
    /// A revision (`main`, `HEAD~3`), or a range (`main...`, `a..b`) as `git diff` reads it;
    /// `None`: uncommitted work (staged and unstaged) against `HEAD`.
    pub base: Option<String>,
    /// With `--git-log N`: the last N commit messages of the range.
    pub log: Option<usize>,
    /// With `--untracked`: files git does not track yet (and does not ignore) are part of the
    /// change, as new files.
    pub untracked: bool,
    /// Only these files (relative to the root) are part of the change: the files a task's
    /// executor changed, and not the user's own work beside them. `None`: every file.
    pub only: Option<Vec<String>>,
}

/// Why the change could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    // Not a `source`: the message says it all, once.
    #[error("--diff: {0}")]
    Git(GitError),
    #[error("--diff: could not make sense of git's output ({0}); please report this")]
    Unreadable(String),
    /// With `--secrets fail`, the diff or the log holds a secret.
    #[error(transparent)]
    Secrets(crate::secrets::SecretsFound),
}

impl From<GitError> for DiffError {
    fn from(error: GitError) -> DiffError {
        DiffError::Git(error)
    }
}

impl DiffError {
    /// Whether the user asked for something impossible (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, DiffError::Git(error) if error.is_usage())
    }
}

/// Which side of the comparison holds the files after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// The working tree (with the index): `git diff BASE`.
    WorkTree,
    /// A commit: the right side of `A..B` or `A...B` (`HEAD` when it is left out).
    Commit(String),
}

impl Head {
    /// How the document names it.
    pub fn name(&self) -> String {
        match self {
            Head::WorkTree => "the working tree".to_string(),
            Head::Commit(revision) => revision.clone(),
        }
    }
}

/// What git says happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchStatus {
    Added,
    Deleted,
    Modified,
    Renamed,
    Copied,
    /// A file became a link, or the other way round.
    TypeChanged,
    /// Only its mode changed (made executable, say).
    ModeChanged,
}

impl PatchStatus {
    pub fn name(self) -> &'static str {
        match self {
            PatchStatus::Added => "added",
            PatchStatus::Deleted => "deleted",
            PatchStatus::Modified => "modified",
            PatchStatus::Renamed => "renamed",
            PatchStatus::Copied => "copied",
            PatchStatus::TypeChanged => "type-changed",
            PatchStatus::ModeChanged => "mode-changed",
        }
    }
}

/// One file's part of the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The file's path after the change (before it, for a deleted file), relative to the root.
    pub path: String,
    /// Where a renamed or copied file came from.
    pub from: Option<String>,
    pub status: PatchStatus,
    pub binary: bool,
    /// Lines added and removed (0 for binary files).
    pub added: usize,
    pub removed: usize,
    /// Its text in `git diff`'s output, from its `diff --git` line to the next one.
    pub text: String,
    /// The file's blob before the change, and after it when the change ends at a commit (a
    /// change ending in the working tree has its files on disk); `None` where there is none.
    pub old_blob: Option<String>,
    pub new_blob: Option<String>,
    /// A submodule: its patch is a commit id, and it has no text to pack.
    pub submodule: bool,
}

/// A change, as git shows it.
#[derive(Debug, Clone)]
pub struct Change {
    /// The base as given (`HEAD` when none was).
    pub base: String,
    pub head: Head,
    /// File by file, in git's order.
    pub patches: Vec<Patch>,
    /// With `--git-log N`: the commit messages of the range, newest first.
    pub log: Option<String>,
}

impl Change {
    /// Paths (relative to the root) whose text after the change the pack should hold: every
    /// patched file but the deleted ones.
    pub fn touched(&self) -> impl Iterator<Item = &Patch> {
        self.patches
            .iter()
            .filter(|p| p.status != PatchStatus::Deleted)
    }
}

/// Reads the change `request` names in the repository `root` lies in. Paths are relative to
/// `root`; changes outside it are not part of it.
pub fn read(root: &Path, request: &DiffRequest) -> Result<Change, DiffError> {
    let git = Git::open(root)?;
    let base = request.base.clone().unwrap_or_else(|| "HEAD".to_string());
    let head = check_revisions(&git, &base)?;
    // `--relative`: paths relative to the root, and nothing outside it. The rest keeps a user's
    // settings (colour, submodule logs, prefixes) from changing what a program reads.
    // `:(literal)`: a path is a path, not a glob.
    let pathspec: Vec<String> = match &request.only {
        Some(paths) => paths.iter().map(|p| format!(":(literal){p}")).collect(),
        None => Vec::new(),
    };
    let diff_args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "diff",
            "--no-ext-diff",
            "--no-color",
            "--submodule=short",
            "--src-prefix=a/",
            "--dst-prefix=b/",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--relative".to_string(), base.clone(), "--".to_string()]);
        args.extend(pathspec.iter().cloned());
        args
    };
    if request.only.as_ref().is_some_and(|paths| paths.is_empty()) {
        // No file is part of the change (an empty pathspec would mean every file).
        return Ok(Change {
            base,
            head,
            patches: Vec::new(),
            log: None,
        });
    }
    let raw = git.run(diff_args(&["-z", "--raw", "--no-abbrev"]))?;
    let numstat = git.run(diff_args(&["-z", "--numstat"]))?;
    let patch = git.run(diff_args(&[]))?;
    let entries = parse_raw(&raw)?;
    let counts = parse_numstat(&numstat, entries.len())?;
    let texts = split_patch(&String::from_utf8_lossy(&patch));
    if texts.len() != entries.len() {
        return Err(DiffError::Unreadable(format!(
            "{} files in the patch, {} in the file list",
            texts.len(),
            entries.len()
        )));
    }
    let patches = entries
        .into_iter()
        .zip(counts)
        .zip(texts)
        .map(|((entry, count), text)| Patch {
            // A modified file whose mode changed is only mode-changed if its text did not.
            status: match (entry.status, count) {
                (PatchStatus::Modified, Some((0, 0))) if entry.mode_changed => {
                    PatchStatus::ModeChanged
                }
                (status, _) => status,
            },
            path: entry.path,
            from: entry.from,
            binary: count.is_none(),
            added: count.map_or(0, |c| c.0),
            removed: count.map_or(0, |c| c.1),
            text,
            old_blob: entry.old_blob,
            new_blob: entry.new_blob,
            submodule: entry.submodule,
        })
        .collect();
    let mut patches: Vec<Patch> = patches;
    if request.untracked {
        patches.extend(untracked(&git, request.only.as_deref())?);
        patches.sort_by(|a, b| a.path.cmp(&b.path));
    }
    let log = match request.log {
        Some(n) if n > 0 => Some(read_log(&git, &base, &head, n)?).filter(|l| !l.is_empty()),
        _ => None,
    };
    Ok(Change {
        base,
        head,
        patches,
        log,
    })
}

/// The files git does not track and does not ignore, each as the patch of a new file.
fn untracked(git: &Git, only: Option<&[String]>) -> Result<Vec<Patch>, GitError> {
    let listed = git.run(["ls-files", "--others", "--exclude-standard", "-z"])?;
    let mut patches = Vec::new();
    for path in listed.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        if only.is_some_and(|wanted| !wanted.contains(&path)) {
            continue;
        }
        let text = git.run_answering_one([
            "diff",
            "--no-index",
            "--no-color",
            "--no-ext-diff",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            "--",
            "/dev/null",
            &path,
        ])?;
        let text = String::from_utf8_lossy(&text).into_owned();
        let binary = text.lines().any(|l| l.starts_with("Binary files "));
        let added = text
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++ "))
            .count();
        patches.push(Patch {
            path,
            from: None,
            status: PatchStatus::Added,
            binary,
            added,
            removed: 0,
            text,
            old_blob: None,
            new_blob: None,
            submodule: false,
        });
    }
    Ok(patches)
}

/// Checks every revision in `base` (one, or both ends of a range) and says which side holds the
/// files after the change.
fn check_revisions(git: &Git, base: &str) -> Result<Head, GitError> {
    if git.verify_commit("HEAD").is_err() {
        return Err(GitError::UnknownRevision {
            revision: base.to_string(),
            message: "the repository has no commits yet: commit something to review a change \
                      against it"
                .into(),
        });
    }
    let (left, right) = match base.split_once("...").or_else(|| base.split_once("..")) {
        Some((left, right)) => (left, Some(right)),
        None => (base, None),
    };
    for side in [Some(left), right].into_iter().flatten() {
        if !side.is_empty() {
            git.verify_commit(side)?;
        }
    }
    if left.is_empty() && right.is_none_or(str::is_empty) {
        return Err(GitError::UnknownRevision {
            revision: base.to_string(),
            message: "a range needs a revision on at least one side".into(),
        });
    }
    Ok(match right {
        None => Head::WorkTree,
        Some("") => Head::Commit("HEAD".to_string()),
        Some(right) => Head::Commit(right.to_string()),
    })
}

/// One file of `git diff --raw -z`.
struct RawEntry {
    path: String,
    from: Option<String>,
    status: PatchStatus,
    mode_changed: bool,
    old_blob: Option<String>,
    new_blob: Option<String>,
    submodule: bool,
}

/// `:old-mode new-mode old-sha new-sha STATUS\0path\0` (two paths for renames and copies).
fn parse_raw(raw: &[u8]) -> Result<Vec<RawEntry>, DiffError> {
    let mut fields = raw.split(|&b| b == 0).map(|f| String::from_utf8_lossy(f));
    let mut entries = Vec::new();
    while let Some(head) = fields.next() {
        if head.is_empty() {
            continue;
        }
        let parts: Vec<&str> = head.trim_start_matches(':').split(' ').collect();
        let [old_mode, new_mode, old_id, new_id, status] = parts[..] else {
            return Err(DiffError::Unreadable(format!("raw line {head:?}")));
        };
        let mut path = || {
            fields
                .next()
                .map(|p| p.into_owned())
                .ok_or_else(|| DiffError::Unreadable("a raw entry without its path".into()))
        };
        let (status, from, path) = match status.chars().next() {
            Some('A') => (PatchStatus::Added, None, path()?),
            Some('D') => (PatchStatus::Deleted, None, path()?),
            Some('R') => {
                let from = path()?;
                (PatchStatus::Renamed, Some(from), path()?)
            }
            Some('C') => {
                let from = path()?;
                (PatchStatus::Copied, Some(from), path()?)
            }
            Some('T') => (PatchStatus::TypeChanged, None, path()?),
            Some(_) => (PatchStatus::Modified, None, path()?),
            None => return Err(DiffError::Unreadable(format!("raw line {head:?}"))),
        };
        // An all-zero id: no such side (an added file's "before"), or a file in the working tree.
        let blob = |id: &str| (!id.bytes().all(|b| b == b'0')).then(|| id.to_string());
        entries.push(RawEntry {
            path,
            from,
            status,
            mode_changed: old_mode != new_mode,
            old_blob: blob(old_id),
            new_blob: blob(new_id),
            submodule: old_mode == "160000" || new_mode == "160000",
        });
    }
    Ok(entries)
}

/// `added\tremoved\tpath\0` (or `added\tremoved\t\0from\0to\0` for renames); `-` for binary.
fn parse_numstat(
    numstat: &[u8],
    expected: usize,
) -> Result<Vec<Option<(usize, usize)>>, DiffError> {
    let mut fields = numstat
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f));
    let mut counts = Vec::with_capacity(expected);
    while let Some(field) = fields.next() {
        if field.is_empty() {
            continue;
        }
        let mut parts = field.splitn(3, '\t');
        let (Some(added), Some(removed), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(DiffError::Unreadable(format!("numstat line {field:?}")));
        };
        if path.is_empty() {
            // A rename: the two paths follow.
            fields.next();
            fields.next();
        }
        counts.push(match (added.parse(), removed.parse()) {
            (Ok(a), Ok(r)) => Some((a, r)),
            _ => None,
        });
    }
    if counts.len() != expected {
        return Err(DiffError::Unreadable(format!(
            "{} files counted, {expected} listed",
            counts.len()
        )));
    }
    Ok(counts)
}

/// The patch split at each `diff --git` line, each part whole. Hunk lines start with a space,
/// `+`, `-` or `\`, so no line of a hunk can be taken for a file's first line.
fn split_patch(text: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("diff --git ") || parts.is_empty() {
            parts.push(String::new());
        }
        if let Some(last) = parts.last_mut() {
            last.push_str(line);
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// The last `n` commit messages of the range, newest first: `BASE..HEAD` for a revision,
/// `A..B` for a range (the commits on B's side); with no base, `HEAD`'s own history.
fn read_log(git: &Git, base: &str, head: &Head, n: usize) -> Result<String, GitError> {
    let range = match (base.split_once("..."), base.split_once("..")) {
        (Some((left, right)), _) | (None, Some((left, right))) => {
            let right = if right.is_empty() { "HEAD" } else { right };
            let left = if left.is_empty() { "HEAD" } else { left };
            format!("{left}..{right}")
        }
        _ if base == "HEAD" && *head == Head::WorkTree => "HEAD".to_string(),
        _ => format!("{base}..HEAD"),
    };
    let out = git.run([
        "log".to_string(),
        "--no-color".to_string(),
        format!("--max-count={n}"),
        "--format=commit %H%nAuthor: %an%nDate:   %aI%n%n%w(0,4,4)%B".to_string(),
        range,
        "--".to_string(),
    ])?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The blobs `ids` name, read with one `git cat-file --batch`; an id git does not have (or that
/// is not a blob) is left out of the map.
pub fn blobs(
    git: &Git,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<u8>>, GitError> {
    let mut found = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(found);
    }
    let input: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let out = git.run_with_input(["cat-file", "--batch"], input.as_bytes())?;
    // `<id> <type> <size>\n<content>\n`, or `<id> missing\n`.
    let mut rest = out.as_slice();
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let header = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        let parts: Vec<&str> = header.split(' ').collect();
        let [id, kind, size] = parts[..] else {
            continue; // `<id> missing`
        };
        let Ok(size) = size.parse::<usize>() else {
            break;
        };
        if rest.len() < size {
            break;
        }
        if kind == "blob" {
            found.insert(id.to_string(), rest[..size].to_vec());
        }
        rest = &rest[(size + 1).min(rest.len())..];
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_entries_give_statuses_and_both_paths_of_a_rename() {
        let raw = b":000000 100644 0000000 3e75765 A\0n.txt\0:100644 100755 7898192 422c2b7 R050\0x.txt\0y.txt\0:100644 100755 1 2 M\0run.sh\0:100644 100644 1 2 M\0a b.rs\0";
        let entries = parse_raw(raw).unwrap();
        let got: Vec<(&str, Option<&str>, PatchStatus, bool)> = entries
            .iter()
            .map(|e| (e.path.as_str(), e.from.as_deref(), e.status, e.mode_changed))
            .collect();
        assert_eq!(
            got,
            [
                ("n.txt", None, PatchStatus::Added, true),
                ("y.txt", Some("x.txt"), PatchStatus::Renamed, true),
                ("run.sh", None, PatchStatus::Modified, true),
                ("a b.rs", None, PatchStatus::Modified, false),
            ]
        );
    }

    #[test]
    fn numstat_counts_lines_and_marks_binary_files() {
        let numstat = b"-\t-\tb.bin\x001\t0\t\0x.txt\0y.txt\x003\t2\tsrc/a.rs\0";
        let counts = parse_numstat(numstat, 3).unwrap();
        assert_eq!(counts, [None, Some((1, 0)), Some((3, 2))]);
        assert!(parse_numstat(numstat, 2).is_err());
    }

    #[test]
    fn the_patch_splits_at_each_file_and_keeps_every_byte() {
        let text = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-diff --git x\n+y\ndiff --git a/b b/b\nBinary files a/b and b/b differ\n";
        let parts = split_patch(text);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts.concat(), text);
        assert!(parts[1].starts_with("diff --git a/b b/b\n"));
        assert!(split_patch("").is_empty());
    }
}
