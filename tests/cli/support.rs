//! A temporary tree, the binary, and a parsed view of its output.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary directory tree to pack.
pub struct TestEnv {
    dir: tempfile::TempDir,
    /// The cache ctxpack keeps between runs in this tree, outside it.
    cache: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            cache: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// Where ctxpack keeps its cache for this tree.
    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes `bytes` at `rel`, creating parent directories.
    pub fn write(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> &Self {
        let path = self.root().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directories");
        }
        fs::write(&path, bytes).expect("write fixture file");
        self
    }

    #[cfg(unix)]
    pub fn symlink(&self, target: impl AsRef<Path>, rel: &str) -> &Self {
        std::os::unix::fs::symlink(target, self.path(rel)).expect("create symlink");
        self
    }

    /// Makes a FIFO at `rel`.
    #[cfg(unix)]
    pub fn fifo(&self, rel: &str) -> &Self {
        let path = std::ffi::CString::new(self.path(rel).into_os_string().into_encoded_bytes())
            .expect("no NUL in a test path");
        // SAFETY: mkfifo reads a valid NUL-terminated path and has no other preconditions.
        assert_eq!(
            unsafe { libc::mkfifo(path.as_ptr(), 0o644) },
            0,
            "mkfifo {rel}"
        );
        self
    }

    /// A `ctxpack` command whose working directory is the tree.
    pub fn ctxpack(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ctxpack"));
        cmd.current_dir(self.root())
            .env("CTXPACK_CACHE_DIR", self.cache_dir());
        cmd
    }
}

/// Runs `cmd`, feeding `stdin`, and returns its output.
pub fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ctxpack");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for ctxpack")
}

/// Runs `cmd` with no stdin while watching the FIFOs at `fifos`, and returns its output and the
/// FIFOs it opened, in the order given. No clock is involved: see [`FifoWatch`].
#[cfg(unix)]
pub fn run_watching_fifos(mut cmd: Command, fifos: &[PathBuf]) -> (Output, Vec<PathBuf>) {
    let watch = FifoWatch::start(fifos);
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run ctxpack");
    (out, watch.finish())
}

/// Tells, without timing anything, whether a process opened a FIFO, and never lets one block it.
///
/// For each FIFO a thread opens it for writing, which blocks until some reader opens it. A
/// process that opened the FIFO to read (the bug these tests pin down, which used to block it
/// forever) lets that writer through; the writer closes at once, so the reader sees the end of
/// the file and goes on, the open is on record, and the writer waits for the next reader. On Linux an inotify watch also records opens
/// that did not block (`O_NONBLOCK`) and that the writer came too late to see.
#[cfg(unix)]
pub struct FifoWatch {
    paths: Vec<PathBuf>,
    /// Set per FIFO when its writer got through before [`FifoWatch::finish`] released it.
    opened: std::sync::Arc<Vec<std::sync::atomic::AtomicBool>>,
    released: std::sync::Arc<std::sync::atomic::AtomicBool>,
    writers: Vec<std::thread::JoinHandle<()>>,
    #[cfg(target_os = "linux")]
    inotify: Inotify,
}

