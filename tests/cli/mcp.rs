//! `ctxpack mcp` driven by a real client: the official MCP Python SDK starts the server over
//! stdio, lists its tools and calls them (tests/reference/mcp_client.py). Each tool's answer is
//! checked against the CLI's output for the same arguments, byte for byte, or against the bytes
//! on disk.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::support::{copy_fixture, git, hermetic, python_tools, run, run_with_stdin, TestEnv};

/// Runs the client script against `ctxpack mcp ARGS` (started in `env`'s tree) with `steps`;
/// returns one result per step (the first is the handshake).
fn drive(env: &TestEnv, args: &[&str], steps: Value) -> Vec<Value> {
    let python = python_tools().join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/mcp_client.py");
    let mut command = vec![env!("CARGO_BIN_EXE_ctxpack").to_string(), "mcp".to_string()];
    command.extend(args.iter().map(|a| a.to_string()));
    let spec = json!({
        "command": command,
        "cwd": env.root(),
        "env": {
            "CTXPACK_CACHE_DIR": env.cache_dir(),
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
        },
        "steps": steps,
    });
    let mut cmd = Command::new(python);
    cmd.arg(script);
    let out = run_with_stdin(cmd, spec.to_string().as_bytes());
    assert!(
        out.status.success(),
        "the MCP client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("the client prints JSON");
    assert_eq!(results[0]["server"], "ctxpack");
    results
}

/// The CLI's stdout for `args`, run in `env`'s tree.
fn cli(env: &TestEnv, args: &[&str]) -> String {
    let mut cmd = hermetic(env.ctxpack());
    cmd.args(args);
    let out = run(cmd);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "ctxpack {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn text(result: &Value, i: usize) -> &str {
    result["texts"][i]
        .as_str()
        .unwrap_or_else(|| panic!("no text {i}: {result}"))
}

fn ok(result: &Value) -> &Value {
    assert_eq!(result["is_error"], false, "{result}");
    result
}

fn error(result: &Value) -> String {
    assert_eq!(result["is_error"], true, "{result}");
    text(result, 0).to_string()
}

/// The plan fixture repository, committed, with a change on top for review.
fn repo() -> TestEnv {
    let env = copy_fixture("plan-repo");
    env.write(
        "AI-PLAN.md",
        std::fs::read(crate::support::fixture("plans").join("retry-jitter.md")).unwrap(),
    );
    git(env.root(), &["init", "-q", "-b", "main"]);
    git(env.root(), &["add", "-A"]);
    git(env.root(), &["commit", "-q", "-m", "base"]);
    let retry = std::fs::read_to_string(env.path("src/http/retry.rs")).unwrap();
    env.write("src/http/retry.rs", retry.replace("fn ", "pub(crate) fn "));
    env
}

#[test]
fn the_tools_are_listed_with_schemas_from_their_types() {
    let env = TestEnv::new();
    env.write("a.rs", "fn a() {}\n");
    let results = drive(&env, &[], json!([{"op": "list"}]));
    let tools = results[1].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["pack", "read_pack", "stats", "refs", "outline", "symbol"]
    );
    for tool in tools {
        assert_eq!(tool["read_only"], true, "{}", tool["name"]);
        assert_eq!(tool["schema"]["type"], "object");
    }
    let pack = &tools[0]["schema"];
    for argument in [
        "paths", "budget", "focus", "plan", "diff", "fidelity", "include", "exclude", "encoding",
    ] {
        assert!(
            pack["properties"].get(argument).is_some(),
            "pack lacks {argument}: {pack}"
        );
    }
    assert_eq!(
        pack["additionalProperties"], false,
        "unknown arguments are refused"
    );
    // Plain schemas every client reads: no references to definitions, no `null` types.
    for tool in tools {
        let schema = tool["schema"].to_string();
        for construct in ["$ref", "$defs", "null", "oneOf", "anyOf", "const"] {
            assert!(
                !schema.contains(construct),
                "{}: {construct} in {schema}",
                tool["name"]
            );
        }
        for property in tool["schema"]["properties"].as_object().unwrap().values() {
            assert!(
                property["type"].is_string(),
                "{}: one type per argument: {property}",
                tool["name"]
            );
        }
    }
    assert_eq!(
        pack["properties"]["encoding"]["enum"],
        json!(["o200k_base", "cl100k_base"])
    );
    let refs = &tools[3]["schema"];
    assert_eq!(refs["required"], json!(["plan"]));
}

