//! `ctxpack symbols`: the symbol table of a tree, each file's definitions and the names it uses.

use std::io::{self, Write};

use anyhow::Context;
use serde::Serialize;

use super::{source, Failure};
use crate::cli::SymbolsArgs;
use crate::lang::symbols::{self, FileSymbols};
use crate::lang::{self, syntax, Language};
use crate::load::{self, Loaded};
use crate::render::Format;
use crate::secrets::redact_name;
use crate::walk::{self, Entry, Source, Status};

pub fn run(args: SymbolsArgs) -> Result<(), Failure> {
    let source = source(&args.source)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    symbol_table(&source, args.json, &mut out, &mut io::stderr().lock())?;
    out.flush()?;
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
fn symbol_table(
    source: &Source,
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
    let shown: Vec<String> = entry
        .rel
        .components()
        .iter()
        .map(|c| redact_name(c))
        .collect();
    entry.rel.set_shown(shown);
    let entry = &entry;
    let Loaded::Text(file) = load::load(&entry.abs, max_size) else {
        return None;
    };
    // The text a pack would show: what its format cannot carry replaced.
    let text = Format::default().renderer().admit(&file.text).into_owned();
    let language: Language = lang::detect(&entry.abs, &text);
    syntax::grammar_for(language)?;
    // A file that cannot be parsed, or needs more work than its bound, is listed with a note
    // rather than dropped.
    let (symbols, note) = match syntax::parse(language, &text) {
        Ok(parsed) => match symbols::extract(&parsed, &text) {
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
