//! Parsing with tree-sitter: one parser per thread and language, bounded in time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::ControlFlow;

use tree_sitter::{ParseOptions, ParseState, Parser, Tree};

use super::grammar::{grammar, Grammar};
use super::Language;

/// Why a file has no usable syntax tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTree {
    /// ctxpack has no grammar for the language.
    Unsupported,
    /// Parsing or a query needed more work than its bound (pathological input).
    TimedOut,
    /// The tree has syntax errors.
    SyntaxErrors,
}

impl NoTree {
    /// The name the document and the stderr report use.
    pub fn name(self) -> &'static str {
        match self {
            NoTree::Unsupported => "unsupported-language",
            NoTree::TimedOut => "too-complex",
            NoTree::SyntaxErrors => "syntax-errors",
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

/// A bound on the work tree-sitter may do for one file, counted in its progress callbacks
/// rather than in seconds, so that the same input always gives the same result whatever the
/// machine's load or the thread count.
pub struct WorkLimit {
    calls: u64,
    limit: u64,
    exceeded: bool,
}

impl WorkLimit {
    /// Parsing calls back about every hundred parser operations; ordinary code needs around one
    /// callback per 40 bytes, so this leaves a wide margin and stops only pathological input.
    pub fn for_parse(len: usize) -> WorkLimit {
        WorkLimit::new(20_000 + len as u64 / 2)
    }

    /// Query cursors call back as they advance through the tree.
    pub fn for_query(len: usize) -> WorkLimit {
        WorkLimit::new(50_000 + len as u64 * 2)
    }

    fn new(limit: u64) -> WorkLimit {
        WorkLimit {
            calls: 0,
            limit,
            exceeded: false,
        }
    }

    /// Counts one callback; says to stop once the limit is passed.
    pub fn tick(&mut self) -> ControlFlow<()> {
        self.calls += 1;
        if self.calls > self.limit {
            self.exceeded = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    pub fn calls(&self) -> u64 {
        self.calls
    }
}

/// The grammar ctxpack parses `language` with, if any.
pub fn grammar_for(language: Language) -> Option<&'static Grammar> {
    grammar(language)
}

/// Parses `text`. A tree with syntax errors is returned as such (`Err(SyntaxErrors)` only comes
/// from [`parse_clean`]).
pub fn parse(language: Language, text: &str) -> Result<Parsed, NoTree> {
    let grammar = grammar(language).ok_or(NoTree::Unsupported)?;
    let mut work = WorkLimit::for_parse(text.len());
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
        let mut progress = |_: &ParseState| work.tick();
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

/// Parses `text` and insists on a tree without syntax errors.
pub fn parse_clean(language: Language, text: &str) -> Result<Parsed, NoTree> {
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
    fn deep_nesting_parses_and_counts_without_overflowing() {
        let depth = 50_000;
        let text = format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
        let parsed = parse(Language::Python, &text).expect("deeply nested lists parse");
        assert_eq!(error_count(&parsed.tree), 0);
        let broken = format!("x = {}1\n", "[".repeat(depth));
        if let Ok(parsed) = parse(Language::Python, &broken) {
            assert!(error_count(&parsed.tree) > 0);
        }
    }

    #[test]
    fn the_work_limit_stops_a_parse_deterministically() {
        let text = "fn f() { let x = [1, 2, 3]; }\n".repeat(2_000);
        let mut counted = WorkLimit::new(u64::MAX);
        let grammar = grammar(Language::Rust).unwrap();
        let mut parser = Parser::new();
        parser.set_language(&grammar.language).unwrap();
        let bytes = text.as_bytes();
        let mut progress = |_: &ParseState| counted.tick();
        parser.parse_with_options(
            &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
            None,
            Some(ParseOptions::new().progress_callback(&mut progress)),
        );
        let calls = counted.calls();
        assert!(calls > 10, "tree-sitter called back {calls} times");
        assert!(
            calls < WorkLimit::for_parse(text.len()).limit / 5,
            "ordinary code stays far below its bound: {calls} calls"
        );
        let mut small = WorkLimit::new(calls / 2);
        let mut progress = |_: &ParseState| small.tick();
        let mut parser = Parser::new();
        parser.set_language(&grammar.language).unwrap();
        let tree = parser.parse_with_options(
            &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
            None,
            Some(ParseOptions::new().progress_callback(&mut progress)),
        );
        assert!(tree.is_none() && small.exceeded());
    }
}
