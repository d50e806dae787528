//! The handoff layer end to end: `task new`, `plan`, `execute`, `review`, `status` and `cost` on
//! real git repositories, with fake model CLIs from `fixtures/models/` (shell scripts that read
//! their prompt on stdin) and with a real one: `llm` and its `llm-echo` model.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ctxpack::tokens::Encoding;

use crate::support::{git, hermetic, python_tools, run, Reference, TestEnv};

fn model(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/models")
        .join(name)
        .display()
        .to_string()
}

/// `[models.NAME]` for a fake model.
fn table(name: &str, script: &str, extra: &str) -> String {
    format!(
        "[models.{name}]\ncommand = [\"{}\"]\nwindow = \"8k\"\nreserve = \"1k\"\nprice_in = 10\nprice_out = 30\n{extra}\n",
        model(script)
    )
}

/// A repository with one commit and a ctxpack.toml whose phases run the fake planner, agent
/// executor and reviewer; `more` adds tables.
fn repo(more: &str) -> TestEnv {
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
    .write("README.md", "# demo\n")
    .write(
        "SPEC.md",
        "# Retry support\n\nThe client retries failed calls three times.\n",
    );
    let config = format!(
        "{}{}{}{}{more}\n[phases]\nplan = \"planner\"\nexecute = \"agent\"\nreview = \"reviewer\"\n",
        table("planner", "planner.sh", ""),
        table("agent", "agent.sh", "edits = \"agent\""),
        table("differ", "differ.sh", "edits = \"diff\""),
        table("reviewer", "reviewer.sh", ""),
    );
    env.write("ctxpack.toml", config);
    git(env.root(), &["add", "-A"]);
    git(env.root(), &["commit", "-q", "-m", "base"]);
    env
}

fn ctxpack(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = hermetic(env.ctxpack());
    cmd.args(args);
    run(cmd)
}

