//! The `stats` command: where the tokens are, per directory and per file, and with a budget what
//! `pack --budget` would pack, at which fidelity and rank, from the very same decisions.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::budget::{self, FileDecision};
use crate::cli::Limit;
use crate::config::StatsConfig;
use crate::lang::Fidelity;
use crate::pack::PackError;
use crate::render;
use crate::secrets::ScanSummary;

pub use crate::render::stats::{
    BudgetStats, DirectoryNode, DirectoryStats, FileStats, SecretStats, Stats, Totals, LEFT_OUT,
    SCHEMA_VERSION,
};

/// Runs `stats`: the report goes to `out`, notes and warnings to `err`.
pub fn run(
    config: &StatsConfig,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PackError> {
    let (stats, tree) = collect(config, err)?;
    // `stats` writes to standard output: its pack configuration has no output file.
    let output_error = |source: io::Error| crate::pack::output_error(&config.pack, source);
    let mut out = io::BufWriter::new(out);
    if config.json {
        serde_json::to_writer_pretty(&mut out, &stats)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let limit = |limit: Limit| match limit {
            Limit::At(n) => Some(n),
            Limit::None => None,
        };
        let layout = render::stats::Layout {
            depth: limit(config.depth),
            entries: limit(config.entries),
            top: config.top,
        };
        render::stats::write_text(&mut out, &stats, &tree, &layout)
    }
    .map_err(output_error)?;
    out.flush().map_err(output_error)
}

/// Runs the pipeline as `pack` would, and gathers what it decided, with its directory tree.
pub fn collect(
    config: &StatsConfig,
    err: &mut dyn Write,
) -> Result<(Stats, DirectoryNode), PackError> {
    let pack = &config.pack;
    let (decisions, scan, budget) = match pack.budget {
        Some(limit) => {
            let packing = budget::compute(pack, limit, err)?;
            let counts = &packing.summary.budget;
            let left_out = packing
                .files
                .iter()
                .filter(|f| f.full_tokens.is_ok() && f.packed.is_none())
                .count();
            let budget = BudgetStats {
                budget: packing.budget,
                reserve: config.reserve,
                document_tokens: packing.document_tokens,
                tree_depth: packing.tree_depth,
                full: counts.as_ref().map_or(0, |c| c.full),
                compressed: counts.as_ref().map_or(0, |c| c.compressed),
                outline: counts.as_ref().map_or(0, |c| c.outline),
                left_out,
            };
            (packing.files, packing.scan, Some(budget))
        }
        None => {
            let corpus = budget::index(pack, err)?;
            (corpus.decisions(), corpus.scan().clone(), None)
        }
    };
    let budgeted = budget.is_some();
    let files: Vec<FileStats> = decisions
        .into_iter()
        .map(|d| file_stats(d, budgeted))
        .collect();

    let mut totals = Totals::default();
    let mut omitted: BTreeMap<&'static str, usize> = BTreeMap::new();
    for file in &files {
        totals.add(file.totals());
        if let Some(reason) = file.omitted {
            *omitted.entry(reason).or_default() += 1;
        }
    }
    let mut stats = Stats {
        version: SCHEMA_VERSION,
        root: pack.source.root_name.clone(),
        encoding: pack.encoding.name(),
        budget,
        totals,
        omitted,
        secrets: secret_stats(&scan),
        directories: Vec::new(),
        files,
    };
    let tree = tree(&stats);
    stats.directories = directories(&tree);
    Ok((stats, tree))
}

/// One file's line in the report. Without a budget, `pack` holds every readable file in full.
fn file_stats(decision: FileDecision, budgeted: bool) -> FileStats {
    let path = decision.path();
    let (tokens, omitted) = match decision.full_tokens {
        Ok(tokens) => (Some(tokens), None),
        Err(reason) => (None, Some(reason.as_str())),
    };
    let (fidelity, packed_tokens, degraded, omitted) = match (decision.packed, tokens) {
        (Some(view), _) => (Some(view.fidelity), view.tokens, view.degraded, omitted),
        (None, Some(tokens)) if !budgeted => (Some(Fidelity::Full), tokens, false, omitted),
        (None, Some(_)) => (None, 0, false, Some(LEFT_OUT)),
        (None, None) => (None, 0, false, omitted),
    };
    FileStats {
        path,
        tokens,
        omitted,
        fidelity: fidelity.map(Fidelity::name),
        packed_tokens,
        rank: decision.rank,
        score: decision.score,
        degraded,
        components: decision.components,
    }
}

fn secret_stats(scan: &ScanSummary) -> SecretStats {
    SecretStats {
        mode: scan.mode.name(),
        found: scan.secrets.len(),
        files: scan.files,
        examples: scan.examples.len(),
        left_out: scan.left_out,
    }
}

/// The directory tree of `stats.files`, with totals summed up from the files.
pub fn tree(stats: &Stats) -> DirectoryNode {
    let mut root = DirectoryNode {
        name: stats.root.clone(),
        ..DirectoryNode::default()
    };
    for (i, file) in stats.files.iter().enumerate() {
        let totals = file.totals();
        let Some((_, dirs)) = file.components.split_last() else {
            continue;
        };
        let mut node = &mut root;
        node.totals.add(totals);
        for dir in dirs {
            node = node
                .directories
                .entry(dir.clone())
                .or_insert_with(|| DirectoryNode {
                    name: dir.clone(),
                    ..DirectoryNode::default()
                });
            node.totals.add(totals);
        }
        node.files.push(i);
    }
    root
}

/// Every directory of `root`, depth first in name order, with its path.
fn directories(root: &DirectoryNode) -> Vec<DirectoryStats> {
    fn visit(node: &DirectoryNode, path: &str, out: &mut Vec<DirectoryStats>) {
        out.push(DirectoryStats {
            path: path.to_string(),
            totals: node.totals,
        });
        for (name, child) in &node.directories {
            let child_path = if path == "." {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            visit(child, &child_path, out);
        }
    }
    let mut out = Vec::new();
    visit(root, ".", &mut out);
    out
}
