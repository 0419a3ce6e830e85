//! Reviewed plans: a preview of what a plan's `migrate` steps would touch, and the check that
//! the live state still matches it before the plan runs (`hookplan run --approved FILE`).
//!
//! # The file
//!
//! One JSON object (schema: `schemas/preview.schema.json`), mode 0600: `format`
//! (`"hookplan-preview"`), `version` (1), `created_at`, `plan` (its name and canonical hash),
//! `key` (64 hex digits: the random key of this preview's fingerprints) and `steps`, one per
//! `migrate` step in the plan's order: its `name`, `database`, `store`, `path`, `selection`
//! (in words), `registry_id`, `clear_database`, and `webhooks` — each webhook the migration
//! would touch, its `code`, `direction` and `targets`: per target name its credential `field`,
//! the `name` and two fingerprints, `registry` (the row's value) and `store` (the store's
//! value under that name, `null` when the store has none).
//!
//! # Fingerprints
//!
//! A fingerprint is `hmac-sha256:` and the hex HMAC-SHA256, under the preview's key, of the
//! target name, a NUL byte and the value. The key is drawn from the system's random source
//! for every preview, so a fingerprint says nothing about a value to anyone without the file,
//! and nothing that can be looked up in a table to anyone with it; two fingerprints of one
//! preview are equal exactly when the values (under one name) are. No value, and no unkeyed
//! hash of one, is written.

use super::backup::{self, Entry, Output};
use super::migrate::needs_work;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// The `format` member of every preview.
pub const FORMAT: &str = "hookplan-preview";
/// The format version this hookplan writes and reads.
pub const VERSION: u64 = 1;
/// How a fingerprint starts.
const PREFIX: &str = "hmac-sha256:";

/// What can go wrong with a preview, in one line, never with a value in it.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("cannot draw a random key for the preview")]
    Random,
    #[error(transparent)]
    Scan(#[from] backup::BackupError),
    #[error("cannot read the preview {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a hookplan preview: {reason}")]
    NotAPreview { path: String, reason: String },
    #[error(
        "the preview {path} has format version {version}; this hookplan reads version {VERSION}"
    )]
    Version { path: String, version: u64 },
    #[error("cannot write the preview {path}: {reason}")]
    Write { path: String, reason: String },
}

/// A preview file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub format: String,
    pub version: u64,
    /// RFC 3339, UTC, seconds.
    pub created_at: String,
    pub plan: PlanBinding,
    /// The fingerprints' key, 64 hex digits.
    pub key: String,
    pub steps: Vec<StepPreview>,
}

/// The plan a preview was made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanBinding {
    pub name: String,
    pub canonical_hash: String,
}

/// What a `migrate` step is bound to: where it reads, where it writes, and what it selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub database: String,
    pub store: String,
    pub path: String,
    /// The selection in words (`direction=OUT pattern=STRIPE_*`).
    pub selection: String,
    pub registry_id: String,
    pub clear_database: bool,
}

/// One `migrate` step of a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPreview {
    pub name: String,
    #[serde(flatten)]
    pub binding: Binding,
    pub webhooks: Vec<WebhookPrint>,
}

/// A webhook the migration would touch, its values as fingerprints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPrint {
    pub code: String,
    pub direction: String,
    pub targets: Vec<TargetPrint>,
}

/// One target name of a webhook: the fingerprints of the row's value and the store's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetPrint {
    /// `user`, `key`, `password` or `signing-secret`.
    pub field: String,
    pub name: String,
    pub registry: String,
    /// `None`: the store has no such name.
    pub store: Option<String>,
}

/// Fingerprints under one key.
pub struct Fingerprints {
    key: hmac::Key,
    hex: String,
}

impl Fingerprints {
    /// A fresh random key (32 bytes from the system's random source).
    pub fn random() -> Result<Self, PreviewError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| PreviewError::Random)?;
        Ok(Self::from_key(&bytes))
    }

    /// The key of a preview (its `key` member); `None` when it is not 32 bytes of hex.
    pub fn from_hex(hex_key: &str) -> Option<Self> {
        let bytes = hex::decode(hex_key).ok()?;
        (bytes.len() == 32).then(|| Self::from_key(&bytes))
    }

    fn from_key(bytes: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
            hex: hex::encode(bytes),
        }
    }

    /// The key in hex, as the preview holds it.
    pub fn key_hex(&self) -> &str {
        &self.hex
    }

    /// The fingerprint of `value` under the target name `name`.
    pub fn of(&self, name: &str, value: &str) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(name.as_bytes());
        context.update(&[0]);
        context.update(value.as_bytes());
        format!("{PREFIX}{}", hex::encode(context.sign().as_ref()))
    }

    /// A webhook of a scan, fingerprinted: each target name the migration would write.
    pub fn webhook(&self, entry: &Entry) -> WebhookPrint {
        let targets = entry
            .store
            .iter()
            .filter_map(|prior| {
                let row = entry
                    .credentials
                    .iter()
                    .find(|(f, _)| *f == prior.field)
                    .and_then(|(_, v)| v.as_ref())?;
                Some(TargetPrint {
                    field: prior.field.name().to_string(),
                    name: prior.name.clone(),
                    registry: self.of(&prior.name, row.expose()),
                    store: prior
                        .value
                        .as_ref()
                        .map(|v| self.of(&prior.name, v.expose())),
                })
            })
            .collect();
        WebhookPrint {
            code: entry.code.clone(),
            direction: entry.direction.to_string(),
            targets,
        }
    }
}

