//! The registry on real databases: SQLite in a temporary folder and a throwaway PostgreSQL 15
//! server started by the test (the PostgreSQL test fails, never skips, without the binaries).

use hookplan::registry::{
    Auth, Direction, Field, Method, Registry, RegistryConfig, RegistryError, Webhook,
};
mod support;

use std::path::Path;
use support::LEGACY_DDL;
use support::postgres::{Postgres, free_port, run_sql};

const LEGACY_ROWS: &[&str] = &[
    "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('TEST_WEBHOOK', 'OUT', 'https://api.example.com/hook', 'post', 'svc', NULL, 'pw')",
    "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com/v1', 'POST', NULL, 'sk_live', NULL)",
    "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('INBOUND', 'IN', 'https://in.example.com', 'GET', NULL, NULL, NULL)",
];

fn spec_columns() -> Vec<(Field, &'static str)> {
    vec![
        (Field::Code, "Webhookcode"),
        (Field::Direction, "Direction"),
        (Field::Url, "Baseurl"),
        (Field::Method, "Method"),
        (Field::User, "Username"),
        (Field::Key, "Apikey"),
        (Field::Password, "Password"),
    ]
}

// ---------------------------------------------------------------- scenarios on both backends

async fn legacy_table_is_read_and_written(url: &str) {
    let mut setup = vec![LEGACY_DDL];
    setup.extend_from_slice(LEGACY_ROWS);
    run_sql(url, &setup).await;
    let config = RegistryConfig::new("registry", url).legacy("def_webhook", &spec_columns());
    let registry = Registry::open(config).await.unwrap();

    let all = registry.list().await.unwrap();
    let codes: Vec<&str> = all.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, ["INBOUND", "STRIPE_PAYMENT", "TEST_WEBHOOK"]);
    let test = registry.get("TEST_WEBHOOK").await.unwrap().unwrap();
    assert_eq!(test.url.as_deref(), Some("https://api.example.com/hook"));
    assert_eq!(test.method, Some(Method::Post));
    assert_eq!(test.direction, Some(Direction::Out));
    assert_eq!(test.auth, Auth::Basic, "user and password: basic");
    assert_eq!(test.signing_secret, None, "not mapped: absent");
    assert_eq!(test.enabled, None);
    let stripe = registry.get("STRIPE_PAYMENT").await.unwrap().unwrap();
    assert_eq!(stripe.auth, Auth::Bearer, "a key only: bearer");
    assert_eq!(stripe.key.as_deref(), Some("sk_live"));
    let inbound = registry.get("INBOUND").await.unwrap().unwrap();
    assert_eq!(
        (inbound.auth, inbound.direction),
        (Auth::None, Some(Direction::In))
    );
    assert_eq!(registry.get("NOPE").await.unwrap(), None);
    // Page by page, in code order, on both databases.
    let page = |after: Option<&'static str>, limit| {
        let registry = &registry;
        async move {
            registry
                .page(after, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|w| w.code)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None, 2).await, ["INBOUND", "STRIPE_PAYMENT"]);
    assert_eq!(page(Some("STRIPE_PAYMENT"), 2).await, ["TEST_WEBHOOK"]);
    assert!(page(Some("TEST_WEBHOOK"), 2).await.is_empty());

    // Reads created nothing.
    assert_eq!(registry.tables().await.unwrap(), ["def_webhook"]);
    assert_eq!(registry.registry_id().await.unwrap(), None);

    registry
        .set_url("TEST_WEBHOOK", "http://localhost:8888/webhook/test")
        .await
        .unwrap();
    let test = registry.get("TEST_WEBHOOK").await.unwrap().unwrap();
    assert_eq!(
        test.url.as_deref(),
        Some("http://localhost:8888/webhook/test")
    );
    let err = registry.set_url("NOPE", "http://x").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "database \"registry\": no webhook \"NOPE\""
    );

    let mut added = Webhook::new("NEW_HOOK", "https://new.example.com");
    added.key = Some("k".into());
    added.auth = Auth::Bearer;
    registry.add(&added).await.unwrap();
    assert_eq!(
        registry.get("NEW_HOOK").await.unwrap().unwrap().auth,
        Auth::Bearer
    );
    assert!(matches!(
        registry.add(&added).await,
        Err(RegistryError::Duplicate { .. })
    ));
    let mut signed = Webhook::new("SIGNED", "https://s.example.com");
    signed.signing_secret = Some("whsec".into());
    assert_eq!(
        registry.add(&signed).await.unwrap_err().to_string(),
        "database \"registry\": `signing-secret` is not mapped in `columns`, so it cannot be written"
    );
    registry.remove("NEW_HOOK").await.unwrap();
    assert_eq!(registry.get("NEW_HOOK").await.unwrap(), None);
    assert_eq!(
        registry
            .credential_locations("STRIPE_PAYMENT")
            .await
            .unwrap(),
        []
    );
    registry
        .set_credential_location("STRIPE_PAYMENT", Field::Key, "db")
        .await
        .unwrap();
    registry
        .set_credential_location(
            "STRIPE_PAYMENT",
            Field::Key,
            "infisical:/webhooks/STRIPE_PAYMENT",
        )
        .await
        .unwrap();
    assert_eq!(
        registry
            .credential_locations("STRIPE_PAYMENT")
            .await
            .unwrap(),
        [(Field::Key, "infisical:/webhooks/STRIPE_PAYMENT".to_string())]
    );

    // The first write created hookplan's bookkeeping, not its own table, and left the legacy
    // table's schema alone.
    let id = registry
        .registry_id()
        .await
        .unwrap()
        .expect("an id after a write");
    assert_eq!(id.len(), 32);
    let tables = registry.tables().await.unwrap();
    assert_eq!(
        tables,
        [
            "def_webhook",
            "hookplan_credentials",
            "hookplan_journal",
            "hookplan_journal_webhooks",
            "hookplan_leases",
            "hookplan_migrations",
            "hookplan_registry",
            "hookplan_schema_version"
        ]
    );
    // Migrations run once: a second registry on the same database keeps the id.
    let again =
        Registry::open(RegistryConfig::new("registry", url).legacy("def_webhook", &spec_columns()))
            .await
            .unwrap();
    again
        .set_url("INBOUND", "https://in2.example.com")
        .await
        .unwrap();
    assert_eq!(again.registry_id().await.unwrap(), Some(id));
}

