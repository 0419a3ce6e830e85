//! The registry issue's story, as a new user lives it: the spec's `def_webhook` in PostgreSQL,
//! `hookplan.kdl` pointing at it, `TEST_WEBHOOK` moved onto a sandbox endpoint that fails
//! twice with `hookplan webhooks set-url`, and `hookplan call TEST_WEBHOOK DONE` printing the
//! spec's lines — with no credential visible anywhere.

mod support;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::postgres::{Postgres, run_sql_blocking};
use support::{LEGACY_DDL, LEGACY_MAPPING, Run, Scratch, hookplan};

const USER_PASSWORD: &str = "Hook-Pw-CANARY-9f3b";
const API_KEY: &str = "sk_live_STORY_CANARY_0123456789";

/// `hookplan sandbox start --port 0` in the background, its console going to a file.
struct SandboxProcess {
    child: Child,
    console: std::path::PathBuf,
}

impl SandboxProcess {
    fn start(scratch: &Scratch) -> (Self, u16) {
        let console = scratch.path().join("sandbox-console.txt");
        let child = hookplan()
            .current_dir(scratch.path())
            .args(["sandbox", "start", "--port", "0"])
            .stdout(std::fs::File::create(&console).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut process = Self { child, console };
        let port = process
            .wait_for("Press Ctrl+C to stop")
            .lines()
            .find_map(|l| l.strip_prefix("Server: http://localhost:"))
            .expect("the banner names the server")
            .trim()
            .parse()
            .unwrap();
        (process, port)
    }

    /// The console once it holds `text` (the banner, a response line).
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let console = std::fs::read_to_string(&self.console).unwrap_or_default();
            if console.contains(text) {
                return console;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the sandbox exited ({status}):\n{console}");
            }
            assert!(Instant::now() < deadline, "no {text:?} in:\n{console}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(run: Run, what: &str) -> Run {
    assert_eq!(run.code, 0, "{what}:\n{}{}", run.stdout, run.stderr);
    run
}

#[test]
fn a_new_user_calls_the_specs_def_webhook_through_a_flaky_sandbox() {
    // 1. The spec's legacy table, unquoted DDL, in PostgreSQL.
    let pg = Postgres::start();
    let url = pg.create_db_blocking("app");
    run_sql_blocking(
        &url,
        &[
            LEGACY_DDL,
            &format!(
                "INSERT INTO def_webhook (Webhookcode, Direction, Baseurl, Method, Username, Apikey, Password) VALUES ('TEST_WEBHOOK', 'OUT', 'https://api.example.invalid/hook', 'POST', 'svc-orders', '{API_KEY}', '{USER_PASSWORD}')"
            ),
        ],
    );

    // 2. hookplan.kdl points at it with the spec's column names.
    let s = Scratch::new();
    s.write(
        "hookplan.kdl",
        &format!(
            "database \"registry\" url=\"${{env.DATABASE_URL}}\" {{\n    {LEGACY_MAPPING}\n}}\n"
        ),
    );
    let env = [("DATABASE_URL", url.as_str())];

    // 3. A sandbox endpoint that fails twice, then answers 200; TEST_WEBHOOK points at it.
    ok(
        s.run(&[
            "sandbox",
            "configure-endpoint",
            "/webhook/test",
            "--status",
            "200",
            "--sequence",
            "503x2,200",
        ]),
        "configure-endpoint",
    );
    let (mut sandbox, port) = SandboxProcess::start(&s);
    let target = format!("http://127.0.0.1:{port}/webhook/test");
    let set_url = ok(
        s.run_env(&["webhooks", "set-url", "TEST_WEBHOOK", &target], &env),
        "set-url",
    );
    let list = ok(s.run_env(&["webhooks", "list"], &env), "list");

    // 4. The call, with the spec's lines (the waits skipped, their words kept).
    let call = ok(
        s.run_env(&["call", "TEST_WEBHOOK", "DONE", "--time-scale", "0"], &env),
        "call",
    );
    support::assert_fails_twice_then_ok(&call.stderr, &target);
    let console = sandbox.wait_for("Response: 200 OK");
    assert_eq!(console.matches("Response: 503").count(), 2, "{console}");
    assert!(console.contains("Auth: Basic"), "{console}");
    let json_log = ok(
        s.run_env(
            &[
                "--log-format",
                "json",
                "call",
                "TEST_WEBHOOK",
                "DONE",
                "--time-scale",
                "0",
            ],
            &env,
        ),
        "call with JSON logs",
    );
    assert!(
        json_log.stderr.contains("\"webhook\":\"TEST_WEBHOOK\""),
        "{}",
        json_log.stderr
    );
    drop(sandbox);

    // No credential visible anywhere: not in what any command printed, the sandbox's console,
    // the reports, journals and logs. (The sandbox's recordings keep requests as received, to
    // replay them, in owner-only files.)
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("svc-orders:{USER_PASSWORD}"));
    let mut outputs = vec![
        (
            "set-url".to_string(),
            format!("{}{}", set_url.stdout, set_url.stderr),
        ),
        (
            "list".to_string(),
            format!("{}{}", list.stdout, list.stderr),
        ),
        (
            "call".to_string(),
            format!("{}{}", call.stdout, call.stderr),
        ),
        ("json log".to_string(), json_log.stderr.clone()),
    ];
    for (path, content) in s.all_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("requests-") && name.ends_with(".jsonl") {
            let mut file = String::new();
            std::fs::File::open(&path)
                .unwrap()
                .read_to_string(&mut file)
                .unwrap();
            assert!(
                file.contains(&token),
                "the recording keeps the request as received"
            );
            continue;
        }
        outputs.push((path.display().to_string(), content));
    }
    assert!(
        outputs
            .iter()
            .any(|(p, _)| p.ends_with("sandbox-console.txt"))
    );
    assert!(outputs.iter().any(|(p, _)| p.ends_with("report.json")));
    assert!(outputs.iter().any(|(p, _)| p.ends_with("events.jsonl")));
    for (name, content) in &outputs {
        for secret in [USER_PASSWORD, API_KEY, &token, super_secret_pg()] {
            assert!(
                !content.contains(secret),
                "a credential in {name}:\n{content}"
            );
        }
    }
}

/// The database password, which the URL carries.
fn super_secret_pg() -> &'static str {
    support::postgres::PG_PASSWORD
}
