//! `ctxpack refs`: what a plan references, resolved against a fixture repository, compared with
//! resolutions written by hand.

use std::fs;

use serde_json::Value;

use crate::support::{
    copy_fixture, direct_count, fixture, parse, run, run_ok, run_with_stdin, TestEnv,
};

/// Runs `refs --json` and returns the references as rows like the `.expected` files':
/// line, status, kind, text, resolved places joined by `|`.
fn json_rows(env: &TestEnv, plan: &str, extra: &[&str]) -> Vec<String> {
    let mut cmd = env.ctxpack();
    cmd.arg("refs").arg(plan).arg("--json").args(extra);
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("refs --json prints JSON");
    rows(&report)
}

fn rows(report: &Value) -> Vec<String> {
    report["references"]
        .as_array()
        .expect("a references array")
        .iter()
        .map(|r| {
            let places: Vec<String> = r["resolved"]
                .as_array()
                .expect("a resolved array")
                .iter()
                .map(|x| {
                    let path = x["path"].as_str().expect("a path").to_string();
                    match x.get("span") {
                        Some(span) => format!("{path}:{}-{}", span["start"], span["end"]),
                        None => path,
                    }
                })
                .collect();
            format!(
                "{}\t{}\t{}\t{}\t{}",
                r["line"],
                r["status"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                r["text"].as_str().unwrap(),
                places.join("|")
            )
        })
        .collect()
}

fn expected(name: &str) -> Vec<String> {
    fs::read_to_string(fixture("plans").join(name))
        .expect("read the expected resolutions")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn plan_env() -> TestEnv {
    let env = copy_fixture("plan-repo");
    for plan in ["retry-jitter.md", "clean.md"] {
        env.write(
            format!("plans/{plan}"),
            fs::read(fixture("plans").join(plan)).unwrap(),
        );
    }
    env
}

#[test]
fn plan_references_resolve_as_written_by_hand() {
    let env = plan_env();
    // The plan lives outside the tree it describes here, as AI-PLAN.md often does not; the
    // root is given explicitly.
    let plan = fixture("plans").join("retry-jitter.md");
    let got = json_rows(&env, plan.to_str().unwrap(), &["--root", "."]);
    let want = expected("retry-jitter.expected");
    // Every line, and nothing else: URLs, "client/server", "read/write", `cargo test -p ...`
    // and the percentages must not appear.
    assert_eq!(got, want, "\ngot:\n{}\n", got.join("\n"));
}

#[test]
fn check_fails_on_invented_files_and_functions() {
    let env = plan_env();
    let mut cmd = env.ctxpack();
    cmd.args(["refs", "plans/retry-jitter.md", "--check", "--root", "."]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The table names each invention; stderr carries one line for CI.
    for invented in [
        "src/http/constants.rs",
        "src/http/prelude.rs",
        "HttpClient::with_deadline()",
        "../upstream/retry.rs",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.contains(invented))
            .unwrap_or_else(|| panic!("{invented} is listed:\n{stdout}"));
        assert!(
            row.contains("missing") || row.contains("outside-root"),
            "{row}"
        );
    }
    assert!(
        stderr.contains("refs --check: 4 of the plan's references"),
        "{stderr}"
    );
    assert!(stderr.contains("3 missing"), "{stderr}");
    assert!(stderr.contains("1 outside-root"), "{stderr}");
}

#[test]
fn check_passes_on_a_clean_plan() {
    let env = plan_env();
    let mut cmd = env.ctxpack();
    cmd.args(["refs", "plans/clean.md", "--check", "--root", "."]);
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It did find the plan's references: a plan with none would pass vacuously.
    assert!(stdout.contains("src/store/client.rs:15-22"), "{stdout}");
    assert!(stdout.contains("0 missing"), "{stdout}");
    // The file to be created is new, not missing.
    let limits = stdout.lines().find(|l| l.contains("limits.rs")).unwrap();
    assert!(limits.contains("new"), "{limits}");
}

#[cfg(unix)]
#[test]
fn links_and_paths_that_leave_the_root_are_outside_root() {
    let outside = TestEnv::new();
    outside.write("secret.rs", "pub fn leaked() {}\n");
    outside.write("dir/notes.md", "# not ours\n");
    let env = plan_env();
    env.symlink(outside.path("secret.rs"), "src/vendor.rs");
    env.symlink(outside.path("dir"), "linked");
    let absolute = outside.path("secret.rs");
    let plan = format!(
        "# Plan\n\n- Edit `src/vendor.rs`.\n- Read `linked/notes.md`.\n- Compare with `{}`.\n- See `src/../../x.rs` and `/etc/passwd`.\n- Keep `src/config.rs`.\n",
        absolute.display()
    );
    env.write("PLAN.md", plan);
    let got = json_rows(&env, "PLAN.md", &[]);
    let status_of = |text: &str| {
        got.iter()
            .find(|row| row.split('\t').nth(3) == Some(text))
            .unwrap_or_else(|| panic!("{text} listed in {got:?}"))
            .split('\t')
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of("src/vendor.rs"), "outside-root");
    assert_eq!(status_of("linked/notes.md"), "outside-root");
    assert_eq!(status_of(absolute.to_str().unwrap()), "outside-root");
    assert_eq!(status_of("src/../../x.rs"), "outside-root");
    assert_eq!(status_of("/etc/passwd"), "outside-root");
    assert_eq!(status_of("src/config.rs"), "exists");
}

#[test]
fn a_plain_text_plan_from_stdin_is_read() {
    let env = plan_env();
    let plan = "Step one: edit src/config.rs:27-35 so validate() also checks base_url.\nStep two: call HttpClient::post from main.rs.\n";
    let mut cmd = env.ctxpack();
    cmd.args(["refs", "-", "--json"]);
    let out = run_with_stdin(cmd, plan.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = rows(&report);
    assert_eq!(
        got,
        [
            "1\texists\tfile\tsrc/config.rs:27-35\tsrc/config.rs:27-35",
            "1\texists\tsymbol\tvalidate()\tsrc/config.rs:27-35",
            "2\texists\tsymbol\tHttpClient::post\tsrc/http/client.rs:26-30",
            "2\texists\tfile\tmain.rs\tsrc/main.rs",
        ],
        "{got:#?}"
    );
    assert_eq!(report["summary"]["exists"], 4);
    assert_eq!(report["summary"]["missing"], 0);
}

#[test]
fn a_span_past_the_end_of_a_file_is_missing() {
    let env = plan_env();
    env.write(
        "PLAN.md",
        "1. Fix `src/config.rs:90-120`.\n2. Tidy `src/main.rs:20-40`.\n",
    );
    let got = json_rows(&env, "PLAN.md", &[]);
    assert_eq!(
        got,
        [
            "1\tmissing\tfile\tsrc/config.rs:90-120\tsrc/config.rs:90-120",
            // Runs past the end (23 lines): cut to the end, still there.
            "2\texists\tfile\tsrc/main.rs:20-40\tsrc/main.rs:20-23",
        ]
    );
}

#[test]
fn bad_plan_paths_are_usage_errors() {
    let env = plan_env();
    let mut cmd = env.ctxpack();
    cmd.args(["refs", "NO-SUCH-PLAN.md"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("could not read the plan NO-SUCH-PLAN.md"),
        "{stderr}"
    );

    let mut cmd = env.ctxpack();
    cmd.args(["refs", "src"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("directory"));

    // Refused before standard input is read.
    let mut cmd = env.ctxpack();
    cmd.args(["refs", "-", "--stdin"])
        .stdin(std::process::Stdio::null());
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot both come from standard input"));
}

/// The files `retry-jitter.expected` says exist (files, and symbols' files), by hand.
fn referenced_files() -> Vec<String> {
    let mut files: Vec<String> = expected("retry-jitter.expected")
        .iter()
        .filter(|row| row.split('\t').nth(1) == Some("exists"))
        .flat_map(|row| {
            row.split('\t')
                .nth(4)
                .unwrap_or("")
                .split('|')
                .map(|p| p.split(':').next().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

#[test]
fn pack_plan_holds_the_plan_then_every_referenced_file_in_full() {
    let env = plan_env();
    let mut cmd = env.ctxpack();
    cmd.args([
        "pack",
        "-q",
        "--plan",
        "plans/retry-jitter.md",
        "--budget",
        "8k",
    ]);
    let out = run_ok(cmd);
    let doc = parse(&out.stdout);
    // The plan itself, first, exactly as written.
    let plan = fs::read_to_string(fixture("plans").join("retry-jitter.md")).unwrap();
    assert_eq!(doc.plan.as_deref(), Some(plan.as_str()));
    assert!(doc.raw.find("<plan ").unwrap() < doc.raw.find("<summary>").unwrap());
    // Every referenced file, in full, with the bytes on disk; they come first.
    let wanted = referenced_files();
    assert_eq!(wanted.len(), 7, "{wanted:?}");
    for path in &wanted {
        let file = doc
            .files
            .get(path)
            .unwrap_or_else(|| panic!("{path} packed"));
        assert_eq!(file.attrs["fidelity"], "full", "{path}");
        assert_eq!(file.text, fs::read_to_string(env.path(path)).unwrap());
    }
    let first: Vec<&String> = doc.order.iter().take(wanted.len()).collect();
    assert!(first.iter().all(|p| wanted.contains(p)), "{:?}", doc.order);
    // Others only as neighbours' views; the plan is not packed a second time.
    for (path, file) in &doc.files {
        if !wanted.contains(path) {
            assert_ne!(
                file.attrs["fidelity"], "full",
                "{path} is a neighbour, not full"
            );
        }
    }
    assert!(!doc.files.contains_key("plans/retry-jitter.md"));
    assert!(!doc.files.contains_key("plans/clean.md"), "unrelated");
    // Within budget, counted independently.
    let total = direct_count(&doc);
    assert_eq!(total, doc.tokens);
    assert!(total <= 8_000, "{total}");
}

#[test]
fn a_plan_indexed_in_the_packs_own_walk_packs_as_on_a_walk_of_its_own() {
    // Without globs, the plan's references are indexed as the pack reads each file; a glob
    // (here one that keeps every file) makes the plan walk the whole tree on its own first.
    let env = plan_env();
    let pack = |extra: &[&str]| {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "--no-cache", "--plan", "plans/retry-jitter.md"]);
        cmd.args(["--budget", "8k"]);
        cmd.args(extra);
        run_ok(cmd)
    };
    let one_walk = pack(&[]);
    let two_walks = pack(&["--include", "**"]);
    assert_eq!(
        String::from_utf8_lossy(&one_walk.stdout),
        String::from_utf8_lossy(&two_walks.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&one_walk.stderr),
        String::from_utf8_lossy(&two_walks.stderr)
    );
    let doc = parse(&one_walk.stdout);
    assert_eq!(referenced_files().len(), 7);
    for path in referenced_files() {
        assert_eq!(doc.files[&path].attrs["fidelity"], "full", "{path}");
    }
}

#[test]
fn pack_plan_under_a_tight_budget_says_what_it_left_out() {
    let env = plan_env();
    for budget in [1_400usize, 1_800, 2_400] {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "--plan", "plans/retry-jitter.md", "--budget"])
            .arg(budget.to_string());
        let out = run_ok(cmd);
        let doc = parse(&out.stdout);
        let total = direct_count(&doc);
        assert!(total <= budget, "{total} > {budget}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let wanted = referenced_files();
        let full: Vec<&String> = wanted
            .iter()
            .filter(|p| {
                doc.files
                    .get(*p)
                    .is_some_and(|f| f.attrs["fidelity"] == "full")
            })
            .collect();
        assert!(full.len() < wanted.len(), "{budget}: all fit?");
        // Every referenced file not in full is named, on stderr and in the summary.
        for path in wanted.iter().filter(|p| !full.contains(p)) {
            assert!(stderr.contains(path.as_str()), "{budget}: {path}\n{stderr}");
            assert!(doc.summary.contains(path.as_str()), "{budget}: {path}");
        }
        // The plan's inventions are named too.
        assert!(
            stderr.contains("src/http/constants.rs (line 24, missing)"),
            "{stderr}"
        );
    }
}

#[test]
fn a_large_file_named_by_a_symbol_is_an_excerpt() {
    let env = plan_env();
    let mut big = String::from("//! Many handlers.\n\n");
    for i in 0..400 {
        big.push_str(&format!(
            "/// Handles case {i}.\npub fn handle_{i}(x: u32) -> u32 {{\n    let y = x + {i};\n    y * 2\n}}\n\n"
        ));
    }
    env.write("src/handlers.rs", &big);
    env.write(
        "PLAN.md",
        "# Plan\n\n1. Fix the overflow in `handle_250()`.\n2. Keep `src/config.rs` as it is.\n",
    );
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--plan", "PLAN.md", "--budget", "12k"]);
    let doc = parse(&run_ok(cmd).stdout);
    let file = &doc.files["src/handlers.rs"];
    assert_eq!(file.attrs["fidelity"], "excerpt");
    // The named function in full, with its doc comment; other bodies only as outline lines.
    assert!(file
        .text
        .contains("/// Handles case 250.\npub fn handle_250(x: u32) -> u32 {\n    let y = x + 250;\n    y * 2\n}\n"));
    assert!(!file.text.contains("let y = x + 100;"));
    assert!(file.text.contains("pub fn handle_100(x: u32) -> u32"));
    assert_eq!(doc.files["src/config.rs"].attrs["fidelity"], "full");
    assert!(direct_count(&doc) <= 12_000);
    // Cheaper than the whole file, which would not have fitted next to the rest.
    assert!(file.tokens < big.len() / 4, "{}", file.tokens);
}

#[cfg(unix)]
#[test]
fn links_named_by_bare_name_are_outside_root_and_specials_never_block() {
    let outside = TestEnv::new();
    outside.write("secret.rs", "pub fn leaked() {}\nfn two() {}\n");
    let env = plan_env();
    env.symlink(outside.path("secret.rs"), "src/store/leak.rs");
    env.fifo("src/pipe.rs");
    env.write(
        "PLAN.md",
        "1. Fix `leak.rs:2`.\n2. Read `pipe.rs:3`.\n3. Keep `src/config.rs`.\n",
    );
    let mut cmd = env.ctxpack();
    cmd.args(["refs", "PLAN.md", "--json"]);
    // A FIFO opened for its line count would block forever.
    let (out, opened) = crate::support::run_watching_fifos(cmd, &[env.path("src/pipe.rs")]);
    assert!(opened.is_empty(), "refs opened the FIFO");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = rows(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(
        got,
        [
            "1\toutside-root\tfile\tleak.rs:2\t",
            "2\texists\tfile\tpipe.rs:3\tsrc/pipe.rs:3-3",
            "3\texists\tfile\tsrc/config.rs\tsrc/config.rs",
        ],
        "{got:#?}"
    );
}

#[test]
fn pack_plan_redacts_secrets_in_the_plan_and_in_referenced_names() {
    let token = format!("ghp_{}", "Q9vT2mX7kL4pR8sW1nB5cY3dF6hJCTPK0aE4");
    let env = plan_env();
    env.write(format!("src/{token}.rs"), "pub fn keyed() {}\n");
    env.write(
        "PLAN.md",
        format!("1. Use the token {token} in `src/config.rs`.\n2. Rename `src/{token}.rs`.\n"),
    );
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--plan", "PLAN.md", "--budget", "1200"]);
    let out = run_ok(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains(&token), "the document leaks the token");
    assert!(!stderr.contains(&token), "stderr leaks the token: {stderr}");
    let doc = parse(&out.stdout);
    assert!(doc.plan.as_deref().unwrap().contains("[REDACTED:"));
    assert!(doc.raw.contains("<plan path=\"PLAN.md\" tokens=\""));
    assert!(doc.raw.contains("redactions=\"2\""), "{}", &doc.raw[..300]);
    // The plan's own secret is in the document (the prelude): the summary lists it as held.
    assert!(
        doc.summary.contains("PLAN.md:1: github-token"),
        "{}",
        doc.summary
    );
    assert!(
        !doc.summary.contains("left out of this document hold"),
        "{}",
        doc.summary
    );
    // The file with the token in its name is still found and packed, under its redacted name.
    assert!(
        doc.files
            .iter()
            .any(|(path, f)| path.contains("[REDACTED:") && f.attrs["fidelity"] == "full"),
        "{:?}",
        doc.order
    );

    // --secrets fail refuses a plan that holds a secret, naming the plan's before the tree's
    // (the file named with the token), whether the plan is indexed in the pack's walk or not.
    for extra in [&[][..], &["--include", "**"]] {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "--plan", "PLAN.md", "--secrets", "fail"]);
        cmd.args(extra);
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(3));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains(&token));
        assert!(stderr.contains("(the plan)"), "{extra:?}: {stderr}");
    }
}

#[test]
fn pack_plan_names_referenced_files_it_cannot_pack_and_puts_direct_ones_first() {
    let env = plan_env();
    env.write(".github/workflows/ci.yml", "on: push\n");
    env.write(
        "PLAN.md",
        "1. Change `src/http/retry.rs` and `.github/workflows/ci.yml`.\n2. Tidy everything in `src/store/`.\n",
    );
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--plan", "PLAN.md", "--budget", "1500"]);
    let out = run_ok(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let doc = parse(&out.stdout);
    // The hidden file is not packed, and both outputs say so.
    assert!(!doc.files.contains_key(".github/workflows/ci.yml"));
    assert!(stderr.contains("not packed"), "{stderr}");
    assert!(stderr.contains(".github/workflows/ci.yml"), "{stderr}");
    assert!(doc
        .summary
        .contains(".github/workflows/ci.yml cannot be packed"));
    // The file named directly is whole before any file of the directory named.
    assert_eq!(doc.files["src/http/retry.rs"].attrs["fidelity"], "full");
    assert_eq!(doc.order[0], "src/http/retry.rs");
    assert!(direct_count(&doc) <= 1500);
}

#[test]
fn references_resolve_against_the_whole_tree_with_a_stdin_list() {
    let env = plan_env();
    let mut cmd = env.ctxpack();
    cmd.args(["refs", "plans/retry-jitter.md", "--stdin", "--json"]);
    let out = run_with_stdin(cmd, b"src/config.rs\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = rows(&serde_json::from_slice(&out.stdout).unwrap());
    // The same resolutions as without the list: nothing outside it is called missing.
    assert_eq!(got, expected("retry-jitter.expected"));
    // Nor outside what --include lets in.
    let got = json_rows(&env, "plans/retry-jitter.md", &["--include", "src/http/**"]);
    assert_eq!(got, expected("retry-jitter.expected"));

    // The pack holds what the list allows, and names the referenced files it leaves out.
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--plan", "plans/retry-jitter.md", "--stdin"]);
    let out = run_with_stdin(cmd, b"src/config.rs\nsrc/http/retry.rs\n");
    assert!(out.status.success());
    let doc = parse(&out.stdout);
    assert_eq!(doc.order, ["src/http/retry.rs", "src/config.rs"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not packed") && stderr.contains("src/store/cache.rs"),
        "{stderr}"
    );
}

/// A numbered `## Files` heading is the contract too, and the path of a contract item is a
/// path whatever it looks like: a `README` the plan modifies but the tree lacks is missing.
#[test]
fn a_numbered_files_section_and_bare_names_are_the_contract() {
    let env = TestEnv::new();
    env.write("Makefile", "all:\n")
        .write("src/lib.rs", "pub fn f() {}\n")
        .write(
            "plan.md",
            "# Plan\n\n## 2. Files\n\n- modify `README`\n- modify `Makefile`\n- create `src/lib.rs`\n- create `LICENSE`\n\n## 3. Steps\n\n1. Do it.\n",
        );
    let rows = json_rows(&env, "plan.md", &[]);
    let status = |text: &str| {
        rows.iter()
            .find(|r| r.split('\t').nth(3) == Some(text))
            .map(|r| r.split('\t').nth(1).unwrap().to_string())
    };
    assert_eq!(status("README").as_deref(), Some("missing"), "{rows:?}");
    assert_eq!(status("Makefile").as_deref(), Some("exists"), "{rows:?}");
    assert_eq!(
        status("src/lib.rs").as_deref(),
        Some("conflict"),
        "{rows:?}"
    );
    assert_eq!(status("LICENSE").as_deref(), Some("new"), "{rows:?}");
}

/// A path only a shell command names is a `command` reference: checked, never packed; a
/// `path::symbol` resolves in that file; a directory the plan names brings its files in as
/// neighbours, not in full.
#[test]
fn commands_paths_with_symbols_and_directories() {
    let env = TestEnv::new();
    env.write("pkg/utils.py", "def get_proxies():\n    return {}\n\n\ndef other():\n    pass\n")
        .write("pkg/client.py", "from pkg.utils import get_proxies\n\n\ndef send():\n    return get_proxies()\n")
        .write("tests/test_a.py", "def test_a():\n    assert True\n")
        .write("tests/test_b.py", "def test_b():\n    assert True\n")
        .write(
            "plan.md",
            "# Plan\n\n1. Update `pkg/client.py` to use `pkg/utils.py::get_proxies`.\n2. `pkg/utils.py::invented_helper` is gone.\n3. Run `pytest tests/ -k proxies` and `pytest nowhere/`.\n",
        );
    let rows = json_rows(&env, "plan.md", &[]);
    let row = |text: &str| {
        rows.iter()
            .find(|r| r.split('\t').nth(3) == Some(text))
            .unwrap_or_else(|| panic!("no {text}: {rows:?}"))
            .split('\t')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let proxies = row("pkg/utils.py::get_proxies");
    assert_eq!(
        (proxies[1].as_str(), proxies[2].as_str()),
        ("exists", "symbol")
    );
    assert!(proxies[4].starts_with("pkg/utils.py:1-2"), "{proxies:?}");
    assert_eq!(row("pkg/utils.py::invented_helper")[1], "missing");
    let tests = row("tests/");
    assert_eq!(
        (tests[1].as_str(), tests[2].as_str()),
        ("exists", "command")
    );
    // A command's path that does not exist is an output or scratch path as often as an
    // invention: not reported.
    assert!(!rows.iter().any(|r| r.contains("nowhere/")), "{rows:?}");

    // In the pack: the named file in full; the command's directory not as files in full.
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--plan", "plan.md", "--budget", "20k", "-q"]);
    let doc = crate::support::parse(&run_ok(cmd).stdout);
    let fidelity = |path: &str| doc.files.get(path).map(|f| f.attrs["fidelity"].clone());
    assert_eq!(fidelity("pkg/client.py").as_deref(), Some("full"));
    assert_ne!(fidelity("tests/test_a.py").as_deref(), Some("full"));
}

/// A directory named in prose: its files come after the named ones, as views, not in full.
#[test]
fn a_directory_in_prose_is_neighbours_not_files_in_full() {
    let env = TestEnv::new();
    let body: String = (0..200)
        .map(|i| format!("def f{i}():\n    return {i}\n\n"))
        .collect();
    for name in ["a", "b", "c", "d"] {
        env.write(format!("lib/{name}.py"), &body);
    }
    env.write("main.py", "import lib\n\n\ndef main():\n    pass\n")
        .write(
            "plan.md",
            "# Plan\n\nChange `main.py`; the helpers live in `lib/`.\n",
        );
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--plan", "plan.md", "--budget", "6k", "-q"]);
    let doc = crate::support::parse(&run_ok(cmd).stdout);
    let full: Vec<&str> = doc
        .files
        .iter()
        .filter(|(_, f)| f.attrs["fidelity"] == "full")
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(full.contains(&"main.py"), "{full:?}");
    assert!(!full.iter().any(|p| p.starts_with("lib/")), "{full:?}");
}

/// The verb governing a reference decides whether it must exist ("update `x` to use the new
/// policy" is no creation, "add the docs page `x`" is); a table row's action column speaks for
/// its file; a creation of a file that exists is a conflict; a symbol resolves in the file its
/// list item names, and an ambiguous one lists the plan's files first, tests last.
#[test]
fn verbs_bind_to_their_objects_and_context_resolves_symbols() {
    let env = TestEnv::new();
    let fetch = "def fetch():\n    return None\n";
    env.write("pkg/policy.py", "class Policy:\n    pass\n")
        .write(
            "pkg/__init__.py",
            "from pkg.policy import Policy\n__all__ = [\"Policy\"]\n",
        )
        .write("pkg/sub/__init__.py", "__all__ = []\n")
        .write("pkg/net.py", fetch)
        .write("vendor/net.py", fetch)
        .write("tests/test_net.py", fetch)
        .write("tests/test_client.py", "def test_get():\n    pass\n")
        .write("tests/test_async.py", "def test_get():\n    pass\n")
        .write("tests/test_sync.py", "def test_get():\n    pass\n")
        .write("docs/index.md", "# Docs\n");
    let semaphore =
        "pub struct Semaphore;\nimpl Semaphore {\n    pub fn try_acquire(&self) {}\n}\n";
    env.write("lib/sema.rs", semaphore)
        .write("lib/batch.rs", semaphore)
        .write(
            "plan.md",
            fs::read(fixture("plans").join("verbs-and-context.md")).unwrap(),
        );
    let got = json_rows(&env, "plan.md", &[]);
    let want = expected("verbs-and-context.expected");
    assert_eq!(got, want, "\ngot:\n{}\n", got.join("\n"));
}
