//! The executor's own cost per step: 10,000 steps with a runner that does nothing, in a wide
//! graph (no step needs another) and a deep one (a chain), first with the events merely
//! collected, then with the sinks `hookplan run` attaches: the events journal and the report
//! builder (lossless), and the console (lossy, on its own thread; plain lines to stderr).
//! Target: ≤ 5 µs per step with the sinks.
//!
//! Run with `cargo bench --bench executor 2>/dev/null` (or `just bench-engine`).

use divan::Bencher;
use hookplan::clock::{Clock, Timeline};
use hookplan::exec::{
    self, EventKind, Events, ExecOptions, RunContext, RunStarted, Sinks, StepFuture, StepInfo,
    StepOutcome, StepRunner, StepStatus,
};
use hookplan::graph::StepGraph;
use hookplan::model::{Action, HttpAction, Plan, Span, Spanned, Step, Template};
use hookplan::report::ReportBuilder;
use hookplan::report::console::{Console, Verbosity};
use hookplan::report::journal::Journal;
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
            needs: if deep && i > 0 {
                vec![Spanned::new(format!("s{}", i - 1), Span::default())]
            } else {
                Vec::new()
            },
            ..Step::new(
                &format!("s{i}"),
                Action::new(
                    HttpAction {
                        method: "GET".into(),
                        url: Template::literal("http://127.0.0.1:9/", Span::default()),
                        headers: Vec::new(),
                        query: Vec::new(),
                        body: None,
                        sign: None,
                        span: Span::default(),
                    },
                    Span::default(),
                ),
            )
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
        databases: Vec::new(),
        stores: Vec::new(),
        steps,
        alerting: None,
        mqtt: Vec::new(),
        path: "bench.kdl".into(),
        base_dir: ".".into(),
        canonical_hash: String::new(),
    }
}

fn run(bencher: Bencher, deep: bool, sinks: bool) {
    let plan = Arc::new(plan(deep));
    let graph = StepGraph::new(&plan);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    hookplan::http_client::install_crypto();
    let http = reqwest::Client::new();
    let journal_dir = tempfile::tempdir().unwrap();
    bencher
        .counter(divan::counter::ItemsCount::new(STEPS))
        .bench_local(|| {
            runtime.block_on(async {
                let clock = Clock::new(0.0);
                let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
                let consumer = if sinks {
                    let journal =
                        Journal::create(&journal_dir.path().join("events.jsonl")).unwrap();
                    let console = Console::new(false, false, Verbosity::Normal);
                    // SINKS=journal,console (the default: both) picks the sinks beside the report.
                    let only = std::env::var("SINKS").unwrap_or_else(|_| "journal,console".into());
                    let mut sinks = Sinks::default().lossless(ReportBuilder::default());
                    if only.contains("journal") {
                        sinks = sinks.lossless(journal);
                    }
                    if only.contains("console") {
                        sinks = sinks.lossy(console);
                    }
                    tokio::spawn(async move {
                        let mut finished = sinks.run(receiver).await;
                        let report = finished.take::<ReportBuilder>().unwrap().into_report();
                        report.steps.len() + 1
                    })
                } else {
                    // Events are merely collected.
                    tokio::spawn(async move {
                        let mut all = Vec::with_capacity(2 * STEPS);
                        while let Some(event) = receiver.recv().await {
                            all.push(event);
                        }
                        all.len() / 2 + 1
                    })
                };
                let events = Events::new(sender, clock.clone());
                events.emit_at(Duration::ZERO, EventKind::RunStarted(started(&plan)));
                let ctx = Arc::new(
                    RunContext::builder(plan.clone(), Default::default())
                        .clock(clock)
                        .http(http.clone())
                        .run_dir(std::env::temp_dir())
                        .events(events)
                        .build()
                        .unwrap(),
                );
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
                assert_eq!(consumer.await.unwrap(), STEPS + 1);
            })
        });
}

fn started(plan: &Plan) -> RunStarted {
    RunStarted {
        plan: plan.name.clone(),
        path: "bench.kdl".into(),
        description: None,
        canonical_hash: String::new(),
        seed: 0,
        jobs: 2,
        time_scale: 0.0,
        dry_run: false,
        variables: Vec::new(),
        steps: plan
            .steps
            .iter()
            .map(|s| StepInfo {
                name: s.name.clone(),
                kind: "http".into(),
                needs: s.needs.iter().map(|n| n.value.clone()).collect(),
                tags: Vec::new(),
                continue_on_error: false,
                always: false,
            })
            .collect(),
    }
}

#[divan::bench(sample_count = 10)]
fn wide_10k_steps(bencher: Bencher) {
    run(bencher, false, false);
}

#[divan::bench(sample_count = 10)]
fn deep_10k_steps(bencher: Bencher) {
    run(bencher, true, false);
}

#[divan::bench(sample_count = 10)]
fn wide_10k_steps_with_sinks(bencher: Bencher) {
    run(bencher, false, true);
}

#[divan::bench(sample_count = 10)]
fn deep_10k_steps_with_sinks(bencher: Bencher) {
    run(bencher, true, true);
}
