//! `verify` and `hookplan verify`, with the real binary: each selected webhook's credentials
//! read back from the store and compared exactly with the registry's — against a SQLite
//! registry with the file store, and the sandbox's Infisical emulation (v3 only, through
//! injected 503s) in a plan. Canary values (`0`, `ss`, `true`, `POST`, and one long one) never
//! show in the lines, the JSON or the report.

mod support;

use hookplan::registry::{Field, Registry, RegistryConfig};
use serde_json::Value;
use support::Scratch;
use support::migration::{OWN_TABLE, SHORT, block_on, exits, file_store, strings};

/// A long canary: no substring of anything hookplan writes by chance.
const LONG: &str = "sk_live_canary_7f3a91";

/// The registry, canaries as values:
///   STRIPE_PAYMENT  OUT  user "POST", key "ss"
///   GITHUB_WEBHOOK  OUT  user "0",    key LONG
///   LEGACY_HOOK     OUT  user "true", password "0"
///   NO_CREDS        OUT  no credentials: not counted
///   INBOUND         IN   no credentials: not counted
///   CLEARED         IN   cleared; the tables place its key in the store
const ROWS: &str = "\
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('STRIPE_PAYMENT', 'OUT', 'https://api.stripe.com', 'POST', 'POST', 'ss', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('GITHUB_WEBHOOK', 'OUT', 'https://api.github.com', 'POST', '0', 'sk_live_canary_7f3a91', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('LEGACY_HOOK', 'OUT', 'https://legacy.example.com', 'POST', 'true', NULL, '0');
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('NO_CREDS', 'OUT', 'https://none.example.com', 'POST', NULL, ' ', NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('INBOUND', 'IN', 'https://in.example.com', 'GET', NULL, NULL, NULL);
INSERT INTO webhooks (code, direction, url, method, user, key, password) VALUES ('CLEARED', 'IN', 'https://cleared.example.com', 'POST', NULL, '', NULL);
";

/// What the store holds when everything was migrated (name, value), under `/webhooks`.
const MIGRATED: &[(&str, &str)] = &[
    ("WEBHOOK_OUT_STRIPE_PAYMENT_USER", "POST"),
    ("WEBHOOK_OUT_STRIPE_PAYMENT_KEY", "ss"),
    ("WEBHOOK_OUT_GITHUB_WEBHOOK_USER", "0"),
    ("WEBHOOK_OUT_GITHUB_WEBHOOK_KEY", "sk_live_canary_7f3a91"),
    ("WEBHOOK_OUT_LEGACY_HOOK_USER", "true"),
    ("WEBHOOK_OUT_LEGACY_HOOK_PASSWORD", "0"),
    ("MOVED_CLEARED_KEY", "true"),
];

/// [`MIGRATED`] with some names changed to other values, and some left out.
fn store_with(changed: &[(&str, &str)], without: &[&str]) -> Vec<(&'static str, String)> {
    MIGRATED
        .iter()
        .filter(|(name, _)| !without.contains(name))
        .map(|(name, value)| {
            let value = changed
                .iter()
                .find(|(n, _)| n == name)
                .map_or(*value, |(_, v)| *v);
            (*name, value.to_string())
        })
        .collect()
}

/// A SQLite registry holding [`ROWS`], CLEARED's key recorded at `location` (as
/// `--clear-database` leaves it), and a file store holding `stored`.
fn sqlite_project(location: &str, stored: &[(&str, String)]) -> Scratch {
    let s = Scratch::new();
    s.write("webhooks.sql", &format!("{OWN_TABLE}{ROWS}"));
    let url = format!("sqlite://{}", s.path().join("registry.db").display());
    let seed = s.path().join("webhooks.sql");
    block_on(async {
        let registry = Registry::open(RegistryConfig::new("registry", &url))
            .await
            .unwrap();
        assert!(registry.seed(&seed).await.unwrap());
        registry
            .set_credential_location("CLEARED", Field::Key, location)
            .await
            .unwrap();
    });
    s.write("secrets.json", &file_store(stored));
    s.write("hookplan.kdl", CONFIG);
    s
}

const CONFIG: &str = r#"database "registry" url="sqlite://registry.db"
secret-store "local" kind="file" { file "secrets.json"; path "/webhooks"; }
"#;

fn assert_no_canary_in_json(json: &Value) {
    let mut all = Vec::new();
    strings(json, &mut all);
    for s in &all {
        assert!(!SHORT.contains(&s.as_str()), "a value in the JSON: {s}");
        assert!(!s.contains(LONG), "a value in the JSON: {s}");
    }
}

/// No word of the text is a short canary, and the long one is nowhere in it.
fn assert_no_canary_in_words(text: &str) {
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        assert!(
            !SHORT.contains(&word),
            "a value in the text: {word}\n{text}"
        );
    }
    assert!(!text.contains(LONG), "{text}");
}

