//! The spec's retry behaviour, against the real sandbox over real sockets, in scenario time:
//! the spec's 15 cases and the extensions (Retry-After, resets, hangs, max-delay, jitter,
//! circuit breaker). No test waits for the scheduled delays.

mod support;

use serde_json::Value;
use support::Scratch;

/// Runs a plan at time scale 0 and returns (exit code, stderr, report).
fn run(plan: &str, extra: &[&str]) -> (i32, String, Value) {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", plan);
    let mut args = vec![
        "run",
        "plan.kdl",
        "--time-scale",
        "0",
        "--report-dir",
        "out",
    ];
    args.extend_from_slice(extra);
    let run = scratch.run(&args);
    let report = serde_json::from_str(&scratch.read("out/report.json"))
        .unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    (run.code, run.stderr, report)
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

/// (outcome, scheduled delay in ms) of each attempt.
fn attempts(report: &Value, name: &str) -> Vec<(String, u64)> {
    step(report, name)["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap().to_string(),
                a["scheduled_delay_ms"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn a(outcome: &str, delay: u64) -> (String, u64) {
    (outcome.to_string(), delay)
}

/// A plan with one sandbox endpoint answering `answers` (nodes inside `endpoint`) and one step
/// calling it with `policy` (nodes inside an inline `retry`, or `None` for the spec's default).
fn scenario(answers: &str, policy: Option<&str>, step_extra: &str) -> String {
    let retry = match policy {
        Some(p) => format!("retry {{\n        {p}\n    }}"),
        None => "retry \"default\"".to_string(),
    };
    format!(
        r#"plan "scenario" {{ seed 5 }}
sandbox "hooks" {{
    port 0
    endpoint "/webhook/target" method="POST" {{
        {answers}
    }}
}}
step "call" {{
    http "POST" "${{sandbox.hooks.url}}/webhook/target" {{ body "event" }}
    {retry}
    {step_extra}
}}
step "recorded" {{
    needs "call"
    always #true
    expect-requests sandbox="hooks" path="/webhook/target" min=0
}}
"#
    )
}

// ------------------------------------------------------------------ retry logic (8)

#[test]
fn server_error_then_success_is_retried_once() {
    let (code, stderr, report) = run(
        &scenario(
            "respond status=503 times=1\n        respond status=200",
            None,
            "",
        ),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(attempts(&report, "call"), vec![a("503", 0), a("200", 2000)]);
    assert!(
        stderr.contains("[call] POST request to http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/webhook/target (max_retries=3)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[call] Server error 503, retrying in 2.0s (attempt 1/3)"),
        "{stderr}"
    );
    assert!(stderr.contains("[call] Response: 200 OK"), "{stderr}");
}

#[test]
fn a_502_until_retries_run_out_fails_with_every_request_named() {
    let (code, stderr, report) = run(&scenario("status 502", None, ""), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        attempts(&report, "call"),
        vec![a("502", 0), a("502", 2000), a("502", 4000), a("502", 8000)]
    );
    let call = step(&report, "call");
    assert_eq!(
        call["message"],
        "status: expected 2xx, got 502 (after 4 requests: 502, 502, 502, 502)"
    );
    assert!(
        stderr.contains("Server error 502, retrying in 8.0s (attempt 3/3)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("gave up after 4 requests: 502, 502, 502, 502"),
        "{stderr}"
    );
    // Exhausted retries report the last response.
    assert_eq!(call["response"]["status"], 502);
}

#[test]
fn a_timeout_then_success_is_retried() {
    let plan = scenario(
        "respond fault=\"hang\" times=1\n        respond status=200",
        None,
        "attempt-timeout \"200ms\"",
    );
    let (code, stderr, report) = run(&plan, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        attempts(&report, "call"),
        vec![a("timeout", 0), a("200", 2000)]
    );
    assert!(
        stderr.contains("Network error: Timeout, retrying in 2.0s (attempt 1/3)"),
        "{stderr}"
    );
}

#[test]
fn connection_refused_then_success_is_retried() {
    // The port refuses the first request; the sandbox starts on it once that attempt is seen,
    // well within the (scaled) wait before the retry.
    use hookplan::exec::{EventKind, Events, RunContext};
    use std::sync::Arc;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!(
        r#"plan "refused" {{ }}
step "call" {{
    http "POST" "http://127.0.0.1:{port}/webhook/target"
    retry "default"
}}
"#
    );
    let file = hookplan::plan::SourceFile::new("refused.kdl", text);
    let loaded = hookplan::plan::check(file, std::path::Path::new("refused.kdl")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        hookplan::http_client::install_crypto();
        let state = tempfile::tempdir().unwrap();
        let plan = Arc::new(loaded.plan);
        // 2 s scheduled waits 0.5 s: time for the sandbox to come up after the refusal.
        let clock = hookplan::clock::Clock::new(0.25);
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let ctx = Arc::new(
            RunContext::builder(plan.clone(), Default::default())
                .clock(clock.clone())
                .run_dir(state.path().to_path_buf())
                .events(Events::new(sender, clock.clone()))
                .build()
                .unwrap(),
        );
        let state_root = state.path().to_path_buf();
        let watcher = tokio::spawn(async move {
            let mut sandbox = None;
            let mut outcomes = Vec::new();
            while let Some(event) = receiver.recv().await {
                if let EventKind::AttemptFinished { attempt, .. } = event.kind {
                    if attempt.outcome == hookplan::exec::OutcomeClass::Connect && sandbox.is_none()
                    {
                        let config = hookplan::sandbox::SandboxConfig {
                            port,
                            ..Default::default()
                        };
                        sandbox = Some(
                            hookplan::sandbox::SandboxHandle::spawn(
                                hookplan::sandbox::Sandbox::new(config, &state_root),
                            )
                            .unwrap(),
                        );
                    }
                    outcomes.push((attempt.outcome, attempt.scheduled_delay.as_millis() as u64));
                }
            }
            (outcomes, sandbox.map(|s| s.recordings().unwrap().len()))
        });
        let step = &plan.steps[0];
        let sandboxes = hookplan::steps::sandboxes::Sandboxes::new(&ctx);
        let registries = hookplan::steps::registries::Registries::default();
        let stores = hookplan::steps::stores::Stores::default();
        let call = hookplan::steps::StepCall {
            ctx: &ctx,
            index: 0,
            step,
            sandboxes: &sandboxes,
            registries: &registries,
            stores: &stores,
            timeline: clock.timeline(std::time::Duration::ZERO),
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let outcome = (hookplan::steps::http::RUNNER.run)(call).await;
        drop(ctx);
        let (outcomes, recorded) = watcher.await.unwrap();
        assert_eq!(
            outcome.status,
            hookplan::exec::StepStatus::Passed,
            "{:?}",
            outcome.message
        );
        assert_eq!(
            outcomes,
            vec![
                (hookplan::exec::OutcomeClass::Connect, 0),
                (hookplan::exec::OutcomeClass::Status(200), 2000)
            ]
        );
        assert_eq!(recorded, Some(1));
    });
}

#[test]
fn unauthorized_is_not_retried_and_says_why() {
    let (code, stderr, report) = run(&scenario("status 401", None, ""), &[]);
    assert_eq!(code, 1);
    assert_eq!(attempts(&report, "call"), vec![a("401", 0)]);
    assert!(
        stderr.contains("[call] Response: 401 Unauthorized\n[call] No retry - client error"),
        "{stderr}"
    );
    assert_eq!(
        step(&report, "call")["message"],
        "status: expected 2xx, got 401"
    );
}

#[test]
fn not_found_is_not_retried() {
    let (code, stderr, report) = run(&scenario("status 404", None, ""), &[]);
    assert_eq!(code, 1);
    assert_eq!(attempts(&report, "call"), vec![a("404", 0)]);
    assert!(stderr.contains("No retry - client error"), "{stderr}");
}

#[test]
fn first_try_success_has_no_delay() {
    let (code, stderr, report) = run(
        &scenario("status 200", None, "expect { attempts 1; delays; }"),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(attempts(&report, "call"), vec![a("200", 0)]);
    assert!(!stderr.contains("retrying"), "{stderr}");
}

#[test]
fn delays_are_exactly_2_4_8_seconds() {
    let plan = scenario(
        "respond status=503 times=3\n        respond status=200",
        None,
        "expect { attempts 4; delays \"2s\" \"4s\" \"8s\"; }",
    );
    let (code, stderr, report) = run(&plan, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        attempts(&report, "call"),
        vec![a("503", 0), a("503", 2000), a("503", 4000), a("200", 8000)]
    );
    for line in [
        "retrying in 2.0s (attempt 1/3)",
        "retrying in 4.0s (attempt 2/3)",
        "retrying in 8.0s (attempt 3/3)",
    ] {
        assert!(stderr.contains(line), "{line}: {stderr}");
    }
    // 14 s of scenario time: the report's virtual duration counts them, the run did not wait.
    assert!(
        step(&report, "call")["timing"]["duration_ms"]
            .as_f64()
            .unwrap()
            >= 14_000.0
    );
    assert!(report["timing"]["real_duration_ms"].as_f64().unwrap() < 5_000.0);
}

// ------------------------------------------------------------------ configuration (2)

#[test]
fn default_policy_is_3_retries_from_2_seconds() {
    let (_, _, report) = run(&scenario("status 503", None, ""), &["--dry-run"]);
    assert_eq!(
        step(&report, "call")["message"],
        "would retry after 2.0s, 4.0s, 8.0s"
    );
}

#[test]
fn config_file_sets_5_retries_from_3_seconds() {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", &scenario("status 503", None, ""));
    scratch.write("hookplan.kdl", "webhooks {\n    retry {\n        max_retries 5\n        base_delay_seconds 3.0\n    }\n}\n");
    let run = scratch.run(&[
        "run",
        "plan.kdl",
        "--time-scale",
        "0",
        "--report-dir",
        "out",
    ]);
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    let delays: Vec<u64> = attempts(&report, "call")
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(delays, vec![0, 3000, 6000, 12000, 24000, 48000]);
    assert!(run.stderr.contains("(max_retries=5)"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Server error 503, retrying in 3.0s (attempt 1/5)"),
        "{}",
        run.stderr
    );
}

// ------------------------------------------------------------------ edge cases (3)

#[test]
fn max_retries_zero_is_one_attempt() {
    let (code, _, report) = run(&scenario("status 503", Some("max-retries 0"), ""), &[]);
    assert_eq!(code, 1);
    assert_eq!(attempts(&report, "call"), vec![a("503", 0)]);
}

#[test]
fn exhausted_retries_report_the_last_response() {
    let answers = "respond status=500 times=1\n        respond status=502 times=1\n        respond status=503";
    let (code, _, report) = run(
        &scenario(
            answers,
            Some("max-retries 2\n        base-delay \"1s\""),
            "",
        ),
        &[],
    );
    assert_eq!(code, 1);
    let call = step(&report, "call");
    assert_eq!(call["response"]["status"], 503);
    assert_eq!(
        attempts(&report, "call"),
        vec![a("500", 0), a("502", 1000), a("503", 2000)]
    );
}

#[test]
fn mixed_timeout_then_503_then_200() {
    let answers = "respond fault=\"hang\" times=1\n        respond status=503 times=1\n        respond status=200";
    let (code, stderr, report) = run(&scenario(answers, None, "attempt-timeout \"200ms\""), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        attempts(&report, "call"),
        vec![a("timeout", 0), a("503", 2000), a("200", 4000)]
    );
}

// ------------------------------------------------------------------ sandbox integration (2)

#[test]
fn error_rate_traffic_eventually_succeeds_and_every_attempt_is_recorded() {
    let mut plan = String::from(
        r#"plan "error-rate" { seed 3; jobs 4 }
retry "patient" {
    max-retries 10
    base-delay "1s"
    max-delay "5s"
}
sandbox "hooks" {
    port 0
    error-rate 0.5
}
"#,
    );
    for i in 0..8 {
        plan.push_str(&format!(
            "step \"send-{i}\" {{\n    http \"POST\" \"${{sandbox.hooks.url}}/webhook/events\" {{ json #\"{{\"n\": {i}}}\"# }}\n    retry \"patient\"\n}}\n"
        ));
    }
    plan.push_str("step \"recorded\" {\n    needs \"send-0\" \"send-1\" \"send-2\" \"send-3\" \"send-4\" \"send-5\" \"send-6\" \"send-7\"\n    expect-requests sandbox=\"hooks\" path=\"/webhook/events\" min=8\n}\n");
    let (code, stderr, report) = run(&plan, &[]);
    assert_eq!(code, 0, "{stderr}");
    let sent: usize = (0..8)
        .map(|i| attempts(&report, &format!("send-{i}")).len())
        .sum();
    assert!(
        sent > 8,
        "a 50% error rate made some deliveries retry ({sent} requests)"
    );
    assert_eq!(
        report["sandboxes"][0]["requests"].as_u64().unwrap() as usize,
        sent,
        "the sandbox recorded every attempt"
    );
    assert_eq!(
        report["sandboxes"][0]["faults"]["error-rate"]
            .as_u64()
            .unwrap() as usize,
        sent - 8
    );
}

// ------------------------------------------------------------------ beyond the spec

#[test]
fn too_many_requests_waits_what_retry_after_asks() {
    let answers = "respond status=429 times=1 {\n            header \"retry-after\" \"7\"\n        }\n        respond status=200";
    let policy =
        "retry-on \"5xx\" \"429\"\n        respect-retry-after #true\n        max-delay \"30s\"";
    let (code, stderr, report) = run(&scenario(answers, Some(policy), ""), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(attempts(&report, "call"), vec![a("429", 0), a("200", 7000)]);
    assert!(
        stderr.contains("Client error 429, retrying in 7.0s (attempt 1/3)"),
        "{stderr}"
    );
}

#[test]
fn too_many_requests_is_not_retried_unless_opted_in() {
    let (code, stderr, report) = run(&scenario("status 429", None, ""), &[]);
    assert_eq!(code, 1);
    assert_eq!(attempts(&report, "call"), vec![a("429", 0)]);
    assert!(stderr.contains("No retry - client error"), "{stderr}");
}

#[test]
fn a_reset_connection_is_retried() {
    let (code, stderr, report) = run(
        &scenario(
            "respond fault=\"reset\" times=1\n        respond status=200",
            None,
            "",
        ),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        attempts(&report, "call"),
        vec![a("reset", 0), a("200", 2000)]
    );
    assert!(
        stderr.contains("Network error: Connection reset, retrying in 2.0s (attempt 1/3)"),
        "{stderr}"
    );
}

#[test]
fn a_connection_closed_without_an_answer_is_retried() {
    let (code, stderr, report) = run(
        &scenario(
            "respond fault=\"close\" times=1\n        respond status=200",
            None,
            "",
        ),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(attempts(&report, "call")[0].0, "reset");
}

#[test]
fn a_hanging_server_meets_the_attempt_timeout_every_time() {
    let (code, stderr, report) = run(
        &scenario(
            "fault \"hang\"",
            Some("max-retries 2\n        base-delay \"1s\""),
            "attempt-timeout \"100ms\"",
        ),
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        attempts(&report, "call"),
        vec![a("timeout", 0), a("timeout", 1000), a("timeout", 2000)]
    );
    let message = step(&report, "call")["message"].as_str().unwrap();
    assert!(
        message.starts_with("no response: gave up after 3 requests: timeout, timeout, timeout"),
        "{message}"
    );
    assert_eq!(step(&report, "call")["status"], "errored");
}

#[test]
fn max_delay_caps_the_waits() {
    let policy =
        "max-retries 4\n        base-delay \"2s\"\n        multiplier 10\n        max-delay \"5s\"";
    let (_, _, report) = run(&scenario("status 503", Some(policy), ""), &[]);
    let delays: Vec<u64> = attempts(&report, "call")
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(delays, vec![0, 2000, 5000, 5000, 5000]);
}

#[test]
fn jitter_is_reproducible_from_the_seed() {
    let plan = scenario(
        "status 503",
        Some("max-retries 4\n        base-delay \"2s\"\n        jitter \"full\""),
        "",
    );
    let delays = |seed: &str| -> Vec<u64> {
        let (_, _, report) = run(&plan, &["--seed", seed]);
        attempts(&report, "call")
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    };
    let first = delays("1");
    assert_eq!(first, delays("1"));
    assert_ne!(first, delays("2"));
    // Full jitter draws each wait from [0, base·2^(n-1)].
    for (n, delay) in first.iter().enumerate().skip(1) {
        assert!(*delay <= 2000 << (n - 1), "{first:?}");
    }
}

#[test]
fn circuit_breaker_opens_fails_fast_then_probes_and_closes() {
    let plan = r#"plan "breaker" { }
retry "guarded" {
    max-retries 3
    base-delay "1s"
    circuit-breaker failures=2 open-for="10s"
}
sandbox "hooks" {
    port 0
    endpoint "/webhook/target" method="POST" {
        respond status=503 times=2
        respond status=200
    }
}
sandbox "slow" {
    port 0
    endpoint "/webhook/slow" method="POST" delay="15s" status=200
}
step "trip" {
    http "POST" "${sandbox.hooks.url}/webhook/target"
    retry "guarded"
    continue-on-error #true
}
step "pause" {
    http "POST" "${sandbox.slow.url}/webhook/slow"
    attempt-timeout "60s"
}
step "probe" {
    needs "trip" "pause"
    http "POST" "${sandbox.hooks.url}/webhook/target"
    retry "guarded"
    expect status=200 attempts=1
}
"#;
    let (code, stderr, report) = run(plan, &[]);
    assert_eq!(code, 0, "{stderr}");
    // Two failures open the circuit: the third request is never sent.
    assert_eq!(
        attempts(&report, "trip"),
        vec![a("503", 0), a("503", 1000), a("circuit-open", 2000)]
    );
    assert_eq!(step(&report, "trip")["status"], "failed-allowed");
    let changes: Vec<(String, String)> = report["circuit_breakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap().to_string(),
                c["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("closed".into(), "open".into()),
            ("open".into(), "half-open".into()),
            ("half-open".into(), "closed".into())
        ]
    );
    assert_eq!(
        report["sandboxes"][0]["requests"], 3,
        "the rejected attempt sent nothing"
    );
    assert!(stderr.contains("Circuit open for 127.0.0.1:"), "{stderr}");
}

#[test]
fn the_digest_is_the_same_at_any_time_scale() {
    let plan = scenario(
        "respond status=503 times=2\n        respond status=200",
        None,
        "",
    );
    let scratch = Scratch::new();
    scratch.write("plan.kdl", &plan);
    let digest = |scale: &str, dir: &str| {
        let run = scratch.run(&[
            "run",
            "plan.kdl",
            "--time-scale",
            scale,
            "--report-dir",
            dir,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report: Value =
            serde_json::from_str(&scratch.read(&format!("{dir}/report.json"))).unwrap();
        report["digest"].as_str().unwrap().to_string()
    };
    // 6 s of scheduled waits: 6 ms of real waiting at 0.001.
    assert_eq!(digest("0", "zero"), digest("0.001", "small"));
}
