//! Selection quality: does `pack --budget N --focus MESSAGE` keep the files a commit then changed?
//!
//! `cargo bench --bench selection -- GIT_DIR [COMMITS [SKIP]]` takes the newest non-merge commits
//! of a repository (with history) that modify between one and eight existing files and have a
//! message of at least 20 characters, after skipping the SKIP newest such commits (a held-out set).
//! For each, it checks out the parent into a temporary directory, packs it with the commit message
//! as `--focus` at 8k, 32k and 128k tokens, and measures the recall of the files the commit
//! modified: at full fidelity, and at any fidelity.
//!
//! The baseline ranks the files ctxpack considers by default (hidden files and directories left
//! out) by plain BM25 of the message over their identifier sub-words and packs them whole, best
//! first, until the budget is spent (30 tokens of markup per file). It is measured twice: with the whole budget for file text, and with the room ctxpack's document leaves for
//! files after its frame (root element, summary, tree and footer, counted in the document).
//!
//! `CTXPACK_BENCH_BIN=path/to/ctxpack` measures that build of ctxpack instead of this one;
//! `CTXPACK_BENCH_HIDDEN=1` lets both sides see hidden files (ctxpack with `--hidden`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use ctxpack::rank::sub_words;
use ctxpack::tokens::{Encoding, Tiktoken, TokenCounter};

const BUDGETS: [usize; 3] = [8_000, 32_000, 128_000];

struct Sample {
    commit: String,
    parent: String,
    message: String,
    modified: BTreeSet<String>,
}

fn git(git_dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn samples(git_dir: &Path, wanted: usize) -> Vec<Sample> {
    let log = git(
        git_dir,
        &[
            "log",
            "--no-merges",
            "-n",
            "600",
            "--format=@@%H %P%n%s%n%b%n@@",
            "--name-status",
            "--no-renames",
        ],
    );
    let mut found = Vec::new();
    // `@@header@@` then the commit's name-status lines, repeated: after the leading empty piece,
    // pieces alternate between headers and file lists.
    for block in log.split("@@").skip(1).collect::<Vec<_>>().chunks(2) {
        let [header, files] = block else { continue };
        let mut lines = header.lines();
        let Some(ids) = lines.next() else { continue };
        let mut ids = ids.split_whitespace();
        let (Some(commit), Some(parent)) = (ids.next(), ids.next()) else {
            continue;
        };
        let message = lines.collect::<Vec<_>>().join("\n").trim().to_string();
        let modified: BTreeSet<String> = files
            .lines()
            .filter_map(|l| l.strip_prefix("M\t"))
            .map(str::to_string)
            .collect();
        if message.len() >= 20 && (1..=8).contains(&modified.len()) {
            found.push(Sample {
                commit: commit.to_string(),
                parent: parent.to_string(),
                message,
                modified,
            });
        }
        if found.len() == wanted {
            break;
        }
    }
    found
}

fn checkout(git_dir: &Path, commit: &str, dir: &Path) {
    let index = dir.with_extension("index");
    let status = Command::new("git")
        .env("GIT_INDEX_FILE", &index)
        .arg("--git-dir")
        .arg(git_dir)
        .args(["read-tree", commit])
        .status()
        .expect("git read-tree");
    assert!(status.success());
    let status = Command::new("git")
        .env("GIT_INDEX_FILE", &index)
        .arg("--git-dir")
        .arg(git_dir)
        .arg("--work-tree")
        .arg(dir)
        .args(["checkout-index", "-a", "-f"])
        .status()
        .expect("git checkout-index");
    assert!(status.success());
    let _ = std::fs::remove_file(index);
}

/// Paths in the document, by fidelity, and the tokens of the document outside its file elements.
fn packed(dir: &Path, budget: usize, focus: &str) -> (BTreeMap<String, String>, usize) {
    // CTXPACK_BENCH_BIN compares another build of ctxpack on the same commits.
    let binary = std::env::var_os("CTXPACK_BENCH_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_ctxpack")),
        PathBuf::from,
    );
    let out = Command::new(binary)
        .arg("pack")
        .arg(dir)
        .args(["-q", "--budget", &budget.to_string(), "--focus", focus])
        .args(hidden().then_some("--hidden"))
        // Each commit's checkout is a new root: keep its cache store out of the user's.
        .env("CTXPACK_CACHE_DIR", dir.with_extension("cache"))
        .output()
        .expect("run ctxpack");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let doc = roxmltree::Document::parse(&text).expect("well-formed");
    let files: Vec<roxmltree::Node<'_, '_>> = doc
        .descendants()
        .filter(|n| n.has_tag_name("file") && n.parent().is_some_and(|p| p.has_tag_name("files")))
        .collect();
    let mut frame = String::new();
    let mut from = 0;
    for file in &files {
        frame.push_str(&text[from..file.range().start]);
        from = file.range().end;
    }
    frame.push_str(&text[from..]);
    let chosen = files
        .iter()
        .map(|n| {
            (
                n.attribute("path").unwrap_or_default().to_string(),
                n.attribute("fidelity").unwrap_or_default().to_string(),
            )
        })
        .collect();
    (chosen, Tiktoken::new(Encoding::O200kBase).count(&frame))
}

/// CTXPACK_BENCH_HIDDEN=1: both sides see hidden files (ctxpack with `--hidden`).
fn hidden() -> bool {
    std::env::var_os("CTXPACK_BENCH_HIDDEN").is_some_and(|v| v == "1")
}

