//! `call` steps and `hookplan call`: a webhook read from the registry and sent with its method,
//! auth and credentials, retrying with the default policy, every credential masked.

mod support;

use support::server::{Answer, TestServer};
use support::{Run, Scratch};

/// hookplan's own table, as `seed-sql` creates it.
const OWN_TABLE: &str = "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);\n";

/// A scratch folder with a registry seeded with `rows` (SQL inserts) and a plan around `steps`.
fn project(rows: &[String], steps: &str) -> Scratch {
    let s = Scratch::new();
    let mut sql = OWN_TABLE.to_string();
    for row in rows {
        sql.push_str(row);
        sql.push_str(";\n");
    }
    s.write("webhooks.sql", &sql);
    s.write(
        "plan.kdl",
        &format!(
            "plan \"calls\"\ndatabase \"registry\" url=\"sqlite://registry.db\" {{ seed-sql \"webhooks.sql\"; }}\n{steps}"
        ),
    );
    s
}

/// An insert into hookplan's own table; `None` is SQL NULL.
fn row(
    code: &str,
    url: &str,
    method: &str,
    auth: Option<&str>,
    creds: [Option<&str>; 3],
) -> String {
    let q = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
    format!(
        "INSERT INTO webhooks (code, direction, url, method, auth, user, key, password, enabled) VALUES ('{code}', 'OUT', '{url}', '{method}', {}, {}, {}, {}, '1')",
        q(auth),
        q(creds[0]),
        q(creds[1]),
        q(creds[2])
    )
}

