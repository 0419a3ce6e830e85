//! Rendering errors and diagnostics for people: colour only on a terminal and without
//! `NO_COLOR`, a fixed width when not on a terminal so output is stable.

use super::error::{CliError, ErrorKind};
use crate::plan::{FileDiagnostics, PlanErrors};
use miette::{GraphicalReportHandler, GraphicalTheme};
use std::io::{IsTerminal, Write};

/// Width used when stderr is not a terminal.
const PLAIN_WIDTH: usize = 100;

pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn handler() -> GraphicalReportHandler {
    let theme = if use_color() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let width = if std::io::stderr().is_terminal() {
        terminal_width().unwrap_or(PLAIN_WIDTH)
    } else {
        PLAIN_WIDTH
    };
    GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false)
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse().ok()
}

/// Diagnostics shown per file: past this many, the rest are only counted (each one rendered
/// costs a pass over the file, and nobody reads a thousand).
const MAX_SHOWN: usize = 50;

/// Renders the diagnostics of a file (errors and warnings) to a string.
pub fn diagnostics(file: &FileDiagnostics) -> String {
    let handler = handler();
    let mut out = String::new();
    for diagnostic in file.bound().take(MAX_SHOWN) {
        let _ = handler.render_report(&mut out, &diagnostic);
        out.push('\n');
    }
    let hidden = file.diagnostics.len().saturating_sub(MAX_SHOWN);
    if hidden > 0 {
        out.push_str(&format!(
            "… and {hidden} more in {} (showing the first {MAX_SHOWN})\n",
            file.file.name
        ));
    }
    out
}

pub fn plan_errors(errors: &PlanErrors) -> String {
    let mut out = String::new();
    for file in &errors.files {
        out.push_str(&diagnostics(file));
        let count = file.errors();
        out.push_str(&format!(
            "error: {} has {count} error{}\n",
            file.file.name,
            if count == 1 { "" } else { "s" }
        ));
    }
    out
}

/// The one place an error reaches the user.
pub fn error(error: &CliError) {
    let text = match &error.kind {
        ErrorKind::Plan(errors) => plan_errors(errors),
        ErrorKind::Message { message, help } => {
            let mut text = format!("error: {message}\n");
            if let Some(help) = help {
                text.push_str(&format!("  help: {help}\n"));
            }
            text
        }
    };
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
