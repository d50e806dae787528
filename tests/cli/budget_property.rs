//! Property: for any tree and any budget, `pack --budget` emits a document that is within the
//! budget when the whole output is re-tokenized with tiktoken-rs directly, and a budget it refuses
//! names a smallest budget that then works.

use proptest::prelude::*;

use crate::support::{parse, run, Reference, TestEnv};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Rust,
    Python,
    Text,
    Markdown,
}

/// One file: where it goes, what it holds, how many lines, and the seed of its words.
#[derive(Debug, Clone)]
struct FileSpec {
    dirs: Vec<usize>,
    kind: Kind,
    lines: usize,
    seed: u64,
}

const DIRS: [&str; 5] = ["src", "lib", "docs", "tests", "deep"];
const WORDS: [&str; 12] = [
    "retry", "client", "budget", "token", "parse", "value", "the", "of", "cache", "x", "Élan",
    "数据",
];

fn file_spec() -> impl Strategy<Value = FileSpec> {
    (
        // Half the files at the top level, where even a collapsed tree lists them.
        prop_oneof![Just(Vec::new()), prop::collection::vec(0..DIRS.len(), 1..4)],
        prop_oneof![
            Just(Kind::Rust),
            Just(Kind::Python),
            Just(Kind::Text),
            Just(Kind::Markdown)
        ],
        // Mostly small files, some large ones.
        prop_oneof![6 => 0usize..12, 2 => 12usize..60, 1 => 60usize..500],
        any::<u64>(),
    )
        .prop_map(|(dirs, kind, lines, seed)| FileSpec {
            dirs,
            kind,
            lines,
            seed,
        })
}

/// A small deterministic word source, so that a failing case shrinks to the same text.
struct Words(u64);

impl Words {
    fn next(&mut self) -> &'static str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        WORDS[(self.0 % WORDS.len() as u64) as usize]
    }

    /// A word usable as an identifier.
    fn ident(&mut self) -> String {
        self.next()
            .to_ascii_lowercase()
            .replace(['É', '数', '据'], "z")
    }
}

fn contents(spec: &FileSpec) -> String {
    let mut words = Words(spec.seed | 1);
    let mut text = String::new();
    let mut line = 0;
    while line < spec.lines {
        match spec.kind {
            Kind::Rust => {
                text.push_str(&format!(
                    "/// {} {}.\npub fn {}_{line}(input: &[u32]) -> u32 {{\n",
                    words.next(),
                    words.next(),
                    words.ident(),
                ));
                for k in 0..6 {
                    text.push_str(&format!(
                        "    let v{k} = input.len() as u32 * {k}; // {}\n",
                        words.next()
                    ));
                }
                text.push_str("    v0 + v5\n}\n\n");
                line += 10;
            }
            Kind::Python => {
                text.push_str(&format!(
                    "def f_{line}(items):\n    \"\"\"{} {}.\"\"\"\n",
                    words.next(),
                    words.next()
                ));
                for k in 0..5 {
                    text.push_str(&format!("    items.append({k})  # {}\n", words.next()));
                }
                text.push_str("    return items\n\n\n");
                line += 9;
            }
            Kind::Text => {
                let n = 1 + (words.0 % 14) as usize;
                let sentence: Vec<&str> = (0..n).map(|_| words.next()).collect();
                text.push_str(&sentence.join(" "));
                text.push('\n');
                line += 1;
            }
            Kind::Markdown => {
                text.push_str(&format!("## {} {}\n\n", words.next(), words.next()));
                text.push_str(&format!(
                    "Some {} and {} <b>&amp;</b> ]]> text.\n\n```rust\nlet {} = 1;\n```\n\n",
                    words.next(),
                    words.next(),
                    words.ident(),
                ));
                line += 8;
            }
        }
    }
    text
}

fn extension(kind: Kind) -> &'static str {
    match kind {
        Kind::Rust => "rs",
        Kind::Python => "py",
        Kind::Text => "txt",
        Kind::Markdown => "md",
    }
}

/// The reference count: tiktoken-rs on the whole output, nothing from ctxpack.
fn direct_count(encoding: &str, text: &str) -> usize {
    Reference::new(encoding.parse().expect("a known encoding")).count(text)
}

/// Packs `env` within `budget`: Ok(the document's direct count), or Err(stderr) for a refusal.
fn pack(env: &TestEnv, budget: usize, encoding: &str) -> Result<usize, String> {
    let mut cmd = env.ctxpack();
    cmd.args(["pack", "-q", "--encoding", encoding, "--budget"])
        .arg(budget.to_string());
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => {
            let raw = String::from_utf8(out.stdout).expect("the document is UTF-8");
            let doc = parse(raw.as_bytes());
            let direct = direct_count(encoding, &raw);
            assert_eq!(doc.tokens, direct, "the document's own count is exact");
            Ok(direct)
        }
        Some(2) => Err(stderr),
        other => panic!("pack --budget {budget} failed ({other:?}): {stderr}"),
    }
}

/// The smallest budget a refusal names: `use --budget N or more`.
pub fn named_budget(stderr: &str) -> usize {
    let after = stderr
        .split("use --budget ")
        .nth(1)
        .unwrap_or_else(|| panic!("the refusal names no budget: {stderr}"));
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after --budget: {stderr}"))
}

proptest! {
    // Each case writes a tree and runs the binary once or twice: a few dozen cases keep the test
    // to seconds while covering tiny, tight, roomy and oversized budgets.
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn a_budgeted_pack_never_exceeds_its_budget(
        // Up to a few hundred files: enough that the smallest document can need over a thousand
        // tokens.
        files in prop::collection::vec(file_spec(), 1..300),
        // Log-uniform from 16 tokens to about 260,000: below the smallest document, tight, and
        // beyond the largest tree.
        budget_log2 in 4.0f64..18.0,
        cl100k in any::<bool>(),
    ) {
        let env = TestEnv::new();
        for (i, spec) in files.iter().enumerate() {
            let mut path: Vec<&str> = spec.dirs.iter().map(|&d| DIRS[d]).collect();
            let name = format!("f{i}.{}", extension(spec.kind));
            path.push(&name);
            env.write(path.join("/"), contents(spec));
        }
        let budget = budget_log2.exp2() as usize;
        let encoding = if cl100k { "cl100k_base" } else { "o200k_base" };
        match pack(&env, budget, encoding) {
            Ok(direct) => prop_assert!(
                direct <= budget,
                "{direct} tokens emitted for a budget of {budget} ({encoding})"
            ),
            Err(stderr) => {
                prop_assert!(stderr.contains("the budget is too small"), "{}", stderr);
                let smallest = named_budget(&stderr);
                prop_assert!(smallest > budget, "refused {budget} but named {smallest}");
                match pack(&env, smallest, encoding) {
                    Ok(direct) => prop_assert!(
                        direct <= smallest,
                        "{direct} tokens emitted for the named budget {smallest}"
                    ),
                    Err(stderr) => prop_assert!(
                        false,
                        "the named smallest budget {smallest} (refusing {budget}) is refused: {stderr}"
                    ),
                }
            }
        }
    }
}
