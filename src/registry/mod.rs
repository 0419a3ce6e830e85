//! The webhook registry: hookplan's own `webhooks` table or a mapped legacy table (the spec's
//! `def_webhook`), in SQLite or PostgreSQL through the same code (sqlx's `Any` driver,
//! runtime queries, every column read as text).
//!
//! Read-only operations create nothing: no file, no table. The first write creates hookplan's
//! bookkeeping tables (`hookplan_*`) and, without a legacy table, its own `webhooks` table. A
//! legacy table's schema is never altered.

mod bookkeeping;
mod columns;
mod credential_writes;
mod error;
mod journal;
mod lease;
mod migration_marks;
mod sql;
mod url;
mod webhook;

pub use columns::{ColumnMap, Field};
pub use credential_writes::CredentialWrite;
pub use error::RegistryError;
pub use journal::{JournalRun, RunState, Stage};
pub use lease::{Holder, LEASE_SECONDS, LeaseError, Taken, this_host};
pub use migration_marks::{MarkState, MigrationMark};
pub use url::{Backend, embedded as embedded_url, mask as mask_url, password as url_password};
pub use webhook::{Auth, Direction, Method, Webhook, derive_auth};

use sql::{Statement, quote};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};
use std::path::Path;
use std::sync::Once;
use tokio::sync::Mutex;

/// What a `database` node says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// The `database` node's name, shown in every error.
    pub name: String,
    pub url: String,
    /// A legacy table; `None` for hookplan's own `webhooks`.
    pub table: Option<String>,
    /// The legacy table's columns (ignored for the own table).
    pub columns: ColumnMap,
    /// The header `header` auth sends the key in.
    pub auth_header: Option<String>,
}

impl RegistryConfig {
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            table: None,
            columns: ColumnMap::default(),
            auth_header: None,
        }
    }

    /// A legacy table read through `columns`.
    pub fn legacy(mut self, table: &str, columns: &[(Field, &str)]) -> Self {
        self.table = Some(table.to_string());
        self.columns = ColumnMap {
            entries: columns.iter().map(|(f, c)| (*f, c.to_string())).collect(),
        };
        self
    }

    /// The header that `header` auth sends the key in: `X-API-Key` unless set.
    pub fn auth_header(&self) -> &str {
        self.auth_header.as_deref().unwrap_or("X-API-Key")
    }
}

/// Installs sqlx's drivers, once per process, before the first connection.
fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

const OWN_TABLE: &str = "webhooks";

/// Which rows a select reads.
#[derive(Debug, Clone, Copy)]
enum Rows<'a> {
    All,
    Code(&'a str),
    /// Codes after this one (all with `None`), at most this many.
    After(Option<&'a str>, usize),
}

/// A registry, connected on first use.
pub struct Registry {
    config: RegistryConfig,
    backend: Backend,
    masked: String,
    conn: Mutex<Option<AnyConnection>>,
    /// hookplan's tables are known to be up to date (checked once per process).
    bookkept: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("name", &self.config.name)
            .field("url", &self.masked)
            .finish()
    }
}

