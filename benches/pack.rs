//! Full-pack throughput against the tokenizer alone counting the same bytes on all cores, and a
//! cold `--budget 200k` pack against the full pack. No cache between runs (`--no-cache`); see
//! benches/cache.rs for that.
//!
//! `cargo bench --bench pack [-- CORPUS_DIR]`. Without a directory (or `CTXPACK_BENCH_CORPUS`), a
//! synthetic tree of at least 50 MB in 10,000+ files is generated in a temporary directory first.
//! Runs alternate (tokenizer, pack, tokenizer, pack, ...) so that drift on a shared machine hits
//! both alike; the ratio is taken pair by pair and its median reported.

mod corpus;
mod support;

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use ctxpack::load::{load, Loaded};
use ctxpack::tokens::{Encoding, Tiktoken, TokenCounter};
use ctxpack::walk::{self, Status};
use support::{median, pack_config};

const RUNS: usize = 5;

fn main() {
    let arg = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CTXPACK_BENCH_CORPUS").map(PathBuf::from));
    let generated;
    let corpus = match arg {
        Some(dir) => dir,
        None => {
            generated = tempfile::tempdir().expect("temporary directory");
            let stats = corpus::generate(generated.path(), 10_500, 52 << 20);
            eprintln!(
                "generated {} files, {:.1} MB",
                stats.files,
                stats.bytes as f64 / 1e6
            );
            generated.path().to_path_buf()
        }
    };
    let out_dir = tempfile::tempdir().expect("temporary directory");
    let out = out_dir.path().join("context.xml");
    // Every run counts and parses everything.
    let config = pack_config(&corpus, &out, &["--no-cache"]);
    let budgeted = pack_config(&corpus, &out, &["--budget", "200k", "--no-cache"]);

    // The same texts the pack includes, read once up front for the tokenizer-alone baseline.
    let found = std::sync::Mutex::new(Vec::new());
    walk::walk(
        &config.request.source.inputs,
        &config.request.source.walk,
        &|entry| {
            found.lock().unwrap().push(entry);
            std::ops::ControlFlow::Continue(())
        },
    )
    .expect("walk");
    let texts: Vec<String> = found
        .into_inner()
        .unwrap()
        .par_iter()
        .filter(|e| matches!(e.status, Status::Load))
        .filter_map(
            |e| match load(&e.abs, config.request.source.max_file_size) {
                Loaded::Text(t) => Some(t.text),
                Loaded::Omitted(..) => None,
            },
        )
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let counter = Tiktoken::new(Encoding::O200kBase);

    let mut tokenizer_secs = Vec::new();
    let mut pack_secs = Vec::new();
    let mut budget_secs = Vec::new();
    let mut tokens = 0;
    for run in 0..=RUNS {
        let start = Instant::now();
        tokens = texts.par_iter().map(|t| counter.count(t)).sum::<usize>();
        let tokenizer = start.elapsed().as_secs_f64();

        let start = Instant::now();
        support::pack(&config);
        let pack = start.elapsed().as_secs_f64();
        if run > 0 {
            // Run 0 warms the page cache and the tokenizer.
            tokenizer_secs.push(tokenizer);
            pack_secs.push(pack);
        }
    }
    // The budgeted pack in pairs of its own: its index of every file leaves the allocator in a
    // state that slowed the full packs run after it in the same process.
    let mut full_again = Vec::new();
    for run in 0..=RUNS {
        let start = Instant::now();
        support::pack(&config);
        let full = start.elapsed().as_secs_f64();
        let start = Instant::now();
        support::pack(&budgeted);
        let budget = start.elapsed().as_secs_f64();
        if run > 0 {
            full_again.push(full);
            budget_secs.push(budget);
        }
    }
    let ratios: Vec<f64> = pack_secs
        .iter()
        .zip(&tokenizer_secs)
        .map(|(p, t)| p / t)
        .collect();
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {} files, {mb:.1} MB of text, {tokens} tokens (o200k_base), {} threads",
        texts.len(),
        rayon::current_num_threads()
    );
    println!(
        "tokenizer alone: median {:.3} s ({:.1} MB/s)",
        median(&tokenizer_secs),
        mb / median(&tokenizer_secs)
    );
    println!(
        "full pack:       median {:.3} s ({:.1} MB/s)",
        median(&pack_secs),
        mb / median(&pack_secs)
    );
    println!(
        "pack / tokenizer: median {:.3} (min {:.3}, max {:.3}) over {RUNS} pairs",
        median(&ratios),
        ratios.iter().cloned().fold(f64::INFINITY, f64::min),
        ratios.iter().cloned().fold(0.0, f64::max)
    );
    let budget_ratios: Vec<f64> = budget_secs
        .iter()
        .zip(&full_again)
        .map(|(b, p)| b / p)
        .collect();
    println!(
        "--budget 200k:   median {:.3} s; budgeted / full pack: median {:.3} (min {:.3}, max {:.3})",
        median(&budget_secs),
        median(&budget_ratios),
        budget_ratios.iter().cloned().fold(f64::INFINITY, f64::min),
        budget_ratios.iter().cloned().fold(0.0, f64::max)
    );
}
