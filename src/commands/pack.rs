//! `ctxpack pack`: the document to stdout or a file, the report on stderr.

use std::io::{self, Write};

use super::{keep_cache, start, Counter, Failure};
use crate::cli::PackArgs;
use crate::config::PackConfig;
use crate::output::Sink;
use crate::pack::{self, Packed, PlanInput, Report, Request, Session};
use crate::plan::{self, PlanError};
use crate::types::shown_name;

pub fn run(args: PackArgs) -> Result<(), Failure> {
    if args.source.stdin && args.plan.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return Err(PlanError::StdinTwice.into());
    }
    let config = PackConfig::from_args(args, &mut io::stdin().lock())?;
    // The plan is read before anything is said: a plan that cannot be read is the one message.
    let mut request = config.request.clone();
    if let Some(path) = &config.plan {
        let text = plan::read_plan(path, &mut io::stdin().lock())?;
        request.plan = Some(PlanInput {
            text,
            path: path.clone(),
        });
    }
    let session = start(&config, &mut io::stderr().lock())?;
    let outcome = pack(&config, &request, &session);
    keep_cache(&config, &session, outcome)
}

fn pack(config: &PackConfig, request: &Request, session: &Session) -> Result<(), Failure> {
    let reporter = Counter::new(config.quiet);
    let packed = pack::pack(request, session, &reporter);
    drop(reporter);
    let Packed { document, report } = packed?;
    // Invariant: the request asks for a document (`Output::Document`, the config's default).
    let document = document.expect("a pack asked for its document gets one");

    let err = &mut io::stderr().lock();
    let output_error = |source: io::Error| {
        let destination = match &config.output {
            Some(path) => path.display().to_string(),
            None => "standard output".to_string(),
        };
        anyhow::Error::new(source).context(format!("could not write {destination}"))
    };
    let mut sink = Sink::open(config.output.as_deref()).map_err(output_error)?;
    document.write_to(sink.writer()).map_err(output_error)?;
    sink.finish().map_err(output_error)?;
    if !config.quiet {
        print_report(config, &report, err)?;
    }
    Ok(())
}

/// The stderr report of a written document: what its summary says, its exact count, the five
/// largest files, and with a plan how its references resolved.
fn print_report(config: &PackConfig, report: &Report, err: &mut dyn Write) -> io::Result<()> {
    let destination = config
        .output
        .as_ref()
        .and_then(|p| p.file_name())
        .map(shown_name);
    report.write_summary(err, destination, config.verbose)
}
