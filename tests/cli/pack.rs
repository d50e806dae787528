//! `ctxpack pack`: walking, loading, exact counts, well-formed output, errors and exit codes.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use ctxpack::tokens::{Encoding, Tiktoken, TokenCounter};

use crate::support::{
    copy_fixture, direct_count, expected_text, fixture, parse, run, run_ok, run_with_stdin, Doc,
    TestEnv,
};
#[cfg(unix)]
use crate::support::{run_or_report_hang, run_watching_fifos};

fn pack(env: &TestEnv, args: &[&str]) -> Doc {
    let mut cmd = env.ctxpack();
    cmd.arg("pack").arg("--quiet").args(args);
    parse(&run_ok(cmd).stdout)
}

/// The whole document, counted directly, must equal the count the root element states.
fn assert_total_is_exact(doc: &Doc) {
    assert_eq!(
        doc.tokens,
        direct_count(doc),
        "root tokens attribute vs a direct count"
    );
}

/// A tree with everything git cannot store, made at test time.
fn nasty_tree() -> TestEnv {
    let env = TestEnv::new();
    env.write("src/main.rs", "fn main() {\n    println!(\"hi\");\n}\n")
        .write("empty.txt", "")
        .write("cdata.txt", "a ]]> b ]]]]> c <![CDATA[ d ]]>\n")
        .write("crlf.txt", "one\r\ntwo\r\n")
        .write("mixed_eol.txt", "a\rb\r\nc\n")
        .write("bom.rs", b"\xEF\xBB\xBFfn bom() {}\n")
        .write("invalid.txt", b"caf\xE9 \xFF\xFE ok\n")
        .write("controls.txt", "bell\u{7} esc\u{1b}[0m nul-late tab\tok\n")
        .write("image.png", b"\x89PNG\r\n\x1a\n\0\0\0binary")
        .write("data.bin.txt", b"looks like text\0but is binary")
        .write("quote\"amp&lt<gt>.txt", "odd name\n")
        .write("space name/ünïcödé 名前.md", "# unicode\n")
        .write("tab\tname.txt", "tab in name\n")
        .write("no_newline.txt", "last line without newline")
        .write("x]]>y.txt", "a name that closes CDATA\n");
    #[cfg(unix)]
    env.write("new\nline.txt", "newline in name\n");
    env
}

