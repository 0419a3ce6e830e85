//! The local store (`kind="file"`), the embedded default: one JSON file, owner-only (0600),
//! replaced whole through a temporary file, sync and rename on every write, so a crash leaves
//! the old file or the new one and never half of either.
//!
//! Two hookplan processes may write at once: every write holds an exclusive lock
//! (`File::lock`) on a lock file beside it for its read-modify-write, and every read a shared
//! one. The lock file is separate because the data file is replaced, not rewritten, so a lock
//! on it would be a lock on a file nobody reads any more.

use super::{NewSecret, Secret, SecretStore, SecretValue, StoreError, StoreFuture, Written};
use crate::atomic_write::{self, Access};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What the file holds: folders, each a map of names to secrets.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    /// The format's version, for a later change of it.
    format: u32,
    folders: BTreeMap<String, BTreeMap<String, Entry>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    value: String,
    version: u64,
    updated_at: String,
}

const FORMAT: u32 = 1;

pub struct FileStore {
    name: String,
    path: PathBuf,
}

impl FileStore {
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on a blocking thread, holding the lock file the whole time.
    async fn locked<T: Send + 'static>(
        &self,
        exclusive: bool,
        work: impl FnOnce(&Path) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let lock = open_lock(&path)?;
            let held = if exclusive {
                lock.lock()
            } else {
                lock.lock_shared()
            };
            held.map_err(|e| unavailable(&path, "locking", &e))?;
            // Unlocked when `lock` is closed, whatever `work` did.
            work(&path)
        })
        .await
        .map_err(|_| StoreError::Unavailable {
            message: "the store's worker stopped".into(),
        })?
    }
}

impl SecretStore for FileStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn get<'a>(&'a self, path: &'a str, name: &'a str) -> StoreFuture<'a, Secret> {
        let folder = super::normalize_path(path);
        let name = name.to_string();
        Box::pin(self.locked(false, move |file| {
            let contents = read(file)?;
            contents
                .folders
                .get(&folder)
                .and_then(|f| f.get(&name))
                .map(|entry| secret(&name, entry))
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("secret \"{name}\" in {folder}"),
                })
        }))
    }

    fn list<'a>(&'a self, path: &'a str) -> StoreFuture<'a, Vec<Secret>> {
        let folder = super::normalize_path(path);
        Box::pin(self.locked(false, move |file| {
            let contents = read(file)?;
            Ok(contents
                .folders
                .get(&folder)
                .map(|f| f.iter().map(|(name, e)| secret(name, e)).collect())
                .unwrap_or_default())
        }))
    }

    fn set_many<'a>(
        &'a self,
        path: &'a str,
        secrets: Vec<NewSecret>,
    ) -> StoreFuture<'a, Vec<Written>> {
        let folder = super::normalize_path(path);
        Box::pin(self.locked(true, move |file| {
            for s in &secrets {
                check_name(&s.name)?;
            }
            let mut contents = read(file)?;
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let entries = contents.folders.entry(folder).or_default();
            let mut written = Vec::with_capacity(secrets.len());
            for s in secrets {
                let version = match entries.get(&s.name) {
                    Some(old) if old.value == s.value.expose() => old.version,
                    Some(old) => old.version + 1,
                    None => 1,
                };
                entries.insert(
                    s.name.clone(),
                    Entry {
                        value: s.value.into_inner(),
                        version,
                        updated_at: now.clone(),
                    },
                );
                written.push(Written {
                    name: s.name,
                    version,
                });
            }
            write(file, &contents)?;
            Ok(written)
        }))
    }

    fn delete<'a>(&'a self, path: &'a str, name: &'a str) -> StoreFuture<'a, ()> {
        let folder = super::normalize_path(path);
        let name = name.to_string();
        Box::pin(self.locked(true, move |file| {
            let mut contents = read(file)?;
            let removed = contents
                .folders
                .get_mut(&folder)
                .and_then(|f| f.remove(&name));
            if removed.is_none() {
                return Err(StoreError::NotFound {
                    what: format!("secret \"{name}\" in {folder}"),
                });
            }
            if contents
                .folders
                .get(&folder)
                .is_some_and(BTreeMap::is_empty)
            {
                contents.folders.remove(&folder);
            }
            write(file, &contents)
        }))
    }
}

fn secret(name: &str, entry: &Entry) -> Secret {
    Secret {
        name: name.to_string(),
        value: SecretValue::new(entry.value.clone()),
        version: entry.version,
    }
}

