//! `migrate` and `hookplan migrate`, with the real binary: the spec's lines, the backup first
//! (0600, none when nothing changes, none in a dry run), a second run that skips, clearing
//! only after verification, pending approvals never submitted twice, one bad key failing only
//! its webhook, the Infisical emulation v3-only through 5xx, lost answers, 429 with
//! Retry-After and a hung connection, and a backup that cannot be written changing nothing.
//! Credential values — short and word-like ones (`0`, `ss`, `true`, `POST`) and long ones —
//! never show in a line, the JSON, the report, the events journal or any file but the
//! registry, the store and the backup.

mod support;

use serde_json::Value;
use sqlx::{AnyConnection, Connection};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use support::Scratch;
use support::migration::{
    OWN_TABLE, SHORT, block_on, exits, file_store, file_stored as stored, rows, sqlite_url, strings,
};

const LONG: &str = "sk_live_canary_51c0de";

/// The registry, canaries as values:
///   STRIPE_PAYMENT  OUT  user "POST", key "ss" (the store holds the user already)
///   GITHUB_WEBHOOK  OUT  user "0",    key LONG
///   LEGACY_HOOK     OUT  user "true", password "0"
///   NO_CREDS        OUT  no credentials
///   INBOUND         IN   key "ss"
const ROWS: &str = "\
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com', 'POST', 'POST', 'ss', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('GITHUB_WEBHOOK', 'OUT', 'https://api.github.com', 'POST', '0', 'sk_live_canary_51c0de', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('LEGACY_HOOK', 'OUT', 'https://legacy.example.com', 'POST', 'true', NULL, '0');
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('NO_CREDS', 'OUT', 'https://none.example.com', 'POST', NULL, NULL, NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('INBOUND', 'IN', 'https://in.example.com', 'POST', NULL, 'ss', NULL);
";

const CONFIG: &str = r#"database "registry" url="sqlite://registry.db"
secret-store "local" kind="file" { file "secrets.json"; path "/webhooks"; }
"#;

/// Rows of a query on the scratch folder's registry, every column as text.
fn query(s: &Scratch, sql: &str) -> Vec<Vec<Option<String>>> {
    rows(&sqlite_url(s, "registry.db"), sql)
}

fn sqlite_project(store: &[(&str, &str)]) -> Scratch {
    let s = Scratch::new();
    s.write("seed.sql", &format!("{OWN_TABLE}{ROWS}"));
    let url = format!("sqlite://{}", s.path().join("registry.db").display());
    let seed = s.path().join("seed.sql");
    block_on(async {
        let registry = hookplan::registry::Registry::open(hookplan::registry::RegistryConfig::new(
            "registry", &url,
        ))
        .await
        .unwrap();
        assert!(registry.seed(&seed).await.unwrap());
    });
    s.write("secrets.json", &file_store(store));
    s.write("hookplan.kdl", CONFIG);
    s
}

/// A console: no line is a short canary, no word is one (but the summary's counts), and
/// the long one is nowhere.
fn assert_no_canary_in_console(text: &str) {
    let count = regex_free_count_line;
    for line in text.lines() {
        assert!(!SHORT.contains(&line.trim()), "a value in the text: {line}");
        if count(line) {
            continue;
        }
        for word in line.split(|c: char| !c.is_ascii_alphanumeric()) {
            assert!(
                !SHORT.contains(&word),
                "a value in the text: {word}\n{text}"
            );
        }
    }
    assert!(!text.contains(LONG), "{text}");
}

/// `Total: 3`, `Failed: 0`, … (behind a plan run's `[step] `), the run header's `time
/// scale 0`, the sandbox's 127.0.0.1, its summary of requests by method (`POST …`) and the
/// run's closing counts.
fn regex_free_count_line(line: &str) -> bool {
    let mut line = line.trim();
    if line.starts_with('[')
        && let Some((_, rest)) = line.split_once("] ")
    {
        line = rest;
    }
    if line.contains("time scale 0")
        || line.contains("127.0.0.1")
        || (line.starts_with("sandbox ") && line.contains(" recorded "))
        || (line.contains(" passed, ") && line.contains(" digest sha256:"))
        || line.starts_with("Found 0 webhook(s)")
    {
        return true;
    }
    match line.split_once(": ") {
        Some((label, n)) => {
            [
                "Total",
                "Migrated",
                "Skipped",
                "Failed",
                "Pending approval",
                "Would migrate",
            ]
            .contains(&label)
                && n.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn assert_no_canary_in_json(json: &Value) {
    let mut all = Vec::new();
    strings(json, &mut all);
    for s in &all {
        assert!(!SHORT.contains(&s.as_str()), "a value in the JSON: {s}");
        assert!(!s.contains(LONG), "a value in the JSON: {s}");
    }
}

/// Nothing in the folder holds the long canary but the registry, the store, the seed and the
/// backups (0600).
fn assert_no_long_canary_in_files(s: &Scratch) {
    for (path, text) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("registry.db")
            || name == "secrets.json"
            || name == "seed.sql"
            || name == "plan.kdl"
            || path.components().any(|c| c.as_os_str() == "sandbox")
        {
            continue;
        }
        if name.starts_with("backup_") {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
            continue;
        }
        assert!(!text.contains(LONG), "{} holds a value", path.display());
        // The run's own records: not even a short value as a whole JSON string.
        if name.ends_with(".json") || name.ends_with(".jsonl") {
            for line in text.lines() {
                if let Ok(json) = serde_json::from_str::<Value>(line) {
                    assert_no_canary_in_json_except_methods(&json, &path);
                }
            }
            if let Ok(json) = serde_json::from_str::<Value>(&text) {
                assert_no_canary_in_json_except_methods(&json, &path);
            }
        }
    }
}

/// As [`assert_no_canary_in_json`], but a `method` (and a sandbox summary's `recordings`) may
/// say `POST`.
fn assert_no_canary_in_json_except_methods(json: &Value, path: &std::path::Path) {
    fn walk(value: &Value, key: Option<&str>, path: &std::path::Path) {
        match value {
            Value::String(s) => {
                // A sandbox summary's `recordings` are (route, method, path, fingerprint,
                // occurrence, fault, status): a method and a count, never a body.
                let method = matches!(key, Some("method" | "recordings")) && s == "POST"
                    || key == Some("recordings") && s.chars().all(|c| c.is_ascii_digit());
                assert!(
                    method || !SHORT.contains(&s.as_str()),
                    "{}: a value: {key:?} = {s}",
                    path.display()
                );
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, key, path)),
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, Some(k), path)),
            _ => {}
        }
    }
    walk(json, None, path);
}

