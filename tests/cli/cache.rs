//! The cache between runs: a warm run reuses what a cold one made and writes the very bytes a run
//! without the cache writes; changed files and damaged stores are never trusted.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{run_ok, TestEnv};

/// A tree with a file in every supported language, and some text.
fn tree() -> TestEnv {
    let env = TestEnv::new();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lang");
    for entry in fs::read_dir(&samples).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            let name = entry.file_name();
            env.write(
                Path::new("src").join(&name),
                fs::read(entry.path()).unwrap(),
            );
        }
    }
    env.write("README.md", "# Sample\n\nA tree to pack twice.\n");
    env
}

fn pack(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = env.ctxpack();
    cmd.arg("pack").args(args);
    run_ok(cmd)
}

/// `(reused, looked up)` from the stderr summary, if it has a cache line.
fn reused(out: &Output) -> Option<(usize, usize)> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("cache:"))?;
    let numbers: Vec<usize> = line
        .split_whitespace()
        .filter_map(|w| w.replace(',', "").parse().ok())
        .collect();
    match numbers[..] {
        [hits, lookups] => Some((hits, lookups)),
        _ => panic!("unexpected cache line: {line}"),
    }
}

fn stores(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "store"))
                .filter(|p| p.file_stem().is_some_and(|s| s.len() == 32))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_warm_run_reuses_everything_and_writes_the_same_bytes() {
    for args in [
        &["--fidelity", "compressed"][..],
        &["--fidelity", "outline"],
        &[],
        &["--budget", "3k"],
    ] {
        let env = tree();
        let without: Vec<&str> = args.iter().copied().chain(["--no-cache"]).collect();
        let fresh = pack(&env, &without);
        assert_eq!(reused(&fresh), None, "{args:?}: --no-cache uses no cache");
        assert!(stores(env.cache_dir()).is_empty(), "--no-cache writes none");

        let cold = pack(&env, args);
        let warm = pack(&env, args);
        assert_eq!(cold.stdout, fresh.stdout, "{args:?}: cold run");
        assert_eq!(warm.stdout, fresh.stdout, "{args:?}: warm run");
        let (hits, lookups) = reused(&warm).expect("a cache line");
        assert!(lookups >= 14, "{args:?}: every file looked up ({lookups})");
        assert_eq!(hits, lookups, "{args:?}: a warm run reuses everything");
        assert_eq!(stores(env.cache_dir()).len(), 1, "one store per root");
    }
}

#[test]
fn a_changed_file_is_made_again_and_nothing_else_is() {
    let env = tree();
    let args = ["--fidelity", "compressed"];
    pack(&env, &args);
    let before = reused(&pack(&env, &args)).unwrap();
    assert_eq!(before.0, before.1);

    let rust = env.path("src/sample.rs");
    let mut text = fs::read_to_string(&rust).unwrap();
    text.push_str("\npub fn added_later(x: u32) -> u32 {\n    x + 1\n}\n");
    fs::write(&rust, text).unwrap();
    let fresh = pack(&env, &["--fidelity", "compressed", "--no-cache"]);
    let after = pack(&env, &args);
    assert_eq!(after.stdout, fresh.stdout, "the changed file's new view");
    assert!(String::from_utf8_lossy(&after.stdout).contains("pub fn added_later(x: u32) -> u32"));
    // Made again: the changed file's secrets scan, view, the view's count and its element's two
    // ends, and the document's frame (its header and root line, whose totals changed). Every
    // other file's five entries are reused.
    let (hits, lookups) = reused(&after).unwrap();
    assert!(
        lookups.abs_diff(before.1) <= 1,
        "{lookups} lookups, {} before",
        before.1
    );
    assert_eq!(lookups - hits, 7, "{hits} of {lookups} reused");
}

#[test]
fn a_damaged_store_is_ignored_and_replaced() {
    let env = tree();
    let args = ["--fidelity", "outline"];
    let fresh = pack(&env, &["--fidelity", "outline", "--no-cache"]);
    pack(&env, &args);
    let store = stores(env.cache_dir()).pop().expect("a store");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&store).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the store is readable by its owner only"
        );
    }
    let mut bytes = fs::read(&store).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    fs::write(&store, &bytes).unwrap();

    let damaged = pack(&env, &args);
    let stderr = String::from_utf8_lossy(&damaged.stderr);
    assert!(
        stderr.contains("the cache was not used") && stderr.contains("checksum"),
        "{stderr}"
    );
    assert_eq!(damaged.stdout, fresh.stdout);
    let (hits, lookups) = reused(&damaged).unwrap();
    assert!(hits < lookups, "nothing came from the damaged store");
    let repaired = pack(&env, &args);
    assert_eq!(repaired.stdout, fresh.stdout);
    assert_eq!(reused(&repaired).map(|(h, l)| h == l), Some(true));
}

