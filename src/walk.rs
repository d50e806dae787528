//! Which files exist and are eligible: ignore rules, globs, explicit paths, symlinks, special files.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{DirEntry, WalkBuilder, WalkState};

/// Why a file considered by the walk is not in `<files>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OmitReason {
    /// A known binary or media extension, or a NUL byte near the start.
    Binary,
    /// Larger than `--max-file-size`.
    TooLarge,
    /// Could not be opened or read.
    Unreadable,
    /// A symbolic link, not followed (see `--follow`).
    Symlink,
    /// A symbolic link that leads back into one of its own ancestors.
    SymlinkLoop,
    /// A symbolic link whose target lies outside the root.
    OutsideRoot,
    /// A FIFO, socket or device: never opened.
    SpecialFile,
}

impl OmitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            OmitReason::Binary => "binary",
            OmitReason::TooLarge => "too-large",
            OmitReason::Unreadable => "unreadable",
            OmitReason::Symlink => "symlink",
            OmitReason::SymlinkLoop => "symlink-loop",
            OmitReason::OutsideRoot => "outside-root",
            OmitReason::SpecialFile => "special-file",
        }
    }
}

impl fmt::Display for OmitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A path relative to the root.
///
/// Identity and order come from the raw name bytes, so that two names which differ only in bytes
/// that are not UTF-8 stay two files, in the same order on every run. What the document shows is
/// a text form of each component ([`shown_name`]), unique and safe in XML.
#[derive(Debug, Clone)]
pub struct RelPath {
    raw: Vec<OsString>,
    shown: Vec<String>,
}

impl RelPath {
    fn from_relative(rel: &Path) -> RelPath {
        let raw: Vec<OsString> = rel
            .components()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        let shown = raw.iter().map(|c| shown_name(c)).collect();
        RelPath { raw, shown }
    }

    /// The components as the document shows them.
    pub fn components(&self) -> &[String] {
        &self.shown
    }

    /// The `/`-joined path as the document shows it.
    pub fn display(&self) -> String {
        self.shown.join("/")
    }
}

