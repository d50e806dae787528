//! The tree-sitter grammars ctxpack parses with, and the queries it runs on them (grammars/).

use std::sync::OnceLock;

use tree_sitter::Query;

use super::Language;

/// How a function body is replaced in the compressed view, so that the result stays valid in the
/// language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStyle {
    /// `{ /* … N lines */ }`
    Braces,
    /// The docstring, if any, then `...  # … N lines`.
    Python,
    /// `# … N lines` (the `end` stays outside the body).
    Ruby,
    /// `{ : '… N lines'; }`
    Bash,
}

/// One grammar with its queries, each compiled the first time it is used: compiling a query is
/// tree-sitter's costliest setup (its pattern analysis), and a run whose views all come from the
/// cache parses nothing.
pub struct Grammar {
    pub language: tree_sitter::Language,
    tags_source: String,
    compress_source: Option<&'static str>,
    headings_source: Option<&'static str>,
    tags: OnceLock<Query>,
    definitions: OnceLock<Query>,
    compress: OnceLock<Option<Query>>,
    headings: OnceLock<Option<Query>>,
    /// The same bodies as a table (every pattern of a compress query has the shape
    /// `(parent field: (child) @body)`): a walk of the tree that never enters a body finds them
    /// at a fraction of the query's cost, since most of a file's nodes are inside function
    /// bodies. A test checks that both find the same bodies. Empty for Markdown.
    pub body_rules: Vec<BodyRule>,
    pub body_style: BodyStyle,
}

impl Grammar {
    /// Definitions (`@definition.<kind>`) and references (`@reference.<kind>`), each with `@name`.
    pub fn tags(&self) -> &Query {
        self.tags
            .get_or_init(|| compile(&self.language, &self.tags_source))
    }

    /// The tags query with only its definition patterns enabled: what an outline needs, at a
    /// fraction of the cost (reference patterns match nearly every identifier).
    pub fn definitions(&self) -> &Query {
        self.definitions
            .get_or_init(|| definitions_only(self.tags()))
    }

    /// Function bodies to elide (`@body`). None for grammars without functions (Markdown).
    pub fn compress(&self) -> Option<&Query> {
        self.compress
            .get_or_init(|| self.compress_source.map(|s| compile(&self.language, s)))
            .as_ref()
    }

    /// Whether the grammar has a compress query (without compiling it).
    pub fn compresses(&self) -> bool {
        self.compress_source.is_some()
    }

    /// Headings (`@heading`), for Markdown's outline.
    pub fn headings(&self) -> Option<&Query> {
        self.headings
            .get_or_init(|| self.headings_source.map(|s| compile(&self.language, s)))
            .as_ref()
    }

    /// Whether the grammar outlines by headings (without compiling the query).
    pub fn has_headings(&self) -> bool {
        self.headings_source.is_some()
    }
}

/// Whether ctxpack parses `language`, without building its grammar.
pub fn parses(language: Language) -> bool {
    PARSED.contains(&language)
}

/// `(parent field: (child) @body)`, as node kind and field ids. A kind name can have several ids
/// (aliases), so each side is a list.
#[derive(Debug, Clone)]
pub struct BodyRule {
    pub parents: Vec<u16>,
    pub field: u16,
    pub children: Vec<u16>,
}

