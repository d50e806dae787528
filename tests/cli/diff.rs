//! `pack --diff`: the change git shows, the files it touches and their neighbours, within a
//! budget. Every test builds a real git repository and compares with what `git diff` prints.

use std::process::Command;

use crate::support::{
    direct_count, git, hermetic, parse, run, run_ok, run_with_stdin, Doc, TestEnv,
};

fn ctxpack(env: &TestEnv) -> Command {
    hermetic(env.ctxpack())
}

fn commit(env: &TestEnv, message: &str) {
    git(env.root(), &["add", "-A"]);
    git(env.root(), &["commit", "-q", "-m", message]);
}

/// A repository on `main` with one commit, then a branch `work` with a commit that modifies,
/// adds, deletes, renames, makes executable and changes a binary file.
fn repo() -> TestEnv {
    let env = TestEnv::new();
    git(env.root(), &["init", "-q", "-b", "main"]);
    env.write(
        "src/lib.rs",
        "mod config;\n\npub fn start() -> config::Config {\n    config::Config::default()\n}\n",
    )
    .write(
        "src/config.rs",
        "#[derive(Default)]\npub struct Config {\n    pub retries: u32,\n}\n",
    )
    .write("src/old.rs", "pub fn legacy() -> u32 {\n    1\n}\n")
    .write(
        "src/moved.rs",
        "pub fn moved() -> &'static str {\n    \"a function that moves with its file\"\n}\n\npub fn helper() -> u32 {\n    7\n}\n",
    )
    .write("run.sh", "#!/bin/sh\necho run\n")
    .write("logo.bin", b"\x89PNG\0\0\x01\x02")
    .write("README.md", "# demo\n");
    commit(&env, "base");
    git(env.root(), &["checkout", "-q", "-b", "work"]);
    env.write(
        "src/lib.rs",
        "mod config;\nmod new;\n\npub fn start() -> config::Config {\n    let retries = new::retries();\n    config::Config { retries }\n}\n",
    )
    .write("src/new.rs", "pub fn retries() -> u32 {\n    3\n}\n");
    std::fs::remove_file(env.path("src/old.rs")).unwrap();
    git(env.root(), &["mv", "src/moved.rs", "src/renamed.rs"]);
    env.write(
        "src/renamed.rs",
        "pub fn moved() -> &'static str {\n    \"a function that moves with its file\"\n}\n\npub fn helper() -> u32 {\n    8\n}\n",
    )
    .write("logo.bin", b"\x89PNG\0\0\x03\x04");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.path("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    commit(&env, "work: retries from new.rs\n\nA body line.");
    env
}

fn pack(env: &TestEnv, args: &[&str]) -> (Doc, String) {
    let mut cmd = ctxpack(env);
    cmd.args(["pack", "--no-cache"]).args(args);
    let out = run_ok(cmd);
    (
        parse(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The patches' text, in order: what `git diff` printed, after redaction.
fn diff_text(doc: &Doc) -> String {
    let (_, patches) = doc.diff.as_ref().expect("a <diff> element");
    patches.iter().map(|p| p.text.as_str()).collect()
}

fn statuses(doc: &Doc) -> Vec<(String, String)> {
    let (_, patches) = doc.diff.as_ref().expect("a <diff> element");
    patches
        .iter()
        .map(|p| (p.attrs["path"].clone(), p.attrs["status"].clone()))
        .collect()
}

#[test]
fn the_diff_is_what_git_diff_prints_and_touched_files_are_whole() {
    let env = repo();
    let (doc, stderr) = pack(&env, &["--diff", "main", "--budget", "50k"]);
    let expected = String::from_utf8(git(env.root(), &["diff", "main"])).unwrap();
    assert_eq!(diff_text(&doc), expected);
    let mut got = statuses(&doc);
    got.sort();
    let mut want: Vec<(String, String)> = [
        ("logo.bin", "modified"),
        ("run.sh", "mode-changed"),
        ("src/lib.rs", "modified"),
        ("src/new.rs", "added"),
        ("src/old.rs", "deleted"),
        ("src/renamed.rs", "renamed"),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .collect();
    if cfg!(not(unix)) {
        want.retain(|(p, _)| p != "run.sh");
    }
    assert_eq!(got, want);
    let (_, patches) = doc.diff.as_ref().unwrap();
    let renamed = patches
        .iter()
        .find(|p| p.attrs["path"] == "src/renamed.rs")
        .unwrap();
    assert_eq!(renamed.attrs["from"], "src/moved.rs");
    let binary = patches
        .iter()
        .find(|p| p.attrs["path"] == "logo.bin")
        .unwrap();
    assert_eq!(binary.attrs.get("binary").map(String::as_str), Some("true"));
    // The touched files after the change, in full, with the bytes on disk; deleted files are
    // named in the diff, not packed.
    for path in ["src/lib.rs", "src/new.rs", "src/renamed.rs", "run.sh"] {
        let file = doc
            .files
            .get(path)
            .unwrap_or_else(|| panic!("{path} not packed"));
        assert_eq!(file.attrs["fidelity"], "full", "{path}");
        assert_eq!(file.text, std::fs::read_to_string(env.path(path)).unwrap());
    }
    assert!(!doc.files.contains_key("src/old.rs"));
    // The touched files come first; their neighbour (config.rs defines what lib.rs uses) after.
    assert!(doc.files.contains_key("src/config.rs"), "{:?}", doc.order);
    let first_neighbour = doc.order.iter().position(|p| p == "src/config.rs").unwrap();
    for path in ["src/lib.rs", "src/new.rs", "src/renamed.rs"] {
        assert!(doc.order.iter().position(|p| p == path).unwrap() < first_neighbour);
    }
    assert!(doc.tokens <= 50_000);
    assert_eq!(direct_count(&doc), doc.tokens, "the root's count is exact");
    // The summary says what the change is.
    assert!(
        doc.summary
            .contains("the change from main to the working tree")
            && doc.summary.contains("6 files")
            && doc.summary.contains("1 added")
            && doc.summary.contains("1 deleted")
            && doc.summary.contains("1 renamed"),
        "{}",
        doc.summary
    );
    assert!(
        stderr.contains("change from main to the working tree: 6 files"),
        "{stderr}"
    );
}

#[test]
fn uncommitted_work_staged_and_unstaged_is_the_change_against_head() {
    let env = repo();
    env.write("src/config.rs", "#[derive(Default)]\npub struct Config {\n    pub retries: u32,\n    pub backoff_ms: u64,\n}\n")
        .write("src/staged.rs", "pub fn staged() {}\n");
    git(env.root(), &["add", "src/staged.rs"]);
    // Untracked files are not part of a change until they are added.
    env.write("notes.txt", "scratch\n");
    let (doc, _) = pack(&env, &["--diff", "--budget", "20k"]);
    let expected = String::from_utf8(git(env.root(), &["diff", "HEAD"])).unwrap();
    assert_eq!(diff_text(&doc), expected);
    let paths: Vec<String> = statuses(&doc).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["src/config.rs", "src/staged.rs"]);
    assert_eq!(
        doc.files["src/config.rs"].text,
        std::fs::read_to_string(env.path("src/config.rs")).unwrap()
    );
    assert_eq!(doc.diff.as_ref().unwrap().0["base"], "HEAD");
}

#[test]
fn a_range_reads_the_files_at_its_right_hand_commit() {
    let env = repo();
    // Work in progress on top of the branch must not leak into a review of the branch.
    env.write("src/new.rs", "pub fn retries() -> u32 {\n    99\n}\n");
    let (doc, _) = pack(&env, &["--diff", "main...", "--budget", "20k"]);
    let expected = String::from_utf8(git(env.root(), &["diff", "main..."])).unwrap();
    assert_eq!(diff_text(&doc), expected);
    assert_eq!(
        doc.files["src/new.rs"].text, "pub fn retries() -> u32 {\n    3\n}\n",
        "the file as the commit has it, not the working tree"
    );
    assert_eq!(doc.diff.as_ref().unwrap().0["head"], "HEAD");
}

#[test]
fn a_secret_in_the_diff_never_reaches_the_output() {
    let env = repo();
    let token = "ghp_Qm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4u";
    let old_key = "AKIAQX4RT7ZP2MK9WLBN";
    env.write(".env", format!("AWS_KEY={old_key}\n"));
    commit(&env, "an env file");
    env.write(".env", "AWS_KEY=\n").write(
        "src/lib.rs",
        format!("pub const TOKEN: &str = \"{token}\";\n"),
    );
    let (doc, stderr) = pack(&env, &["--diff", "--budget", "20k", "--hidden"]);
    assert!(!doc.raw.contains(token) && !doc.raw.contains(old_key));
    let text = diff_text(&doc);
    assert!(text.contains("[REDACTED:github-token]"), "{text}");
    assert!(
        text.contains("-AWS_KEY=[REDACTED:"),
        "a removed line counts: {text}"
    );
    assert!(stderr.contains("(diff)"), "{stderr}");
    // --secrets fail sees the diff.
    let mut cmd = ctxpack(&env);
    cmd.args([
        "pack",
        "--no-cache",
        "--diff",
        "--budget",
        "20k",
        "--secrets",
        "fail",
    ]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("src/lib.rs (diff)"), "{stderr}");
}

#[test]
fn when_the_diff_does_not_fit_the_lowest_ranked_patches_are_left_out_whole() {
    let env = TestEnv::new();
    git(env.root(), &["init", "-q", "-b", "main"]);
    let body = |name: &str, n: usize| -> String {
        (0..n)
            .map(|i| format!("pub fn {name}_{i}(value: u64) -> u64 {{ value * {i} + 17 }}\n"))
            .collect()
    };
    env.write("src/core.rs", body("core", 3));
    for i in 0..6 {
        env.write(
            format!("tests/fixtures/data_{i}.rs"),
            body(&format!("data{i}"), 3),
        );
    }
    commit(&env, "base");
    // Every patch is about the same size; the fixtures rank below the source file.
    env.write("src/core.rs", body("core", 40));
    for i in 0..6 {
        env.write(
            format!("tests/fixtures/data_{i}.rs"),
            body(&format!("data{i}"), 40),
        );
    }
    let budget = 5_000;
    let (doc, stderr) = pack(&env, &["--diff", "--budget", &budget.to_string()]);
    assert!(doc.tokens <= budget);
    assert_eq!(direct_count(&doc), doc.tokens);
    let kept: Vec<String> = statuses(&doc).into_iter().map(|(p, _)| p).collect();
    assert!(kept.contains(&"src/core.rs".to_string()), "{kept:?}");
    assert!(
        kept.len() < 7,
        "the budget cannot hold every patch: {kept:?}"
    );
    // Each patch is whole: exactly what git prints for it.
    for path in &kept {
        let alone = String::from_utf8(git(env.root(), &["diff", "HEAD", "--", path])).unwrap();
        let (_, patches) = doc.diff.as_ref().unwrap();
        let patch = patches.iter().find(|p| &p.attrs["path"] == path).unwrap();
        assert_eq!(patch.text, alone);
    }
    // What was left out is named, in the summary and on stderr.
    for i in 0..6 {
        let path = format!("tests/fixtures/data_{i}.rs");
        if !kept.contains(&path) {
            assert!(doc.summary.contains(&path), "{path}: {}", doc.summary);
            assert!(stderr.contains(&path), "{path}: {stderr}");
        }
    }
    assert!(stderr.contains("does not hold the patches"), "{stderr}");
}

#[test]
fn bad_input_is_a_usage_error_and_an_empty_change_is_not_an_error() {
    let plain = TestEnv::new();
    plain.write("a.rs", "fn a() {}\n");
    let mut cmd = ctxpack(&plain);
    cmd.args(["pack", "--diff", "--budget", "8k"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not inside a git repository"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let env = repo();
    let mut cmd = ctxpack(&env);
    cmd.args(["pack", "--diff", "no-such-branch", "--budget", "8k"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-branch"));

    let mut cmd = ctxpack(&env);
    cmd.args(["pack", "--diff", "main", "--stdin"]);
    let out = run_with_stdin(cmd, b"src/lib.rs\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stdin"));

    // A clean working tree: nothing to review, and the document says so.
    let (doc, stderr) = pack(&env, &["--diff", "--budget", "8k"]);
    assert!(doc.diff.as_ref().unwrap().1.is_empty());
    assert!(doc.summary.contains("which is empty"), "{}", doc.summary);
    assert!(stderr.contains("empty"), "{stderr}");
}

#[test]
fn git_log_adds_the_commit_messages_of_the_range() {
    let env = repo();
    let (doc, _) = pack(
        &env,
        &["--diff", "main", "--git-log", "5", "--budget", "20k"],
    );
    let log = doc.log.clone().expect("a <log> element");
    assert!(log.contains("work: retries from new.rs"), "{log}");
    assert!(log.contains("    A body line."), "{log}");
    assert!(!log.contains("base"), "only the range's commits: {log}");
    assert_eq!(direct_count(&doc), doc.tokens);
}

#[test]
fn stats_shows_what_the_diff_pack_would_hold() {
    let env = repo();
    let mut cmd = ctxpack(&env);
    cmd.args([
        "stats",
        "--no-cache",
        "--diff",
        "main",
        "--budget",
        "20k",
        "--json",
    ]);
    let out = run_ok(cmd);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (doc, _) = pack(&env, &["--diff", "main", "--budget", "20k"]);
    let mut packed: Vec<String> = stats["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["fidelity"].is_null())
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    packed.sort();
    let mut in_doc: Vec<String> = doc.files.keys().cloned().collect();
    in_doc.sort();
    assert_eq!(packed, in_doc);
    assert_eq!(
        stats["budget"]["document_tokens"].as_u64().unwrap() as usize,
        doc.tokens
    );
}

#[test]
fn a_large_change_packs_within_a_modest_budget_naming_what_it_leaves_out() {
    let env = TestEnv::new();
    git(env.root(), &["init", "-q", "-b", "main"]);
    let body = |n: usize, v: usize| -> String {
        (0..n)
            .map(|i| format!("pub fn item_{i}() -> u64 {{ {v} + {i} }}\n"))
            .collect()
    };
    for i in 0..300 {
        env.write(format!("src/m{i:03}.rs"), body(4, 1));
    }
    commit(&env, "base");
    for i in 0..300 {
        env.write(format!("src/m{i:03}.rs"), body(4, 2));
    }
    let (doc, stderr) = pack(&env, &["--diff", "--budget", "32k"]);
    assert!(doc.tokens <= 32_000);
    assert_eq!(direct_count(&doc), doc.tokens);
    let kept = statuses(&doc).len();
    assert!(kept > 0 && kept < 300, "{kept} patches kept");
    // Every patch left out is named, in the summary and on stderr.
    for i in 0..300 {
        let path = format!("src/m{i:03}.rs");
        if !statuses(&doc).iter().any(|(p, _)| *p == path) {
            assert!(doc.summary.contains(&path), "{path}");
            assert!(stderr.contains(&path), "{path}");
        }
    }
}

#[test]
fn kept_patches_outrank_those_left_out() {
    let env = TestEnv::new();
    git(env.root(), &["init", "-q", "-b", "main"]);
    let body = |name: &str, v: usize| -> String {
        (0..30)
            .map(|i| format!("pub fn {name}_{i}(x: u64) -> u64 {{ x * {v} + {i} }}\n"))
            .collect()
    };
    for name in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"] {
        env.write(format!("src/{name}.rs"), body(name, 1));
    }
    commit(&env, "base");
    for name in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"] {
        env.write(format!("src/{name}.rs"), body(name, 2));
    }
    let budget = "5000";
    let (doc, _) = pack(&env, &["--diff", "--budget", budget]);
    let mut cmd = ctxpack(&env);
    cmd.args([
        "stats",
        "--no-cache",
        "--diff",
        "--budget",
        budget,
        "--json",
    ]);
    let stats: serde_json::Value = serde_json::from_slice(&run_ok(cmd).stdout).unwrap();
    let rank = |path: &str| {
        stats["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .and_then(|f| f["rank"].as_u64())
            .unwrap()
    };
    let kept: Vec<String> = statuses(&doc).into_iter().map(|(p, _)| p).collect();
    let dropped: Vec<String> = stats["diff"]["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(
        !kept.is_empty() && !dropped.is_empty(),
        "{kept:?} {dropped:?}"
    );
    let worst_kept = kept.iter().map(|p| rank(p)).max().unwrap();
    let best_dropped = dropped.iter().map(|p| rank(p)).min().unwrap();
    assert!(worst_kept < best_dropped, "{kept:?} {dropped:?}");
}

#[test]
fn a_range_holds_files_the_working_tree_does_not_have() {
    let env = repo();
    // Back on main: the branch's new file is not in the working tree.
    git(env.root(), &["checkout", "-q", "main"]);
    assert!(!env.path("src/new.rs").exists());
    let (doc, _) = pack(&env, &["--diff", "main..work", "--budget", "20k"]);
    assert_eq!(
        doc.files.get("src/new.rs").map(|f| f.text.as_str()),
        Some("pub fn retries() -> u32 {\n    3\n}\n")
    );
    let expected = String::from_utf8(git(env.root(), &["diff", "main..work"])).unwrap();
    assert_eq!(diff_text(&doc), expected);
}

#[test]
fn odd_paths_a_subdirectory_root_and_user_git_settings_change_nothing() {
    let env = repo();
    env.write("src/sp ace é.rs", "pub fn a() {}\n")
        .write("docs/guide.md", "# guide\n");
    commit(&env, "odd names");
    env.write("src/sp ace é.rs", "pub fn a() -> u8 { 1 }\n")
        .write("src/lib.rs", "mod config;\n")
        .write("docs/guide.md", "# guide\n\nmore\n")
        .write("src/ctrl.rs", "// form\u{c} feed and \u{1b}[0m escape\n");
    git(env.root(), &["add", "-N", "src/ctrl.rs"]);
    // A user's settings that change what `git diff` prints for people.
    env.write(
        "../gitconfig",
        "[color]\n\tdiff = always\n\tui = always\n[diff]\n\tsubmodule = log\n\tnoprefix = true\n",
    );
    let mut cmd = ctxpack(&env);
    cmd.env("GIT_CONFIG_GLOBAL", env.path("../gitconfig"))
        .args(["pack", "--no-cache", "--diff", "--budget", "20k"]);
    let doc = parse(&run_ok(cmd).stdout);
    let paths: Vec<String> = statuses(&doc).into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"src/sp ace é.rs".to_string()), "{paths:?}");
    // Control characters are replaced (the document parses) and the rest is git's patch.
    let (_, patches) = doc.diff.as_ref().unwrap();
    let ctrl = patches
        .iter()
        .find(|p| p.attrs["path"] == "src/ctrl.rs")
        .unwrap();
    assert!(ctrl.text.contains("form\u{FFFD} feed"), "{}", ctrl.text);
    assert!(!ctrl.text.contains('\u{1b}'));
    // From a subdirectory, the change is what git shows there, with paths relative to it.
    let mut cmd = ctxpack(&env);
    cmd.current_dir(env.path("src"))
        .args(["pack", "--no-cache", "--diff", "--budget", "20k"]);
    let doc = parse(&run_ok(cmd).stdout);
    let paths: Vec<String> = statuses(&doc).into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"lib.rs".to_string()), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("guide")), "{paths:?}");
    let expected = String::from_utf8(git(&env.path("src"), &["diff", "--relative", "HEAD"]))
        .unwrap()
        .replace(['\u{c}', '\u{1b}'], "\u{FFFD}");
    assert_eq!(diff_text(&doc), expected);
}

#[test]
fn users_of_a_removed_name_are_neighbours() {
    let env = TestEnv::new();
    git(env.root(), &["init", "-q", "-b", "main"]);
    env.write(
        "src/lib.rs",
        "pub fn compute_total(items: &[u64]) -> u64 {\n    items.iter().sum()\n}\n",
    )
    .write(
        "src/caller.rs",
        "use crate::compute_total;\n\npub fn report(items: &[u64]) -> String {\n    format!(\"{}\", compute_total(items))\n}\n",
    )
    .write("src/unrelated.rs", "pub fn unrelated_thing() -> u8 {\n    7\n}\n");
    commit(&env, "base");
    env.write(
        "src/lib.rs",
        "pub fn compute_sum(items: &[u64]) -> u64 {\n    items.iter().sum()\n}\n",
    );
    let (doc, _) = pack(&env, &["--diff", "--budget", "8k"]);
    assert!(doc.files.contains_key("src/caller.rs"), "{:?}", doc.order);
    assert!(
        !doc.files.contains_key("src/unrelated.rs"),
        "{:?}",
        doc.order
    );
}

#[test]
fn omit_file_leaves_out_a_patch_that_holds_a_secret() {
    let env = repo();
    let token = "ghp_Qm7xT2pL9vR4kW8zN3cF6hJ1sD5gY0bEaZ4u";
    env.write(
        "src/token.rs",
        format!("pub const T: &str = \"{token}\";\n"),
    )
    .write("src/config.rs", "pub struct Config;\n");
    git(env.root(), &["add", "-N", "src/token.rs"]);
    let (doc, stderr) = pack(
        &env,
        &["--diff", "--budget", "20k", "--secrets", "omit-file"],
    );
    assert!(!doc.raw.contains(token));
    let paths: Vec<String> = statuses(&doc).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["src/config.rs"]);
    assert!(doc.summary.contains("src/token.rs"), "{}", doc.summary);
    assert!(stderr.contains("hold secrets"), "{stderr}");
}
