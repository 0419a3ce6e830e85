//! `status`: for each selected webhook of a registry, which credentials its row holds, whether
//! the store holds them, and its migration state — the spec's "Migration Status Output". It
//! reads both sides and changes nothing; values are compared and never recorded, so the
//! report's `details` carry codes, field names, booleans and states only.

use super::{KindFuture, Runner, StepCall};
use crate::exec::{EventKind, StepOutcome, StepStatus};
use crate::migration::State;
use crate::migration::status::{scan, short_name};
use crate::migration::unfinished::Unfinished;
use crate::model::StatusAction;
use serde::Serialize;
use std::time::Instant;

pub const RUNNER: Runner = Runner {
    kind: "status",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

/// The report's `details` of a status step.
#[derive(Debug, Serialize)]
struct Details {
    database: String,
    store: String,
    path: String,
    /// The filters in words: `all`, `direction=OUT pattern=STRIPE_*`, `webhook=CODE`.
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
    /// The credentials its row holds (`user`, `key`, `pass`, `secret`).
    db_fields: Vec<&'static str>,
    in_store: bool,
    status: &'static str,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    total: usize,
    migrated: usize,
    pending: usize,
    mismatch: usize,
    no_credentials: usize,
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<StatusAction>() {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let ctx = call.ctx;
    let started = Instant::now();
    let fail =
        |message: String| StepOutcome::errored(ctx.redact(&message), call.timeline.elapsed());
    let selection = match spec.selection() {
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
        ctx.events.emit(
            &call.timeline,
            EventKind::StepLog {
                step: call.index,
                message: unfinished.warning(),
            },
        );
    }
    let mut counts = Counts::default();
    let mut webhooks = Vec::new();
    let scanned = scan(
        &registry,
        store.store.as_ref(),
        &store.decl,
        &selection,
        |status| {
            counts.total += 1;
            match status.state {
                State::Migrated => counts.migrated += 1,
                State::Pending => counts.pending += 1,
                State::Mismatch => counts.mismatch += 1,
                State::NoCredentials => counts.no_credentials += 1,
            }
            webhooks.push(Line {
                code: status.code,
                direction: status.direction.as_str(),
                db_fields: status.db_fields.into_iter().map(short_name).collect(),
                in_store: status.in_store,
                status: status.state.as_str(),
            });
        },
    )
    .await;
    if let Err(why) = scanned {
        return fail(why);
    }
    let details = Details {
        database: spec.database.value.clone(),
        store: spec.store.value.clone(),
        path: store.decl.path.clone(),
        selection: selection.describe(),
        webhooks,
        counts,
        unfinished,
    };
    let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
    outcome.status = StepStatus::Passed;
    outcome.details = serde_json::to_value(&details).ok();
    outcome.real_duration = started.elapsed();
    outcome
}
