//! `call "CODE" event="DONE" [database="registry"] { json RAW; body-file "path"; url "…";
//! credentials "STORE"; sign "SCHEME" secret="…" }`

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use super::http::{check_json, signature_node};
use super::template;
use crate::model::{Action, Body, CallAction, DEFAULT_DATABASE, SignSpec, Spanned};

pub const KIND: StepKind = StepKind {
    name: "call",
    children: &["json", "body-file", "url", "credentials", "sign"],
    responds: true,
    publishes: &[],
    default_retry: true,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

const EXAMPLE: &str = "call \"STRIPE_PAYMENT\" event=\"DONE\"";

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<CallAction> {
    let mut r = NodeReader::new(node, diags);
    let code = r.string_arg(0, "a webhook code", EXAMPLE);
    let event = r
        .prop("event")
        .and_then(|p| template(&p.entry, "`event`", EXAMPLE, r.diags));
    let database = r.string_prop("database", "database=\"registry\"");
    r.finish();
    if node.props.iter().all(|p| p.name != "event") {
        diags.push(
            Diagnostic::error(
                "hookplan::incomplete",
                "`call` needs the event it reports",
                node.head_span(),
                "no event=",
            )
            .with_help(format!("write it as `{EXAMPLE}`")),
        );
    }
    let code = code.filter(|c| {
        let ok = !c.trim().is_empty();
        if !ok {
            diags.push(
                Diagnostic::error(
                    "hookplan::empty-name",
                    "the webhook code is empty",
                    c.span,
                    "empty code",
                )
                .with_help(format!("write it as `{EXAMPLE}`")),
            );
        }
        ok
    });

    let mut payload = None;
    let mut url = None;
    let mut credentials = None;
    let mut sign = None;
    let mut seen = Vec::new();
    for child in node.children() {
        let kind = child.name.as_str();
        if !grammar::nodes("call").contains(&kind) {
            reader::unknown_node(child, "`call`", grammar::nodes("call"), diags);
            continue;
        }
        let second_payload = matches!(kind, "json" | "body-file")
            && seen
                .iter()
                .any(|(n, _): &(String, _)| n == "json" || n == "body-file");
        if second_payload {
            diags.push(
                Diagnostic::error(
                    "hookplan::two-bodies",
                    "a call has one payload",
                    child.name_span,
                    "second payload",
                )
                .with_help("keep either `json` or `body-file`"),
            );
            continue;
        }
        if !once(&mut seen, child, diags) {
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        match kind {
            "json" => {
                let example = "json #\"{\"order\": 1234}\"#";
                payload = c.value(example).and_then(|entry| {
                    let t = template(entry, "`json`", example, c.diags)?;
                    if let Some(text) = t.as_literal() {
                        check_json(&text, entry, "the payload", c.diags);
                    }
                    Some(Body::Json(t))
                });
            }
            "body-file" => {
                let example = "body-file \"fixtures/payload.json\"";
                payload = c
                    .value(example)
                    .and_then(|v| reader::string(v, "`body-file`", example, c.diags))
                    .map(|p| Body::File(p.map(Into::into)));
            }
            "url" => {
                let example = "url \"${sandbox.hooks.url}/webhook/stripe\"";
                url = c
                    .value(example)
                    .and_then(|v| template(v, "`url`", example, c.diags));
            }
            "credentials" => {
                let example = "credentials \"infisical\"";
                credentials = c
                    .value(example)
                    .and_then(|v| reader::string(v, "`credentials`", example, c.diags));
            }
            _ => {
                c.no_children();
                if let Some((scheme, secret, _)) = signature_node(&mut c, false) {
                    sign = Some(SignSpec { scheme, secret });
                }
            }
        }
        c.finish();
    }
    let database =
        database.unwrap_or_else(|| Spanned::new(DEFAULT_DATABASE.to_string(), node.name_span));
    Some(CallAction {
        code: code?,
        event: event?,
        database,
        payload,
        url,
        credentials,
        sign,
    })
}
