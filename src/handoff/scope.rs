//! The scope check: the files a plan says it changes against the files that changed.

use serde::{Deserialize, Serialize};

/// Planned files against changed files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Planned, and changed.
    pub planned_and_changed: Vec<String>,
    /// Planned (to create, modify or delete), but not changed.
    pub planned_untouched: Vec<String>,
    /// Changed, but not planned: scope creep, or a plan that missed a file.
    pub unplanned: Vec<String>,
}

impl Scope {
    /// Compares `planned` (files the plan means to change) with `changed`.
    pub fn check(planned: &[String], changed: &[String]) -> Scope {
        let mut scope = Scope::default();
        for file in planned {
            if changed.contains(file) {
                scope.planned_and_changed.push(file.clone());
            } else {
                scope.planned_untouched.push(file.clone());
            }
        }
        scope.unplanned = changed
            .iter()
            .filter(|file| !planned.contains(file))
            .cloned()
            .collect();
        for list in [
            &mut scope.planned_and_changed,
            &mut scope.planned_untouched,
            &mut scope.unplanned,
        ] {
            list.sort();
            list.dedup();
        }
        scope
    }

    /// The planned files: changed or untouched.
    pub fn planned(&self) -> Vec<String> {
        let mut planned: Vec<String> = self
            .planned_and_changed
            .iter()
            .chain(&self.planned_untouched)
            .cloned()
            .collect();
        planned.sort();
        planned
    }

    /// For people and prompts, one line per kind.
    pub fn describe(&self) -> String {
        let list = |files: &[String]| {
            if files.is_empty() {
                "none".to_string()
            } else {
                files.join(", ")
            }
        };
        format!(
            "planned and changed: {}\nplanned but untouched: {}\nchanged but not planned: {}",
            list(&self.planned_and_changed),
            list(&self.planned_untouched),
            list(&self.unplanned)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_and_changed_files_are_sorted_into_three_lists() {
        let planned = ["src/a.rs", "src/new.rs", "src/b.rs"].map(String::from);
        let changed = ["src/a.rs", "src/new.rs", "Cargo.toml"].map(String::from);
        let scope = Scope::check(&planned, &changed);
        assert_eq!(scope.planned_and_changed, ["src/a.rs", "src/new.rs"]);
        assert_eq!(scope.planned_untouched, ["src/b.rs"]);
        assert_eq!(scope.unplanned, ["Cargo.toml"]);
        assert!(scope
            .describe()
            .contains("changed but not planned: Cargo.toml"));
    }
}
