//! `verify`: read each selected webhook's credentials back from the store and compare them
//! exactly with the registry's — the spec's `verify`. It logs the spec's lines ("Verifying
//! migration...", `[CODE] Verified successfully` or `[CODE] Verification failed - …`, "All
//! migrations verified successfully!") and fails when any webhook is not verified. It changes
//! nothing; values are compared and never recorded, so the lines and the report's `details`
//! carry codes, field names and outcomes only.

use super::{KindFuture, Runner, StepCall};
use crate::exec::{EventKind, StepOutcome, StepStatus};
use crate::migration::status::short_name;
use crate::migration::unfinished::Unfinished;
use crate::migration::verify::{OPENING, Outcome, closing, verify};
use crate::model::VerifyAction;
use serde::Serialize;
use std::time::Instant;

pub const RUNNER: Runner = Runner {
    kind: "verify",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

/// The report's `details` of a verify step.
#[derive(Debug, Serialize)]
struct Details {
    database: String,
    store: String,
    path: String,
    /// The filters in words: `direction=OUT`, `direction=OUT pattern=STRIPE_*`, `webhook=CODE`.
    selection: String,
    webhooks: Vec<Line>,
    counts: Counts,
    /// A migration into this store that neither finished nor was rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    unfinished: Option<Unfinished>,
}

#[derive(Debug, Serialize)]
struct Line {
    code: String,
    direction: &'static str,
    status: &'static str,
    /// The credentials checked (`user`, `key`, `pass`, `secret`).
    fields: Vec<&'static str>,
    /// Those the store holds with another value.
    mismatched: Vec<&'static str>,
    /// Those the store does not hold.
    missing: Vec<&'static str>,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    total: usize,
    verified: usize,
    mismatch: usize,
    missing: usize,
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<VerifyAction>() {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let ctx = call.ctx;
    let started = Instant::now();
    let fail =
        |message: String| StepOutcome::errored(ctx.redact(&message), call.timeline.elapsed());
    let log = |message: String| {
        ctx.events.emit(
            &call.timeline,
            EventKind::StepLog {
                step: call.index,
                message,
            },
        );
    };
    let selection = match spec.selection.selection() {
        Ok(selection) => selection,
        Err(why) => return fail(why),
    };
    let registry = match call.registry(&spec.database.value).await {
        Ok(registry) => registry,
        Err(why) => return fail(why),
    };
    let store = match call.store(&spec.store.value).await {
        Ok(store) => store,
        Err(why) => return fail(why),
    };
    let unfinished = match Unfinished::find(&registry, store.store.name()).await {
        Ok(unfinished) => unfinished,
        Err(why) => return fail(why),
    };
    if let Some(unfinished) = &unfinished {
        log(unfinished.warning());
    }
    log(OPENING.to_string());
    let mut counts = Counts::default();
    let mut webhooks = Vec::new();
    let verified = verify(
        &registry,
        store.store.as_ref(),
        &store.decl,
        &selection,
        |verdict| {
            counts.total += 1;
            match verdict.outcome {
                Outcome::Verified => counts.verified += 1,
                Outcome::Mismatch => counts.mismatch += 1,
                Outcome::Missing => counts.missing += 1,
            }
            log(verdict.line());
            let names = |fields: &[crate::registry::Field]| {
                fields.iter().map(|f| short_name(*f)).collect::<Vec<_>>()
            };
            webhooks.push(Line {
                code: verdict.code.clone(),
                direction: verdict.direction.as_str(),
                status: verdict.outcome.as_str(),
                fields: names(&verdict.fields),
                mismatched: names(&verdict.mismatched),
                missing: names(&verdict.missing),
            });
        },
    )
    .await;
    if let Err(why) = verified {
        return fail(why);
    }
    let failed = counts.total - counts.verified;
    let last = closing(counts.total, failed);
    log(last.clone());
    let details = Details {
        database: spec.database.value.clone(),
        store: spec.store.value.clone(),
        path: store.decl.path.clone(),
        selection: selection.describe(),
        webhooks,
        counts,
        unfinished,
    };
    let mut outcome = StepOutcome::errored(last, call.timeline.elapsed());
    if failed == 0 {
        outcome.status = StepStatus::Passed;
        outcome.message = None;
    } else {
        outcome.status = StepStatus::Failed;
    }
    outcome.details = serde_json::to_value(&details).ok();
    outcome.real_duration = started.elapsed();
    outcome
}
