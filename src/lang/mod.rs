//! Language intelligence: detection, tree-sitter parsing, symbols, and the views of a file.

pub mod grammar;
pub mod symbols;
pub mod syntax;
pub mod views;

use std::path::Path;

use syntax::NoTree;

use crate::types::Fidelity;

/// A language ctxpack knows by name. `Text` covers everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
    Java,
    C,
    Cpp,
    CSharp,
    Ruby,
    Php,
    Bash,
    Markdown,
    Json,
    Yaml,
    Toml,
    Xml,
    Html,
    Css,
    Sql,
    Kotlin,
    Swift,
    Scala,
    Lua,
    Perl,
    R,
    Dart,
    Elixir,
    Erlang,
    Haskell,
    OCaml,
    Zig,
    Nix,
    Dockerfile,
    Makefile,
    Cmake,
    Protobuf,
    Graphql,
    Vue,
    Svelte,
    Ini,
    Text,
}

impl Language {
    /// The name used in the `lang` attribute.
    pub fn name(self) -> &'static str {
        use Language::*;
        match self {
            Rust => "rust",
            Python => "python",
            JavaScript => "javascript",
            TypeScript => "typescript",
            Tsx => "tsx",
            Go => "go",
            Java => "java",
            C => "c",
            Cpp => "cpp",
            CSharp => "csharp",
            Ruby => "ruby",
            Php => "php",
            Bash => "bash",
            Markdown => "markdown",
            Json => "json",
            Yaml => "yaml",
            Toml => "toml",
            Xml => "xml",
            Html => "html",
            Css => "css",
            Sql => "sql",
            Kotlin => "kotlin",
            Swift => "swift",
            Scala => "scala",
            Lua => "lua",
            Perl => "perl",
            R => "r",
            Dart => "dart",
            Elixir => "elixir",
            Erlang => "erlang",
            Haskell => "haskell",
            OCaml => "ocaml",
            Zig => "zig",
            Nix => "nix",
            Dockerfile => "dockerfile",
            Makefile => "makefile",
            Cmake => "cmake",
            Protobuf => "protobuf",
            Graphql => "graphql",
            Vue => "vue",
            Svelte => "svelte",
            Ini => "ini",
            Text => "text",
        }
    }
}

/// Detects the language of `path`; `text` is consulted only for a shebang when the name says
/// nothing.
pub fn detect(path: &Path, text: &str) -> Language {
    match by_name(path) {
        // `.h` is shared by C and C++: C++-only syntax decides.
        Some(Language::C) if path.extension().is_some_and(|e| e == "h") && looks_like_cpp(text) => {
            Language::Cpp
        }
        Some(language) => language,
        None => by_shebang(text).unwrap_or(Language::Text),
    }
}

