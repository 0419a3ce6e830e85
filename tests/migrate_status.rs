//! `status` and `hookplan status`, with the real binary: which credentials each webhook's row
//! holds, whether the store holds them with the same value, and the spec's table — against a
//! SQLite registry with the file store, the sandbox's Infisical emulation in a plan, and the
//! spec's legacy `def_webhook` table in PostgreSQL. Canary values (`0`, `ss`, `true`, `POST`,
//! and one long one) never show in the table, the JSON or the report.

mod support;

use hookplan::registry::{Field, Registry, RegistryConfig};
use serde_json::Value;
use support::migration::{OWN_TABLE, SHORT, file_store, strings};
use support::postgres::{Postgres, run_sql_blocking};
use support::{LEGACY_DDL, LEGACY_MAPPING, Run, Scratch};

/// A long canary: no substring of anything hookplan writes by chance.
const LONG: &str = "sk_live_canary_7f3a91";

/// The rows of the SQLite scenarios: every state of the spec's table, canaries as values.
///   STRIPE_PAYMENT  user "POST", key "ss"     store: both, same        → Migrated
///   GITHUB_WEBHOOK  user "0",    key LONG     store: key differs       → Mismatch
///   LEGACY_HOOK     user "true", password "0" store: user only         → Pending
///   INBOUND         IN, no credentials                                 → No credentials
///   CLEARED         IN, cleared; the tables place its key in the store → Migrated
const ROWS: &str = "\
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com', 'POST', 'POST', 'ss', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('GITHUB_WEBHOOK', 'OUT', 'https://api.github.com', 'POST', '0', 'sk_live_canary_7f3a91', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('LEGACY_HOOK', 'OUT', 'https://legacy.example.com', 'POST', 'true', NULL, '0');
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('INBOUND', 'IN', 'https://in.example.com', 'GET', NULL, NULL, NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('CLEARED', 'IN', 'https://cleared.example.com', 'POST', NULL, '', NULL);
";

/// What the store holds for [`ROWS`] (name, value), under `/webhooks`.
const STORED: &[(&str, &str)] = &[
    ("WEBHOOK_OUT_STRIPE_PAYMENT_USER", "POST"),
    ("WEBHOOK_OUT_STRIPE_PAYMENT_KEY", "ss"),
    ("WEBHOOK_OUT_GITHUB_WEBHOOK_USER", "0"),
    (
        "WEBHOOK_OUT_GITHUB_WEBHOOK_KEY",
        "sk_live_canary_7f3a91_rotated",
    ),
    ("WEBHOOK_OUT_LEGACY_HOOK_USER", "true"),
    ("MOVED_CLEARED_KEY", "true"),
];

/// The table the SQLite scenarios print, whatever the store.
const TABLE: &str = "\
┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┓
┃ Webhook Code   ┃ DB Creds  ┃ Infisical ┃ Status         ┃
┡━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━━━┩
│ CLEARED        │ -         │ ✓         │ Migrated       │
│ GITHUB_WEBHOOK │ user,key  │ ✓         │ Mismatch       │
│ INBOUND        │ -         │ -         │ No credentials │
│ LEGACY_HOOK    │ user,pass │ ✗         │ Pending        │
│ STRIPE_PAYMENT │ user,key  │ ✓         │ Migrated       │
└────────────────┴───────────┴───────────┴────────────────┘
";

/// A SQLite registry holding [`ROWS`], with CLEARED's key recorded in `store` (as
/// `--clear-database` leaves it), and a file store holding [`STORED`].
fn sqlite_project(store: &str) -> Scratch {
    let s = Scratch::new();
    s.write("webhooks.sql", &format!("{OWN_TABLE}{ROWS}"));
    let url = format!("sqlite://{}", s.path().join("registry.db").display());
    let seed = s.path().join("webhooks.sql");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let registry = Registry::open(RegistryConfig::new("registry", &url))
                .await
                .unwrap();
            assert!(registry.seed(&seed).await.unwrap());
            registry
                .set_credential_location(
                    "CLEARED",
                    Field::Key,
                    &format!("{store}:/webhooks/MOVED_CLEARED_KEY"),
                )
                .await
                .unwrap();
        });
    s.write("secrets.json", &file_store(STORED));
    s
}

