//! Running a model command: the prompt on its standard input, its standard output streamed as it
//! comes and kept, a timeout, and its whole process group ended on a timeout or Ctrl-C (or when
//! it exits and leaves children behind), so that no orphan keeps running.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a process group gets to end after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);
/// How often the wait loop looks at the clock and at Ctrl-C.
const TICK: Duration = Duration::from_millis(50);

/// The process group of the model call under way (0: none). A second Ctrl-C, which ends
/// ctxpack at once, kills this group first: the model runs in a group of its own, so the
/// terminal's Ctrl-C never reaches it.
pub static RUNNING_GROUP: AtomicI32 = AtomicI32::new(0);

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Exit status 0 with some output.
    Ok,
    /// A non-zero exit status.
    Exit(i32),
    /// Ended by a signal it did not ask for.
    Signal(i32),
    /// It ran past its timeout and was ended.
    Timeout,
    /// Exit status 0 but nothing on standard output.
    Empty,
    /// The user pressed Ctrl-C; it was ended.
    Interrupted,
}

impl Ending {
    pub fn is_ok(&self) -> bool {
        *self == Ending::Ok
    }

    /// For the ledger and messages.
    pub fn describe(&self) -> String {
        match self {
            Ending::Ok => "ok".to_string(),
            Ending::Exit(code) => format!("exit status {code}"),
            Ending::Signal(signal) => format!("killed by signal {signal}"),
            Ending::Timeout => "timed out".to_string(),
            Ending::Empty => "no output".to_string(),
            Ending::Interrupted => "interrupted".to_string(),
        }
    }
}

/// What a call gave.
#[derive(Debug)]
pub struct Finished {
    pub ending: Ending,
    /// Everything it printed on standard output.
    pub output: Vec<u8>,
    pub duration: Duration,
    /// A process it started outside its process group still held its output when the call
    /// ended, and was left running.
    pub stray: bool,
}

/// Why a command could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "the model command {program:?} is not on PATH (install it, or change `command` in \
         ctxpack.toml)"
    )]
    NotFound { program: String },
    #[error("could not run {program:?}: {source}")]
    Io {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// Finds `program` the way the system would run it: a path as given, a bare name on PATH.
pub fn locate(program: &str) -> Result<PathBuf, RunError> {
    let not_found = || RunError::NotFound {
        program: program.to_string(),
    };
    let runnable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                m.is_file()
            }
        })
    };
    if program.contains(std::path::MAIN_SEPARATOR) || program.contains('/') {
        let path = PathBuf::from(program);
        return if runnable(&path) {
            Ok(path)
        } else {
            Err(not_found())
        };
    }
    let path = std::env::var_os("PATH").ok_or_else(not_found)?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| runnable(candidate))
        .ok_or_else(not_found)
}

/// One call of a model command.
pub struct Call<'a> {
    /// The program and its arguments.
    pub command: &'a [String],
    /// Its working directory.
    pub dir: &'a Path,
    /// What goes to its standard input.
    pub prompt: &'a str,
    pub timeout: Duration,
    /// Set by a Ctrl-C handler; the call then ends as [`Ending::Interrupted`] (or never starts).
    pub interrupted: &'a AtomicBool,
    /// Where its standard error is kept, besides going to ours as it comes.
    pub stderr_log: Option<&'a Path>,
}

