//! The XML document: header (root, summary, tree), one `<file>` element per file, and footer.
//! This module owns XML's escaping and sanitizing: what XML 1.0 cannot carry never reaches it.
//!
//! Every element starts on its own line, right after a `\n`. That layout is what lets the
//! document's token count be the exact sum of its parts (see `tokens::SplitCount`).

use std::borrow::Cow;

use quick_xml::events::{BytesCData, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{human, plural};
use super::{
    BudgetSummary, DiffSummary, FileElement, PatchElement, PlanSummary, RenderedFile, Renderer,
    Summary, TreeItem,
};
use crate::secrets::{Located, Mode, ScanSummary};
use crate::tokens::{SplitCount, TokenCounter};
use crate::types::Fidelity;
use crate::types::OmitReason;

/// The XML renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Xml;

impl Renderer for Xml {
    fn admit<'a>(&self, text: &'a str) -> Cow<'a, str> {
        sanitize_for_xml(text)
    }

    fn file(&self, file: &FileElement<'_>, counter: &dyn TokenCounter) -> RenderedFile {
        render_file(file, counter)
    }

    fn plan(
        &self,
        name: &str,
        text: &str,
        redactions: usize,
        counter: &dyn TokenCounter,
    ) -> Vec<u8> {
        plan_element(name, text, redactions, counter)
    }

    fn diff_open(&self, base: &str, head: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut start = BytesStart::new("diff");
        let base = sanitize_for_xml(base);
        let head = sanitize_for_xml(head);
        start.push_attribute(("base", base.as_ref()));
        start.push_attribute(("head", head.as_ref()));
        write_event(&mut Writer::new(&mut bytes), Event::Start(start));
        bytes.push(b'\n');
        bytes
    }

    fn patch(&self, patch: &PatchElement<'_>, counter: &dyn TokenCounter) -> RenderedFile {
        let path = sanitize_for_xml(patch.path);
        let from = patch.from.map(sanitize_for_xml);
        let mut start = BytesStart::new("patch");
        start.push_attribute(("path", path.as_ref()));
        if let Some(from) = &from {
            start.push_attribute(("from", from.as_ref()));
        }
        start.push_attribute(("status", patch.status));
        let (added, removed, tokens) = (
            patch.added.to_string(),
            patch.removed.to_string(),
            patch.tokens.total().to_string(),
        );
        if patch.binary {
            start.push_attribute(("binary", "true"));
        } else {
            start.push_attribute(("added", added.as_str()));
            start.push_attribute(("removed", removed.as_str()));
        }
        start.push_attribute(("tokens", tokens.as_str()));
        let redactions = patch.redactions.to_string();
        if patch.redactions > 0 {
            start.push_attribute(("redactions", redactions.as_str()));
        }
        cdata_element(start, "patch", patch.text, &patch.tokens, counter)
    }

    fn diff_close(&self) -> Vec<u8> {
        b"</diff>\n".to_vec()
    }

    fn log(&self, text: &str, counter: &dyn TokenCounter) -> Vec<u8> {
        let text = sanitize_for_xml(text);
        let tokens = counter.count(&text).to_string();
        let mut start = BytesStart::new("log");
        start.push_attribute(("tokens", tokens.as_str()));
        let mut bytes = Vec::with_capacity(text.len() + 40);
        let mut writer = Writer::new(&mut bytes);
        write_event(&mut writer, Event::Start(start));
        for section in BytesCData::escaped(&text) {
            write_event(&mut writer, Event::CData(section));
        }
        write_event(&mut writer, Event::End(BytesEnd::new("log")));
        bytes.push(b'\n');
        bytes
    }

    fn header(&self, summary: &Summary, tree: &[TreeItem<'_>], depth: Option<usize>) -> Vec<u8> {
        header_body_collapsed(summary, tree, depth)
    }

    fn footer(&self, omitted: &[(&str, OmitReason)], depth: Option<usize>) -> Vec<u8> {
        footer_collapsed(omitted, depth)
    }

    fn markup_estimate(&self, path: &str) -> usize {
        30 + path.len() / 3
    }

    fn root_line_allowance(&self) -> usize {
        30
    }

    fn root_line(&self, encoding: &str, tokens: usize) -> String {
        root_line(env!("CARGO_PKG_VERSION"), encoding, tokens)
    }

    fn document_tokens(&self, counter: &dyn TokenCounter, encoding: &str, rest: usize) -> usize {
        document_tokens(counter, env!("CARGO_PKG_VERSION"), encoding, rest)
    }
}

