//! Secret stores in plans: `secret-store` nodes, `call` reading a webhook's credentials from
//! a store (by the store's name pattern, or where hookplan's tables say they live), and
//! `expect-secrets` — values compared and never shown.

mod support;

use support::server::{Answer, TestServer};
use support::{Run, Scratch};

const OWN_TABLE: &str = "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);\n";

/// A webhook whose credentials are not in its row any more (a migration cleared them).
fn cleared_row(code: &str, url: &str, auth: &str) -> String {
    format!(
        "INSERT INTO webhooks (code, direction, url, method, auth, user, key, password, enabled) VALUES ('{code}', 'OUT', '{url}', 'POST', '{auth}', NULL, NULL, NULL, '1');\n"
    )
}

/// The local store's file, holding `secrets` in `/webhooks`.
fn store_file(secrets: &[(&str, &str)]) -> String {
    let entries: serde_json::Map<String, serde_json::Value> = secrets
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                serde_json::json!({"value": value, "version": 1, "updated_at": "2026-12-01T00:00:00.000Z"}),
            )
        })
        .collect();
    serde_json::json!({"format": 1, "folders": {"/webhooks": entries}}).to_string()
}

fn project(rows: &str, store: &str, steps: &str) -> Scratch {
    let s = Scratch::new();
    s.write("webhooks.sql", &format!("{OWN_TABLE}{rows}"));
    s.write("secrets.json", store);
    s.write(
        "plan.kdl",
        &format!(
            "plan \"stores\"\ndatabase \"registry\" url=\"sqlite://registry.db\" {{ seed-sql \"webhooks.sql\"; }}\nsecret-store \"vault\" kind=\"file\" {{ file \"secrets.json\"; }}\n{steps}"
        ),
    );
    s
}

fn header(request: &support::server::Seen, name: &str) -> Option<String> {
    request
        .2
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// The project's `registry.db`, seeded from its `webhooks.sql` (before any run).
async fn seeded_registry(s: &Scratch) -> hookplan::registry::Registry {
    let config = hookplan::registry::RegistryConfig::new(
        "registry",
        format!("sqlite://{}", s.path().join("registry.db").display()),
    );
    let registry = hookplan::registry::Registry::open(config).await.unwrap();
    registry.seed(&s.path().join("webhooks.sql")).await.unwrap();
    registry
}

/// Every output of a run: its console and every file it left.
fn everything(s: &Scratch, run: &Run) -> String {
    let mut all = format!("{}\n{}", run.stdout, run.stderr);
    for (path, text) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // The store's own file and the seed hold the values on purpose.
        if name == "secrets.json" || name == "webhooks.sql" || name.starts_with("registry.db") {
            continue;
        }
        all.push_str(&text);
    }
    all
}

#[test]
fn a_call_reads_its_credentials_from_the_store_it_names_and_shows_none_of_them() {
    let server = TestServer::start(&[("/hook", vec![Answer::echo()])]);
    let url = format!("{}/hook", server.url);
    // Short and word-like values: masked wherever they would appear, breaking nothing.
    let s = project(
        &cleared_row("PAY", &url, "basic"),
        &store_file(&[
            ("WEBHOOK_OUT_PAY_USER", "POST"),
            ("WEBHOOK_OUT_PAY_PASSWORD", "ss"),
        ]),
        "step \"deliver\" { call \"PAY\" event=\"DONE\" { credentials \"vault\"; }; }\n",
    );
    let run = s.run_plan(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let expected = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "POST:ss")
    );
    assert_eq!(
        header(&requests[0], "authorization").as_deref(),
        Some(expected.as_str())
    );
    assert!(
        run.stderr
            .contains("Credentials of PAY: user, password from secret store \"vault\""),
        "{}",
        run.stderr
    );
    let all = everything(&s, &run);
    assert!(!all.contains(&expected), "the Basic token leaked");
    let report = s.read("out/report.json");
    assert!(
        !report.contains("\"ss\"") && !report.contains(":ss"),
        "{report}"
    );
}

#[test]
fn a_store_that_holds_none_of_the_webhooks_credentials_fails_the_call_naming_what_it_looked_for() {
    let server = TestServer::start(&[("/hook", vec![Answer::status(200)])]);
    let url = format!("{}/hook", server.url);
    let s = project(
        &cleared_row("PAY", &url, "bearer"),
        &store_file(&[("WEBHOOK_OUT_OTHER_KEY", "sk_other")]),
        "step \"deliver\" { call \"PAY\" event=\"DONE\" { credentials \"vault\"; }; retry \"none\"; }\n",
    );
    let run = s.run_plan(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "secret store \"vault\" holds no credential of webhook \"PAY\" (looked for WEBHOOK_OUT_PAY_USER, WEBHOOK_OUT_PAY_KEY, WEBHOOK_OUT_PAY_PASSWORD, WEBHOOK_OUT_PAY_SIGNING_SECRET in /webhooks)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        server.total_hits(),
        0,
        "nothing is sent without credentials"
    );
}