#[test]
fn each_tool_gives_what_the_cli_gives() {
    let env = repo();
    let plan_text = std::fs::read_to_string(env.path("AI-PLAN.md")).unwrap();
    let steps = json!([
        {"op": "call", "tool": "pack", "args": {}},
        {"op": "call", "tool": "pack", "args": {"budget": "3k", "focus": ["retry jitter backoff"]}},
        {"op": "call", "tool": "pack", "args": {"plan": "AI-PLAN.md", "budget": 4000}},
        {"op": "call", "tool": "pack", "args": {"plan": plan_text, "budget": "4k"}},
        {"op": "call", "tool": "pack", "args": {"diff": "main", "budget": "5k"}},
        {"op": "call", "tool": "pack", "args": {"fidelity": "compressed", "include": ["src/**"], "exclude": ["src/store/**"], "encoding": "cl100k_base"}},
        {"op": "call", "tool": "pack", "args": {"paths": ["src/http", "README.md"]}},
        {"op": "call", "tool": "stats", "args": {"budget": "3k"}},
        {"op": "call", "tool": "refs", "args": {"plan": "AI-PLAN.md"}},
        {"op": "call", "tool": "outline", "args": {"files": ["src/http/retry.rs", "README.md"]}},
        {"op": "call", "tool": "symbol", "args": {"name": "RetryPolicy::backoff"}},
        {"op": "call", "tool": "symbol", "args": {"name": "NoSuchThing"}},
        {"op": "call", "tool": "symbol", "args": {"name": "main"}},
        {"op": "call", "tool": "symbol", "args": {"name": "new"}},
        {"op": "call", "tool": "symbol", "args": {"name": "new", "paths": ["src/http/retry.rs"]}},
    ]);
    let results = drive(&env, &[], steps);
    let same = |i: usize, args: &[&str]| {
        let result = ok(&results[i]);
        assert_eq!(text(result, 0), cli(&env, args), "step {i}: {args:?}");
    };
    same(1, &["pack", "-q"]);
    same(
        2,
        &[
            "pack",
            "--budget",
            "3k",
            "--focus",
            "retry jitter backoff",
            "-q",
        ],
    );
    same(
        3,
        &["pack", "--plan", "AI-PLAN.md", "--budget", "4000", "-q"],
    );
    // The plan's text, as `--plan -` reads it from standard input.
    let mut cmd = hermetic(env.ctxpack());
    cmd.args(["pack", "--plan", "-", "--budget", "4k", "-q"]);
    let piped = run_with_stdin(cmd, plan_text.as_bytes());
    assert_eq!(text(ok(&results[4]), 0).as_bytes(), piped.stdout.as_slice());
    same(5, &["pack", "--diff", "main", "--budget", "5k", "-q"]);
    same(
        6,
        &[
            "pack",
            "--fidelity",
            "compressed",
            "--include",
            "src/**",
            "--exclude",
            "src/store/**",
            "--encoding",
            "cl100k_base",
            "-q",
        ],
    );
    same(7, &["pack", "--root", ".", "src/http", "README.md", "-q"]);
    same(8, &["stats", "--budget", "3k", "--json", "-q"]);
    same(9, &["refs", "AI-PLAN.md", "--json"]);
    same(10, &["outline", "src/http/retry.rs", "README.md"]);
    // The pack's report comes beside the document.
    assert!(text(&results[2], 1).contains("budget:"), "{}", results[2]);
    // refs says whether --check would pass, as `refs --check` decides.
    let mut cmd = hermetic(env.ctxpack());
    cmd.args(["refs", "AI-PLAN.md", "--check"]);
    let check = run(cmd);
    assert_eq!(
        check.status.code(),
        Some(1),
        "the fixture plan invents files"
    );
    assert!(text(&results[9], 1).starts_with("refs --check would fail"));

    // symbol: each definition's text is its lines on disk.
    let found = text(ok(&results[11]), 0).to_string();
    assert!(
        found.starts_with("RetryPolicy::backoff: exists, 1 definition"),
        "{found}"
    );
    for (path, start, end, body) in definitions(&found) {
        let on_disk = std::fs::read_to_string(env.path(&path)).unwrap();
        let lines: String = on_disk
            .split_inclusive('\n')
            .skip(start - 1)
            .take(end + 1 - start)
            .collect();
        assert_eq!(body, lines, "{path}:{start}-{end}");
        assert!(lines.contains("fn backoff"), "{lines}");
    }
    assert!(text(ok(&results[12]), 0).contains("not defined in the tree"));
    // Names a plan's prose reads as words are names here.
    assert!(
        text(ok(&results[13]), 0).contains("<definition path=\"src/main.rs\""),
        "{}",
        results[13]
    );
    let news = text(ok(&results[14]), 0);
    assert!(definitions(news).len() >= 2, "{news}");
    // The paths given are where it looks.
    let here = definitions(text(ok(&results[15]), 0));
    assert!(
        !here.is_empty() && here.iter().all(|d| d.0 == "src/http/retry.rs"),
        "{here:?}"
    );
}

