//! Alerting end to end: the real binary on plan files, at `--time-scale 0` (no real waits).

mod support;

use support::server::{Answer, TestServer};
use support::{Scratch, repo};

fn report(scratch: &Scratch, dir: &str) -> serde_json::Value {
    serde_json::from_str(&scratch.read(&format!("{dir}/report.json"))).unwrap()
}

fn alert_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("ALERT"))
        .collect()
}

#[test]
fn the_example_burst_fires_exactly_one_failure_rate_alert_and_asserts_it() {
    let scratch = Scratch::new();
    let plan = repo().join("plans/alerting.kdl");
    let started = std::time::Instant::now();
    let run = scratch.run(&[
        "run",
        plan.to_str().unwrap(),
        "--time-scale",
        "0",
        "--report-dir",
        "out",
    ]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        alert_lines(&run.stderr),
        ["ALERT failure-rate fired: 100% of 10 deliveries failed in the last 5m (threshold 10%)"],
        "{}",
        run.stderr
    );
    let report = report(&scratch, "out");
    let alerts = report["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "failure-rate");
    assert_eq!(alerts[0]["state"], "fired");
    assert_eq!(alerts[0]["deliveries"], 10);
    let real = report["timing"]["real_duration_ms"].as_f64().unwrap();
    assert!(real < 1000.0, "the run took {real} ms");
    assert!(took.as_secs_f64() < 10.0, "{took:?}");
}

/// Twelve deliveries answered 401 by `BASE/down`, each with credentials from secrets.
const BURST: &str = r#"plan "burst" {
    seed 1
    jobs 1
}
alerting {
    auth-failure-threshold 5
    latency-threshold "1h"
    channel "log"
    channel "slack" url="${secret.SLACK_WEBHOOK_URL}"
}
STEPS
step "alerted" {
    needs NEEDS
    expect-alerts kind="failure-rate" count=1
}
step "auth" {
    needs NEEDS
    expect-alerts kind="auth-failures" count=1
}
"#;

fn burst(extra: &str) -> String {
    let steps: Vec<String> = (1..=12)
        .map(|i| {
            format!(
                "step \"d{i}\" {{\n    http \"POST\" \"${{env.BASE}}/down\" {{\n        header \"authorization\" \"Bearer ${{secret.TOKEN}}\"\n        header \"x-user\" \"${{secret.USER}}\"\n        header \"x-flag\" \"${{secret.FLAG}}\"\n        header \"x-zero\" \"${{secret.ZERO}}\"\n        header \"x-method\" \"${{secret.METHOD}}\"\n    }}\n    continue-on-error #true\n}}"
            )
        })
        .collect();
    let needs: Vec<String> = (1..=12).map(|i| format!("\"d{i}\"")).collect();
    BURST
        .replace("STEPS", &steps.join("\n"))
        .replace("NEEDS", &needs.join(" "))
        + extra
}

struct Burst {
    scratch: Scratch,
    run: support::Run,
}

fn run_burst(server: &TestServer, slack_path: &str, secrets: [&str; 5], plan: &str) -> Burst {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", plan);
    let slack = format!("{}{slack_path}", server.url);
    let [token, user, flag, zero, method] = secrets;
    let run = scratch.run_plan(&[
        ("BASE", &server.url),
        ("SLACK_WEBHOOK_URL", &slack),
        ("TOKEN", token),
        ("USER", user),
        ("FLAG", flag),
        ("ZERO", zero),
        ("METHOD", method),
    ]);
    Burst { scratch, run }
}

const LONG_CANARY: &str = "canary-9f1c2e7b44d0a6e3-never-shown";

fn server() -> TestServer {
    TestServer::start(&[
        ("/down", vec![Answer::status(401)]),
        ("/slack/T000/B000/CANARYPATH", vec![Answer::status(200)]),
        ("/slack/broken", vec![Answer::status(500)]),
    ])
}

