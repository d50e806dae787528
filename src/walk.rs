//! Which files exist and are eligible: ignore rules, globs, explicit paths, symlinks, special files.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{DirEntry, WalkBuilder, WalkState};

use crate::types::{shown_name, OmitReason, RelPath};

/// What the walk decided about one file.
#[derive(Debug, Clone)]
pub enum Status {
    /// A regular file to read.
    Load,
    /// Listed in the tree, but not read. Anything the user should hear about it (why a link or a
    /// directory could not be read) the walk has already said in its warnings.
    Omitted(OmitReason),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub rel: RelPath,
    pub abs: PathBuf,
    pub status: Status,
}

/// Flags that shape the walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    pub hidden: bool,
    pub no_ignore: bool,
    pub follow: bool,
    /// `--include` and `--exclude`, compiled (by config, so that a bad glob is a usage error).
    pub globs: Globs,
    /// A file never listed, by its exact path: the output file, which would otherwise be
    /// packed into the next run.
    pub skip: Option<PathBuf>,
    /// Files never listed, by name: the cache's stores, which change from run to run (whether
    /// or not this run uses the cache, so that both give the same document).
    pub skip_name: Option<fn(&str) -> bool>,
    pub threads: usize,
}

/// Which files to read and how: what every command that walks a tree is given.
#[derive(Debug, Clone)]
pub struct Source {
    pub inputs: WalkInputs,
    /// The root directory's own name, for the document (never a full machine path).
    pub root_name: String,
    pub walk: WalkOptions,
    pub max_file_size: u64,
    pub threads: usize,
}

impl Source {
    /// All of `root` (a canonical directory), with `include` and `exclude` globs, the ignore
    /// files, hidden files only with `hidden`, all cores, and the default size limit; `skip_name`
    /// leaves out files by name (the cache's stores).
    pub fn for_root(
        root: &Path,
        include: &[String],
        exclude: &[String],
        hidden: bool,
        skip_name: Option<fn(&str) -> bool>,
    ) -> Result<Source, GlobError> {
        let globs = Globs::new(root, include, exclude)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Source {
            root_name: root
                .file_name()
                .map(shown_name)
                .unwrap_or_else(|| "/".to_string()),
            inputs: WalkInputs {
                root: root.to_path_buf(),
                paths: vec![root.to_path_buf()],
            },
            walk: WalkOptions {
                hidden,
                no_ignore: false,
                follow: false,
                globs,
                skip: None,
                skip_name,
                threads,
            },
            max_file_size: 1 << 20,
            threads,
        })
    }
}

/// `given` (relative to `root`, or absolute), as a canonical path inside `root`, a canonical
/// directory: `..` that climbs out, an absolute path elsewhere, and a symbolic link whose target
/// lies outside are refused, before anything is read. The path must exist.
pub fn confine(root: &Path, given: &str) -> Result<PathBuf, String> {
    let joined = root.join(given);
    let resolved = std::fs::canonicalize(&joined).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{given}: no such file or directory"),
        _ => format!("{given}: {e}"),
    })?;
    if !resolved.starts_with(root) {
        return Err(format!(
            "{given}: outside the root {}; only paths inside it can be read",
            root.display()
        ));
    }
    Ok(resolved)
}

/// Inputs already resolved to absolute paths inside `root` (see config).
#[derive(Debug, Clone)]
pub struct WalkInputs {
    pub root: PathBuf,
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error(
        "{}: not a regular file (a FIFO, socket or device) but named like an ignore file, which \
         the walk would have to read and could block on; remove it, or pass --no-ignore",
        path.display()
    )]
    SpecialIgnoreFile { path: PathBuf },
    #[error("a worker thread panicked")]
    Panicked,
}

