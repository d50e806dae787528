//! The prompts: a template per phase (built in, or the user's `.ctxpack/templates/<phase>.md`),
//! rendered by minijinja with the spec, the plan, the packed context, the diff, the scope check
//! and the task.

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::config::Phase;

/// The templates ctxpack ships.
const PLAN: &str = include_str!("templates/plan.md");
const EXECUTE: &str = include_str!("templates/execute.md");
const REVIEW: &str = include_str!("templates/review.md");

/// Why a prompt could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("could not read the template {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the template {name} cannot be used: {message}")]
    Template { name: String, message: String },
}

/// What a template can use.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Values {
    pub task: TaskValues,
    /// The task's spec.
    pub spec: String,
    /// The plan (`plan.md`), for execute and review.
    pub plan: String,
    /// The document ctxpack packed for the phase.
    pub context: String,
    /// The scope check, for review: planned and changed, planned but untouched, changed but
    /// not planned.
    pub scope: String,
    /// The change as `git diff` prints it against the task's base, for review (the review's
    /// `context` holds it too, with the files it touches); empty in the other phases.
    pub diff: String,
    /// `agent` or `diff`: how the phase's model changes files.
    pub edits: String,
    /// The model's name in ctxpack.toml.
    pub model: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TaskValues {
    pub id: String,
    pub title: String,
}

/// A phase's template: the user's, where there is one, else the built-in one.
pub struct Template {
    name: String,
    source: String,
}

impl Template {
    /// The template for `phase`: `.ctxpack/templates/<phase>.md` under `state_dir` if it exists.
    pub fn for_phase(phase: Phase, state_dir: &Path) -> Result<Template, PromptError> {
        let path = state_dir
            .join("templates")
            .join(format!("{}.md", phase.name()));
        match std::fs::read_to_string(&path) {
            Ok(source) => Ok(Template {
                name: path.display().to_string(),
                source,
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Template {
                name: format!("built-in {}.md", phase.name()),
                source: built_in(phase).to_string(),
            }),
            Err(source) => Err(PromptError::Read { path, source }),
        }
    }

    /// Renders the template. An unknown variable is an error, so a typo in a user's template
    /// does not silently drop the context.
    pub fn render(&self, values: &Values) -> Result<String, PromptError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        let error = |e: minijinja::Error| PromptError::Template {
            name: self.name.clone(),
            message: e.to_string(),
        };
        // A template's last line break is the prompt's: nothing the user wrote is dropped.
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .map_err(error)?;
        env.set_syntax(syntax);
        env.add_template("prompt", &self.source).map_err(error)?;
        env.get_template("prompt")
            .and_then(|t| t.render(minijinja::value::Serde(values)))
            .map_err(error)
    }
}

/// The built-in template of `phase`.
pub fn built_in(phase: Phase) -> &'static str {
    match phase {
        Phase::Plan => PLAN,
        Phase::Execute => EXECUTE,
        Phase::Review => REVIEW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            task: TaskValues {
                id: "add-retry".into(),
                title: "Add retry".into(),
            },
            spec: "Retry on 503.".into(),
            plan: "## Files\n- modify `a.rs`\n".into(),
            context: "<context tokens=\"3\">\n</context>\n".into(),
            scope: "planned and changed: a.rs".into(),
            diff: "--- a/a.rs\n+++ b/a.rs\n".into(),
            edits: "diff".into(),
            model: "small".into(),
        }
    }

    #[test]
    fn built_in_templates_hold_what_each_phase_needs() {
        let dir = tempfile::tempdir().unwrap();
        for phase in Phase::ALL {
            let prompt = Template::for_phase(phase, dir.path())
                .unwrap()
                .render(&values())
                .unwrap();
            assert!(prompt.contains("Retry on 503."), "{phase}: the spec");
            assert!(
                prompt.contains("<context tokens=\"3\">"),
                "{phase}: the context"
            );
            assert!(prompt.contains("add-retry"), "{phase}: the task");
        }
        let plan = Template::for_phase(Phase::Plan, dir.path()).unwrap();
        assert!(plan.render(&values()).unwrap().contains("## Files"));
        let review = Template::for_phase(Phase::Review, dir.path()).unwrap();
        let review = review.render(&values()).unwrap();
        assert!(review.contains("VERDICT: approve") && review.contains("planned and changed"));
        let execute = Template::for_phase(Phase::Execute, dir.path()).unwrap();
        assert!(execute.render(&values()).unwrap().contains("```diff"));
        let agent = Values {
            edits: "agent".into(),
            ..values()
        };
        assert!(!execute.render(&agent).unwrap().contains("```diff"));
    }

    #[test]
    fn a_user_template_replaces_the_built_in_one_and_typos_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/plan.md"),
            "PLAN {{ task.title }}\n{{ context }}{{ diff }}",
        )
        .unwrap();
        let prompt = Template::for_phase(Phase::Plan, dir.path())
            .unwrap()
            .render(&values())
            .unwrap();
        assert_eq!(
            prompt,
            "PLAN Add retry\n<context tokens=\"3\">\n</context>\n--- a/a.rs\n+++ b/a.rs\n"
        );
        std::fs::write(dir.path().join("templates/review.md"), "{{ contxt }}").unwrap();
        let error = Template::for_phase(Phase::Review, dir.path())
            .unwrap()
            .render(&values())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("review.md") && error.contains("undefined"),
            "{error}"
        );
    }
}
