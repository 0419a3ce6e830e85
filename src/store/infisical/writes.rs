//! Writes and deletes. Each one reads first, so that it sends only what is missing or
//! different, and a write whose answer was lost is handled the same way: read back, then send
//! what is still missing or different — never the same request again blindly, so a lost answer
//! can never make a second version.
//!
//! Comparisons are exact: hookplan refuses values Infisical would alter (`values`), so what it
//! wrote reads back byte for byte.
//!
//! - one secret (`set`): get, then `POST` (create) or `PATCH` (update) of that name;
//! - several (`set_many`): list, then on v4 one `PATCH …/batch` with `mode: upsert`; on v3 a
//!   batch create of the missing names and a batch update of the rest;
//! - a 404 to a write means its folder is missing: each level is created (`POST /api/v1/folders`)
//!   and the write repeated, once;
//! - a 400 to a create may mean someone created the name meanwhile: read again and repeat, once;
//! - `{"approval": …}` is [`StoreError::PendingApproval`], never a success.

use std::collections::{HashMap, HashSet};

use super::answers::Reply;
use super::routes::{self, Api, Mode};
use super::transport::Sent;
use super::{InfisicalStore, Mask, check_name, infisical_would_alter};
use crate::retry::{AttemptOutcome, Decision, decide};
use crate::store::{NewSecret, Secret, StoreError, Written, normalize_path};

/// Names per batch request: requests and answers stay small whatever the write's size, and a
/// write of thousands stays far under Infisical Cloud's rate limit.
pub const BATCH: usize = 100;

/// How a write reads what the store holds: before it, when the caller does not know, and
/// after a lost answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// One secret, with the one-secret endpoints.
    One,
    /// The folder's list, with the batch endpoints.
    Folder,
    /// Each name of the batch on its own, with the batch endpoints: what a caller that knows
    /// the store's state (a migration, whose backup has just read every name) uses, so that a
    /// write costs nothing that grows with the folder.
    Names,
}

/// Reads of single names in flight at once when a batch is read back name by name.
const CONCURRENT_READS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Create,
    Update,
}

/// What one round of sending changes came to.
enum Round {
    /// Applied: the versions the server answered, by name.
    Done(HashMap<String, u64>),
    /// Accepted for review, not applied.
    Pending(Vec<String>),
    /// The answer was lost: read back before anything else.
    Lost(AttemptOutcome, String),
    /// 404: the folder is missing (or a name vanished meanwhile).
    Missing(Reply),
    /// 400 (to a create: the name may exist by now).
    Refused(Reply),
}

/// The changes that make `current` hold `desired`, in the order given.
fn diff<'a>(
    desired: &'a [NewSecret],
    current: &HashMap<String, Secret>,
) -> Vec<(&'a NewSecret, Change)> {
    desired
        .iter()
        .filter_map(|secret| match current.get(&secret.name) {
            None => Some((secret, Change::Create)),
            Some(held) if held.value != secret.value => Some((secret, Change::Update)),
            Some(_) => None,
        })
        .collect()
}

/// Refuses, before anything is sent, what Infisical could not hold as given. Names the secret,
/// never the value.
fn refuse(secrets: &[NewSecret]) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for secret in secrets {
        check_name(&secret.name)?;
        if !seen.insert(secret.name.as_str()) {
            return Err(StoreError::Invalid {
                message: format!("{} is given twice in one write", secret.name),
            });
        }
        if let Some(reason) = infisical_would_alter(secret.value.expose()) {
            return Err(StoreError::Invalid {
                message: format!("{} is not written: {reason}", secret.name),
            });
        }
    }
    Ok(())
}