fn looks_like_cpp(text: &str) -> bool {
    [
        "class ",
        "namespace ",
        "template<",
        "template <",
        "public:",
        "private:",
        "::",
        "#include <string>",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

fn by_name(path: &Path) -> Option<Language> {
    use Language::*;
    let name = path.file_name()?.to_str()?;
    let special = match name {
        "Dockerfile" | "Containerfile" => Some(Dockerfile),
        "Makefile" | "makefile" | "GNUmakefile" => Some(Makefile),
        "CMakeLists.txt" => Some(Cmake),
        "Rakefile" | "Gemfile" | "Podfile" | "Vagrantfile" => Some(Ruby),
        ".bashrc" | ".bash_profile" | ".profile" | ".zshrc" | "PKGBUILD" => Some(Bash),
        _ => None,
    };
    if special.is_some() {
        return special;
    }
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "rs" => Rust,
        "py" | "pyi" | "pyw" => Python,
        "js" | "mjs" | "cjs" | "jsx" => JavaScript,
        "ts" | "mts" | "cts" => TypeScript,
        "tsx" => Tsx,
        "go" => Go,
        "java" => Java,
        "c" | "h" => C,
        "cc" | "cpp" | "cxx" | "c++" | "hh" | "hpp" | "hxx" | "h++" | "ipp" | "inl" => Cpp,
        "cs" => CSharp,
        "rb" | "rake" | "gemspec" => Ruby,
        "php" | "phtml" => Php,
        "sh" | "bash" | "zsh" | "ksh" => Bash,
        "md" | "markdown" | "mdx" => Markdown,
        "json" | "jsonc" | "json5" => Json,
        "yml" | "yaml" => Yaml,
        "toml" => Toml,
        "xml" | "xsd" | "xsl" | "xslt" | "svg" | "plist" | "csproj" | "xlf" => Xml,
        "html" | "htm" | "xhtml" => Html,
        "css" | "scss" | "sass" | "less" => Css,
        "sql" => Sql,
        "kt" | "kts" => Kotlin,
        "swift" => Swift,
        "scala" | "sc" => Scala,
        "lua" => Lua,
        "pl" | "pm" => Perl,
        "r" => R,
        "dart" => Dart,
        "ex" | "exs" => Elixir,
        "erl" | "hrl" => Erlang,
        "hs" => Haskell,
        "ml" | "mli" => OCaml,
        "zig" => Zig,
        "nix" => Nix,
        "cmake" => Cmake,
        "proto" => Protobuf,
        "graphql" | "gql" => Graphql,
        "vue" => Vue,
        "svelte" => Svelte,
        "ini" | "cfg" | "conf" => Ini,
        _ => return None,
    })
}

fn by_shebang(text: &str) -> Option<Language> {
    use Language::*;
    let line = text.strip_prefix("#!")?.lines().next()?;
    let mut words = line.split_whitespace();
    let mut program = words.next()?.rsplit('/').next()?;
    if program == "env" {
        program = words.find(|w| !w.starts_with('-'))?;
    }
    let program = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match program {
        "sh" | "bash" | "zsh" | "dash" | "ksh" => Bash,
        "python" => Python,
        "node" | "nodejs" | "deno" | "bun" => JavaScript,
        "ruby" => Ruby,
        "php" => Php,
        "perl" => Perl,
        "lua" => Lua,
        _ => return None,
    })
}

/// A file's text at some fidelity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub text: String,
    /// Set when the view fell back because the file could not be parsed cleanly.
    pub degraded: Option<NoTree>,
}

/// Renders `text` (in `language`) at `fidelity`. Never fails: a file that cannot be shown at that
/// fidelity gets the head of the file (compressed) or an empty outline, and `degraded` says why.
///
/// A file with syntax errors is still compressed when that saves at least a third of it and the
/// compressed view has no more errors than the file (an error inside an elided body disappears
/// with it): one odd macro should not reduce a large file to its first lines. Its outline stays
/// empty, since definitions next to an error are guesses.
pub fn view(language: Language, fidelity: Fidelity, text: &str) -> View {
    if fidelity == Fidelity::Full {
        return View {
            text: text.to_string(),
            degraded: None,
        };
    }
    let shown = syntax::parse(language, text).and_then(|parsed| {
        let errors = syntax::error_count(&parsed.tree);
        match fidelity {
            Fidelity::Compressed if !parsed.grammar.compresses() => Ok(views::head(language, text)),
            Fidelity::Compressed => {
                let view = views::compressed(&parsed, text);
                if errors > 0 {
                    let reparsed = syntax::parse(language, &view)?;
                    if view.len() * 3 > text.len() * 2
                        || syntax::error_count(&reparsed.tree) > errors
                    {
                        return Err(NoTree::SyntaxErrors);
                    }
                }
                Ok(view)
            }
            _ if errors > 0 => Err(NoTree::SyntaxErrors),
            _ => {
                let symbols = symbols::definitions(&parsed, text)?;
                Ok(views::outline(&parsed, text, &symbols))
            }
        }
    });
    match shown {
        Ok(text) => View {
            text,
            degraded: None,
        },
        Err(reason) => View {
            text: match fidelity {
                Fidelity::Compressed => views::head(language, text),
                _ => String::new(),
            },
            degraded: Some(reason),
        },
    }
}

