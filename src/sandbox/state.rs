//! A sandbox's folder, `<state>/sandbox/<NAME>/`: its recordings (one file per session), its
//! configured endpoints, and a status file naming the last session and its address.

use super::config::SandboxConfig;
use super::recording;
use crate::atomic_write::{self, Access};
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

/// Endpoints set with `configure-endpoint`; a running sandbox follows changes to it.
pub const ENDPOINTS_FILE: &str = "endpoints.json";
/// Held (flock) while the endpoints file is read, changed and replaced.
pub const ENDPOINTS_LOCK_FILE: &str = "endpoints.lock";
/// The last session: its id, address and settings.
pub const STATUS_FILE: &str = "sandbox.json";

/// The folder of sandbox `name` under a state directory (or a plan run's folder).
pub fn sandbox_dir(state_root: &Path, name: &str) -> PathBuf {
    state_root.join("sandbox").join(name)
}

/// Written when a session starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxStatus {
    pub name: String,
    pub session: String,
    /// `http://127.0.0.1:PORT`: where `replay` sends by default.
    pub url: String,
    pub pid: u32,
    pub started_at: String,
    pub config: SandboxConfig,
}

pub fn write_status(dir: &Path, status: &SandboxStatus) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(status).map_err(io::Error::other)?;
    atomic_write::write(&dir.join(STATUS_FILE), &json, Access::Private)
}

/// The status of the last session, if there was one and its file can be read.
pub fn read_status(dir: &Path) -> Option<SandboxStatus> {
    let bytes = std::fs::read(dir.join(STATUS_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What `clear` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared {
    pub sessions: usize,
    pub requests: usize,
}

/// Removes every recorded request. The newest session file is emptied rather than removed:
/// a running sandbox keeps appending to it (its file is opened for appending, so it continues
/// at the new end).
pub fn clear_recordings(dir: &Path) -> Result<Cleared, io::Error> {
    let sessions = recording::sessions(dir)
        .map_err(|recording::RecordingError::Read { source, .. }| source)?;
    let requests = recording::read(dir, recording::Selection::All)
        .map(|r| r.len())
        .unwrap_or(0);
    for (index, session) in sessions.iter().enumerate() {
        let path = recording::session_file(dir, session);
        if index + 1 == sessions.len() {
            match OpenOptions::new().write(true).open(&path) {
                Ok(file) => file.set_len(0)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Cleared {
        sessions: sessions.len(),
        requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_empties_the_newest_session_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let line = |seq, session: &str| {
            format!(
                "{}\n",
                serde_json::to_string(&recording::tests::sample(seq, session)).unwrap()
            )
        };
        std::fs::write(
            recording::session_file(dir.path(), "0000000000001-1"),
            line(1, "0000000000001-1"),
        )
        .unwrap();
        std::fs::write(
            recording::session_file(dir.path(), "0000000000002-1"),
            line(1, "0000000000002-1") + &line(2, "0000000000002-1"),
        )
        .unwrap();
        let cleared = clear_recordings(dir.path()).unwrap();
        assert_eq!(
            cleared,
            Cleared {
                sessions: 2,
                requests: 3
            }
        );
        assert_eq!(
            recording::sessions(dir.path()).unwrap(),
            vec!["0000000000002-1".to_string()]
        );
        assert!(
            recording::read(dir.path(), recording::Selection::All)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            clear_recordings(&dir.path().join("missing")).unwrap(),
            Cleared::default()
        );
    }
}