fn backups(s: &Scratch) -> Vec<String> {
    let folder = s.path().join(".hookplan/backups");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_specs_lines_a_backup_first_and_skipped_on_a_second_run() {
    let s = sqlite_project(&[("WEBHOOK_OUT_STRIPE_PAYMENT_USER", "POST")]);

    // The dry run: names only, nothing written, not even a backup.
    let dry = s.run(&["migrate", "--dry-run"]);
    exits(&dry, 0);
    assert_eq!(
        dry.stdout,
        "\
Webhook Credential Migration Tool
Found 4 webhook(s) to migrate
Dry run - nothing will be written and no backup made
[GITHUB_WEBHOOK] Would migrate - WEBHOOK_OUT_GITHUB_WEBHOOK_USER (create), WEBHOOK_OUT_GITHUB_WEBHOOK_KEY (create)
[LEGACY_HOOK] Would migrate - WEBHOOK_OUT_LEGACY_HOOK_USER (create), WEBHOOK_OUT_LEGACY_HOOK_PASSWORD (create)
[NO_CREDS] Skipped - no credentials in the database
[STRIPE_PAYMENT] Would migrate - WEBHOOK_OUT_STRIPE_PAYMENT_KEY (create)
Migration Summary (dry run):
Total: 4
Would migrate: 3
Skipped: 1
"
    );
    assert!(backups(&s).is_empty(), "a dry run writes no backup");
    assert_eq!(stored(&s).len(), 1, "a dry run writes nothing");

    // The migration: backup, lines, summary, verification.
    let run = s.run(&["migrate"]);
    exits(&run, 0);
    let files = backups(&s);
    assert_eq!(files.len(), 1, "{files:?}");
    let backup = &files[0];
    assert!(
        backup.starts_with("backup_OUT_") && backup.ends_with(".json"),
        "{backup}"
    );
    assert_eq!(
        run.stdout,
        format!(
            "\
Webhook Credential Migration Tool
Found 4 webhook(s) to migrate
Backup created: .hookplan/backups/{backup}
Migrating webhooks...
[GITHUB_WEBHOOK] Migrated successfully
[LEGACY_HOOK] Migrated successfully
[NO_CREDS] Skipped - no credentials in the database
[STRIPE_PAYMENT] Migrated successfully
Migration Summary:
Total: 4
Migrated: 3
Skipped: 1
Failed: 0
Verifying migration...
[GITHUB_WEBHOOK] Verified successfully
[LEGACY_HOOK] Verified successfully
[STRIPE_PAYMENT] Verified successfully
All migrations verified successfully!
"
        )
    );
    let mode = std::fs::metadata(s.path().join(".hookplan/backups").join(backup))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        stored(&s),
        BTreeMap::from(
            [
                ("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", LONG),
                ("WEBHOOK_OUT_GITHUB_WEBHOOK_USER", "0"),
                ("WEBHOOK_OUT_LEGACY_HOOK_PASSWORD", "0"),
                ("WEBHOOK_OUT_LEGACY_HOOK_USER", "true"),
                ("WEBHOOK_OUT_STRIPE_PAYMENT_KEY", "ss"),
                ("WEBHOOK_OUT_STRIPE_PAYMENT_USER", "POST"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        ),
        "OUT only: INBOUND is not written"
    );
    // Recorded in hookplan's tables, names only; the row keeps its credentials.
    assert_eq!(
        query(
            &s,
            "SELECT code, store, state, names, backup FROM hookplan_migrations ORDER BY code"
        ),
        [
            (
                "GITHUB_WEBHOOK",
                "WEBHOOK_OUT_GITHUB_WEBHOOK_USER,WEBHOOK_OUT_GITHUB_WEBHOOK_KEY"
            ),
            (
                "LEGACY_HOOK",
                "WEBHOOK_OUT_LEGACY_HOOK_USER,WEBHOOK_OUT_LEGACY_HOOK_PASSWORD"
            ),
            (
                "STRIPE_PAYMENT",
                "WEBHOOK_OUT_STRIPE_PAYMENT_USER,WEBHOOK_OUT_STRIPE_PAYMENT_KEY"
            ),
        ]
        .map(|(code, names)| vec![
            Some(code.to_string()),
            Some("local".to_string()),
            Some("migrated".to_string()),
            Some(names.to_string()),
            Some(backup.clone()),
        ])
    );
    assert_eq!(
        query(&s, "SELECT key FROM webhooks WHERE code = 'STRIPE_PAYMENT'"),
        [vec![Some("ss".to_string())]],
        "without --clear-database the row keeps its credentials"
    );

    // The backup holds the rows and the store's prior values (absent, or the user's).
    let read = hookplan::migration::backup::read(&s.path().join(".hookplan/backups").join(backup))
        .unwrap();
    assert_eq!(read.entries.len(), 4);
    let stripe = read
        .entries
        .iter()
        .find(|e| e.code == "STRIPE_PAYMENT")
        .unwrap();
    let priors: Vec<(String, Option<String>)> = stripe
        .store
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.value.as_ref().map(|v| v.expose().to_string()),
            )
        })
        .collect();
    assert_eq!(
        priors,
        [
            (
                "WEBHOOK_OUT_STRIPE_PAYMENT_USER".to_string(),
                Some("POST".to_string())
            ),
            ("WEBHOOK_OUT_STRIPE_PAYMENT_KEY".to_string(), None),
        ]
    );

    // A second run changes nothing: every webhook skipped, no backup.
    let again = s.run(&["migrate"]);
    exits(&again, 0);
    assert_eq!(
        again.stdout,
        "\
Webhook Credential Migration Tool
Found 4 webhook(s) to migrate
Migrating webhooks...
[GITHUB_WEBHOOK] Skipped - already in secret store \"local\"
[LEGACY_HOOK] Skipped - already in secret store \"local\"
[NO_CREDS] Skipped - no credentials in the database
[STRIPE_PAYMENT] Skipped - already in secret store \"local\"
Migration Summary:
Total: 4
Migrated: 0
Skipped: 4
Failed: 0
"
    );
    assert_eq!(
        backups(&s).len(),
        1,
        "a run that changes nothing writes no backup"
    );

    // --json for scripts, and a selection that matches nothing.
    let json = s.run(&["migrate", "--direction", "IN", "--dry-run", "--json"]);
    exits(&json, 0);
    let details: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(details["counts"]["would_migrate"], 1);
    assert_eq!(details["backup"], Value::Null);
    assert_eq!(details["selection"], "direction=IN");
    assert_no_canary_in_json(&details);
    let none = s.run(&["migrate", "--pattern", "NOTHING_*"]);
    exits(&none, 0);
    assert_eq!(
        none.stdout,
        "Webhook Credential Migration Tool\nFound 0 webhook(s) to migrate\n"
    );

    for run in [&dry, &run, &again, &none] {
        assert_no_canary_in_console(&run.stdout);
        assert_no_canary_in_console(&run.stderr);
    }
    assert_no_long_canary_in_files(&s);
}

