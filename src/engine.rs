//! One run of a validated plan: the run context, the sinks, the executor and the step runners,
//! wired so that data flows one way — plan → executor → step runners → events → sinks.
//! `hookplan run` and every direct command (`sandbox replay`, …) go through here.

use crate::clock::Clock;
use crate::exec::values::Values;
use crate::exec::{
    self, EventKind, ExecOptions, Finished, RunContext, RunStarted, Sinks, Stage, StepInfo,
};
use crate::graph::StepGraph;
use crate::model::Plan;
use crate::report::{Report, ReportBuilder};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How to run a plan.
pub struct RunSetup {
    /// The plan file as it is shown (reports carry it).
    pub shown_path: String,
    pub jobs: usize,
    pub time_scale: f64,
    pub dry_run: bool,
    pub fail_fast: bool,
    /// Steps to run (closed under `needs`); `None` = all.
    pub selected: Option<BTreeSet<usize>>,
    /// This run's folder in the state directory.
    pub run_dir: PathBuf,
    /// The state directory (the embedded registry lives there).
    pub state_dir: PathBuf,
    pub http: reqwest::Client,
    /// Cancelled on the first Ctrl-C (steps stop, teardown runs).
    pub interrupt: CancellationToken,
    /// Cancelled on the second (teardown stops too).
    pub abort: CancellationToken,
    /// Lossless stages that derive events besides the alert evaluator, which the engine adds
    /// itself when the plan's alerting is on (it shares its record with the run context).
    pub stages: Vec<Box<dyn Stage>>,
}

/// What a run left: its report, and the sinks, to take back what they built.
pub struct RunResult {
    pub report: Report,
    pub sinks: Finished,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Setup(String),
    #[error("the {0} stopped unexpectedly (this is a bug in hookplan)")]
    Stopped(&'static str),
}

/// Runs `plan` to its end (or its interruption) and builds its report from the events alone.
pub async fn run(
    plan: Arc<Plan>,
    graph: StepGraph,
    values: Values,
    setup: RunSetup,
    sinks: Sinks,
) -> Result<RunResult, EngineError> {
    let started = Instant::now();
    let clock = Clock::new(setup.time_scale);
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let alerts = crate::alerting::AlertRecord::default();
    let mut stages = setup.stages;
    if let Some(alerting) = crate::alerting::active(plan.alerting.as_ref()) {
        stages.push(Box::new(crate::alerting::AlertEvaluator::new(
            alerting,
            alerts.clone(),
        )));
    }
    let events = exec::Events::new(sender, clock.clone()).with_stages(stages);
    let shown_vars = values.shown_vars();
    let ctx = Arc::new(
        RunContext::builder(plan.clone(), values)
            .clock(clock.clone())
            .http(setup.http)
            .cancel(setup.interrupt.clone())
            .dry_run(setup.dry_run)
            .run_dir(setup.run_dir)
            .state_dir(setup.state_dir)
            .events(events.clone())
            .alerts(alerts)
            .build()
            .map_err(EngineError::Setup)?,
    );
    let collector = tokio::spawn(sinks.lossless(ReportBuilder::default()).run(receiver));

    events.emit_at(
        Duration::ZERO,
        EventKind::RunStarted(RunStarted {
            plan: plan.name.clone(),
            path: setup.shown_path,
            description: plan.description.clone(),
            canonical_hash: plan.canonical_hash.clone(),
            seed: plan.seed,
            jobs: setup.jobs,
            time_scale: setup.time_scale,
            dry_run: setup.dry_run,
            variables: shown_vars,
            steps: plan
                .steps
                .iter()
                .map(|s| StepInfo {
                    name: s.name.clone(),
                    kind: s.action.kind().to_string(),
                    needs: s.needs.iter().map(|n| n.value.clone()).collect(),
                    tags: s.tags.clone(),
                    continue_on_error: s.continue_on_error,
                    always: s.always,
                })
                .collect(),
        }),
    );
    let options = ExecOptions {
        jobs: setup.jobs,
        fail_fast: setup.fail_fast,
        selected: setup.selected,
        run_timeout: plan.timeout,
        abort: setup.abort,
    };
    let runner = Arc::new(crate::steps::PlanRunner::new(&ctx));
    // The executor runs on a worker thread, beside its steps: waking it from a step is then
    // cheap (about 2 µs a step instead of 30 µs from the thread that blocks on the runtime).
    let executor = {
        let (ctx, runner) = (ctx.clone(), runner.clone());
        tokio::spawn(async move { exec::execute(ctx, &graph, runner, options).await })
    };
    executor
        .await
        .map_err(|_| EngineError::Stopped("executor"))?;
    runner.finish(&ctx).await;
    events.emit_at(
        ctx.clock.real_elapsed(),
        EventKind::RunFinished {
            interrupted: setup.interrupt.is_cancelled(),
            real_duration: started.elapsed(),
        },
    );
    // The stream ends when the last sender is gone.
    drop(events);
    drop(runner);
    drop(ctx);
    let mut sinks = collector
        .await
        .map_err(|_| EngineError::Stopped("event fan-out"))?;
    let mut report = sinks
        .take::<ReportBuilder>()
        .ok_or(EngineError::Stopped("report builder"))?
        .into_report();
    report.dropped_events = sinks.dropped.clone();
    Ok(RunResult { report, sinks })
}