fn run(s: &Scratch, extra: &[&str]) -> Run {
    let mut args = vec!["run", "plan.kdl", "--time-scale", "0", "--no-progress"];
    args.extend_from_slice(extra);
    s.run(&args)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_call_retries_with_the_default_policy_and_keeps_one_delivery_id() {
    let down_twice = [
        Answer::status(503),
        Answer::status(503),
        Answer::status(200),
    ];
    let server = TestServer::start(&[("/hook", [down_twice.clone(), down_twice].concat())]);
    let url = format!("{}/hook", server.url);
    let s = project(
        &[row("TEST_WEBHOOK", &url, "POST", Some("none"), [None; 3])],
        "step \"deliver\" { call \"TEST_WEBHOOK\" event=\"DONE\"; expect attempts=3; }\n",
    );
    let out = run(&s, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        format!("[deliver] POST request to {url} (max_retries=3)"),
        "[deliver] Server error 503, retrying in 2.0s (attempt 1/3)".to_string(),
        "[deliver] Server error 503, retrying in 4.0s (attempt 2/3)".to_string(),
        "[deliver] Response: 200 OK".to_string(),
    ] {
        assert!(
            out.stderr.contains(&line),
            "missing {line:?} in:\n{}",
            out.stderr
        );
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let ids: Vec<(&str, &str)> = seen
        .iter()
        .map(|(_, _, h, _)| {
            (
                header(h, "idempotency-key").unwrap(),
                header(h, "webhook-id").unwrap(),
            )
        })
        .collect();
    let first = ids[0];
    assert!(
        first.0.starts_with("msg_") && first.0.len() == 28,
        "{first:?}"
    );
    assert_eq!(first.0, first.1, "one id in both headers");
    assert!(
        ids.iter().all(|i| *i == first),
        "one id across retries: {ids:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&seen[0].3).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"event": "DONE", "webhook": "TEST_WEBHOOK"})
    );
    assert_eq!(header(&seen[0].2, "content-type"), Some("application/json"));

    // Another run is another delivery: a new id, and the same digest.
    let again = run(&s, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let seen = server.requests();
    let second = header(&seen[3].2, "idempotency-key").unwrap();
    assert_ne!(second, first.0, "ids are random, not derived from the seed");
    let digest = |text: &str| {
        text.lines()
            .last()
            .and_then(|l| l.split("digest ").nth(1))
            .map(str::to_string)
    };
    assert_eq!(digest(&out.stderr), digest(&again.stderr));
    assert!(digest(&out.stderr).is_some(), "{}", out.stderr);
}

#[test]
fn retry_none_turns_it_off_and_a_named_policy_replaces_the_default() {
    let server = TestServer::start(&[("/hook", vec![Answer::status(503)])]);
    let url = format!("{}/hook", server.url);
    let s = project(
        &[row("H", &url, "POST", Some("none"), [None; 3])],
        "retry \"once\" { max-retries 1; base-delay \"1s\"; }\nstep \"off\" { call \"H\" event=\"E\"; retry \"none\"; expect status=503 attempts=1; }\nstep \"once\" { needs \"off\"; call \"H\" event=\"E\"; retry \"once\"; expect status=503 attempts=2; }\n",
    );
    let out = run(&s, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.hits("/hook"), 3);
    assert!(
        out.stderr
            .contains("[once] Server error 503, retrying in 1.0s (attempt 1/1)"),
        "{}",
        out.stderr
    );

    // The project config's `webhooks.retry` is the default policy.
    s.write(
        "hookplan.kdl",
        "webhooks { retry { max_retries 2; base_delay_seconds 0.5; } }\n",
    );
    s.write(
        "plan.kdl",
        "plan \"calls\"\ndatabase \"registry\" url=\"sqlite://registry.db\" { seed-sql \"webhooks.sql\"; }\nstep \"d\" { call \"H\" event=\"E\"; expect status=503 attempts=3; }\n",
    );
    let out = run(&s, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("[d] Server error 503, retrying in 0.5s (attempt 1/2)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("[d] Server error 503, retrying in 1.0s (attempt 2/2)"),
        "{}",
        out.stderr
    );
}

#[test]
fn each_auth_type_sends_what_the_row_holds() {
    let server = TestServer::start(&[("/h", vec![Answer::status(200)])]);
    let url = format!("{}/h", server.url);
    let rows = [
        row(
            "BASIC",
            &url,
            "POST",
            Some("basic"),
            [Some("svc"), None, Some("pw-1")],
        ),
        row(
            "BASIC_KEY",
            &url,
            "POST",
            Some("basic"),
            [Some("svc"), Some("k-2"), None],
        ),
        row(
            "BEARER",
            &url,
            "PUT",
            Some("bearer"),
            [None, Some("sk_3"), None],
        ),
        row(
            "HEADER",
            &url,
            "POST",
            Some("header"),
            [None, Some("hk-4"), None],
        ),
        // No auth column value: derived from the credentials (user and password: basic).
        row(
            "DERIVED",
            &url,
            "POST",
            None,
            [Some("u"), None, Some("p-5")],
        ),
        row(
            "NONE",
            &url,
            "POST",
            Some("none"),
            [None, Some("unused"), None],
        ),
    ];
    let steps: String = ["BASIC", "BASIC_KEY", "BEARER", "HEADER", "DERIVED", "NONE"]
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let needs = if i == 0 {
                String::new()
            } else {
                format!("needs \"s{}\"; ", i - 1)
            };
            format!("step \"s{i}\" {{ {needs}call \"{code}\" event=\"E\"; }}\n")
        })
        .collect();
    let s = project(&rows, &steps);
    s.write(
        "plan.kdl",
        &s.read("plan.kdl").replace(
            "seed-sql \"webhooks.sql\";",
            "seed-sql \"webhooks.sql\"; auth-header \"X-Hook-Key\";",
        ),
    );
    let out = run(&s, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = server.requests();
    let auth: Vec<(String, Option<&str>, Option<&str>)> = seen
        .iter()
        .map(|(m, _, h, _)| {
            (
                m.clone(),
                header(h, "authorization"),
                header(h, "x-hook-key"),
            )
        })
        .collect();
    use base64::Engine;
    let basic = |s: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    };
    assert_eq!(
        auth,
        [
            ("POST".into(), Some(basic("svc:pw-1").as_str()), None),
            ("POST".into(), Some(basic("svc:k-2").as_str()), None),
            ("PUT".into(), Some("Bearer sk_3"), None),
            ("POST".into(), None, Some("hk-4")),
            ("POST".into(), Some(basic("u:p-5").as_str()), None),
            ("POST".into(), None, None),
        ]
    );
}

#[test]
fn a_get_sends_the_event_the_code_and_the_payloads_fields_as_query_parameters() {
    let server = TestServer::start(&[("/status", vec![Answer::echo()])]);
    let url = format!("{}/status", server.url);
    let s = project(
        &[row("PING", &url, "GET", Some("none"), [None; 3])],
        "step \"ping\" {\n    call \"PING\" event=\"CHECK\" { json #\"{\"order\": 12, \"note\": \"a b\", \"items\": [1]}\"#; }\n    expect { json \"/query\" \"event=CHECK&webhook=PING&order=12&note=a+b\"; }\n}\n",
    );
    let out = run(&s, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = server.requests();
    assert_eq!(seen[0].0, "GET");
    assert_eq!(seen[0].3, "", "a GET has no body");
}

#[test]
fn a_missing_disabled_or_urlless_webhook_fails_its_step_in_one_line() {
    let s = project(
        &[
            row(
                "TEST_WEBHOOK",
                "http://127.0.0.1:9/x",
                "POST",
                Some("none"),
                [None; 3],
            ),
            "INSERT INTO webhooks (code, url, enabled) VALUES ('OFF', 'http://127.0.0.1:9/x', '0')"
                .into(),
            "INSERT INTO webhooks (code, enabled) VALUES ('NO_URL', '1')".into(),
            row(
                "NO_KEY",
                "http://127.0.0.1:9/x",
                "POST",
                Some("bearer"),
                [None; 3],
            ),
        ],
        "step \"a\" { call \"TEST_WEBHOK\" event=\"E\"; continue-on-error #true; }\nstep \"b\" { call \"OFF\" event=\"E\"; continue-on-error #true; }\nstep \"c\" { call \"NO_URL\" event=\"E\"; continue-on-error #true; }\nstep \"d\" { call \"NO_KEY\" event=\"E\"; continue-on-error #true; }\n",
    );
    let out = run(&s, &[]);
    assert_eq!(out.code, 0, "failures allowed: {}", out.stderr);
    for message in [
        "database \"registry\" has no webhook \"TEST_WEBHOK\"; did you mean \"TEST_WEBHOOK\"?",
        "webhook \"OFF\" is disabled in database \"registry\"",
        "webhook \"NO_URL\" has no URL; set one with `hookplan webhooks set-url NO_URL URL`, or give the step a `url`",
        "webhook \"NO_KEY\" uses bearer auth but has no key (its `key` field is empty)",
    ] {
        assert!(
            out.stderr.contains(message),
            "missing {message:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn check_names_unknown_databases_and_secret_stores() {
    let s = Scratch::new();
    s.write(
        "plan.kdl",
        "plan \"p\"\ndatabase \"legacy\" url=\"sqlite://x.db\"\nstep \"a\" { call \"X\" event=\"E\" database=\"legacyy\"; }\nstep \"b\" { call \"X\" event=\"E\" { credentials \"vualt\"; }; }\nstep \"c\" { call \"X\"; }\n",
    );
    let out = s.run(&["check", "plan.kdl"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown database `legacyy`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `legacy`?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unknown secret store `vualt`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`call` needs the event it reports"),
        "{}",
        out.stderr
    );
    assert!(!s.path().join("x.db").exists(), "check connects to nothing");
}

/// Credentials of every shape, short and word-like ones included, as bearer keys, header keys
/// and basic passwords of webhooks whose receiver echoes every header back.
const CANARIES: &[&str] = &[
    "0",
    "ss",
    "true",
    "POST",
    "sk_live_Canary0123456789abcdef",
    "Hunter2-pass",
];

#[test]
fn no_credential_of_the_registry_reaches_any_output() {
    let server = TestServer::start(&[("/echo", vec![Answer::echo()])]);
    let url = format!("{}/echo", server.url);
    let mut rows = Vec::new();
    let mut steps = String::new();
    for (i, canary) in CANARIES.iter().enumerate() {
        rows.push(row(
            &format!("BEARER_{i}"),
            &url,
            "POST",
            Some("bearer"),
            [None, Some(canary), None],
        ));
        rows.push(row(
            &format!("HEADER_{i}"),
            &url,
            "POST",
            Some("header"),
            [None, Some(canary), None],
        ));
        rows.push(row(
            &format!("BASIC_{i}"),
            &url,
            "POST",
            Some("basic"),
            [Some("svc"), None, Some(canary)],
        ));
        for kind in ["BEARER", "HEADER", "BASIC"] {
            steps.push_str(&format!(
                "step \"{kind}-{i}\" {{ call \"{kind}_{i}\" event=\"DONE\"; capture \"echo\" body=#true; }}\n"
            ));
        }
    }
    let s = project(&rows, &steps);
    s.write(
        "hookplan.kdl",
        "logging { file \"logs/hookplan.jsonl\"; }\n",
    );
    let text = run(&s, &["--verbose", "--report-dir", "out"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let json = s.run(&[
        "--log-format",
        "json",
        "run",
        "plan.kdl",
        "--time-scale",
        "0",
    ]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let report = s.run(&["report", "out/report.json", "--format", "markdown"]);
    assert_eq!(report.code, 0, "{}", report.stderr);

    // The receiver did get them (the test can see a leak).
    let seen = server.requests();
    assert!(
        seen.iter()
            .any(|(_, _, h, _)| header(h, "authorization") == Some("Bearer ss"))
    );

    use base64::Engine;
    let mut outputs: Vec<(String, String)> = vec![
        ("stderr (text)".into(), text.stderr.clone()),
        ("stdout (text)".into(), text.stdout.clone()),
        ("stderr (json)".into(), json.stderr.clone()),
        ("markdown".into(), report.stdout.clone()),
    ];
    for (path, content) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The registry and its seed hold the credentials by design.
        if name.starts_with("registry.db") || name == "webhooks.sql" {
            continue;
        }
        outputs.push((path.display().to_string(), content));
    }
    assert!(outputs.iter().any(|(p, _)| p.ends_with("events.jsonl")));
    assert!(outputs.iter().any(|(p, _)| p.ends_with("hookplan.jsonl")));
    assert!(outputs.iter().any(|(p, _)| p.ends_with("junit.xml")));
    for canary in CANARIES {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("svc:{canary}"));
        // Forms a leak takes: the header as sent, the echo's JSON, the basic token.
        let forms = [
            format!("Bearer {canary}"),
            format!("\"x-api-key\":\"{canary}\""),
            format!("\"x-api-key\": \"{canary}\""),
            format!("svc:{canary}"),
            b64,
        ];
        for (name, content) in &outputs {
            for form in &forms {
                assert!(
                    !content.contains(form.as_str()),
                    "{form:?} leaked into {name}:\n{content}"
                );
            }
        }
    }
    // The long ones appear nowhere at all.
    for canary in &CANARIES[4..] {
        for (name, content) in &outputs {
            assert!(!content.contains(canary), "{canary:?} leaked into {name}");
        }
    }
}

#[test]
fn hookplan_call_is_a_one_step_plan_with_the_specs_lines() {
    let server = TestServer::start(&[(
        "/webhook/test",
        vec![
            Answer::status(503),
            Answer::status(503),
            Answer::status(200),
        ],
    )]);
    let s = project(
        &[row(
            "TEST_WEBHOOK",
            "https://api.example.invalid/hook",
            "POST",
            Some("bearer"),
            [None, Some("sk_test_call_canary_42"), None],
        )],
        "",
    );
    // The project config's registry, seeded on first use by a plan run; `call` reads it.
    s.write(
        "hookplan.kdl",
        "database \"registry\" url=\"sqlite://registry.db\" { seed-sql \"webhooks.sql\"; }\n",
    );
    s.write("plan.kdl", "plan \"seed\"\nstep \"seed\" { call \"TEST_WEBHOOK\" event=\"SEED\" { url \"http://127.0.0.1:9/\"; }; retry \"none\"; continue-on-error #true; }\n");
    assert_eq!(run(&s, &[]).code, 0);

    let target = format!("{}/webhook/test", server.url);
    let out = s.run(&[
        "call",
        "TEST_WEBHOOK",
        "DONE",
        "--url",
        &target,
        "--time-scale",
        "0",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    support::assert_fails_twice_then_ok(&out.stderr, &target);
    let seen = server.requests();
    assert_eq!(
        header(&seen[2].2, "authorization"),
        Some("Bearer sk_test_call_canary_42")
    );

    // A failed call exits 1 with the reason; unknown codes say what is near.
    let out = s.run(&["call", "TEST_WEBHOK", "DONE"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean \"TEST_WEBHOOK\"?"),
        "{}",
        out.stderr
    );
    let out = s.run(&["call", "TEST_WEBHOOK", "DONE", "--url", "ftp://x"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = s.run(&["call", "TEST_WEBHOOK", "DONE", "--database", "nope"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no database \"nope\" in the project config"),
        "{}",
        out.stderr
    );
    for (path, content) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("registry.db") || name == "webhooks.sql" {
            continue;
        }
        assert!(
            !content.contains("sk_test_call_canary_42"),
            "leaked into {}",
            path.display()
        );
    }
}
