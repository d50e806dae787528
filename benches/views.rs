//! Parsing and view extraction throughput on all cores, next to the tokenizer's on the same texts.
//!
//! `cargo bench --bench views -- DIR`. Reads every file of a language ctxpack parses (Markdown
//! aside) into memory, then times, on all cores (rayon over files): the tokenizer alone; parsing
//! alone; parsing plus the compressed view; parsing plus symbols and the outline. Each figure is the
//! median of five runs after a warm-up.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use ctxpack::lang::{self, grammar, syntax, Fidelity, Language};
use ctxpack::tokens::{Encoding, Tiktoken, TokenCounter};

const RUNS: usize = 5;

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CTXPACK_BENCH_CORPUS").map(PathBuf::from))
        .expect("usage: cargo bench --bench views -- DIR");
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() && entry.file_name() != ".git" => stack.push(path),
                Ok(t) if t.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    let texts: Vec<(Language, String)> = files
        .par_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let language = lang::detect(path, &text);
            (text.len() <= 1 << 20
                && language != Language::Markdown
                && grammar::grammar(language).is_some())
            .then_some((language, text))
        })
        .collect();
    let mb = texts.iter().map(|(_, t)| t.len()).sum::<usize>() as f64 / 1e6;
    println!(
        "{} files, {mb:.1} MB in parsed languages, {} threads",
        texts.len(),
        rayon::current_num_threads()
    );

    let counter = Tiktoken::new(Encoding::O200kBase);
    let measure = |label: &str, work: &(dyn Fn(Language, &str) -> usize + Sync)| {
        let mut secs = Vec::new();
        for run in 0..=RUNS {
            let start = Instant::now();
            let checksum: usize = texts.par_iter().map(|(l, t)| work(*l, t)).sum();
            std::hint::black_box(checksum);
            if run > 0 {
                secs.push(start.elapsed().as_secs_f64());
            }
        }
        secs.sort_by(|a, b| a.total_cmp(b));
        let median = secs[secs.len() / 2];
        println!("{label:<34} median {median:.3} s  {:.1} MB/s", mb / median);
    };
    measure("tokenizer alone", &|_, t| counter.count(t));
    measure("parse", &|l, t| {
        syntax::parse(l, t).map_or(0, |p| p.tree.root_node().child_count() as usize)
    });
    measure("parse + compressed view", &|l, t| {
        lang::view(l, Fidelity::Compressed, t).text.len()
    });
    measure("parse + symbols + outline", &|l, t| {
        lang::view(l, Fidelity::Outline, t).text.len()
    });

    // View sizes: file-text tokens at each fidelity, summed (the README's size table).
    let sums: Vec<(usize, usize, usize, bool)> = texts
        .par_iter()
        .map(|(l, t)| {
            let compressed = lang::view(*l, Fidelity::Compressed, t);
            let outline = lang::view(*l, Fidelity::Outline, t);
            (
                counter.count(t),
                counter.count(&compressed.text),
                counter.count(&outline.text),
                compressed.degraded.is_some(),
            )
        })
        .collect();
    let full: usize = sums.iter().map(|s| s.0).sum();
    let compressed: usize = sums.iter().map(|s| s.1).sum();
    let outline: usize = sums.iter().map(|s| s.2).sum();
    let degraded = sums.iter().filter(|s| s.3).count();
    println!(
        "tokens: full {full}, compressed {compressed} ({:.1} %), outline {outline} ({:.1} %); {degraded} files degraded",
        100.0 * compressed as f64 / full as f64,
        100.0 * outline as f64 / full as f64
    );
}
