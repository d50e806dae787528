//! Language views: per-language snapshots of compressed and outline views and symbols, views that
//! must parse again, a real corpus, pathological inputs, and the `outline`/`symbols` commands.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use ctxpack::lang::symbols::extract;
use ctxpack::lang::syntax::{error_count, parse, parse_clean};
use ctxpack::lang::{self, Language};
use ctxpack::tokens::Encoding;
use ctxpack::types::Fidelity;
use rayon::prelude::*;

use crate::support::{parse as parse_doc, run, run_ok, Reference, TestEnv};

fn lang_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lang")
        .join(name)
}

const SAMPLES: [(&str, Language); 14] = [
    ("sample.rs", Language::Rust),
    ("sample.py", Language::Python),
    ("sample.jsx", Language::JavaScript),
    ("sample.ts", Language::TypeScript),
    ("sample.tsx", Language::Tsx),
    ("sample.go", Language::Go),
    ("sample.java", Language::Java),
    ("sample.c", Language::C),
    ("sample.cpp", Language::Cpp),
    ("sample.cs", Language::CSharp),
    ("sample.rb", Language::Ruby),
    ("sample.php", Language::Php),
    ("sample.sh", Language::Bash),
    ("sample.md", Language::Markdown),
];

fn symbols_text(language: Language, text: &str) -> String {
    let parsed = parse(language, text).unwrap();
    let symbols = extract(&parsed, text).unwrap();
    let mut out = String::new();
    for d in &symbols.definitions {
        let scope = d
            .scope
            .as_deref()
            .map(|s| format!(" in {s}"))
            .unwrap_or_default();
        writeln!(
            out,
            "def {}-{} {} {}{scope}",
            d.start_line, d.end_line, d.kind, d.name
        )
        .unwrap();
    }
    for r in &symbols.references {
        writeln!(out, "ref {} {} {}", r.line, r.kind, r.name).unwrap();
    }
    out
}

#[test]
fn every_language_has_compressed_and_outline_views_that_match_their_snapshots() {
    let counter = Reference::new(Encoding::O200kBase);
    for (name, language) in SAMPLES {
        let path = lang_fixture(name);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(lang::detect(&path, &text), language, "{name}");
        assert!(
            parse_clean(language, &text).is_ok(),
            "{name} parses cleanly"
        );

        let compressed = lang::view(language, Fidelity::Compressed, &text);
        assert_eq!(compressed.degraded, None, "{name}");
        let outline = lang::view(language, Fidelity::Outline, &text);
        assert_eq!(outline.degraded, None, "{name}");
        assert!(!outline.text.is_empty(), "{name} has an outline");

        if language != Language::Markdown {
            let reparsed = parse(language, &compressed.text).unwrap();
            assert_eq!(
                error_count(&reparsed.tree),
                0,
                "{name}: the compressed view does not parse:\n{}",
                compressed.text
            );
            assert!(
                counter.count(&compressed.text) < counter.count(&text),
                "{name}: compressed is smaller"
            );
        }
        assert!(counter.count(&outline.text) < counter.count(&text));

        insta::assert_snapshot!(format!("{name}.compressed"), compressed.text);
        insta::assert_snapshot!(format!("{name}.outline"), outline.text);
        insta::assert_snapshot!(format!("{name}.symbols"), symbols_text(language, &text));
    }
}

/// Outlines run the tags query with its reference patterns disabled: that must find exactly the
/// definitions the whole query finds, and no references.
#[test]
fn the_definitions_query_finds_what_the_whole_tags_query_defines() {
    let mut files: Vec<(String, Language)> =
        SAMPLES.iter().map(|(n, l)| (n.to_string(), *l)).collect();
    for entry in fs::read_dir(lang_fixture("tricky")).unwrap() {
        let name = format!("tricky/{}", entry.unwrap().file_name().to_string_lossy());
        let text = fs::read_to_string(lang_fixture(&name)).unwrap();
        files.push((name.clone(), lang::detect(&lang_fixture(&name), &text)));
    }
    for (name, language) in files {
        let text = fs::read_to_string(lang_fixture(&name)).unwrap();
        let parsed = parse(language, &text).unwrap();
        let whole = extract(&parsed, &text).unwrap();
        let only = lang::symbols::definitions(&parsed, &text).unwrap();
        assert_eq!(only.definitions, whole.definitions, "{name}");
        assert!(only.references.is_empty(), "{name}");
        // (The samples use names; some tricky files only define.)
        if language != Language::Markdown && !name.starts_with("tricky/") {
            assert!(!whole.references.is_empty(), "{name} has references");
        }
    }
}

