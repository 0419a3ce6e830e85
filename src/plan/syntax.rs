//! KDL text to raw nodes: a nesting guard, the kdl parser, a hint for KDL v1 files.

use super::diagnostic::{Diagnostic, fit};
use super::raw::{RawEntry, RawNode, RawProp, RawValue};
use super::scan::{Anomaly, MAX_COMMENT_MARKS, MAX_NESTING, MAX_SLASHDASH_RUN, Scan, scan};
use crate::model::Span;
use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

/// Parses plan text into raw nodes, or every syntax error found.
pub fn parse(text: &str) -> Result<(KdlDocument, Vec<RawNode>), Vec<Diagnostic>> {
    let document = parse_document(text)?;
    let nodes = document.nodes().iter().map(raw_node).collect();
    Ok((document, nodes))
}

/// Parses plan text into a KDL document (kept for `fmt`), guarding the parser first (see
/// [`super::scan`]).
pub fn parse_document(text: &str) -> Result<KdlDocument, Vec<Diagnostic>> {
    let scan = scan(text);
    if let Some((at, what)) = scan.too_deep {
        return Err(vec![too_deep(at, what)]);
    }
    if let Some(at) = scan.slashdash_run {
        return Err(vec![slashdash_run(at)]);
    }
    if let Some(at) = scan.long_comment {
        return Err(vec![
            Diagnostic::error(
                "hookplan::syntax",
                "a `/* */` comment too long to parse",
                Span::new(at, 2),
                "this comment",
            )
            .with_help(format!(
                "it holds more than {MAX_COMMENT_MARKS} `*` and `/`; split it, or comment with `//`"
            )),
        ]);
    }
    if !scan.safe_to_parse(text.len()) {
        // Past this place the parser could be led into unbounded recursion: report it alone.
        let found = scan
            .anomaly
            .as_ref()
            .expect("only an anomaly makes a scanned text unsafe");
        return Err(vec![anomaly(found)]);
    }
    with_parse_stack(|| {
        KdlDocument::parse_v2(text).map_err(|error| syntax_errors(text, &error.diagnostics, &scan))
    })
}

/// Parses text written in KDL v1 into a document in v2 form (for `fmt --from-v1`), if the text
/// is KDL v1 and small enough to parse safely.
pub fn parse_v1_document(text: &str) -> Option<KdlDocument> {
    if !scan(text).safe_for_v1(text.len()) {
        return None;
    }
    let mut document = with_parse_stack(|| KdlDocument::parse_v1(text).ok())?;
    document.ensure_v2();
    requote(&mut document);
    Some(document)
}

/// v1 quoted every string value; `ensure_v2` writes those that can be bare without quotes.
/// Plans keep them quoted (`step "deliver"`), as they were written.
fn requote(document: &mut KdlDocument) {
    for node in document.nodes_mut() {
        for entry in node.entries_mut() {
            let KdlValue::String(value) = entry.value() else {
                continue;
            };
            let (value, quoted) = (value.clone(), super::format::quoted(value));
            if let Some(format) = entry.format_mut().filter(|f| f.value_repr == value) {
                format.value_repr = quoted;
            }
        }
        if let Some(children) = node.children_mut() {
            requote(children);
        }
    }
}

/// kdl's parse errors in the words of a plan: one diagnostic per fault, cascades dropped.
fn syntax_errors(text: &str, errors: &[kdl::KdlDiagnostic], scan: &Scan) -> Vec<Diagnostic> {
    let first = errors
        .first()
        .map_or(Span::new(0, 0), |d| fit(text, d.span.into()));
    // The v1 parser sees strings differently: run it only where no text could hurt it.
    let v1_safe =
        scan.safe_for_v1(text.len()) && scan.anomaly.as_ref().is_none_or(|a| a.v1_possible);
    if v1_safe && KdlDocument::parse_v1(text).is_ok() {
        // Valid KDL v1: the one thing to say is that, not what v2 makes of it.
        return vec![v1_hint(text, first)];
    }
    let mut diagnostics = refine(text, errors);
    if let Some(found) = &scan.anomaly {
        // The scan is sure of this fault, and the parser's view of what follows it is not to be
        // trusted: keep what the parser found before it, then this.
        let code_end = text[..found.span.start].trim_end().len();
        diagnostics.retain(|d| d.span.end() < code_end);
        diagnostics.push(anomaly(found));
    }
    if diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::error("hookplan::syntax", "invalid KDL", first, "here")
                .with_help(DEFAULT_HELP),
        );
    }
    diagnostics
}

