//! `ctxpack outline`: each file's outline, one line per definition with its line range.

use std::io::{self, Write};

use super::Failure;
use crate::cli::OutlineArgs;
use crate::config;
use crate::inspect::{self, InspectError};
use crate::secrets::Policy;

pub fn run(args: OutlineArgs) -> Result<(), Failure> {
    let policy = Policy::new(config::secrets_mode(args.secrets));
    let files: Vec<_> = args
        .files
        .iter()
        .map(|path| (path.clone(), path.display().to_string()))
        .collect();
    let outlines = inspect::outlines(&files, policy).map_err(|error| match error {
        InspectError::Secrets(found) => Failure::SecretsFound(found),
        error => Failure::from(anyhow::Error::new(error)),
    })?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    out.write_all(outlines.text.as_bytes())?;
    out.flush()?;
    let err = &mut io::stderr().lock();
    for note in &outlines.notes {
        writeln!(err, "ctxpack: {note}")?;
    }
    Ok(())
}