/// Reads what a migration of `request` would touch, writing nothing: each webhook that
/// needs work (as the migration decides it), fingerprinted, in the registry's order.
pub async fn scan(
    request: &backup::Request<'_>,
    clear_database: bool,
    prints: &Fingerprints,
) -> Result<Vec<WebhookPrint>, PreviewError> {
    let mut found = Vec::new();
    backup::scan(request, Output::Nothing, |entry| {
        if needs_work(entry, clear_database) {
            found.push(prints.webhook(entry));
        }
        false
    })
    .await?;
    Ok(found)
}

/// Writes `preview` to `path`, 0600, whole or not at all.
pub fn write(path: &Path, preview: &Preview) -> Result<(), PreviewError> {
    let mut text = serde_json::to_vec_pretty(preview).map_err(|e| PreviewError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    text.push(b'\n');
    crate::atomic_write::write(path, &text, crate::atomic_write::Access::Private).map_err(|e| {
        PreviewError::Write {
            path: path.display().to_string(),
            reason: crate::io_error::describe(&e),
        }
    })
}

/// Reads a preview, its format and version checked.
pub fn read(path: &Path) -> Result<Preview, PreviewError> {
    let shown = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| PreviewError::Read {
        path: shown.clone(),
        reason: crate::io_error::describe(&e),
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| PreviewError::NotAPreview {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    if value["format"] != FORMAT {
        return Err(PreviewError::NotAPreview {
            path: shown,
            reason: format!("its format is not \"{FORMAT}\""),
        });
    }
    match value["version"].as_u64() {
        Some(VERSION) => {}
        Some(version) => {
            return Err(PreviewError::Version {
                path: shown,
                version,
            });
        }
        None => {
            return Err(PreviewError::NotAPreview {
                path: shown,
                reason: "it has no version".to_string(),
            });
        }
    }
    let preview: Preview =
        serde_json::from_value(value).map_err(|e| PreviewError::NotAPreview {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    if Fingerprints::from_hex(&preview.key).is_none() {
        return Err(PreviewError::NotAPreview {
            path: shown,
            reason: "its key is not 64 hex digits".to_string(),
        });
    }
    Ok(preview)
}

/// Why a webhook no longer matches its preview. Names only, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftKind {
    /// The migration would touch it now and the preview does not hold it.
    NotInPreview,
    /// The preview holds it and the migration would no longer touch it.
    NoLongerTouched,
    /// The row's value of a field changed.
    RegistryChanged { field: String },
    /// The store's value under a target name changed (appeared, went, or differs).
    StoreChanged { field: String, name: String },
    /// The row has a credential it did not have.
    FieldAdded { field: String },
    /// The row lost a credential it had.
    FieldRemoved { field: String },
    /// A credential goes to another name than the preview's.
    Renamed { field: String, name: String },
}

/// One webhook that drifted, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub code: String,
    pub kind: DriftKind,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = &self.code;
        match &self.kind {
            DriftKind::NotInPreview => write!(f, "{code}: not in the preview"),
            DriftKind::NoLongerTouched => write!(
                f,
                "{code}: in the preview, but the migration would no longer touch it"
            ),
            DriftKind::RegistryChanged { field } => {
                write!(f, "{code}: the registry's {field} changed")
            }
            DriftKind::StoreChanged { field, name } => {
                write!(f, "{code}: the store's {field} changed ({name})")
            }
            DriftKind::FieldAdded { field } => {
                write!(f, "{code}: the registry has a {field} it did not have")
            }
            DriftKind::FieldRemoved { field } => {
                write!(f, "{code}: the registry's {field} was removed")
            }
            DriftKind::Renamed { field, name } => {
                write!(f, "{code}: its {field} would go to another name ({name})")
            }
        }
    }
}

/// Every way `live` differs from `previewed`, webhook by webhook: in the preview's order,
/// then the webhooks that are new, in the live order.
pub fn compare(previewed: &[WebhookPrint], live: &[WebhookPrint]) -> Vec<Drift> {
    let now: HashMap<&str, &WebhookPrint> = live.iter().map(|w| (w.code.as_str(), w)).collect();
    let mut drifts = Vec::new();
    for before in previewed {
        match now.get(before.code.as_str()) {
            None => drifts.push(Drift {
                code: before.code.clone(),
                kind: DriftKind::NoLongerTouched,
            }),
            Some(after) => compare_one(before, after, &mut drifts),
        }
    }
    let known: std::collections::HashSet<&str> =
        previewed.iter().map(|w| w.code.as_str()).collect();
    for after in live {
        if !known.contains(after.code.as_str()) {
            drifts.push(Drift {
                code: after.code.clone(),
                kind: DriftKind::NotInPreview,
            });
        }
    }
    drifts
}

fn compare_one(before: &WebhookPrint, after: &WebhookPrint, drifts: &mut Vec<Drift>) {
    let drift = |kind| Drift {
        code: before.code.clone(),
        kind,
    };
    for was in &before.targets {
        let Some(is) = after.targets.iter().find(|t| t.field == was.field) else {
            drifts.push(drift(DriftKind::FieldRemoved {
                field: was.field.clone(),
            }));
            continue;
        };
        if is.name != was.name {
            drifts.push(drift(DriftKind::Renamed {
                field: was.field.clone(),
                name: is.name.clone(),
            }));
            continue;
        }
        if is.registry != was.registry {
            drifts.push(drift(DriftKind::RegistryChanged {
                field: was.field.clone(),
            }));
        }
        if is.store != was.store {
            drifts.push(drift(DriftKind::StoreChanged {
                field: was.field.clone(),
                name: was.name.clone(),
            }));
        }
    }
    for is in &after.targets {
        if !before.targets.iter().any(|t| t.field == is.field) {
            drifts.push(drift(DriftKind::FieldAdded {
                field: is.field.clone(),
            }));
        }
    }
}

/// How a step's binding differs from its preview's, one line each (no value is in a binding).
pub fn compare_binding(step: &str, previewed: &Binding, live: &Binding) -> Vec<String> {
    let mut out = Vec::new();
    let mut differs = |what: &str, was: &str, is: &str| {
        if was != is {
            out.push(format!(
                "step \"{step}\": its {what} is \"{is}\", the preview's \"{was}\""
            ));
        }
    };
    differs("database", &previewed.database, &live.database);
    differs("secret store", &previewed.store, &live.store);
    differs("path", &previewed.path, &live.path);
    differs("selection", &previewed.selection, &live.selection);
    if previewed.clear_database != live.clear_database {
        out.push(format!(
            "step \"{step}\": clear-database is {}, the preview's {}",
            live.clear_database, previewed.clear_database
        ));
    }
    if previewed.registry_id != live.registry_id {
        out.push(format!(
            "step \"{step}\": the registry is another one than the preview's (its id differs)"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Direction, Field};
    use crate::store::SecretValue;

    fn entry(key: Option<&str>, held: Option<&str>) -> Entry {
        Entry {
            code: "PAY".into(),
            direction: Direction::Out,
            credentials: vec![
                (Field::User, Some(SecretValue::new("u"))),
                (Field::Key, key.map(SecretValue::new)),
            ],
            store: [(Field::User, "WEBHOOK_OUT_PAY_USER", None)]
                .into_iter()
                .chain(key.map(|_| (Field::Key, "WEBHOOK_OUT_PAY_KEY", held)))
                .map(|(field, name, held)| backup::Prior {
                    field,
                    name: name.to_string(),
                    value: held.map(SecretValue::new),
                    version: held.map(|_| 1),
                })
                .collect(),
        }
    }

    fn prints() -> Fingerprints {
        Fingerprints::from_key(&[7; 32])
    }

    #[test]
    fn fingerprints_are_keyed_and_bound_to_the_name() {
        let a = prints();
        let b = Fingerprints::from_key(&[8; 32]);
        assert_eq!(a.of("N", "ss"), a.of("N", "ss"));
        assert_ne!(
            a.of("N", "ss"),
            b.of("N", "ss"),
            "another key, another print"
        );
        assert_ne!(
            a.of("N", "ss"),
            a.of("M", "ss"),
            "another name, another print"
        );
        // The name and the value do not run into each other.
        assert_ne!(a.of("Na", "b"), a.of("N", "ab"));
        let print = a.of("N", "ss");
        assert!(print.starts_with(PREFIX) && print.len() == PREFIX.len() + 64);
        assert!(!print.contains("ss"));
        assert_eq!(
            Fingerprints::from_hex(a.key_hex()).unwrap().of("N", "x"),
            a.of("N", "x")
        );
        assert!(Fingerprints::from_hex("abcd").is_none());
        assert!(
            Fingerprints::random().unwrap().key_hex() != Fingerprints::random().unwrap().key_hex()
        );
    }

    #[test]
    fn a_webhook_is_printed_per_target_name() {
        let w = prints().webhook(&entry(Some("ss"), Some("old")));
        assert_eq!(w.code, "PAY");
        assert_eq!(w.targets.len(), 2);
        assert_eq!(w.targets[1].field, "key");
        assert_eq!(w.targets[1].name, "WEBHOOK_OUT_PAY_KEY");
        assert_eq!(w.targets[0].store, None);
        assert_ne!(w.targets[1].store, Some(w.targets[1].registry.clone()));
        let same = prints().webhook(&entry(Some("ss"), Some("ss")));
        assert_eq!(
            same.targets[1].store,
            Some(same.targets[1].registry.clone())
        );
    }

    #[test]
    fn the_same_state_does_not_drift() {
        let w = vec![prints().webhook(&entry(Some("ss"), None))];
        assert!(compare(&w, &w.clone()).is_empty());
    }

    #[test]
    fn every_drift_is_named() {
        let p = prints();
        let before = vec![p.webhook(&entry(Some("ss"), None))];
        let said = |live: Vec<WebhookPrint>| -> Vec<String> {
            compare(&before, &live)
                .iter()
                .map(|d| d.to_string())
                .collect()
        };
        assert_eq!(
            said(vec![p.webhook(&entry(Some("tt"), None))]),
            ["PAY: the registry's key changed"]
        );
        assert_eq!(
            said(vec![p.webhook(&entry(Some("ss"), Some("x")))]),
            ["PAY: the store's key changed (WEBHOOK_OUT_PAY_KEY)"]
        );
        assert_eq!(
            said(vec![p.webhook(&entry(None, None))]),
            ["PAY: the registry's key was removed"]
        );
        assert_eq!(
            said(vec![]),
            ["PAY: in the preview, but the migration would no longer touch it"]
        );
        let mut other = p.webhook(&entry(Some("ss"), None));
        other.code = "NEW_HOOK".into();
        assert_eq!(
            said(vec![p.webhook(&entry(Some("ss"), None)), other]),
            ["NEW_HOOK: not in the preview"]
        );
        let mut renamed = p.webhook(&entry(Some("ss"), None));
        renamed.targets[1].name = "OTHER_KEY".into();
        assert_eq!(
            said(vec![renamed]),
            ["PAY: its key would go to another name (OTHER_KEY)"]
        );
        let fewer = vec![p.webhook(&entry(None, None))];
        let more = vec![p.webhook(&entry(Some("ss"), None))];
        let added: Vec<String> = compare(&fewer, &more)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(added, ["PAY: the registry has a key it did not have"]);
    }

    #[test]
    fn a_binding_that_differs_is_named() {
        let was = Binding {
            database: "registry".into(),
            store: "local".into(),
            path: "/webhooks".into(),
            selection: "direction=OUT".into(),
            registry_id: "a".into(),
            clear_database: false,
        };
        assert!(compare_binding("migrate", &was, &was.clone()).is_empty());
        let is = Binding {
            selection: "webhook=PAY".into(),
            registry_id: "b".into(),
            ..was.clone()
        };
        assert_eq!(
            compare_binding("migrate", &was, &is),
            [
                "step \"migrate\": its selection is \"webhook=PAY\", the preview's \"direction=OUT\"",
                "step \"migrate\": the registry is another one than the preview's (its id differs)",
            ]
        );
    }

    #[test]
    fn a_file_is_read_back_as_written_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preview.json");
        let preview = Preview {
            format: FORMAT.into(),
            version: VERSION,
            created_at: "2026-02-08T14:30:00Z".into(),
            plan: PlanBinding {
                name: "p".into(),
                canonical_hash: "h".into(),
            },
            key: prints().key_hex().to_string(),
            steps: Vec::new(),
        };
        write(&path, &preview).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read(&path).unwrap(), preview);
        std::fs::write(&path, "{\"format\": \"hookplan-backup\"}").unwrap();
        assert!(matches!(read(&path), Err(PreviewError::NotAPreview { .. })));
        let later = serde_json::to_string(&Preview {
            version: 2,
            ..preview.clone()
        })
        .unwrap();
        std::fs::write(&path, later).unwrap();
        assert!(matches!(
            read(&path),
            Err(PreviewError::Version { version: 2, .. })
        ));
    }
}
