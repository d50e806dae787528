//! The `ctxpack` binary: parse arguments, run, map failures to exit codes.

use std::process::ExitCode;

use clap::Parser;
use ctxpack::{cli::Cli, Failure};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match ctxpack::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            match &failure {
                Failure::Usage(message) => eprintln!("ctxpack: error: {message}"),
                Failure::Runtime(error) => eprintln!("ctxpack: error: {error:#}"),
                Failure::SecretsFound(found) => eprintln!("ctxpack: error: {found}"),
                Failure::CheckFailed(message) => eprintln!("ctxpack: {message}"),
                Failure::Interrupted(message) => eprintln!("ctxpack: {message}"),
                Failure::BrokenPipe => {}
            }
            ExitCode::from(failure.exit_code())
        }
    }
}
