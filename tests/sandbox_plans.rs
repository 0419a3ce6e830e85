//! Sandboxes declared in plans: faults in a fixed order, error rates, signatures, assertions on
//! what arrived, replay, and the same digest for the same seed.

mod support;

use support::{Scratch, hookplan, repo};

fn report(scratch: &Scratch, dir: &str) -> serde_json::Value {
    serde_json::from_str(&scratch.read(&format!("{dir}/report.json"))).unwrap()
}

fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

#[test]
fn the_quickstart_runs_offline_with_an_empty_environment() {
    let scratch = Scratch::new();
    let plan = repo().join("plans/quickstart.kdl");
    let out = hookplan()
        .env_clear()
        .env("NO_COLOR", "1")
        .current_dir(scratch.path())
        .args([
            "run",
            plan.to_str().unwrap(),
            "--time-scale",
            "0",
            "--report-dir",
            "out",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for line in [
        "Server error 503, retrying in 2.0s (attempt 1/3)",
        "Server error 503, retrying in 4.0s (attempt 2/3)",
        "[forged] Response: 401 Unauthorized",
        "[forged] No retry - client error",
        "PASS payments-arrived",
        "PASSED 8 passed",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
    let report = report(&scratch, "out");
    assert_eq!(report["sandboxes"][0]["name"], "hooks");
    assert_eq!(report["sandboxes"][0]["faults"]["rejected"], 1);
    let charge = step(&report, "charge");
    let delays: Vec<u64> = charge["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["scheduled_delay_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(delays, vec![0, 2000, 4000]);
    // The signing secret is masked even though it came from a default in the plan.
    let text = scratch.read("out/report.json");
    assert!(!text.contains("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert!(!stderr.contains("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

const SCENARIO: &str = r##"plan "scenario" {
    seed 16
    jobs 4
}
retry "fast" {
    max-retries 4
    base-delay "1s"
    jitter "full"
}
sandbox "hooks" {
    port 0
    delay "10ms" "50ms"
    endpoint "/webhook/ordered" method="POST" {
        respond status=503 times=2
        respond status=200
    }
    endpoint "/webhook/random" method="POST" error-rate=0.2 status=202
    endpoint "/webhook/every" method="POST" {
        every 3 status=500
        status 200
    }
}
step "ordered" {
    http "POST" "${sandbox.hooks.url}/webhook/ordered" { json #"{"n": 0}"# }
    retry "fast"
    expect status=200 attempts=3
}
step "random-a" {
    http "POST" "${sandbox.hooks.url}/webhook/random" { json #"{"n": 1}"# }
    retry "fast"
    expect status=202
}
step "random-b" {
    http "POST" "${sandbox.hooks.url}/webhook/random" { json #"{"n": 2}"# }
    retry "fast"
    expect status=202
}
step "random-c" {
    http "POST" "${sandbox.hooks.url}/webhook/random" { json #"{"n": 3}"# }
    retry "fast"
    expect status=202
}
step "random-d" {
    http "POST" "${sandbox.hooks.url}/webhook/random" { json #"{"n": 4}"# }
    retry "fast"
    expect status=202
}
step "every-a" {
    http "POST" "${sandbox.hooks.url}/webhook/every" { json #"{"n": 5}"# }
    retry "fast"
}
step "every-b" {
    needs "every-a"
    http "POST" "${sandbox.hooks.url}/webhook/every" { json #"{"n": 6}"# }
    retry "fast"
}
step "every-c" {
    needs "every-b"
    http "POST" "${sandbox.hooks.url}/webhook/every" { json #"{"n": 7}"# }
    retry "fast"
    expect status=200 attempts=2
}
step "arrived" {
    needs "ordered" "random-a" "random-b" "random-c" "random-d" "every-c"
    expect-requests sandbox="hooks" path="/webhook/ordered" {
        count 3
        statuses 503 503 200
        json "/n" 0
    }
}
"##;

fn scenario_digest(scratch: &Scratch, seed: &str, dir: &str) -> (String, serde_json::Value) {
    let run = scratch.run(&[
        "run",
        "plan.kdl",
        "--time-scale",
        "0",
        "--seed",
        seed,
        "--report-dir",
        dir,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = report(scratch, dir);
    (report["digest"].as_str().unwrap().to_string(), report)
}

#[test]
fn a_scenario_gives_the_same_digest_for_the_same_seed_and_another_for_another() {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", SCENARIO);
    let (first, report) = scenario_digest(&scratch, "16", "one");
    let (second, again) = scenario_digest(&scratch, "16", "two");
    assert_eq!(first, second);
    assert_eq!(
        report["sandboxes"],
        again["sandboxes"].clone().tap_url(&report)
    );
    let injected = report["sandboxes"][0]["faults"]["error-rate"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        injected > 0,
        "seed 16 injects at least one error: {}",
        report["sandboxes"][0]
    );
    let (other, _) = scenario_digest(&scratch, "17", "three");
    assert_ne!(first, other, "another seed draws other faults and jitter");
}

/// The sandbox URL (a port) differs between runs; everything else must match.
trait TapUrl {
    fn tap_url(self, like: &serde_json::Value) -> serde_json::Value;
}

impl TapUrl for serde_json::Value {
    fn tap_url(mut self, like: &serde_json::Value) -> serde_json::Value {
        self[0]["url"] = like["sandboxes"][0]["url"].clone();
        self
    }
}

#[test]
fn expect_requests_reports_what_was_expected_and_what_arrived() {
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "arrivals" { }
sandbox "hooks" { port 0 }
step "send" {
    http "POST" "${sandbox.hooks.url}/webhook/a" {
        header "x-tenant" "blue"
        json #"{"amount": 5}"#
    }
}
step "check" {
    needs "send"
    expect-requests sandbox="hooks" path="/webhook/*" method="POST" {
        count 2
        header "x-tenant" "green"
        json "/amount" 5
        body-contains "amount"
    }
}
"##,
    );
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = report(&scratch, "out");
    let check = step(&report, "check");
    let assertions: Vec<(String, String, String, bool)> = check["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().into(),
                a["expected"].as_str().unwrap().into(),
                a["actual"].as_str().unwrap().into(),
                a["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        assertions[0],
        ("count".into(), "2".into(), "1".into(), false)
    );
    assert_eq!(assertions[1].0, "header x-tenant");
    assert_eq!(assertions[1].1, "\"green\"");
    assert!(
        assertions[1].2.ends_with("): \"blue\""),
        "{:?}",
        assertions[1]
    );
    assert!(!assertions[1].3);
    assert_eq!(
        assertions[2],
        (
            "json /amount".into(),
            "5".into(),
            "all 1 as expected".into(),
            true
        )
    );
    assert!(assertions[3].3);
    assert_eq!(check["details"]["matched"], 1);
    assert!(run.stderr.contains("FAIL check"), "{}", run.stderr);
}

#[test]
fn signatures_are_produced_and_verified_in_both_schemes() {
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "signatures" { }
sandbox "hooks" {
    port 0
    endpoint "/webhook/standard" method="POST" {
        require-signature "standard-webhooks" secret="${secret.SW_SECRET:-whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD}"
        status 204
    }
    endpoint "/webhook/stripe" method="POST" {
        require-signature "stripe" secret="whsec_stripe_test_secret"
        status 204
    }
}
step "standard" {
    http "POST" "${sandbox.hooks.url}/webhook/standard" {
        json #"{"email": "test@example.com"}"#
        sign "standard-webhooks" secret="${secret.SW_SECRET:-whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD}"
    }
    expect status=204
}
step "stripe" {
    http "POST" "${sandbox.hooks.url}/webhook/stripe" {
        json #"{"type": "charge.succeeded"}"#
        sign "stripe" secret="whsec_stripe_test_secret"
    }
    expect status=204
}
step "wrong-scheme" {
    http "POST" "${sandbox.hooks.url}/webhook/stripe" {
        json #"{"type": "charge.succeeded"}"#
        sign "standard-webhooks" secret="whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    }
    expect status=401
}
step "unsigned" {
    http "POST" "${sandbox.hooks.url}/webhook/standard" { json "{}" }
    expect status=401
}
step "verified" {
    needs "standard" "stripe" "wrong-scheme" "unsigned"
    expect-requests sandbox="hooks" path="/webhook/standard" {
        count 2
    }
}
step "standard-valid" {
    needs "verified"
    expect-requests sandbox="hooks" path="/webhook/stripe" {
        count 2
        faults "none" "rejected"
    }
}
"##,
    );
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out", "--jobs", "1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = report(&scratch, "out");
    assert_eq!(report["sandboxes"][0]["faults"]["rejected"], 2);
    assert_eq!(report["sandboxes"][0]["statuses"]["204"], 2);
}

#[test]
fn replay_sends_a_recorded_request_to_another_sandbox() {
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "replay" { }
sandbox "hooks" { port 0 }
sandbox "mirror" {
    port 0
    endpoint "/copy" method="POST" status=201
}
step "send" {
    http "POST" "${sandbox.hooks.url}/webhook/pay" {
        header "x-request-id" "req-1"
        json #"{"amount": 42}"#
    }
}
step "again" {
    needs "send"
    replay sandbox="hooks" path="/webhook/*" to="${sandbox.mirror.url}/copy"
    expect status=201
}
step "copied" {
    needs "again"
    expect-requests sandbox="mirror" path="/copy" {
        count 1
        method "POST"
        header "x-request-id" "req-1"
        json "/amount" 42
    }
}
"##,
    );
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = report(&scratch, "out");
    assert!(
        step(&report, "again")["details"]["replayed"]
            .as_str()
            .unwrap()
            .starts_with("POST_")
    );
}

#[test]
fn recordings_of_a_run_stay_in_its_state_folder_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r#"plan "state" { }
sandbox "hooks" { port 0 }
step "send" { http "POST" "${sandbox.hooks.url}/webhook/x" }
"#,
    );
    let run = scratch.run(&["run", "plan.kdl", "--report-dir", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = scratch.all_files();
    let recordings: Vec<_> = files
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("/sandbox/hooks/"))
        .collect();
    assert!(
        !recordings.is_empty(),
        "the run's folder holds the sandbox's recordings"
    );
    for (path, _) in &recordings {
        assert!(
            path.starts_with(scratch.path().join(".hookplan/runs")),
            "{}",
            path.display()
        );
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
    }
    let report_dir: Vec<_> = std::fs::read_dir(scratch.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut report_dir = report_dir;
    report_dir.sort();
    assert_eq!(
        report_dir,
        vec!["junit.xml", "report.json", "summary.md"],
        "--report-dir receives only the reports"
    );
}

/// A delay the run's own sandbox injected counts in full on the virtual clock, at any scale:
/// its report is signed with the run's key (a foreign server's is not believed; see
/// run_engine.rs).
#[test]
fn a_delay_the_runs_sandbox_injected_counts_in_full() {
    let scratch = Scratch::new();
    scratch.write(
        "plan.kdl",
        r#"plan "slow" { }
sandbox "hooks" {
    port 0
    endpoint "/webhook/slow" { status 200; delay "30s"; }
}
step "slow" {
    http "POST" "${sandbox.hooks.url}/webhook/slow"
}
"#,
    );
    let run = scratch.run(&[
        "run",
        "plan.kdl",
        "--time-scale",
        "0",
        "--report-dir",
        "out",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&scratch.read("out/report.json")).unwrap();
    let took = report["steps"][0]["timing"]["duration_ms"]
        .as_f64()
        .unwrap();
    assert!(
        (30_000.0..31_000.0).contains(&took),
        "the step took {took} ms of virtual time"
    );
}
