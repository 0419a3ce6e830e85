//! The run report: one model, built from the event stream alone, written as JSON, JUnit or
//! Markdown. Timings live in fields of their own so the rest is reproducible.

use crate::exec::event::{
    Assertion, Body, EventKind, RequestSummary, ResponseSummary, RunEvent, StepStatus,
};
use crate::model::{AlertKind, AlertState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub report_version: u32,
    pub tool: Tool,
    pub plan: PlanInfo,
    pub seed: u64,
    pub dry_run: bool,
    pub time_scale: f64,
    /// Variables as resolved, secrets masked.
    pub variables: BTreeMap<String, String>,
    pub status: RunStatus,
    pub summary: Summary,
    pub steps: Vec<StepReport>,
    /// What each of the plan's sandboxes recorded.
    pub sandboxes: Vec<SandboxReport>,
    pub circuit_breakers: Vec<CircuitChange>,
    /// Every alert notice the evaluator raised, in order. Not in the digest: with several
    /// jobs, when an alert fires follows real time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertReport>,
    /// Alert posts each channel failed to deliver; only channels that failed. Not in the
    /// digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alert_channel_failures: BTreeMap<String, u64>,
    pub timing: RunTiming,
    /// Events each lossy sink (the console) dropped because it fell behind; only those that
    /// did. Not in the digest: it depends on load.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dropped_events: BTreeMap<String, u64>,
    /// What each `mqtt` connection published, dropped (its outbox was full) and left
    /// unpublished at the end of the run; only when the run had a connection. Not in the
    /// digest: it depends on the broker.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mqtt: BTreeMap<String, MqttReport>,
    /// sha256 over what makes this run what it is (see `digest.rs`); the same plan, inputs and
    /// seed give the same digest.
    pub digest: String,
}

/// One `mqtt` connection's messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MqttReport {
    pub published: u64,
    /// Dropped, oldest first, because the outbox was full.
    pub dropped: u64,
    /// Still waiting or unacknowledged when the end of the run stopped waiting.
    pub unpublished: u64,
    /// Why the connection could not be set up at all (nothing was published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanInfo {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub canonical_hash: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Passed,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errored: usize,
    pub failed_allowed: usize,
    pub skipped: usize,
    pub dry_run: usize,
}

