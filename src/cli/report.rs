//! `hookplan report REPORT.json --format junit|markdown|json`

use super::{CliError, ExitCode};
use crate::report::{self, Format, Report};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A report.json written by `hookplan run`
    #[arg(value_name = "REPORT.json")]
    pub report: PathBuf,

    /// What to write
    #[arg(long, value_enum)]
    pub format: Format,

    /// Write here instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<ExitCode, CliError> {
    let text = std::fs::read_to_string(&args.report).map_err(|e| {
        CliError::io(format!("cannot read {}", args.report.display()), &e)
            .with_code(ExitCode::Invalid)
    })?;
    let parsed: Report = serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "{} is not a hookplan report: {e}",
            args.report.display()
        ))
        .with_help("pass the report.json that `hookplan run --report-dir DIR` wrote")
    })?;
    let rendered = report::render(&parsed, args.format);
    match &args.out {
        Some(path) => {
            crate::atomic_write::write(path, rendered.as_bytes(), crate::atomic_write::Access::Keep)
                .map_err(|e| CliError::io(format!("cannot write {}", path.display()), &e))?
        }
        None => print!("{rendered}"),
    }
    Ok(ExitCode::Success)
}
