//! A task's directory (`.ctxpack/tasks/<id>/`) and its artifacts. Nothing is ever overwritten:
//! writing an artifact that exists first renames the old one (`plan.md` → `plan.1.md`, then
//! `plan.2.md`, …). A lock keeps two ctxpack processes off one task.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where ctxpack keeps tasks and worktrees, under the repository's top (never walked by a pack).
pub use crate::walk::STATE_DIR;

/// Why a task cannot be found, made or used.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(
        "no task {id:?}{}; `ctxpack status` lists the tasks, `ctxpack task new TITLE` makes one",
        known_tasks(.known)
    )]
    Unknown { id: String, known: Vec<String> },
    #[error(
        "task {id} is in use by another ctxpack process (pid {holder}); wait for it to finish"
    )]
    Locked { id: String, holder: String },
    #[error("task {id}: {message}")]
    Broken { id: String, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn known_tasks(known: &[String]) -> String {
    match known {
        [] => " (there are no tasks yet)".to_string(),
        _ => format!(" (tasks: {})", known.join(", ")),
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> TaskError + '_ {
    move |source| TaskError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `task.json` records about a task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: String,
    pub title: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The commit the task started from: the base its review diffs against.
    pub base: String,
    /// The task's git worktree, relative to the repository's top, and its branch.
    pub worktree: Option<String>,
    pub branch: Option<String>,
    /// When `task done` finished it (RFC 3339); its phases refuse to run after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
}

/// The tasks of one repository.
#[derive(Debug, Clone)]
pub struct Tasks {
    /// The repository's top (the main checkout).
    pub top: PathBuf,
}

impl Tasks {
    pub fn new(top: &Path) -> Tasks {
        Tasks {
            top: top.to_path_buf(),
        }
    }

    fn dir(&self) -> PathBuf {
        self.top.join(STATE_DIR).join("tasks")
    }

    /// A new id for `title`: its words, lower-cased and joined with `-`, made unique.
    pub fn new_id(&self, title: &str) -> String {
        let mut slug = String::new();
        for c in title.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
            if slug.len() >= 40 {
                break;
            }
        }
        let slug = slug.trim_matches('-');
        let slug = if slug.is_empty() { "task" } else { slug };
        let taken = |id: &str| self.dir().join(id).exists();
        if !taken(slug) {
            return slug.to_string();
        }
        (2..)
            .map(|n| format!("{slug}-{n}"))
            .find(|id| !taken(id))
            .expect("some suffix is free")
    }

    /// Makes the task's directory with its `task.json` and `spec.md`.
    pub fn create(&self, info: &TaskInfo, spec: &str) -> Result<Task, TaskError> {
        let dir = self.dir().join(&info.id);
        fs::create_dir_all(dir.join("prompts")).map_err(io_error(&dir))?;
        let task = Task {
            dir,
            info: info.clone(),
        };
        task.save_info()?;
        task.write("spec.md", spec.as_bytes())?;
        Ok(task)
    }

    /// The task `id`.
    pub fn open(&self, id: &str) -> Result<Task, TaskError> {
        let valid = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let dir = self.dir().join(id);
        if !valid || !dir.join("task.json").is_file() {
            return Err(TaskError::Unknown {
                id: id.to_string(),
                known: self.ids(),
            });
        }
        let path = dir.join("task.json");
        let text = fs::read_to_string(&path).map_err(io_error(&path))?;
        let info: TaskInfo = serde_json::from_str(&text).map_err(|e| TaskError::Broken {
            id: id.to_string(),
            message: format!("{} cannot be read: {e}", path.display()),
        })?;
        Ok(Task { dir, info })
    }

    /// Every task's id, in name order.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(self.dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("task.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids
    }
}

/// One task: its directory and what `task.json` says.
#[derive(Debug, Clone)]
pub struct Task {
    pub dir: PathBuf,
    pub info: TaskInfo,
}

impl Task {
    pub fn id(&self) -> &str {
        &self.info.id
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The text of an artifact, if it exists.
    pub fn read(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.path(name)).ok()
    }

    /// The directory the task's phases work in: its worktree, or the repository's top.
    pub fn workdir(&self, top: &Path) -> PathBuf {
        match &self.info.worktree {
            Some(worktree) => top.join(worktree),
            None => top.to_path_buf(),
        }
    }

    /// Writes the artifact `name`; an artifact already there is kept under the next free
    /// number (`plan.md` → `plan.1.md`). Returns where the earlier one went, if anywhere.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<Option<PathBuf>, TaskError> {
        let path = self.path(name);
        let kept = keep_earlier(&path)?;
        let dir = path.parent().unwrap_or(&self.dir);
        let mut temp = tempfile::Builder::new()
            .prefix(".ctxpack-")
            .tempfile_in(dir)
            .map_err(io_error(dir))?;
        temp.write_all(bytes).map_err(io_error(&path))?;
        temp.persist(&path).map_err(|e| TaskError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(kept)
    }

