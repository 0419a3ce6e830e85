//! Structured logs: one JSON line per thing worth logging — run, step, webhook code, event,
//! attempt, status, latency — for log shippers (`--log-format json` on stderr, or the project
//! config's `logging { file "…" }`). Events arrive already masked; a line is built only from
//! their fields, so it can hold no value the events do not.

use crate::exec::Sink;
use crate::exec::event::{EventKind, OutcomeClass, RunEvent};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// Lines reach the OS within this much wall time (and everything at the end).
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// One log line. Fields that do not apply are left out.
#[derive(Debug, Serialize)]
struct Line<'a> {
    at: String,
    level: &'static str,
    /// The run's id (its folder in the state directory).
    run: &'a str,
    plan: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    /// The HTTP status, when there was a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// `503`, `timeout`, `connect`, … for an attempt; `passed`, `failed`, … for a step.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f64>,
}

/// What a `call` step delivers, remembered for the lines that follow.
struct Delivery {
    webhook: String,
    event: String,
    delivery_id: String,
}

pub struct JsonLog {
    name: &'static str,
    out: Box<dyn Write + Send>,
    run: String,
    plan: String,
    steps: Vec<String>,
    deliveries: HashMap<usize, Delivery>,
    flushed: Instant,
    /// The first write error; writing stops there.
    error: Option<std::io::Error>,
}

impl JsonLog {
    /// Lines written to `out` (buffer it: lines are flushed every 100 ms and at the end).
    /// `name` is how the sink is named (`console` on stderr, `log` for a file).
    pub fn new(name: &'static str, out: Box<dyn Write + Send>, run: &str) -> Self {
        Self {
            name,
            out,
            run: run.to_string(),
            plan: String::new(),
            steps: Vec::new(),
            deliveries: HashMap::new(),
            flushed: Instant::now(),
            error: None,
        }
    }

    /// A log file, appended to (created owner-only).
    pub fn file(path: &std::path::Path, run: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::atomic_write::private_dir(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self::new(
            "log",
            Box::new(std::io::BufWriter::with_capacity(64 * 1024, file)),
            run,
        ))
    }

    /// Whether it writes a log file (not the console).
    pub fn is_file(&self) -> bool {
        self.name == "log"
    }

    pub fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }

    fn line<'a>(&'a self, event: &RunEvent, level: &'static str, message: String) -> Line<'a> {
        let at = chrono::DateTime::<chrono::Utc>::from(event.at)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Line {
            at,
            level,
            run: &self.run,
            plan: &self.plan,
            message,
            step: None,
            webhook: None,
            event: None,
            delivery_id: None,
            attempt: None,
            method: None,
            url: None,
            status: None,
            outcome: None,
            latency_ms: None,
        }
    }

    /// The line's step, and the delivery that step makes, if it is a call.
    fn for_step<'a>(&'a self, mut line: Line<'a>, step: usize) -> Line<'a> {
        line.step = self.steps.get(step).map(String::as_str);
        if let Some(d) = self.deliveries.get(&step) {
            line.webhook = Some(&d.webhook);
            line.event = Some(&d.event);
            line.delivery_id = Some(&d.delivery_id);
        }
        line
    }

    fn write(&mut self, event: &RunEvent) -> std::io::Result<()> {
        if let EventKind::RunStarted(started) = &event.kind {
            self.plan = started.plan.clone();
            self.steps = started.steps.iter().map(|s| s.name.clone()).collect();
        }
        if let EventKind::DeliveryStarted {
            step,
            webhook,
            event: delivered,
            delivery_id,
            ..
        } = &event.kind
        {
            self.deliveries.insert(
                *step,
                Delivery {
                    webhook: webhook.clone(),
                    event: delivered.clone(),
                    delivery_id: delivery_id.clone(),
                },
            );
        }
        let line = match &event.kind {
            EventKind::RunStarted(started) => self.line(
                event,
                "info",
                format!("run of plan \"{}\" started", started.plan),
            ),
            EventKind::StepLog { step, message } => {
                self.for_step(self.line(event, "info", message.clone()), *step)
            }
            EventKind::DeliveryStarted { step, .. } => {
                self.for_step(self.line(event, "info", "delivery started".into()), *step)
            }
            EventKind::AttemptFinished { step, attempt } => {
                let level = if attempt.outcome.is_success() {
                    "info"
                } else {
                    "warn"
                };
                let message = match &attempt.error {
                    Some(error) => format!("attempt {}: {error}", attempt.n),
                    None => format!("attempt {}: {}", attempt.n, attempt.outcome),
                };
                let mut line = self.for_step(self.line(event, level, message), *step);
                line.attempt = Some(attempt.n);
                line.method = Some(&attempt.method);
                line.url = Some(&attempt.url);
                if let OutcomeClass::Status(status) = attempt.outcome {
                    line.status = Some(status);
                }
                line.outcome = Some(attempt.outcome.to_string());
                line.latency_ms = Some(millis(attempt.duration));
                line
            }
            EventKind::StepFinished { step, outcome } => {
                let passed = outcome.status.satisfies_needs();
                let message = match &outcome.message {
                    Some(m) => format!("step {}: {m}", outcome.status.as_str()),
                    None => format!("step {}", outcome.status.as_str()),
                };
                let level = if passed { "info" } else { "error" };
                let mut line = self.for_step(self.line(event, level, message), *step);
                line.status = outcome.response.as_ref().map(|r| r.status);
                line.outcome = Some(outcome.status.as_str().to_string());
                line.latency_ms = Some(millis(outcome.real_duration));
                line
            }
            EventKind::StepSkipped { step, reason } => {
                let mut line = self.for_step(
                    self.line(event, "warn", format!("skipped: {reason}")),
                    *step,
                );
                line.outcome = Some("skipped".into());
                line
            }
            EventKind::CircuitChanged {
                target,
                from,
                to,
                reason,
            } => self.line(
                event,
                "warn",
                format!("circuit for {target}: {from} → {to} ({reason})"),
            ),
            EventKind::SandboxStarted { name, url } => {
                self.line(event, "info", format!("sandbox {name} listening on {url}"))
            }
            EventKind::SandboxStopped { name, summary } => self.line(
                event,
                "info",
                format!("sandbox {name} recorded {} requests", summary.requests),
            ),
            EventKind::Alert(alert) => {
                let level = match alert.state {
                    crate::model::AlertState::Recovered => "info",
                    _ => "warn",
                };
                self.line(
                    event,
                    level,
                    format!("alert {}", crate::alerting::message::describe(alert)),
                )
            }
            EventKind::StepStarted { .. } => return Ok(()),
            EventKind::RunFinished { interrupted, .. } => {
                let message = if *interrupted {
                    "run interrupted"
                } else {
                    "run finished"
                };
                self.line(event, "info", message.into())
            }
        };
        let mut text = serde_json::to_vec(&line)?;
        text.push(b'\n');
        self.out.write_all(&text)?;
        let due = matches!(event.kind, EventKind::RunFinished { .. })
            || self.flushed.elapsed() >= FLUSH_EVERY;
        if due {
            self.out.flush()?;
            self.flushed = Instant::now();
        }
        Ok(())
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

impl Sink for JsonLog {
    fn name(&self) -> &'static str {
        self.name
    }

    fn handle(&mut self, event: &RunEvent) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.write(event) {
            self.error = Some(e);
        }
    }

    /// Caught up (a lossy sink): what is written so far reaches the reader now.
    fn idle(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) {
        self.idle();
    }
}
