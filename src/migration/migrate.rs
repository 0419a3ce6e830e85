//! The migration (the spec's `migrate`): back up, write, verify, and only then clear.
//!
//! 1. **Backup first.** Every selected webhook is read with what the store holds under its
//!    target names, and written to the backup (`backup::scan`). A webhook the store already
//!    holds with the same values needs nothing; when no webhook needs anything, the backup is
//!    dropped and nothing is written anywhere. If the backup cannot be written, nothing
//!    changes.
//! 2. **Write.** The backup is read back one webhook at a time, so what is written is exactly
//!    what was backed up and the registry is never held in memory. A webhook's credentials
//!    travel in one batch with other webhooks' (up to [`BATCH_NAMES`] names), the store told
//!    what each name held, so creates and updates are told apart without a list. A batch
//!    refused as it stands (4xx) is retried one webhook at a time: one bad key fails only its
//!    own webhook. Up to `concurrency` batches are in flight. A change that awaits approval is
//!    recorded as pending, and a rerun never submits it again.
//! 3. **Verify.** Every webhook written is read back and compared exactly; those verified are
//!    recorded in `hookplan_migrations`, and with `clear_database` their row's credentials
//!    are cleared (recorded in `hookplan_credentials` as living in the store).
//!
//! Ctrl-C (`cancel`): no new batch starts, those in flight finish (the store reads back a
//! write whose answer was lost), the summary so far is given and verification is left to a
//! rerun. Values never leave this module but to the store and the backup.

use super::backup::{self, Entry, Made, Output, Prior};
use super::outcome::{self, Change, Counts, Line, Outcome, Skip};
use super::verify::{self, Verdict};
use super::{Selection, status::Held};
use crate::registry::{
    CredentialWrite, Field, JournalRun, MarkState, MigrationMark, Registry, RegistryError,
    RunState, Stage as Journaled,
};
use crate::store::{NewSecret, Secret, SecretStore, SecretValue, StoreError};
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Names per write batch: a webhook's credentials are never split between two.
pub const BATCH_NAMES: usize = 100;
/// Webhooks classified (and their marks read) at a time.
const WINDOW: usize = 500;
/// Reads in flight at once: reading back, and reading what an interrupted write left.
const CONCURRENT_READS: usize = 16;
/// Backup entries read ahead of the writes.
const READ_AHEAD: usize = 1024;

/// What a migration covers and how it runs.
pub struct Request<'a> {
    /// The registry, the store and the selection, and where the backup goes.
    pub scan: backup::Request<'a>,
    /// How the store is named in the lines (`Infisical`).
    pub store_label: String,
    pub dry_run: bool,
    pub clear_database: bool,
    /// Write batches in flight at once (at least 1).
    pub concurrency: usize,
    pub cancel: CancellationToken,
    /// The registry's migration lock, checked before every write batch (fencing).
    pub lock: Option<&'a super::lock::MigrationLock>,
}

/// Where the migration's lines and results go, as they happen.
pub trait Progress: Send {
    /// A console line (the spec's wording).
    fn say(&mut self, line: String);
    /// One webhook's migration ended (its line was said already).
    fn webhook(&mut self, line: &Line);
    /// One webhook was verified, or not (its line was said already).
    fn verdict(&mut self, verdict: &Verdict);
}

/// What a migration did.
#[derive(Debug, Clone, Default)]
pub struct Migrated {
    pub counts: Counts,
    /// The backup written before any change.
    pub backup: Option<Made>,
    /// Webhooks read back after writing, and how many of them were not verified.
    pub verified: usize,
    pub unverified: usize,
    /// Rows whose credentials were cleared.
    pub cleared: usize,
    /// Ctrl-C stopped it before it finished.
    pub interrupted: bool,
    /// It resumed an unfinished run, on that run's backup.
    pub resumed: bool,
    /// The registry's lock was lost (it expired, or was taken): it stopped before the next
    /// write.
    pub lost_lock: bool,
    /// What stopped it midway (the registry failed, the backup could not be read back): the
    /// summary covers what was done before.
    pub stopped_by: Option<String>,
}

impl Migrated {
    /// Nothing failed: no webhook, no verification, nothing stopped it.
    pub fn succeeded(&self) -> bool {
        self.counts.failed == 0
            && self.unverified == 0
            && self.stopped_by.is_none()
            && !self.interrupted
            && !self.lost_lock
    }
}

