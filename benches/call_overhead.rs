//! What a `call` costs beyond the request itself: side by side, against the same local sandbox
//! (quiet, recording every request), a bare reqwest POST with the same headers and body, and a
//! `call` step reading its webhook from a SQLite registry — the lookup, the credentials made
//! secrets, the delivery id, the default retry policy, events written as JSON log lines.
//! The target is a median overhead of at most 1 ms.
//!
//! Run with `cargo bench --bench call_overhead` (or `just bench-call`).

use divan::Bencher;
use hookplan::clock::Clock;
use hookplan::exec::{Events, RunContext, Sink};
use hookplan::model::{
    Action, CallAction, DatabaseDecl, Plan, RetryPolicy, Span, Spanned, Step, Template,
};
use hookplan::registry::{Auth, Registry, RegistryConfig, Webhook};
use hookplan::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn main() {
    divan::main();
}

const KEY: &str = "sk_test_bench_0123456789abcdef";
const BODY: &str = r#"{"event":"DONE","webhook":"TEST_WEBHOOK"}"#;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    _sandbox_runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    _sandbox: SandboxHandle,
    url: String,
    registry_url: String,
    client: reqwest::Client,
}

/// One sandbox, one registry and one runtime for every benchmark.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        hookplan::http_client::install_crypto();
        let dir = tempfile::tempdir().unwrap();
        let config = SandboxConfig {
            name: "bench".into(),
            port: 0,
            ..SandboxConfig::default()
        };
        // The sandbox on a runtime of its own, as if it were another process.
        let sandbox_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = {
            let _inside = sandbox_runtime.enter();
            SandboxHandle::spawn(Sandbox::new(config, dir.path())).unwrap()
        };
        let url = format!("{}/webhook/test", sandbox.url());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let registry_url = format!("sqlite://{}", dir.path().join("registry.db").display());
        runtime.block_on(async {
            let registry = Registry::open(RegistryConfig::new("registry", &registry_url))
                .await
                .unwrap();
            let mut webhook = Webhook::new("TEST_WEBHOOK", &url);
            webhook.auth = Auth::Bearer;
            webhook.key = Some(KEY.into());
            registry.add(&webhook).await.unwrap();
        });
        let client = hookplan::http_client::builder().build().unwrap();
        Fixture {
            runtime,
            _sandbox_runtime: sandbox_runtime,
            _dir: dir,
            _sandbox: sandbox,
            url,
            registry_url,
            client,
        }
    })
}

#[divan::bench(sample_count = 300)]
fn bare_reqwest_post(bencher: Bencher) {
    let f = fixture();
    bencher.bench_local(|| {
        f.runtime.block_on(async {
            let response = f
                .client
                .post(&f.url)
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {KEY}"))
                .body(BODY)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap()
        })
    });
}

/// A run's context for a plan of one `call` step, its events written as JSON log lines to a
/// file on their own task (as `logging { file }` does).
fn call_context(f: &Fixture) -> (RunContext, Step) {
    let action = CallAction {
        code: Spanned::new("TEST_WEBHOOK".into(), Span::default()),
        event: Template::literal("DONE", Span::default()),
        database: Spanned::new("registry".into(), Span::default()),
        payload: None,
        url: None,
        credentials: None,
        sign: None,
    };
    let step = Step {
        retry: Some(RetryPolicy::default()),
        ..Step::new("call", Action::new(action, Span::default()))
    };
    let mut db = DatabaseDecl::implicit();
    db.url = Some(Template::literal(&f.registry_url, Span::default()));
    let mut plan = Plan::one_step("bench", step.clone(), ".".into());
    plan.databases = vec![db];
    let clock = Clock::new(0.0);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<hookplan::exec::RunEvent>();
    let log_path = f._dir.path().join("log.jsonl");
    f.runtime.spawn(async move {
        let mut log = hookplan::report::json_log::JsonLog::file(&log_path, "bench").unwrap();
        while let Some(event) = receiver.recv().await {
            log.handle(&event);
        }
        log.finish();
    });
    let ctx = RunContext::builder(Arc::new(plan), Default::default())
        .clock(clock.clone())
        .http(f.client.clone())
        .run_dir(std::env::temp_dir())
        .events(Events::new(sender, clock))
        .build()
        .unwrap();
    (ctx, step)
}

async fn call_once(
    ctx: &RunContext,
    step: &Step,
    registries: &hookplan::steps::registries::Registries,
) -> hookplan::exec::StepOutcome {
    let sandboxes = hookplan::steps::sandboxes::Sandboxes::new(ctx);
    let stores = hookplan::steps::stores::Stores::default();
    let call = hookplan::steps::StepCall {
        ctx,
        index: 0,
        step,
        sandboxes: &sandboxes,
        registries,
        stores: &stores,
        timeline: ctx.clock.timeline(Duration::ZERO),
        cancel: CancellationToken::new(),
    };
    let outcome = (hookplan::steps::call::RUNNER.run)(call).await;
    assert_eq!(
        outcome.status,
        hookplan::exec::StepStatus::Passed,
        "{:?}",
        outcome.message
    );
    outcome
}

/// In a run: the registry is connected once, each call looks its webhook up.
#[divan::bench(sample_count = 300)]
fn call_step(bencher: Bencher) {
    let f = fixture();
    let (ctx, step) = call_context(f);
    let registries = hookplan::steps::registries::Registries::default();
    bencher.bench_local(|| f.runtime.block_on(call_once(&ctx, &step, &registries)));
}

/// As `hookplan call` does: the registry is opened for the call.
#[divan::bench(sample_count = 300)]
fn call_step_opening_the_registry(bencher: Bencher) {
    let f = fixture();
    let (ctx, step) = call_context(f);
    bencher.bench_local(|| {
        let registries = hookplan::steps::registries::Registries::default();
        f.runtime.block_on(call_once(&ctx, &step, &registries))
    });
}
