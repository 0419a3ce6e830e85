//! The append-only file a session's recordings go to, with group commit.
//!
//! Every record must reach the OS (write(2); no fsync: surviving `kill -9` is promised, power
//! loss is not) before its response is sent. One write per request would make the disk the
//! bottleneck under load, so concurrent requests share writes: a request appends its line to a
//! shared buffer; if no write is in progress it becomes the writer and writes everything
//! buffered (its own line and any that arrive meanwhile) until the buffer is empty; otherwise
//! it waits until a writer has written past its line.
//!
//! The writer writes from its task without `spawn_blocking`: an append to the page cache takes
//! microseconds, far less than a hop to the blocking pool.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use tokio::sync::watch;

pub(crate) struct Journal {
    file: File,
    state: Mutex<State>,
    /// The number of lines written so far; waiting appenders watch it.
    written: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// A cleared buffer kept to swap with `buffer`, so writes reuse allocations.
    spare: Vec<u8>,
    /// Lines appended so far (the last line's number).
    appended: u64,
    writing: bool,
    /// Line ranges whose write failed, newest last (a few are kept).
    failed: Vec<(u64, u64, io::ErrorKind)>,
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
            file,
            state: Mutex::new(State::default()),
            written: watch::Sender::new(0),
        })
    }

    /// Appends one line (`line` must end with `\n`) and returns once it was written to the OS.
    #[cfg(test)]
    pub async fn append(&self, line: &[u8]) -> io::Result<()> {
        self.enqueue(line).written().await
    }

    /// Buffers a line; the ticket's [`Ticket::written`] waits until it reached the OS. The
    /// line is copied at once, so the caller may reuse its buffer.
    pub fn enqueue(&self, line: &[u8]) -> Ticket<'_> {
        let mut state = self.lock();
        state.buffer.extend_from_slice(line);
        state.appended += 1;
        let leads = !state.writing;
        state.writing = true;
        // The writer is made only when this line leads: a `Writer` dropped here would write
        // while the lock is held.
        Ticket {
            journal: self,
            number: state.appended,
            writer: leads.then(|| Writer(self)),
        }
    }

    /// Writes buffered lines until none are left. No await in here: a writer cannot be
    /// cancelled halfway and leave others waiting.
    fn write_until_empty(&self) {
        let mut batch = std::mem::take(&mut self.lock().spare);
        loop {
            let upto = {
                let mut state = self.lock();
                if state.buffer.is_empty() {
                    state.writing = false;
                    batch.clear();
                    state.spare = batch;
                    return;
                }
                std::mem::swap(&mut state.buffer, &mut batch);
                state.appended
            };
            let first = self.written.borrow().saturating_add(1);
            if let Err(error) = (&self.file).write_all(&batch) {
                let mut state = self.lock();
                state.failed.push((first, upto, error.kind()));
                let excess = state.failed.len().saturating_sub(16);
                state.failed.drain(..excess);
            }
            batch.clear();
            self.written.send_replace(upto);
        }
    }

    fn outcome(&self, number: u64) -> io::Result<()> {
        let state = self.lock();
        match state
            .failed
            .iter()
            .rev()
            .find(|(from, to, _)| (*from..=*to).contains(&number))
        {
            Some((_, _, kind)) => Err(io::Error::from(*kind)),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A buffered line, waiting to be written.
pub(crate) struct Ticket<'a> {
    journal: &'a Journal,
    number: u64,
    /// Set when this line found no write in progress: its owner writes.
    writer: Option<Writer<'a>>,
}

impl Ticket<'_> {
    /// Waits until the line was written to the OS.
    pub async fn written(mut self) -> io::Result<()> {
        let journal = self.journal;
        if let Some(writer) = self.writer.take() {
            // Requests that are ready on this worker run first and add their lines: one
            // write then carries them all. (A write costs far more than its bytes: ext4
            // updates the file's times on every call.)
            tokio::task::yield_now().await;
            drop(writer);
        } else {
            let mut written = journal.written.subscribe();
            // The sender lives in the journal, which outlives this call: the wait cannot fail.
            let _ = written.wait_for(|&n| n >= self.number).await;
        }
        journal.outcome(self.number)
    }
}

/// The appender that writes. It writes when dropped, so that a request cancelled while it
/// let others go first (its client went away) still writes everyone's lines.
struct Writer<'a>(&'a Journal);

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        self.0.write_until_empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_all_land_whole_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        let journal = Arc::new(Journal::create(&path).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let journal = journal.clone();
                tokio::spawn(
                    async move { journal.append(format!("{{\"n\":{i}}}\n").as_bytes()).await },
                )
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
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

    #[tokio::test]
    async fn a_writer_cancelled_while_it_waits_still_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        let journal = Journal::create(&path).unwrap();
        // The append yields to others first; the ready branch then wins and drops it.
        tokio::select! {
            biased;
            _ = journal.append(b"a\n") => panic!("the append should have let others go first"),
            _ = std::future::ready(()) => {}
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"a\n");
        journal.append(b"b\n").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a\nb\n");
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