const DEFAULT_HELP: &str = "plan files are KDL v2: see https://kdl.dev";

fn v1_hint(text: &str, at: Span) -> Diagnostic {
    let token = token_at(text, at.start);
    let specific = match token {
        "true" | "false" | "null" => format!("KDL v2 writes `{token}` as `#{token}`; "),
        _ if token.starts_with("r#") || token.starts_with("r\"") => {
            "KDL v2 writes raw strings as `#\"…\"#`; ".to_string()
        }
        _ => String::new(),
    };
    Diagnostic::error(
        "hookplan::kdl-v1",
        "this file is written in KDL v1; plans are KDL v2",
        at,
        "KDL v1 syntax",
    )
    .with_help(format!(
        "{specific}convert the whole file with `hookplan fmt --from-v1 FILE`"
    ))
}

fn refine(text: &str, errors: &[kdl::KdlDiagnostic]) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    // Places already explained by an unclosed-block report, and how many stray `}` that report
    // accounts for (the block's own `}`, found after the parser gave up on the block).
    let mut explained: Vec<usize> = Vec::new();
    let mut closers_owed = 0usize;
    let mut skip_next = false;
    for (i, error) in errors.iter().enumerate() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        let span = fit(text, error.span.into());
        let message = error.message.as_deref().unwrap_or("invalid KDL");
        let label = error
            .label
            .as_deref()
            .map(|l| l.strip_prefix("not ").unwrap_or(l));
        let help = error
            .help
            .clone()
            .unwrap_or_else(|| DEFAULT_HELP.to_string());
        if message == "No closing '}' for child block" {
            // kdl reports the block's `{` and, separately, the nodes it did read.
            let mut nodes_end = span.end();
            if let Some(next) = errors
                .get(i + 1)
                .filter(|n| n.message.as_deref() == Some("Closing '}' was not found after nodes"))
            {
                nodes_end = nodes_end.max(fit(text, next.span.into()).end());
                skip_next = true;
            }
            let stop = skip_trivia(text, nodes_end);
            if stop >= text.len() {
                out.push(
                    Diagnostic::error(
                        "hookplan::syntax",
                        "a block is never closed",
                        span,
                        "this `{` has no matching `}`",
                    )
                    .with_help("add a `}` where the block ends"),
                );
            } else {
                let token = token_at(text, stop);
                out.push(
                    Diagnostic::error("hookplan::syntax", format!("unexpected `{token}` in a block"), Span::new(stop, token.len()), "not a node, and not the `}` that ends the block")
                        .with_related(span, "the block opened here")
                        .with_help("a node is a name, then its values and `key=value` properties; look for a stray character or a missing quote"),
                );
                explained.push(stop);
                closers_owed += 1;
            }
            continue;
        }
        if message == "Closing '}' was not found after nodes" {
            continue;
        }
        if label == Some("EOF") {
            if explained.contains(&span.start) {
                continue;
            }
            let token = token_at(text, span.start);
            if token == "}" {
                if closers_owed > 0 {
                    closers_owed -= 1;
                    continue;
                }
                out.push(
                    Diagnostic::error(
                        "hookplan::syntax",
                        "a `}` with no `{` to close",
                        Span::new(span.start, 1),
                        "unmatched `}`",
                    )
                    .with_help("remove it, or look for a missing `{` before it"),
                );
            } else {
                out.push(
                    Diagnostic::error("hookplan::syntax", format!("unexpected `{token}`"), Span::new(span.start, token.len()), "a node cannot start here")
                        .with_help("a node starts with its name; look for a missing quote, `{` or `(` before it"),
                );
            }
            continue;
        }
        if message == "Unexpected newline in single-line quoted string" {
            out.push(
                Diagnostic::error("hookplan::syntax", "a string is not closed on its line", span, "no closing `\"` on this line")
                    .with_help("close the string with `\"`; a string over several lines starts with `\"\"\"` and a line break, and ends with `\"\"\"` on a line of its own"),
            );
            continue;
        }
        let (span, label) = match label {
            // kdl's span runs from the node's start; the value is missing at its end.
            Some("property value") => (
                Span::new(span.end(), 0),
                "expected a value after `=`".to_string(),
            ),
            Some(l) => (span, format!("expected {l}")),
            None => (span, "here".to_string()),
        };
        out.push(
            Diagnostic::error("hookplan::syntax", lower_first(message), span, label)
                .with_help(help),
        );
    }
    out.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    out
}

