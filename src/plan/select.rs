//! From a plan's resolved references to what a plan pack must hold: the files it references, in
//! the order the plan names them, each whole or as the line spans it names, and the candidates
//! of its ambiguous names.

use std::collections::BTreeMap;

use super::resolve::{Kind, Reference, Status};
use super::RepoIndex;

/// A file the plan references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Relative to the root, with `/`.
    pub path: String,
    /// Named as a whole file (not only through symbols or line ranges).
    pub whole: bool,
    /// The line spans named (1-based, inclusive): a symbol's definition or a `path:10-40`.
    pub spans: Vec<(usize, usize)>,
    /// Named directly (a path or a symbol), rather than as a member of a directory or glob.
    pub direct: bool,
    /// The first plan line that leads to it.
    pub line: usize,
}

/// What a plan pack is built from.
#[derive(Debug, Default)]
pub struct Selection {
    /// Referenced files, in plan order.
    pub wanted: Vec<Wanted>,
    /// Candidates of ambiguous references: shown as neighbours, not as referenced files.
    pub candidates: Vec<String>,
}

pub fn select(references: &[Reference], index: &RepoIndex) -> Selection {
    let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut candidates: Vec<String> = Vec::new();
    let listed = |path: &str| index.file(path).is_some_and(|f| index.readable[f]);
    for reference in references {
        match reference.status {
            Status::Exists | Status::Conflict => {}
            Status::Ambiguous => {
                candidates.extend(
                    reference
                        .resolved
                        .iter()
                        .map(|r| r.path.clone())
                        .filter(|p| listed(p)),
                );
                continue;
            }
            _ => continue,
        }
        let mut add = |path: &str, span: Option<(usize, usize)>, direct: bool| {
            // A file named directly is kept even when the walk would not read it (the pack then
            // names it as not packable); a directory's or glob's unreadable members are not.
            if !direct && !listed(path) {
                return;
            }
            let entry = wanted.entry(path.to_string()).or_insert_with(|| Wanted {
                path: path.to_string(),
                whole: false,
                spans: Vec::new(),
                direct,
                line: reference.line,
            });
            entry.direct |= direct;
            entry.line = entry.line.min(reference.line);
            match span {
                Some(span) => entry.spans.push(span),
                None => entry.whole = true,
            }
        };
        match reference.kind {
            Kind::File | Kind::Symbol => {
                for r in &reference.resolved {
                    add(&r.path, r.span.map(|s| (s.start, s.end)), true);
                }
            }
            Kind::Glob => {
                for r in &reference.resolved {
                    add(&r.path, None, false);
                }
            }
            // A directory the plan names is where the work happens, not a list of files to
            // read whole: its files are neighbours (views, if the budget has room after the
            // files the plan names), and the tree shows all of it.
            Kind::Directory => {
                for r in &reference.resolved {
                    let dir = r.path.trim_end_matches('/');
                    candidates.extend(
                        index
                            .files_under(dir)
                            .into_iter()
                            .map(|f| index.files[f].clone())
                            .filter(|p| listed(p)),
                    );
                }
            }
            // A command's argument is checked, never packed.
            Kind::Command => {}
        }
    }
    let mut wanted: Vec<Wanted> = wanted.into_values().collect();
    for w in &mut wanted {
        w.spans.sort_unstable();
        w.spans.dedup();
    }
    // Plan order: direct references first, each group by the line that names it.
    wanted.sort_by(|a, b| (!a.direct, a.line, &a.path).cmp(&(!b.direct, b.line, &b.path)));
    candidates.sort();
    candidates.dedup();
    candidates.retain(|c| !wanted.iter().any(|w| &w.path == c));
    Selection { wanted, candidates }
}
