//! `expect status=200 attempts=3` or `expect { status 200 "3xx"; header …; json …; body-contains …; duration-below … }`

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::{RawEntry, RawNode, RawValue};
use super::super::reader::{self, NodeReader};
use super::{check_pointer, json_value, parse_template, template};
use crate::model::{
    Expectations, ExpectedJson, HeaderExpectation, JsonExpectation, Span, StatusPattern,
};

pub fn decode(node: &RawNode, expect: &mut Expectations, diags: &mut Diagnostics) {
    let mut r = NodeReader::new(node, diags);
    if let Some(prop) = r.prop("status") {
        set_status(
            expect,
            status_pattern(&prop.entry, r.diags).into_iter().collect(),
            prop.span,
            r.diags,
        );
    }
    if let Some(n) = r.int_prop("attempts", 1, 101, "attempts=3") {
        set_attempts(expect, n.value as u32, n.span, r.diags);
    }
    r.finish();
    for child in node.children() {
        let kind = child.name.as_str();
        let mut c = NodeReader::new(child, diags);
        match kind {
            "status" => {
                c.no_children();
                let patterns: Vec<StatusPattern> = c
                    .rest_args(0)
                    .iter()
                    .filter_map(|e| status_pattern(e, c.diags))
                    .collect();
                if child.args.is_empty() {
                    c.arg(0, "a status", "status 200 201 \"3xx\"");
                }
                c.finish();
                if !patterns.is_empty() {
                    set_status(expect, patterns, child.name_span, diags);
                }
            }
            "attempts" => {
                if let Some(n) = c
                    .value("attempts 3")
                    .and_then(|v| reader::integer(v, "`attempts`", 1, 101, "attempts 3", c.diags))
                {
                    set_attempts(expect, n.value as u32, n.span, c.diags);
                }
                c.finish();
            }
            "header" => {
                let example = "header \"content-type\" \"application/json\"";
                c.no_children();
                let name = c.string_arg(0, "a header name", example);
                let value = c
                    .opt_arg(1)
                    .and_then(|e| template(e, "the header value", example, c.diags));
                c.finish();
                if let Some(name) = name {
                    expect.headers.push(HeaderExpectation {
                        name: name.value.to_ascii_lowercase(),
                        value,
                    });
                }
            }
            "json" => {
                let example = "json \"/data/status\" \"succeeded\"";
                c.no_children();
                let pointer = c.string_arg(0, "a JSON Pointer", example);
                let value = c.arg(1, "the expected value", example);
                c.finish();
                if let (Some(pointer), Some(value)) = (pointer, value)
                    && check_pointer(&pointer, diags)
                    && let Some(value) = expected_json(value, diags)
                {
                    expect.json.push(JsonExpectation {
                        pointer: pointer.value,
                        value,
                    });
                }
            }
            "body-contains" => {
                if let Some(text) = c.value("body-contains \"succeeded\"").and_then(|v| {
                    reader::string(v, "`body-contains`", "body-contains \"succeeded\"", c.diags)
                }) {
                    expect.body_contains.push(text.value);
                }
                c.finish();
            }
            "duration-below" => {
                if let Some(d) = c
                    .value("duration-below \"2s\"")
                    .and_then(|v| reader::duration(v, "`duration-below`", "\"2s\"", c.diags))
                {
                    expect.duration_below = Some(d.value);
                }
                c.finish();
            }
            "delays" => {
                c.no_children();
                let example = "delays \"2s\" \"4s\"";
                let entries = c.rest_args(0);
                let delays: Vec<_> = entries
                    .iter()
                    .filter_map(|e| reader::duration(e, "`delays`", "\"2s\"", c.diags))
                    .map(|d| d.value)
                    .collect();
                c.finish();
                if expect.delays.is_some() {
                    diags.push(
                        Diagnostic::error(
                            "hookplan::duplicate-expectation",
                            "the retry delays are expected twice",
                            child.name_span,
                            "second delays expectation",
                        )
                        .with_help("keep one `delays`"),
                    );
                } else if entries.len() == delays.len() {
                    // `delays` with no value: no retry at all.
                    let _ = example;
                    expect.delays = Some(delays);
                }
            }
            _ => {
                c.finish();
                reader::unknown_node(child, "`expect`", grammar::nodes("expect"), diags);
            }
        }
    }
}

fn expected_json(entry: &RawEntry, diags: &mut Diagnostics) -> Option<ExpectedJson> {
    match &entry.value {
        RawValue::String(text) => parse_template(text, entry, diags).map(ExpectedJson::Text),
        other => Some(ExpectedJson::Literal(json_value(other))),
    }
}

fn set_status(
    expect: &mut Expectations,
    patterns: Vec<StatusPattern>,
    span: Span,
    diags: &mut Diagnostics,
) {
    if patterns.is_empty() {
        return;
    }
    if expect.status.is_some() {
        diags.push(
            Diagnostic::error(
                "hookplan::duplicate-expectation",
                "the status is expected twice",
                span,
                "second status expectation",
            )
            .with_help("list every accepted status in one `status` node: `status 200 201 \"3xx\"`"),
        );
        return;
    }
    expect.status = Some(patterns);
}

fn set_attempts(expect: &mut Expectations, attempts: u32, span: Span, diags: &mut Diagnostics) {
    if expect.attempts.is_some() {
        diags.push(
            Diagnostic::error(
                "hookplan::duplicate-expectation",
                "the number of attempts is expected twice",
                span,
                "second attempts expectation",
            )
            .with_help("keep one `attempts`"),
        );
        return;
    }
    expect.attempts = Some(attempts);
}

/// `200`, `"200"` or a class such as `"3xx"`.
fn status_pattern(entry: &RawEntry, diags: &mut Diagnostics) -> Option<StatusPattern> {
    let example = "status 200 201 \"3xx\"";
    match &entry.value {
        RawValue::Integer(_) => reader::integer(entry, "a status", 100, 599, example, diags)
            .map(|s| StatusPattern::Code(s.value as u16)),
        RawValue::String(text) => {
            let lower = text.to_ascii_lowercase();
            if let Some(class) = lower
                .strip_suffix("xx")
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (1..=5).contains(c))
            {
                return Some(StatusPattern::Class(class));
            }
            if let Ok(code) = text.parse::<u16>()
                && (100..=599).contains(&code)
            {
                return Some(StatusPattern::Code(code));
            }
            diags.push(
                Diagnostic::error(
                    "hookplan::bad-status",
                    format!("\"{text}\" is not a status"),
                    entry.span,
                    "not a status",
                )
                .with_help("write a code from 100 to 599, or a class from \"1xx\" to \"5xx\""),
            );
            None
        }
        other => {
            diags.push(
                Diagnostic::error(
                    "hookplan::wrong-type",
                    format!(
                        "a status must be a number or a class, found {}",
                        other.kind()
                    ),
                    entry.span,
                    "not a status",
                )
                .with_help(format!("for example `{example}`")),
            );
            None
        }
    }
}
