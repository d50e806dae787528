//! `ctxpack pack --secrets`: planted secrets never reach the output, known non-secrets survive,
//! and each mode (redact, omit-file, fail, off) does what it says.

use std::fs;

use serde_json::Value;

use crate::support::{
    copy_fixture, expected_text, fixture, parse, run, run_ok, Doc, Reference, TestEnv,
};

struct Planted {
    path: String,
    rule: String,
    value: String,
    line: u64,
}

struct Kept {
    path: String,
    value: String,
}

/// A secret used as a file name, in `dir`.
struct InPath {
    dir: String,
    rule: String,
    value: String,
}

fn in_path() -> Vec<InPath> {
    let raw = fs::read(fixture("secrets").join("manifest.json")).unwrap();
    let json: Value = serde_json::from_slice(&raw).unwrap();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    json["in_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| InPath {
            dir: text(p, "dir"),
            rule: text(p, "rule"),
            value: text(p, "value"),
        })
        .collect()
}

fn manifest() -> (Vec<Planted>, Vec<Kept>) {
    let raw = fs::read(fixture("secrets").join("manifest.json")).unwrap();
    let json: Value = serde_json::from_slice(&raw).unwrap();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    let planted = json["planted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Planted {
            path: text(p, "path"),
            rule: text(p, "rule"),
            value: text(p, "value"),
            line: p["line"].as_u64().unwrap(),
        })
        .collect();
    let kept = json["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| Kept {
            path: text(k, "path"),
            value: text(k, "value"),
        })
        .collect();
    (planted, kept)
}

/// The corpus without its manifest (which names every value), in a temporary tree.
fn corpus() -> TestEnv {
    let env = copy_fixture("secrets");
    for listing in ["manifest.json", "README.md"] {
        fs::remove_file(env.path(listing)).unwrap();
    }
    env
}

/// `--hidden` for `.env` and `.npmrc`; `--no-ignore` so that no global git excludes on the test
/// machine (which often list `.env`) hide a fixture.
fn pack_corpus(env: &TestEnv, args: &[&str]) -> Doc {
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--hidden", "--no-ignore"])
        .args(args);
    parse(&run_ok(cmd).stdout)
}

fn assert_counts_are_exact(doc: &Doc) {
    let counter = Reference::new(doc.encoding.parse().unwrap());
    assert_eq!(doc.tokens, counter.count(&doc.raw), "root tokens");
    for (path, file) in &doc.files {
        assert_eq!(file.tokens, counter.count(&file.text), "{path} tokens");
    }
}

fn disk_text(env: &TestEnv, path: &str) -> String {
    expected_text(&fs::read(env.path(path)).unwrap())
}

#[test]
fn every_planted_secret_is_redacted_and_every_non_secret_survives() {
    let (planted, kept) = manifest();
    assert!(planted.len() >= 30, "the corpus is present");
    let env = corpus();
    let doc = pack_corpus(&env, &[]);
    assert_counts_are_exact(&doc);

    for secret in &planted {
        assert!(
            !doc.raw.contains(&secret.value),
            "{} ({}): the value reached the output",
            secret.path,
            secret.rule
        );
        let file = doc
            .files
            .get(&secret.path)
            .unwrap_or_else(|| panic!("{} is not packed", secret.path));
        let marker = format!("[REDACTED:{}]", secret.rule);
        assert!(file.text.contains(&marker), "{}: no {marker}", secret.path);
        let place = format!("{}:{}: {}", secret.path, secret.line, secret.rule);
        assert!(doc.summary.contains(&place), "summary lacks {place}");
    }
    for (path, file) in doc.files.iter().filter(|(p, _)| p.starts_with("planted/")) {
        let markers = file.text.matches("[REDACTED:").count();
        assert_eq!(
            file.attrs.get("redactions"),
            (markers > 0).then(|| markers.to_string()).as_ref(),
            "{path}: redactions attribute"
        );
    }
    // What is left of a file around its markers is the file itself.
    let settings = &doc.files["planted/src/settings.py"].text;
    assert!(settings.contains(
        "DATABASE_URL = \"postgres://ctxpack_app:[REDACTED:database-url]@db.internal:5432/app\""
    ));
    let pem = &doc.files["planted/certs/server.pem"].text;
    assert!(pem.ends_with(
        "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED:private-key]\n-----END RSA PRIVATE KEY-----\n"
    ));

    for value in &kept {
        let file = doc
            .files
            .get(&value.path)
            .unwrap_or_else(|| panic!("{} is not packed", value.path));
        assert!(
            file.text.contains(&value.value),
            "{}: {:?} did not survive",
            value.path,
            value.value
        );
    }
    let clean: Vec<&String> = doc
        .files
        .keys()
        .filter(|p| p.starts_with("clean/"))
        .collect();
    assert!(clean.len() >= 10, "{clean:?}");
    for path in clean {
        let file = &doc.files[path];
        assert_eq!(file.text, disk_text(&env, path), "{path} changed");
        assert!(!file.attrs.contains_key("redactions"), "{path}");
    }
    // A secret used as a file name reaches no part of the document: tree, path attribute,
    // summary.
    for secret in in_path() {
        assert!(
            !doc.raw.contains(&secret.value),
            "{}: the name leaks",
            secret.dir
        );
        let place = format!(
            "{}/[REDACTED:{}].txt: {} (in the path)",
            secret.dir, secret.rule, secret.rule
        );
        assert!(doc.summary.contains(&place), "summary lacks {place}");
        let shown = format!("{}/[REDACTED:{}].txt", secret.dir, secret.rule);
        assert!(doc.files.contains_key(&shown), "{shown} is not packed");
    }
    // Published examples are reported as such, by place.
    for place in [
        "clean/docs/aws.md:7: aws-access-key-id",
        "clean/docs/aws.md:8: aws-secret-access-key",
        "clean/docs/aws.md:11: jwt",
        "clean/config/example.yaml:6: github-token",
    ] {
        assert!(doc.summary.contains(place), "examples lack {place}");
    }
    assert!(doc
        .summary
        .contains("Secrets: 48 values that look like credentials were replaced"));
}

