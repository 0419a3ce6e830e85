//! `rollback` and `hookplan rollback`, with the real binary: a SQLite registry and the local
//! file store are backed up with `hookplan backup`, a migration is simulated (the rows'
//! credentials written into the store, one row cleared as `--clear-database` leaves it, the
//! marks recorded), and the rollback must put both sides back exactly — or refuse, changing
//! nothing, when someone changed something since, when the backup is corrupt, or when it is of
//! another registry. Canary values (`0`, `ss`, `true`, `POST`, and long ones) never show in
//! the lines, the JSON, the report or the events journal.

mod support;

use hookplan::registry::{
    CredentialWrite, Field, MarkState, MigrationMark, Registry, RegistryConfig,
};
use hookplan::store::file::FileStore;
use hookplan::store::{NewSecret, SecretStore};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::migration::{OWN_TABLE, SHORT, block_on, exits, listed, strings};
use support::{Run, Scratch};

/// Long canaries: no substring of anything hookplan writes by chance.
const LONG: &str = "sk_live_canary_7f3a91";
const PRIOR_LONG: &str = "prior-canary-6b1e55";
const UNRELATED: &str = "unrelated-canary-2c9d";
const SOMEONE: &str = "someone-else-canary-81fa";

/// The registry:
///   GITHUB_WEBHOOK  OUT  user "0", key LONG (the store held PRIOR_LONG under its key name)
///   LEGACY_HOOK     OUT  user "true", password "0" (its migration failed: nothing written)
///   NO_CREDS        OUT  no credentials
///   STRIPE_PAYMENT  OUT  user "POST", key "ss" (migrated and cleared)
///   INBOUND         IN   key "true" (not in the OUT backup)
const ROWS: &str = "\
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com', 'POST', 'POST', 'ss', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('GITHUB_WEBHOOK', 'OUT', 'https://api.github.com', 'POST', '0', 'sk_live_canary_7f3a91', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('LEGACY_HOOK', 'OUT', 'https://legacy.example.com', 'POST', 'true', NULL, '0');
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('NO_CREDS', 'OUT', 'https://none.example.com', 'POST', NULL, NULL, NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('INBOUND', 'IN', 'https://in.example.com', 'POST', NULL, 'true', NULL);
";

const CONFIG: &str = r#"database "registry" url="sqlite://registry.db"
secret-store "local" kind="file" { file "secrets.json"; path "/webhooks"; }
"#;

/// The store before the migration.
const BEFORE: &[(&str, &str)] = &[
    ("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", PRIOR_LONG),
    ("UNRELATED_NAME", UNRELATED),
];

/// What the simulated migration writes.
const WRITTEN: &[(&str, &str)] = &[
    ("WEBHOOK_OUT_STRIPE_PAYMENT_USER", "POST"),
    ("WEBHOOK_OUT_STRIPE_PAYMENT_KEY", "ss"),
    ("WEBHOOK_OUT_GITHUB_WEBHOOK_USER", "0"),
    ("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", LONG),
];

fn url(s: &Scratch) -> String {
    format!("sqlite://{}", s.path().join("registry.db").display())
}

async fn registry(s: &Scratch) -> Registry {
    Registry::open(RegistryConfig::new("registry", url(s)))
        .await
        .unwrap()
}

fn store(s: &Scratch) -> FileStore {
    FileStore::new("local", s.path().join("secrets.json"))
}

/// Every name of the store's folder with its value.
fn stored(s: &Scratch) -> BTreeMap<String, String> {
    listed(&store(s))
}

fn set(s: &Scratch, pairs: &[(&str, &str)]) {
    block_on(async {
        store(s)
            .set_many(
                "/webhooks",
                pairs.iter().map(|(n, v)| NewSecret::new(*n, *v)).collect(),
            )
            .await
            .unwrap();
    });
}

/// Each row's (user, key, password), and where hookplan's tables place its credentials.
type Rows = BTreeMap<String, (Option<String>, Option<String>, Option<String>, Vec<String>)>;

fn rows(s: &Scratch) -> Rows {
    block_on(async {
        let registry = registry(s).await;
        let mut out = BTreeMap::new();
        for w in registry.list().await.unwrap() {
            let places = registry
                .credential_locations(&w.code)
                .await
                .unwrap()
                .into_iter()
                .map(|(f, l)| format!("{}={l}", f.name()))
                .collect();
            out.insert(w.code.clone(), (w.user, w.key, w.password, places));
        }
        out
    })
}

fn marks(s: &Scratch) -> Vec<String> {
    block_on(async {
        let codes: Vec<String> = ["GITHUB_WEBHOOK", "STRIPE_PAYMENT", "LEGACY_HOOK"]
            .map(String::from)
            .to_vec();
        let mut found: Vec<String> = registry(s)
            .await
            .migration_marks("local", &codes)
            .await
            .unwrap()
            .into_keys()
            .collect();
        found.sort();
        found
    })
}

/// The registry seeded, the store holding [`BEFORE`], a backup of OUT (its file name), then a
/// migration simulated: [`WRITTEN`] in the store, STRIPE_PAYMENT's row cleared as
/// `--clear-database` leaves it, both webhooks marked as migrated.
fn migrated() -> (Scratch, String) {
    let s = Scratch::new();
    s.write("webhooks.sql", &format!("{OWN_TABLE}{ROWS}"));
    s.write("hookplan.kdl", CONFIG);
    block_on(async {
        assert!(
            registry(&s)
                .await
                .seed(&s.path().join("webhooks.sql"))
                .await
                .unwrap()
        );
    });
    set(&s, BEFORE);
    let backup = s.run(&["backup", "--direction", "OUT"]);
    exits(&backup, 0);
    let path = backup
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Backup created: "))
        .expect("the backup's path")
        .to_string();
    let file = Path::new(&path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    set(&s, WRITTEN);
    block_on(async {
        let registry = registry(&s).await;
        let clear = |field: Field, name: &str| CredentialWrite {
            field,
            value: None,
            location: Some(format!("local:/webhooks/{name}")),
        };
        registry
            .write_credentials(&[(
                "STRIPE_PAYMENT".to_string(),
                vec![
                    clear(Field::User, "WEBHOOK_OUT_STRIPE_PAYMENT_USER"),
                    clear(Field::Key, "WEBHOOK_OUT_STRIPE_PAYMENT_KEY"),
                ],
            )])
            .await
            .unwrap();
        let mark = |code: &str, names: &[&str]| MigrationMark {
            code: code.to_string(),
            store: "local".to_string(),
            path: "/webhooks".to_string(),
            state: MarkState::Migrated,
            names: names.iter().map(|n| n.to_string()).collect(),
            backup: Some(file.clone()),
        };
        registry
            .mark_migrations(&[
                mark(
                    "STRIPE_PAYMENT",
                    &[
                        "WEBHOOK_OUT_STRIPE_PAYMENT_USER",
                        "WEBHOOK_OUT_STRIPE_PAYMENT_KEY",
                    ],
                ),
                mark(
                    "GITHUB_WEBHOOK",
                    &[
                        "WEBHOOK_OUT_GITHUB_WEBHOOK_USER",
                        "WEBHOOK_OUT_GITHUB_WEBHOOK_KEY",
                    ],
                ),
            ])
            .await
            .unwrap();
    });
    (s, file)
}

fn backup_path(s: &Scratch, file: &str) -> PathBuf {
    s.path().join(".hookplan/backups").join(file)
}

/// The rows as the seed wrote them: what a rollback must give back.
fn original_rows() -> Rows {
    let some = |v: &str| Some(v.to_string());
    BTreeMap::from([
        (
            "GITHUB_WEBHOOK".into(),
            (some("0"), some(LONG), None, vec![]),
        ),
        ("INBOUND".into(), (None, some("true"), None, vec![])),
        (
            "LEGACY_HOOK".into(),
            (some("true"), None, some("0"), vec![]),
        ),
        ("NO_CREDS".into(), (None, None, None, vec![])),
        (
            "STRIPE_PAYMENT".into(),
            (some("POST"), some("ss"), None, vec![]),
        ),
    ])
}

fn original_store() -> BTreeMap<String, String> {
    BEFORE
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn assert_no_long_canary(what: &str, text: &str) {
    for canary in [LONG, PRIOR_LONG, UNRELATED, SOMEONE] {
        assert!(!text.contains(canary), "{what} shows {canary}:\n{text}");
    }
}

/// No word of a text is a short canary (but the counts of the summaries, which may be 0, and
/// a plan run's `time scale 0`), and no long canary is in it.
fn assert_no_canary_in_text(what: &str, text: &str) {
    assert_no_long_canary(what, text);
    for line in text.lines() {
        assert!(!SHORT.contains(&line.trim()), "{what}: a value: {line}");
        let counted = [
            "Total: ",
            "Restored: ",
            "Would restore: ",
            "Unchanged: ",
            "Failed: ",
        ]
        .iter()
        .any(|p| line.trim_start().starts_with(p))
            || line.contains("time scale 0")
            || line.contains(" passed, ");
        // `0.1.0` (a version) is one word.
        for word in line.split(|c: char| !c.is_ascii_alphanumeric() && c != '.') {
            assert!(
                (counted && word == "0") || !SHORT.contains(&word),
                "{what}: a value: {word}\n{line}"
            );
        }
    }
}

fn assert_no_canary_in_json(what: &str, json: &Value) {
    let mut all = Vec::new();
    strings(json, &mut all);
    for s in &all {
        assert_no_canary_in_text(what, s);
    }
}

fn assert_no_canary_in_console(run: &Run) {
    assert_no_canary_in_text("stdout", &run.stdout);
    assert_no_canary_in_text("stderr", &run.stderr);
}

/// The runs' reports and events journals, and every other file hookplan wrote but the
/// places values live by design (the registry, the store, the seed, the backups).
fn assert_no_canary_in_files(s: &Scratch) {
    let mut seen = 0;
    for (path, text) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("registry.db")
            || name == "secrets.json"
            || name == "webhooks.sql"
            || name == "junk.json"
            || path.components().any(|c| c.as_os_str() == "backups")
        {
            continue;
        }
        let what = path.display().to_string();
        if name.ends_with(".jsonl") {
            for line in text.lines() {
                assert_no_canary_in_json(&what, &serde_json::from_str(line).unwrap());
            }
            seen += 1;
        } else if name.ends_with(".json") {
            assert_no_canary_in_json(&what, &serde_json::from_str(&text).unwrap());
            seen += 1;
        } else {
            assert_no_long_canary(&what, &text);
        }
    }
    assert!(seen >= 2, "no report or journal was swept");
}

/// The newest run's report.
fn last_report(s: &Scratch) -> Value {
    let mut reports: Vec<(std::time::SystemTime, PathBuf)> = s
        .all_files()
        .into_iter()
        .filter(|(p, _)| p.file_name().is_some_and(|n| n == "report.json"))
        .map(|(p, _)| (std::fs::metadata(&p).unwrap().modified().unwrap(), p))
        .collect();
    reports.sort();
    let (_, path) = reports.last().expect("a report");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Rewrites a backup's body with `edit` and seals it again with a checksum that holds.
fn reseal(path: &Path, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let body = edit(text[..text.len() - 92].to_string());
    let sum = hex::encode(Sha256::digest(body.as_bytes()));
    std::fs::write(
        path,
        format!("{body},\n  \"checksum\": \"sha256:{sum}\"\n}}\n"),
    )
    .unwrap();
}

#[test]
fn a_rollback_restores_the_rows_and_the_store_exactly() {
    let (s, file) = migrated();
    assert_ne!(stored(&s), original_store());
    assert_ne!(rows(&s), original_rows());
    assert_eq!(marks(&s), ["GITHUB_WEBHOOK", "STRIPE_PAYMENT"]);

    // A bare file name is found in STATE_DIR/backups.
    let run = s.run(&["rollback", &file]);
    exits(&run, 0);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            format!("Rolling back from {file} (4 webhook(s))").as_str(),
            "[GITHUB_WEBHOOK] Restored",
            "[LEGACY_HOOK] Nothing to restore",
            "[NO_CREDS] Nothing to restore",
            "[STRIPE_PAYMENT] Restored",
            "Rollback Summary:",
            "Total: 4",
            "Restored: 2",
            "Unchanged: 2",
            "Failed: 0",
        ]
    );
    // Names the migration created are gone, the prior value is back, the rest untouched;
    // the cleared row is refilled and its bookkeeping dropped; the marks are forgotten.
    assert_eq!(stored(&s), original_store());
    assert_eq!(rows(&s), original_rows());
    assert!(marks(&s).is_empty());

    // Once more: nothing to restore.
    let again = s.run(&["rollback", &file, "--json"]);
    exits(&again, 0);
    let json: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(json["counts"]["unchanged"], 4, "{json:#}");
    assert_eq!(json["refused"], false);
    assert_eq!(stored(&s), original_store());

    assert_no_canary_in_console(&run);
    assert_no_canary_in_text("stderr", &again.stderr);
    assert_no_canary_in_json("--json", &json);
    assert_no_canary_in_files(&s);
}

#[test]
fn a_value_changed_since_the_migration_is_refused_and_force_restores_anyway() {
    let (s, file) = migrated();
    set(&s, &[("WEBHOOK_OUT_STRIPE_PAYMENT_KEY", SOMEONE)]);
    let store_before = std::fs::read(s.path().join("secrets.json")).unwrap();
    let rows_before = rows(&s);
    let run = s.run(&["rollback", &file]);
    exits(&run, 3);
    assert!(
        run.stdout.contains(
            "Refused: [STRIPE_PAYMENT] WEBHOOK_OUT_STRIPE_PAYMENT_KEY changed in the store since the migration"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("(rerun with --force to restore the backup's values anyway)")
    );
    assert!(!run.stdout.contains("Restored"), "{}", run.stdout);
    // Nothing changed: not even the names nobody touched.
    assert_eq!(
        std::fs::read(s.path().join("secrets.json")).unwrap(),
        store_before
    );
    assert_eq!(rows(&s), rows_before);
    assert_eq!(marks(&s).len(), 2);

    // A row changed since is refused too.
    block_on(async {
        registry(&s)
            .await
            .write_credentials(&[(
                "GITHUB_WEBHOOK".to_string(),
                vec![CredentialWrite {
                    field: Field::User,
                    value: Some(SOMEONE.to_string()),
                    location: None,
                }],
            )])
            .await
            .unwrap();
    });
    let run = s.run(&["rollback", &file]);
    exits(&run, 3);
    assert!(
        run.stdout.contains(
            "Refused: [GITHUB_WEBHOOK] database credential user changed since the backup"
        ),
        "{}",
        run.stdout
    );
    assert_no_canary_in_console(&run);

    // --force: warnings, and the backup's values win.
    let forced = s.run(&["rollback", &file, "--force"]);
    exits(&forced, 0);
    assert!(
        forced.stdout.contains(
            "Warning: [STRIPE_PAYMENT] WEBHOOK_OUT_STRIPE_PAYMENT_KEY changed in the store since the migration"
        ),
        "{}",
        forced.stdout
    );
    assert_eq!(stored(&s), original_store());
    assert_eq!(rows(&s), original_rows());
    assert!(marks(&s).is_empty());
    assert_no_canary_in_console(&forced);
    assert_no_canary_in_files(&s);
}

#[test]
fn a_corrupt_backup_is_refused_and_force_reads_it_only_if_it_parses() {
    let (s, file) = migrated();
    let path = backup_path(&s, &file);
    let store_before = std::fs::read(s.path().join("secrets.json")).unwrap();
    // One byte flipped in the header: the checksum fails.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "\"selection\": \"direction=OUT\"",
            "\"selection\": \"direction=OUX\"",
            1,
        ),
    )
    .unwrap();
    let run = s.run(&["rollback", &file]);
    exits(&run, 3);
    assert!(
        run.stdout
            .contains("is corrupt: its checksum does not match its contents"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--force"));
    assert_eq!(
        std::fs::read(s.path().join("secrets.json")).unwrap(),
        store_before
    );
    // It still parses: --force restores it, saying so.
    let forced = s.run(&["rollback", &file, "--force"]);
    exits(&forced, 0);
    assert!(
        forced.stdout.contains("Warning: backup "),
        "{}",
        forced.stdout
    );
    assert_eq!(stored(&s), original_store());
    assert_eq!(rows(&s), original_rows());

    // A file that is no backup at all is refused even with --force, without the hint.
    let junk = s.write("junk.json", &"x".repeat(200));
    let junk = junk.display().to_string();
    let run = s.run(&["rollback", &junk, "--force"]);
    exits(&run, 3);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [format!(
            "Refused: backup {junk} is corrupt: it does not end with its checksum, and it cannot be read even without its checksum"
        )],
    );
    assert!(!run.stdout.contains("rerun with --force"), "{}", run.stdout);
    assert_no_canary_in_console(&forced);
    assert_no_canary_in_files(&s);
}

#[test]
fn a_backup_of_another_registry_or_folder_is_refused() {
    let (s, file) = migrated();
    let path = backup_path(&s, &file);
    let text = std::fs::read_to_string(&path).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let id = json["registry_id"].as_str().unwrap().to_string();
    let other = "0123456789abcdef0123456789abcdef";
    reseal(&path, |body| body.replace(&id, other));
    let store_before = std::fs::read(s.path().join("secrets.json")).unwrap();
    let run = s.run(&["rollback", &file]);
    exits(&run, 3);
    assert!(
        run.stdout.contains(&format!(
            "Refused: the backup is of registry {other}, this registry is {id}"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read(s.path().join("secrets.json")).unwrap(),
        store_before
    );
    // --json says so for scripts.
    let json = s.run(&["rollback", &file, "--json"]);
    exits(&json, 3);
    let details: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(details["refused"], true);
    assert_eq!(
        details["problems"],
        serde_json::json!([format!(
            "the backup is of registry {other}, this registry is {id}"
        )])
    );
    assert_no_canary_in_json("--json", &details);

    // A store whose names live in another folder is refused, --force or not.
    s.write(
        "other.kdl",
        &CONFIG.replace("path \"/webhooks\"", "path \"/elsewhere\""),
    );
    let run = s.run(&["--config", "other.kdl", "rollback", &file, "--force"]);
    exits(&run, 3);
    assert!(
        run.stdout.contains(
            "Refused: the backup's names live in /webhooks of store \"local\"; store \"local\" keeps its names in /elsewhere"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("rerun with --force"), "{}", run.stdout);
    assert_eq!(
        std::fs::read(s.path().join("secrets.json")).unwrap(),
        store_before
    );

    let forced = s.run(&["rollback", &file, "--force"]);
    exits(&forced, 0);
    assert_eq!(stored(&s), original_store());
    assert_eq!(rows(&s), original_rows());
}

#[test]
fn a_dry_run_changes_nothing_and_names_only_what_it_would_do() {
    let (s, file) = migrated();
    let store_before = std::fs::read(s.path().join("secrets.json")).unwrap();
    let rows_before = rows(&s);
    let run = s.run(&["rollback", &file, "--dry-run"]);
    exits(&run, 0);
    for line in [
        "[GITHUB_WEBHOOK] Would restore - delete WEBHOOK_OUT_GITHUB_WEBHOOK_USER (did not exist before), restore WEBHOOK_OUT_GITHUB_WEBHOOK_KEY (prior value)",
        "[STRIPE_PAYMENT] Would restore - delete WEBHOOK_OUT_STRIPE_PAYMENT_USER (did not exist before), delete WEBHOOK_OUT_STRIPE_PAYMENT_KEY (did not exist before), database credentials user,key",
        "[LEGACY_HOOK] Nothing to restore",
        "Dry run: nothing is changed",
        "Would restore: 2",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "{line}\n{}",
            run.stdout
        );
    }
    assert_eq!(
        std::fs::read(s.path().join("secrets.json")).unwrap(),
        store_before
    );
    assert_eq!(rows(&s), rows_before);
    assert_eq!(marks(&s).len(), 2);
    assert_no_canary_in_console(&run);
    assert_no_canary_in_files(&s);
}

#[test]
fn one_webhook_failing_does_not_stop_the_others() {
    let (s, file) = migrated();
    block_on(async { registry(&s).await.remove("GITHUB_WEBHOOK").await.unwrap() });
    let run = s.run(&["rollback", &file]);
    exits(&run, 1);
    assert!(
        run.stdout
            .contains("[GITHUB_WEBHOOK] Failed - not in the registry any more"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("[STRIPE_PAYMENT] Restored"));
    assert!(run.stdout.contains("Failed: 1"));
    let store = stored(&s);
    assert!(!store.contains_key("WEBHOOK_OUT_STRIPE_PAYMENT_KEY"));
    assert_eq!(
        store
            .get("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY")
            .map(String::as_str),
        Some(LONG),
        "a failed webhook is left as it was"
    );
    assert_eq!(marks(&s), ["GITHUB_WEBHOOK"]);
    assert_no_canary_in_console(&run);
}

#[test]
fn a_plan_step_rolls_back_and_a_refusal_is_exit_3() {
    let (s, file) = migrated();
    s.write(
        "plan.kdl",
        &format!(
            r#"plan "undo" {{ seed 1; }}
step "rehearse" {{ rollback backup="{file}" from="registry" to="local" dry-run=#true; }}
step "undo" {{ needs "rehearse"; rollback backup="{file}" from="registry" to="local"; }}
step "again" {{ needs "undo"; rollback backup="{file}" from="registry" to="local" force=#false; }}
"#
        ),
    );
    let check = s.run(&["check", "plan.kdl"]);
    exits(&check, 0);
    let run = s.run_plan(&[]);
    exits(&run, 0);
    assert_eq!(stored(&s), original_store());
    assert_eq!(rows(&s), original_rows());
    let report = last_report(&s);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(
        steps[0]["details"]["counts"]["restored"], 2,
        "would restore"
    );
    assert_eq!(steps[0]["details"]["dry_run"], true);
    assert_eq!(steps[1]["details"]["counts"]["restored"], 2);
    assert_eq!(
        steps[1]["details"]["webhooks"][0]["restored"],
        serde_json::json!(["WEBHOOK_OUT_GITHUB_WEBHOOK_KEY"])
    );
    assert_eq!(steps[2]["details"]["counts"]["unchanged"], 4);

    // The backup a `backup` step publishes: right after it, there is nothing to restore.
    s.write(
        "plan.kdl",
        r#"plan "fresh" { seed 1; }
step "b" { backup to="local"; }
step "r" { needs "b"; rollback backup="${steps.b.backup}" to="local"; }
"#,
    );
    exits(&s.run(&["check", "plan.kdl"]), 0);
    let run = s.run_plan(&[]);
    exits(&run, 0);
    let report = last_report(&s);
    let details = &report["steps"][1]["details"];
    assert_eq!(details["file"], report["steps"][0]["details"]["file"]);
    assert_eq!(details["counts"]["unchanged"], 4, "{details:#}");

    // A refusal fails the step with `refused:` and the run exits 3.
    set(&s, &[("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", SOMEONE)]);
    s.write(
        "plan.kdl",
        &format!(
            "plan \"undo\" {{ seed 1; }}\nstep \"undo\" {{ rollback backup=\"{file}\" to=\"local\"; }}\n"
        ),
    );
    let run = s.run_plan(&[]);
    exits(&run, 3);
    let report = last_report(&s);
    let step = &report["steps"][0];
    assert!(
        step["message"].as_str().unwrap().starts_with("refused: "),
        "{step:#}"
    );
    assert_eq!(step["details"]["refused"], true);
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_no_canary_in_console(&run);
    assert_no_canary_in_files(&s);
}

#[test]
fn a_missing_backup_is_an_error_naming_where_it_was_looked_for() {
    let (s, _) = migrated();
    let run = s.run(&["rollback", "backup_OUT_2020-01-01_000000.json"]);
    assert!(
        run.code != 0 && run.code != 3,
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr
            .contains(".hookplan/backups/backup_OUT_2020-01-01_000000.json"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_infisical_emulation_is_restored_through_faults() {
    // The backup of the file store's folder, restored into the emulation's same folder, which
    // holds what the migration wrote; 503s are injected on the way.
    let (s, file) = migrated();
    let mut post: BTreeMap<String, String> = original_store();
    post.extend(WRITTEN.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    let seeds: String = post
        .iter()
        .map(|(name, value)| format!("        secret \"{name}\" \"{value}\" path=\"/webhooks\"\n"))
        .collect();
    s.write(
        "plan.kdl",
        &format!(
            r#"plan "undo" {{ seed 7; }}
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
secret-store "vault" kind="infisical" {{
    api-url "${{sandbox.vault.url}}"
    project "demo-project"
    environment "prod"
    path "/webhooks"
    auth "universal-auth" client-id="demo-client" client-secret="${{secret.DEMO_CLIENT_SECRET:-demo-secret}}"
}}
step "undo" {{ rollback backup="{file}" to="vault"; }}
step "after" {{
    needs "undo"
    expect-secrets store="vault" {{
        secret "WEBHOOK_OUT_GITHUB_WEBHOOK_KEY" equals="${{secret.PRIOR}}"
        secret "UNRELATED_NAME" equals="${{secret.UNRELATED}}"
        secret "WEBHOOK_OUT_GITHUB_WEBHOOK_USER" present=#false
        secret "WEBHOOK_OUT_STRIPE_PAYMENT_USER" present=#false
        secret "WEBHOOK_OUT_STRIPE_PAYMENT_KEY" present=#false
    }}
}}
"#
        ),
    );
    let run = s.run_plan(&[("PRIOR", PRIOR_LONG), ("UNRELATED", UNRELATED)]);
    exits(&run, 0);
    assert_eq!(rows(&s), original_rows());
    assert_eq!(marks(&s).len(), 2, "the marks of another store stay");
    let report: Value = serde_json::from_str(&s.read("out/report.json")).unwrap();
    let undo = &report["steps"][0];
    assert_eq!(undo["status"], "passed", "{undo:#}");
    assert_eq!(undo["details"]["counts"]["restored"], 2);
    assert_eq!(report["steps"][1]["status"], "passed");
    // The step's own parts hold no canary; the report (which also holds the emulation's
    // requests) and the console hold no long one.
    assert_no_canary_in_json("the step's details", &undo["details"]);
    assert_no_long_canary("the report", &report.to_string());
    assert_no_canary_in_console(&run);
    let faults: usize = s
        .all_files()
        .iter()
        .filter(|(path, _)| path.components().any(|c| c.as_os_str() == "sandbox"))
        .map(|(_, text)| text.matches("\"status\":503").count())
        .sum();
    assert!(faults > 0, "the emulation answered no 503");
}