/// The grammar for `language`, or None when ctxpack has no parser for it.
pub fn grammar(language: Language) -> Option<&'static Grammar> {
    macro_rules! cached {
        ($build:expr) => {{
            static CELL: OnceLock<Grammar> = OnceLock::new();
            Some(CELL.get_or_init(|| $build))
        }};
    }
    use Language as L;
    match language {
        L::Rust => cached!(build(
            tree_sitter_rust::LANGUAGE.into(),
            &[
                tree_sitter_rust::TAGS_QUERY,
                include_str!("../../grammars/rust/tags.scm")
            ],
            Some(include_str!("../../grammars/rust/compress.scm")),
            BodyStyle::Braces,
        )),
        L::Python => cached!(build(
            tree_sitter_python::LANGUAGE.into(),
            &[
                tree_sitter_python::TAGS_QUERY,
                include_str!("../../grammars/python/tags.scm")
            ],
            Some(include_str!("../../grammars/python/compress.scm")),
            BodyStyle::Python,
        )),
        L::JavaScript => cached!(build(
            tree_sitter_javascript::LANGUAGE.into(),
            &[
                tree_sitter_javascript::TAGS_QUERY,
                include_str!("../../grammars/javascript/tags.scm"),
            ],
            Some(include_str!("../../grammars/javascript/compress.scm")),
            BodyStyle::Braces,
        )),
        L::TypeScript => cached!(build(
            tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            &TYPESCRIPT_TAGS,
            Some(include_str!("../../grammars/typescript/compress.scm")),
            BodyStyle::Braces,
        )),
        L::Tsx => cached!(build(
            tree_sitter_typescript::LANGUAGE_TSX.into(),
            &TYPESCRIPT_TAGS,
            Some(include_str!("../../grammars/typescript/compress.scm")),
            BodyStyle::Braces,
        )),
        L::Go => cached!(build(
            tree_sitter_go::LANGUAGE.into(),
            &[
                tree_sitter_go::TAGS_QUERY,
                include_str!("../../grammars/go/tags.scm")
            ],
            Some(include_str!("../../grammars/go/compress.scm")),
            BodyStyle::Braces,
        )),
        L::Java => cached!(build(
            tree_sitter_java::LANGUAGE.into(),
            &[
                tree_sitter_java::TAGS_QUERY,
                include_str!("../../grammars/java/tags.scm")
            ],
            Some(include_str!("../../grammars/java/compress.scm")),
            BodyStyle::Braces,
        )),
        L::C => cached!(build(
            tree_sitter_c::LANGUAGE.into(),
            &[include_str!("../../grammars/c/tags.scm")],
            Some(include_str!("../../grammars/c/compress.scm")),
            BodyStyle::Braces,
        )),
        L::Cpp => cached!(build(
            tree_sitter_cpp::LANGUAGE.into(),
            &[include_str!("../../grammars/cpp/tags.scm")],
            Some(include_str!("../../grammars/cpp/compress.scm")),
            BodyStyle::Braces,
        )),
        L::CSharp => cached!(build(
            tree_sitter_c_sharp::LANGUAGE.into(),
            &[
                tree_sitter_c_sharp::TAGS_QUERY,
                include_str!("../../grammars/csharp/tags.scm")
            ],
            Some(include_str!("../../grammars/csharp/compress.scm")),
            BodyStyle::Braces,
        )),
        L::Ruby => cached!(build(
            tree_sitter_ruby::LANGUAGE.into(),
            &[
                RUBY_DEFINITIONS,
                include_str!("../../grammars/ruby/tags.scm")
            ],
            Some(include_str!("../../grammars/ruby/compress.scm")),
            BodyStyle::Ruby,
        )),
        L::Php => cached!(build(
            tree_sitter_php::LANGUAGE_PHP.into(),
            &[
                tree_sitter_php::TAGS_QUERY,
                include_str!("../../grammars/php/tags.scm")
            ],
            Some(include_str!("../../grammars/php/compress.scm")),
            BodyStyle::Braces,
        )),
        L::Bash => cached!(build(
            tree_sitter_bash::LANGUAGE.into(),
            &[include_str!("../../grammars/bash/tags.scm")],
            Some(include_str!("../../grammars/bash/compress.scm")),
            BodyStyle::Bash,
        )),
        L::Markdown => cached!(Grammar {
            language: tree_sitter_md::LANGUAGE.into(),
            tags_source: String::new(),
            compress_source: None,
            headings_source: Some(include_str!("../../grammars/markdown/outline.scm")),
            tags: OnceLock::new(),
            definitions: OnceLock::new(),
            compress: OnceLock::new(),
            headings: OnceLock::new(),
            body_rules: Vec::new(),
            body_style: BodyStyle::Braces,
        }),
        _ => None,
    }
}

/// The languages [`grammar`] knows.
pub const PARSED: [Language; 14] = [
    Language::Rust,
    Language::Python,
    Language::JavaScript,
    Language::TypeScript,
    Language::Tsx,
    Language::Go,
    Language::Java,
    Language::C,
    Language::Cpp,
    Language::CSharp,
    Language::Ruby,
    Language::Php,
    Language::Bash,
    Language::Markdown,
];

/// TypeScript's tags query only adds to JavaScript's; both are needed.
const TYPESCRIPT_TAGS: [&str; 3] = [
    tree_sitter_javascript::TAGS_QUERY,
    tree_sitter_typescript::TAGS_QUERY,
    include_str!("../../grammars/typescript/tags.scm"),
];

