//! What is published: one JSON object per message, each with a `message_id` unique to it
//! (delivery is at least once, so a subscriber removes duplicates by it). Their JSON Schemas
//! are `schemas/mqtt-request.schema.json`, `mqtt-response.schema.json` and
//! `mqtt-alert.schema.json`.
//!
//! Every field comes from an event, and events arrive with their secrets masked: nothing here
//! reads a credential.

use crate::exec::{Alert, OutcomeClass};
use crate::model::{AlertKind, AlertState};
use serde::Serialize;

/// One attempt of a `call` or `http` step, on `PREFIX/requests`.
#[derive(Debug, Serialize)]
pub struct RequestPayload<'a> {
    pub message_id: &'a str,
    pub plan: &'a str,
    pub step: &'a str,
    /// `call` or `http`.
    pub kind: &'a str,
    #[serde(flatten)]
    pub delivery: &'a Delivery,
    /// 1 for the first request.
    pub attempt: u32,
    pub method: &'a str,
    /// Masked.
    pub url: &'a str,
    pub outcome: OutcomeClass,
    /// The answer's status, when there was one.
    pub status: Option<u16>,
    /// Real time the request took.
    pub latency_ms: f64,
    /// Virtual time since the run started.
    pub at_ms: f64,
}

/// The final result of a `call` or `http` step after its retries, on `PREFIX/responses`.
#[derive(Debug, Serialize)]
pub struct ResponsePayload<'a> {
    pub message_id: &'a str,
    pub plan: &'a str,
    pub step: &'a str,
    pub kind: &'a str,
    #[serde(flatten)]
    pub delivery: &'a Delivery,
    /// `passed` or `failed` (a failure `continue-on-error` allows is still `failed`).
    pub result: &'static str,
    /// The step's status as reports name it (`passed`, `failed`, `errored`, `failed-allowed`).
    pub step_status: &'static str,
    /// The last attempt's outcome and status, if there was an attempt.
    pub outcome: Option<OutcomeClass>,
    pub status: Option<u16>,
    pub attempts: u32,
    /// Virtual time the step took (attempts and waits).
    pub duration_ms: f64,
    pub at_ms: f64,
}

/// What a `call` step delivers; empty for `http` steps.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivery {
    /// The webhook's code.
    pub webhook: Option<String>,
    pub event: Option<String>,
    /// The same for every retry of one delivery.
    pub delivery_id: Option<String>,
}

/// An alert notice, on the alerting mqtt channel's topic.
#[derive(Debug, Serialize)]
pub struct AlertPayload<'a> {
    pub message_id: &'a str,
    pub plan: &'a str,
    pub kind: AlertKind,
    pub state: AlertState,
    pub value: f64,
    pub threshold: f64,
    pub deliveries: u64,
    pub window_ms: u64,
    /// In words, as the log channel writes it.
    pub text: String,
    pub at_ms: f64,
}

impl<'a> AlertPayload<'a> {
    pub fn new(message_id: &'a str, plan: &'a str, alert: &Alert, at_ms: f64) -> Self {
        Self {
            message_id,
            plan,
            kind: alert.kind,
            state: alert.state,
            value: alert.value,
            threshold: alert.threshold,
            deliveries: alert.deliveries,
            window_ms: alert.window_ms,
            text: crate::alerting::message::describe(alert),
            at_ms,
        }
    }
}

/// Milliseconds with microsecond precision, as reports write them.
pub fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The status an outcome carries, if it is one.
pub fn status(outcome: OutcomeClass) -> Option<u16> {
    match outcome {
        OutcomeClass::Status(code) => Some(code),
        _ => None,
    }
}