/// A plan run's console: no line of it is a short canary, no word of it is one but `0` (which
/// the header's `time scale 0` holds), and the long one is nowhere in it.
fn assert_no_canary_in_console(text: &str) {
    for line in text.lines() {
        assert!(!SHORT.contains(&line.trim()), "a value in the text: {line}");
    }
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        assert!(
            word == "0" || !SHORT.contains(&word),
            "a value in the text: {word}\n{text}"
        );
    }
    assert!(!text.contains(LONG), "{text}");
}

/// Nothing in the folder holds the long canary but the registry, the store and the plan.
fn assert_no_long_canary_in_files(s: &Scratch) {
    for (path, text) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("registry.db")
            || name == "secrets.json"
            || name == "webhooks.sql"
            || name == "plan.kdl"
            || path.components().any(|c| c.as_os_str() == "sandbox")
        {
            continue;
        }
        assert!(!text.contains(LONG), "{} holds a value", path.display());
    }
}

/// Each webhook's (code, status, fields, mismatched, missing) in a verify step's details.
fn verdicts(details: &Value) -> Vec<(String, String, String, String, String)> {
    let join = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    };
    details["webhooks"]
        .as_array()
        .expect("webhooks")
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap().to_string(),
                w["status"].as_str().unwrap().to_string(),
                join(&w["fields"]),
                join(&w["mismatched"]),
                join(&w["missing"]),
            )
        })
        .collect()
}

fn verdict(
    code: &str,
    status: &str,
    fields: &str,
    mismatched: &str,
    missing: &str,
) -> (String, String, String, String, String) {
    (
        code.into(),
        status.into(),
        fields.into(),
        mismatched.into(),
        missing.into(),
    )
}

#[test]
fn all_verified_prints_the_specs_lines() {
    let stored = store_with(&[], &[]);
    let s = sqlite_project("local:/webhooks/MOVED_CLEARED_KEY", &stored);
    let before = s.read("secrets.json");

    let run = s.run(&["verify"]);
    exits(&run, 0);
    assert_eq!(
        run.stdout,
        "\
Verifying migration...
[GITHUB_WEBHOOK] Verified successfully
[LEGACY_HOOK] Verified successfully
[STRIPE_PAYMENT] Verified successfully
All migrations verified successfully!
",
        "OUT by default; NO_CREDS has nothing to verify"
    );
    assert_no_canary_in_words(&run.stdout);
    assert_no_canary_in_words(&run.stderr);

    // The tables place CLEARED's key in the store: it is verified there.
    let run = s.run(&["verify", "--direction", "IN"]);
    exits(&run, 0);
    assert_eq!(
        run.stdout,
        "Verifying migration...\n[CLEARED] Verified successfully\nAll migrations verified successfully!\n"
    );
    let run = s.run(&["verify", "--pattern", "STRIPE_*"]);
    exits(&run, 0);
    assert_eq!(
        run.stdout,
        "Verifying migration...\n[STRIPE_PAYMENT] Verified successfully\nAll migrations verified successfully!\n"
    );
    let run = s.run(&["verify", "--webhook", "INBOUND"]);
    exits(&run, 0);
    assert_eq!(
        run.stdout,
        "Verifying migration...\nFound 0 webhook(s) to verify\n"
    );

    let run = s.run(&["verify", "--direction", "ALL", "--json"]);
    exits(&run, 0);
    let json: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        verdicts(&json),
        [
            verdict("CLEARED", "verified", "key", "", ""),
            verdict("GITHUB_WEBHOOK", "verified", "user,key", "", ""),
            verdict("LEGACY_HOOK", "verified", "user,pass", "", ""),
            verdict("STRIPE_PAYMENT", "verified", "user,key", "", ""),
        ]
    );
    assert_eq!(json["counts"]["total"], 4);
    assert_eq!(json["counts"]["verified"], 4);
    assert_eq!(json["selection"], "all");
    assert_no_canary_in_json(&json);
    assert_no_long_canary_in_files(&s);
    assert_eq!(s.read("secrets.json"), before, "verify changes nothing");
}