#[test]
fn clearing_the_database_happens_after_verification_and_is_recorded() {
    let s = sqlite_project(&[]);
    let run = s.run(&["migrate", "--webhook", "LEGACY_HOOK", "--clear-database"]);
    exits(&run, 0);
    assert!(
        run.stdout.ends_with(
            "Verifying migration...\n[LEGACY_HOOK] Verified successfully\nAll migrations verified successfully!\nCleared the database credentials of 1 webhook(s); they now live in secret store \"local\"\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        query(
            &s,
            "SELECT user, password FROM webhooks WHERE code = 'LEGACY_HOOK'"
        ),
        [vec![None, None]]
    );
    assert_eq!(
        query(
            &s,
            "SELECT field, location FROM hookplan_credentials WHERE code = 'LEGACY_HOOK' ORDER BY field"
        ),
        [
            [
                "password",
                "local:/webhooks/WEBHOOK_OUT_LEGACY_HOOK_PASSWORD"
            ],
            ["user", "local:/webhooks/WEBHOOK_OUT_LEGACY_HOOK_USER"],
        ]
        .map(|r| r.map(|c| Some(c.to_string())).to_vec())
    );
    // Status and verify follow the credentials into the store; a rerun knows they are there.
    let status = s.run(&["status", "--webhook", "LEGACY_HOOK"]);
    exits(&status, 0);
    assert!(
        status
            .stdout
            .contains("│ LEGACY_HOOK  │ -        │ ✓         │ Migrated │"),
        "{}",
        status.stdout
    );
    let again = s.run(&["migrate", "--webhook", "LEGACY_HOOK"]);
    exits(&again, 0);
    assert!(
        again
            .stdout
            .contains("[LEGACY_HOOK] Skipped - already in secret store \"local\"\n"),
        "{}",
        again.stdout
    );
    assert_no_canary_in_console(&run.stdout);
}

