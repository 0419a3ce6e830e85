//! `rollback backup="${steps.migrate.backup}" from="registry" to="infisical" force=#false
//! dry-run=#false`: restore the store and the registry to a backup written before a migration.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::NodeReader;
use super::template;
use crate::model::{Action, DEFAULT_DATABASE, INFISICAL_STORE, RollbackAction, Spanned};

pub const KIND: StepKind = StepKind {
    name: "rollback",
    children: &[],
    responds: false,
    publishes: &[],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

const EXAMPLE: &str = "rollback backup=\"${steps.migrate.backup}\"";

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<RollbackAction> {
    let mut r = NodeReader::new(node, diags);
    r.no_children();
    let backup = r
        .prop("backup")
        .and_then(|p| template(&p.entry, "`backup`", EXAMPLE, r.diags));
    if r.node.props.iter().all(|p| p.name != "backup") {
        let node = r.node;
        r.diags.push(
            Diagnostic::error(
                "hookplan::incomplete",
                "`rollback` needs the backup to restore",
                node.head_span(),
                "no backup=",
            )
            .with_help(format!(
                "write it as `{EXAMPLE}`, or name a file of STATE_DIR/backups: `rollback backup=\"backup_OUT_2026-02-08_143000.json\"`"
            )),
        );
    }
    let from = r.string_prop("from", "from=\"registry\"");
    let to = r.string_prop("to", "to=\"infisical\"");
    let force = r.bool_prop("force").is_some_and(|f| f.value);
    let dry_run = r.bool_prop("dry-run").is_some_and(|f| f.value);
    r.finish();
    Some(RollbackAction {
        backup: backup?,
        database: from
            .unwrap_or_else(|| Spanned::new(DEFAULT_DATABASE.to_string(), node.name_span)),
        store: to.unwrap_or_else(|| Spanned::new(INFISICAL_STORE.to_string(), node.name_span)),
        force,
        dry_run,
    })
}
