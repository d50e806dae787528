//! What secret scanning costs in a full pack, and what it finds in a real tree.
//!
//! `cargo bench --bench secrets [-- CORPUS_DIR]` alternates full packs with `--secrets off` and
//! `--secrets redact` (the default, in ABBA order) and reports the median of the per-pair ratios,
//! and of the fastest runs, in wall-clock and in CPU time, plus the scanner alone over the same
//! texts on all cores, as a share of a pack. Every sample is printed too. Without a directory (or
//! `CTXPACK_BENCH_CORPUS`), the generated tree of `benches/corpus.rs` is used.
//!
//! `--hidden` and `--no-ignore` are passed on to the packs.
//!
//! `cargo bench --bench secrets -- --adversarial` instead measures the scanner alone on text built
//! against its rules (long runs that almost match) next to ordinary code of the same size, in
//! MB/s: the speed that linear-time engines keep whatever the input (no test asserts on it).
//!
//! `cargo bench --bench secrets -- CORPUS_DIR --findings` instead lists every finding as
//! `path:line: rule (kind)` with its line, the value masked as `⟪rule: N chars, classes⟫`, and
//! counts per rule and per 10,000 files: the material for judging false positives by hand.

mod corpus;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use ctxpack::config::PackConfig;
use ctxpack::load::{load, Loaded};
use ctxpack::secrets::{Finding, Kind, Scanner};
use ctxpack::walk::{self, Status};
use support::median;

const RUNS: usize = 8;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let findings_mode = args.iter().any(|a| a == "--findings");
    if args.iter().any(|a| a == "--adversarial") {
        adversarial();
        return;
    }
    let arg = args
        .iter()
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
    // Walk flags to pass on to the packs (`--hidden`, `--no-ignore`).
    let walk_flags: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| ["--hidden", "--no-ignore"].contains(a))
        .collect();
    let off_config = pack_config(&corpus, &out, "off", &walk_flags);
    let redact = pack_config(&corpus, &out, "redact", &walk_flags);

    // The texts a pack includes, read once, for the scanner-alone measurement and the listing.
    let found = std::sync::Mutex::new(Vec::new());
    walk::walk(
        &redact.request.source.inputs,
        &redact.request.source.walk,
        &|entry| {
            found.lock().unwrap().push(entry);
            std::ops::ControlFlow::Continue(())
        },
    )
    .expect("walk");
    let mut files: Vec<(String, String)> = found
        .into_inner()
        .unwrap()
        .par_iter()
        .filter(|e| matches!(e.status, Status::Load))
        .filter_map(
            |e| match load(&e.abs, redact.request.source.max_file_size) {
                Loaded::Text(t) => Some((e.rel.display(), t.text)),
                Loaded::Omitted(..) => None,
            },
        )
        .collect();
    files.sort();
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();

    if findings_mode {
        list_findings(&files);
        return;
    }

    let scanner = Scanner::get();
    let mut off = Timings::default();
    let mut redact_t = Timings::default();
    let mut scan = Timings::default();
    for run in 0..=RUNS {
        // Alternate which mode goes first (ABBA), so that drift hits both alike.
        let order: [bool; 2] = if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut pair = [(0.0, 0.0); 2];
        for scanning in order {
            let config = if scanning { &redact } else { &off_config };
            let sample = measure(|| {
                support::pack(config);
            });
            pair[usize::from(scanning)] = sample;
        }
        let scan_sample = measure(|| {
            let found: usize = files
                .par_iter()
                .map(|(path, text)| scanner.redact(path, text).findings.len())
                .sum();
            std::hint::black_box(found);
        });
        if run > 0 {
            // Run 0 warms the page cache, the tokenizer and the rules.
            off.push(pair[0]);
            redact_t.push(pair[1]);
            scan.push(scan_sample);
        }
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {} files, {mb:.1} MB of text, {} threads, {RUNS} pairs",
        files.len(),
        rayon::current_num_threads()
    );
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("wall off:    {}", list(&off.wall));
    println!("wall redact: {}", list(&redact_t.wall));
    println!("cpu off:     {}", list(&off.cpu));
    println!("cpu redact:  {}", list(&redact_t.cpu));
    for (what, pick) in [("wall", 0usize), ("cpu", 1usize)] {
        let get = |t: &Timings| {
            if pick == 0 {
                t.wall.clone()
            } else {
                t.cpu.clone()
            }
        };
        let (o, r, s) = (get(&off), get(&redact_t), get(&scan));
        let ratios: Vec<f64> = r.iter().zip(&o).map(|(r, o)| r / o).collect();
        let min = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{what:>4}: pack --secrets off median {:.3} s (fastest {:.3}), redact median {:.3} s \
             (fastest {:.3}); redact / off: median of pairs {:.3} (min {:.3}, max {:.3}), \
             fastest / fastest {:.3}; scanner alone median {:.3} s = {:.1} % of a pack with \
             --secrets off",
            median(&o),
            min(&o),
            median(&r),
            min(&r),
            median(&ratios),
            min(&ratios),
            ratios.iter().cloned().fold(0.0, f64::max),
            min(&r) / min(&o),
            median(&s),
            100.0 * median(&s) / median(&o),
        );
    }
}

