//! The state file, `infisical-state.jsonl` in the state's folder: one line per call that
//! changed something (`{"changes": [...]}`), appended with one write(2) before the call is
//! answered, so that an answered write survives a `kill -9` of the sandbox (power loss is not
//! promised, as for the recordings). A batch is one line: it is kept whole or, torn by a
//! crash, not at all — a torn last line is skipped when the file is read back.
//!
//! On opening, the file is read, compacted (rewritten as the state it describes: a temporary
//! file, synced and renamed) and then appended to. The file is locked while a sandbox uses it:
//! a second sandbox on the same state is refused rather than let the two overwrite each other.

use super::secrets::{Change, Secrets};
use crate::atomic_write::{self, Access};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub const STATE_FILE: &str = "infisical-state.jsonl";
const LOCK_FILE: &str = "infisical-state.lock";

#[derive(Serialize, Deserialize)]
struct Line {
    changes: Vec<Change>,
}

pub struct StateFile {
    file: File,
    /// Held for as long as the file is in use.
    _lock: File,
}

impl StateFile {
    /// Opens (or creates) the state in `dir`, returning it with what it holds.
    pub fn open(dir: &Path) -> Result<(Self, Secrets), String> {
        let describe = |what: &str, path: &Path, e: &io::Error| {
            format!(
                "cannot {what} {}: {}",
                path.display(),
                crate::io_error::describe(e)
            )
        };
        atomic_write::private_dir(dir).map_err(|e| describe("create", dir, &e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| describe("open", &lock_path, &e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!(
                    "the Infisical state in {} is in use by another sandbox",
                    dir.display()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(describe("lock", &lock_path, &e));
            }
        }
        let path = dir.join(STATE_FILE);
        let secrets = read(&path).map_err(|e| describe("read", &path, &e))?;
        let snapshot = secrets.snapshot();
        let compacted = if snapshot.is_empty() {
            Vec::new()
        } else {
            line(snapshot)
        };
        atomic_write::write(&path, &compacted, Access::Private)
            .map_err(|e| describe("write", &path, &e))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| describe("open", &path, &e))?;
        Ok((Self { file, _lock: lock }, secrets))
    }

    /// Appends one call's changes; when it returns, they are in the OS.
    pub fn append(&mut self, changes: &[Change]) -> io::Result<()> {
        self.file.write_all(&line(changes.to_vec()))
    }
}

fn line(changes: Vec<Change>) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(&Line { changes }).expect("changes serialize");
    bytes.push(b'\n');
    bytes
}

/// The state a file describes; none if it does not exist. Lines that do not parse (a torn
/// last line) are skipped.
fn read(path: &Path) -> io::Result<Secrets> {
    let mut secrets = Secrets::default();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(secrets),
        Err(e) => return Err(e),
    };
    for text in BufReader::new(file).split(b'\n') {
        let text = text?;
        match serde_json::from_slice::<Line>(&text) {
            Ok(line) => line.changes.iter().for_each(|c| secrets.apply(c)),
            Err(_) if text.iter().all(u8::is_ascii_whitespace) => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "skipping an unreadable line of the Infisical state");
            }
        }
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn put(key: &str, version: u64) -> Change {
        Change::Put {
            environment: "prod".into(),
            path: "/".into(),
            key: key.into(),
            id: format!("id-{key}"),
            version,
            value: format!("{key}{version}"),
            comment: String::new(),
            created_at: "t".into(),
            updated_at: "t".into(),
        }
    }

    #[test]
    fn changes_survive_reopening_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut state, secrets) = StateFile::open(dir.path()).unwrap();
            assert!(secrets.get("prod", "/", "A").is_none());
            state.append(&[put("A", 1)]).unwrap();
            state.append(&[put("A", 2), put("B", 1)]).unwrap();
            assert_eq!(
                std::fs::metadata(dir.path().join(STATE_FILE))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        // A crash in the middle of a batch's line.
        let path = dir.path().join(STATE_FILE);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"changes":[{"change":"put","environment":"prod""#)
            .unwrap();
        drop(file);
        let (_state, secrets) = StateFile::open(dir.path()).unwrap();
        assert_eq!(secrets.get("prod", "/", "A").unwrap().version(), 2);
        assert_eq!(secrets.get("prod", "/", "B").unwrap().current().value, "B1");
        // Compacted: one line.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_second_sandbox_on_the_same_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StateFile::open(dir.path()).unwrap();
        let error = StateFile::open(dir.path()).err().unwrap();
        assert!(error.contains("in use"), "{error}");
    }
}
