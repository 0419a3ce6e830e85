//! Events → report → JSON / JUnit XML / Markdown; live progress on the console.

pub mod console;
pub mod digest;
pub mod journal;
pub mod json_log;
pub mod junit;
pub mod markdown;
pub mod model;

pub use model::{MqttReport, Report, ReportBuilder, RunStatus};

use std::path::Path;

/// The formats a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Junit,
    Markdown,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report).expect("a report serializes");
            text.push('\n');
            text
        }
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
    }
}

/// Writes `report.json`, `junit.xml` and `summary.md` into a folder, each atomically.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<()> {
    crate::atomic_write::private_dir(dir)?;
    for (name, format) in [
        ("report.json", Format::Json),
        ("junit.xml", Format::Junit),
        ("summary.md", Format::Markdown),
    ] {
        crate::atomic_write::write(
            &dir.join(name),
            render(report, format).as_bytes(),
            crate::atomic_write::Access::Keep,
        )?;
    }
    Ok(())
}
