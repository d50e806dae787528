//! `pack --budget`: never over the budget (counted directly), filled when the content exceeds
//! it, and spent on the highest-ranked files first.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{direct_count, parse, run, run_ok, Doc, TestEnv};

fn pack_budget(env: &TestEnv, args: &[&str]) -> Doc {
    let mut cmd = env.ctxpack();
    cmd.arg("pack").arg("-q").args(args);
    parse(&run_ok(cmd).stdout)
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Random trees of code and prose, random budgets: the emitted document, re-tokenized, is never
/// over the budget, and its own count is exact.
#[test]
fn random_trees_never_exceed_the_budget() {
    let samples: Vec<(String, Vec<u8>)> =
        fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lang"))
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                path.is_file().then(|| {
                    (
                        path.file_name().unwrap().to_string_lossy().into_owned(),
                        fs::read(&path).unwrap(),
                    )
                })
            })
            .collect();
    let words = [
        "retry", "client", "budget", "token", "parse", "ranking", "the", "of", "x",
    ];
    let mut rng = Rng(0xdead_beef_1234_5678);
    for round in 0..6 {
        let env = TestEnv::new();
        let files = 5 + rng.below(40) as usize;
        for f in 0..files {
            let dir = format!("d{}/e{}", rng.below(4), rng.below(3));
            if rng.below(3) == 0 {
                let (name, bytes) = &samples[rng.below(samples.len() as u64) as usize];
                env.write(format!("{dir}/{f}_{name}"), bytes);
            } else {
                let len = rng.below(3000) as usize;
                let text: String = (0..len)
                    .map(|i| {
                        let w = words[rng.below(words.len() as u64) as usize];
                        if i % 12 == 11 {
                            format!("{w}\n")
                        } else {
                            format!("{w} ")
                        }
                    })
                    .collect();
                env.write(format!("{dir}/note{f}.txt"), text);
            }
        }
        for budget in [1_500usize, 4_000, 12_000, 40_000] {
            let mut cmd = env.ctxpack();
            cmd.args(["pack", "-q", "--budget", &budget.to_string()]);
            let out = run(cmd);
            if out.status.code() == Some(2) {
                // Only a budget below the smallest document may be refused, and it says so.
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(stderr.contains("the budget is too small"), "{stderr}");
                let smallest = crate::budget_property::named_budget(&stderr);
                assert!(smallest > budget, "refused {budget} but named {smallest}");
                continue;
            }
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc = parse(&out.stdout);
            let direct = direct_count(&doc);
            assert_eq!(
                doc.tokens, direct,
                "round {round}, budget {budget}: exact total"
            );
            assert!(
                direct <= budget,
                "round {round}: {direct} tokens for a budget of {budget}"
            );
            for (path, file) in &doc.files {
                assert!(file.attrs.contains_key("rank"), "{path} carries its rank");
            }
        }
    }
}

/// Crate sources cargo downloaded for this build: a real corpus larger than every budget but the
/// last. At most the budget, and at least 97 % of it whenever the content exceeds it.
#[test]
fn a_real_corpus_fills_each_budget_without_exceeding_it() {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("a cargo home");
    let registry = fs::read_dir(home.join("registry/src"))
        .expect("cargo's registry sources")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a registry source directory");
    let env = TestEnv::new();
    let mut cmd = env.ctxpack();
    cmd.current_dir(&registry).args(["pack", "-q", "."]);
    for glob in [
        "regex-*/**/*.rs",
        "rayon-*/**/*.rs",
        "ignore-*/**/*.rs",
        "quick-xml-*/**/*.rs",
    ] {
        cmd.args(["--include", glob]);
    }
    let full = parse(&run_ok(cmd).stdout);
    let content = full.tokens;
    assert!(
        content > 200_000,
        "the corpus is larger than 200k tokens ({content})"
    );
    for budget in [8_000usize, 32_000, 200_000, 1_000_000] {
        let mut cmd = env.ctxpack();
        cmd.current_dir(&registry)
            .args(["pack", "-q", ".", "--budget", &budget.to_string()]);
        for glob in [
            "regex-*/**/*.rs",
            "rayon-*/**/*.rs",
            "ignore-*/**/*.rs",
            "quick-xml-*/**/*.rs",
        ] {
            cmd.args(["--include", glob]);
        }
        let doc = parse(&run_ok(cmd).stdout);
        let direct = direct_count(&doc);
        assert_eq!(doc.tokens, direct);
        assert!(direct <= budget, "{direct} > {budget}");
        if content > budget {
            assert!(
                direct * 100 >= budget * 97,
                "only {direct} of {budget} used"
            );
        }
    }
}

