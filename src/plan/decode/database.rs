//! `database "registry" url="…" { table "def_webhook"; columns code="Webhookcode" …;
//! seed-sql "fixtures/webhooks.sql"; auth-header "X-API-Key" }`

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use super::{check_name, template};
use crate::model::{DatabaseDecl, Spanned};
use crate::registry::{ColumnMap, Field};

const EXAMPLE: &str = "database \"registry\" url=\"${env.DATABASE_URL:-sqlite://registry.db}\"";

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<DatabaseDecl> {
    let mut r = NodeReader::new(node, diags);
    let name = r.string_arg(0, "a name", EXAMPLE);
    let url = r.prop("url").and_then(|p| {
        template(
            &p.entry,
            "`url`",
            "url=\"postgres://app@db/hooks\"",
            r.diags,
        )
    });
    r.finish();
    let name = name.filter(|n| check_name(n, "database", diags))?;
    let mut db = DatabaseDecl {
        name: name.value.clone(),
        span: name.span,
        url,
        table: None,
        columns: ColumnMap::default(),
        seed_sql: None,
        auth_header: None,
    };
    let mut seen = Vec::new();
    let mut columns_span = None;
    for child in node.children() {
        let kind = child.name.as_str();
        if !grammar::nodes("database").contains(&kind) {
            reader::unknown_node(
                child,
                &format!("database \"{}\"", name.value),
                grammar::nodes("database"),
                diags,
            );
            continue;
        }
        if !once(&mut seen, child, diags) {
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        match kind {
            "table" => {
                db.table = c
                    .value("table \"def_webhook\"")
                    .and_then(|v| reader::string(v, "`table`", "table \"def_webhook\"", c.diags));
            }
            "columns" => {
                c.no_children();
                columns_span = Some(child.name_span);
                for field in Field::ALL {
                    if let Some(column) =
                        c.string_prop(field.name(), "columns code=\"Webhookcode\"")
                    {
                        db.columns.entries.push((field, column.value));
                    }
                }
            }
            "seed-sql" => {
                db.seed_sql = c
                    .value("seed-sql \"fixtures/webhooks.sql\"")
                    .and_then(|v| {
                        reader::string(
                            v,
                            "`seed-sql`",
                            "seed-sql \"fixtures/webhooks.sql\"",
                            c.diags,
                        )
                    })
                    .map(|s| Spanned::new(s.value.into(), s.span));
            }
            "auth-header" => {
                db.auth_header = c
                    .value("auth-header \"X-API-Key\"")
                    .and_then(|v| {
                        reader::string(v, "`auth-header`", "auth-header \"X-API-Key\"", c.diags)
                    })
                    .map(|s| s.value);
            }
            _ => unreachable!("checked against the grammar above"),
        }
        c.finish();
    }
    match (&db.table, columns_span) {
        (Some(table), _) if db.columns.get(Field::Code).is_none() => diags.push(
            Diagnostic::error(
                "hookplan::no-code-column",
                format!(
                    "table \"{}\" needs its code column in `columns`",
                    table.value
                ),
                table.span,
                "no `code=` in `columns`",
            )
            .with_help("add `columns code=\"Webhookcode\" url=\"Baseurl\" …`"),
        ),
        (None, Some(span)) => diags.push(
            Diagnostic::error(
                "hookplan::columns-without-table",
                "`columns` maps a legacy table, but no `table` is named",
                span,
                "no `table`",
            )
            .with_help(
                "add `table \"def_webhook\"`, or remove `columns` to use hookplan's own table",
            ),
        ),
        _ => {}
    }
    Some(db)
}
