//! Backups of a selection, written before a migration changes anything, and read back (their
//! checksum verified first) by `list-backups` and `rollback`.
//!
//! # The file
//!
//! `STATE_DIR/backups/backup_{DIR}_{YYYY-MM-DD_HHMMSS}.json`, the time in UTC; `DIR` is the
//! selection's direction (`OUT`, `IN`), the webhook's own direction for `--webhook CODE`, and
//! `ALL` when the selection covers every direction. A name that exists already is never
//! replaced: the backup becomes `…-2.json`, `…-3.json`. The file is 0600, its folder 0700
//! when hookplan creates it.
//!
//! It is one JSON object (schema: `schemas/backup.schema.json`) whose members come in this
//! order: `format` (`"hookplan-backup"`), `version` (1), `registry_id`, `database`, `store`,
//! `path`, `selection`, `direction`, `created_at`, `webhooks` (one object per line: the
//! webhook's `code`, `direction`, its row's `credentials` and, in `store`, each target name
//! with the value it held before — `prior`, `null` when absent), `count`, and last `checksum`.
//!
//! # The checksum
//!
//! The file always ends with exactly `,\n  "checksum": "sha256:` + 64 lowercase hex digits +
//! `"\n}\n`. The checksum is the SHA-256 of every byte of the file before that trailer (from
//! the opening `{` up to and including the closing `]`'s line and the `"count": N` member,
//! without the `,` that starts the trailer). To verify one by hand:
//! `head -c -92 FILE | sha256sum` (the trailer is 24 + 64 + 4 bytes). It detects corruption, not tampering: the
//! backup is not signed.

use super::selection::{CREDENTIAL_FIELDS, Selection, Target, targets};
use crate::atomic_write;
use crate::model::StoreDecl;
use crate::registry::{Direction, Field, Registry, RegistryError, Webhook};
use crate::store::{SecretStore, SecretValue, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// The `format` member of every backup.
pub const FORMAT: &str = "hookplan-backup";
/// The format version this hookplan writes and reads.
pub const VERSION: u32 = 1;
/// Rows read from the registry at a time.
const PAGE: usize = 500;
/// Store reads in flight at once.
const CONCURRENT_READS: usize = 16;
const TRAILER_HEAD: &[u8] = b",\n  \"checksum\": \"sha256:";
const TRAILER_TAIL: &[u8] = b"\"\n}\n";
const TRAILER_LEN: usize = TRAILER_HEAD.len() + 64 + TRAILER_TAIL.len();

/// The folder of a state directory's backups.
pub fn folder(state_dir: &Path) -> PathBuf {
    state_dir.join("backups")
}

/// What can go wrong with a backup, in one line, never with a value in it.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot write the backup into {folder}: {reason}")]
    Write { folder: String, reason: String },
    #[error(transparent)]
    Registry(Box<RegistryError>),
    #[error("secret store \"{store}\": cannot read \"{name}\" for the backup: {reason}")]
    Store {
        store: String,
        name: String,
        reason: String,
    },
    #[error("cannot read backup {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("backup {path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("backup {path} is corrupt: its checksum does not match its contents")]
    Checksum { path: String },
    #[error("backup {path} has format version {version}; this hookplan reads version {VERSION}")]
    Version { path: String, version: u64 },
}

impl From<RegistryError> for BackupError {
    fn from(error: RegistryError) -> Self {
        Self::Registry(Box::new(error))
    }
}

impl BackupError {
    /// A checksum that fails or a file that is not a backup: what `rollback` refuses.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Self::Corrupt { .. } | Self::Checksum { .. })
    }
}

/// Everything about a backup but its webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u64,
    pub registry_id: String,
    /// The `database` node's name.
    pub database: String,
    /// The `secret-store` node's name, and the folder the target names live in.
    pub store: String,
    pub path: String,
    /// The selection in words (`direction=OUT pattern=STRIPE_*`).
    pub selection: String,
    /// `OUT`, `IN` or `ALL`, as in the file name.
    pub direction: String,
    /// RFC 3339, UTC, seconds.
    pub created_at: String,
}

