//! `status from="registry" to="infisical" direction="OUT" webhook="CODE" pattern="GLOB"`: the
//! spec's migration status table as a step.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::NodeReader;
use crate::model::{Action, DEFAULT_DATABASE, Spanned, StatusAction};
use crate::registry::Direction;

pub const KIND: StepKind = StepKind {
    name: "status",
    children: &[],
    responds: false,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

const EXAMPLE: &str = "status from=\"registry\" to=\"infisical\"";

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<StatusAction> {
    let mut r = NodeReader::new(node, diags);
    r.no_children();
    let from = r.string_prop("from", "from=\"registry\"");
    let to = r.string_prop("to", "to=\"infisical\"");
    let direction = r.string_prop("direction", "direction=\"OUT\"");
    let webhook = r.string_prop("webhook", "webhook=\"STRIPE_PAYMENT\"");
    let pattern = r.string_prop("pattern", "pattern=\"STRIPE_*\"");
    r.finish();
    let mut ok = true;
    let direction = match direction {
        None => None,
        Some(d) => match Direction::parse(&d.value).filter(|_| d.value.trim() == d.value) {
            Some(parsed) => Some(parsed),
            None => {
                diags.push(
                    Diagnostic::error(
                        "hookplan::unknown-value",
                        format!("unknown direction \"{}\"", d.value),
                        d.span,
                        "not a direction",
                    )
                    .with_help("use one of: IN, OUT (leave it out for every direction)"),
                );
                ok = false;
                None
            }
        },
    };
    if let Some(p) = &pattern
        && let Err(why) = glob::Pattern::new(&p.value)
    {
        diags.push(
            Diagnostic::error(
                "hookplan::bad-pattern",
                format!("\"{}\" is not a pattern of webhook codes: {why}", p.value),
                p.span,
                "not a glob",
            )
            .with_help("write it as `pattern=\"STRIPE_*\"`"),
        );
        ok = false;
    }
    let Some(to) = to else {
        diags.push(
            Diagnostic::error(
                "hookplan::missing-property",
                "`status` needs the secret store to compare with (`to`)",
                node.head_span(),
                "no `to=`",
            )
            .with_help(format!("write it as `{EXAMPLE}`")),
        );
        return None;
    };
    let database =
        from.unwrap_or_else(|| Spanned::new(DEFAULT_DATABASE.to_string(), node.name_span));
    ok.then(|| StatusAction {
        database,
        store: to,
        direction,
        webhook: webhook.map(|w| w.value),
        pattern: pattern.map(|p| p.value),
    })
}
