//! ctxpack packs a codebase into a token-budget-fitted context for large language models.
//!
//! The pipeline runs one way: walk → load → secrets (redaction) → analyze (lang) → tokens →
//! render, with `pack` driving it for the `pack` command (`budget` when it has a budget), `stats`
//! reporting what a pack would do, and `inspect` for `outline` and `symbols`.

pub mod budget;
pub mod cache;
pub mod cli;
pub mod config;
pub mod fit;
pub mod inspect;
pub mod lang;
pub mod load;
pub mod output;
pub mod pack;
pub mod plan;
pub mod rank;
pub mod render;
pub mod secrets;
pub mod stats;
pub mod tokens;
pub mod walk;

use std::io;

use cli::{Cli, Command};

/// Why a run failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The user asked for something impossible (exit 2).
    Usage(String),
    /// Something went wrong while doing it (exit 1).
    Runtime(anyhow::Error),
    /// `--secrets fail` found secrets (exit 3): a verdict for CI gates, not a malfunction.
    SecretsFound(secrets::SecretsFound),
    /// `refs --check` found references to things that do not exist (exit 1).
    CheckFailed(String),
    /// The reader of our output went away (`| head`): exit 0, quietly.
    BrokenPipe,
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) | Failure::CheckFailed(_) => 1,
            Failure::SecretsFound(_) => 3,
            Failure::BrokenPipe => 0,
        }
    }
}

impl From<config::ConfigError> for Failure {
    fn from(error: config::ConfigError) -> Failure {
        if error.is_usage() {
            Failure::Usage(error.to_string())
        } else {
            Failure::Runtime(error.into())
        }
    }
}

impl From<pack::PackError> for Failure {
    fn from(error: pack::PackError) -> Failure {
        match error {
            pack::PackError::Secrets(found) => Failure::SecretsFound(found),
            // A budget below the smallest possible document is a mistake in what was asked for.
            pack::PackError::BudgetTooSmall { .. } => Failure::Usage(error.to_string()),
            error => Failure::from(anyhow::Error::new(error)),
        }
    }
}

impl From<plan::PlanError> for Failure {
    fn from(error: plan::PlanError) -> Failure {
        if let plan::PlanError::Pack(error) = error {
            return Failure::from(error);
        }
        if error.is_usage() {
            Failure::Usage(error.to_string())
        } else {
            Failure::from(anyhow::Error::new(error))
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        let error = match error.downcast::<secrets::SecretsFound>() {
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
    use std::io::Write;
    match cli.command {
        Command::Pack(args) => {
            if args.source.stdin && args.plan.as_ref().is_some_and(|p| p.as_os_str() == "-") {
                return Err(plan::PlanError::StdinTwice.into());
            }
            let config = config::PackConfig::from_args(args, &mut io::stdin().lock())?;
            keep_cache(&config, pack_or_plan(&config))?;
        }
        Command::Outline(args) => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            let mode = config::secrets_mode(args.secrets);
            inspect::outline(&args.files, mode, &mut out, &mut io::stderr().lock())?;
            out.flush().map_err(anyhow::Error::from)?;
        }
        Command::Symbols(args) => {
            let source = config::SourceConfig::from_args(&args.source, &mut io::stdin().lock())?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            inspect::symbols(&source, args.json, &mut out, &mut io::stderr().lock())?;
            out.flush().map_err(anyhow::Error::from)?;
        }
        Command::Refs(args) => {
            if args.source.stdin && args.plan.as_os_str() == "-" {
                return Err(plan::PlanError::StdinTwice.into());
            }
            let text = plan::read_plan(&args.plan, &mut io::stdin().lock())?;
            let source = config::SourceConfig::from_args(&args.source, &mut io::stdin().lock())?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            let verdict = plan::refs(
                &args.plan,
                &text,
                &source,
                args.json,
                &mut out,
                &mut io::stderr().lock(),
            )?;
            out.flush().map_err(anyhow::Error::from)?;
            if args.check && verdict.failing > 0 {
                return Err(Failure::CheckFailed(format!(
                    "refs --check: {} of the plan's references do not exist or lie outside the \
                     root ({})",
                    verdict.failing, verdict.summary
                )));
            }
        }
        Command::Stats(args) => {
            let config = config::StatsConfig::from_args(args, &mut io::stdin().lock())?;
            let counted = stats::run(&config, &mut io::stdout().lock(), &mut io::stderr().lock());
            keep_cache(&config.pack, counted.map_err(Failure::from))?;
        }
    }
    Ok(())
}

/// `pack`, with or without `--plan`.
fn pack_or_plan(config: &config::PackConfig) -> Result<(), Failure> {
    match &config.plan {
        Some(path) => {
            let text = plan::read_plan(path, &mut io::stdin().lock())?;
            plan::pack::pack(config, path, &text, &mut io::stderr().lock())?;
        }
        None => pack::run(config, &mut io::stderr().lock())?,
    }
    Ok(())
}

/// Writes the cache back after a run, and says how much of it was used. A cache that cannot be
/// written costs the next run time, not this run its result: a warning. A run that failed keeps
/// what it made too, silently: each entry is true of the text it was made from, and the common
/// failure is a reader that stopped early (`| head`, a model refusing a long input).
fn keep_cache(config: &config::PackConfig, outcome: Result<(), Failure>) -> Result<(), Failure> {
    use std::io::Write;
    if outcome.is_err() {
        let _ = config.cache.save();
        return outcome;
    }
    let err = &mut io::stderr().lock();
    if let Err(error) = config.cache.save() {
        writeln!(err, "ctxpack: warning: could not write the cache: {error} (--cache-dir or CTXPACK_CACHE_DIR choose another directory; --no-cache turns it off)").map_err(anyhow::Error::from)?;
    }
    if !config.quiet {
        let (hits, lookups) = config.cache.hits();
        render::report::print_cache(err, hits, lookups).map_err(anyhow::Error::from)?;
    }
    Ok(())
}