/// File extensions that are never text worth sending to a model. They are listed as omitted
/// (`binary`) without being opened.
const BINARY_EXTENSIONS: &[&str] = &[
    // images
    "png",
    "jpg",
    "jpeg",
    "gif",
    "bmp",
    "ico",
    "icns",
    "webp",
    "tif",
    "tiff",
    "psd",
    "heic",
    "avif",
    "xcf",
    "raw",
    "cr2",
    "nef", // audio and video
    "mp3",
    "wav",
    "ogg",
    "oga",
    "flac",
    "aac",
    "m4a",
    "opus",
    "mid",
    "midi",
    "mp4",
    "m4v",
    "mov",
    "avi",
    "mkv",
    "webm",
    "wmv",
    "flv",
    "mpg",
    "mpeg", // fonts
    "ttf",
    "otf",
    "woff",
    "woff2",
    "eot", // archives and packages
    "zip",
    "gz",
    "tgz",
    "bz2",
    "xz",
    "zst",
    "lz4",
    "7z",
    "rar",
    "tar",
    "jar",
    "war",
    "ear",
    "apk",
    "ipa",
    "deb",
    "rpm",
    "dmg",
    "iso",
    "whl",
    "gem",
    "nupkg",
    "crate",
    // compiled code and objects
    "exe",
    "dll",
    "so",
    "dylib",
    "a",
    "o",
    "obj",
    "lib",
    "pdb",
    "class",
    "pyc",
    "pyo",
    "wasm",
    "rlib",
    "rmeta",
    "bin",
    "elf",
    "node", // documents and data blobs
    "pdf",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "ppt",
    "pptx",
    "odt",
    "ods",
    "odp",
    "sqlite",
    "sqlite3",
    "db",
    "mdb",
    "parquet",
    "avro",
    "orc",
    "npy",
    "npz",
    "pkl",
    "pickle",
    "h5",
    "hdf5",
    "onnx",
    "pt",
    "pth",
    "ckpt",
    "safetensors",
    "tflite",
    "glb",
    "fbx",
    "blend",
    "swf",
    "dat",
];

fn has_binary_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| BINARY_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// `--include` / `--exclude` globs, in gitignore syntax, compiled. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Globs {
    include: Option<Arc<Gitignore>>,
    exclude: Option<Arc<Gitignore>>,
}

/// A glob that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid glob {glob:?}: {message}")]
pub struct GlobError {
    pub glob: String,
    pub message: String,
}

impl Globs {
    /// Whether there is no glob: every file passes.
    pub fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    /// Compiles the globs; anchored ones (`/src`, `src/*.rs`) are relative to `root`.
    pub fn new(root: &Path, include: &[String], exclude: &[String]) -> Result<Globs, GlobError> {
        let build = |globs: &[String]| -> Result<Option<Arc<Gitignore>>, GlobError> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut builder = GitignoreBuilder::new(root);
            for glob in globs {
                builder.add_line(None, glob).map_err(|err| GlobError {
                    glob: glob.clone(),
                    message: err.to_string(),
                })?;
            }
            let matcher = builder.build().map_err(|err| GlobError {
                glob: globs.join(" "),
                message: err.to_string(),
            })?;
            Ok(Some(Arc::new(matcher)))
        };
        Ok(Globs {
            include: build(include)?,
            exclude: build(exclude)?,
        })
    }

    fn excludes(&self, abs: &Path, is_dir: bool) -> bool {
        self.exclude
            .as_ref()
            .is_some_and(|m| m.matched_path_or_any_parents(abs, is_dir).is_ignore())
    }

    fn admits_file(&self, abs: &Path) -> bool {
        if self.excludes(abs, false) {
            return false;
        }
        self.include
            .as_ref()
            .is_none_or(|m| m.matched_path_or_any_parents(abs, false).is_ignore())
    }
}

fn is_git_dir(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == ".git")
}

/// The directory the handoff layer keeps its tasks in (prompts, packed documents, worktrees).
/// Below the walked root it is never walked, whatever the ignore files and flags say: packing it
/// would feed earlier prompts back into the next one.
pub const STATE_DIR: &str = ".ctxpack";

