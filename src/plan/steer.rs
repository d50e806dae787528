//! How a plan steers a budgeted pack (`pack --plan`): the plan first, then the files it
//! references (whole, or as excerpts of the lines it names), then their one-hop neighbourhood as
//! views; every other file in the tree only.
//!
//! The plan layer decides what is required; the budgeted pack (ranking, fitting, rendering and
//! the exact count) does the rest, with the same guarantee: never over budget.

use std::collections::HashSet;
use std::path::Path;

use super::resolve::{Kind, Status};
use super::{analyze, select, summary_line, Analysis, PlanError, PlanInput};
use crate::fit::budget::{PlanText, Required, Steering};
use crate::secrets::{redact_name, Located, Policy, SecretsFound};
use crate::walk::Source;

/// How many unresolved references the report names before it says "and N more".
const LISTED_UNRESOLVED: usize = 10;

/// A plan's steering, and what its report says.
pub struct Steered {
    pub steering: Steering,
    pub report: PlanReport,
}

/// How a plan's references resolved, for people (redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanReport {
    /// The plan's name: relative to the root, or its file name, or "standard input".
    pub name: String,
    /// `12 references: 8 exist, 1 new, 2 missing, ...`.
    pub summary_line: String,
    /// What the tree does not have: `text (line N, status)`, at most ten.
    pub unresolved: Vec<String>,
    /// Unresolved references beyond those listed.
    pub more_unresolved: usize,
    /// Secrets redacted in the plan's own text (0 with scanning off).
    pub secrets: usize,
}

/// Resolves `plan` against the tree of `source` and says what the pack must hold. With
/// `--secrets fail`, a secret in the plan fails like one in any file.
pub fn steer(
    plan: &PlanInput,
    source: &Source,
    policy: Policy,
    pool: &rayon::ThreadPool,
) -> Result<Steered, PlanError> {
    let analysis = analyze(&plan.text, &plan.path, source, pool)?;
    let shown = shown(plan, policy)?;
    steer_by(plan, source, shown, analysis)
}

/// The plan as the document shows it, redacted like every file, and how many credentials that
/// replaced; with `--secrets fail`, a credential in the plan is an error, as in any file.
pub fn shown(plan: &PlanInput, policy: Policy) -> Result<(String, usize), PlanError> {
    let redacted = policy.redact_text("", &plan.text);
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
    if policy.fails() && !plan_secrets.is_empty() {
        return Err(PlanError::Secrets(SecretsFound {
            secrets: plan_secrets,
        }));
    }
    Ok(if policy.scans() {
        (redacted.text.into_owned(), plan_secrets.len())
    } else {
        (plan.text.clone(), 0)
    })
}

/// What the pack must hold for `plan`, whose references `analysis` resolved in `source`'s tree;
/// `shown` is the plan as the document shows it, and its redactions ([`shown`]).
pub fn steer_by(
    plan: &PlanInput,
    source: &Source,
    shown: (String, usize),
    analysis: Analysis,
) -> Result<Steered, PlanError> {
    let plan_path = plan.path.as_path();
    let in_file = (plan_path != Path::new("-")).then_some(plan_path);
    let selection = select::select(&analysis.references, &analysis.index);
    let (shown_plan, redactions) = shown;
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
    let display_name = redact_name(&display_name);
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
        plan: Some(PlanText {
            name: display_name.clone(),
            text: shown_plan,
            redactions,
        }),
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
                group: 0,
            })
            .collect(),
        candidates: selection.candidates,
        changed,
        // The plan is in the document already, as itself.
        skip: plan_name.into_iter().collect(),
        ..Steering::default()
    };

    let refs = &analysis.references;
    let unresolved: Vec<String> = refs
        .iter()
        .filter(|r| r.status.fails_check())
        .map(|r| {
            format!(
                "{} (line {}, {})",
                redact_name(&r.text),
                r.line,
                r.status.name()
            )
        })
        .collect();
    let more_unresolved = unresolved.len().saturating_sub(LISTED_UNRESOLVED);
    let report = PlanReport {
        name: display_name,
        summary_line: summary_line(refs),
        unresolved: unresolved.into_iter().take(LISTED_UNRESOLVED).collect(),
        more_unresolved,
        secrets: redactions,
    };
    Ok(Steered { steering, report })
}
