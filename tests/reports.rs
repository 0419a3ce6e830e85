//! Reports: the schema holds, timings are kept apart, snapshots of what CI reads.

mod support;

use support::server::{Answer, TestServer};
use support::{Scratch, repo};

fn run_report(server: &TestServer) -> (Scratch, serde_json::Value) {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", PLAN);
    let run = scratch.run_env(
        &[
            "run",
            "plan.kdl",
            "--report-dir",
            "out",
            "--time-scale",
            "0",
        ],
        &[("BASE", &server.url)],
    );
    // "broken" gets a 404 and nothing allows it to fail: the run fails.
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    (scratch, report)
}

/// The server's address comes from the environment, so the plan text (and its hash) is fixed.
const PLAN: &str = r##"plan "report-shape" {
    description "Every kind of outcome"
    seed 3
}
retry "twice" {
    max-retries 2
    base-delay "1s"
}
step "ok" {
    http "POST" "${env.BASE}/ok" {
        json #"{"amount": 1000}"#
    }
    expect {
        status 200
        header "content-type" "application/json"
        json "/status" "succeeded"
    }
    capture "status" json="/status"
    tags "smoke"
}
step "flaky" {
    http "GET" "${env.BASE}/flaky"
    retry "twice"
    expect status=200 attempts=3
}
step "broken" {
    http "GET" "${env.BASE}/broken"
}
step "skipped" {
    needs "broken"
    http "GET" "${env.BASE}/ok"
}
"##;