#[test]
fn a_backup_that_cannot_be_written_changes_nothing() {
    let s = sqlite_project(&[]);
    // The backups folder cannot be made: a file stands where it would be.
    s.write(".hookplan/backups", "not a folder");
    let run = s.run(&["migrate"]);
    exits(&run, 1);
    assert!(
        run.stderr
            .contains("nothing was changed: cannot write the backup"),
        "{}",
        run.stderr
    );
    assert!(stored(&s).is_empty(), "the store is untouched");
    assert!(
        query(
            &s,
            "SELECT name FROM sqlite_master WHERE name = 'hookplan_migrations'"
        )
        .is_empty()
            || query(&s, "SELECT code FROM hookplan_migrations").is_empty()
    );
    assert_no_canary_in_console(&run.stdout);
    assert_no_canary_in_console(&run.stderr);
}

/// A plan migrating into the sandbox's emulation: `infisical_settings` go inside its
/// `infisical` block, `sandbox_settings` in the sandbox, `steps` after the declarations.
fn emulation_plan(sandbox_settings: &str, infisical_settings: &str, steps: &str) -> String {
    format!(
        r#"plan "migrate" {{ seed 21; attempt-timeout "300ms"; }}
// A store one answer in five fails needs more than the spec's 3 retries to be read whole.
retry "patient" {{
    max-retries 8
    base-delay "2s"
    retry-on "5xx" "timeout" "connect" "reset" "429"
    respect-retry-after #true
}}
sandbox "vault" {{
    port 0
{sandbox_settings}
    infisical {{
        project "demo-project"
        environment "prod"
        identity client-id="demo-client" client-secret="${{secret.VAULT_SECRET:-demo-secret}}"
        state "vault"
{infisical_settings}
    }}
}}
database "registry" url="sqlite://registry.db"
secret-store "vault" kind="infisical" {{
    api-url "${{sandbox.vault.url}}"
    project "demo-project"
    environment "prod"
    path "/webhooks"
    auth "universal-auth" client-id="demo-client" client-secret="${{secret.VAULT_SECRET:-demo-secret}}"
    retry "patient"
}}
{steps}
"#
    )
}

/// Each key's versions written into the emulation's state (`put` changes).
fn puts(s: &Scratch) -> BTreeMap<String, Vec<u64>> {
    let text = std::fs::read_to_string(
        s.path()
            .join(".hookplan/sandbox/vault/infisical-state.jsonl"),
    )
    .unwrap_or_default();
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in text.lines() {
        let json: Value = serde_json::from_str(line).unwrap();
        for change in json["changes"].as_array().unwrap() {
            if change["change"] == "put" {
                out.entry(change["key"].as_str().unwrap().to_string())
                    .or_default()
                    .push(change["version"].as_u64().unwrap());
            }
        }
    }
    out
}

