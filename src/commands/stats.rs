//! `ctxpack stats`: what a pack with the same flags would hold, as a token tree or JSON.

use std::io::{self, Write};

use super::{keep_cache, start, Counter, Failure};
use crate::cli::{Limit, StatsArgs};
use crate::config::StatsConfig;
use crate::pack::{self, Session};
use crate::render;

pub fn run(args: StatsArgs) -> Result<(), Failure> {
    let config = StatsConfig::from_args(args, &mut io::stdin().lock())?;
    let session = start(&config.pack, &mut io::stderr().lock())?;
    let outcome = stats(&config, &session);
    keep_cache(&config.pack, &session, outcome)
}

/// Runs the pack `pack` would run, and reports what it decided: the very same decisions.
fn stats(config: &StatsConfig, session: &Session) -> Result<(), Failure> {
    let reporter = Counter::new(config.pack.quiet);
    let packed = pack::pack(&config.pack.request, session, &reporter);
    drop(reporter);
    let report = packed?.report;
    let (stats, tree) = report.stats(config.reserve);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if config.json {
        serde_json::to_writer_pretty(&mut out, &stats)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let limit = |limit: Limit| match limit {
            Limit::At(n) => Some(n),
            Limit::None => None,
        };
        let layout = render::stats::Layout {
            depth: limit(config.depth),
            entries: limit(config.entries),
            top: config.top,
        };
        render::stats::write_text(&mut out, &stats, &tree, &layout)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|error| anyhow::Error::new(error).context("could not write standard output"))?;
    Ok(())
}