#[test]
fn a_credential_the_tables_place_in_a_store_is_read_from_there() {
    // The answer echoes the request's headers: the report shows it, masked.
    let server = TestServer::start(&[("/hook", vec![Answer::echo()])]);
    let url = format!("{}/hook", server.url);
    let s = project(
        &cleared_row("PAY", &url, "bearer"),
        &store_file(&[("MOVED_KEY", "0")]),
        "step \"deliver\" { call \"PAY\" event=\"DONE\"; }\n",
    );
    // Seed the registry, then record where its key lives now, as a migration does.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let registry = seeded_registry(&s).await;
        registry
            .set_credential_location(
                "PAY",
                hookplan::registry::Field::Key,
                "vault:/webhooks/MOVED_KEY",
            )
            .await
            .unwrap();
    });
    let run = s.run_plan(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        header(&server.requests()[0], "authorization").as_deref(),
        Some("Bearer 0")
    );
    assert!(
        run.stderr
            .contains("Credentials of PAY: key from secret store \"vault\""),
        "{}",
        run.stderr
    );
    let all = everything(&s, &run);
    assert!(
        all.contains("Bearer ***"),
        "the echo is in the report, masked"
    );
    assert!(!all.contains("Bearer 0"));
}

#[test]
fn expect_secrets_compares_values_and_never_shows_them() {
    let s = project(
        "",
        &store_file(&[
            ("WEBHOOK_OUT_PAY_KEY", "true"),
            ("WEBHOOK_OUT_PAY_USER", "u"),
        ]),
        r#"step "stored" {
    expect-secrets store="vault" {
        secret "WEBHOOK_OUT_PAY_KEY" equals="${secret.PAY_KEY}" version=1
        secret "WEBHOOK_OUT_PAY_PASSWORD" present=#false
    }
}
step "wrong" {
    expect-secrets store="vault" {
        secret "WEBHOOK_OUT_PAY_USER" equals="${secret.PAY_KEY}"
        secret "WEBHOOK_OUT_PAY_SIGNING_SECRET"
    }
    continue-on-error #true
}
"#,
    );
    let run = s.run_plan(&[("PAY_KEY", "true")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&s.read("out/report.json")).unwrap();
    let steps = report["steps"].as_array().unwrap();
    let assertions = |i: usize| -> Vec<(String, String, String, bool)> {
        steps[i]["assertions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["expected"].as_str().unwrap().to_string(),
                    a["actual"].as_str().unwrap().to_string(),
                    a["passed"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let own = |n: &str, e: &str, a: &str, p: bool| (n.to_string(), e.to_string(), a.to_string(), p);
    assert_eq!(steps[0]["status"], "passed");
    assert_eq!(
        assertions(0),
        [
            own(
                "secret WEBHOOK_OUT_PAY_KEY value",
                "equals ***",
                "equal",
                true
            ),
            own("secret WEBHOOK_OUT_PAY_KEY version", "1", "1", true),
            own("secret WEBHOOK_OUT_PAY_PASSWORD", "absent", "absent", true),
        ]
    );
    assert_eq!(steps[1]["status"], "failed-allowed");
    assert_eq!(
        assertions(1),
        [
            own(
                "secret WEBHOOK_OUT_PAY_USER value",
                "equals ***",
                "differs",
                false
            ),
            own(
                "secret WEBHOOK_OUT_PAY_SIGNING_SECRET",
                "present",
                "absent",
                false
            ),
        ]
    );
    assert!(
        run.stderr
            .contains("secret \"WEBHOOK_OUT_PAY_USER\": its value is differs"),
        "{}",
        run.stderr
    );
    // The value `true` is a JSON word too: it may appear only as JSON's own booleans.
    assert!(!report.to_string().contains("\"true\""));
}

#[test]
fn check_points_at_store_mistakes() {
    let s = Scratch::new();
    s.write(
        "plan.kdl",
        r#"plan "bad"
secret-store "vault" kind="file" {
    api-url "https://app.infisical.com"
}
secret-store "cloud" kind="infisical" {
    api-url "https://app.infisical.com"
    project "p"
    environment "prod"
    auth "universal-auth" client-id="id" client-secret="hunter2"
}
secret-store "odd" kind="vault"
step "a" { expect-secrets store="vualt" { secret "K"; }; }
"#,
    );
    let run = s.run(&["check", "plan.kdl"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for needle in [
        "`api-url` belongs to a store of kind \"infisical\"",
        "a client secret is written into the plan",
        "\"vault\" is not a kind of secret store",
        "unknown secret store `vualt`",
        "known: infisical, local",
    ] {
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn hookplan_call_reads_credentials_from_the_local_store() {
    let server = TestServer::start(&[("/hook", vec![Answer::echo()])]);
    let url = format!("{}/hook", server.url);
    let s = project(&cleared_row("PAY", &url, "header"), "", "");
    s.write(
        ".hookplan/secrets.json",
        &store_file(&[("WEBHOOK_OUT_PAY_KEY", "k_0")]),
    );
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(seeded_registry(&s));
    let env = [("DATABASE_URL", "sqlite://registry.db")];
    let run = s.run_env(
        &[
            "call",
            "PAY",
            "DONE",
            "--credentials",
            "local",
            "--time-scale",
            "0",
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        header(&server.requests()[0], "x-api-key").as_deref(),
        Some("k_0")
    );
    assert!(!format!("{}{}", run.stdout, run.stderr).contains("k_0"));
    let unknown = s.run_env(&["call", "PAY", "DONE", "--credentials", "vualt"], &env);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown
            .stderr
            .contains("there is no secret store \"vualt\"")
            && unknown.stderr.contains("use one of: local, infisical"),
        "{}",
        unknown.stderr
    );
}
