//! Repeat packs as whole processes: cold (`--no-cache`) and warm (every file cached) full,
//! `--budget 200k` and `--plan` packs of one tree, interleaved run by run, with each process's
//! wall time and peak memory (the kernel's accounting of the finished child).
//!
//! `cargo bench --bench warm -- DIR [RUNS]` (RUNS: counted rounds, default 5, after one that is
//! dropped). Set `CTXPACK_BENCH_YEK` to a `yek` binary to time `yek --tokens 200k DIR` in the
//! same rounds, and `CTXPACK_BENCH_BIN` to time another ctxpack build instead of this one. The plan names three existing source files of DIR and one new one; the cache lives
//! in a temporary directory. Prints medians, and the medians of the per-round ratios.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// One timed configuration.
struct Config {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let corpus = PathBuf::from(
        args.first()
            .cloned()
            .or_else(|| std::env::var("CTXPACK_BENCH_CORPUS").ok())
            .expect("usage: cargo bench --bench warm -- DIR [RUNS]"),
    );
    let runs: usize = args
        .get(1)
        .map_or(5, |r| r.parse().expect("RUNS is a number"));
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let out = scratch.path().join("context.xml");
    let cache = scratch.path().join("cache");
    let plan = scratch.path().join("PLAN.md");
    std::fs::write(&plan, plan_for(&corpus)).expect("write the plan");
    // Another build (an earlier commit's, for a before-and-after) with CTXPACK_BENCH_BIN.
    let ctxpack = std::env::var_os("CTXPACK_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ctxpack")));
    let pack = |label: &'static str, extra: &[&str], cached: bool| {
        let mut args: Vec<String> = vec!["pack".into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        if !cached {
            args.push("--no-cache".into());
        }
        args.extend(["-q".into(), "-o".into(), out.display().to_string()]);
        args.push(corpus.display().to_string());
        Config {
            label,
            program: ctxpack.clone(),
            args,
            env: vec![("CTXPACK_CACHE_DIR".into(), cache.display().to_string())],
        }
    };
    let plan_arg = plan.display().to_string();
    let mut configs = vec![
        pack("cold full", &[], false),
        pack("warm full", &[], true),
        pack("cold --budget 200k", &["--budget", "200k"], false),
        pack("warm --budget 200k", &["--budget", "200k"], true),
        pack(
            "cold --plan --budget 200k",
            &["--plan", &plan_arg, "--budget", "200k"],
            false,
        ),
        pack(
            "warm --plan --budget 200k",
            &["--plan", &plan_arg, "--budget", "200k"],
            true,
        ),
    ];
    if let Ok(yek) = std::env::var("CTXPACK_BENCH_YEK") {
        configs.push(Config {
            label: "yek --tokens 200k",
            program: PathBuf::from(yek),
            args: vec![
                "--tokens".into(),
                "200k".into(),
                "--output-dir".into(),
                scratch.path().join("yek").display().to_string(),
                corpus.display().to_string(),
            ],
            env: Vec::new(),
        });
    }
    // The warm runs read what this round wrote: one pass fills the cache for every mode.
    for config in &configs {
        measure(config);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut memory: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for round in 0..=runs {
        for (i, config) in configs.iter().enumerate() {
            let (wall, peak) = measure(config);
            if round > 0 {
                times[i].push(wall);
                memory[i].push(peak);
            }
        }
    }
    println!(
        "{} rounds after one dropped, {} ({} files)",
        runs,
        corpus.display(),
        count_files(&corpus)
    );
    for (i, config) in configs.iter().enumerate() {
        println!(
            "{:<28} wall median {:>6.2} s (min {:.2}, max {:.2})   peak memory median {:>5.0} MB",
            config.label,
            median(&times[i]),
            min(&times[i]),
            max(&times[i]),
            median(&memory[i])
        );
    }
    let index = |label: &str| configs.iter().position(|c| c.label == label);
    let ratio = |a: &str, b: &str, of: &Vec<Vec<f64>>, what: &str| {
        let (Some(a_i), Some(b_i)) = (index(a), index(b)) else {
            return;
        };
        let ratios: Vec<f64> = of[a_i].iter().zip(&of[b_i]).map(|(x, y)| x / y).collect();
        println!(
            "{what:<8} {a} / {b}: median of rounds {:.3} (min {:.3}, max {:.3})",
            median(&ratios),
            min(&ratios),
            max(&ratios)
        );
    };
    ratio("warm full", "cold full", &times, "wall");
    ratio("warm --budget 200k", "cold --budget 200k", &times, "wall");
    ratio("cold --budget 200k", "cold full", &times, "wall");
    ratio("cold --budget 200k", "yek --tokens 200k", &times, "wall");
    ratio(
        "cold --plan --budget 200k",
        "cold --budget 200k",
        &times,
        "wall",
    );
    ratio(
        "warm --plan --budget 200k",
        "warm --budget 200k",
        &times,
        "wall",
    );
    ratio("cold --budget 200k", "cold full", &memory, "memory");
    ratio("warm --budget 200k", "warm full", &memory, "memory");
}

/// Runs `config` once: its wall time in seconds and its peak resident memory in MB.
fn measure(config: &Config) -> (f64, f64) {
    let start = Instant::now();
    let child = Command::new(&config.program)
        .args(&config.args)
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", config.program.display()));
    let (status, peak_kb) = wait(child);
    let wall = start.elapsed().as_secs_f64();
    assert!(status, "{} failed", config.label);
    (wall, peak_kb / 1024.0)
}

/// Waits for `child`: whether it succeeded, and its peak resident set in KB.
#[cfg(unix)]
fn wait(child: std::process::Child) -> (bool, f64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 reaps our own child and fills `status` and `usage`, which we own.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    std::mem::forget(child); // reaped above
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss as f64,
    )
}

#[cfg(not(unix))]
fn wait(mut child: std::process::Child) -> (bool, f64) {
    (child.wait().map(|s| s.success()).unwrap_or(false), 0.0)
}

/// A plan that modifies two source files of `corpus`, reads a third and creates a fourth.
fn plan_for(corpus: &Path) -> String {
    let mut found = Vec::new();
    let mut stack = vec![corpus.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if ["rs", "py", "ts", "go", "js"]
                .iter()
                .any(|e| name.ends_with(&format!(".{e}")))
                && found.len() < 3
            {
                found.push(path.strip_prefix(corpus).unwrap().display().to_string());
            }
        }
        if found.len() >= 3 {
            break;
        }
    }
    assert_eq!(found.len(), 3, "the corpus has three source files");
    format!(
        "# Plan\n\n## Files\n\n- modify `{}`\n- modify `{}`\n- read `{}`\n- create `bench_new_module.rs`\n\n## Steps\n\n1. Change the two files and add the new one.\n",
        found[0], found[1], found[2]
    )
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                n += 1;
            }
        }
    }
    n
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn min(values: &[f64]) -> f64 {
    values.iter().cloned().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
}
