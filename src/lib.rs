//! ctxpack packs a codebase into a token-budget-fitted context for large language models.
//!
//! The pipeline runs one way: walk → load → secrets (redaction) → analyze (lang) → tokens → render,
//! with `pack` driving it for the `pack` command.

pub mod cli;
pub mod config;
pub mod lang;
pub mod load;
pub mod output;
pub mod pack;
pub mod render;
pub mod secrets;
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
    /// The reader of our output went away (`| head`): exit 0, quietly.
    BrokenPipe,
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 1,
            Failure::BrokenPipe => 0,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
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
        Command::Pack(args) => {
            let config = config::PackConfig::from_args(args, &mut io::stdin().lock())
                .map_err(|e| Failure::Usage(e.to_string()))?;
            pack::run(&config, &mut io::stderr().lock())?;
            Ok(())
        }
    }
}
