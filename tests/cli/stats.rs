//! `ctxpack stats`: its JSON read back with serde_json and checked against the document `pack`
//! writes for the same flags (parsed with roxmltree), its sums against its own files, its text
//! against its JSON, and its errors.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::support::{parse, run, run_ok, Doc, TestEnv};

/// A tree of code in several languages and directories, prose, a binary file and a symlink, large
/// enough that tight budgets force every kind of decision.
fn code_tree() -> TestEnv {
    let env = TestEnv::new();
    let lang = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lang");
    for name in [
        "sample.rs",
        "sample.py",
        "sample.go",
        "sample.ts",
        "sample.md",
    ] {
        env.write(
            format!("vendor/samples/{name}"),
            fs::read(lang.join(name)).unwrap(),
        );
    }
    // Long bodies: compressed views and outlines are much smaller than the full text, so a tight
    // budget uses them.
    for m in 0..6 {
        let mut rust = format!("//! Module {m}: retry policies for the client.\n\n");
        let mut python = format!("\"\"\"Helpers {m}.\"\"\"\n\n");
        for f in 0..8 {
            rust.push_str(&format!(
                "/// Computes step {f} of module {m}.\npub fn step_{m}_{f}(input: &[u32]) -> u32 {{\n    \
                 let mut total = 0;\n"
            ));
            python.push_str(&format!(
                "def helper_{m}_{f}(items):\n    \"\"\"Sum item {f}.\"\"\"\n    result = 0\n"
            ));
            for k in 0..10 {
                rust.push_str(&format!(
                    "    let v{k} = input.iter().map(|x| x * {k} + {f}).sum::<u32>() + total;\n    \
                     total = total.wrapping_add(v{k});\n"
                ));
                python.push_str(&format!(
                    "    result += sum(item * {k} for item in items if item > {f})\n"
                ));
            }
            rust.push_str("    total\n}\n\n");
            python.push_str("    return result\n\n\n");
        }
        env.write(format!("src/core/module{m}.rs"), rust);
        env.write(format!("scripts/tools/helpers{m}.py"), python);
    }
    env.write(
        "README.md",
        "# Demo\n\nA demo repository for the stats tests.\n\n## Usage\n\nRun it.\n",
    );
    env.write(
        "docs/notes.txt",
        "Some notes about the retry policy.\n".repeat(40),
    );
    env.write("assets/logo.png", b"\x89PNG\r\n\x1a\n\0\0\0binary");
    #[cfg(unix)]
    env.symlink("README.md", "docs/link.md");
    env
}

fn stats_json(env: &TestEnv, args: &[&str]) -> Value {
    let mut cmd = env.ctxpack();
    cmd.args(["stats", "--json", "-q"]).args(args);
    let out = run_ok(cmd);
    assert!(
        out.stdout.ends_with(b"}\n"),
        "one JSON document and a line end"
    );
    serde_json::from_slice(&out.stdout).expect("stats --json prints JSON")
}

fn stats_text(env: &TestEnv, args: &[&str]) -> String {
    let mut cmd = env.ctxpack();
    cmd.args(["stats", "-q"]).args(args);
    String::from_utf8(run_ok(cmd).stdout).expect("stats prints UTF-8")
}

fn pack_doc(env: &TestEnv, args: &[&str]) -> Doc {
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q"]).args(args);
    parse(&run_ok(cmd).stdout)
}

fn files(stats: &Value) -> &Vec<Value> {
    stats["files"].as_array().expect("files is an array")
}

fn number(value: &Value) -> usize {
    value.as_u64().expect("a count") as usize
}

/// A budget of `1/divisor` of the tree's full-text tokens.
fn fraction(env: &TestEnv, divisor: usize) -> String {
    let all = stats_json(env, &[]);
    (number(&all["totals"]["tokens"]) / divisor).to_string()
}

