//! The executor's only output: a stream of events. Every report is a pure function of it.

use crate::model::{AlertKind, AlertState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Something that happened during a run. As a journal line: `at` (RFC 3339, UTC),
/// `elapsed_ms`, and the event's own fields beside its `event` name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEvent {
    /// Wall-clock time (for logs only, never for decisions or digests).
    #[serde(with = "rfc3339")]
    pub at: SystemTime,
    /// Virtual time since the run started.
    #[serde(rename = "elapsed_ms", with = "millis")]
    pub elapsed: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Durations as milliseconds (a float: sub-millisecond precision is kept).
pub mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1_000_000.0).round() / 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom)
    }
}

/// Wall-clock times as RFC 3339 text, UTC, to the millisecond.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let at = chrono::DateTime::<chrono::Utc>::from(*at);
        s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(SystemTime::from)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    RunStarted(RunStarted),
    SandboxStarted {
        name: String,
        url: String,
    },
    SandboxStopped {
        name: String,
        summary: SandboxSummary,
    },
    StepStarted {
        step: usize,
    },
    /// A line in the spec's words (`Server error 503, retrying in 2.0s (attempt 1/3)`).
    StepLog {
        step: usize,
        message: String,
    },
    /// A `call` step is about to deliver `event` to the webhook `webhook`; `delivery_id` is
    /// random and the same for every retry.
    DeliveryStarted {
        step: usize,
        webhook: String,
        #[serde(rename = "webhook_event")]
        event: String,
        database: String,
        delivery_id: String,
    },
    AttemptFinished {
        step: usize,
        attempt: Attempt,
    },
    CircuitChanged {
        target: String,
        from: String,
        to: String,
        reason: String,
    },
    StepFinished {
        step: usize,
        outcome: StepOutcome,
    },
    StepSkipped {
        step: usize,
        reason: String,
    },
    /// The alert evaluator saw a condition fire, hold for another window, or clear. Derived
    /// from the deliveries before it; its fields are the tool's own numbers, never run text.
    Alert(Alert),
    RunFinished {
        interrupted: bool,
        #[serde(rename = "real_duration_ms", with = "millis")]
        real_duration: Duration,
    },
}

/// One alert notice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub state: AlertState,
    /// What the condition measured: percent (failure-rate), a count (auth-failures) or
    /// milliseconds (latency, the p95).
    pub value: f64,
    /// Its threshold, in the same unit.
    pub threshold: f64,
    /// Deliveries in the window when it was measured.
    pub deliveries: u64,
    pub window_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStarted {
    pub plan: String,
    pub path: String,
    pub description: Option<String>,
    pub canonical_hash: String,
    pub seed: u64,
    pub jobs: usize,
    pub time_scale: f64,
    pub dry_run: bool,
    /// Variables as resolved, secrets masked.
    pub variables: Vec<(String, String)>,
    pub steps: Vec<StepInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepInfo {
    pub name: String,
    pub kind: String,
    pub needs: Vec<String>,
    pub tags: Vec<String>,
    pub continue_on_error: bool,
    pub always: bool,
}

/// One request a step sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    /// 1 for the first request.
    pub n: u32,
    pub method: String,
    /// The URL, with what secrets filled in masked.
    pub url: String,
    /// Virtual time from the step's start to this request.
    #[serde(rename = "offset_ms", with = "millis")]
    pub offset: Duration,
    /// The wait scheduled before this request (zero for the first).
    #[serde(rename = "scheduled_delay_ms", with = "millis")]
    pub scheduled_delay: Duration,
    pub outcome: OutcomeClass,
    /// Real time the request took.
    #[serde(rename = "duration_ms", with = "millis")]
    pub duration: Duration,
    /// What went wrong when there was no response, in words.
    pub error: Option<String>,
}

/// What one attempt came to, as reports and digests name it: a status code (`503`), `timeout`,
/// `connect`, `reset`, `circuit-open`, or `error` (anything else; its words are in `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum OutcomeClass {
    Status(u16),
    Timeout,
    Connect,
    Reset,
    CircuitOpen,
    Error,
}

impl OutcomeClass {
    pub fn is_success(self) -> bool {
        matches!(self, Self::Status(200..=299))
    }
}