#[test]
fn output_parses_and_every_full_file_matches_the_bytes_on_disk() {
    let env = nasty_tree();
    let doc = pack(&env, &[]);
    assert_total_is_exact(&doc);

    let clean = [
        "src/main.rs",
        "empty.txt",
        "cdata.txt",
        "crlf.txt",
        "mixed_eol.txt",
        "bom.rs",
        "quote\"amp&lt<gt>.txt",
        "space name/ünïcödé 名前.md",
        "tab\tname.txt",
        "no_newline.txt",
        "x]]>y.txt",
        #[cfg(unix)]
        "new\nline.txt",
    ];
    for path in clean {
        let file = doc
            .files
            .get(path)
            .unwrap_or_else(|| panic!("{path:?} missing from <files>: {:?}", doc.files.keys()));
        let disk = fs::read(env.path(path)).unwrap();
        assert_eq!(
            file.text,
            expected_text(&disk),
            "{path:?} differs from disk"
        );
        assert_eq!(file.attrs["fidelity"], "full");
    }
    assert_eq!(doc.files["empty.txt"].tokens, 0);
    assert_eq!(
        doc.files["crlf.txt"].attrs.get("eol").map(String::as_str),
        Some("crlf")
    );
    assert_eq!(
        doc.files["mixed_eol.txt"]
            .attrs
            .get("eol")
            .map(String::as_str),
        Some("mixed")
    );
    assert_eq!(
        doc.files["bom.rs"]
            .attrs
            .get("bom-stripped")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(doc.files["src/main.rs"].attrs["lang"], "rust");

    let invalid = &doc.files["invalid.txt"];
    assert_eq!(invalid.attrs.get("lossy").map(String::as_str), Some("true"));
    assert_eq!(invalid.text, "caf\u{FFFD} \u{FFFD}\u{FFFD} ok\n");
    let controls = &doc.files["controls.txt"];
    assert_eq!(
        controls.attrs.get("sanitized").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        controls.text,
        "bell\u{FFFD} esc\u{FFFD}[0m nul-late tab\tok\n"
    );

    assert_eq!(
        doc.omitted.get("image.png").map(String::as_str),
        Some("binary")
    );
    assert_eq!(
        doc.omitted.get("data.bin.txt").map(String::as_str),
        Some("binary")
    );
    assert!(
        doc.tree.contains("image.png  [omitted: binary]"),
        "{}",
        doc.tree
    );
    assert!(
        doc.tree.contains("new\\nline.txt"),
        "newline in a name is escaped in the tree"
    );
    assert!(
        doc.summary.contains("2 files were left out (2 binary)"),
        "{}",
        doc.summary
    );
}

#[test]
fn file_token_counts_equal_reference_tiktoken_counts() {
    // fixtures/tokens/reference_counts.json was produced by OpenAI's tiktoken package (see
    // fixtures/tokens/README.md); it counts each file's exact bytes.
    let reference: serde_json::Value =
        serde_json::from_slice(&fs::read(fixture("tokens").join("reference_counts.json")).unwrap())
            .unwrap();
    let reference = reference["files"].as_object().unwrap();
    assert!(reference.len() >= 20, "the reference corpus is present");

    for encoding in Encoding::ALL {
        let counter = Tiktoken::new(encoding);
        // The tokenizer itself, on the raw text.
        for (path, counts) in reference {
            let text = fs::read_to_string(fixture("tokens").join(path)).unwrap();
            let expected = counts[encoding.name()].as_u64().unwrap() as usize;
            assert_eq!(counter.count(&text), expected, "{encoding} {path}");
        }
        // And through the binary: files without CR are emitted byte for byte, so their counts
        // must equal the reference exactly.
        let env = copy_fixture("tokens");
        fs::remove_file(env.path("reference_counts.json")).unwrap();
        let doc = pack(&env, &["--encoding", encoding.name()]);
        assert_eq!(doc.encoding, encoding.name());
        assert_total_is_exact(&doc);
        let mut compared = 0;
        for (path, counts) in reference {
            let raw = fs::read(fixture("tokens").join(path)).unwrap();
            if raw.contains(&b'\r') {
                continue;
            }
            let expected = counts[encoding.name()].as_u64().unwrap() as usize;
            assert_eq!(doc.files[path].tokens, expected, "{encoding} {path}");
            compared += 1;
        }
        assert!(compared >= 20);
    }
}

#[test]
fn output_is_identical_for_every_thread_count() {
    let env = nasty_tree();
    for i in 0..40 {
        env.write(
            format!("bulk/d{}/f{i}.rs", i % 7),
            format!("fn f{i}() {{}}\n").repeat(i + 1),
        );
    }
    // Names that decode to the same text when invalid UTF-8 and control characters are replaced
    // with U+FFFD: each must still be packed, once, under a name of its own.
    #[cfg(unix)]
    let colliding = {
        use std::os::unix::ffi::OsStrExt;
        let names: [(&[u8], &str); 4] = [
            (b"lossy/d\xff.txt", "lossy/d\\xFF.txt"),
            (b"lossy/d\xfe.txt", "lossy/d\\xFE.txt"),
            (b"c\x01.txt", "c\\x01.txt"),
            (b"c\x02.txt", "c\\x02.txt"),
        ];
        for (raw, shown) in names {
            env.write(
                std::ffi::OsStr::from_bytes(raw),
                format!("content of {shown}\n"),
            );
        }
        names.map(|(_, shown)| shown)
    };
    let outputs: Vec<Vec<u8>> = ["1", "2", "3", "8"]
        .iter()
        .map(|threads| {
            let mut cmd = env.ctxpack();
            cmd.args(["pack", "-q", "-j", threads]);
            run_ok(cmd).stdout
        })
        .collect();
    for other in &outputs[1..] {
        assert!(other == &outputs[0], "output differs between thread counts");
    }
    let doc = parse(&outputs[0]);
    let mut sorted = doc.order.clone();
    sorted.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    assert_eq!(doc.order, sorted, "files are in path order");
    #[cfg(unix)]
    for shown in colliding {
        let file = doc
            .files
            .get(shown)
            .unwrap_or_else(|| panic!("{shown} missing: {:?}", doc.files.keys()));
        assert_eq!(file.text, format!("content of {shown}\n"));
        assert_eq!(
            doc.tree.matches(shown.rsplit('/').next().unwrap()).count(),
            1
        );
    }
}

#[test]
fn ignore_files_are_honoured_without_a_git_repository() {
    let env = TestEnv::new();
    env.write(".gitignore", "*.log\nbuild/\n!keep.log\n")
        .write(".ignore", "secret_notes.md\n")
        .write(".ctxpackignore", "generated/\n")
        .write("app.rs", "fn app() {}\n")
        .write("debug.log", "noise\n")
        .write("keep.log", "kept\n")
        .write("build/out.rs", "fn out() {}\n")
        .write("secret_notes.md", "private\n")
        .write("generated/schema.rs", "fn schema() {}\n")
        .write(".hidden/config.toml", "x = 1\n")
        .write(".git/config", "[core]\n")
        .write(".git/HEAD", "ref: refs/heads/main\n");
    let doc = pack(&env, &[]);
    let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
    assert_eq!(packed, ["app.rs", "keep.log"]);

    let doc = pack(&env, &["--hidden"]);
    assert!(doc.files.contains_key(".hidden/config.toml"));
    assert!(doc.files.contains_key(".gitignore"));
    assert!(
        !doc.files.keys().any(|p| p.starts_with(".git/")),
        ".git/ is never packed"
    );

    let doc = pack(&env, &["--no-ignore"]);
    for path in [
        "debug.log",
        "build/out.rs",
        "secret_notes.md",
        "generated/schema.rs",
    ] {
        assert!(doc.files.contains_key(path), "--no-ignore packs {path}");
    }
    assert!(!doc.files.contains_key(".hidden/config.toml"));
}

#[test]
fn git_info_exclude_is_honoured() {
    let env = TestEnv::new();
    env.write(".git/info/exclude", "local-only.rs\n")
        .write("local-only.rs", "fn local() {}\n")
        .write("shared.rs", "fn shared() {}\n");
    let doc = pack(&env, &[]);
    assert!(doc.files.contains_key("shared.rs"));
    assert!(!doc.files.contains_key("local-only.rs"));
}

#[test]
fn include_and_exclude_globs_use_gitignore_syntax() {
    let env = copy_fixture("sample-repo");
    let doc = pack(&env, &["--include", "*.rs", "--include", "!src/main.rs"]);
    let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
    assert_eq!(
        packed,
        ["src/net/client.rs", "src/net/mod.rs", "src/net/retry.rs"]
    );

    let doc = pack(&env, &["--exclude", "src/net/", "--exclude", "*.py"]);
    let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
    assert_eq!(packed, ["Cargo.toml", "README.md", "src/main.rs"]);

    let doc = pack(&env, &["--exclude", "src/net/*", "--exclude", "!retry.rs"]);
    assert!(doc.files.contains_key("src/net/retry.rs"));
    assert!(!doc.files.contains_key("src/net/client.rs"));
}

#[test]
fn several_paths_and_stdin_lists() {
    let env = copy_fixture("sample-repo");
    let doc = pack(&env, &["src/net/retry.rs", "scripts"]);
    let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
    assert_eq!(packed, ["scripts/release.py", "src/net/retry.rs"]);

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--stdin"]);
    let out = run_with_stdin(cmd, b"README.md\r\nsrc/main.rs\n\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packed: Vec<String> = parse(&out.stdout).files.keys().cloned().collect();
    assert_eq!(packed, ["README.md", "src/main.rs"]);

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--stdin", "-0"]);
    let out = run_with_stdin(cmd, b"Cargo.toml\0src/net\0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packed: Vec<String> = parse(&out.stdout).files.keys().cloned().collect();
    assert_eq!(
        packed,
        [
            "Cargo.toml",
            "src/net/client.rs",
            "src/net/mod.rs",
            "src/net/retry.rs"
        ]
    );

    // A directory argument becomes the root: paths are relative to it.
    let mut cmd = env.ctxpack();
    cmd.current_dir(env.path("src")).args(["pack", "-q", "net"]);
    let doc = parse(&run_ok(cmd).stdout);
    assert!(
        doc.files.contains_key("client.rs"),
        "{:?}",
        doc.files.keys()
    );

    // So does a link to one, as `cd` would.
    #[cfg(unix)]
    {
        env.symlink("src/net", "net_link");
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "-q", "net_link"]);
        let doc = parse(&run_ok(cmd).stdout);
        assert!(
            doc.files.contains_key("client.rs"),
            "{:?}",
            doc.files.keys()
        );
    }
}

#[test]
fn bad_paths_are_usage_errors_that_name_the_path() {
    let env = copy_fixture("sample-repo");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "does/not/exist.rs"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does/not/exist.rs") && err.contains("no such file"),
        "{err}"
    );

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--stdin"]);
    let out = run_with_stdin(cmd, b"README.md\nmissing.rs\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.rs"));

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--stdin"]);
    let out = run_with_stdin(cmd, b"../../etc/passwd\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the root"));

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--encoding", "p50k"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown encoding"));

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--no-such-flag"]);
    assert_eq!(run(cmd).status.code(), Some(2));
}