#[test]
fn alerts_go_to_slack_in_its_payload_shape() {
    let server = server();
    let b = run_burst(
        &server,
        "/slack/T000/B000/CANARYPATH",
        [LONG_CANARY, "ss", "true", "0", "POST"],
        &burst(""),
    );
    assert_eq!(b.run.code, 0, "{}", b.run.stderr);
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.1.starts_with("/slack"))
        .collect();
    // The auth alert at the fifth 401, the failure-rate one at the tenth delivery.
    assert_eq!(posts.len(), 2, "{posts:?}");
    let bodies: Vec<serde_json::Value> = posts
        .iter()
        .map(|p| serde_json::from_str(&p.3).unwrap())
        .collect();
    assert_eq!(posts[0].0, "POST");
    assert!(
        bodies[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("hookplan alert: auth-failures fired"),
        "{}",
        bodies[0]
    );
    assert!(
        bodies[1]["text"]
            .as_str()
            .unwrap()
            .contains("failure-rate fired")
    );
    for body in &bodies {
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[1]["type"], "section");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    }
    let report = report(&b.scratch, "out");
    assert!(report.get("alert_channel_failures").is_none(), "{report}");
    assert_eq!(report["alerts"].as_array().unwrap().len(), 2);
}

#[test]
fn a_failing_slack_is_reported_and_never_fails_the_run() {
    let server = server();
    let b = run_burst(
        &server,
        "/slack/broken",
        [LONG_CANARY, "ss", "true", "0", "POST"],
        &burst(""),
    );
    assert_eq!(b.run.code, 0, "{}", b.run.stderr);
    assert!(
        b.run
            .stderr
            .contains("warning: the slack alert channel failed to deliver 2 alert(s) (first: Slack answered 500)"),
        "{}",
        b.run.stderr
    );
    let report = report(&b.scratch, "out");
    assert_eq!(report["alert_channel_failures"]["slack"], 2, "{report}");
    // The steps' results are what they would be without Slack.
    assert_eq!(report["status"], "passed");
    assert!(
        !b.run.stderr.contains("/slack/broken"),
        "the URL is a credential"
    );
}

