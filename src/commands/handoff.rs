//! `ctxpack task`, `plan`, `execute`, `review`, `run`, `status` and `cost`: the handoff layer on
//! the command line. Status lines go to stderr, the model's words to stdout as they come.

use std::io::{self, Write};
use std::path::Path;

use super::Failure;
use crate::cli::{ExecuteArgs, PhaseArgs, ReviewArgs, RunArgs, StatusArgs, TaskCommand};
use crate::handoff::config::Phase;
use crate::handoff::{
    Console, CostReport, Handoff, HandoffError, PhaseOptions, PhaseOutcome, TaskStatus, Verdict,
};
use crate::render::human;

impl From<HandoffError> for Failure {
    fn from(error: HandoffError) -> Failure {
        match error {
            HandoffError::Pack(error) => Failure::from(error),
            HandoffError::Plan(error) => Failure::from(error),
            error if error.is_usage() => Failure::Usage(error.to_string()),
            HandoffError::Interrupted { .. } => Failure::Interrupted(error.to_string()),
            error => Failure::Runtime(anyhow::Error::new(error)),
        }
    }
}

/// Status on stderr, the model's output on stdout.
struct Terminal;

impl Console for Terminal {
    fn status(&self, line: &str) {
        eprintln!("ctxpack: {line}");
    }

    fn output(&self, bytes: &[u8]) {
        let mut out = io::stdout().lock();
        // A reader that went away (`| head`) loses the echo, not the run: the artifact keeps it.
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    fn warning(&self, line: &str) {
        eprintln!("ctxpack: warning: {line}");
    }
}

fn open(config: &Option<std::path::PathBuf>) -> Result<Handoff, Failure> {
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let handoff = Handoff::open(&cwd, config.as_deref())?;
    // The first Ctrl-C ends the model's process group (or stops the phase before its model
    // starts), not ctxpack in the middle of writing a file. A second one ends ctxpack at once,
    // and the model's group with it: the model runs in a group of its own, which the
    // terminal's Ctrl-C does not reach.
    let flag = std::sync::Arc::clone(&handoff.interrupted);
    #[cfg(unix)]
    {
        use std::sync::atomic::Ordering;
        // SAFETY: the handler only does what is allowed in a signal handler: atomic loads and
        // stores, killpg and _exit.
        let _ = unsafe {
            signal_hook::low_level::register(signal_hook::consts::SIGINT, move || {
                if flag.swap(true, Ordering::SeqCst) {
                    let group = crate::handoff::runner::RUNNING_GROUP.load(Ordering::SeqCst);
                    if group > 0 {
                        libc::killpg(group, libc::SIGKILL);
                    }
                    libc::_exit(130);
                }
            })
        };
    }
    #[cfg(not(unix))]
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, flag);
    Ok(handoff)
}

pub fn task(command: TaskCommand) -> Result<(), Failure> {
    match command {
        TaskCommand::New(args) => {
            let handoff = open(&args.config.config)?;
            let task = handoff.new_task(&args.title, args.spec.as_deref(), args.worktree)?;
            let place = match &task.info.worktree {
                Some(worktree) => format!(
                    "; its worktree is {worktree} on branch {}",
                    task.info.branch.as_deref().unwrap_or("?")
                ),
                None => String::new(),
            };
            eprintln!(
                "ctxpack: task {} made in {}{place}; next: ctxpack plan {}",
                task.info.id,
                relative(&handoff.top, &task.dir),
                task.info.id
            );
            println!("{}", task.info.id);
        }
        TaskCommand::Done(args) => {
            let handoff = open(&args.config.config)?;
            match handoff.done(&args.id, args.force)? {
                Some(branch) => eprintln!(
                    "ctxpack: task {}: worktree removed; its work stays on branch {branch}",
                    args.id
                ),
                None => eprintln!(
                    "ctxpack: task {} is done (it had no worktree to remove)",
                    args.id
                ),
            }
        }
    }
    Ok(())
}

fn options(args: &PhaseArgs, strict: bool) -> PhaseOptions {
    PhaseOptions {
        model: args.model.clone(),
        print: args.print,
        strict,
    }
}

pub fn plan(args: PhaseArgs) -> Result<(), Failure> {
    let handoff = open(&args.config.config)?;
    let outcome = handoff.phase(&args.id, Phase::Plan, &options(&args, false), &Terminal)?;
    report(&handoff, Phase::Plan, &outcome);
    Ok(())
}

pub fn execute(args: ExecuteArgs) -> Result<(), Failure> {
    let handoff = open(&args.phase.config.config)?;
    let options = options(&args.phase, args.strict);
    let outcome = handoff.phase(&args.phase.id, Phase::Execute, &options, &Terminal)?;
    report(&handoff, Phase::Execute, &outcome);
    Ok(())
}

pub fn review(args: ReviewArgs) -> Result<(), Failure> {
    let handoff = open(&args.phase.config.config)?;
    let options = options(&args.phase, false);
    let outcome = handoff.phase(&args.phase.id, Phase::Review, &options, &Terminal)?;
    report(&handoff, Phase::Review, &outcome);
    verdict_gate(args.check, &outcome)
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let handoff = open(&args.phase.config.config)?;
    let options = options(&args.phase, args.strict);
    // Each phase's outcome (the plan check, the scope check) is shown as soon as it is done.
    let done = handoff.run_all(
        &args.phase.id,
        &options,
        &Terminal,
        &mut |phase, outcome| report(&handoff, phase, outcome),
    )?;
    match done.last() {
        Some((Phase::Review, outcome)) => verdict_gate(args.check, outcome),
        _ => Ok(()),
    }
}