/// One webhook as it was before the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub code: String,
    pub direction: Direction,
    /// The row's credentials, every field of [`CREDENTIAL_FIELDS`] (`None`: not set).
    pub credentials: Vec<(Field, Option<SecretValue>)>,
    /// Each target name and what the store held under it.
    pub store: Vec<Prior>,
}

/// A target name and the store's value under it before the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prior {
    pub field: Field,
    pub name: String,
    /// `None`: the store had no such name.
    pub value: Option<SecretValue>,
    pub version: Option<u64>,
}

/// A backup written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The file name (`backup_OUT_2026-02-08_143000.json`).
    pub file: String,
    pub path: PathBuf,
    pub direction: String,
    pub webhooks: usize,
    /// `sha256:` and 64 hex digits.
    pub checksum: String,
}

/// What a backup covers and where it goes.
pub struct Request<'a> {
    pub registry: &'a Registry,
    pub database: &'a str,
    pub store: std::sync::Arc<dyn SecretStore>,
    pub decl: &'a StoreDecl,
    /// The store's folder.
    pub path: &'a str,
    pub selection: &'a Selection,
    /// `STATE_DIR/backups`.
    pub folder: &'a Path,
    pub now: chrono::DateTime<chrono::Utc>,
}

// The file's shapes, values as plain strings (only the backup holds them).

#[derive(Serialize, Deserialize)]
struct EntryRepr {
    code: String,
    direction: String,
    credentials: CredentialsRepr,
    store: Vec<PriorRepr>,
}

#[derive(Serialize, Deserialize)]
struct CredentialsRepr {
    user: Option<String>,
    key: Option<String>,
    password: Option<String>,
    #[serde(rename = "signing-secret")]
    signing_secret: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct PriorRepr {
    field: String,
    name: String,
    prior: Option<PriorValue>,
}

#[derive(Serialize, Deserialize)]
struct PriorValue {
    value: String,
    version: u64,
}

#[derive(Deserialize)]
struct SummaryRepr {
    #[serde(flatten)]
    header: Header,
    #[allow(dead_code)]
    webhooks: serde::de::IgnoredAny,
    count: u64,
}

/// Hashes what it writes.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The backup being written: a temporary file in the backups folder.
struct Open {
    temp: tempfile::NamedTempFile,
    out: Hashing<BufWriter<File>>,
    direction: String,
    webhooks: usize,
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("a backup's values serialize")
}

/// Where [`scan`] puts the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A backup of every selected webhook.
    File,
    /// The same, kept only when `observe` found at least one webhook to change (a migration:
    /// a run that changes nothing writes no backup).
    FileIfChanging,
    /// Nothing on disk at all (a dry run).
    Nothing,
}

/// What [`scan`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// The backup written, if one was.
    pub made: Option<Made>,
    /// The selected webhooks.
    pub webhooks: usize,
    /// Those `observe` said would change.
    pub changing: usize,
}

/// Writes the backup of `request.selection`, reading the registry page by page. `None` when
/// the selection matches no webhook: then nothing is written (no folder, no file) and the
/// registry is not given an id. On any error nothing is left behind and the caller must not
/// change anything.
pub async fn write(request: &Request<'_>) -> Result<Option<Made>, BackupError> {
    Ok(scan(request, Output::File, |_| true).await?.made)
}

/// Reads every selected webhook and what the store holds under its target names, page by
/// page, hands each to `observe` (which answers whether it would change) and writes them to
/// the backup as `output` says. Holds one page at a time.
pub async fn scan(
    request: &Request<'_>,
    output: Output,
    mut observe: impl FnMut(&Entry) -> bool + Send,
) -> Result<Scanned, BackupError> {
    let mut writer = Writer {
        open: None,
        reads: 0,
        output,
        webhooks: 0,
        changing: 0,
        observe: &mut observe,
    };
    if let Some(code) = &request.selection.webhook {
        if let Some(webhook) = request.registry.get(code).await? {
            writer.page(request, &[&webhook]).await?;
        }
    } else {
        let mut after: Option<String> = None;
        loop {
            let page = request.registry.page(after.as_deref(), PAGE).await?;
            let matched: Vec<&Webhook> = page
                .iter()
                .filter(|w| request.selection.matches(w))
                .collect();
            writer.page(request, &matched).await?;
            if page.len() < PAGE {
                break;
            }
            after = page.last().map(|w| w.code.clone());
        }
    }
    let (webhooks, changing) = (writer.webhooks, writer.changing);
    let made = match writer.open {
        // Dropping the temporary file removes it.
        Some(_) if output == Output::FileIfChanging && changing == 0 => None,
        Some(open) => Some(finish(request, open)?),
        None => None,
    };
    Ok(Scanned {
        made,
        webhooks,
        changing,
    })
}