/// Every cell of a printed table, trimmed.
fn cells(table: &str) -> Vec<String> {
    table
        .lines()
        .flat_map(|l| l.split(['│', '┃']))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// No canary is a cell of the table, a string of the JSON, or anywhere in the text at all for
/// the long one (nor a value that merely starts with it).
fn assert_no_canary_in_table(table: &str) {
    for cell in cells(table) {
        assert!(
            !SHORT.contains(&cell.as_str()),
            "a value in the table: {cell}\n{table}"
        );
    }
    assert!(!table.contains(LONG), "{table}");
}

fn assert_no_canary_in_json(json: &Value) {
    let mut all = Vec::new();
    strings(json, &mut all);
    for s in &all {
        assert!(!SHORT.contains(&s.as_str()), "a value in the JSON: {s}");
        assert!(!s.contains(LONG), "a value in the JSON: {s}");
    }
}

/// The per-webhook lines of a status step's details: (code, db_fields, in_store, status).
fn lines(details: &Value) -> Vec<(String, String, bool, String)> {
    details["webhooks"]
        .as_array()
        .expect("webhooks")
        .iter()
        .map(|w| {
            let fields: Vec<&str> = w["db_fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            (
                w["code"].as_str().unwrap().to_string(),
                fields.join(","),
                w["in_store"].as_bool().unwrap(),
                w["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn expected_lines() -> Vec<(String, String, bool, String)> {
    [
        ("CLEARED", "", true, "migrated"),
        ("GITHUB_WEBHOOK", "user,key", true, "mismatch"),
        ("INBOUND", "", false, "no-credentials"),
        ("LEGACY_HOOK", "user,pass", false, "pending"),
        ("STRIPE_PAYMENT", "user,key", true, "migrated"),
    ]
    .into_iter()
    .map(|(c, f, i, s)| (c.to_string(), f.to_string(), i, s.to_string()))
    .collect()
}

fn ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

const CONFIG: &str = r#"database "registry" url="sqlite://registry.db"
secret-store "local" kind="file" { file "secrets.json"; path "/webhooks"; }
"#;

#[test]
fn the_command_prints_the_specs_table_and_json_without_a_value() {
    let s = sqlite_project("local");
    s.write("hookplan.kdl", CONFIG);
    let before = s.read("secrets.json");

    let run = s.run(&["status"]);
    ok(&run);
    assert_eq!(run.stdout, TABLE, "\n{}", run.stdout);
    assert_no_canary_in_table(&run.stdout);
    assert_no_canary_in_table(&run.stderr);

    let run = s.run(&["status", "--json"]);
    ok(&run);
    let json: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(lines(&json), expected_lines());
    assert_eq!(json["counts"]["total"], 5);
    assert_eq!(json["counts"]["migrated"], 2);
    assert_eq!(json["selection"], "all");
    assert_eq!(json["store"], "local");
    assert_no_canary_in_json(&json);

    // Filters: a direction, a pattern, one webhook whatever its direction.
    let run = s.run(&["status", "--direction", "IN", "--json"]);
    ok(&run);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let codes: Vec<String> = lines(&json).into_iter().map(|l| l.0).collect();
    assert_eq!(codes, ["CLEARED", "INBOUND"]);
    let run = s.run(&["status", "--pattern", "*_HOOK", "--json"]);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let codes: Vec<String> = lines(&json).into_iter().map(|l| l.0).collect();
    assert_eq!(codes, ["LEGACY_HOOK"]);
    let run = s.run(&[
        "status",
        "--webhook",
        "CLEARED",
        "--direction",
        "OUT",
        "--json",
    ]);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["selection"], "webhook=CLEARED");
    assert_eq!(lines(&json), expected_lines()[..1].to_vec());

    // Nothing anywhere in the folder holds the long canary but the registry and the store;
    // the run's report and events journal included.
    for (path, text) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("registry.db") || name == "secrets.json" || name == "webhooks.sql" {
            continue;
        }
        assert!(!text.contains(LONG), "{} holds a value", path.display());
    }
    assert_eq!(s.read("secrets.json"), before, "status changes nothing");
}

#[test]
fn a_step_reports_each_webhook_and_follows_the_report_schema() {
    let s = sqlite_project("local");
    s.write(
        "plan.kdl",
        &format!(
            "plan \"status\"\n{CONFIG}step \"status\" {{ status from=\"registry\" to=\"local\"; }}\nstep \"out\" {{ status to=\"local\" direction=\"OUT\" pattern=\"*_WEBHOOK\"; }}\n"
        ),
    );
    let run = s.run_plan(&[]);
    ok(&run);
    let report: Value = serde_json::from_str(&s.read("out/report.json")).unwrap();
    let details = &report["steps"][0]["details"];
    assert_eq!(report["steps"][0]["kind"], "status");
    assert_eq!(lines(details), expected_lines());
    assert_eq!(details["path"], "/webhooks");
    let out = &report["steps"][1]["details"];
    assert_eq!(out["selection"], "direction=OUT pattern=*_WEBHOOK");
    assert_eq!(lines(out), expected_lines()[1..2].to_vec());
    assert_no_canary_in_json(&report);
    assert_no_canary_in_table(&run.stdout);
    assert_no_canary_in_table(&run.stderr);

    // The report schema knows the shape: an unknown field in the details is refused.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(
        validator.is_valid(&report),
        "{:?}",
        validator
            .iter_errors(&report)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    let mut leaky = report.clone();
    leaky["steps"][0]["details"]["webhooks"][0]["value"] = Value::String("x".into());
    assert!(
        !validator.is_valid(&leaky),
        "a value field would be refused"
    );
}

#[test]
fn the_infisical_emulation_through_faults() {
    let s = sqlite_project("vault");
    let seeds: String = STORED
        .iter()
        .map(|(name, value)| format!("        secret \"{name}\" \"{value}\"\n"))
        .collect();
    s.write(
        "plan.kdl",
        &format!(
            r#"plan "status" {{ seed 7; }}
sandbox "vault" {{
    port 0
    error-rate 0.3
    error-status 503
    infisical {{
        project "demo-project"
        environment "prod"
        identity client-id="demo-client" client-secret="${{secret.DEMO_CLIENT_SECRET:-demo-secret}}"
        api "v3"
{seeds}    }}
}}
database "registry" url="sqlite://registry.db"
secret-store "vault" kind="infisical" {{
    api-url "${{sandbox.vault.url}}"
    project "demo-project"
    environment "prod"
    path "/"
    auth "universal-auth" client-id="demo-client" client-secret="${{secret.DEMO_CLIENT_SECRET:-demo-secret}}"
}}
step "status" {{ status to="vault"; }}
"#
        ),
    );
    // The emulation's seeds live in `/`; so does the location recorded for CLEARED.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let url = format!("sqlite://{}", s.path().join("registry.db").display());
            let registry = Registry::open(RegistryConfig::new("registry", &url))
                .await
                .unwrap();
            registry
                .set_credential_location("CLEARED", Field::Key, "vault:/MOVED_CLEARED_KEY")
                .await
                .unwrap();
        });
    let run = s.run_plan(&[]);
    ok(&run);
    let report: Value = serde_json::from_str(&s.read("out/report.json")).unwrap();
    assert_eq!(lines(&report["steps"][0]["details"]), expected_lines());
    // The report also holds the emulation's requests (their methods are `POST`): the step's
    // own part holds no short canary, and nothing anywhere holds the long one.
    assert_no_canary_in_json(&report["steps"][0]);
    assert!(!report.to_string().contains(LONG));
    assert_no_canary_in_table(&run.stdout);
    assert_no_canary_in_table(&run.stderr);
    let mut faults = 0;
    for (path, text) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("registry.db")
            || name == "secrets.json"
            || name == "webhooks.sql"
            || name == "plan.kdl"
        {
            continue;
        }
        // The sandbox's own recordings keep what its emulation answered, raw, owner-only.
        if path.components().any(|c| c.as_os_str() == "sandbox") {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
            faults += text.matches("\"status\":503").count();
            continue;
        }
        assert!(!text.contains(LONG), "{} holds a value", path.display());
    }
    assert!(
        faults > 0,
        "the emulation answered no 503: the faults were not exercised"
    );
}

