//! Issue 14's story, as an operator runs it: the spec's six-step workflow — status, migrate
//! --dry-run, migrate, verify, migrate --direction IN, list-backups — against the legacy
//! `def_webhook` table in PostgreSQL and a v3-only Infisical (`hookplan sandbox start
//! --infisical --infisical-api v3`, its own process). A second run skips; then the IN backup
//! and the OUT backup are rolled back, and the rows and the store are exactly as they were.
//! No credential appears on the screen.

mod support;

use hookplan::store::{NewSecret, SecretStore};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use support::cli_sandbox::CliSandbox;
use support::migration::{SHORT, block_on, infisical_client, infisical_stored};
use support::postgres::{Postgres, run_sql_blocking};
use support::{LEGACY_DDL, LEGACY_MAPPING, Run, Scratch};

const CLIENT_SECRET: &str = "story-client-secret-9a1f";
const LONG: &str = "sk_live_story_c0ffee_51";
const PRIOR: &str = "prior-story-value-7e2d";

fn rows() -> Vec<String> {
    [
        "('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com', 'POST', 'POST', 'ss', NULL)",
        "('GITHUB_WEBHOOK', 'OUT', 'https://api.github.com', 'POST', '0', 'sk_live_story_c0ffee_51', NULL)",
        "('LEGACY_HOOK', 'OUT', 'https://legacy.example.com', 'POST', 'true', NULL, '0')",
        "('ORDERS_IN', 'IN', 'https://in.example.com', 'POST', NULL, 'ss', NULL)",
    ]
    .iter()
    .map(|v| format!("INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES {v}"))
    .collect()
}

/// The rows' credentials, by code.
fn db_state(url: &str) -> BTreeMap<String, Vec<Option<String>>> {
    block_on(async {
        use sqlx::{AnyConnection, Connection, Row};
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(url).await.unwrap();
        let rows = sqlx::query("SELECT webhookcode, username, apikey, password FROM def_webhook")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                (
                    r.try_get::<String, _>(0).unwrap(),
                    (1..4)
                        .map(|i| r.try_get::<Option<String>, _>(i).unwrap())
                        .collect(),
                )
            })
            .collect()
    })
}