/// Hands every file under `inputs` to `visit`, once each, from several threads at once and in no
/// particular order (callers sort). Returns warnings for the user, sorted.
///
/// Visiting while walking lets reading and counting start with the first file found instead of
/// after the last one. `visit` should be quick (queue the work): the walker's threads move on to
/// the next directory only when it returns.
///
/// The walk ends early, without an error, once `visit` returns `Break`.
pub fn walk(
    inputs: &WalkInputs,
    opts: &WalkOptions,
    visit: &(dyn Fn(Entry) -> ControlFlow<()> + Sync),
) -> Result<Vec<String>, WalkError> {
    let root = inputs.root.as_path();
    let walk = Walk {
        root,
        opts,
        seen: Seen::default(),
        warnings: Mutex::new(Vec::new()),
        blocked: Arc::default(),
        visit,
        stopped: AtomicBool::new(false),
    };
    let mut dirs = Vec::new();

    for path in &inputs.paths {
        if walk.stopped() {
            break;
        }
        if path.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(path) else {
            // Vanished since config checked it: nothing to list.
            continue;
        };
        if meta.is_dir() {
            dirs.push(path.clone());
            continue;
        }
        if !meta.file_type().is_symlink() {
            walk.emit_file(path, classify(path, meta.file_type()));
            continue;
        }
        // A link named explicitly (or listed by `git ls-files`) is still a link: followed with
        // --follow only, like any other.
        if !opts.follow {
            walk.emit_file(path, Status::Omitted(OmitReason::Symlink));
            continue;
        }
        match walk.follow(path) {
            // The walker reads a root path without following it; a trailing `/` makes the
            // system resolve the link, while paths below it still start with the link's name.
            Ok(target) if target.is_dir() => dirs.push(path.join("")),
            Ok(target) => walk.emit_file(path, classify(path, target.file_type())),
            Err(reason) => walk.emit_file(path, Status::Omitted(reason)),
        }
    }

    if !opts.no_ignore {
        dirs = walk.without_special_ignore_files(dirs)?;
    }
    // Directories with the same ignore files above them share one walker.
    let mut groups: BTreeMap<Above, Vec<PathBuf>> = BTreeMap::new();
    for dir in dirs {
        groups.entry(walk.above(&dir)).or_default().push(dir);
    }
    for (above, dirs) in &groups {
        if !walk.stopped() {
            walk.walk_dirs(dirs, above);
        }
    }
    let blocked = std::mem::take(&mut *walk.blocked.lock().unwrap_or_else(|p| p.into_inner()));
    for file in blocked {
        walk.skipped_for_special_ignore_file(&file);
    }

    let mut warnings = walk
        .warnings
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    warnings.sort();
    Ok(warnings)
}

/// How many finished results may wait for the consumer: bounds memory when it falls behind.
const RESULT_QUEUE: usize = 256;

/// Walks `inputs` and runs `work` on each entry as soon as it is found, as a task on `pool`, so
/// that a flat directory of ten thousand files still spreads over every core. Results reach
/// `consume` on the calling thread, in no particular order. Returns the walk's warnings.
///
/// When `consume` returns `Break` (it failed, and keeps its own error), the walk and the work
/// still queued stop, and `walk_with` returns as soon as the tasks already running finish.
pub fn walk_with<R: Send>(
    inputs: &WalkInputs,
    opts: &WalkOptions,
    pool: &rayon::ThreadPool,
    work: &(dyn Fn(Entry) -> R + Sync),
    consume: &mut dyn FnMut(R) -> ControlFlow<()>,
) -> Result<Vec<String>, WalkError> {
    let stop = AtomicBool::new(false);
    let (sender, receiver) = std::sync::mpsc::sync_channel::<R>(RESULT_QUEUE);
    std::thread::scope(|scope| {
        let stop = &stop;
        let walker = scope.spawn(move || {
            pool.in_place_scope(|tasks| {
                let visit = |entry: Entry| {
                    if stop.load(Ordering::Relaxed) {
                        return ControlFlow::Break(());
                    }
                    let sender = sender.clone();
                    tasks.spawn(move |_| {
                        if !stop.load(Ordering::Relaxed) {
                            // Sending fails only once the consumer has stopped listening.
                            let _ = sender.send(work(entry));
                        }
                    });
                    ControlFlow::Continue(())
                };
                walk(inputs, opts, &visit)
            })
        });
        for result in receiver.iter() {
            if consume(result).is_break() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        // Unblocks any task waiting to send.
        drop(receiver);
        walker.join().map_err(|_| WalkError::Panicked)?
    })
}

/// Relative paths already visited: overlapping inputs (`src src/main.rs`) visit a file once.
#[derive(Default)]
/// Keyed by the raw relative path (compared component by component, byte for byte), which is
/// all identity needs.
struct Seen(Mutex<HashSet<PathBuf>>);

impl Seen {
    fn first_time(&self, root: &Path, abs: &Path) -> Option<RelPath> {
        let rel = abs.strip_prefix(root).ok()?;
        if rel.as_os_str().is_empty() {
            return None;
        }
        // A poisoned lock means another walker thread panicked; the set is still valid data.
        let first = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rel.to_path_buf());
        first.then(|| RelPath::from_relative(rel))
    }
}

