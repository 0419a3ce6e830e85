//! Backups, as issue 14 asks for them, with the real binary: the `backup` step against the
//! Infisical emulation and a SQLite registry, `hookplan backup` with the local file store,
//! `list-backups`; files 0600 in a 0700 folder, names that never overwrite, the JSON Schema
//! checked against real output, corruption found, and no credential value anywhere but in
//! the backup itself.

mod support;

use hookplan::migration::backup::{self, BackupError};
use hookplan::registry::Field;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::{Run, Scratch};

// Long canaries: if one shows up anywhere but in the backup, it leaked.
const PAY_KEY: &str = "sk_live_canary_pay_7c41d9";
const PAY_USER: &str = "canary-user-51b2e0";
const PRIOR_KEY: &str = "prior-canary-value-3e8a17";
const NEW_PASSWORD: &str = "canary-password-0d66f3";
const IN_KEY: &str = "canary-in-key-a90c2b";
const CLIENT_SECRET: &str = "canary-client-secret-44e1";

const SEED: &str = "\
CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);
INSERT INTO webhooks (code, direction, url, method, auth, user, key, enabled) VALUES ('PAY', 'OUT', 'https://api.example.com/pay', 'POST', 'bearer', 'canary-user-51b2e0', 'sk_live_canary_pay_7c41d9', '1');
INSERT INTO webhooks (code, direction, url, method, auth, password, enabled) VALUES ('NEW_HOOK', NULL, 'https://api.example.com/new', 'POST', 'basic', 'canary-password-0d66f3', '1');
INSERT INTO webhooks (code, direction, url, method, auth, key, enabled) VALUES ('GH_IN', 'IN', 'https://api.example.com/in', 'POST', 'bearer', 'canary-in-key-a90c2b', '1');
";

fn emulation_plan(step: &str) -> String {
    format!(
        r#"
plan "backups" {{ seed 14; }}

sandbox "vault" {{
    port 0
    infisical {{
        project "demo-project"
        environment "prod"
        identity client-id="demo-client" client-secret="${{secret.VAULT_SECRET}}"
        api "v3"
        secret "WEBHOOK_OUT_PAY_KEY" "${{secret.PRIOR_KEY}}" path="/webhooks"
    }}
}}

sandbox "hooks" {{
    port 0
    endpoint "/*" method="POST" status=200
}}

database "registry" url="sqlite::memory:" {{
    seed-sql "seed.sql"
}}

secret-store "infisical" kind="infisical" {{
    api-url "${{sandbox.vault.url}}"
    project "demo-project"
    environment "prod"
    path "/webhooks"
    auth "universal-auth" client-id="demo-client" client-secret="${{secret.VAULT_SECRET}}"
}}

{step}
"#
    )
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![("VAULT_SECRET", CLIENT_SECRET), ("PRIOR_KEY", PRIOR_KEY)]
}

fn backups_dir(s: &Scratch) -> PathBuf {
    s.path().join(".hookplan/backups")
}

