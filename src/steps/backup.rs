//! `backup`: writes the backup of a selection (`migration::backup`) and publishes its file
//! name as `${steps.STEP.backup}`. The outcome names the file, the number of webhooks and
//! the checksum — never a value. A selection that matches nothing writes no backup.

use super::{KindFuture, Runner, StepCall};
use crate::exec::{StepOutcome, StepStatus};
use crate::migration::backup::{self, Request};
use crate::model::BackupAction;
use std::collections::HashMap;
use std::time::Instant;

pub const RUNNER: Runner = Runner {
    kind: "backup",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<BackupAction>() {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let ctx = call.ctx;
    let started = Instant::now();
    let fail =
        |message: String| StepOutcome::errored(ctx.redact(&message), call.timeline.elapsed());
    let selection = match spec.selection.selection() {
        Ok(s) => s,
        Err(why) => return fail(why),
    };
    let registry = match call.registry(&spec.database.value).await {
        Ok(registry) => registry,
        Err(why) => return fail(why),
    };
    let opened = match call.store(&spec.store.value).await {
        Ok(opened) => opened,
        Err(why) => return fail(why),
    };
    let folder = backup::folder(&ctx.state_dir);
    if ctx.dry_run {
        // A dry run writes nothing, not even a backup.
        let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
        outcome.status = StepStatus::DryRun;
        outcome.message = Some(format!(
            "would back up {} into {}",
            selection.describe(),
            folder.display()
        ));
        return outcome;
    }
    let request = Request {
        registry: &registry,
        database: &spec.database.value,
        store: opened.store.clone(),
        decl: &opened.decl,
        path: &opened.decl.path,
        selection: &selection,
        folder: &folder,
        now: chrono::Utc::now(),
    };
    let made = match backup::write(&request).await {
        Ok(made) => made,
        Err(e) => return fail(format!("no backup written: {e}")),
    };
    let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
    outcome.status = StepStatus::Passed;
    outcome.message = None;
    outcome.details = Some(match &made {
        Some(made) => {
            ctx.set_captures(
                &call.step.name,
                HashMap::from([("backup".to_string(), made.file.clone())]),
            );
            outcome.captures = vec![("backup".to_string(), made.file.clone())];
            serde_json::json!({
                "file": made.file,
                "folder": folder.display().to_string(),
                "direction": made.direction,
                "selection": selection.describe(),
                "database": spec.database.value,
                "store": spec.store.value,
                "webhooks": made.webhooks,
                "checksum": made.checksum,
            })
        }
        None => serde_json::json!({
            "file": null,
            "folder": folder.display().to_string(),
            "direction": null,
            "selection": selection.describe(),
            "database": spec.database.value,
            "store": spec.store.value,
            "webhooks": 0,
            "checksum": null,
            "note": "Found 0 webhook(s) to back up: no backup written",
        }),
    });
    outcome.real_duration = started.elapsed();
    outcome
}
