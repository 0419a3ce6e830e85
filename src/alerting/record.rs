//! The alerts a run has raised, as the evaluator recorded them: what `expect-alerts` reads.
//!
//! The evaluator writes here inside `Events::emit`, before the delivery that raised the alert
//! is passed on, so a step that needs that delivery starts after the alert is recorded: an
//! `expect-alerts` step never races the evaluator.

use crate::exec::Alert;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One alert notice and when it was raised (virtual time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaisedAlert {
    pub at: Duration,
    pub alert: Alert,
}

/// Shared between the evaluator (which appends) and the run context (which reads).
#[derive(Debug, Clone, Default)]
pub struct AlertRecord(Arc<Mutex<Vec<RaisedAlert>>>);

impl AlertRecord {
    pub fn push(&self, raised: RaisedAlert) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(raised);
    }

    /// Every alert raised so far, in order.
    pub fn raised(&self) -> Vec<RaisedAlert> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