#[test]
fn the_legacy_def_webhook_table_in_postgresql() {
    let pg = Postgres::start();
    let url = pg.create_db_blocking("legacy");
    run_sql_blocking(
        &url,
        &[
            LEGACY_DDL,
            "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com', 'POST', 'POST', 'ss', NULL)",
            "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('GITHUB_WEBHOOK', 'OUT', 'https://api.github.com', 'POST', 'true', '0', NULL)",
            "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('LEGACY_HOOK', 'OUT', 'https://legacy.example.com', 'POST', 'true', NULL, 'sk_live_canary_7f3a91')",
            "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('INBOUND', 'IN', 'https://in.example.com', 'GET', NULL, NULL, NULL)",
        ],
    );
    let s = Scratch::new();
    s.write(
        "hookplan.kdl",
        &format!(
            "database \"legacy\" url=\"{url}\" {{\n    {LEGACY_MAPPING}\n}}\nsecret-store \"local\" kind=\"file\" {{ file \"secrets.json\"; path \"/webhooks\"; }}\n"
        ),
    );
    s.write(
        "secrets.json",
        &file_store(&[
            ("WEBHOOK_OUT_STRIPE_PAYMENT_USER", "POST"),
            ("WEBHOOK_OUT_STRIPE_PAYMENT_KEY", "ss"),
            ("WEBHOOK_OUT_GITHUB_WEBHOOK_USER", "true"),
            ("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", "0 "),
        ]),
    );
    let run = s.run(&["status", "--direction", "OUT", "--database", "legacy"]);
    ok(&run);
    assert_eq!(
        run.stdout,
        "\
┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━┓
┃ Webhook Code   ┃ DB Creds  ┃ Infisical ┃ Status   ┃
┡━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━┩
│ GITHUB_WEBHOOK │ user,key  │ ✓         │ Mismatch │
│ LEGACY_HOOK    │ user,pass │ ✗         │ Pending  │
│ STRIPE_PAYMENT │ user,key  │ ✓         │ Migrated │
└────────────────┴───────────┴───────────┴──────────┘
",
        "values are compared exactly: \"0 \" is not \"0\"\n{}",
        run.stdout
    );
    assert_no_canary_in_table(&run.stdout);
    assert_no_canary_in_table(&run.stderr);
    let run = s.run(&["status", "--json"]);
    ok(&run);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["counts"]["total"], 4, "every direction by default");
    assert_eq!(json["database"], "legacy");
    assert_no_canary_in_json(&json);
    assert!(!run.stdout.contains("sk_live_canary"));
    // A read-only command creates nothing beside the legacy table.
    let tables = s.run(&["webhooks", "list", "--database", "legacy"]);
    ok(&tables);
}