fn ok(env: &TestEnv, args: &[&str]) -> Output {
    let out = ctxpack(env, args);
    assert!(
        out.status.success(),
        "ctxpack {args:?} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn new_task(env: &TestEnv, title: &str, worktree: bool) -> String {
    let mut args = vec!["task", "new", title, "--spec", "SPEC.md"];
    if worktree {
        args.push("--worktree");
    }
    String::from_utf8(ok(env, &args).stdout)
        .unwrap()
        .trim()
        .to_string()
}

fn task_dir(env: &TestEnv, id: &str) -> PathBuf {
    env.path(&format!(".ctxpack/tasks/{id}"))
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

fn ledger(env: &TestEnv, id: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(task_dir(env, id).join("ledger.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn json(path: impl AsRef<Path>) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap()
}

fn script_output(script: &str) -> String {
    let out = Command::new(model(script))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn plan_execute_review_end_to_end_in_a_worktree() {
    let env = repo("");
    let id = new_task(&env, "Add retry support", true);
    assert_eq!(id, "add-retry-support");
    let dir = task_dir(&env, &id);
    let worktree = env.path(&format!(".ctxpack/worktrees/{id}"));
    assert!(worktree.join("src/lib.rs").is_file());
    assert_eq!(read(dir.join("spec.md")), read(env.path("SPEC.md")));

    // plan: the planner's answer is the plan, checked: the invented file is flagged.
    let out = ok(&env, &["plan", &id]);
    assert_eq!(read(dir.join("plan.md")), script_output("planner.sh"));
    assert!(
        stderr(&out).contains("src/ghost.rs (line 8, missing)"),
        "{}",
        stderr(&out)
    );
    let check = json(dir.join("plan-check.json"));
    let status_of = |path: &str| {
        check["references"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["text"] == path)
            .map(|r| r["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of("src/ghost.rs").as_deref(), Some("missing"));
    assert_eq!(status_of("src/retry.rs").as_deref(), Some("new"));
    assert_eq!(status_of("src/lib.rs").as_deref(), Some("exists"));
    assert_eq!(check["failing"], 1);

    // execute: the agent edits the worktree, never the main checkout.
    ok(&env, &["execute", &id]);
    assert_eq!(
        read(dir.join("execute.log")),
        "Edited src/lib.rs, created src/retry.rs, and touched README.md.\n"
    );
    assert!(read(worktree.join("src/lib.rs")).contains("retry::retries()"));
    assert!(worktree.join("src/retry.rs").is_file());
    assert!(!read(env.path("src/lib.rs")).contains("retry"));
    assert!(!env.path("src/retry.rs").exists());
    assert!(
        git(env.root(), &["status", "--porcelain"]).is_empty(),
        "the main checkout is clean"
    );
    // The work is committed on the task's branch.
    let log = String::from_utf8(git(&worktree, &["log", "--format=%s", "-1"])).unwrap();
    assert!(
        log.starts_with("ctxpack add-retry-support: execute"),
        "{log}"
    );
    let scope = json(dir.join("scope.json"));
    assert_eq!(
        scope["planned_and_changed"],
        serde_json::json!(["src/lib.rs", "src/retry.rs"])
    );
    assert_eq!(
        scope["planned_untouched"],
        serde_json::json!(["src/ghost.rs"])
    );
    assert_eq!(
        scope["unplanned"],
        serde_json::json!(["README.md"]),
        "scope creep is named"
    );

    // review: findings and verdict, parsed.
    ok(&env, &["review", &id]);
    assert_eq!(read(dir.join("review.md")), script_output("reviewer.sh"));
    let review = json(dir.join("review.json"));
    assert_eq!(review["verdict"], "changes-requested");
    assert_eq!(review["findings"].as_array().unwrap().len(), 2);
    assert_eq!(review["findings"][0]["path"], "README.md");
    assert_eq!(review["findings"][0]["line"], 3);
    let out = ctxpack(&env, &["review", &id, "--check"]);
    assert_eq!(out.status.code(), Some(1), "--check fails unless approve");
    assert!(
        dir.join("review.1.md").is_file(),
        "the earlier review is kept"
    );

    // Every prompt fits its model's window by an independent count, holds what its phase
    // needs, and the ledger's input tokens are that count.
    let reference = Reference::new(Encoding::O200kBase);
    let entries = ledger(&env, &id);
    for (phase, needs) in [
        (
            "plan",
            vec![
                "The client retries failed calls three times.",
                "<context ",
                "## Files",
                "config::Config::default()",
            ],
        ),
        (
            "execute",
            vec![
                "<plan ",
                "modify `src/ghost.rs`",
                "config::Config::default()",
                "Edit the files",
            ],
        ),
        (
            "review",
            vec![
                "The client retries failed calls three times.",
                "changed but not planned: README.md",
                "<diff ",
                "+mod retry;",
                "VERDICT: approve",
            ],
        ),
    ] {
        let prompt = read(dir.join(format!("prompts/{phase}.md")));
        let tokens = reference.count(&prompt);
        assert!(
            tokens <= 7_000,
            "{phase}: {tokens} tokens, over the window minus the reserve"
        );
        for need in needs {
            assert!(prompt.contains(need), "{phase} prompt lacks {need:?}");
        }
        let entry = entries
            .iter()
            .rev()
            .find(|e| e["phase"] == phase)
            .unwrap_or_else(|| panic!("no ledger entry for {phase}"));
        assert_eq!(entry["input_tokens"], tokens, "{phase}");
        assert_eq!(entry["status"], "ok");
        assert_eq!(entry["task"], id.as_str());
        assert_eq!(entry["prompt_hash"].as_str().unwrap().len(), 64);
    }
    let entry = &entries[0];
    let cost = entry["cost_usd"].as_f64().unwrap();
    let expected = (entry["input_tokens"].as_f64().unwrap() * 10.0
        + entry["output_tokens"].as_f64().unwrap() * 30.0)
        / 1e6;
    assert!((cost - expected).abs() < 1e-12, "{cost} != {expected}");

    // status and cost, as JSON.
    let status: serde_json::Value =
        serde_json::from_slice(&ok(&env, &["status", "--json"]).stdout).unwrap();
    assert_eq!(status[0]["id"], id.as_str());
    assert_eq!(status[0]["verdict"], "changes-requested");
    assert_eq!(
        status[0]["scope"]["unplanned"],
        serde_json::json!(["README.md"])
    );
    let cost: serde_json::Value =
        serde_json::from_slice(&ok(&env, &["cost", &id, "--json"]).stdout).unwrap();
    assert_eq!(cost["rollup"]["total"]["calls"], 4);
    assert_eq!(
        cost["rollup"]["by_phase_and_model"]["plan"]["planner"]["calls"],
        1
    );
    let text = String::from_utf8(ok(&env, &["cost"]).stdout).unwrap();
    assert!(text.contains("priciest configured model"), "{text}");

    // done: the worktree goes, its branch stays.
    ok(&env, &["task", "done", &id]);
    assert!(!worktree.exists());
    let branches = String::from_utf8(git(env.root(), &["branch", "--list", "ctxpack/*"])).unwrap();
    assert!(branches.contains("ctxpack/add-retry-support"), "{branches}");
}

#[test]
fn a_diff_executor_is_applied_and_two_tasks_keep_their_own_edits() {
    let env = repo("");
    let a = new_task(&env, "Task A", true);
    let b = new_task(&env, "Task B", true);
    ok(&env, &["plan", &a]);
    ok(&env, &["plan", &b]);
    ok(&env, &["execute", &a]);
    ok(&env, &["execute", &b, "--model", "differ"]);
    let wt = |id: &str, path: &str| env.path(&format!(".ctxpack/worktrees/{id}/{path}"));
    // A's agent touched README.md; B's diff did not.
    assert!(read(wt(&a, "README.md")).contains("Now with retries."));
    assert_eq!(read(wt(&b, "README.md")), "# demo\n");
    assert!(read(wt(&a, "src/lib.rs")).contains("retry::retries()"));
    assert_eq!(
        read(wt(&b, "src/lib.rs")),
        "mod config;\nmod retry;\n\npub fn start() -> config::Config {\n    config::Config::default()\n}\n"
    );
    assert_eq!(
        read(wt(&b, "src/retry.rs")),
        "pub fn retries() -> u32 {\n    3\n}\n"
    );
    // The main checkout has neither.
    assert_eq!(read(env.path("README.md")), "# demo\n");
    assert!(!env.path("src/retry.rs").exists());
    let scope = json(task_dir(&env, &b).join("scope.json"));
    assert_eq!(scope["unplanned"], serde_json::json!([]));
}

#[test]
fn a_task_without_a_worktree_works_in_the_main_checkout() {
    let env = repo("");
    let id = new_task(&env, "In place", false);
    ok(&env, &["plan", &id]);
    ok(&env, &["execute", &id, "--model", "differ"]);
    assert!(read(env.path("src/lib.rs")).contains("mod retry;"));
    // Not committed: the user's checkout is theirs to commit.
    assert!(!git(env.root(), &["status", "--porcelain"]).is_empty());
    ok(&env, &["review", &id]);
    // The review saw the new, untracked file.
    let prompt = read(task_dir(&env, &id).join("prompts/review.md"));
    assert!(prompt.contains("+++ b/src/retry.rs"), "{prompt}");
}

#[test]
fn failures_are_recorded_and_lose_nothing() {
    let more = format!(
        "{}{}{}{}",
        table("failer", "failer.sh", "retries = 1\nfallback = \"silent\""),
        table("silent", "silent.sh", ""),
        table("bad", "bad-differ.sh", "edits = \"diff\""),
        "[models.missing]\ncommand = [\"ctxpack-test-no-such-cli\"]\nwindow = \"8k\"\n",
    );
    let env = repo(&more);
    let id = new_task(&env, "Failures", true);

    // A command not on PATH: named, before anything runs.
    let out = ctxpack(&env, &["plan", &id, "--model", "missing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ctxpack-test-no-such-cli"),
        "{}",
        stderr(&out)
    );
    assert!(ledger(&env, &id).is_empty());
    assert!(!task_dir(&env, &id).join("prompts/plan.md").exists());

    // A non-zero exit, retried, then the fallback with empty output: every call in the ledger,
    // the partial answer kept.
    let out = ctxpack(&env, &["plan", &id, "--model", "failer"]);
    assert_eq!(out.status.code(), Some(1));
    let statuses: Vec<String> = ledger(&env, &id)
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["model"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "failer exit status 1",
            "failer exit status 1",
            "silent no output"
        ]
    );
    let dir = task_dir(&env, &id);
    assert!(read(dir.join("plan.md.partial")).starts_with("# Plan (unfinished)"));
    assert!(
        dir.join("plan.1.md.partial").is_file(),
        "the first partial is kept too"
    );
    assert!(!dir.join("plan.md").exists(), "a failed plan is not a plan");
    assert!(read(dir.join("logs/plan.stderr")).contains("rate limited"));

    // A phase out of order, and an unknown task.
    let out = ctxpack(&env, &["execute", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("run `ctxpack plan {id}` first")),
        "{}",
        stderr(&out)
    );
    let out = ctxpack(&env, &["plan", "no-such-task"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such-task") && stderr(&out).contains(&id));

    // A re-run keeps the earlier plan and prompt.
    ok(&env, &["plan", &id]);
    ok(&env, &["plan", &id]);
    assert!(dir.join("plan.md").is_file() && dir.join("plan.1.md").is_file());
    assert!(dir.join("prompts/plan.md").is_file() && dir.join("prompts/plan.1.md").is_file());

    // A diff that does not apply: the worktree is untouched.
    let worktree = env.path(&format!(".ctxpack/worktrees/{id}"));
    let head = git(&worktree, &["rev-parse", "HEAD"]);
    let out = ctxpack(&env, &["execute", &id, "--model", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("do not apply"), "{}", stderr(&out));
    assert!(git(&worktree, &["status", "--porcelain"]).is_empty());
    assert_eq!(git(&worktree, &["rev-parse", "HEAD"]), head);
    let out = ctxpack(&env, &["review", &id]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a failed execute does not count"
    );

    // --strict refuses a plan that names what does not exist.
    let out = ctxpack(&env, &["execute", &id, "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("src/ghost.rs"), "{}", stderr(&out));
}

/// Whether process `pid` still runs: it exists and is not a zombie waiting to be reaped.
#[cfg(target_os = "linux")]
fn running(pid: i32) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = state
        .rsplit(')')
        .next()
        .unwrap_or("")
        .trim_start()
        .starts_with('Z');
    !state.is_empty() && !zombie
}

#[cfg(target_os = "linux")]
#[test]
fn a_timeout_ends_the_model_and_its_children() {
    let env = repo(&table("sleeper", "sleeper.sh", "timeout = \"1s\""));
    let id = new_task(&env, "Slow", true);
    let scratch = tempfile::tempdir().unwrap();
    let pids = scratch.path().join("pids");
    let mut cmd = hermetic(env.ctxpack());
    cmd.env("CTXPACK_TEST_PIDS", &pids)
        .args(["plan", &id, "--model", "sleeper"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    let pids: Vec<i32> = read(&pids).lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "the model and its child");
    for pid in pids {
        assert!(!running(pid), "process {pid} outlived the timeout");
    }
    assert_eq!(ledger(&env, &id)[0]["status"], "timed out");
    assert_eq!(
        read(task_dir(&env, &id).join("plan.md.partial")),
        "thinking...\n"
    );
}

#[test]
fn a_second_process_on_a_task_is_refused() {
    let env = repo("");
    let id = new_task(&env, "Locked", false);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(task_dir(&env, &id).join("lock"))
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this test owns.
        assert_eq!(
            unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
            0
        );
    }
    let out = ctxpack(&env, &["plan", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("in use by another ctxpack process"),
        "{}",
        stderr(&out)
    );
    assert!(ledger(&env, &id).is_empty());
    drop(lock);
    ok(&env, &["plan", &id]);
}

#[test]
fn print_calls_nothing_and_the_cost_cap_refuses_a_call() {
    let env = repo("[task]\nmax_cost = 0.000001\n");
    let id = new_task(&env, "Printed", false);
    let out = ok(&env, &["plan", &id, "--print"]);
    let prompt = String::from_utf8(out.stdout).unwrap();
    assert!(
        prompt.contains("The client retries failed calls three times.")
            && prompt.contains("<context ")
    );
    assert!(ledger(&env, &id).is_empty());
    assert!(!task_dir(&env, &id).join("plan.md").exists());
    let out = ctxpack(&env, &["plan", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("max_cost"), "{}", stderr(&out));
    assert!(ledger(&env, &id).is_empty());
}

#[test]
fn without_a_configuration_every_phase_says_what_to_write() {
    let env = TestEnv::new();
    git(env.root(), &["init", "-q", "-b", "main"]);
    env.write("a.rs", "fn a() {}\n");
    git(env.root(), &["add", "-A"]);
    git(env.root(), &["commit", "-q", "-m", "base"]);
    let out = ok(&env, &["task", "new", "No config"]);
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(read(task_dir(&env, &id).join("spec.md")), "# No config\n");
    let out = ctxpack(&env, &["plan", &id]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("ctxpack init") && message.contains("[phases]"),
        "{message}"
    );
    // init writes one, and never overwrites it.
    ok(&env, &["init"]);
    let written = read(env.path("ctxpack.toml"));
    assert!(written.contains("[phases]"), "{written}");
    env.write("ctxpack.toml", "# mine\n");
    ok(&env, &["init", "--skill"]);
    assert_eq!(read(env.path("ctxpack.toml")), "# mine\n");
    assert!(read(env.path(".claude/skills/ctxpack/SKILL.md")).contains("ctxpack refs"));
    // A bad value names its line.
    env.write(
        "ctxpack.toml",
        "[models.x]\ncommand = [\"x\"]\nwindow = \"huge\"\n",
    );
    let out = ctxpack(&env, &["plan", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
}

/// A real model CLI: `llm` with the `llm-echo` model, which answers with the prompt it got.
#[test]
fn a_real_model_cli_gets_the_prompt_unchanged_and_is_logged() {
    let bin = python_tools();
    let llm = bin.join("llm").display().to_string();
    let more = format!(
        "[models.echo]\ncommand = [\"{llm}\", \"-m\", \"echo\"]\nwindow = \"8k\"\nreserve = \"1k\"\nprice_in = 1\n"
    );
    let env = repo(&more);
    let id = new_task(&env, "Echo", false);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = hermetic(env.ctxpack());
    cmd.env("LLM_USER_PATH", home.path())
        .args(["plan", &id, "--model", "echo"]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = task_dir(&env, &id);
    let answer: serde_json::Value = serde_json::from_str(&read(dir.join("plan.md"))).unwrap();
    let sent = read(dir.join("prompts/plan.md"));
    assert_eq!(
        answer["prompt"].as_str().unwrap(),
        sent,
        "delivered unchanged"
    );
    let entries = ledger(&env, &id);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["model"], "echo");
    assert_eq!(entries[0]["status"], "ok");
    assert_eq!(
        entries[0]["input_tokens"],
        Reference::new(Encoding::O200kBase).count(&sent)
    );
}

/// Ctrl-C during a call ends the model's whole process group, and ctxpack with it (exit 130).
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_ends_the_model_and_its_children() {
    use std::io::BufRead;
    let env = repo(&table("sleeper", "sleeper.sh", "timeout = \"10m\""));
    let id = new_task(&env, "Interrupted", false);
    let scratch = tempfile::tempdir().unwrap();
    // A FIFO: reading it waits until the model has started its child and written both pids.
    let pids = scratch.path().join("pids");
    let fifo = std::ffi::CString::new(pids.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let mut cmd = hermetic(env.ctxpack());
    cmd.env("CTXPACK_TEST_PIDS", &pids)
        .args(["plan", &id, "--model", "sleeper"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut seen: Vec<i32> = Vec::new();
    while seen.len() < 2 {
        // Each `echo >>` opens and closes the FIFO: read until its end, then open it again.
        let reader = std::io::BufReader::new(std::fs::File::open(&pids).unwrap());
        seen.extend(reader.lines().map(|l| l.unwrap().parse::<i32>().unwrap()));
    }
    // SAFETY: kill sends SIGINT to the ctxpack process this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    for pid in seen {
        assert!(!running(pid), "process {pid} outlived Ctrl-C");
    }
    assert_eq!(ledger(&env, &id)[0]["status"], "interrupted");
}

/// A second Ctrl-C ends ctxpack at once, and the model's group with it, even a model that
/// ignores SIGTERM.
#[cfg(target_os = "linux")]
#[test]
fn a_second_ctrl_c_kills_a_model_that_ignores_the_first() {
    use std::io::BufRead;
    let env = repo(&table("stubborn", "stubborn.sh", "timeout = \"10m\""));
    let id = new_task(&env, "Stubborn", false);
    let scratch = tempfile::tempdir().unwrap();
    let pids = scratch.path().join("pids");
    let fifo = std::ffi::CString::new(pids.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let mut cmd = hermetic(env.ctxpack());
    cmd.env("CTXPACK_TEST_PIDS", &pids)
        .args(["plan", &id, "--model", "stubborn"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut seen: Vec<i32> = Vec::new();
    while seen.len() < 2 {
        let reader = std::io::BufReader::new(std::fs::File::open(&pids).unwrap());
        seen.extend(reader.lines().map(|l| l.unwrap().parse::<i32>().unwrap()));
    }
    for _ in 0..2 {
        // SAFETY: kill sends SIGINT to the ctxpack process this test started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    for pid in seen {
        // SIGKILL was sent before ctxpack exited; the kernel ends the processes soon after.
        let gone = (0..500).any(|_| {
            let gone = !running(pid);
            if !gone {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            gone
        });
        assert!(gone, "process {pid} outlived two Ctrl-Cs");
    }
}

#[test]
fn run_does_all_three_phases_and_check_gates_on_the_verdict() {
    let env = repo("");
    let id = new_task(&env, "Everything", true);
    let out = ctxpack(&env, &["run", &id, "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let dir = task_dir(&env, &id);
    for artifact in [
        "plan.md",
        "plan-check.json",
        "execute.log",
        "scope.json",
        "review.md",
    ] {
        assert!(dir.join(artifact).is_file(), "{artifact}");
    }
    let status = String::from_utf8(ok(&env, &["status", &id]).stdout).unwrap();
    assert!(status.contains("review: changes-requested"), "{status}");
    assert!(
        status.contains("changed but not planned: README.md"),
        "{status}"
    );
}

/// A task in the main checkout: the user's own changes (an edited file, an untracked
/// ctxpack.toml and a hidden `.envrc`) are neither scope creep nor part of the review.
#[test]
fn the_users_own_changes_are_not_the_executors() {
    let env = repo("");
    // Made before the task: the user's work in progress.
    git(env.root(), &["rm", "-q", "--cached", "ctxpack.toml"]);
    env.write("src/config.rs", "// the user's edit\n")
        .write(".envrc", "export TOKEN=1\n");
    let id = new_task(&env, "In place", false);
    ok(&env, &["plan", &id]);
    ok(&env, &["execute", &id, "--model", "differ"]);
    let scope = json(task_dir(&env, &id).join("scope.json"));
    assert_eq!(scope["unplanned"], serde_json::json!([]), "{scope}");
    assert_eq!(
        scope["planned_and_changed"],
        serde_json::json!(["src/lib.rs", "src/retry.rs"])
    );
    ok(&env, &["review", &id]);
    let prompt = read(task_dir(&env, &id).join("prompts/review.md"));
    assert!(
        prompt.contains("+++ b/src/retry.rs"),
        "the executor's new file"
    );
    assert!(!prompt.contains(".envrc"), "the user's untracked file");
    assert!(
        !prompt.contains("+++ b/src/config.rs"),
        "the user's edit is not part of the change"
    );
}

/// Plan and review only read: a model that edits the task's worktree during them fails the
/// phase, and its answer and its edits are both kept; and what it changed is shown to the
/// reviewer as part of the change, not taken for the user's own work.
#[test]
fn a_phase_that_only_reads_fails_when_its_worktree_changes() {
    let env = repo(&table("editor", "editing-planner.sh", ""));
    let id = new_task(&env, "Read only", true);
    let out = ctxpack(&env, &["plan", &id, "--model", "editor"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("README.md") && message.contains("readonly_command"),
        "{message}"
    );
    let worktree = env.path(&format!(".ctxpack/worktrees/{id}"));
    assert!(read(task_dir(&env, &id).join("plan.md")).contains("## Files"));
    assert!(read(worktree.join("README.md")).contains("Edited by the planner."));
    // Going on anyway: the planner's edit is scope creep (beside the new file its one-line
    // plan did not name), and the reviewer sees it.
    ok(&env, &["execute", &id, "--model", "differ"]);
    let scope = json(task_dir(&env, &id).join("scope.json"));
    assert_eq!(
        scope["unplanned"],
        serde_json::json!(["README.md", "src/retry.rs"]),
        "{scope}"
    );
    ok(&env, &["review", &id]);
    let prompt = read(task_dir(&env, &id).join("prompts/review.md"));
    assert!(
        prompt.contains("+Edited by the planner."),
        "the review shows it"
    );
}

/// In the main checkout, where the user may be editing too, a change during a phase that only
/// reads is a warning.
#[test]
fn in_the_main_checkout_a_change_during_plan_is_a_warning() {
    let env = repo(&table("editor", "editing-planner.sh", ""));
    let id = new_task(&env, "Read only", false);
    let out = ok(&env, &["plan", &id, "--model", "editor"]);
    assert!(
        stderr(&out).contains("warning: plan: files changed"),
        "{}",
        stderr(&out)
    );
    assert!(task_dir(&env, &id).join("plan-check.json").is_file());
}

/// A commit hook that refuses the executor's commit fails execute, and the review still runs on
/// the uncommitted changes, as the message says.
#[cfg(unix)]
#[test]
fn a_refused_commit_leaves_the_changes_for_review() {
    use std::os::unix::fs::PermissionsExt;
    let env = repo("");
    let hook = env.path(".git/hooks/pre-commit");
    std::fs::write(&hook, "#!/bin/sh\necho 'no, thanks' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = new_task(&env, "Hooked", true);
    ok(&env, &["plan", &id]);
    let out = ctxpack(&env, &["execute", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not be committed") && stderr(&out).contains("no, thanks"),
        "{}",
        stderr(&out)
    );
    ok(&env, &["review", &id]);
    let prompt = read(task_dir(&env, &id).join("prompts/review.md"));
    assert!(
        prompt.contains("+mod retry;"),
        "the uncommitted change is reviewed"
    );
}

/// execute.log is written as the output comes, not at the end.
#[test]
fn the_execute_log_streams() {
    let env = repo(&table("streamer", "streamer.sh", "edits = \"agent\""));
    let id = new_task(&env, "Streamed", false);
    ok(&env, &["plan", &id]);
    let log = task_dir(&env, &id).join("execute.log");
    let mut cmd = hermetic(env.ctxpack());
    cmd.env("CTXPACK_TEST_LOG", &log)
        .args(["execute", &id, "--model", "streamer"]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&log), "first line\nthe log had the first line\n");
}

/// A failed agent's half-done edits in a task's worktree are undone before the fallback runs,
/// and its standard error is kept.
#[test]
fn a_failed_agents_edits_are_undone_in_the_worktree() {
    let env = repo(&table(
        "messy",
        "messy-agent.sh",
        "edits = \"agent\"\nfallback = \"agent\"",
    ));
    let id = new_task(&env, "Messy", true);
    ok(&env, &["plan", &id]);
    ok(&env, &["execute", &id, "--model", "messy"]);
    let worktree = env.path(&format!(".ctxpack/worktrees/{id}"));
    assert!(!worktree.join("junk.txt").exists());
    let scope = json(task_dir(&env, &id).join("scope.json"));
    assert_eq!(scope["unplanned"], serde_json::json!(["README.md"]));
    let statuses: Vec<String> = ledger(&env, &id)
        .iter()
        .filter(|e| e["phase"] == "execute")
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["exit status 1", "ok"]);
    assert!(read(task_dir(&env, &id).join("logs/execute.stderr")).contains("gave up"));
}

/// Prompts fill each model's own window, counted in its own encoding, less reserve and
/// margin: a repository far larger than the windows, a model that fails, and a fallback with
/// another window and encoding.
#[test]
fn each_prompt_fills_its_own_models_window() {
    let more = format!(
        "{}{}",
        "[models.big]\ncommand = [\"FAILER\"]\nwindow = \"6k\"\nreserve = \"1k\"\nmargin = \"10%\"\nfallback = \"small\"\n"
            .replace("FAILER", &model("failer.sh")),
        "[models.small]\ncommand = [\"PLANNER\"]\nwindow = \"4k\"\nreserve = \"500\"\nencoding = \"cl100k_base\"\n"
            .replace("PLANNER", &model("planner.sh")),
    );
    let env = repo(&more);
    for i in 0..40 {
        let body: String = (0..25)
            .map(|j| format!("    let value_{j} = compute_{i}_{j}(input, {j});\n"))
            .collect();
        env.write(
            format!("src/module_{i}.rs"),
            format!("pub fn run_{i}(input: u32) -> u32 {{\n{body}    input\n}}\n"),
        );
    }
    git(env.root(), &["add", "-A"]);
    git(env.root(), &["commit", "-q", "-m", "more"]);
    let id = new_task(&env, "Windows", false);
    ok(&env, &["plan", &id, "--model", "big"]);
    let dir = task_dir(&env, &id);
    let entries = ledger(&env, &id);
    assert_eq!(entries.len(), 2);
    for (prompt, encoding, limit, entry) in [
        ("prompts/plan.1.md", Encoding::O200kBase, 4_500, &entries[0]),
        ("prompts/plan.md", Encoding::Cl100kBase, 3_500, &entries[1]),
    ] {
        let text = read(dir.join(prompt));
        let tokens = Reference::new(encoding).count(&text);
        assert!(tokens <= limit, "{prompt}: {tokens} > {limit}");
        assert!(
            tokens * 10 >= limit * 8,
            "{prompt}: {tokens} tokens fill too little of {limit}"
        );
        assert_eq!(entry["input_tokens"], tokens, "{prompt}");
        assert!(text.contains("<file "), "{prompt} packs files");
    }
}

#[test]
fn a_done_task_says_so_and_print_needs_no_model_cli() {
    let env = repo("[models.absent]\ncommand = [\"ctxpack-test-no-such-cli\"]\nwindow = \"8k\"\n");
    let id = new_task(&env, "Finished", true);
    // --print runs nothing, so the CLI need not be installed.
    let out = ok(&env, &["plan", &id, "--print", "--model", "absent"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("<context "));
    ok(&env, &["task", "done", &id]);
    let out = ctxpack(&env, &["plan", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is done") && stderr(&out).contains(&format!("ctxpack/{id}")),
        "{}",
        stderr(&out)
    );
    let status = String::from_utf8(ok(&env, &["status", &id]).stdout).unwrap();
    assert!(
        status.contains("done: ") && !status.contains("next:"),
        "{status}"
    );
    assert!(!status.contains("$-0"), "{status}");
}

/// `.ctxpack/` (prompts, packed documents, worktrees) is never packed, whatever the flags say;
/// and `init` from inside a task's worktree writes to the main checkout.
#[test]
fn the_state_directory_is_never_packed_and_init_writes_at_the_main_top() {
    let env = TestEnv::new();
    git(env.root(), &["init", "-q", "-b", "main"]);
    env.write("a.rs", "fn a() {}\n");
    git(env.root(), &["add", "-A"]);
    git(env.root(), &["commit", "-q", "-m", "base"]);
    let id = new_task_in(&env, "State", true);
    let stats: serde_json::Value =
        serde_json::from_slice(&ok(&env, &["stats", "--hidden", "--no-ignore", "--json"]).stdout)
            .unwrap();
    let text = stats.to_string();
    assert!(
        text.contains("a.rs") && !text.contains(".ctxpack"),
        "{text}"
    );
    let worktree = env.path(&format!(".ctxpack/worktrees/{id}"));
    let mut cmd = hermetic(env.ctxpack());
    cmd.current_dir(&worktree).arg("init");
    let out = run(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(env.path("ctxpack.toml").is_file());
    assert!(!worktree.join("ctxpack.toml").exists());
}

fn new_task_in(env: &TestEnv, title: &str, worktree: bool) -> String {
    let mut args = vec!["task", "new", title];
    if worktree {
        args.push("--worktree");
    }
    String::from_utf8(ok(env, &args).stdout)
        .unwrap()
        .trim()
        .to_string()
}

/// Every `ctxpack.toml` the README and docs/handoff.md show loads as written.
#[test]
fn the_documented_configurations_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut blocks = 0;
    for doc in ["README.md", "docs/handoff.md"] {
        let text = read(root.join(doc));
        for block in text.split("```toml\n").skip(1) {
            let block = &block[..block.find("```").expect("a closed block")];
            ctxpack::handoff::config::Config::parse(block, Path::new(doc))
                .unwrap_or_else(|e| panic!("{doc}: {e}\n{block}"));
            blocks += 1;
        }
    }
    assert!(blocks >= 2, "the README and the docs each show one");
}

/// In the main checkout, what you change between the phases is yours: only what changed while
/// a model ran (or by the diffs ctxpack applied) counts as the executor's.
#[test]
fn your_edits_between_the_phases_are_not_the_executors() {
    let env = repo("");
    let id = new_task(&env, "Mine", false);
    ok(&env, &["plan", &id]);
    // After the task was made and planned: your own work.
    env.write("notes.txt", "my notes\n");
    env.write("README.md", "# demo, edited by you\n");
    ok(&env, &["execute", &id, "--model", "differ"]);
    let scope = json(task_dir(&env, &id).join("scope.json"));
    assert_eq!(scope["unplanned"], serde_json::json!([]), "{scope}");
    ok(&env, &["review", &id]);
    let prompt = read(task_dir(&env, &id).join("prompts/review.md"));
    assert!(!prompt.contains("+++ b/notes.txt") && !prompt.contains("+++ b/README.md"));
    assert!(prompt.contains("+++ b/src/retry.rs"));
}