#[test]
fn a_mismatch_fails_with_its_fields_and_exit_1() {
    // Compared exactly: "0 " is not "0".
    let stored = store_with(
        &[
            ("WEBHOOK_OUT_GITHUB_WEBHOOK_USER", "0 "),
            (
                "WEBHOOK_OUT_GITHUB_WEBHOOK_KEY",
                "sk_live_canary_7f3a91_rotated",
            ),
        ],
        &[],
    );
    let s = sqlite_project("local:/webhooks/MOVED_CLEARED_KEY", &stored);
    let run = s.run(&["verify"]);
    exits(&run, 1);
    assert_eq!(
        run.stdout,
        "\
Verifying migration...
[GITHUB_WEBHOOK] Verification failed - user,key differs in the store
[LEGACY_HOOK] Verified successfully
[STRIPE_PAYMENT] Verified successfully
Verification failed for 1 of 3 webhook(s)
"
    );
    assert!(!run.stdout.contains("All migrations verified"));
    assert_no_canary_in_words(&run.stdout);
    assert_no_canary_in_words(&run.stderr);

    let run = s.run(&["verify", "--json"]);
    exits(&run, 1);
    let json: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        verdicts(&json)[0],
        verdict("GITHUB_WEBHOOK", "mismatch", "user,key", "user,key", "")
    );
    assert_eq!(json["counts"]["mismatch"], 1);
    assert_eq!(json["counts"]["verified"], 2);
    assert_no_canary_in_json(&json);
    // The others alone pass.
    let run = s.run(&["verify", "--pattern", "*_HOOK"]);
    exits(&run, 0);
    assert_no_long_canary_in_files(&s);
}

#[test]
fn a_credential_missing_from_the_store_fails() {
    let stored = store_with(
        &[],
        &["WEBHOOK_OUT_LEGACY_HOOK_PASSWORD", "MOVED_CLEARED_KEY"],
    );
    let s = sqlite_project("local:/webhooks/MOVED_CLEARED_KEY", &stored);
    let run = s.run(&["verify", "--direction", "ALL"]);
    exits(&run, 1);
    assert_eq!(
        run.stdout,
        "\
Verifying migration...
[CLEARED] Verification failed - key missing from the store
[GITHUB_WEBHOOK] Verified successfully
[LEGACY_HOOK] Verification failed - pass missing from the store
[STRIPE_PAYMENT] Verified successfully
Verification failed for 2 of 4 webhook(s)
"
    );
    assert_no_canary_in_words(&run.stdout);
    let run = s.run(&["verify", "--direction", "ALL", "--json"]);
    exits(&run, 1);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        verdicts(&json)[2],
        verdict("LEGACY_HOOK", "missing", "user,pass", "", "pass")
    );
    assert_eq!(json["counts"]["missing"], 2);
    assert_no_canary_in_json(&json);

    // An empty store: everything with credentials is missing; nothing else is counted.
    s.write("secrets.json", &file_store::<&str>(&[]));
    let run = s.run(&["verify"]);
    exits(&run, 1);
    assert_eq!(
        run.stdout.lines().last(),
        Some("Verification failed for 3 of 3 webhook(s)")
    );
}