async fn own_table_is_created_by_the_first_write(url: &str) {
    let registry = Registry::open(RegistryConfig::new("own", url))
        .await
        .unwrap();
    assert_eq!(registry.list().await.unwrap(), []);
    assert_eq!(registry.get("X").await.unwrap(), None);
    assert_eq!(registry.registry_id().await.unwrap(), None);
    assert_eq!(registry.credential_locations("PAY").await.unwrap(), []);
    assert_eq!(
        registry.tables().await.unwrap(),
        Vec::<String>::new(),
        "a read creates nothing"
    );

    let mut hook = Webhook::new("PAY", "https://pay.example.com");
    hook.direction = Some(Direction::Out);
    hook.method = Some(Method::Put);
    hook.auth = Auth::Header;
    hook.key = Some("api-key".into());
    hook.signing_secret = Some("whsec_1".into());
    hook.enabled = Some(false);
    registry.add(&hook).await.unwrap();
    registry
        .add(&Webhook::new("A_FIRST", "https://a.example.com"))
        .await
        .unwrap();
    assert_eq!(registry.get("PAY").await.unwrap().unwrap(), hook);
    let first = registry.get("A_FIRST").await.unwrap().unwrap();
    assert_eq!(
        (first.method, first.direction, first.enabled, first.auth),
        (
            Some(Method::Post),
            Some(Direction::Out),
            Some(true),
            Auth::None
        ),
        "the own table's defaults"
    );
    registry
        .set_url("PAY", "https://pay2.example.com")
        .await
        .unwrap();
    let codes: Vec<String> = registry
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.code)
        .collect();
    assert_eq!(codes, ["A_FIRST", "PAY"]);
    assert_eq!(
        registry.get("PAY").await.unwrap().unwrap().url.as_deref(),
        Some("https://pay2.example.com")
    );
    registry.remove("A_FIRST").await.unwrap();
    assert_eq!(registry.list().await.unwrap().len(), 1);
    assert!(registry.registry_id().await.unwrap().is_some());
    assert!(
        registry
            .tables()
            .await
            .unwrap()
            .contains(&"webhooks".to_string())
    );
}

