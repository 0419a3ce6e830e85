//! Alerting: a lossless evaluator over the run's deliveries that emits alert events, and
//! lossy channels that carry them out (the log, Slack; MQTT through the `mqtt` node's sink).
//!
//! The evaluator is a [`crate::exec::Stage`]: it sees every event as it is sent and its
//! alerts follow their source in the stream, so reports and `expect-alerts` see them in
//! order. Only the channels may fall behind or fail, and neither fails the run.

mod conditions;
mod evaluator;
pub mod histogram;
mod lifecycle;
mod log_channel;
pub mod message;
mod record;
mod slack;
pub mod window;

pub use evaluator::AlertEvaluator;
pub use log_channel::LogChannel;
pub use record::{AlertRecord, RaisedAlert};
pub use slack::{SlackChannel, payload as slack_payload};

use crate::exec::values::Values;
use crate::exec::{Finished, Sinks};
use crate::model::{AlertingDecl, ChannelDecl, Reference};

/// The alerting a run evaluates: the plan's (or the project config's) unless it is disabled.
pub fn active(alerting: Option<&AlertingDecl>) -> Option<&AlertingDecl> {
    alerting.filter(|a| a.enabled)
}

/// Adds a lossy sink per channel. Call it inside the run's runtime: the Slack channel posts
/// through it from its own thread.
pub fn add_channels(
    mut sinks: Sinks,
    alerting: Option<&AlertingDecl>,
    values: &Values,
    http: &reqwest::Client,
) -> Sinks {
    let Some(alerting) = active(alerting) else {
        return sinks;
    };
    for channel in &alerting.channels {
        match channel {
            ChannelDecl::Log { .. } => sinks = sinks.lossy(LogChannel),
            ChannelDecl::Slack { url, .. } => {
                let url = url
                    .render(|reference, _| lookup(values, reference))
                    .map_err(|missing| format!("cannot resolve {}", missing.join(", ")));
                sinks = sinks.lossy(SlackChannel::new(
                    url,
                    http.clone(),
                    tokio::runtime::Handle::current(),
                    values.redactor(),
                ));
            }
            // Published by the mqtt connection's own sink (`crate::mqtt`), which reads the
            // channel's topic.
            ChannelDecl::Mqtt { .. } => {}
        }
    }
    sinks
}

/// What the static parts of a run know: the environment, secrets and variables.
pub(crate) fn lookup(values: &Values, reference: &Reference) -> Result<String, String> {
    let found = match reference {
        Reference::Env { name, .. } => values.env.get(name),
        Reference::Secret { name, .. } => values.secrets.get(name),
        Reference::Var { name } => values.vars.get(name),
        _ => None,
    };
    found.cloned().ok_or_else(|| reference.to_string())
}

/// A channel whose posts failed during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelFailures {
    pub channel: &'static str,
    pub failed: u64,
    /// Why the first one failed (no credential in it).
    pub first: Option<String>,
}

/// Takes the channels back after the run and says which failed, and how often.
pub fn channel_failures(finished: &mut Finished) -> Vec<ChannelFailures> {
    let mut failures = Vec::new();
    while let Some(slack) = finished.take::<SlackChannel>() {
        let (failed, first) = slack.failures();
        if failed > 0 {
            failures.push(ChannelFailures {
                channel: "slack",
                failed,
                first: first.map(str::to_string),
            });
        }
    }
    failures
}
