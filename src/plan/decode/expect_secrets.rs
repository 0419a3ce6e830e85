//! `expect-secrets store="local" path="/webhooks" { secret "NAME" present=#true;
//! secret "NAME" equals="${secret.X}" version=1 }`: assertions on a store's state.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader};
use super::template;
use crate::model::{Action, ExpectSecrets, SecretCheck};

pub const KIND: StepKind = StepKind {
    name: "expect-secrets",
    children: &["secret"],
    responds: false,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

const EXAMPLE: &str =
    "expect-secrets store=\"local\" { secret \"WEBHOOK_OUT_DEMO_KEY\" present=#true }";

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<ExpectSecrets> {
    let mut r = NodeReader::new(node, diags);
    let store = r.string_prop("store", "store=\"local\"");
    let path = r.string_prop("path", "path=\"/webhooks\"");
    r.finish();
    let Some(store) = store else {
        diags.push(
            Diagnostic::error(
                "hookplan::missing-property",
                "`expect-secrets` needs a `store`",
                node.head_span(),
                "no `store=`",
            )
            .with_help(format!("write it as `{EXAMPLE}`")),
        );
        return None;
    };
    let mut checks = Vec::new();
    let mut ok = true;
    for child in node.children() {
        if child.name != "secret" {
            reader::unknown_node(child, "expect-secrets", &["secret"], diags);
            ok = false;
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        c.no_children();
        let name = c.string_arg(
            0,
            "a secret name",
            "secret \"WEBHOOK_OUT_DEMO_KEY\" present=#true",
        );
        let present = c.bool_prop("present");
        let equals = c.prop("equals").map(|p| {
            template(
                &p.entry,
                "`equals`",
                "equals=\"${secret.DEMO_KEY}\"",
                c.diags,
            )
        });
        let version = c.int_prop("version", 1, i128::from(u32::MAX), "version=1");
        c.finish();
        let equals = match equals {
            Some(None) => {
                ok = false;
                None
            }
            Some(Some(t)) => Some(t),
            None => None,
        };
        let Some(name) = name else {
            ok = false;
            continue;
        };
        if present.as_ref().is_some_and(|p| !p.value) && (equals.is_some() || version.is_some()) {
            diags.push(
                Diagnostic::error(
                    "hookplan::contradiction",
                    format!(
                        "secret \"{}\" is expected absent and to have a value",
                        name.value
                    ),
                    child.name_span,
                    "present=#false with equals or version",
                )
                .with_help("keep `present=#false`, or drop it"),
            );
            ok = false;
            continue;
        }
        checks.push(SecretCheck {
            name,
            span: child.name_span,
            present: present.map(|p| p.value),
            equals,
            version: version.map(|v| v.value as u64),
        });
    }
    if checks.is_empty() && ok {
        diags.push(
            Diagnostic::error(
                "hookplan::empty-expectation",
                "`expect-secrets` checks no secret",
                node.head_span(),
                "nothing to check",
            )
            .with_help(format!("write it as `{EXAMPLE}`")),
        );
        return None;
    }
    ok.then(|| ExpectSecrets {
        store,
        path: path.map(|p| crate::store::normalize_path(&p.value)),
        checks,
    })
}