/// Runs `call`, handing each piece of the command's standard output to `echo` as it arrives.
///
/// When the command has ended (or was ended), what it printed is read for at most [`GRACE`]
/// more: a process it started outside its process group (`setsid`) may hold the pipes open
/// for as long as it likes, and is not waited for.
pub fn run(call: &Call<'_>, echo: &mut dyn FnMut(&[u8])) -> Result<Finished, RunError> {
    let program = &call.command[0];
    let located = locate(program)?;
    let started = Instant::now();
    if call.interrupted.load(Ordering::SeqCst) {
        return Ok(Finished {
            ending: Ending::Interrupted,
            output: Vec::new(),
            duration: started.elapsed(),
            stray: false,
        });
    }
    let io_error = |source| RunError::Io {
        program: program.clone(),
        source,
    };
    let mut cmd = Command::new(&located);
    cmd.args(&call.command[1..])
        .current_dir(call.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: everything it starts can be ended with it.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(io_error)?;
    RUNNING_GROUP.store(child.id() as i32, Ordering::SeqCst);

    // The prompt is written from its own thread: a model that prints before it has read all of
    // its input must not block on a full pipe while we block on its input.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let prompt = call.prompt.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        // A model that exits without reading its input closes the pipe: not our error.
        let _ = stdin.write_all(&prompt);
    });
    let (sender, receiver) = mpsc::channel::<Vec<u8>>();
    let stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        pump(stdout, |chunk| sender.send(chunk.to_vec()).is_ok());
    });
    // Its standard error goes to ours as it comes (progress, questions, errors), and to the log.
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut log = match call.stderr_log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(io_error)?,
        ),
        None => None,
    };
    let err_reader = std::thread::spawn(move || {
        pump(stderr, |chunk| {
            let _ = io::stderr().lock().write_all(chunk);
            if let Some(log) = &mut log {
                let _ = log.write_all(chunk);
            }
            true
        });
    });

    let mut output = Vec::new();
    let mut ended_by_us = None;
    let status = loop {
        match receiver.recv_timeout(TICK) {
            Ok(chunk) => {
                echo(&chunk);
                output.extend_from_slice(&chunk);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Its output is closed; it may still be running.
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
        }
        if let Some(status) = child.try_wait().map_err(io_error)? {
            break status;
        }
        if ended_by_us.is_none() {
            if call.interrupted.load(Ordering::SeqCst) {
                ended_by_us = Some(Ending::Interrupted);
            } else if started.elapsed() > call.timeout {
                ended_by_us = Some(Ending::Timeout);
            }
            if ended_by_us.is_some() {
                end_group(&mut child);
            }
        }
    };
    // Children it left behind in its group would hold its output open: they go with it.
    if ended_by_us.is_none() {
        end_group(&mut child);
    }
    RUNNING_GROUP.store(0, Ordering::SeqCst);
    // What it printed before the pipe closed; a process outside its group that keeps the pipe
    // open is not waited for.
    let deadline = Instant::now() + GRACE;
    // Still open at the deadline: a process outside the group holds the output.
    let stray = loop {
        match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(chunk) => {
                echo(&chunk);
                output.extend_from_slice(&chunk);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
            Err(mpsc::RecvTimeoutError::Timeout) => break true,
        }
    };
    // Threads still blocked on a pipe held open elsewhere are left to end with the pipe.
    for thread in [reader, err_reader, writer] {
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
    let ending = match ended_by_us {
        Some(ending) => ending,
        None => ending_of(status, &output),
    };
    Ok(Finished {
        ending,
        output,
        duration: started.elapsed(),
        stray,
    })
}

/// Reads `from` until its end, handing each piece to `to` until it says stop.
fn pump(mut from: impl Read, mut to: impl FnMut(&[u8]) -> bool) {
    let mut buffer = [0u8; 8192];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !to(&buffer[..n]) {
                    break;
                }
            }
        }
    }
}

fn ending_of(status: std::process::ExitStatus, output: &[u8]) -> Ending {
    if let Some(code) = status.code() {
        return match code {
            0 if output.iter().all(u8::is_ascii_whitespace) => Ending::Empty,
            0 => Ending::Ok,
            code => Ending::Exit(code),
        };
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        Ending::Signal(status.signal().unwrap_or(0))
    }
    #[cfg(not(unix))]
    Ending::Exit(-1)
}

/// Ends the child's whole process group: SIGTERM, then SIGKILL after a grace period. The
/// child itself is reaped; its group's other members are orphans of init and reaped there.
fn end_group(child: &mut Child) {
    #[cfg(unix)]
    {
        let group = child.id() as libc::pid_t;
        // SAFETY: killpg only sends a signal; the group is the child's own (process_group(0)),
        // whose id is the child's pid, which stays ours until the child is reaped.
        unsafe { libc::killpg(group, libc::SIGTERM) };
        let deadline = Instant::now() + GRACE;
        loop {
            // The child is reaped as soon as it ends: unreaped, it would keep the group alive.
            let _ = child.try_wait();
            if Instant::now() >= deadline || !group_alive(group) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above.
        unsafe { libc::killpg(group, libc::SIGKILL) };
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Whether any process of `group` still runs. On Linux, read from /proc: a zombie waiting for
/// init to reap it does not count (signal 0 would count it).
#[cfg(target_os = "linux")]
fn group_alive(group: libc::pid_t) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return signalable(group);
    };
    entries.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let mut fields = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|g| g.parse::<libc::pid_t>().ok());
        pgrp == Some(group) && state.is_some_and(|s| s != "Z" && s != "X")
    })
}