/// The `<definition path lines tokens>` elements of a symbol answer: path, lines, text.
fn definitions(answer: &str) -> Vec<(String, usize, usize, String)> {
    answer
        .split("<definition path=\"")
        .skip(1)
        .map(|rest| {
            let (path, rest) = rest.split_once("\" lines=\"").unwrap();
            let (lines, rest) = rest.split_once('"').unwrap();
            let (start, end) = lines.split_once('-').unwrap();
            let body = rest.split_once(">\n").unwrap().1;
            let body = body.split_once("</definition>").unwrap().0;
            (
                path.to_string(),
                start.parse().unwrap(),
                end.parse().unwrap(),
                body.to_string(),
            )
        })
        .collect()
}

#[test]
fn bad_arguments_are_tool_errors_and_the_server_stays_up() {
    let env = repo();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.md"), "# not yours\n").unwrap();
    #[cfg(unix)]
    env.symlink(outside.path().join("secret.md"), "link.md");
    #[cfg(unix)]
    env.fifo("pipe.md");
    let steps = json!([
        {"op": "call", "tool": "pack", "args": {"paths": ["../"]}},
        {"op": "call", "tool": "pack", "args": {"paths": [outside.path()]}},
        {"op": "call", "tool": "refs", "args": {"plan": "link.md"}},
        {"op": "call", "tool": "outline", "args": {"files": ["../../etc/passwd"]}},
        {"op": "call", "tool": "pack", "args": {"budget": "abc"}},
        {"op": "call", "tool": "pack", "args": {"budget": -5}},
        {"op": "call", "tool": "pack", "args": {"plan": "NO-SUCH-PLAN.md"}},
        {"op": "call", "tool": "refs", "args": {"plan": "docs/missing.md"}},
        {"op": "call", "tool": "pack", "args": {"budgett": 100}},
        {"op": "call", "tool": "pack", "args": {"fidelity": "tiny"}},
        {"op": "call", "tool": "outline", "args": {"files": ["src"]}},
        {"op": "call", "tool": "outline", "args": {"files": ["pipe.md"]}},
        {"op": "call", "tool": "pack", "args": {"diff": "--output=/tmp/x"}},
        {"op": "call", "tool": "pack", "args": {"diff": "no-such-branch"}},
        {"op": "call", "tool": "read_pack", "args": {"id": "pack-99"}},
        {"op": "call", "tool": "pack", "args": {"budget": 10}},
        {"op": "call", "tool": "symbol", "args": {"name": "two words"}},
        {"op": "call", "tool": "pack", "args": {"root": "elsewhere"}},
        {"op": "list"},
        {"op": "call", "tool": "outline", "args": {"files": ["src/config.rs"]}},
        {"op": "call", "tool": "pack", "args": {"fidelity": "compressed", "budget": "2k"}},
        {"op": "call", "tool": "pack", "args": {"focus": ["retry"]}},
        {"op": "call", "tool": "pack", "args": {"plan": "AI-PLAN.md", "budget": "4k", "focus": ["retry"]}},
        {"op": "call", "tool": "pack", "args": {"git_log": 3}},
        {"op": "call", "tool": "stats", "args": {"budget": "abc"}},
        {"op": "call", "tool": "refs", "args": {"plan": "  "}},
        {"op": "call", "tool": "read_pack", "args": {"id": "x", "start_token": -1}},
    ]);
    let results = drive(&env, &[], steps);
    let expect = [
        (1, "outside the root"),
        (2, "outside the root"),
        (3, "outside the root"),
        (4, "outside the root"),
        (5, "\"abc\" is not a token count"),
        (6, "-5 is not a token count"),
        (7, "NO-SUCH-PLAN.md: no such file"),
        (8, "docs/missing.md: no such file"),
        (9, "unknown field `budgett`"),
        (10, "unknown variant `tiny`"),
        (11, "is a directory"),
        (12, "not a regular file"),
        (13, "is not a revision"),
        (14, "no-such-branch"),
        (15, "no kept document \"pack-99\""),
        (16, "budget"),
        (17, "is not a symbol"),
        (18, "not one of this server's roots"),
        (21, "fidelity: only without budget"),
        (22, "focus: only with a budget"),
        (23, "focus: not with a plan"),
        (24, "only with diff"),
        (25, "budget: \"abc\" is not a token count"),
        (26, "plan: it is empty"),
        (27, "start_token"),
    ];
    for (i, wanted) in expect {
        let message = error(&results[i]);
        assert!(message.contains(wanted), "step {i}: {message}");
    }
    // Nothing outside the root was read into an answer.
    for result in &results[1..19] {
        assert!(!result.to_string().contains("not yours"), "{result}");
    }
    // Still up.
    assert_eq!(results[19].as_array().unwrap().len(), 6);
    assert!(text(ok(&results[20]), 0).contains("Config"));
}