fn many_rows(s: &Scratch, n: usize, extra: &str) {
    let mut sql = String::from(OWN_TABLE);
    for i in 0..n {
        sql.push_str(&format!(
            "INSERT INTO webhooks (code, direction, url, method, user, key) VALUES ('HOOK_{i:03}', 'OUT', 'https://h.example.com/{i}', 'POST', 'user-{i:03}', 'sk_live_canary_51c0de_{i:03}');\n"
        ));
    }
    sql.push_str(extra);
    s.write("seed.sql", &sql);
    let url = format!("sqlite://{}", s.path().join("registry.db").display());
    let seed = s.path().join("seed.sql");
    block_on(async {
        let registry = hookplan::registry::Registry::open(hookplan::registry::RegistryConfig::new(
            "registry", &url,
        ))
        .await
        .unwrap();
        assert!(registry.seed(&seed).await.unwrap());
    });
}

fn report(s: &Scratch) -> Value {
    serde_json::from_str(&s.read("out/report.json")).unwrap()
}

#[test]
fn v3_only_through_5xx_lost_answers_429_and_a_hung_connection_every_webhook_lands_once() {
    let s = Scratch::new();
    many_rows(&s, 120, "");
    s.write(
        "plan.kdl",
        &emulation_plan(
            r#"    error-rate 0.2
    endpoint "/api/v3/secrets/batch/raw" method="POST" {
        respond status=429 times=1 { header "retry-after" "2"; }
        respond fault="hang" times=1
    }"#,
            r#"        api "v3"
        faults-after-write 0.5"#,
            r#"step "migrate" { migrate to="vault" concurrency=3; }
step "verify" { needs "migrate"; verify to="vault"; }"#,
        ),
    );
    let run = s.run_plan(&[]);
    exits(&run, 0);
    let report = report(&s);
    let migrate = &report["steps"][0];
    assert_eq!(migrate["status"], "passed", "{migrate}");
    let details = &migrate["details"];
    assert_eq!(details["counts"]["migrated"], 120, "{details}");
    assert_eq!(details["counts"]["failed"], 0);
    assert_eq!(details["verified"], 120);
    assert_eq!(report["steps"][1]["status"], "passed");
    // Exactly once: every name was put once, at version 1, whatever answers were lost.
    let puts = puts(&s);
    assert_eq!(
        puts.len(),
        240,
        "{:?}",
        puts.keys().take(3).collect::<Vec<_>>()
    );
    assert!(
        puts.values().all(|v| v == &[1]),
        "a name written twice: {:?}",
        puts.iter().find(|(_, v)| *v != &[1])
    );
    // The faults happened: 503s, lost answers, the 429 and the hang.
    let recordings: String = s
        .all_files()
        .into_iter()
        .filter(|(p, _)| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("requests-")
        })
        .map(|(_, t)| t)
        .collect();
    assert!(recordings.contains("\"status\":503"), "no 503");
    assert!(
        recordings.contains("\"fault_after_write\":true"),
        "no lost answer"
    );
    assert!(recordings.contains("\"status\":429"), "no 429");
    assert_no_canary_in_json(details);
    assert_no_canary_in_console(&run.stdout);
    assert_no_canary_in_console(&run.stderr);
    assert!(!report.to_string().contains(LONG));
    assert_no_long_canary_in_files(&s);
}

#[test]
fn one_bad_key_in_a_batch_fails_only_its_webhook() {
    let s = Scratch::new();
    // "BAD HOOK" makes a name with a space, which Infisical refuses: the whole batch is
    // refused, then each webhook is tried alone.
    many_rows(
        &s,
        6,
        "INSERT INTO webhooks (code, direction, url, method, key) VALUES ('HOOK_002 BAD', 'OUT', 'https://bad.example.com', 'POST', 'true');\n",
    );
    s.write(
        "plan.kdl",
        &emulation_plan(
            "",
            r#"        api "v4""#,
            r#"step "migrate" { migrate to="vault" clear-database=#true; }"#,
        ),
    );
    let run = s.run_plan(&[]);
    exits(&run, 1);
    let report = report(&s);
    let migrate = &report["steps"][0];
    assert_eq!(migrate["status"], "failed", "{migrate}");
    let details = &migrate["details"];
    assert_eq!(details["counts"]["migrated"], 6, "{details}");
    assert_eq!(details["counts"]["failed"], 1);
    assert_eq!(details["failed"][0]["code"], "HOOK_002 BAD");
    assert_eq!(details["failed"][0]["class"], "invalid");
    assert_eq!(details["verified"], 6);
    let log: Vec<&str> = migrate["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        log.iter()
            .any(|l| l.starts_with("[HOOK_002 BAD] Failed - invalid: ")),
        "{log:?}"
    );
    assert!(log.contains(&"[HOOK_003] Migrated successfully"));
    assert_eq!(puts(&s).len(), 12, "the six good webhooks, two names each");
    // Only verified webhooks are cleared: the failed one keeps its key in the row.
    assert_eq!(
        query(
            &s,
            "SELECT code, key FROM webhooks WHERE key IS NOT NULL ORDER BY code"
        ),
        [vec![
            Some("HOOK_002 BAD".to_string()),
            Some("true".to_string())
        ]]
    );
    assert_no_canary_in_json(details);
    assert_no_canary_in_console(&run.stdout);
}

