//! Packs with the cache between runs against the same packs without it, in-process.
//!
//! `cargo bench --bench cache -- DIR`. For each mode (full, `--fidelity compressed`, `--budget
//! 200k`), runs alternate: without a cache (`--no-cache`); a first run, which starts with no store
//! and writes one; and a warm run, which reads the store an earlier run of the same mode wrote.
//! Configuring (which reads the store), packing and saving are all timed. Each mode runs in a
//! process of its own (the bench re-executes itself), so that one mode's allocations do not slow
//! the next. Five triples after a warm-up; medians, and the medians of the per-triple ratios.

use std::path::{Path, PathBuf};
use std::time::Instant;

mod support;

use support::{median, pack_config};

const RUNS: usize = 5;
const MODES: [(&str, &[&str]); 3] = [
    ("full pack", &[]),
    ("--fidelity compressed", &["--fidelity", "compressed"]),
    ("--budget 200k", &["--budget", "200k"]),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let corpus = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CTXPACK_BENCH_CORPUS").map(PathBuf::from))
        .expect("usage: cargo bench --bench cache -- DIR");
    if let Ok(mode) = std::env::var("CTXPACK_BENCH_CACHE_MODE") {
        let (label, flags) = MODES[mode.parse::<usize>().expect("a mode number")];
        return measure(&corpus, label, flags);
    }
    for mode in 0..MODES.len() {
        let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
            .arg(&corpus)
            .env("CTXPACK_BENCH_CACHE_MODE", mode.to_string())
            .status()
            .expect("run one mode");
        assert!(status.success());
    }
}

fn measure(corpus: &Path, label: &str, flags: &[&str]) {
    let out_dir = tempfile::tempdir().expect("temporary directory");
    let out = out_dir.path().join("context.xml");
    let warm_dir = tempfile::tempdir().expect("temporary directory");
    let first_dir = tempfile::tempdir().expect("temporary directory");
    let store_in = |dir: &Path| -> Vec<String> {
        let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        args.extend(["--cache-dir".to_string(), dir.display().to_string()]);
        args
    };
    let timed = |args: &[String]| {
        let start = Instant::now();
        let config = pack_config(corpus, &out, args);
        support::pack(&config);
        start.elapsed().as_secs_f64()
    };
    let none: Vec<String> = flags
        .iter()
        .map(|f| f.to_string())
        .chain(["--no-cache".to_string()])
        .collect();
    timed(&store_in(warm_dir.path())); // writes the store the warm runs read
    let (mut cold, mut first, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..=RUNS {
        let c = timed(&none);
        for entry in std::fs::read_dir(first_dir.path()).unwrap().flatten() {
            std::fs::remove_file(entry.path()).unwrap();
        }
        let f = timed(&store_in(first_dir.path()));
        let w = timed(&store_in(warm_dir.path()));
        if run > 0 {
            cold.push(c);
            first.push(f);
            warm.push(w);
        }
    }
    let ratio = |a: &[f64]| median(&a.iter().zip(&cold).map(|(x, c)| x / c).collect::<Vec<_>>());
    println!(
        "{label}: no cache {:.3} s, first run {:.3} s, warm {:.3} s (medians); first / no cache \
         {:.3}, warm / no cache {:.3} (medians of {RUNS} triples)",
        median(&cold),
        median(&first),
        median(&warm),
        ratio(&first),
        ratio(&warm)
    );
}