#[test]
fn a_cache_that_cannot_be_written_is_a_warning_not_a_failure() {
    let env = tree();
    let blocker = env.cache_dir().join("a-file");
    fs::write(&blocker, "not a directory").unwrap();
    let fresh = pack(&env, &["--no-cache"]);
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--cache-dir"]).arg(&blocker);
    let out = run_ok(cmd);
    assert_eq!(out.stdout, fresh.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: could not write the cache"),
        "{stderr}"
    );
}

#[test]
fn one_store_serves_every_mode_and_each_gets_its_own_output() {
    let env = tree();
    let key = "AKIAQ3EGRTYL5NXZ7W2P";
    env.write(
        "src/settings.py",
        format!("AWS_ACCESS_KEY_ID = \"{key}\"\n\n\ndef load():\n    return 1\n"),
    );
    let modes: [&[&str]; 8] = [
        &[],
        &["--fidelity", "compressed"],
        &["--fidelity", "outline"],
        &["--encoding", "cl100k_base"],
        &["--encoding", "cl100k_base", "--fidelity", "compressed"],
        &["--secrets", "off", "--fidelity", "compressed"],
        &["--fidelity", "compressed"],
        &["--budget", "2k", "--focus", "load settings"],
    ];
    // Twice round, so that the second round is served from what every mode left.
    for round in 0..2 {
        for args in modes {
            let without: Vec<&str> = args.iter().copied().chain(["--no-cache"]).collect();
            let fresh = pack(&env, &without);
            let cached = pack(&env, args);
            assert_eq!(cached.stdout, fresh.stdout, "round {round}, {args:?}");
            let text = String::from_utf8_lossy(&cached.stdout);
            let off = args.contains(&"off");
            assert_eq!(
                text.contains(key),
                off,
                "{args:?}: the key is shown only with --secrets off"
            );
            if round == 1 {
                let (hits, needed) = reused(&cached).unwrap();
                assert_eq!(hits, needed, "round 2, {args:?}");
            }
        }
    }
    let mut cmd = env.ctxpack();
    cmd.args(["stats", "--json"]);
    let mut fresh = env.ctxpack();
    fresh.args(["stats", "--json", "--no-cache"]);
    assert_eq!(run_ok(cmd).stdout, run_ok(fresh).stdout);
}

