//! Undoing a migration from the backup written before it (the spec's `rollback FILE`): the
//! store's target names go back to what they held (deleted when they did not exist), the
//! registry's rows get their credentials back, and `hookplan_migrations` forgets the webhooks.
//!
//! The backup is streamed twice, a chunk of webhooks at a time, never held whole: a **check**
//! pass that changes nothing, then an **apply** pass. The check pass finds every reason to
//! refuse before anything changes: a backup that is corrupt (its checksum fails, or it is not
//! a backup), one of another registry, one whose names live in another folder of the store,
//! a store name someone changed since the migration (it holds neither what the migration
//! wrote nor what it held before), a row someone changed since (it holds neither the backup's
//! credentials nor cleared ones). With `force`, all but the folder become warnings and the
//! backup's values win; a corrupt backup is then still read if it parses at all.
//!
//! Nothing here prints; every line it produces names codes, target names and field names,
//! never a value.

use super::backup::{self, BackupError, Entry, Header, Prior, ReadEach};
use super::status::short_name;
use crate::registry::{CredentialWrite, Field, Registry, RegistryError, Webhook};
use crate::store::{NewSecret, Secret, SecretStore, SecretValue, StoreError, normalize_path};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Webhooks read, checked and written at a time (one database transaction, one store call of
/// each kind).
const CHUNK: usize = 500;
/// Store reads in flight at once.
const CONCURRENT_READS: usize = 16;
/// Problems named one by one before the rest are counted.
const SHOWN_PROBLEMS: usize = 50;

/// The hint after a refusal.
pub const FORCE_HINT: &str = "(rerun with --force to restore the backup's values anyway)";

/// Why a rollback did not happen or stopped, in one line, never with a value in it.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// Refused before anything changed; each problem is one line.
    #[error("refused: {}", summary(.problems, *.more))]
    Refused {
        problems: Vec<String>,
        /// Problems beyond those named.
        more: usize,
        /// Whether `--force` would go through.
        forcible: bool,
    },
    /// The backup cannot be read at all (a missing file, a later format version).
    #[error(transparent)]
    Backup(Box<BackupError>),
    #[error(transparent)]
    Registry(Box<RegistryError>),
    /// The backup could not be read again for the apply pass; what was applied before stays.
    #[error(
        "the backup could not be read again after {applied} webhook(s) were restored: {reason}"
    )]
    Reread { applied: usize, reason: String },
    /// The registry's lock was lost (another process took it): nothing more is written.
    #[error(
        "the registry's lock was lost after {applied} webhook(s) were restored, so nothing more is written: {reason}; run the rollback again once the other process is done"
    )]
    LostLock { applied: usize, reason: String },
}

fn summary(problems: &[String], more: usize) -> String {
    let mut text = problems.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

impl From<RegistryError> for RollbackError {
    fn from(error: RegistryError) -> Self {
        Self::Registry(Box::new(error))
    }
}

impl RollbackError {
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::LostLock { .. })
    }
}

/// Where `FILE` is: a path as given, or a bare file name in `STATE_DIR/backups/` (the working
/// directory's file of that name when the backups folder has none).
pub fn locate(file: &str, state_dir: &Path) -> PathBuf {
    let given = Path::new(file);
    let bare = given.components().count() == 1 && given.parent() == Some(Path::new(""));
    if !bare {
        return given.to_path_buf();
    }
    let in_folder = backup::folder(state_dir).join(file);
    if !in_folder.exists() && given.exists() {
        return given.to_path_buf();
    }
    in_folder
}

/// What a rollback covers.
pub struct Request<'a> {
    pub registry: &'a Registry,
    pub store: Arc<dyn SecretStore>,
    /// The store's folder (its `path`): the backup must name the same one.
    pub path: &'a str,
    /// The backup file (see [`locate`]).
    pub backup: &'a Path,
    pub force: bool,
    /// Check and tell what would happen; change nothing.
    pub dry_run: bool,
    /// The registry's migration lock, checked before each chunk is applied (fencing).
    pub lock: Option<&'a super::lock::MigrationLock>,
}

