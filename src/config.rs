//! Validated, immutable settings, built once from the command line (and stdin lists): the
//! library's [`Request`] and what only the command line needs besides.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::cli::{
    BudgetArgs, ChangeArgs, CountingArgs, Limit, PackArgs, SecretsChoice, SourceArgs, StatsArgs,
};
use crate::pack::{DiffRequest, Output, Request};
use crate::render::Format;
use crate::secrets;
use crate::tokens::Encoding;
use crate::types::Fidelity;
use crate::walk::{GlobError, Globs, Source, WalkInputs, WalkOptions};

/// Why the settings could not be built: mostly a mistake in what the user asked for (a usage
/// error, exit code 2), sometimes a failure to find out (see [`ConfigError::is_usage`]).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path} is outside the root {root}; pass --root with a directory that contains it")]
    OutsideRoot { path: String, root: String },
    #[error("--root {path}: not a directory")]
    RootNotDirectory { path: String },
    #[error("{path}: {message}")]
    Unusable { path: String, message: String },
    #[error("--include/--exclude: {0}")]
    Glob(#[from] GlobError),
    #[error(
        "--include {globs}: only '!' globs, which take files away from what other --include \
         globs match, so nothing would be packed; to leave files out, use --exclude {suggestion}"
    )]
    OnlyNegatedIncludes { globs: String, suggestion: String },
    #[error("{0}")]
    Invalid(String),
    #[error("could not read the path list from stdin: {0}")]
    Stdin(io::Error),
    #[error("cannot read the current directory: {0}")]
    CurrentDir(io::Error),
}

impl ConfigError {
    /// Whether the user asked for something impossible (exit 2), rather than the system failing
    /// to tell what they asked for (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, ConfigError::Stdin(_) | ConfigError::CurrentDir(_))
    }
}

