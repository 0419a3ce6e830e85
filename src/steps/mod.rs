//! Step runners: one per action kind.

pub mod capture;
pub mod expect;
pub mod http;
pub mod replay;
pub mod requests;
pub mod sandboxes;

use crate::clock::Timeline;
use crate::exec::{RunContext, StepFuture, StepOutcome, StepRunner};
use crate::model::Action;
use sandboxes::Sandboxes;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs a plan's steps by their action, starting the sandboxes a step uses before it runs.
pub struct PlanRunner {
    sandboxes: Arc<Sandboxes>,
}

impl PlanRunner {
    pub fn new(ctx: &RunContext) -> Self {
        Self {
            sandboxes: Arc::new(Sandboxes::new(ctx)),
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
        Box::pin(async move {
            let def = &ctx.plan.steps[step];
            for name in def.sandboxes_used() {
                if let Err(why) = sandboxes.ensure(&ctx, &name).await {
                    return StepOutcome::errored(ctx.redact(&why), timeline.elapsed());
                }
            }
            match &def.action {
                Action::Http(http) => http::run(&ctx, step, def, http, timeline, cancel).await,
                Action::ExpectRequests(spec) => {
                    requests::run(&ctx, def, spec, &sandboxes, timeline).await
                }
                Action::Replay(spec) => {
                    replay::run(&ctx, step, def, spec, &sandboxes, timeline, cancel).await
                }
            }
        })
    }
}
