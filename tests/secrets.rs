//! A planted secret never leaves the process: not on the console, not in reports, journals or
//! error text — raw, JSON-escaped, URL-encoded or base64.

mod support;

use base64::Engine;
use support::Scratch;
use support::server::{Answer, TestServer};

const CANARY: &str = "cAnArY-s3cr3t/\"value\"+42";

fn forms() -> Vec<String> {
    let json = serde_json::to_string(CANARY).unwrap();
    vec![
        CANARY.to_string(),
        json[1..json.len() - 1].to_string(),
        url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect(),
        base64::engine::general_purpose::STANDARD.encode(CANARY),
        base64::engine::general_purpose::STANDARD.encode(format!("user:{CANARY}")),
        base64::engine::general_purpose::URL_SAFE.encode(CANARY),
        // Parts that would let someone rebuild it.
        "cAnArY-s3cr3t".to_string(),
    ]
}

#[test]
fn a_planted_secret_appears_in_no_output() {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{CANARY}"));
    let json_escaped = serde_json::to_string(CANARY).unwrap();
    // The server echoes the secret back in every form; the report stores response bodies.
    let echo = format!(
        r#"{{"token": {json_escaped}, "basic": "{basic}", "url": "{}"}}"#,
        url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect::<String>()
    );
    let server = TestServer::start(&[
        (
            "/login",
            vec![Answer::json(200, &echo).header("x-echo", &basic)],
        ),
        ("/fail", vec![Answer::json(500, &echo)]),
    ]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "canary" { }
vars { token "${secret.CANARY}" }
step "login" {
    http "POST" "${env.BASE}/login?token=${secret.CANARY}" {
        header "Authorization" "Bearer ${secret.CANARY}"
        header "X-Custom" "${vars.token}"
        json #"{"password": "${secret.CANARY}"}"#
    }
    capture "echoed" json="/token"
    expect {
        header "x-echo" "nope ${secret.CANARY}"
        json "/token" "${secret.CANARY}x"
    }
}
step "fail" {
    http "GET" "${env.BASE}/fail?t=${secret.CANARY}"
    expect status=200
}
"##,
    );
    let env = [("CANARY", CANARY), ("BASE", server.url.as_str())];
    let mut outputs = Vec::new();
    for args in [
        vec!["run", "plan.kdl", "--report-dir", "out"],
        vec!["run", "plan.kdl", "--report-dir", "out-verbose", "-v"],
        vec!["run", "plan.kdl", "--dry-run"],
    ] {
        let run = scratch.run_env(&args, &env);
        assert_eq!(
            run.code,
            if args.contains(&"--dry-run") { 0 } else { 1 },
            "{}",
            run.stderr
        );
        outputs.push((format!("{args:?} stdout"), run.stdout));
        outputs.push((format!("{args:?} stderr"), run.stderr));
    }
    for (path, text) in scratch.all_files() {
        if path.file_name().is_some_and(|n| n == "plan.kdl") {
            continue;
        }
        outputs.push((path.display().to_string(), text));
    }
    assert!(
        outputs
            .iter()
            .any(|(name, _)| name.ends_with("events.jsonl")),
        "the journal was checked"
    );
    assert!(
        outputs.iter().any(|(name, _)| name.ends_with("junit.xml")),
        "the reports were checked"
    );
    for (name, text) in &outputs {
        for form in forms() {
            assert!(
                !text.contains(&form),
                "{name} leaks the secret as {form:?}:\n{text}"
            );
        }
    }
    // The server did receive the real value: masking is for output only.
    let requests = server.requests();
    assert!(requests.iter().any(|(_, _, headers, _)| {
        headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == &format!("Bearer {CANARY}"))
    }));
}

#[test]
fn a_secret_sent_through_a_plan_sandbox_stays_out_of_every_output_but_the_raw_recordings() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "canary-sandbox" { }
sandbox "hooks" {
    port 0
    endpoint "/webhook/signed" method="POST" {
        require-signature "stripe" secret="${secret.CANARY}"
        status 200
    }
}
sandbox "mirror" { port 0 }
step "send" {
    http "POST" "${sandbox.hooks.url}/webhook/signed?token=${secret.CANARY}" {
        header "Authorization" "Bearer ${secret.CANARY}"
        header "X-Api-Key" "${secret.CANARY}"
        json #"{"password": "${secret.CANARY}"}"#
        sign "stripe" secret="${secret.CANARY}"
    }
}
step "arrived" {
    needs "send"
    expect-requests sandbox="hooks" path="/webhook/*" {
        count 1
        header "authorization" "Bearer ${secret.CANARY}x"
        header "x-api-key" "${secret.CANARY}"
        json "/password" "wrong"
        signature "stripe" secret="${secret.CANARY}"
    }
}
step "replayed" {
    needs "send"
    replay sandbox="hooks" path="/webhook/*" to="${sandbox.mirror.url}/webhook/copy"
    expect status=201
}
"##,
    );
    let run = scratch.run_env(
        &["run", "plan.kdl", "--report-dir", "out", "-v"],
        &[("CANARY", CANARY)],
    );
    assert_eq!(run.code, 1, "the plan fails on purpose:\n{}", run.stderr);
    let mut outputs = vec![
        ("stdout".to_string(), run.stdout),
        ("stderr".to_string(), run.stderr),
    ];
    let mut recordings = 0;
    for (path, text) in scratch.all_files() {
        let name = path.display().to_string();
        if name.ends_with("plan.kdl") {
            continue;
        }
        if name.contains("/sandbox/") {
            // Recordings keep raw values (replay needs them): owner-only files, never shown.
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{name} is {mode:o}");
            recordings += 1;
            continue;
        }
        outputs.push((name, text));
    }
    assert!(recordings > 0);
    for (name, text) in &outputs {
        for form in forms() {
            assert!(
                !text.contains(&form),
                "{name} leaks the secret as {form:?}:\n{text}"
            );
        }
    }
    let report = scratch.read("out/report.json");
    assert!(
        report.contains("\"status\": \"failed\""),
        "the checks ran: {report}"
    );
}

