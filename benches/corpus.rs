//! A deterministic generator of a large, code-like source tree for benchmarks.

use std::fs;
use std::path::Path;

pub struct Generated {
    pub files: usize,
    pub bytes: usize,
}

/// A small xorshift generator: deterministic across platforms and runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "request", "response", "buffer", "handle", "state", "config", "error", "value", "index",
    "parse", "token", "stream", "client", "server", "retry", "timeout", "cache", "entry", "node",
    "graph", "path", "file", "reader", "writer", "budget", "rank", "score", "builder", "context",
    "window", "limit", "offset", "length", "count", "total", "result", "options", "item",
];
const TYPES: &[&str] = &[
    "u32",
    "usize",
    "String",
    "&str",
    "Vec<u8>",
    "bool",
    "Option<u64>",
];
const PROSE: &[&str] = &[
    "the", "a", "returns", "when", "is", "not", "this", "of", "every", "and", "if", "we", "keep",
    "so", "that", "it", "for", "each", "in", "order", "to", "avoid", "with",
];

fn ident(rng: &mut Rng) -> String {
    let parts = 1 + rng.below(3);
    (0..parts)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join("_")
}

fn rust_file(rng: &mut Rng, target: usize) -> String {
    let mut out = String::with_capacity(target + 512);
    out.push_str("//! Module generated for benchmarks.\n\nuse std::collections::HashMap;\n\n");
    while out.len() < target {
        let doc: Vec<&str> = (0..6 + rng.below(10)).map(|_| rng.pick(PROSE)).collect();
        out.push_str(&format!("/// {}.\n", doc.join(" ")));
        let name = ident(rng);
        let arg = ident(rng);
        let ty = rng.pick(TYPES);
        out.push_str(&format!(
            "pub fn {name}({arg}: {ty}) -> Result<usize, Error> {{\n"
        ));
        for _ in 0..3 + rng.below(12) {
            let (a, b) = (ident(rng), ident(rng));
            match rng.below(4) {
                0 => out.push_str(&format!("    let {a} = {b}.len() + {};\n", rng.below(1000))),
                1 => out.push_str(&format!(
                    "    if {a} > {b} {{\n        return Ok({a});\n    }}\n"
                )),
                2 => out.push_str(&format!(
                    "    let mut {a}: HashMap<String, {ty}> = HashMap::new();\n"
                )),
                _ => out.push_str(&format!(
                    "    // {} {a}\n    {b}.push(\"{a}\");\n",
                    rng.pick(PROSE)
                )),
            }
        }
        out.push_str("    Ok(0)\n}\n\n");
    }
    out
}

fn python_file(rng: &mut Rng, target: usize) -> String {
    let mut out = String::with_capacity(target + 512);
    out.push_str("\"\"\"Module generated for benchmarks.\"\"\"\nimport os\n\n");
    while out.len() < target {
        let name = ident(rng);
        out.push_str(&format!(
            "class {}:\n",
            name.replace('_', "").to_uppercase()
        ));
        for _ in 0..1 + rng.below(4) {
            let (m, a) = (ident(rng), ident(rng));
            out.push_str(&format!("    def {m}(self, {a}=None):\n"));
            let doc: Vec<&str> = (0..5 + rng.below(8)).map(|_| rng.pick(PROSE)).collect();
            out.push_str(&format!("        \"\"\"{}.\"\"\"\n", doc.join(" ")));
            for _ in 0..2 + rng.below(6) {
                let (x, y) = (ident(rng), ident(rng));
                out.push_str(&format!(
                    "        {x} = self.{y}({a}, {})\n",
                    rng.below(100)
                ));
            }
            out.push_str(&format!("        return {a}\n\n"));
        }
    }
    out
}

/// Writes at least `min_files` files and `min_bytes` bytes under `dir`.
pub fn generate(dir: &Path, min_files: usize, min_bytes: usize) -> Generated {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (mut files, mut bytes) = (0, 0);
    while files < min_files || bytes < min_bytes {
        let sub = dir.join(format!("pkg{:03}/mod{:02}", files / 400, (files / 20) % 20));
        fs::create_dir_all(&sub).expect("create corpus directory");
        // Mostly small files with a long tail, like real repositories.
        let size = 600 + rng.below(6000) + if rng.below(20) == 0 { 40_000 } else { 0 };
        let (name, text) = if rng.below(2) == 0 {
            (format!("f{files}.rs"), rust_file(&mut rng, size))
        } else {
            (format!("f{files}.py"), python_file(&mut rng, size))
        };
        fs::write(sub.join(name), &text).expect("write corpus file");
        files += 1;
        bytes += text.len();
    }
    Generated { files, bytes }
}