/// What the walk knows of a file from its type and name alone.
fn classify(path: &Path, file_type: fs::FileType) -> Status {
    if file_type.is_symlink() {
        Status::Omitted(OmitReason::Symlink)
    } else if !file_type.is_file() {
        Status::Omitted(OmitReason::SpecialFile)
    } else if has_binary_extension(path) {
        Status::Omitted(OmitReason::Binary)
    } else {
        Status::Load
    }
}

/// One walk in progress: what every thread of it shares.
struct Walk<'a> {
    root: &'a Path,
    opts: &'a WalkOptions,
    seen: Seen,
    warnings: Mutex<Vec<String>>,
    /// Ignore files found to be FIFOs or devices: their directories were not walked.
    blocked: Arc<Mutex<Vec<PathBuf>>>,
    visit: &'a (dyn Fn(Entry) -> ControlFlow<()> + Sync),
    /// Set once `visit` asks for no more entries.
    stopped: AtomicBool,
}

impl Walk<'_> {
    /// Lists `abs` with `status`, unless it was listed before.
    fn emit(&self, abs: &Path, status: Status) {
        let skipped_name = self
            .opts
            .skip_name
            .is_some_and(|skip| abs.file_name().and_then(|n| n.to_str()).is_some_and(skip));
        if self.opts.skip.as_deref() == Some(abs) || skipped_name {
            return;
        }
        if let Some(rel) = self.seen.first_time(self.root, abs) {
            let flow = (self.visit)(Entry {
                rel,
                abs: abs.to_path_buf(),
                status,
            });
            if flow.is_break() {
                self.stopped.store(true, Ordering::Relaxed);
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Tells the walker to go on, or to quit once `visit` has asked for no more.
    fn state(&self, go_on: WalkState) -> WalkState {
        if self.stopped() {
            WalkState::Quit
        } else {
            go_on
        }
    }

    /// Lists a file (not a directory) if `--include`/`--exclude` admit it.
    fn emit_file(&self, abs: &Path, status: Status) {
        if self.opts.globs.admits_file(abs) {
            self.emit(abs, status);
        }
    }

    fn warn(&self, message: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
    }

    /// A path as the document shows it, for warnings.
    fn shown(&self, abs: &Path) -> String {
        match abs.strip_prefix(self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => RelPath::from_relative(rel).display(),
            _ => ".".to_string(),
        }
    }

    /// Where the symbolic link `link` leads, if it may be followed: its target must lie inside
    /// the root and exist. Warns about links that cannot be read.
    fn follow(&self, link: &Path) -> Result<fs::Metadata, OmitReason> {
        let unreadable = |err: std::io::Error| {
            if is_loop(&err) {
                return OmitReason::SymlinkLoop;
            }
            self.warn(format!("skipped {}: {err}", self.shown(link)));
            OmitReason::Unreadable
        };
        let target = fs::canonicalize(link).map_err(unreadable)?;
        if !target.starts_with(self.root) {
            return Err(OmitReason::OutsideRoot);
        }
        fs::metadata(&target).map_err(unreadable)
    }

    /// Drops the directories whose ignore files (or whose ancestors' ignore files) the walker
    /// could not read without blocking: it opens every `.gitignore`, `.ignore` and
    /// `.ctxpackignore` from `/` down, whatever the file is. Inside the root, such a directory is
    /// skipped with a warning; above it, nothing can be walked safely, which is an error.
    fn without_special_ignore_files(&self, dirs: Vec<PathBuf>) -> Result<Vec<PathBuf>, WalkError> {
        let mut kept = Vec::with_capacity(dirs.len());
        'dirs: for dir in dirs {
            for ancestor in dir.ancestors() {
                if let Some(file) = special_ignore_file(ancestor) {
                    if !ancestor.starts_with(self.root) {
                        return Err(WalkError::SpecialIgnoreFile { path: file });
                    }
                    self.blocked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(file);
                    continue 'dirs;
                }
            }
            kept.push(dir);
        }
        Ok(kept)
    }

    /// Lists `file`, an ignore file that is a FIFO or a device, and warns that its directory
    /// was skipped.
    fn skipped_for_special_ignore_file(&self, file: &Path) {
        let dir = file.parent().unwrap_or(self.root);
        let dir = if dir == self.root {
            "the root directory".to_string()
        } else {
            format!("{}/", self.shown(dir))
        };
        let name = file.file_name().unwrap_or_default();
        self.warn(format!(
            "skipped {dir}: its {} is not a regular file (a FIFO, socket or device) and reading \
             it would block; remove it, or pass --no-ignore",
            shown_name(name)
        ));
        self.emit_file(file, Status::Omitted(OmitReason::SpecialFile));
    }

    /// The ignore files above `dir` that apply to it: those of the directories from the top of
    /// the enclosing git repository down to `dir`'s parent, and the repository's `info/exclude`.
    /// Outside a repository, only directories inside the root count: a `~/.gitignore` holding
    /// `*` must not empty every pack under the home directory.
    fn above(&self, dir: &Path) -> Above {
        let top = dir
            .ancestors()
            .find(|a| fs::symlink_metadata(a.join(".git")).is_ok());
        let base = top.unwrap_or(self.root).to_path_buf();
        let mut files = Vec::new();
        if self.opts.no_ignore || top == Some(dir) {
            // The walker reads the ignore files of `dir` itself.
            return Above { base, files };
        }
        if let Some(exclude) = top.and_then(git_exclude_file).filter(|f| f.is_file()) {
            files.push((base.clone(), exclude));
        }
        let mut chain: Vec<&Path> = dir
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&base))
            .collect();
        chain.reverse();
        for ancestor in chain {
            for name in IGNORE_FILE_NAMES {
                let file = ancestor.join(name);
                if file.is_file() {
                    files.push((ancestor.to_path_buf(), file));
                }
            }
        }
        Above { base, files }
    }

    fn walk_dirs(&self, dirs: &[PathBuf], above: &Above) {
        let opts = self.opts;
        let mut builder = WalkBuilder::new(&dirs[0]);
        for dir in &dirs[1..] {
            builder.add(dir);
        }
        let use_ignores = !opts.no_ignore;
        builder
            .hidden(!opts.hidden)
            .ignore(use_ignores)
            .git_ignore(use_ignores)
            .git_global(use_ignores)
            .git_exclude(use_ignores)
            // The walker would apply every ignore file from / down (it reads them regardless:
            // see without_special_ignore_files); `above` says which ones really apply.
            .parents(false)
            // People pack unpacked tarballs: .gitignore counts without a .git directory too.
            .require_git(false)
            .follow_links(opts.follow)
            .threads(opts.threads.max(1));
        if use_ignores {
            builder.add_custom_ignore_filename(".ctxpackignore");
            // add_ignore anchors a file's patterns at the builder's current directory, so each
            // is added with its own directory current. Files added later take precedence, as a
            // deeper ignore file does in git; all of them yield to the ignore files inside the
            // walked directories, and (unlike in git) to the global excludes.
            for (dir, file) in &above.files {
                builder.current_dir(dir);
                if let Some(err) = builder.add_ignore(file) {
                    self.warn(format!("ignore file {}: {err}", file.display()));
                }
            }
            // Global excludes are anchored at the top of the repository, as in git.
            builder.current_dir(&above.base);
        }
        let filter_globs = self.opts.globs.clone();
        let blocked = Arc::clone(&self.blocked);
        // Runs before the walker opens a directory's ignore files.
        builder.filter_entry(move |entry| {
            let path = entry.path();
            if is_git_dir(path) {
                return false;
            }
            if !entry.file_type().is_some_and(|t| t.is_dir()) || entry.depth() == 0 {
                return true;
            }
            if path.file_name().is_some_and(|n| n == STATE_DIR) {
                return false;
            }
            if filter_globs.excludes(path, true) {
                return false;
            }
            if let Some(file) = use_ignores.then(|| special_ignore_file(path)).flatten() {
                blocked.lock().unwrap_or_else(|p| p.into_inner()).push(file);
                return false;
            }
            true
        });

        builder.build_parallel().run(|| {
            Box::new(move |result| match result {
                Ok(entry) => self.state(self.visit_entry(&entry)),
                Err(err) => {
                    self.record_error(err);
                    self.state(WalkState::Continue)
                }
            })
        });
    }

    fn visit_entry(&self, entry: &DirEntry) -> WalkState {
        let Some(file_type) = entry.file_type() else {
            return WalkState::Continue;
        };
        let path = entry.path();
        if let Some(err) = entry.error() {
            // The ignore files of this directory could not all be read.
            self.warn(format!("ignore file in {}: {err}", self.shown(path)));
        }
        if self.opts.follow && entry.path_is_symlink() {
            // The walker has followed the link; it must not lead out of the root.
            if let Err(reason) = self.follow(path) {
                self.emit_file(path, Status::Omitted(reason));
                return WalkState::Skip;
            }
        }
        if !file_type.is_dir() {
            self.emit_file(path, classify(path, file_type));
        }
        WalkState::Continue
    }

    /// Turns what the walker could not read into omitted entries and one warning each.
    fn record_error(&self, err: ignore::Error) {
        let (path, inner) = unwrap_error(&err);
        match (path, inner) {
            (_, ignore::Error::Loop { child, .. }) => {
                self.emit(child, Status::Omitted(OmitReason::SymlinkLoop));
            }
            (Some(path), ignore::Error::Io(io)) if is_loop(io) => {
                self.emit(path, Status::Omitted(OmitReason::SymlinkLoop));
            }
            (Some(path), inner) if is_ignore_file_name(path) => {
                self.warn(format!("ignore file {}: {inner}", self.shown(path)));
            }
            (Some(path), inner) => {
                self.warn(format!("skipped {}: {inner}", self.shown(path)));
                self.emit(path, Status::Omitted(OmitReason::Unreadable));
            }
            (None, inner) => self.warn(inner.to_string()),
        }
    }
}

