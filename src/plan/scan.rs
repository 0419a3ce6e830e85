//! A light, non-recursive pass over plan text before the kdl parser sees it.
//!
//! kdl's parser is recursive: each nested block, nested comment, `/-` in a row, and each
//! place where it gives up on the document and starts again, costs a stack frame of a few
//! kilobytes. This pass splits the text into strings, comments and code the way KDL v2 does,
//! and finds what would make the parser recurse too deep or run too long:
//!
//! - blocks or comments nested more than [`MAX_NESTING`] deep;
//! - more than [`MAX_SLASHDASH_RUN`] `/-` in a row (the parser's time grows with the cube);
//! - the first place where the text is certainly not KDL v2 (an [`Anomaly`]): an unclosed
//!   string, a quote inside a word, a bad escape, a stray `}`… Past such a place the parser's
//!   error recovery may read strings as code, so this pass can no longer vouch for the depth.
//!   [`super::syntax`] then runs the parser only on text small enough to be safe whatever it
//!   does (see [`SAFE_BYTES`]) and otherwise reports the anomaly itself.

use crate::model::Span;

/// Deeper nesting than any plan needs; beyond it the parser's recursion could exhaust the stack.
pub const MAX_NESTING: usize = 32;

/// `/-` in a row (with only whitespace between) that the parser is allowed to see.
pub const MAX_SLASHDASH_RUN: usize = 16;

/// Text past an anomaly is parsed only when the whole text is at most this long: even if every
/// byte cost the parser one level of recursion, the parse thread's stack ([`super::syntax`])
/// holds it.
pub const SAFE_BYTES: usize = 32 * 1024;

/// …and has at most this many `{` (in strings or not): nested blocks cost the parser time with
/// the square of their depth, so this bounds its time too.
pub const SAFE_BRACES: usize = 2048;

/// `*` and `/` inside one `/* */` comment: the parser recurses once for each.
pub const MAX_COMMENT_MARKS: usize = 65_536;

/// What the pass found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Where nesting first went deeper than [`MAX_NESTING`], and what nested.
    pub too_deep: Option<(usize, &'static str)>,
    /// `//`, `/* */` and `/-` comments, counted up to the first anomaly.
    pub comments: usize,
    /// Where a run of more than [`MAX_SLASHDASH_RUN`] `/-` starts.
    pub slashdash_run: Option<usize>,
    /// Where a comment with more than [`MAX_COMMENT_MARKS`] `*` and `/` starts.
    pub long_comment: Option<usize>,
    /// The first place that is certainly not KDL v2.
    pub anomaly: Option<Anomaly>,
    /// `{` in the whole text, strings and comments included.
    pub braces: usize,
    /// `/*` in the whole text, strings included.
    pub comment_opens: usize,
    /// Where the last `}` that closes a top-level block is.
    pub last_close: Option<usize>,
}

impl Scan {
    /// Whether the KDL v1 parser may run on this text. It stops at its first error, but this
    /// pass cannot follow v1's strings (they may span lines), so only counts that hold
    /// whatever it makes of them are used: few enough `{` and `/*`, in a small enough text.
    pub fn safe_for_v1(&self, len: usize) -> bool {
        self.too_deep.is_none()
            && self.slashdash_run.is_none()
            && self.long_comment.is_none()
            && len <= 256 * 1024
            && self.braces <= 8192
            && self.comment_opens <= 8192
    }

    /// Whether the parser may run on this text without risking its stack.
    pub fn safe_to_parse(&self, len: usize) -> bool {
        self.too_deep.is_none()
            && self.slashdash_run.is_none()
            && self.long_comment.is_none()
            && (self.anomaly.is_none() || (len <= SAFE_BYTES && self.braces <= SAFE_BRACES))
    }
}

/// A place where the text is certainly not KDL v2, described for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub span: Span,
    pub message: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    /// Whether KDL v1 could explain it (a v1 raw string `r"…"`, a v1 escape…); a character
    /// that no KDL allows cannot be.
    pub v1_possible: bool,
}