#[test]
fn bad_filters_are_usage_errors_and_a_plan_needs_its_store() {
    let s = sqlite_project("local");
    s.write("hookplan.kdl", CONFIG);
    let run = s.run(&["status", "--direction", "SIDEWAYS"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = s.run(&["status", "--pattern", "["]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is not a pattern"), "{}", run.stderr);
    s.write(
        "plan.kdl",
        "plan \"p\"\nstep \"s\" { status from=\"registry\" direction=\"UP\" pattern=\"[\"; }\n",
    );
    let run = s.run(&["check", "plan.kdl"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for needle in [
        "needs the secret store",
        "unknown direction \"UP\"",
        "not a pattern",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
}

#[test]
fn the_registry_is_read_page_by_page() {
    use hookplan::migration::Selection;
    use hookplan::migration::status::{State, scan_pages};
    let s = sqlite_project("local");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let url = format!("sqlite://{}", s.path().join("registry.db").display());
            let registry = Registry::open(RegistryConfig::new("registry", &url))
                .await
                .unwrap();
            let store =
                hookplan::store::file::FileStore::new("local", s.path().join("secrets.json"));
            let decl = hookplan::model::StoreDecl::implicit("local").unwrap();
            let all = Selection::new(None, None, None).unwrap();
            for size in [1, 2, 5, 500] {
                let mut seen = Vec::new();
                scan_pages(&registry, &store, &decl, &all, size, |w| {
                    seen.push((w.code, w.state))
                })
                .await
                .unwrap();
                let codes: Vec<&str> = seen.iter().map(|(c, _)| c.as_str()).collect();
                assert_eq!(
                    codes,
                    [
                        "CLEARED",
                        "GITHUB_WEBHOOK",
                        "INBOUND",
                        "LEGACY_HOOK",
                        "STRIPE_PAYMENT"
                    ],
                    "pages of {size}"
                );
                assert_eq!(seen[1].1, State::Mismatch);
            }
        });
}