/// Whether XML 1.0 allows `c` in character data: tab, LF, CR, and everything from U+0020 except
/// U+FFFE and U+FFFF (surrogates cannot occur in a Rust string).
pub fn xml_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Replaces every character XML 1.0 forbids with U+FFFD: file text, and any other string that
/// goes into the document. Borrowed when nothing had to change.
pub fn sanitize_for_xml(text: &str) -> Cow<'_, str> {
    // Fast path: forbidden characters are C0 controls (one byte below 0x20) or U+FFFE/U+FFFF
    // (three bytes starting with 0xEF), so a byte scan rules most files out.
    let suspicious = text
        .bytes()
        .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF);
    if !suspicious || text.chars().all(xml_allows) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if xml_allows(c) { c } else { '\u{FFFD}' })
            .collect(),
    )
}

const CDATA_OPEN: &str = "<![CDATA[";

fn write_event(writer: &mut Writer<&mut Vec<u8>>, event: Event<'_>) {
    // Writing into a Vec cannot fail.
    writer
        .write_event(event)
        .expect("writing XML into memory cannot fail");
}

/// Renders one `<file>` element and counts what it adds to the document, exactly, without
/// re-tokenizing the file text when it can be avoided.
fn render_file(file: &FileElement<'_>, counter: &dyn TokenCounter) -> RenderedFile {
    let path = sanitize_for_xml(file.path);
    let tokens = file.tokens.total().to_string();
    let mut start = BytesStart::new("file");
    start.push_attribute(("path", path.as_ref()));
    start.push_attribute(("lang", file.lang));
    start.push_attribute(("tokens", tokens.as_str()));
    start.push_attribute(("fidelity", file.fidelity.name()));
    let rank = file.rank.map(|r| r.to_string());
    if let Some(rank) = &rank {
        start.push_attribute(("rank", rank.as_str()));
    }
    for (flag, name) in [
        (file.bom_stripped, "bom-stripped"),
        (file.lossy, "lossy"),
        (file.sanitized, "sanitized"),
    ] {
        if flag {
            start.push_attribute((name, "true"));
        }
    }
    if let Some(eol) = file.eol {
        start.push_attribute(("eol", eol));
    }
    if let Some(reason) = file.degraded {
        start.push_attribute(("degraded", reason));
    }
    let redactions = file.redactions.to_string();
    if file.redactions > 0 {
        start.push_attribute(("redactions", redactions.as_str()));
    }

    cdata_element(start, "file", file.text, &file.tokens, counter)
}

/// An element whose text sits in CDATA after the start tag `start`, counted exactly without
/// re-tokenizing the text when it can be avoided: when the text sits unchanged between
/// `<![CDATA[` and the end tag, its own count (`tokens`) is reused.
fn cdata_element(
    start: BytesStart<'_>,
    name: &str,
    text: &str,
    tokens: &SplitCount,
    counter: &dyn TokenCounter,
) -> RenderedFile {
    let mut bytes = Vec::with_capacity(text.len() + 200);
    let mut writer = Writer::new(&mut bytes);
    write_event(&mut writer, Event::Start(start));
    let open_len = bytes.len();
    let mut writer = Writer::new(&mut bytes);
    for section in BytesCData::escaped(text) {
        write_event(&mut writer, Event::CData(section));
    }
    write_event(&mut writer, Event::End(BytesEnd::new(name)));
    bytes.push(b'\n');
    let close = format!("]]></{name}>\n");
    let text_start = open_len + CDATA_OPEN.len();
    let verbatim = bytes.len() == text_start + text.len() + close.len();
    let document_tokens = if verbatim {
        let prefix = std::str::from_utf8(&bytes[..text_start]).expect("markup is UTF-8");
        tokens.wrapped(counter, prefix, text, &close)
    } else {
        // `]]>` was split across CDATA sections: count what is emitted.
        counter.count(std::str::from_utf8(&bytes).expect("rendered from UTF-8"))
    };
    RenderedFile {
        bytes,
        document_tokens,
    }
}

