//! Direct commands are plans of one step, run by the same engine and step modules as a plan
//! file: `hookplan sandbox replay` is the `replay` step.

mod support;

use hookplan::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use support::hookplan;
use support::server::{Answer, TestServer};

/// Records one request in a sandbox of `state` (the CLI's default one) and returns its id.
fn record_one(state: &std::path::Path) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        hookplan::http_client::install_crypto();
        let sandbox = SandboxHandle::spawn(Sandbox::new(
            SandboxConfig {
                port: 0,
                ..SandboxConfig::default()
            },
            state,
        ))
        .unwrap();
        let response = reqwest::Client::new()
            .post(format!("{}/webhook/order", sandbox.url()))
            .body(r#"{"order": 7}"#)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        sandbox.shutdown().await.unwrap();
        id
    })
}

/// A replay reads at most the engine's response limit (16 MiB), however much the target sends.
#[test]
fn a_replay_reads_a_bounded_response() {
    let state = tempfile::tempdir().unwrap();
    let id = record_one(state.path());
    let huge = "x".repeat(24 * 1024 * 1024);
    let server = TestServer::start(&[("/webhook/order", vec![Answer::json(200, &huge)])]);
    let out = hookplan()
        .args(["--state-dir", state.path().to_str().unwrap()])
        .args(["sandbox", "replay", &id, "--url", &server.url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "Replaying {id} POST to {}/webhook/order\n",
            server.url
        )),
        "{stdout}"
    );
    assert!(stdout.contains("Response: 200 OK ("), "{stdout}");
    let run = std::fs::read_dir(state.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-sandbox-replay"))
        .expect("the replay's run folder");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let body = &report["steps"][0]["response"]["body"];
    assert_eq!(body["truncated"], true);
    assert_eq!(
        body["size"],
        16 * 1024 * 1024,
        "read up to the limit, not the 24 MiB sent"
    );
}

/// An unreachable target is one clear line naming it, with what to do; exit 1.
#[test]
fn a_replay_to_nowhere_says_so_in_one_line() {
    let state = tempfile::tempdir().unwrap();
    let id = record_one(state.path());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out = hookplan()
        .args(["--state-dir", state.path().to_str().unwrap()])
        .args([
            "sandbox",
            "replay",
            &id,
            "--url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "could not replay to http://127.0.0.1:{port}/webhook/order: Connection refused"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("check that the target is running"),
        "{stderr}"
    );
}
