//! Runs the step DAG: ready steps at once up to `jobs`, dependents of a failure skipped with the
//! reason, `always` steps as teardown, fail-fast, interruption and timeouts. Its only output is
//! the event stream.

use super::context::RunContext;
use super::event::{EventKind, StepOutcome, StepStatus};
use crate::clock::Timeline;
use crate::graph::StepGraph;
use crate::model::HumanDuration;
use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub type StepFuture = Pin<Box<dyn Future<Output = StepOutcome> + Send>>;

/// Runs one step. The executor knows nothing of what steps do.
pub trait StepRunner: Send + Sync + 'static {
    fn run(
        &self,
        ctx: Arc<RunContext>,
        step: usize,
        timeline: Timeline,
        cancel: CancellationToken,
    ) -> StepFuture;
}

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub jobs: usize,
    pub fail_fast: bool,
    /// Steps to run (closed under `needs`); `None` = all.
    pub selected: Option<BTreeSet<usize>>,
    /// The whole run's limit, on the virtual clock.
    pub run_timeout: Option<Duration>,
    /// Cancels even `always` steps (a second Ctrl-C). The run context's `cancel` must be a child
    /// of it, so that an abort stops every step.
    pub abort: CancellationToken,
}

struct Running {
    slot: usize,
    start: Duration,
}

pub async fn execute(
    ctx: Arc<RunContext>,
    graph: &StepGraph,
    runner: Arc<dyn StepRunner>,
    options: ExecOptions,
) {
    let plan = ctx.plan.clone();
    let steps = &plan.steps;
    let n = steps.len();
    let jobs = options.jobs.max(1);
    let mut remaining: Vec<usize> = graph.needs.iter().map(Vec::len).collect();
    let mut status: Vec<Option<StepStatus>> = vec![None; n];
    let mut ended = vec![Duration::ZERO; n];
    // Virtual time at which each job slot became free: a step starts at the later of that and
    // the end of what it needs, so the virtual schedule follows the real one at any time scale.
    let mut slots = vec![Duration::ZERO; jobs];
    let mut slot_busy = vec![false; jobs];
    let mut ready: VecDeque<usize> = (0..n).filter(|&s| remaining[s] == 0).collect();
    let mut running: JoinSet<(usize, StepOutcome, Duration)> = JoinSet::new();
    let mut running_info: Vec<Option<Running>> = (0..n).map(|_| None).collect();
    let mut task_steps = std::collections::HashMap::new();
    let mut stopping: Option<String> = None;
    // Cancelled on interruption (it is a child of `ctx.cancel`) or by --fail-fast.
    let steps_cancel = ctx.cancel.child_token();

    loop {
        while running.len() < jobs {
            let Some(step) = ready.pop_front() else { break };
            let def = &steps[step];
            let selected = options.selected.as_ref().is_none_or(|s| s.contains(&step));
            let skip_reason = if !selected {
                Some("not selected".to_string())
            } else {
                stopping.clone().filter(|_| !def.always)
            };
            if let Some(reason) = skip_reason {
                skip(
                    &ctx,
                    graph,
                    step,
                    reason,
                    &mut status,
                    &mut ended,
                    &mut remaining,
                    &mut ready,
                );
                continue;
            }
            let slot = slot_busy
                .iter()
                .position(|b| !b)
                .expect("a free slot while below jobs");
            let needs_end = graph.needs[step]
                .iter()
                .map(|&d| ended[d])
                .max()
                .unwrap_or(Duration::ZERO);
            let start = slots[slot].max(needs_end);
            let run_left = options.run_timeout.map(|t| t.saturating_sub(start));
            if run_left.is_some_and(|left| left.is_zero()) && !def.always {
                let limit = HumanDuration(options.run_timeout.unwrap_or_default());
                stopping.get_or_insert_with(|| format!("the run's timeout ({limit}) was reached"));
                skip(
                    &ctx,
                    graph,
                    step,
                    stopping.clone().unwrap_or_default(),
                    &mut status,
                    &mut ended,
                    &mut remaining,
                    &mut ready,
                );
                continue;
            }
            slot_busy[slot] = true;
            let deadline = match (def.timeout, run_left) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timeline = ctx.clock.timeline(start).with_deadline(deadline);
            tracing::debug!(step = %def.name, slot, start_ms = start.as_millis() as u64, "step started");
            ctx.events.emit_at(start, EventKind::StepStarted { step });
            // `always` steps are teardown: only a second interruption stops them.
            let cancel = if def.always {
                options.abort.clone()
            } else {
                steps_cancel.clone()
            };
            let future = runner.run(ctx.clone(), step, timeline.clone(), cancel);
            running_info[step] = Some(Running { slot, start });
            let handle = running.spawn(guarded(step, timeline, deadline, future));
            task_steps.insert(handle.id(), step);
        }
        if running.is_empty() && ready.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next_with_id() => {
                let Some(joined) = joined else { continue };
                let (step, outcome, end) = match joined {
                    Ok((id, result)) => {
                        task_steps.remove(&id);
                        result
                    }
                    Err(error) => {
                        // A runner that panicked: the step errored, the run goes on.
                        let step = task_steps.remove(&error.id()).expect("every task is a step");
                        (step, crashed(&error), Duration::ZERO)
                    }
                };
                let info = running_info[step].take().expect("a running step has its slot");
                slot_busy[info.slot] = false;
                let end = end.max(info.start);
                slots[info.slot] = end;
                let def = &steps[step];
                let mut outcome = outcome;
                if outcome.status.is_failure() && def.continue_on_error {
                    outcome.status = StepStatus::FailedAllowed;
                }
                if outcome.status.is_failure() && options.fail_fast && stopping.is_none() {
                    stopping = Some(format!("cancelled by --fail-fast after `{}` failed", def.name));
                    steps_cancel.cancel();
                }
                tracing::debug!(step = %def.name, status = outcome.status.as_str(), "step finished");
                status[step] = Some(outcome.status);
                ended[step] = end;
                ctx.events.emit_at(end, EventKind::StepFinished { step, outcome });
                release(graph, step, &ctx, &mut status, &mut ended, &mut remaining, &mut ready);
            }
            _ = ctx.cancel.cancelled(), if stopping.is_none() => {
                stopping = Some("the run was interrupted".to_string());
            }
        }
    }
}

