//! The `log` channel: each alert as a structured log record (`tracing`, target
//! `hookplan::alert`), the way the spec's Python logs a warning. The console and the JSON logs
//! show alerts whatever the channels, since alerts are events of the run.

use super::message;
use crate::exec::{EventKind, RunEvent, Sink};

#[derive(Debug, Default)]
pub struct LogChannel;

impl Sink for LogChannel {
    fn name(&self) -> &'static str {
        "alert-log"
    }

    fn handle(&mut self, event: &RunEvent) {
        if let EventKind::Alert(alert) = &event.kind {
            tracing::warn!(
                target: "hookplan::alert",
                kind = alert.kind.as_str(),
                state = alert.state.as_str(),
                value = alert.value,
                threshold = alert.threshold,
                deliveries = alert.deliveries,
                window_ms = alert.window_ms,
                "{}",
                message::describe(alert)
            );
        }
    }
}
