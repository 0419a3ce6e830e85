//! Structured logs (tracing) on stderr, off unless `RUST_LOG` asks for them, printed so that
//! they never tear the progress bars.

use indicatif::MultiProgress;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The live progress bars, if any: log lines are printed while they are hidden.
static PROGRESS: OnceLock<Mutex<Option<MultiProgress>>> = OnceLock::new();

fn progress() -> &'static Mutex<Option<MultiProgress>> {
    PROGRESS.get_or_init(|| Mutex::new(None))
}

/// Tells the log writer about the progress bars (or that there are none any more).
pub fn set_progress(multi: Option<MultiProgress>) {
    *progress().lock().unwrap_or_else(|e| e.into_inner()) = multi;
}

/// Installs the subscriber: `RUST_LOG` filters (e.g. `RUST_LOG=hookplan=debug`); nothing is
/// logged without it.
pub fn init(color: bool) {
    let Ok(filter) = EnvFilter::try_from_default_env() else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
        .with_writer(ProgressAware)
        .try_init();
}

struct ProgressAware;

pub struct LineWriter {
    buffer: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.buffer);
        let guard = progress().lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(multi) => multi.suspend(|| {
                let _ = std::io::stderr().lock().write_all(&bytes);
            }),
            None => {
                let _ = std::io::stderr().lock().write_all(&bytes);
            }
        }
    }
}

impl<'a> MakeWriter<'a> for ProgressAware {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { buffer: Vec::new() }
    }
}