fn backup_files(s: &Scratch) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(backups_dir(s)) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// `backup_{DIR}_{YYYY-MM-DD}_{HHMMSS}{suffix}.json`.
fn is_backup_name(name: &str, direction: &str, suffix: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix(&format!("backup_{direction}_"))
        .and_then(|n| n.strip_suffix(&format!("{suffix}.json")))
    else {
        return false;
    };
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d_%H%M%S").is_ok() && stamp.len() == 17
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn report(s: &Scratch) -> Value {
    serde_json::from_str(&s.read("out/report.json")).unwrap()
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(support::repo().join("schemas").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Every file of the scratch folder but the backups and the places values live by design
/// (the registry and its seed, the store, the sandbox's raw recordings), with the text of
/// each: the console's words, reports, events journals, logs.
fn files_but_backups(s: &Scratch) -> Vec<(PathBuf, String)> {
    s.all_files()
        .into_iter()
        .filter(|(path, _)| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // The sandbox's own recordings (0600) keep requests and answers as they were.
            let recording = name.starts_with("requests-") && name.ends_with(".jsonl");
            !path.starts_with(backups_dir(s))
                && !recording
                && !matches!(
                    name.as_str(),
                    "seed.sql" | "secrets.json" | "registry.db" | "hookplan.kdl"
                )
        })
        .collect()
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in [
        PAY_KEY,
        PAY_USER,
        PRIOR_KEY,
        NEW_PASSWORD,
        IN_KEY,
        CLIENT_SECRET,
    ] {
        assert!(!text.contains(canary), "{what} shows {canary}:\n{text}");
    }
}

#[test]
fn a_backup_step_writes_the_selection_and_the_stores_prior_values_before_anything_changes() {
    let s = Scratch::new();
    s.write("seed.sql", SEED);
    s.write(
        "plan.kdl",
        &emulation_plan(
            r#"
step "b" { backup from="registry" to="infisical" direction="OUT"; }
step "use" {
    needs "b"
    http "POST" "${sandbox.hooks.url}/webhook/${steps.b.backup}"
    expect status=200
}
"#,
        ),
    );
    let check = s.run_env(&["check", "plan.kdl"], &env());
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let out = s.run_plan(&env());
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // One file, named as the spec names it, owner-only in an owner-only folder.
    let files = backup_files(&s);
    assert_eq!(files.len(), 1, "{files:?}");
    let path = &files[0];
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(is_backup_name(&file, "OUT", ""), "{file}");
    assert_eq!(mode(path), 0o600);
    assert_eq!(mode(&backups_dir(&s)), 0o700);

    // Its schema holds for the real file, and the reader verifies and exposes it.
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let errors = schema_errors(&validator("backup.schema.json"), &json);
    assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
    let read = backup::read(path).unwrap();
    assert_eq!(read.header.database, "registry");
    assert_eq!(read.header.store, "infisical");
    assert_eq!(read.header.path, "/webhooks");
    assert_eq!(read.header.selection, "direction=OUT");
    assert_eq!(read.header.direction, "OUT");
    assert_eq!(read.header.registry_id.len(), 32);
    let codes: Vec<&str> = read.entries.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(
        codes,
        ["NEW_HOOK", "PAY"],
        "OUT only, a row without a direction is OUT"
    );
    let pay = &read.entries[1];
    let credential = |field: Field| {
        pay.credentials
            .iter()
            .find(|(f, _)| *f == field)
            .and_then(|(_, v)| v.as_ref())
            .map(|v| v.expose().to_string())
    };
    assert_eq!(credential(Field::Key).as_deref(), Some(PAY_KEY));
    assert_eq!(credential(Field::User).as_deref(), Some(PAY_USER));
    assert_eq!(credential(Field::Password), None);
    let priors: Vec<(&str, Option<&str>)> = pay
        .store
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_ref().map(|v| v.expose())))
        .collect();
    assert_eq!(
        priors,
        [
            ("WEBHOOK_OUT_PAY_USER", None),
            ("WEBHOOK_OUT_PAY_KEY", Some(PRIOR_KEY)),
        ]
    );
    assert_eq!(pay.store[1].version, Some(1));
    let new = &read.entries[0];
    assert_eq!(new.store.len(), 1);
    assert_eq!(new.store[0].name, "WEBHOOK_OUT_NEW_HOOK_PASSWORD");
    assert_eq!(new.store[0].value, None, "absent before the migration");

    // The report: the file, the count and the checksum, schema-valid; the next step got the
    // published name.
    let report = report(&s);
    let errors = schema_errors(&validator("report.schema.json"), &report);
    assert!(errors.is_empty(), "{errors:#?}");
    let details = &report["steps"][0]["details"];
    assert_eq!(details["file"], file.as_str());
    assert_eq!(details["webhooks"], 2);
    assert_eq!(details["checksum"], read.checksum.as_str());
    let sent = report["steps"][1]["request"]["url"].as_str().unwrap();
    assert!(sent.ends_with(&format!("/webhook/{file}")), "{sent}");

    // No value anywhere but in the backup: console, report, journal, logs.
    assert_no_canary("the console", &format!("{}{}", out.stdout, out.stderr));
    for (path, text) in files_but_backups(&s) {
        assert_no_canary(&path.display().to_string(), &text);
    }
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(PAY_KEY) && text.contains(PRIOR_KEY));
}