/// The compressed view finds function bodies by a walk driven by the compress query's patterns;
/// it must find exactly the outermost bodies the query matches, in every language, also in
/// trees with syntax errors (each sample cut in the middle of a line).
#[test]
fn the_body_walk_finds_what_the_compress_query_matches() {
    let mut inputs: Vec<(String, Language, String)> = Vec::new();
    let mut add = |name: String| {
        let path = lang_fixture(&name);
        let text = fs::read_to_string(&path).unwrap();
        let language = lang::detect(&path, &text);
        if language == Language::Markdown {
            return;
        }
        let cut = text.floor_char_boundary(text.len() * 2 / 3);
        inputs.push((format!("{name} (cut)"), language, text[..cut].to_string()));
        inputs.push((name, language, text));
    };
    for (name, _) in SAMPLES {
        add(name.to_string());
    }
    for entry in fs::read_dir(lang_fixture("tricky")).unwrap() {
        add(format!(
            "tricky/{}",
            entry.unwrap().file_name().to_string_lossy()
        ));
    }
    let mut with_errors = 0;
    for (name, language, text) in &inputs {
        let parsed = parse(*language, text).unwrap();
        with_errors += usize::from(parsed.tree.root_node().has_error());
        let rules = &parsed.grammar.body_rules;
        let walked: Vec<_> = lang::views::walk_bodies(&parsed, rules)
            .iter()
            .map(|n| n.byte_range())
            .collect();
        let mut queried: Vec<std::ops::Range<usize>> = Vec::new();
        for node in lang::views::query_bodies(&parsed, text).unwrap() {
            if queried
                .last()
                .is_none_or(|last| node.start_byte() >= last.end)
            {
                queried.push(node.byte_range());
            }
        }
        assert_eq!(walked, queried, "{name}");
        if !name.ends_with("(cut)") && !name.ends_with(".sh") {
            assert!(!walked.is_empty(), "{name} has function bodies");
        }
    }
    assert!(
        with_errors >= 10,
        "the cut inputs have syntax errors ({with_errors})"
    );
}

#[test]
fn rust_placeholders_say_how_many_lines_were_elided() {
    let text = fs::read_to_string(lang_fixture("sample.rs")).unwrap();
    let view = lang::view(Language::Rust, Fidelity::Compressed, &text).text;
    assert!(view.contains(
        "pub fn try_take(&mut self, key: &K, now: Instant) -> bool { /* … 16 lines */ }"
    ));
    assert!(
        view.contains("/// Takes one token for `key`, if there is one."),
        "doc comments stay"
    );
    assert!(
        view.contains("use std::collections::HashMap;"),
        "imports stay"
    );
    assert!(
        view.contains("pub fn len(&self) -> usize { self.buckets.len() }"),
        "one-liners stay"
    );
    assert!(
        !view.contains("fn cap("),
        "nested functions go with their parent's body"
    );
}

#[test]
fn files_that_cannot_be_parsed_degrade_to_the_head_or_an_empty_outline() {
    let broken = "fn main( {\n".repeat(100);
    let view = lang::view(Language::Rust, Fidelity::Compressed, &broken);
    assert!(view.degraded.is_some());
    assert!(view.text.starts_with("fn main( {\nfn main( {\n"));
    assert!(view
        .text
        .ends_with("// … 70 more lines not shown (compressed view)\n"));
    assert_eq!(
        lang::view(Language::Rust, Fidelity::Outline, &broken).text,
        ""
    );

    let prose: String = (0..200).map(|i| format!("line {i}\n")).collect();
    let view = lang::view(Language::Text, Fidelity::Compressed, &prose);
    assert!(view
        .text
        .ends_with("[… 170 more lines not shown (compressed view)]\n"));
}