fn exits(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// No line is a short canary, no word is one (but the counts), no long one anywhere.
fn assert_nothing_shown(text: &str) {
    for line in text.lines() {
        let counts = line
            .split_once(": ")
            .is_some_and(|(_, n)| n.chars().all(|c| c.is_ascii_digit()));
        if counts || line.starts_with("Found 0") {
            continue;
        }
        for word in line.split(|c: char| !c.is_ascii_alphanumeric()) {
            assert!(
                !SHORT.contains(&word),
                "a value on the screen: {word}\n{text}"
            );
        }
    }
    for long in [LONG, PRIOR, CLIENT_SECRET] {
        assert!(!text.contains(long), "{long} on the screen:\n{text}");
    }
}

#[test]
fn the_six_step_workflow_on_postgresql_and_a_v3_only_store_then_rollback() {
    let pg = Postgres::start();
    let db = pg.create_db_blocking("legacy");
    let mut setup = vec![LEGACY_DDL.to_string()];
    setup.extend(rows());
    run_sql_blocking(&db, &setup.iter().map(String::as_str).collect::<Vec<_>>());

    let s = Scratch::new();
    let vault = CliSandbox::start(
        &s,
        "vault",
        &[
            "--infisical",
            "--infisical-api",
            "v3",
            "--infisical-client-secret",
            CLIENT_SECRET,
        ],
    );
    let api = vault.url.replace("localhost", "127.0.0.1");
    // The store held one of the names already, with another value.
    block_on(async {
        infisical_client(&api, CLIENT_SECRET)
            .set(
                "/webhooks",
                NewSecret::new("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", PRIOR),
            )
            .await
            .unwrap();
    });
    s.write(
        "hookplan.kdl",
        &format!("database \"legacy\" url=\"{db}\" {{\n    {LEGACY_MAPPING}\n}}\n"),
    );
    let env = vault.infisical_env(CLIENT_SECRET);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let db_before = db_state(&db);
    let store_before = infisical_stored(&api, CLIENT_SECRET);
    let mut screen = String::new();
    let mut run = |args: &[&str], code: i32| {
        let run = s.run_env(args, &env);
        exits(&run, code);
        screen.push_str(&run.stdout);
        screen.push_str(&run.stderr);
        run
    };

    // 1. Review the current status.
    let status = run(&["status"], 0);
    assert_eq!(
        status.stdout,
        "\
┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━┓
┃ Webhook Code   ┃ DB Creds  ┃ Infisical ┃ Status   ┃
┡━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━┩
│ GITHUB_WEBHOOK │ user,key  │ ✗         │ Mismatch │
│ LEGACY_HOOK    │ user,pass │ ✗         │ Pending  │
│ ORDERS_IN      │ key       │ ✗         │ Pending  │
│ STRIPE_PAYMENT │ user,key  │ ✗         │ Pending  │
└────────────────┴───────────┴───────────┴──────────┘
"
    );

    // 2. A dry run shows what would be migrated, names only.
    let dry = run(&["migrate", "--dry-run"], 0);
    assert_eq!(
        dry.stdout,
        "\
Webhook Credential Migration Tool
Found 3 webhook(s) to migrate
Dry run - nothing will be written and no backup made
[GITHUB_WEBHOOK] Would migrate - WEBHOOK_OUT_GITHUB_WEBHOOK_USER (create), WEBHOOK_OUT_GITHUB_WEBHOOK_KEY (update)
[LEGACY_HOOK] Would migrate - WEBHOOK_OUT_LEGACY_HOOK_USER (create), WEBHOOK_OUT_LEGACY_HOOK_PASSWORD (create)
[STRIPE_PAYMENT] Would migrate - WEBHOOK_OUT_STRIPE_PAYMENT_USER (create), WEBHOOK_OUT_STRIPE_PAYMENT_KEY (create)
Migration Summary (dry run):
Total: 3
Would migrate: 3
Skipped: 0
"
    );
    assert_eq!(
        infisical_stored(&api, CLIENT_SECRET),
        store_before,
        "a dry run writes nothing"
    );

    // 3. Migrate every outbound webhook.
    let out = run(&["migrate"], 0);
    let backup_line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Backup created: "))
        .expect("a backup first")
        .to_string();
    let out_backup = std::path::Path::new(&backup_line)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(out_backup.starts_with("backup_OUT_"), "{out_backup}");
    let mode = std::fs::metadata(s.path().join(&backup_line))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        out.stdout,
        format!(
            "\
Webhook Credential Migration Tool
Found 3 webhook(s) to migrate
Backup created: {backup_line}
Migrating webhooks...
[GITHUB_WEBHOOK] Migrated successfully
[LEGACY_HOOK] Migrated successfully
[STRIPE_PAYMENT] Migrated successfully
Migration Summary:
Total: 3
Migrated: 3
Skipped: 0
Failed: 0
Verifying migration...
[GITHUB_WEBHOOK] Verified successfully
[LEGACY_HOOK] Verified successfully
[STRIPE_PAYMENT] Verified successfully
All migrations verified successfully!
"
        )
    );

    // 4. Verify.
    let verify = run(&["verify"], 0);
    assert!(
        verify
            .stdout
            .ends_with("All migrations verified successfully!\n"),
        "{}",
        verify.stdout
    );

    // 5. The inbound webhooks.
    let inbound = run(&["migrate", "--direction", "IN"], 0);
    assert!(
        inbound
            .stdout
            .contains("[ORDERS_IN] Migrated successfully\n"),
        "{}",
        inbound.stdout
    );
    let in_backup = inbound
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Backup created: "))
        .and_then(|p| std::path::Path::new(p).file_name())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(in_backup.starts_with("backup_IN_"), "{in_backup}");

    // 6. The backups, in case a rollback is needed.
    let list = run(&["list-backups"], 0);
    for name in [&out_backup, &in_backup] {
        assert!(list.stdout.contains(name.as_str()), "{}", list.stdout);
    }
    assert!(
        list.stdout.contains("│ OUT       │        3 │"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("│ IN        │        1 │"),
        "{}",
        list.stdout
    );

    // A second run: everything already in Infisical, no new backup.
    let again = run(&["migrate"], 0);
    assert!(
        again
            .stdout
            .contains("[STRIPE_PAYMENT] Skipped - already in Infisical\n"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("Backup created"), "{}", again.stdout);
    assert_eq!(
        std::fs::read_dir(s.path().join(".hookplan/backups"))
            .unwrap()
            .count(),
        2
    );
    let status = run(&["status"], 0);
    assert!(
        status
            .stdout
            .contains("│ GITHUB_WEBHOOK │ user,key  │ ✓         │ Migrated │"),
        "{}",
        status.stdout
    );

    // Roll back the IN backup, then the OUT one: the rows and the store are as they were.
    run(&["rollback", &in_backup], 0);
    run(&["rollback", &out_backup], 0);
    assert_eq!(db_state(&db), db_before);
    assert_eq!(infisical_stored(&api, CLIENT_SECRET), store_before);

    assert_nothing_shown(&screen);
    // The emulation's own console names methods (`POST`) and rates (`0.0%`): no long value
    // in it, and not the short key either.
    let console = vault.console.lock().unwrap().clone();
    for long in [LONG, PRIOR, CLIENT_SECRET] {
        assert!(!console.contains(long), "{long} on the emulation's console");
    }
    assert!(
        !console
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "ss"),
        "{console}"
    );
}