impl Registry {
    /// Checks the URL; connects to PostgreSQL, or to a SQLite file that exists, to report an
    /// unreachable server or a refused login now. Creates nothing.
    pub async fn open(config: RegistryConfig) -> Result<Self, RegistryError> {
        let masked = url::mask(&config.url);
        let backend = url::backend(&config.url).map_err(|reason| RegistryError::BadUrl {
            db: config.name.clone(),
            url: masked.clone(),
            reason,
        })?;
        if config.table.is_some() && config.columns.get(Field::Code).is_none() {
            return Err(RegistryError::NoCodeColumn {
                db: config.name.clone(),
                table: config.table.clone().unwrap_or_default(),
            });
        }
        let registry = Self {
            config,
            backend,
            masked,
            conn: Mutex::new(None),
            bookkept: std::sync::atomic::AtomicBool::new(false),
        };
        {
            let mut conn = registry.conn.lock().await;
            registry.connect(&mut conn, false).await?;
        }
        Ok(registry)
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as it may be shown.
    pub fn masked_url(&self) -> &str {
        &self.masked
    }

    fn db(&self) -> String {
        self.config.name.clone()
    }

    fn query_error(&self, what: &str, error: &sqlx::Error) -> RegistryError {
        RegistryError::Query {
            db: self.db(),
            what: what.to_string(),
            reason: error::reason(error, url::password(&self.config.url)),
        }
    }

    fn connect_error(&self, error: &sqlx::Error) -> RegistryError {
        let secret = url::password(&self.config.url);
        match error {
            sqlx::Error::Configuration(_) => RegistryError::BadUrl {
                db: self.db(),
                url: self.masked.clone(),
                reason: error::reason(error, secret),
            },
            sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("28P01" | "28000")) => {
                RegistryError::Login {
                    db: self.db(),
                    url: self.masked.clone(),
                }
            }
            sqlx::Error::Database(_) => self.query_error("connecting", error),
            _ => RegistryError::Unreachable {
                db: self.db(),
                url: self.masked.clone(),
                reason: error::reason(error, secret),
            },
        }
    }

    /// Makes sure `slot` holds a connection. Without `write`, a SQLite file that does not
    /// exist is left alone (the slot stays empty: an empty registry).
    async fn connect(
        &self,
        slot: &mut Option<AnyConnection>,
        write: bool,
    ) -> Result<(), RegistryError> {
        if slot.is_some() {
            return Ok(());
        }
        install_drivers();
        let mut target = self.config.url.clone();
        if self.backend == Backend::Sqlite
            && let Some(path) = url::sqlite_path(&target)
            && !path.exists()
        {
            if !write {
                return Ok(());
            }
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
                && !parent.exists()
            {
                create_private_dir(parent).map_err(|e| RegistryError::Unreachable {
                    db: self.db(),
                    url: self.masked.clone(),
                    reason: format!("cannot create {}: {e}", parent.display()),
                })?;
            }
            target = url::creating(&target);
        }
        let conn = AnyConnection::connect(&target)
            .await
            .map_err(|e| self.connect_error(&e))?;
        *slot = Some(conn);
        Ok(())
    }

    fn table(&self) -> &str {
        self.config.table.as_deref().unwrap_or(OWN_TABLE)
    }

    fn map(&self) -> ColumnMap {
        if self.config.table.is_some() {
            self.config.columns.clone()
        } else {
            ColumnMap::own()
        }
    }