/// The `<plan>` element of a plan pack: the plan's text (sanitized for XML, already redacted),
/// with its name, token count, and how many secrets were redacted in it.
fn plan_element(name: &str, text: &str, redactions: usize, counter: &dyn TokenCounter) -> Vec<u8> {
    let text = sanitize_for_xml(text);
    let name = sanitize_for_xml(name);
    let tokens = counter.count(&text).to_string();
    let mut start = BytesStart::new("plan");
    start.push_attribute(("path", name.as_ref()));
    start.push_attribute(("tokens", tokens.as_str()));
    let redactions = redactions.to_string();
    if redactions != "0" {
        start.push_attribute(("redactions", redactions.as_str()));
    }
    let mut bytes = Vec::with_capacity(text.len() + 100);
    let mut writer = Writer::new(&mut bytes);
    write_event(&mut writer, Event::Start(start));
    for section in BytesCData::escaped(&text) {
        write_event(&mut writer, Event::CData(section));
    }
    write_event(&mut writer, Event::End(BytesEnd::new("plan")));
    bytes.push(b'\n');
    bytes
}

/// The root start tag, on its own line. `tokens` is the count of the whole document.
fn root_line(version: &str, encoding: &str, tokens: usize) -> String {
    format!("<context version=\"{version}\" encoding=\"{encoding}\" tokens=\"{tokens}\">\n")
}

