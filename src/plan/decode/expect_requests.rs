//! `expect-requests sandbox="hooks" path="/webhook/*" count=3 { … }`: assertions on what a
//! sandbox recorded.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader};
use super::http::signature_node;
use super::{check_pointer, json_value, template};
use crate::model::{Action, CountExpectation, ExpectRequests, RequestCheck, Spanned};

pub const KIND: StepKind = StepKind {
    name: "expect-requests",
    children: &[
        "count",
        "method",
        "header",
        "json",
        "body-contains",
        "signature",
        "order",
        "faults",
        "statuses",
    ],
    responds: false,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

/// What `faults` may name: a request's injected fault, `none`, or `rejected` (a bad signature,
/// a body over the limit).
const FAULTS: &[&str] = &[
    "none",
    "error-rate",
    "reset",
    "close",
    "hang",
    "slow-body",
    "rejected",
];

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<ExpectRequests> {
    let example = "expect-requests sandbox=\"hooks\" path=\"/webhook/flaky\" count=3";
    let mut r = NodeReader::new(node, diags);
    let sandbox = sandbox_prop(&mut r, example);
    let path = r
        .string_prop("path", "path=\"/webhook/*\"")
        .map(|p| p.value);
    let method = r
        .string_prop("method", "method=\"POST\"")
        .map(|m| m.value.to_ascii_uppercase());
    let mut count = count_props(&mut r);
    r.finish();
    let mut checks = Vec::new();
    for child in node.children() {
        let kind = child.name.as_str();
        let mut c = NodeReader::new(child, diags);
        c.no_children();
        match kind {
            "count" => {
                let exact = c.opt_arg(0).and_then(|v| {
                    reader::integer(v, "`count`", 0, u32::MAX as i128, "count 3", c.diags)
                });
                let ranged = count_props(&mut c);
                count = exact
                    .map(|n| CountExpectation::Exactly(n.value as u32))
                    .or(ranged)
                    .or(count);
            }
            "method" => {
                if let Some(m) = c.string_arg(0, "a method", "method \"POST\"") {
                    checks.push(RequestCheck::Method(m.value.to_ascii_uppercase()));
                }
            }
            "header" => {
                let example = "header \"content-type\" \"application/json\"";
                let name = c.string_arg(0, "a header name", example);
                let value = c
                    .opt_arg(1)
                    .and_then(|e| template(e, "the header value", example, c.diags));
                if let Some(name) = name {
                    checks.push(RequestCheck::Header {
                        name: name.value.to_ascii_lowercase(),
                        value,
                    });
                }
            }
            "json" => {
                let example = "json \"/amount\" 1000";
                let pointer = c.string_arg(0, "a JSON Pointer", example);
                let value = c.arg(1, "the expected value", example);
                if let (Some(pointer), Some(value)) = (pointer, value)
                    && check_pointer(&pointer, c.diags)
                {
                    checks.push(RequestCheck::Json {
                        pointer: pointer.value,
                        value: json_value(&value.value),
                    });
                }
            }
            "body-contains" => {
                if let Some(text) = c.string_arg(0, "a text", "body-contains \"USD\"") {
                    checks.push(RequestCheck::BodyContains(text.value));
                }
            }
            "signature" => {
                if let Some((scheme, secret, tolerance)) = signature_node(&mut c, true) {
                    checks.push(RequestCheck::Signature {
                        scheme,
                        secret,
                        tolerance,
                    });
                }
            }
            "order" => {
                let paths = c.string_list("a path", "order \"/webhook/created\" \"/webhook/paid\"");
                checks.push(RequestCheck::Order(
                    paths.into_iter().map(|p| p.value).collect(),
                ));
            }
            "faults" => {
                let example = "faults \"none\" \"error-rate\" \"reset\"";
                let mut names = Vec::new();
                for fault in c.string_list("a fault", example) {
                    if FAULTS.contains(&fault.as_str()) {
                        names.push(fault.value);
                    } else {
                        c.diags.push(
                            Diagnostic::error(
                                "hookplan::unknown-value",
                                format!("unknown fault \"{}\"", fault.value),
                                fault.span,
                                "not a fault",
                            )
                            .with_help(format!("use one of: {}", FAULTS.join(", "))),
                        );
                    }
                }
                checks.push(RequestCheck::Faults(names));
            }
            "statuses" => {
                let example = "statuses 503 503 200";
                let entries = c.rest_args(0);
                if entries.is_empty() {
                    c.arg(0, "a status", example);
                }
                let codes = entries
                    .iter()
                    .filter_map(|e| reader::integer(e, "a status", 100, 599, example, c.diags))
                    .map(|s| s.value as u16)
                    .collect();
                checks.push(RequestCheck::Statuses(codes));
            }
            _ => {
                c.finish();
                reader::unknown_node(
                    child,
                    "`expect-requests`",
                    grammar::nodes("expect-requests"),
                    diags,
                );
                continue;
            }
        }
        c.finish();
    }
    Some(ExpectRequests {
        sandbox: sandbox?,
        path,
        method,
        count,
        checks,
    })
}

/// `count=3`, or `min=1 max=5`.
pub(super) fn count_props(r: &mut NodeReader) -> Option<CountExpectation> {
    let exact = r
        .int_prop("count", 0, u32::MAX as i128, "count=3")
        .map(|n| n.value as u32);
    let min = r
        .int_prop("min", 0, u32::MAX as i128, "min=1")
        .map(|n| n.value as u32);
    let max = r
        .int_prop("max", 0, u32::MAX as i128, "max=5")
        .map(|n| n.value as u32);
    match (exact, min, max) {
        (Some(n), _, _) => Some(CountExpectation::Exactly(n)),
        (None, Some(min), Some(max)) => Some(CountExpectation::Between(min, max)),
        (None, Some(min), None) => Some(CountExpectation::AtLeast(min)),
        (None, None, Some(max)) => Some(CountExpectation::AtMost(max)),
        (None, None, None) => None,
    }
}

pub(super) fn sandbox_prop(r: &mut NodeReader, example: &str) -> Option<Spanned<String>> {
    let sandbox = r.string_prop("sandbox", example);
    if sandbox.is_none() && r.node.props.iter().all(|p| p.name != "sandbox") {
        let node = r.node;
        r.diags.push(
            Diagnostic::error(
                "hookplan::incomplete",
                format!("`{}` needs the sandbox to read", node.name),
                node.head_span(),
                "no sandbox=",
            )
            .with_help(format!("write it as `{example}`")),
        );
    }
    sandbox
}
