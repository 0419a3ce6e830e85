//! The migration journal in `hookplan_journal` and `hookplan_journal_webhooks`: a run (its
//! store, selection and backup) and each webhook's stage in it. Every call is one
//! transaction, committed before the caller's next side effect. Names and stages only: never
//! a value.

use super::sql::Statement;
use super::{Registry, RegistryError, bound, now};
use sqlx::{Connection, Row};
use std::collections::HashMap;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Started and not finished: a later migration resumes it, a rollback undoes it.
    Running,
    Finished,
    RolledBack,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::RolledBack => "rolled-back",
        }
    }
}

/// Where one webhook stands in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Its write was about to be sent: it may or may not have been applied.
    Writing,
    /// Written; not read back yet.
    Written,
    /// Read back and recorded as migrated.
    Verified,
    /// Its row's credentials were cleared.
    Cleared,
    /// Nothing more to do in this run (failed, pending approval).
    Done,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Writing => "writing",
            Stage::Written => "written",
            Stage::Verified => "verified",
            Stage::Cleared => "cleared",
            Stage::Done => "done",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Stage::Writing,
            Stage::Written,
            Stage::Verified,
            Stage::Cleared,
            Stage::Done,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A run of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRun {
    pub id: String,
    pub store: String,
    pub path: String,
    /// The selection in words (`direction=OUT`).
    pub selection: String,
    /// The backup's file name.
    pub backup: String,
    pub host: String,
    pub pid: u32,
    pub started_at: String,
}

impl Registry {
    /// The unfinished run into `store`, if there is one. Creates nothing.
    pub async fn unfinished_run(&self, store: &str) -> Result<Option<JournalRun>, RegistryError> {
        let what = "reading the migration journal";
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, false).await?;
        let Some(conn) = guard.as_mut() else {
            return Ok(None);
        };
        if !self.has_table(conn, "hookplan_journal").await? {
            return Ok(None);
        }
        let mut s = Statement::new(self.backend);
        s.push("SELECT run_id, store, path, selection, backup, host, CAST(pid AS TEXT), started_at FROM hookplan_journal WHERE state = 'running' AND store = ")
            .bind(Some(store.to_string()))
            .push(" ORDER BY started_at");
        let rows = bound(&s)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.query_error(what, &e))?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let text = |i: usize| -> Result<String, RegistryError> {
            Ok(row
                .try_get::<Option<String>, _>(i)
                .map_err(|e| self.query_error(what, &e))?
                .unwrap_or_default())
        };
        Ok(Some(JournalRun {
            id: text(0)?,
            store: text(1)?,
            path: text(2)?,
            selection: text(3)?,
            backup: text(4)?,
            host: text(5)?,
            pid: text(6)?.parse().unwrap_or(0),
            started_at: text(7)?,
        }))
    }

    /// Records a run as started.
    pub async fn start_run(&self, run: &JournalRun) -> Result<(), RegistryError> {
        let mut s = Statement::new(self.backend);
        s.push("INSERT INTO hookplan_journal (run_id, store, path, selection, backup, host, pid, state, started_at, updated_at) VALUES (");
        for (i, value) in [
            &run.id,
            &run.store,
            &run.path,
            &run.selection,
            &run.backup,
            &run.host,
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                s.push(", ");
            }
            s.bind(Some(value.clone()));
        }
        s.push(&format!(", {}, 'running', ", run.pid))
            .bind(Some(run.started_at.clone()))
            .push(", ")
            .bind(Some(now()))
            .push(")");
        self.journal_write(&[s], "starting the migration journal")
            .await
    }

    /// Ends every run of `backup` (`Finished`, `RolledBack`).
    pub async fn end_runs(&self, backup: &str, state: RunState) -> Result<(), RegistryError> {
        let mut s = Statement::new(self.backend);
        s.push("UPDATE hookplan_journal SET state = ")
            .bind(Some(state.as_str().to_string()))
            .push(", updated_at = ")
            .bind(Some(now()))
            .push(" WHERE backup = ")
            .bind(Some(backup.to_string()));
        self.journal_write(&[s], "ending the migration journal")
            .await
    }

    /// Records `codes` at `stage` in run `run`, in one transaction.
    pub async fn journal_stage(
        &self,
        run: &str,
        codes: &[String],
        stage: Stage,
    ) -> Result<(), RegistryError> {
        self.journal_stages_at(run, &[(codes, stage)]).await
    }

    /// Records each group of codes at its stage in run `run`, all in one transaction.
    pub async fn journal_stages_at(
        &self,
        run: &str,
        groups: &[(&[String], Stage)],
    ) -> Result<(), RegistryError> {
        let mut statements = Vec::new();
        let at = now();
        for (codes, stage) in groups {
            for code in *codes {
                let mut delete = Statement::new(self.backend);
                delete
                    .push("DELETE FROM hookplan_journal_webhooks WHERE run_id = ")
                    .bind(Some(run.to_string()))
                    .push(" AND code = ")
                    .bind(Some(code.clone()));
                let mut insert = Statement::new(self.backend);
                insert
                    .push("INSERT INTO hookplan_journal_webhooks (run_id, code, stage, updated_at) VALUES (")
                    .bind(Some(run.to_string()))
                    .push(", ")
                    .bind(Some(code.clone()))
                    .push(", ")
                    .bind(Some(stage.as_str().to_string()))
                    .push(", ")
                    .bind(Some(at.clone()))
                    .push(")");
                statements.push(delete);
                statements.push(insert);
            }
        }
        if statements.is_empty() {
            return Ok(());
        }
        self.journal_write(&statements, "journaling the migration")
            .await
    }

    /// The stages of `codes` in run `run`, by code (those not journaled are absent).
    pub async fn journal_stages(
        &self,
        run: &str,
        codes: &[String],
    ) -> Result<HashMap<String, Stage>, RegistryError> {
        let mut out = HashMap::new();
        if codes.is_empty() {
            return Ok(out);
        }
        let what = "reading the migration journal";
        let mut guard = self.conn.lock().await;
        let conn = self.bookkept(&mut guard).await?;
        let mut s = Statement::new(self.backend);
        s.push("SELECT code, stage FROM hookplan_journal_webhooks WHERE run_id = ")
            .bind(Some(run.to_string()))
            .push(" AND code IN ")
            .bind_list(codes);
        let rows = bound(&s)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.query_error(what, &e))?;
        for row in rows {
            let code: Option<String> = row.try_get(0).map_err(|e| self.query_error(what, &e))?;
            let stage: Option<String> = row.try_get(1).map_err(|e| self.query_error(what, &e))?;
            if let (Some(code), Some(stage)) = (code, stage.as_deref().and_then(Stage::parse)) {
                out.insert(code, stage);
            }
        }
        Ok(out)
    }

    async fn journal_write(
        &self,
        statements: &[Statement],
        what: &str,
    ) -> Result<(), RegistryError> {
        let mut guard = self.conn.lock().await;
        let conn = self.bookkept(&mut guard).await?;
        let mut tx = conn.begin().await.map_err(|e| self.query_error(what, &e))?;
        for s in statements {
            bound(s)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(what, &e))?;
        }
        tx.commit().await.map_err(|e| self.query_error(what, &e))
    }
}