#[test]
fn writes_awaiting_approval_are_pending_exit_0_and_never_submitted_again() {
    let s = Scratch::new();
    many_rows(&s, 3, "");
    s.write(
        "plan.kdl",
        &emulation_plan(
            "",
            r#"        api "both"
        approval-required #true"#,
            r#"step "migrate" { migrate to="vault"; }"#,
        ),
    );
    let first = s.run_plan(&[]);
    exits(&first, 0);
    let report1 = report(&s);
    let details = &report1["steps"][0]["details"];
    assert_eq!(details["counts"]["pending_approval"], 3, "{details}");
    assert_eq!(details["counts"]["migrated"], 0);
    let log = report1["steps"][0]["log"].to_string();
    assert!(log.contains("Pending approval: 3"), "{log}");
    assert!(
        log.contains("Warning: 3 webhook(s) await approval in Infisical"),
        "{log}"
    );
    assert!(
        log.contains("[HOOK_000] Pending approval - WEBHOOK_OUT_HOOK_000_USER, WEBHOOK_OUT_HOOK_000_KEY submitted, awaiting a reviewer in Infisical"),
        "{log}"
    );
    assert!(
        !log.contains("Verifying migration"),
        "nothing was written to verify"
    );
    assert!(puts(&s).is_empty(), "nothing applied");
    let writes_before = recorded_writes(&s);
    assert!(writes_before > 0);

    // A rerun submits nothing again.
    let second = s.run_plan(&[]);
    exits(&second, 0);
    let report2 = report(&s);
    let log = report2["steps"][0]["log"].to_string();
    assert!(
        log.contains("[HOOK_001] Pending approval - submitted by an earlier run, not sent again"),
        "{log}"
    );
    assert_eq!(
        report2["steps"][0]["details"]["counts"]["pending_approval"],
        3
    );
    assert_eq!(
        recorded_writes(&s),
        writes_before,
        "no write was sent again"
    );
    assert_no_canary_in_console(&first.stdout);
    assert_no_canary_in_console(&second.stdout);
}

/// Write requests (POST/PATCH to secrets routes) the emulation recorded.
fn recorded_writes(s: &Scratch) -> usize {
    s.all_files()
        .into_iter()
        .filter(|(p, _)| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("requests-")
        })
        .flat_map(|(_, t)| t.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter(|r| {
            matches!(r["method"].as_str(), Some("POST" | "PATCH"))
                && r["path"].as_str().is_some_and(|p| p.contains("/secrets"))
        })
        .count()
}