fn text_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            // The files ctxpack's walk considers by default: no hidden files or directories
            // (`.github/`, `.cargo/`), so that both rank the same candidates.
            let name = entry.file_name();
            if name == ".git" || (!hidden() && name.to_string_lossy().starts_with('.')) {
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    if text.len() <= 1 << 20 {
                        let rel = path
                            .strip_prefix(dir)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned();
                        files.push((rel, text));
                    }
                }
            }
        }
    }
    files.sort();
    files
}

/// The baseline's ranking: BM25 of the message over each file's sub-words, best first.
fn bm25_order(files: &[(String, String)], message: &str) -> Vec<usize> {
    let query: BTreeSet<String> = sub_words(message)
        .into_iter()
        .filter(|t| t.len() >= 3)
        .collect();
    let docs: Vec<HashMap<String, f64>> = files
        .iter()
        .map(|(path, text)| {
            let mut tf = HashMap::new();
            for word in sub_words(path).into_iter().chain(sub_words(text)) {
                *tf.entry(word).or_insert(0.0) += 1.0;
            }
            tf
        })
        .collect();
    let lengths: Vec<f64> = docs.iter().map(|d| d.values().sum()).collect();
    let average = lengths.iter().sum::<f64>() / lengths.len().max(1) as f64;
    let n = docs.len() as f64;
    let idf: Vec<f64> = query
        .iter()
        .map(|term| {
            let df = docs.iter().filter(|d| d.contains_key(term)).count() as f64;
            ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
        })
        .collect();
    let mut scored: Vec<(f64, usize)> = docs
        .iter()
        .enumerate()
        .map(|(i, tf)| {
            let score = query
                .iter()
                .zip(&idf)
                .map(|(term, idf)| {
                    let f = tf.get(term).copied().unwrap_or(0.0);
                    idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * lengths[i] / average))
                })
                .sum();
            (score, i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// The baseline's pack: whole files in `order`, each that still fits, within `room` tokens.
fn bm25_pack(
    files: &[(String, String)],
    tokens: &[usize],
    order: &[usize],
    room: usize,
) -> BTreeSet<String> {
    let mut used = 0;
    let mut chosen = BTreeSet::new();
    for &i in order {
        let cost = tokens[i] + 30;
        if used + cost <= room {
            used += cost;
            chosen.insert(files[i].0.clone());
        }
    }
    chosen
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let git_dir = PathBuf::from(
        args.next()
            .expect("usage: selection GIT_DIR [COMMITS [SKIP]]"),
    );
    let wanted: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(30);
    let skip: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let samples = samples(&git_dir, wanted + skip)
        .into_iter()
        .skip(skip)
        .collect::<Vec<_>>();
    println!(
        "{} commits from {} ({} newest skipped), {}..{}",
        samples.len(),
        git_dir.display(),
        skip,
        samples.last().map_or("", |s| &s.commit[..10]),
        samples.first().map_or("", |s| &s.commit[..10]),
    );
    let counter = Tiktoken::new(Encoding::O200kBase);
    // Recall sums per budget: ours at full, ours at any fidelity, BM25 with the whole budget, BM25
    // in the room ctxpack's frame leaves.
    let mut sums = vec![[0.0; 4]; BUDGETS.len()];
    for sample in &samples {
        let work = tempfile::tempdir().expect("temporary directory");
        let dir = work.path().join("tree");
        std::fs::create_dir(&dir).unwrap();
        checkout(&git_dir, &sample.parent, &dir);
        let files = text_files(&dir);
        let tokens: Vec<usize> = files.iter().map(|(_, text)| counter.count(text)).collect();
        let order = bm25_order(&files, &sample.message);
        let total = sample.modified.len() as f64;
        let recall = |chosen: &BTreeSet<String>| {
            sample
                .modified
                .iter()
                .filter(|p| chosen.contains(*p))
                .count() as f64
                / total
        };
        // Per budget: modified files at full fidelity, at any, and in the two baselines.
        let mut line = String::new();
        for (b, &budget) in BUDGETS.iter().enumerate() {
            let (ours, frame) = packed(&dir, budget, &sample.message);
            let full = sample
                .modified
                .iter()
                .filter(|p| ours.get(*p).is_some_and(|f| f == "full"))
                .count() as f64;
            let any = sample
                .modified
                .iter()
                .filter(|p| ours.contains_key(*p))
                .count() as f64;
            let bm25 = recall(&bm25_pack(&files, &tokens, &order, budget));
            let framed = recall(&bm25_pack(
                &files,
                &tokens,
                &order,
                budget.saturating_sub(frame),
            ));
            for (sum, value) in sums[b]
                .iter_mut()
                .zip([full / total, any / total, bm25, framed])
            {
                *sum += value;
            }
            line.push_str(&format!(
                " {}k {full}/{any}/{}/{} of {total} (frame {frame});",
                budget / 1000,
                bm25 * total,
                framed * total
            ));
        }
        eprintln!(
            "{} {}\n   {line}",
            &sample.commit[..10],
            sample.message.lines().next().unwrap_or("")
        );
    }
    let n = samples.len().max(1) as f64;
    println!(
        "budget | ctxpack recall (full) | ctxpack recall (any fidelity) | \
         BM25 recall (whole budget) | BM25 recall (room after ctxpack's frame)"
    );
    for (b, budget) in BUDGETS.iter().enumerate() {
        let [full, any, bm25, framed] = sums[b].map(|s| s / n);
        println!("{budget:>6} | {full:.3} | {any:.3} | {bm25:.3} | {framed:.3}");
    }
}
