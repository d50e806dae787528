//! Plans: read a plan (AI-PLAN.md), resolve what it references against the tree and the symbol
//! table, say what does not exist, and steer a plan pack. It walks, loads and parses through the
//! pipeline's stages, which never call back into it.

pub mod extract;
pub mod index;
pub mod resolve;
pub mod select;
pub mod steer;

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::secrets::{redact_name, SecretsFound};
use crate::walk::{Source, WalkError};
pub use extract::{Action, LineSpan};
pub use index::RepoIndex;
pub use resolve::{Kind, Reference, Resolved, Status};

/// The largest plan read: plans are prose, and a multi-megabyte one is a mistake.
const MAX_PLAN_BYTES: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("could not read the plan {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the plan {} is larger than {} MiB; is it really a plan?", path.display(), MAX_PLAN_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("the plan {} is not text (binary data, or UTF-16 without a byte-order mark)", path.display())]
    NotText { path: PathBuf },
    #[error("the plan and --stdin cannot both come from standard input")]
    StdinTwice,
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// With `--secrets fail`, the plan's own text holds a secret.
    #[error(transparent)]
    Secrets(SecretsFound),
}

impl PlanError {
    /// Whether the user asked for something impossible (exit 2) rather than the system failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            PlanError::Read { .. }
                | PlanError::TooLarge { .. }
                | PlanError::NotText { .. }
                | PlanError::StdinTwice
        )
    }
}

