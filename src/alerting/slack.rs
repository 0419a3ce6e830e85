//! The `slack` channel: each alert POSTed to a Slack incoming webhook, in Slack's payload shape
//! (`text` as the fallback, `blocks` for the layout).
//!
//! A lossy sink on a thread of its own: a slow or failing Slack delays no step. Each post has
//! a short timeout; one that fails is counted and its reason kept (without the URL, which is a
//! credential), and the run goes on.

use super::message;
use crate::exec::{Alert, EventKind, RunEvent, Sink};
use crate::model::HumanDuration;
use crate::observe::Redactor;
use std::time::Duration;

/// How long one post may take.
const POST_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SlackChannel {
    /// The webhook URL, or why it could not be rendered.
    url: Result<String, String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    redactor: Redactor,
    plan: String,
    sent: u64,
    failures: u64,
    first_failure: Option<String>,
}

impl SlackChannel {
    pub fn new(
        url: Result<String, String>,
        http: reqwest::Client,
        runtime: tokio::runtime::Handle,
        mut redactor: Redactor,
    ) -> Self {
        // The URL is the channel's credential, however it was written.
        if let Ok(url) = &url {
            redactor.add(url);
        }
        Self {
            url,
            http,
            runtime,
            redactor,
            plan: String::new(),
            sent: 0,
            failures: 0,
            first_failure: None,
        }
    }

    /// Posts that reached Slack (a 2xx answer).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Posts that did not, and why the first one failed.
    pub fn failures(&self) -> (u64, Option<&str>) {
        (self.failures, self.first_failure.as_deref())
    }

    fn post(&mut self, alert: &Alert, at: Duration) {
        let result = match &self.url {
            Err(why) => Err(why.clone()),
            Ok(url) => {
                let request = self
                    .http
                    .post(url)
                    .timeout(POST_TIMEOUT)
                    .json(&payload(alert, &self.plan, at));
                self.runtime.block_on(async move {
                    match request.send().await {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => {
                            Err(format!("Slack answered {}", response.status().as_u16()))
                        }
                        Err(e) => Err(describe(&e)),
                    }
                })
            }
        };
        match result {
            Ok(()) => self.sent += 1,
            Err(why) => {
                self.failures += 1;
                if self.first_failure.is_none() {
                    self.first_failure = Some(self.redactor.redact(&why).into_owned());
                }
            }
        }
    }
}

impl Sink for SlackChannel {
    fn name(&self) -> &'static str {
        "alert-slack"
    }

    fn handle(&mut self, event: &RunEvent) {
        match &event.kind {
            EventKind::RunStarted(started) => self.plan = started.plan.clone(),
            EventKind::Alert(alert) => self.post(alert, event.elapsed),
            _ => {}
        }
    }
}

/// Slack's incoming-webhook payload: a fallback `text` and the same in `blocks`.
pub fn payload(alert: &Alert, plan: &str, at: Duration) -> serde_json::Value {
    let title = message::title(alert);
    let text = message::describe(alert);
    let context = format!(
        "plan `{plan}` · {} into the run (virtual time)",
        HumanDuration(at)
    );
    serde_json::json!({
        "text": format!("{title}: {text}"),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": title } },
            { "type": "section", "text": { "type": "mrkdwn", "text": text } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context } ] },
        ],
    })
}

/// Why a post failed, in words and without the URL (it is the channel's credential).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {}", HumanDuration(POST_TIMEOUT));
    }
    if error.is_connect() {
        return "cannot connect to Slack".to_string();
    }
    crate::http_client::innermost_cause(error)
}