#[test]
fn a_selection_that_matches_nothing_writes_no_backup_and_says_so() {
    let s = Scratch::new();
    s.write("seed.sql", SEED);
    s.write(
        "plan.kdl",
        &emulation_plan(r#"step "b" { backup to="infisical" pattern="NOPE_*"; }"#),
    );
    let out = s.run_plan(&env());
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!s.path().join(".hookplan/backups").exists());
    let details = &report(&s)["steps"][0]["details"];
    assert_eq!(details["file"], Value::Null);
    assert_eq!(details["webhooks"], 0);
    assert_eq!(
        details["note"],
        "Found 0 webhook(s) to back up: no backup written"
    );
    // `webhook=` picks one whatever its direction; its own direction names the file.
    s.write(
        "plan.kdl",
        &emulation_plan(r#"step "b" { backup to="infisical" webhook="GH_IN"; }"#),
    );
    let out = s.run_plan(&env());
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let files = backup_files(&s);
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("backup_IN_"), "{name}");
    let read = backup::read(&files[0]).unwrap();
    assert_eq!(read.header.selection, "webhook=GH_IN");
    assert_eq!(read.entries.len(), 1);
}

#[test]
fn a_plan_with_a_bad_selection_is_refused_by_check() {
    let s = Scratch::new();
    s.write("seed.sql", SEED);
    s.write(
        "plan.kdl",
        &emulation_plan(r#"step "b" { backup direction="SIDEWAYS" pattern="["; }"#),
    );
    let out = s.run_env(&["check", "plan.kdl"], &env());
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("\"SIDEWAYS\" is not a direction"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("\"[\" is not a pattern of webhook codes"),
        "{}",
        out.stderr
    );
}

/// A project whose registry is a SQLite file seeded with these rows and whose store is a
/// local file; direct commands read both.
fn project(rows: &str) -> Scratch {
    let s = Scratch::new();
    s.write("seed.sql", rows);
    s.write(
        "hookplan.kdl",
        "database \"registry\" url=\"sqlite://reg.db\" { seed-sql \"seed.sql\"; }\nsecret-store \"local\" kind=\"file\" { file \"secrets.json\"; }\n",
    );
    s
}

fn utc_stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d_%H%M%S").to_string()
}