/// What stops a migration before it changed anything.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("nothing was changed: {0}")]
    Backup(#[from] backup::BackupError),
    #[error(transparent)]
    Registry(#[from] Box<RegistryError>),
    /// Another selection's run into this store is unfinished: it must be resumed or rolled
    /// back first.
    #[error(
        "an unfinished migration into this store ({}, started {} on {}) must be resumed or rolled back first: {}",
        .0.selection, .0.started_at, .0.host, .0.how_to_end()
    )]
    Unfinished(super::unfinished::Unfinished),
    /// The unfinished run's backup is not in this state directory.
    #[error(
        "the unfinished migration started {started_at} on {host} cannot be resumed here: its backup {backup} is not in {folder}; resume it on {host}, or copy the backup there"
    )]
    BackupElsewhere {
        started_at: String,
        host: String,
        backup: String,
        folder: String,
    },
}

impl MigrateError {
    /// A refusal for safety (exit 3), not a failure.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Unfinished(_) | Self::BackupElsewhere { .. })
    }
}

/// Where one webhook stands between the passes (by its place in the backup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not reached (interrupted or stopped).
    NotStarted,
    /// Nothing to verify: skipped without credentials, failed, pending.
    Done,
    /// The store held the values already: verified (and cleared) only with `clear_database`.
    AlreadyThere,
    /// Written: to be read back.
    Written,
}

/// What a webhook's migration would write: each target name, its value, and what the store
/// held.
fn plan(entry: &Entry) -> Vec<(&Prior, &SecretValue, Change)> {
    entry
        .store
        .iter()
        .filter_map(|prior| {
            let desired = entry
                .credentials
                .iter()
                .find(|(f, _)| *f == prior.field)
                .and_then(|(_, v)| v.as_ref())?;
            let change = match &prior.value {
                None => Change::Create,
                Some(held) if held.expose() != desired.expose() => Change::Update,
                Some(_) => Change::Same,
            };
            Some((prior, desired, change))
        })
        .collect()
}

fn targets_of(entry: &Entry) -> Vec<(String, Change)> {
    plan(entry)
        .into_iter()
        .map(|(p, _, c)| (p.name.clone(), c))
        .collect()
}

/// Whether the migration has anything to do for `entry`: a credential the store lacks or
/// holds otherwise, or (clearing) a row credential to clear.
pub(crate) fn needs_work(entry: &Entry, clear_database: bool) -> bool {
    let plan = plan(entry);
    !plan.is_empty() && (clear_database || plan.iter().any(|(_, _, c)| *c != Change::Same))
}

fn line(entry: &Entry, outcome: Outcome) -> Line {
    Line {
        code: entry.code.clone(),
        direction: entry.direction,
        targets: targets_of(entry),
        outcome,
    }
}

/// The outcome of a webhook that needs no write; `moved` holds the codes whose credentials
/// hookplan's tables place in the store already (rows cleared by `--clear-database`).
fn unwritten(entry: &Entry, moved: &HashSet<String>) -> Option<Outcome> {
    let plan = plan(entry);
    if plan.is_empty() && moved.contains(&entry.code) {
        Some(Outcome::Skipped(Skip::AlreadyInStore))
    } else if plan.is_empty() {
        Some(Outcome::Skipped(Skip::NoCredentials))
    } else if plan.iter().all(|(_, _, c)| *c == Change::Same) {
        Some(Outcome::Skipped(Skip::AlreadyInStore))
    } else {
        None
    }
}

