//! Git worktrees for tasks, and what changed in a task's work tree: all through the `git`
//! command.

use std::collections::BTreeMap;
use std::path::Path;

use crate::git::{Git, GitError};

/// Makes a worktree at `path` on the new branch `branch`, starting at `base`.
pub fn add(git: &Git, path: &Path, branch: &str, base: &str) -> Result<(), GitError> {
    let path = path.to_string_lossy();
    git.run(["worktree", "add", "--quiet", "-b", branch, &path, base])
        .map(|_| ())
}

/// Removes the worktree at `path`; its branch stays. Refused by git (and so here) when the
/// worktree has changes that are not committed, unless `force`.
pub fn remove(git: &Git, path: &Path, force: bool) -> Result<(), GitError> {
    let path = path.to_string_lossy().into_owned();
    let mut args = vec!["worktree".to_string(), "remove".to_string()];
    if force {
        args.push("--force".to_string());
    }
    args.push(path);
    git.run(args).map(|_| ())
}

/// The files (relative to `dir`'s top) that differ from `base` in `dir`'s work tree: committed
/// since, staged, unstaged, and new files git does not ignore. Sorted, without repeats.
pub fn changed_files(dir: &Path, base: &str) -> Result<Vec<String>, GitError> {
    let git = Git::open(dir)?;
    let mut files: Vec<String> = Vec::new();
    for listing in [
        git.run(["diff", "--name-only", "-z", "--no-renames", base, "--"])?,
        git.run(["ls-files", "--others", "--exclude-standard", "-z"])?,
    ] {
        files.extend(
            listing
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        );
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The files that differ from `base` in `dir`'s work tree (as [`changed_files`]), each with a
/// hash of its content now (`None`: it is gone). Two snapshots tell which files changed between
/// them, whoever changed them before.
pub fn snapshot(dir: &Path, base: &str) -> Result<BTreeMap<String, Option<String>>, GitError> {
    Ok(changed_files(dir, base)?
        .into_iter()
        // The cache between runs may live in the tree (CTXPACK_CACHE_DIR): its stores change
        // on every run, and are nobody's work.
        .filter(|file| {
            let name = file.rsplit('/').next().unwrap_or(file);
            !crate::cache::is_store_name(name)
        })
        .map(|file| {
            let hash = std::fs::read(dir.join(&file))
                .ok()
                .map(|bytes| blake3::hash(&bytes).to_hex().to_string());
            (file, hash)
        })
        .collect())
}

/// The files whose state differs between two snapshots, sorted.
pub fn differences(
    before: &BTreeMap<String, Option<String>>,
    after: &BTreeMap<String, Option<String>>,
) -> Vec<String> {
    let mut files: Vec<String> = after
        .iter()
        .filter(|(file, hash)| before.get(*file) != Some(hash))
        .map(|(file, _)| file.clone())
        .chain(
            before
                .keys()
                .filter(|file| !after.contains_key(*file))
                .cloned(),
        )
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Whether `dir`'s work tree has nothing to commit (ignored files aside).
pub fn is_clean(dir: &Path) -> Result<bool, GitError> {
    Ok(Git::open(dir)?
        .run(["status", "--porcelain", "--untracked-files=all"])?
        .is_empty())
}

/// Puts `dir`'s work tree back to its last commit: changes and new files go (ignored files
/// stay). Only for a task's own worktree that was clean before.
pub fn restore(dir: &Path) -> Result<(), GitError> {
    let git = Git::open(dir)?;
    git.run(["reset", "--hard", "--quiet", "HEAD"])?;
    git.run(["clean", "-d", "--force", "--quiet"])?;
    Ok(())
}

/// Commits everything in `dir`'s work tree (new files too) with `message`; false when there was
/// nothing to commit. The repository's commit hooks run, as for any commit.
pub fn commit_all(dir: &Path, message: &str) -> Result<bool, GitError> {
    let git = Git::open(dir)?;
    git.run(["add", "--all"])?;
    let staged = git.run(["diff", "--cached", "--name-only"])?;
    if staged.is_empty() {
        return Ok(false);
    }
    // Your identity where git has one (hooks may check it); ctxpack's name or address only
    // where git has none to fill the author's and committer's in.
    let mut args: Vec<&str> = Vec::new();
    let complete = git.run(["var", "GIT_AUTHOR_IDENT"]).is_ok()
        && git.run(["var", "GIT_COMMITTER_IDENT"]).is_ok();
    if !complete {
        if git.run(["config", "user.name"]).is_err() {
            args.extend(["-c", "user.name=ctxpack"]);
        }
        if git.run(["config", "user.email"]).is_err() {
            args.extend(["-c", "user.email=ctxpack@localhost"]);
        }
    }
    args.extend(["commit", "--quiet", "-m", message]);
    git.run(args)?;
    Ok(true)
}
