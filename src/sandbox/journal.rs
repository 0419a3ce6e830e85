//! The append-only file a session's recordings go to.
//!
//! Every record must reach the OS (write(2); no fsync: surviving `kill -9` is promised, power
//! loss is not) before its response is sent. Each request writes its own line at once, from
//! its own task: an append to the page cache takes a few microseconds. Sharing writes among
//! concurrent requests (group commit) cost more than it saved: a request waiting for another's
//! write leaves its task pending, hyper then polls the connection for an early EOF (a read
//! that also replaces its read buffer, for every request), and the writer has to wake the
//! waiters on the other worker threads.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

pub(crate) struct Journal {
    /// Held for a whole line: a short write (a full disk, a signal) must not let another
    /// line in before the rest of this one.
    file: Mutex<File>,
}

impl Journal {
    /// Creates a new session file, owner-only.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends one line (`line` must end with `\n`); when it returns, the line is in the OS.
    /// It blocks the calling thread for the write: a few microseconds in the page cache,
    /// less than a hop to tokio's blocking pool and back.
    pub fn append(&self, line: &[u8]) -> io::Result<()> {
        // A panic while holding the lock leaves only the file behind; keep going.
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    #[test]
    fn concurrent_appends_all_land_whole_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        let journal = Arc::new(Journal::create(&path).unwrap());
        // Threads, not tasks: an append blocks its thread for the write.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    for i in (t..200).step_by(8) {
                        journal
                            .append(format!("{{\"n\":{i}}}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut numbers: Vec<u32> = text
            .lines()
            .map(|l| l[5..l.len() - 1].parse().unwrap())
            .collect();
        numbers.sort();
        assert_eq!(numbers, (0..200).collect::<Vec<_>>());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_session_file_is_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        Journal::create(&path).unwrap();
        assert_eq!(
            Journal::create(&path).err().unwrap().kind(),
            io::ErrorKind::AlreadyExists
        );
    }
}
