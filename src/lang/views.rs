//! The compressed and outline views of a file, and the head-of-file fallback.

use tree_sitter::{QueryCursor, QueryCursorOptions, QueryCursorState, StreamingIterator};

use super::grammar::{BodyRule, BodyStyle};
use super::symbols::{Definition, FileSymbols};
use super::syntax::{NoTree, Parsed, WorkLimit};
use super::Language;

/// A function body the compressed view elides.
struct Body {
    bytes: std::ops::Range<usize>,
    start_row: usize,
    end_row: usize,
    /// Python: the docstring statement that opens the body, kept in the compressed view.
    docstring: Option<std::ops::Range<usize>>,
}

/// The outermost bodies, in order (nested functions disappear with their parent's body). Short
/// one-line bodies are left out unless `all`: they cost less than a placeholder.
fn bodies(parsed: &Parsed, text: &str, all: bool) -> Vec<Body> {
    let found = walk_bodies(parsed, &parsed.grammar.body_rules);
    let mut outermost: Vec<Body> = Vec::with_capacity(found.len());
    for node in found {
        let (start_row, end_row) = (node.start_position().row, node.end_position().row);
        // A short one-line body costs less than its placeholder.
        if !all && end_row == start_row && node.byte_range().len() < 120 {
            continue;
        }
        let docstring = node
            .named_child(0)
            .filter(|first| {
                first.kind() == "expression_statement"
                    && first.named_child(0).is_some_and(|s| {
                        // A plain or raw string, not an f-string or bytes literal.
                        s.kind() == "string"
                            && text[s.byte_range()]
                                .trim_start_matches(['r', 'R', 'u', 'U'])
                                .starts_with(['"', '\''])
                    })
            })
            .map(|first| first.byte_range());
        outermost.push(Body {
            bytes: node.byte_range(),
            start_row,
            end_row,
            docstring,
        });
    }
    outermost
}

/// The outermost bodies the rules describe, in document order: a walk of the tree that does not
/// enter a body once found.
pub fn walk_bodies<'t>(parsed: &'t Parsed, rules: &[BodyRule]) -> Vec<tree_sitter::Node<'t>> {
    let mut found = Vec::new();
    let mut cursor = parsed.tree.walk();
    // Kinds of the nodes above the cursor.
    let mut parents: Vec<u16> = Vec::new();
    loop {
        let node = cursor.node();
        let is_body = parents.last().is_some_and(|&parent| {
            cursor.field_id().is_some_and(|field| {
                rules.iter().any(|r| {
                    r.field == field.get()
                        && r.children.contains(&node.kind_id())
                        && r.parents.contains(&parent)
                })
            })
        });
        if is_body {
            found.push(node);
        } else if cursor.goto_first_child() {
            parents.push(node.kind_id());
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return found;
            }
            parents.pop();
        }
    }
}

/// The bodies the compress query matches, nested ones included, sorted by start (outer first at
/// equal starts): what the tests check the walk against. Err when the query needed more work than
/// its bound.
pub fn query_bodies<'t>(
    parsed: &'t Parsed,
    text: &str,
) -> Result<Vec<tree_sitter::Node<'t>>, NoTree> {
    let Some(query) = parsed.grammar.compress() else {
        return Ok(Vec::new());
    };
    let mut cursor = QueryCursor::new();
    cursor.set_match_limit(1 << 16);
    let mut work = WorkLimit::for_query(text.len());
    let mut progress = |_: &QueryCursorState| work.tick();
    let mut found = Vec::new();
    // Unordered matches are cheaper than ordered captures; the bodies are sorted below.
    let mut matches = cursor.matches_with_options(
        query,
        parsed.tree.root_node(),
        text.as_bytes(),
        QueryCursorOptions::new().progress_callback(&mut progress),
    );
    while let Some(matched) = matches.next() {
        if let Some(capture) = matched.captures().first() {
            found.push(capture.node);
        }
    }
    drop(matches);
    if work.exceeded() || cursor.did_exceed_match_limit() {
        return Err(NoTree::TimedOut);
    }
    found.sort_by_key(|n| (n.start_byte(), std::cmp::Reverse(n.end_byte())));
    found.dedup_by_key(|n| n.id());
    Ok(found)
}

fn lines(n: usize) -> String {
    if n == 1 {
        "1 line".to_string()
    } else {
        format!("{n} lines")
    }
}