#[cfg(all(unix, not(target_os = "linux")))]
fn group_alive(group: libc::pid_t) -> bool {
    signalable(group)
}

/// Whether `group` has a member a signal reaches (signal 0 sends nothing, only checks).
#[cfg(unix)]
fn signalable(group: libc::pid_t) -> bool {
    // SAFETY: signal 0 performs the permission and existence check only.
    unsafe { libc::killpg(group, 0) == 0 }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".to_string(), "-c".to_string(), script.to_string()]
    }

    fn call(command: &[String], timeout: Duration) -> (Finished, Vec<u8>) {
        let never = AtomicBool::new(false);
        call_with(command, timeout, &never)
    }

    fn call_with(
        command: &[String],
        timeout: Duration,
        interrupted: &AtomicBool,
    ) -> (Finished, Vec<u8>) {
        let mut echoed = Vec::new();
        let finished = run(
            &Call {
                command,
                dir: Path::new("."),
                prompt: "the prompt\n",
                timeout,
                interrupted,
                stderr_log: None,
            },
            &mut |b| echoed.extend_from_slice(b),
        )
        .unwrap();
        (finished, echoed)
    }

    #[test]
    fn the_prompt_goes_in_and_the_output_comes_back_as_it_is_printed() {
        let (finished, echoed) = call(&sh("cat; echo done"), Duration::from_secs(60));
        assert_eq!(finished.ending, Ending::Ok);
        assert_eq!(finished.output, b"the prompt\ndone\n");
        assert_eq!(echoed, finished.output);
        let (finished, _) = call(
            &sh("cat >/dev/null; echo half; exit 3"),
            Duration::from_secs(60),
        );
        assert_eq!(finished.ending, Ending::Exit(3));
        assert_eq!(finished.output, b"half\n");
        let (finished, _) = call(&sh("cat >/dev/null"), Duration::from_secs(60));
        assert_eq!(finished.ending, Ending::Empty);
    }

    /// Whether `pid` runs: it exists and is not a zombie waiting to be reaped.
    pub fn running(pid: i32) -> bool {
        // SAFETY: signal 0 checks existence only.
        let exists = unsafe { libc::kill(pid, 0) } == 0;
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false);
        exists && !zombie
    }

    #[test]
    fn a_timeout_ends_the_model_and_every_process_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let script = format!(
            "sleep 300 & echo $! > {p}; echo $$ >> {p}; echo started; sleep 300",
            p = pids.display()
        );
        let (finished, _) = call(&sh(&script), Duration::from_millis(500));
        assert_eq!(finished.ending, Ending::Timeout);
        assert_eq!(finished.output, b"started\n");
        let pids: Vec<i32> = std::fs::read_to_string(&pids)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2);
        for pid in pids {
            assert!(!running(pid), "process {pid} outlived the timeout");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_outside_the_group_that_holds_the_output_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let ended = dir.path().join("ended");
        // The descendant leaves the group (a new session) and keeps stdout open; when it ends
        // it leaves a mark. The call must return before that mark exists.
        let script = format!(
            "cat >/dev/null; echo answer; setsid sh -c 'echo $$ > {p}; sleep 30; touch {e}' & \
             while [ ! -s {p} ]; do sleep 0.01; done",
            p = pid.display(),
            e = ended.display()
        );
        let (finished, _) = call(&sh(&script), Duration::from_secs(600));
        assert!(
            !ended.exists(),
            "the call waited for the process outside the group"
        );
        assert_eq!(finished.ending, Ending::Ok);
        assert_eq!(finished.output, b"answer\n");
        let pid: i32 = std::fs::read_to_string(&pid)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SAFETY: kill sends a signal to the process the script started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }

    #[test]
    fn an_interrupted_call_never_starts() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("ran");
        let interrupted = AtomicBool::new(true);
        let (finished, _) = call_with(
            &sh(&format!("touch {}", mark.display())),
            Duration::from_secs(60),
            &interrupted,
        );
        assert_eq!(finished.ending, Ending::Interrupted);
        assert!(!mark.exists());
    }

    #[test]
    fn a_missing_program_is_named() {
        let error = locate("ctxpack-no-such-model-cli").unwrap_err().to_string();
        assert!(error.contains("ctxpack-no-such-model-cli") && error.contains("PATH"));
        assert!(locate("sh").is_ok());
    }
}
