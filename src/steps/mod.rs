//! Step runners: one per action kind.

pub mod capture;
pub mod expect;
pub mod http;

use crate::clock::Timeline;
use crate::exec::{RunContext, StepFuture, StepOutcome, StepRunner};
use crate::model::Action;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs a plan's steps by their action.
pub struct PlanRunner;

impl StepRunner for PlanRunner {
    fn run(
        &self,
        ctx: Arc<RunContext>,
        step: usize,
        timeline: Timeline,
        cancel: CancellationToken,
    ) -> StepFuture {
        Box::pin(async move {
            let def = &ctx.plan.steps[step];
            match &def.action {
                Action::Http(http) => http::run(&ctx, step, def, http, timeline, cancel).await,
                Action::ExpectRequests(_) | Action::Replay(_) => StepOutcome::errored(
                    format!(
                        "`{}` steps need the sandbox, which this build does not include",
                        def.action.kind()
                    ),
                    timeline.elapsed(),
                ),
            }
        })
    }
}
