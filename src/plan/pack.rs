//! `pack --plan`: the document a plan's executor needs. The plan first, then the files it
//! references (whole, or as excerpts of the lines it names), then their one-hop neighbourhood as
//! views, all within the budget; every other file in the tree only.
//!
//! The plan layer decides what is required; the budgeted pack (ranking, fitting, rendering and
//! the exact count) does the rest, steered, with the same guarantee: never over budget.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use super::resolve::{Kind, Status};
use super::{analyze, select, summary_line, PlanError};
use crate::budget::{self, Required, Steering};
use crate::config::PackConfig;
use crate::render::xml;
use crate::secrets::{Located, Mode, Scanner, SecretsFound};
use crate::tokens::Tiktoken;

/// How many unresolved references stderr names before it says "and N more".
const LISTED_ON_STDERR: usize = 10;

/// Packs for the plan at `plan_path` (text already read as `plan`).
pub fn pack(
    config: &PackConfig,
    plan_path: &Path,
    plan: &str,
    err: &mut dyn Write,
) -> Result<(), PlanError> {
    let source = &config.source;
    let budget = config.budget.expect("config gives --plan a default budget");
    let in_file = (plan_path != Path::new("-")).then_some(plan_path);
    let analysis = analyze(plan, plan_path, source)?;
    let selection = select::select(&analysis.references, &analysis.index);

    // The plan as the document shows it: redacted like every file, named without machine paths.
    // With --secrets fail, a secret in the plan fails the pack like one in any file.
    let scanner = Scanner::get();
    let redacted = scanner.redact("", plan);
    let plan_secrets: Vec<Located> = redacted
        .findings
        .iter()
        .filter(|f| f.is_secret())
        .map(|f| Located {
            path: "(the plan)".to_string(),
            line: f.line,
            rule: f.rule,
        })
        .collect();
    if config.secrets == Mode::Fail && !plan_secrets.is_empty() {
        return Err(PlanError::Pack(
            SecretsFound {
                secrets: plan_secrets,
            }
            .into(),
        ));
    }
    let shown_plan = match config.secrets {
        Mode::Off => plan.to_string(),
        _ => redacted.text.into_owned(),
    };
    if config.secrets != Mode::Off && !plan_secrets.is_empty() && !config.quiet {
        writeln!(
            err,
            "ctxpack: the plan holds {} credential{}; the document shows it redacted",
            plan_secrets.len(),
            if plan_secrets.len() == 1 { "" } else { "s" }
        )?;
    }
    let root = &source.inputs.root;
    let plan_name = in_file.and_then(|p| p.canonicalize().ok()).and_then(|p| {
        let root = root.canonicalize().ok()?;
        p.strip_prefix(&root)
            .ok()
            .map(|r| r.to_string_lossy().replace('\\', "/"))
    });
    let display_name = plan_name.clone().unwrap_or_else(|| {
        in_file
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "standard input".to_string())
    });
    let display_name = scanner.redact_message(&display_name);
    let counter = Tiktoken::new(config.encoding);
    let changed: HashSet<String> = analysis
        .references
        .iter()
        .filter(|r| r.kind == Kind::Symbol && r.status == Status::Exists)
        .filter_map(|r| {
            let name = r.text.trim_end_matches(')');
            let name = name.split('(').next().unwrap_or(name);
            name.rsplit([':', '.', '#']).next().map(str::to_string)
        })
        .collect();
    let steering = Steering {
        prelude: xml::plan_element(
            &display_name,
            &shown_plan,
            if config.secrets == Mode::Off {
                0
            } else {
                plan_secrets.len()
            },
            &counter,
        ),
        required: selection
            .wanted
            .iter()
            // The plan is in the document already, as itself.
            .filter(|w| Some(&w.path) != plan_name.as_ref())
            .map(|w| Required {
                path: w.path.clone(),
                spans: w.spans.clone(),
                whole: w.whole,
                direct: w.direct,
            })
            .collect(),
        candidates: selection.candidates,
        changed,
        // The plan is in the document already, as itself.
        skip: plan_name.into_iter().collect(),
    };

    let corpus = budget::index(config, err)?;
    let packing = budget::decide_steered(config, budget, corpus, Some(&steering))?;
    budget::write(config, packing, err)?;

    if !config.quiet {
        let refs = &analysis.references;
        writeln!(err, "  plan {display_name}: {}", summary_line(refs))?;
        let unresolved: Vec<String> = refs
            .iter()
            .filter(|r| r.status.fails_check())
            .map(|r| {
                format!(
                    "{} (line {}, {})",
                    scanner.redact_message(&r.text),
                    r.line,
                    r.status.name()
                )
            })
            .collect();
        if !unresolved.is_empty() {
            let shown: Vec<&str> = unresolved
                .iter()
                .take(LISTED_ON_STDERR)
                .map(String::as_str)
                .collect();
            let more = unresolved.len().saturating_sub(LISTED_ON_STDERR);
            let more = if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            };
            writeln!(
                err,
                "  plan names what the tree does not have: {}{more} (see ctxpack refs)",
                shown.join(", ")
            )?;
        }
    }
    Ok(())
}
