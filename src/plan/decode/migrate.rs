//! `migrate from="registry" to="infisical" direction="OUT" webhook="CODE" pattern="GLOB"
//! concurrency=4 dry-run=#false clear-database=#false`: the spec's `migrate`. Publishes
//! `${steps.STEP.backup}` (the backup's file name; empty when nothing changed).

use super::super::diagnostic::Diagnostics;
use super::super::kinds::StepKind;
use super::super::raw::RawNode;
use super::super::reader::NodeReader;
use super::backup::selection;
use crate::model::{
    Action, DEFAULT_DATABASE, DEFAULT_MIGRATE_CONCURRENCY, INFISICAL_STORE, MigrateAction, Spanned,
};

pub const KIND: StepKind = StepKind {
    name: "migrate",
    children: &[],
    responds: false,
    publishes: &["backup"],
    default_retry: false,
    decode: |node, diags| decode(node, diags).map(|a| Action::new(a, node.name_span)),
};

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<MigrateAction> {
    let mut r = NodeReader::new(node, diags);
    r.no_children();
    let from = r.string_prop("from", "from=\"registry\"");
    let to = r.string_prop("to", "to=\"infisical\"");
    let selection = selection(&mut r);
    let dry_run = r.bool_prop("dry-run");
    let clear_database = r.bool_prop("clear-database");
    let concurrency = r.int_prop("concurrency", 1, 64, "concurrency=4");
    r.finish();
    let selection = selection?;
    Some(MigrateAction {
        database: from
            .unwrap_or_else(|| Spanned::new(DEFAULT_DATABASE.to_string(), node.name_span)),
        store: to.unwrap_or_else(|| Spanned::new(INFISICAL_STORE.to_string(), node.name_span)),
        selection,
        dry_run: dry_run.is_some_and(|d| d.value),
        clear_database: clear_database.is_some_and(|c| c.value),
        concurrency: concurrency.map_or(DEFAULT_MIGRATE_CONCURRENCY, |c| c.value as usize),
    })
}