#[test]
fn output_with_secrets_is_identical_for_every_thread_count() {
    let env = corpus();
    let outputs: Vec<String> = ["1", "3"]
        .iter()
        .map(|threads| pack_corpus(&env, &["-j", threads]).raw)
        .collect();
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn omit_file_leaves_out_every_file_with_a_secret() {
    let (planted, _) = manifest();
    let env = corpus();
    let doc = pack_corpus(&env, &["--secrets", "omit-file"]);
    assert_counts_are_exact(&doc);
    for secret in &planted {
        assert!(!doc.raw.contains(&secret.value), "{}", secret.path);
        assert_eq!(
            doc.omitted.get(&secret.path).map(String::as_str),
            Some("secrets"),
            "{}",
            secret.path
        );
        let place = format!("{}:{}: {}", secret.path, secret.line, secret.rule);
        assert!(doc.summary.contains(&place), "summary lacks {place}");
    }
    assert!(doc.tree.contains("server.pem  [omitted: secrets]"));
    // Only the name of the file with a token as its name is redacted (in the tree).
    assert!(
        doc.files.values().all(|f| !f.text.contains("[REDACTED:")),
        "nothing is redacted in place"
    );
    assert!(doc
        .tree
        .contains("[REDACTED:github-token].txt  [omitted: secrets]"));
    assert!(doc.files.keys().all(|p| p.starts_with("clean/")));
    assert!(doc.files.len() >= 10);
    assert!(doc
        .summary
        .contains("24 files holding 48 values that look like credentials were left out"));
}

#[test]
fn fail_exits_3_lists_every_secret_by_place_and_writes_nothing() {
    let (planted, _) = manifest();
    let named = in_path();
    let env = corpus();
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--hidden", "--no-ignore", "--secrets", "fail"])
        .args(["-o", "context.xml"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(!env.path("context.xml").exists(), "no document is written");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("found 48 secrets (--secrets fail)"),
        "{stderr}"
    );
    for secret in &planted {
        let place = format!("{}:{}: {}", secret.path, secret.line, secret.rule);
        assert!(stderr.contains(&place), "stderr lacks {place}");
        assert!(!stderr.contains(&secret.value), "a value is on stderr");
    }
    // CI logs keep no secret from a file name either.
    for secret in &named {
        assert!(!stderr.contains(&secret.value), "a file name is on stderr");
        assert!(stderr.contains("(in the path)"), "{stderr}");
    }

    // Known examples and placeholders do not fail a gate.
    let mut cmd = env.ctxpack();
    cmd.args([
        "pack",
        "-q",
        "--hidden",
        "--no-ignore",
        "--secrets",
        "fail",
        "clean",
    ]);
    let doc = parse(&run_ok(cmd).stdout);
    assert!(doc.summary.contains("no credentials were found"));
}

#[test]
fn off_packs_the_text_unscanned_and_says_so() {
    let (planted, _) = manifest();
    let env = corpus();
    let doc = pack_corpus(&env, &["--secrets", "off"]);
    assert_counts_are_exact(&doc);
    for secret in &planted {
        assert!(doc.raw.contains(&secret.value), "{}", secret.path);
    }
    for (path, file) in &doc.files {
        assert_eq!(file.text, disk_text(&env, path), "{path}");
        assert!(!file.attrs.contains_key("redactions"));
    }
    assert!(
        doc.summary.contains("scanning was off (--secrets off)"),
        "{}",
        doc.summary
    );
}

#[test]
fn redact_is_the_default_and_stderr_lists_places_not_values() {
    let (planted, _) = manifest();
    let env = corpus();
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--hidden", "--no-ignore"]);
    let out = run_ok(cmd);
    let doc = parse(&out.stdout);
    assert!(doc.files["planted/.npmrc"]
        .text
        .contains("[REDACTED:npm-token]"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("secrets: 48 redacted in 24 files:"),
        "{stderr}"
    );
    // Five places by default, then a count; --verbose lists twenty.
    assert!(stderr.contains("... and 43 more"), "{stderr}");
    assert!(stderr.contains("examples left in place"), "{stderr}");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--hidden", "--no-ignore", "--verbose"]);
    let verbose = String::from_utf8(run_ok(cmd).stderr).unwrap();
    assert!(verbose.contains("planted/.env:2: env-file"), "{verbose}");
    assert!(verbose.contains("... and 28 more"), "{verbose}");
    for secret in &planted {
        assert!(!verbose.contains(&secret.value), "a value is on stderr");
    }
    for secret in &planted {
        assert!(!stderr.contains(&secret.value), "a value is on stderr");
    }
    for secret in in_path() {
        assert!(!stderr.contains(&secret.value), "a file name is on stderr");
    }
}

#[test]
fn a_tree_without_secrets_says_it_was_scanned() {
    let env = TestEnv::new();
    env.write("main.rs", "fn main() {}\n");
    let mut cmd = env.ctxpack();
    cmd.arg("pack");
    let out = run_ok(cmd);
    let doc = parse(&out.stdout);
    assert!(doc.summary.contains("scanned; no credentials were found"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("secrets: none found"));
}

#[test]
fn help_explains_the_secrets_modes() {
    let env = TestEnv::new();
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--help"]);
    let help = String::from_utf8(run_ok(cmd).stdout).unwrap();
    for text in [
        "--secrets",
        "redact",
        "omit-file",
        "fail",
        "off",
        "[REDACTED:<rule>]",
    ] {
        assert!(help.contains(text), "pack --help lacks {text}");
    }
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--secrets", "maybe"]);
    assert_eq!(run(cmd).status.code(), Some(2));
}

#[test]
fn compressed_and_outline_views_are_made_from_redacted_text() {
    let (planted, _) = manifest();
    let env = corpus();
    // The outline of planted/docs/setup.md holds its headings, one of which holds a token: the
    // check below can fail.
    let heading = planted
        .iter()
        .find(|p| p.path == "planted/docs/setup.md" && p.rule == "gitlab-token")
        .unwrap();
    let unscanned = pack_corpus(&env, &["--fidelity", "outline", "--secrets", "off"]);
    assert!(unscanned.files["planted/docs/setup.md"]
        .text
        .contains(&heading.value));
    for fidelity in ["compressed", "outline"] {
        let doc = pack_corpus(&env, &["--fidelity", fidelity]);
        assert_counts_are_exact(&doc);
        for secret in &planted {
            assert!(
                !doc.raw.contains(&secret.value),
                "{fidelity}: the {} value planted in {} reached the output",
                secret.rule,
                secret.path
            );
        }
    }
}

#[test]
fn outline_command_redacts_and_fail_exits_3() {
    let (planted, _) = manifest();
    let heading = planted
        .iter()
        .find(|p| p.path == "planted/docs/setup.md" && p.rule == "gitlab-token")
        .unwrap();
    let env = corpus();
    let outline = |extra: &[&str]| {
        let mut cmd = env.ctxpack();
        cmd.arg("outline").args(extra).arg("planted/docs/setup.md");
        run(cmd)
    };
    let off = outline(&["--secrets", "off"]);
    assert!(String::from_utf8_lossy(&off.stdout).contains(&heading.value));
    let redacted = outline(&[]);
    assert_eq!(redacted.status.code(), Some(0));
    let text = String::from_utf8(redacted.stdout).unwrap();
    assert!(!text.contains(&heading.value), "{text}");
    assert!(text.contains("[REDACTED:gitlab-token]"), "{text}");
    let failed = outline(&["--secrets", "fail"]);
    assert_eq!(failed.status.code(), Some(3));
    assert!(failed.stdout.is_empty());
    assert!(!String::from_utf8_lossy(&failed.stderr).contains(&heading.value));
}

#[test]
fn outline_redactions_attribute_counts_what_the_view_holds() {
    let env = TestEnv::new();
    let value = "CTXPACKq8mWp4Kt9Lr2xY7vB";
    env.write(
        "db.py",
        format!("def connect(password=\"{value}\"):\n    return 1\n"),
    );
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--fidelity", "outline"]);
    let doc = parse(&run_ok(cmd).stdout);
    let file = &doc.files["db.py"];
    assert!(!file.text.contains("[REDACTED:"));
    assert!(!file.attrs.contains_key("redactions"), "{:?}", file.attrs);
    assert!(doc.summary.contains("db.py:1: generic-secret"));
}

#[test]
fn budgeted_packs_never_carry_a_planted_secret() {
    let (planted, _) = manifest();
    let env = corpus();
    // The places the summary lists as redacted (secrets in the text, not in paths or examples).
    fn listed(doc: &Doc) -> Vec<String> {
        doc.summary
            .lines()
            .take_while(|l| !l.contains("matched a secret rule but"))
            .filter(|l| l.starts_with("  ") && !l.ends_with("(in the path)"))
            .filter_map(|l| l.trim().rsplit_once(':'))
            .filter_map(|(place, _)| place.rsplit_once(':').map(|(path, _)| path.to_string()))
            .collect()
    }
    let whole = pack_corpus(&env, &[]);
    let total = listed(&whole).len();
    // (The summary lists at most 100 places; the corpus plants fewer.)
    assert!(
        (10..100).contains(&total),
        "the corpus plants secrets in file text"
    );
    for budget in ["3000", "20000", "200000"] {
        let doc = pack_corpus(&env, &["--budget", budget]);
        assert_counts_are_exact(&doc);
        // The summary lists the redactions in the files the document holds, and counts the
        // others: a small budget must not spend its tokens on places the reader never sees.
        let places = listed(&doc);
        for path in &places {
            assert!(
                doc.files.contains_key(path),
                "--budget {budget}: {path} is listed but not held"
            );
        }
        for (path, file) in &doc.files {
            if file.attrs.contains_key("redactions") {
                assert!(
                    places.contains(path),
                    "--budget {budget}: {path} is not listed"
                );
            }
        }
        let elsewhere = total - places.len();
        // stats reports every secret found, and how many of them the document leaves out.
        let mut cmd = env.ctxpack();
        cmd.args([
            "stats",
            "--json",
            "--hidden",
            "--no-ignore",
            "--budget",
            budget,
        ]);
        let stats: serde_json::Value = serde_json::from_slice(&run_ok(cmd).stdout).unwrap();
        let path_secrets = whole.summary.matches("(in the path)").count();
        assert_eq!(stats["secrets"]["found"], total + path_secrets, "{budget}");
        assert_eq!(stats["secrets"]["left_out"], elsewhere, "{budget}");
        if elsewhere > 0 {
            assert!(
                doc.summary
                    .contains(&format!("hold {elsewhere} more value"))
                    || doc.summary.contains(&format!("({elsewhere} value")),
                "--budget {budget}: the {elsewhere} secrets left out are counted:\n{}\n{:?}",
                doc.summary,
                listed(&whole)
            );
        } else {
            assert!(!doc.summary.contains("left out of this document hold"));
        }
        for secret in &planted {
            assert!(
                !doc.raw.contains(&secret.value),
                "--budget {budget}: the {} value planted in {} reached the output",
                secret.rule,
                secret.path
            );
        }
    }
}

#[test]
fn symbols_never_print_a_token_used_as_a_file_name() {
    let env = TestEnv::new();
    let token = format!("ghp_{}", "Q9vT2mX7kL4pR8sW1nB5cY3dF6hJCTPK0aE4");
    env.write(format!("src/{token}.rs"), "pub fn leaked() {}\n");
    for args in [vec!["symbols"], vec!["symbols", "--json"]] {
        let mut cmd = env.ctxpack();
        cmd.args(&args);
        let out = run_ok(cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("leaked"), "{stdout}");
        assert!(
            !stdout.contains(&token),
            "{args:?} printed the token: {stdout}"
        );
    }
}