#[cfg(unix)]
impl FifoWatch {
    pub fn start(paths: &[PathBuf]) -> FifoWatch {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        #[cfg(target_os = "linux")]
        let inotify = Inotify::watch_opens(paths);
        let opened: Arc<Vec<AtomicBool>> =
            Arc::new(paths.iter().map(|_| AtomicBool::new(false)).collect());
        let released = Arc::new(AtomicBool::new(false));
        let writers = paths
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let (path, opened, released) =
                    (path.clone(), Arc::clone(&opened), Arc::clone(&released));
                std::thread::spawn(move || {
                    // Each open blocks until a reader opens the FIFO; the writer is dropped
                    // (closed) at once, and opens again for the next reader, until released.
                    loop {
                        let writer = fs::OpenOptions::new().write(true).open(&path);
                        if released.load(Ordering::SeqCst) || writer.is_err() {
                            return;
                        }
                        opened[i].store(true, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        FifoWatch {
            paths: paths.to_vec(),
            opened,
            released,
            writers,
            #[cfg(target_os = "linux")]
            inotify,
        }
    }

    /// Ends the watch: the FIFOs that were opened since [`FifoWatch::start`].
    pub fn finish(self) -> Vec<PathBuf> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::sync::atomic::Ordering;
        // Read before our own opens below, which would be recorded too.
        #[cfg(target_os = "linux")]
        let seen = self.inotify.opened();
        self.released.store(true, Ordering::SeqCst);
        // A reader of our own lets every writer still waiting through.
        let releases: Vec<fs::File> = self
            .paths
            .iter()
            .map(|path| {
                fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(path)
                    .expect("open the FIFO to release its writer")
            })
            .collect();
        for writer in self.writers {
            writer.join().expect("FIFO writer thread");
        }
        drop(releases);
        self.paths
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                #[cfg(target_os = "linux")]
                let by_inotify = seen.contains(i);
                #[cfg(not(target_os = "linux"))]
                let by_inotify = false;
                by_inotify || self.opened[*i].load(Ordering::SeqCst)
            })
            .map(|(_, path)| path.clone())
            .collect()
    }
}

/// An inotify instance watching files for `IN_OPEN`.
#[cfg(target_os = "linux")]
struct Inotify {
    fd: std::os::fd::OwnedFd,
    /// Watch descriptor of each path, in order.
    watches: Vec<i32>,
}

#[cfg(target_os = "linux")]
impl Inotify {
    fn watch_opens(paths: &[PathBuf]) -> Inotify {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: inotify_init1 takes flags only and returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(
            raw >= 0,
            "inotify_init1: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `raw` is a descriptor we own and nothing else closes.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let watches = paths
            .iter()
            .map(|path| {
                let name = std::ffi::CString::new(path.as_os_str().as_bytes())
                    .expect("no NUL in a test path");
                // SAFETY: a valid descriptor and a NUL-terminated path.
                let wd = unsafe { libc::inotify_add_watch(raw, name.as_ptr(), libc::IN_OPEN) };
                assert!(
                    wd >= 0,
                    "inotify_add_watch: {}",
                    std::io::Error::last_os_error()
                );
                wd
            })
            .collect();
        Inotify { fd, watches }
    }

    /// Indexes of the watched paths opened so far.
    fn opened(&self) -> Vec<usize> {
        use std::os::fd::AsRawFd;
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            // SAFETY: reads into a buffer of the given length from our descriptor.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            if n <= 0 {
                return seen; // EAGAIN: no more events
            }
            let mut at = 0;
            while at + std::mem::size_of::<libc::inotify_event>() <= n as usize {
                // SAFETY: the kernel wrote whole events; read_unaligned copes with alignment.
                let event: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buffer[at..].as_ptr().cast()) };
                if event.mask & libc::IN_OPEN != 0 {
                    if let Some(i) = self.watches.iter().position(|&w| w == event.wd) {
                        seen.push(i);
                    }
                }
                at += std::mem::size_of::<libc::inotify_event>() + event.len as usize;
            }
        }
    }
}

/// Runs `cmd` with no stdin, and fails the test with the command if it has not ended after
/// `limit`: a hang detector for tests of code that once deadlocked, with a limit far beyond any
/// machine's time for the work (no test asserts how long work takes).
#[cfg(unix)]
pub fn run_or_report_hang(mut cmd: Command, limit: std::time::Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ctxpack");
    let pid = child.id() as libc::pid_t;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(limit) {
        Ok(output) => output.expect("wait for ctxpack"),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions; the child has not been reaped
            // (its waiter is still blocked), so the pid is still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("ctxpack hung: still running after {limit:?}: {cmd:?}");
        }
    }
}

pub fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run ctxpack")
}