fn server() -> TestServer {
    TestServer::start(&[
        ("/ok", vec![Answer::json(200, r#"{"status": "succeeded"}"#)]),
        (
            "/flaky",
            vec![
                Answer::status(503),
                Answer::status(503),
                Answer::status(200),
            ],
        ),
        (
            "/broken",
            vec![Answer::json(404, r#"{"error": "missing"}"#)],
        ),
    ])
}

#[test]
fn report_json_follows_its_schema() {
    let server = server();
    let (_scratch, report) = run_report(&server);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The report.json a run left in its scratch folder.
fn report_in(scratch: &Scratch) -> serde_json::Value {
    let (_, text) = scratch
        .all_files()
        .into_iter()
        .find(|(p, _)| p.ends_with("report.json"))
        .expect("a report.json");
    serde_json::from_str(&text).unwrap()
}

/// What the schema finds wrong with a report, one line each.
fn schema_errors(validator: &jsonschema::Validator, report: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The first step of this kind, to doctor.
fn step_of<'a>(report: &'a mut serde_json::Value, kind: &str) -> &'a mut serde_json::Value {
    report["steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["kind"] == kind)
        .unwrap()
}

/// Every line of the events journal follows its schema, for every kind of outcome, and also
/// for a plan with sandboxes, faults, expectations on arrivals and a replay.
#[test]
fn the_events_journal_follows_its_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/events.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let server = server();
    let (scratch, _) = run_report(&server);
    let quickstart = Scratch::new();
    let plan = repo().join("plans/quickstart.kdl");
    let ran = quickstart.run(&["run", plan.to_str().unwrap(), "--time-scale", "0"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let calls = Scratch::new();
    let plan = repo().join("plans/registry-call.kdl");
    let ran = calls.run(&["run", plan.to_str().unwrap(), "--time-scale", "0"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let alerted = Scratch::new();
    let plan = repo().join("plans/alerting.kdl");
    let ran = alerted.run(&["run", plan.to_str().unwrap(), "--time-scale", "0"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let mut events = std::collections::BTreeSet::new();
    let mut lines = 0;
    for (path, text) in scratch
        .all_files()
        .into_iter()
        .chain(quickstart.all_files())
        .chain(calls.all_files())
        .chain(alerted.all_files())
    {
        if !path.ends_with("events.jsonl") {
            continue;
        }
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&event)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{line}\n{errors:#?}");
            events.insert(event["event"].as_str().unwrap().to_string());
            lines += 1;
        }
    }
    assert!(lines > 20, "{lines} lines");
    // The quickstart's report holds every kind's details: they follow the report schema.
    let report_schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let report_validator = jsonschema::validator_for(&report_schema).unwrap();
    let mut report = report_in(&quickstart);
    let errors = schema_errors(&report_validator, &report);
    assert!(errors.is_empty(), "{errors:#?}");
    let kinds: std::collections::BTreeSet<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["details"].is_null())
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["expect-requests", "replay"].into_iter().collect());
    // A kind's details are checked: a field its shape does not know is refused.
    step_of(&mut report, "replay")["details"]["leak"] = serde_json::json!("x");
    assert!(!report_validator.is_valid(&report));
    // The calls' details too.
    let mut report = report_in(&calls);
    let errors = schema_errors(&report_validator, &report);
    assert!(errors.is_empty(), "{errors:#?}");
    let call = step_of(&mut report, "call");
    assert_eq!(call["details"]["webhook"], "TEST_WEBHOOK");
    call["details"]["delivery_id"] = serde_json::json!("not-an-id");
    assert!(!report_validator.is_valid(&report));
    // The alerts and the expect-alerts details too.
    let mut report = report_in(&alerted);
    let errors = schema_errors(&report_validator, &report);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["alerts"].as_array().unwrap().len(), 1, "{report}");
    let expected = step_of(&mut report, "expect-alerts");
    assert_eq!(expected["details"]["matched"], 1);
    expected["details"]["leak"] = serde_json::json!("x");
    assert!(!report_validator.is_valid(&report));
    expected_details_cleared(&mut report);
    assert!(report_validator.is_valid(&report));
    report["alerts"][0]["kind"] = serde_json::json!("outage");
    assert!(!report_validator.is_valid(&report));
    // The schema is strict: a field it does not know is refused.
    let doctored = serde_json::json!({"at": "2026-01-01T00:00:00.000Z", "elapsed_ms": 0.0, "event": "step-started", "step": 0, "extra": 1});
    assert!(!validator.is_valid(&doctored));
    for kind in [
        "run-started",
        "sandbox-started",
        "sandbox-stopped",
        "step-started",
        "step-log",
        "delivery-started",
        "attempt-finished",
        "step-finished",
        "step-skipped",
        "alert",
        "run-finished",
    ] {
        assert!(events.contains(kind), "no {kind} event in {events:?}");
    }
}

fn expected_details_cleared(report: &mut serde_json::Value) {
    for step in report["steps"].as_array_mut().unwrap() {
        if let Some(details) = step["details"].as_object_mut() {
            details.remove("leak");
        }
    }
}

/// The report with every timing, port and version replaced, so the rest can be pinned.
fn stable(mut report: serde_json::Value, url: &str) -> String {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if key == "timing" || key.ends_with("_ms") && key != "scheduled_delay_ms" {
                        *v = serde_json::Value::String("[timing]".into());
                    } else {
                        walk(v);
                    }
                }
                map.retain(|k, _| k != "date");
            }
            serde_json::Value::Array(items) => {
                // Response headers: drop the date, which changes every second.
                items.retain(|i| !(i.is_array() && i[0] == "date"));
                items.iter_mut().for_each(walk);
            }
            _ => {}
        }
    }
    walk(&mut report);
    report["tool"]["version"] = "[version]".into();
    serde_json::to_string_pretty(&report)
        .unwrap()
        .replace(url, "http://[server]")
}

#[test]
fn report_snapshot() {
    let server = server();
    let (scratch, report) = run_report(&server);
    insta::assert_snapshot!("report_json", stable(report, &server.url));
    let summary = scratch.read("out/summary.md");
    let summary: String = summary
        .lines()
        .filter(|l| !l.starts_with("<sub>"))
        .collect::<Vec<_>>()
        .join("\n");
    insta::with_settings!({ filters => vec![(r"\| [0-9.]+(ms|s|µs|m[0-9.]+s) \|", "| [time] |")] }, {
        insta::assert_snapshot!("summary_md", summary);
    });
}