/// Runs a step with its deadline as a hard real-time cap: virtual time never runs slower than
/// real time, so once the real time is up the virtual deadline has passed too.
async fn guarded(
    step: usize,
    timeline: Timeline,
    deadline: Option<Duration>,
    future: StepFuture,
) -> (usize, StepOutcome, Duration) {
    let outcome = match timeline.remaining() {
        Some(left) => match tokio::time::timeout(left + Duration::from_millis(50), future).await {
            Ok(outcome) => outcome,
            Err(_) => StepOutcome::errored(
                format!(
                    "timed out after {}",
                    HumanDuration(deadline.unwrap_or_default())
                ),
                timeline.elapsed(),
            ),
        },
        None => future.await,
    };
    // The runner kept its own copy of the timeline: its waits are counted in `outcome.duration`.
    let end = timeline.start() + outcome.duration.max(timeline.elapsed());
    (step, outcome, end)
}

fn crashed(error: &tokio::task::JoinError) -> StepOutcome {
    let what = if error.is_panic() {
        "the step crashed (this is a bug in hookplan)"
    } else {
        "the step was cancelled"
    };
    StepOutcome::errored(what.to_string(), Duration::ZERO)
}

#[allow(clippy::too_many_arguments)]
fn skip(
    ctx: &RunContext,
    graph: &StepGraph,
    step: usize,
    reason: String,
    status: &mut [Option<StepStatus>],
    ended: &mut [Duration],
    remaining: &mut [usize],
    ready: &mut VecDeque<usize>,
) {
    let at = graph.needs[step]
        .iter()
        .map(|&d| ended[d])
        .max()
        .unwrap_or(Duration::ZERO);
    status[step] = Some(StepStatus::Skipped);
    ended[step] = at;
    ctx.events
        .emit_at(at, EventKind::StepSkipped { step, reason });
    release(graph, step, ctx, status, ended, remaining, ready);
}

/// A step is done: its dependents whose needs are all done become ready, or are skipped when
/// something they need did not pass (unless they are `always` steps).
fn release(
    graph: &StepGraph,
    done: usize,
    ctx: &RunContext,
    status: &mut [Option<StepStatus>],
    ended: &mut [Duration],
    remaining: &mut [usize],
    ready: &mut VecDeque<usize>,
) {
    for &dependent in &graph.dependents[done] {
        remaining[dependent] -= 1;
        if remaining[dependent] > 0 {
            continue;
        }
        let def = &ctx.plan.steps[dependent];
        let blocker = graph.needs[dependent]
            .iter()
            .copied()
            .find(|&d| !status[d].is_some_and(StepStatus::satisfies_needs));
        match blocker {
            Some(blocker) if !def.always => {
                let what = match status[blocker] {
                    Some(StepStatus::Skipped) => "was skipped",
                    _ => "failed",
                };
                let reason = format!("needs `{}`, which {what}", ctx.plan.steps[blocker].name);
                skip(
                    ctx, graph, dependent, reason, status, ended, remaining, ready,
                );
            }
            _ => ready.push_back(dependent),
        }
    }
}

impl StepOutcome {
    pub fn errored(message: String, duration: Duration) -> Self {
        Self {
            status: StepStatus::Errored,
            message: Some(message),
            assertions: Vec::new(),
            captures: Vec::new(),
            request: None,
            response: None,
            duration,
            real_duration: Duration::ZERO,
            details: None,
        }
    }
}