/// A secret of any length or shape — a digit, a word, a status code, a quote, a step's name —
/// neither crashes a run nor changes its digest, and is never shown where it stood in the
/// request. The plan sends it in a header and as a whole JSON string value, through retries,
/// error injection (whose draws depend on the request's fingerprint), assertions on what
/// arrived, and a replay.
#[test]
fn a_secret_of_any_shape_changes_neither_the_outcome_nor_the_digest() {
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "short-secrets" { seed 7; }
retry "quick" { max-retries 3; base-delay "1s"; }
sandbox "hooks" {
    port 0
    error-rate 0.5
    endpoint "/webhook/flaky" method="POST" {
        respond status=503 times=1
        respond status=200
    }
}
step "deliver" {
    http "POST" "${sandbox.hooks.url}/webhook/flaky" {
        header "Authorization" "Bearer ${secret.TOKEN}"
        json #"{"token": "${secret.TOKEN}", "amount": 1000}"#
    }
    retry "quick"
    expect status=200
}
step "noisy" {
    http "POST" "${sandbox.hooks.url}/webhook/noisy" {
        header "Authorization" "Bearer ${secret.TOKEN}"
        json #"{"token": "${secret.TOKEN}", "amount": 2000}"#
    }
    retry "quick"
    continue-on-error #true
}
step "arrived" {
    needs "deliver"
    expect-requests sandbox="hooks" path="/webhook/flaky" count=2 {
        json "/amount" 1000
    }
}
step "replayed" {
    needs "arrived"
    replay sandbox="hooks" path="/webhook/flaky" index=-1 to="${sandbox.hooks.url}/webhook/copy"
    retry "quick"
    expect status=200
}
"##,
    );
    let run = |secret: &str, n: usize| {
        let state = format!("state-{n}");
        let out = format!("out-{n}");
        let run = scratch.run_env(
            &[
                "run",
                "plan.kdl",
                "--time-scale",
                "0",
                "-v",
                "--no-progress",
                "--state-dir",
                &state,
                "--report-dir",
                &out,
            ],
            &[("TOKEN", secret)],
        );
        let report: serde_json::Value =
            serde_json::from_str(&scratch.read(&format!("{out}/report.json")))
                .unwrap_or_else(|e| panic!("secret {secret:?}: no report ({e}):\n{}", run.stderr));
        let mut texts = vec![
            ("stdout".to_string(), run.stdout.clone()),
            ("stderr".to_string(), run.stderr.clone()),
        ];
        for (path, text) in scratch.all_files() {
            let name = path.display().to_string();
            let ours = name.contains(&format!("/{state}/")) || name.contains(&format!("/{out}/"));
            if ours && !name.contains("/sandbox/") {
                texts.push((name, text));
            }
        }
        assert!(
            texts.iter().any(|(n, _)| n.ends_with("events.jsonl")),
            "the journal was read"
        );
        (
            run.code,
            report["digest"].as_str().unwrap_or_default().to_string(),
            texts,
        )
    };
    let (code, digest, _) = run("tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0", 0);
    assert_eq!(code, 0, "the plan passes with a long secret");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let long = "k".repeat(1024);
    let secrets = [
        "0",
        "1",
        "a",
        "ss",
        "true",
        "POST",
        "200",
        "http",
        "passed",
        "{",
        "\"",
        "\\",
        "deliver",
        long.as_str(),
    ];
    for (n, secret) in secrets.iter().enumerate() {
        let (c, d, texts) = run(secret, n + 1);
        assert_eq!(c, code, "secret {secret:?}: exit code");
        assert_eq!(
            d, digest,
            "secret {secret:?}: the digest depends on the secret"
        );
        let escaped = serde_json::to_string(secret).unwrap();
        let escaped = &escaped[1..escaped.len() - 1];
        let shown = [
            format!("Bearer {secret}"),
            format!("Bearer {escaped}"),
            format!("\"token\": \"{escaped}\""),
            format!("\"token\":\"{escaped}\""),
            format!("\\\"token\\\": \\\"{secret}\\\""),
        ];
        for (name, text) in &texts {
            for form in &shown {
                assert!(
                    !text.contains(form.as_str()),
                    "secret {secret:?}: {name} shows it where it stood ({form}):\n{text}"
                );
            }
        }
    }
}
