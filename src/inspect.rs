//! Looking inside files without packing them: outlines, and where a symbol is defined with the
//! text of each definition. What `ctxpack outline` and the MCP server's `outline` and `symbol`
//! tools call. Text is admitted to the document format and redacted first, as in a pack.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::lang;
use crate::load::{self, Loaded};
use crate::plan::{self, Kind, PlanError, Status};
use crate::render::Format;
use crate::secrets::{Located, Policy, SecretsFound};
use crate::tokens::TokenCounter;
use crate::types::Fidelity;
use crate::walk::Source;

/// Why files could not be looked at.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("could not read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Secrets(#[from] SecretsFound),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Files' outlines, as `ctxpack outline` prints them, and notes on what has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outlines {
    /// One line per definition with its line range; with several files, each under a
    /// `path:` line, a blank line between them.
    pub text: String,
    /// For people: files that are not text, hold secrets, or have no outline, and why.
    pub notes: Vec<String>,
}

/// The outlines of `files`, each a path to read and the name to show for it. As in `pack`, an
/// outline is made from the text with its secrets replaced (unless scanning is off), and secrets
/// in the names shown are replaced too. With `fail`, every file is scanned before anything is
/// made, and a secret is an error.
pub fn outlines(files: &[(PathBuf, String)], policy: Policy) -> Result<Outlines, InspectError> {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    let mut texts = Vec::with_capacity(files.len());
    for (path, name) in files {
        let shown = policy.shown(name);
        let bytes = std::fs::read(path).map_err(|source| InspectError::Read {
            path: shown.clone(),
            source,
        })?;
        let text = match load::decode(bytes) {
            // The text a pack would show: what its format cannot carry replaced.
            Loaded::Text(file) => Format::Xml.renderer().admit(&file.text).into_owned(),
            Loaded::Omitted(reason, _) => {
                notes.push(format!("{shown}: not text ({reason})"));
                texts.push(None);
                continue;
            }
        };
        if !policy.scans() {
            texts.push(Some(text));
            continue;
        }
        let name = name.replace('\\', "/");
        let redacted = policy.redact_text(&name, &text);
        // A secret in the path is reported on line 0, as `pack` does.
        let in_path = policy.redact_text("", &name).findings;
        let places: Vec<Located> = in_path
            .iter()
            .map(|f| (0, f))
            .chain(redacted.findings.iter().map(|f| (f.line, f)))
            .filter(|(_, f)| f.is_secret())
            .map(|(line, f)| Located {
                path: shown.clone(),
                line,
                rule: f.rule,
            })
            .collect();
        if policy.omits(&in_path) || policy.omits(&redacted.findings) {
            notes.push(format!("{shown}: left out: it holds secrets"));
            texts.push(None);
            continue;
        }
        found.extend(places);
        texts.push(Some(redacted.text.into_owned()));
    }
    if policy.fails() && !found.is_empty() {
        return Err(SecretsFound { secrets: found }.into());
    }
    let mut out = String::new();
    let mut first = true;
    for ((path, name), text) in files.iter().zip(texts) {
        let Some(text) = text else { continue };
        let shown = policy.shown(name);
        let language = lang::detect(path, &text);
        let view = lang::view(language, Fidelity::Outline, &text);
        if files.len() > 1 {
            if !first {
                out.push('\n');
            }
            out.push_str(&format!("{shown}:\n"));
        }
        first = false;
        out.push_str(&view.text);
        if let Some(reason) = view.degraded {
            notes.push(format!(
                "{shown}: no outline ({}, {})",
                language.name(),
                reason.name()
            ));
        }
    }
    Ok(Outlines { text: out, notes })
}

/// One definition of a symbol, with its text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Definition {
    /// Relative to the root, as a pack shows it.
    pub path: String,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
    /// Its lines in full, redacted.
    pub text: String,
    pub tokens: usize,
}

/// Where a symbol is defined.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Lookup {
    pub name: String,
    /// `exists` (one definition), `ambiguous` (several), or `missing` (none).
    pub status: &'static str,
    /// The definitions the budget holds, in the order the symbol table lists them.
    pub definitions: Vec<Definition>,
    /// Definitions the budget left out, or whose file could not be shown (binary, too large,
    /// holding secrets that are left out).
    pub left_out: Vec<String>,
}

/// The definitions of `name` (`name`, `Type::method`, `module.func`) in the tree of `source`,
/// each with its text (the span in full), as many as `budget` tokens hold. Names are resolved as
/// `refs` resolves a plan's symbols.
pub fn symbol(
    name: &str,
    source: &Source,
    policy: Policy,
    budget: usize,
    counter: &dyn TokenCounter,
    pool: &rayon::ThreadPool,
) -> Result<Lookup, InspectError> {
    let found = plan::lookup_symbol(name, source, pool)?;
    let reference = found
        .as_ref()
        .filter(|r| matches!(r.kind, Kind::Symbol))
        .filter(|r| matches!(r.status, Status::Exists | Status::Ambiguous));
    let Some(reference) = reference else {
        return Ok(Lookup {
            name: name.to_string(),
            status: "missing",
            definitions: Vec::new(),
            left_out: Vec::new(),
        });
    };
    let root = &source.inputs.root;
    let mut definitions = Vec::new();
    let mut left_out = Vec::new();
    let mut used = 0;
    for resolved in &reference.resolved {
        let Some(span) = resolved.span else {
            continue;
        };
        let place = format!("{}:{}-{}", resolved.path, span.start, span.end);
        let text = match text_of(&root.join(&resolved.path), &resolved.path, policy, source) {
            Ok(text) => text,
            Err(why) => {
                left_out.push(format!("{place} ({why})"));
                continue;
            }
        };
        let lines: String = text
            .split_inclusive('\n')
            .skip(span.start.saturating_sub(1))
            .take(span.end + 1 - span.start.max(1))
            .collect();
        let tokens = counter.count(&lines);
        if used + tokens > budget {
            left_out.push(format!("{place} ({tokens} tokens: over the budget)"));
            continue;
        }
        used += tokens;
        definitions.push(Definition {
            path: policy.shown(&resolved.path),
            start_line: span.start,
            end_line: span.end,
            text: lines,
            tokens,
        });
    }
    Ok(Lookup {
        name: name.to_string(),
        status: reference.status.name(),
        definitions,
        left_out,
    })
}

/// The text of `file` (shown as `name`) as a pack would show it; `Err` says why there is none.
fn text_of(file: &Path, name: &str, policy: Policy, source: &Source) -> Result<String, String> {
    let text = match load::load(file, source.max_file_size) {
        Loaded::Text(text) => text.text,
        Loaded::Omitted(reason, _) => return Err(format!("not read: {reason}")),
    };
    let text = Format::Xml.renderer().admit(&text).into_owned();
    let redacted = policy.redact_text(name, &text);
    if policy.omits(&redacted.findings) {
        return Err("left out: it holds secrets".to_string());
    }
    Ok(redacted.text.into_owned())
}