/// The definition patterns of tree-sitter-ruby's tags query: its reference patterns depend on
/// `#is-not? local`, which a plain query cursor ignores, so they would match every identifier.
const RUBY_DEFINITIONS: &str = r#"
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method
(alias name: (_) @name) @definition.method
(class name: [(constant) @name (scope_resolution name: (_) @name)]) @definition.class
(singleton_class value: [(constant) @name (scope_resolution name: (_) @name)]) @definition.class
(module name: [(constant) @name (scope_resolution name: (_) @name)]) @definition.module
"#;

fn build(
    language: tree_sitter::Language,
    tags: &[&str],
    compress: Option<&'static str>,
    body_style: BodyStyle,
) -> Grammar {
    Grammar {
        tags_source: tags.join("\n"),
        compress_source: compress,
        headings_source: None,
        tags: OnceLock::new(),
        definitions: OnceLock::new(),
        compress: OnceLock::new(),
        headings: OnceLock::new(),
        body_rules: compress.map_or_else(Vec::new, |source| {
            // Ours and fixed at build time, like the queries themselves (see `compile`).
            body_rules(&language, source)
                .expect("every compress pattern in grammars/ is (parent field: (child) @body)")
        }),
        language,
        body_style,
    }
}

/// A copy of `tags` in which every pattern without a `@definition.*` capture is disabled.
fn definitions_only(tags: &Query) -> Query {
    let mut query = tags.deep_clone();
    let names = tags.capture_names();
    for pattern in 0..tags.pattern_count() {
        let defines =
            tags.capture_quantifiers(pattern)
                .iter()
                .zip(names)
                .any(|(quantifier, name)| {
                    *quantifier != tree_sitter::CaptureQuantifier::Zero
                        && name.starts_with("definition.")
                });
        if !defines {
            query.disable_pattern(pattern);
        }
    }
    query
}

/// The compress query as [`BodyRule`]s, or None if any pattern has another shape.
fn body_rules(language: &tree_sitter::Language, source: &str) -> Option<Vec<BodyRule>> {
    let ids = |name: &str| -> Vec<u16> {
        (0..language.node_kind_count() as u16)
            .filter(|&id| {
                language.node_kind_is_named(id) && language.node_kind_for_id(id) == Some(name)
            })
            .collect()
    };
    let mut rules = Vec::new();
    for line in source.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        // `(parent field: (child) @body)`
        let inner = line.strip_prefix('(')?.strip_suffix(") @body)")?;
        let (parent, rest) = inner.split_once(' ')?;
        let (field, child) = rest.split_once(": (")?;
        let word =
            |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(word(parent) && word(field) && word(child)) {
            return None;
        }
        let rule = BodyRule {
            parents: ids(parent),
            field: language.field_id_for_name(field)?.get(),
            children: ids(child),
        };
        if rule.parents.is_empty() || rule.children.is_empty() {
            return None;
        }
        rules.push(rule);
    }
    (!rules.is_empty()).then_some(rules)
}

fn compile(language: &tree_sitter::Language, source: &str) -> Query {
    // The queries are ours and fixed at build time; a unit test compiles every one of them, so a
    // failure here is a bug in grammars/, not bad input.
    Query::new(language, source).unwrap_or_else(|e| panic!("invalid query in grammars/: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grammar_and_query_compiles() {
        for language in PARSED {
            let grammar = grammar(language).expect("a parsed language has a grammar");
            let mut parser = tree_sitter::Parser::new();
            parser
                .set_language(&grammar.language)
                .unwrap_or_else(|e| panic!("{language:?}: {e}"));
            if language != Language::Markdown {
                assert!(grammar.tags().pattern_count() > 0, "{language:?} has tags");
                assert!(grammar.definitions().pattern_count() > 0);
                assert!(
                    grammar.compress().is_some() && grammar.compresses(),
                    "{language:?} has a compress query"
                );
                assert_eq!(
                    grammar.body_rules.len(),
                    grammar.compress().unwrap().pattern_count(),
                    "{language:?}: every compress pattern is a body rule"
                );
            }
        }
        assert!(grammar(Language::Markdown).unwrap().headings().is_some());
        assert!(grammar(Language::Json).is_none());
        assert!(parses(Language::Rust) && !parses(Language::Json));
    }
}
