//! `http "METHOD" "URL" { header "K" "V"; query "k" "v"; json RAW; body "…"; body-file "path"; sign … }`

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::kinds::StepKind;
use super::super::raw::{RawEntry, RawNode};
use super::super::reader::{self, NodeReader};
use super::template;
use crate::model::{Action, Body, HttpAction, SignSpec, SignatureScheme, Span, Spanned, Template};

pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub const KIND: StepKind = StepKind {
    name: "http",
    children: &["header", "query", "json", "body", "body-file", "sign"],
    responds: true,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<HttpAction> {
    let example = "http \"POST\" \"https://example.com/hook\"";
    let mut r = NodeReader::new(node, diags);
    let method = r.string_arg(0, "a method", example);
    let url_entry = r.arg(1, "a URL", example);
    r.finish();
    let method = method.and_then(|m| check_method(m, diags));
    let url = url_entry.and_then(|e| template(e, "the URL", example, diags));
    if let Some(url) = &url {
        check_url(url, diags);
    }

    let mut headers = Vec::new();
    let mut query = Vec::new();
    let mut body: Option<(Body, Span)> = None;
    let mut sign = None;
    for child in node.children() {
        let kind = child.name.as_str();
        let mut c = NodeReader::new(child, diags);
        match kind {
            "header" | "query" => {
                let example = if kind == "header" {
                    "header \"Content-Type\" \"application/json\""
                } else {
                    "query \"page\" \"2\""
                };
                c.no_children();
                let name = c.string_arg(0, "a name", example);
                let value = c
                    .arg(1, "a value", example)
                    .and_then(|e| template(e, &format!("the {kind} value"), example, c.diags));
                c.finish();
                if let (Some(name), Some(value)) = (name, value) {
                    if kind == "header" {
                        if check_header_name(&name, diags) {
                            headers.push((name.value, value));
                        }
                    } else {
                        query.push((name.value, value));
                    }
                }
            }
            "json" | "body" | "body-file" => {
                let example = match kind {
                    "json" => "json #\"{\"amount\": 1000}\"#",
                    "body" => "body \"text\"",
                    _ => "body-file \"fixtures/charge.json\"",
                };
                let decoded = c.value(example).and_then(|entry| match kind {
                    "json" => {
                        let t = template(entry, "`json`", example, c.diags)?;
                        if let Some(text) = t.as_literal() {
                            check_json(&text, entry, "the JSON body", c.diags);
                        }
                        Some(Body::Json(t))
                    }
                    "body" => template(entry, "`body`", example, c.diags).map(Body::Text),
                    _ => reader::string(entry, "`body-file`", example, c.diags)
                        .map(|p| Body::File(p.map(Into::into))),
                });
                c.finish();
                if let Some(decoded) = decoded {
                    if let Some((_, first)) = &body {
                        diags.push(
                            Diagnostic::error(
                                "hookplan::two-bodies",
                                "a request has one body",
                                child.name_span,
                                "second body",
                            )
                            .with_related(*first, "first body")
                            .with_help("keep one of `json`, `body` and `body-file`"),
                        );
                    } else {
                        body = Some((decoded, child.name_span));
                    }
                }
            }
            "sign" => {
                c.no_children();
                if let Some((scheme, secret, _)) = signature_node(&mut c, false) {
                    sign = Some(SignSpec { scheme, secret });
                }
                c.finish();
            }
            _ => {
                c.finish();
                reader::unknown_node(child, "`http`", grammar::nodes("http"), diags);
            }
        }
    }
    Some(HttpAction {
        method: method?,
        url: url?,
        headers,
        query,
        body: body.map(|(b, _)| b),
        sign,
        span: node.name_span,
    })
}

/// `NODE "SCHEME" secret="…" [tolerance="5m"]`, as `sign`, `require-signature` and
/// `signature` write it: the scheme, the secret (a template), and the tolerance when asked for.
pub fn signature_node(
    c: &mut NodeReader,
    with_tolerance: bool,
) -> Option<(crate::model::SignatureScheme, Template, std::time::Duration)> {
    let node = c.node;
    let example = format!(
        "{} \"standard-webhooks\" secret=\"${{secret.WEBHOOK_SECRET}}\"",
        node.name
    );
    let scheme = c
        .string_arg(0, "a scheme", &example)
        .and_then(|s| signature_scheme(&s, c.diags));
    let secret = c
        .prop("secret")
        .and_then(|p| template(&p.entry, "`secret`", &example, c.diags));
    let tolerance = if with_tolerance {
        c.duration_prop("tolerance", "tolerance=\"5m\"")
            .map_or(crate::signature::DEFAULT_TOLERANCE, |t| t.value)
    } else {
        crate::signature::DEFAULT_TOLERANCE
    };
    if node.props.iter().all(|p| p.name != "secret") {
        c.diags.push(
            Diagnostic::error(
                "hookplan::incomplete",
                format!("`{}` needs the signing secret", node.name),
                node.head_span(),
                "no secret=",
            )
            .with_help(format!("write it as `{example}`")),
        );
    }
    Some((scheme?, secret?, tolerance))
}

pub fn signature_scheme(
    name: &Spanned<String>,
    diags: &mut Diagnostics,
) -> Option<SignatureScheme> {
    let scheme = SignatureScheme::parse(name);
    if scheme.is_none() {
        diags.push(
            Diagnostic::error(
                "hookplan::unknown-value",
                format!("unknown signature scheme \"{}\"", name.value),
                name.span,
                "unknown scheme",
            )
            .with_help(format!("use one of: {}", SignatureScheme::NAMES.join(", "))),
        );
    }
    scheme
}

fn check_method(method: Spanned<String>, diags: &mut Diagnostics) -> Option<String> {
    if METHODS.contains(&method.as_str()) {
        return Some(method.value);
    }
    let upper = method.to_ascii_uppercase();
    let help = if METHODS.contains(&upper.as_str()) {
        format!("write methods in capitals: \"{upper}\"")
    } else {
        format!("use one of: {}", METHODS.join(", "))
    };
    diags.push(
        Diagnostic::error(
            "hookplan::bad-method",
            format!("unknown HTTP method \"{}\"", method.value),
            method.span,
            "unknown method",
        )
        .with_help(help),
    );
    None
}

fn check_header_name(name: &Spanned<String>, diags: &mut Diagnostics) -> bool {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !ok {
        diags.push(
            Diagnostic::error(
                "hookplan::bad-header",
                format!("\"{}\" is not a valid header name", name.value),
                name.span,
                "invalid header name",
            )
            .with_help("header names use letters, digits and `-`"),
        );
    }
    ok
}

/// Checks a URL written without templates; one that starts with a template is checked at run time.
fn check_url(url: &Template, diags: &mut Diagnostics) {
    let Some(text) = url.as_literal() else { return };
    let problem = match url::Url::parse(&text) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => return,
        Ok(parsed) => format!("the scheme `{}` is not supported", parsed.scheme()),
        Err(url::ParseError::RelativeUrlWithoutBase) => "the URL has no scheme".into(),
        Err(e) => e.to_string(),
    };
    diags.push(
        Diagnostic::error("hookplan::bad-url", format!("bad URL \"{text}\": {problem}"), url.span, "not an http(s) URL")
            .with_help("write a full URL such as \"https://example.com/hook\", or start it with a template such as \"${sandbox.hooks.url}/hook\""),
    );
}

/// Checks JSON written in a plan, pointing at the fault inside it when the string was written
/// without escapes.
pub fn check_json(text: &str, entry: &RawEntry, what: &str, diags: &mut Diagnostics) {
    let Err(error) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let full = error.to_string();
    let reason = full.split(" at line ").next().unwrap_or(&full).to_string();
    // serde_json counts lines from 1 and columns (bytes) from 1; 0 means "before the first".
    let line_start: usize = text
        .split_inclusive('\n')
        .take(error.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let offset = (line_start + error.column().saturating_sub(1)).min(text.len());
    let (span, label) = match entry.verbatim_at {
        Some(at) => {
            let len = text[offset..].chars().next().map_or(0, char::len_utf8);
            (Span::new(at + offset, len), reason.clone())
        }
        None => (
            entry.span,
            format!(
                "{reason} (line {}, column {} of the JSON)",
                error.line(),
                error.column()
            ),
        ),
    };
    diags.push(
        Diagnostic::error(
            "hookplan::bad-json",
            format!("{what} is not valid JSON: {reason}"),
            span,
            label,
        )
        .with_help("fix the JSON; a raw string (#\"…\"#) keeps its quotes readable"),
    );
}
