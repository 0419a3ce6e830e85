//! Step runners: the runner half of each step kind, found by the kind's name.

pub mod backup;
pub mod call;
pub mod capture;
pub mod expect;
pub mod expect_alerts;
pub mod expect_requests;
pub mod expect_secrets;
pub mod http;
pub mod migrate;
pub mod registries;
pub mod replay;
pub mod rollback;
pub mod sandboxes;
pub mod status;
pub mod stores;
pub mod verify;

use crate::clock::Timeline;
use crate::exec::{RunContext, StepFuture, StepOutcome, StepRunner};
use crate::model::Step;
use registries::Registries;
use sandboxes::Sandboxes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use stores::Stores;
use tokio_util::sync::CancellationToken;

/// The runner half of a step kind: its name (as in `plan::kinds`) and how it runs.
pub struct Runner {
    pub kind: &'static str,
    pub run: for<'a> fn(StepCall<'a>) -> KindFuture<'a>,
}

pub type KindFuture<'a> = Pin<Box<dyn Future<Output = StepOutcome> + Send + 'a>>;

/// Every step kind's runner. A new kind is one module and one line here.
pub const RUNNERS: &[Runner] = &[
    http::RUNNER,
    expect_requests::RUNNER,
    replay::RUNNER,
    call::RUNNER,
    expect_alerts::RUNNER,
    expect_secrets::RUNNER,
    status::RUNNER,
    backup::RUNNER,
    verify::RUNNER,
    migrate::RUNNER,
    rollback::RUNNER,
];

/// The runner of a kind.
pub fn runner(kind: &str) -> Option<&'static Runner> {
    RUNNERS.iter().find(|r| r.kind == kind)
}

/// What a kind's runner gets for one step.
pub struct StepCall<'a> {
    pub ctx: &'a RunContext,
    /// The step's index in the plan (events name steps by it).
    pub index: usize,
    pub step: &'a Step,
    pub sandboxes: &'a Sandboxes,
    pub registries: &'a Registries,
    pub stores: &'a Stores,
    pub timeline: Timeline,
    pub cancel: CancellationToken,
}

impl<'a> StepCall<'a> {
    /// The registry of this `database`, opened once per run; the first step to open it logs
    /// that it seeded it.
    pub async fn registry(&self, name: &str) -> Result<Arc<crate::registry::Registry>, String> {
        let opened = self.registries.get(self.ctx, name).await?;
        if let Some(seed) = &opened.seeded_from {
            self.ctx.events.emit(
                &self.timeline,
                crate::exec::EventKind::StepLog {
                    step: self.index,
                    message: format!("Seeded database \"{name}\" from {seed}"),
                },
            );
        }
        Ok(opened.registry)
    }

    /// The secret store of this name, opened once per run (its sandbox started first).
    pub async fn store(&self, name: &str) -> Result<stores::Opened, String> {
        self.stores.get(self.ctx, self.sandboxes, name).await
    }

    /// The step's action as the kind's model type. A mismatch (a table line pointing at the
    /// wrong runner) fails the step instead of the run.
    pub fn action<T: 'static>(&self) -> Result<&'a T, Box<StepOutcome>> {
        self.step.action.get::<T>().ok_or_else(|| {
            Box::new(StepOutcome::errored(
                format!(
                    "the `{}` runner cannot run this action (this is a bug in hookplan)",
                    self.step.action.kind()
                ),
                self.timeline.elapsed(),
            ))
        })
    }
}

/// Runs a plan's steps by their kind, starting the sandboxes a step uses before it runs.
pub struct PlanRunner {
    sandboxes: Arc<Sandboxes>,
    registries: Arc<Registries>,
    stores: Arc<Stores>,
}

impl PlanRunner {
    pub fn new(ctx: &RunContext) -> Self {
        Self {
            sandboxes: Arc::new(Sandboxes::new(ctx)),
            registries: Arc::new(Registries::default()),
            stores: Arc::new(Stores::default()),
        }
    }

    /// Stops the run's sandboxes (after the last step, also after a failure or an interruption).
    pub async fn finish(&self, ctx: &RunContext) {
        self.sandboxes.stop_all(ctx).await;
    }
}

impl StepRunner for PlanRunner {
    fn run(
        &self,
        ctx: Arc<RunContext>,
        step: usize,
        timeline: Timeline,
        cancel: CancellationToken,
    ) -> StepFuture {
        let sandboxes = self.sandboxes.clone();
        let registries = self.registries.clone();
        let stores = self.stores.clone();
        Box::pin(async move {
            let def = &ctx.plan.steps[step];
            for name in def.sandboxes_used() {
                if let Err(why) = sandboxes.ensure(&ctx, &name).await {
                    return StepOutcome::errored(ctx.redact(&why), timeline.elapsed());
                }
            }
            let Some(runner) = runner(def.action.kind()) else {
                return StepOutcome::errored(
                    format!(
                        "no runner for `{}` steps (this is a bug in hookplan)",
                        def.action.kind()
                    ),
                    timeline.elapsed(),
                );
            };
            let call = StepCall {
                ctx: &ctx,
                index: step,
                step: def,
                sandboxes: &sandboxes,
                registries: &registries,
                stores: &stores,
                timeline,
                cancel,
            };
            (runner.run)(call).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_the_language_has_a_runner_and_every_runner_a_kind() {
        let language: Vec<&str> = crate::plan::kinds::names().collect();
        let runners: Vec<&str> = RUNNERS.iter().map(|r| r.kind).collect();
        let no_runner: Vec<&&str> = language.iter().filter(|k| !runners.contains(k)).collect();
        let no_language: Vec<&&str> = runners.iter().filter(|k| !language.contains(k)).collect();
        assert!(
            no_runner.is_empty(),
            "step kinds without a runner in steps::RUNNERS: {no_runner:?}"
        );
        assert!(
            no_language.is_empty(),
            "runners without a step kind in plan::kinds::STEP_KINDS: {no_language:?}"
        );
    }
}