/// The reference tokenizer, tiktoken-rs's own `count_ordinary`: never ctxpack's counter, which
/// splits text and remembers pieces on its own.
pub struct Reference(&'static tiktoken_rs::CoreBPE);

impl Reference {
    pub fn new(encoding: ctxpack::tokens::Encoding) -> Reference {
        Reference(match encoding {
            ctxpack::tokens::Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            ctxpack::tokens::Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        })
    }

    pub fn count(&self, text: &str) -> usize {
        self.0.count_ordinary(text)
    }
}

/// The whole document's token count, by the reference tokenizer, in its own encoding.
pub fn direct_count(doc: &Doc) -> usize {
    Reference::new(doc.encoding.parse().unwrap()).count(&doc.raw)
}

/// Runs `cmd` and insists that it succeeded.
pub fn run_ok(cmd: Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "ctxpack failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One `<file>` in `<files>`, as an XML parser reads it.
#[derive(Debug, Clone)]
pub struct PackedFile {
    pub text: String,
    pub tokens: usize,
    pub attrs: BTreeMap<String, String>,
}

/// A parsed document.
#[derive(Debug)]
pub struct Doc {
    pub raw: String,
    pub tokens: usize,
    pub encoding: String,
    pub files: BTreeMap<String, PackedFile>,
    /// Paths in `<files>`, in document order.
    pub order: Vec<String>,
    pub omitted: BTreeMap<String, String>,
    /// `<directory path reason files>` entries of `<omitted>`: files omitted inside a directory
    /// the collapsed tree of a budgeted document shows as one line.
    pub omitted_dirs: Vec<(String, String, usize)>,
    pub tree: String,
    pub summary: String,
    /// The `<plan>` element's text, in `pack --plan` documents.
    pub plan: Option<String>,
    /// The `<diff>` element's attributes and its `<patch>` elements, in `pack --diff` documents.
    pub diff: Option<(BTreeMap<String, String>, Vec<PackedFile>)>,
    /// The `<log>` element's text.
    pub log: Option<String>,
}

impl Doc {
    /// Whether the document says `path` is omitted for `reason`: by its own entry, or by the
    /// entry of a collapsed directory holding it.
    pub fn omits(&self, path: &str, reason: &str) -> bool {
        self.omitted.get(path).is_some_and(|r| r == reason)
            || self
                .omitted_dirs
                .iter()
                .any(|(dir, r, _)| r == reason && path.starts_with(dir.as_str()))
    }
}

/// Parses ctxpack output with roxmltree, a strict XML 1.0 parser unrelated to the writer.
pub fn parse(bytes: &[u8]) -> Doc {
    let raw = String::from_utf8(bytes.to_vec()).expect("the document is UTF-8");
    let (tokens, encoding, files, order, omitted, omitted_dirs, tree, summary, plan, diff, log) = {
        let doc = roxmltree::Document::parse(&raw).expect("the document is well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "context");
        let tokens = root
            .attribute("tokens")
            .expect("root has tokens")
            .parse()
            .expect("tokens is a number");
        let encoding = root.attribute("encoding").expect("root has encoding");
        let child = |name: &str| {
            root.children()
                .find(|n| n.has_tag_name(name))
                .unwrap_or_else(|| panic!("no <{name}> element"))
        };
        let mut files = BTreeMap::new();
        let mut order = Vec::new();
        for node in child("files").children().filter(|n| n.is_element()) {
            assert_eq!(node.tag_name().name(), "file");
            let attrs: BTreeMap<String, String> = node
                .attributes()
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect();
            let path = attrs["path"].clone();
            let text: String = node
                .children()
                .filter(|c| c.is_text())
                .map(|c| c.text().unwrap_or(""))
                .collect();
            let tokens = attrs["tokens"].parse().expect("file tokens is a number");
            order.push(path.clone());
            let previous = files.insert(
                path.clone(),
                PackedFile {
                    text,
                    tokens,
                    attrs,
                },
            );
            assert!(previous.is_none(), "{path} appears twice in <files>");
        }
        let mut omitted = BTreeMap::new();
        let mut omitted_dirs = Vec::new();
        for node in child("omitted").children().filter(|n| n.is_element()) {
            let path = node.attribute("path").expect("omitted path").to_string();
            if node.tag_name().name() == "directory" {
                assert!(path.ends_with('/'), "{path}: a directory path ends with /");
                let reason = node.attribute("reason").expect("omitted reason");
                let count = node
                    .attribute("files")
                    .and_then(|n| n.parse().ok())
                    .expect("a directory entry counts its files");
                omitted_dirs.push((path, reason.to_string(), count));
                continue;
            }
            assert_eq!(node.tag_name().name(), "file");
            let reason = node
                .attribute("reason")
                .expect("omitted reason")
                .to_string();
            assert!(
                !files.contains_key(&path),
                "{path} is both packed and omitted"
            );
            omitted.insert(path, reason);
        }
        let text_of = |name: &str| child(name).text().unwrap_or("").to_string();
        let all_text = |n: roxmltree::Node<'_, '_>| {
            n.children()
                .filter(|c| c.is_text())
                .map(|c| c.text().unwrap_or(""))
                .collect::<String>()
        };
        let attrs_of = |n: roxmltree::Node<'_, '_>| -> BTreeMap<String, String> {
            n.attributes()
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect()
        };
        let plan = root
            .children()
            .find(|n| n.has_tag_name("plan"))
            .map(all_text);
        let log = root
            .children()
            .find(|n| n.has_tag_name("log"))
            .map(all_text);
        let diff = root.children().find(|n| n.has_tag_name("diff")).map(|d| {
            let patches = d
                .children()
                .filter(|c| c.is_element())
                .map(|c| {
                    assert_eq!(c.tag_name().name(), "patch");
                    let attrs = attrs_of(c);
                    PackedFile {
                        text: all_text(c),
                        tokens: attrs["tokens"].parse().expect("patch tokens is a number"),
                        attrs,
                    }
                })
                .collect();
            (attrs_of(d), patches)
        });
        (
            tokens,
            encoding.to_string(),
            files,
            order,
            omitted,
            omitted_dirs,
            text_of("tree"),
            text_of("summary"),
            plan,
            diff,
            log,
        )
    };
    Doc {
        raw,
        tokens,
        encoding,
        files,
        order,
        omitted,
        omitted_dirs,
        tree,
        summary,
        plan,
        diff,
        log,
    }
}

/// What an XML parser must read back for a file's bytes: BOM gone, line ends as LF.
pub fn expected_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).expect("expected_text takes valid UTF-8");
    text.replace("\r\n", "\n").replace('\r', "\n")
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Copies a fixture tree into a fresh temporary tree.
pub fn copy_fixture(name: &str) -> TestEnv {
    let env = TestEnv::new();
    let base = fixture(name);
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(&base).unwrap();
            if path.is_dir() {
                stack.push(path.clone());
            } else {
                env.write(rel, fs::read(&path).unwrap());
            }
        }
    }
    env
}