/// Names are what Infisical accepts too, so a local rehearsal never passes with a name the
/// real store would refuse.
fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            message: format!(
                "\"{name}\" is not a secret name (letters, digits, `_`, `-` and `.` only)"
            ),
        })
    }
}

fn open_lock(path: &Path) -> Result<File, StoreError> {
    let lock_path = lock_path(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        atomic_write::private_dir(dir).map_err(|e| unavailable(dir, "creating", &e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| unavailable(&lock_path, "opening", &e))
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

fn read(path: &Path) -> Result<Contents, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Contents {
                format: FORMAT,
                ..Contents::default()
            });
        }
        Err(e) => return Err(unavailable(path, "reading", &e)),
    };
    // serde_json's message names a line and column, never the text around it.
    serde_json::from_str(&text).map_err(|e| StoreError::Invalid {
        message: format!(
            "{} is not a hookplan secrets file ({e}); move it away or fix it",
            path.display()
        ),
    })
}

fn write(path: &Path, contents: &Contents) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(contents).map_err(|e| StoreError::Invalid {
        message: format!("could not write the secrets file: {e}"),
    })?;
    bytes.push(b'\n');
    atomic_write::write(path, &bytes, Access::Private).map_err(|e| unavailable(path, "writing", &e))
}

fn unavailable(path: &Path, doing: &str, error: &std::io::Error) -> StoreError {
    StoreError::Unavailable {
        message: format!(
            "{doing} {}: {}",
            path.display(),
            crate::io_error::describe(error)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store(dir: &tempfile::TempDir) -> FileStore {
        FileStore::new("local", dir.path().join("state/secrets.json"))
    }

    #[tokio::test]
    async fn a_secret_reads_back_as_written_and_its_version_counts_changes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir);
        let w = s
            .set("/webhooks", NewSecret::new("A_KEY", "0"))
            .await
            .unwrap();
        assert_eq!(w.version, 1);
        let got = s.get("webhooks/", "A_KEY").await.unwrap();
        assert_eq!((got.value.expose(), got.version), ("0", 1));
        // The same value again is no change; another value is.
        assert_eq!(
            s.set("/webhooks", NewSecret::new("A_KEY", "0"))
                .await
                .unwrap()
                .version,
            1
        );
        assert_eq!(
            s.set("/webhooks", NewSecret::new("A_KEY", " 1 "))
                .await
                .unwrap()
                .version,
            2
        );
        assert_eq!(
            s.get("/webhooks", "A_KEY").await.unwrap().value.expose(),
            " 1 "
        );
        let mode = std::fs::metadata(s.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(s.path().parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }

    #[tokio::test]
    async fn missing_names_and_folders_are_told_apart_from_failures() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir);
        assert!(s.get("/webhooks", "NOPE").await.unwrap_err().is_not_found());
        assert!(s.list("/nowhere").await.unwrap().is_empty());
        assert!(
            s.delete("/webhooks", "NOPE")
                .await
                .unwrap_err()
                .is_not_found()
        );
        s.set_many(
            "/webhooks",
            vec![NewSecret::new("B", "ss"), NewSecret::new("A", "true")],
        )
        .await
        .unwrap();
        let names: Vec<String> = s
            .list("/webhooks")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
        s.delete("/webhooks", "A").await.unwrap();
        assert!(s.get("/webhooks", "A").await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn a_bad_name_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir);
        let err = s
            .set_many(
                "/webhooks",
                vec![
                    NewSecret::new("GOOD", "POST"),
                    NewSecret::new("bad name", "x"),
                ],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
        assert!(s.list("/webhooks").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_damaged_file_is_an_error_that_shows_no_value() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir);
        std::fs::create_dir_all(s.path().parent().unwrap()).unwrap();
        std::fs::write(
            s.path(),
            "{\"format\":1,\"folders\":{\"/w\":{\"K\":{\"value\":\"hunter2\"",
        )
        .unwrap();
        let err = s.list("/w").await.unwrap_err().to_string();
        assert!(err.contains("not a hookplan secrets file"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn two_writers_at_once_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let s = FileStore::new("local", path);
                    for i in 0..25 {
                        runtime
                            .block_on(s.set("/w", NewSecret::new(format!("K_{t}_{i}"), "v")))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let all = runtime
            .block_on(FileStore::new("local", path).list("/w"))
            .unwrap();
        assert_eq!(all.len(), 100);
    }
}
