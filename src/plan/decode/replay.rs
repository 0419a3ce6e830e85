//! `replay sandbox="hooks" path="/webhook/payment" index=-1 to="…"`: a recorded request sent
//! again.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::NodeReader;
use super::expect_requests::sandbox_prop;
use super::template;
use crate::model::{Action, ReplayAction};

pub const KIND: StepKind = StepKind {
    name: "replay",
    children: &[],
    responds: true,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<ReplayAction> {
    let example = "replay sandbox=\"hooks\" path=\"/webhook/payment\" to=\"${sandbox.mirror.url}/webhook/payment\"";
    let mut r = NodeReader::new(node, diags);
    r.no_children();
    let sandbox = sandbox_prop(&mut r, example);
    let path = r
        .string_prop("path", "path=\"/webhook/*\"")
        .map(|p| p.value);
    let index = r
        .int_prop("index", i64::MIN as i128, i64::MAX as i128, "index=-1")
        .map_or(-1, |i| i.value as i64);
    let to = r
        .prop("to")
        .and_then(|p| template(&p.entry, "`to`", example, r.diags));
    if r.node.props.iter().all(|p| p.name != "to") {
        let node = r.node;
        r.diags.push(
            Diagnostic::error(
                "hookplan::incomplete",
                "`replay` needs a target URL",
                node.head_span(),
                "no to=",
            )
            .with_help(format!("write it as `{example}`")),
        );
    }
    r.finish();
    if index == 0 {
        diags.push(
            Diagnostic::error(
                "hookplan::out-of-range",
                "`index` counts from 1 (or from the end with -1)",
                node.head_span(),
                "index 0",
            )
            .with_help("index=1 is the first matching request, index=-1 the last"),
        );
        return None;
    }
    Some(ReplayAction {
        sandbox: sandbox?,
        folder: None,
        path,
        index,
        id: None,
        to: to?,
    })
}