/// The pinned Python packages some tests run for real: `llm` with its `llm-echo` model (a model
/// CLI), and the official MCP client.
pub const PYTHON_TOOLS: &str = "llm==0.36 llm-echo==0.5 mcp==2.3.0";

/// A Python virtual environment holding [`PYTHON_TOOLS`]: `$CTXPACK_TEST_VENV` when set (CI makes
/// one), else one made on first use under the target directory, from PyPI, and kept for later
/// runs. Returns its `bin` directory.
pub fn python_tools() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(venv) = std::env::var_os("CTXPACK_TEST_VENV").filter(|v| !v.is_empty()) {
            let bin = PathBuf::from(venv).join("bin");
            assert!(
                bin.join("llm").is_file() && bin.join("python").exists(),
                "CTXPACK_TEST_VENV={} lacks llm or python: pip install {PYTHON_TOOLS} there",
                bin.display()
            );
            return bin;
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-tools");
        let ready = venv.join("ready");
        if fs::read_to_string(&ready).is_ok_and(|r| r == PYTHON_TOOLS) {
            return venv.join("bin");
        }
        let status = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .expect("these tests need python3 (with venv) to install llm and mcp from PyPI");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(venv.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PYTHON_TOOLS.split(' '))
            .status()
            .expect("run pip");
        assert!(
            status.success(),
            "pip install {PYTHON_TOOLS} failed (these tests need PyPI, or CTXPACK_TEST_VENV)"
        );
        fs::write(&ready, PYTHON_TOOLS).expect("mark the environment ready");
        venv.join("bin")
    })
    .clone()
}

/// Runs git in `dir` with no user or system configuration, so that what it prints is git's
/// default; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = hermetic(Command::new("git"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn hermetic(mut cmd: Command) -> Command {
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z");
    cmd
}
