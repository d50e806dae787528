//! The `outline` and `symbols` commands: one file's outline, and the symbol table of a tree.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::config::SourceConfig;
use crate::lang::symbols::{self, FileSymbols};
use crate::lang::{self, syntax, Fidelity, Language};
use crate::load::{self, Loaded};
use crate::secrets::{self, Located, Scanner, SecretsFound};
use crate::walk::{self, Entry, Status};

/// Prints the outline of each file in `files` to `out`; notes go to `err`. As in `pack`, the
/// outline is made from the text with its secrets replaced (unless `secrets` is `Off`), and
/// secrets in the paths shown are replaced too.
pub fn outline(
    files: &[PathBuf],
    secrets: secrets::Mode,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let scan = secrets != secrets::Mode::Off;
    let shown = |path: &PathBuf| {
        let path = path.display().to_string();
        if scan {
            Scanner::get().redact_message(&path)
        } else {
            path
        }
    };
    // With `fail`, every file is scanned before anything is printed.
    let mut found = Vec::new();
    let mut texts = Vec::with_capacity(files.len());
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", shown(path)))?;
        let text = match load::decode(bytes) {
            Loaded::Text(file) => file.text,
            Loaded::Omitted(reason, _) => {
                writeln!(err, "ctxpack: {}: not text ({reason})", shown(path))?;
                texts.push(None);
                continue;
            }
        };
        if !scan {
            texts.push(Some(text));
            continue;
        }
        let name = path.to_string_lossy().replace('\\', "/");
        let redacted = Scanner::get().redact(&name, &text);
        // A secret in the path is reported on line 0, as `pack` does.
        let in_path = Scanner::get().redact("", &name).findings;
        let places: Vec<Located> = in_path
            .iter()
            .map(|f| (0, f))
            .chain(redacted.findings.iter().map(|f| (f.line, f)))
            .filter(|(_, f)| f.is_secret())
            .map(|(line, f)| Located {
                path: shown(path),
                line,
                rule: f.rule,
            })
            .collect();
        if secrets == secrets::Mode::OmitFile && !places.is_empty() {
            writeln!(err, "ctxpack: {}: left out: it holds secrets", shown(path))?;
            texts.push(None);
            continue;
        }
        found.extend(places);
        texts.push(Some(redacted.text.into_owned()));
    }
    if secrets == secrets::Mode::Fail && !found.is_empty() {
        return Err(SecretsFound { secrets: found }.into());
    }
    for (i, (path, text)) in files.iter().zip(texts).enumerate() {
        let Some(text) = text else { continue };
        let language = lang::detect(path, &text);
        let view = lang::view(language, Fidelity::Outline, &text);
        if files.len() > 1 {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{}:", shown(path))?;
        }
        out.write_all(view.text.as_bytes())?;
        if let Some(reason) = view.degraded {
            writeln!(
                err,
                "ctxpack: {}: no outline ({}, {})",
                shown(path),
                language.name(),
                reason.name()
            )?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct FileEntry {
    path: String,
    lang: &'static str,
    /// Set when the file could not be parsed cleanly; the symbols may then be partial.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
    #[serde(flatten)]
    symbols: FileSymbols,
}

#[derive(Serialize)]
struct Table {
    files: Vec<FileEntry>,
}

/// Prints the symbol table of every parseable file under `source`.
pub fn symbols(
    source: &SourceConfig,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(source.threads)
        .build()
        .context("could not start worker threads")?;
    let work = |entry: Entry| file_symbols(&entry, source.max_file_size);
    let mut files = Vec::new();
    let mut consume = |found: Option<FileEntry>| {
        files.extend(found);
        std::ops::ControlFlow::Continue(())
    };
    let warnings = walk::walk_with(&source.inputs, &source.walk, &pool, &work, &mut consume)?;
    for warning in warnings {
        writeln!(err, "ctxpack: warning: {warning}")?;
    }
    files.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    if json {
        serde_json::to_writer_pretty(&mut *out, &Table { files })?;
        writeln!(out)?;
        return Ok(());
    }
    for file in &files {
        let note = file.note.map(|n| format!(" ({n})")).unwrap_or_default();
        writeln!(out, "{} [{}]{note}", file.path, file.lang)?;
        for d in &file.symbols.definitions {
            let scope = d
                .scope
                .as_ref()
                .map(|s| format!(" in {s}"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}-{}  {} {}{scope}",
                d.start_line, d.end_line, d.kind, d.name
            )?;
        }
        let mut names: Vec<&str> = file
            .symbols
            .references
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        if !names.is_empty() {
            writeln!(out, "  references: {}", names.join(" "))?;
        }
    }
    Ok(())
}

fn file_symbols(entry: &Entry, max_size: u64) -> Option<FileEntry> {
    if !matches!(entry.status, Status::Load) {
        return None;
    }
    // A token used as a file or directory name is redacted here too, as in every other output.
    let mut entry = entry.clone();
    if let Some((shown, _)) = crate::secrets::Scanner::get().redact_path(entry.rel.components()) {
        entry.rel.set_shown(shown);
    }
    let entry = &entry;
    let Loaded::Text(file) = load::load(&entry.abs, max_size) else {
        return None;
    };
    let language: Language = lang::detect(&entry.abs, &file.text);
    syntax::grammar_for(language)?;
    // A file that cannot be parsed, or needs more work than its bound, is listed with a note
    // rather than dropped.
    let (symbols, note) = match syntax::parse(language, &file.text) {
        Ok(parsed) => match symbols::extract(&parsed, &file.text) {
            Ok(found) => {
                let note = parsed
                    .tree
                    .root_node()
                    .has_error()
                    .then_some(syntax::NoTree::SyntaxErrors.name());
                (found, note)
            }
            Err(reason) => (FileSymbols::default(), Some(reason.name())),
        },
        Err(reason) => (FileSymbols::default(), Some(reason.name())),
    };
    Some(FileEntry {
        path: entry.rel.display(),
        lang: language.name(),
        note,
        symbols,
    })
}
