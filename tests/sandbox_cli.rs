//! `hookplan sandbox …` as a developer uses it: the real binary, on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const HOOKPLAN: &str = env!("CARGO_BIN_EXE_hookplan");
/// A credential that must never be shown.
const CANARY: &str = "sk_test_CANARY7f3a9c1e5b2d8f4a6c0e9b7d";

/// A `hookplan sandbox start` in the background, with its console captured.
struct Running {
    child: Child,
    port: u16,
    console: Arc<(Mutex<String>, Condvar)>,
}

impl Running {
    fn start(state: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(HOOKPLAN)
            .args(["sandbox", "start", "--port", "0", "--state-dir"])
            .arg(state)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hookplan runs");
        let console = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let stdout = child.stdout.take().unwrap();
        let shared = console.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (text, changed) = &*shared;
                let mut text = text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        let mut running = Self {
            child,
            port: 0,
            console,
        };
        let banner = running.wait_for("Press Ctrl+C to stop");
        let server = banner
            .lines()
            .find_map(|l| l.strip_prefix("Server: http://localhost:"))
            .expect("the banner names the server");
        running.port = server
            .trim()
            .parse()
            .expect("the banner shows the real port");
        running
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The console so far, once it contains `text`.
    fn wait_for(&mut self, text: &str) -> String {
        let (console, changed) = &*self.console;
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = console.lock().unwrap();
        while !seen.contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                let _ =
                    std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr);
                panic!(
                    "the sandbox exited ({status}) before printing {text:?}\nstdout:\n{seen}\nstderr:\n{stderr}"
                );
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("timed out waiting for {text:?}; console:\n{seen}"));
            seen = changed
                .wait_timeout(seen, left.min(Duration::from_millis(100)))
                .unwrap()
                .0;
        }
        seen.clone()
    }

    /// The console so far, once it shows the whole block of request `id`.
    fn wait_for_block(&mut self, id: &str) -> String {
        let start = format!("Request ID: {id}\n");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let console = self.wait_for(&start);
            let at = console.find(&start).unwrap();
            if console[at..].contains("\nResponse: ") {
                return console;
            }
            assert!(
                Instant::now() < deadline,
                "the block of {id} never ended:\n{console}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn console(&self) -> String {
        self.console.0.lock().unwrap().clone()
    }

    /// `kill -9`.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit code.
    fn terminate(&mut self) -> Option<i32> {
        self.signal("-TERM")
    }

    /// A signal (`-INT` is Ctrl-C), then the exit code.
    fn signal(&mut self, signal: &str) -> Option<i32> {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the sandbox did not stop on {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hookplan(state: &Path, args: &[&str]) -> Output {
    Command::new(HOOKPLAN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("hookplan runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A small blocking HTTP client over reqwest (async) for the tests.
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

struct Answer {
    status: u16,
    id: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Http {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = hookplan::http_client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self { runtime, client }
    }

    fn post(&self, url: &str, body: &str) -> Answer {
        self.try_post(url, body)
            .unwrap_or_else(|e| panic!("POST {url}: {e}"))
    }

    fn try_post(&self, url: &str, body: &str) -> Result<Answer, reqwest::Error> {
        self.runtime.block_on(async {
            let response = self
                .client
                .post(url)
                .header("authorization", format!("Bearer {CANARY}"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let id = headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response.text().await?;
            Ok(Answer {
                status,
                id,
                headers,
                body,
            })
        })
    }
}

impl Http {
    /// A POST with exactly these headers; returns the request id.
    fn send(&self, url: &str, headers: &[(&str, &str)], body: &str) -> String {
        self.runtime.block_on(async {
            let mut request = self.client.post(url).body(body.to_string());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            assert_eq!(response.status(), 200, "POST {url}");
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string()
        })
    }
}

fn json_records(output: &Output) -> Vec<serde_json::Value> {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("list-requests --json is not JSON ({e}): {}", stdout(output)))
}

#[test]
fn a_request_is_shown_masked_listed_and_shown_again() {
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Running::start(state.path(), &[]);
    let http = Http::new();
    let answer = http.post(
        &format!("{}/webhook/payment", sandbox.url()),
        r#"{"amount": 1000, "currency": "USD"}"#,
    );
    assert_eq!(answer.status, 200);
    let id = answer.id.unwrap();
    assert!(
        id.starts_with("POST_") && id[5..].parse::<u64>().is_ok(),
        "{id}"
    );

    let console = sandbox.wait_for("Response: 200 OK");
    let block = &console[console
        .find("POST /webhook/payment")
        .expect("the console shows the request")..];
    assert!(block.starts_with(&format!("POST /webhook/payment\nRequest ID: {id}\nAuth: Bearer sk_test_…\nBody: {{\n  \"amount\": 1000,\n  \"currency\": \"USD\"\n}}\nResponse: 200 OK\n")), "{block}");

    let table = hookplan(state.path(), &["sandbox", "list-requests"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let table = stdout(&table);
    assert!(
        table.contains("┃ Request ID") && table.contains("┃ Body Size ┃"),
        "{table}"
    );
    assert!(
        table.contains(&format!("│ {id} │"))
            && table.contains("│ /webhook/payment │")
            && table.contains("│        35 │"),
        "{table}"
    );

    let records = json_records(&hookplan(
        state.path(),
        &["sandbox", "list-requests", "--json"],
    ));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["id"], id.as_str());
    assert_eq!(records[0]["body"], r#"{"amount": 1000, "currency": "USD"}"#);
    let headers = records[0]["headers"].as_array().unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "authorization" && h[1] == "Bearer sk_test_…"),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "content-type" && h[1] == "application/json")
    );
    assert_eq!(records[0]["response"]["status"], 200);

    let shown = hookplan(state.path(), &["sandbox", "show", &id]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(
        stdout(&shown).contains("authorization: Bearer sk_test_…"),
        "{}",
        stdout(&shown)
    );

    // The canary never appears in what people see…
    for (what, text) in [
        ("console", sandbox.console()),
        ("table", table),
        (
            "json",
            stdout(&hookplan(
                state.path(),
                &["sandbox", "list-requests", "--json"],
            )),
        ),
        ("show", stdout(&shown)),
    ] {
        assert!(
            !text.contains(CANARY) && !text.contains("CANARY"),
            "{what} shows the credential:\n{text}"
        );
    }
    // …but stays, raw, in the owner-only recording that replay needs.
    let dir = state.path().join("sandbox/default");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".jsonl"))
        .unwrap();
    assert!(std::fs::read_to_string(&file).unwrap().contains(CANARY));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(sandbox.terminate(), Some(0));
}

#[test]
fn a_recorded_request_replays_to_a_second_sandbox() {
    let state = tempfile::tempdir().unwrap();
    let first = Running::start(state.path(), &["--name", "first"]);
    let second = Running::start(state.path(), &["--name", "second"]);
    let http = Http::new();
    let id = http
        .post(
            &format!("{}/webhook/order?source=test", first.url()),
            r#"{"order": 7}"#,
        )
        .id
        .unwrap();

    let replayed = hookplan(
        state.path(),
        &[
            "sandbox",
            "replay",
            &id,
            "--name",
            "first",
            "--url",
            &second.url(),
        ],
    );
    assert!(replayed.status.success(), "{}", stderr(&replayed));
    let out = stdout(&replayed);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "Replaying {id} POST to {}/webhook/order?source=test",
            second.url()
        )
    );
    assert!(lines[1].starts_with("Response: 200 OK ("), "{out}");
    assert!(lines[2].starts_with("Request ID: POST_"), "{out}");
    assert!(!out.contains(CANARY));
    // One engine: the direct command ran the plan's `replay` step and left its report.
    let runs: Vec<_> = std::fs::read_dir(state.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-sandbox-replay"))
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["steps"][0]["kind"], "replay");
    assert_eq!(report["steps"][0]["status"], "passed");
    assert_eq!(report["steps"][0]["details"]["replayed"], id.as_str());

    let records = json_records(&hookplan(
        state.path(),
        &["sandbox", "list-requests", "--json", "--name", "second"],
    ));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["method"], "POST");
    assert_eq!(records[0]["path"], "/webhook/order");
    assert_eq!(records[0]["query"], "source=test");
    assert_eq!(records[0]["body"], r#"{"order": 7}"#);
    // The credential went along (replay sends raw values); displays still mask it.
    let raw = std::fs::read_dir(state.path().join("sandbox/second"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".jsonl"))
        .unwrap();
    assert!(std::fs::read_to_string(raw).unwrap().contains(CANARY));

    // Without --url it goes back to the sandbox that recorded it.
    let again = hookplan(state.path(), &["sandbox", "replay", &id, "--name", "first"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        json_records(&hookplan(
            state.path(),
            &["sandbox", "list-requests", "--json", "--name", "first"]
        ))
        .len(),
        2
    );
}

#[test]
fn an_endpoint_configured_while_running_answers_within_a_second() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = Running::start(state.path(), &[]);
    let http = Http::new();
    let url = format!("{}/webhook/test", sandbox.url());
    assert_eq!(http.post(&url, "{}").status, 200);

    let response_file = state.path().join("response.json");
    std::fs::write(
        &response_file,
        r#"{"id": "ch_test_123", "status": "succeeded", "amount": 1000}"#,
    )
    .unwrap();
    let configured = hookplan(
        state.path(),
        &[
            "sandbox",
            "configure-endpoint",
            "/webhook/test",
            "--status",
            "201",
            "--file",
            response_file.to_str().unwrap(),
            "--header",
            "X-Custom: yes",
        ],
    );
    assert!(configured.status.success(), "{}", stderr(&configured));
    let started = Instant::now();
    let answer = loop {
        let answer = http.post(&url, "{}");
        if answer.status == 201 {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the running sandbox did not follow the new endpoint"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        answer.body,
        r#"{"id": "ch_test_123", "status": "succeeded", "amount": 1000}"#
    );
    assert_eq!(answer.headers["x-custom"], "yes");
    assert_eq!(answer.headers["content-type"], "application/json");

    // A missing file is a clear error that changes nothing.
    let endpoints = state.path().join("sandbox/default/endpoints.json");
    let before = std::fs::read(&endpoints).unwrap();
    let missing = hookplan(
        state.path(),
        &[
            "sandbox",
            "configure-endpoint",
            "/webhook/test",
            "--status",
            "500",
            "--file",
            "no-such.json",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    let error = stderr(&missing);
    assert!(
        error.contains("no-such.json")
            && error.contains("nothing was changed")
            && !error.contains("panicked"),
        "{error}"
    );
    assert_eq!(std::fs::read(&endpoints).unwrap(), before);
    assert_eq!(http.post(&url, "{}").status, 201);
}

#[test]
fn every_answered_request_survives_kill_dash_9() {
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Running::start(state.path(), &["--quiet"]);
    let url = sandbox.url();
    // Eight clients send as fast as they can until the sandbox is killed under them.
    let answered = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..8)
        .map(|client| {
            let (url, answered) = (url.clone(), answered.clone());
            std::thread::spawn(move || {
                let http = Http::new();
                for n in 0.. {
                    match http.try_post(
                        &format!("{url}/webhook/load"),
                        &format!("{{\"client\":{client},\"n\":{n}}}"),
                    ) {
                        Ok(answer) => answered.lock().unwrap().push(answer.id.unwrap()),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while answered.lock().unwrap().len() < 300 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    sandbox.kill();
    for sender in senders {
        sender.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 50,
        "only {} requests were answered",
        answered.len()
    );
    let records = json_records(&hookplan(
        state.path(),
        &["sandbox", "list-requests", "--json"],
    ));
    let recorded: std::collections::HashSet<&str> =
        records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let lost: Vec<&String> = answered
        .iter()
        .filter(|id| !recorded.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered requests are missing after kill -9: {:?}",
        lost.len(),
        answered.len(),
        &lost[..lost.len().min(5)]
    );
}

#[test]
fn two_sandboxes_with_the_same_seed_inject_the_same_faults() {
    let state = tempfile::tempdir().unwrap();
    let one = Running::start(
        state.path(),
        &[
            "--name",
            "one",
            "--seed",
            "7",
            "--error-rate",
            "0.5",
            "--quiet",
        ],
    );
    let two = Running::start(
        state.path(),
        &[
            "--name",
            "two",
            "--seed",
            "7",
            "--error-rate",
            "0.5",
            "--quiet",
        ],
    );
    let three = Running::start(
        state.path(),
        &[
            "--name",
            "three",
            "--seed",
            "8",
            "--error-rate",
            "0.5",
            "--quiet",
        ],
    );
    let http = Http::new();
    // Deliveries and retries of some of them.
    let bodies: Vec<String> = (0..30)
        .chain(0..6)
        .map(|i| format!("{{\"delivery\":{i}}}"))
        .collect();
    let statuses = |sandbox: &Running| -> Vec<u16> {
        bodies
            .iter()
            .map(|b| {
                http.post(&format!("{}/webhook/deliver", sandbox.url()), b)
                    .status
            })
            .collect()
    };
    let first = statuses(&one);
    assert_eq!(first, statuses(&two));
    assert!(first.contains(&200) && first.contains(&503), "{first:?}");
    assert_ne!(first, statuses(&three));
    let records = json_records(&hookplan(
        state.path(),
        &["sandbox", "list-requests", "--json", "--name", "one"],
    ));
    assert!(
        records
            .iter()
            .filter(|r| r["response"]["status"] == 503)
            .all(|r| r["fault"] == "error-rate")
    );
}

#[test]
fn a_port_in_use_is_a_one_line_error_suggesting_another() {
    let state = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(HOOKPLAN)
        .args(["sandbox", "start", "--port", &port, "--state-dir"])
        .arg(state.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.starts_with("error: port ")
            && error.contains("already in use")
            && error.contains("--port"),
        "{error}"
    );
}

#[test]
fn a_body_over_the_limit_gets_413_and_is_recorded() {
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Running::start(state.path(), &["--max-body-bytes", "1000"]);
    let http = Http::new();
    assert_eq!(
        http.post(&format!("{}/webhook/big", sandbox.url()), &"x".repeat(4000))
            .status,
        413
    );
    sandbox.wait_for("Response: 413 Payload Too Large");
    let records = json_records(&hookplan(
        state.path(),
        &["sandbox", "list-requests", "--json"],
    ));
    assert_eq!(records[0]["answered_by"]["rule"], "rejected");
    assert_eq!(records[0]["body_size"], 4000);
}

#[test]
fn delays_run_at_the_time_scale() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = Running::start(state.path(), &["--delay", "20", "--time-scale", "0.0001"]);
    assert!(sandbox.console().contains("Delay: 20.0s"));
    let started = Instant::now();
    let answer = Http::new().post(&format!("{}/test", sandbox.url()), "{}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(answer.headers["x-hookplan-scheduled-delay-ms"], "20000");
}

#[test]
fn commands_on_the_record_work_without_a_server_and_clear_empties_it() {
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Running::start(state.path(), &[]);
    let http = Http::new();
    http.post(&format!("{}/webhook/a", sandbox.url()), "{}");
    http.post(&format!("{}/api/b", sandbox.url()), "{}");
    assert_eq!(sandbox.terminate(), Some(0));
    assert!(sandbox.console().contains("Sandbox stopped"));

    let filtered = json_records(&hookplan(
        state.path(),
        &["sandbox", "list-requests", "--json", "--path", "/api/*"],
    ));
    assert_eq!(filtered.len(), 1);
    assert_eq!(
        json_records(&hookplan(
            state.path(),
            &["sandbox", "list-requests", "--json", "--limit", "1"]
        ))[0]["path"],
        "/api/b"
    );
    assert!(
        json_records(&hookplan(
            state.path(),
            &["sandbox", "list-requests", "--json", "--method", "get"]
        ))
        .is_empty()
    );

    // A new session is the default view; --all shows every session.
    let mut second = Running::start(state.path(), &[]);
    http.post(&format!("{}/test", second.url()), "{}");
    // Ctrl-C stops it cleanly too.
    assert_eq!(second.signal("-INT"), Some(0));
    assert_eq!(
        json_records(&hookplan(
            state.path(),
            &["sandbox", "list-requests", "--json"]
        ))
        .len(),
        1
    );
    assert_eq!(
        json_records(&hookplan(
            state.path(),
            &["sandbox", "list-requests", "--json", "--all"]
        ))
        .len(),
        3
    );

    let cleared = hookplan(state.path(), &["sandbox", "clear"]);
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    assert!(
        stdout(&cleared).contains("Cleared 3 recorded request(s)"),
        "{}",
        stdout(&cleared)
    );
    let empty = hookplan(state.path(), &["sandbox", "list-requests", "--all"]);
    assert!(
        stdout(&empty).starts_with("No recorded requests"),
        "{}",
        stdout(&empty)
    );
}

#[test]
fn bad_input_gets_one_line_errors_not_panics() {
    let state = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["sandbox", "start", "--error-rate", "2"],
            2,
            "between 0 and 1",
        ),
        (&["sandbox", "start", "--delay", "soon"], 2, "soon"),
        (&["sandbox", "show", "POST_1"], 1, "no recorded request"),
        (&["sandbox", "replay", "POST_1"], 1, "no recorded request"),
        (
            &["sandbox", "list-requests", "--name", "../etc"],
            2,
            "not a sandbox name",
        ),
        (
            &[
                "sandbox",
                "configure-endpoint",
                "webhook",
                "--status",
                "200",
            ],
            2,
            "does not start with `/`",
        ),
        (
            &[
                "sandbox",
                "configure-endpoint",
                "/x",
                "--status",
                "200",
                "--header",
                "nocolon",
            ],
            2,
            "Name: value",
        ),
    ];
    for (args, code, message) in cases {
        let output = hookplan(state.path(), args);
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(*code), "{args:?}: {error}");
        assert!(
            error.contains(message)
                && !error.contains("panicked")
                && !error.contains("RUST_BACKTRACE"),
            "{args:?}: {error}"
        );
    }
    let help = hookplan(state.path(), &["sandbox", "start", "--help"]);
    assert!(stdout(&help).contains("Examples:"), "{}", stdout(&help));
}

#[test]
fn concurrent_configure_endpoint_calls_all_land() {
    let state = tempfile::tempdir().unwrap();
    // Created first, so that the processes race on the endpoints file, not on the folder.
    let first = hookplan(
        state.path(),
        &[
            "sandbox",
            "configure-endpoint",
            "/webhook/first",
            "--status",
            "201",
        ],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let children: Vec<Child> = (0..12)
        .map(|n| {
            Command::new(HOOKPLAN)
                .args(["sandbox", "configure-endpoint"])
                .arg(format!("/webhook/p{n}"))
                .args(["--status", "202", "--state-dir"])
                .arg(state.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("hookplan runs")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let file = state.path().join("sandbox/default/endpoints.json");
    let endpoints: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let mut paths: Vec<&str> = endpoints["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    paths.sort();
    let mut expected: Vec<String> = (0..12).map(|n| format!("/webhook/p{n}")).collect();
    expected.push("/webhook/first".into());
    expected.sort();
    assert_eq!(paths, expected, "an update was lost");
}

#[test]
fn form_multipart_and_echoed_credentials_are_masked_in_every_display() {
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Running::start(state.path(), &[]);
    let http = Http::new();
    let bearer = format!("Bearer {CANARY}");
    // Raw values that must not be shown; every one is long enough to be unmistakable.
    let secrets = [
        CANARY,
        "hunter2hunter2",
        "cs_live_FORMSECRET42",
        "qk_QUERYSECRET99",
        "mp_MULTIPARTSECRET7",
        "ak_APIKEYVALUE31",
    ];
    let form = http.send(
        &format!(
            "{}/webhook/oauth?api_key=qk_QUERYSECRET99&x=1",
            sandbox.url()
        ),
        &[
            ("authorization", &bearer),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials&password=hunter2hunter2&client_secret=cs_live_FORMSECRET42",
    );
    let echo = http.send(
        &format!("{}/webhook/echo", sandbox.url()),
        &[
            ("authorization", &bearer),
            ("x-api-key", "ak_APIKEYVALUE31"),
            ("x-echo", CANARY),
            ("content-type", "application/json"),
        ],
        &format!(r#"{{"echo":"{bearer}","note":"key was ak_APIKEYVALUE31","items":["{CANARY}"]}}"#),
    );
    let multipart = http.send(
        &format!("{}/webhook/upload", sandbox.url()),
        &[("content-type", "multipart/form-data; boundary=B0undary")],
        "--B0undary\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n\
         --B0undary\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nmp_MULTIPARTSECRET7\r\n\
         --B0undary--\r\n",
    );
    // Short credentials: an API key `ss`, form fields `0` and `true`.
    let short = http.send(
        &format!("{}/webhook/short", sandbox.url()),
        &[
            ("x-api-key", "ss"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "user=ann&password=0&token=true&echo=ss",
    );
    let short_json = http.send(
        &format!("{}/webhook/short-json", sandbox.url()),
        &[("x-api-key", "0"), ("content-type", "application/json")],
        r#"{"echo":"0","amount":1000,"count":0}"#,
    );
    // The blocks are shown in order: once the last one is complete, all are.
    let console = sandbox.wait_for_block(&short_json);

    let list_json = stdout(&hookplan(
        state.path(),
        &["sandbox", "list-requests", "--json"],
    ));
    let table = stdout(&hookplan(state.path(), &["sandbox", "list-requests"]));
    let mut shown = vec![
        ("console".to_string(), console.clone()),
        ("list-requests --json".to_string(), list_json.clone()),
        ("list-requests".to_string(), table),
    ];
    for id in [&form, &echo, &multipart, &short, &short_json] {
        for json in [false, true] {
            let mut args = vec!["sandbox", "show", id.as_str()];
            if json {
                args.push("--json");
            }
            let output = hookplan(state.path(), &args);
            assert!(output.status.success(), "{}", stderr(&output));
            shown.push((args.join(" "), stdout(&output)));
        }
    }
    for (what, text) in &shown {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
        }
        assert!(
            !text.contains("CANARY"),
            "{what} shows part of the token:\n{text}"
        );
        for raw in [
            "password=0",
            "token=true",
            "echo=ss",
            "\"echo\":\"0\"",
            "\"echo\": \"0\"",
            "\"count\":0",
            "\"count\": 0",
            "x-api-key: ss",
            "x-api-key: 0",
        ] {
            assert!(!text.contains(raw), "{what} shows {raw}:\n{text}");
        }
    }
    // What is shown instead, in the console block…
    for expected in [
        "POST /webhook/oauth?api_key=qk_Q…&x=1\n",
        "Body: grant_type=client_credentials&password=***&client_secret=***\n",
        "\"echo\": \"Bearer sk_test_…\"",
        "\"note\": \"key was ak_A…\"",
        "name=\"password\"\n\n***\n",
        "Body: user=ann&password=***&token=t…&echo=…\n",
        "\"amount\": 1000,\n  \"count\": \"…\"",
    ] {
        assert!(
            console.contains(expected),
            "console lacks {expected:?}:\n{console}"
        );
    }
    // …and in the JSON, where the rest of the record is intact.
    let records: Vec<serde_json::Value> = serde_json::from_str(&list_json).unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(records[0]["query"], "api_key=qk_Q…&x=1");
    assert_eq!(
        records[0]["body"],
        "grant_type=client_credentials&password=***&client_secret=***"
    );
    assert_eq!(
        records[1]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "x-echo")
            .unwrap()[1],
        "sk_test_…"
    );
    assert_eq!(records[3]["body"], "user=ann&password=***&token=t…&echo=…");

    // The recording keeps every raw value: replay needs them.
    let dir = state.path().join("sandbox/default");
    let recorded: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for secret in secrets {
        assert!(recorded.contains(secret), "the recording lost {secret}");
    }
    assert!(recorded.contains("password=0&token=true&echo=ss"));
    assert_eq!(sandbox.terminate(), Some(0));
}

#[test]
fn a_fast_burst_is_shown_whole_on_the_console() {
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Running::start(state.path(), &[]);
    let http = Http::new();
    let url = format!("{}/webhook/burst", sandbox.url());
    // 200 requests from 8 connections at once, as fast as they are answered.
    let ids: Vec<String> = http.runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for sender in 0..8 {
            let (client, url) = (http.client.clone(), url.clone());
            tasks.spawn(async move {
                let mut ids = Vec::new();
                for n in 0..25 {
                    let response = client
                        .post(&url)
                        .body(format!("{{\"sender\":{sender},\"n\":{n}}}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    ids.push(
                        response.headers()["x-request-id"]
                            .to_str()
                            .unwrap()
                            .to_string(),
                    );
                }
                ids
            });
        }
        let mut ids = Vec::new();
        while let Some(done) = tasks.join_next().await {
            ids.extend(done.unwrap());
        }
        ids
    });
    assert_eq!(ids.len(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let console = loop {
        let console = sandbox.console();
        if console.matches("\nResponse: 200 OK\n").count() >= 200 {
            break console;
        }
        assert!(
            Instant::now() < deadline,
            "not every block was shown:\n{console}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    for id in &ids {
        assert!(
            console.contains(&format!("Request ID: {id}\n")),
            "{id} not shown"
        );
    }
    assert_eq!(sandbox.terminate(), Some(0));
    let console = sandbox.console();
    assert!(!console.contains("not shown"), "{console}");
    assert!(console.ends_with("Sandbox stopped\n"), "{console}");
}