/// The backup being written, and how many store reads it made.
struct Writer<'o> {
    open: Option<Open>,
    reads: usize,
    output: Output,
    webhooks: usize,
    changing: usize,
    observe: &'o mut (dyn FnMut(&Entry) -> bool + Send),
}

impl Writer<'_> {
    /// Adds a page's webhooks: the store's values under their target names first (read
    /// [`CONCURRENT_READS`] at a time, the very first alone so that a store logs in once),
    /// then one line each. A store that cannot be read leaves no file behind.
    async fn page(
        &mut self,
        request: &Request<'_>,
        webhooks: &[&Webhook],
    ) -> Result<(), BackupError> {
        if webhooks.is_empty() {
            return Ok(());
        }
        let names: Vec<Vec<Target>> = webhooks.iter().map(|w| targets(request.decl, w)).collect();
        let flat: Vec<&Target> = names.iter().flatten().collect();
        let mut found: Vec<Option<PriorValue>> = (0..flat.len()).map(|_| None).collect();
        let mut reads = tokio::task::JoinSet::new();
        let mut next = 0;
        while next < flat.len() || !reads.is_empty() {
            let limit = if self.reads == 0 { 1 } else { CONCURRENT_READS };
            while next < flat.len() && reads.len() < limit {
                let store = request.store.clone();
                let path = request.path.to_string();
                let name = flat[next].name.clone();
                let index = next;
                reads.spawn(async move { (index, store.get(&path, &name).await) });
                next += 1;
            }
            let Some(done) = reads.join_next().await else {
                break;
            };
            self.reads += 1;
            let (index, result) = done.map_err(|e| BackupError::Store {
                store: request.store.name().to_string(),
                name: String::new(),
                reason: format!("a read stopped: {e}"),
            })?;
            match result {
                Ok(secret) => {
                    found[index] = Some(PriorValue {
                        value: secret.value.into_inner(),
                        version: secret.version,
                    });
                }
                Err(e) if e.is_not_found() => {}
                // A name the store refuses as it stands (Infisical: a space in it) cannot
                // hold a value: it is absent, and writing it fails that webhook alone.
                Err(StoreError::Invalid { .. }) => {}
                // Dropping `reads` cancels the others.
                Err(e) => {
                    return Err(BackupError::Store {
                        store: request.store.name().to_string(),
                        name: flat[index].name.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        let mut found = found.into_iter();
        for (webhook, targets) in webhooks.iter().zip(names) {
            let store = targets
                .into_iter()
                .map(|t| PriorRepr {
                    field: t.field.name().to_string(),
                    name: t.name,
                    prior: found.next().flatten(),
                })
                .collect();
            self.add(request, webhook, store).await?;
        }
        Ok(())
    }

    async fn add(
        &mut self,
        request: &Request<'_>,
        webhook: &Webhook,
        store: Vec<PriorRepr>,
    ) -> Result<(), BackupError> {
        let direction = webhook.direction.unwrap_or(Direction::Out);
        let observed = Entry {
            code: webhook.code.clone(),
            direction,
            credentials: CREDENTIAL_FIELDS
                .iter()
                .map(|f| (*f, webhook_value(webhook, *f).map(SecretValue::new)))
                .collect(),
            store: store
                .iter()
                .filter_map(|p| {
                    Some(Prior {
                        field: Field::parse(&p.field)?,
                        name: p.name.clone(),
                        value: p.prior.as_ref().map(|v| SecretValue::new(v.value.clone())),
                        version: p.prior.as_ref().map(|v| v.version),
                    })
                })
                .collect(),
        };
        self.webhooks += 1;
        if (self.observe)(&observed) {
            self.changing += 1;
        }
        if self.output == Output::Nothing {
            return Ok(());
        }
        if self.open.is_none() {
            self.open = Some(start(request, direction).await?);
        }
        let open = self.open.as_mut().expect("opened above");
        let entry = EntryRepr {
            code: webhook.code.clone(),
            direction: direction.to_string(),
            credentials: CredentialsRepr {
                user: webhook.user.clone(),
                key: webhook.key.clone(),
                password: webhook.password.clone(),
                signing_secret: webhook.signing_secret.clone(),
            },
            store,
        };
        let separator = if open.webhooks == 0 { "\n" } else { ",\n" };
        write!(open.out, "{separator}    {}", json(&entry))
            .map_err(|e| write_error(request, &e))?;
        open.webhooks += 1;
        Ok(())
    }
}

/// A credential of a row, by field.
fn webhook_value(webhook: &Webhook, field: Field) -> Option<String> {
    match field {
        Field::User => webhook.user.clone(),
        Field::Key => webhook.key.clone(),
        Field::Password => webhook.password.clone(),
        Field::SigningSecret => webhook.signing_secret.clone(),
        _ => None,
    }
}

fn write_error(request: &Request<'_>, e: &io::Error) -> BackupError {
    BackupError::Write {
        folder: request.folder.display().to_string(),
        reason: crate::io_error::describe(e),
    }
}

async fn start(request: &Request<'_>, first: Direction) -> Result<Open, BackupError> {
    let direction = match (&request.selection.webhook, request.selection.direction) {
        (Some(_), _) => first.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "ALL".to_string(),
    };
    let registry_id = request.registry.ensure_registry_id().await?;
    let header = Header {
        format: FORMAT.to_string(),
        version: u64::from(VERSION),
        registry_id,
        database: request.database.to_string(),
        store: request.store.name().to_string(),
        path: request.path.to_string(),
        selection: request.selection.describe(),
        direction: direction.clone(),
        created_at: request
            .now
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let fail = |e: io::Error| write_error(request, &e);
    atomic_write::private_dir(request.folder).map_err(fail)?;
    let temp = atomic_write::private_temp(request.folder, ".backup_").map_err(fail)?;
    let file = temp.as_file().try_clone().map_err(fail)?;
    let mut out = Hashing {
        inner: BufWriter::new(file),
        hasher: Sha256::new(),
    };
    let members = [
        ("format", json(&header.format)),
        ("version", json(&header.version)),
        ("registry_id", json(&header.registry_id)),
        ("database", json(&header.database)),
        ("store", json(&header.store)),
        ("path", json(&header.path)),
        ("selection", json(&header.selection)),
        ("direction", json(&header.direction)),
        ("created_at", json(&header.created_at)),
    ];
    out.write_all(b"{\n").map_err(fail)?;
    for (name, value) in members {
        writeln!(out, "  \"{name}\": {value},").map_err(fail)?;
    }
    out.write_all(b"  \"webhooks\": [").map_err(fail)?;
    Ok(Open {
        temp,
        out,
        direction,
        webhooks: 0,
    })
}

fn finish(request: &Request<'_>, open: Open) -> Result<Made, BackupError> {
    let fail = |e: io::Error| write_error(request, &e);
    let Open {
        temp,
        mut out,
        direction,
        webhooks,
    } = open;
    write!(out, "\n  ],\n  \"count\": {webhooks}").map_err(fail)?;
    let checksum = hex::encode(out.hasher.clone().finalize());
    let mut inner = out.inner;
    inner.write_all(TRAILER_HEAD).map_err(fail)?;
    inner.write_all(checksum.as_bytes()).map_err(fail)?;
    inner.write_all(TRAILER_TAIL).map_err(fail)?;
    inner
        .into_inner()
        .map_err(|e| fail(e.into_error()))?
        .sync_all()
        .map_err(fail)?;
    let stem = format!(
        "backup_{direction}_{}",
        request.now.format("%Y-%m-%d_%H%M%S")
    );
    let file = atomic_write::persist_new(temp, request.folder, &stem, "json").map_err(fail)?;
    Ok(Made {
        path: request.folder.join(&file),
        file,
        direction,
        webhooks,
        checksum: format!("sha256:{checksum}"),
    })
}

fn read_error(path: &Path, e: &io::Error) -> BackupError {
    BackupError::Read {
        path: path.display().to_string(),
        reason: crate::io_error::describe(e),
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> BackupError {
    BackupError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Checks a backup's checksum, reading it once without holding it; answers the checksum
/// (`sha256:…`).
pub fn verify(path: &Path) -> Result<String, BackupError> {
    let mut file = File::open(path).map_err(|e| read_error(path, &e))?;
    let len = file.metadata().map_err(|e| read_error(path, &e))?.len();
    let Some(body) = len.checked_sub(TRAILER_LEN as u64) else {
        return Err(corrupt(path, "it is too short to be a backup"));
    };
    let mut hasher = Sha256::new();
    let copied = io::copy(&mut (&mut file).take(body), &mut HashSink(&mut hasher))
        .map_err(|e| read_error(path, &e))?;
    if copied != body {
        return Err(corrupt(path, "it changed while it was read"));
    }
    let mut trailer = Vec::with_capacity(TRAILER_LEN);
    file.read_to_end(&mut trailer)
        .map_err(|e| read_error(path, &e))?;
    let stated = trailer
        .strip_prefix(TRAILER_HEAD)
        .and_then(|t| t.strip_suffix(TRAILER_TAIL))
        .filter(|hex| {
            hex.iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
        .ok_or_else(|| corrupt(path, "it does not end with its checksum"))?;
    if stated != hex::encode(hasher.finalize()).as_bytes() {
        return Err(BackupError::Checksum {
            path: path.display().to_string(),
        });
    }
    Ok(format!(
        "sha256:{}",
        String::from_utf8_lossy(stated).into_owned()
    ))
}

struct HashSink<'a>(&'a mut Sha256);

impl Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn check_header(path: &Path, header: &Header) -> Result<(), BackupError> {
    if header.format != FORMAT {
        return Err(corrupt(
            path,
            format!("its format is \"{}\"", header.format),
        ));
    }
    if header.version != u64::from(VERSION) {
        return Err(BackupError::Version {
            path: path.display().to_string(),
            version: header.version,
        });
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BackupError> {
    let mut file = File::open(path).map_err(|e| read_error(path, &e))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| read_error(path, &e))?;
    serde_json::from_reader(BufReader::new(file)).map_err(|e| {
        // serde's message names a line and column, never the value it read.
        corrupt(path, format!("it is not a backup: {e}"))
    })
}

/// A backup read whole, its checksum verified first.
#[derive(Debug, Clone)]
pub struct Backup {
    pub file: String,
    pub header: Header,
    pub checksum: String,
    pub entries: Vec<Entry>,
}

/// Reads a backup whole: its checksum is verified before anything else is believed. For a
/// large one, [`read_each`] holds one webhook at a time.
pub fn read(path: &Path) -> Result<Backup, BackupError> {
    let mut entries = Vec::new();
    let read = read_each(path, |entry| {
        entries.push(entry);
        ControlFlow::Continue(())
    })?;
    Ok(Backup {
        file: file_name(path),
        header: read.header,
        checksum: read.checksum,
        entries,
    })
}

/// What [`read_each`] found besides the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEach {
    pub header: Header,
    pub checksum: String,
    /// The `count` member: every entry was given to `each` unless it stopped.
    pub count: u64,
    /// Whether `each` stopped the read.
    pub stopped: bool,
}

/// Reads a backup one webhook at a time, in order: its checksum is verified over the whole
/// file first, then its header is checked, then `each` gets every entry (and may stop the
/// read with `ControlFlow::Break`). Holds one entry at a time, however large the backup.
pub fn read_each(
    path: &Path,
    each: impl FnMut(Entry) -> ControlFlow<()>,
) -> Result<ReadEach, BackupError> {
    let checksum = verify(path)?;
    stream(path, Some(checksum), each)
}

/// [`read_each`] without the checksum, for `rollback --force` over a backup whose checksum
/// fails: the file must still parse as a backup (its header checked, every entry well
/// formed), but neither its checksum nor its `count` is held against it. `checksum` in the
/// answer is the one the file states.
pub fn read_each_unverified(
    path: &Path,
    each: impl FnMut(Entry) -> ControlFlow<()>,
) -> Result<ReadEach, BackupError> {
    stream(path, None, each)
}

/// The streaming read; `checksum` is the verified one, `None` when it is not held against
/// the file.
fn stream(
    path: &Path,
    checksum: Option<String>,
    mut each: impl FnMut(Entry) -> ControlFlow<()>,
) -> Result<ReadEach, BackupError> {
    let file = File::open(path).map_err(|e| read_error(path, &e))?;
    let mut stream = Stream {
        path,
        each: &mut each,
        seen: 0,
        stopped: false,
        error: None,
        header: None,
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    let rest = serde::de::DeserializeSeed::deserialize(&mut stream, &mut de)
        .and_then(|rest| de.end().map(|()| rest));
    if let Some(error) = stream.error.take() {
        return Err(error);
    }
    let rest = rest.map_err(|e| corrupt(path, format!("it is not a backup: {e}")))?;
    let tail: Tail = serde_json::from_value(serde_json::Value::Object(rest))
        .map_err(|e| corrupt(path, format!("it is not a backup: {e}")))?;
    let header = stream
        .header
        .take()
        .ok_or_else(|| corrupt(path, "it holds no `webhooks`"))?;
    let verified = checksum.is_some();
    if checksum.as_ref().is_some_and(|c| *c != tail.checksum) {
        return Err(corrupt(
            path,
            "its checksum member is not the one it ends with",
        ));
    }
    if verified && !stream.stopped && tail.count != stream.seen {
        return Err(corrupt(
            path,
            format!(
                "it counts {} webhook(s) and holds {}",
                tail.count, stream.seen
            ),
        ));
    }
    Ok(ReadEach {
        header,
        checksum: checksum.unwrap_or(tail.checksum),
        count: tail.count,
        stopped: stream.stopped,
    })
}

/// The members after `webhooks`.
#[derive(Deserialize)]
struct Tail {
    count: u64,
    checksum: String,
}

/// The streaming parse of a backup: header members are gathered and checked when
/// `webhooks` begins; each entry goes to `each` as it is parsed.
struct Stream<'a, F> {
    path: &'a Path,
    each: &'a mut F,
    seen: u64,
    stopped: bool,
    /// A fault found inside the parse (a bad header or entry): it wins over serde's.
    error: Option<BackupError>,
    header: Option<Header>,
}

type Members = serde_json::Map<String, serde_json::Value>;

impl<'de, F: FnMut(Entry) -> ControlFlow<()>> serde::de::DeserializeSeed<'de>
    for &mut Stream<'_, F>
{
    type Value = Members;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Members, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Entry) -> ControlFlow<()>> serde::de::Visitor<'de> for &mut Stream<'_, F> {
    type Value = Members;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a backup object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        use serde::de::Error;
        let mut members = Members::new();
        while let Some(key) = map.next_key::<String>()? {
            if key != "webhooks" {
                let value: serde_json::Value = map.next_value()?;
                members.insert(key, value);
                continue;
            }
            let header: Header =
                serde_json::from_value(serde_json::Value::Object(std::mem::take(&mut members)))
                    .map_err(|e| A::Error::custom(format!("its header: {e}")))?;
            if let Err(e) = check_header(self.path, &header) {
                self.error = Some(e);
                return Err(A::Error::custom("a bad header"));
            }
            self.header = Some(header);
            map.next_value_seed(Entries(&mut *self))?;
        }
        Ok(members)
    }
}

struct Entries<'s, 'a, F>(&'s mut Stream<'a, F>);

impl<'de, F: FnMut(Entry) -> ControlFlow<()>> serde::de::DeserializeSeed<'de>
    for Entries<'_, '_, F>
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Entry) -> ControlFlow<()>> serde::de::Visitor<'de> for Entries<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of webhooks")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        use serde::de::Error;
        let stream = self.0;
        while let Some(repr) = seq.next_element::<EntryRepr>()? {
            if stream.stopped {
                continue;
            }
            stream.seen += 1;
            match entry(stream.path, repr) {
                Ok(entry) => {
                    if (stream.each)(entry).is_break() {
                        stream.stopped = true;
                    }
                }
                Err(e) => {
                    stream.error = Some(e);
                    return Err(A::Error::custom("a bad webhook"));
                }
            }
        }
        Ok(())
    }
}

fn entry(path: &Path, e: EntryRepr) -> Result<Entry, BackupError> {
    let direction = Direction::parse(&e.direction).ok_or_else(|| {
        corrupt(
            path,
            format!("webhook {} has direction \"{}\"", e.code, e.direction),
        )
    })?;
    let c = e.credentials;
    let credentials = CREDENTIAL_FIELDS
        .iter()
        .copied()
        .zip([c.user, c.key, c.password, c.signing_secret])
        .map(|(f, v)| (f, v.map(SecretValue::new)))
        .collect();
    let mut store = Vec::with_capacity(e.store.len());
    for p in e.store {
        let field = Field::parse(&p.field).ok_or_else(|| {
            corrupt(
                path,
                format!("webhook {} has a field \"{}\"", e.code, p.field),
            )
        })?;
        store.push(Prior {
            field,
            name: p.name,
            version: p.prior.as_ref().map(|v| v.version),
            value: p.prior.map(|v| SecretValue::new(v.value)),
        });
    }
    Ok(Entry {
        code: e.code,
        direction,
        credentials,
        store,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A line of `list-backups`: what a backup says about itself, or why it cannot be believed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub file: String,
    /// From the file, or from its name when the file cannot be read.
    pub direction: String,
    /// `None` when the file cannot be read.
    pub webhooks: Option<u64>,
    pub created_at: Option<String>,
    /// `sha256:…` when it verifies.
    pub checksum: Option<String>,
    /// Why it does not (a corrupt file is listed, never fatal).
    pub problem: Option<String>,
}

/// What a backup says about itself, its checksum verified; values are never read into
/// memory beyond the parser's.
pub fn summary(path: &Path) -> Summary {
    let file = file_name(path);
    let from_name = NameKey::of(&file).map(|k| k.direction).unwrap_or_default();
    let failed = |problem: BackupError| Summary {
        file: file.clone(),
        direction: from_name.clone(),
        webhooks: None,
        created_at: None,
        checksum: None,
        problem: Some(problem.to_string()),
    };
    let checksum = match verify(path) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let repr: SummaryRepr = match parse(path) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    if let Err(e) = check_header(path, &repr.header) {
        return failed(e);
    }
    Summary {
        file: file.clone(),
        direction: repr.header.direction,
        webhooks: Some(repr.count),
        created_at: Some(repr.header.created_at),
        checksum: Some(checksum),
        problem: None,
    }
}

/// The order of backup names: by the time in the name, then the suffix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NameKey {
    date: String,
    time: String,
    suffix: u32,
    direction: String,
}

impl NameKey {
    /// `backup_{DIR}_{YYYY-MM-DD}_{HHMMSS}[-N].json`.
    fn of(name: &str) -> Option<Self> {
        let stem = name.strip_prefix("backup_")?.strip_suffix(".json")?;
        let mut parts = stem.rsplitn(3, '_');
        let time = parts.next()?;
        let date = parts.next()?;
        let direction = parts.next()?;
        let (time, suffix) = match time.split_once('-') {
            Some((t, n)) => (t, n.parse().ok()?),
            None => (time, 1),
        };
        (date.len() == 10 && time.len() == 6).then(|| Self {
            date: date.to_string(),
            time: time.to_string(),
            suffix,
            direction: direction.to_string(),
        })
    }
}

/// The backups of a folder (files named `backup_….json`), oldest first. A folder that does
/// not exist holds none.
pub fn list(folder: &Path) -> io::Result<Vec<Summary>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut named = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(key) = NameKey::of(&name) {
            named.push((key, name));
        }
    }
    named.sort();
    Ok(named
        .into_iter()
        .map(|(_, name)| summary(&folder.join(name)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_then_suffix() {
        let mut names = [
            "backup_OUT_2026-02-08_143000-2.json",
            "backup_IN_2026-02-08_143001.json",
            "backup_OUT_2026-02-08_143000.json",
            "backup_ALL_2025-12-31_235959.json",
        ]
        .map(|n| (NameKey::of(n).unwrap(), n));
        names.sort();
        let sorted: Vec<&str> = names.iter().map(|(_, n)| *n).collect();
        assert_eq!(
            sorted,
            [
                "backup_ALL_2025-12-31_235959.json",
                "backup_OUT_2026-02-08_143000.json",
                "backup_OUT_2026-02-08_143000-2.json",
                "backup_IN_2026-02-08_143001.json",
            ]
        );
        assert_eq!(NameKey::of("notes.json"), None);
        assert_eq!(NameKey::of("backup_OUT_x.json"), None);
    }

    /// A file with a valid checksum over these bytes.
    fn sealed(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("backup_OUT_2026-02-08_143000.json");
        let sum = hex::encode(Sha256::digest(body.as_bytes()));
        let mut text = body.as_bytes().to_vec();
        text.extend_from_slice(TRAILER_HEAD);
        text.extend_from_slice(sum.as_bytes());
        text.extend_from_slice(TRAILER_TAIL);
        std::fs::write(&path, &text).unwrap();
        path
    }

    const HEADER: &str = "{\"format\": \"hookplan-backup\", \"version\": 1, \"registry_id\": \"r\", \"database\": \"registry\", \"store\": \"local\", \"path\": \"/webhooks\", \"selection\": \"all\", \"direction\": \"ALL\", \"created_at\": \"2026-02-08T14:30:00Z\"";

    #[test]
    fn a_sealed_file_is_still_checked_for_what_it_says() {
        let dir = tempfile::tempdir().unwrap();
        let entry = r#"{"code":"A","direction":"OUT","credentials":{"user":null,"key":"k","password":null,"signing-secret":null},"store":[]}"#;
        // Counts that do not match, a direction that is none, a later format version.
        let path = sealed(
            dir.path(),
            &format!("{HEADER}, \"webhooks\": [{entry}], \"count\": 2"),
        );
        let e = read(&path).unwrap_err();
        assert!(
            e.to_string().contains("counts 2 webhook(s) and holds 1"),
            "{e}"
        );
        let bad = entry.replace("\"OUT\"", "\"UP\"");
        let path = sealed(
            dir.path(),
            &format!("{HEADER}, \"webhooks\": [{bad}], \"count\": 1"),
        );
        let e = read(&path).unwrap_err();
        assert!(
            e.to_string().contains("webhook A has direction \"UP\""),
            "{e}"
        );
        let later = HEADER.replace("\"version\": 1", "\"version\": 2");
        let path = sealed(
            dir.path(),
            &format!("{later}, \"webhooks\": [{entry}], \"count\": 1"),
        );
        assert!(matches!(
            read(&path),
            Err(BackupError::Version { version: 2, .. })
        ));
        let path = sealed(
            dir.path(),
            &format!("{HEADER}, \"webhooks\": [{entry}], \"count\": 1"),
        );
        let read = read(&path).unwrap();
        assert_eq!(read.entries[0].code, "A");
        assert_eq!(read.header.direction, "ALL");
    }

    #[test]
    fn a_checksum_covers_every_byte_before_its_trailer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup_OUT_2026-02-08_143000.json");
        let body = b"{\n  \"count\": 0";
        let sum = hex::encode(Sha256::digest(body));
        let mut text = body.to_vec();
        text.extend_from_slice(TRAILER_HEAD);
        text.extend_from_slice(sum.as_bytes());
        text.extend_from_slice(TRAILER_TAIL);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(verify(&path).unwrap(), format!("sha256:{sum}"));
        // One byte changed anywhere before the trailer fails it.
        text[3] = b'X';
        std::fs::write(&path, &text).unwrap();
        assert!(matches!(verify(&path), Err(BackupError::Checksum { .. })));
        std::fs::write(&path, b"{}").unwrap();
        assert!(verify(&path).unwrap_err().is_corrupt());
    }
}
