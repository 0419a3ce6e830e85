//! The `alerting` node: when a run's deliveries should raise an alert, and where alerts go.

use super::{Span, Spanned, Template};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Alerting as a plan or the project config declares it (the plan's wins).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingDecl {
    /// `enabled #false` keeps the settings and evaluates nothing.
    pub enabled: bool,
    /// Percent of the deliveries in the window whose final result failed.
    pub failure_rate_threshold: f64,
    /// 401 and 403 answers in the window.
    pub auth_failure_threshold: u32,
    /// p95 of the deliveries' latency in the window, on the virtual clock.
    pub latency_threshold: Duration,
    /// How far back the conditions look, on the virtual clock.
    pub window: Duration,
    /// No failure-rate alert on fewer deliveries than this in the window.
    pub min_deliveries: u32,
    pub channels: Vec<ChannelDecl>,
    pub span: Span,
}

impl AlertingDecl {
    /// The spec's defaults (`config.yaml`): 10 %, 5 auth failures, 5 s, 5 minutes; 10
    /// deliveries before a failure rate means anything; alerts to the log.
    pub fn new(span: Span) -> Self {
        Self {
            enabled: true,
            failure_rate_threshold: 10.0,
            auth_failure_threshold: 5,
            latency_threshold: Duration::from_secs(5),
            window: Duration::from_secs(5 * 60),
            min_deliveries: 10,
            channels: Vec::new(),
            span,
        }
    }

    pub fn threshold(&self, kind: AlertKind) -> f64 {
        match kind {
            AlertKind::FailureRate => self.failure_rate_threshold,
            AlertKind::AuthFailures => f64::from(self.auth_failure_threshold),
            AlertKind::Latency => self.latency_threshold.as_secs_f64() * 1000.0,
        }
    }
}

/// Where alerts are sent. Channels are lossy: one that fails is reported, never fails the run.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelDecl {
    /// A line on the console and in the logs.
    Log { span: Span },
    /// A Slack incoming webhook.
    Slack { url: Template, span: Span },
    /// A topic of an `mqtt` connection; `connection: None` is the project's only one.
    Mqtt {
        connection: Option<Spanned<String>>,
        topic: String,
        span: Span,
    },
}

impl ChannelDecl {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelDecl::Log { .. } => "log",
            ChannelDecl::Slack { .. } => "slack",
            ChannelDecl::Mqtt { .. } => "mqtt",
        }
    }

    pub fn span(&self) -> Span {
        match self {
            ChannelDecl::Log { span }
            | ChannelDecl::Slack { span, .. }
            | ChannelDecl::Mqtt { span, .. } => *span,
        }
    }
}

/// The channel names `channel "…"` and `channels "…"` accept.
pub const CHANNELS: &[&str] = &["log", "slack", "mqtt"];

/// Where an mqtt channel publishes unless it names a topic.
pub const DEFAULT_ALERT_TOPIC: &str = "webhook/alerts";

/// The secret a Slack channel posts to unless it names a URL (the spec's `channels "slack"`).
pub const DEFAULT_SLACK_URL: &str = "${secret.SLACK_WEBHOOK_URL}";

/// Which condition an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// Failed deliveries ÷ deliveries in the window, in percent.
    FailureRate,
    /// 401 and 403 answers in the window.
    AuthFailures,
    /// p95 of delivery latency in the window, in milliseconds.
    Latency,
}

impl AlertKind {
    pub const ALL: [AlertKind; 3] = [
        AlertKind::FailureRate,
        AlertKind::AuthFailures,
        AlertKind::Latency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::FailureRate => "failure-rate",
            AlertKind::AuthFailures => "auth-failures",
            AlertKind::Latency => "latency",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where an alert is in its life: it fires, may re-notify while its condition holds, and
/// recovers when it clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertState {
    Fired,
    Renotified,
    Recovered,
}

impl AlertState {
    pub const ALL: [AlertState; 3] = [
        AlertState::Fired,
        AlertState::Renotified,
        AlertState::Recovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Fired => "fired",
            AlertState::Renotified => "renotified",
            AlertState::Recovered => "recovered",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}