#[test]
fn bad_flags_are_usage_errors() {
    let s = sqlite_project(&[]);
    let run = s.run(&["migrate", "--direction", "SIDEWAYS"]);
    exits(&run, 2);
    assert!(
        run.stderr.contains("\"SIDEWAYS\" is not a direction"),
        "{}",
        run.stderr
    );
    let run = s.run(&["migrate", "--pattern", "["]);
    exits(&run, 2);
    let run = s.run(&["migrate", "--concurrency", "0"]);
    exits(&run, 2);
    let run = s.run(&["migrate", "--store", "nowhere"]);
    assert_ne!(run.code, 0);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn ctrl_c_finishes_the_batches_in_flight_and_leaves_no_webhook_half_written() {
    let s = Scratch::new();
    many_rows(&s, 300, "");
    // Each batch write is answered 250 ms late: the migration is still writing when it is
    // interrupted.
    s.write(
        "plan.kdl",
        &emulation_plan(
            r#"    endpoint "/api/v4/secrets/batch" method="PATCH" delay="250ms""#,
            r#"        api "v4""#,
            r#"step "migrate" { migrate to="vault" concurrency=1; }"#,
        )
        // The late answers are not timeouts.
        .replace(r#"attempt-timeout "300ms""#, r#"attempt-timeout "10s""#),
    );
    let mut child = support::hookplan()
        .current_dir(s.path())
        .args(["run", "plan.kdl", "--no-progress", "--report-dir", "out"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut console = String::new();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    for line in lines.by_ref() {
        let line = line.unwrap();
        console.push_str(&line);
        console.push('\n');
        if line.contains("Migrated successfully") {
            let killed = std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            break;
        }
    }
    for line in lines {
        console.push_str(&line.unwrap());
        console.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{console}");
    assert!(console.contains("[migrate] Interrupted\n"), "{console}");
    let migrated: usize = console
        .lines()
        .find_map(|l| l.strip_prefix("[migrate] Migrated: "))
        .expect("the summary so far")
        .parse()
        .unwrap();
    assert!(
        migrated > 0 && migrated < 300,
        "interrupted midway: {migrated}\n{console}"
    );
    assert_eq!(
        console.matches("Migrated successfully").count(),
        migrated,
        "a line for each webhook written"
    );
    assert!(!console.contains("Verifying migration"), "{console}");
    // Every webhook is written whole or not at all, and the count says which.
    let puts = puts(&s);
    let mut per_webhook: BTreeMap<String, usize> = BTreeMap::new();
    for name in puts.keys() {
        let code = name
            .trim_start_matches("WEBHOOK_OUT_")
            .trim_end_matches("_USER")
            .trim_end_matches("_KEY")
            .to_string();
        *per_webhook.entry(code).or_default() += 1;
    }
    assert!(per_webhook.values().all(|n| *n == 2), "{per_webhook:?}");
    assert_eq!(per_webhook.len(), migrated);
    assert_no_canary_in_console(&console);

    assert!(
        console.contains("Run `hookplan migrate` again to resume on backup backup_OUT_"),
        "{console}"
    );
    let first_backup = backups(&s);
    assert_eq!(first_backup.len(), 1);
    // The interrupted run let go of the registry's lock: no lease is left to take over.
    assert!(
        query(&s, "SELECT holder FROM hookplan_leases").is_empty(),
        "the lease was released"
    );

    // A rerun resumes the journaled run on its own backup: what was written is not sent
    // again, the rest is, and all of it is read back.
    let rerun = s.run_plan(&[]);
    exits(&rerun, 0);
    let report = report(&s);
    let details = &report["steps"][0]["details"];
    assert_eq!(details["resumed"], true, "{details}");
    assert_eq!(
        details["backup"],
        first_backup[0].as_str(),
        "its own backup"
    );
    assert_eq!(backups(&s), first_backup, "no new backup");
    assert_eq!(details["counts"]["migrated"], 300, "{details}");
    assert_eq!(details["verified"], 300);
    assert!(
        rerun.stderr.contains("Resuming the migration started "),
        "{}",
        rerun.stderr
    );
    assert!(!rerun.stderr.contains("Took over"), "{}", rerun.stderr);
    let versions = self::puts(&s);
    assert_eq!(versions.len(), 600);
    assert!(
        versions.values().all(|v| v == &[1]),
        "written exactly once: {:?}",
        versions.iter().find(|(_, v)| *v != &[1])
    );
    // Finished: the next run is a fresh one, which finds everything in the store.
    let third = s.run_plan(&[]);
    exits(&third, 0);
    let report = self::report(&s);
    assert_eq!(report["steps"][0]["details"]["resumed"], false);
    assert_eq!(report["steps"][0]["details"]["counts"]["skipped"], 300);
}

#[test]
fn no_credential_in_json_logs_mqtt_payloads_the_journal_or_the_report() {
    let s = Scratch::new();
    let broker = support::mosquitto::Broker::start(s.path(), false);
    let subscriber = support::mosquitto::MosquittoSub::start(broker.port, s.path());
    // Short, word-like values among the long ones.
    many_rows(
        &s,
        3,
        "INSERT INTO webhooks (code, direction, url, method, auth, user, key) VALUES ('SHORT_ONE', 'OUT', 'https://s.example.com', 'POST', 'basic', 'POST', 'ss');\nINSERT INTO webhooks (code, direction, url, method, auth, user, password) VALUES ('SHORT_TWO', 'OUT', 'https://t.example.com', 'POST', 'basic', 'true', '0');\n",
    );
    let steps = format!(
        r#"mqtt "bus" url="{}"
sandbox "hooks" {{
    port 0
    endpoint "/webhook/*" method="POST" status=200
}}
step "migrate" {{ migrate to="vault"; }}
step "verify" {{ needs "migrate"; verify to="vault"; }}
step "deliver" {{
    needs "verify"
    call "SHORT_ONE" event="DONE" {{
        url "${{sandbox.hooks.url}}/webhook/short"
        credentials "vault"
    }}
    expect status=200
}}"#,
        broker.url()
    );
    s.write(
        "plan.kdl",
        &emulation_plan("", r#"        api "both""#, &steps),
    );
    let run = s.run_env(
        &[
            "run",
            "plan.kdl",
            "--time-scale",
            "0",
            "--no-progress",
            "--report-dir",
            "out",
            "--log-format",
            "json",
        ],
        &[],
    );
    exits(&run, 0);
    subscriber.wait_for(2, std::time::Duration::from_secs(10));
    let payloads = std::fs::read_to_string(&subscriber.output).unwrap();
    assert!(payloads.contains("webhook/requests"), "{payloads}");
    for line in payloads.lines() {
        let Some((_, payload)) = line.split_once(' ') else {
            continue;
        };
        let json: Value = serde_json::from_str(payload).unwrap();
        assert_no_canary_in_json_except_methods(&json, &subscriber.output);
        assert!(!payload.contains(LONG), "{payload}");
    }
    // The JSON logs on stderr: every line an object, none holding a value.
    let mut logged = 0;
    for line in run.stderr.lines() {
        let Ok(json) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        logged += 1;
        assert_no_canary_in_json_except_methods(&json, std::path::Path::new("stderr"));
    }
    assert!(logged > 0, "{}", run.stderr);
    assert!(!run.stderr.contains(LONG));
    assert_no_canary_in_console(&run.stdout);
    let report = report(&s);
    assert_eq!(report["steps"][0]["details"]["counts"]["migrated"], 5);
    assert_no_long_canary_in_files(&s);
    drop(subscriber);
}

#[test]
fn an_unfinished_migration_is_resumed_with_its_selection_refused_otherwise_and_undone_by_rollback()
{
    let s = sqlite_project(&[]);
    let run = s.run(&["migrate", "--webhook", "LEGACY_HOOK"]);
    exits(&run, 0);
    let backup = backups(&s).pop().unwrap();
    assert_eq!(
        query(&s, "SELECT selection, backup, state FROM hookplan_journal"),
        [vec![
            Some("webhook=LEGACY_HOOK".to_string()),
            Some(backup.clone()),
            Some("finished".to_string())
        ]]
    );
    // As a run killed after its backup leaves it: unfinished.
    let crash = |s: &Scratch| {
        block_on(async {
            let url = format!("sqlite://{}", s.path().join("registry.db").display());
            let mut conn = AnyConnection::connect(&url).await.unwrap();
            sqlx::query("UPDATE hookplan_journal SET state = 'running'")
                .execute(&mut conn)
                .await
                .unwrap();
        })
    };
    crash(&s);
    let other = s.run(&["migrate", "--direction", "IN"]);
    exits(&other, 3);
    assert!(
        other.stdout.contains(
            "Refused: an unfinished migration into this store (webhook=LEGACY_HOOK, started "
        ) && other
            .stdout
            .contains(&format!("`hookplan rollback {backup}` to undo it")),
        "{}",
        other.stdout
    );
    assert!(
        other
            .stdout
            .contains("run `hookplan migrate --webhook LEGACY_HOOK` to resume it"),
        "{}",
        other.stdout
    );
    assert_eq!(backups(&s).len(), 1, "a refusal writes no backup");
    // Every command that reads the registry and the store says so, and how to end it.
    let warning =
        "Warning: a migration into this store is unfinished (webhook=LEGACY_HOOK, started ";
    let ways_out = format!(
        "run `hookplan migrate --webhook LEGACY_HOOK` to resume it, or `hookplan rollback {backup}` to undo it\n"
    );
    for command in [&["status"][..], &["verify"][..]] {
        let told = s.run(command);
        assert!(
            told.stdout.contains(warning) && told.stdout.contains(&ways_out),
            "{command:?}: {}",
            told.stdout
        );
        assert_no_canary_in_console(&told.stdout);
    }
    let json = s.run(&["status", "--json"]);
    let details: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        details["unfinished"]["backup"],
        backup.as_str(),
        "{details}"
    );
    assert_eq!(details["unfinished"]["selection"], "webhook=LEGACY_HOOK");
    // The same selection resumes it, on its backup.
    let resumed = s.run(&["migrate", "--webhook", "LEGACY_HOOK"]);
    exits(&resumed, 0);
    assert!(
        resumed.stdout.contains(&format!(
            "from its backup .hookplan/backups/{backup}\nMigrating webhooks...\n[LEGACY_HOOK] Migrated successfully\n"
        )),
        "{}",
        resumed.stdout
    );
    assert_eq!(backups(&s).len(), 1);
    // Unfinished again, then rolled back: a fresh migration may start.
    crash(&s);
    exits(&s.run(&["rollback", &backup]), 0);
    assert_eq!(
        query(&s, "SELECT state FROM hookplan_journal"),
        [vec![Some("rolled-back".to_string())]]
    );
    assert!(!stored(&s).contains_key("WEBHOOK_OUT_LEGACY_HOOK_USER"));
    assert!(!s.run(&["status"]).stdout.contains("unfinished"));
    exits(&s.run(&["migrate", "--direction", "IN"]), 0);
    assert_no_canary_in_console(&other.stdout);
    assert_no_canary_in_console(&resumed.stdout);
}