/// Parsing and queries are bounded by a count of tree-sitter's progress callbacks, not by time
/// (see `syntax::WorkLimit` and its unit test): on these inputs a view ends, degraded or not,
/// and is never larger than the text. Their speed is the views bench's business.
#[test]
fn pathological_inputs_end_within_the_work_bound() {
    // 5 MB of minified JavaScript on one line.
    let unit = "function a(b){return b&&b.c?b.c(function(d){return d+1}):[1,2,3].map(x=>x*2)};";
    let minified = unit.repeat(5_000_000 / unit.len());
    // And deeply nested brackets.
    let nested = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    for (language, text) in [
        (Language::JavaScript, &minified),
        (Language::Python, &nested),
    ] {
        for fidelity in [Fidelity::Compressed, Fidelity::Outline] {
            let view = lang::view(language, fidelity, text);
            assert!(
                view.text.len() <= text.len(),
                "{language:?} {fidelity:?}: {} > {}",
                view.text.len(),
                text.len()
            );
        }
    }
}

/// Every file of a supported language in a real corpus: its compressed view must parse without
/// new errors, and nothing may panic. The corpus is the crate sources cargo downloaded for this
/// build (or `CTXPACK_LANG_CORPUS`).
#[test]
fn compressed_views_of_a_real_corpus_parse_again() {
    let corpus = std::env::var_os("CTXPACK_LANG_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
            Some(home.join("registry").join("src"))
        })
        .expect("a corpus directory");
    let mut files = Vec::new();
    let mut stack = vec![corpus.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && entry.metadata().is_ok_and(|m| m.len() <= 512 * 1024) {
                files.push(path);
            }
        }
    }
    let results: Vec<(Language, bool, usize, String)> = files
        .par_iter()
        .filter_map(|path| {
            let text = fs::read_to_string(path).ok()?;
            let language = lang::detect(path, &text);
            if language == Language::Markdown {
                return None;
            }
            let original = parse_clean(language, &text).ok()?;
            // The walk the views use finds the outermost bodies the compress query matches.
            let walked: Vec<_> = lang::views::walk_bodies(&original, &original.grammar.body_rules)
                .iter()
                .map(|n| n.byte_range())
                .collect();
            // A query that needs more work than its bound has nothing to compare.
            let same_bodies = match lang::views::query_bodies(&original, &text) {
                Ok(nodes) => {
                    let mut queried: Vec<std::ops::Range<usize>> = Vec::new();
                    for node in nodes {
                        if queried
                            .last()
                            .is_none_or(|last| node.start_byte() >= last.end)
                        {
                            queried.push(node.byte_range());
                        }
                    }
                    walked == queried
                }
                Err(_) => true,
            };
            drop(original);
            let view = lang::view(language, Fidelity::Compressed, &text);
            let reparsed = parse(language, &view.text).ok()?;
            let errors = error_count(&reparsed.tree);
            Some((
                language,
                view.degraded.is_none(),
                errors + usize::from(!same_bodies),
                path.display().to_string(),
            ))
        })
        .collect();
    let checked = results.iter().filter(|r| r.1).count();
    let failures: Vec<&String> = results.iter().filter(|r| r.2 > 0).map(|r| &r.3).collect();
    let mut languages: Vec<&str> = results.iter().map(|r| r.0.name()).collect();
    languages.sort_unstable();
    languages.dedup();
    eprintln!(
        "compressed and re-parsed {checked} files ({}) under {}",
        languages.join(", "),
        corpus.display()
    );
    assert!(checked >= 200, "the corpus has enough files ({checked})");
    assert!(
        failures.is_empty(),
        "new syntax errors, or the walk and the compress query disagree, in: {failures:#?}"
    );
}

