//! Where a run's log lines go: the human console (`--log-format text`, the default) or JSON
//! lines on stderr (`--log-format json`), plus the project config's log file when it names one.

use super::CliError;
use crate::exec::{Finished, Sink, Sinks};
use crate::report::json_log::JsonLog;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people
    #[default]
    Text,
    /// One JSON object per line (run, step, webhook, event, attempt, status, latency)
    Json,
}

/// How a command logs.
#[derive(Debug, Clone, Default)]
pub struct LogSetup {
    pub format: LogFormat,
    /// The project config's `logging { file "…" }`.
    pub file: Option<PathBuf>,
}

impl LogSetup {
    /// The run's log sinks: `text` (the command's console) or JSON lines on stderr, and the
    /// log file. The run's id is its folder's name.
    pub fn sinks(&self, sinks: Sinks, text: impl Sink, run_dir: &Path) -> Result<Sinks, CliError> {
        let run = run_dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut sinks = match self.format {
            LogFormat::Text => sinks.lossy(text),
            LogFormat::Json => sinks.lossy(JsonLog::new(
                "console",
                Box::new(std::io::LineWriter::new(std::io::stderr())),
                &run,
            )),
        };
        if let Some(path) = &self.file {
            let log = JsonLog::file(path, &run).map_err(|e| {
                CliError::io(format!("cannot open the log file {}", path.display()), &e)
            })?;
            sinks = sinks.lossless(log);
        }
        Ok(sinks)
    }

    /// After the run: a log that could not be written completely is said so.
    pub fn finish(&self, sinks: &mut Finished) {
        while let Some(log) = sinks.take::<JsonLog>() {
            if let Some(e) = log.error() {
                let target = match (log.is_file(), &self.file) {
                    (true, Some(path)) => format!("the log file {}", path.display()),
                    _ => "the log".to_string(),
                };
                eprintln!(
                    "warning: {target} is incomplete: {}",
                    crate::io_error::describe(e)
                );
            }
        }
    }
}