/// Runs the migration. An error means nothing was changed; once writing has begun, a
/// failure stops it with the summary so far (`Migrated::stopped_by`).
pub async fn migrate(
    request: &Request<'_>,
    progress: &mut dyn Progress,
) -> Result<Migrated, MigrateError> {
    progress.say(outcome::TITLE.to_string());
    let moved = request
        .scan
        .registry
        .codes_in_store(request.scan.store.name())
        .await
        .map_err(Box::new)?;
    if request.dry_run {
        return dry_run(request, &moved, progress).await;
    }
    let scan = &request.scan;
    let clear = request.clear_database;
    let resumed = match scan
        .registry
        .unfinished_run(scan.store.name())
        .await
        .map_err(Box::new)?
    {
        Some(run) if run.selection != scan.selection.describe() || run.path != scan.path => {
            return Err(MigrateError::Unfinished(run.into()));
        }
        Some(run) => {
            let path = scan.folder.join(&run.backup);
            if !path.is_file() {
                return Err(MigrateError::BackupElsewhere {
                    started_at: run.started_at,
                    host: run.host,
                    backup: run.backup,
                    folder: scan.folder.display().to_string(),
                });
            }
            let summary = backup::summary(&path);
            if let Some(problem) = summary.problem {
                return Err(MigrateError::Backup(backup::BackupError::Corrupt {
                    path: path.display().to_string(),
                    reason: problem,
                }));
            }
            let made = Made {
                file: run.backup.clone(),
                path,
                direction: summary.direction,
                webhooks: summary.webhooks.unwrap_or(0) as usize,
                checksum: summary.checksum.unwrap_or_default(),
            };
            Some((run, made))
        }
        None => None,
    };
    let mut done = Migrated::default();
    let (run, made) = match resumed {
        Some((run, made)) => {
            progress.say(outcome::found(made.webhooks));
            progress.say(format!(
                "Resuming the migration started {} on {} (process {}), from its backup {}",
                run.started_at,
                run.host,
                run.pid,
                made.path.display()
            ));
            progress.say(outcome::MIGRATING.to_string());
            done.backup = Some(made.clone());
            done.resumed = true;
            (run.id, made)
        }
        None => {
            let scanned = backup::scan(scan, Output::FileIfChanging, |entry| {
                needs_work(entry, clear)
            })
            .await?;
            progress.say(outcome::found(scanned.webhooks));
            done.backup = scanned.made.clone();
            if scanned.webhooks == 0 {
                return Ok(done);
            }
            if let Some(made) = &scanned.made {
                progress.say(format!("Backup created: {}", made.path.display()));
            }
            let Some(made) = scanned.made else {
                progress.say(outcome::MIGRATING.to_string());
                return unchanged(request, &moved, progress, done).await;
            };
            // Journaled before anything is written: from here on, a run that stops is
            // resumed on this backup or rolled back from it.
            let holder = crate::registry::Holder::this_process();
            let run = JournalRun {
                id: holder.id,
                store: scan.store.name().to_string(),
                path: scan.path.to_string(),
                selection: scan.selection.describe(),
                backup: made.file.clone(),
                host: holder.host,
                pid: holder.pid,
                started_at: scan.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            scan.registry.start_run(&run).await.map_err(Box::new)?;
            progress.say(outcome::MIGRATING.to_string());
            (run.id, made)
        }
    };
    let stages = write_pass(request, &moved, &made, &run, progress, &mut done).await;
    for summary in done.counts.lines(false) {
        progress.say(summary);
    }
    if done.counts.pending_approval > 0 {
        progress.say(format!(
            "Warning: {} webhook(s) await approval in {}; run migrate again once they are approved",
            done.counts.pending_approval, request.store_label
        ));
    }
    if done.interrupted || done.stopped_by.is_some() || done.lost_lock {
        return Ok(done);
    }
    verify_pass(request, &made, &run, &stages, progress, &mut done).await;
    if !done.interrupted && done.stopped_by.is_none() && !done.lost_lock {
        request
            .scan
            .registry
            .end_runs(&made.file, RunState::Finished)
            .await
            .map_err(Box::new)?;
    }
    Ok(done)
}

/// A run that changes nothing: each webhook's line, from a second read.
async fn unchanged(
    request: &Request<'_>,
    moved: &HashSet<String>,
    progress: &mut dyn Progress,
    mut done: Migrated,
) -> Result<Migrated, MigrateError> {
    let label = request.store_label.clone();
    let counts = &mut done.counts;
    backup::scan(&request.scan, Output::Nothing, |entry| {
        let outcome = unwritten(entry, moved).unwrap_or_else(|| Outcome::Failed {
            class: "changed",
            reason: "its credentials changed while the migration read them; run migrate again"
                .to_string(),
        });
        let line = line(entry, outcome);
        counts.add(&line.outcome);
        progress.say(line.text(&label));
        progress.webhook(&line);
        false
    })
    .await?;
    for summary in done.counts.lines(false) {
        progress.say(summary);
    }
    Ok(done)
}

/// A dry run: the lines of what would be written, names only; nothing is written, not even
/// a backup.
async fn dry_run(
    request: &Request<'_>,
    moved: &HashSet<String>,
    progress: &mut dyn Progress,
) -> Result<Migrated, MigrateError> {
    let total = count(request.scan.registry, request.scan.selection).await?;
    progress.say(outcome::found(total));
    if total == 0 {
        return Ok(Migrated::default());
    }
    progress.say("Dry run - nothing will be written and no backup made".to_string());
    let mut done = Migrated::default();
    let label = request.store_label.clone();
    let clear = request.clear_database;
    let counts = &mut done.counts;
    backup::scan(&request.scan, Output::Nothing, |entry| {
        let outcome = match unwritten(entry, moved) {
            Some(Outcome::Skipped(Skip::AlreadyInStore)) if clear => Outcome::WouldMigrate,
            Some(o) => o,
            None => Outcome::WouldMigrate,
        };
        let line = line(entry, outcome);
        counts.add(&line.outcome);
        let mut text = line.text(&label);
        if clear && line.outcome == Outcome::WouldMigrate {
            text.push_str("; then its database credentials are cleared");
        }
        progress.say(text);
        progress.webhook(&line);
        false
    })
    .await?;
    for summary in done.counts.lines(true) {
        progress.say(summary);
    }
    Ok(done)
}

/// How many webhooks the selection holds, read page by page.
async fn count(registry: &Registry, selection: &Selection) -> Result<usize, MigrateError> {
    if let Some(code) = &selection.webhook {
        return Ok(usize::from(
            registry.get(code).await.map_err(Box::new)?.is_some(),
        ));
    }
    let mut after: Option<String> = None;
    let mut total = 0;
    loop {
        let page = registry
            .page(after.as_deref(), 500)
            .await
            .map_err(Box::new)?;
        total += page.iter().filter(|w| selection.matches(w)).count();
        if page.len() < 500 {
            return Ok(total);
        }
        after = page.last().map(|w| w.code.clone());
    }
}

/// The entries of a backup being read, with their place, and the thread reading it.
type BackupReader = (
    tokio::sync::mpsc::Receiver<(usize, Entry)>,
    tokio::task::JoinHandle<Result<(), backup::BackupError>>,
);

/// Reads a backup's entries on a blocking thread, as they are parsed, with their place.
fn read_backup(path: std::path::PathBuf) -> BackupReader {
    let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
    let reader = tokio::task::spawn_blocking(move || {
        let mut index = 0;
        backup::read_each(&path, |entry| {
            let sent = sender.blocking_send((index, entry));
            index += 1;
            if sent.is_err() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map(drop)
    });
    (receiver, reader)
}

/// One write batch: webhooks with their place in the backup.
type Job = Vec<(usize, Entry)>;

/// Writes the webhooks that need it, from the backup; answers each webhook's stage.
async fn write_pass(
    request: &Request<'_>,
    moved: &HashSet<String>,
    made: &Made,
    run: &str,
    progress: &mut dyn Progress,
    done: &mut Migrated,
) -> Vec<Stage> {
    let scan = &request.scan;
    let store = scan.store.clone();
    let path = scan.path.to_string();
    let label = request.store_label.clone();
    let mut stages = vec![Stage::NotStarted; made.webhooks];
    let (mut entries, reader) = read_backup(made.path.clone());
    let mut jobs: JoinSet<Vec<(usize, Line)>> = JoinSet::new();
    let mut batch: Job = Vec::new();
    let mut batch_names = 0;
    let mut pending_marks = Vec::new();
    let concurrency = request.concurrency.max(1);

    let mut ordered = Ordered::default();
    let mut unjournaled = Unjournaled::default();
    // Resuming: the webhooks the interrupted run was writing (perhaps applied).
    let mut maybe_written: HashSet<String> = HashSet::new();
    // Takes finished lines in; they are said in the backup's order.
    let take = |lines: Vec<(usize, Line)>,
                stages: &mut Vec<Stage>,
                pending_marks: &mut Vec<MigrationMark>,
                done: &mut Migrated,
                ordered: &mut Ordered,
                progress: &mut dyn Progress| {
        for (index, line) in lines {
            stages[index] = match line.outcome {
                Outcome::Migrated => Stage::Written,
                Outcome::Skipped(Skip::AlreadyInStore) => Stage::AlreadyThere,
                _ => Stage::Done,
            };
            if line.outcome == (Outcome::Pending { earlier: false }) {
                pending_marks.push(MigrationMark {
                    code: line.code.clone(),
                    store: scan.store.name().to_string(),
                    path: path.clone(),
                    state: MarkState::Pending,
                    names: line.targets.iter().map(|(n, _)| n.clone()).collect(),
                    backup: Some(made.file.clone()),
                });
            }
            done.counts.add(&line.outcome);
            ordered.waiting.insert(index, line);
        }
        ordered.say_ready(progress, &label, false);
    };

    'read: loop {
        let mut window = Vec::with_capacity(WINDOW);
        while window.len() < WINDOW {
            match entries.recv().await {
                Some(entry) => window.push(entry),
                None => break,
            }
        }
        if window.is_empty() {
            break;
        }
        if request.cancel.is_cancelled() {
            done.interrupted = true;
            break;
        }
        let codes: Vec<String> = window.iter().map(|(_, e)| e.code.clone()).collect();
        let marks = match scan.registry.migration_marks(store.name(), &codes).await {
            Ok(marks) => marks,
            Err(e) => {
                done.stopped_by = Some(e.to_string());
                break;
            }
        };
        // Resuming: what the interrupted run journaled of these webhooks.
        let journaled = if done.resumed {
            match scan.registry.journal_stages(run, &codes).await {
                Ok(stages) => stages,
                Err(e) => {
                    done.stopped_by = Some(e.to_string());
                    break;
                }
            }
        } else {
            HashMap::new()
        };
        let mut to_write: Vec<(usize, Entry)> = Vec::new();
        maybe_written.extend(
            journaled
                .iter()
                .filter(|(_, stage)| **stage == Journaled::Writing)
                .map(|(code, _)| code.clone()),
        );
        for (index, entry) in window {
            // Written before the interruption: not sent again, read back below. One left at
            // `Writing` may have been applied: its names are read before it is written
            // (`write_entries`), so nothing is sent twice.
            if let Some(stage @ (Journaled::Written | Journaled::Verified | Journaled::Cleared)) =
                journaled.get(&entry.code)
            {
                // Verified already, and cleared when asked: nothing left but its line.
                let verified = match stage {
                    Journaled::Cleared => true,
                    Journaled::Verified => !request.clear_database,
                    _ => false,
                };
                take(
                    vec![(index, line(&entry, Outcome::Migrated))],
                    &mut stages,
                    &mut pending_marks,
                    done,
                    &mut ordered,
                    progress,
                );
                if verified {
                    stages[index] = Stage::Done;
                }
                continue;
            }
            if let Some(outcome) = unwritten(&entry, moved) {
                take(
                    vec![(index, line(&entry, outcome))],
                    &mut stages,
                    &mut pending_marks,
                    done,
                    &mut ordered,
                    progress,
                );
                continue;
            }
            let changed: Vec<String> = targets_of(&entry)
                .into_iter()
                .filter(|(_, c)| *c != Change::Same)
                .map(|(n, _)| n)
                .collect();
            if marks.get(&entry.code).is_some_and(|m| {
                m.state == MarkState::Pending && changed.iter().all(|n| m.names.contains(n))
            }) {
                take(
                    vec![(index, line(&entry, Outcome::Pending { earlier: true }))],
                    &mut stages,
                    &mut pending_marks,
                    done,
                    &mut ordered,
                    progress,
                );
                continue;
            }
            to_write.push((index, entry));
        }
        // Before any of the window's writes: its `Writing` records, with the outcomes of the
        // batches that finished since, in one transaction.
        let writing: Vec<String> = to_write.iter().map(|(_, e)| e.code.clone()).collect();
        if !unjournaled.flush(scan.registry, run, &writing, done).await {
            break 'read;
        }
        for (index, entry) in to_write {
            let names = entry.store.len();
            if batch_names + names > BATCH_NAMES && !batch.is_empty() {
                while jobs.len() >= concurrency {
                    if let Some(Ok(lines)) = jobs.join_next().await {
                        unjournaled.add(&lines);
                        take(
                            lines,
                            &mut stages,
                            &mut pending_marks,
                            done,
                            &mut ordered,
                            progress,
                        );
                    }
                }
                if request.cancel.is_cancelled() {
                    done.interrupted = true;
                    break 'read;
                }
                if !still_locked(request, done).await {
                    break 'read;
                }
                let job = std::mem::take(&mut batch);
                let unsure = uncertain_of(&job, &maybe_written);
                jobs.spawn(write_job(store.clone(), path.clone(), job, unsure));
                batch_names = 0;
            }
            batch.push((index, entry));
            batch_names += names;
        }
    }
    if !batch.is_empty() && !done.interrupted && done.stopped_by.is_none() && !done.lost_lock {
        if request.cancel.is_cancelled() {
            done.interrupted = true;
        } else if still_locked(request, done).await {
            // Journaled as `Writing` with its window.
            let unsure = uncertain_of(&batch, &maybe_written);
            jobs.spawn(write_job(store.clone(), path.clone(), batch, unsure));
        }
    }
    // Those in flight finish, interrupted or not.
    while let Some(joined) = jobs.join_next().await {
        match joined {
            Ok(lines) => {
                unjournaled.add(&lines);
                take(
                    lines,
                    &mut stages,
                    &mut pending_marks,
                    done,
                    &mut ordered,
                    progress,
                )
            }
            Err(e) => {
                done.stopped_by = Some(format!("a write stopped: {e}"));
            }
        }
    }
    ordered.say_ready(progress, &label, true);
    unjournaled.flush(scan.registry, run, &[], done).await;
    drop(entries);
    match reader.await {
        Ok(Ok(())) => {}
        // Stopped early: the reader's channel closed, which is no fault.
        Ok(Err(e)) if done.stopped_by.is_none() && !done.interrupted => {
            done.stopped_by = Some(format!("cannot read the backup back: {e}"));
        }
        Ok(Err(_)) => {}
        Err(e) => done.stopped_by = Some(format!("cannot read the backup back: {e}")),
    }
    if let Err(e) = scan.registry.mark_migrations(&pending_marks).await {
        done.stopped_by.get_or_insert(e.to_string());
    }
    stages
}

/// Journals `codes` at `stage`, committed before the next side effect; a journal that cannot
/// be written stops the migration (`false`).
async fn journal(
    registry: &Registry,
    run: &str,
    codes: &[String],
    stage: Journaled,
    done: &mut Migrated,
) -> bool {
    match registry.journal_stage(run, codes, stage).await {
        Ok(()) => true,
        Err(e) => {
            done.stopped_by = Some(format!("cannot write the migration journal: {e}"));
            false
        }
    }
}

/// The webhooks of `job` whose write may have been applied already.
fn uncertain_of(job: &Job, maybe_written: &HashSet<String>) -> HashSet<String> {
    job.iter()
        .filter(|(_, e)| maybe_written.contains(&e.code))
        .map(|(_, e)| e.code.clone())
        .collect()
}

/// Batch outcomes not journaled yet: they go into the journal with the next window's
/// `Writing` records, in one transaction. Until then such a webhook stands at `Writing`, which
/// a resume reads back before it writes anything: late, never wrong.
#[derive(Default)]
struct Unjournaled {
    written: Vec<String>,
    done: Vec<String>,
}

impl Unjournaled {
    fn add(&mut self, lines: &[(usize, Line)]) {
        for (_, line) in lines {
            if line.outcome == Outcome::Migrated {
                self.written.push(line.code.clone());
            } else {
                self.done.push(line.code.clone());
            }
        }
    }

    /// Journals what is buffered and `writing` at once; `false` (the migration stops) when
    /// the journal cannot be written.
    async fn flush(
        &mut self,
        registry: &Registry,
        run: &str,
        writing: &[String],
        done: &mut Migrated,
    ) -> bool {
        let groups = [
            (self.written.as_slice(), Journaled::Written),
            (self.done.as_slice(), Journaled::Done),
            (writing, Journaled::Writing),
        ];
        match registry.journal_stages_at(run, &groups).await {
            Ok(()) => {
                self.written.clear();
                self.done.clear();
                true
            }
            Err(e) => {
                done.stopped_by = Some(format!("cannot write the migration journal: {e}"));
                false
            }
        }
    }
}

/// Fencing: whether the migration still holds the registry's lock (always, without one). A
/// lost lock stops the migration before its next write.
async fn still_locked(request: &Request<'_>, done: &mut Migrated) -> bool {
    let Some(lock) = request.lock else {
        return true;
    };
    match lock.check().await {
        Ok(()) => true,
        Err(crate::registry::LeaseError::Lost) => {
            done.lost_lock = true;
            false
        }
        Err(e) => {
            done.stopped_by = Some(e.to_string());
            false
        }
    }
}

/// Lines that ended out of order, said in the backup's order as soon as every earlier one
/// has ended: holds no more than the webhooks in flight.
#[derive(Default)]
struct Ordered {
    next: usize,
    waiting: std::collections::BTreeMap<usize, Line>,
}

impl Ordered {
    /// Says the lines whose turn it is; `all` says every one left (the webhooks between them
    /// were never started).
    fn say_ready(&mut self, progress: &mut dyn Progress, label: &str, all: bool) {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() != self.next && !all {
                return;
            }
            let (index, line) = entry.remove_entry();
            self.next = index + 1;
            progress.say(line.text(label));
            progress.webhook(&line);
        }
    }
}

/// Whether a batch's failure may belong to one of its webhooks: then each is tried alone.
/// A refusal (4xx) may be one bad key; an unavailable store may have failed one read-back.
/// Bad credentials and rate limits are the whole store's.
fn splits(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Invalid { .. }
            | StoreError::NotFound { .. }
            | StoreError::Forbidden { .. }
            | StoreError::Unavailable { .. }
    )
}