/// Lines around each excerpt span also shown in full: the doc comment and attributes above a
/// definition, and enough after it to see how it ends.
pub const EXCERPT_CONTEXT: usize = 3;

/// The excerpt view: the lines of `spans` (1-based, inclusive) in full, each led by a
/// `── lines A-B ──` marker, between the outline lines of the definitions outside them, in line
/// order. Degraded (spans only) when the outline cannot be made.
pub fn excerpt(language: Language, text: &str, spans: &[(usize, usize)]) -> View {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    let mut sorted: Vec<(usize, usize)> = spans
        .iter()
        .map(|&(a, b)| {
            (
                a.saturating_sub(EXCERPT_CONTEXT).max(1),
                (b + EXCERPT_CONTEXT).min(lines.len()),
            )
        })
        .filter(|(a, b)| a <= b)
        .collect();
    sorted.sort_unstable();
    for (a, b) in sorted {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let outline = view(language, Fidelity::Outline, text);
    // An outline line starts (after its indent) with its `start-end` range.
    let range_of = |line: &str| -> Option<(usize, usize)> {
        let head = line.trim_start().split(' ').next()?;
        let (a, b) = head.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    let mut out = String::new();
    let mut next_span = 0;
    let emit_span = |out: &mut String, (a, b): (usize, usize)| {
        out.push_str(&format!("── lines {a}-{b} ──\n"));
        for line in &lines[a - 1..b] {
            out.push_str(line);
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("── end of lines ──\n");
    };
    for line in outline.text.lines() {
        let Some((start, end)) = range_of(line) else {
            continue;
        };
        while next_span < merged.len() && merged[next_span].0 <= start {
            emit_span(&mut out, merged[next_span]);
            next_span += 1;
        }
        // A definition wholly inside a span is already shown in full.
        let inside = merged.iter().any(|&(a, b)| a <= start && end <= b);
        if !inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    for &span in &merged[next_span..] {
        emit_span(&mut out, span);
    }
    View {
        text: out,
        degraded: outline.degraded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_shows_its_spans_in_full_between_outline_lines() {
        let text: String = (1..=30)
            .map(|i| format!("fn f{i}() {{\n    let x = {i};\n}}\n"))
            .collect();
        // f10 spans lines 28-30.
        let shown = excerpt(Language::Rust, &text, &[(28, 30)]);
        assert_eq!(shown.degraded, None);
        assert!(shown.text.contains("── lines 25-33 ──\n"), "{}", shown.text);
        assert!(shown.text.contains("    let x = 10;\n"));
        assert!(
            !shown.text.contains("    let x = 12;\n"),
            "outside the span and its context"
        );
        // Outline lines before and after, none for what is shown in full.
        assert!(shown.text.starts_with("1-3 fn f1()"), "{}", shown.text);
        assert!(shown.text.contains("88-90 fn f30()"));
        assert!(!shown.text.contains("28-30 fn f10()"));
        let span_at = shown.text.find("── lines").unwrap();
        assert!(shown.text.find("22-24 fn f8()").unwrap() < span_at);
        assert!(shown.text.find("34-36 fn f12()").unwrap() > span_at);
    }

    #[test]
    fn names_extensions_and_shebangs() {
        assert_eq!(detect(Path::new("src/main.rs"), ""), Language::Rust);
        assert_eq!(detect(Path::new("a/Dockerfile"), ""), Language::Dockerfile);
        assert_eq!(detect(Path::new("x.TSX"), ""), Language::Tsx);
        assert_eq!(
            detect(Path::new("bin/run"), "#!/usr/bin/env python3\n"),
            Language::Python
        );
        assert_eq!(
            detect(Path::new("bin/run"), "#!/bin/bash -e\n"),
            Language::Bash
        );
        assert_eq!(detect(Path::new("notes"), "hello"), Language::Text);
        assert_eq!(detect(Path::new("a.h"), "int f(void);"), Language::C);
        assert_eq!(
            detect(Path::new("w.h"), "namespace w { class X {}; }"),
            Language::Cpp
        );
    }
}
