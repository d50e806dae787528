//! Running the `git` command: the one way ctxpack asks git anything (a change, a file at a
//! revision, the log, worktrees). ctxpack never reimplements what git does.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a git command could not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("this needs the git command, and none was found on PATH (install git)")]
    NotInstalled,
    #[error("{} is not inside a git repository (run git init, or pack a repository)", dir.display())]
    NotARepository { dir: PathBuf },
    #[error(
        "git does not know the revision {revision:?}: {message} (see git log and git branch -a)"
    )]
    UnknownRevision { revision: String, message: String },
    #[error("git {command} failed: {message}")]
    Failed { command: String, message: String },
    #[error("could not run git: {0}")]
    Io(#[source] std::io::Error),
}

impl GitError {
    /// Whether the user asked for something impossible (a revision that does not exist, a
    /// directory outside a repository), rather than git failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            GitError::NotARepository { .. } | GitError::UnknownRevision { .. }
        )
    }
}

/// A repository, reached from a directory inside it.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

impl Git {
    /// The repository `dir` lies in.
    pub fn open(dir: &Path) -> Result<Git, GitError> {
        let git = Git {
            dir: dir.to_path_buf(),
        };
        match git.run(["rev-parse", "--is-inside-work-tree"]) {
            Ok(out) if out.trim_ascii() == b"true" => Ok(git),
            Ok(_) => Err(GitError::NotARepository {
                dir: dir.to_path_buf(),
            }),
            Err(GitError::Failed { .. }) => Err(GitError::NotARepository {
                dir: dir.to_path_buf(),
            }),
            Err(error) => Err(error),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `git ARGS` in the repository's directory and returns its stdout. User settings that
    /// would change what git prints for a program (colour, external diff tools, pagers) are off.
    pub fn run<I, S>(&self, args: I) -> Result<Vec<u8>, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.exec(args, None, &[0])
    }

    /// [`Git::run`] with `input` on git's standard input.
    pub fn run_with_input<I, S>(&self, args: I, input: &[u8]) -> Result<Vec<u8>, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.exec(args, Some(input), &[0])
    }

    /// [`Git::run`] for commands whose exit status 1 is an answer (`git diff --no-index`: the
    /// files differ).
    pub fn run_answering_one<I, S>(&self, args: I) -> Result<Vec<u8>, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.exec(args, None, &[0, 1])
    }

    fn exec<I, S>(&self, args: I, input: Option<&[u8]>, fine: &[i32]) -> Result<Vec<u8>, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(["-c", "color.ui=never", "-c", "core.pager=cat"])
            .args(&args)
            .env("GIT_PAGER", "cat")
            .env_remove("GIT_EXTERNAL_DIFF")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => GitError::NotInstalled,
                _ => GitError::Io(error),
            })?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            // Written from a thread: git may print before it has read everything.
            let input = input.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let output = child.wait_with_output().map_err(GitError::Io)?;
        if output
            .status
            .code()
            .is_some_and(|code| fine.contains(&code))
        {
            return Ok(output.stdout);
        }
        Err(GitError::Failed {
            command: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }

    /// Checks that `revision` names a commit.
    pub fn verify_commit(&self, revision: &str) -> Result<(), GitError> {
        if revision.starts_with('-') {
            return Err(GitError::UnknownRevision {
                revision: revision.to_string(),
                message: "a revision cannot start with '-'".into(),
            });
        }
        let spec = format!("{revision}^{{commit}}");
        self.run([
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ])
        .map(|_| ())
        .map_err(|_| GitError::UnknownRevision {
            revision: revision.to_string(),
            message: "no commit has that name".into(),
        })
    }

    /// The full hash of the commit `revision` names.
    pub fn commit_of(&self, revision: &str) -> Result<String, GitError> {
        self.verify_commit(revision)?;
        let spec = format!("{revision}^{{commit}}");
        let out = self.run(["rev-parse", "--verify", "--end-of-options", &spec])?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The path of the directory relative to the top of the work tree (`""` at the top, else
    /// ending in `/`).
    pub fn prefix(&self) -> Result<String, GitError> {
        let out = self.run(["rev-parse", "--show-prefix"])?;
        Ok(String::from_utf8_lossy(&out)
            .trim_end_matches('\n')
            .to_string())
    }

    /// The bytes of `path` (relative to the top of the work tree) at `revision`.
    pub fn show(&self, revision: &str, path: &str) -> Result<Vec<u8>, GitError> {
        self.run(["show", &format!("{revision}:{path}")])
    }
}
