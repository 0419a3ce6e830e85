//! The engine end to end: the real binary on plan files against servers on 127.0.0.1:0.

mod support;

use support::Scratch;
use support::server::{Answer, TestServer};

fn branches_plan(url: &str) -> String {
    format!(
        r##"plan "branches" {{
    description "Two independent branches; one fails"
    seed 7
}}

vars {{
    base "{url}"
}}

step "create" {{
    http "POST" "${{vars.base}}/orders" {{
        json #"{{"amount": 1000}}"#
    }}
    expect status=201
    capture "id" json="/id"
}}

step "confirm" {{
    needs "create"
    http "GET" "${{vars.base}}/orders/${{steps.create.id}}"
    expect {{
        status 200
        json "/status" "confirmed"
    }}
}}

step "refund" {{
    http "POST" "${{vars.base}}/refunds"
    expect status=200
}}

step "notify" {{
    needs "refund"
    http "POST" "${{vars.base}}/notify"
}}
"##
    )
}

fn branches_server() -> TestServer {
    TestServer::start(&[
        ("/orders", vec![Answer::json(201, r#"{"id": "ord_1"}"#)]),
        (
            "/orders/ord_1",
            vec![Answer::json(200, r#"{"status": "confirmed"}"#)],
        ),
        ("/refunds", vec![Answer::json(500, r#"{"error": "boom"}"#)]),
        ("/notify", vec![Answer::status(200)]),
    ])
}

#[test]
fn a_failed_branch_skips_its_dependents_while_the_other_branch_completes() {
    let server = branches_server();
    let scratch = Scratch::new();
    scratch.write("plan.kdl", &branches_plan(&server.url));
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        server.hits("/notify"),
        0,
        "the dependent of the failed step never ran"
    );
    assert_eq!(
        server.hits("/orders/ord_1"),
        1,
        "the other branch went on, with the captured id"
    );

    let report: serde_json::Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    let status = |name: &str| {
        let step = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        (
            step["status"].as_str().unwrap().to_string(),
            step["message"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(status("create").0, "passed");
    assert_eq!(status("confirm").0, "passed");
    assert_eq!(
        status("refund"),
        ("failed".into(), "status: expected 200, got 500".into())
    );
    assert_eq!(
        status("notify"),
        ("skipped".into(), "needs `refund`, which failed".into())
    );
    assert_eq!(report["status"], "failed");

    let junit = scratch.read("out/junit.xml");
    assert!(
        junit.contains(
            r#"<testsuite name="branches" tests="4" skipped="1" errors="0" failures="1""#
        ),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<testcase name="refund""#)
            && junit.contains(
                r#"<failure message="status: expected 200, got 500" type="expectation">"#
            ),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<skipped message="needs `refund`, which failed"/>"#),
        "{junit}"
    );

    let summary = scratch.read("out/summary.md");
    assert!(
        summary.contains("## ❌ hookplan: branches — failed"),
        "{summary}"
    );
    assert!(
        summary.contains("| ⏭️ | `notify` | http | skipped: needs `refund`, which failed |"),
        "{summary}"
    );
    assert!(
        summary.contains("| ❌ | status | `200` | `500` |"),
        "{summary}"
    );

    assert!(
        run.stderr
            .contains("SKIP notify: needs `refund`, which failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("FAILED 2 passed, 1 failed, 1 skipped"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_same_run_twice_against_the_same_server_gives_the_same_digest() {
    let server = branches_server();
    let digest = || {
        let scratch = Scratch::new();
        scratch.write("plan.kdl", &branches_plan(&server.url));
        let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
        assert_eq!(run.code, 1);
        let report: serde_json::Value =
            serde_json::from_str(&scratch.read("out/report.json")).unwrap();
        report["digest"].as_str().unwrap().to_string()
    };
    let first = digest();
    assert!(first.starts_with("sha256:"));
    assert_eq!(first, digest());
}

#[test]
fn continue_on_error_is_reported_as_allowed_and_satisfies_needs() {
    let server = TestServer::start(&[
        ("/flaky", vec![Answer::status(500)]),
        ("/next", vec![Answer::status(200)]),
    ]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r#"plan "allowed" {{ }}
step "optional" {{
    http "GET" "{0}/flaky"
    continue-on-error #true
}}
step "next" {{
    needs "optional"
    http "GET" "{0}/next"
}}
"#,
            server.url
        ),
    );
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.hits("/next"), 1);
    let junit = scratch.read("out/junit.xml");
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(
        junit.contains("failed (allowed by continue-on-error)"),
        "{junit}"
    );
    let report: serde_json::Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    assert_eq!(report["steps"][0]["status"], "failed-allowed");
    assert_eq!(report["summary"]["failed_allowed"], 1);
}

#[test]
fn dry_run_resolves_everything_and_sends_nothing() {
    let server = TestServer::start(&[]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r##"plan "dry" {{ }}
vars {{ region "eu" }}
step "send" {{
    http "POST" "{}/hook?region=${{vars.region}}" {{
        header "Authorization" "Bearer ${{secret.TOKEN:-sk_live_abcdefghijklmnop}}"
        json #"{{"region": "${{vars.region}}"}}"#
    }}
}}
"##,
            server.url
        ),
    );
    let run = scratch.run(&["run", "plan.kdl", "--dry-run", "--var", "region=us"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.total_hits(), 0);
    assert!(run.stderr.contains("DRY send"), "{}", run.stderr);
    assert!(run.stderr.contains("/hook?region=us"), "{}", run.stderr);
    assert!(
        run.stderr.contains(r#"body: {"region": "us"}"#),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("abcdefghijklmnop"), "{}", run.stderr);
}

#[test]
fn only_and_tag_select_steps_with_what_they_need() {
    let server = TestServer::start(&[
        ("/a", vec![Answer::status(200)]),
        ("/b", vec![Answer::status(200)]),
        ("/c", vec![Answer::status(200)]),
    ]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r#"plan "select" {{ }}
step "a" {{ http "GET" "{0}/a" }}
step "b" {{
    needs "a"
    http "GET" "{0}/b"
    tags "smoke"
}}
step "c" {{ http "GET" "{0}/c" }}
"#,
            server.url
        ),
    );
    let run = scratch.run(&["run", "plan.kdl", "--only", "b"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        (server.hits("/a"), server.hits("/b"), server.hits("/c")),
        (1, 1, 0)
    );
    assert!(
        run.stderr.contains("SKIP c: not selected"),
        "{}",
        run.stderr
    );

    let run = scratch.run(&["run", "plan.kdl", "--tag", "smoke"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        (server.hits("/a"), server.hits("/b"), server.hits("/c")),
        (2, 2, 0)
    );

    let run = scratch.run(&["run", "plan.kdl", "--only", "bb"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: --only bb: no such step\n  help: did you mean `b`?\n"
    );
}

#[test]
fn missing_environment_values_are_all_named_before_anything_runs() {
    let server = TestServer::start(&[]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r#"plan "env" {{ }}
step "a" {{
    http "GET" "{}/${{env.HOOKPLAN_TEST_MISSING_PATH}}" {{
        header "Authorization" "Bearer ${{secret.HOOKPLAN_TEST_MISSING_TOKEN}}"
    }}
}}
"#,
            server.url
        ),
    );
    let run = scratch.run(&["run", "plan.kdl"]);
    assert_eq!(run.code, 2);
    assert_eq!(server.total_hits(), 0);
    assert!(
        run.stderr
            .contains("environment variable `HOOKPLAN_TEST_MISSING_PATH` is not set"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("secret `HOOKPLAN_TEST_MISSING_TOKEN` is not set"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("plan.kdl:3:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("error: plan.kdl has 2 errors"),
        "{}",
        run.stderr
    );
}

#[test]
fn fail_fast_stops_the_rest_but_teardown_still_runs() {
    let server = TestServer::start(&[
        ("/bad", vec![Answer::status(500)]),
        ("/later", vec![Answer::status(200)]),
        ("/teardown", vec![Answer::status(200)]),
    ]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r#"plan "fast" {{ jobs 1 }}
step "bad" {{ http "GET" "{0}/bad" }}
step "later" {{ http "GET" "{0}/later" }}
step "teardown" {{
    needs "later"
    always #true
    http "GET" "{0}/teardown"
}}
"#,
            server.url
        ),
    );
    let run = scratch.run(&["run", "plan.kdl", "--fail-fast"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(server.hits("/later"), 0);
    assert_eq!(server.hits("/teardown"), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("SKIP later: cancelled by --fail-fast after `bad` failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn step_timeout_covers_attempts_and_waits() {
    let server = TestServer::start(&[("/slow", vec![Answer::hang()])]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r#"plan "timeouts" {{ }}
step "slow" {{
    http "GET" "{}/slow"
    timeout "300ms"
}}
"#,
            server.url
        ),
    );
    let started = std::time::Instant::now();
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let report: serde_json::Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    assert_eq!(report["steps"][0]["status"], "errored");
    assert_eq!(report["steps"][0]["attempts"][0]["outcome"], "timeout");
    let junit = scratch.read("out/junit.xml");
    assert!(junit.contains(r#"type="error""#), "{junit}");
}

#[test]
fn report_command_converts_a_report() {
    let server = branches_server();
    let scratch = Scratch::new();
    scratch.write("plan.kdl", &branches_plan(&server.url));
    scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
    let junit = scratch.run(&["report", "out/report.json", "--format", "junit"]);
    assert_eq!(junit.code, 0);
    assert_eq!(junit.stdout, scratch.read("out/junit.xml"));
    let markdown = scratch.run(&["report", "out/report.json", "--format", "markdown"]);
    assert_eq!(markdown.stdout, scratch.read("out/summary.md"));
    let bad = scratch.run(&["report", "plan.kdl", "--format", "junit"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .starts_with("error: plan.kdl is not a hookplan report"),
        "{}",
        bad.stderr
    );
}

#[test]
fn ctrl_c_runs_teardown_writes_a_partial_report_and_exits_130() {
    use std::io::BufRead;
    let server = TestServer::start(&[
        ("/hang", vec![Answer::hang()]),
        ("/teardown", vec![Answer::status(200)]),
    ]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r#"plan "interrupt" {{ }}
step "slow" {{ http "GET" "{0}/hang" }}
step "after" {{
    needs "slow"
    http "GET" "{0}/teardown"
}}
step "teardown" {{
    needs "slow"
    always #true
    http "GET" "{0}/teardown"
}}
"#,
            server.url
        ),
    );
    let mut child = support::hookplan()
        .current_dir(scratch.path())
        .args(["run", "plan.kdl", "--report-dir", "out"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("GET request to") {
            break;
        }
    }
    // The request is on its way (the server only answers after an hour): interrupt.
    while server.hits("/hang") == 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert_eq!(
        server.hits("/teardown"),
        1,
        "only the teardown ran after the interruption:\n{seen}"
    );
    let report: serde_json::Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    assert_eq!(report["status"], "interrupted");
    assert_eq!(report["steps"][0]["message"], "interrupted");
    assert_eq!(report["steps"][1]["status"], "skipped");
    assert_eq!(report["steps"][2]["status"], "passed");
    assert!(seen.contains("INTERRUPTED"), "{seen}");
}

#[test]
fn json_bodies_escape_values_inside_strings_and_keep_numbers_raw() {
    let server = TestServer::start(&[("/echo", vec![Answer::status(200)])]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "json" { }
vars {
    amount 1000
    note "say \"hi\"\\now"
}
step "send" {
    http "POST" "${env.BASE}/echo" {
        json #"{"amount": ${vars.amount}, "note": "${vars.note}"}"#
    }
}
"##,
    );
    let run = scratch.run_env(&["run", "plan.kdl"], &[("BASE", &server.url)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (_, _, headers, body) = &server.requests()[0];
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"amount": 1000, "note": "say \"hi\"\\now"})
    );
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/json")
    );
}

#[test]
fn the_run_timeout_stops_what_would_run_past_it() {
    let server = TestServer::start(&[
        ("/down", vec![Answer::status(503)]),
        ("/later", vec![Answer::status(200)]),
    ]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            r#"plan "deadline" {{ timeout "5s" }}
step "slow" {{
    http "GET" "{0}/down"
    retry {{
        max-retries 3
        base-delay "2s"
    }}
}}
step "later" {{
    needs "slow"
    http "GET" "{0}/later"
}}
"#,
            server.url
        ),
    );
    let run = scratch.run(&[
        "run",
        "plan.kdl",
        "--time-scale",
        "0",
        "--report-dir",
        "out",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    // 2 s and 4 s of waits fit in 5 s only partly: the second wait is not started.
    let slow = &report["steps"][0];
    assert_eq!(slow["status"], "errored");
    assert_eq!(slow["attempts"].as_array().unwrap().len(), 2);
    assert!(
        slow["message"]
            .as_str()
            .unwrap()
            .contains("timeout would pass during the 4.0s wait"),
        "{slow}"
    );
    assert_eq!(report["steps"][1]["status"], "skipped");
    assert_eq!(server.hits("/later"), 0);
}

#[test]
fn an_unusable_report_folder_is_refused_before_anything_runs() {
    let server = TestServer::start(&[("/a", vec![Answer::status(200)])]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        &format!(
            "plan \"p\" {{ }}\nstep \"a\" {{ http \"GET\" \"{}/a\" }}\n",
            server.url
        ),
    );
    scratch.write("taken", "a file");
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "taken"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: --report-dir taken is a file, not a folder\n  help: name a folder (it is created if missing)\n"
    );
    assert_eq!(server.total_hits(), 0);
    let config = scratch.run(&["--config", "missing.kdl", "check", "plan.kdl"]);
    assert_eq!(config.code, 2);
    assert!(
        config.stderr.starts_with(
            "error: cannot read the project config missing.kdl: no such file or directory\n"
        ),
        "{}",
        config.stderr
    );
}

/// Only the run's own sandboxes may report scheduled delays: a server that claims a day of
/// injected delay, plainly or with a made-up signature, moves no clock.
#[test]
fn a_foreign_server_cannot_move_the_virtual_clock() {
    let server = TestServer::start(&[(
        "/claims",
        vec![
            Answer::json(200, "{}")
                .header("x-hookplan-scheduled-delay-ms", "86400000")
                .header(
                    "x-hookplan-scheduled-delay",
                    "86400000;00112233445566778899aabbccddeeff",
                )
                .header("x-request-id", "POST_1"),
        ],
    )]);
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r#"plan "clock" { }
step "ask" {
    http "GET" "${env.BASE}/claims"
    expect { status 200; duration-below "10s"; }
}
step "after" {
    needs "ask"
    http "GET" "${env.BASE}/claims"
}
"#,
    );
    let run = scratch.run_env(
        &["run", "plan.kdl", "--report-dir", "out"],
        &[("BASE", &server.url)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    assert_eq!(report["steps"][0]["status"], "passed");
    assert_eq!(report["steps"][1]["status"], "passed");
    let virtual_ms = report["timing"]["virtual_duration_ms"].as_f64().unwrap();
    assert!(
        virtual_ms < 10_000.0,
        "the run lasted {virtual_ms} ms of virtual time"
    );
}