/// The compressed view: everything but function bodies, which become a placeholder that stays
/// valid in the language and says how many lines it stands for.
pub fn compressed(parsed: &Parsed, text: &str) -> String {
    let mut out = String::with_capacity(text.len() / 3);
    let mut copied = 0;
    for body in bodies(parsed, text, false) {
        let count = body.end_row - body.start_row + 1;
        let placeholder = match parsed.grammar.body_style {
            BodyStyle::Braces => format!("{{ /* … {} */ }}", lines(count)),
            BodyStyle::Bash => format!("{{ : '… {}'; }}", lines(count)),
            BodyStyle::Ruby => {
                // A comment runs to the end of its line: end the line so that code after the body
                // (`; end`, ` end`) is not swallowed.
                let newline = if text[body.bytes.end..].starts_with(['\n', '\r']) {
                    ""
                } else {
                    "\n"
                };
                format!("# … {}{newline}", lines(count))
            }
            BodyStyle::Python => {
                let line_start = text[..body.bytes.start].rfind('\n').map_or(0, |i| i + 1);
                let indent = &text[line_start..body.bytes.start];
                match &body.docstring {
                    Some(doc) if doc.end >= body.bytes.end => continue, // only a docstring
                    Some(doc) if indent.chars().all(char::is_whitespace) => {
                        let doc_lines = text[doc.clone()].lines().count().max(1);
                        format!(
                            "{}\n{indent}...  # … {}",
                            &text[doc.clone()],
                            lines(count.saturating_sub(doc_lines))
                        )
                    }
                    _ => format!("...  # … {}", lines(count)),
                }
            }
        };
        out.push_str(&text[copied..body.bytes.start]);
        out.push_str(&placeholder);
        copied = body.bytes.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Nesting deeper than this is shown at this depth: indentation must not outgrow the file.
const MAX_INDENT: usize = 8;
/// At most this many definitions per file; a note counts the rest.
const MAX_DEFINITIONS: usize = 2_000;

/// The outline view: one line per definition (its signature, or kind and name) led by its line
/// range, indented by nesting. Markdown gets its headings.
pub fn outline(parsed: &Parsed, text: &str, symbols: &FileSymbols) -> String {
    if parsed.grammar.has_headings() {
        return headings(parsed, text);
    }
    let bodies = bodies(parsed, text, true);
    let definitions = &symbols.definitions;
    let mut out = String::new();
    for (i, definition) in definitions.iter().enumerate().take(MAX_DEFINITIONS) {
        let range = &definition.bytes;
        // A body belongs to this definition only if no nested definition starts before it.
        let nested_start = definitions
            .get(i + 1)
            .map(|d| d.bytes.start)
            .filter(|&start| start < range.end)
            .unwrap_or(range.end);
        let first_body = bodies.partition_point(|b| b.bytes.start < range.start);
        let body_start = bodies
            .get(first_body)
            .map(|b| b.bytes.start)
            .filter(|&start| {
                // A parent's body can start exactly where this definition starts (a nested
                // function as its first statement): a body of this definition follows its name.
                start > definition.name_start && start <= nested_start && start < range.end
            });
        // The signature starts on the line of the name: annotations and attributes above it
        // (`@Override`, `#[test]`, `[HttpGet]`) are not part of it.
        let name_line_start = text[..definition.name_start.max(range.start)]
            .rfind('\n')
            .map_or(0, |i| i + 1)
            .max(range.start);
        let first_line_end = text[name_line_start..range.end]
            .find('\n')
            .map_or(range.end, |i| name_line_start + i);
        // The header ends where the body starts, but only runs past its first line when the
        // first line leaves a parenthesis open (parameters over several lines).
        let first_line = &text[name_line_start..first_line_end];
        let open_parens = first_line.matches('(').count() > first_line.matches(')').count();
        let end = match body_start {
            Some(start) if start >= name_line_start && (start <= first_line_end || open_parens) => {
                start
            }
            _ => first_line_end,
        };
        let signature = compact_signature(&text[name_line_start..end], definition);
        // A name on a closing line (`} buffer;` ends a C typedef) is not a signature.
        let label = if signature.contains(definition.name.as_str()) && !signature.starts_with('}') {
            signature
        } else {
            format!("{} {}", definition.kind, definition.name)
        };
        for _ in 0..definition.depth.min(MAX_INDENT) {
            out.push_str("  ");
        }
        // The line range leads: `12-40 fn f(…)` costs three tokens fewer than a trailing
        // `  L12-40`, and the outline is meant to be cheap.
        if definition.start_line == definition.end_line {
            out.push_str(&format!("{} ", definition.start_line));
        } else {
            out.push_str(&format!(
                "{}-{} ",
                definition.start_line, definition.end_line
            ));
        }
        out.push_str(&label);
        out.push('\n');
    }
    if definitions.len() > MAX_DEFINITIONS {
        out.push_str(&format!(
            "… {} more definitions\n",
            definitions.len() - MAX_DEFINITIONS
        ));
    }
    out
}

/// Markdown headings as `12 ## Title`.
fn headings(parsed: &Parsed, text: &str) -> String {
    let Some(query) = parsed.grammar.headings() else {
        return String::new();
    };
    let bytes = text.as_bytes();
    let mut cursor = QueryCursor::new();
    cursor.set_match_limit(1 << 16);
    let mut out = String::new();
    let mut matches = cursor.matches(query, parsed.tree.root_node(), bytes);
    while let Some(found) = matches.next() {
        for capture in found.captures() {
            let node = capture.node;
            let mut level = 1;
            let mut cursor = node.walk();
            for child in node.children(&mut cursor) {
                let kind = child.kind();
                if let Some(digit) = kind
                    .strip_prefix("atx_h")
                    .or_else(|| kind.strip_prefix("setext_h"))
                    .and_then(|rest| rest.chars().next())
                    .and_then(|c| c.to_digit(10))
                {
                    level = digit as usize;
                }
            }
            let title = node
                .child_by_field_name("heading_content")
                .and_then(|c| c.utf8_text(bytes).ok())
                .unwrap_or("");
            let title = collapse(title.trim().trim_end_matches('#'));
            out.push_str(&format!("{} ", node.start_position().row + 1));
            out.push_str(&"#".repeat(level));
            out.push(' ');
            out.push_str(title.trim());
            out.push('\n');
        }
    }
    out
}

/// How many lines, at most, the head-of-file fallback keeps.
const HEAD_LINES: usize = 30;
/// How many bytes, at most, the head-of-file fallback keeps.
const HEAD_BYTES: usize = 2048;

/// The fallback compressed view, for files without a clean syntax tree: the head of the file and a
/// note saying how much was left out.
pub fn head(language: Language, text: &str) -> String {
    let mut end = 0;
    let mut kept_lines = 0;
    for line in text.split_inclusive('\n') {
        if kept_lines == HEAD_LINES || end + line.len() > HEAD_BYTES {
            break;
        }
        end += line.len();
        kept_lines += 1;
    }
    if end == text.len() {
        return text.to_string();
    }
    if kept_lines == 0 {
        // One enormous first line (minified code): cut it at a character boundary.
        end = text.floor_char_boundary(HEAD_BYTES);
    }
    let rest = &text[end..];
    let (open, close) = comment_delimiters(language);
    let mut out = text[..end].to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let lines_left = rest.lines().count();
    let what = if kept_lines == 0 || lines_left <= 1 {
        format!("{} more bytes", rest.len())
    } else {
        format!("{lines_left} more lines")
    };
    out.push_str(&format!(
        "{open}… {what} not shown (compressed view){close}\n"
    ));
    out
}

fn comment_delimiters(language: Language) -> (&'static str, &'static str) {
    use Language::*;
    match language {
        Rust | JavaScript | TypeScript | Tsx | Go | Java | C | Cpp | CSharp | Php | Kotlin
        | Swift | Scala | Dart | Zig | Protobuf | Graphql => ("// ", ""),
        Python | Ruby | Bash | Yaml | Toml | Perl | R | Elixir | Nix | Dockerfile | Makefile
        | Cmake | Ini => ("# ", ""),
        Sql | Lua | Haskell => ("-- ", ""),
        Markdown | Html | Xml | Vue | Svelte => ("<!-- ", " -->"),
        Css => ("/* ", " */"),
        OCaml => ("(* ", " *)"),
        Erlang => ("% ", ""),
        _ => ("[", "]"),
    }
}

/// Collapses runs of white space (signatures that span lines) into single spaces.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Signatures longer than this lose their parameter list (`fn f(…) -> T`).
const SIGNATURE_CHARS: usize = 48;
/// And are cut here if they are still too long.
const SIGNATURE_MAX_CHARS: usize = 72;

/// A signature as one short line: white space collapsed, the opening `{`/`:` and any Rust `where`
/// clause dropped, and, when long, the parameters elided. The outline is a map, not an API
/// reference: the compressed view has the full signatures.
fn compact_signature(header: &str, definition: &Definition) -> String {
    let name = definition.name.as_str();
    let mut signature = collapse(header);
    // A Rust `where` clause is not part of the map, nor the value of a constant or alias; a
    // function assigned to a name (`const f = (x) => …`) keeps its parameters.
    let is_function = matches!(definition.kind.as_str(), "function" | "method");
    if let Some(at) = signature.find(" where ") {
        signature.truncate(at);
    }
    if !is_function {
        if let Some(at) = signature.find(" = ") {
            signature.truncate(at);
        }
    }
    let signature = signature
        .trim_end_matches(['{', ':', ' ', '(', ';'])
        .trim_end()
        .trim_end_matches("=>")
        .trim_end();
    if signature.chars().count() <= SIGNATURE_CHARS {
        return signature.to_string();
    }
    let elided = elide_parameters(signature, name);
    truncate(&elided, SIGNATURE_MAX_CHARS)
}

/// Replaces the contents of the first balanced `(...)` after `name` with `…`.
fn elide_parameters(signature: &str, name: &str) -> String {
    let after_name = signature.find(name).map_or(0, |at| at + name.len());
    let Some(open) = signature[after_name..].find('(').map(|at| after_name + at) else {
        return signature.to_string();
    };
    let mut depth = 0usize;
    for (i, c) in signature[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let close = open + i;
                    if close == open + 1 {
                        return signature.to_string();
                    }
                    return format!("{}…{}", &signature[..=open], &signature[close..]);
                }
            }
            _ => {}
        }
    }
    signature.to_string()
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::symbols::extract;
    use crate::lang::syntax::{parse, parse_clean};

    #[test]
    fn rust_bodies_become_placeholders_that_parse() {
        let text = "/// Adds.\npub fn add(a: u32, b: u32) -> u32 {\n    let c = a + b;\n    c\n}\n\nfn one() -> u32 { 1 }\n";
        let parsed = parse_clean(Language::Rust, text).unwrap();
        let view = compressed(&parsed, text);
        assert_eq!(
            view,
            "/// Adds.\npub fn add(a: u32, b: u32) -> u32 { /* … 4 lines */ }\n\nfn one() -> u32 { 1 }\n"
        );
        assert!(parse_clean(Language::Rust, &view).is_ok());
    }

    #[test]
    fn python_keeps_the_docstring() {
        let text = "class A:\n    def f(self, x):\n        \"\"\"Doubles x.\"\"\"\n        y = x * 2\n        return y\n";
        let parsed = parse_clean(Language::Python, text).unwrap();
        let view = compressed(&parsed, text);
        assert_eq!(
            view,
            "class A:\n    def f(self, x):\n        \"\"\"Doubles x.\"\"\"\n        ...  # … 2 lines\n"
        );
        assert!(parse_clean(Language::Python, &view).is_ok());
        let symbols = extract(&parsed, text).unwrap();
        assert_eq!(
            outline(&parsed, text, &symbols),
            "1-5 class A\n  2-5 def f(self, x)\n"
        );
    }

    #[test]
    fn head_keeps_the_start_and_says_what_is_missing() {
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let view = head(Language::Python, &text);
        assert!(view.starts_with("line 1\nline 2\n"));
        assert!(view.ends_with("# … 70 more lines not shown (compressed view)\n"));
        let minified = "x".repeat(10_000);
        let view = head(Language::JavaScript, &minified);
        assert!(view.len() < 2200);
        assert!(
            view.ends_with("// … 7952 more bytes not shown (compressed view)\n"),
            "{view}"
        );
        assert_eq!(head(Language::Text, "short\n"), "short\n");
    }

    #[test]
    fn markdown_outline_lists_headings() {
        let text = "# Title\n\nText.\n\n## Part one ##\n\n```\n# not a heading\n```\n\nSub\n---\n";
        let parsed = parse(Language::Markdown, text).unwrap();
        let symbols = extract(&parsed, text).unwrap();
        assert_eq!(
            outline(&parsed, text, &symbols),
            "1 # Title\n5 ## Part one\n11 ## Sub\n"
        );
    }
}