#[test]
fn the_backup_command_never_overwrites_a_backup_and_leaves_nothing_when_it_cannot_write() {
    let s = project(SEED);
    // The names of the next few seconds are taken: the backup gets a `-2`.
    std::fs::create_dir_all(backups_dir(&s)).unwrap();
    std::fs::set_permissions(backups_dir(&s), std::fs::Permissions::from_mode(0o755)).unwrap();
    let now = chrono::Utc::now();
    let taken: Vec<String> = (0..6)
        .map(|n| {
            format!(
                "backup_OUT_{}.json",
                utc_stamp(now + chrono::Duration::seconds(n))
            )
        })
        .collect();
    for name in &taken {
        std::fs::write(backups_dir(&s).join(name), "taken").unwrap();
    }
    let out = s.run(&["backup"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let line = out.stdout.lines().next().unwrap();
    let made = line
        .strip_prefix("Backup created: .hookplan/backups/")
        .unwrap_or_else(|| panic!("{}", out.stdout))
        .to_string();
    assert!(is_backup_name(&made, "OUT", "-2"), "{made}");
    assert!(taken.contains(&made.replace("-2.json", ".json")), "{made}");
    assert_eq!(out.stdout.lines().nth(1), Some("Webhooks: 2"));
    for name in &taken {
        assert_eq!(
            std::fs::read_to_string(backups_dir(&s).join(name)).unwrap(),
            "taken"
        );
    }
    assert_eq!(mode(&backups_dir(&s).join(&made)), 0o600);
    // The folder existed: hookplan left its mode alone.
    assert_eq!(mode(&backups_dir(&s)), 0o755);
    let read = backup::read(&backups_dir(&s).join(&made)).unwrap();
    assert_eq!(read.header.store, "local");
    assert_no_canary("the console", &format!("{}{}", out.stdout, out.stderr));

    // A backup that cannot be written is an error, and nothing is left behind.
    let t = project(SEED);
    std::fs::create_dir_all(t.path().join(".hookplan")).unwrap();
    std::fs::write(t.path().join(".hookplan/backups"), "a file, not a folder").unwrap();
    let out = t.run(&["backup", "--direction", "IN"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("no backup written: cannot write the backup into .hookplan/backups"),
        "{}",
        out.stderr
    );
    assert_no_canary("the console", &format!("{}{}", out.stdout, out.stderr));
    let leftovers: Vec<PathBuf> = t
        .all_files()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A valid backup written by hand, as the format says (the checksum over every byte before
/// its trailer).
fn handmade(direction: &str, created_at: &str, codes: &[&str]) -> String {
    let webhooks: Vec<String> = codes
        .iter()
        .map(|code| {
            format!(
                r#"    {{"code":"{code}","direction":"{direction}","credentials":{{"user":null,"key":"{PAY_KEY}","password":null,"signing-secret":null}},"store":[{{"field":"key","name":"WEBHOOK_{direction}_{code}_KEY","prior":null}}]}}"#
            )
        })
        .collect();
    let body = format!(
        "{{\n  \"format\": \"hookplan-backup\",\n  \"version\": 1,\n  \"registry_id\": \"0123456789abcdef0123456789abcdef\",\n  \"database\": \"registry\",\n  \"store\": \"local\",\n  \"path\": \"/webhooks\",\n  \"selection\": \"direction={direction}\",\n  \"direction\": \"{direction}\",\n  \"created_at\": \"{created_at}\",\n  \"webhooks\": [\n{}\n  ],\n  \"count\": {}",
        webhooks.join(",\n"),
        codes.len()
    );
    let sum = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{body},\n  \"checksum\": \"sha256:{sum}\"\n}}\n")
}

#[test]
fn list_backups_shows_the_table_newest_last_and_marks_a_corrupt_one() {
    let s = Scratch::new();
    let dir = backups_dir(&s);
    std::fs::create_dir_all(&dir).unwrap();
    let first = handmade("OUT", "2026-02-08T14:30:00Z", &["A", "B"]);
    let second = handmade("OUT", "2026-02-08T14:30:00Z", &["C"]);
    let third = handmade("IN", "2026-02-09T08:00:00Z", &["D", "E", "F"]);
    // The handmade file is a backup as hookplan writes them.
    let json: Value = serde_json::from_str(&first).unwrap();
    let errors = schema_errors(&validator("backup.schema.json"), &json);
    assert!(errors.is_empty(), "{errors:#?}");
    std::fs::write(dir.join("backup_IN_2026-02-09_080000.json"), &third).unwrap();
    std::fs::write(dir.join("backup_OUT_2026-02-08_143000-2.json"), &second).unwrap();
    std::fs::write(dir.join("backup_OUT_2026-02-08_143000.json"), &first).unwrap();
    // Corrupt: one byte changed (a value), and one cut short.
    let flipped = third.replacen(PAY_KEY, "sk_live_canary_pay_7c41d8", 1);
    std::fs::write(dir.join("backup_IN_2026-02-10_000000.json"), flipped).unwrap();
    std::fs::write(
        dir.join("backup_OUT_2026-02-11_000000.json"),
        &first[..first.len() / 2],
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a backup").unwrap();
    let sum = |text: &str| {
        let hex = &text[text.find("sha256:").unwrap() + 7..];
        hex[..12].to_string()
    };
    let out = s.run(&["list-backups"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let expected = format!(
        "\
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┓
┃ Backup                              ┃ Direction ┃ Webhooks ┃ Created (UTC)       ┃ Checksum       ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━┩
│ backup_OUT_2026-02-08_143000.json   │ OUT       │        2 │ 2026-02-08 14:30:00 │ ✓ {} │
│ backup_OUT_2026-02-08_143000-2.json │ OUT       │        1 │ 2026-02-08 14:30:00 │ ✓ {} │
│ backup_IN_2026-02-09_080000.json    │ IN        │        3 │ 2026-02-09 08:00:00 │ ✓ {} │
│ backup_IN_2026-02-10_000000.json    │ IN        │        ? │ ?                   │ ✗ BAD          │
│ backup_OUT_2026-02-11_000000.json   │ OUT       │        ? │ ?                   │ ✗ BAD          │
└─────────────────────────────────────┴───────────┴──────────┴─────────────────────┴────────────────┘
",
        sum(&first),
        sum(&second),
        sum(&third)
    );
    assert_eq!(out.stdout, expected);
    assert_eq!(
        out.stderr,
        "warning: backup .hookplan/backups/backup_IN_2026-02-10_000000.json is corrupt: its checksum does not match its contents\n\
         warning: backup .hookplan/backups/backup_OUT_2026-02-11_000000.json is corrupt: it does not end with its checksum\n"
    );
    assert_no_canary("list-backups", &format!("{}{}", out.stdout, out.stderr));

    let out = s.run(&["list-backups", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    let oks: Vec<(String, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["backup"].as_str().unwrap().to_string(),
                b["checksum_ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(oks.iter().filter(|(_, ok)| *ok).count(), 3, "{oks:?}");
    assert_eq!(listed[0]["webhooks"], 2);
    assert_no_canary("list-backups --json", &out.stdout);

    // The reader refuses both corrupt ones with a typed error, the good ones it reads.
    let flipped = backup::read(&dir.join("backup_IN_2026-02-10_000000.json")).unwrap_err();
    assert!(matches!(flipped, BackupError::Checksum { .. }), "{flipped}");
    let cut = backup::read(&dir.join("backup_OUT_2026-02-11_000000.json")).unwrap_err();
    assert!(cut.is_corrupt(), "{cut}");
    assert!(!format!("{flipped} {cut}").contains(PAY_KEY));
    assert_eq!(
        backup::read(&dir.join("backup_IN_2026-02-09_080000.json"))
            .unwrap()
            .entries
            .len(),
        3
    );

    // An empty folder is said so.
    let empty = Scratch::new();
    let out = empty.run(&["list-backups"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "No backups in .hookplan/backups\n")
    );
}

#[test]
fn a_backup_written_then_corrupted_is_found_out() {
    let s = project(SEED);
    let out = s.run(&["backup"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let path = backup_files(&s).pop().unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(backup::read(&path).is_ok());
    // One bit of one value.
    let at = String::from_utf8_lossy(&good).find(PAY_KEY).unwrap();
    let mut bad = good.clone();
    bad[at] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let error = backup::read(&path).unwrap_err();
    assert!(matches!(error, BackupError::Checksum { .. }), "{error}");
    let listed = s.run(&["list-backups"]);
    assert_eq!(listed.code, 0);
    assert!(listed.stdout.contains("✗ BAD"), "{}", listed.stdout);
    // Its checksum member changed instead: also found.
    let text = String::from_utf8(good).unwrap();
    let at = text.rfind("sha256:").unwrap() + 7;
    let mut other = text.clone();
    let swapped = if &text[at..at + 1] == "0" { "1" } else { "0" };
    other.replace_range(at..at + 1, swapped);
    std::fs::write(&path, other).unwrap();
    assert!(backup::read(&path).unwrap_err().is_corrupt());
}

#[test]
fn short_canaries_are_held_exactly_by_the_backup_and_by_nothing_else() {
    // Values as short as `0`, `ss`, `true`, `POST`: they can neither crash nor be masked
    // into the report's words (`true`, `POST`, `0` appear there as themselves).
    let s = project(
        "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);
INSERT INTO webhooks (code, direction, url, method, auth, user, key, password, signing_secret, enabled) VALUES ('TINY', 'OUT', 'https://api.example.com/t', 'POST', 'basic', '0', 'ss', 'true', 'POST', '1');
",
    );
    s.write(
        "secrets.json",
        r#"{"format":1,"folders":{"/webhooks":{"WEBHOOK_OUT_TINY_KEY":{"value":"ss","version":4,"updated_at":"2026-01-01T00:00:00.000Z"}}}}"#,
    );
    let out = s.run(&["backup", "--webhook", "TINY"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("***"), "{}", out.stdout);
    let path = backup_files(&s).pop().unwrap();
    let read = backup::read(&path).unwrap();
    let entry = &read.entries[0];
    let values: Vec<(Field, Option<&str>)> = entry
        .credentials
        .iter()
        .map(|(f, v)| (*f, v.as_ref().map(|v| v.expose())))
        .collect();
    assert_eq!(
        values,
        [
            (Field::User, Some("0")),
            (Field::Key, Some("ss")),
            (Field::Password, Some("true")),
            (Field::SigningSecret, Some("POST")),
        ]
    );
    let key = entry.store.iter().find(|p| p.field == Field::Key).unwrap();
    assert_eq!(key.value.as_ref().map(|v| v.expose()), Some("ss"));
    assert_eq!(key.version, Some(4));
    // Debug never shows a value.
    let debug = format!("{read:?}");
    assert!(
        !debug.contains("\"ss\"") && !debug.contains("\"POST\""),
        "{debug}"
    );
    // The run's report is intact (nothing masked in it) and names no value.
    let reports: Vec<(PathBuf, String)> = s
        .all_files()
        .into_iter()
        .filter(|(p, _)| p.ends_with("report.json"))
        .collect();
    assert_eq!(reports.len(), 1);
    let report: Value = serde_json::from_str(&reports[0].1).unwrap();
    assert!(!reports[0].1.contains("***"), "{}", reports[0].1);
    let details = &report["steps"][0]["details"];
    let keys: Vec<&str> = details
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "file",
            "folder",
            "direction",
            "selection",
            "database",
            "store",
            "webhooks",
            "checksum"
        ]
    );
    let run = |r: Run| format!("{}{}", r.stdout, r.stderr);
    let listed = run(s.run(&["list-backups"]));
    for word in ["\"ss\"", "\"POST\"", "\"true\""] {
        assert!(!listed.contains(word), "{listed}");
    }
}

#[test]
fn a_store_that_cannot_be_read_stops_the_backup_before_any_file() {
    let s = Scratch::new();
    s.write("seed.sql", SEED);
    s.write(
        "plan.kdl",
        &emulation_plan(r#"step "b" { backup to="infisical"; }"#).replacen(
            "client-secret=\"${secret.VAULT_SECRET}\"\n}",
            "client-secret=\"${secret.WRONG_SECRET}\"\n}",
            1,
        ),
    );
    let mut env = env();
    env.push(("WRONG_SECRET", "wrong-secret"));
    let out = s.run_plan(&env);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let report = report(&s);
    let message = report["steps"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("no backup written: "), "{message}");
    assert!(!backups_dir(&s).exists(), "no folder, no file");
    assert_no_canary("the console", &format!("{}{}", out.stdout, out.stderr));
}

#[test]
fn a_registry_of_several_pages_is_backed_up_in_order_with_each_prior_value_in_its_place() {
    let s = Scratch::new();
    let mut seed = String::from(
        "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);\n",
    );
    for n in 0..1_203 {
        let direction = if n % 5 == 4 { "IN" } else { "OUT" };
        seed.push_str(&format!(
            "INSERT INTO webhooks (code, direction, url, auth, key) VALUES ('H{n:04}', '{direction}', 'https://api.example.com/{n}', 'bearer', 'key-{n}');\n"
        ));
    }
    s.write("seed.sql", &seed);
    let plan = emulation_plan(r#"step "b" { backup to="infisical" direction="OUT"; }"#).replacen(
        "        secret \"WEBHOOK_OUT_PAY_KEY\" \"${secret.PRIOR_KEY}\" path=\"/webhooks\"\n",
        "        secret \"WEBHOOK_OUT_H0007_KEY\" \"prior-7\" path=\"/webhooks\"\n        secret \"WEBHOOK_OUT_H0513_KEY\" \"prior-513\" path=\"/webhooks\"\n        secret \"WEBHOOK_OUT_H1202_KEY\" \"prior-1202\" path=\"/webhooks\"\n",
        1,
    );
    s.write("plan.kdl", &plan);
    let out = s.run_plan(&env());
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let read = backup::read(&backup_files(&s)[0]).unwrap();
    let expected: Vec<String> = (0..1_203)
        .filter(|n| n % 5 != 4)
        .map(|n| format!("H{n:04}"))
        .collect();
    let codes: Vec<&str> = read.entries.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, expected);
    for entry in &read.entries {
        let n: usize = entry.code[1..].parse().unwrap();
        let key = entry
            .credentials
            .iter()
            .find(|(f, _)| *f == Field::Key)
            .and_then(|(_, v)| v.as_ref())
            .unwrap();
        assert_eq!(key.expose(), format!("key-{n}"));
        assert_eq!(entry.store.len(), 1);
        assert_eq!(
            entry.store[0].name,
            format!("WEBHOOK_OUT_{}_KEY", entry.code)
        );
        let prior = entry.store[0]
            .value
            .as_ref()
            .map(|v| v.expose().to_string());
        let wanted = [7, 513, 1202].contains(&n).then(|| format!("prior-{n}"));
        assert_eq!(prior, wanted, "{}", entry.code);
    }
    assert_eq!(
        report(&s)["steps"][0]["details"]["webhooks"],
        expected.len()
    );

    // One webhook at a time, and a read that stops early.
    let mut seen = Vec::new();
    let each = backup::read_each(&backup_files(&s)[0], |entry| {
        seen.push(entry.code);
        if seen.len() == 10 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(each.stopped);
    assert_eq!(each.count, expected.len() as u64);
    assert_eq!(seen, expected[..10]);
    assert_eq!(each.checksum, read.checksum);
}
