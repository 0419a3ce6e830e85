//! `hookplan preview` and `hookplan run --approved`, with the real binary, a SQLite registry
//! and the file store: a preview then an approved run migrates; anything that drifted since
//! the preview (a row's key, a store value, a new webhook, another plan, an edited selection,
//! another registry) refuses the run with exit 3 before anything runs, naming the webhook and
//! how, and the store is left as it was. The preview is 0600 and holds no credential value —
//! short and word-like canaries (`0`, `ss`, `true`, `POST`) as whole JSON strings, long ones
//! as substrings — and no plain SHA-256 of one.

mod support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use support::migration::{
    OWN_TABLE, SHORT, block_on, exits, file_store, file_stored as stored, infisical_client,
    infisical_stored, sqlite_url, strings,
};
use support::{Run, Scratch};

const LONG: &str = "sk_live_canary_9e4f27";
const PRIOR_LONG: &str = "prior-canary-3d8a10";
const CHANGED_LONG: &str = "changed-canary-44c1b7";

/// The registry, canaries as values:
///   STRIPE_PAYMENT  OUT  user "POST", key "ss"
///   GITHUB_WEBHOOK  OUT  user "0",    key LONG (the store holds PRIOR_LONG under its key)
///   LEGACY_HOOK     OUT  user "true", password "0"
///   NO_CREDS        OUT  no credentials (nothing to touch)
///   INBOUND         IN   key "ss" (not selected)
const ROWS: &str = "\
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com', 'POST', 'POST', 'ss', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('GITHUB_WEBHOOK', 'OUT', 'https://api.github.com', 'POST', '0', 'sk_live_canary_9e4f27', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('LEGACY_HOOK', 'OUT', 'https://legacy.example.com', 'POST', 'true', NULL, '0');
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('NO_CREDS', 'OUT', 'https://none.example.com', 'POST', NULL, NULL, NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('INBOUND', 'IN', 'https://in.example.com', 'POST', NULL, 'ss', NULL);
";

/// The plan: the registry from `REGISTRY_URL`, the file store next to the plan.
fn plan_text(name: &str, selection: &str) -> String {
    format!(
        r#"plan "{name}" {{ seed 7; }}
database "registry" url="${{env.REGISTRY_URL}}"
secret-store "local" kind="file" {{ file "secrets.json"; path "/webhooks"; }}
step "migrate" {{ migrate from="registry" to="local" {selection}; }}
"#
    )
}

/// A SQLite registry in `file`, seeded with [`ROWS`], given its id.
fn make_registry(s: &Scratch, file: &str) {
    let seed = s.write("seed.sql", &format!("{OWN_TABLE}{ROWS}"));
    let url = sqlite_url(s, file);
    block_on(async {
        let registry = hookplan::registry::Registry::open(hookplan::registry::RegistryConfig::new(
            "registry", &url,
        ))
        .await
        .unwrap();
        assert!(registry.seed(&seed).await.unwrap());
        registry.ensure_registry_id().await.unwrap();
    });
}

fn sql(s: &Scratch, statement: &str) {
    use sqlx::Connection;
    let url = sqlite_url(s, "registry.db");
    block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

fn project() -> Scratch {
    let s = Scratch::new();
    make_registry(&s, "registry.db");
    s.write(
        "secrets.json",
        &file_store(&[("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", PRIOR_LONG)]),
    );
    s.write("plan.kdl", &plan_text("reviewed", "direction=\"OUT\""));
    s
}

fn hookplan(s: &Scratch, args: &[&str]) -> Run {
    hookplan_with(s, args, &sqlite_url(s, "registry.db"))
}

fn hookplan_with(s: &Scratch, args: &[&str], registry_url: &str) -> Run {
    s.run_env(args, &[("REGISTRY_URL", registry_url)])
}

fn preview(s: &Scratch, plan: &str) -> Run {
    hookplan(s, &["preview", plan, "--out", "preview.json"])
}

fn approved_run(s: &Scratch, plan: &str) -> Run {
    hookplan(
        s,
        &[
            "run",
            plan,
            "--approved",
            "preview.json",
            "--time-scale",
            "0",
            "--no-progress",
        ],
    )
}

/// A run refused before anything ran: exit 3, no run folder, no backup, the store as it was.
fn refused(s: &Scratch, run: &Run, store_before: &str) {
    exits(run, 3);
    assert_eq!(s.read("secrets.json"), store_before, "the store changed");
    assert!(
        !s.path().join(".hookplan/runs").exists(),
        "a run was started"
    );
    assert!(
        !s.path().join(".hookplan/backups").exists(),
        "a backup was written"
    );
}

#[test]
fn a_preview_then_an_approved_run_migrates() {
    let s = project();
    let made = preview(&s, "plan.kdl");
    exits(&made, 0);
    assert!(
        made.stdout
            .contains("step \"migrate\": 3 webhook(s) to migrate"),
        "{}",
        made.stdout
    );
    assert!(made.stdout.contains("preview.json"), "{}", made.stdout);
    // A preview writes nothing but itself.
    assert!(!s.path().join(".hookplan/backups").exists());
    assert!(!s.path().join(".hookplan/runs").exists());
    assert_eq!(
        stored(&s),
        BTreeMap::from([("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY".into(), PRIOR_LONG.into())])
    );

    let file: Value = serde_json::from_str(&s.read("preview.json")).unwrap();
    let schema =
        std::fs::read_to_string(support::repo().join("schemas/preview.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&schema).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&file)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(file["format"], "hookplan-preview");
    assert_eq!(file["version"], 1);
    assert_eq!(file["key"].as_str().unwrap().len(), 64);
    let step = &file["steps"][0];
    assert_eq!(step["name"], "migrate");
    assert_eq!(step["database"], "registry");
    assert_eq!(step["store"], "local");
    assert_eq!(step["path"], "/webhooks");
    assert_eq!(step["selection"], "direction=OUT");
    assert_eq!(step["registry_id"].as_str().unwrap().len(), 32);
    let codes: Vec<&str> = step["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["GITHUB_WEBHOOK", "LEGACY_HOOK", "STRIPE_PAYMENT"]);
    let github = &step["webhooks"][0]["targets"];
    assert_eq!(github[1]["name"], "WEBHOOK_OUT_GITHUB_WEBHOOK_KEY");
    assert!(
        github[1]["store"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    assert_eq!(github[0]["store"], Value::Null, "the store has no user");

    let run = approved_run(&s, "plan.kdl");
    exits(&run, 0);
    assert!(
        run.stderr
            .contains("Approved preview preview.json: the live state matches"),
        "{}",
        run.stderr
    );
    let store = stored(&s);
    assert_eq!(store["WEBHOOK_OUT_STRIPE_PAYMENT_KEY"], "ss");
    assert_eq!(store["WEBHOOK_OUT_GITHUB_WEBHOOK_KEY"], LONG);
    assert_eq!(store["WEBHOOK_OUT_LEGACY_HOOK_PASSWORD"], "0");
    for out in [&made.stdout, &made.stderr, &run.stdout, &run.stderr] {
        for long in [LONG, PRIOR_LONG] {
            assert!(!out.contains(long), "{out}");
        }
    }
}

#[test]
fn the_preview_is_private_and_holds_no_value_nor_a_plain_hash_of_one() {
    let s = project();
    exits(&preview(&s, "plan.kdl"), 0);
    let mode = std::fs::metadata(s.path().join("preview.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = s.read("preview.json");
    let mut all = Vec::new();
    strings(&serde_json::from_str(&text).unwrap(), &mut all);
    for short in SHORT {
        assert!(
            !all.iter().any(|v| v == short),
            "\"{short}\" is a string of the preview:\n{text}"
        );
    }
    let values = SHORT.iter().copied().chain([LONG, PRIOR_LONG]);
    for value in values {
        if value.len() > 4 {
            assert!(!text.contains(value), "{value} is in the preview");
        }
        let plain = hex::encode(Sha256::digest(value.as_bytes()));
        assert!(
            !text.contains(&plain),
            "the SHA-256 of {value} is in the preview"
        );
        assert!(!text.contains(&plain.to_uppercase()));
    }
    // Two previews of one state share no fingerprint: each has a key of its own.
    let first: Value = serde_json::from_str(&text).unwrap();
    exits(&preview(&s, "plan.kdl"), 0);
    let second: Value = serde_json::from_str(&s.read("preview.json")).unwrap();
    assert_ne!(first["key"], second["key"]);
    assert_ne!(
        first["steps"][0]["webhooks"][2]["targets"][1]["registry"],
        second["steps"][0]["webhooks"][2]["targets"][1]["registry"]
    );
}

#[test]
fn a_key_changed_in_the_registry_refuses_the_run() {
    let s = project();
    exits(&preview(&s, "plan.kdl"), 0);
    let before = s.read("secrets.json");
    sql(
        &s,
        &format!("UPDATE webhooks SET key = '{CHANGED_LONG}' WHERE code = 'STRIPE_PAYMENT'"),
    );
    let run = approved_run(&s, "plan.kdl");
    refused(&s, &run, &before);
    assert!(
        run.stderr
            .contains("STRIPE_PAYMENT: the registry's key changed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("GITHUB_WEBHOOK:"), "{}", run.stderr);
    assert!(!run.stderr.contains(CHANGED_LONG));
}

#[test]
fn a_store_value_changed_refuses_the_run() {
    let s = project();
    exits(&preview(&s, "plan.kdl"), 0);
    s.write(
        "secrets.json",
        &file_store(&[("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", CHANGED_LONG)]),
    );
    let before = s.read("secrets.json");
    let run = approved_run(&s, "plan.kdl");
    refused(&s, &run, &before);
    assert!(
        run.stderr
            .contains("GITHUB_WEBHOOK: the store's key changed (WEBHOOK_OUT_GITHUB_WEBHOOK_KEY)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(CHANGED_LONG));
}

#[test]
fn a_webhook_added_refuses_the_run() {
    let s = project();
    exits(&preview(&s, "plan.kdl"), 0);
    let before = s.read("secrets.json");
    sql(
        &s,
        "INSERT INTO webhooks (code, direction, url, method, key) VALUES ('NEW_HOOK', 'OUT', 'https://new.example.com', 'POST', 'true')",
    );
    let run = approved_run(&s, "plan.kdl");
    refused(&s, &run, &before);
    assert!(
        run.stderr.contains("NEW_HOOK: not in the preview"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_webhook_gone_refuses_the_run() {
    let s = project();
    exits(&preview(&s, "plan.kdl"), 0);
    let before = s.read("secrets.json");
    sql(&s, "DELETE FROM webhooks WHERE code = 'LEGACY_HOOK'");
    let run = approved_run(&s, "plan.kdl");
    refused(&s, &run, &before);
    assert!(
        run.stderr
            .contains("LEGACY_HOOK: in the preview, but the migration would no longer touch it"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_preview_of_another_plan_is_refused() {
    let s = project();
    s.write("other.kdl", &plan_text("other", "direction=\"OUT\""));
    exits(&preview(&s, "other.kdl"), 0);
    let before = s.read("secrets.json");
    let run = approved_run(&s, "plan.kdl");
    refused(&s, &run, &before);
    assert!(
        run.stderr
            .contains("is the preview of another plan (\"other\")"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_edited_selection_is_refused() {
    let s = project();
    exits(&preview(&s, "plan.kdl"), 0);
    let approved = s.read("preview.json");
    s.write("plan.kdl", &plan_text("reviewed", "pattern=\"STRIPE_*\""));
    let before = s.read("secrets.json");
    let run = approved_run(&s, "plan.kdl");
    refused(&s, &run, &before);
    assert!(
        run.stderr.contains("before it was edited"),
        "{}",
        run.stderr
    );

    // Held to the edited plan's hash, the preview still binds the step's selection.
    exits(&preview(&s, "plan.kdl"), 0);
    let edited: Value = serde_json::from_str(&s.read("preview.json")).unwrap();
    let mut forged: Value = serde_json::from_str(&approved).unwrap();
    forged["plan"]["canonical_hash"] = edited["plan"]["canonical_hash"].clone();
    s.write("preview.json", &forged.to_string());
    let run = approved_run(&s, "plan.kdl");
    refused(&s, &run, &before);
    assert!(
        run.stderr.contains(
            "step \"migrate\": its selection is \"direction=OUT pattern=STRIPE_*\", the preview's \"direction=OUT\""
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn another_registry_is_refused() {
    let s = project();
    // The same rows in another database, with an id of its own.
    make_registry(&s, "other.db");
    exits(&preview(&s, "plan.kdl"), 0);
    let before = s.read("secrets.json");
    let run = hookplan_with(
        &s,
        &[
            "run",
            "plan.kdl",
            "--approved",
            "preview.json",
            "--time-scale",
            "0",
            "--no-progress",
        ],
        &sqlite_url(&s, "other.db"),
    );
    refused(&s, &run, &before);
    assert!(
        run.stderr
            .contains("step \"migrate\": the registry is another one than the preview's"),
        "{}",
        run.stderr
    );
    // No webhook is named: the comparison is of another registry's rows.
    assert!(!run.stderr.contains("STRIPE_PAYMENT"), "{}", run.stderr);
}

const CLIENT_SECRET: &str = "client-secret-canary-5a7e";

#[test]
fn the_infisical_emulation_is_previewed_and_held_to_it() {
    use hookplan::store::{NewSecret, SecretStore};
    let s = Scratch::new();
    make_registry(&s, "registry.db");
    let vault = support::cli_sandbox::CliSandbox::start(
        &s,
        "vault",
        &["--infisical", "--infisical-client-secret", CLIENT_SECRET],
    );
    let api = vault.url.replace("localhost", "127.0.0.1");
    s.write(
        "plan.kdl",
        r#"plan "reviewed-vault" { seed 7; }
database "registry" url="${env.REGISTRY_URL}"
secret-store "vault" kind="infisical" {
    api-url "${env.VAULT_URL}"
    project "demo-project"
    environment "prod"
    path "/webhooks"
    auth "universal-auth" client-id="demo-client" client-secret="${secret.VAULT_SECRET}"
}
step "migrate" { migrate from="registry" to="vault" direction="OUT"; }
"#,
    );
    // The store holds one of the names already, with another value.
    block_on(async {
        infisical_client(&api, CLIENT_SECRET)
            .set(
                "/webhooks",
                NewSecret::new("WEBHOOK_OUT_STRIPE_PAYMENT_USER", PRIOR_LONG),
            )
            .await
            .unwrap();
    });
    let registry_url = sqlite_url(&s, "registry.db");
    let env = [
        ("REGISTRY_URL", registry_url.as_str()),
        ("VAULT_URL", api.as_str()),
        ("VAULT_SECRET", CLIENT_SECRET),
    ];
    let made = s.run_env(&["preview", "plan.kdl", "--out", "preview.json"], &env);
    exits(&made, 0);
    assert!(
        made.stdout.contains("3 webhook(s) to migrate"),
        "{}",
        made.stdout
    );
    assert_eq!(
        infisical_stored(&api, CLIENT_SECRET).len(),
        1,
        "a preview wrote to the store"
    );

    // Someone changes that name's value meanwhile.
    block_on(async {
        infisical_client(&api, CLIENT_SECRET)
            .set(
                "/webhooks",
                NewSecret::new("WEBHOOK_OUT_STRIPE_PAYMENT_USER", CHANGED_LONG),
            )
            .await
            .unwrap();
    });
    let approved = [
        "run",
        "plan.kdl",
        "--approved",
        "preview.json",
        "--time-scale",
        "0",
        "--no-progress",
    ];
    let run = s.run_env(&approved, &env);
    exits(&run, 3);
    assert!(
        run.stderr
            .contains("STRIPE_PAYMENT: the store's user changed (WEBHOOK_OUT_STRIPE_PAYMENT_USER)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        infisical_stored(&api, CLIENT_SECRET).len(),
        1,
        "the refused run wrote to the store"
    );
    assert!(!s.path().join(".hookplan/backups").exists());

    // Previewed again and approved, it migrates.
    exits(
        &s.run_env(&["preview", "plan.kdl", "--out", "preview.json"], &env),
        0,
    );
    let run = s.run_env(&approved, &env);
    exits(&run, 0);
    let held = infisical_stored(&api, CLIENT_SECRET);
    assert_eq!(held["WEBHOOK_OUT_STRIPE_PAYMENT_USER"], "POST");
    assert_eq!(held["WEBHOOK_OUT_GITHUB_WEBHOOK_KEY"], LONG);
    for out in [&made.stdout, &made.stderr, &run.stdout, &run.stderr] {
        for long in [LONG, PRIOR_LONG, CHANGED_LONG, CLIENT_SECRET] {
            assert!(!out.contains(long), "{out}");
        }
    }
    let text = s.read("preview.json");
    assert!(!text.contains(CLIENT_SECRET) && !text.contains(LONG));
}