impl InfisicalStore {
    /// Creates or updates `secrets` in `path`, read as `reading` says; `known` is what the
    /// caller knows the store holds of their names (then nothing is read first).
    ///
    /// Many secrets go in batches of [`BATCH`], all compared against one read of the folder
    /// (kept up to date with what each batch answered), so a write of N names costs one list
    /// and N / BATCH batches, and no request or answer grows with N. A batch that is pending
    /// approval does not stop the others; all pending names are reported at the end.
    pub(super) async fn write(
        &self,
        path: &str,
        secrets: Vec<NewSecret>,
        reading: Reading,
        known: Option<HashMap<String, Secret>>,
    ) -> Result<Vec<Written>, StoreError> {
        let path = normalize_path(path);
        refuse(&secrets)?;
        if secrets.is_empty() {
            return Ok(Vec::new());
        }
        let api = self.api(&path, &mut None).await?;
        let mask = self.mask(secrets.iter().map(|s| &s.value));
        let mut current = match known {
            Some(known) => known,
            None => {
                self.read_current(api, &path, &secrets, reading, &mask)
                    .await?
            }
        };
        let mut pending = Vec::new();
        for batch in secrets.chunks(BATCH) {
            let mask = self.mask(batch.iter().map(|s| &s.value));
            if let Some(names) = self
                .write_batch(api, &path, batch, reading, &mut current, &mask)
                .await?
            {
                pending.extend(names);
            }
        }
        if !pending.is_empty() {
            return Err(StoreError::PendingApproval { names: pending });
        }
        Ok(written(&secrets, &HashMap::new(), &current))
    }

    /// Makes `current` hold one batch: sends what differs, and reads back after a lost answer
    /// (then sends only what is still missing or different). `Some(names)`: pending approval.
    async fn write_batch(
        &self,
        api: Api,
        path: &str,
        secrets: &[NewSecret],
        reading: Reading,
        current: &mut HashMap<String, Secret>,
        mask: &Mask<'_>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let what = format!("write of {} in {path}", names_of(secrets));
        let mut lost = 0u32;
        let mut previous = None;
        let mut folders_made = false;
        let mut refusals = 0;
        loop {
            let changes = diff(secrets, current);
            if changes.is_empty() {
                return Ok(None);
            }
            let round = self
                .send_changes(api, path, &changes, reading == Reading::One, mask)
                .await?;
            match round {
                Round::Done(versions) => {
                    let complete = changes.iter().all(|(s, _)| versions.contains_key(&s.name));
                    if complete {
                        for (secret, _) in &changes {
                            let version = versions[&secret.name];
                            current.insert(
                                secret.name.clone(),
                                Secret {
                                    name: secret.name.clone(),
                                    value: secret.value.clone(),
                                    version,
                                },
                            );
                        }
                    } else {
                        *current = self.read_current(api, path, secrets, reading, mask).await?;
                    }
                    return Ok(None);
                }
                Round::Pending(names) => return Ok(Some(names)),
                Round::Lost(outcome, text) => {
                    if !self
                        .back_off_after_loss(&outcome, &mut lost, &mut previous)
                        .await
                    {
                        return Err(mask.unavailable(
                            &what,
                            &format!("{text}; read it back before writing again"),
                        ));
                    }
                    *current = self.read_current(api, path, secrets, reading, mask).await?;
                }
                Round::Missing(_) if !folders_made => {
                    // A 404 may also be a name deleted meanwhile: read again after.
                    self.make_folders(path, mask).await?;
                    folders_made = true;
                    *current = self.read_current(api, path, secrets, reading, mask).await?;
                }
                Round::Missing(reply) => return Err(mask.error(&reply, &what)),
                Round::Refused(_) if refusals == 0 => {
                    refusals += 1;
                    *current = self.read_current(api, path, secrets, reading, mask).await?;
                }
                Round::Refused(reply) => return Err(mask.error(&reply, &what)),
            }
        }
    }

    /// After a lost answer: waits as the store's retry policy says before reading back, and
    /// counts the loss; `false` when the policy gives up.
    async fn back_off_after_loss(
        &self,
        outcome: &AttemptOutcome,
        lost: &mut u32,
        previous: &mut Option<std::time::Duration>,
    ) -> bool {
        if decide(&self.config.retry, outcome, *lost) != Decision::Retry {
            return false;
        }
        *lost += 1;
        let wait = self.backoff().wait(*lost, *previous, None);
        tracing::warn!(
            store = %self.config.name,
            "an answer was lost ({}): reading back in {}",
            outcome.class(),
            crate::retry::wording::seconds(wait.delay)
        );
        self.wait(wait.delay).await;
        *previous = Some(wait.delay);
        true
    }