    /// Writes `task.json` from `info`, in place: it is the task's state, not an artifact.
    pub fn save_info(&self) -> Result<(), TaskError> {
        let json = serde_json::to_string_pretty(&self.info).expect("task info serializes");
        self.write_state("task.json", format!("{json}\n").as_bytes())
    }

    /// Writes the state file `name` in place (not an artifact: no earlier copy is kept).
    pub fn write_state(&self, name: &str, bytes: &[u8]) -> Result<(), TaskError> {
        let path = self.path(name);
        let mut temp = tempfile::Builder::new()
            .prefix(".ctxpack-")
            .tempfile_in(&self.dir)
            .map_err(io_error(&self.dir))?;
        temp.write_all(bytes).map_err(io_error(&path))?;
        temp.persist(&path).map_err(|e| TaskError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Starts the artifact `name` afresh for writing as it comes (an earlier one is kept, as by
    /// [`Task::write`]).
    pub fn stream(&self, name: &str) -> Result<fs::File, TaskError> {
        let path = self.path(name);
        keep_earlier(&path)?;
        fs::File::create(&path).map_err(io_error(&path))
    }

    /// Appends one line to the artifact `name` (the ledger), never rewriting it.
    pub fn append_line(&self, name: &str, line: &str) -> Result<(), TaskError> {
        let path = self.path(name);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        writeln!(file, "{line}").map_err(io_error(&path))
    }

    /// Locks the task for this process until the lock is dropped. A second process refuses.
    pub fn lock(&self) -> Result<Lock, TaskError> {
        let path = self.path("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        if !try_lock(&file) {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            return Err(TaskError::Locked {
                id: self.info.id.clone(),
                holder: holder.trim().to_string(),
            });
        }
        // Who holds it, for the message the next process prints.
        let _ = file.set_len(0);
        let _ = (&file).write_all(std::process::id().to_string().as_bytes());
        Ok(Lock { _file: file })
    }
}

/// Held while a process works on a task; released when dropped (or when the process ends).
pub struct Lock {
    _file: fs::File,
}

#[cfg(unix)]
fn try_lock(file: &fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; the lock goes with the descriptor.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(file: &fs::File) -> bool {
    file.try_lock().is_ok()
}

/// Renames an existing `path` to the next free `stem.N.ext`; returns the new name.
fn keep_earlier(path: &Path) -> Result<Option<PathBuf>, TaskError> {
    if !path.exists() {
        return Ok(None);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `plan.md` → (`plan`, `.md`); `review.json.partial` → (`review`, `.json.partial`).
    let (stem, ext) = match name.find('.') {
        Some(at) => (&name[..at], &name[at..]),
        None => (name.as_str(), ""),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    for n in 1.. {
        let earlier = dir.join(format!("{stem}.{n}{ext}"));
        if !earlier.exists() {
            fs::rename(path, &earlier).map_err(io_error(path))?;
            return Ok(Some(earlier));
        }
    }
    unreachable!("1.. never ends")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> TaskInfo {
        TaskInfo {
            id: id.to_string(),
            title: "Add retry support".to_string(),
            created: "2026-01-01T00:00:00Z".to_string(),
            base: "abc".to_string(),
            worktree: None,
            branch: None,
            done: None,
        }
    }

    #[test]
    fn ids_come_from_the_title_and_never_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = Tasks::new(dir.path());
        assert_eq!(tasks.new_id("Add retry support!"), "add-retry-support");
        tasks.create(&info("add-retry-support"), "spec").unwrap();
        assert_eq!(tasks.new_id("Add retry support"), "add-retry-support-2");
        assert_eq!(tasks.new_id("¿?"), "task");
        assert_eq!(tasks.ids(), ["add-retry-support"]);
        let error = tasks.open("nope").unwrap_err().to_string();
        assert!(error.contains("add-retry-support") && error.contains("ctxpack status"));
        assert!(tasks.open("../etc").is_err());
        assert_eq!(
            tasks.open("add-retry-support").unwrap().info,
            info("add-retry-support")
        );
    }

    #[test]
    fn artifacts_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let task = Tasks::new(dir.path()).create(&info("t"), "spec").unwrap();
        assert_eq!(task.write("plan.md", b"one").unwrap(), None);
        let kept = task.write("plan.md", b"two").unwrap().unwrap();
        assert!(kept.ends_with("plan.1.md"));
        task.write("plan.md", b"three").unwrap();
        assert_eq!(task.read("plan.md").unwrap(), "three");
        assert_eq!(task.read("plan.1.md").unwrap(), "one");
        assert_eq!(task.read("plan.2.md").unwrap(), "two");
        task.write("plan.md.partial", b"p").unwrap();
        task.write("plan.md.partial", b"q").unwrap();
        assert_eq!(task.read("plan.1.md.partial").unwrap(), "p");
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let task = Tasks::new(dir.path()).create(&info("t"), "spec").unwrap();
        let lock = task.lock().unwrap();
        let error = task.lock().err().expect("locked").to_string();
        assert!(error.contains("in use") && error.contains(&std::process::id().to_string()));
        drop(lock);
        assert!(task.lock().is_ok());
    }
}