/// What happens to one target name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameChange {
    /// It did not exist before the migration: deleted.
    Delete,
    /// It held another value before: that value is written back.
    Restore,
}

/// How one webhook's rollback ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Restored,
    /// The store and the row hold the backup's state already.
    Unchanged,
    /// Not (or not wholly) restored: why, in one line.
    Failed(String),
    /// A dry run: what would be done.
    WouldRestore,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Restored => "restored",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed(_) => "failed",
            Outcome::WouldRestore => "would-restore",
        }
    }
}

/// One webhook's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub code: String,
    /// Each target name changed, and how.
    pub names: Vec<(String, NameChange)>,
    /// The row's credentials written back.
    pub fields: Vec<Field>,
    pub outcome: Outcome,
}

impl Line {
    /// The console line: `[CODE] Restored`, `[CODE] Nothing to restore`,
    /// `[CODE] Failed - reason`, or (a dry run) `[CODE] Would restore - delete NAME (did not
    /// exist before), restore NAME (prior value), database credentials user,key`.
    pub fn text(&self) -> String {
        let code = &self.code;
        match &self.outcome {
            Outcome::Restored => format!("[{code}] Restored"),
            Outcome::Unchanged => format!("[{code}] Nothing to restore"),
            Outcome::Failed(reason) => format!("[{code}] Failed - {reason}"),
            Outcome::WouldRestore => format!("[{code}] Would restore - {}", self.actions()),
        }
    }

    /// What is (or would be) done, in words.
    pub fn actions(&self) -> String {
        let mut parts: Vec<String> = self
            .names
            .iter()
            .map(|(name, change)| match change {
                NameChange::Delete => format!("delete {name} (did not exist before)"),
                NameChange::Restore => format!("restore {name} (prior value)"),
            })
            .collect();
        if !self.fields.is_empty() {
            parts.push(format!(
                "database credentials {}",
                self.field_names().join(",")
            ));
        }
        parts.join(", ")
    }

    /// The row's credentials written back, as `status` names them (`user`, `key`, `pass`,
    /// `secret`).
    pub fn field_names(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| short_name(*f)).collect()
    }
}

/// What a rollback reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// The check pass passed (or was forced): the apply pass starts.
    Start {
        file: &'a str,
        webhooks: usize,
    },
    /// A problem `force` let through.
    Warning(&'a str),
    Webhook(&'a Line),
}

/// A rollback done (or, `dry_run`, told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    pub file: String,
    pub header: Header,
    pub total: usize,
    pub restored: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// The problems `force` let through (the first [`SHOWN_PROBLEMS`]).
    pub warnings: Vec<String>,
    pub dry_run: bool,
}

impl RolledBack {
    /// The spec's summary lines (a dry run counts what it would restore).
    pub fn summary_lines(&self) -> Vec<String> {
        let restored = if self.dry_run {
            "Would restore"
        } else {
            "Restored"
        };
        vec![
            "Rollback Summary:".to_string(),
            format!("Total: {}", self.total),
            format!("{restored}: {}", self.restored),
            format!("Unchanged: {}", self.unchanged),
            format!("Failed: {}", self.failed),
        ]
    }
}

/// Problems found so far: the first ones named, the rest counted.
#[derive(Default)]
struct Problems {
    shown: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, problem: String) {
        if self.shown.len() < SHOWN_PROBLEMS {
            self.shown.push(problem);
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }
}