/// Under a tight budget the files the focus points at survive at full fidelity ahead of the
/// others: the failure of packers that cut greedily in path order.
#[test]
fn under_a_tight_budget_the_highest_ranked_files_stay_full() {
    let env = TestEnv::new();
    let filler = "fn helper_function_number(x: u32) -> u32 { x + 1 }\n".repeat(60);
    for i in 0..30 {
        env.write(format!("a_unrelated/file{i:02}.rs"), &filler);
    }
    env.write(
        "z_net/retry.rs",
        "/// Retry policy for the http client.\npub struct RetryPolicy { attempts: u32 }\n"
            .to_string()
            + &"// retry with exponential backoff\n".repeat(40),
    );
    let doc = pack_budget(
        &env,
        &[
            "--budget",
            "3000",
            "--focus",
            "RetryPolicy: retry logic in the http client",
        ],
    );
    let retry = doc
        .files
        .get("z_net/retry.rs")
        .expect("the focused file is packed");
    assert_eq!(retry.attrs["fidelity"], "full");
    assert_eq!(retry.attrs["rank"], "1");
    assert!(direct_count(&doc) <= 3000);
    let full_unrelated = doc
        .files
        .iter()
        .filter(|(p, f)| p.starts_with("a_unrelated") && f.attrs["fidelity"] == "full")
        .count();
    assert!(
        full_unrelated < 30,
        "not everything fits: some unrelated files were cut"
    );
}

/// Hundreds of binary files (a test suite's images) must not eat a small budget: where the tree
/// is collapsed, the omitted element counts them per directory instead of listing each.
#[test]
fn omitted_files_in_collapsed_directories_are_counted_not_listed() {
    let env = TestEnv::new();
    for i in 0..300 {
        env.write(
            format!("assets/images/deep/icon-with-a-long-name-{i:03}.png"),
            [0x89u8, b'P', b'N', b'G', 0, 0, 0, 1],
        );
    }
    env.write("assets/logo.png", [0x89u8, b'P', b'N', b'G', 0, 0]);
    let code = "pub fn useful_function(x: u32) -> u32 { x * 2 }\n".repeat(40);
    for i in 0..20 {
        env.write(format!("src/module{i:02}.rs"), &code);
    }
    let doc = pack_budget(&env, &["--budget", "4000"]);
    assert!(direct_count(&doc) <= 4000);
    let listed = doc.omitted.len();
    let counted: usize = doc.omitted_dirs.iter().map(|(_, _, n)| n).sum();
    assert_eq!(listed + counted, 301, "every binary file is accounted for");
    assert!(counted >= 300, "{:?} {:?}", doc.omitted, doc.omitted_dirs);
    for (dir, reason, _) in &doc.omitted_dirs {
        assert_eq!(reason, "binary");
        assert!(
            doc.tree.contains(&format!(
                "{}/  [",
                dir.trim_end_matches('/').rsplit('/').next().unwrap()
            )),
            "{dir} is a collapsed line of the tree:\n{}",
            doc.tree
        );
    }
    let text: usize = doc.files.values().map(|f| f.tokens).sum();
    assert!(
        text >= 2_800,
        "the room goes to code: {text} tokens of file text"
    );
    // Without a budget, nothing is collapsed: every file is listed.
    let whole = pack_budget(&env, &[]);
    assert_eq!(whole.omitted.len(), 301);
    assert!(whole.omitted_dirs.is_empty());
}

#[test]
fn budgets_that_cannot_work_are_usage_errors() {
    let env = TestEnv::new();
    env.write("a.rs", "fn a() {}\n");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--budget", "50"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("needs") && stderr.contains("--budget"),
        "{stderr}"
    );

    for bad in ["lots", "12q", "0"] {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "--budget", bad]);
        assert_eq!(run(cmd).status.code(), Some(2), "--budget {bad}");
    }
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--budget", "10k", "--reserve", "10k"]);
    assert_eq!(run(cmd).status.code(), Some(2));
}
