//! The spec promises retries cost nothing when the first request succeeds. Side by side, against
//! the same local server: a bare reqwest call, and an `http` step with the spec's retry policy
//! (template rendering, policy decision, breaker bookkeeping, events, expectations).
//!
//! Run with `cargo bench --bench http_overhead` (or `just bench`).

use bytes::Bytes;
use divan::Bencher;
use hookplan::clock::Clock;
use hookplan::exec::{Events, RunContext};
use hookplan::model::{
    Action, CircuitBreakerPolicy, HttpAction, Plan, RetryPolicy, Span, Step, Template,
};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn main() {
    divan::main();
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    url: String,
    client: reqwest::Client,
}

/// One server and one runtime for every benchmark: what differs is only the calling code.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        hookplan::http_client::install_crypto();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/webhook/ok", listener.local_addr().unwrap());
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let service = service_fn(|_req| async {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"{\"ok\":true}",
                        ))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let client = hookplan::http_client::builder().build().unwrap();
        Fixture {
            runtime,
            url,
            client,
        }
    })
}

#[divan::bench(sample_count = 200)]
fn bare_reqwest(bencher: Bencher) {
    let f = fixture();
    bencher.bench_local(|| {
        f.runtime.block_on(async {
            let response = f
                .client
                .post(&f.url)
                .body("{\"amount\":1000}")
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap()
        })
    });
}

#[divan::bench(sample_count = 200)]
fn http_step_with_retry_policy(bencher: Bencher) {
    let f = fixture();
    let policy = RetryPolicy {
        circuit_breaker: Some(CircuitBreakerPolicy {
            consecutive_failures: Some(5),
            ..CircuitBreakerPolicy::default()
        }),
        ..RetryPolicy::default()
    };
    let http = HttpAction {
        method: "POST".into(),
        url: Template::literal(&f.url, Span::default()),
        headers: Vec::new(),
        query: Vec::new(),
        body: Some(hookplan::model::Body::Text(Template::literal(
            "{\"amount\":1000}",
            Span::default(),
        ))),
        sign: None,
        span: Span::default(),
    };
    let step = Step {
        retry: Some(policy),
        ..Step::new("deliver", Action::new(http.clone(), Span::default()))
    };
    let plan = Arc::new(Plan {
        name: "bench".into(),
        description: None,
        seed: 0,
        jobs: None,
        timeout: None,
        attempt_timeout: Duration::from_secs(10),
        vars: Vec::new(),
        retry_policies: Vec::new(),
        sandboxes: Vec::new(),
        databases: Vec::new(),
        stores: Vec::new(),
        steps: vec![step.clone()],
        alerting: None,
        mqtt: Vec::new(),
        path: "bench.kdl".into(),
        base_dir: ".".into(),
        canonical_hash: String::new(),
    });
    let clock = Clock::new(0.0);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    f.runtime
        .spawn(async move { while receiver.recv().await.is_some() {} });
    let ctx = RunContext::builder(plan, Default::default())
        .clock(clock.clone())
        .http(f.client.clone())
        .run_dir(std::env::temp_dir())
        .events(Events::new(sender, clock.clone()))
        .build()
        .unwrap();
    let sandboxes = hookplan::steps::sandboxes::Sandboxes::new(&ctx);
    let registries = hookplan::steps::registries::Registries::default();
    let stores = hookplan::steps::stores::Stores::default();
    bencher.bench_local(|| {
        f.runtime.block_on(async {
            let call = hookplan::steps::StepCall {
                ctx: &ctx,
                index: 0,
                step: &step,
                sandboxes: &sandboxes,
                registries: &registries,
                stores: &stores,
                timeline: clock.timeline(Duration::ZERO),
                cancel: CancellationToken::new(),
            };
            let outcome = (hookplan::steps::http::RUNNER.run)(call).await;
            assert_eq!(outcome.status, hookplan::exec::StepStatus::Passed);
            outcome
        })
    });
}
