//! Raw nodes to the model: one decoder per node kind, all diagnostics collected in one pass.

pub(super) mod alerting;
pub(super) mod backup;
pub(super) mod call;
pub(super) mod database;
mod expect;
pub(super) mod expect_alerts;
pub(super) mod expect_requests;
pub(super) mod expect_secrets;
pub(super) mod http;
mod infisical;
pub(super) mod migrate;
pub(super) mod mqtt;
mod plan_node;
pub(super) mod replay;
pub(super) mod retry;
pub(super) mod rollback;
mod sandbox;
pub(super) mod secret_store;
pub(super) mod status;
mod step;
mod vars;
pub(super) mod verify;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::grammar;
use super::raw::{RawEntry, RawNode, RawValue};
use super::reader::{self, unknown_node};
use crate::model::{
    AlertingDecl, DatabaseDecl, RetryPolicy, SandboxDecl, Span, Spanned, Template, Var,
};

pub use plan_node::PlanSettings;
pub use step::{DecodedStep, RetryChoice};

/// Everything decoded from a file, before references between nodes are checked.
#[derive(Default)]
pub struct Decoded {
    pub plan: Option<PlanSettings>,
    pub plan_nodes: Vec<crate::model::Span>,
    /// The name of the file's first node, if it has any.
    pub first_node: Option<crate::model::Span>,
    pub vars: Vec<Var>,
    pub retry_policies: Vec<RetryPolicy>,
    pub sandboxes: Vec<SandboxDecl>,
    pub databases: Vec<DatabaseDecl>,
    pub stores: Vec<crate::model::StoreDecl>,
    pub steps: Vec<DecodedStep>,
    pub alerting: Option<AlertingDecl>,
    /// Where each `alerting` node was written (a plan holds one).
    pub alerting_nodes: Vec<Span>,
    pub mqtt: Vec<crate::model::MqttDecl>,
}

pub fn decode(nodes: &[RawNode], diags: &mut Diagnostics) -> Decoded {
    let mut decoded = Decoded {
        first_node: nodes.first().map(|n| n.name_span),
        ..Decoded::default()
    };
    for node in nodes {
        match node.name.as_str() {
            "plan" => {
                decoded.plan_nodes.push(node.name_span);
                let settings = plan_node::decode(node, diags);
                if decoded.plan.is_none() {
                    decoded.plan = settings;
                }
            }
            "vars" => decoded.vars.extend(vars::decode(node, diags)),
            "retry" => {
                if let Some(policy) = retry::decode(node, true, diags) {
                    decoded.retry_policies.push(policy);
                }
            }
            "sandbox" => {
                if let Some(sandbox) = sandbox::decode(node, diags) {
                    decoded.sandboxes.push(sandbox);
                }
            }
            "database" => {
                if let Some(db) = database::decode(node, diags) {
                    decoded.databases.push(db);
                }
            }
            "mqtt" => {
                if let Some(decl) = mqtt::decode(node, diags) {
                    decoded.mqtt.push(decl);
                }
            }
            "secret-store" => {
                if let Some(store) = secret_store::decode(node, diags) {
                    decoded.stores.push(store);
                }
            }
            "alerting" => {
                if let Some(first) = decoded.alerting_nodes.first() {
                    diags.push(
                        Diagnostic::error(
                            "hookplan::duplicate-node",
                            "`alerting` is given twice",
                            node.name_span,
                            "given again here",
                        )
                        .with_related(*first, "first given here")
                        .with_help("keep one of them"),
                    );
                    continue;
                }
                decoded.alerting_nodes.push(node.name_span);
                decoded.alerting = alerting::decode(node, false, diags);
            }
            "step" => {
                if let Some(step) = step::decode(node, diags) {
                    decoded.steps.push(step);
                }
            }
            _ => unknown_node(node, "the top level", grammar::nodes("top"), diags),
        }
    }
    decoded
}

/// A string that may hold templates.
fn template(
    entry: &RawEntry,
    what: &str,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<Template> {
    let text = reader::string(entry, what, example, diags)?;
    parse_template(&text.value, entry, diags)
}

fn parse_template(text: &str, entry: &RawEntry, diags: &mut Diagnostics) -> Option<Template> {
    match Template::parse(text, entry.origin()) {
        Ok(t) => Some(t),
        Err(errors) => {
            for e in errors {
                diags.push(
                    Diagnostic::error("hookplan::bad-template", e.message, e.span, e.label)
                        .with_help(e.help),
                );
            }
            None
        }
    }
}

/// A name usable in `${steps.NAME.…}` and on the command line.
fn check_name(name: &Spanned<String>, what: &str, diags: &mut Diagnostics) -> bool {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        diags.push(
            Diagnostic::error(
                "hookplan::bad-name",
                format!(
                    "{what} {} is not a valid name",
                    super::format::quoted(&name.value)
                ),
                name.span,
                "invalid name",
            )
            .with_help("names use letters, digits, `-` and `_`"),
        );
    }
    ok
}

/// A JSON value written as a KDL value: numbers, booleans and null as themselves.
fn json_value(value: &RawValue) -> serde_json::Value {
    match value {
        RawValue::String(s) => serde_json::Value::String(s.clone()),
        RawValue::Integer(i) => i64::try_from(*i)
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| serde_json::Value::from(*i as f64)),
        RawValue::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        RawValue::Bool(b) => serde_json::Value::Bool(*b),
        RawValue::Null => serde_json::Value::Null,
    }
}

/// Checks an RFC 6901 JSON Pointer.
fn check_pointer(pointer: &Spanned<String>, diags: &mut Diagnostics) -> bool {
    let bad_escape = pointer
        .split('~')
        .skip(1)
        .any(|rest| !(rest.starts_with('0') || rest.starts_with('1')));
    if !(pointer.is_empty() || pointer.starts_with('/')) || bad_escape {
        diags.push(
            Diagnostic::error("hookplan::bad-pointer", format!("\"{}\" is not a JSON Pointer", pointer.value), pointer.span, "not a JSON Pointer")
                .with_help("a JSON Pointer starts with `/`, e.g. \"/data/status\"; write `~1` for `/` and `~0` for `~` in a key"),
        );
        return false;
    }
    true
}
