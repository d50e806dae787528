//! The layout of `src/` (docs/architecture.md): modules import only from lower layers, and no
//! files import each other in a circle. Read from the `crate::`, `super::` and child-module paths
//! in the source itself, so a new import that reaches back up fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import from its own layer's other modules only if no
/// circle results (checked below), and from every layer under it.
const LAYERS: &[&[&str]] = &[
    &["types", "tokens", "document", "output", "git"],
    &["secrets", "lang", "load", "walk"],
    &["cache", "rank", "render"],
    &["file"],
    &["fit", "plain"],
    &["plan", "diff"],
    &["pack", "inspect"],
    &["handoff", "mcp"],
    &["cli"],
    &["config"],
    &["commands"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every Rust file under `src/` except the build script, with its module path (`fit::budget`;
/// `lib` for the crate root).
fn modules() -> BTreeMap<String, PathBuf> {
    fn visit(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, PathBuf>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut inner = prefix.to_vec();
                inner.push(name);
                visit(&path, &inner, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.to_vec();
                match name.as_str() {
                    "mod" => {}
                    "lib" if prefix.is_empty() => module.push("lib".into()),
                    "main" | "build" if prefix.is_empty() => continue,
                    _ => module.push(name),
                }
                out.insert(module.join("::"), path);
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(&src(), &[], &mut out);
    out
}

/// The code of a file without comments, string literals and character literals (a path in a doc
/// comment or a message is not an import).
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(hashes) = raw_string_start(rest) {
            // r"..." or r#"..."#: ends at the quote followed by as many hashes.
            let open = 2 + hashes;
            let close = format!("\"{}", "#".repeat(hashes));
            i += rest[open..]
                .find(&close)
                .map_or(rest.len(), |end| open + end + close.len());
        } else if rest.starts_with('"') {
            let bytes = rest.as_bytes();
            let mut j = 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            i += (j + 1).min(rest.len());
        } else if let Some(len) = char_literal(rest) {
            i += len;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"` or `r#"` (with that many `#`) at the start of `rest`, not inside an identifier.
fn raw_string_start(rest: &str) -> Option<usize> {
    let after = rest.strip_prefix('r')?;
    let hashes = after.len() - after.trim_start_matches('#').len();
    after[hashes..].starts_with('"').then_some(hashes)
}

/// The length of a character literal (`'x'`, `'\n'`, `'\u{1F600}'`, `'"'`) at the start of
/// `rest`; `None` for a lifetime (`'a`).
fn char_literal(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix('\'')?;
    if let Some(escaped) = body.strip_prefix('\\') {
        let end = escaped.find('\'')?;
        return Some(1 + 1 + end + 1);
    }
    let c = body.chars().next()?;
    body[c.len_utf8()..]
        .starts_with('\'')
        .then_some(1 + c.len_utf8() + 1)
}

/// The module paths a file names: `crate::a::b` (with grouped `use crate::{a, b::c}`),
/// `super::x`, and `x::` for a child module `x` it declares.
fn named_paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let own: Vec<String> = if module == "lib" {
        Vec::new()
    } else {
        module.split("::").map(String::from).collect()
    };
    let mut found = Vec::new();
    let idents = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|p| !p.is_empty())
            .collect()
    };
    // Grouped imports: `crate::{a::X, b}` and `super::{x, y}`.
    let mut expand = |base: Vec<String>, rest: &str| {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let mut path = base.clone();
                        path.extend(idents(item.trim()));
                        found.push(path);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            let mut path = base.clone();
            path.extend(idents(item.trim()));
            found.push(path);
        } else {
            let mut path = base;
            path.extend(idents(rest));
            found.push(path);
        }
    };
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        expand(Vec::new(), &code[at + "crate::".len()..]);
    }
    for (at, _) in code.match_indices("super::") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        // `super` of a file module is its parent; a `mod.rs` file is its directory's module.
        let mut base = own.clone();
        base.pop();
        expand(base, &code[at + "super::".len()..]);
    }
    // Child modules named by a relative path in a `use` (`use syntax::NoTree;`).
    let children: Vec<String> = code
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            line.strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
                .map(str::to_string)
        })
        .collect();
    // Whole `use` statements, which may span lines.
    for statement in code.split(';') {
        let statement = statement.trim();
        let statement = statement.strip_prefix("pub ").unwrap_or(statement);
        if let Some(rest) = statement.strip_prefix("use ") {
            let rest: String = rest.split_whitespace().collect();
            for child in &children {
                if rest.starts_with(&format!("{child}::")) {
                    let mut base = own.clone();
                    base.push(child.clone());
                    expand(base, &rest[child.len() + 2..]);
                }
            }
        }
    }
    found
}

/// The file a module path lands in: the longest prefix that is a module.
fn resolve(path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

fn parent(module: &str) -> Option<&str> {
    module.rsplit_once("::").map(|(p, _)| p)
}

/// File-level imports: module → the modules it names, other than itself. An import between a
/// directory's `mod.rs` and a file directly inside it is the directory's own business (the parent
/// holds shared types, the children the work) and is left out.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut graph = BTreeMap::new();
    for (module, path) in &modules {
        let code = code_of(&fs::read_to_string(path).expect("read a source file"));
        let mut targets = BTreeSet::new();
        for named in named_paths(module, &code) {
            let Some(target) = resolve(&named, &modules) else {
                continue;
            };
            let family =
                parent(&target) == Some(module.as_str()) || parent(module) == Some(target.as_str());
            if target != *module && target != "lib" && !family {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// Strongly connected components of more than one module (Tarjan's algorithm).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn connect<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                connect(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            connect(&mut state, v);
        }
    }
    state.found
}

#[test]
fn no_two_modules_import_each_other_in_a_circle() {
    let graph = imports();
    assert!(graph.len() > 30, "the source was not found: {graph:?}");
    let found = circles(&graph);
    assert!(found.is_empty(), "import circles: {found:?}");
}

#[test]
fn modules_import_only_from_their_layer_and_below() {
    let layer_of = |module: &str| {
        let top = module.split("::").next().unwrap();
        LAYERS.iter().position(|layer| layer.contains(&top))
    };
    let mut wrong = Vec::new();
    for (module, targets) in imports() {
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            wrong.push(format!(
                "{module} is in no layer: add it to LAYERS and docs/architecture.md"
            ));
            continue;
        };
        for target in targets {
            match layer_of(&target) {
                Some(layer) if layer <= own => {}
                _ => wrong.push(format!("{module} imports {target}, from a higher layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The check can fail: a circle made of two modules that name each other is found.
#[test]
fn the_circle_check_finds_a_circle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(circles(&graph), [["a", "b", "c"]]);
    let code = code_of(
        "use crate::{walk::Entry, load};\n// crate::pack\nlet s = \"crate::x\";\nlet q = '\"';\n\
         /* crate::plan */ let r = r#\"crate::diff\"#;\nfn f<'a>(x: &'a str) { crate::git::Git; }\n",
    );
    let named = named_paths("fit::budget", &code);
    assert_eq!(
        named,
        [vec!["walk", "Entry"], vec!["load"], vec!["git", "Git"]]
    );
}
