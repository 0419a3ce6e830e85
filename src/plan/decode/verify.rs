//! `verify from="registry" to="infisical" direction="OUT" webhook="CODE" pattern="GLOB"`: read
//! each selected webhook's credentials back from the store and compare them with the
//! registry's, as the spec's `verify`.

use super::super::diagnostic::Diagnostics;
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::NodeReader;
use super::backup::selection;
use crate::model::{Action, DEFAULT_DATABASE, INFISICAL_STORE, Spanned, VerifyAction};

pub const KIND: StepKind = StepKind {
    name: "verify",
    children: &[],
    responds: false,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<VerifyAction> {
    let mut r = NodeReader::new(node, diags);
    r.no_children();
    let from = r.string_prop("from", "from=\"registry\"");
    let to = r.string_prop("to", "to=\"infisical\"");
    let selection = selection(&mut r);
    r.finish();
    let selection = selection?;
    Some(VerifyAction {
        database: from
            .unwrap_or_else(|| Spanned::new(DEFAULT_DATABASE.to_string(), node.name_span)),
        store: to.unwrap_or_else(|| Spanned::new(INFISICAL_STORE.to_string(), node.name_span)),
        selection,
    })
}
