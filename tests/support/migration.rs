//! What the migration tests share: hookplan's own table, the short canaries, a file store's
//! JSON, reading a registry's rows and a store's folder back, and walking JSON for its strings.

use super::{Run, Scratch};
use hookplan::clock::Clock;
use hookplan::store::infisical::{ApiVersion, InfisicalConfig, InfisicalStore};
use hookplan::store::{SecretStore, SecretValue};
use serde_json::Value;
use sqlx::{AnyConnection, Connection, Row};
use std::collections::BTreeMap;
use std::time::Duration;

/// hookplan's own `webhooks` table, as a seed script creates it.
pub const OWN_TABLE: &str = "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);\n";

/// Short and word-like canaries: each is a credential value somewhere in the tests' rows.
pub const SHORT: [&str; 4] = ["0", "ss", "true", "POST"];

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The `sqlite://` URL of `file` in the scratch folder.
pub fn sqlite_url(s: &Scratch, file: &str) -> String {
    format!("sqlite://{}", s.path().join(file).display())
}

/// Every row of a query, each column as text.
pub fn rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(url).await.expect("connect to read");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.close().await.ok();
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<Option<String>, _>(i).unwrap())
                    .collect()
            })
            .collect()
    })
}

/// A file store holding `entries` (name, value) in `/webhooks`, each at version 1.
pub fn file_store<V: AsRef<str>>(entries: &[(&str, V)]) -> String {
    let folder: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                serde_json::json!({"value": value.as_ref(), "version": 1, "updated_at": "2026-02-08T14:30:00Z"}),
            )
        })
        .collect();
    serde_json::json!({"format": 1, "folders": {"/webhooks": folder}}).to_string()
}

/// What the file store `secrets.json` holds in `/webhooks`: name → value.
pub fn file_stored(s: &Scratch) -> BTreeMap<String, String> {
    let json: Value = serde_json::from_str(&s.read("secrets.json")).unwrap();
    json["folders"]["/webhooks"]
        .as_object()
        .map(|folder| {
            folder
                .iter()
                .map(|(k, v)| (k.clone(), v["value"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// hookplan's own client for the sandbox's Infisical emulation at `url` (`demo-project`,
/// `prod`, `demo-client`), on a clock that does not wait.
pub fn infisical_client(url: &str, client_secret: &str) -> InfisicalStore {
    InfisicalStore::new(InfisicalConfig {
        name: "infisical".into(),
        api_url: url.to_string(),
        project: "demo-project".into(),
        environment: "prod".into(),
        client_id: "demo-client".into(),
        client_secret: SecretValue::new(client_secret),
        api_version: ApiVersion::Auto,
        ca_bundle: None,
        retry: InfisicalStore::default_retry(),
        clock: Clock::new(0.0),
        seed: 1,
        attempt_timeout: Duration::from_secs(10),
        on_secret: None,
    })
    .unwrap()
}

/// What `store` holds in `/webhooks`, read through its `list`: name → value.
pub fn listed(store: &impl SecretStore) -> BTreeMap<String, String> {
    block_on(async {
        store
            .list("/webhooks")
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.value.expose().to_string()))
            .collect()
    })
}

/// What the emulation at `url` holds in `/webhooks`, read through hookplan's own client:
/// name → value.
pub fn infisical_stored(url: &str, client_secret: &str) -> BTreeMap<String, String> {
    listed(&infisical_client(url, client_secret))
}

/// Every string of a JSON value, object keys included, in document order.
pub fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(members) => members.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        _ => {}
    }
}

/// Asserts the exit code, showing both streams when it is not the one expected.
pub fn exits(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}
