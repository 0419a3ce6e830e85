//! `hookplan webhooks list|show|add|set-url|remove` through the real binary: the embedded
//! registry, the spec's legacy `def_webhook` in SQLite and in a throwaway PostgreSQL 15 (one
//! server for this file, in one test), reads that create nothing, and credentials — long ones
//! and the short, word-like `0`, `ss`, `true`, `POST` — that never show.

mod support;

use hookplan::observe::mask_credential;
use hookplan::registry::{Field, Registry, RegistryConfig};
use serde_json::Value;

use std::io::Write;
use std::process::Stdio;
use support::migration::{block_on, rows};
use support::postgres::{PG_PASSWORD, Postgres, free_port, run_sql_blocking};
use support::server::{Answer, TestServer};
use support::{LEGACY_DDL, LEGACY_MAPPING, Run, Scratch, hookplan};

const LEGACY_SELECT: &str = "SELECT Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password FROM def_webhook ORDER BY Webhookcode";
const OWN_SELECT: &str =
    r#"SELECT code, direction, url, method, "user", "key", password FROM webhooks ORDER BY code"#;

const KEY: &str = "sk_live_CANARY_0123456789abcdef";
const PASSWORD: &str = "Pw-CANARY-0123456789";

/// `hookplan [ARGS…] webhooks …` in the scratch folder, with `DATABASE_URL` only when given
/// and standard input empty unless given.
fn webhooks(scratch: &Scratch, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut command = hookplan();
    command
        .current_dir(scratch.path())
        .env_remove("DATABASE_URL")
        .arg("webhooks")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("hookplan runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("hookplan ends").into()
}

fn tables(url: &str, backend_sql: &str) -> Vec<String> {
    rows(url, backend_sql)
        .into_iter()
        .filter_map(|mut r| r.remove(0))
        .collect()
}

const SQLITE_TABLES: &str = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
const PG_TABLES: &str = "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name";

/// The cells of each row of a table, the header's first; borders left out.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    // The header is drawn heavy (┃), the rows light (│).
    text.lines()
        .filter(|l| l.starts_with(['│', '┃']))
        .map(|l| {
            l.trim_matches(['│', '┃'])
                .split(['│', '┃'])
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn json(run: &Run) -> Value {
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn text(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn some(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

/// A registry the lifecycle runs against.
struct Target<'a> {
    scratch: &'a Scratch,
    /// Flags before the subcommand's own, e.g. `--database legacy`.
    flags: Vec<&'a str>,
    env: Vec<(&'a str, &'a str)>,
    /// How the commands name the registry: `database "legacy" (sqlite://legacy.db, table def_webhook)`.
    place: String,
    legacy: bool,
    /// The registry's URL and the query reading its rows back (code, direction, url, method,
    /// user, key, password).
    read: (String, &'static str),
    /// Every output so far, to look for secrets in.
    transcript: String,
}

impl Target<'_> {
    fn run(&mut self, args: &[&str], extra_env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(self.flags.iter().copied());
        let mut env = self.env.clone();
        env.extend_from_slice(extra_env);
        let run = webhooks(self.scratch, &all, &env, stdin);
        self.transcript.push_str(&run.stdout);
        self.transcript.push_str(&run.stderr);
        run
    }

    fn ok(&mut self, args: &[&str]) -> Run {
        let run = self.run(args, &[], None);
        assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
        run
    }

    fn stored(&self) -> Vec<Vec<Option<String>>> {
        rows(&self.read.0, self.read.1)
    }
}

/// add → list → list --json → show → set-url → remove, every output checked, and what was
/// stored read back with SQL.
fn lifecycle(target: &mut Target<'_>) {
    let place = target.place.clone();
    let list = target.ok(&["list"]);
    assert_eq!(
        list.stdout,
        format!(
            "No webhooks in {place}.\nAdd one with: hookplan webhooks add CODE --url https://… [--key-env VAR]\n"
        )
    );
    assert_eq!(target.ok(&["list", "--json"]).stdout, "[]\n");

    // Added out of order: `list` orders by code.
    let added = target.run(
        &[
            "add",
            "TEST_WEBHOOK",
            "--url",
            "https://erp.example.com/hook",
            "--method",
            "put",
            "--direction",
            "in",
            "--stdin",
        ],
        &[],
        Some(&format!(
            "# from the vault\nuser=svc-user\npassword={PASSWORD}\n"
        )),
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(
        added.stdout,
        format!(
            "Added TEST_WEBHOOK to {place}: PUT https://erp.example.com/hook (IN, auth basic, user {}, password {})\n",
            mask_credential("svc-user"),
            "***"
        )
    );
    let added = target.run(
        &[
            "add",
            "STRIPE_PAYMENT",
            "--url",
            "https://api.stripe.com/v1/charges",
            "--key-env",
            "STRIPE_KEY",
        ],
        &[("STRIPE_KEY", KEY)],
        None,
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(
        added.stdout,
        format!(
            "Added STRIPE_PAYMENT to {place}: POST https://api.stripe.com/v1/charges (OUT, auth bearer, key {})\n",
            mask_credential(KEY)
        )
    );
    assert_eq!(
        target.stored(),
        vec![
            some(&[
                Some("STRIPE_PAYMENT"),
                Some("OUT"),
                Some("https://api.stripe.com/v1/charges"),
                Some("POST"),
                None,
                Some(KEY),
                None
            ]),
            some(&[
                Some("TEST_WEBHOOK"),
                Some("IN"),
                Some("https://erp.example.com/hook"),
                Some("PUT"),
                Some("svc-user"),
                None,
                Some(PASSWORD)
            ]),
        ],
        "stored as given, in the mapped columns"
    );

    let duplicate = target.run(
        &[
            "add",
            "STRIPE_PAYMENT",
            "--url",
            "https://x.example.com",
            "--key-env",
            "STRIPE_KEY",
        ],
        &[("STRIPE_KEY", KEY)],
        None,
    );
    assert_eq!(duplicate.code, 1);
    let name = place.split('"').nth(1).unwrap();
    assert_eq!(
        duplicate.stderr,
        format!(
            "error: database \"{name}\": webhook \"STRIPE_PAYMENT\" already exists\n  help: pick another code, or point the existing one elsewhere with `hookplan webhooks set-url STRIPE_PAYMENT URL`\n"
        )
    );

    let list = target.ok(&["list"]);
    assert_eq!(
        table_rows(&list.stdout),
        vec![
            text(&[
                "Code",
                "Direction",
                "Method",
                "URL",
                "Auth",
                "Credentials",
                "Enabled"
            ]),
            text(&[
                "STRIPE_PAYMENT",
                "OUT",
                "POST",
                "https://api.stripe.com/v1/charges",
                "bearer",
                &format!("key {}", mask_credential(KEY)),
                "yes"
            ]),
            text(&[
                "TEST_WEBHOOK",
                "IN",
                "PUT",
                "https://erp.example.com/hook",
                "basic",
                &format!("user {}, password {}", mask_credential("svc-user"), "***"),
                "yes"
            ]),
        ]
    );

    let all = json(&target.ok(&["list", "--json"]));
    let codes: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["STRIPE_PAYMENT", "TEST_WEBHOOK"]);
    assert_eq!(
        all[0],
        serde_json::json!({
            "code": "STRIPE_PAYMENT",
            "direction": "OUT",
            "method": "POST",
            "url": "https://api.stripe.com/v1/charges",
            "auth": "bearer",
            "credentials": {
                "user": {"set": false},
                "key": {"set": true, "masked": mask_credential(KEY)},
                "password": {"set": false},
                "signing-secret": {"set": false},
            },
            "enabled": true,
        })
    );
    assert_eq!(all[1]["credentials"]["password"]["set"], true);
    assert_eq!(all[1]["credentials"]["key"]["set"], false);

    let show = target.ok(&["show", "TEST_WEBHOOK"]);
    let unmapped = if target.legacy {
        "not in table def_webhook"
    } else {
        "not set"
    };
    let auth_note = if target.legacy {
        " (from the credentials: the table has no auth column)"
    } else {
        ""
    };
    let enabled = if target.legacy {
        "yes (the default)"
    } else {
        "yes"
    };
    assert_eq!(
        show.stdout,
        format!(
            "TEST_WEBHOOK in {place}
  direction       IN
  url             https://erp.example.com/hook
  method          PUT
  auth            basic: the user and the password (the key when there is no password){auth_note}
  enabled         {enabled}
  user            {}  (lives in db)
  key             not set
  password        {}  (lives in db)
  signing-secret  {unmapped}
",
            mask_credential("svc-user"),
            "***"
        )
    );
    let shown = json(&target.ok(&["show", "STRIPE_PAYMENT", "--json"]));
    assert_eq!(shown["database"], name);
    assert_eq!(
        shown["credentials"]["key"],
        serde_json::json!({"set": true, "masked": mask_credential(KEY), "location": "db"})
    );
    assert_eq!(
        shown["credentials"]["user"],
        serde_json::json!({"set": false})
    );

    let typo = target.run(&["show", "STRIPE_PAYMNT"], &[], None);
    assert_eq!(typo.code, 1);
    assert_eq!(
        typo.stderr,
        format!(
            "error: database \"{name}\": no webhook \"STRIPE_PAYMNT\"; did you mean \"STRIPE_PAYMENT\"?\n  help: `hookplan webhooks list` shows the codes\n"
        )
    );

    let moved = target.ok(&[
        "set-url",
        "STRIPE_PAYMENT",
        "http://127.0.0.1:8888/webhook/stripe",
    ]);
    assert_eq!(
        moved.stdout,
        format!(
            "STRIPE_PAYMENT in {place}: https://api.stripe.com/v1/charges → http://127.0.0.1:8888/webhook/stripe\n"
        )
    );
    let bad = target.run(
        &["set-url", "STRIPE_PAYMENT", "ftp://files.example.com/x"],
        &[],
        None,
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .starts_with("error: the new URL: \"ftp://files.example.com/x\" is not an http(s) URL")
    );

    let removed = target.ok(&["remove", "TEST_WEBHOOK"]);
    assert_eq!(
        removed.stdout,
        format!(
            "Removed TEST_WEBHOOK from {place}: PUT https://erp.example.com/hook (IN, auth basic, user {}, password {})\n",
            mask_credential("svc-user"),
            "***"
        )
    );
    let again = target.run(&["remove", "TEST_WEBHOOK"], &[], None);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("no webhook \"TEST_WEBHOOK\""),
        "{}",
        again.stderr
    );

    assert_eq!(
        target.stored(),
        vec![some(&[
            Some("STRIPE_PAYMENT"),
            Some("OUT"),
            Some("http://127.0.0.1:8888/webhook/stripe"),
            Some("POST"),
            None,
            Some(KEY),
            None
        ])]
    );
    for secret in [KEY, PASSWORD] {
        assert!(
            !target.transcript.contains(secret),
            "{secret} shown:\n{}",
            target.transcript
        );
    }
}

fn legacy_config(name: &str, url: &str) -> String {
    format!("database \"{name}\" url=\"{url}\" {{\n    {LEGACY_MAPPING}\n}}\n")
}

/// What a legacy table without those columns refuses to store: exit 2, nothing written.
fn legacy_refusals(target: &mut Target<'_>) {
    let before = target.stored();
    for (args, field) in [
        (vec!["--signing-secret-env", "SIGNING"], "signing-secret"),
        (vec!["--key-env", "SIGNING", "--auth", "header"], "auth"),
        (vec!["--disabled"], "enabled"),
    ] {
        let mut all = vec!["add", "NEW_ONE", "--url", "https://new.example.com"];
        all.extend(args);
        let run = target.run(&all, &[("SIGNING", "whsec_CANARY_0123456789")], None);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "`{field}` is not mapped in `columns`, so it cannot be written"
            )),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("whsec_CANARY"));
    }
    assert_eq!(target.stored(), before);
}

#[test]
fn embedded_registry_add_list_show_set_url_remove() {
    let scratch = Scratch::new();
    let db = scratch.path().join(".hookplan/registry.db");
    let mut target = Target {
        scratch: &scratch,
        flags: vec![],
        env: vec![],
        place: "database \"registry\" (sqlite://.hookplan/registry.db)".to_string(),
        legacy: false,
        read: (format!("sqlite://{}", db.display()), OWN_SELECT),
        transcript: String::new(),
    };
    lifecycle(&mut target);
    assert_eq!(
        tables(&target.read.0, SQLITE_TABLES),
        [
            "hookplan_credentials",
            "hookplan_journal",
            "hookplan_journal_webhooks",
            "hookplan_leases",
            "hookplan_migrations",
            "hookplan_registry",
            "hookplan_schema_version",
            "webhooks"
        ]
    );

    // A credential recorded elsewhere (as a migration would) is shown there; removing the
    // webhook says so and forgets it, so that the code added again starts in the registry.
    block_on(async {
        let registry = Registry::open(RegistryConfig::new("registry", &target.read.0))
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
    });
    let show = target.ok(&["show", "STRIPE_PAYMENT"]);
    assert!(
        show.stdout.contains(&format!(
            "  key             {}  (lives in infisical:/webhooks/STRIPE_PAYMENT)\n",
            mask_credential(KEY)
        )),
        "{}",
        show.stdout
    );
    let removed = target.ok(&["remove", "STRIPE_PAYMENT"]);
    assert!(
        removed.stdout.ends_with(
            "Its key lives in infisical:/webhooks/STRIPE_PAYMENT; that copy is left as it is.\n"
        ),
        "{}",
        removed.stdout
    );
    let added = target.run(
        &[
            "add",
            "STRIPE_PAYMENT",
            "--url",
            "https://api.stripe.com/v1",
            "--key-env",
            "K",
        ],
        &[("K", KEY)],
        None,
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let shown = json(&target.ok(&["show", "STRIPE_PAYMENT", "--json"]));
    assert_eq!(shown["credentials"]["key"]["location"], "db");

    // A URL holding credentials — a password, a token in the query, the webhook's own key in
    // the path — is stored as given and shown masked everywhere.
    let secret_url = format!(
        "https://svc:hunter2-CANARY@hooks.example.com/k/{KEY}?token=tok_CANARY_0123456789&a=1"
    );
    let moved = target.ok(&["set-url", "STRIPE_PAYMENT", &secret_url]);
    let shown_url = "https://svc:***@hooks.example.com/k/***?token=tok_C…&a=1";
    assert_eq!(
        moved.stdout,
        format!(
            "STRIPE_PAYMENT in {}: https://api.stripe.com/v1 → {shown_url}\n",
            target.place
        )
    );
    assert!(target.ok(&["list"]).stdout.contains(shown_url));
    assert!(
        target
            .ok(&["show", "STRIPE_PAYMENT"])
            .stdout
            .contains(shown_url)
    );
    let listed = json(&target.ok(&["list", "--json"]));
    assert_eq!(listed[0]["url"], shown_url);
    target.ok(&["remove", "STRIPE_PAYMENT"]);
    assert!(
        !target.transcript.contains("CANARY"),
        "{}",
        target.transcript
    );

    // DATABASE_URL is the registry when the project config declares none.
    let elsewhere = scratch.path().join("elsewhere.db");
    let url = format!("sqlite://{}", elsewhere.display());
    target.env = vec![("DATABASE_URL", url.as_str())];
    target.place = format!("database \"registry\" ({url})");
    target.read = (url.clone(), OWN_SELECT);
    target.transcript.clear();
    lifecycle(&mut target);
    assert!(
        !target.transcript.contains(".hookplan"),
        "{}",
        target.transcript
    );
}

#[test]
fn legacy_def_webhook_in_sqlite() {
    let scratch = Scratch::new();
    let file = scratch.path().join("legacy.db");
    run_sql_blocking(
        &format!("sqlite://{}?mode=rwc", file.display()),
        &[LEGACY_DDL],
    );
    // The first database is the embedded one: --database picks the legacy one.
    scratch.write(
        "hookplan.kdl",
        &format!(
            "database \"registry\"\n{}",
            legacy_config("legacy", "sqlite://legacy.db")
        ),
    );
    let url = format!("sqlite://{}", file.display());
    let mut target = Target {
        scratch: &scratch,
        flags: vec!["--database", "legacy"],
        env: vec![],
        place: "database \"legacy\" (sqlite://legacy.db, table def_webhook)".to_string(),
        legacy: true,
        read: (url.clone(), LEGACY_SELECT),
        transcript: String::new(),
    };
    lifecycle(&mut target);
    legacy_refusals(&mut target);
    let schema = rows(
        &url,
        "SELECT sql FROM sqlite_master WHERE name = 'def_webhook'",
    );
    assert_eq!(
        schema,
        vec![vec![Some(LEGACY_DDL.to_string())]],
        "never altered"
    );

    let default = webhooks(&scratch, &["list"], &[], None);
    assert!(
        default
            .stdout
            .starts_with("No webhooks in database \"registry\" (sqlite://.hookplan/registry.db)."),
        "without --database: the config's first: {}",
        default.stdout
    );
    let unknown = webhooks(&scratch, &["list", "--database", "legacyy"], &[], None);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.starts_with(
            "error: no database \"legacyy\" in the project config; did you mean \"legacy\"?\n"
        ),
        "{}",
        unknown.stderr
    );
}

#[test]
fn read_only_commands_create_nothing() {
    let scratch = Scratch::new();
    let elsewhere = scratch.path().join("elsewhere.db");
    let url = format!("sqlite://{}", elsewhere.display());
    for env in [vec![], vec![("DATABASE_URL", url.as_str())]] {
        for args in [
            vec!["list"],
            vec!["list", "--json"],
            vec!["show", "STRIPE_PAYMENT"],
            vec!["show", "STRIPE_PAYMENT", "--json"],
            // Writes that find nothing to change create nothing either.
            vec!["set-url", "STRIPE_PAYMENT", "https://a.example.com"],
            vec!["remove", "STRIPE_PAYMENT"],
        ] {
            let run = webhooks(&scratch, &args, &env, None);
            let expected = if args[0] == "list" { 0 } else { 1 };
            assert_eq!(run.code, expected, "{args:?}: {}", run.stderr);
            let files: Vec<_> = std::fs::read_dir(scratch.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert!(files.is_empty(), "{args:?} {env:?} created {files:?}");
        }
    }
    let listed = webhooks(&scratch, &["list"], &[], None);
    assert!(
        listed
            .stdout
            .starts_with("No webhooks in database \"registry\"")
    );

    // A legacy table that exists: reading adds no hookplan_* table beside it.
    let file = scratch.path().join("legacy.db");
    run_sql_blocking(
        &format!("sqlite://{}?mode=rwc", file.display()),
        &[LEGACY_DDL],
    );
    scratch.write(
        "hookplan.kdl",
        &legacy_config("legacy", "sqlite://legacy.db"),
    );
    for args in [vec!["list"], vec!["list", "--json"], vec!["show", "X"]] {
        webhooks(&scratch, &args, &[], None);
    }
    assert_eq!(
        tables(&format!("sqlite://{}", file.display()), SQLITE_TABLES),
        ["def_webhook"]
    );
    assert!(!scratch.path().join(".hookplan").exists());
}

#[test]
fn credentials_never_come_from_arguments_and_named_variables_must_hold_one() {
    let scratch = Scratch::new();
    let inline_password = format!("--password={PASSWORD}");
    let refused = [
        (vec!["--key", KEY], "--key is refused"),
        (vec![inline_password.as_str()], "--password is refused"),
        (vec!["--user", "admin-CANARY"], "--user is refused"),
        (
            vec!["--signing-secret", "-whsec_CANARY"],
            "--signing-secret is refused",
        ),
        // The value given where a variable's name belongs is not printed back.
        (
            vec!["--key-env", KEY],
            "--key-env: the environment variable it names (the name is not shown",
        ),
        (
            vec!["--key-env", "UNSET_KEY_VAR"],
            "--key-env: the environment variable UNSET_KEY_VAR is not set",
        ),
        (
            vec!["--password-env", "EMPTY_VAR"],
            "--password-env: the environment variable EMPTY_VAR is empty",
        ),
        (
            vec!["--stdin"],
            "--stdin: standard input holds no credentials",
        ),
        (vec!["--auth", "bearer"], "--auth bearer needs a key"),
        (
            vec!["--auth", "basic", "--key-env", "K"],
            "--auth basic needs a user and a password (or a key)",
        ),
        (
            vec!["--method", "PATCH"],
            "invalid value 'PATCH' for '--method <METHOD>'",
        ),
    ];
    for (flags, expected) in refused {
        let mut args = vec!["add", "NEW", "--url", "https://new.example.com/hook"];
        args.extend(flags.iter().copied());
        let run = webhooks(
            &scratch,
            &args,
            &[("EMPTY_VAR", ""), ("K", "k-value-CANARY")],
            None,
        );
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        for secret in [KEY, PASSWORD, "CANARY"] {
            assert!(
                !run.stderr.contains(secret) && !run.stdout.contains(secret),
                "{}",
                run.stderr
            );
        }
    }
    for (stdin, expected) in [
        (
            format!("key={KEY}\n{PASSWORD}\n"),
            "line 2 of standard input is not NAME=VALUE",
        ),
        (
            format!("{PASSWORD}={KEY}\n"),
            "line 1 of standard input names no credential",
        ),
        (
            format!("key={KEY}\nkey={KEY}\n"),
            "line 2 of standard input gives the key again",
        ),
    ] {
        let run = webhooks(
            &scratch,
            &[
                "add",
                "NEW",
                "--url",
                "https://new.example.com/hook",
                "--stdin",
            ],
            &[],
            Some(&stdin),
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert!(
            !run.stderr.contains(KEY) && !run.stderr.contains(PASSWORD),
            "{}",
            run.stderr
        );
    }
    let twice = webhooks(
        &scratch,
        &[
            "add",
            "NEW",
            "--url",
            "https://new.example.com/hook",
            "--stdin",
            "--key-env",
            "K",
        ],
        &[("K", "k-value-CANARY")],
        Some(&format!("key={KEY}\n")),
    );
    assert_eq!(twice.code, 2);
    assert!(
        twice.stderr.contains("the key is given twice"),
        "{}",
        twice.stderr
    );
    for url in [
        "ftp://files.example.com",
        "not a url",
        "https://user:hunter2CANARY@/x",
    ] {
        let run = webhooks(&scratch, &["add", "NEW", "--url", url], &[], None);
        assert_eq!(run.code, 2, "{url}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: --url: \""), "{}", run.stderr);
        assert!(!run.stderr.contains("hunter2CANARY"), "{}", run.stderr);
    }
    assert!(
        std::fs::read_dir(scratch.path()).unwrap().next().is_none(),
        "nothing refused created anything"
    );
}

/// The value shown of `secret`'s masked form, and one of the same length whose masked form is
/// the same: a transcript that differs between the two depends on more than the mask shows.
fn reference_for(secret: &str) -> String {
    let shown = (secret.chars().count() / 4).min(8);
    let mut reference: String = secret.chars().take(shown).collect();
    reference.extend(std::iter::repeat_n('Q', secret.chars().count() - shown));
    assert_eq!(mask_credential(&reference), mask_credential(secret));
    reference
}

/// Every command over webhooks whose key, password and signing secret are `secret`; returns
/// what they printed and what was stored.
fn canary_transcript(secret: &str) -> (String, Vec<Vec<Option<String>>>, Vec<Value>) {
    let scratch = Scratch::new();
    let mut transcript = String::new();
    let mut jsons = Vec::new();
    // URLs without the short canaries standing alone in them: one that held a credential
    // would rightly be masked, and then differ from the reference run.
    let commands: Vec<(Vec<&str>, Option<String>)> = vec![
        (
            vec![
                "add",
                "A_KEY",
                "--url",
                "http://localhost:8080/a",
                "--key-env",
                "CANARY",
            ],
            None,
        ),
        (
            vec![
                "add",
                "B_BASIC",
                "--url",
                "http://localhost:8080/b",
                "--stdin",
            ],
            Some(format!(
                "user=svc\npassword={secret}\nsigning-secret={secret}\n"
            )),
        ),
        (
            vec![
                "add",
                "C_HEADER",
                "--url",
                "http://localhost:8080/c",
                "--auth",
                "header",
                "--stdin",
            ],
            Some(format!("key={secret}\n")),
        ),
        (
            vec![
                "add",
                "A_KEY",
                "--url",
                "http://localhost:8080/a",
                "--key-env",
                "CANARY",
            ],
            None,
        ),
        (vec!["list"], None),
        (vec!["list", "--json"], None),
        (vec!["show", "A_KEY"], None),
        (vec!["show", "B_BASIC"], None),
        (vec!["show", "C_HEADER", "--json"], None),
        (vec!["set-url", "A_KEY", "http://localhost:8080/a2"], None),
        (vec!["show", "A_KEY", "--json"], None),
    ];
    for (i, (args, stdin)) in commands.iter().enumerate() {
        let run = webhooks(&scratch, args, &[("CANARY", secret)], stdin.as_deref());
        // The fourth adds A_KEY again: a duplicate, an error path that must not show it either.
        let expected = if i == 3 { 1 } else { 0 };
        assert_eq!(run.code, expected, "{args:?}: {}", run.stderr);
        if args.contains(&"--json") {
            jsons.push(json(&run));
        }
        transcript.push_str(&format!(
            "$ {}\n{}{}",
            args.join(" "),
            run.stdout,
            run.stderr
        ));
    }
    let list = webhooks(&scratch, &["list"], &[], None);
    // Each webhook's method is POST, and the table shows it once a row: a key or password
    // `POST` shown would add one.
    assert_eq!(list.stdout.matches("POST").count(), 3, "{}", list.stdout);
    let stored = rows(
        &format!(
            "sqlite://{}",
            scratch.path().join(".hookplan/registry.db").display()
        ),
        r#"SELECT code, "key", password, signing_secret FROM webhooks ORDER BY code"#,
    );
    let removed = webhooks(&scratch, &["remove", "B_BASIC"], &[], None);
    transcript.push_str(&removed.stdout);
    transcript.push_str(&removed.stderr);
    (transcript, stored, jsons)
}

#[test]
fn canaries_short_and_long_never_show() {
    for secret in ["0", "ss", "true", "POST", KEY] {
        let (transcript, stored, jsons) = canary_transcript(secret);
        // Not vacuous: the canary really is what was stored.
        assert_eq!(
            stored,
            vec![
                some(&[Some("A_KEY"), Some(secret), None, None]),
                some(&[Some("B_BASIC"), None, Some(secret), Some(secret)]),
                some(&[Some("C_HEADER"), Some(secret), None, None]),
            ],
            "{secret}"
        );
        let reference = reference_for(secret);
        let (expected, _, _) = canary_transcript(&reference);
        assert_eq!(
            transcript, expected,
            "the output depends on the credential {secret:?} beyond its masked form"
        );
        for value in &jsons {
            let entries = match value.as_array() {
                Some(all) => all.clone(),
                None => vec![value.clone()],
            };
            for entry in entries {
                for (field, shown) in entry["credentials"].as_object().unwrap() {
                    assert_ne!(shown["masked"], Value::from(secret), "{field} of {entry}");
                }
            }
        }
        if secret.len() >= 8 {
            assert!(!transcript.contains(secret), "{transcript}");
        }
    }
}

#[test]
fn a_database_url_password_is_masked_when_the_server_cannot_be_reached() {
    let scratch = Scratch::new();
    let port = free_port();
    for url in [
        format!("postgres://app:Unreach-CANARY-pw@127.0.0.1:{port}/hooks"),
        format!("postgres://app@127.0.0.1:{port}/hooks?password=Unreach-CANARY-pw"),
    ] {
        let run = webhooks(&scratch, &["list"], &[("DATABASE_URL", &url)], None);
        assert_eq!(run.code, 1);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "one line and its help: {}", run.stderr);
        assert!(
            lines[0].starts_with("error: database \"registry\": cannot reach postgres://app"),
            "{}",
            run.stderr
        );
        assert!(lines[0].contains("***"), "{}", run.stderr);
        assert!(!run.stderr.contains("CANARY"), "{}", run.stderr);
    }
}

#[test]
fn hookplan_call_sends_what_add_stored() {
    let server = TestServer::start(&[("/hook", vec![Answer::status(200)])]);
    let scratch = Scratch::new();
    let url = format!("{}/hook", server.url);
    let added = webhooks(
        &scratch,
        &[
            "add",
            "PARTNER",
            "--url",
            "https://partner.example.com/hook",
            "--method",
            "PUT",
            "--auth",
            "header",
            "--stdin",
        ],
        &[],
        Some(&format!("key={KEY}\n")),
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(
        webhooks(&scratch, &["set-url", "PARTNER", &url], &[], None).code,
        0
    );
    let mut command = hookplan();
    let call: Run = command
        .current_dir(scratch.path())
        .env_remove("DATABASE_URL")
        .args(["call", "PARTNER", "DONE", "--no-retry"])
        .output()
        .unwrap()
        .into();
    assert_eq!(call.code, 0, "{}{}", call.stdout, call.stderr);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let (method, path, headers, _) = &requests[0];
    assert_eq!((method.as_str(), path.as_str()), ("PUT", "/hook"));
    assert!(
        headers.iter().any(|(k, v)| k == "x-api-key" && v == KEY),
        "{headers:?}"
    );
}

// ---------------------------------------------------------------- PostgreSQL

#[test]
fn postgres_registry() {
    let pg = Postgres::start();
    let legacy_url = pg.create_db_blocking("legacy");
    run_sql_blocking(&legacy_url, &[LEGACY_DDL]);
    let empty_url = pg.create_db_blocking("empty");
    let scratch = Scratch::new();
    let port = pg.port;
    // The password comes from the environment, as a project would keep it.
    scratch.write(
        "hookplan.kdl",
        &format!(
            "{}database \"empty\" url=\"postgres://postgres:${{env.PG_TEST_PASSWORD}}@127.0.0.1:{port}/empty\"\ndatabase \"wrong\" url=\"postgres://postgres:Wr0ng-CANARY-pw@127.0.0.1:{port}/legacy\"\n",
            legacy_config(
                "legacy",
                &format!("postgres://postgres:${{env.PG_TEST_PASSWORD}}@127.0.0.1:{port}/legacy")
            )
        ),
    );
    let mut target = Target {
        scratch: &scratch,
        flags: vec![],
        env: vec![("PG_TEST_PASSWORD", PG_PASSWORD)],
        place: format!(
            "database \"legacy\" (postgres://postgres:***@127.0.0.1:{port}/legacy, table def_webhook)"
        ),
        legacy: true,
        read: (legacy_url.clone(), LEGACY_SELECT),
        transcript: String::new(),
    };
    lifecycle(&mut target);
    legacy_refusals(&mut target);
    assert!(
        !target.transcript.contains(PG_PASSWORD),
        "{}",
        target.transcript
    );
    let columns = tables(
        &legacy_url,
        "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_name = 'def_webhook' ORDER BY ordinal_position",
    );
    assert_eq!(
        columns,
        [
            "webhookcode",
            "direction",
            "baseurl",
            "method",
            "username",
            "apikey",
            "password"
        ],
        "never altered"
    );

    // Reads on a database without the own table create nothing.
    let env = [("PG_TEST_PASSWORD", PG_PASSWORD)];
    for args in [
        vec!["list", "--database", "empty"],
        vec!["list", "--json", "--database", "empty"],
        vec!["show", "X", "--database", "empty"],
        vec!["remove", "X", "--database", "empty"],
    ] {
        let run = webhooks(&scratch, &args, &env, None);
        assert!(!run.stderr.contains(PG_PASSWORD) && !run.stdout.contains(PG_PASSWORD));
        assert!(run.code == 0 || args[0] != "list", "{}", run.stderr);
    }
    assert!(
        tables(&empty_url, PG_TABLES).is_empty(),
        "reads created a table"
    );

    // A wrong password: one line (and its help), the password masked.
    for args in [
        vec!["list", "--database", "wrong"],
        vec!["show", "X", "--database", "wrong"],
    ] {
        let run = webhooks(&scratch, &args, &env, None);
        assert_eq!(run.code, 1);
        assert_eq!(
            run.stderr,
            format!(
                "error: database \"wrong\": postgres://postgres:***@127.0.0.1:{port}/legacy refused the login: wrong user or password\n  help: check the user and the password in the URL (or in DATABASE_URL)\n"
            )
        );
        assert!(run.stdout.is_empty());
    }
}
