//! `migrate`: the spec's `migrate` (`migration::migrate`) as a step. It logs the spec's lines
//! as they happen ("Webhook Credential Migration Tool", "Found N webhook(s) to migrate",
//! "Backup created: …", "Migrating webhooks...", one line per webhook, the summary, the
//! verification), publishes the backup's file name as `${steps.STEP.backup}`, and fails when
//! any webhook failed or was not verified. Pending approvals do not fail it. The report's
//! `details` carry counts, the backup and the failed and pending webhooks: codes, names and
//! classes, never a value.
//!
//! `run --dry-run` makes it a dry run: it reads, says what it would write, and writes nothing.

use super::{KindFuture, Runner, StepCall};
use crate::exec::{EventKind, StepOutcome, StepStatus};
use crate::migration::backup::{self, Request as ScanRequest};
use crate::migration::lock::{MigrationLock, takeover_line};
use crate::migration::migrate::{self, Progress, Request};
use crate::migration::outcome::{Line, Outcome, store_label};
use crate::migration::verify::{self, Verdict};
use crate::model::{MigrateAction, StoreKind};
use crate::registry::LeaseError;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

pub const RUNNER: Runner = Runner {
    kind: "migrate",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

/// The report's `details` of a migrate step.
#[derive(Debug, Serialize)]
struct Details {
    database: String,
    store: String,
    path: String,
    selection: String,
    dry_run: bool,
    clear_database: bool,
    /// The backup's file name; `null` when nothing changed (or a dry run).
    backup: Option<String>,
    folder: String,
    counts: crate::migration::outcome::Counts,
    verified: usize,
    unverified: usize,
    cleared: usize,
    interrupted: bool,
    /// The registry's lock was held by another migration, or lost midway, or another
    /// selection's migration is unfinished: exit 3.
    refused: bool,
    /// It resumed an unfinished migration on that migration's backup.
    resumed: bool,
    failed: Vec<Failed>,
    pending_approval: Vec<Pending>,
    not_verified: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Failed {
    code: String,
    class: &'static str,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Pending {
    code: String,
    names: Vec<String>,
    /// Submitted by an earlier run and not sent again.
    earlier: bool,
}

/// The step's progress: each line a log event; failures and pending kept for the details.
struct Lines<'c, 's> {
    call: &'c StepCall<'s>,
    failed: Vec<Failed>,
    pending: Vec<Pending>,
    not_verified: Vec<String>,
}

impl Progress for Lines<'_, '_> {
    fn say(&mut self, line: String) {
        self.call.ctx.events.emit(
            &self.call.timeline,
            EventKind::StepLog {
                step: self.call.index,
                message: line,
            },
        );
    }

    fn webhook(&mut self, line: &Line) {
        match &line.outcome {
            Outcome::Failed { class, reason } => self.failed.push(Failed {
                code: line.code.clone(),
                class,
                reason: self.call.ctx.redact(reason),
            }),
            Outcome::Pending { earlier } => self.pending.push(Pending {
                code: line.code.clone(),
                names: line.targets.iter().map(|(n, _)| n.clone()).collect(),
                earlier: *earlier,
            }),
            _ => {}
        }
    }

    fn verdict(&mut self, verdict: &Verdict) {
        if verdict.outcome != verify::Outcome::Verified {
            self.not_verified.push(verdict.code.clone());
        }
    }
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<MigrateAction>() {
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
    let dry_run = spec.dry_run || ctx.dry_run;
    let empty_details = || Details {
        database: spec.database.value.clone(),
        store: spec.store.value.clone(),
        path: opened.decl.path.clone(),
        selection: selection.describe(),
        dry_run,
        clear_database: spec.clear_database,
        backup: None,
        folder: folder.display().to_string(),
        counts: Default::default(),
        verified: 0,
        unverified: 0,
        cleared: 0,
        interrupted: false,
        refused: false,
        resumed: false,
        failed: Vec::new(),
        pending_approval: Vec::new(),
        not_verified: Vec::new(),
    };
    let say = |line: String| {
        ctx.events.emit(
            &call.timeline,
            EventKind::StepLog {
                step: call.index,
                message: line,
            },
        );
    };
    // One migration at a time per registry, whatever machine it runs on; a dry run changes
    // nothing and takes no lock.
    let lock = if dry_run {
        None
    } else {
        match MigrationLock::take(registry.clone()).await {
            Ok((lock, taken)) => {
                if let Some(line) = takeover_line(&taken) {
                    say(line);
                }
                Some(lock)
            }
            Err(e @ LeaseError::Held { .. }) => {
                say(format!("Refused: {e}"));
                let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
                outcome.status = StepStatus::Failed;
                outcome.message = Some(format!(
                    "refused: {e}; it ends by itself when that migration finishes or stops renewing it"
                ));
                let details = Details {
                    refused: true,
                    ..empty_details()
                };
                outcome.details = serde_json::to_value(&details).ok();
                return outcome;
            }
            Err(e) => return fail(format!("cannot take the registry's lock: {e}")),
        }
    };
    let infisical = matches!(opened.decl.kind, StoreKind::Infisical(_));
    let request = Request {
        scan: ScanRequest {
            registry: &registry,
            database: &spec.database.value,
            store: opened.store.clone(),
            decl: &opened.decl,
            path: &opened.decl.path,
            selection: &selection,
            folder: &folder,
            now: chrono::Utc::now(),
        },
        store_label: store_label(&spec.store.value, infisical),
        dry_run,
        clear_database: spec.clear_database,
        concurrency: spec.concurrency,
        cancel: call.cancel.clone(),
        lock: lock.as_ref(),
    };
    let mut lines = Lines {
        call: &call,
        failed: Vec::new(),
        pending: Vec::new(),
        not_verified: Vec::new(),
    };
    let result = migrate::migrate(&request, &mut lines).await;
    drop(request);
    // Released after Ctrl-C too; a lease that cannot be released expires by itself.
    if let Some(lock) = lock
        && let Err(e) = lock.release().await
    {
        tracing::warn!("the registry's lock could not be released (it expires by itself): {e}");
    }
    let done = match result {
        Ok(done) => done,
        Err(e) if e.is_refusal() => {
            let why = ctx.redact(&e.to_string());
            lines.say(format!("Refused: {why}"));
            let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
            outcome.status = StepStatus::Failed;
            outcome.message = Some(format!("refused: {why}"));
            outcome.details = serde_json::to_value(Details {
                refused: true,
                ..empty_details()
            })
            .ok();
            return outcome;
        }
        Err(e) => return fail(e.to_string()),
    };
    if done.interrupted {
        lines.say("Interrupted".to_string());
        if let Some(made) = &done.backup {
            lines.say(format!(
                "Run `hookplan migrate` again to resume on backup {}, or `hookplan rollback {}` to undo it",
                made.file, made.file
            ));
        }
    }
    let Lines {
        failed,
        pending,
        not_verified,
        ..
    } = lines;
    let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
    if let Some(made) = &done.backup {
        ctx.set_captures(
            &call.step.name,
            HashMap::from([("backup".to_string(), made.file.clone())]),
        );
        outcome.captures = vec![("backup".to_string(), made.file.clone())];
    }
    let counts = done.counts;
    let (status, message) = if done.lost_lock {
        (
            StepStatus::Failed,
            Some(format!("refused: {}", LeaseError::Lost)),
        )
    } else if let Some(why) = &done.stopped_by {
        (
            StepStatus::Errored,
            Some(format!("the migration stopped: {}", ctx.redact(why))),
        )
    } else if done.interrupted {
        (StepStatus::Failed, Some("Interrupted".to_string()))
    } else if counts.failed > 0 || done.unverified > 0 {
        let mut why = Vec::new();
        if counts.failed > 0 {
            why.push(format!("{} webhook(s) failed", counts.failed));
        }
        if done.unverified > 0 {
            why.push(format!("{} webhook(s) not verified", done.unverified));
        }
        (StepStatus::Failed, Some(why.join(", ")))
    } else if dry_run {
        (StepStatus::DryRun, None)
    } else {
        (StepStatus::Passed, None)
    };
    outcome.status = status;
    outcome.message = message;
    let details = Details {
        database: spec.database.value.clone(),
        store: spec.store.value.clone(),
        path: opened.decl.path.clone(),
        selection: selection.describe(),
        dry_run,
        clear_database: spec.clear_database,
        backup: done.backup.as_ref().map(|m| m.file.clone()),
        folder: folder.display().to_string(),
        counts,
        verified: done.verified,
        unverified: done.unverified,
        cleared: done.cleared,
        interrupted: done.interrupted,
        refused: done.lost_lock,
        resumed: done.resumed,
        failed,
        pending_approval: pending,
        not_verified,
    };
    outcome.details = serde_json::to_value(&details).ok();
    outcome.real_duration = started.elapsed();
    outcome
}
