//! KDL text to raw nodes: a nesting guard, the kdl parser, a hint for KDL v1 files.

use super::diagnostic::Diagnostic;
use super::raw::{RawEntry, RawNode, RawProp, RawValue};
use crate::model::Span;
use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

/// Deeper nesting than any plan needs; beyond it the parser's recursion could exhaust the stack.
pub const MAX_NESTING: usize = 32;

/// Parses plan text into raw nodes, or every syntax error found.
pub fn parse(text: &str) -> Result<(KdlDocument, Vec<RawNode>), Vec<Diagnostic>> {
    let document = parse_document(text)?;
    let nodes = document.nodes().iter().map(raw_node).collect();
    Ok((document, nodes))
}

/// Parses plan text into a KDL document (kept for `fmt`), guarding nesting first.
pub fn parse_document(text: &str) -> Result<KdlDocument, Vec<Diagnostic>> {
    if let Some(diagnostic) = check_nesting(text) {
        return Err(vec![diagnostic]);
    }
    KdlDocument::parse_v2(text).map_err(|error| {
        let mut diagnostics: Vec<Diagnostic> = error
            .diagnostics
            .iter()
            .map(|d| {
                let message = d.message.clone().unwrap_or_else(|| "invalid KDL".into());
                let diagnostic = Diagnostic::error(
                    "hookplan::syntax",
                    message,
                    d.span.into(),
                    d.label.clone().unwrap_or_else(|| "here".into()),
                );
                match &d.help {
                    Some(help) => diagnostic.with_help(help.clone()),
                    None => diagnostic.with_help("plan files are KDL v2: see https://kdl.dev"),
                }
            })
            .collect();
        if diagnostics.is_empty() {
            diagnostics.push(Diagnostic::error("hookplan::syntax", "invalid KDL", Span::new(0, 0), "here"));
        }
        if KdlDocument::parse_v1(text).is_ok() {
            let first = diagnostics[0].span;
            diagnostics.insert(
                0,
                Diagnostic::error(
                    "hookplan::kdl-v1",
                    "this file is written in KDL v1; plans are KDL v2",
                    first,
                    "KDL v1 syntax",
                )
                .with_help(
                    "convert it with `hookplan fmt --from-v1 FILE` (v2 writes #true/#false/#null and raw strings as #\"…\"#)",
                ),
            );
        }
        diagnostics
    })
}

/// What a light pass over the text finds, skipping strings: how deep blocks and comments nest,
/// and how many comments there are.
pub struct Scan {
    /// Where nesting first went deeper than [`MAX_NESTING`], and what nested.
    pub too_deep: Option<(usize, &'static str)>,
    /// `//`, `/* */` and `/-` comments outside strings.
    pub comments: usize,
}

pub fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut comments = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Scan {
                        too_deep: Some((i, "blocks")),
                        comments,
                    };
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                comments += 1;
                i = memchr(bytes, i, b'\n');
            }
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                comments += 1;
                i += 2;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                comments += 1;
                let mut open = 1usize;
                let start = i;
                i += 2;
                while i < bytes.len() && open > 0 {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        open += 1;
                        if open > MAX_NESTING {
                            return Scan {
                                too_deep: Some((start, "comments")),
                                comments,
                            };
                        }
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        open -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => i = skip_string(bytes, i),
            b'#' | b'r' => {
                // Raw strings: `#"…"#` (v2) and `r#"…"#` (v1).
                let start = i + usize::from(bytes[i] == b'r');
                let hashes = bytes[start..].iter().take_while(|b| **b == b'#').count();
                if bytes.get(start + hashes) == Some(&b'"') && (hashes > 0 || bytes[i] == b'r') {
                    i = skip_raw_string(bytes, start + hashes, hashes);
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    Scan {
        too_deep: None,
        comments,
    }
}

/// Refuses nesting deeper than [`MAX_NESTING`] before the recursive parser sees it.
fn check_nesting(text: &str) -> Option<Diagnostic> {
    let (at, what) = scan(text).too_deep?;
    Some(
        Diagnostic::error(
            "hookplan::too-deep",
            format!("{what} are nested more than {MAX_NESTING} levels deep"),
            Span::new(at, 1),
            "too deep",
        )
        .with_help("plans never need this much nesting; flatten the file"),
    )
}

fn memchr(bytes: &[u8], from: usize, needle: u8) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == needle)
        .map_or(bytes.len(), |p| from + p)
}

/// Skips a quoted string starting at `at` (the opening quote); returns the index after it.
fn skip_string(bytes: &[u8], at: usize) -> usize {
    let multiline = bytes[at..].starts_with(b"\"\"\"");
    let mut i = at + if multiline { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' if multiline && bytes[i..].starts_with(b"\"\"\"") => return i + 3,
            b'"' if !multiline => return i + 1,
            b'\n' if !multiline => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Skips a raw string whose opening quote is at `at`, closed by a quote and `hashes` `#`s.
fn skip_raw_string(bytes: &[u8], at: usize, hashes: usize) -> usize {
    let multiline = bytes[at..].starts_with(b"\"\"\"");
    let quote: &[u8] = if multiline { b"\"\"\"" } else { b"\"" };
    let mut i = at + quote.len();
    while i < bytes.len() {
        if bytes[i..].starts_with(quote)
            && bytes[i + quote.len()..]
                .iter()
                .take(hashes)
                .filter(|b| **b == b'#')
                .count()
                == hashes
        {
            return i + quote.len() + hashes;
        }
        i += 1;
    }
    bytes.len()
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
        assert!(check_nesting(&text).is_none());
    }

    #[test]
    fn deeply_nested_comments_are_refused() {
        let text = "/*".repeat(10_000) + &"*/".repeat(10_000);
        assert!(check_nesting(&text).is_some());
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
            let _ = parse(text);
        }
    }
}
