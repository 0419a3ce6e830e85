//! Writing credentials into the registry's rows: clearing them once they live in a secret
//! store (`migrate --clear-database`), and putting them back (`rollback`). Each call is one
//! transaction over many rows, and records in `hookplan_credentials` where each credential
//! lives afterwards, so a row and its bookkeeping never disagree.

use super::sql::{Statement, quote};
use super::{Backend, Field, Registry, RegistryError, bound, now};
use sqlx::{AnyConnection, Connection};

/// One credential of one row: its new value, and where it lives afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialWrite {
    pub field: Field,
    /// `None` clears the column: NULL, or `''` when the column is NOT NULL.
    pub value: Option<String>,
    /// Where the credential lives afterwards (`vault:/webhooks/NAME`); `None`: in the row (its
    /// record in `hookplan_credentials` is removed).
    pub location: Option<String>,
}

impl Registry {
    /// Writes `rows` (code, credentials) in one transaction: all of them or none. A code that
    /// is not in the registry is an error, as is a value for a field the table does not map;
    /// clearing an unmapped field is nothing to do.
    pub async fn write_credentials(
        &self,
        rows: &[(String, Vec<CredentialWrite>)],
    ) -> Result<(), RegistryError> {
        if rows.is_empty() {
            return Ok(());
        }
        let what = "writing credentials";
        let mut guard = self.conn.lock().await;
        let (conn, resolved) = self.writable(&mut guard).await?;
        let not_null = self.not_null_columns(conn, &resolved.table).await?;
        let code_column = resolved
            .columns
            .get(Field::Code)
            .unwrap_or("code")
            .to_string();
        let mut statements = Vec::new();
        for (code, writes) in rows {
            let mut set = Vec::new();
            let mut update = Statement::new(self.backend);
            update.push(&format!("UPDATE {} SET ", quote(&resolved.table)));
            for write in writes {
                let Some(column) = resolved.columns.get(write.field) else {
                    if write.value.is_some() {
                        return Err(RegistryError::Unmapped {
                            db: self.db(),
                            field: write.field.name().to_string(),
                        });
                    }
                    continue;
                };
                if !set.is_empty() {
                    update.push(", ");
                }
                set.push(column.to_string());
                update.push(&format!("{} = ", quote(column)));
                let value = match &write.value {
                    Some(v) => Some(v.clone()),
                    None if not_null.iter().any(|c| c == column) => Some(String::new()),
                    None => None,
                };
                update.bind(value);
            }
            if !set.is_empty() {
                update
                    .push(&format!(" WHERE {} = ", quote(&code_column)))
                    .bind(Some(code.clone()));
                statements.push((code.clone(), true, update));
            }
            for write in writes {
                let mut delete = Statement::new(self.backend);
                delete
                    .push("DELETE FROM hookplan_credentials WHERE code = ")
                    .bind(Some(code.clone()))
                    .push(" AND field = ")
                    .bind(Some(write.field.name().to_string()));
                statements.push((code.clone(), false, delete));
                if let Some(location) = &write.location {
                    let mut insert = Statement::new(self.backend);
                    insert
                        .push("INSERT INTO hookplan_credentials (code, field, location, updated_at) VALUES (")
                        .bind(Some(code.clone()))
                        .push(", ")
                        .bind(Some(write.field.name().to_string()))
                        .push(", ")
                        .bind(Some(location.clone()))
                        .push(", ")
                        .bind(Some(now()))
                        .push(")");
                    statements.push((code.clone(), false, insert));
                }
            }
        }
        let mut tx = conn.begin().await.map_err(|e| self.query_error(what, &e))?;
        for (code, must_match, statement) in &statements {
            let changed = bound(statement)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(what, &e))?
                .rows_affected();
            if *must_match && changed == 0 {
                // Dropping `tx` rolls every row back.
                return Err(RegistryError::NotFound {
                    db: self.db(),
                    code: code.clone(),
                });
            }
        }
        tx.commit().await.map_err(|e| self.query_error(what, &e))
    }

    /// The table's columns that refuse NULL, as the catalog spells them.
    async fn not_null_columns(
        &self,
        conn: &mut AnyConnection,
        table: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let mut s = Statement::new(self.backend);
        match self.backend {
            Backend::Sqlite => s
                .push("SELECT name FROM pragma_table_info(")
                .bind(Some(table.to_string()))
                .push(") WHERE \"notnull\" = 1"),
            Backend::Postgres => s
                .push("SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ")
                .bind(Some(table.to_string()))
                .push(" AND is_nullable = 'NO'"),
        };
        self.texts(conn, &s, "reading the catalog").await
    }
}