/// Checks the backup against the registry and the store, then (unless refused) restores
/// both, reporting each webhook to `observe`.
pub async fn rollback(
    request: &Request<'_>,
    mut observe: impl FnMut(Event<'_>) + Send,
) -> Result<RolledBack, RollbackError> {
    let path = request.backup;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // What cannot be forced, then what can.
    let mut hard = Problems::default();
    let mut soft = Problems::default();
    let (header, verified) = match header(path, false) {
        Ok(header) => (header, true),
        Err(e) if e.is_corrupt() => {
            if !request.force {
                soft.push(e.to_string());
                return Err(refused(hard, soft));
            }
            match header(path, true) {
                Ok(header) => {
                    soft.push(e.to_string());
                    (header, false)
                }
                Err(unread) if unread.is_corrupt() => {
                    hard.push(format!(
                        "{e}, and it cannot be read even without its checksum"
                    ));
                    return Err(refused(hard, soft));
                }
                Err(unread) => return Err(RollbackError::Backup(Box::new(unread))),
            }
        }
        Err(e) => return Err(RollbackError::Backup(Box::new(e))),
    };
    match request.registry.registry_id().await? {
        Some(id) if id == header.registry_id => {}
        Some(id) => soft.push(format!(
            "the backup is of registry {}, this registry is {id}",
            header.registry_id
        )),
        None => soft.push(format!(
            "the backup is of registry {}, this registry has no id (it was never backed up)",
            header.registry_id
        )),
    }
    if normalize_path(&header.path) != normalize_path(request.path) {
        hard.push(format!(
            "the backup's names live in {} of store \"{}\"; store \"{}\" keeps its names in {}",
            header.path,
            header.store,
            request.store.name(),
            request.path
        ));
    }
    if !hard.is_empty() || (!soft.is_empty() && !request.force) {
        return Err(refused(hard, soft));
    }

    // The check pass: nothing changes.
    let mut total = 0;
    let mut reader = Reader::open(path, verified);
    while let Some(chunk) = reader.next().await {
        for planned in classify(request, chunk).await {
            total += 1;
            for conflict in planned.conflicts {
                soft.push(format!("[{}] {conflict}", planned.line.code));
            }
        }
    }
    if let Err(e) = reader.finish().await {
        return Err(if e.is_corrupt() {
            hard.push(e.to_string());
            refused(hard, soft)
        } else {
            RollbackError::Backup(Box::new(e))
        });
    }
    if !soft.is_empty() && !request.force {
        return Err(refused(hard, soft));
    }

    observe(Event::Start {
        file: &file,
        webhooks: total,
    });
    let mut warnings = soft.shown;
    if soft.more > 0 {
        warnings.push(format!("and {} more", soft.more));
    }
    for w in &warnings {
        observe(Event::Warning(w));
    }

    // The apply pass.
    let mut done = RolledBack {
        file: file.clone(),
        header,
        total: 0,
        restored: 0,
        unchanged: 0,
        failed: 0,
        warnings,
        dry_run: request.dry_run,
    };
    let mut reader = Reader::open(path, verified);
    while let Some(chunk) = reader.next().await {
        let mut planned = classify(request, chunk).await;
        if request.dry_run {
            for p in &mut planned {
                if p.line.outcome == Outcome::Restored {
                    p.line.outcome = Outcome::WouldRestore;
                }
            }
        } else {
            // Fencing: a holder that lost the lock writes nothing more.
            if let Some(lock) = request.lock
                && let Err(e) = lock.check().await
            {
                return Err(RollbackError::LostLock {
                    applied: done.restored,
                    reason: e.to_string(),
                });
            }
            apply(request, &mut planned).await;
        }
        for p in planned {
            done.total += 1;
            match p.line.outcome {
                Outcome::Restored | Outcome::WouldRestore => done.restored += 1,
                Outcome::Unchanged => done.unchanged += 1,
                Outcome::Failed(_) => done.failed += 1,
            }
            observe(Event::Webhook(&p.line));
        }
    }
    if let Err(e) = reader.finish().await {
        return Err(RollbackError::Reread {
            applied: done.restored,
            reason: e.to_string(),
        });
    }
    Ok(done)
}

fn refused(hard: Problems, soft: Problems) -> RollbackError {
    let forcible = hard.is_empty();
    let more = hard.more + soft.more;
    let mut problems = hard.shown;
    problems.extend(soft.shown);
    RollbackError::Refused {
        problems,
        more,
        forcible,
    }
}

/// The backup's header (its checksum verified unless `unverified`).
fn header(path: &Path, unverified: bool) -> Result<Header, BackupError> {
    let first = |_: Entry| ControlFlow::Break(());
    let read: ReadEach = if unverified {
        backup::read_each_unverified(path, first)?
    } else {
        backup::read_each(path, first)?
    };
    Ok(read.header)
}

/// The backup read on a blocking thread and handed over a chunk at a time, in order.
struct Reader {
    chunks: tokio::sync::mpsc::Receiver<Vec<Entry>>,
    thread: tokio::task::JoinHandle<Result<(), BackupError>>,
    path: PathBuf,
}

impl Reader {
    fn open(path: &Path, verified: bool) -> Self {
        let (tx, chunks) = tokio::sync::mpsc::channel::<Vec<Entry>>(1);
        let owned = path.to_path_buf();
        let thread = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut closed = false;
            let push = |entry: Entry| {
                chunk.push(entry);
                if chunk.len() == CHUNK && tx.blocking_send(std::mem::take(&mut chunk)).is_err() {
                    closed = true;
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            };
            let read = if verified {
                backup::read_each(&owned, push)
            } else {
                backup::read_each_unverified(&owned, push)
            };
            if read.is_ok() && !closed && !chunk.is_empty() {
                let _ = tx.blocking_send(chunk);
            }
            read.map(|_| ())
        });
        Self {
            chunks,
            thread,
            path: path.to_path_buf(),
        }
    }

    async fn next(&mut self) -> Option<Vec<Entry>> {
        self.chunks.recv().await
    }

    /// Whether the whole file was read.
    async fn finish(self) -> Result<(), BackupError> {
        drop(self.chunks);
        self.thread.await.map_err(|e| BackupError::Read {
            path: self.path.display().to_string(),
            reason: format!("the reading stopped: {e}"),
        })?
    }
}