/// Reads the plan at `path` (`-`: standard input), as text.
pub fn read_plan(path: &Path, stdin: &mut dyn Read) -> Result<String, PlanError> {
    let read_error = |source| PlanError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        stdin
            .take(MAX_PLAN_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
    } else {
        let file = std::fs::File::open(path).map_err(read_error)?;
        if file.metadata().map_err(read_error)?.is_dir() {
            return Err(read_error(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory; give the plan's Markdown file",
            )));
        }
        file.take(MAX_PLAN_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
    }
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(PlanError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = decode_plan(&bytes).ok_or_else(|| PlanError::NotText {
        path: path.to_path_buf(),
    })?;
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// A plan's bytes as text: UTF-8 (a BOM dropped) or, with a BOM, UTF-16 as PowerShell writes it;
/// invalid UTF-8 is replaced. None for binary data.
fn decode_plan(bytes: &[u8]) -> Option<String> {
    let utf16 = |bytes: &[u8], decode: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| decode([pair[0], pair[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    let text = if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, u16::from_be_bytes)
    } else {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.contains(&0) {
            return None;
        }
        String::from_utf8_lossy(bytes).into_owned()
    };
    Some(text)
}

/// A plan, as read.
#[derive(Debug, Clone)]
pub struct PlanInput {
    pub text: String,
    /// Where it was read from (`-`: standard input), as the user gave it.
    pub path: PathBuf,
}

/// A plan's references, resolved, with the index they were resolved against.
pub struct Analysis {
    pub references: Vec<Reference>,
    pub index: RepoIndex,
}

/// Finds and resolves the references of `plan` in the tree `source` describes.
///
/// `plan_path` (`-` for standard input) is, when the plan is a file inside the tree, left out of
/// the index: the plan's own words must not make its inventions look used.
pub fn analyze(
    plan: &str,
    plan_path: &Path,
    source: &Source,
    pool: &rayon::ThreadPool,
) -> Result<Analysis, PlanError> {
    let reading = Reading::new(plan, plan_path, source);
    // References resolve against the whole tree under the root, whatever paths, --stdin list or
    // --include/--exclude chose what to pack: a plan naming a file outside them names something
    // real (and the pack then says it did not pack it).
    let mut whole = source.clone();
    whole.inputs.paths = vec![whole.inputs.root.clone()];
    whole.walk.globs = Default::default();
    let index = RepoIndex::build(&whole, reading.indexer, pool)?;
    Ok(resolve_in(&reading.extracted, index, &source.inputs.root))
}

fn resolve_in(extracted: &extract::Extracted, index: RepoIndex, root: &Path) -> Analysis {
    let references = resolve::resolve(&extracted.mentions, &extracted.declared, &index, root);
    Analysis { references, index }
}

/// A plan read, and an indexer of the tree for its references that a walk feeds file by file:
/// [`analyze`]'s walk of its own, or a pack's, which reads each file once for both (see
/// [`Reading::walks_with`]).
pub struct Reading {
    extracted: extract::Extracted,
    pub indexer: index::Indexer,
}

impl Reading {
    /// Reads `plan` (from `plan_path`, `-` for standard input) to be checked in `source`'s tree.
    pub fn new(plan: &str, plan_path: &Path, source: &Source) -> Reading {
        let plan_path = (plan_path != Path::new("-")).then_some(plan_path);
        let extracted = extract::read(plan);
        let names = resolve::names_of(&extracted.mentions);
        let indexer = index::Indexer::new(&names, plan_path, source.max_file_size);
        Reading { extracted, indexer }
    }

    /// Whether a pack of `source` walks the very tree the references resolve in: all of the root,
    /// no globs. Otherwise the plan needs a walk of its own.
    pub fn walks_with(source: &Source) -> bool {
        source.inputs.paths == [source.inputs.root.clone()] && source.walk.globs.is_empty()
    }

    /// The references resolved, once the walk has shown the indexer every file.
    pub fn finish(self, warnings: Vec<String>, root: &Path) -> Analysis {
        let index = self.indexer.finish(warnings);
        resolve_in(&self.extracted, index, root)
    }
}

/// Resolves one name as code writes it (`retry`, `Client::send`, `module.func`, `Class#method`)
/// against the files of `source` (its paths and globs: unlike a plan's references, which
/// resolve against the whole tree), as a plan's backticked symbol is resolved, but read as a
/// symbol whatever it is (`main`, `new` and `URL`, which a plan's prose uses as words, are names
/// here). `None` when it is not a name.
pub fn lookup_symbol(
    name: &str,
    source: &Source,
    pool: &rayon::ThreadPool,
) -> Result<Option<Reference>, PlanError> {
    let (parts, dotted) = if name.contains("::") {
        (name.split("::").collect::<Vec<_>>(), false)
    } else if name.contains(['.', '#']) {
        (name.split(['.', '#']).collect(), true)
    } else {
        (vec![name], false)
    };
    let ident = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            && !p.starts_with(|c: char| c.is_ascii_digit())
    };
    let parts: Vec<&str> = parts
        .into_iter()
        .map(|p| p.trim_end_matches("()"))
        .collect();
    if !parts.iter().all(ident) {
        return Ok(None);
    }
    let (last, qualifier) = parts.split_last().expect("split gives one part at least");
    let mention = extract::Mention {
        text: name.to_string(),
        line: 1,
        target: extract::Target::Symbol {
            qualifier: qualifier.iter().map(|q| q.to_string()).collect(),
            name: last.to_string(),
            dotted,
        },
        strong: true,
        announced_new: false,
        created: false,
        near: Vec::new(),
        action: None,
        command: false,
    };
    let mentions = [mention];
    let names = resolve::names_of(&mentions);
    let indexer = index::Indexer::new(&names, None, source.max_file_size);
    let index = RepoIndex::build(source, indexer, pool)?;
    let references = resolve::resolve(&mentions, &Default::default(), &index, &source.inputs.root);
    Ok(references.into_iter().next())
}

/// Counts per status, in the order of [`Status::ALL`].
pub fn tally(references: &[Reference]) -> Vec<(Status, usize)> {
    Status::ALL
        .iter()
        .map(|&s| (s, references.iter().filter(|r| r.status == s).count()))
        .collect()
}

/// One line for people and CI logs: `12 references: 8 exist, 1 new, 2 missing, ...`.
pub fn summary_line(references: &[Reference]) -> String {
    let counts: Vec<String> = tally(references)
        .into_iter()
        // A conflict is named only when a `## Files` section made one.
        .filter(|(s, n)| *s != Status::Conflict || *n > 0)
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    let noun = if references.len() == 1 {
        "reference"
    } else {
        "references"
    };
    format!("{} {noun}: {}", references.len(), counts.join(", "))
}

/// A plan checked against the tree: what `refs` prints, redacted (plans and paths can carry
/// credentials too).
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The plan's name: its path as given, or "standard input".
    pub plan: String,
    pub references: Vec<Reference>,
    /// A count per status.
    pub summary: std::collections::BTreeMap<&'static str, usize>,
    /// Warnings from the walk, for people.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Checked {
    /// References that fail `refs --check`: missing, outside the root, or in conflict.
    pub fn failing(&self) -> usize {
        self.references
            .iter()
            .filter(|r| r.status.fails_check())
            .count()
    }

    /// `12 references: 8 exist, 1 new, 2 missing, ...`.
    pub fn summary_line(&self) -> String {
        summary_line(&self.references)
    }
}

/// Checks the plan `plan` (read from `plan_path`, `-` for standard input) against the tree of
/// `source`: every reference, resolved, with its status.
pub fn check(
    plan: &str,
    plan_path: &Path,
    source: &Source,
    pool: &rayon::ThreadPool,
) -> Result<Checked, PlanError> {
    let analysis = analyze(plan, plan_path, source, pool)?;
    let references: Vec<Reference> = analysis
        .references
        .iter()
        .map(|r| Reference {
            text: redact_name(&r.text),
            note: r.note.as_deref().map(redact_name),
            resolved: r
                .resolved
                .iter()
                .map(|x| Resolved {
                    path: redact_name(&x.path),
                    ..x.clone()
                })
                .collect(),
            ..r.clone()
        })
        .collect();
    Ok(Checked {
        plan: if plan_path == Path::new("-") {
            "standard input".to_string()
        } else {
            redact_name(&plan_path.to_string_lossy())
        },
        summary: tally(&references)
            .into_iter()
            .map(|(s, n)| (s.name(), n))
            .collect(),
        references,
        warnings: analysis
            .index
            .warnings
            .iter()
            .map(|w| redact_name(w))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_decode_from_utf8_with_a_bom_utf16_and_old_mac_line_ends() {
        let plan = "Edit `src/a.rs`.\nThen `b.rs`.\n";
        let mut utf16le = vec![0xFF, 0xFE];
        utf16le.extend(plan.encode_utf16().flat_map(u16::to_le_bytes));
        let mut utf16be = vec![0xFE, 0xFF];
        utf16be.extend(plan.encode_utf16().flat_map(u16::to_be_bytes));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(plan.as_bytes());
        for bytes in [utf16le, utf16be, bom, plan.replace('\n', "\r").into_bytes()] {
            let text = read_plan(Path::new("-"), &mut bytes.as_slice()).unwrap();
            assert_eq!(text, plan);
        }
        assert!(matches!(
            read_plan(Path::new("-"), &mut &b"\x7FELF\0\0"[..]),
            Err(PlanError::NotText { .. })
        ));
    }
}