/// Writes one batch; each webhook's line. A batch that fails as [`splits`] says is tried
/// again one webhook at a time, so only the webhook whose key is bad fails; when the store is
/// unavailable to a webhook alone too, the rest of the batch fails without more tries.
async fn write_job(
    store: Arc<dyn SecretStore>,
    path: String,
    job: Job,
    uncertain: HashSet<String>,
) -> Vec<(usize, Line)> {
    let result = write_entries(store.as_ref(), &path, &job, &uncertain).await;
    match result {
        Err(e) if job.len() > 1 && splits(&e) => {
            // The failed batch may have been applied in part: each webhook is read before it
            // is written again.
            let mut lines = Vec::with_capacity(job.len());
            let mut down: Option<StoreError> = None;
            for one in job {
                let single = vec![one];
                let all: HashSet<String> = single.iter().map(|(_, e)| e.code.clone()).collect();
                let result = match &down {
                    Some(e) => Err(e.clone()),
                    None => write_entries(store.as_ref(), &path, &single, &all).await,
                };
                if let Err(e @ StoreError::Unavailable { .. }) = &result {
                    down = Some(e.clone());
                }
                lines.extend(lines_of(&single, result));
            }
            lines
        }
        result => lines_of(&job, result),
    }
}

/// Writes `job`'s credentials. What the store holds of each name is the backup's prior —
/// except for the `uncertain` webhooks, whose write may have been applied already (an
/// interrupted run left them at `Writing`, or a batch failed after sending): their names are
/// read first, so that what is there already is never sent again (an upsert would make a
/// second version of it).
async fn write_entries(
    store: &dyn SecretStore,
    path: &str,
    job: &Job,
    uncertain: &HashSet<String>,
) -> Result<(), StoreError> {
    let mut secrets = Vec::new();
    let mut known = HashMap::new();
    let mut to_read = Vec::new();
    for (_, entry) in job {
        let read_first = uncertain.contains(&entry.code);
        for (prior, desired, _) in plan(entry) {
            secrets.push(NewSecret::new(prior.name.clone(), desired.clone()));
            if read_first {
                to_read.push(prior.name.clone());
            } else if let Some(held) = &prior.value {
                let held = Secret {
                    name: prior.name.clone(),
                    value: held.clone(),
                    version: prior.version.unwrap_or(1),
                };
                known.insert(prior.name.clone(), held);
            }
        }
    }
    for (name, got) in read_names(store, path, to_read).await {
        match got {
            Ok(secret) => {
                known.insert(name, secret);
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    store.set_known(path, secrets, known).await.map(drop)
}

/// Reads `names`, [`CONCURRENT_READS`] in flight at all times: each name with what the store
/// answered for it.
async fn read_names(
    store: &dyn SecretStore,
    path: &str,
    names: Vec<String>,
) -> Vec<(String, Result<Secret, StoreError>)> {
    use futures_util::StreamExt;
    futures_util::stream::iter(names)
        .map(|name| async move {
            let got = store.get(path, &name).await;
            (name, got)
        })
        .buffer_unordered(CONCURRENT_READS)
        .collect()
        .await
}

fn lines_of(job: &Job, result: Result<(), StoreError>) -> Vec<(usize, Line)> {
    let pending: HashSet<String> = match &result {
        Err(StoreError::PendingApproval { names }) => names.iter().cloned().collect(),
        _ => HashSet::new(),
    };
    job.iter()
        .map(|(index, entry)| {
            let outcome = match &result {
                Ok(()) => Outcome::Migrated,
                Err(StoreError::PendingApproval { .. }) => {
                    if entry.store.iter().any(|p| pending.contains(&p.name)) {
                        Outcome::Pending { earlier: false }
                    } else {
                        Outcome::Migrated
                    }
                }
                Err(e) => Outcome::Failed {
                    class: e.class(),
                    reason: e.to_string(),
                },
            };
            (*index, line(entry, outcome))
        })
        .collect()
}

/// Reads back every webhook written (and, clearing, every one already there), records those
/// verified, and clears their rows when asked.
async fn verify_pass(
    request: &Request<'_>,
    made: &Made,
    run: &str,
    stages: &[Stage],
    progress: &mut dyn Progress,
    done: &mut Migrated,
) {
    let scan = &request.scan;
    let clear = request.clear_database;
    let wanted = |stage: Stage| stage == Stage::Written || (clear && stage == Stage::AlreadyThere);
    if !stages.iter().any(|s| wanted(*s)) {
        return;
    }
    progress.say(verify::OPENING.to_string());
    let store_name = scan.store.name().to_string();
    let path = scan.path.to_string();
    let (mut entries, reader) = read_backup(made.path.clone());
    let mut checked = 0;
    'read: loop {
        let mut window = Vec::new();
        while window.len() < WINDOW {
            match entries.recv().await {
                Some((index, entry))
                    if !entry.store.is_empty() && stages.get(index).is_some_and(|s| wanted(*s)) =>
                {
                    window.push(entry)
                }
                Some(_) => {}
                None => break,
            }
        }
        if window.is_empty() {
            break;
        }
        if request.cancel.is_cancelled() {
            done.interrupted = true;
            break;
        }
        let verdicts = read_back(scan.store.as_ref(), &path, &window).await;
        let mut marks = Vec::new();
        let mut clears = Vec::new();
        for (entry, (verdict, unreadable)) in window.iter().zip(verdicts) {
            checked += 1;
            progress.say(match unreadable {
                Some(class) => format!(
                    "[{}] Verification failed - the store could not be read back ({class})",
                    verdict.code
                ),
                None => verdict.line(),
            });
            progress.verdict(&verdict);
            if verdict.outcome != verify::Outcome::Verified {
                done.unverified += 1;
                continue;
            }
            done.verified += 1;
            let plan = plan(entry);
            marks.push(MigrationMark {
                code: entry.code.clone(),
                store: store_name.clone(),
                path: path.clone(),
                state: MarkState::Migrated,
                names: plan.iter().map(|(p, _, _)| p.name.clone()).collect(),
                backup: Some(made.file.clone()),
            });
            if clear {
                clears.push((
                    entry.code.clone(),
                    plan.iter()
                        .map(|(p, _, _)| CredentialWrite {
                            field: p.field,
                            value: None,
                            location: Some(format!("{store_name}:{path}/{}", p.name)),
                        })
                        .collect(),
                ));
            }
        }
        if !clears.is_empty() && !still_locked(request, done).await {
            break 'read;
        }
        let recorded = async {
            scan.registry.mark_migrations(&marks).await?;
            scan.registry.write_credentials(&clears).await
        };
        if let Err(e) = recorded.await {
            done.stopped_by = Some(e.to_string());
            break 'read;
        }
        let verified: Vec<String> = marks.iter().map(|m| m.code.clone()).collect();
        let stage = if clear {
            Journaled::Cleared
        } else {
            Journaled::Verified
        };
        if !journal(scan.registry, run, &verified, stage, done).await {
            break 'read;
        }
        done.cleared += clears.len();
    }
    drop(entries);
    if let Ok(Err(e)) = reader.await
        && done.stopped_by.is_none()
        && !done.interrupted
    {
        done.stopped_by = Some(format!("cannot read the backup back: {e}"));
    }
    if done.interrupted || done.stopped_by.is_some() || done.lost_lock {
        return;
    }
    progress.say(verify::closing(checked, done.unverified));
    if clear {
        progress.say(format!(
            "Cleared the database credentials of {} webhook(s); they now live in {}",
            done.cleared, request.store_label
        ));
    }
}

/// Each webhook's verdict: its target names read back and compared exactly with what was
/// written. A name the store could not be read for counts as missing, and the verdict
/// carries the failure's class (`unavailable`, …) to say so.
async fn read_back(
    store: &dyn SecretStore,
    path: &str,
    window: &[Entry],
) -> Vec<(Verdict, Option<&'static str>)> {
    let mut names: Vec<(&str, &SecretValue)> = Vec::new();
    for entry in window {
        for (prior, desired, _) in plan(entry) {
            names.push((prior.name.as_str(), desired));
        }
    }
    let desired: HashMap<&str, &SecretValue> = names.iter().copied().collect();
    let mut held: HashMap<String, Held> = HashMap::with_capacity(names.len());
    let mut unreadable: HashMap<String, &'static str> = HashMap::new();
    let reading = names.iter().map(|(name, _)| name.to_string()).collect();
    for (name, got) in read_names(store, path, reading).await {
        let wanted = desired.get(name.as_str()).map(|d| d.expose());
        let state = match got {
            Ok(secret) if Some(secret.value.expose()) == wanted => Held::Same,
            Ok(_) => Held::Differs,
            Err(e) if e.is_not_found() => Held::Absent,
            Err(e) => {
                unreadable.insert(name.clone(), e.class());
                Held::Absent
            }
        };
        held.insert(name, state);
    }
    window
        .iter()
        .map(|entry| {
            let fields: Vec<(Field, Held)> = plan(entry)
                .iter()
                .map(|(p, _, _)| {
                    (
                        p.field,
                        held.get(p.name.as_str()).copied().unwrap_or(Held::Absent),
                    )
                })
                .collect();
            let verdict =
                Verdict::judge(&entry.code, entry.direction, &fields).unwrap_or_else(|| Verdict {
                    code: entry.code.clone(),
                    direction: entry.direction,
                    fields: Vec::new(),
                    mismatched: Vec::new(),
                    missing: Vec::new(),
                    outcome: verify::Outcome::Verified,
                });
            let class = entry
                .store
                .iter()
                .find_map(|p| unreadable.get(p.name.as_str()).copied());
            (verdict, class)
        })
        .collect()
}