async fn missing_table_and_column(url: &str) {
    let config = RegistryConfig::new("legacy", url).legacy("no_such_table", &spec_columns());
    let registry = Registry::open(config).await.unwrap();
    let masked = hookplan::registry::mask_url(url);
    assert_eq!(
        registry.list().await.unwrap_err().to_string(),
        format!("database \"legacy\": table \"no_such_table\" does not exist in {masked}")
    );
    run_sql(
        url,
        &["CREATE TABLE def_hooks (Webhookcode VARCHAR(64), Baseurl VARCHAR(255))"],
    )
    .await;
    let config = RegistryConfig::new("legacy", url).legacy(
        "def_hooks",
        &[(Field::Code, "Webhookcode"), (Field::Key, "Apikey")],
    );
    let registry = Registry::open(config).await.unwrap();
    let expected_columns = if url.starts_with("postgres") {
        "webhookcode, baseurl"
    } else {
        "Webhookcode, Baseurl"
    };
    for err in [
        registry.list().await.unwrap_err(),
        registry.set_url("X", "http://x").await.unwrap_err(),
    ] {
        assert_eq!(
            err.to_string(),
            format!(
                "database \"legacy\": table \"def_hooks\" has no column \"Apikey\" (mapped to `key`); its columns: {expected_columns}"
            )
        );
    }
    assert!(
        !registry
            .tables()
            .await
            .unwrap()
            .iter()
            .any(|t| t.starts_with("hookplan_"))
    );
}

// ---------------------------------------------------------------- SQLite

fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}

#[tokio::test]
async fn sqlite_legacy_table() {
    let dir = tempfile::tempdir().unwrap();
    legacy_table_is_read_and_written(&format!("{}?mode=rwc", sqlite_url(dir.path(), "legacy.db")))
        .await;
}

#[tokio::test]
async fn sqlite_own_table_in_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".hookplan");
    let url = hookplan::registry::embedded_url(&state);
    let registry = Registry::open(RegistryConfig::new("registry", &url))
        .await
        .unwrap();
    assert_eq!(registry.list().await.unwrap(), []);
    assert!(!state.exists(), "a read-only command creates nothing");
    drop(registry);
    own_table_is_created_by_the_first_write(&url).await;
    assert!(state.join("registry.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[tokio::test]
async fn sqlite_missing_table_and_column() {
    let dir = tempfile::tempdir().unwrap();
    missing_table_and_column(&format!("{}?mode=rwc", sqlite_url(dir.path(), "m.db"))).await;
}

#[tokio::test]
async fn a_legacy_sqlite_file_that_does_not_exist_is_a_missing_table() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "absent.db");
    let registry = Registry::open(
        RegistryConfig::new("registry", &url).legacy("def_webhook", &spec_columns()),
    )
    .await
    .unwrap();
    assert_eq!(
        registry.get("X").await.unwrap_err().to_string(),
        format!("database \"registry\": table \"def_webhook\" does not exist in {url}")
    );
    assert!(!dir.path().join("absent.db").exists());
}

#[tokio::test]
async fn seed_sql_runs_into_an_empty_database_only() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("webhooks.sql");
    let mut text = format!("{LEGACY_DDL};\n");
    for row in LEGACY_ROWS {
        text.push_str(row);
        text.push_str(";\n");
    }
    std::fs::write(&seed, text).unwrap();
    let url = sqlite_url(dir.path(), "seeded.db");
    let registry = Registry::open(
        RegistryConfig::new("registry", &url).legacy("def_webhook", &spec_columns()),
    )
    .await
    .unwrap();
    assert!(registry.seed(&seed).await.unwrap());
    assert_eq!(registry.list().await.unwrap().len(), 3);
    assert!(
        !registry.seed(&seed).await.unwrap(),
        "not into a database with tables"
    );
    assert_eq!(registry.list().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_bad_url_is_one_line() {
    for (url, reason) in [
        (
            "mysql://root:hunter2@db/hooks",
            "the scheme \"mysql\" is not supported (use sqlite:// or postgres://)",
        ),
        (
            "registry.db",
            "expected sqlite://PATH or postgres://USER@HOST/DB",
        ),
    ] {
        let err = Registry::open(RegistryConfig::new("registry", url))
            .await
            .unwrap_err();
        let shown = hookplan::registry::mask_url(url);
        assert_eq!(
            err.to_string(),
            format!("database \"registry\": {shown} is not a database URL: {reason}")
        );
        assert!(!err.to_string().contains("hunter2"));
    }
    let err = Registry::open(RegistryConfig::new(
        "registry",
        "postgres://u:hunter2@127.0.0.1:notaport/db",
    ))
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "database \"registry\": postgres://u:***@127.0.0.1:notaport/db is not a database URL: "
        ),
        "{text}"
    );
    assert!(!text.contains("hunter2") && !text.contains('\n'), "{text}");
}

