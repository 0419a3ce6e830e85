//! The events journal: every event of a run as one JSON line (`events.jsonl` in the run's
//! folder; its schema is `schemas/events.schema.json`). A lossless sink: events arrive already
//! masked, and nothing here rewrites them.

use crate::exec::{RunEvent, Sink};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A finished step reaches the OS within this much wall time (and everything at the end),
/// without a write for each event.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

pub struct Journal {
    path: PathBuf,
    file: Option<BufWriter<std::fs::File>>,
    flushed: std::time::Instant,
    /// The first write error, reported once the run is over.
    error: Option<std::io::Error>,
}

impl Journal {
    /// Opens (creates, owner-only) the journal file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Some(BufWriter::with_capacity(64 * 1024, file)),
            flushed: std::time::Instant::now(),
            error: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first error met while writing, if any.
    pub fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }

    fn write(&mut self, event: &RunEvent) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        serde_json::to_writer(&mut *file, event)?;
        file.write_all(b"\n")?;
        // A finished step reaches the OS soon, without a write for every event.
        let due = match event.kind {
            crate::exec::EventKind::RunFinished { .. } => true,
            crate::exec::EventKind::StepFinished { .. } => self.flushed.elapsed() >= FLUSH_EVERY,
            _ => false,
        };
        if due {
            file.flush()?;
            self.flushed = std::time::Instant::now();
        }
        Ok(())
    }
}

impl Sink for Journal {
    fn name(&self) -> &'static str {
        "journal"
    }

    fn handle(&mut self, event: &RunEvent) {
        if let Err(e) = self.write(event) {
            self.error.get_or_insert(e);
            // Stop writing: a journal with a hole would mislead.
            self.file = None;
        }
    }

    fn finish(&mut self) {
        if let Some(file) = self.file.as_mut()
            && let Err(e) = file.flush().and_then(|()| file.get_ref().sync_data())
        {
            self.error.get_or_insert(e);
        }
    }
}
