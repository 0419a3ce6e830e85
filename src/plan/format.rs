//! `hookplan fmt`: the canonical layout of a plan, keeping every comment.
//!
//! Four-space indents, one node per line, blocks always opened on their own lines, values kept
//! as written (a raw string stays raw), at most one blank line between nodes. The output is
//! checked before it is used: it must mean the same (same canonical hash) and keep every comment.

use kdl::{KdlDocument, KdlNode};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const INDENT: &str = "    ";

/// One output line: a blank, or text at a depth.
enum Line {
    Blank,
    Text { depth: usize, text: String, opens: bool },
}

struct Writer<'s> {
    lines: Vec<Line>,
    source: &'s str,
}

impl Writer<'_> {
    /// At most one blank line in a row, never right after a `{` or at the top.
    fn blank(&mut self) {
        match self.lines.last() {
            None | Some(Line::Blank) | Some(Line::Text { opens: true, .. }) => {}
            Some(Line::Text { .. }) => self.lines.push(Line::Blank),
        }
    }

    fn text(&mut self, depth: usize, text: String, opens: bool) {
        self.lines.push(Line::Text { depth, text, opens });
    }

    fn trim_blank(&mut self) {
        while matches!(self.lines.last(), Some(Line::Blank)) {
            self.lines.pop();
        }
    }

    /// The comments (and slash-dashed nodes) in whitespace before a node, block end or file end.
    /// `line_open`: the text starts on a line that already holds code, so its first line is not a
    /// line of its own.
    fn gap(&mut self, text: &str, depth: usize, line_open: bool) {
        let segments: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
        let last = segments.len() - 1;
        let mut chunk: Vec<&str> = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let complete = i < last;
            if segment.trim().is_empty() {
                self.flush(&mut chunk, depth);
                if complete && (i > 0 || !line_open) {
                    self.blank();
                }
            } else {
                chunk.push(segment);
            }
        }
        self.flush(&mut chunk, depth);
    }

    /// Writes consecutive comment lines, keeping their indentation relative to each other.
    fn flush(&mut self, chunk: &mut Vec<&str>, depth: usize) {
        if chunk.is_empty() {
            return;
        }
        let strip = chunk.iter().skip(1).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
        for (i, line) in chunk.drain(..).enumerate() {
            let body = if i == 0 { line.trim_start() } else { &line[(line.len() - line.trim_start().len()).min(strip)..] };
            self.text(depth, body.trim_end().to_string(), false);
        }
    }

    fn finish(mut self) -> String {
        self.trim_blank();
        let mut out = String::new();
        for line in self.lines {
            match line {
                Line::Blank => out.push('\n'),
                Line::Text { depth, text, .. } => {
                    for _ in 0..depth {
                        out.push_str(INDENT);
                    }
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// The canonical text of a parsed document. `source` is the text it was parsed from (a comment
/// after a closing `}` is only found there).
pub fn format(doc: &KdlDocument, source: &str) -> String {
    let mut w = Writer { lines: Vec::new(), source };
    write_block(&mut w, doc, 0);
    w.finish()
}

fn write_block(w: &mut Writer, doc: &KdlDocument, depth: usize) {
    // A block's first line continues the line of its `{`.
    let mut line_open = depth > 0;
    if let Some(leading) = doc.format().map(|f| f.leading.as_str()) {
        w.gap(leading, depth, line_open);
    }
    for node in doc.nodes() {
        line_open = write_node(w, node, depth, line_open);
    }
    if let Some(trailing) = doc.format().map(|f| f.trailing.as_str()) {
        w.gap(trailing, depth, line_open);
    }
    w.trim_blank();
}

/// Writes one node; returns whether its last line is still open (no newline ended it).
fn write_node(w: &mut Writer, node: &KdlNode, depth: usize, line_open: bool) -> bool {
    let format = node.format();
    w.gap(format.map_or("", |f| f.leading.as_str()), depth, line_open);

    let mut head = String::from(node.name().repr().unwrap_or(node.name().value()));
    for entry in node.entries() {
        head.push(' ');
        let ef = entry.format();
        if let Some(comment) = ef.map(|f| f.leading.trim()).filter(|c| !c.is_empty()) {
            head.push_str(comment);
            head.push(' ');
        }
        if let Some(name) = entry.name() {
            head.push_str(name.repr().unwrap_or(name.value()));
            head.push('=');
        }
        match ef {
            Some(f) if !f.value_repr.is_empty() => head.push_str(&f.value_repr),
            _ => head.push_str(&entry.value().to_string()),
        }
        if let Some(comment) = ef.map(|f| f.trailing.trim()).filter(|c| !c.is_empty()) {
            head.push(' ');
            head.push_str(comment);
        }
    }
    if let Some(comment) = format.map(|f| f.before_children.trim()).filter(|c| !c.is_empty()) {
        head.push(' ');
        head.push_str(comment);
    }
    let mut tail = String::new();
    let mut ends_line = true;
    if let Some(f) = format {
        for part in [f.before_terminator.trim(), f.terminator.trim().trim_start_matches(';').trim(), f.trailing.trim()] {
            if !part.is_empty() {
                tail.push(' ');
                tail.push_str(part);
            }
        }
        ends_line = f.terminator.contains('\n') || f.trailing.contains('\n');
    }
    match node.children() {
        Some(children) if children.nodes().is_empty() && is_blank(children) => head.push_str(" {}"),
        Some(children) => {
            head.push_str(" {");
            w.text(depth, head, true);
            write_block(w, children, depth + 1);
            let mut close = String::from("}");
            // The parser drops a comment written after a block's closing `}` on the same line.
            if tail.is_empty() {
                let end = node.span().offset() + node.span().len();
                if let Some(comment) = comment_after(w.source, end) {
                    tail = format!(" {comment}");
                    ends_line = true;
                }
            }
            close.push_str(&tail);
            w.text(depth, close, false);
            return !ends_line;
        }
        None => {}
    }
    w.text(depth, head, false);
    if let Some(Line::Text { text, .. }) = w.lines.last_mut() {
        text.push_str(&tail);
    }
    !ends_line
}

fn is_blank(doc: &KdlDocument) -> bool {
    doc.format().is_none_or(|f| f.leading.trim().is_empty() && f.trailing.trim().is_empty())
}

/// A `//` or `/* */` comment on the rest of the line after `offset`.
fn comment_after(source: &str, offset: usize) -> Option<&str> {
    let rest = source.get(offset..)?;
    let line = rest.split('\n').next()?.trim().trim_end_matches('\r');
    (line.starts_with("//") || line.starts_with("/*")).then_some(line)
}

/// sha256 over the document's meaning: names, values (not how they were written), properties
/// sorted, children — no comments, no layout.
pub fn canonical_hash(doc: &KdlDocument) -> String {
    let canonical = serde_json::Value::Array(doc.nodes().iter().map(canonical_node).collect());
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

fn canonical_node(node: &KdlNode) -> serde_json::Value {
    use serde_json::Value;
    let value = |v: &kdl::KdlValue| match v {
        kdl::KdlValue::String(s) => Value::String(s.clone()),
        kdl::KdlValue::Integer(i) => Value::String(format!("#int {i}")),
        kdl::KdlValue::Float(f) => Value::String(format!("#float {f:?}")),
        kdl::KdlValue::Bool(b) => Value::Bool(*b),
        kdl::KdlValue::Null => Value::Null,
    };
    let mut args = Vec::new();
    let mut props = BTreeMap::new();
    for entry in node.entries() {
        match entry.name() {
            Some(name) => _ = props.insert(name.value().to_string(), value(entry.value())),
            None => args.push(value(entry.value())),
        }
    }
    let children = node.children().map(|c| Value::Array(c.nodes().iter().map(canonical_node).collect()));
    serde_json::json!([node.name().value(), args, props, children])
}

/// Counts comments (`//`, `/* */`, `/-`) outside strings, to prove formatting kept them all.
pub fn count_comments(text: &str) -> usize {
    super::scan::scan(text).comments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        let doc = KdlDocument::parse_v2(text).unwrap();
        format(&doc, text)
    }

    #[test]
    fn lays_out_blocks_and_keeps_raw_strings() {
        let text = "plan \"q\" { seed 42 ; jobs 4 }\nstep  \"a\"  {  http \"POST\" \"http://x\" { json #\"{\"a\": 1}\"# } }\n";
        assert_eq!(
            fmt(text),
            "plan \"q\" {\n    seed 42\n    jobs 4\n}\nstep \"a\" {\n    http \"POST\" \"http://x\" {\n        json #\"{\"a\": 1}\"#\n    }\n}\n"
        );
    }

    #[test]
    fn keeps_every_comment() {
        let text = "// head\n\n/* block */\nplan \"q\" { seed 42 } // after brace\n\n/-step \"off\" { x 1 }\nstep \"a\" /-\"skip\" {\n   // inner\n   http \"GET\" \"http://x\"\n\n   expect status=200 /* why */\n   // last\n}\n// end\n";
        let out = fmt(text);
        assert_eq!(
            out,
            "// head\n\n/* block */\nplan \"q\" {\n    seed 42\n} // after brace\n\n/-step \"off\" { x 1 }\nstep \"a\" /-\"skip\" {\n    // inner\n    http \"GET\" \"http://x\"\n\n    expect status=200 /* why */\n    // last\n}\n// end\n"
        );
        assert_eq!(count_comments(text), count_comments(&out));
    }

    #[test]
    fn formatting_is_idempotent_and_keeps_meaning() {
        let text = "plan \"q\"{seed 42}\nstep \"a\"{needs \"b\";http \"GET\" \"http://x\"}\n";
        let once = fmt(text);
        assert_eq!(fmt(&once), once);
        let before = canonical_hash(&KdlDocument::parse_v2(text).unwrap());
        let after = canonical_hash(&KdlDocument::parse_v2(&once).unwrap());
        assert_eq!(before, after);
    }

    #[test]
    fn hash_ignores_how_values_are_written() {
        let a = canonical_hash(&KdlDocument::parse_v2("n \"x\" k=1 j=#\"y\"#").unwrap());
        let b = canonical_hash(&KdlDocument::parse_v2("// c\nn x j=\"y\" k=1").unwrap());
        assert_eq!(a, b);
        let c = canonical_hash(&KdlDocument::parse_v2("n \"x\" k=2 j=\"y\"").unwrap());
        assert_ne!(a, c);
    }
}