/// The promise: stats --budget shows what pack --budget does, file by file.
#[test]
fn budgeted_fidelities_and_ranks_are_those_of_the_packed_document() {
    let env = code_tree();
    let mut kinds = BTreeSet::new();
    let tight = fraction(&env, 16);
    let loose = fraction(&env, 5);
    for (budget, extra) in [
        (&tight, &[][..]),
        (&loose, &[][..]),
        (&tight, &["--focus", "retry policy for the client"][..]),
        (
            &loose,
            &["--reserve", "300", "--encoding", "cl100k_base"][..],
        ),
    ] {
        let mut args = vec!["--budget", budget.as_str()];
        args.extend_from_slice(extra);
        let stats = stats_json(&env, &args);
        let doc = pack_doc(&env, &args);

        let mut seen = BTreeSet::new();
        // Omitted files the document counts under a collapsed directory rather than lists.
        let mut in_collapsed: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_directory: BTreeSet<String> = BTreeSet::new();
        for file in files(&stats) {
            let path = file["path"].as_str().unwrap();
            seen.insert(path.to_string());
            match (file["fidelity"].as_str(), doc.files.get(path)) {
                (Some(fidelity), Some(packed)) => {
                    assert_eq!(packed.attrs["fidelity"], fidelity, "{path} {extra:?}");
                    assert_eq!(packed.attrs["rank"], file["rank"].to_string(), "{path}");
                    assert_eq!(packed.tokens, number(&file["packed_tokens"]), "{path}");
                    assert!(file["omitted"].is_null(), "{path}");
                }
                (None, None) => {
                    assert_eq!(number(&file["packed_tokens"]), 0, "{path}");
                    let reason = file["omitted"].as_str().expect("an omitted reason");
                    if reason == "budget" {
                        assert!(!doc.omitted.contains_key(path), "{path}");
                        assert!(file["rank"].is_u64(), "{path}: a left-out file has a rank");
                    } else {
                        assert!(doc.omits(path, reason), "{path}: {reason} {extra:?}");
                        if !doc.omitted.contains_key(path) {
                            *in_collapsed.entry(reason.to_string()).or_insert(0) += 1;
                            by_directory.insert(path.to_string());
                        }
                    }
                }
                (stats_says, in_doc) => panic!(
                    "{path}: stats says {stats_says:?}, the document has {:?} ({extra:?})",
                    in_doc.map(|f| &f.attrs["fidelity"])
                ),
            }
        }
        let in_doc: BTreeSet<String> = doc
            .files
            .keys()
            .chain(doc.omitted.keys())
            .cloned()
            .collect();
        let left_out: BTreeSet<String> = files(&stats)
            .iter()
            .filter(|f| f["omitted"] == "budget")
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            seen,
            &(&in_doc | &left_out) | &by_directory,
            "stats lists every file the document knows"
        );
        let mut counted: BTreeMap<String, usize> = BTreeMap::new();
        for (_, reason, files) in &doc.omitted_dirs {
            *counted.entry(reason.clone()).or_insert(0) += files;
        }
        assert_eq!(counted, in_collapsed, "directory entries count their files");

        let summary = &stats["budget"];
        assert_eq!(number(&summary["document_tokens"]), doc.tokens, "{extra:?}");
        let expected_budget: usize = budget.parse::<usize>().unwrap()
            - extra
                .iter()
                .position(|a| *a == "--reserve")
                .map_or(0, |i| extra[i + 1].parse().unwrap());
        assert_eq!(number(&summary["budget"]), expected_budget);
        for fidelity in ["full", "compressed", "outline"] {
            let in_doc = doc
                .files
                .values()
                .filter(|f| f.attrs["fidelity"] == fidelity)
                .count();
            assert_eq!(number(&summary[fidelity]), in_doc, "{fidelity} {extra:?}");
        }
        assert_eq!(number(&summary["left_out"]), left_out.len());
        for file in files(&stats) {
            kinds.insert(
                file["fidelity"]
                    .as_str()
                    .or(file["omitted"].as_str())
                    .unwrap()
                    .to_string(),
            );
        }
    }
    // The comparison covered every kind of decision.
    for kind in ["full", "compressed", "outline", "budget", "binary"] {
        assert!(kinds.contains(kind), "no file was {kind}: {kinds:?}");
    }
}

/// Every directory's sums are the sums over the files below it, and the totals are the root's.
#[test]
fn directory_sums_equal_the_sums_of_their_files() {
    let env = code_tree();
    let budget = fraction(&env, 3);
    for args in [vec![], vec!["--budget", budget.as_str()]] {
        let stats = stats_json(&env, &args);
        let directories = stats["directories"].as_array().unwrap();
        assert_eq!(directories[0]["path"], ".", "the root comes first");
        assert!(directories.len() >= 6, "nested directories are listed");
        for dir in directories {
            let path = dir["path"].as_str().unwrap();
            let below: Vec<&Value> = files(&stats)
                .iter()
                .filter(|f| {
                    path == "." || f["path"].as_str().unwrap().starts_with(&format!("{path}/"))
                })
                .collect();
            assert!(!below.is_empty(), "{path} holds a file");
            let sum = |key: &str| -> usize {
                below
                    .iter()
                    .map(|f| f[key].as_u64().unwrap_or(0) as usize)
                    .sum()
            };
            assert_eq!(number(&dir["files"]), below.len(), "{path} files");
            assert_eq!(number(&dir["tokens"]), sum("tokens"), "{path} tokens");
            assert_eq!(
                number(&dir["packed_tokens"]),
                sum("packed_tokens"),
                "{path}"
            );
            let packed = below.iter().filter(|f| !f["fidelity"].is_null()).count();
            assert_eq!(number(&dir["packed_files"]), packed, "{path}");
        }
        for key in ["files", "tokens", "packed_files", "packed_tokens"] {
            assert_eq!(stats["totals"][key], directories[0][key], "totals.{key}");
        }
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for file in files(&stats) {
            if let Some(reason) = file["omitted"].as_str() {
                *reasons.entry(reason.to_string()).or_default() += 1;
            }
        }
        let omitted: BTreeMap<String, usize> =
            serde_json::from_value(stats["omitted"].clone()).unwrap();
        assert_eq!(omitted, reasons, "omitted counts per reason");
    }
}