/// The first offset at or after `at` that is not whitespace or a comment.
fn skip_trivia(text: &str, mut at: usize) -> usize {
    let bytes = text.as_bytes();
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\r' | b'\n' | b';' => at += 1,
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at = text[at..].find('\n').map_or(text.len(), |p| at + p)
            }
            _ if text[at..].starts_with('\u{feff}') => at += 3,
            _ => break,
        }
    }
    at
}

/// The token at `at`: a word, or one character.
fn token_at(text: &str, at: usize) -> &str {
    let Some(rest) = text.get(at..) else {
        return "";
    };
    let word = rest
        .find(|c: char| c.is_whitespace() || "{}()[]=;\"/\\".contains(c))
        .unwrap_or(rest.len());
    let len = if word > 0 {
        word.min(40)
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    };
    let mut len = len.min(rest.len());
    while !rest.is_char_boundary(len) {
        len -= 1;
    }
    &rest[..len]
}

fn lower_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(c) if !message.starts_with("KDL") => c.to_lowercase().chain(chars).collect(),
        _ => message.to_string(),
    }
}

fn too_deep(at: usize, what: &str) -> Diagnostic {
    Diagnostic::error(
        "hookplan::too-deep",
        format!("{what} are nested more than {MAX_NESTING} levels deep"),
        Span::new(at, if what == "blocks" { 1 } else { 2 }),
        "too deep",
    )
    .with_help("plans never need this much nesting; flatten the file")
}

fn slashdash_run(at: usize) -> Diagnostic {
    Diagnostic::error(
        "hookplan::syntax",
        format!("more than {MAX_SLASHDASH_RUN} `/-` in a row"),
        Span::new(at, 2),
        "a long run of `/-` starts here",
    )
    .with_help("one `/-` comments out the node, value or block after it; remove the extra ones")
}

fn anomaly(anomaly: &Anomaly) -> Diagnostic {
    Diagnostic::error(
        "hookplan::syntax",
        anomaly.message,
        anomaly.span,
        anomaly.label,
    )
    .with_help(anomaly.help)
}

/// The parser's stack: enough for one level of recursion per byte of any text of up to
/// [`SAFE_BYTES`] (a level costs up to ~8 KiB). Only the pages used are ever touched.
const PARSE_STACK: usize = 1 << 30;

/// Runs the parser on a thread with a large stack, or here if no such thread can be made.
fn with_parse_stack<T: Send>(parse: impl FnOnce() -> T + Send) -> T {
    let slot = std::sync::Mutex::new(Some(parse));
    let run = || {
        let parse = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        parse.map(|parse| parse())
    };
    let result = std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("kdl-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, run)
        {
            Ok(handle) => Some(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            ),
            Err(_) => None,
        }
    });
    result.flatten().or_else(run).expect("the parse ran")
}

fn raw_node(node: &KdlNode) -> RawNode {
    let mut annotation = node.ty().map(|t| Span::from(t.span()));
    let mut args = Vec::new();
    let mut props = Vec::new();
    for entry in node.entries() {
        if annotation.is_none() {
            annotation = entry.ty().map(|t| Span::from(t.span()));
        }
        let raw = raw_entry(entry);
        match entry.name() {
            Some(name) => props.push(RawProp {
                name: name.value().to_string(),
                name_span: name.span().into(),
                span: entry.span().into(),
                entry: raw,
            }),
            None => args.push(raw),
        }
    }
    RawNode {
        name: node.name().value().to_string(),
        name_span: node.name().span().into(),
        span: node.span().into(),
        annotation,
        args,
        props,
        children: node
            .children()
            .map(|doc| doc.nodes().iter().map(raw_node).collect()),
    }
}

