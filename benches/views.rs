//! Parsing and view extraction throughput on all cores, next to the tokenizer's on the same texts.
//!
//! `cargo bench --bench views -- DIR`. Reads every file of a language ctxpack parses (Markdown
//! aside) into memory, then times, on all cores (rayon over files): the tokenizer alone; parsing
//! alone; parsing plus the compressed view, and the tokenizer on those views (the two stages of a
//! compressed pack); parsing plus definitions, or plus all tags; the outline, and the tokenizer on
//! outlines. Each figure is the median of five runs after a warm-up, as MB/s of full text.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use ctxpack::lang::{self, grammar, syntax, Language};
use ctxpack::tokens::{Encoding, Tiktoken, TokenCounter};
use ctxpack::types::Fidelity;

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
    // Each figure is the time of one pass over every file, as MB/s of the files' full text, so
    // that stages of a pack compare directly: a compressed pack parses the full text and then
    // counts only the view.
    let measure = |label: &str, work: &(dyn Fn(usize) -> usize + Sync)| {
        let mut secs = Vec::new();
        for run in 0..=RUNS {
            let start = Instant::now();
            let checksum: usize = (0..texts.len()).into_par_iter().map(work).sum();
            std::hint::black_box(checksum);
            if run > 0 {
                secs.push(start.elapsed().as_secs_f64());
            }
        }
        secs.sort_by(|a, b| a.total_cmp(b));
        let median = secs[secs.len() / 2];
        println!("{label:<34} median {median:.3} s  {:.1} MB/s", mb / median);
    };
    let view_texts = |fidelity: Fidelity| -> Vec<String> {
        texts
            .par_iter()
            .map(|(l, t)| lang::view(*l, fidelity, t).text)
            .collect()
    };
    let (compressed_texts, outline_texts) = (
        view_texts(Fidelity::Compressed),
        view_texts(Fidelity::Outline),
    );
    measure("tokenizer alone", &|i| counter.count(&texts[i].1));
    measure("parse", &|i| {
        let (l, t) = &texts[i];
        syntax::parse(*l, t).map_or(0, |p| p.tree.root_node().child_count() as usize)
    });
    measure("parse + compressed view", &|i| {
        let (l, t) = &texts[i];
        lang::view(*l, Fidelity::Compressed, t).text.len()
    });
    measure("tokenizer on compressed views", &|i| {
        counter.count(&compressed_texts[i])
    });
    measure("parse + definitions", &|i| {
        let (l, t) = &texts[i];
        syntax::parse(*l, t)
            .and_then(|p| lang::symbols::definitions(&p, t))
            .map_or(0, |s| s.definitions.len())
    });
    measure("parse + symbols (all tags)", &|i| {
        let (l, t) = &texts[i];
        syntax::parse(*l, t)
            .and_then(|p| lang::symbols::extract(&p, t))
            .map_or(0, |s| s.definitions.len() + s.references.len())
    });
    measure("parse + definitions + outline", &|i| {
        let (l, t) = &texts[i];
        lang::view(*l, Fidelity::Outline, t).text.len()
    });
    measure("tokenizer on outlines", &|i| {
        counter.count(&outline_texts[i])
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