/// Without a budget, stats counts what a plain pack counts: the same files, the same tokens, the
/// same omitted reasons.
#[test]
fn without_a_budget_stats_counts_what_a_plain_pack_holds() {
    let env = code_tree();
    let stats = stats_json(&env, &[]);
    let doc = pack_doc(&env, &[]);
    assert!(stats["budget"].is_null());
    assert_eq!(files(&stats).len(), doc.files.len() + doc.omitted.len());
    for file in files(&stats) {
        let path = file["path"].as_str().unwrap();
        assert!(file["rank"].is_null() && file["score"].is_null(), "{path}");
        match doc.files.get(path) {
            Some(packed) => {
                assert_eq!(number(&file["tokens"]), packed.tokens, "{path}");
                assert_eq!(number(&file["packed_tokens"]), packed.tokens, "{path}");
                assert_eq!(file["fidelity"], "full", "{path}");
            }
            None => {
                assert!(file["tokens"].is_null(), "{path}");
                assert_eq!(
                    file["omitted"].as_str(),
                    doc.omitted.get(path).map(|s| s.as_str())
                );
            }
        }
    }
    assert_eq!(stats["omitted"]["binary"], 1);
    #[cfg(unix)]
    assert_eq!(stats["omitted"]["symlink"], 1);
    assert_eq!(stats["version"], 1);
    assert_eq!(stats["encoding"], "o200k_base");
}

/// The text tree, uncut, shows every file with the fidelity and rank the JSON gives it, and
/// numbers that add up to the JSON's totals.
#[test]
fn the_text_tree_shows_each_files_fidelity_and_rank() {
    let env = code_tree();
    let budget = fraction(&env, 3);
    let args = ["--budget", budget.as_str()];
    let stats = stats_json(&env, &args);
    let mut all = args.to_vec();
    all.extend(["--depth", "all", "--entries", "all"]);
    let text = stats_text(&env, &all);
    assert!(!text.contains("cut:"), "nothing is cut:\n{text}");
    let totals = &stats["totals"];
    let human = |n: &Value| ctxpack::render::human(number(n));
    let root_line = [
        human(&totals["tokens"]),
        human(&totals["packed_tokens"]),
        human(&totals["files"]),
        format!("{}/", stats["root"].as_str().unwrap()),
    ];
    assert!(
        text.lines().any(|l| l
            .split_whitespace()
            .eq(root_line.iter().map(String::as_str))),
        "no root line {root_line:?}:\n{text}"
    );
    let used = format!(
        "budget: {} of {} tokens used",
        human(&stats["budget"]["document_tokens"]),
        human(&stats["budget"]["budget"])
    );
    assert!(text.contains(&used), "{used}:\n{text}");
    for file in files(&stats) {
        let path = file["path"].as_str().unwrap();
        let name = path.rsplit('/').next().unwrap();
        let note = match (file["fidelity"].as_str(), file["omitted"].as_str()) {
            (Some(fidelity), _) => format!("{name}  [{fidelity}, rank {}", file["rank"]),
            (None, Some("budget")) => format!("{name}  [left out, rank {}]", file["rank"]),
            (None, Some(reason)) => format!("{name}  [omitted: {reason}]"),
            (None, None) => panic!("{path}: neither packed nor omitted"),
        };
        assert!(text.contains(&note), "no {note:?} in\n{text}");
    }
    assert!(text.contains("highest ranked files:"), "{text}");
}

