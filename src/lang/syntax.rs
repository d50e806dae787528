//! Parsing with tree-sitter: one parser per thread and language, bounded in time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use tree_sitter::{ParseOptions, ParseState, Parser, Tree};

use super::grammar::{grammar, Grammar};
use super::Language;

/// Why a file has no usable syntax tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTree {
    /// ctxpack has no grammar for the language.
    Unsupported,
    /// Parsing took longer than its budget (minified or pathological input).
    TimedOut,
    /// The tree has syntax errors.
    SyntaxErrors,
    /// Minified or generated code: lines far longer than anyone writes by hand. Its views would
    /// be as large as the file and useless to a reader.
    Minified,
}

impl NoTree {
    /// The name the document and the stderr report use.
    pub fn name(self) -> &'static str {
        match self {
            NoTree::Unsupported => "unsupported-language",
            NoTree::TimedOut => "parse-timeout",
            NoTree::SyntaxErrors => "syntax-errors",
            NoTree::Minified => "minified",
        }
    }
}

/// A parsed file.
pub struct Parsed {
    pub grammar: &'static Grammar,
    pub tree: Tree,
}

thread_local! {
    static PARSERS: RefCell<HashMap<Language, Parser>> = RefCell::new(HashMap::new());
}

/// How long parsing `len` bytes may take: generous for ordinary files (tree-sitter parses several
/// MB/s), but bounded for pathological ones.
pub fn parse_budget(len: usize) -> Duration {
    Duration::from_millis(500 + (len as u64 / 2000))
}

/// Parses `text`. A tree with syntax errors is returned as such (`Err(SyntaxErrors)` only comes
/// from [`parse_clean`]).
pub fn parse(language: Language, text: &str) -> Result<Parsed, NoTree> {
    let grammar = grammar(language).ok_or(NoTree::Unsupported)?;
    let deadline = Instant::now() + parse_budget(text.len());
    PARSERS.with(|parsers| {
        let mut parsers = parsers.borrow_mut();
        let parser = match parsers.entry(language) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut parser = Parser::new();
                // Every grammar's ABI is checked by a unit test; a mismatch here is a build bug.
                parser
                    .set_language(&grammar.language)
                    .map_err(|_| NoTree::Unsupported)?;
                e.insert(parser)
            }
        };
        let bytes = text.as_bytes();
        // tree-sitter calls back every hundred or so parser operations; reading the clock on
        // every call would cost a measurable share of the parse, so read it every 64th.
        let mut calls = 0u32;
        let mut progress = |_: &ParseState| {
            calls = calls.wrapping_add(1);
            if calls.is_multiple_of(64) && Instant::now() >= deadline {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let tree = parser.parse_with_options(
            &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
            None,
            Some(ParseOptions::new().progress_callback(&mut progress)),
        );
        match tree {
            Some(tree) => Ok(Parsed { grammar, tree }),
            None => {
                // An aborted parse would otherwise resume on the next call.
                parser.reset();
                Err(NoTree::TimedOut)
            }
        }
    })
}

/// Whether `text` looks minified: over 10 KB with an average line above 300 bytes.
pub fn looks_minified(text: &str) -> bool {
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    text.len() > 10_000 && text.len() / lines > 300
}

/// Parses `text` and insists on a tree without syntax errors, from a file that is not minified.
pub fn parse_clean(language: Language, text: &str) -> Result<Parsed, NoTree> {
    if looks_minified(text) {
        return Err(NoTree::Minified);
    }
    let parsed = parse(language, text)?;
    if parsed.tree.root_node().has_error() {
        return Err(NoTree::SyntaxErrors);
    }
    Ok(parsed)
}

/// The number of ERROR and MISSING nodes in a tree, counted without recursion (trees can be deep).
pub fn error_count(tree: &Tree) -> usize {
    let root = tree.root_node();
    if !root.has_error() {
        return 0;
    }
    let mut cursor = root.walk();
    let mut count = 0;
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            count += 1;
        }
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_and_broken_sources() {
        assert!(parse_clean(Language::Rust, "fn main() { let x = 1; }\n").is_ok());
        let broken = parse(Language::Rust, "fn main( { let = ; }\n").unwrap();
        assert!(error_count(&broken.tree) > 0);
        assert!(matches!(
            parse_clean(Language::Rust, "fn main( {"),
            Err(NoTree::SyntaxErrors)
        ));
        assert!(matches!(
            parse(Language::Json, "{}"),
            Err(NoTree::Unsupported)
        ));
    }

    #[test]
    fn deep_nesting_neither_overflows_nor_hangs() {
        let depth = 50_000;
        let text = format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
        let started = Instant::now();
        if let Ok(parsed) = parse(Language::Python, &text) {
            error_count(&parsed.tree);
        }
        assert!(started.elapsed() < parse_budget(text.len()) + Duration::from_secs(5));
    }
}
