//! `rollback`: restores the store and the registry to a backup written before a migration
//! (`migration::rollback`). It logs `Rolling back from FILE (N webhook(s))`, a line per
//! webhook (`[CODE] Restored`, `[CODE] Nothing to restore`, `[CODE] Failed - reason`) and the
//! summary (`Rollback Summary:`, Total / Restored / Unchanged / Failed). A refusal logs a
//! `Refused: …` line per problem and fails the step with a message starting `refused:`, its
//! details carrying `"refused": true` (what `hookplan rollback` turns into exit 3). Lines and
//! details name codes, target names and fields only, never a value.

use super::{KindFuture, Runner, StepCall};
use crate::exec::{EventKind, StepOutcome, StepStatus};
use crate::migration::lock::{MigrationLock, takeover_line};
use crate::migration::rollback::{
    self, Event, FORCE_HINT, NameChange, Outcome, Request, RollbackError,
};
use crate::model::RollbackAction;
use crate::registry::LeaseError;
use serde::Serialize;
use std::time::Instant;

pub const RUNNER: Runner = Runner {
    kind: "rollback",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

/// The report's `details` of a rollback step.
#[derive(Debug, Default, Serialize)]
struct Details {
    /// The backup's file name.
    file: String,
    /// Where it was read.
    backup: String,
    database: String,
    store: String,
    dry_run: bool,
    force: bool,
    refused: bool,
    /// Why it was refused, one line each.
    problems: Vec<String>,
    /// What `force` let through.
    warnings: Vec<String>,
    webhooks: Vec<Line>,
    counts: Counts,
}

#[derive(Debug, Serialize)]
struct Line {
    code: String,
    status: &'static str,
    /// Target names deleted (they did not exist before the migration).
    deleted: Vec<String>,
    /// Target names given their prior value back.
    restored: Vec<String>,
    /// The row's credentials written back (`user`, `key`, `pass`, `secret`).
    fields: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    total: usize,
    restored: usize,
    unchanged: usize,
    failed: usize,
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<RollbackAction>() {
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
                message: ctx.redact(&message),
            },
        );
    };
    let given = match ctx.render(&spec.backup) {
        Ok(given) => given,
        Err(why) => return fail(format!("the backup: {why}")),
    };
    if given.trim().is_empty() {
        return fail("the backup is named by an empty string".to_string());
    }
    let path = rollback::locate(&given, &ctx.state_dir);
    let registry = match call.registry(&spec.database.value).await {
        Ok(registry) => registry,
        Err(why) => return fail(why),
    };
    let opened = match call.store(&spec.store.value).await {
        Ok(opened) => opened,
        Err(why) => return fail(why),
    };
    let mut request = Request {
        registry: &registry,
        store: opened.store.clone(),
        path: &opened.decl.path,
        backup: &path,
        force: spec.force,
        dry_run: spec.dry_run,
        lock: None,
    };
    let mut details = Details {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        backup: path.display().to_string(),
        database: spec.database.value.clone(),
        store: spec.store.value.clone(),
        dry_run: spec.dry_run,
        force: spec.force,
        ..Details::default()
    };
    // The registry's migration lock, as a migration holds it; a dry run changes nothing.
    let lock = if spec.dry_run {
        None
    } else {
        match MigrationLock::take(registry.clone()).await {
            Ok((lock, taken)) => {
                if let Some(line) = takeover_line(&taken) {
                    log(line);
                }
                Some(lock)
            }
            Err(LeaseError::Held { host, pid, seconds }) => {
                let problem = LeaseError::Held { host, pid, seconds }.to_string();
                log(format!("Refused: {problem}"));
                details.refused = true;
                details.problems = vec![problem.clone()];
                let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
                outcome.status = StepStatus::Failed;
                outcome.message = Some(format!("refused: {problem}"));
                outcome.details = serde_json::to_value(&details).ok();
                outcome.real_duration = started.elapsed();
                return outcome;
            }
            Err(e) => return fail(format!("cannot take the registry's lock: {e}")),
        }
    };
    request.lock = lock.as_ref();
    let mut webhooks = Vec::new();
    let result = rollback::rollback(&request, |event| match event {
        Event::Start { file, webhooks } => {
            log(format!("Rolling back from {file} ({webhooks} webhook(s))"));
            if spec.dry_run {
                log("Dry run: nothing is changed".to_string());
            }
        }
        Event::Warning(w) => log(format!("Warning: {w} (--force: the backup's values win)")),
        Event::Webhook(line) => {
            log(line.text());
            let names = |change: NameChange| {
                line.names
                    .iter()
                    .filter(|(_, c)| *c == change)
                    .map(|(n, _)| n.clone())
                    .collect()
            };
            webhooks.push(Line {
                code: line.code.clone(),
                status: line.outcome.as_str(),
                deleted: names(NameChange::Delete),
                restored: names(NameChange::Restore),
                fields: line.field_names(),
                reason: match &line.outcome {
                    Outcome::Failed(reason) => Some(ctx.redact(reason)),
                    _ => None,
                },
            });
        }
    })
    .await;
    details.webhooks = webhooks;
    let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
    match result {
        Ok(done) => {
            for line in done.summary_lines() {
                log(line);
            }
            details.warnings = done.warnings.clone();
            details.counts = Counts {
                total: done.total,
                restored: done.restored,
                unchanged: done.unchanged,
                failed: done.failed,
            };
            // The migration this backup was taken for is undone: a fresh one may start.
            if done.failed == 0
                && !spec.dry_run
                && let Err(e) = registry
                    .end_runs(&details.file, crate::registry::RunState::RolledBack)
                    .await
            {
                log(format!(
                    "Warning: the migration journal could not record the rollback: {}",
                    ctx.redact(&e.to_string())
                ));
            }
            if done.failed == 0 {
                outcome.status = StepStatus::Passed;
                outcome.message = None;
            } else {
                outcome.status = StepStatus::Failed;
                outcome.message = Some(format!(
                    "Rollback failed for {} of {} webhook(s)",
                    done.failed, done.total
                ));
            }
        }
        Err(RollbackError::Refused {
            problems,
            more,
            forcible,
        }) => {
            for p in &problems {
                log(format!("Refused: {p}"));
            }
            if more > 0 {
                log(format!("Refused: and {more} more"));
            }
            if forcible {
                log(FORCE_HINT.to_string());
            }
            let error = RollbackError::Refused {
                problems: problems.clone(),
                more,
                forcible,
            };
            details.refused = true;
            details.problems = problems;
            outcome.status = StepStatus::Failed;
            outcome.message = Some(ctx.redact(&error.to_string()));
        }
        Err(e @ RollbackError::LostLock { .. }) => {
            let problem = e.to_string();
            log(format!("Stopped: {problem}"));
            details.refused = true;
            details.problems = vec![problem.clone()];
            outcome.status = StepStatus::Failed;
            outcome.message = Some(ctx.redact(&format!("stopped: {problem}")));
        }
        Err(e) => {
            outcome.message = Some(ctx.redact(&format!("cannot roll back: {e}")));
        }
    }
    if let Some(lock) = lock
        && let Err(e) = lock.release().await
    {
        tracing::warn!("the registry's lock could not be released (it expires by itself): {e}");
    }
    outcome.details = serde_json::to_value(&details).ok();
    outcome.duration = call.timeline.elapsed();
    outcome.real_duration = started.elapsed();
    outcome
}