    /// The table's name and columns as the catalog spells them, or `None` when it does not
    /// exist.
    async fn catalog(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<Option<(String, Vec<String>)>, RegistryError> {
        let table = self.table();
        let mut find = Statement::new(self.backend);
        match self.backend {
            Backend::Sqlite => find.push(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND lower(name) = lower(",
            ),
            Backend::Postgres => find.push(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND lower(table_name) = lower(",
            ),
        };
        find.bind(Some(table.to_string())).push(")");
        let names = self.texts(conn, &find, "reading the catalog").await?;
        let name = match names.iter().find(|n| n.as_str() == table).or(names.first()) {
            Some(name) => name.clone(),
            None => return Ok(None),
        };
        let mut cols = Statement::new(self.backend);
        match self.backend {
            Backend::Sqlite => cols.push("SELECT name FROM pragma_table_info(").bind(Some(name.clone())).push(") ORDER BY cid"),
            Backend::Postgres => cols
                .push("SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ")
                .bind(Some(name.clone()))
                .push(" ORDER BY ordinal_position"),
        };
        let columns = self.texts(conn, &cols, "reading the catalog").await?;
        Ok(Some((name, columns)))
    }

    /// The first column of every row, as text.
    async fn texts(
        &self,
        conn: &mut AnyConnection,
        statement: &Statement,
        what: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let rows = bound(statement)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.query_error(what, &e))?;
        rows.iter()
            .map(|r| {
                r.try_get::<Option<String>, _>(0)
                    .map(Option::unwrap_or_default)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.query_error(what, &e))
    }

    /// The mapping resolved against the catalog; `None` when the own table does not exist
    /// yet. A missing legacy table or column is an error.
    async fn resolve(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<Option<columns::Resolved>, RegistryError> {
        let Some((table, catalog)) = self.catalog(conn).await? else {
            return match &self.config.table {
                Some(table) => Err(self.missing_table(table)),
                None => Ok(None),
            };
        };
        columns::resolve(&table, &self.map(), &catalog)
            .map(Some)
            .map_err(|(field, column)| RegistryError::MissingColumn {
                db: self.db(),
                table: table.clone(),
                column,
                field: field.name().to_string(),
                columns: catalog.join(", "),
            })
    }

    fn missing_table(&self, table: &str) -> RegistryError {
        RegistryError::MissingTable {
            db: self.db(),
            url: self.masked.clone(),
            table: table.to_string(),
        }
    }

    /// Every webhook, ordered by code. An embedded registry not created yet is empty.
    pub async fn list(&self) -> Result<Vec<Webhook>, RegistryError> {
        self.select(Rows::All).await
    }

    /// One webhook by its code.
    pub async fn get(&self, code: &str) -> Result<Option<Webhook>, RegistryError> {
        Ok(self.select(Rows::Code(code)).await?.into_iter().next())
    }

    /// At most `limit` webhooks whose code sorts after `after` (from the first with `None`),
    /// ordered by code: a registry read page by page, never held whole in memory.
    pub async fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Webhook>, RegistryError> {
        self.select(Rows::After(after, limit)).await
    }

    async fn select(&self, rows: Rows<'_>) -> Result<Vec<Webhook>, RegistryError> {
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, false).await?;
        let Some(conn) = guard.as_mut() else {
            return match &self.config.table {
                Some(table) => Err(self.missing_table(table)),
                None => Ok(Vec::new()),
            };
        };
        let Some(resolved) = self.resolve(conn).await? else {
            return Ok(Vec::new());
        };
        let columns = &resolved.columns.entries;
        let code_column = resolved.columns.get(Field::Code).unwrap_or("code");
        let mut s = Statement::new(self.backend);
        let list: Vec<String> = columns
            .iter()
            .map(|(_, c)| format!("CAST({} AS TEXT)", quote(c)))
            .collect();
        s.push(&format!(
            "SELECT {} FROM {}",
            list.join(", "),
            quote(&resolved.table)
        ));
        match rows {
            Rows::All => {}
            Rows::Code(code) => {
                s.push(&format!(" WHERE {} = ", quote(code_column)))
                    .bind(Some(code.to_string()));
            }
            Rows::After(Some(after), _) => {
                s.push(&format!(" WHERE {} > ", quote(code_column)))
                    .bind(Some(after.to_string()));
            }
            Rows::After(None, _) => {}
        }
        s.push(&format!(" ORDER BY {}", quote(code_column)));
        if let Rows::After(_, limit) = rows {
            s.push(&format!(" LIMIT {limit}"));
        }
        let rows = bound(&s)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.query_error("reading webhooks", &e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, (field, _)) in columns.iter().enumerate() {
                let v: Option<String> = row
                    .try_get(i)
                    .map_err(|e| self.query_error("reading webhooks", &e))?;
                values.push((*field, v.filter(|v| !v.is_empty())));
            }
            out.push(self.webhook(values)?);
        }
        Ok(out)
    }

    fn webhook(&self, values: Vec<(Field, Option<String>)>) -> Result<Webhook, RegistryError> {
        let get = |f: Field| {
            values
                .iter()
                .find(|(g, _)| *g == f)
                .and_then(|(_, v)| v.clone())
        };
        let code = get(Field::Code).unwrap_or_default();
        let bad = |field: Field, value: &str, expected: &[&str]| RegistryError::BadValue {
            db: self.db(),
            code: code.clone(),
            field: field.name().to_string(),
            value: value.to_string(),
            expected: expected.join(", "),
        };
        let direction = match get(Field::Direction) {
            Some(v) => Some(
                Direction::parse(&v).ok_or_else(|| bad(Field::Direction, &v, Direction::NAMES))?,
            ),
            None => None,
        };
        let method = match get(Field::Method) {
            Some(v) => {
                Some(Method::parse(&v).ok_or_else(|| bad(Field::Method, &v, Method::NAMES))?)
            }
            None => None,
        };
        let enabled = match get(Field::Enabled) {
            Some(v) => Some(
                webhook::parse_flag(&v)
                    .ok_or_else(|| bad(Field::Enabled, &v, &["1", "0", "true", "false"]))?,
            ),
            None => None,
        };
        let (user, key, password) = (get(Field::User), get(Field::Key), get(Field::Password));
        let auth = match get(Field::Auth) {
            Some(v) => Auth::parse(&v).ok_or_else(|| bad(Field::Auth, &v, Auth::NAMES))?,
            None => derive_auth(user.as_deref(), key.as_deref(), password.as_deref()),
        };
        Ok(Webhook {
            code: code.clone(),
            direction,
            url: get(Field::Url),
            method,
            auth,
            user,
            key,
            password,
            signing_secret: get(Field::SigningSecret),
            enabled,
        })
    }

    /// Connects for writing, creates the bookkeeping tables (and the own table) when missing,
    /// and resolves the mapping.
    async fn writable<'g>(
        &self,
        guard: &'g mut Option<AnyConnection>,
    ) -> Result<(&'g mut AnyConnection, columns::Resolved), RegistryError> {
        self.connect(guard, true).await?;
        let conn = guard.as_mut().expect("connected for writing");
        // A legacy table and its columns are checked before anything is created.
        if self.config.table.is_some() {
            self.resolve(conn).await?;
        }
        self.bookkeeping(conn).await?;
        if self.config.table.is_none() {
            self.exec(conn, bookkeeping::OWN_TABLE, "creating the webhooks table")
                .await?;
        }
        let resolved = match self.resolve(conn).await? {
            Some(r) => r,
            None => return Err(self.missing_table(self.table())),
        };
        Ok((conn, resolved))
    }

    /// Connects for writing hookplan's own tables only: creates them when missing, resolves
    /// no mapping (the journal, the lock and the marks are written before every batch, and
    /// must cost one statement, not a catalog read).
    async fn bookkept<'g>(
        &self,
        guard: &'g mut Option<AnyConnection>,
    ) -> Result<&'g mut AnyConnection, RegistryError> {
        self.connect(guard, true).await?;
        let conn = guard.as_mut().expect("connected for writing");
        self.bookkeeping(conn).await?;
        Ok(conn)
    }

    async fn exec(
        &self,
        conn: &mut AnyConnection,
        sql: &str,
        what: &str,
    ) -> Result<u64, RegistryError> {
        sqlx::query(AssertSqlSafe(sql.to_string()))
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| self.query_error(what, &e))
    }

    /// Creates the `hookplan_*` tables and runs the migrations not yet applied, once per
    /// process, in one transaction. On PostgreSQL a transaction-scoped advisory lock makes
    /// two processes that start at once take turns (`CREATE TABLE IF NOT EXISTS` alone races
    /// there); SQLite's write lock does the same.
    async fn bookkeeping(&self, conn: &mut AnyConnection) -> Result<(), RegistryError> {
        use std::sync::atomic::Ordering;
        if self.bookkept.load(Ordering::Acquire) {
            return Ok(());
        }
        let what = "creating hookplan's tables";
        let mut tx = conn.begin().await.map_err(|e| self.query_error(what, &e))?;
        if self.backend == Backend::Postgres {
            // Any constant will do: hookplan's tables, in this database.
            self.exec(&mut tx, "SELECT pg_advisory_xact_lock(7305641119)", what)
                .await?;
        }
        self.exec(&mut tx, bookkeeping::VERSION_TABLE, what).await?;
        let mut current = Statement::new(self.backend);
        current.push("SELECT CAST(COALESCE(MAX(version), 0) AS TEXT) FROM hookplan_schema_version");
        let version: i64 = self
            .texts(&mut tx, &current, what)
            .await?
            .first()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        for (number, sql) in bookkeeping::MIGRATIONS {
            if *number <= version {
                continue;
            }
            for statement in bookkeeping::statements(sql) {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.query_error(what, &e))?;
            }
            let mut record = Statement::new(self.backend);
            record
                .push("INSERT INTO hookplan_schema_version (version, applied_at) VALUES (CAST(")
                .bind(Some(number.to_string()))
                .push(" AS INTEGER), ")
                .bind(Some(now()))
                .push(")");
            bound(&record)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(what, &e))?;
            if *number == 1 {
                let mut id = Statement::new(self.backend);
                id.push("INSERT INTO hookplan_registry (id, created_at) VALUES (")
                    .bind(Some(bookkeeping::new_registry_id()))
                    .push(", ")
                    .bind(Some(now()))
                    .push(")");
                bound(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.query_error(what, &e))?;
            }
        }
        tx.commit().await.map_err(|e| self.query_error(what, &e))?;
        self.bookkept.store(true, Ordering::Release);
        Ok(())
    }

    /// The registry's random id, or `None` before the first write. Creates nothing.
    pub async fn registry_id(&self) -> Result<Option<String>, RegistryError> {
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, false).await?;
        let Some(conn) = guard.as_mut() else {
            return Ok(None);
        };
        if !self.has_table(conn, "hookplan_registry").await? {
            return Ok(None);
        }
        let mut s = Statement::new(self.backend);
        s.push("SELECT id FROM hookplan_registry");
        Ok(self
            .texts(conn, &s, "reading the registry id")
            .await?
            .into_iter()
            .next())
    }

    /// The registry's random id, created with hookplan's bookkeeping tables when it has none
    /// yet (a write: the first backup of a registry gives it its id).
    pub async fn ensure_registry_id(&self) -> Result<String, RegistryError> {
        if let Some(id) = self.registry_id().await? {
            return Ok(id);
        }
        {
            let mut guard = self.conn.lock().await;
            self.writable(&mut guard).await?;
        }
        self.registry_id()
            .await?
            .ok_or_else(|| RegistryError::Query {
                db: self.db(),
                what: "reading the registry id".to_string(),
                reason: "hookplan_registry holds no id".to_string(),
            })
    }

    /// Records where a webhook's credential (`user`, `key`, `password`, `signing-secret`)
    /// lives now, e.g. `db` or `infisical:/webhooks/STRIPE_PAYMENT`. A write.
    pub async fn set_credential_location(
        &self,
        code: &str,
        field: Field,
        location: &str,
    ) -> Result<(), RegistryError> {
        let mut guard = self.conn.lock().await;
        let (conn, _) = self.writable(&mut guard).await?;
        let what = "recording a credential's location";
        let mut tx = conn.begin().await.map_err(|e| self.query_error(what, &e))?;
        let mut delete = Statement::new(self.backend);
        delete
            .push("DELETE FROM hookplan_credentials WHERE code = ")
            .bind(Some(code.to_string()))
            .push(" AND field = ")
            .bind(Some(field.name().to_string()));
        let mut insert = Statement::new(self.backend);
        insert
            .push("INSERT INTO hookplan_credentials (code, field, location, updated_at) VALUES (")
            .bind(Some(code.to_string()))
            .push(", ")
            .bind(Some(field.name().to_string()))
            .push(", ")
            .bind(Some(location.to_string()))
            .push(", ")
            .bind(Some(now()))
            .push(")");
        for s in [&delete, &insert] {
            bound(s)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(what, &e))?;
        }
        tx.commit().await.map_err(|e| self.query_error(what, &e))
    }

    /// Where each recorded credential of a webhook lives: (field, location), by field.
    /// Creates nothing; empty before the first write.
    pub async fn credential_locations(
        &self,
        code: &str,
    ) -> Result<Vec<(Field, String)>, RegistryError> {
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, false).await?;
        let Some(conn) = guard.as_mut() else {
            return Ok(Vec::new());
        };
        if !self.has_table(conn, "hookplan_credentials").await? {
            return Ok(Vec::new());
        }
        let what = "reading credential locations";
        let mut s = Statement::new(self.backend);
        s.push("SELECT field, location FROM hookplan_credentials WHERE code = ")
            .bind(Some(code.to_string()))
            .push(" ORDER BY field");
        let rows = bound(&s)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.query_error(what, &e))?;
        let mut out = Vec::new();
        for row in rows {
            let field: String = row.try_get(0).map_err(|e| self.query_error(what, &e))?;
            let location: String = row.try_get(1).map_err(|e| self.query_error(what, &e))?;
            if let Some(field) = Field::parse(&field) {
                out.push((field, location));
            }
        }
        Ok(out)
    }

    /// The tables of the database, as the catalog spells them. Creates nothing.
    pub async fn tables(&self) -> Result<Vec<String>, RegistryError> {
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, false).await?;
        let Some(conn) = guard.as_mut() else {
            return Ok(Vec::new());
        };
        self.all_tables(conn).await
    }

    async fn all_tables(&self, conn: &mut AnyConnection) -> Result<Vec<String>, RegistryError> {
        let mut s = Statement::new(self.backend);
        match self.backend {
            Backend::Sqlite => s.push("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"),
            Backend::Postgres => s.push("SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"),
        };
        self.texts(conn, &s, "reading the catalog").await
    }

    async fn has_table(&self, conn: &mut AnyConnection, name: &str) -> Result<bool, RegistryError> {
        Ok(self.all_tables(conn).await?.iter().any(|t| t == name))
    }

    /// Adds a webhook. Every field it sets must be mapped (auth may stay unmapped when it is
    /// what the credentials imply).
    pub async fn add(&self, webhook: &Webhook) -> Result<(), RegistryError> {
        let mut guard = self.conn.lock().await;
        let (conn, resolved) = self.writable(&mut guard).await?;
        let map = &resolved.columns;
        let text_values: Vec<(Field, Option<String>)> = vec![
            (Field::Code, Some(webhook.code.clone())),
            (Field::Direction, webhook.direction.map(|d| d.to_string())),
            (Field::Url, webhook.url.clone()),
            (Field::Method, webhook.method.map(|m| m.to_string())),
            (Field::Auth, Some(webhook.auth.to_string())),
            (Field::User, webhook.user.clone()),
            (Field::Key, webhook.key.clone()),
            (Field::Password, webhook.password.clone()),
            (Field::SigningSecret, webhook.signing_secret.clone()),
            (
                Field::Enabled,
                webhook
                    .enabled
                    .map(|e| if e { "1" } else { "0" }.to_string()),
            ),
        ];
        let derived = derive_auth(
            webhook.user.as_deref(),
            webhook.key.as_deref(),
            webhook.password.as_deref(),
        );
        let mut names = Vec::new();
        let mut s = Statement::new(self.backend);
        let mut placeholders = Statement::new(self.backend);
        for (field, value) in text_values {
            let Some(value) = value else { continue };
            let Some(column) = map.get(field) else {
                if field == Field::Auth && webhook.auth == derived {
                    continue;
                }
                return Err(RegistryError::Unmapped {
                    db: self.db(),
                    field: field.name().to_string(),
                });
            };
            if !names.is_empty() {
                placeholders.push(", ");
            }
            names.push(quote(column));
            let own_integer = field == Field::Enabled && self.config.table.is_none();
            if own_integer {
                placeholders.push("CAST(");
            }
            placeholders.bind(Some(value));
            if own_integer {
                placeholders.push(" AS INTEGER)");
            }
        }
        if self.select_in(conn, &resolved, &webhook.code).await? {
            return Err(RegistryError::Duplicate {
                db: self.db(),
                code: webhook.code.clone(),
            });
        }
        s.push(&format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote(&resolved.table),
            names.join(", "),
            placeholders.text
        ));
        s.values = placeholders.values;
        bound(&s)
            .execute(&mut *conn)
            .await
            .map_err(|e| self.query_error("adding a webhook", &e))?;
        Ok(())
    }

    async fn select_in(
        &self,
        conn: &mut AnyConnection,
        resolved: &columns::Resolved,
        code: &str,
    ) -> Result<bool, RegistryError> {
        let code_column = resolved.columns.get(Field::Code).unwrap_or("code");
        let mut s = Statement::new(self.backend);
        s.push(&format!(
            "SELECT CAST({} AS TEXT) FROM {} WHERE {} = ",
            quote(code_column),
            quote(&resolved.table),
            quote(code_column)
        ))
        .bind(Some(code.to_string()));
        Ok(!self.texts(conn, &s, "reading webhooks").await?.is_empty())
    }

    /// Points a webhook at another URL.
    pub async fn set_url(&self, code: &str, new_url: &str) -> Result<(), RegistryError> {
        let mut guard = self.conn.lock().await;
        let (conn, resolved) = self.writable(&mut guard).await?;
        let (Some(code_column), Some(url_column)) = (
            resolved.columns.get(Field::Code),
            resolved.columns.get(Field::Url),
        ) else {
            return Err(RegistryError::Unmapped {
                db: self.db(),
                field: "url".to_string(),
            });
        };
        let mut s = Statement::new(self.backend);
        s.push(&format!(
            "UPDATE {} SET {} = ",
            quote(&resolved.table),
            quote(url_column)
        ))
        .bind(Some(new_url.to_string()))
        .push(&format!(" WHERE {} = ", quote(code_column)))
        .bind(Some(code.to_string()));
        let changed = bound(&s)
            .execute(&mut *conn)
            .await
            .map_err(|e| self.query_error("changing a URL", &e))?
            .rows_affected();
        if changed == 0 {
            return Err(RegistryError::NotFound {
                db: self.db(),
                code: code.to_string(),
            });
        }
        Ok(())
    }

    /// Removes a webhook and where its credentials were recorded to live: a webhook added
    /// again under the same code starts with its credentials in the registry, not where the
    /// old one's had moved.
    pub async fn remove(&self, code: &str) -> Result<(), RegistryError> {
        let mut guard = self.conn.lock().await;
        let (conn, resolved) = self.writable(&mut guard).await?;
        let what = "removing a webhook";
        let code_column = resolved.columns.get(Field::Code).unwrap_or("code");
        let mut s = Statement::new(self.backend);
        s.push(&format!(
            "DELETE FROM {} WHERE {} = ",
            quote(&resolved.table),
            quote(code_column)
        ))
        .bind(Some(code.to_string()));
        let mut locations = Statement::new(self.backend);
        locations
            .push("DELETE FROM hookplan_credentials WHERE code = ")
            .bind(Some(code.to_string()));
        let mut tx = conn.begin().await.map_err(|e| self.query_error(what, &e))?;
        let removed = bound(&s)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_error(what, &e))?
            .rows_affected();
        if removed == 0 {
            return Err(RegistryError::NotFound {
                db: self.db(),
                code: code.to_string(),
            });
        }
        bound(&locations)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_error(what, &e))?;
        tx.commit().await.map_err(|e| self.query_error(what, &e))
    }

    /// Runs a seed file into an empty database (no tables at all); returns whether it ran.
    pub async fn seed(&self, path: &Path) -> Result<bool, RegistryError> {
        let seed_error = |reason: String| RegistryError::Seed {
            db: self.db(),
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| seed_error(e.to_string()))?;
        let mut guard = self.conn.lock().await;
        self.connect(&mut guard, true).await?;
        let conn = guard.as_mut().expect("connected for writing");
        if !self.all_tables(conn).await?.is_empty() {
            return Ok(false);
        }
        sqlx::raw_sql(AssertSqlSafe(text))
            .execute(&mut *conn)
            .await
            .map_err(|e| seed_error(error::reason(&e, url::password(&self.config.url))))?;
        Ok(true)
    }
}

/// A statement's text with its values bound in order.
fn bound(s: &Statement) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(AssertSqlSafe(s.text.clone()));
    for v in &s.values {
        q = q.bind(v.clone());
    }
    q
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A folder only its owner may read (0700 on Unix).
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}