fn raw_entry(entry: &KdlEntry) -> RawEntry {
    let whole: Span = entry.span().into();
    let repr = entry.format().map(|f| f.value_repr.as_str()).unwrap_or("");
    // The value is the tail of the entry's text (after `name=` for a property).
    let span = if !repr.is_empty() && repr.len() <= whole.len {
        Span::new(whole.end() - repr.len(), repr.len())
    } else {
        whole
    };
    let value = match entry.value() {
        KdlValue::String(s) => RawValue::String(s.clone()),
        KdlValue::Integer(i) => RawValue::Integer(*i),
        KdlValue::Float(f) => RawValue::Float(*f),
        KdlValue::Bool(b) => RawValue::Bool(*b),
        KdlValue::Null => RawValue::Null,
    };
    let verbatim_at = match &value {
        RawValue::String(s) => verbatim_offset(repr, s).map(|offset| span.start + offset),
        _ => None,
    };
    RawEntry {
        value,
        span,
        verbatim_at,
    }
}

/// Where the string's text starts inside its written form, if it is written without escapes.
fn verbatim_offset(repr: &str, value: &str) -> Option<usize> {
    let hashes = repr.bytes().take_while(|b| *b == b'#').count();
    let body = repr.get(hashes..repr.len().checked_sub(hashes)?)?;
    if body.starts_with("\"\"\"") {
        return None;
    }
    if body.len() >= 2
        && body.starts_with('"')
        && body.ends_with('"')
        && &body[1..body.len() - 1] == value
    {
        return Some(hashes + 1);
    }
    // A bare identifier string.
    (repr == value).then_some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = "a {".repeat(5000) + &"}".repeat(5000);
        let errors = parse(&deep).unwrap_err();
        assert_eq!(errors[0].code, "hookplan::too-deep");
        assert_eq!(errors[0].span.start, 3 * MAX_NESTING + 2);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let braces = "{".repeat(100);
        let text = format!(
            "a \"{braces}\" #\"{braces}\"# \"\"\"\n{braces}\n\"\"\"\n// {braces}\n/* {braces} /* */ */\nb {{ c {{ }} }}\n"
        );
        let (_, nodes) = parse(&text).unwrap_or_else(|e| panic!("{:?}", e[0].message));
        assert_eq!(nodes.len(), 2);
        // 33 levels of real blocks are refused, in the same text.
        let deep = format!(
            "{text}{}{}",
            "c {".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        assert_eq!(parse(&deep).unwrap_err()[0].code, "hookplan::too-deep");
    }

    #[test]
    fn deeply_nested_comments_are_refused() {
        let text = "/*".repeat(10_000) + &"*/".repeat(10_000);
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "hookplan::too-deep");
        assert_eq!(
            errors[0].message,
            format!("comments are nested more than {MAX_NESTING} levels deep")
        );
        // The comment that holds the too-deep nesting.
        assert_eq!(errors[0].span, Span::new(0, 2));
    }

    #[test]
    fn values_keep_their_own_spans() {
        let (_, nodes) = parse("expect status=200 \"x\" raw=#\"a\"#").unwrap();
        let node = &nodes[0];
        assert_eq!(node.props[0].entry.span, Span::new(14, 3));
        assert_eq!(node.args[0].span, Span::new(18, 3));
        assert_eq!(node.args[0].verbatim_at, Some(19));
        assert_eq!(node.props[1].entry.verbatim_at, Some(28));
    }

    #[test]
    fn kdl_v1_gets_a_hint() {
        let errors = parse("plan \"x\" {\n  flag true\n}\n").unwrap_err();
        assert_eq!(errors[0].code, "hookplan::kdl-v1");
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        for text in [
            "{",
            "}",
            "\"",
            "#",
            "/*",
            "a=",
            "(t)",
            "a #\"",
            "\u{feff}\u{0}",
            "a 1.",
            "r#\"",
            "a {{{",
        ] {
            let errors = parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} parsed"));
            assert!(!errors.is_empty(), "{text:?}: an error with no diagnostic");
            for error in &errors {
                assert!(error.is_error(), "{text:?}: {error:?}");
                assert!(!error.message.is_empty(), "{text:?}: {error:?}");
                assert!(error.help.is_some(), "{text:?}: no help: {error:?}");
                assert!(
                    error.span.end() <= text.len() && text.is_char_boundary(error.span.start),
                    "{text:?}: the span is not in the text: {error:?}"
                );
            }
        }
    }
}
