//! The symbol table of one file: definitions (with their enclosing scope) and references.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use tree_sitter::{Node, QueryCursor, QueryCursorOptions, QueryCursorState, StreamingIterator};

use super::syntax::{NoTree, Parsed, WorkLimit};

/// A named definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub name: String,
    /// `function`, `method`, `class`, `interface`, `module`, `impl`, `constant`, ...
    pub kind: String,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
    /// The name of the enclosing definition (class, impl, module, receiver type), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Depth of nesting among this file's definitions (0 = top level).
    #[serde(skip)]
    pub depth: usize,
    /// Byte range of the whole definition.
    #[serde(skip)]
    pub bytes: std::ops::Range<usize>,
    /// Byte offset of its name.
    #[serde(skip)]
    pub name_start: usize,
}

/// An identifier used in the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reference {
    pub name: String,
    /// `call`, `type`, `import`, `field`, ... as the tags query says.
    pub kind: String,
    /// 1-based line of the first use of this name with this kind.
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileSymbols {
    pub definitions: Vec<Definition>,
    pub references: Vec<Reference>,
}

/// Kinds that say more than `function` about the same node (tree-sitter-rust's tags report a
/// method both ways).
fn specificity(kind: &str) -> u8 {
    match kind {
        "method" => 2,
        "function" => 1,
        _ => 0,
    }
}

/// Extracts definitions and references with the grammar's tags query. Err when the query needed
/// more work than its bound (pathological input).
pub fn extract(parsed: &Parsed, text: &str) -> Result<FileSymbols, NoTree> {
    run(parsed, text, parsed.grammar.tags())
}

/// Extracts definitions only (`references` stays empty): what an outline needs.
pub fn definitions(parsed: &Parsed, text: &str) -> Result<FileSymbols, NoTree> {
    run(parsed, text, parsed.grammar.definitions())
}