    /// What the store holds now of `secrets`' names: one get, the folder's list, or a get of
    /// each name.
    async fn read_current(
        &self,
        api: Api,
        path: &str,
        secrets: &[NewSecret],
        reading: Reading,
        mask: &Mask<'_>,
    ) -> Result<HashMap<String, Secret>, StoreError> {
        match reading {
            Reading::Names => self.read_names(api, path, secrets, mask).await,
            Reading::One => self.read_direct(api, path, secrets, true, mask).await,
            Reading::Folder => self.read_direct(api, path, secrets, false, mask).await,
        }
    }

    /// One get of the first of `secrets` (`single`), or the folder's list.
    async fn read_direct(
        &self,
        api: Api,
        path: &str,
        secrets: &[NewSecret],
        single: bool,
        mask: &Mask<'_>,
    ) -> Result<HashMap<String, Secret>, StoreError> {
        let (route, what) = if single {
            let name = &secrets[0].name;
            (
                routes::get(api, self.place(path), name),
                format!("read of {name} in {path}"),
            )
        } else {
            (
                routes::list(api, self.place(path)),
                format!("list of {path}"),
            )
        };
        let reply = match self.call(&route, true).await? {
            Sent::Answered(reply) => reply,
            Sent::Lost { text, .. } => return Err(mask.unavailable(&what, &text)),
        };
        if reply.status == 404 {
            return Ok(HashMap::new());
        }
        if !reply.is_success() {
            return Err(mask.error(&reply, &what));
        }
        let held = if single {
            reply.secret().map(|s| vec![s])
        } else {
            reply.secrets()
        };
        self.remember(held.iter().flatten().map(|s| &s.value));
        let held = held.ok_or_else(|| StoreError::Unavailable {
            message: mask.text(&format!("{what} answered {} without secrets", reply.status)),
        })?;
        Ok(held.into_iter().map(|s| (s.name.clone(), s)).collect())
    }

    /// What the store holds of each of `secrets`' names, read one by one, in groups of
    /// [`CONCURRENT_READS`].
    async fn read_names(
        &self,
        api: Api,
        path: &str,
        secrets: &[NewSecret],
        mask: &Mask<'_>,
    ) -> Result<HashMap<String, Secret>, StoreError> {
        let mut held = HashMap::new();
        for group in secrets.chunks(CONCURRENT_READS) {
            // A plain loop, not a stream combinator: the future stays `Send` for any lifetime.
            let mut reads = Vec::with_capacity(group.len());
            for secret in group {
                reads.push(self.read_direct(api, path, std::slice::from_ref(secret), true, mask));
            }
            for got in futures_util::future::try_join_all(reads).await? {
                held.extend(got);
            }
        }
        Ok(held)
    }

    /// Sends `changes`: one call for a single secret or on v4, two batches on v3.
    async fn send_changes(
        &self,
        api: Api,
        path: &str,
        changes: &[(&NewSecret, Change)],
        single: bool,
        mask: &Mask<'_>,
    ) -> Result<Round, StoreError> {
        let at = self.place(path);
        let pairs = |change: Option<Change>| -> Vec<(&str, &crate::store::SecretValue)> {
            changes
                .iter()
                .filter(|(_, c)| change.is_none_or(|wanted| *c == wanted))
                .map(|(s, _)| (s.name.as_str(), &s.value))
                .collect()
        };
        let calls: Vec<(routes::Route, Vec<&str>, bool)> = if single {
            let (secret, change) = changes[0];
            let route = match change {
                Change::Create => routes::create(api, at, &secret.name, &secret.value),
                Change::Update => routes::update(api, at, &secret.name, &secret.value),
            };
            vec![(route, vec![secret.name.as_str()], change == Change::Create)]
        } else if api == Api::V4 {
            let all = pairs(None);
            let names = all.iter().map(|(n, _)| *n).collect();
            let creates = changes.iter().any(|(_, c)| *c == Change::Create);
            vec![(
                routes::batch_update(api, at, &all, Mode::Upsert),
                names,
                creates,
            )]
        } else {
            let mut calls = Vec::new();
            for change in [Change::Create, Change::Update] {
                let some = pairs(Some(change));
                if some.is_empty() {
                    continue;
                }
                let names = some.iter().map(|(n, _)| *n).collect();
                let route = match change {
                    Change::Create => routes::batch_create(api, at, &some),
                    Change::Update => routes::batch_update(api, at, &some, Mode::FailOnNotFound),
                };
                calls.push((route, names, change == Change::Create));
            }
            calls
        };
        let what = format!("write in {path}");
        let mut versions = HashMap::new();
        let mut pending = Vec::new();
        for (route, names, creates) in calls {
            let reply = match self.call(&route, false).await? {
                Sent::Answered(reply) => reply,
                Sent::Lost { outcome, text } => return Ok(Round::Lost(outcome, text)),
            };
            match reply.status {
                200..=299 if reply.is_approval() => {
                    pending.extend(names.iter().map(|n| n.to_string()));
                }
                200..=299 => {
                    let answered = reply
                        .secrets()
                        .or_else(|| reply.secret().map(|s| vec![s]))
                        .unwrap_or_default();
                    versions.extend(answered.into_iter().map(|s| (s.name, s.version)));
                }
                404 => return Ok(Round::Missing(reply)),
                400 if creates => return Ok(Round::Refused(reply)),
                _ => return Err(mask.error(&reply, &what)),
            }
        }
        if pending.is_empty() {
            Ok(Round::Done(versions))
        } else {
            Ok(Round::Pending(pending))
        }
    }

