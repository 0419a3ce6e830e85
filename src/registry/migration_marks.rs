//! `hookplan_migrations`: which webhooks a migration moved into which store, and which of
//! them wait for approval there, so that a rerun never submits a pending change again and
//! `rollback` can forget what it undid. Names only: never a value.

use super::sql::Statement;
use super::{Registry, RegistryError, bound, now};
use sqlx::{Connection, Row};
use std::collections::{HashMap, HashSet};

/// Where a webhook's migration into one store stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkState {
    /// Written and read back.
    Migrated,
    /// Submitted; the store awaits an approval before it applies the change.
    Pending,
}

impl MarkState {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkState::Migrated => "migrated",
            MarkState::Pending => "pending",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [MarkState::Migrated, MarkState::Pending]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One webhook's migration into one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationMark {
    pub code: String,
    pub store: String,
    pub path: String,
    pub state: MarkState,
    /// The target names written (or submitted).
    pub names: Vec<String>,
    /// The backup taken before.
    pub backup: Option<String>,
}

impl Registry {
    /// Records `marks` in one transaction, each replacing what was recorded for its code and
    /// store.
    pub async fn mark_migrations(&self, marks: &[MigrationMark]) -> Result<(), RegistryError> {
        if marks.is_empty() {
            return Ok(());
        }
        let what = "recording migrated webhooks";
        let mut guard = self.conn.lock().await;
        let conn = self.bookkept(&mut guard).await?;
        let mut tx = conn.begin().await.map_err(|e| self.query_error(what, &e))?;
        for mark in marks {
            let mut delete = Statement::new(self.backend);
            delete
                .push("DELETE FROM hookplan_migrations WHERE code = ")
                .bind(Some(mark.code.clone()))
                .push(" AND store = ")
                .bind(Some(mark.store.clone()));
            let mut insert = Statement::new(self.backend);
            insert
                .push("INSERT INTO hookplan_migrations (code, store, path, state, names, backup, updated_at) VALUES (")
                .bind(Some(mark.code.clone()))
                .push(", ")
                .bind(Some(mark.store.clone()))
                .push(", ")
                .bind(Some(mark.path.clone()))
                .push(", ")
                .bind(Some(mark.state.as_str().to_string()))
                .push(", ")
                .bind(Some(mark.names.join(",")))
                .push(", ")
                .bind(mark.backup.clone())
                .push(", ")
                .bind(Some(now()))
                .push(")");
            for s in [&delete, &insert] {
                bound(s)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.query_error(what, &e))?;
            }
        }
        tx.commit().await.map_err(|e| self.query_error(what, &e))
    }

    /// Forgets what was recorded of `codes` in `store`, in one transaction.
    pub async fn forget_migrations(
        &self,
        store: &str,
        codes: &[String],
    ) -> Result<(), RegistryError> {
        if codes.is_empty() {
            return Ok(());
        }
        let what = "forgetting migrated webhooks";
        let mut guard = self.conn.lock().await;
        let conn = self.bookkept(&mut guard).await?;
        let mut tx = conn.begin().await.map_err(|e| self.query_error(what, &e))?;
        for code in codes {
            let mut delete = Statement::new(self.backend);
            delete
                .push("DELETE FROM hookplan_migrations WHERE code = ")
                .bind(Some(code.clone()))
                .push(" AND store = ")
                .bind(Some(store.to_string()));
            bound(&delete)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(what, &e))?;
        }
        tx.commit().await.map_err(|e| self.query_error(what, &e))
    }

    /// What is recorded of `codes` in `store`, by code. Creates nothing.
    pub async fn migration_marks(
        &self,
        store: &str,
        codes: &[String],
    ) -> Result<HashMap<String, MigrationMark>, RegistryError> {
        let mut out = HashMap::new();
        if codes.is_empty() {
            return Ok(out);
        }
        let what = "reading migrated webhooks";
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, false).await?;
        let Some(conn) = guard.as_mut() else {
            return Ok(out);
        };
        if !self.has_table(conn, "hookplan_migrations").await? {
            return Ok(out);
        }
        let mut s = Statement::new(self.backend);
        s.push("SELECT code, path, state, names, backup FROM hookplan_migrations WHERE store = ")
            .bind(Some(store.to_string()))
            .push(" AND code IN ")
            .bind_list(codes);
        let rows = bound(&s)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.query_error(what, &e))?;
        for row in rows {
            let text = |i: usize| -> Result<Option<String>, RegistryError> {
                row.try_get::<Option<String>, _>(i)
                    .map_err(|e| self.query_error(what, &e))
            };
            let code = text(0)?.unwrap_or_default();
            let Some(state) = text(2)?.as_deref().and_then(MarkState::parse) else {
                continue;
            };
            let names = text(3)?.unwrap_or_default();
            out.insert(
                code.clone(),
                MigrationMark {
                    code,
                    store: store.to_string(),
                    path: text(1)?.unwrap_or_default(),
                    state,
                    names: names
                        .split(',')
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                        .collect(),
                    backup: text(4)?,
                },
            );
        }
        Ok(out)
    }

    /// The codes whose credentials hookplan's tables place in `store` (rows cleared by
    /// `--clear-database`). Creates nothing.
    pub async fn codes_in_store(&self, store: &str) -> Result<HashSet<String>, RegistryError> {
        let what = "reading credential locations";
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, false).await?;
        let Some(conn) = guard.as_mut() else {
            return Ok(HashSet::new());
        };
        if !self.has_table(conn, "hookplan_credentials").await? {
            return Ok(HashSet::new());
        }
        let mut s = Statement::new(self.backend);
        s.push("SELECT DISTINCT code FROM hookplan_credentials WHERE location LIKE ")
            .bind(Some(format!(
                "{}:%",
                store.replace('%', "\\%").replace('_', "\\_")
            )))
            .push(" ESCAPE '\\'");
        Ok(self.texts(conn, &s, what).await?.into_iter().collect())
    }
}