#[test]
fn no_secret_reaches_an_alert_and_secrets_change_nothing_in_one() {
    let server = server();
    let first = run_burst(
        &server,
        "/slack/T000/B000/CANARYPATH",
        [LONG_CANARY, "ss", "true", "0", "POST"],
        &burst(""),
    );
    let second = run_burst(
        &server,
        "/slack/T000/B000/CANARYPATH",
        ["another-long-secret-value-4242", "qq", "false", "7", "PUT"],
        &burst(""),
    );
    assert_eq!(first.run.code, 0, "{}", first.run.stderr);
    assert_eq!(second.run.code, 0, "{}", second.run.stderr);
    let alerts = |b: &Burst| {
        let mut alerts = report(&b.scratch, "out")["alerts"].clone();
        for a in alerts.as_array_mut().unwrap() {
            a.as_object_mut().unwrap().remove("at_ms");
        }
        alerts
    };
    // Alerts are made of the tool's numbers: what the secrets are changes none of them.
    assert_eq!(alerts(&first), alerts(&second));
    let texts: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.1.starts_with("/slack"))
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.3).unwrap()["text"].to_string())
        .collect();
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[..2], texts[2..]);
    // The long canary, and the Slack URL (a credential), appear in no alert anywhere.
    let alert_text: Vec<String> = first
        .scratch
        .all_files()
        .into_iter()
        .filter(|(p, _)| p.ends_with("events.jsonl"))
        .flat_map(|(_, t)| {
            t.lines()
                .filter(|l| l.contains("\"event\":\"alert\""))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .chain(
            alert_lines(&first.run.stderr)
                .into_iter()
                .map(str::to_string),
        )
        .chain(texts)
        .collect();
    assert!(alert_text.len() >= 6, "{alert_text:?}");
    for text in &alert_text {
        assert!(!text.contains(LONG_CANARY), "{text}");
        assert!(!text.contains("CANARYPATH"), "{text}");
        assert!(!text.contains("***"), "nothing needed masking: {text}");
    }
    assert!(!first.run.stderr.contains(LONG_CANARY));
}

#[test]
fn expect_alerts_fails_with_what_was_raised() {
    let server = server();
    let plan = burst("").replace(
        "expect-alerts kind=\"failure-rate\" count=1",
        "expect-alerts kind=\"failure-rate\" state=\"recovered\" min=1",
    );
    let b = run_burst(
        &server,
        "/slack/T000/B000/CANARYPATH",
        ["a", "b", "c", "d", "e"],
        &plan,
    );
    assert_eq!(b.run.code, 1, "{}", b.run.stderr);
    assert!(
        b.run.stderr.contains(
            "failure-rate alerts recovered: expected at least 1, got 0 (2 alert(s) raised in all, the last failure-rate fired at"
        ),
        "{}",
        b.run.stderr
    );
}

/// The same plan under two project configs: one that raises an alert, one that cannot. The
/// alert is in the report, not in the digest.
#[test]
fn project_config_alerting_in_the_specs_keys_and_alerts_stay_out_of_the_digest() {
    let server = server();
    let plan = burst("")
        .replace(
            "alerting {\n    auth-failure-threshold 5\n    latency-threshold \"1h\"\n    channel \"log\"\n    channel \"slack\" url=\"${secret.SLACK_WEBHOOK_URL}\"\n}\n",
            "",
        )
        .replace(
            "step \"alerted\" {\n    needs",
            "step \"unused\" {\n    needs",
        );
    let plan: String = plan.split("step \"unused\"").next().unwrap().to_string();
    let mut digests = Vec::new();
    let mut counts = Vec::new();
    for min in [10, 1000] {
        let scratch = Scratch::new();
        scratch.write("plan.kdl", &plan);
        scratch.write(
            "hookplan.kdl",
            &format!(
                "alerting {{\n    enabled #true\n    failure_rate_threshold 10.0\n    auth_failure_threshold 100\n    latency_threshold_seconds 3600.0\n    window_minutes 5\n    min_deliveries {min}\n    channels \"log\"\n}}\n"
            ),
        );
        let run = scratch.run_plan(&[
            ("BASE", &server.url),
            ("TOKEN", "t"),
            ("USER", "u"),
            ("FLAG", "f"),
            ("ZERO", "z"),
            ("METHOD", "m"),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report = report(&scratch, "out");
        digests.push(report["digest"].clone());
        counts.push(
            report
                .get("alerts")
                .map_or(0, |a| a.as_array().unwrap().len()),
        );
    }
    assert_eq!(counts, [1, 0]);
    assert_eq!(digests[0], digests[1]);
}

fn check(plan: &str, config: Option<&str>) -> support::Run {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", plan);
    if let Some(config) = config {
        scratch.write("hookplan.kdl", config);
    }
    scratch.run(&["check", "plan.kdl"])
}

const MINIMAL: &str = "plan \"p\"\nstep \"a\" {\n    http \"GET\" \"http://127.0.0.1:9/\"\n}\n";

#[test]
fn check_reports_bad_alerting_with_suggestions() {
    let run = check(
        &format!(
            "{MINIMAL}alerting {{\n    channel \"slak\"\n    window \"0s\"\n    failure-rate-threshold 120\n}}\n"
        ),
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown alert channel \"slak\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean \"slack\"?"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`window` must be longer than zero"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`failure-rate-threshold` must be between 0 and 100"),
        "{}",
        run.stderr
    );
    // The spec's keys belong to the project config; a plan suggests its own spelling.
    let run = check(
        &format!("{MINIMAL}alerting {{\n    window_minutes 5\n}}\n"),
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown node `window_minutes`"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_mqtt_channel_needs_a_declared_connection() {
    let run = check(
        &format!(
            "{MINIMAL}alerting {{\n    channel \"mqtt\" mqtt=\"events\" topic=\"webhook/alerts\"\n}}\n"
        ),
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the mqtt connection \"events\" is not declared"),
        "{}",
        run.stderr
    );
    // The spec's `channels "slack,mqtt,log"` in the project config: the same check, there.
    let run = check(
        MINIMAL,
        Some("alerting {\n    channels \"slack,mqtt,log\"\n}\n"),
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the mqtt channel needs an mqtt connection"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hookplan.kdl"), "{}", run.stderr);
}

#[test]
fn expect_alerts_needs_alerting() {
    let plan = format!(
        "{MINIMAL}step \"b\" {{\n    needs \"a\"\n    expect-alerts kind=\"latency\"\n}}\n"
    );
    let run = check(&plan, None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("step \"b\" expects alerts, but neither the plan nor the project config declares `alerting`"),
        "{}",
        run.stderr
    );
    let run = check(&plan, Some("alerting {\n    enabled #false\n}\n"));
    assert!(
        run.stderr.contains("alerting is disabled"),
        "{}",
        run.stderr
    );
    let run = check(
        &plan,
        Some("alerting {\n    latency_threshold_seconds 2.5\n}\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = check(
        &plan.replace("kind=\"latency\"", "kind=\"latancy\""),
        Some("alerting\n"),
    );
    assert!(
        run.stderr.contains("did you mean \"latency\"?"),
        "{}",
        run.stderr
    );
}