/// `--check`: exit 1 unless the verdict is approve.
fn verdict_gate(check: bool, outcome: &PhaseOutcome) -> Result<(), Failure> {
    match outcome.verdict {
        Some(Verdict::Approve) | None => Ok(()),
        Some(verdict) if check => Err(Failure::CheckFailed(format!(
            "review --check: the verdict is {}, not approve",
            verdict.name()
        ))),
        Some(_) => Ok(()),
    }
}

/// What a phase did, on stderr.
fn report(handoff: &Handoff, phase: Phase, outcome: &PhaseOutcome) {
    if outcome.printed {
        return;
    }
    if let Some(artifact) = &outcome.artifact {
        eprintln!(
            "\nctxpack: {phase}: wrote {}",
            relative(&handoff.top, artifact)
        );
    }
    if let Some(check) = &outcome.check {
        eprintln!("ctxpack: plan check: {check}");
        for unresolved in &outcome.unresolved {
            eprintln!("  does not exist or conflicts: {unresolved}");
        }
    }
    if let Some(scope) = &outcome.scope {
        eprintln!("ctxpack: scope check:");
        for line in scope.describe().lines() {
            eprintln!("  {line}");
        }
    }
    if let Some(verdict) = outcome.verdict {
        eprintln!("ctxpack: review verdict: {}", verdict.name());
    }
}

fn relative(top: &Path, path: &Path) -> String {
    path.strip_prefix(top).unwrap_or(path).display().to_string()
}

pub fn status(args: StatusArgs) -> Result<(), Failure> {
    let handoff = open(&args.config.config)?;
    let tasks = handoff.status(args.id.as_deref())?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &tasks).map_err(io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    if tasks.is_empty() {
        writeln!(
            out,
            "no tasks; make one with: ctxpack task new TITLE --spec SPEC.md"
        )?;
    }
    for task in &tasks {
        write_status(&mut out, task)?;
    }
    Ok(())
}

fn write_status(out: &mut dyn Write, task: &TaskStatus) -> io::Result<()> {
    writeln!(out, "{}  {}", task.id, task.title)?;
    if let (Some(worktree), Some(branch)) = (&task.worktree, &task.branch) {
        writeln!(out, "  worktree: {worktree} (branch {branch})")?;
    }
    if let Some(done) = &task.done {
        writeln!(out, "  done: {done}")?;
    }
    let next = match (&task.plan, task.executed, task.verdict) {
        _ if task.done.is_some() => None,
        (None, _, _) => Some("plan"),
        (Some(_), false, _) => Some("execute"),
        (Some(_), true, None) => Some("review"),
        _ => None,
    };
    writeln!(out, "  plan: {}", task.plan.as_deref().unwrap_or("not yet"))?;
    writeln!(
        out,
        "  execute: {}",
        if task.executed { "done" } else { "not yet" }
    )?;
    if let Some(scope) = &task.scope {
        for line in scope.describe().lines() {
            writeln!(out, "    {line}")?;
        }
    }
    writeln!(
        out,
        "  review: {}",
        task.verdict.map_or("not yet", Verdict::name)
    )?;
    writeln!(
        out,
        "  cost: ${:.4} in {}",
        task.cost_usd,
        crate::render::plural(task.calls, "call")
    )?;
    if let Some(next) = next {
        writeln!(out, "  next: ctxpack {next} {}", task.id)?;
    }
    Ok(())
}

pub fn cost(args: StatusArgs) -> Result<(), Failure> {
    let handoff = open(&args.config.config)?;
    let report = handoff.cost(args.id.as_deref())?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    write_cost(&mut out, &report)?;
    Ok(())
}

fn write_cost(out: &mut dyn Write, report: &CostReport) -> io::Result<()> {
    let rollup = &report.rollup;
    if rollup.total.calls == 0 {
        return writeln!(out, "no model calls yet");
    }
    writeln!(
        out,
        "{:<8} {:<16} {:>6} {:>12} {:>12} {:>10}",
        "phase", "model", "calls", "input", "output", "USD"
    )?;
    for phase in Phase::ALL.iter().map(|p| p.name()) {
        let Some(models) = rollup.by_phase_and_model.get(phase) else {
            continue;
        };
        for (model, totals) in models {
            writeln!(
                out,
                "{:<8} {:<16} {:>6} {:>12} {:>12} {:>10.4}{}",
                phase,
                model,
                totals.calls,
                human(totals.input_tokens),
                human(totals.output_tokens),
                totals.cost_usd,
                if totals.failed > 0 {
                    format!("  ({} failed)", totals.failed)
                } else {
                    String::new()
                }
            )?;
        }
    }
    let total = &rollup.total;
    writeln!(
        out,
        "{:<8} {:<16} {:>6} {:>12} {:>12} {:>10.4}",
        "total",
        "",
        total.calls,
        human(total.input_tokens),
        human(total.output_tokens),
        total.cost_usd
    )?;
    if let Some((model, cost)) = &report.priciest {
        writeln!(
            out,
            "the same calls on {model}, the priciest configured model: ${cost:.4}{}",
            if *cost > 0.0 && total.cost_usd <= *cost {
                format!(" ({:.0} % saved)", 100.0 * (1.0 - total.cost_usd / cost))
            } else {
                String::new()
            }
        )?;
    }
    Ok(())
}