#[test]
fn quiet_hides_the_cache_line_and_an_empty_variable_means_the_default() {
    let env = tree();
    let quiet = pack(&env, &["-q"]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let elsewhere = TestEnv::new();
    let mut cmd = env.ctxpack();
    cmd.env("CTXPACK_CACHE_DIR", "")
        .env("XDG_CACHE_HOME", elsewhere.root())
        .env("HOME", elsewhere.root())
        .args(["pack", "-q", "--no-cache"]);
    let out = run_ok(cmd);
    assert_eq!(out.stdout, quiet.stdout);
    let mut cmd = env.ctxpack();
    cmd.env("CTXPACK_CACHE_DIR", "")
        .env("XDG_CACHE_HOME", elsewhere.root())
        .env("HOME", elsewhere.root())
        .args(["pack", "-q"]);
    assert_eq!(run_ok(cmd).stdout, quiet.stdout);
    #[cfg(target_os = "linux")]
    assert_eq!(
        stores(&elsewhere.path("ctxpack")).len(),
        1,
        "the default directory, under XDG_CACHE_HOME"
    );
}

#[test]
fn a_cache_directory_inside_the_tree_is_not_packed_and_drops_nothing_else() {
    let env = tree();
    env.write(
        "ci-cache/notes.store",
        "a user's file that only looks like a store\n",
    );
    let fresh = pack(&env, &["--no-cache"]);
    assert!(String::from_utf8_lossy(&fresh.stdout).contains("ci-cache/notes.store"));
    for dir in ["ci-cache", "."] {
        for run in 0..2 {
            let out = pack(&env, &["--cache-dir", dir]);
            assert_eq!(out.stdout, fresh.stdout, "--cache-dir {dir}, run {run}");
        }
    }
    assert_eq!(stores(&env.path("ci-cache")).len(), 1);
    assert_eq!(stores(env.root()).len(), 1);
    // Without the cache, the stores left in the tree are not packed either.
    assert_eq!(pack(&env, &["--no-cache"]).stdout, fresh.stdout);
    // Also through the variable, relative to the current directory.
    let mut cmd = env.ctxpack();
    cmd.env("CTXPACK_CACHE_DIR", "ci-cache").arg("pack");
    assert_eq!(run_ok(cmd).stdout, fresh.stdout);
}

#[test]
fn a_reader_that_stops_early_still_leaves_the_cache_for_the_next_run() {
    use std::io::Read;
    use std::process::Stdio;

    let env = tree();
    // Far more output than a pipe holds, so the write fails once the reader has gone.
    for i in 0..60 {
        let body: String = (0..200)
            .map(|n| format!("    let v{n} = input.wrapping_mul({n}) ^ {i};\n"))
            .collect();
        env.write(
            format!("big/part{i}.rs"),
            format!("/// Part {i}.\npub fn part_{i}(input: u64) -> u64 {{\n{body}    input\n}}\n"),
        );
    }
    let mut cmd = env.ctxpack();
    cmd.arg("pack")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 64];
    stdout.read_exact(&mut head).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a reader that stops early is not an error: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        head.starts_with(b"<context"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    assert_eq!(stores(env.cache_dir()).len(), 1, "the store was written");

    let warm = pack(&env, &[]);
    let (hits, lookups) = reused(&warm).expect("a cache line");
    assert!(lookups > 60, "every file looked up ({lookups})");
    assert_eq!(hits, lookups, "the next run reuses what the first one made");
    let fresh = pack(&env, &["--no-cache"]);
    assert!(fresh.stdout.len() > 256 << 10, "more than a pipe holds");
    assert_eq!(warm.stdout, fresh.stdout);
}

/// With secrets in the tree, the warm run of every kind of pack (full, budgeted, for a plan, for
/// a change) writes the bytes a run without the cache writes: the findings kept in the cache are
/// applied as a fresh scan would apply them. A file changed between runs is scanned again.
#[test]
fn warm_packs_with_secrets_are_the_packs_without_the_cache() {
    let env = tree();
    let key = "AKIA".to_string() + "IOSFODNN7EXAMPLQ";
    env.write(
        "src/settings.py",
        format!("AWS_ACCESS_KEY_ID = \"{key}\"\nREGION = \"eu-west-1\"\n"),
    )
    .write(
        "plan.md",
        "# Plan\n\n## Files\n\n- modify `src/settings.py`\n- read `README.md`\n",
    );
    crate::support::git(env.root(), &["init", "-q", "-b", "main"]);
    crate::support::git(env.root(), &["add", "-A"]);
    crate::support::git(env.root(), &["commit", "-q", "-m", "base"]);
    env.write("README.md", "# Sample\n\nA tree to pack twice, changed.\n");
    let kinds: [&[&str]; 4] = [
        &[],
        &["--budget", "3k"],
        &["--plan", "plan.md", "--budget", "4k"],
        &["--diff", "HEAD", "--budget", "4k"],
    ];
    for args in kinds {
        let without: Vec<&str> = args.iter().copied().chain(["--no-cache"]).collect();
        let fresh = pack(&env, &without);
        assert!(
            !String::from_utf8_lossy(&fresh.stdout).contains(&key),
            "{args:?}: redacted"
        );
        pack(&env, args);
        let warm = pack(&env, args);
        assert_eq!(warm.stdout, fresh.stdout, "{args:?}: warm run");
    }
    // A secret added between runs is found: the changed text is scanned again.
    let token = "ghp_".to_string() + &"a1B2c3D4e5".repeat(3) + "F6g7h8";
    env.write("README.md", format!("# Sample\n\ntoken: {token}\n"));
    let warm = pack(&env, &[]);
    let fresh = pack(&env, &["--no-cache"]);
    assert_eq!(warm.stdout, fresh.stdout);
    let text = String::from_utf8_lossy(&warm.stdout);
    assert!(
        !text.contains(&token) && text.contains("[REDACTED:"),
        "{text}"
    );
}