/// Which files to read, checked: shared by every command that walks a tree. `stdin` is read only
/// with `--stdin`.
pub fn source(args: &SourceArgs, stdin: &mut dyn Read) -> Result<Source, ConfigError> {
    let cwd = std::env::current_dir().map_err(ConfigError::CurrentDir)?;
    let (root, root_is_the_path) = choose_root(args, &cwd)?;

    let mut paths = Vec::new();
    if !root_is_the_path {
        for path in &args.paths {
            paths.push(resolve_inside(&root, &cwd.join(path), path)?);
        }
    }
    if args.stdin {
        let mut raw = Vec::new();
        stdin.read_to_end(&mut raw).map_err(ConfigError::Stdin)?;
        // Relative to the current directory, like PATH arguments: `git ls-files` prints
        // paths relative to where it runs.
        for listed in split_list(&raw, args.null) {
            let shown = PathBuf::from(&listed);
            paths.push(resolve_inside(&root, &cwd.join(&listed), &shown)?);
        }
        if paths.is_empty() {
            return Err(ConfigError::Invalid(
                "--stdin was given but standard input listed no paths".into(),
            ));
        }
    }
    if paths.is_empty() {
        paths.push(root.clone());
    }
    let threads = match args.threads {
        Some(0) => return Err(ConfigError::Invalid("--threads must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let root_name = root
        .file_name()
        .map(crate::types::shown_name)
        .unwrap_or_else(|| "/".to_string());
    let globs = compile_globs(&root, &args.include, &args.exclude)?;
    Ok(Source {
        inputs: WalkInputs { root, paths },
        root_name,
        walk: WalkOptions {
            hidden: args.hidden,
            no_ignore: args.no_ignore,
            follow: args.follow,
            globs,
            skip: None,
            skip_name: Some(crate::cache::is_store_name),
            threads,
        },
        max_file_size: args.max_file_size,
        threads,
    })
}

/// Everything `pack` needs, checked: the request for the library, and what only the command
/// line has (where the document goes, whether to report, the plan's file).
#[derive(Debug, Clone)]
pub struct PackConfig {
    pub request: Request,
    /// The document's destination: stdout when `None`.
    pub output: Option<PathBuf>,
    pub quiet: bool,
    /// `--verbose`: the whole stderr summary.
    pub verbose: bool,
    /// Things the user should know (printed on stderr unless --quiet).
    pub notes: Vec<String>,
    /// Where the cache between runs lives; `None` with --no-cache.
    pub cache_dir: Option<PathBuf>,
    /// With --plan: the plan to pack for (`-`: standard input), read by the command.
    pub plan: Option<PathBuf>,
}

impl PackConfig {
    /// Validates `args`. `stdin` is read only with `--stdin`.
    pub fn from_args(args: PackArgs, stdin: &mut dyn Read) -> Result<PackConfig, ConfigError> {
        let mut config = PackConfig::from_parts(
            &args.source,
            &args.budget,
            &args.change,
            &args.counting,
            stdin,
        )?;
        let cwd = std::env::current_dir().map_err(ConfigError::CurrentDir)?;
        let output = match &args.output {
            Some(path) => Some(check_output(&cwd.join(path), path)?),
            None => None,
        };
        // Never pack our own previous output: it is skipped by its exact path (a glob built from
        // the name would have to escape every glob character, and `{` is easy to miss).
        config.request.source.walk.skip = output.clone();
        config.output = output;
        config.request.fidelity = args.fidelity;
        config.quiet = args.quiet;
        config.verbose = args.verbose;
        if let Some(plan) = &args.plan {
            // `pack --plan` without --budget gets a window a coder model commonly has.
            config.request.budget = config
                .request
                .budget
                .or(Some(crate::pack::DEFAULT_PLAN_BUDGET));
            // Kept as given: it is read relative to the current directory, and errors name it
            // the way the user wrote it.
            config.plan = Some(plan.clone());
        }
        Ok(config)
    }

    /// The settings every pack shares, validated: what to read, the budget, the focus, how to
    /// count and what to do with secrets. The document goes to stdout, in full, with a summary.
    fn from_parts(
        source_args: &SourceArgs,
        budget: &BudgetArgs,
        change: &ChangeArgs,
        counting: &CountingArgs,
        stdin: &mut dyn Read,
    ) -> Result<PackConfig, ConfigError> {
        let source = source(source_args, stdin)?;
        let cwd = std::env::current_dir().map_err(ConfigError::CurrentDir)?;

        let mut notes = Vec::new();
        let encoding = match (&counting.encoding, &counting.model) {
            (Some(name), _) => name.parse().map_err(ConfigError::Invalid)?,
            (None, Some(model)) => {
                let (encoding, note) = Encoding::for_model(model).map_err(ConfigError::Invalid)?;
                notes.extend(note);
                encoding
            }
            (None, None) => Encoding::O200kBase,
        };

        let budget_tokens = match (budget.budget, budget.reserve) {
            (Some(budget), Some(reserve)) if reserve >= budget => {
                return Err(ConfigError::Invalid(format!(
                    "--reserve {reserve} leaves nothing of --budget {budget}"
                )))
            }
            (Some(budget), reserve) => Some(budget - reserve.unwrap_or(0)),
            (None, _) => None,
        };
        let mut focus = Vec::new();
        for given in &budget.focus {
            let path = cwd.join(given);
            if fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                let text = fs::read_to_string(&path).map_err(|e| ConfigError::Unusable {
                    path: given.clone(),
                    message: format!("cannot read this --focus file: {e}"),
                })?;
                focus.push(text);
            } else {
                focus.push(given.clone());
            }
        }
        let cache_dir = match &counting.cache_dir {
            _ if counting.no_cache => None,
            Some(dir) => Some(cwd.join(dir)),
            None => Cache::configured_dir(&cwd),
        };
        Ok(PackConfig {
            request: Request {
                source,
                encoding,
                secrets: secrets_mode(counting.secrets),
                format: Format::Xml,
                fidelity: Fidelity::Full,
                budget: budget_tokens,
                focus,
                plan: None,
                diff: change.diff.as_ref().map(|base| DiffRequest {
                    // `--diff` alone, or with an empty value: uncommitted work against HEAD.
                    base: base.clone().filter(|b| !b.trim().is_empty()),
                    log: change.git_log,
                    untracked: change.untracked,
                    only: None,
                }),
                output: Output::Document,
            },
            output: None,
            quiet: false,
            verbose: false,
            notes,
            cache_dir,
            plan: None,
        })
    }

    /// The cache for this pack's root (disabled with --no-cache), and a note if it cannot be
    /// used.
    pub fn open_cache(&self) -> (Cache, Option<String>) {
        let cache = match &self.cache_dir {
            Some(dir) => Cache::open(dir, &self.request.source.inputs.root),
            None => Cache::disabled(),
        };
        let note = cache
            .warning()
            .map(|warning| format!("the cache was not used: {warning}"));
        (cache, note)
    }
}

/// Everything `stats` needs, checked: the pack it describes, and how to show it.
#[derive(Debug, Clone)]
pub struct StatsConfig {
    /// The pack whose decisions are shown: the one `pack` would run with the same flags.
    pub pack: PackConfig,
    /// With --budget: the tokens kept free (`pack.request.budget` is what is left).
    pub reserve: usize,
    pub json: bool,
    pub depth: Limit,
    pub entries: Limit,
    pub top: usize,
}

impl StatsConfig {
    /// Validates `args`. `stdin` is read only with `--stdin`.
    pub fn from_args(args: StatsArgs, stdin: &mut dyn Read) -> Result<StatsConfig, ConfigError> {
        let mut pack = PackConfig::from_parts(
            &args.source,
            &args.budget,
            &args.change,
            &args.counting,
            stdin,
        )?;
        pack.quiet = args.quiet;
        // Without a budget, stats needs only the counts, not a document.
        pack.request.output = Output::Report;
        Ok(StatsConfig {
            pack,
            reserve: args.budget.reserve.unwrap_or(0),
            json: args.json,
            depth: args.depth,
            entries: args.entries,
            top: args.top,
        })
    }
}

/// Compiles --include and --exclude. An include list made only of `!` globs admits nothing:
/// almost certainly an --exclude in disguise.
fn compile_globs(
    root: &Path,
    include: &[String],
    exclude: &[String],
) -> Result<Globs, ConfigError> {
    if !include.is_empty() && include.iter().all(|g| g.starts_with('!')) {
        let quoted = |globs: Vec<&str>| {
            globs
                .iter()
                .map(|g| format!("'{g}'"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        return Err(ConfigError::OnlyNegatedIncludes {
            globs: quoted(include.iter().map(String::as_str).collect()),
            suggestion: quoted(include.iter().map(|g| &g[1..]).collect()),
        });
    }
    Ok(Globs::new(root, include, exclude)?)
}

/// The root, and whether it is the one PATH given (which then needs no resolving: a link to a
/// directory given as the only PATH is where the user asked to start, like `cd`).
///
/// With --stdin the one-directory rule does not apply: a PATH is then one more input beside the
/// list, and the root is --root or the current directory.
fn choose_root(args: &SourceArgs, cwd: &Path) -> Result<(PathBuf, bool), ConfigError> {
    if let Some(root) = &args.root {
        let abs = cwd.join(root);
        let shown = root.display().to_string();
        let meta = fs::metadata(&abs).map_err(|_| ConfigError::NotFound {
            path: shown.clone(),
        })?;
        if !meta.is_dir() {
            return Err(ConfigError::RootNotDirectory { path: shown });
        }
        return Ok((canonical(&abs, root)?, false));
    }
    if let (false, [only]) = (args.stdin, args.paths.as_slice()) {
        let abs = cwd.join(only);
        if fs::metadata(&abs).is_ok_and(|m| m.is_dir()) {
            return Ok((canonical(&abs, only)?, true));
        }
    }
    Ok((canonical(cwd, Path::new("."))?, false))
}

fn canonical(abs: &Path, shown: &Path) -> Result<PathBuf, ConfigError> {
    fs::canonicalize(abs).map_err(|e| ConfigError::Unusable {
        path: shown.display().to_string(),
        message: e.to_string(),
    })
}

/// Resolves `abs` (the user's `shown` path) to a canonical path inside `root`. A symlink itself is
/// kept as a link (its parent is canonicalized), so that the walk decides whether to follow it.
fn resolve_inside(root: &Path, abs: &Path, shown: &Path) -> Result<PathBuf, ConfigError> {
    let display = shown.display().to_string();
    let meta = fs::symlink_metadata(abs).map_err(|_| ConfigError::NotFound {
        path: display.clone(),
    })?;
    let resolved = if meta.file_type().is_symlink() {
        let parent = abs.parent().unwrap_or(Path::new("/"));
        let name = abs.file_name().ok_or_else(|| ConfigError::Unusable {
            path: display.clone(),
            message: "not a file name".into(),
        })?;
        canonical(parent, shown)?.join(name)
    } else {
        canonical(abs, shown)?
    };
    if !resolved.starts_with(root) {
        return Err(ConfigError::OutsideRoot {
            path: display,
            root: root.display().to_string(),
        });
    }
    Ok(resolved)
}

fn check_output(abs: &Path, shown: &Path) -> Result<PathBuf, ConfigError> {
    let display = shown.display().to_string();
    if fs::metadata(abs).is_ok_and(|m| m.is_dir()) {
        return Err(ConfigError::Unusable {
            path: display,
            message: "is a directory; -o takes a file name".into(),
        });
    }
    // A device or a FIFO (`-o /dev/null`) is written in place; nothing is made beside it.
    if crate::output::is_special(abs) {
        return Ok(abs.to_path_buf());
    }
    let name = abs.file_name().ok_or_else(|| ConfigError::Unusable {
        path: display.clone(),
        message: "-o takes a file name".into(),
    })?;
    let parent = abs.parent().unwrap_or(Path::new("."));
    let parent = fs::canonicalize(parent).map_err(|e| ConfigError::Unusable {
        path: display.clone(),
        message: format!("its directory cannot be used: {e}"),
    })?;
    // The document is written to a temporary file beside the target and renamed over it. Find
    // out now, not after the whole pack, whether that can work.
    let probe = parent.join(format!(".ctxpack-{}.probe", std::process::id()));
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            // Best effort: a leftover probe is a harmless empty hidden file.
            let _ = fs::remove_file(&probe);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(ConfigError::Unusable {
                path: display,
                message: format!("cannot create a file in its directory: {e}"),
            })
        }
    }
    Ok(parent.join(name))
}

/// Splits a newline- or NUL-separated path list. Blank entries are skipped; with newlines, a
/// trailing CR (Windows line ends) is dropped.
fn split_list(raw: &[u8], nul: bool) -> Vec<OsString> {
    let separator = if nul { b'\0' } else { b'\n' };
    raw.split(|&b| b == separator)
        .map(|item| {
            if !nul {
                item.strip_suffix(b"\r").unwrap_or(item)
            } else {
                item
            }
        })
        .filter(|item| !item.is_empty())
        .map(bytes_to_os)
        .collect()
}

#[cfg(unix)]
fn bytes_to_os(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

#[cfg(not(unix))]
fn bytes_to_os(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// The scanning mode for `--secrets`.
pub fn secrets_mode(choice: SecretsChoice) -> secrets::Mode {
    match choice {
        SecretsChoice::Redact => secrets::Mode::Redact,
        SecretsChoice::OmitFile => secrets::Mode::OmitFile,
        SecretsChoice::Fail => secrets::Mode::Fail,
        SecretsChoice::Off => secrets::Mode::Off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lists_split_on_newlines_or_nul() {
        let listed = split_list(b"a.rs\r\nb c.rs\n\nd\n", false);
        assert_eq!(listed, vec!["a.rs", "b c.rs", "d"]);
        let listed = split_list(b"a\nb\0c\0", true);
        assert_eq!(listed, vec!["a\nb", "c"]);
    }
}
