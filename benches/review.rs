//! Review packs on real history: does `pack --diff COMMIT^ --budget 32k`, run at a commit, hold
//! every file's patch, and how often do the touched files fit in full? And what does it cost next
//! to a plain `pack --budget 32k` of the same tree?
//!
//! `cargo bench --bench review -- REPO [COMMITS]` takes the newest COMMITS (default 20) non-merge
//! commits of REPO (a clone with history), checks each out in a detached worktree, and runs both
//! packs there as whole processes (`--no-cache`, three interleaved runs each; the median is
//! reported). The document's patches, together, are compared with `git diff COMMIT^ COMMIT`;
//! a commit whose patches hold a redacted secret is reported as such, not as exact.
//! `CTXPACK_BENCH_BIN=path/to/ctxpack` measures another build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BUDGET: &str = "32000";
const RUNS: usize = 3;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn binary() -> PathBuf {
    std::env::var_os("CTXPACK_BENCH_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_ctxpack")),
        PathBuf::from,
    )
}

/// Runs ctxpack in `dir`; returns its stdout and wall seconds.
fn run(dir: &Path, args: &[&str]) -> (String, f64) {
    let start = Instant::now();
    let out = Command::new(binary())
        .current_dir(dir)
        .args(args)
        .args(["-q", "--no-cache"])
        .output()
        .expect("run ctxpack");
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "ctxpack {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8(out.stdout).expect("UTF-8"), seconds)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

struct Row {
    commit: String,
    patches: usize,
    listed: usize,
    exact: bool,
    touched: usize,
    touched_full: usize,
    diff_seconds: f64,
    plain_seconds: f64,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let repo = PathBuf::from(
        args.first()
            .expect("usage: cargo bench --bench review -- REPO"),
    );
    let wanted: usize = args.get(1).map_or(20, |n| n.parse().expect("COMMITS"));
    let commits: Vec<String> = git(
        &repo,
        &[
            "log",
            "--no-merges",
            "--min-parents=1",
            "-n",
            &wanted.to_string(),
            "--format=%H",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    let scratch = tempfile::tempdir().expect("temporary directory");
    let mut rows = Vec::new();
    for (n, commit) in commits.iter().enumerate() {
        let dir = scratch.path().join(format!("wt{n}"));
        git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "--detach",
                dir.to_str().unwrap(),
                commit,
            ],
        );
        let base = format!("{commit}^");
        let diff_args = ["pack", "--diff", &base, "--budget", BUDGET];
        let plain_args = ["pack", "--budget", BUDGET];
        let (mut diff_times, mut plain_times) = (Vec::new(), Vec::new());
        let mut document = String::new();
        for _ in 0..RUNS {
            let (out, seconds) = run(&dir, &diff_args);
            diff_times.push(seconds);
            document = out;
            plain_times.push(run(&dir, &plain_args).1);
        }
        let doc = roxmltree::Document::parse(&document).expect("well-formed");
        let patches: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("patch"))
            .map(|n| {
                let text: String = n.children().filter_map(|c| c.text()).collect();
                (n.attribute("path").unwrap_or_default().to_string(), text)
            })
            .collect();
        let listed = git(&dir, &["diff", "--name-only", "-z", &base, commit]);
        let listed = listed.split('\0').filter(|p| !p.is_empty()).count();
        // Every file's patch, whole and in git's order, is exactly what git prints (unless a
        // secret in it was redacted).
        let all: String = patches.iter().map(|(_, text)| text.as_str()).collect();
        let exact = all == git(&dir, &["diff", &base, commit]);
        if !exact && all.contains("[REDACTED:") {
            println!("{commit}: a secret in the diff was redacted; not compared");
        }
        let statuses = git(
            &dir,
            &["diff", "--name-status", "--no-renames", &base, commit],
        );
        let touched: Vec<String> = statuses
            .lines()
            .filter(|l| !l.starts_with('D'))
            .filter_map(|l| l.split('\t').nth(1).map(str::to_string))
            .collect();
        let full: usize = touched
            .iter()
            .filter(|path| {
                doc.descendants().any(|n| {
                    n.has_tag_name("file")
                        && n.parent().is_some_and(|p| p.has_tag_name("files"))
                        && n.attribute("path") == Some(path.as_str())
                        && n.attribute("fidelity") == Some("full")
                })
            })
            .count();
        let row = Row {
            commit: commit[..10].to_string(),
            patches: patches.len(),
            listed,
            exact,
            touched: touched.len(),
            touched_full: full,
            diff_seconds: median(diff_times),
            plain_seconds: median(plain_times),
        };
        println!(
            "{} patches {}/{} files (as git prints them: {}), touched files in full {}/{}, --diff {:.2} s, plain {:.2} s",
            row.commit,
            row.patches,
            row.listed,
            row.exact,
            row.touched_full,
            row.touched,
            row.diff_seconds,
            row.plain_seconds
        );
        rows.push(row);
        git(
            &repo,
            &["worktree", "remove", "--force", dir.to_str().unwrap()],
        );
    }
    let all_patches = rows
        .iter()
        .filter(|r| r.exact && r.patches == r.listed)
        .count();
    let all_full = rows.iter().filter(|r| r.touched_full == r.touched).count();
    let touched: usize = rows.iter().map(|r| r.touched).sum();
    let full: usize = rows.iter().map(|r| r.touched_full).sum();
    let ratios: Vec<f64> = rows
        .iter()
        .map(|r| r.diff_seconds / r.plain_seconds)
        .collect();
    println!(
        "{} commits: every patch present and exact in {}; every touched file in full in {} \
         ({full} of {touched} touched files); --diff / plain time, median of commits {:.2} \
         (min {:.2}, max {:.2}); medians {:.2} s and {:.2} s",
        rows.len(),
        all_patches,
        all_full,
        median(ratios.clone()),
        ratios.iter().cloned().fold(f64::INFINITY, f64::min),
        ratios.iter().cloned().fold(0.0, f64::max),
        median(rows.iter().map(|r| r.diff_seconds).collect()),
        median(rows.iter().map(|r| r.plain_seconds).collect()),
    );
}