// `shown` is a function of `raw`, so comparing `raw` alone is comparing the whole path.
impl PartialEq for RelPath {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for RelPath {}

impl std::hash::Hash for RelPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl PartialOrd for RelPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RelPath {
    /// Component by component, each by its raw bytes.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}

/// A file name as text that is unique and that XML 1.0 can carry: a byte that is not part of
/// valid UTF-8, or that encodes a character XML forbids (C0 controls other than tab, LF and CR;
/// U+FFFE, U+FFFF), is written `\xHH`. A backslash followed by `x` is itself written `\x5C`, so
/// every `\x` in a shown name starts an escape and distinct names never look alike. Any other
/// character, backslashes included, is shown as it is.
pub fn shown_name(name: &OsStr) -> String {
    let bytes = name.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    let escape = |out: &mut String, bytes: &[u8]| {
        for b in bytes {
            out.push_str(&format!("\\x{b:02X}"));
        }
    };
    for chunk in bytes.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.peek() == Some(&'x') {
                out.push_str("\\x5C");
            } else if crate::load::xml_allows(c) {
                out.push(c);
            } else {
                escape(&mut out, c.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
        escape(&mut out, chunk.invalid());
    }
    out
}

/// What the walk decided about one file.
#[derive(Debug, Clone)]
pub enum Status {
    /// A regular file to read.
    Load,
    /// Listed in the tree, but not read.
    Omitted(OmitReason, Option<String>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub rel: RelPath,
    pub abs: PathBuf,
    pub status: Status,
    /// Size on disk as the walk saw it (0 for omitted entries it did not stat).
    pub size: u64,
}

/// Flags that shape the walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    pub hidden: bool,
    pub no_ignore: bool,
    pub follow: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub threads: usize,
}

/// Inputs already resolved to absolute paths inside `root` (see config).
#[derive(Debug, Clone)]
pub struct WalkInputs {
    pub root: PathBuf,
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("invalid glob {glob:?}: {message}")]
    Glob { glob: String, message: String },
    #[error(transparent)]
    Consumer(#[from] std::io::Error),
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

/// `--include` / `--exclude` globs, in gitignore syntax.
struct Globs {
    include: Option<Gitignore>,
    exclude: Option<Gitignore>,
}

impl Globs {
    fn new(root: &Path, opts: &WalkOptions) -> Result<Globs, WalkError> {
        let build = |globs: &[String]| -> Result<Option<Gitignore>, WalkError> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut builder = GitignoreBuilder::new(root);
            for glob in globs {
                builder
                    .add_line(None, glob)
                    .map_err(|err| WalkError::Glob {
                        glob: glob.clone(),
                        message: err.to_string(),
                    })?;
            }
            builder.build().map(Some).map_err(|err| WalkError::Glob {
                glob: globs.join(" "),
                message: err.to_string(),
            })
        };
        Ok(Globs {
            include: build(&opts.include)?,
            exclude: build(&opts.exclude)?,
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

/// Hands every file under `inputs` to `visit`, once each, from several threads at once and in no
/// particular order (callers sort). Returns warnings for the user, sorted.
///
/// Visiting while walking lets reading and counting start with the first file found instead of
/// after the last one. `visit` should be quick (queue the work): the walker's threads move on to
/// the next directory only when it returns.
pub fn walk(
    inputs: &WalkInputs,
    opts: &WalkOptions,
    visit: &(dyn Fn(Entry) + Sync),
) -> Result<Vec<String>, WalkError> {
    let root = inputs.root.as_path();
    let globs = Arc::new(Globs::new(root, opts)?);
    let seen = Seen::default();
    let emit = |abs: &Path, status: Status, size: u64| {
        if let Some(rel) = seen.first_time(root, abs) {
            visit(Entry {
                rel,
                abs: abs.to_path_buf(),
                status,
                size,
            });
        }
    };
    let warnings: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut dirs = Vec::new();
    let mut files = Vec::new();

    for path in &inputs.paths {
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
            files.push((path.clone(), meta));
            continue;
        }
        // A link named explicitly is followed, but only to a target inside the root.
        match fs::canonicalize(path) {
            Ok(target) if target.starts_with(root) => match fs::metadata(&target) {
                Ok(m) if m.is_dir() => dirs.push(path.clone()),
                Ok(m) => files.push((path.clone(), m)),
                Err(_) => files.push((path.clone(), meta)),
            },
            Ok(_) => emit(path, omitted(OmitReason::OutsideRoot, None), 0),
            Err(err) => emit(
                path,
                omitted(OmitReason::Unreadable, Some(err.to_string())),
                0,
            ),
        }
    }

    for (abs, meta) in &files {
        if globs.admits_file(abs) {
            emit(abs, classify_file(abs, meta), meta.len());
        }
    }

    if !dirs.is_empty() {
        walk_dirs(root, &dirs, opts, &globs, &emit, &warnings);
    }

    let mut warnings = warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    warnings.sort();
    Ok(warnings)
}

/// How many finished results may wait for the consumer: bounds memory when it falls behind.
const RESULT_QUEUE: usize = 256;

/// Walks `inputs` and runs `work` on each entry as soon as it is found, as a task on `pool`, so
/// that a flat directory of ten thousand files still spreads over every core. Results reach
/// `consume` on the calling thread, in no particular order. Returns the walk's warnings.
pub fn walk_with<R: Send>(
    inputs: &WalkInputs,
    opts: &WalkOptions,
    pool: &rayon::ThreadPool,
    work: &(dyn Fn(Entry) -> R + Sync),
    consume: &mut dyn FnMut(R) -> std::io::Result<()>,
) -> Result<Vec<String>, WalkError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<R>(RESULT_QUEUE);
    std::thread::scope(|scope| {
        let walker = scope.spawn(move || {
            pool.in_place_scope(|tasks| {
                let visit = |entry: Entry| {
                    let sender = sender.clone();
                    tasks.spawn(move |_| {
                        // The consumer hangs up only after an error, which it reports itself.
                        let _ = sender.send(work(entry));
                    });
                };
                walk(inputs, opts, &visit)
            })
        });
        let mut consumed = Ok(());
        for result in receiver.iter() {
            consumed = consume(result);
            if consumed.is_err() {
                break;
            }
        }
        drop(receiver);
        let walked = walker.join().map_err(|_| WalkError::Panicked)?;
        consumed?;
        walked
    })
}

/// Relative paths already visited: overlapping inputs (`src src/main.rs`) visit a file once.
#[derive(Default)]
struct Seen(Mutex<HashSet<RelPath>>);

impl Seen {
    fn first_time(&self, root: &Path, abs: &Path) -> Option<RelPath> {
        let rel = abs.strip_prefix(root).ok()?;
        if rel.as_os_str().is_empty() {
            return None;
        }
        let rel = RelPath::from_relative(rel);
        // A poisoned lock means another walker thread panicked; the set is still valid data.
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(rel.clone()).then_some(rel)
    }
}

fn omitted(reason: OmitReason, detail: Option<String>) -> Status {
    Status::Omitted(reason, detail)
}

fn classify_file(abs: &Path, meta: &fs::Metadata) -> Status {
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        omitted(OmitReason::Symlink, None)
    } else if !file_type.is_file() {
        omitted(OmitReason::SpecialFile, None)
    } else if has_binary_extension(abs) {
        omitted(OmitReason::Binary, None)
    } else {
        Status::Load
    }
}

fn walk_dirs(
    root: &Path,
    dirs: &[PathBuf],
    opts: &WalkOptions,
    globs: &Arc<Globs>,
    emit: &(dyn Fn(&Path, Status, u64) + Sync),
    warnings: &Mutex<Vec<String>>,
) {
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
        .parents(use_ignores)
        // People pack unpacked tarballs: .gitignore counts without a .git directory too.
        .require_git(false)
        .follow_links(opts.follow)
        .threads(opts.threads.max(1));
    if use_ignores {
        builder.add_custom_ignore_filename(".ctxpackignore");
    }
    let filter_globs = Arc::clone(globs);
    builder.filter_entry(move |entry| {
        if is_git_dir(entry.path()) {
            return false;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        !(is_dir && entry.depth() > 0 && filter_globs.excludes(entry.path(), true))
    });

    builder.build_parallel().run(|| {
        let globs = Arc::clone(globs);
        Box::new(move |result| {
            match result {
                Ok(entry) => return visit(root, &entry, opts, &globs, emit),
                Err(err) => record_walk_error(root, err, emit, warnings),
            }
            WalkState::Continue
        })
    });
}

fn visit(
    root: &Path,
    entry: &DirEntry,
    opts: &WalkOptions,
    globs: &Globs,
    emit: &(dyn Fn(&Path, Status, u64) + Sync),
) -> WalkState {
    let Some(file_type) = entry.file_type() else {
        return WalkState::Continue;
    };
    let path = entry.path();
    if opts.follow && entry.path_is_symlink() {
        // Followed links must stay inside the root.
        match fs::canonicalize(path) {
            Ok(target) if target.starts_with(root) => {}
            Ok(_) => {
                if globs.admits_file(path) {
                    emit(path, omitted(OmitReason::OutsideRoot, None), 0);
                }
                return WalkState::Skip;
            }
            Err(err) => {
                emit(
                    path,
                    omitted(OmitReason::Unreadable, Some(err.to_string())),
                    0,
                );
                return WalkState::Skip;
            }
        }
    }
    if file_type.is_dir() {
        return WalkState::Continue;
    }
    if !globs.admits_file(path) {
        return WalkState::Continue;
    }
    let (status, size) = if file_type.is_symlink() {
        (omitted(OmitReason::Symlink, None), 0)
    } else if !file_type.is_file() {
        (omitted(OmitReason::SpecialFile, None), 0)
    } else if has_binary_extension(path) {
        (omitted(OmitReason::Binary, None), 0)
    } else {
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        (Status::Load, size)
    };
    emit(path, status, size);
    WalkState::Continue
}

fn record_walk_error(
    root: &Path,
    err: ignore::Error,
    emit: &(dyn Fn(&Path, Status, u64) + Sync),
    warnings: &Mutex<Vec<String>>,
) {
    let (path, inner) = unwrap_error(&err);
    match (path, inner) {
        (_, ignore::Error::Loop { child, .. }) => {
            emit(child, omitted(OmitReason::SymlinkLoop, None), 0);
        }
        (Some(path), inner) => {
            let detail = inner.to_string();
            let is_ignore_file = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.ends_with("ignore"));
            if is_ignore_file {
                warn(
                    warnings,
                    format!("ignore file {}: {detail}", path.display()),
                );
            } else {
                let rel = path.strip_prefix(root).unwrap_or(path);
                warn(warnings, format!("skipped {}: {detail}", rel.display()));
                emit(path, omitted(OmitReason::Unreadable, Some(detail)), 0);
            }
        }
        (None, inner) => warn(warnings, inner.to_string()),
    }
}

fn warn(warnings: &Mutex<Vec<String>>, message: String) {
    warnings
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(message);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn os(bytes: &[u8]) -> &OsStr {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(bytes)
    }

    #[cfg(unix)]
    #[test]
    fn names_that_lossy_decoding_merges_stay_distinct() {
        assert_eq!(shown_name(os(b"d\xff")), "d\\xFF");
        assert_eq!(shown_name(os(b"d\xfe")), "d\\xFE");
        assert_eq!(shown_name(os(b"c\x01.txt")), "c\\x01.txt");
        assert_eq!(shown_name(os(b"c\x02.txt")), "c\\x02.txt");
        assert_eq!(
            shown_name(os("caf\u{e9} \u{FFFF}".as_bytes())),
            "caf\u{e9} \\xEF\\xBF\\xBF"
        );
        // Tab, LF and CR are allowed in XML (attributes escape them as character references).
        assert_eq!(shown_name(os(b"a\tb\nc")), "a\tb\nc");
        // A literal `\x` cannot pass for an escape.
        assert_eq!(shown_name(os(b"a\\xFF")), "a\\x5CxFF");
        assert_eq!(shown_name(os(b"a\\b\\")), "a\\b\\");

        let a = RelPath::from_relative(Path::new(os(b"d\xff/x")));
        let b = RelPath::from_relative(Path::new(os(b"d\xfe/x")));
        assert_ne!(a, b);
        assert!(b < a, "ordered by raw bytes");
        assert_ne!(a.display(), b.display());
    }
}