#[test]
fn outline_command_prints_each_files_outline() {
    let env = TestEnv::new();
    env.write(
        "a.py",
        "def f(x):\n    return x\n\nclass C:\n    def m(self):\n        pass\n",
    )
    .write("notes.txt", "plain text\n");
    let mut cmd = env.ctxpack();
    cmd.args(["outline", "a.py"]);
    let out = run_ok(cmd);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "1-2 def f(x)\n4-6 class C\n  5-6 def m(self)\n"
    );

    let mut cmd = env.ctxpack();
    cmd.args(["outline", "a.py", "notes.txt"]);
    let out = run_ok(cmd);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("a.py:\n1-2 def f(x)\n"), "{stdout}");
    assert!(stdout.contains("\nnotes.txt:\n"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt: no outline"));

    let mut cmd = env.ctxpack();
    cmd.args(["outline", "missing.rs"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.rs"));
}

#[test]
fn symbols_command_lists_definitions_with_scopes_as_json() {
    let env = TestEnv::new();
    env.write(
        "src/limiter.rs",
        fs::read(lang_fixture("sample.rs")).unwrap(),
    )
    .write("cache.go", fs::read(lang_fixture("sample.go")).unwrap())
    .write("README.txt", "not code\n");
    let mut cmd = env.ctxpack();
    cmd.args(["symbols", "--json"]);
    let out = run_ok(cmd);
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = table["files"].as_array().unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["cache.go", "src/limiter.rs"]);
    let find = |path: &str, name: &str| {
        files.iter().find(|f| f["path"] == path).unwrap()["definitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not defined in {path}"))
    };
    let try_take = find("src/limiter.rs", "try_take");
    assert_eq!(try_take["kind"], "method");
    assert_eq!(try_take["scope"], "Limiter");
    assert_eq!(
        (
            try_take["start_line"].as_u64(),
            try_take["end_line"].as_u64()
        ),
        (Some(37), Some(52))
    );
    assert_eq!(find("cache.go", "Get")["scope"], "Cache");
    let references = files[1]["references"].as_array().unwrap();
    assert!(references.iter().any(|r| r["name"] == "HashMap"));

    let mut cmd = env.ctxpack();
    cmd.args(["symbols", "src"]);
    let text = String::from_utf8(run_ok(cmd).stdout).unwrap();
    assert!(text.contains("limiter.rs [rust]"), "{text}");
    assert!(text.contains("method try_take in Limiter"), "{text}");
}

#[test]
fn pack_fidelity_applies_to_every_file_and_counts_what_is_emitted() {
    let env = TestEnv::new();
    for (name, _) in SAMPLES {
        env.write(name, fs::read(lang_fixture(name)).unwrap());
    }
    env.write("broken.rs", "fn main( {\n");
    let counter = Reference::new(Encoding::O200kBase);
    let mut totals = Vec::new();
    for fidelity in ["full", "compressed", "outline"] {
        let mut cmd = env.ctxpack();
        cmd.args(["pack", "-q", "--fidelity", fidelity]);
        let doc = parse_doc(&run_ok(cmd).stdout);
        assert_eq!(
            doc.tokens,
            counter.count(&doc.raw),
            "{fidelity}: exact total"
        );
        let wording = match fidelity {
            "full" => "in full",
            "compressed" => "as compressed views",
            _ => "as outlines",
        };
        assert!(doc.summary.contains(wording), "{fidelity}: {}", doc.summary);
        if fidelity != "full" {
            assert!(
                doc.summary.contains("1 file could not be parsed cleanly"),
                "{}",
                doc.summary
            );
        }
        for (path, file) in &doc.files {
            assert_eq!(file.attrs["fidelity"], fidelity, "{path}");
            assert_eq!(file.tokens, counter.count(&file.text), "{fidelity} {path}");
        }
        if fidelity != "full" {
            assert_eq!(
                doc.files["broken.rs"]
                    .attrs
                    .get("degraded")
                    .map(String::as_str),
                Some("syntax-errors")
            );
            let language = lang::detect(Path::new("sample.rs"), "");
            let text = fs::read_to_string(lang_fixture("sample.rs")).unwrap();
            let expected = lang::view(language, fidelity.parse().unwrap(), &text).text;
            assert_eq!(doc.files["sample.rs"].text, expected);
        }
        totals.push(doc.files.values().map(|f| f.tokens).sum::<usize>());
    }
    assert!(totals[0] > totals[1] && totals[1] > totals[2], "{totals:?}");

    let mut cmd = env.ctxpack();
    cmd.args(["pack", "--fidelity", "tiny"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("full, compressed or outline"));
}

/// Constructs that broke views in review: one-line and endless Ruby methods, annotations, nested
/// first-statement functions, constructors, accessors, private members, overloads, generics,
/// K&R C, function-pointer returns, operators, destructors, local functions, traits and macros.
#[test]
fn tricky_constructs_compress_to_code_that_parses_and_outline_fully() {
    let dir = lang_fixture("tricky");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 12);
    for name in names {
        let path = dir.join(&name);
        let text = fs::read_to_string(&path).unwrap();
        let language = lang::detect(&path, &text);
        assert!(parse_clean(language, &text).is_ok(), "{name} is valid");
        let compressed = lang::view(language, Fidelity::Compressed, &text);
        assert_eq!(compressed.degraded, None, "{name}");
        let reparsed = parse(language, &compressed.text).unwrap();
        assert_eq!(
            error_count(&reparsed.tree),
            0,
            "{name}: the compressed view does not parse:\n{}",
            compressed.text
        );
        let outline = lang::view(language, Fidelity::Outline, &text);
        assert_eq!(outline.degraded, None, "{name}");
        insta::assert_snapshot!(format!("tricky.{name}.compressed"), compressed.text);
        insta::assert_snapshot!(format!("tricky.{name}.outline"), outline.text);
    }
}

/// Declarator shapes C and C++ nest names in: a function returning a function pointer, and
/// members defined outside their class (constructor, destructor, operator, a reference return).
/// The expected lines are read off the fixture files by hand.
#[test]
fn c_and_cpp_find_definitions_behind_nested_declarators() {
    let definitions = |name: &str, language: Language| -> Vec<(String, usize, Option<String>)> {
        let text = fs::read_to_string(lang_fixture(name)).unwrap();
        let parsed = parse(language, &text).unwrap();
        extract(&parsed, &text)
            .unwrap()
            .definitions
            .into_iter()
            .map(|d| (d.name, d.start_line, d.scope))
            .collect()
    };
    let c = definitions("sample.c", Language::C);
    assert!(
        c.contains(&("buffer_on_full".to_string(), 36, None)),
        "{c:?}"
    );
    let tricky_c = definitions("tricky/tricky.c", Language::C);
    assert!(
        tricky_c.iter().any(|d| d.0 == "pick" && d.1 == 10),
        "{tricky_c:?}"
    );

    let cpp = definitions("sample.cpp", Language::Cpp);
    let registry = Some("Registry".to_string());
    for (name, line) in [
        ("Registry", 10),
        ("~Registry", 11),
        ("reset", 22),
        ("operator==", 23),
        ("Registry", 36),
        ("~Registry", 40),
        ("reset", 44),
        ("operator==", 50),
    ] {
        assert!(
            cpp.contains(&(name.to_string(), line, registry.clone())),
            "{name} at line {line} in Registry: {cpp:?}"
        );
    }
    assert!(
        cpp.contains(&("operator<<".to_string(), 56, None)),
        "a free operator returning a reference: {cpp:?}"
    );
    for (name, line, scope) in [
        ("zero", 61, None),
        ("zero", 66, None),
        ("make", 71, Some("Registry".to_string())),
    ] {
        assert!(
            cpp.contains(&(name.to_string(), line, scope.clone())),
            "{name} at {line}, a template and its specialisations: {cpp:?}"
        );
    }
    let tricky_cpp = definitions("tricky/tricky.cpp", Language::Cpp);
    assert!(
        tricky_cpp.contains(&("~Box".to_string(), 16, Some("Box".to_string()))),
        "{tricky_cpp:?}"
    );
}

#[test]
fn views_are_identical_for_every_thread_count() {
    let env = TestEnv::new();
    for (name, _) in SAMPLES {
        env.write(name, fs::read(lang_fixture(name)).unwrap());
    }
    for entry in fs::read_dir(lang_fixture("tricky")).unwrap() {
        let path = entry.unwrap().path();
        env.write(
            Path::new("tricky").join(path.file_name().unwrap()),
            fs::read(&path).unwrap(),
        );
    }
    for fidelity in ["compressed", "outline"] {
        let outputs: Vec<Vec<u8>> = ["1", "2", "5"]
            .iter()
            .map(|threads| {
                let mut cmd = env.ctxpack();
                cmd.args(["pack", "-q", "--fidelity", fidelity, "-j", threads]);
                run_ok(cmd).stdout
            })
            .collect();
        assert!(
            outputs.iter().all(|o| o == &outputs[0]),
            "{fidelity} output differs between thread counts"
        );
    }
}
