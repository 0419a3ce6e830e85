//! The MQTT sink: turns the run's events into messages for one connection.
//!
//! A lossy sink (on a thread of its own behind a bounded queue): it never delays a step, and
//! the connection it feeds never waits for the broker either. At the end of the run it waits
//! a short, bounded time for the outbox to empty and then counts what is left.

use super::connection::{Connection, Counts};
use super::outbox::Message;
use super::payload::{self, AlertPayload, Delivery, RequestPayload, ResponsePayload};
use crate::exec::{Attempt, EventKind, OutcomeClass, RunEvent, Sink, StepOutcome, StepStatus};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// Step kinds whose attempts and results are published.
const PUBLISHED_KINDS: &[&str] = &["call", "http"];

pub struct MqttSink {
    /// The connection's name in the plan.
    name: String,
    connection: Option<Connection>,
    /// Why there is no connection (an unresolvable URL or password), without a secret.
    setup_error: Option<String>,
    requests_topic: Arc<str>,
    responses_topic: Arc<str>,
    /// The alerting mqtt channel's topic, when it names this connection.
    alerts_topic: Option<Arc<str>>,
    drain: Duration,
    /// Random per run: message ids are `RUN-SEQ`, unique across runs too.
    run_key: String,
    seq: u64,
    plan: String,
    steps: Vec<Tracked>,
    /// Messages not made because there was no connection.
    lost: u64,
    counts: Counts,
    id: String,
}

/// What is remembered of a published step while it runs.
#[derive(Default)]
struct Tracked {
    name: String,
    kind: String,
    published: bool,
    delivery: Delivery,
    attempts: u32,
    last: Option<OutcomeClass>,
}

/// Where one sink publishes.
pub struct Topics {
    pub prefix: String,
    pub alerts: Option<String>,
}

impl MqttSink {
    pub fn new(
        name: String,
        connection: Result<Connection, String>,
        topics: Topics,
        drain: Duration,
        run_key: String,
    ) -> Self {
        let (connection, setup_error) = match connection {
            Ok(c) => (Some(c), None),
            Err(why) => (None, Some(why)),
        };
        Self {
            name,
            connection,
            setup_error,
            requests_topic: Arc::from(format!("{}/requests", topics.prefix)),
            responses_topic: Arc::from(format!("{}/responses", topics.prefix)),
            alerts_topic: topics.alerts.map(Arc::from),
            drain,
            run_key,
            seq: 0,
            plan: String::new(),
            steps: Vec::new(),
            lost: 0,
            counts: Counts::default(),
            id: String::new(),
        }
    }

    /// The connection's name in the plan.
    pub fn connection_name(&self) -> &str {
        &self.name
    }

    /// Published, dropped (outbox full) and unpublished messages; complete after the run.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Why nothing could be published, if the connection could not even be set up.
    pub fn setup_error(&self) -> Option<&str> {
        self.setup_error.as_deref()
    }

    /// The next message id.
    fn next_id(&mut self) -> u64 {
        self.seq += 1;
        self.id.clear();
        self.id.push_str(&self.run_key);
        self.id.push('-');
        self.id.push_str(itoa::Buffer::new().format(self.seq));
        self.seq
    }

    fn send(&mut self, seq: u64, topic: Arc<str>, payload: Vec<u8>) {
        match &self.connection {
            Some(connection) => connection.offer(Message {
                seq,
                topic,
                payload: Bytes::from(payload),
            }),
            None => self.lost += 1,
        }
    }

    fn attempt(&mut self, step: usize, attempt: &Attempt, at: Duration) {
        if !self.steps.get(step).is_some_and(|t| t.published) {
            return;
        }
        let seq = self.next_id();
        let tracked = &mut self.steps[step];
        tracked.attempts = tracked.attempts.max(attempt.n);
        tracked.last = Some(attempt.outcome);
        let body = RequestPayload {
            message_id: &self.id,
            plan: &self.plan,
            step: &tracked.name,
            kind: &tracked.kind,
            delivery: &tracked.delivery,
            attempt: attempt.n,
            method: &attempt.method,
            url: &attempt.url,
            outcome: attempt.outcome,
            status: payload::status(attempt.outcome),
            latency_ms: payload::millis(attempt.duration),
            at_ms: payload::millis(at),
        };
        let bytes = serde_json::to_vec(&body).expect("payloads serialize");
        let topic = self.requests_topic.clone();
        self.send(seq, topic, bytes);
    }

    fn finished(&mut self, step: usize, outcome: &StepOutcome, at: Duration) {
        if !self.steps.get(step).is_some_and(|t| t.published) {
            return;
        }
        if matches!(outcome.status, StepStatus::DryRun | StepStatus::Skipped) {
            return;
        }
        let seq = self.next_id();
        let tracked = &self.steps[step];
        let status = tracked
            .last
            .and_then(payload::status)
            .or(outcome.response.as_ref().map(|r| r.status));
        let body = ResponsePayload {
            message_id: &self.id,
            plan: &self.plan,
            step: &tracked.name,
            kind: &tracked.kind,
            delivery: &tracked.delivery,
            result: if outcome.status == StepStatus::Passed {
                "passed"
            } else {
                "failed"
            },
            step_status: outcome.status.as_str(),
            outcome: tracked.last,
            status,
            attempts: tracked.attempts,
            duration_ms: payload::millis(outcome.duration),
            at_ms: payload::millis(at),
        };
        let bytes = serde_json::to_vec(&body).expect("payloads serialize");
        let topic = self.responses_topic.clone();
        self.send(seq, topic, bytes);
    }
}

impl Sink for MqttSink {
    fn name(&self) -> &'static str {
        "mqtt"
    }

    fn handle(&mut self, event: &RunEvent) {
        match &event.kind {
            EventKind::RunStarted(started) => {
                self.plan = started.plan.clone();
                self.steps = started
                    .steps
                    .iter()
                    .map(|s| Tracked {
                        name: s.name.clone(),
                        published: PUBLISHED_KINDS.contains(&s.kind.as_str()),
                        kind: s.kind.clone(),
                        ..Tracked::default()
                    })
                    .collect();
            }
            EventKind::DeliveryStarted {
                step,
                webhook,
                event: webhook_event,
                delivery_id,
                ..
            } => {
                if let Some(tracked) = self.steps.get_mut(*step) {
                    tracked.delivery = Delivery {
                        webhook: Some(webhook.clone()),
                        event: Some(webhook_event.clone()),
                        delivery_id: Some(delivery_id.clone()),
                    };
                }
            }
            EventKind::AttemptFinished { step, attempt } => {
                self.attempt(*step, attempt, event.elapsed)
            }
            EventKind::StepFinished { step, outcome } => {
                self.finished(*step, outcome, event.elapsed)
            }
            EventKind::Alert(alert) => {
                let Some(topic) = self.alerts_topic.clone() else {
                    return;
                };
                let seq = self.next_id();
                let body =
                    AlertPayload::new(&self.id, &self.plan, alert, payload::millis(event.elapsed));
                let bytes = serde_json::to_vec(&body).expect("payloads serialize");
                self.send(seq, topic, bytes);
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        let Some(connection) = self.connection.take() else {
            self.counts.unpublished = self.lost;
            return;
        };
        connection.drain(self.drain);
        self.counts = connection.close();
        self.counts.unpublished += self.lost;
    }
}