/// The ignore files above a walked directory that apply to it, shallowest first, each with the
/// directory its patterns are anchored at; and the directory global excludes are anchored at.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Above {
    base: PathBuf,
    files: Vec<(PathBuf, PathBuf)>,
}

/// The ignore files the walker reads in every directory, when ignore rules are on.
const IGNORE_FILE_NAMES: [&str; 3] = [".gitignore", ".ignore", ".ctxpackignore"];

/// An ignore file of `dir` that exists but is neither a regular file nor a directory: a FIFO
/// (opening it blocks until a writer comes), a socket or a device (`/dev/zero` never ends).
fn special_ignore_file(dir: &Path) -> Option<PathBuf> {
    IGNORE_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .chain(git_exclude_file(dir))
        .find(|file| fs::metadata(file).is_ok_and(|m| !m.is_file() && !m.is_dir()))
}

/// The `info/exclude` file of the repository whose `.git` is in `dir`, if `dir` has one. In a
/// worktree or submodule `.git` is a file, `gitdir: PATH`, and the exclude file is in the common
/// directory that `PATH/commondir` names (or in `PATH` itself).
fn git_exclude_file(dir: &Path) -> Option<PathBuf> {
    let dot_git = dir.join(".git");
    let meta = fs::metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git.join("info").join("exclude"));
    }
    let line = first_line(&dot_git)?;
    let git_dir = dir.join(line.strip_prefix("gitdir:")?.trim());
    let common = match first_line(&git_dir.join("commondir")) {
        Some(common) => git_dir.join(common.trim()),
        None => git_dir,
    };
    Some(common.join("info").join("exclude"))
}

/// The first line of a small regular file; `None` for anything else.
fn first_line(path: &Path) -> Option<String> {
    if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let text = fs::read_to_string(path).ok()?;
    text.lines().next().map(str::to_string)
}

/// `.gitignore`, `.ignore`, `.ctxpackignore`, `info/exclude` and the like.
fn is_ignore_file_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| (n.starts_with('.') && n.ends_with("ignore")) || n == "exclude")
}

/// Whether `err` says that symbolic links went round in a circle (`a -> b`, `b -> a`).
fn is_loop(err: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        err.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

/// Peels `WithPath`/`WithDepth`/`WithLineNumber` wrappers off an ignore error.
fn unwrap_error(err: &ignore::Error) -> (Option<&Path>, &ignore::Error) {
    let mut path = None;
    let mut current = err;
    loop {
        match current {
            ignore::Error::WithPath { path: p, err } => {
                path = Some(p.as_path());
                current = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                current = err;
            }
            other => return (path, other),
        }
    }
}