#[test]
fn the_infisical_emulation_v3_only_through_faults() {
    let stored = store_with(
        &[(
            "WEBHOOK_OUT_GITHUB_WEBHOOK_KEY",
            "sk_live_canary_7f3a91_rotated",
        )],
        &[],
    );
    let s = sqlite_project("vault:/MOVED_CLEARED_KEY", &stored);
    let seeds: String = stored
        .iter()
        .map(|(name, value)| format!("        secret \"{name}\" \"{value}\"\n"))
        .collect();
    s.write(
        "plan.kdl",
        &format!(
            r#"plan "verify" {{ seed 7; }}
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
step "good" {{ verify to="vault" direction="ALL" pattern="[CLS]*"; }}
step "bad" {{ verify from="registry" to="vault" webhook="GITHUB_WEBHOOK"; }}
"#
        ),
    );
    let run = s.run_plan(&[]);
    exits(&run, 1);
    let report: Value = serde_json::from_str(&s.read("out/report.json")).unwrap();
    let good = &report["steps"][0];
    assert_eq!(good["kind"], "verify");
    assert_eq!(good["status"], "passed", "{good}");
    assert_eq!(
        verdicts(&good["details"]),
        [
            verdict("CLEARED", "verified", "key", "", ""),
            verdict("LEGACY_HOOK", "verified", "user,pass", "", ""),
            verdict("STRIPE_PAYMENT", "verified", "user,key", "", ""),
        ]
    );
    assert_eq!(good["details"]["path"], "/");
    let bad = &report["steps"][1];
    assert_eq!(bad["status"], "failed", "{bad}");
    assert_eq!(bad["message"], "Verification failed for 1 of 1 webhook(s)");
    assert_eq!(
        verdicts(&bad["details"]),
        [verdict("GITHUB_WEBHOOK", "mismatch", "user,key", "key", "")]
    );
    assert_eq!(bad["details"]["selection"], "webhook=GITHUB_WEBHOOK");
    // The report also holds the emulation's requests (their methods are `POST`): the steps'
    // own parts hold no short canary, and nothing anywhere holds the long one.
    assert_no_canary_in_json(good);
    assert_no_canary_in_json(bad);
    assert!(!report.to_string().contains(LONG));
    assert_no_canary_in_console(&run.stdout);
    assert_no_canary_in_console(&run.stderr);
    assert_no_long_canary_in_files(&s);

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
    leaky["steps"][1]["details"]["webhooks"][0]["value"] = Value::String("x".into());
    assert!(
        !validator.is_valid(&leaky),
        "a value field would be refused"
    );

    // The faults were exercised: the emulation's recordings hold 503s.
    let faults: usize = s
        .all_files()
        .iter()
        .filter(|(path, _)| path.components().any(|c| c.as_os_str() == "sandbox"))
        .map(|(_, text)| text.matches("\"status\":503").count())
        .sum();
    assert!(faults > 0, "the emulation answered no 503");
}

#[test]
fn bad_filters_are_usage_errors() {
    let s = sqlite_project("local:/webhooks/MOVED_CLEARED_KEY", &store_with(&[], &[]));
    let run = s.run(&["verify", "--direction", "SIDEWAYS"]);
    exits(&run, 2);
    let run = s.run(&["verify", "--pattern", "["]);
    exits(&run, 2);
    assert!(run.stderr.contains("is not a pattern"), "{}", run.stderr);
    s.write(
        "plan.kdl",
        "plan \"p\"\nstep \"s\" { verify from=\"registry\" to=\"local\" direction=\"UP\" pattern=\"[\"; }\n",
    );
    let run = s.run(&["check", "plan.kdl"]);
    exits(&run, 2);
    for needle in ["\"UP\" is not a direction", "not a pattern"] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
}

#[test]
fn the_registry_is_read_page_by_page() {
    use hookplan::migration::Selection;
    use hookplan::migration::verify::{Outcome, verify_pages};
    let s = sqlite_project("local:/webhooks/MOVED_CLEARED_KEY", &store_with(&[], &[]));
    block_on(async {
        let url = format!("sqlite://{}", s.path().join("registry.db").display());
        let registry = Registry::open(RegistryConfig::new("registry", &url))
            .await
            .unwrap();
        let store = hookplan::store::file::FileStore::new("local", s.path().join("secrets.json"));
        let decl = hookplan::model::StoreDecl::implicit("local").unwrap();
        let all = Selection::new(None, None, None).unwrap();
        for size in [1, 2, 5, 500] {
            let mut seen = Vec::new();
            verify_pages(&registry, &store, &decl, &all, size, |v| {
                seen.push((v.code, v.outcome))
            })
            .await
            .unwrap();
            let codes: Vec<&str> = seen.iter().map(|(c, _)| c.as_str()).collect();
            assert_eq!(
                codes,
                ["CLEARED", "GITHUB_WEBHOOK", "LEGACY_HOOK", "STRIPE_PAYMENT"],
                "pages of {size}"
            );
            assert!(seen.iter().all(|(_, o)| *o == Outcome::Verified));
        }
    });
}

#[test]
fn a_store_that_cannot_be_read_is_an_error_not_a_verdict() {
    let s = sqlite_project("local:/webhooks/MOVED_CLEARED_KEY", &store_with(&[], &[]));
    s.write("secrets.json", "not JSON");
    let run = s.run(&["verify"]);
    exits(&run, 1);
    assert!(
        run.stderr.contains("cannot verify the migration"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("All migrations verified"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("Verified successfully"),
        "{}",
        run.stdout
    );
}