const NEWLINES: &[char] = &[
    '\r', '\n', '\u{85}', '\u{0B}', '\u{0C}', '\u{2028}', '\u{2029}',
];
const UNICODE_SPACES: &[char] = &[
    '\t', ' ', '\u{A0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}',
    '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200A}', '\u{202F}', '\u{205F}',
    '\u{3000}',
];

fn is_newline(c: char) -> bool {
    NEWLINES.contains(&c)
}

fn is_space(c: char) -> bool {
    UNICODE_SPACES.contains(&c)
}

/// Code points KDL v2 allows nowhere (the same list as the kdl crate's).
fn is_disallowed(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{E}'..='\u{1F}' | '\u{200E}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

pub fn scan(text: &str) -> Scan {
    let mut scan = Scan {
        braces: text.bytes().filter(|b| *b == b'{').count(),
        comment_opens: text.as_bytes().windows(2).filter(|w| w == b"/*").count(),
        ..Scan::default()
    };
    scan.slashdash_run = slashdash_run(text);
    let mut lexer = Lexer {
        text,
        i: 0,
        scan: &mut scan,
    };
    if let Err(anomaly) = lexer.run() {
        lexer.scan.anomaly = Some(anomaly);
    }
    scan
}

/// A long run of `/-` separated only by whitespace, looked for in the whole text (strings too).
fn slashdash_run(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut run = 0usize;
    let mut run_start = 0usize;
    let mut i = 0usize;
    while let Some(found) = find(bytes, i, b"/-") {
        let between = &text[i..found];
        if run > 0 && between.chars().all(|c| is_space(c) || is_newline(c)) {
            run += 1;
        } else {
            run = 1;
            run_start = found;
        }
        if run > MAX_SLASHDASH_RUN {
            return Some(run_start);
        }
        i = found + 2;
    }
    None
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

struct Lexer<'t, 's> {
    text: &'t str,
    i: usize,
    scan: &'s mut Scan,
}

type Lexed = Result<(), Anomaly>;

fn anomaly(
    at: usize,
    len: usize,
    message: &'static str,
    label: &'static str,
    help: &'static str,
) -> Anomaly {
    Anomaly {
        span: Span::new(at, len),
        message,
        label,
        help,
        v1_possible: true,
    }
}

impl Lexer<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.text[self.i..].chars().next()
    }

    fn peek_at(&self, at: usize) -> Option<char> {
        self.text.get(at..)?.chars().next()
    }

    fn rest(&self) -> &str {
        &self.text[self.i..]
    }

    fn run(&mut self) -> Lexed {
        let mut depth = 0usize;
        // Whether a string may start here (after whitespace, a delimiter or a comment).
        let mut boundary = true;
        // Whether the last token was a value, so that `=` may follow.
        let mut after_value = false;
        let mut in_type = false;
        if self.rest().starts_with('\u{FEFF}') {
            self.i += '\u{FEFF}'.len_utf8();
        }
        while let Some(c) = self.peek() {
            let at = self.i;
            match c {
                _ if is_newline(c) => {
                    self.i += c.len_utf8();
                    boundary = true;
                    after_value = false;
                }
                _ if is_space(c) => {
                    self.i += c.len_utf8();
                    boundary = true;
                }
                _ if is_disallowed(c) => {
                    return Err(Anomaly {
                        v1_possible: false,
                        ..anomaly(
                            at,
                            c.len_utf8(),
                            "a character that KDL does not allow",
                            "not allowed in KDL",
                            "remove it: control characters, byte-order marks and direction marks are not allowed in plans (most editors do not show them)",
                        )
                    });
                }
                '\\' => {
                    self.line_continuation()?;
                    boundary = true;
                }
                '/' => {
                    match self.rest().as_bytes().get(1) {
                        Some(b'/') => self.line_comment(),
                        Some(b'*') => self.block_comment()?,
                        Some(b'-') => {
                            self.scan.comments += 1;
                            self.i += 2;
                        }
                        _ => {
                            return Err(anomaly(
                                at,
                                1,
                                "a `/` outside a string or comment",
                                "unexpected `/`",
                                "put text with `/` in quotes; comments start with `//` or `/*`",
                            ));
                        }
                    }
                    boundary = true;
                }
                '{' => {
                    depth += 1;
                    if depth > MAX_NESTING && self.scan.too_deep.is_none() {
                        self.scan.too_deep = Some((at, "blocks"));
                        return Ok(());
                    }
                    self.i += 1;
                    boundary = true;
                    after_value = false;
                }
                '}' => {
                    if depth == 0 {
                        return Err(anomaly(
                            at,
                            1,
                            "a `}` with no `{` to close",
                            "unmatched `}`",
                            "remove it, or look for a missing `{` before it",
                        ));
                    }
                    depth -= 1;
                    if depth == 0 {
                        self.scan.last_close = Some(at);
                    }
                    self.i += 1;
                    boundary = true;
                    after_value = false;
                }
                ';' => {
                    self.i += 1;
                    boundary = true;
                    after_value = false;
                }
                '(' | ')' => {
                    if in_type == (c == '(') {
                        return Err(anomaly(
                            at,
                            1,
                            "a parenthesis outside a type annotation",
                            "unexpected",
                            "parentheses only enclose a type annotation, `(type)`; put other text in quotes",
                        ));
                    }
                    in_type = c == '(';
                    self.i += 1;
                    boundary = true;
                    after_value = false;
                    if c == ')' {
                        // A type annotates what follows it: a name or a value.
                        let next = self
                            .rest()
                            .trim_start_matches(UNICODE_SPACES)
                            .chars()
                            .next();
                        if next.is_none_or(|n| is_newline(n) || "(){};=".contains(n)) {
                            return Err(anomaly(
                                at,
                                1,
                                "a type annotation with nothing after it",
                                "annotates nothing",
                                "a `(type)` goes right before a node name or a value; plans do not use them",
                            ));
                        }
                    }
                }
                '=' => {
                    if !after_value {
                        return Err(anomaly(
                            at,
                            1,
                            "`=` without a property name",
                            "nothing to set",
                            "write properties as `name=value`",
                        ));
                    }
                    self.i += 1;
                    boundary = true;
                    after_value = false;
                }
                '[' | ']' => {
                    return Err(anomaly(
                        at,
                        1,
                        "a bracket outside a string",
                        "unexpected",
                        "KDL has no lists in brackets: write values one after another, `needs \"a\" \"b\"`",
                    ));
                }
                '"' => {
                    if !boundary {
                        return Err(mid_word_quote(at));
                    }
                    self.quoted_string()?;
                    boundary = false;
                    after_value = true;
                }
                '#' => {
                    let hashes = self.rest().bytes().take_while(|b| *b == b'#').count();
                    if self.rest().as_bytes().get(hashes) == Some(&b'"') {
                        if !boundary {
                            return Err(mid_word_quote(at));
                        }
                        self.raw_string(hashes)?;
                    } else if hashes == 1
                        && ["#true", "#false", "#null", "#inf", "#-inf", "#nan"]
                            .iter()
                            .any(|k| self.keyword(k))
                    {
                        self.i += self
                            .rest()
                            .find(|c: char| !(c == '#' || c == '-' || c.is_ascii_alphabetic()))
                            .unwrap_or(self.rest().len());
                    } else {
                        return Err(anomaly(
                            at,
                            hashes,
                            "a `#` outside a string",
                            "unexpected `#`",
                            "`#` starts a keyword (#true, #false, #null) or a raw string (#\"…\"#)",
                        ));
                    }
                    boundary = false;
                    after_value = true;
                }
                _ => {
                    self.i += c.len_utf8();
                    boundary = false;
                    after_value = true;
                }
            }
        }
        Ok(())
    }

    /// Whether the keyword starts here and ends at a delimiter.
    fn keyword(&self, keyword: &str) -> bool {
        self.rest().starts_with(keyword)
            && self
                .peek_at(self.i + keyword.len())
                .is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
    }

    /// `\` outside a string continues a node on the next line: only spaces and a comment may
    /// follow it on its line.
    fn line_continuation(&mut self) -> Lexed {
        let at = self.i;
        self.i += 1;
        loop {
            match self.peek() {
                Some(c) if is_space(c) => self.i += c.len_utf8(),
                Some('/') if self.rest().starts_with("/*") => self.block_comment()?,
                Some('/') if self.rest().starts_with("//") => {
                    self.line_comment();
                    break;
                }
                Some(c) if is_newline(c) => {
                    self.i += c.len_utf8();
                    break;
                }
                None => break,
                Some(_) => {
                    return Err(anomaly(
                        at,
                        1,
                        "a `\\` outside a string",
                        "unexpected `\\`",
                        "outside strings, `\\` only continues a node on the next line and must end its line",
                    ));
                }
            }
        }
        Ok(())
    }

    fn line_comment(&mut self) {
        self.scan.comments += 1;
        let end = self
            .rest()
            .find(is_newline)
            .map_or(self.text.len(), |p| self.i + p);
        self.i = end;
    }

    fn block_comment(&mut self) -> Lexed {
        self.scan.comments += 1;
        let start = self.i;
        let bytes = self.text.as_bytes();
        let mut open = 0usize;
        let mut marks = 0usize;
        while self.i < bytes.len() {
            if matches!(bytes[self.i], b'*' | b'/') {
                marks += 1;
                if marks > MAX_COMMENT_MARKS {
                    self.scan.long_comment = Some(start);
                    return Ok(());
                }
            }
            if bytes[self.i..].starts_with(b"/*") {
                open += 1;
                if open > MAX_NESTING && self.scan.too_deep.is_none() {
                    self.scan.too_deep = Some((start, "comments"));
                    return Err(anomaly(
                        start,
                        2,
                        "comments are nested too deep",
                        "too deep",
                        "flatten the comments",
                    ));
                }
                self.i += 2;
            } else if bytes[self.i..].starts_with(b"*/") {
                open -= 1;
                self.i += 2;
                if open == 0 {
                    return Ok(());
                }
            } else {
                self.i += 1;
            }
        }
        Err(anomaly(
            start,
            2,
            "a `/*` comment is never closed",
            "this comment has no `*/`",
            "close it with `*/`; block comments nest, so every `/*` inside it needs its own `*/`",
        ))
    }

    /// A string in quotes starting here: single-line `"…"` or multi-line `"""…"""`.
    fn quoted_string(&mut self) -> Lexed {
        let start = self.i;
        if self.rest().starts_with("\"\"\"") {
            self.i += 3;
            self.multiline_opening(start)?;
            let close = self.string_body(start, true)?;
            return self.check_dedent(start, close);
        }
        self.i += 1;
        self.string_body(start, false).map(|_| ())
    }

    /// The body of a quoted string; returns where its closing quotes start.
    fn string_body(&mut self, start: usize, multiline: bool) -> Result<usize, Anomaly> {
        while let Some(c) = self.peek() {
            let at = self.i;
            match c {
                '"' if !multiline => {
                    self.i += 1;
                    return Ok(at);
                }
                '"' if self.rest().starts_with("\"\"\"") => {
                    self.i += 3;
                    return Ok(at);
                }
                '\\' => self.escape()?,
                _ if !multiline && is_newline(c) => return Err(unclosed_on_line(start, at)),
                _ if is_disallowed(c) => return Err(disallowed_in_string(at, c)),
                _ => self.i += c.len_utf8(),
            }
        }
        Err(unclosed_at_end(start))
    }

    fn escape(&mut self) -> Lexed {
        let at = self.i;
        self.i += 1;
        match self.peek() {
            Some('"' | '\\' | 'b' | 'f' | 'n' | 'r' | 't' | 's') => self.i += 1,
            Some('u') if self.rest().starts_with("u{") => {
                let digits = self.rest()[2..]
                    .bytes()
                    .take_while(u8::is_ascii_hexdigit)
                    .count();
                let closed = self.rest().as_bytes().get(2 + digits) == Some(&b'}');
                let valid = (1..=6).contains(&digits)
                    && closed
                    && u32::from_str_radix(&self.rest()[2..2 + digits], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .is_some();
                if !valid {
                    return Err(anomaly(
                        at,
                        2,
                        "an invalid `\\u{…}` escape",
                        "not a Unicode escape",
                        "write 1 to 6 hex digits of a code point: `\\u{1F600}`",
                    ));
                }
                self.i += 3 + digits;
            }
            Some(c) if is_space(c) || is_newline(c) => {
                while let Some(c) = self.peek().filter(|c| is_space(*c) || is_newline(*c)) {
                    self.i += c.len_utf8();
                }
            }
            other => {
                let len = 1 + other.map_or(0, char::len_utf8);
                return Err(anomaly(
                    at,
                    len,
                    "an unknown escape in a string",
                    "unknown escape",
                    "KDL strings know the escapes \\\" \\\\ \\n \\r \\t \\b \\f \\s \\u{…}; for a backslash write \\\\, or use a raw string #\"…\"#",
                ));
            }
        }
        Ok(())
    }

    /// A raw string `#"…"#` starting here, with `hashes` `#`s on each side.
    fn raw_string(&mut self, hashes: usize) -> Lexed {
        let start = self.i;
        self.i += hashes;
        let multiline = self.rest().starts_with("\"\"\"");
        let quote = if multiline { "\"\"\"" } else { "\"" };
        self.i += quote.len();
        if multiline {
            self.multiline_opening(start)?;
        }
        while let Some(c) = self.peek() {
            let at = self.i;
            if self.rest().starts_with(quote)
                && self.text[at + quote.len()..]
                    .bytes()
                    .take(hashes)
                    .filter(|b| *b == b'#')
                    .count()
                    == hashes
            {
                self.i += quote.len() + hashes;
                return if multiline {
                    self.check_dedent(start, at)
                } else {
                    Ok(())
                };
            }
            if !multiline && is_newline(c) {
                return Err(unclosed_on_line(start, at));
            }
            if is_disallowed(c) {
                return Err(disallowed_in_string(at, c));
            }
            self.i += c.len_utf8();
        }
        Err(unclosed_at_end(start))
    }

    /// A multi-line string's opening quotes must end their line.
    fn multiline_opening(&mut self, start: usize) -> Lexed {
        match self.peek() {
            Some(c) if is_newline(c) => {
                self.i += c.len_utf8();
                Ok(())
            }
            _ => Err(anomaly(
                start,
                self.i - start,
                "a multi-line string must start a new line after its opening quotes",
                "text after `\"\"\"`",
                "put a line break right after the opening `\"\"\"`, or use single quotes for a one-line string",
            )),
        }
    }

    /// The lines of a multi-line string start with the whitespace before its closing quotes.
    fn check_dedent(&mut self, start: usize, close: usize) -> Lexed {
        let opening_end = self.text[start..close]
            .find(is_newline)
            .map_or(close, |p| start + p);
        let body = &self.text[opening_end..close];
        let last_line_start = body.rfind(is_newline).map_or(0, |p| {
            p + body[p..].chars().next().map_or(1, char::len_utf8)
        });
        let prefix = &body[last_line_start..];
        let bad = |at: usize| {
            Err(anomaly(
                at,
                1,
                "a line of a multi-line string is indented less than its closing quotes",
                "indented less",
                "indent every line of the string at least as far as the closing `\"\"\"`",
            ))
        };
        if !prefix.chars().all(is_space) {
            return bad(opening_end + last_line_start);
        }
        let mut offset = 0usize;
        for line in body[..last_line_start].split_inclusive(NEWLINES) {
            let content = line.trim_end_matches(NEWLINES);
            if !content.chars().all(is_space) && !content.starts_with(prefix) {
                return bad(opening_end + offset);
            }
            offset += line.len();
        }
        Ok(())
    }
}

fn mid_word_quote(at: usize) -> Anomaly {
    anomaly(
        at,
        1,
        "a quote in the middle of a word",
        "unexpected quote",
        "put a space before the string; in KDL v2 raw strings are written #\"…\"# (KDL v1's r\"…\" is not valid)",
    )
}

fn unclosed_on_line(start: usize, newline: usize) -> Anomaly {
    anomaly(
        start,
        newline - start,
        "a string is not closed on its line",
        "no closing `\"` on this line",
        "close the string with `\"`; a string over several lines starts with `\"\"\"` and a line break, and ends with `\"\"\"` on a line of its own",
    )
}

fn unclosed_at_end(start: usize) -> Anomaly {
    anomaly(
        start,
        1,
        "a string is never closed",
        "this string runs to the end of the file",
        "close the string",
    )
}

fn disallowed_in_string(at: usize, c: char) -> Anomaly {
    Anomaly {
        v1_possible: false,
        ..anomaly(
            at,
            c.len_utf8(),
            "a character that KDL does not allow, in a string",
            "not allowed in KDL",
            "remove it, or write it as an escape: `\\u{…}`",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(text: &str) -> bool {
        let s = scan(text);
        s.anomaly.is_none() && s.too_deep.is_none() && s.slashdash_run.is_none()
    }

    #[test]
    fn valid_kdl_is_clean() {
        for text in [
            "plan \"q\" { seed 42; jobs 4 }\n",
            "a \"x\" #\"raw \"quoted\" {\"# ##\"a\"#b\"## #true #false #null #inf #-inf #nan\n",
            "a \"\"\"\n    line {\n      more\n    \"\"\"\n",
            "a #\"\"\"\n  raw \\ {\n  \"\"\"#\n",
            "a \"esc \\\" \\\\ \\n \\u{1F600} \\\n     continued\"\n",
            "(t)a (u)\"v\" k=(w)1 key = \"spaced\"\n",
            "a /-\"gone\" /-k=1 /-{ child }\n/-node\n",
            "a \\ // continued\n  b\n",
            "a /* c /* nested */ */ b // end\n",
            "\u{feff}a 1.5e3 -2 0x1f 0o7 0b1\n",
            "a x=\"y\"; b; c {d;e}\n",
            "ünïcödé \"and\u{3000}space\"\u{2028}next 1\r\n",
        ] {
            let s = scan(text);
            assert!(clean(text), "{text:?}: {:?}", s.anomaly);
        }
    }

    #[test]
    fn finds_what_is_not_kdl() {
        for (text, message) in [
            ("a \"open\n{", "a string is not closed on its line"),
            ("a \"open\r{", "a string is not closed on its line"),
            ("a \"open\u{2028}{", "a string is not closed on its line"),
            ("a r\"v1 raw\"", "a quote in the middle of a word"),
            ("a \"\\q {\"", "an unknown escape in a string"),
            ("a\n}", "a `}` with no `{` to close"),
            ("a )", "a parenthesis outside a type annotation"),
            ("(t)(t)", "a type annotation with nothing after it"),
            ("a (t)\n", "a type annotation with nothing after it"),
            ("a ((t)", "a parenthesis outside a type annotation"),
            ("a ==", "`=` without a property name"),
            ("= a", "`=` without a property name"),
            ("a [1]", "a bracket outside a string"),
            ("a #tru", "a `#` outside a string"),
            ("a \\ b", "a `\\` outside a string"),
            ("a / b", "a `/` outside a string or comment"),
            (
                "a \"x\u{0}\"",
                "a character that KDL does not allow, in a string",
            ),
            ("a \u{7}", "a character that KDL does not allow"),
            (
                "a \"\"\" x\n\"\"\"",
                "a multi-line string must start a new line after its opening quotes",
            ),
            (
                "a \"\"\"\nx\n  \"\"\"",
                "a line of a multi-line string is indented less than its closing quotes",
            ),
            ("a \"never", "a string is never closed"),
            ("a /* never", "a `/*` comment is never closed"),
        ] {
            let found = scan(text).anomaly.map(|a| a.message);
            assert_eq!(found, Some(message), "{text:?}");
        }
    }

    #[test]
    fn measures_nesting_and_runs() {
        assert_eq!(
            scan(&("a {".repeat(33) + &"}".repeat(33))).too_deep,
            Some((3 * 32 + 2, "blocks"))
        );
        assert!(
            scan(&("a {".repeat(32) + &"}".repeat(32)))
                .too_deep
                .is_none()
        );
        assert!(
            scan(&("/*".repeat(40) + &"*/".repeat(40)))
                .too_deep
                .is_some()
        );
        assert!(scan(&"/- ".repeat(17)).slashdash_run.is_some());
        assert!(
            scan(&format!("a /*{}*/", "*".repeat(MAX_COMMENT_MARKS)))
                .long_comment
                .is_some()
        );
        assert!(scan(&"/- a\n".repeat(100)).slashdash_run.is_none());
        assert!(clean(&format!(
            "a \"{}\" #\"{}\"#",
            "{".repeat(100),
            "{".repeat(100)
        )));
    }
}
