//! A Markdown summary fit for a CI job summary.

use super::model::{Report, RunStatus, StepReport};
use crate::exec::event::StepStatus;
use crate::model::HumanDuration;
use std::fmt::Write;
use std::time::Duration;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let icon = match report.status {
        RunStatus::Passed => "✅",
        RunStatus::Failed => "❌",
        RunStatus::Interrupted => "⏹️",
    };
    let _ = writeln!(
        out,
        "## {icon} hookplan: {} — {}\n",
        report.plan.name,
        report.status.as_str()
    );
    if let Some(description) = &report.plan.description {
        let _ = writeln!(out, "{}\n", escape(description));
    }
    let s = &report.summary;
    let counts = s.parts();
    let _ = writeln!(out, "**{} steps:** {}\n", s.total, counts.join(", "));
    let _ = writeln!(out, "| | Step | Kind | Status | Attempts | Time |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for step in &report.steps {
        let status = match (&step.status, &step.message) {
            (StepStatus::Skipped, Some(reason)) => format!("skipped: {}", escape(reason)),
            (status, _) => status.as_str().to_string(),
        };
        let attempts = if step.attempts.is_empty() {
            String::new()
        } else {
            step.attempts.len().to_string()
        };
        let time = if matches!(step.status, StepStatus::Skipped) {
            String::new()
        } else {
            duration(step.timing.duration_ms)
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            status_icon(step.status),
            step.name,
            step.kind,
            status,
            attempts,
            time
        );
    }
    for step in report.steps.iter().filter(|s| {
        matches!(
            s.status,
            StepStatus::Failed | StepStatus::Errored | StepStatus::FailedAllowed
        )
    }) {
        write_failure(&mut out, step);
    }
    if !report.sandboxes.is_empty() {
        let _ = writeln!(out, "\n### Sandboxes\n");
        let _ = writeln!(out, "| Sandbox | Requests | Endpoints | Faults injected |");
        let _ = writeln!(out, "|---|---|---|---|");
        for sandbox in &report.sandboxes {
            let endpoints: Vec<String> = sandbox
                .endpoints
                .iter()
                .map(|(e, n)| format!("`{}` ×{n}", escape(e)))
                .collect();
            let faults: Vec<String> = sandbox
                .faults
                .iter()
                .filter(|(f, _)| *f != "none")
                .map(|(f, n)| format!("{f} ×{n}"))
                .collect();
            let faults = if faults.is_empty() {
                "none".to_string()
            } else {
                faults.join(", ")
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                sandbox.name,
                sandbox.requests,
                endpoints.join(", "),
                faults
            );
        }
    }
    if !report.circuit_breakers.is_empty() {
        let _ = writeln!(out, "\n### Circuit breakers\n");
        for change in &report.circuit_breakers {
            let _ = writeln!(
                out,
                "- `{}`: {} → {} ({})",
                change.target,
                change.from,
                change.to,
                escape(&change.reason)
            );
        }
    }
    let _ = writeln!(
        out,
        "\n<sub>seed {} · plan `{}` · digest `{}` · {} virtual, {} real</sub>",
        report.seed,
        report.plan.path,
        report.digest,
        duration(report.timing.virtual_duration_ms),
        duration(report.timing.real_duration_ms)
    );
    out
}

fn write_failure(out: &mut String, step: &StepReport) {
    let _ = writeln!(out, "\n### {} `{}`\n", status_icon(step.status), step.name);
    if let Some(message) = &step.message {
        let _ = writeln!(out, "{}\n", escape(message));
    }
    if !step.assertions.is_empty() {
        let _ = writeln!(out, "| | Expectation | Expected | Actual |");
        let _ = writeln!(out, "|---|---|---|---|");
        for a in &step.assertions {
            let mark = if a.passed { "✅" } else { "❌" };
            let _ = writeln!(
                out,
                "| {mark} | {} | `{}` | `{}` |",
                escape(&a.name),
                code(&a.expected),
                code(&a.actual)
            );
        }
        out.push('\n');
    }
    if !step.attempts.is_empty() {
        let attempts: Vec<String> = step
            .attempts
            .iter()
            .map(|a| {
                if a.scheduled_delay_ms > 0 {
                    format!(
                        "{} (after {})",
                        a.outcome,
                        HumanDuration(Duration::from_millis(a.scheduled_delay_ms))
                    )
                } else {
                    a.outcome.clone()
                }
            })
            .collect();
        let _ = writeln!(out, "Attempts: {}\n", attempts.join(" → "));
    }
}

fn status_icon(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "✅",
        StepStatus::Failed | StepStatus::Errored => "❌",
        StepStatus::FailedAllowed => "⚠️",
        StepStatus::Skipped => "⏭️",
        StepStatus::DryRun => "📝",
    }
}

fn duration(ms: f64) -> String {
    HumanDuration(Duration::from_secs_f64(ms.max(0.0) / 1000.0)).to_string()
}

/// Text safe inside a table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn code(text: &str) -> String {
    escape(text).replace('`', "'")
}
