//! The sandbox as the plan engine uses it: in-process, through `SandboxHandle`, on 127.0.0.1.

use hookplan::clock::Clock;
use hookplan::sandbox::{
    Answer, ConnectionFault, Delay, EndpointConfig, Fault, RecordedRequest, ResponseConfig,
    SCHEDULED_DELAY_HEADER, Sandbox, SandboxConfig, SandboxHandle, SequenceEntry, SignatureConfig,
    SignatureScheme, endpoints,
};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn config(name: &str) -> SandboxConfig {
    SandboxConfig {
        name: name.into(),
        port: 0,
        ..SandboxConfig::default()
    }
}

fn spawn(config: SandboxConfig, state: &Path) -> SandboxHandle {
    SandboxHandle::spawn(Sandbox::new(config, state).with_clock(Clock::new(0.0)))
        .expect("sandbox starts")
}

fn client() -> reqwest::Client {
    hookplan::http_client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
}

/// Waits (briefly, polling) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_request_is_recorded_before_its_answer_arrives() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = spawn(config("order"), state.path());
    let client = client();
    for i in 0..30 {
        let response = post(
            &client,
            &format!("{}/webhook/n{i}", sandbox.url()),
            &format!("{{\"n\":{i}}}"),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        // Read right after the answer, without waiting: the record must already be there.
        let recorded = sandbox.recordings().unwrap();
        assert!(
            recorded.iter().any(|r| r.id == id),
            "request {i} ({id}) was answered before it was recorded"
        );
    }
    let recorded = sandbox.recordings().unwrap();
    assert_eq!(
        recorded.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
    assert_eq!(recorded[3].path, "/webhook/n3");
    assert_eq!(recorded[3].body, "{\"n\":3}");
    assert_eq!(recorded[3].endpoint.as_deref(), Some("/webhook/*"));
    assert_eq!(recorded[3].response.as_ref().unwrap().status, 200);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_as_the_spec_and_everything_else_is_a_recorded_404() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = spawn(config("routes"), state.path());
    let client = client();
    for (method, path, status) in [
        ("POST", "/webhook/payment", 200),
        ("PUT", "/test", 200),
        ("DELETE", "/api/v1/items", 200),
        ("GET", "/other?x=1", 404),
    ] {
        let response = client
            .request(method.parse().unwrap(), format!("{}{path}", sandbox.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
    }
    let recorded = sandbox.recordings().unwrap();
    assert_eq!(recorded.len(), 4);
    assert_eq!(recorded[3].answered_by, Answer::NotFound);
    assert_eq!(recorded[3].query.as_deref(), Some("x=1"));
    sandbox.shutdown().await.unwrap();
}

/// Sends `bodies` to a sandbox, `concurrently` or one by one, and returns for each body the
/// statuses its occurrences got, in occurrence order.
async fn statuses_by_request(
    url: &str,
    bodies: &[String],
    concurrently: bool,
) -> HashMap<String, Vec<u16>> {
    let client = client();
    let mut results = Vec::new();
    if concurrently {
        let tasks: Vec<_> = bodies
            .iter()
            .map(|body| {
                let (client, url, body) = (client.clone(), url.to_string(), body.clone());
                tokio::spawn(async move {
                    let status = post(&client, &format!("{url}/webhook/deliver"), &body)
                        .await
                        .unwrap()
                        .status()
                        .as_u16();
                    (body, status)
                })
            })
            .collect();
        for task in tasks {
            results.push(task.await.unwrap());
        }
    } else {
        for body in bodies {
            results.push((
                body.clone(),
                post(&client, &format!("{url}/webhook/deliver"), body)
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            ));
        }
    }
    let mut by_request: HashMap<String, Vec<u16>> = HashMap::new();
    for (body, status) in results {
        by_request.entry(body).or_default().push(status);
    }
    // Identical requests are interchangeable: compare the statuses they got as a multiset.
    by_request.values_mut().for_each(|s| s.sort());
    by_request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_faults_in_any_arrival_order() {
    let state = tempfile::tempdir().unwrap();
    let seeded = |name: &str, seed| SandboxConfig {
        seed,
        error_rate: 0.5,
        ..config(name)
    };
    // Distinct deliveries plus retries of some (the same request again).
    let mut bodies: Vec<String> = (0..40).map(|i| format!("{{\"event\":{i}}}")).collect();
    bodies.extend((0..10).map(|i| format!("{{\"event\":{i}}}")));
    let one = spawn(seeded("one", 7), state.path());
    let two = spawn(seeded("two", 7), state.path());
    let other = spawn(seeded("other", 8), state.path());
    let sequential = statuses_by_request(&one.url(), &bodies, false).await;
    let mut reversed = bodies.clone();
    reversed.reverse();
    let concurrent = statuses_by_request(&two.url(), &reversed, true).await;
    assert_eq!(sequential, concurrent);
    let all: Vec<u16> = sequential.values().flatten().copied().collect();
    assert!(all.contains(&200) && all.contains(&503), "{all:?}");
    assert_ne!(
        statuses_by_request(&other.url(), &bodies, false).await,
        sequential,
        "another seed draws other faults"
    );
    // The fault is stored with the request, with its fingerprint and occurrence.
    let recorded = one.recordings().unwrap();
    let failed = recorded
        .iter()
        .find(|r| r.response.as_ref().unwrap().status == 503)
        .unwrap();
    assert_eq!(failed.fault, Some(Fault::ErrorRate));
    assert!(failed.fingerprint.is_some() && failed.occurrence.is_some());
    let retried: Vec<&RecordedRequest> = recorded
        .iter()
        .filter(|r| r.body == "{\"event\":0}")
        .collect();
    assert_eq!(
        retried
            .iter()
            .map(|r| r.occurrence.unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_respond_sequence_answers_in_order_and_ignores_the_error_rate() {
    let state = tempfile::tempdir().unwrap();
    let mut flaky = EndpointConfig::new("/webhook/flaky");
    flaky.sequence = vec![
        SequenceEntry {
            times: Some(2),
            response: ResponseConfig {
                status: Some(503),
                headers: vec![("retry-after".into(), "1".into())],
                ..Default::default()
            },
        },
        SequenceEntry {
            times: None,
            response: ResponseConfig {
                status: Some(200),
                ..Default::default()
            },
        },
    ];
    let sandbox = spawn(
        SandboxConfig {
            error_rate: 1.0,
            endpoints: vec![flaky],
            ..config("seq")
        },
        state.path(),
    );
    let client = client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = post(&client, &format!("{}/webhook/flaky", sandbox.url()), "{}")
            .await
            .unwrap();
        if response.status() == 503 {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![503, 503, 200, 200]);
    // The error rate (1.0) still applies to the default routes.
    assert_eq!(
        post(&client, &format!("{}/webhook/other", sandbox.url()), "{}")
            .await
            .unwrap()
            .status(),
        503
    );
    let recorded = sandbox.recordings().unwrap();
    assert_eq!(recorded[1].answered_by, Answer::Sequence { entry: 1 });
    assert_eq!(recorded[2].answered_by, Answer::Sequence { entry: 2 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_sleep_at_the_time_scale_and_are_announced() {
    let state = tempfile::tempdir().unwrap();
    let delay = Delay::range(Duration::from_secs(30), Duration::from_secs(60)).unwrap();
    let config = SandboxConfig {
        delay: Some(delay),
        ..config("delay")
    };
    // 30–60 s scheduled at scale 0.0001 is 3–6 ms of real time.
    let sandbox =
        SandboxHandle::spawn(Sandbox::new(config, state.path()).with_clock(Clock::new(0.0001)))
            .unwrap();
    let started = Instant::now();
    let response = post(&client(), &format!("{}/test", sandbox.url()), "{}")
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let announced: u64 = response.headers()[SCHEDULED_DELAY_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30_000..=60_000).contains(&announced), "{announced}");
    assert_eq!(
        sandbox.recordings().unwrap()[0].scheduled_delay_ms,
        announced
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_faults_reset_close_hang_and_trickle() {
    let state = tempfile::tempdir().unwrap();
    let fault = |path: &str, fault| {
        let mut endpoint = EndpointConfig::new(path);
        endpoint.response.fault = Some(fault);
        endpoint
    };
    let mut slow = fault("/webhook/slow", ConnectionFault::SlowBody);
    slow.response.body = Some(hookplan::sandbox::BodyConfig::text(
        "text/plain",
        "abcdefghijklmnopqrstuvwxyz",
    ));
    let endpoints = vec![
        fault("/webhook/reset", ConnectionFault::Reset),
        fault("/webhook/close", ConnectionFault::Close),
        fault("/webhook/hang", ConnectionFault::Hang),
        slow,
    ];
    let config = SandboxConfig {
        endpoints,
        ..config("faults")
    };
    let sandbox =
        SandboxHandle::spawn(Sandbox::new(config, state.path()).with_clock(Clock::new(0.001)))
            .unwrap();
    let client = client();

    let reset = post(&client, &format!("{}/webhook/reset", sandbox.url()), "{}")
        .await
        .unwrap_err();
    assert!(!reset.is_timeout(), "{reset:?}");
    let closed = post(&client, &format!("{}/webhook/close", sandbox.url()), "{}")
        .await
        .unwrap_err();
    assert!(!closed.is_timeout(), "{closed:?}");
    let hang_client = hookplan::http_client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let hung = post(
        &hang_client,
        &format!("{}/webhook/hang", sandbox.url()),
        "{}",
    )
    .await
    .unwrap_err();
    assert!(hung.is_timeout(), "{hung:?}");
    // 4 s scheduled at scale 0.001: the body arrives whole, in pieces.
    let slow = post(&client, &format!("{}/webhook/slow", sandbox.url()), "{}")
        .await
        .unwrap();
    assert_eq!(slow.headers()[SCHEDULED_DELAY_HEADER], "4000");
    assert_eq!(slow.text().await.unwrap(), "abcdefghijklmnopqrstuvwxyz");

    let recorded = sandbox.recordings().unwrap();
    let faults: Vec<Option<Fault>> = recorded.iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        vec![
            Some(Fault::Reset),
            Some(Fault::Close),
            Some(Fault::Hang),
            Some(Fault::SlowBody)
        ]
    );
    assert!(recorded[0].response.is_none() && recorded[2].response.is_none());
    // A hanging request ends when the sandbox stops: shutdown does not wait for it.
    let started = Instant::now();
    sandbox.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_413_and_a_record_saying_so() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = spawn(
        SandboxConfig {
            max_body_bytes: 1024,
            ..config("limit")
        },
        state.path(),
    );
    let client = client();
    let response = post(
        &client,
        &format!("{}/webhook/big", sandbox.url()),
        &"x".repeat(4_000_000),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 413);
    // A body without a length (chunked) is cut off at the limit as well.
    let stream = chunked("y".repeat(4_000_000));
    let response = client
        .post(format!("{}/webhook/big", sandbox.url()))
        .body(stream)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        post(&client, &format!("{}/webhook/small", sandbox.url()), "ok")
            .await
            .unwrap()
            .status(),
        200
    );
    let recorded = sandbox.recordings().unwrap();
    assert!(
        matches!(&recorded[0].answered_by, Answer::Rejected { reason } if reason.contains("1024")),
        "{:?}",
        recorded[0].answered_by
    );
    assert_eq!(recorded[0].body_size, 4_000_000);
    assert_eq!(recorded[0].response.as_ref().unwrap().status, 413);
    assert!(recorded[1].body_size > 1024);
}

/// A body reqwest sends chunked (no content-length).
fn chunked(text: String) -> reqwest::Body {
    let chunks: std::collections::VecDeque<bytes::Bytes> = text
        .as_bytes()
        .chunks(1000)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    reqwest::Body::wrap(Chunks(chunks))
}

struct Chunks(std::collections::VecDeque<bytes::Bytes>);

impl hyper::body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(
            self.0
                .pop_front()
                .map(|chunk| Ok(hyper::body::Frame::data(chunk))),
        )
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_cannot_hurt_it_and_leak_no_descriptors() {
    let state = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        header_read_timeout: Duration::from_millis(300),
        ..config("bad")
    };
    let sandbox = spawn(config, state.path());
    let addr = sandbox.addr();
    let client = client();
    assert_eq!(
        post(&client, &format!("{}/test", sandbox.url()), "warm")
            .await
            .unwrap()
            .status(),
        200
    );
    let baseline = open_fds();

    let blocking = tokio::task::spawn_blocking(move || {
        // Malformed request line: a 400 and the connection ends.
        let mut garbage = TcpStream::connect(addr).unwrap();
        garbage
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        garbage
            .write_all(b"\x00\x01 NOT HTTP \xff\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = garbage.read_to_end(&mut answer);
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&answer)
        );

        // Slow headers: cut off at the header read timeout.
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        slow.write_all(b"POST /test HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "a slow client was not cut off"
        );

        // A thousand idle connections.
        let idle: Vec<TcpStream> = (0..1000)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        idle
    });
    let idle = blocking.await.unwrap();
    // It still answers while they sit there.
    assert_eq!(
        post(&client, &format!("{}/test", sandbox.url()), "still here")
            .await
            .unwrap()
            .status(),
        200
    );
    drop(idle);
    eventually("the sandbox to close the idle connections", || {
        open_fds() <= baseline + 5
    })
    .await;
    assert_eq!(
        post(&client, &format!("{}/test", sandbox.url()), "after")
            .await
            .unwrap()
            .status(),
        200
    );
    let recorded = sandbox.recordings().unwrap();
    assert_eq!(
        recorded.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(),
        vec!["warm", "still here", "after"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_configured_while_running_are_followed_within_a_second() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = spawn(config("live"), state.path());
    let client = client();
    let url = format!("{}/webhook/test", sandbox.url());
    assert_eq!(post(&client, &url, "{}").await.unwrap().status(), 200);
    let mut endpoint = EndpointConfig::new("/webhook/test");
    endpoint.response.status = Some(201);
    endpoint.response.body = Some(hookplan::sandbox::BodyConfig::text(
        "application/json",
        r#"{"id":"ch_test_123"}"#,
    ));
    endpoints::configure(sandbox.dir(), endpoint).unwrap();
    let configured = Instant::now();
    loop {
        let response = post(&client, &url, "{}").await.unwrap();
        if response.status() == 201 {
            assert_eq!(response.text().await.unwrap(), r#"{"id":"ch_test_123"}"#);
            break;
        }
        assert!(
            configured.elapsed() < Duration::from_secs(5),
            "the running sandbox did not pick up the endpoint"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sandbox.recordings().unwrap().last().unwrap().answered_by == Answer::Endpoint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_can_require_a_signature() {
    let state = tempfile::tempdir().unwrap();
    let mut signed = EndpointConfig::new("/webhook/signed");
    signed.signature = Some(SignatureConfig {
        scheme: SignatureScheme::Stripe,
        secret: "whsec_test".into(),
        tolerance: Duration::from_secs(300),
    });
    let sandbox = spawn(
        SandboxConfig {
            endpoints: vec![signed],
            ..config("signed")
        },
        state.path(),
    );
    let client = client();
    let url = format!("{}/webhook/signed", sandbox.url());
    let body = r#"{"id":"evt_1"}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let good = client
        .post(&url)
        .header(
            "stripe-signature",
            stripe_header("whsec_test", now, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    let forged = client
        .post(&url)
        .header(
            "stripe-signature",
            stripe_header("whsec_wrong", now, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let unsigned = client.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let recorded = sandbox.recordings().unwrap();
    assert!(
        matches!(&recorded[2].answered_by, Answer::Rejected { reason } if reason.contains("stripe-signature"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plans_sandbox_declaration_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = r#"{"id": "ch_test_123", "status": "succeeded"}"#;
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    std::fs::write(dir.path().join("fixtures/charge.json"), fixture).unwrap();
    let path = dir.path().join("plan.kdl");
    std::fs::write(
        &path,
        r#"plan "declared" { seed 42 }
sandbox "hooks" {
    port 0
    error-rate 0.2
    endpoint "/webhook/payment" status=201 body-file="fixtures/charge.json"
    endpoint "/webhook/flaky" {
        respond status=503 times=2
        respond status=200
    }
}
step "s" { http "POST" "${sandbox.hooks.url}/webhook/flaky" }
"#,
    )
    .unwrap();
    let plan = hookplan::plan::load(&path).expect("the plan is valid");
    let decl = plan.plan.sandbox("hooks").unwrap();
    let config = SandboxConfig::from_decl(decl, &plan.plan.base_dir, plan.plan.seed).unwrap();
    assert_eq!((config.seed, config.error_rate, config.port), (42, 0.2, 0));
    let state = tempfile::tempdir().unwrap();
    let sandbox = spawn(config, state.path());
    let client = client();
    let flaky = format!("{}/webhook/flaky", sandbox.url());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            post(&client, &flaky, r#"{"amount": 1000, "currency": "USD"}"#)
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    // The error rate does not apply to a request that a `respond` sequence answers.
    assert_eq!(statuses, vec![503, 503, 200]);
    let payment = post(&client, &format!("{}/webhook/payment", sandbox.url()), "{}")
        .await
        .unwrap();
    assert!(
        payment.status() == 201 || payment.status() == 503,
        "{}",
        payment.status()
    );
    if payment.status() == 201 {
        assert_eq!(payment.text().await.unwrap(), fixture);
    }
    let flaky_records = sandbox
        .recordings()
        .unwrap()
        .into_iter()
        .filter(|r| r.path == "/webhook/flaky")
        .count();
    assert_eq!(flaky_records, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_bind_error() {
    let state = tempfile::tempdir().unwrap();
    let first = spawn(config("first"), state.path());
    let taken = SandboxConfig {
        port: first.addr().port(),
        ..config("second")
    };
    let error = SandboxHandle::spawn(Sandbox::new(taken, state.path()))
        .err()
        .unwrap();
    assert!(error.is_address_in_use(), "{error}");
    assert!(error.to_string().contains("already in use"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_match_their_json_schema() {
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/recorded-request.schema.json");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let state = tempfile::tempdir().unwrap();
    let mut sequenced = EndpointConfig::new("/webhook/seq");
    sequenced.sequence = vec![SequenceEntry {
        times: Some(1),
        response: ResponseConfig {
            status: Some(503),
            ..Default::default()
        },
    }];
    sequenced.every = Some(hookplan::sandbox::Every {
        n: 2,
        response: ResponseConfig {
            status: Some(500),
            ..Default::default()
        },
    });
    let mut reset = EndpointConfig::new("/webhook/reset");
    reset.response.fault = Some(ConnectionFault::Reset);
    let config = SandboxConfig {
        max_body_bytes: 100,
        error_rate: 0.5,
        delay: Some(Delay::fixed(Duration::from_millis(5))),
        endpoints: vec![sequenced, reset],
        ..config("schema")
    };
    let sandbox = spawn(config, state.path());
    let client = client();
    for (path, body) in [
        ("/webhook/a?token=abc", "{\"a\":1}"),
        ("/nope", ""),
        ("/webhook/seq", "1"),
        ("/webhook/seq", "2"),
        ("/webhook/seq", "3"),
        ("/test", &"x".repeat(500)),
    ] {
        let _ = client
            .post(format!("{}{path}", sandbox.url()))
            .header("authorization", "Bearer secret_value_123456")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
    }
    let _ = client
        .post(format!("{}/webhook/reset", sandbox.url()))
        .body(vec![0xffu8, 0x00])
        .send()
        .await;
    let recorded = sandbox.recordings().unwrap();
    assert_eq!(recorded.len(), 7);
    let rules: std::collections::HashSet<String> = recorded
        .iter()
        .map(|r| {
            serde_json::to_value(&r.answered_by).unwrap()["rule"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for rule in [
        "route",
        "not-found",
        "sequence",
        "every",
        "endpoint",
        "rejected",
    ] {
        assert!(rules.contains(rule), "no {rule} record among {rules:?}");
    }
    let raw = std::fs::read_to_string(hookplan::sandbox::recording::session_file(
        sandbox.dir(),
        sandbox.session(),
    ))
    .unwrap();
    for line in raw.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{line}\n{errors:#?}");
        let mut drifted = value.clone();
        drifted["unknown_field"] = serde_json::Value::Bool(true);
        assert!(
            !validator.is_valid(&drifted),
            "the schema must notice fields it does not know"
        );
    }
    for record in &recorded {
        let masked = hookplan::sandbox::console::masked_json(record);
        assert!(validator.is_valid(&masked), "{masked}");
        assert!(!masked.to_string().contains("secret_value_123456"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconfigured_sequence_starts_again_and_other_changes_leave_it_counting() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = spawn(config("restart"), state.path());
    let client = client();
    let scripted = |first: u16| {
        let mut endpoint = EndpointConfig::new("/webhook/s");
        endpoint.sequence = vec![SequenceEntry {
            times: Some(1),
            response: ResponseConfig {
                status: Some(first),
                ..Default::default()
            },
        }];
        endpoint
    };
    let status_of = |path: &'static str| {
        let (client, url) = (client.clone(), sandbox.url());
        async move {
            post(&client, &format!("{url}{path}"), "{}")
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    endpoints::configure(sandbox.dir(), scripted(503)).unwrap();
    // Wait until the sandbox follows: the first answer is then the scripted 503.
    let started = Instant::now();
    while status_of("/webhook/s").await != 503 {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of("/webhook/s").await, 200);
    // Another endpoint changes: /webhook/s keeps counting (no 503 again).
    let mut other = EndpointConfig::new("/webhook/other");
    other.response.status = Some(202);
    endpoints::configure(sandbox.dir(), other).unwrap();
    let started = Instant::now();
    while status_of("/webhook/other").await != 202 {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of("/webhook/s").await, 200);
    // /webhook/s itself changes: its sequence starts again.
    endpoints::configure(sandbox.dir(), scripted(502)).unwrap();
    let started = Instant::now();
    loop {
        match status_of("/webhook/s").await {
            502 => break,
            200 => {}
            other => panic!("unexpected {other}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of("/webhook/s").await, 200);
}

/// The `Stripe-Signature` value for a payload, made with the crate's signer.
fn stripe_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let headers = hookplan::signature::sign(
        hookplan::model::SignatureScheme::Stripe,
        secret,
        "",
        timestamp as u64,
        body,
    )
    .unwrap();
    headers[0].1.clone()
}