/// One webhook: what the check found and what the apply pass does.
struct Planned {
    line: Line,
    /// Problems `force` lets through, one line each (without the code).
    conflicts: Vec<String>,
    /// What the store holds now of the names to write (for `set_known`).
    known: HashMap<String, Secret>,
    deletes: Vec<String>,
    sets: Vec<NewSecret>,
    row: Vec<CredentialWrite>,
}

impl Planned {
    fn failed(&self) -> bool {
        matches!(self.line.outcome, Outcome::Failed(_))
    }

    fn fail(&mut self, reason: String) {
        if !self.failed() {
            self.line.outcome = Outcome::Failed(reason);
        }
    }
}

/// A row's credential, by field.
fn row_value(webhook: &Webhook, field: Field) -> Option<&str> {
    match field {
        Field::User => webhook.user.as_deref(),
        Field::Key => webhook.key.as_deref(),
        Field::Password => webhook.password.as_deref(),
        Field::SigningSecret => webhook.signing_secret.as_deref(),
        _ => None,
    }
    // `''` is how a NOT NULL column is cleared.
    .filter(|v| !v.is_empty())
}

fn backup_value(entry: &Entry, field: Field) -> Option<&str> {
    entry
        .credentials
        .iter()
        .find(|(f, _)| *f == field)
        .and_then(|(_, v)| v.as_ref())
        .map(SecretValue::expose)
}

/// Reads what the store and the registry hold now of a chunk's webhooks and decides, per
/// webhook, what restoring it takes.
async fn classify(request: &Request<'_>, chunk: Vec<Entry>) -> Vec<Planned> {
    let names: Vec<&str> = chunk
        .iter()
        .flat_map(|e| e.store.iter().map(|p| p.name.as_str()))
        .collect();
    let current = read_names(request, &names).await;
    let mut current = current.into_iter();
    let mut out = Vec::with_capacity(chunk.len());
    for entry in chunk {
        let now: Vec<Result<Option<Secret>, StoreError>> =
            current.by_ref().take(entry.store.len()).collect();
        let row = request.registry.get(&entry.code).await;
        out.push(plan(request.force, entry, now, row));
    }
    out
}