/// The scanner alone, on one thread, on adversarial text and on ordinary code of the same size,
/// interleaved, at two sizes: MB/s per run and the medians. Linear-time scanning keeps the same
/// MB/s at four times the size; a backtracking or quadratic one would fall with it.
fn adversarial() {
    const PASSES: usize = 15;
    let scanner = Scanner::get();
    let mbps = |text: &str| {
        let start = Instant::now();
        let found = scanner.redact("big.txt", text).findings.len();
        std::hint::black_box(found);
        text.len() as f64 / 1e6 / start.elapsed().as_secs_f64()
    };
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for scale in [1, 4] {
        // The input of the old timing test, and a real secret after it so the scan must reach
        // the end.
        let adversarial = format!(
            "password = \"{}\npassword{}\n-----BEGIN PRIVATE KEY-----{}\n{}\ntoken = \"{}\"\n",
            "a".repeat(200_000 * scale),
            "=".repeat(100_000 * scale),
            "A".repeat(200_000 * scale),
            "eyJ".repeat(100_000 * scale),
            "Qm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bE"
        );
        let line = "fn main() { let password_len = value.len(); }\n";
        let ordinary = line.repeat(adversarial.len() / line.len());
        // Warm the rules and the caches.
        mbps(&adversarial);
        mbps(&ordinary);
        let (mut adv, mut ord) = (Vec::new(), Vec::new());
        for pass in 0..PASSES {
            if pass % 2 == 0 {
                adv.push(mbps(&adversarial));
                ord.push(mbps(&ordinary));
            } else {
                ord.push(mbps(&ordinary));
                adv.push(mbps(&adversarial));
            }
        }
        println!(
            "scanner alone, one thread, {:.2} MB each, {PASSES} interleaved passes",
            adversarial.len() as f64 / 1e6
        );
        println!("  adversarial MB/s: {}", list(&adv));
        println!("  ordinary MB/s:    {}", list(&ord));
        println!(
            "  median: adversarial {:.1} MB/s, ordinary {:.1} MB/s, adversarial / ordinary {:.2}",
            median(&adv),
            median(&ord),
            median(&adv) / median(&ord)
        );
    }
}

/// Wall-clock and CPU seconds (user + system, all threads of this process) per run.
#[derive(Default)]
struct Timings {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Timings {
    fn push(&mut self, (wall, cpu): (f64, f64)) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }
}

/// Runs `f` and returns its wall-clock and CPU seconds. CPU time is the steadier figure on a
/// shared machine: other processes' load stretches wall time, not the work this one does.
fn measure(f: impl FnOnce()) -> (f64, f64) {
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    f();
    let wall = start.elapsed().as_secs_f64();
    // A pack's worker pool is dropped on return, and a thread's CPU time only joins the
    // process's once the thread has exited: give them time to, so that no run's work is
    // counted in the next.
    std::thread::sleep(std::time::Duration::from_millis(300));
    (wall, cpu_seconds() - cpu_before)
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer has no other preconditions.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn list_findings(files: &[(String, String)]) {
    let scanner = Scanner::get();
    let results: Vec<(&str, &str, Vec<Finding>)> = files
        .par_iter()
        .map(|(path, text)| {
            let found = scanner.redact(path, text).findings;
            (path.as_str(), text.as_str(), found)
        })
        .collect();
    let mut per_rule: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut files_with = 0;
    for (path, text, found) in &results {
        files_with += usize::from(!found.is_empty());
        for finding in found {
            let kind = match finding.kind {
                Kind::Secret => "secret",
                Kind::Example => "example",
            };
            *per_rule.entry((finding.rule, kind)).or_default() += 1;
            println!(
                "{path}:{}: {} ({kind}) | {}",
                finding.line,
                finding.rule,
                masked_line(text, finding)
            );
        }
    }
    let n = files.len() as f64;
    println!(
        "\n{} files scanned, {files_with} with findings",
        files.len()
    );
    println!("rule                      kind      count  per 10,000 files");
    for ((rule, kind), count) in &per_rule {
        println!(
            "{rule:<25} {kind:<8} {count:>6}  {:>8.1}",
            *count as f64 * 10_000.0 / n
        );
    }
    let secrets: usize = per_rule
        .iter()
        .filter(|((_, k), _)| *k == "secret")
        .map(|(_, c)| c)
        .sum();
    let examples: usize = per_rule
        .iter()
        .filter(|((_, k), _)| *k == "example")
        .map(|(_, c)| c)
        .sum();
    println!(
        "total: {secrets} secrets ({:.1} per 10,000 files), {examples} examples ({:.1} per 10,000 files)",
        secrets as f64 * 10_000.0 / n,
        examples as f64 * 10_000.0 / n
    );
}

/// The finding's first line, with the value replaced by its length and character classes.
fn masked_line(text: &str, finding: &Finding) -> String {
    let value = &text[finding.range.clone()];
    let line_start = text[..finding.range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[finding.range.start..]
        .find('\n')
        .map_or(text.len(), |i| finding.range.start + i);
    let after = finding.range.end.min(line_end).max(finding.range.start);
    let classes: String = [
        (value.bytes().any(|b| b.is_ascii_uppercase()), 'A'),
        (value.bytes().any(|b| b.is_ascii_lowercase()), 'a'),
        (value.bytes().any(|b| b.is_ascii_digit()), '9'),
        (
            value
                .bytes()
                .any(|b| !b.is_ascii_alphanumeric() && b != b'\n'),
            '#',
        ),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, c)| *c)
    .collect();
    let line = format!(
        "{}⟪{}: {} chars, {classes}⟫{}",
        &text[line_start..finding.range.start],
        finding.rule,
        value.chars().count(),
        if finding.range.end > line_end {
            ""
        } else {
            &text[after..line_end]
        }
    );
    line.trim().chars().take(220).collect()
}

fn pack_config(corpus: &Path, out: &Path, secrets: &str, flags: &[&str]) -> PackConfig {
    // Every run scans, counts and renders everything.
    let mut extra = vec!["--secrets", secrets, "--no-cache"];
    extra.extend_from_slice(flags);
    support::pack_config(corpus, out, &extra)
}