#[tokio::test]
async fn an_unreachable_server_is_one_line() {
    let port = free_port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{port}/postgres");
    let err = Registry::open(RegistryConfig::new("registry", &url))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "database \"registry\": cannot reach postgres://postgres:***@127.0.0.1:{port}/postgres: Connection refused (os error 111)"
        )
    );
}

// ---------------------------------------------------------------- PostgreSQL

// ---------------------------------------------------------------- PostgreSQL

#[tokio::test]
async fn postgres_registry() {
    let pg = Postgres::start();
    legacy_table_is_read_and_written(&pg.create_db("legacy").await).await;
    own_table_is_created_by_the_first_write(&pg.create_db("own").await).await;
    missing_table_and_column(&pg.create_db("missing").await).await;

    let wrong = format!(
        "postgres://postgres:Wrong-pass@127.0.0.1:{}/postgres",
        pg.port
    );
    let err = Registry::open(RegistryConfig::new("registry", &wrong))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "database \"registry\": postgres://postgres:***@127.0.0.1:{}/postgres refused the login: wrong user or password",
            pg.port
        )
    );
    assert!(!err.to_string().contains("Wrong-pass"));
}

// ---------------------------------------------------------------- the `database` node

fn check_plan(text: &str) -> Result<hookplan::plan::LoadedPlan, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    std::fs::write(dir.path().join("fixtures/webhooks.sql"), "SELECT 1;").unwrap();
    let path = dir.path().join("plan.kdl");
    let file = hookplan::plan::SourceFile::new("plan.kdl", text);
    hookplan::plan::check(file, &path).map_err(|e| {
        e.files
            .iter()
            .flat_map(|f| f.diagnostics.iter().map(|d| d.message.clone()))
            .collect()
    })
}

const STEP: &str = "step \"ping\" { http \"GET\" \"https://example.com\" }\n";

#[test]
fn the_database_node_is_decoded_without_connecting() {
    // An unreachable server: `check` must not try it.
    let plan = format!(
        "plan \"p\"\ndatabase \"registry\" url=\"${{env.DATABASE_URL:-postgres://u:pw@127.0.0.1:1/x}}\" {{\n    table \"def_webhook\"\n    columns code=\"Webhookcode\" url=\"Baseurl\" signing-secret=\"Secret\"\n    seed-sql \"fixtures/webhooks.sql\"\n    auth-header \"X-Hook-Key\"\n}}\ndatabase \"own\"\n{STEP}"
    );
    let loaded = check_plan(&plan).unwrap();
    let db = loaded.plan.database("registry").unwrap();
    assert_eq!(db.table.as_ref().unwrap().value, "def_webhook");
    let config = db.config(Some("sqlite://x.db"), Path::new(".hookplan"));
    assert_eq!(
        config.columns.entries,
        [
            (Field::Code, "Webhookcode".to_string()),
            (Field::Url, "Baseurl".to_string()),
            (Field::SigningSecret, "Secret".to_string())
        ]
    );
    assert_eq!(config.auth_header(), "X-Hook-Key");
    assert_eq!(
        db.seed_sql.as_ref().unwrap().value,
        Path::new("fixtures/webhooks.sql")
    );
    let own = loaded.plan.database("own").unwrap();
    assert!(own.url.is_none() && own.table.is_none());
    assert_eq!(
        own.config(Some("u"), Path::new(".")).auth_header(),
        "X-API-Key"
    );
}

#[test]
fn database_mistakes_are_diagnostics() {
    for (body, expected) in [
        (
            "database \"r\" { table \"t\"; columns url=\"Baseurl\" }",
            "table \"t\" needs its code column in `columns`",
        ),
        (
            "database \"r\" { columns code=\"c\" }",
            "`columns` maps a legacy table, but no `table` is named",
        ),
        (
            "database \"r\" { seed-sql \"fixtures/none.sql\" }",
            "file \"fixtures/none.sql\" not found",
        ),
        (
            "database \"r\" { tabel \"t\" }",
            "unknown node `tabel` in database \"r\"",
        ),
        (
            "database \"r\"\ndatabase \"r\"",
            "database `r` is defined twice",
        ),
        ("database \"r\" url=\"${steps.ping.status}\"", ""),
    ] {
        let errors = check_plan(&format!("plan \"p\"\n{body}\n{STEP}"))
            .err()
            .unwrap_or_else(|| panic!("{body} checked"));
        assert!(
            expected.is_empty() || errors.iter().any(|e| e == expected),
            "{body}: {errors:?}"
        );
    }
}