impl std::fmt::Display for OutcomeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(status) => write!(f, "{status}"),
            Self::Timeout => f.write_str("timeout"),
            Self::Connect => f.write_str("connect"),
            Self::Reset => f.write_str("reset"),
            Self::CircuitOpen => f.write_str("circuit-open"),
            Self::Error => f.write_str("error"),
        }
    }
}

impl From<OutcomeClass> for String {
    fn from(class: OutcomeClass) -> String {
        class.to_string()
    }
}

impl TryFrom<String> for OutcomeClass {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Ok(match text.as_str() {
            "timeout" => Self::Timeout,
            "connect" => Self::Connect,
            "reset" => Self::Reset,
            "circuit-open" => Self::CircuitOpen,
            "error" => Self::Error,
            code => Self::Status(
                code.parse()
                    .map_err(|_| format!("\"{code}\" is not an outcome class"))?,
            ),
        })
    }
}

/// How a step ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepOutcome {
    pub status: StepStatus,
    /// Why it failed, in one line (None when it passed).
    pub message: Option<String>,
    pub assertions: Vec<Assertion>,
    /// Captured values, secrets masked.
    pub captures: Vec<(String, String)>,
    pub request: Option<RequestSummary>,
    pub response: Option<ResponseSummary>,
    /// Virtual time the step took (attempts and waits).
    #[serde(rename = "duration_ms", with = "millis")]
    pub duration: Duration,
    /// Real time the step took.
    #[serde(rename = "real_duration_ms", with = "millis")]
    pub real_duration: Duration,
    /// What the step did in detail, for step kinds with more to say (a sandbox's recordings).
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    /// The step ran and an expectation did not hold.
    Failed,
    /// The step could not complete (no response, a timeout, a bad template, a missing file).
    Errored,
    /// Failed or errored, but `continue-on-error` lets the run go on as if it had passed.
    FailedAllowed,
    Skipped,
    /// `--dry-run`: resolved, nothing sent.
    DryRun,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Errored => "errored",
            StepStatus::FailedAllowed => "failed-allowed",
            StepStatus::Skipped => "skipped",
            StepStatus::DryRun => "dry-run",
        }
    }

    /// Whether steps that need this one may run.
    pub fn satisfies_needs(self) -> bool {
        matches!(
            self,
            StepStatus::Passed | StepStatus::FailedAllowed | StepStatus::DryRun
        )
    }

    pub fn is_failure(self) -> bool {
        matches!(self, StepStatus::Failed | StepStatus::Errored)
    }
}

/// One expectation checked, with what was expected and what was found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Assertion {
    /// e.g. `status`, `attempts`, `header content-type`, `json /data/id`, `count`.
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

impl Assertion {
    pub fn new(
        name: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        passed: bool,
    ) -> Self {
        Self {
            name: name.into(),
            expected: expected.into(),
            actual: actual.into(),
            passed,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestSummary {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResponseSummary {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
}

/// A body as stored in a report: capped, and marked when cut.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Body {
    pub text: String,
    /// The body's full size in bytes.
    pub size: usize,
    pub truncated: bool,
}

/// Bodies stored in reports are cut to this many bytes.
pub const BODY_CAP: usize = 64 * 1024;

impl Body {
    pub fn capture(bytes: &[u8]) -> Self {
        let cut = bytes.len().min(BODY_CAP);
        let text = String::from_utf8_lossy(&bytes[..cut]).into_owned();
        // A cut inside a UTF-8 sequence leaves a replacement character: drop it.
        let text = if cut < bytes.len() {
            text.trim_end_matches('\u{fffd}').to_string()
        } else {
            text
        };
        Self {
            text,
            size: bytes.len(),
            truncated: cut < bytes.len(),
        }
    }
}

/// What a sandbox recorded during a run, as the report and the digest see it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SandboxSummary {
    pub name: String,
    pub requests: usize,
    /// Requests per endpoint (`POST /webhook/payment`, `/webhook/*`, `not found`).
    pub endpoints: BTreeMap<String, usize>,
    /// Requests per injected fault, and per status the sandbox answered with.
    pub faults: BTreeMap<String, usize>,
    pub statuses: BTreeMap<String, usize>,
    /// The recordings as a sorted multiset of (endpoint, method, path, fingerprint, occurrence,
    /// fault, status): what arrived, not in which order.
    pub recordings: Vec<[String; 7]>,
}