/// Everything between the root line and the first `<file>`: summary, tree and `<files>`. With
/// `max_depth`, the tree is collapsed below that many directories: a deeper directory is one line
/// with its file count (`tests/  [42 files]`), so that a large tree fits a budget.
fn header_body_collapsed(
    summary: &Summary,
    tree: &[TreeItem<'_>],
    max_depth: Option<usize>,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut writer = Writer::new(&mut bytes);
    text_element(&mut writer, "summary", &summary_text(summary));
    let tree_text = match max_depth {
        None => tree_text(&summary.root_name, tree),
        Some(depth) => collapsed_tree_text(&summary.root_name, tree, depth),
    };
    text_element(&mut writer, "tree", &tree_text);
    bytes.extend_from_slice(b"<files>\n");
    bytes
}

/// `</files>`, the `<omitted>` list and the end of the document. For a tree collapsed below
/// `max_depth` directories (see [`header_body_collapsed`]), the files the tree still shows are
/// listed one by one; those inside a collapsed directory are
/// counted per directory and reason, `<directory path="a/b/" reason="binary" files="12"/>`, so
/// that a tree of thousands of images cannot crowd the code out of a small budget.
fn footer_collapsed(omitted: &[(&str, OmitReason)], max_depth: Option<usize>) -> Vec<u8> {
    let mut bytes = b"</files>\n<omitted>\n".to_vec();
    // (collapsed directory, reason) → files, in order of first appearance.
    let mut collapsed: Vec<(String, OmitReason, usize)> = Vec::new();
    let mut slot: std::collections::HashMap<(String, OmitReason), usize> =
        std::collections::HashMap::new();
    for (path, reason) in omitted {
        if let Some(depth) = max_depth {
            let parts: Vec<&str> = path.split('/').collect();
            if parts.len() > depth + 1 {
                let directory = format!("{}/", parts[..=depth].join("/"));
                let next = collapsed.len();
                let at = *slot.entry((directory.clone(), *reason)).or_insert(next);
                if at == next {
                    collapsed.push((directory, *reason, 0));
                }
                collapsed[at].2 += 1;
                continue;
            }
        }
        let mut writer = Writer::new(&mut bytes);
        let path = sanitize_for_xml(path);
        let mut element = BytesStart::new("file");
        element.push_attribute(("path", path.as_ref()));
        element.push_attribute(("reason", reason.as_str()));
        write_event(&mut writer, Event::Empty(element));
        bytes.push(b'\n');
    }
    for (directory, reason, files) in collapsed {
        let mut writer = Writer::new(&mut bytes);
        let directory = sanitize_for_xml(&directory);
        let mut element = BytesStart::new("directory");
        element.push_attribute(("path", directory.as_ref()));
        element.push_attribute(("reason", reason.as_str()));
        element.push_attribute(("files", files.to_string().as_str()));
        write_event(&mut writer, Event::Empty(element));
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(b"</omitted>\n</context>\n");
    bytes
}

fn text_element(writer: &mut Writer<&mut Vec<u8>>, name: &str, text: &str) {
    let text = sanitize_for_xml(text);
    write_event(writer, Event::Start(BytesStart::new(name)));
    // `>` too: a file or directory name may contain `]]>`, which XML forbids in text.
    let escaped = quick_xml::escape::partial_escape(text.as_ref());
    write_event(writer, Event::Text(BytesText::from_escaped(escaped)));
    write_event(writer, Event::End(BytesEnd::new(name)));
    writer.get_mut().push(b'\n');
}

/// What the files element holds when every file has the same fidelity.
fn shown_at(s: &Summary, fidelity: Fidelity) -> String {
    match fidelity {
        Fidelity::Full => format!("{} in full", plural(s.files, "file")),
        Fidelity::Compressed => format!(
            "{} as compressed views: imports, declarations, signatures and doc comments, with \
             every function body replaced by a placeholder that says how many lines it had",
            plural(s.files, "file")
        ),
        Fidelity::Outline => format!(
            "{} as outlines: one line per definition, led by its line range",
            plural(s.files, "file")
        ),
        Fidelity::Excerpt => format!(
            "{} as excerpts: the lines a plan names in full, between the outline lines of the rest",
            plural(s.files, "file")
        ),
    }
}

/// What a plan pack holds, for the summary.
fn plan_text(plan: &PlanSummary, b: &BudgetSummary, files: usize) -> String {
    let mut text = format!(
        "the implementation plan (the <plan> element, first) and {} chosen for it within a budget \
         of {} tokens. The plan references {}: {} in full and {} as excerpts (the lines it names \
         in full, between the outline lines of the rest), each in the order the plan names them \
         and right after it",
        plural(files, "file"),
        human(b.budget),
        plural(plan.required, "file"),
        human(plan.full),
        human(plan.excerpt),
    );
    push_fates(&mut text, plan, "the plan changes");
    text
}

/// What became of the required files that are not whole in the document, and what comes after
/// them: `changes` says what the neighbours use.
fn push_fates(text: &mut String, plan: &PlanSummary, changes: &str) {
    if !plan.reduced.is_empty() {
        text.push_str(&format!(
            "; the budget holds only views of {}",
            plan.reduced.join(", ")
        ));
    }
    if !plan.dropped.is_empty() {
        text.push_str(&format!(
            "; the budget does not hold {} at all",
            plan.dropped.join(", ")
        ));
    }
    if !plan.unpackable.is_empty() {
        text.push_str(&format!(
            "; {} cannot be packed (binary, too large, a link, hidden, ignored, or holding a \
             secret)",
            plan.unpackable.join(", ")
        ));
    }
    text.push_str(&format!(
        ". After them come {} next to them (defining names they use, or using names {changes}), \
         as compressed views (function bodies replaced by placeholders) or outlines. Every other \
         file is listed in the tree only",
        plural(plan.nearby, "file")
    ));
}

/// What a diff pack holds, for the summary.
fn diff_text(
    diff: &DiffSummary,
    plan: Option<&PlanSummary>,
    b: &BudgetSummary,
    files: usize,
) -> String {
    let kinds: Vec<String> = [
        (diff.added, "added"),
        (diff.modified, "modified"),
        (diff.deleted, "deleted"),
        (diff.renamed, "renamed"),
        (diff.other, "copied or changed in type or mode"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, kind)| format!("{} {kind}", human(*n)))
    .collect();
    let plan_first = if diff.with_plan {
        "the implementation plan (the plan element, first), then "
    } else {
        ""
    };
    let mut text = if diff.files == 0 {
        format!(
            "{plan_first}the change from {} to {}, which is empty: git diff shows no difference",
            diff.base, diff.head
        )
    } else {
        format!(
            "{plan_first}the change from {} to {} (the diff element: {}: {}; {} added and {} \
             removed, one patch element per file as git diff prints it)",
            diff.base,
            diff.head,
            plural(diff.files, "file"),
            kinds.join(", "),
            plural(diff.lines_added, "line"),
            plural(diff.lines_removed, "line"),
        )
    };
    if !diff.dropped.is_empty() {
        text.push_str(&format!(
            "; the budget does not hold the patches of {}",
            diff.dropped.join(", ")
        ));
    }
    if !diff.withheld.is_empty() {
        text.push_str(&format!(
            "; the patches of {} hold secrets and are left out (--secrets omit-file)",
            diff.withheld.join(", ")
        ));
    }
    if diff.log_dropped > 0 {
        text.push_str(&format!(
            "; the budget leaves out the {} of the log element",
            plural(diff.log_dropped, "oldest commit message")
        ));
    }
    let plan = plan.cloned().unwrap_or_default();
    text.push_str(&format!(
        ". Then {} chosen for it within a budget of {} tokens: the {} the change touches{}, \
         after the change: {} in full and {} as excerpts, ranked",
        plural(files, "file"),
        human(b.budget),
        plural(plan.required, "file"),
        if diff.with_plan {
            " and the plan references"
        } else {
            ""
        },
        human(plan.full),
        human(plan.excerpt),
    ));
    push_fates(&mut text, &plan, "the change touches");
    text
}

fn summary_text(s: &Summary) -> String {
    let omitted_total: usize = s.omitted.iter().map(|(_, n)| n).sum();
    let shown = match (&s.budget, s.fidelity) {
        (Some(b), _) => format!(
            "{} chosen to fit a budget of {} tokens: {} in full, {} as compressed views{}, {} as \
             outlines{}. Files are ranked by how much they matter (their rank attribute, 1 \
             first); the most relevant come first and last, the least in the middle. Files in the \
             tree without a file element were left out to fit the budget",
            plural(s.files, "file"),
            human(b.budget),
            human(b.full),
            human(b.compressed),
            // What a view is, said only when the document has one: at small budgets every token
            // of the frame is one less of code.
            if b.compressed > 0 {
                " (imports, declarations, signatures and doc comments, with every function body \
                 replaced by a placeholder that says how many lines it had)"
            } else {
                ""
            },
            human(b.outline),
            if b.outline > 0 {
                " (one line per definition, led by its line range)"
            } else {
                ""
            }
        ),
        (None, fidelity) => shown_at(s, fidelity),
    };
    let shown = match (&s.diff, &s.plan, &s.budget) {
        (Some(diff), plan, Some(b)) => diff_text(diff, plan.as_ref(), b, s.files),
        (None, Some(plan), Some(b)) => plan_text(plan, b, s.files),
        _ => shown,
    };
    let mut text = format!(
        "\nThis document is a packed snapshot of the repository \"{name}\", made by ctxpack for a \
         language model. It holds {shown} ({tokens} tokens of file text, counted with \
         {encoding}).",
        name = s.root_name,
        tokens = human(s.file_tokens),
        encoding = s.encoding,
    );
    if s.degraded > 0 {
        text.push_str(&format!(
            " {} could not be parsed cleanly and {} only the first lines (or nothing, for \
             outlines); their degraded attribute says why.",
            plural(s.degraded, "file"),
            if s.degraded == 1 { "shows" } else { "show" }
        ));
    }
    if omitted_total > 0 {
        let reasons: Vec<String> = s
            .omitted
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        text.push_str(&format!(
            " {} left out ({}); the omitted element lists them.",
            if omitted_total == 1 {
                "1 file was".to_string()
            } else {
                format!("{} files were", human(omitted_total))
            },
            reasons.join(", ")
        ));
    }
    text.push_str(&secrets_text(&s.secrets));
    text.push_str(if s.diff.is_some() {
        "\nLayout: the diff element holds one patch element per file the change touches, as git \
             diff prints it. The tree element shows every file considered, omitted ones marked. \
             The files element holds one file element per included file: the touched files after \
             the change first, by rank, then their neighbours'. A file element's path is relative \
             to the repository root, its fidelity attribute says which view its text is (full: \
             the file's exact content, line ends as LF), and its tokens attribute counts that \
             text. The omitted element gives the reason each left-out file is missing.\n"
    } else if s.plan.is_some() {
        "\nLayout: the tree element shows every file considered, omitted ones marked. The \
             files element holds one file element per included file, in the plan's order and \
             then its neighbours': its path is relative to the repository root, its fidelity \
             attribute says which view its text is (full: the file's exact content, line ends as \
             LF), and its tokens attribute counts that text. The omitted element gives the reason \
             each left-out file is missing.\n"
    } else if s.budget.is_some() {
        "\nLayout: the tree element shows every file considered, omitted ones marked. The \
             files element holds one file element per included file, by rank from both ends \
             towards the middle: its path is relative to the repository root, its fidelity \
             attribute says which view its text is (full: the file's exact content, line ends as \
             LF), and its tokens attribute counts that text. The omitted element gives the reason \
             each left-out file is missing.\n"
    } else {
        "\nLayout: the tree element shows every file considered, omitted ones marked. The \
             files element holds one file element per included file, in path order: its path is \
             relative to the repository root, its fidelity attribute says which view its text is \
             (full: the file's exact content, line ends as LF), and its tokens attribute counts \
             that text. The omitted element gives the reason each left-out file is missing.\n"
    });
    text
}

/// How many examples the summary lists by place; the count is always given.
const LISTED_EXAMPLES: usize = 50;

/// How many secrets the summary lists by place; the count is always given. Enough for any tree
/// worth redacting rather than fixing, short enough not to crowd out the code.
const LISTED_SECRETS: usize = 100;

/// What secret scanning did, for the summary: the secrets by place (path:line: rule; the first
/// `LISTED_SECRETS`), never their value.
fn secrets_text(scan: &ScanSummary) -> String {
    let mut text = String::from("\nSecrets: ");
    let found = scan.secrets.len();
    match scan.mode {
        Mode::Off => text.push_str(
            "scanning was off (--secrets off): the file text was not checked for credentials \
             and may contain some.",
        ),
        _ if found == 0 && scan.left_out > 0 => text.push_str(&format!(
            "the file text was scanned; no credentials were found in the files this document \
             holds ({} in files left out of it).",
            credentials(scan.left_out)
        )),
        _ if found == 0 => text.push_str("the file text was scanned; no credentials were found."),
        Mode::OmitFile => text.push_str(&format!(
            "{} holding {} {} left out (reason secrets). Found at:",
            plural(scan.files, "file"),
            credentials(found),
            if scan.files == 1 { "was" } else { "were" },
        )),
        Mode::Redact | Mode::Fail => text.push_str(&format!(
            "{} {} replaced with [REDACTED:<rule>] markers in {}; {} a redactions \
             attribute, and the rest of the text is unchanged. Redacted at:",
            credentials(found),
            if found == 1 { "was" } else { "were" },
            plural(scan.files, "file"),
            if scan.files == 1 {
                "that file element has"
            } else {
                "those file elements have"
            },
        )),
    }
    push_places(&mut text, &scan.secrets, LISTED_SECRETS);
    if found > 0 && scan.left_out > 0 {
        text.push_str(&format!(
            "\nFiles left out of this document hold {}.",
            credentials(scan.left_out).replacen(' ', " more ", 1)
        ));
    }
    if !scan.examples.is_empty() {
        text.push_str(&format!(
            "\n{} matched a secret rule but {} known example or placeholder {} (such as \
             AKIAIOSFODNN7EXAMPLE) and {} left as {}:",
            plural(scan.examples.len(), "value"),
            if scan.examples.len() == 1 {
                "is a"
            } else {
                "are"
            },
            if scan.examples.len() == 1 {
                "value"
            } else {
                "values"
            },
            if scan.examples.len() == 1 {
                "was"
            } else {
                "were"
            },
            if scan.examples.len() == 1 {
                "it is"
            } else {
                "they are"
            },
        ));
        push_places(&mut text, &scan.examples, LISTED_EXAMPLES);
    }
    text
}

fn credentials(n: usize) -> String {
    if n == 1 {
        "1 value that looks like a credential".to_string()
    } else {
        format!("{} values that look like credentials", human(n))
    }
}

fn push_places(text: &mut String, places: &[Located], limit: usize) {
    for place in places.iter().take(limit) {
        let located = Located {
            path: tree_name(&place.path).into_owned(),
            ..place.clone()
        };
        text.push_str(&format!("\n  {located}"));
    }
    if places.len() > limit {
        text.push_str(&format!("\n  ... and {} more", human(places.len() - limit)));
    }
}

/// An indented directory tree; `items` must be sorted by path components.
fn tree_text(root_name: &str, items: &[TreeItem<'_>]) -> String {
    let mut text = format!("\n{}/\n", tree_name(root_name));
    let mut open_dirs: &[String] = &[];
    for item in items {
        let Some((file, dirs)) = item.components.split_last() else {
            continue;
        };
        let shared = open_dirs
            .iter()
            .zip(dirs)
            .take_while(|(a, b)| a == b)
            .count();
        for (depth, dir) in dirs.iter().enumerate().skip(shared) {
            push_indent(&mut text, depth + 1);
            text.push_str(&tree_name(dir));
            text.push_str("/\n");
        }
        push_indent(&mut text, dirs.len() + 1);
        text.push_str(&tree_name(file));
        if let Some(reason) = item.omitted {
            text.push_str(&format!("  [omitted: {reason}]"));
        }
        text.push('\n');
        open_dirs = dirs;
    }
    text
}

/// The tree with directories at depth `max_depth` (0 = top level) shown as one line each with
/// their file count.
fn collapsed_tree_text(root_name: &str, items: &[TreeItem<'_>], max_depth: usize) -> String {
    let mut counts: std::collections::HashMap<&[String], usize> = std::collections::HashMap::new();
    for item in items {
        if item.components.len() > max_depth + 1 {
            *counts.entry(&item.components[..=max_depth]).or_default() += 1;
        }
    }
    let mut text = format!("\n{}/\n", tree_name(root_name));
    let mut open_dirs: &[String] = &[];
    let mut last_collapsed: Option<&[String]> = None;
    for item in items {
        let Some((file, dirs)) = item.components.split_last() else {
            continue;
        };
        let (shown_dirs, collapsed) = if dirs.len() > max_depth {
            (&dirs[..max_depth], Some(&item.components[..=max_depth]))
        } else {
            (dirs, None)
        };
        if collapsed.is_some() && collapsed == last_collapsed {
            continue;
        }
        let shared = open_dirs
            .iter()
            .zip(shown_dirs)
            .take_while(|(a, b)| a == b)
            .count();
        for (depth, dir) in shown_dirs.iter().enumerate().skip(shared) {
            push_indent(&mut text, depth + 1);
            text.push_str(&tree_name(dir));
            text.push_str("/\n");
        }
        push_indent(&mut text, shown_dirs.len() + 1);
        match collapsed {
            Some(prefix) => {
                let name = &prefix[prefix.len() - 1];
                text.push_str(&format!("{}/  [{} files]", tree_name(name), counts[prefix]));
            }
            None => {
                text.push_str(&tree_name(file));
                if let Some(reason) = item.omitted {
                    text.push_str(&format!("  [omitted: {reason}]"));
                }
            }
        }
        text.push('\n');
        open_dirs = shown_dirs;
        last_collapsed = collapsed;
    }
    text
}

fn push_indent(text: &mut String, depth: usize) {
    for _ in 0..depth {
        text.push_str("  ");
    }
}

/// A file name as one tree line: control characters are shown as escapes so a name cannot break
/// the layout.
pub(crate) fn tree_name(name: &str) -> Cow<'_, str> {
    if name.chars().any(char::is_control) {
        Cow::Owned(
            name.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

/// The exact token count of the whole document, whose root line states that very count.
///
/// `rest` is the count of everything after the root line. The root line's own count depends on
/// the number written into it, but only through its digit count, which grows by at most one token
/// as the number grows, so iterating from `rest` climbs monotonically to the least fixed point.
fn document_tokens(
    counter: &dyn TokenCounter,
    version: &str,
    encoding: &str,
    rest: usize,
) -> usize {
    let mut total = rest;
    loop {
        let next = rest + counter.count(&root_line(version, encoding, total));
        if next == total {
            return total;
        }
        total = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Encoding, SplitCount, Tiktoken};
    use crate::types::Fidelity;

    fn element(text: &str) -> FileElement<'_> {
        FileElement {
            path: "dir/a \"b\" & <c>\nd.rs",
            lang: "rust",
            fidelity: Fidelity::Full,
            rank: None,
            tokens: SplitCount::default(),
            text,
            bom_stripped: false,
            lossy: false,
            sanitized: false,
            eol: None,
            degraded: None,
            redactions: 0,
        }
    }

    #[test]
    fn file_element_counts_match_direct_counts() {
        let counter = Tiktoken::new(Encoding::O200kBase);
        for text in [
            "",
            "fn main() {}\n",
            "use x;\nfn a() {}\nfn b() {}\n",
            "a ]]> b\nfn c() {}\n",
            "  \n\n// c\n/x\nlast  ",
        ] {
            let mut file = element(text);
            file.tokens = SplitCount::new(&counter, text);
            let rendered = render_file(&file, &counter);
            let emitted = String::from_utf8(rendered.bytes).unwrap();
            assert_eq!(
                rendered.document_tokens,
                counter.count(&emitted),
                "{text:?}"
            );
            assert!(
                emitted.starts_with("<file path=\"dir/a &quot;b&quot; &amp; &lt;c&gt;&#10;d.rs\"")
            );
        }
    }

    #[test]
    fn forbidden_controls_become_replacement_characters() {
        let text = "a\u{1}b\tc\nd\u{1b}[0m\u{FFFF}\u{0}é";
        assert_eq!(
            sanitize_for_xml(text),
            "a\u{FFFD}b\tc\nd\u{FFFD}[0m\u{FFFD}\u{FFFD}é"
        );
        for fine in ["plain\ttext\r\n", "\u{FEFF} inner BOM and ï are fine"] {
            assert!(
                matches!(sanitize_for_xml(fine), Cow::Borrowed(_)),
                "{fine:?}"
            );
        }
    }

    /// The contract every renderer keeps: each part starts a line where the tokenizer cuts and
    /// ends with a line break, so the document's count is the sum of its parts' counts.
    #[test]
    fn every_part_starts_a_line_and_the_counts_add_up() {
        let counter = Tiktoken::new(Encoding::O200kBase);
        let xml = Xml;
        let text = "fn main() {\n    println!(\"]]> and <tags> & more\");\n}\n";
        let mut file = element(text);
        file.tokens = SplitCount::new(&counter, text);
        let patch_text = "diff --git a/a b/a\n@@ -1 +1 @@\n-old ]]>\n+new\n";
        let patch = PatchElement {
            path: "a \"b\".rs",
            from: Some("old.rs"),
            status: "renamed",
            binary: false,
            added: 1,
            removed: 1,
            text: patch_text,
            tokens: SplitCount::new(&counter, patch_text),
            redactions: 0,
        };
        let summary = Summary {
            root_name: "repo".into(),
            encoding: "o200k_base",
            files: 1,
            fidelity: Fidelity::Full,
            degraded: 0,
            file_tokens: 10,
            omitted: vec![(OmitReason::Binary, 1)],
            secrets: ScanSummary::default(),
            budget: None,
            plan: None,
            diff: None,
        };
        let a = vec!["src".to_string(), "a.rs".to_string()];
        let tree = [TreeItem {
            components: &a,
            omitted: None,
        }];
        let rendered_file = xml.file(&file, &counter);
        let rendered_patch = xml.patch(&patch, &counter);
        let parts: Vec<(Vec<u8>, usize)> = vec![
            (xml.plan("PLAN.md", "1. Edit `a.rs`.\n", 0, &counter), 0),
            (xml.diff_open("main", "the working tree"), 0),
            (rendered_patch.bytes.clone(), rendered_patch.document_tokens),
            (xml.diff_close(), 0),
            (xml.log("commit abc\n\n    A message.\n", &counter), 0),
            (xml.header(&summary, &tree, None), 0),
            (rendered_file.bytes.clone(), rendered_file.document_tokens),
            (xml.footer(&[("logo.png", OmitReason::Binary)], None), 0),
        ];
        let mut whole = String::new();
        let mut sum = 0;
        for (bytes, declared) in &parts {
            let part = std::str::from_utf8(bytes).unwrap();
            assert!(part.starts_with('<') && part.ends_with('\n'), "{part:?}");
            let counted = counter.count(part);
            if *declared > 0 {
                assert_eq!(*declared, counted, "{part:?}");
            }
            sum += counted;
            whole.push_str(part);
        }
        assert_eq!(counter.count(&whole), sum);
        let rest = sum;
        let total = xml.document_tokens(&counter, "o200k_base", rest);
        let document = xml.root_line("o200k_base", total) + &whole;
        assert_eq!(counter.count(&document), total);
    }

    #[test]
    fn root_count_is_a_fixed_point() {
        let counter = Tiktoken::new(Encoding::O200kBase);
        for rest in [0, 5, 990, 998, 999_990, 123_456_789] {
            let total = document_tokens(&counter, "0.1.0", "o200k_base", rest);
            assert_eq!(
                total,
                rest + counter.count(&root_line("0.1.0", "o200k_base", total))
            );
        }
    }

    #[test]
    fn tree_nests_directories_and_marks_omitted_files() {
        let a = vec!["src".to_string(), "a.rs".to_string()];
        let b = vec!["src".to_string(), "x".to_string(), "b.rs".to_string()];
        let c = vec!["logo.png".to_string()];
        let items = [
            TreeItem {
                components: &c,
                omitted: Some(OmitReason::Binary),
            },
            TreeItem {
                components: &a,
                omitted: None,
            },
            TreeItem {
                components: &b,
                omitted: None,
            },
        ];
        let text = tree_text("repo", &items);
        assert_eq!(
            text,
            "\nrepo/\n  logo.png  [omitted: binary]\n  src/\n    a.rs\n    x/\n      b.rs\n"
        );
        assert_eq!(
            collapsed_tree_text("repo", &items, 1),
            "\nrepo/\n  logo.png  [omitted: binary]\n  src/\n    a.rs\n    x/  [1 files]\n"
        );
        assert_eq!(
            collapsed_tree_text("repo", &items, 0),
            "\nrepo/\n  logo.png  [omitted: binary]\n  src/  [2 files]\n"
        );
    }
}
