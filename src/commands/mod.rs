//! The command line's commands, one file each: validate the flags (`config`), call the library,
//! print what it reports. This is the only place that writes to stdout and stderr.

mod handoff;
pub mod init;
mod mcp;
mod outline;
mod pack;
mod refs;
mod stats;
mod symbols;

use std::io::{self, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Cli, Command};
use crate::config::{self, ConfigError, PackConfig};
use crate::fit::budget::FitError;
use crate::pack::{PackError, Session};
use crate::plan::PlanError;
use crate::secrets::SecretsFound;
use crate::types::Reporter;

/// Why a run failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The user asked for something impossible (exit 2).
    Usage(String),
    /// Something went wrong while doing it (exit 1).
    Runtime(anyhow::Error),
    /// `--secrets fail` found secrets (exit 3): a verdict for CI gates, not a malfunction.
    SecretsFound(SecretsFound),
    /// `refs --check` found references to things that do not exist (exit 1).
    CheckFailed(String),
    /// The reader of our output went away (`| head`): exit 0, quietly.
    BrokenPipe,
    /// Ctrl-C ended a model call (exit 130, as a shell reports it).
    Interrupted(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) | Failure::CheckFailed(_) => 1,
            Failure::SecretsFound(_) => 3,
            Failure::BrokenPipe => 0,
            Failure::Interrupted(_) => 130,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Failure {
        if error.is_usage() {
            Failure::Usage(error.to_string())
        } else {
            Failure::Runtime(error.into())
        }
    }
}

impl From<PackError> for Failure {
    fn from(error: PackError) -> Failure {
        match error {
            PackError::Secrets(found) => Failure::SecretsFound(found),
            // A budget below the smallest possible document is a mistake in what was asked for.
            PackError::Fit(FitError::BudgetTooSmall { .. }) => Failure::Usage(error.to_string()),
            PackError::Plan(error) => Failure::from(error),
            PackError::Diff(error) if error.is_usage() => Failure::Usage(error.to_string()),
            error => Failure::from(anyhow::Error::new(error)),
        }
    }
}

impl From<PlanError> for Failure {
    fn from(error: PlanError) -> Failure {
        match error {
            PlanError::Secrets(found) => Failure::SecretsFound(found),
            error if error.is_usage() => Failure::Usage(error.to_string()),
            error => Failure::from(anyhow::Error::new(error)),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::from(anyhow::Error::new(error))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        let error = match error.downcast::<SecretsFound>() {
            Ok(found) => return Failure::SecretsFound(found),
            Err(error) => error,
        };
        let broken_pipe = error.chain().any(|cause| {
            cause
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
        });
        if broken_pipe {
            Failure::BrokenPipe
        } else {
            Failure::Runtime(error)
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Pack(args) => pack::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Refs(args) => refs::run(args),
        Command::Outline(args) => outline::run(args),
        Command::Symbols(args) => symbols::run(args),
        Command::Init(args) => init::run(args),
        Command::Task(command) => handoff::task(command),
        Command::Plan(args) => handoff::plan(args),
        Command::Execute(args) => handoff::execute(args),
        Command::Review(args) => handoff::review(args),
        Command::Run(args) => handoff::run(args),
        Command::Status(args) => handoff::status(args),
        Command::Cost(args) => handoff::cost(args),
        Command::Mcp(args) => mcp::run(args),
    }
}

/// Prints `config`'s notes (unless `--quiet`) and opens the session its pack runs in.
fn start(config: &PackConfig, err: &mut dyn Write) -> Result<Session, Failure> {
    let (cache, cache_note) = config.open_cache();
    if !config.quiet {
        for note in config.notes.iter().chain(&cache_note) {
            writeln!(err, "ctxpack: note: {note}")?;
        }
    }
    Ok(Session::new(config.request.source.threads, cache)?)
}

/// Writes the cache back after a run, and says how much of it was used. A cache that cannot be
/// written costs the next run time, not this run its result: a warning. A run that failed keeps
/// what it made too, silently: each entry is true of the text it was made from, and the common
/// failure is a reader that stopped early (`| head`, a model refusing a long input).
fn keep_cache(
    config: &PackConfig,
    session: &Session,
    outcome: Result<(), Failure>,
) -> Result<(), Failure> {
    if outcome.is_err() {
        let _ = session.cache().save();
        return outcome;
    }
    let err = &mut io::stderr().lock();
    if let Err(error) = session.cache().save() {
        writeln!(err, "ctxpack: warning: could not write the cache: {error} (--cache-dir or CTXPACK_CACHE_DIR choose another directory; --no-cache turns it off)")?;
    }
    if !config.quiet {
        let (hits, lookups) = session.cache().hits();
        crate::render::report::print_cache(err, hits, lookups)?;
    }
    Ok(())
}

/// The command line's reporter: a progress counter on stderr (invisible when stderr is not a
/// terminal, or with `--quiet`; files are counted as they are done, so there is no total to
/// show), warnings as they come (also with `--quiet`), and notes unless `--quiet`.
struct Counter {
    bar: ProgressBar,
    quiet: bool,
}

impl Counter {
    fn new(quiet: bool) -> Counter {
        if quiet {
            return Counter {
                bar: ProgressBar::hidden(),
                quiet,
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} packing: {pos} files {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Counter { bar, quiet }
    }
}

impl Reporter for Counter {
    fn file_done(&self) {
        self.bar.inc(1);
    }

    fn warning(&self, message: &str) {
        self.bar
            .suspend(|| eprintln!("ctxpack: warning: {message}"));
    }

    fn note(&self, message: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("ctxpack: {message}"));
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Reads the path list `--stdin` asks for, and validates the source flags.
fn source(args: &crate::cli::SourceArgs) -> Result<crate::walk::Source, Failure> {
    Ok(config::source(args, &mut io::stdin().lock())?)
}