fn run(parsed: &Parsed, text: &str, query: &tree_sitter::Query) -> Result<FileSymbols, NoTree> {
    let names = query.capture_names();
    let bytes = text.as_bytes();
    let mut cursor = QueryCursor::new();
    cursor.set_match_limit(1 << 16);
    let mut work = WorkLimit::for_query(text.len());
    let mut progress = |_: &QueryCursorState| work.tick();

    let mut definitions: HashMap<usize, (Definition, u8)> = HashMap::new();
    let mut references: BTreeSet<(String, String, usize)> = BTreeSet::new();
    let mut matches = cursor.matches_with_options(
        query,
        parsed.tree.root_node(),
        bytes,
        QueryCursorOptions::new().progress_callback(&mut progress),
    );
    while let Some(found) = matches.next() {
        let mut name: Option<Node<'_>> = None;
        let mut role: Option<(Node<'_>, bool, &str)> = None;
        for capture in found.captures() {
            let capture_name = names[capture.index as usize];
            if capture_name == "name" {
                name = Some(capture.node);
            } else if let Some(kind) = capture_name.strip_prefix("definition.") {
                role = Some((capture.node, true, kind));
            } else if let Some(kind) = capture_name.strip_prefix("reference.") {
                role = Some((capture.node, false, kind));
            }
        }
        let (Some(name), Some((node, is_definition, kind))) = (name, role) else {
            continue;
        };
        let Ok(name_text) = name.utf8_text(bytes) else {
            continue;
        };
        let name_text = clean_name(name_text);
        if name_text.is_empty() {
            continue;
        }
        if is_definition {
            // A node that ends at the start of a line (`#define` takes its newline) ends on the
            // line before.
            let end = node.end_position();
            let end_row = if end.column == 0 && end.row > node.start_position().row {
                end.row - 1
            } else {
                end.row
            };
            let definition = Definition {
                name: name_text.to_string(),
                kind: kind.to_string(),
                start_line: node.start_position().row + 1,
                end_line: end_row + 1,
                scope: declared_scope(node, name, bytes),
                depth: 0,
                bytes: node.byte_range(),
                name_start: name.start_byte(),
            };
            let rank = specificity(kind);
            match definitions.get(&node.id()) {
                Some((_, existing)) if *existing >= rank => {}
                _ => {
                    definitions.insert(node.id(), (definition, rank));
                }
            }
        } else {
            references.insert((
                name_text.to_string(),
                kind.to_string(),
                node.start_position().row + 1,
            ));
        }
    }

    drop(matches);
    if work.exceeded() || cursor.did_exceed_match_limit() {
        return Err(NoTree::TimedOut);
    }
    let mut definitions: Vec<Definition> = definitions.into_values().map(|(d, _)| d).collect();
    // Outer definitions first at equal starts, so that the scope stack sees them first.
    definitions.sort_by(|a, b| {
        a.bytes
            .start
            .cmp(&b.bytes.start)
            .then(b.bytes.end.cmp(&a.bytes.end))
            .then(a.name.cmp(&b.name))
    });
    assign_scopes(&mut definitions);

    // One reference per (name, kind), at its first line.
    let mut first: HashMap<(String, String), usize> = HashMap::new();
    for (name, kind, line) in references {
        let entry = first.entry((name, kind)).or_insert(line);
        *entry = (*entry).min(line);
    }
    let mut references: Vec<Reference> = first
        .into_iter()
        .map(|((name, kind), line)| Reference { name, kind, line })
        .collect();
    references.sort_by(|a, b| (a.line, &a.name, &a.kind).cmp(&(b.line, &b.name, &b.kind)));
    Ok(FileSymbols {
        definitions,
        references,
    })
}

/// Names as a reader would write them: Rust impl targets lose their generics
/// (`Client<T>` → `Client`), qualified names keep their last segment.
fn clean_name(raw: &str) -> &str {
    let mut name = raw.trim();
    // `operator<<`, `operator+` and `operator<=` are names, not generics or sums.
    if name.starts_with("operator")
        && !name[8..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    {
        return name;
    }
    name = name.split('<').next().unwrap_or(name);
    // References, pointers, lifetimes and qualifiers in front of an impl target:
    // `&'a mut Bar`, `*const Raw`, `dyn Trait`.
    loop {
        let before = name;
        name = name.trim_start_matches(['&', '*']).trim_start();
        if let Some(rest) = name.strip_prefix('\'') {
            name = rest
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r)
                .trim_start();
        }
        for qualifier in ["mut ", "const ", "dyn ", "impl "] {
            if let Some(rest) = name.strip_prefix(qualifier) {
                name = rest.trim_start();
            }
        }
        if name == before {
            break;
        }
    }
    let name = name
        .split(|c: char| c.is_whitespace() || c == '+')
        .next()
        .unwrap_or(name);
    name.rsplit("::").next().unwrap_or(name)
}

/// A scope the definition declares itself, outside any nesting: a Go method's receiver type
/// (`func (c *Client) Get()` → `Client`), or a C++ qualified name (`Registry::get` → `Registry`).
fn declared_scope(node: Node<'_>, name: Node<'_>, bytes: &[u8]) -> Option<String> {
    if let Some(qualified) = name.parent().filter(|p| p.kind() == "qualified_identifier") {
        let scope = qualified
            .child_by_field_name("scope")?
            .utf8_text(bytes)
            .ok()?;
        let scope = clean_name(scope);
        return (!scope.is_empty()).then(|| scope.to_string());
    }
    let receiver = node.child_by_field_name("receiver")?;
    let text = receiver.utf8_text(bytes).ok()?;
    let inner = text.trim_matches(|c| c == '(' || c == ')').trim();
    let type_text = inner.rsplit(' ').next()?.trim_start_matches('*');
    let type_name = type_text.split('[').next()?.trim();
    (!type_name.is_empty()).then(|| type_name.to_string())
}

/// Gives every definition without one the name of the innermost definition containing it.
fn assign_scopes(definitions: &mut [Definition]) {
    let mut stack: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for definition in definitions.iter_mut() {
        while let Some((range, _)) = stack.last() {
            if definition.bytes.start >= range.start && definition.bytes.end <= range.end {
                break;
            }
            stack.pop();
        }
        definition.depth = stack.len();
        if definition.scope.is_none() {
            definition.scope = stack.last().map(|(_, name)| name.clone());
        }
        stack.push((definition.bytes.clone(), definition.name.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::syntax::parse;
    use crate::lang::Language;

    #[test]
    fn rust_methods_get_their_impl_as_scope() {
        let text = "struct Client;\nimpl Client {\n    pub fn new() -> Self { Client }\n}\nfn main() { Client::new(); }\n";
        let parsed = parse(Language::Rust, text).unwrap();
        let symbols = extract(&parsed, text).unwrap();
        let new = symbols
            .definitions
            .iter()
            .find(|d| d.name == "new")
            .expect("new is defined");
        assert_eq!(new.kind, "method");
        assert_eq!(new.scope.as_deref(), Some("Client"));
        assert_eq!((new.start_line, new.end_line), (3, 3));
        assert!(symbols.references.iter().any(|r| r.name == "new"));
    }

    #[test]
    fn impl_targets_lose_references_lifetimes_and_qualifiers() {
        assert_eq!(clean_name("&'a Bar"), "Bar");
        assert_eq!(clean_name("&mut Mut"), "Mut");
        assert_eq!(clean_name("*const Raw"), "Raw");
        assert_eq!(clean_name("Client<T>"), "Client");
        assert_eq!(clean_name("dyn Trait + 'static"), "Trait");
        assert_eq!(clean_name("a::b::Thing"), "Thing");
    }
}
