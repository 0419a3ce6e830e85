//! `backup from="registry" to="infisical" direction="OUT" webhook="CODE" pattern="GLOB"`: a
//! backup of a selection, as `migrate` writes before any change; publishes
//! `${steps.STEP.backup}` (the file name).

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::NodeReader;
use crate::model::{
    Action, BackupAction, DEFAULT_DATABASE, INFISICAL_STORE, SelectionSpec, Spanned,
};
use crate::registry::Direction;

pub const KIND: StepKind = StepKind {
    name: "backup",
    children: &[],
    responds: false,
    publishes: &["backup"],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<BackupAction> {
    let mut r = NodeReader::new(node, diags);
    r.no_children();
    let from = r.string_prop("from", "from=\"registry\"");
    let to = r.string_prop("to", "to=\"infisical\"");
    let selection = selection(&mut r);
    r.finish();
    let selection = selection?;
    Some(BackupAction {
        database: from
            .unwrap_or_else(|| Spanned::new(DEFAULT_DATABASE.to_string(), node.name_span)),
        store: to.unwrap_or_else(|| Spanned::new(INFISICAL_STORE.to_string(), node.name_span)),
        selection,
    })
}

/// The spec's filters of the migration's kinds: `direction` (`OUT` unless given; `ALL` for
/// every direction), `webhook="CODE"`, `pattern="GLOB"`. A bad value is a diagnostic.
pub(super) fn selection(r: &mut NodeReader<'_, '_>) -> Option<SelectionSpec> {
    let direction = r.string_prop("direction", "direction=\"OUT\"");
    let webhook = r.string_prop("webhook", "webhook=\"STRIPE_PAYMENT\"");
    let pattern = r.string_prop("pattern", "pattern=\"STRIPE_*\"");
    let mut ok = true;
    let direction = match direction {
        None => Some(Direction::Out),
        Some(d) if d.value.eq_ignore_ascii_case("ALL") => None,
        Some(d) => match Direction::parse(&d.value) {
            Some(parsed) => Some(parsed),
            None => {
                r.diags.push(
                    Diagnostic::error(
                        "hookplan::bad-value",
                        format!("\"{}\" is not a direction", d.value),
                        d.span,
                        "not a direction",
                    )
                    .with_help(
                        "write `direction=\"OUT\"`, `direction=\"IN\"` or `direction=\"ALL\"`",
                    ),
                );
                ok = false;
                None
            }
        },
    };
    if let Some(p) = &pattern
        && let Err(why) = glob::Pattern::new(&p.value)
    {
        r.diags.push(
            Diagnostic::error(
                "hookplan::bad-value",
                format!("\"{}\" is not a pattern of webhook codes: {why}", p.value),
                p.span,
                "not a glob",
            )
            .with_help("write it as `pattern=\"STRIPE_*\"`"),
        );
        ok = false;
    }
    ok.then(|| SelectionSpec {
        direction,
        webhook: webhook.map(|w| w.value),
        pattern: pattern.map(|p| p.value),
    })
}