    /// Creates each level of `path`, top down. A level that exists already answers 400: that
    /// is fine, the next level goes on.
    async fn make_folders(&self, path: &str, mask: &Mask<'_>) -> Result<(), StoreError> {
        for (parent, name) in routes::folder_levels(path) {
            let route = routes::create_folder(
                &self.config.project,
                &self.config.environment,
                &parent,
                &name,
            );
            let what = format!("creation of the folder {name} in {parent}");
            match self.call(&route, true).await? {
                Sent::Answered(reply) if reply.is_success() => {
                    tracing::info!(store = %self.config.name, "created the folder {name} in {parent}");
                }
                Sent::Answered(reply) if matches!(reply.status, 400 | 409) => {}
                Sent::Answered(reply) => return Err(mask.error(&reply, &what)),
                Sent::Lost { text, .. } => return Err(mask.unavailable(&what, &text)),
            }
        }
        Ok(())
    }

    /// Deletes one secret. After a lost answer it reads back: gone is done.
    pub(super) async fn delete_one(&self, path: &str, name: &str) -> Result<(), StoreError> {
        let path = normalize_path(path);
        check_name(name)?;
        let mask = self.mask([]);
        let what = format!("deletion of {name} in {path}");
        let api = self.api(&path, &mut None).await?;
        let mut lost = 0u32;
        let mut previous = None;
        loop {
            match self
                .call(&routes::delete(api, self.place(&path), name), false)
                .await?
            {
                Sent::Answered(reply) if reply.is_success() && reply.is_approval() => {
                    return Err(StoreError::PendingApproval {
                        names: vec![name.to_string()],
                    });
                }
                Sent::Answered(reply) if reply.is_success() => return Ok(()),
                // Gone: by this call's lost attempt, or before it.
                Sent::Answered(reply) if reply.status == 404 && lost > 0 => return Ok(()),
                Sent::Answered(reply) => return Err(mask.error(&reply, &what)),
                Sent::Lost { outcome, text } => {
                    if !self
                        .back_off_after_loss(&outcome, &mut lost, &mut previous)
                        .await
                    {
                        return Err(mask.unavailable(&what, &text));
                    }
                    let probe = NewSecret::new(name, "");
                    let held = self
                        .read_current(
                            api,
                            &path,
                            std::slice::from_ref(&probe),
                            Reading::One,
                            &mask,
                        )
                        .await?;
                    if !held.contains_key(name) {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Deletes every name of `names` the folder holds, in one batch (all or nothing); names it
    /// does not hold are skipped.
    pub(super) async fn delete_names(
        &self,
        path: &str,
        names: Vec<String>,
    ) -> Result<(), StoreError> {
        let path = normalize_path(path);
        for name in &names {
            check_name(name)?;
        }
        let mask = self.mask([]);
        let what = format!("deletion in {path}");
        let api = self.api(&path, &mut None).await?;
        let wanted: Vec<NewSecret> = names
            .iter()
            .map(|n| NewSecret::new(n.as_str(), ""))
            .collect();
        let mut lost = 0u32;
        let mut previous = None;
        let mut vanished = 0;
        loop {
            let held = self
                .read_current(api, &path, &wanted, Reading::Folder, &mask)
                .await?;
            let present: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| held.contains_key(*n))
                .collect();
            if present.is_empty() {
                return Ok(());
            }
            match self
                .call(
                    &routes::batch_delete(api, self.place(&path), &present),
                    false,
                )
                .await?
            {
                Sent::Answered(reply) if reply.is_success() && reply.is_approval() => {
                    return Err(StoreError::PendingApproval {
                        names: present.iter().map(|n| n.to_string()).collect(),
                    });
                }
                Sent::Answered(reply) if reply.is_success() => return Ok(()),
                // All or nothing: a name deleted meanwhile fails the batch; read again, once.
                Sent::Answered(reply) if reply.status == 404 && vanished == 0 => vanished += 1,
                Sent::Answered(reply) => return Err(mask.error(&reply, &what)),
                Sent::Lost { outcome, text } => {
                    if !self
                        .back_off_after_loss(&outcome, &mut lost, &mut previous)
                        .await
                    {
                        return Err(mask.unavailable(&what, &text));
                    }
                }
            }
        }
    }
}

/// `A, B and C` (at most five names, then a count).
fn names_of(secrets: &[NewSecret]) -> String {
    let names: Vec<&str> = secrets.iter().map(|s| s.name.as_str()).take(5).collect();
    let mut text = names.join(", ");
    if secrets.len() > names.len() {
        text.push_str(&format!(" and {} more", secrets.len() - names.len()));
    }
    text
}

/// The answer of a write: each name with the version the server answered, else the version it
/// already held.
fn written(
    secrets: &[NewSecret],
    versions: &HashMap<String, u64>,
    current: &HashMap<String, Secret>,
) -> Vec<Written> {
    secrets
        .iter()
        .map(|s| Written {
            name: s.name.clone(),
            version: versions
                .get(&s.name)
                .copied()
                .or_else(|| current.get(&s.name).map(|held| held.version))
                .unwrap_or(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SecretValue;

    fn held(name: &str, value: &str, version: u64) -> (String, Secret) {
        (
            name.to_string(),
            Secret {
                name: name.into(),
                value: SecretValue::new(value),
                version,
            },
        )
    }

    #[test]
    fn only_what_is_missing_or_different_is_sent() {
        let desired = vec![
            NewSecret::new("A", "1"),
            NewSecret::new("B", "2"),
            NewSecret::new("C", "3"),
        ];
        let current: HashMap<_, _> = [held("A", "1", 4), held("B", "old", 2)]
            .into_iter()
            .collect();
        let changes: Vec<(&str, Change)> = diff(&desired, &current)
            .into_iter()
            .map(|(s, c)| (s.name.as_str(), c))
            .collect();
        assert_eq!(changes, [("B", Change::Update), ("C", Change::Create)]);
        let versions: HashMap<_, _> = [("B".to_string(), 3), ("C".to_string(), 1)]
            .into_iter()
            .collect();
        let answer = written(&desired, &versions, &current);
        assert_eq!(
            answer.iter().map(|w| w.version).collect::<Vec<_>>(),
            [4, 3, 1]
        );
    }

    #[test]
    fn values_are_compared_exactly() {
        let desired = vec![NewSecret::new("A", "value\n")];
        let current: HashMap<_, _> = [held("A", "value", 1)].into_iter().collect();
        assert_eq!(diff(&desired, &current).len(), 1);
    }

    #[test]
    fn refusals_name_the_secret_and_never_the_value() {
        let error = refuse(&[NewSecret::new("WEBHOOK_OUT_X_KEY", " padded-canary ")]).unwrap_err();
        assert_eq!(error.class(), "invalid");
        let text = error.to_string();
        assert!(text.contains("WEBHOOK_OUT_X_KEY"), "{text}");
        assert!(!text.contains("padded-canary"), "{text}");
        assert!(refuse(&[NewSecret::new("A", "")]).is_err());
        assert!(refuse(&[NewSecret::new("A", "1"), NewSecret::new("A", "2")]).is_err());
        assert!(refuse(&[NewSecret::new("A", "1\n")]).is_ok());
    }

    #[test]
    fn long_name_lists_are_cut() {
        let secrets: Vec<_> = (0..7)
            .map(|i| NewSecret::new(format!("N{i}"), "v"))
            .collect();
        assert_eq!(names_of(&secrets), "N0, N1, N2, N3, N4 and 2 more");
    }
}