/// Reads `names` from the store, [`CONCURRENT_READS`] at a time; answers them in order.
async fn read_names(
    request: &Request<'_>,
    names: &[&str],
) -> Vec<Result<Option<Secret>, StoreError>> {
    let mut found: Vec<Option<Result<Option<Secret>, StoreError>>> =
        (0..names.len()).map(|_| None).collect();
    let mut reads = tokio::task::JoinSet::new();
    let mut next = 0;
    let mut finished = 0;
    while next < names.len() || !reads.is_empty() {
        // The very first read alone, so that a store logs in once.
        let limit = if finished == 0 { 1 } else { CONCURRENT_READS };
        while next < names.len() && reads.len() < limit {
            let store = request.store.clone();
            let path = request.path.to_string();
            let name = names[next].to_string();
            let index = next;
            reads.spawn(async move { (index, store.get(&path, &name).await) });
            next += 1;
        }
        let Some(done) = reads.join_next().await else {
            break;
        };
        finished += 1;
        // A read that panicked leaves its slot empty: it fails below.
        if let Ok((index, result)) = done {
            found[index] = Some(match result {
                Ok(secret) => Ok(Some(secret)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            });
        }
    }
    found
        .into_iter()
        .map(|f| {
            f.unwrap_or_else(|| {
                Err(StoreError::Unavailable {
                    message: "a read stopped".to_string(),
                })
            })
        })
        .collect()
}

/// One webhook's plan from the backup's entry and what the store and the row hold now.
fn plan(
    force: bool,
    entry: Entry,
    now: Vec<Result<Option<Secret>, StoreError>>,
    row: Result<Option<Webhook>, RegistryError>,
) -> Planned {
    let mut planned = Planned {
        line: Line {
            code: entry.code.clone(),
            names: Vec::new(),
            fields: Vec::new(),
            outcome: Outcome::Unchanged,
        },
        conflicts: Vec::new(),
        known: HashMap::new(),
        deletes: Vec::new(),
        sets: Vec::new(),
        row: Vec::new(),
    };
    for (prior, current) in entry.store.iter().zip(now) {
        let current = match current {
            Ok(current) => current,
            Err(e) => {
                planned.fail(format!("cannot read {} from the store: {e}", prior.name));
                continue;
            }
        };
        let held = current.as_ref().map(|s| s.value.expose());
        let before = prior.value.as_ref().map(SecretValue::expose);
        if held == before {
            continue;
        }
        let written = backup_value(&entry, prior.field);
        if held.is_none() || held != written {
            planned.conflicts.push(format!(
                "{} changed in the store since the migration",
                prior.name
            ));
            if !force {
                continue;
            }
        }
        restore_name(&mut planned, prior, current);
    }
    match row {
        Ok(Some(webhook)) => {
            for (field, value) in &entry.credentials {
                let value = value
                    .as_ref()
                    .map(SecretValue::expose)
                    .filter(|v| !v.is_empty());
                let held = row_value(&webhook, *field);
                if held == value {
                    continue;
                }
                if held.is_some() {
                    planned.conflicts.push(format!(
                        "database credential {} changed since the backup",
                        short_name(*field)
                    ));
                    if !force {
                        continue;
                    }
                }
                planned.line.fields.push(*field);
                planned.row.push(CredentialWrite {
                    field: *field,
                    value: value.map(str::to_string),
                    location: None,
                });
            }
        }
        Ok(None) => planned.fail("not in the registry any more".to_string()),
        Err(e) => planned.fail(format!("cannot read its row: {e}")),
    }
    if !planned.failed() && !force && !planned.conflicts.is_empty() {
        // Changed between the check and now: left alone.
        let first = planned.conflicts[0].clone();
        planned.fail(first);
    }
    if !planned.failed() && (!planned.line.names.is_empty() || !planned.line.fields.is_empty()) {
        planned.line.outcome = Outcome::Restored;
    }
    planned
}

fn restore_name(planned: &mut Planned, prior: &Prior, current: Option<Secret>) {
    match &prior.value {
        None => {
            if current.is_some() {
                planned.deletes.push(prior.name.clone());
                planned
                    .line
                    .names
                    .push((prior.name.clone(), NameChange::Delete));
            }
        }
        Some(value) => {
            if let Some(secret) = current {
                planned.known.insert(prior.name.clone(), secret);
            }
            planned
                .sets
                .push(NewSecret::new(prior.name.clone(), value.clone()));
            planned
                .line
                .names
                .push((prior.name.clone(), NameChange::Restore));
        }
    }
}

/// Applies a chunk's plans: the store first (every deletion in one call, every restored
/// value in another), then the rows (one transaction), then the marks. A call that fails is
/// retried one webhook at a time, so that one webhook never fails the others.
async fn apply(request: &Request<'_>, chunk: &mut [Planned]) {
    let path = request.path;
    let store = request.store.as_ref();
    let live = |p: &Planned| p.line.outcome == Outcome::Restored;

    let deletes: Vec<String> = chunk
        .iter()
        .filter(|p| live(p))
        .flat_map(|p| p.deletes.iter().cloned())
        .collect();
    if !deletes.is_empty() && store.delete_many(path, deletes).await.is_err() {
        for p in chunk
            .iter_mut()
            .filter(|p| live(p) && !p.deletes.is_empty())
        {
            if let Err(e) = store.delete_many(path, p.deletes.clone()).await {
                p.fail(format!("cannot delete from the store: {e}"));
            }
        }
    }

    let sets: Vec<NewSecret> = chunk
        .iter()
        .filter(|p| live(p))
        .flat_map(|p| p.sets.iter().cloned())
        .collect();
    if !sets.is_empty() {
        let known: HashMap<String, Secret> = chunk
            .iter()
            .filter(|p| live(p))
            .flat_map(|p| p.known.clone())
            .collect();
        if store.set_known(path, sets, known).await.is_err() {
            for p in chunk.iter_mut().filter(|p| live(p) && !p.sets.is_empty()) {
                if let Err(e) = store.set_known(path, p.sets.clone(), p.known.clone()).await {
                    p.fail(format!("cannot write the prior values: {e}"));
                }
            }
        }
    }

    let rows: Vec<(String, Vec<CredentialWrite>)> = chunk
        .iter()
        .filter(|p| live(p) && !p.row.is_empty())
        .map(|p| (p.line.code.clone(), p.row.clone()))
        .collect();
    if request.registry.write_credentials(&rows).await.is_err() {
        for p in chunk.iter_mut().filter(|p| live(p) && !p.row.is_empty()) {
            let one = [(p.line.code.clone(), p.row.clone())];
            if let Err(e) = request.registry.write_credentials(&one).await {
                p.fail(format!("cannot write its database credentials: {e}"));
            }
        }
    }

    let codes: Vec<String> = chunk
        .iter()
        .filter(|p| !p.failed())
        .map(|p| p.line.code.clone())
        .collect();
    if let Err(e) = request
        .registry
        .forget_migrations(request.store.name(), &codes)
        .await
    {
        for p in chunk.iter_mut().filter(|p| !p.failed()) {
            p.fail(format!("restored, but its migration record stays: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Direction;

    fn entry() -> Entry {
        Entry {
            code: "PAY".into(),
            direction: Direction::Out,
            credentials: vec![
                (Field::User, Some(SecretValue::new("u"))),
                (Field::Key, Some(SecretValue::new("k"))),
                (Field::Password, None),
                (Field::SigningSecret, None),
            ],
            store: vec![
                Prior {
                    field: Field::User,
                    name: "WEBHOOK_OUT_PAY_USER".into(),
                    value: None,
                    version: None,
                },
                Prior {
                    field: Field::Key,
                    name: "WEBHOOK_OUT_PAY_KEY".into(),
                    value: Some(SecretValue::new("old")),
                    version: Some(1),
                },
            ],
        }
    }

    fn secret(name: &str, value: &str) -> Option<Secret> {
        Some(Secret {
            name: name.into(),
            value: SecretValue::new(value),
            version: 2,
        })
    }

    fn row(user: Option<&str>, key: Option<&str>) -> Webhook {
        let mut w = Webhook::new("PAY", "https://x");
        w.user = user.map(str::to_string);
        w.key = key.map(str::to_string);
        w
    }

    #[test]
    fn what_the_migration_wrote_goes_back_to_what_was_there() {
        let now = vec![
            Ok(secret("WEBHOOK_OUT_PAY_USER", "u")),
            Ok(secret("WEBHOOK_OUT_PAY_KEY", "k")),
        ];
        let p = plan(false, entry(), now, Ok(Some(row(None, Some("")))));
        assert_eq!(p.line.outcome, Outcome::Restored);
        assert!(p.conflicts.is_empty());
        assert_eq!(p.deletes, ["WEBHOOK_OUT_PAY_USER"]);
        assert_eq!(p.sets.len(), 1);
        assert_eq!(p.sets[0].name, "WEBHOOK_OUT_PAY_KEY");
        assert_eq!(p.sets[0].value.expose(), "old");
        assert!(p.known.contains_key("WEBHOOK_OUT_PAY_KEY"));
        assert_eq!(p.line.fields, [Field::User, Field::Key]);
        assert!(p.row.iter().all(|w| w.location.is_none()));
        assert_eq!(p.line.text(), "[PAY] Restored",);
        let mut dry = p.line.clone();
        dry.outcome = Outcome::WouldRestore;
        assert_eq!(
            dry.text(),
            "[PAY] Would restore - delete WEBHOOK_OUT_PAY_USER (did not exist before), restore WEBHOOK_OUT_PAY_KEY (prior value), database credentials user,key"
        );
    }

    #[test]
    fn a_state_that_is_the_backups_already_is_nothing_to_restore() {
        let now = vec![Ok(None), Ok(secret("WEBHOOK_OUT_PAY_KEY", "old"))];
        let p = plan(false, entry(), now, Ok(Some(row(Some("u"), Some("k")))));
        assert_eq!(p.line.outcome, Outcome::Unchanged);
        assert!(p.deletes.is_empty() && p.sets.is_empty() && p.row.is_empty());
        assert_eq!(p.line.text(), "[PAY] Nothing to restore");
    }

    #[test]
    fn changes_made_since_are_conflicts_that_only_force_overrides() {
        // The key holds a third value; the row's user was changed.
        let now = || {
            vec![
                Ok(secret("WEBHOOK_OUT_PAY_USER", "u")),
                Ok(secret("WEBHOOK_OUT_PAY_KEY", "someone else")),
            ]
        };
        let p = plan(false, entry(), now(), Ok(Some(row(Some("new"), None))));
        assert_eq!(
            p.conflicts,
            [
                "WEBHOOK_OUT_PAY_KEY changed in the store since the migration",
                "database credential user changed since the backup",
            ]
        );
        assert!(p.failed());
        let forced = plan(true, entry(), now(), Ok(Some(row(Some("new"), None))));
        assert_eq!(forced.conflicts.len(), 2);
        assert_eq!(forced.line.outcome, Outcome::Restored);
        assert_eq!(forced.sets[0].value.expose(), "old");
        assert_eq!(forced.row[0].value.as_deref(), Some("u"));
        // A name deleted since is a change too.
        let gone = vec![Ok(secret("WEBHOOK_OUT_PAY_USER", "u")), Ok(None)];
        let p = plan(false, entry(), gone, Ok(Some(row(None, None))));
        assert_eq!(p.conflicts.len(), 1, "{:?}", p.conflicts);
    }

    #[test]
    fn a_row_gone_or_a_store_that_cannot_be_read_fails_the_webhook_alone() {
        let now = vec![Ok(None), Ok(None)];
        let p = plan(false, entry(), now, Ok(None));
        assert_eq!(
            p.line.outcome,
            Outcome::Failed("not in the registry any more".into())
        );
        let now = vec![
            Err(StoreError::Unavailable {
                message: "down".into(),
            }),
            Ok(None),
        ];
        let p = plan(false, entry(), now, Ok(Some(row(None, None))));
        assert!(p.failed());
        assert!(p.line.text().contains("cannot read WEBHOOK_OUT_PAY_USER"));
    }

    /// A sealed backup of `n` webhooks `W00000`, `W00001`, …
    fn sealed(dir: &Path, n: usize) -> PathBuf {
        use sha2::{Digest, Sha256};
        let entries: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"code":"W{i:05}","direction":"OUT","credentials":{{"user":null,"key":"k","password":null,"signing-secret":null}},"store":[]}}"#
                )
            })
            .collect();
        let body = format!(
            "{{\"format\": \"hookplan-backup\", \"version\": 1, \"registry_id\": \"r\", \"database\": \"registry\", \"store\": \"local\", \"path\": \"/webhooks\", \"selection\": \"all\", \"direction\": \"ALL\", \"created_at\": \"2026-02-08T14:30:00Z\", \"webhooks\": [{}], \"count\": {n}",
            entries.join(",\n")
        );
        let sum = hex::encode(Sha256::digest(body.as_bytes()));
        let path = dir.join("backup_ALL_2026-02-08_143000.json");
        std::fs::write(
            &path,
            format!("{body},\n  \"checksum\": \"sha256:{sum}\"\n}}\n"),
        )
        .unwrap();
        path
    }

    #[tokio::test]
    async fn a_large_backup_arrives_a_chunk_at_a_time_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = sealed(dir.path(), 2 * CHUNK + 7);
        assert_eq!(header(&path, false).unwrap().registry_id, "r");
        for verified in [true, false] {
            let mut reader = Reader::open(&path, verified);
            let mut sizes = Vec::new();
            let mut codes = Vec::new();
            while let Some(chunk) = reader.next().await {
                sizes.push(chunk.len());
                codes.extend(chunk.into_iter().map(|e| e.code));
            }
            reader.finish().await.unwrap();
            assert_eq!(sizes, [CHUNK, CHUNK, 7]);
            assert_eq!(codes.first().map(String::as_str), Some("W00000"));
            assert!(codes.windows(2).all(|w| w[0] < w[1]));
        }
        // One byte changed: the verified read fails before any chunk, the other reads on.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"all\"", "\"alL\"", 1)).unwrap();
        let mut reader = Reader::open(&path, true);
        assert!(reader.next().await.is_none());
        assert!(reader.finish().await.unwrap_err().is_corrupt());
        assert!(header(&path, true).is_ok());
    }

    #[test]
    fn a_refusal_names_each_problem_and_counts_the_rest() {
        let mut soft = Problems::default();
        for i in 0..SHOWN_PROBLEMS + 3 {
            soft.push(format!("[W{i}] X changed in the store since the migration"));
        }
        let e = refused(Problems::default(), soft);
        let RollbackError::Refused {
            problems,
            more,
            forcible,
        } = &e
        else {
            panic!("{e}");
        };
        assert_eq!(
            (problems.len(), *more, *forcible),
            (SHOWN_PROBLEMS, 3, true)
        );
        assert!(e.to_string().starts_with("refused: [W0] X changed"));
        assert!(e.to_string().ends_with("; and 3 more"));
    }

    #[test]
    fn a_bare_name_is_looked_up_in_the_backups_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            locate("backup_OUT_2026-02-08_143000.json", dir.path()),
            dir.path().join("backups/backup_OUT_2026-02-08_143000.json")
        );
        assert_eq!(locate("./b.json", dir.path()), PathBuf::from("./b.json"));
        assert_eq!(
            locate("/tmp/b.json", dir.path()),
            PathBuf::from("/tmp/b.json")
        );
    }
}
