//! `expect-alerts kind="failure-rate" state="fired" count=1`: assertions on the alerts the
//! run raised before this step started.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::NodeReader;
use super::expect_requests::count_props;
use crate::model::suggest::did_you_mean;
use crate::model::{Action, AlertKind, AlertState, ExpectAlerts, Spanned};

pub const KIND: StepKind = StepKind {
    name: "expect-alerts",
    children: &[],
    responds: false,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<ExpectAlerts> {
    let mut r = NodeReader::new(node, diags);
    r.no_children();
    let kind = r.string_prop("kind", "kind=\"failure-rate\"");
    let state = r.string_prop("state", "state=\"fired\"");
    let count = count_props(&mut r);
    r.finish();
    let kinds = AlertKind::ALL.map(AlertKind::as_str);
    let states = AlertState::ALL.map(AlertState::as_str);
    let kind = match kind {
        None => Some(None),
        Some(k) => one_of(&k, "alert kind", &kinds, diags)
            .and_then(AlertKind::parse)
            .map(Some),
    };
    let state = match state {
        None => Some(AlertState::Fired),
        Some(s) => one_of(&s, "alert state", &states, diags).and_then(AlertState::parse),
    };
    Some(ExpectAlerts {
        kind: kind?,
        state: state?,
        count,
    })
}

fn one_of<'a>(
    value: &'a Spanned<String>,
    what: &str,
    known: &[&str],
    diags: &mut Diagnostics,
) -> Option<&'a str> {
    if known.contains(&value.as_str()) {
        return Some(value.as_str());
    }
    let help = match did_you_mean(value, known.iter().copied()) {
        Some(s) => format!("did you mean \"{s}\"?"),
        None => format!("use one of: {}", known.join(", ")),
    };
    diags.push(
        Diagnostic::error(
            "hookplan::unknown-value",
            format!("unknown {what} \"{}\"", value.value),
            value.span,
            format!("not an {what}"),
        )
        .with_help(help),
    );
    None
}