impl Summary {
    /// `3 passed, 1 failed, 2 skipped`: what happened, leaving out what did not.
    pub fn parts(&self) -> Vec<String> {
        let mut parts = vec![format!("{} passed", self.passed)];
        for (n, what) in [
            (self.failed, "failed"),
            (self.errored, "errored"),
            (self.failed_allowed, "failed (allowed)"),
            (self.skipped, "skipped"),
            (self.dry_run, "dry run"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        parts
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepReport {
    pub name: String,
    pub kind: String,
    pub status: StepStatus,
    /// Why it failed, errored or was skipped.
    pub message: Option<String>,
    pub needs: Vec<String>,
    pub tags: Vec<String>,
    pub attempts: Vec<AttemptReport>,
    pub assertions: Vec<Assertion>,
    /// Captured values, secrets masked.
    pub captures: BTreeMap<String, String>,
    pub request: Option<RequestSummary>,
    pub response: Option<ResponseSummary>,
    /// What the step said while it ran, in the spec's words.
    pub log: Vec<String>,
    pub details: Option<serde_json::Value>,
    pub timing: StepTiming,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptReport {
    pub n: u32,
    /// A status code, `timeout`, `connect`, `reset`, `circuit-open` or `error`.
    pub outcome: String,
    /// The wait scheduled before this request (what the policy asked for, not what was measured).
    pub scheduled_delay_ms: u64,
    /// Virtual time from the step's start to this request.
    pub offset_ms: f64,
    /// Real time the request took.
    pub duration_ms: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StepTiming {
    /// Virtual time from the run's start to the step's start.
    pub start_ms: f64,
    /// Virtual time the step took.
    pub duration_ms: f64,
    /// Real time the step took.
    pub real_duration_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxReport {
    pub name: String,
    /// Where it listened (a port that changes from run to run: not in the digest).
    pub url: String,
    pub requests: usize,
    pub endpoints: BTreeMap<String, usize>,
    pub faults: BTreeMap<String, usize>,
    pub statuses: BTreeMap<String, usize>,
    /// Sorted multiset of [endpoint, method, path, fingerprint, occurrence, fault, status].
    pub recordings: Vec<[String; 7]>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CircuitChange {
    pub target: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub at_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertReport {
    pub kind: AlertKind,
    pub state: AlertState,
    pub value: f64,
    pub threshold: f64,
    pub deliveries: u64,
    pub window_ms: u64,
    /// Virtual time into the run.
    pub at_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunTiming {
    /// RFC 3339, UTC.
    pub started_at: String,
    pub real_duration_ms: f64,
    pub virtual_duration_ms: f64,
}

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub fn whole_ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Log lines a step keeps in the report from its start, and from its end: a migration of
/// 100,000 webhooks logs a line for each, and the report must not grow with it. The events
/// journal (`events.jsonl`) keeps every line.
pub const LOG_HEAD: usize = 1000;
pub const LOG_TAIL: usize = 1000;

/// Builds a report one event at a time: a lossless sink of the run's events.
pub struct ReportBuilder {
    report: Report,
    interrupted: bool,
    virtual_end: Duration,
    /// Per step: its last lines once it logged more than [`LOG_HEAD`], and how many of those
    /// in between were let go.
    log_tails: Vec<(std::collections::VecDeque<String>, usize)>,
}

impl Default for ReportBuilder {
    fn default() -> Self {
        let report = Report {
            report_version: REPORT_VERSION,
            tool: Tool {
                name: "hookplan".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            plan: PlanInfo {
                name: String::new(),
                path: String::new(),
                description: None,
                canonical_hash: String::new(),
            },
            seed: 0,
            dry_run: false,
            time_scale: 1.0,
            variables: BTreeMap::new(),
            status: RunStatus::Passed,
            summary: Summary::default(),
            steps: Vec::new(),
            sandboxes: Vec::new(),
            circuit_breakers: Vec::new(),
            alerts: Vec::new(),
            alert_channel_failures: BTreeMap::new(),
            timing: RunTiming::default(),
            dropped_events: BTreeMap::new(),
            mqtt: BTreeMap::new(),
            digest: String::new(),
        };
        Self {
            report,
            interrupted: false,
            virtual_end: Duration::ZERO,
            log_tails: Vec::new(),
        }
    }
}

impl crate::exec::Sink for ReportBuilder {
    fn name(&self) -> &'static str {
        "report"
    }

    fn handle(&mut self, event: &RunEvent) {
        self.add(event);
    }
}

impl ReportBuilder {
    pub fn add(&mut self, event: &RunEvent) {
        let report = &mut self.report;
        self.virtual_end = self.virtual_end.max(event.elapsed);
        {
            match &event.kind {
                EventKind::RunStarted(started) => {
                    report.plan = PlanInfo {
                        name: started.plan.clone(),
                        path: started.path.clone(),
                        description: started.description.clone(),
                        canonical_hash: started.canonical_hash.clone(),
                    };
                    report.seed = started.seed;
                    report.dry_run = started.dry_run;
                    report.time_scale = started.time_scale;
                    report.variables = started.variables.iter().cloned().collect();
                    report.timing.started_at = rfc3339(event.at);
                    report.steps = started
                        .steps
                        .iter()
                        .map(|s| StepReport {
                            name: s.name.clone(),
                            kind: s.kind.clone(),
                            status: StepStatus::Skipped,
                            message: Some("did not run".into()),
                            needs: s.needs.clone(),
                            tags: s.tags.clone(),
                            attempts: Vec::new(),
                            assertions: Vec::new(),
                            captures: BTreeMap::new(),
                            request: None,
                            response: None,
                            log: Vec::new(),
                            details: None,
                            timing: StepTiming::default(),
                        })
                        .collect();
                }
                EventKind::StepStarted { step } => {
                    if let Some(s) = report.steps.get_mut(*step) {
                        s.timing.start_ms = ms(event.elapsed);
                    }
                }
                EventKind::StepLog { step, message } => {
                    if let Some(s) = report.steps.get_mut(*step) {
                        if s.log.len() < LOG_HEAD {
                            s.log.push(message.clone());
                        } else {
                            if self.log_tails.len() <= *step {
                                self.log_tails.resize_with(*step + 1, Default::default);
                            }
                            let (tail, dropped) = &mut self.log_tails[*step];
                            tail.push_back(message.clone());
                            if tail.len() > LOG_TAIL {
                                tail.pop_front();
                                *dropped += 1;
                            }
                        }
                    }
                }
                // The step's `details` say the same at its end.
                EventKind::DeliveryStarted { .. } => {}
                EventKind::AttemptFinished { step, attempt } => {
                    if let Some(s) = report.steps.get_mut(*step) {
                        s.attempts.push(AttemptReport {
                            n: attempt.n,
                            outcome: attempt.outcome.to_string(),
                            scheduled_delay_ms: whole_ms(attempt.scheduled_delay),
                            offset_ms: ms(attempt.offset),
                            duration_ms: ms(attempt.duration),
                            error: attempt.error.clone(),
                        });
                    }
                }
                EventKind::StepFinished { step, outcome } => {
                    if let Some(s) = report.steps.get_mut(*step) {
                        s.status = outcome.status;
                        s.message = outcome.message.clone();
                        s.assertions = outcome.assertions.clone();
                        s.captures = outcome.captures.iter().cloned().collect();
                        s.request = outcome.request.clone();
                        s.response = outcome.response.clone();
                        s.details = outcome.details.clone();
                        s.timing.duration_ms = ms(outcome.duration);
                        s.timing.real_duration_ms = ms(outcome.real_duration);
                    }
                }
                EventKind::StepSkipped { step, reason } => {
                    if let Some(s) = report.steps.get_mut(*step) {
                        s.status = StepStatus::Skipped;
                        s.message = Some(reason.clone());
                        s.timing.start_ms = ms(event.elapsed);
                    }
                }
                EventKind::CircuitChanged {
                    target,
                    from,
                    to,
                    reason,
                } => report.circuit_breakers.push(CircuitChange {
                    target: target.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    reason: reason.clone(),
                    at_ms: ms(event.elapsed),
                }),
                EventKind::Alert(alert) => report.alerts.push(AlertReport {
                    kind: alert.kind,
                    state: alert.state,
                    value: alert.value,
                    threshold: alert.threshold,
                    deliveries: alert.deliveries,
                    window_ms: alert.window_ms,
                    at_ms: ms(event.elapsed),
                }),
                EventKind::RunFinished {
                    interrupted: i,
                    real_duration,
                } => {
                    self.interrupted = *i;
                    report.timing.real_duration_ms = ms(*real_duration);
                }
                EventKind::SandboxStarted { name, url } => report.sandboxes.push(SandboxReport {
                    name: name.clone(),
                    url: url.clone(),
                    requests: 0,
                    endpoints: BTreeMap::new(),
                    faults: BTreeMap::new(),
                    statuses: BTreeMap::new(),
                    recordings: Vec::new(),
                }),
                EventKind::SandboxStopped { name, summary } => {
                    if let Some(sandbox) = report.sandboxes.iter_mut().find(|s| &s.name == name) {
                        sandbox.requests = summary.requests;
                        sandbox.endpoints = summary.endpoints.clone();
                        sandbox.faults = summary.faults.clone();
                        sandbox.statuses = summary.statuses.clone();
                        sandbox.recordings = summary.recordings.clone();
                    }
                }
            }
        }
    }

    /// The report of every event added. Pure: the same events give the same report.
    pub fn into_report(self) -> Report {
        let mut report = self.report;
        for (step, (tail, dropped)) in self.log_tails.into_iter().enumerate() {
            if let Some(s) = report.steps.get_mut(step) {
                if dropped > 0 {
                    s.log.push(format!(
                        "… {dropped} line(s) not kept in the report; the events journal (events.jsonl) holds every line"
                    ));
                }
                s.log.extend(tail);
            }
        }
        let interrupted = self.interrupted;
        report.timing.virtual_duration_ms = ms(self.virtual_end);
        report.sandboxes.sort_by(|a, b| a.name.cmp(&b.name));
        let summary = &mut report.summary;
        summary.total = report.steps.len();
        for step in &report.steps {
            match step.status {
                StepStatus::Passed => summary.passed += 1,
                StepStatus::Failed => summary.failed += 1,
                StepStatus::Errored => summary.errored += 1,
                StepStatus::FailedAllowed => summary.failed_allowed += 1,
                StepStatus::Skipped => summary.skipped += 1,
                StepStatus::DryRun => summary.dry_run += 1,
            }
        }
        report.status = if interrupted {
            RunStatus::Interrupted
        } else if summary.failed + summary.errored > 0 {
            RunStatus::Failed
        } else {
            RunStatus::Passed
        };
        report.digest = super::digest::digest(&report);
        report
    }
}

impl Report {
    /// Builds the report from a run's events. Pure: the same events give the same report.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a RunEvent>) -> Report {
        let mut builder = ReportBuilder::default();
        for event in events {
            builder.add(event);
        }
        builder.into_report()
    }

    /// The step's body, for displays: the text, marked when cut.
    pub fn body_text(body: &Body) -> String {
        if body.truncated {
            format!("{}\n… ({} bytes in all)", body.text, body.size)
        } else {
            body.text.clone()
        }
    }
}

fn rfc3339(at: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::event::{RunStarted, StepInfo};

    fn event(kind: EventKind) -> RunEvent {
        RunEvent {
            at: std::time::SystemTime::UNIX_EPOCH,
            elapsed: Duration::ZERO,
            kind,
        }
    }

    #[test]
    fn a_step_keeps_its_first_and_last_lines_and_says_how_many_it_let_go() {
        let started = EventKind::RunStarted(RunStarted {
            plan: "p".into(),
            path: "p.kdl".into(),
            description: None,
            canonical_hash: String::new(),
            seed: 0,
            jobs: 1,
            time_scale: 0.0,
            dry_run: false,
            variables: Vec::new(),
            steps: vec![StepInfo {
                name: "migrate".into(),
                kind: "migrate".into(),
                needs: Vec::new(),
                tags: Vec::new(),
                continue_on_error: false,
                always: false,
            }],
        });
        let lines = LOG_HEAD + LOG_TAIL + 500;
        let mut events = vec![event(started)];
        events.extend((0..lines).map(|n| {
            event(EventKind::StepLog {
                step: 0,
                message: format!("line {n}"),
            })
        }));
        let report = Report::from_events(&events);
        let log = &report.steps[0].log;
        assert_eq!(log.len(), LOG_HEAD + 1 + LOG_TAIL);
        assert_eq!(log[0], "line 0");
        assert_eq!(log[LOG_HEAD - 1], format!("line {}", LOG_HEAD - 1));
        assert!(
            log[LOG_HEAD].starts_with("… 500 line(s) not kept"),
            "{}",
            log[LOG_HEAD]
        );
        assert_eq!(log[LOG_HEAD + 1], format!("line {}", LOG_HEAD + 500));
        assert_eq!(log.last().unwrap(), &format!("line {}", lines - 1));
        // Fewer lines are all kept, with no note.
        let few = Report::from_events(&events[..LOG_HEAD + LOG_TAIL + 1]);
        assert_eq!(few.steps[0].log.len(), LOG_HEAD + LOG_TAIL);
        assert!(few.steps[0].log.iter().all(|l| l.starts_with("line ")));
    }
}