/// On a big tree the text stays short, and says what it left out and how to see it.
#[test]
fn the_text_tree_is_cut_to_depth_and_entries_and_says_so() {
    let env = TestEnv::new();
    for d in 0..5 {
        for f in 0..30 {
            env.write(
                format!("pkg{d}/deep/deeper/file{f:02}.txt"),
                "word ".repeat(10 + f),
            );
        }
    }
    let full = stats_text(&env, &["--depth", "all", "--entries", "all"]);
    let cut = stats_text(&env, &["--depth", "2", "--entries", "3", "--top", "4"]);
    assert!(
        full.contains("file00.txt") && full.contains("deeper/"),
        "{full}"
    );
    assert!(
        !cut.contains("file0"),
        "files below depth 2 are not listed:\n{cut}"
    );
    assert!(cut.contains("deep/  [not expanded]"), "{cut}");
    assert!(
        cut.contains("... 2 more entries"),
        "5 packages, 3 shown:\n{cut}"
    );
    assert!(
        cut.contains("cut: 3 directories not expanded (--depth 2), 2 entries summed up"),
        "{cut}"
    );
    assert!(
        cut.contains("--depth all --entries all shows everything"),
        "{cut}"
    );
    // The largest files are still named, and only --top of them.
    let listed = cut
        .lines()
        .filter(|l| l.contains("/deep/deeper/file"))
        .count();
    assert_eq!(listed, 4, "{cut}");
    assert!(cut.lines().count() < full.lines().count() / 4);
    // Cutting changes what is shown, never the totals.
    let first_numbers = |text: &str| text.lines().nth(3).map(str::to_string);
    assert_eq!(first_numbers(&full), first_numbers(&cut));
}

/// Secrets in file text and in file names never reach stats' output, in any form, and the
/// redacted paths are the ones the document shows.
#[test]
fn stats_never_prints_a_secret() {
    let env = code_tree();
    let token = format!("ghp_{}", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5");
    let aws = format!("AKIA{}", "Q7ZK3MPL5WXN2RTB");
    env.write(format!("config/{token}.txt"), "named after a token\n");
    env.write(
        "config/settings.py",
        format!("AWS_ACCESS_KEY_ID = \"{aws}\"\nGITHUB = \"{token}\"\n"),
    );
    let budget = fraction(&env, 3);
    for args in [
        vec![],
        vec!["--budget", budget.as_str()],
        vec!["--secrets", "omit-file"],
    ] {
        let doc = pack_doc(&env, &args);
        for text in [stats_text(&env, &args), {
            let mut cmd = env.ctxpack();
            cmd.args(["stats", "--json"]).args(&args);
            let out = run_ok(cmd);
            String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap()
        }] {
            assert!(!text.contains(&token), "{args:?}: the token leaks:\n{text}");
            assert!(!text.contains(&aws), "{args:?}: the key leaks");
            assert!(
                !text.contains("aB3dE5fG7hJ9"),
                "{args:?}: part of the token leaks"
            );
        }
        let stats = stats_json(&env, &args);
        let redacted = files(&stats)
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .find(|p| p.starts_with("config/[REDACTED:"))
            .expect("the file named after a token is listed, redacted");
        assert!(
            doc.files.contains_key(redacted) || doc.omitted.contains_key(redacted),
            "{redacted} is how the document shows it"
        );
        assert!(number(&stats["secrets"]["found"]) >= 2, "{args:?}");
    }
}

#[test]
fn bad_input_is_a_usage_error_that_says_what_is_wrong() {
    let env = code_tree();
    let cases: [(&[&str], &str); 7] = [
        (&["--budget", "lots"], "is not a token count"),
        (&["--budget", "0"], "is not a usable token count"),
        (&["no/such/dir"], "no/such/dir: no such file or directory"),
        (&["--budget", "10k", "--reserve", "10k"], "leaves nothing"),
        (&["--reserve", "1k"], "--budget"),
        (&["--depth", "0"], "at least 1, or \"all\""),
        (&["--budget", "40"], "use --budget"),
    ];
    for (args, message) in cases {
        for json in [false, true] {
            let mut cmd = env.ctxpack();
            cmd.arg("stats").args(args);
            if json {
                cmd.arg("--json");
            }
            let out = run(cmd);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(message), "{args:?}: {stderr}");
            assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        }
    }
}

#[test]
fn stats_help_documents_the_json_schema() {
    let env = TestEnv::new();
    let mut cmd = env.ctxpack();
    cmd.args(["stats", "--help"]);
    let help = String::from_utf8(run_ok(cmd).stdout).unwrap();
    let stats = stats_json(&code_tree(), &["--budget", "20k"]);
    // Every key the JSON has is explained in the help.
    let mut keys = BTreeSet::new();
    let object_keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    keys.extend(object_keys(&stats));
    keys.extend(object_keys(&stats["budget"]));
    keys.extend(object_keys(&stats["totals"]));
    keys.extend(object_keys(&stats["secrets"]));
    keys.extend(object_keys(&stats["directories"][0]));
    keys.extend(object_keys(&files(&stats)[0]));
    for key in keys {
        assert!(help.contains(&format!("\"{key}\"")), "--help lacks {key}");
    }
    for flag in [
        "--budget",
        "--json",
        "--depth",
        "--entries",
        "--top",
        "--focus",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
}