/// A document larger than one response comes back as an id; read_pack pages through it, by
/// tokens and by lines, into exactly the document `pack` writes.
#[test]
fn a_large_document_comes_back_as_an_id_and_pages_into_the_pack() {
    let env = TestEnv::new();
    for i in 0..100 {
        let body: String = (0..120)
            .map(|j| format!("    let value_{j} = compute(input, {j}, \"é 日本 {i}\");\n"))
            .collect();
        env.write(
            format!("src/module_{i:02}.rs"),
            format!("pub fn run_{i}(input: u32) -> u32 {{\n{body}    input\n}}\n"),
        );
    }
    let whole = cli(&env, &["pack", "-q"]);
    let results = drive(
        &env,
        &[],
        json!([{"op": "call", "tool": "pack", "args": {}}]),
    );
    let summary = text(ok(&results[1]), 0);
    assert!(
        summary.contains("\"pack-1\"") && summary.contains("read_pack"),
        "{summary}"
    );
    assert!(
        summary.contains("<summary>"),
        "the document's summary is shown"
    );
    let tokens: usize = summary
        .split(" tokens")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap();
    assert!(tokens > 200_000, "{tokens}");

    let results = drive(
        &env,
        &[],
        json!([
            {"op": "call", "tool": "pack", "args": {}},
            {"op": "page", "id": "pack-1", "size": 25_000},
            {"op": "page_lines", "id": "pack-1", "size": 900},
            {"op": "call", "tool": "read_pack", "args": {"id": "pack-1", "start_token": 0, "end_token": 90_000}},
        ]),
    );
    let by_tokens = &results[2];
    assert_eq!(by_tokens["text"].as_str().unwrap(), whole, "token pages");
    assert!(by_tokens["pages"].as_u64().unwrap() >= 9);
    let by_lines = &results[3];
    assert_eq!(by_lines["text"].as_str().unwrap(), whole, "line pages");
    // A range past the response limit is cut at it, and says so.
    let cut = ok(&results[4]);
    assert!(text(cut, 1).contains("cut at the response limit"), "{cut}");
    assert!(text(cut, 1).contains("\"start_token\": 25000"), "{cut}");
}

/// Work runs off the protocol loop: while a call waits (for a plan that is a FIFO, written only
/// once the tools are listed), tools/list is answered. And the second call on a tree reuses what
/// the first counted.
#[cfg(unix)]
#[test]
fn a_waiting_call_does_not_hold_up_the_others_and_the_cache_is_reused() {
    let env = repo();
    env.fifo("PLAN-FIFO.md");
    let plan = std::fs::read_to_string(env.path("AI-PLAN.md")).unwrap();
    let results = drive(
        &env,
        &[],
        json!([
            {"op": "race", "tool": "refs", "args": {"plan": "PLAN-FIFO.md"}, "fifo": env.path("PLAN-FIFO.md"), "write": plan},
        ]),
    );
    assert_eq!(results[1]["listed_while_waiting"], true, "{}", results[1]);
    let refs = ok(&results[1]["result"]);
    assert!(text(refs, 0).contains("RetryPolicy::backoff"), "{refs}");

    let results = drive(
        &env,
        &[],
        json!([
            {"op": "call", "tool": "pack", "args": {"budget": "4k"}},
            {"op": "call", "tool": "pack", "args": {"budget": "4k"}},
        ]),
    );
    let second = text(ok(&results[2]), 1);
    let reused = second
        .lines()
        .find(|l| l.contains("cache:"))
        .unwrap_or_else(|| panic!("{second}"));
    let counts: Vec<usize> = reused
        .split_whitespace()
        .filter_map(|w| w.replace(',', "").parse().ok())
        .collect();
    assert!(counts[0] > 0 && counts[0] == counts[1], "{reused}");
}

/// A client that goes away ends the server cleanly: before or after the handshake.
#[cfg(unix)]
#[test]
fn the_server_ends_when_the_client_goes() {
    let env = TestEnv::new();
    env.write("a.rs", "fn a() {}\n");
    for input in [
        String::new(),
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#.to_string() + "\n",
    ] {
        let mut cmd = env.ctxpack();
        cmd.arg("mcp").stdin(Stdio::piped());
        let out = run_with_stdin(cmd, input.as_bytes());
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