#[test]
fn oversized_files_are_omitted_as_too_large() {
    let env = TestEnv::new();
    env.write("small.rs", "fn a() {}\n")
        .write("big.rs", "x".repeat(5000));
    let doc = pack(&env, &["--max-file-size", "4k"]);
    assert!(doc.files.contains_key("small.rs"));
    assert_eq!(
        doc.omitted.get("big.rs").map(String::as_str),
        Some("too-large")
    );
}

/// A mode-000 file is unreadable, and listed and warned about. Root reads it anyway, so as root
/// (as CI runs) the binary runs as nobody through `setpriv`, over a tree it may read.
#[cfg(unix)]
#[test]
fn unreadable_files_are_listed_and_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    env.write("ok.rs", "fn ok() {}\n")
        .write("sub/also_ok.rs", "fn also() {}\n")
        .write("locked.rs", "fn locked() {}\n");
    let mode = |rel: &str, mode: u32| {
        fs::set_permissions(env.path(rel), fs::Permissions::from_mode(mode)).unwrap();
    };
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let bin_dir = TestEnv::new();
    let mut cmd = if as_root {
        if std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!(
                "skipped: running as root, and setpriv (util-linux) is missing to run ctxpack \
                 as an unprivileged user, for whom a mode-000 file is unreadable"
            );
            return;
        }
        // nobody must reach the tree and the binary: a copy in a directory it may enter.
        for dir in [env.root(), bin_dir.root(), &env.path("sub")] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        mode("ok.rs", 0o644);
        mode("sub/also_ok.rs", 0o644);
        let bin = bin_dir.path("ctxpack");
        fs::copy(env!("CARGO_BIN_EXE_ctxpack"), &bin).unwrap();
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin)
            .current_dir(env.root());
        cmd
    } else {
        env.ctxpack()
    };
    mode("locked.rs", 0o000);
    // nobody has no cache directory to write to (and its warning is not this test's).
    cmd.args(["pack", "--no-cache"]);
    let out = run_ok(cmd);
    let doc = parse(&out.stdout);
    let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
    assert_eq!(packed, ["ok.rs", "sub/also_ok.rs"]);
    assert_eq!(
        doc.omitted.get("locked.rs").map(String::as_str),
        Some("unreadable")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("warning").count(),
        1,
        "one warning, naming the file: {stderr}"
    );
    assert!(stderr.contains("skipped locked.rs"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn fifos_are_skipped_without_being_opened() {
    let env = TestEnv::new();
    env.write("a.rs", "fn a() {}\n").fifo("pipe");

    for args in [vec!["pack", "-q"], vec!["pack", "-q", "pipe", "a.rs"]] {
        let mut cmd = env.ctxpack();
        cmd.args(&args);
        let (out, opened) = run_watching_fifos(cmd, &[env.path("pipe")]);
        assert!(opened.is_empty(), "ctxpack opened the FIFO ({args:?})");
        let doc = parse(&out.stdout);
        assert_eq!(
            doc.omitted.get("pipe").map(String::as_str),
            Some("special-file")
        );
        assert!(doc.files.contains_key("a.rs"));
    }
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed_by_default_and_never_out_of_the_root() {
    let outside = TestEnv::new();
    outside.write("secret.txt", "outside the root\n");
    let env = TestEnv::new();
    env.write("real/lib.rs", "fn lib() {}\n")
        .symlink("real", "alias")
        .symlink("real/lib.rs", "lib_link.rs")
        .symlink(outside.path("secret.txt"), "escape.txt")
        .symlink(outside.root(), "escape_dir")
        .symlink("..", "real/up")
        .symlink("nowhere", "dangling");

    let doc = pack(&env, &[]);
    assert_eq!(doc.files.keys().collect::<Vec<_>>(), ["real/lib.rs"]);
    for link in [
        "alias",
        "lib_link.rs",
        "escape.txt",
        "escape_dir",
        "real/up",
        "dangling",
    ] {
        assert_eq!(
            doc.omitted.get(link).map(String::as_str),
            Some("symlink"),
            "{link}"
        );
    }

    let doc = pack(&env, &["--follow"]);
    assert!(doc.files.contains_key("alias/lib.rs"));
    assert!(doc.files.contains_key("lib_link.rs"));
    assert_eq!(
        doc.omitted.get("escape.txt").map(String::as_str),
        Some("outside-root")
    );
    assert_eq!(
        doc.omitted.get("escape_dir").map(String::as_str),
        Some("outside-root")
    );
    assert_eq!(
        doc.omitted.get("real/up").map(String::as_str),
        Some("symlink-loop")
    );
    assert!(
        !doc.raw.contains("outside the root\n"),
        "no content from outside the root"
    );
}

#[test]
fn output_file_is_written_whole_and_not_packed_again() {
    let env = copy_fixture("sample-repo");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-o", "context.xml"]);
    let out = run_ok(cmd);
    assert!(out.stdout.is_empty(), "-o writes nothing to stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("packed 7 files"), "{stderr}");
    assert!(stderr.contains("context.xml"), "{stderr}");
    let first = fs::read(env.path("context.xml")).unwrap();
    let doc = parse(&first);
    assert_total_is_exact(&doc);

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "-o", "context.xml"]);
    run_ok(cmd);
    let second = fs::read(env.path("context.xml")).unwrap();
    assert_eq!(
        first, second,
        "the previous output is not packed into the next"
    );
    let leftovers: Vec<_> = fs::read_dir(env.root())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ctxpack-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");
}

#[test]
fn stderr_summary_lists_totals_top_files_and_omissions_unless_quiet() {
    let env = nasty_tree();
    let mut cmd = env.ctxpack();
    cmd.arg("pack");
    let out = run_ok(cmd);
    let doc = parse(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("packed {} files", doc.files.len());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains(&format!("{} tokens", human(doc.tokens))),
        "{stderr}"
    );
    assert!(stderr.contains("omitted: 2 binary"), "{stderr}");
    let largest = doc.files.iter().max_by_key(|(_, f)| f.tokens).unwrap().0;
    assert!(stderr.contains(largest.as_str()), "{stderr}");

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--quiet"]);
    assert!(run_ok(cmd).stderr.is_empty());
}

fn human(n: usize) -> String {
    ctxpack::render::human(n)
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let env = TestEnv::new();
    for i in 0..50 {
        env.write(format!("f{i}.txt"), "word ".repeat(20_000));
    }
    let mut child = env
        .ctxpack()
        .args(["pack", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "a broken pipe exits 0");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_explains_every_pack_flag() {
    let env = TestEnv::new();
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--help"]);
    let help = String::from_utf8(run_ok(cmd).stdout).unwrap();
    for flag in [
        "--root",
        "--stdin",
        "--null",
        "--output",
        "--include",
        "--exclude",
        "--hidden",
        "--no-ignore",
        "--follow",
        "--max-file-size",
        "--encoding",
        "--model",
        "--threads",
        "--quiet",
    ] {
        assert!(help.contains(flag), "pack --help does not mention {flag}");
    }
    let mut cmd = env.ctxpack();
    cmd.arg("--help");
    let help = String::from_utf8(run_ok(cmd).stdout).unwrap();
    assert!(help.contains("pack"));
}

/// clap joined the lines of the Examples section in the doc comments into one paragraph and
/// re-wrapped it; each example must stay on a line of its own.
#[test]
fn help_examples_stay_on_separate_lines() {
    let env = TestEnv::new();
    for (command, examples) in [
        (
            "pack",
            &[
                "ctxpack pack # the current directory, to stdout",
                "ctxpack pack path/to/repo -o context.xml",
                "git ls-files -z | ctxpack pack --stdin -0",
                "ctxpack pack --fidelity compressed | gemini -p \"Plan the refactor\"",
            ][..],
        ),
        ("outline", &["ctxpack outline src/lib.rs"][..]),
        (
            "symbols",
            &[
                "ctxpack symbols src/",
                "ctxpack symbols --json > symbols.json",
            ][..],
        ),
    ] {
        for flag in ["-h", "--help"] {
            let mut cmd = env.ctxpack();
            cmd.args([command, flag]);
            let help = String::from_utf8(run_ok(cmd).stdout).unwrap();
            // Each line with its runs of spaces collapsed.
            let lines: Vec<String> = help
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            for example in examples {
                assert!(
                    lines.iter().any(|l| l == example),
                    "{command} {flag}: {example:?} is not a line of its own:\n{help}"
                );
            }
        }
    }
}

#[test]
fn models_pick_their_encoding() {
    let env = copy_fixture("sample-repo");
    let mut by_encoding = BTreeMap::new();
    for (model, encoding) in [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")] {
        let doc = pack(&env, &["--model", model]);
        assert_eq!(doc.encoding, encoding);
        assert_total_is_exact(&doc);
        by_encoding.insert(encoding, doc.tokens);
    }
    assert_ne!(by_encoding["o200k_base"], by_encoding["cl100k_base"]);

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--model", "claude-sonnet-4-5"]);
    let out = run_ok(cmd);
    assert!(String::from_utf8_lossy(&out.stderr).contains("approximation"));
}

/// `a -> b`, `b -> a`: canonicalizing either fails with ELOOP, which used to be reported as
/// `unreadable` (with a warning) instead of as the loop it is.
#[cfg(unix)]
#[test]
fn mutual_symlink_loop_is_reported_as_symlink_loop_not_unreadable() {
    let env = TestEnv::new();
    env.write("ok.rs", "fn ok() {}\n")
        .symlink("b", "a")
        .symlink("a", "b");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--follow"]);
    let out = run_ok(cmd);
    let doc = parse(&out.stdout);
    for link in ["a", "b"] {
        assert_eq!(
            doc.omitted.get(link).map(String::as_str),
            Some("symlink-loop"),
            "{link}"
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// Errors met by the walker were warned about twice: once by the walk, and again by pack for
/// every unreadable entry that carried a detail.
#[cfg(unix)]
#[test]
fn walk_errors_are_warned_about_once() {
    let env = TestEnv::new();
    env.write("ok.rs", "fn ok() {}\n")
        .symlink("nowhere", "dangling");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--follow"]);
    let out = run_ok(cmd);
    let doc = parse(&out.stdout);
    assert_eq!(
        doc.omitted.get("dangling").map(String::as_str),
        Some("unreadable")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("warning").count(),
        1,
        "one warning for the broken link: {stderr}"
    );
    assert!(stderr.contains("dangling"), "{stderr}");
}

/// A symbolic link named on the command line or listed on stdin (`git ls-files` lists tracked
/// links) used to be followed even without --follow.
#[cfg(unix)]
#[test]
fn explicit_and_stdin_symlinks_are_followed_only_with_follow() {
    let outside = TestEnv::new();
    outside.write("secret.txt", "outside the root\n");
    let env = TestEnv::new();
    env.write("real/lib.rs", "fn lib() {}\n")
        .symlink("real", "alias")
        .symlink("real/lib.rs", "lib_link.rs")
        .symlink(outside.path("secret.txt"), "escape.txt")
        .symlink("loop_b", "loop_c")
        .symlink("loop_c", "loop_b");
    let links = ["lib_link.rs", "alias", "escape.txt", "loop_b"];
    let stdin_list = links.join("\n");
    let run_both = |follow: bool| -> Vec<Doc> {
        let mut from_args = env.ctxpack();
        from_args.args(["pack", "-q"]).args(links);
        let mut from_stdin = env.ctxpack();
        from_stdin.args(["pack", "-q", "--stdin"]);
        if follow {
            from_args.arg("--follow");
            from_stdin.arg("--follow");
        }
        let listed = run_with_stdin(from_stdin, stdin_list.as_bytes());
        assert!(
            listed.status.success(),
            "{}",
            String::from_utf8_lossy(&listed.stderr)
        );
        vec![parse(&run_ok(from_args).stdout), parse(&listed.stdout)]
    };

    for doc in run_both(false) {
        assert!(doc.files.is_empty(), "{:?}", doc.files.keys());
        for link in links {
            assert_eq!(
                doc.omitted.get(link).map(String::as_str),
                Some("symlink"),
                "{link}"
            );
        }
    }
    for doc in run_both(true) {
        let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
        assert_eq!(packed, ["alias/lib.rs", "lib_link.rs"]);
        assert_eq!(
            doc.omitted.get("escape.txt").map(String::as_str),
            Some("outside-root")
        );
        assert_eq!(
            doc.omitted.get("loop_b").map(String::as_str),
            Some("symlink-loop")
        );
        assert!(!doc.raw.contains("outside the root\n"));
    }
}

/// The ignore crate opens every .gitignore, .ignore and .ctxpackignore it meets, from / down: a
/// FIFO by one of those names blocked the process forever.
#[cfg(unix)]
#[test]
fn a_fifo_named_like_an_ignore_file_does_not_hang_the_walk() {
    let env = TestEnv::new();
    env.write("tree/a.rs", "fn a() {}\n")
        .write("tree/sub/b.rs", "fn b() {}\n")
        .write("tree/ok/c.rs", "fn c() {}\n")
        .fifo("tree/sub/.gitignore");
    let run = |args: &[&str], fifos: &[&str]| {
        let mut cmd = env.ctxpack();
        cmd.args(args);
        let fifos: Vec<PathBuf> = fifos.iter().map(|f| env.path(f)).collect();
        let (out, opened) = run_watching_fifos(cmd, &fifos);
        assert!(opened.is_empty(), "ctxpack opened {opened:?} ({args:?})");
        out
    };

    // Below the root: that directory is skipped, with a warning, and the FIFO is listed.
    let out = run(&["pack", "tree"], &["tree/sub/.gitignore"]);
    assert_eq!(out.status.code(), Some(0));
    let doc = parse(&out.stdout);
    let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
    assert_eq!(packed, ["a.rs", "ok/c.rs"]);
    assert_eq!(
        doc.omitted.get("sub/.gitignore").map(String::as_str),
        Some("special-file")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped sub/") && stderr.contains("--no-ignore"),
        "{stderr}"
    );

    // In the root itself (the review's reproduction): nothing can be walked, nothing is opened.
    env.fifo("tree/.ignore");
    let both = ["tree/sub/.gitignore", "tree/.ignore"];
    let out = run(&["pack", "-q", "tree"], &both);
    assert_eq!(out.status.code(), Some(0));
    let doc = parse(&out.stdout);
    assert!(doc.files.is_empty());
    assert_eq!(
        doc.omitted.get(".ignore").map(String::as_str),
        Some("special-file")
    );

    // Above the root the walker would still open it: an error that says what to do.
    let out = run(&["pack", "-q", "tree/ok"], &both);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".ignore") && stderr.contains("--no-ignore"),
        "{stderr}"
    );

    // --no-ignore reads no ignore file at all.
    let doc = parse(&run(&["pack", "-q", "--no-ignore", "tree"], &both).stdout);
    let packed: Vec<&str> = doc.files.keys().map(String::as_str).collect();
    assert_eq!(packed, ["a.rs", "ok/c.rs", "sub/b.rs"]);
}

/// Every .gitignore up to / used to be honoured, even outside a git repository: a `~/.gitignore`
/// holding `*` emptied every pack under the home directory. Ignore files above the root now
/// count only up to the top of the enclosing repository, anchored where they are.
#[test]
fn ancestor_ignore_files_apply_only_up_to_the_enclosing_repository() {
    // Not in a repository: nothing above the root applies.
    let env = TestEnv::new();
    env.write("outer/.gitignore", "*\n")
        .write("outer/.ignore", "*.rs\n")
        .write("outer/inner/a.rs", "fn a() {}\n");
    let doc = pack(&env, &["outer/inner"]);
    assert_eq!(doc.files.keys().collect::<Vec<_>>(), ["a.rs"]);

    // In a repository: everything from its top down applies, each file anchored at its own
    // directory, a deeper file overriding a shallower one, and the top's info/exclude too.
    let env = TestEnv::new();
    env.write("repo/.git/HEAD", "ref: refs/heads/main\n")
        .write("repo/.git/info/exclude", "by_exclude.rs\n")
        .write("repo/.gitignore", "*.log\n/inner/build/\n/a.rs\n")
        .write("repo/inner/.gitignore", "!keep.log\n")
        .write("repo/inner/a.rs", "fn a() {}\n")
        .write("repo/inner/by_exclude.rs", "fn e() {}\n")
        .write("repo/inner/debug.log", "noise\n")
        .write("repo/inner/keep.log", "kept\n")
        .write("repo/inner/build/out.rs", "fn out() {}\n");
    let expected = ["a.rs", "keep.log"];
    let doc = pack(&env, &["repo/inner"]);
    assert_eq!(doc.files.keys().collect::<Vec<_>>(), expected);
    // The same rules when the walked directory is below the root (--root), not the root.
    let doc = pack(&env, &["--root", "repo", "repo/inner"]);
    let packed: Vec<String> = doc.files.keys().map(|p| p.replace("inner/", "")).collect();
    assert_eq!(packed, expected);
}

/// The global git excludes file ($XDG_CONFIG_HOME/git/ignore) is honoured.
#[test]
fn global_git_excludes_are_honoured() {
    let home = TestEnv::new();
    home.write("xdg/git/ignore", "*.secret\n")
        .write("gitconfig-system", "");
    let env = TestEnv::new();
    env.write("a.rs", "fn a() {}\n")
        .write("keys.secret", "hunter2\n");
    let with_home = |args: &[&str]| {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "-q"])
            .args(args)
            .env("HOME", home.root())
            .env("XDG_CONFIG_HOME", home.path("xdg"))
            .env("GIT_CONFIG_SYSTEM", home.path("gitconfig-system"))
            .env_remove("GIT_CONFIG_GLOBAL");
        parse(&run_ok(cmd).stdout)
    };
    let doc = with_home(&[]);
    assert_eq!(doc.files.keys().collect::<Vec<_>>(), ["a.rs"]);
    let doc = with_home(&["--no-ignore"]);
    assert!(doc.files.contains_key("keys.secret"));
}

/// Invalid globs were compiled by the walk and failed as runtime errors (exit 1); they are
/// usage errors (exit 2) that name the glob.
#[test]
fn invalid_globs_are_usage_errors() {
    let env = copy_fixture("sample-repo");
    for (flag, glob) in [("--include", "[z-a]"), ("--exclude", "a{b")] {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "-q", flag, glob]);
        let out = run(cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {glob}: {stderr}");
        assert!(stderr.contains(glob), "{stderr}");
    }
}

/// `--include '!*.md'` alone admitted nothing and packed 0 files without a word.
#[test]
fn an_include_list_of_only_negations_is_a_usage_error() {
    let env = copy_fixture("sample-repo");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--include", "!*.md"]);
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--exclude '*.md'"), "{stderr}");
    // With a positive glob before it, a negation is fine.
    let doc = pack(&env, &["--include", "*.rs", "--include", "!src/main.rs"]);
    assert!(doc.files.contains_key("src/net/retry.rs"));
}

/// Failing to read the path list is not the user's mistake: a runtime error (exit 1).
#[cfg(unix)]
#[test]
fn a_stdin_that_cannot_be_read_is_a_runtime_error() {
    let env = copy_fixture("sample-repo");
    let mut cmd = env.ctxpack();
    // Reading a directory fails with EISDIR.
    cmd.args(["pack", "-q", "--stdin"])
        .stdin(fs::File::open(env.path("src")).unwrap());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stdin"), "{stderr}");
}

/// The output was excluded with a glob built from its name, and `{`/`}` were not escaped:
/// `-o 'ctx{1}.xml'` packed the previous output into the next, and `-o 'a{b.xml'` was an
/// "invalid glob" error.
#[test]
fn output_names_with_glob_characters_are_never_packed_again() {
    let env = copy_fixture("sample-repo");
    for name in ["ctx{1}.xml", "a{b.xml", "[x]*?.xml", "sub dir/!#out.xml"] {
        let runs: Vec<Vec<u8>> = (0..2)
            .map(|_| {
                let mut cmd = env.ctxpack();
                cmd.args(["pack", "-q", "-o", name]);
                if name.contains('/') {
                    fs::create_dir_all(env.path("sub dir")).unwrap();
                }
                run_ok(cmd);
                fs::read(env.path(name)).unwrap()
            })
            .collect();
        let doc = parse(&runs[1]);
        assert!(
            !doc.files
                .keys()
                .chain(doc.omitted.keys())
                .any(|p| p.ends_with(".xml")),
            "{name}: {:?}",
            doc.files.keys()
        );
        assert!(runs[0] == runs[1], "{name}: the second run differs");
        fs::remove_file(env.path(name)).unwrap();
    }
}

/// An output file that cannot be created was found only after the whole pack, as a runtime
/// error; it is a usage error found before any work, and the message names the file.
#[test]
fn an_output_file_that_cannot_be_created_is_refused_up_front() {
    let env = copy_fixture("sample-repo");
    let mut targets = vec!["no/such/dir/out.xml".to_string()];
    if cfg!(target_os = "linux") {
        // No one, root included, can create a file in /proc.
        targets.push("/proc/ctxpack-out.xml".to_string());
    }
    for target in targets {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "-o", &target]);
        let out = run(cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{target}: {stderr}");
        assert!(stderr.contains(&target), "{stderr}");
        assert!(
            !stderr.contains("packed"),
            "nothing was packed first: {stderr}"
        );
    }
}

/// With --stdin, a single directory PATH used to become the root *and* an input, so
/// `printf 'README.md\n' | ctxpack pack --stdin g` packed all of g and nothing else. Now the
/// PATH is one more input beside the list, the root is --root or the current directory, and
/// listed paths are relative to the current directory (as `git ls-files` prints them).
#[test]
fn stdin_lists_are_relative_to_the_current_directory_and_paths_add_to_them() {
    let env = copy_fixture("sample-repo");
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--stdin", "scripts"]);
    let out = run_with_stdin(cmd, b"README.md\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packed: Vec<String> = parse(&out.stdout).files.keys().cloned().collect();
    assert_eq!(packed, ["README.md", "scripts/release.py"]);

    // From a subdirectory, as `cd src && git ls-files | ctxpack pack --stdin --root ..` would.
    let mut cmd = env.ctxpack();
    cmd.current_dir(env.path("src"))
        .args(["pack", "-q", "--stdin", "--root", ".."]);
    let out = run_with_stdin(cmd, b"main.rs\nnet/retry.rs\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packed: Vec<String> = parse(&out.stdout).files.keys().cloned().collect();
    assert_eq!(packed, ["src/main.rs", "src/net/retry.rs"]);

    // Without --root the root is the current directory.
    let mut cmd = env.ctxpack();
    cmd.current_dir(env.path("src"))
        .args(["pack", "-q", "--stdin"]);
    let out = run_with_stdin(cmd, b"main.rs\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packed: Vec<String> = parse(&out.stdout).files.keys().cloned().collect();
    assert_eq!(packed, ["main.rs"]);
}

/// Past 8 MB the rendered files move to a temporary file. When that cannot be created the run
/// must end with exit 1 and a message that says what to do, not hang or carry on.
#[test]
fn a_spool_that_cannot_be_created_ends_the_run_with_an_error() {
    let env = TestEnv::new();
    for i in 0..12 {
        env.write(format!("f{i:02}.txt"), "word ".repeat(160_000));
    }
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "-o", "out.xml"])
        .env("TMPDIR", env.path("no-such-dir"));
    #[cfg(unix)]
    let out = run_or_report_hang(cmd, Duration::from_secs(600));
    #[cfg(not(unix))]
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("TMPDIR"), "{stderr}");
    assert!(!env.path("out.xml").exists(), "no partial output");
}

/// Regression test for 600af35 ("omitted statuses landing on the wrong entry"): the consumer
/// took positions in the list of loaded files as positions in the list of all entries, so with
/// text and binary files interleaved, omitted reasons were pinned on the wrong files and files
/// appeared both in <files> and in <omitted>.
#[test]
fn omitted_statuses_never_land_on_the_wrong_entry() {
    let env = TestEnv::new();
    let mut expected_files = Vec::new();
    let mut expected_omitted = BTreeMap::new();
    for i in 0..40 {
        let (name, bytes): (String, Vec<u8>) = match i % 5 {
            0 | 3 => (
                format!("f{i:02}.rs"),
                format!("fn f{i}() {{}}\n").into_bytes(),
            ),
            1 => (format!("f{i:02}.png"), b"\x89PNG\r\n\x1a\n".to_vec()),
            2 => (format!("f{i:02}.txt"), b"text\0with a NUL".to_vec()),
            _ => (format!("f{i:02}.md"), vec![b'x'; 5000]),
        };
        match i % 5 {
            0 | 3 => expected_files.push(name.clone()),
            1 | 2 => {
                expected_omitted.insert(name.clone(), "binary".to_string());
            }
            _ => {
                expected_omitted.insert(name.clone(), "too-large".to_string());
            }
        }
        env.write(&name, bytes);
    }
    for threads in ["1", "2", "8"] {
        // parse() also checks that no path is both packed and omitted.
        let doc = pack(&env, &["--max-file-size", "4k", "-j", threads]);
        assert_eq!(
            doc.files.keys().cloned().collect::<Vec<_>>(),
            expected_files,
            "-j {threads}"
        );
        assert_eq!(doc.omitted, expected_omitted, "-j {threads}");
        for (path, file) in &doc.files {
            assert_eq!(file.text, expected_text(&fs::read(env.path(path)).unwrap()));
        }
    }
}

/// `-o` to a FIFO (or a device such as /dev/null) writes into it: a file renamed over it would
/// replace it.
#[cfg(unix)]
#[test]
fn output_to_a_fifo_writes_into_it_and_leaves_it_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let env = TestEnv::new();
    env.write("a.rs", "fn a() {}\n");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "-o"]).arg(&fifo);
    run_ok(cmd);
    let bytes = reader.join().unwrap();
    let doc = parse(&bytes);
    assert!(doc.files.contains_key("a.rs"));
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing made beside it"
    );
}
