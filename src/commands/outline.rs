//! `ctxpack outline`: each file's outline, one line per definition with its line range.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;

use super::Failure;
use crate::cli::OutlineArgs;
use crate::config;
use crate::lang;
use crate::load::{self, Loaded};
use crate::render::Format;
use crate::secrets::{Located, Policy, SecretsFound};
use crate::types::Fidelity;

pub fn run(args: OutlineArgs) -> Result<(), Failure> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let policy = Policy::new(config::secrets_mode(args.secrets));
    outline(&args.files, policy, &mut out, &mut io::stderr().lock())?;
    out.flush()?;
    Ok(())
}

/// Prints the outline of each file in `files` to `out`; notes go to `err`. As in `pack`, the
/// outline is made from the text with its secrets replaced (unless scanning is off), and
/// secrets in the paths shown are replaced too.
fn outline(
    files: &[PathBuf],
    policy: Policy,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let shown = |path: &PathBuf| policy.shown(&path.display().to_string());
    // With `fail`, every file is scanned before anything is printed.
    let mut found = Vec::new();
    let mut texts = Vec::with_capacity(files.len());
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", shown(path)))?;
        let text = match load::decode(bytes) {
            // The text a pack would show: what its format cannot carry replaced.
            Loaded::Text(file) => Format::Xml.renderer().admit(&file.text).into_owned(),
            Loaded::Omitted(reason, _) => {
                writeln!(err, "ctxpack: {}: not text ({reason})", shown(path))?;
                texts.push(None);
                continue;
            }
        };
        if !policy.scans() {
            texts.push(Some(text));
            continue;
        }
        let name = path.to_string_lossy().replace('\\', "/");
        let redacted = policy.redact_text(&name, &text);
        // A secret in the path is reported on line 0, as `pack` does.
        let in_path = policy.redact_text("", &name).findings;
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
        if policy.omits(&in_path) || policy.omits(&redacted.findings) {
            writeln!(err, "ctxpack: {}: left out: it holds secrets", shown(path))?;
            texts.push(None);
            continue;
        }
        found.extend(places);
        texts.push(Some(redacted.text.into_owned()));
    }
    if policy.fails() && !found.is_empty() {
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
