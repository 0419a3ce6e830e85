//! The executor's own cost per step: 10,000 steps with a runner that does nothing, in a wide
//! graph (no step needs another) and a deep one (a chain). Target: ≤ 50 µs per step.
//!
//! Run with `cargo bench --bench executor` (or `just bench`).

use divan::Bencher;
use hookplan::clock::{Clock, Timeline};
use hookplan::exec::{
    self, Events, ExecOptions, RunContext, StepFuture, StepOutcome, StepRunner, StepStatus,
};
use hookplan::graph::StepGraph;
use hookplan::model::{Action, Expectations, HttpAction, Plan, Span, Spanned, Step, Template};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const STEPS: usize = 10_000;

fn main() {
    divan::main();
}

/// A runner that passes at once: what remains is the executor.
struct Trivial;

impl StepRunner for Trivial {
    fn run(
        &self,
        _ctx: Arc<RunContext>,
        _step: usize,
        _timeline: Timeline,
        _cancel: CancellationToken,
    ) -> StepFuture {
        Box::pin(async {
            let mut outcome = StepOutcome::errored(String::new(), Duration::ZERO);
            outcome.status = StepStatus::Passed;
            outcome.message = None;
            outcome
        })
    }
}

fn plan(deep: bool) -> Plan {
    let steps = (0..STEPS)
        .map(|i| Step {
            name: format!("s{i}"),
            span: Span::default(),
            description: None,
            needs: if deep && i > 0 {
                vec![Spanned::new(format!("s{}", i - 1), Span::default())]
            } else {
                Vec::new()
            },
            action: Action::Http(HttpAction {
                method: "GET".into(),
                url: Template::literal("http://127.0.0.1:9/", Span::default()),
                headers: Vec::new(),
                query: Vec::new(),
                body: None,
                sign: None,
                span: Span::default(),
            }),
            retry: None,
            timeout: None,
            attempt_timeout: None,
            expect: Expectations::default(),
            captures: Vec::new(),
            continue_on_error: false,
            always: false,
            tags: Vec::new(),
        })
        .collect();
    Plan {
        name: "bench".into(),
        description: None,
        seed: 0,
        jobs: None,
        timeout: None,
        attempt_timeout: Duration::from_secs(10),
        vars: Vec::new(),
        retry_policies: Vec::new(),
        sandboxes: Vec::new(),
        steps,
        path: "bench.kdl".into(),
        base_dir: ".".into(),
        canonical_hash: String::new(),
    }
}

fn run(bencher: Bencher, deep: bool) {
    let plan = Arc::new(plan(deep));
    let graph = StepGraph::new(&plan);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    hookplan::http_client::install_crypto();
    let http = reqwest::Client::new();
    bencher
        .counter(divan::counter::ItemsCount::new(STEPS))
        .bench_local(|| {
            runtime.block_on(async {
                let clock = Clock::new(0.0);
                let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
                // Events are consumed as the console and report builder would.
                let sink = tokio::spawn(async move {
                    let mut all = Vec::with_capacity(2 * STEPS);
                    while let Some(event) = receiver.recv().await {
                        all.push(event);
                    }
                    all.len()
                });
                let ctx = Arc::new(RunContext::new(
                    plan.clone(),
                    clock.clone(),
                    http.clone(),
                    Default::default(),
                    CancellationToken::new(),
                    false,
                    std::env::temp_dir(),
                    Events::new(sender, clock),
                ));
                let options = ExecOptions {
                    jobs: 2,
                    ..ExecOptions::default()
                };
                // As `hookplan run` does: the executor runs on a worker thread, beside its steps.
                let graph = graph.clone();
                tokio::spawn(async move {
                    exec::execute(ctx, &graph, Arc::new(Trivial), options).await
                })
                .await
                .unwrap();
                assert_eq!(sink.await.unwrap(), 2 * STEPS);
            })
        });
}

#[divan::bench(sample_count = 10)]
fn wide_10k_steps(bencher: Bencher) {
    run(bencher, false);
}

#[divan::bench(sample_count = 10)]
fn deep_10k_steps(bencher: Bencher) {
    run(bencher, true);
}
