//! The `http` step: build the request from templates, send it (with the step's retry policy),
//! check the expectations, take the captures.

use super::{capture, expect};
use crate::clock::Timeline;
use crate::exec::event::{Body as ReportBody, RequestSummary, ResponseSummary};
use crate::exec::{Attempt, EventKind, RunContext, StepOutcome, StepStatus};
use crate::model::{Body, HttpAction, HumanDuration, RetryPolicy, Step};
use crate::observe::{is_credential_header, mask_credential};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Responses larger than this are read only this far (assertions see the cut body).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Header a sandbox adds when it injected a delay, so the virtual clock can count it in full.
pub const SCHEDULED_DELAY_HEADER: &str = "x-hookplan-scheduled-delay-ms";

/// A request ready to send (templates resolved).
pub struct Prepared {
    pub method: reqwest::Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// What one request got.
pub enum Reply {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Failed {
        class: &'static str,
        error: String,
    },
}

impl Reply {
    pub fn class(&self) -> String {
        match self {
            Reply::Response { status, .. } => status.to_string(),
            Reply::Failed { class, .. } => class.to_string(),
        }
    }
}

pub async fn run(
    ctx: &RunContext,
    index: usize,
    step: &Step,
    http: &HttpAction,
    mut timeline: Timeline,
    cancel: CancellationToken,
) -> StepOutcome {
    let started = Instant::now();
    let prepared = match prepare(ctx, http) {
        Ok(p) => p,
        Err(message) => return StepOutcome::errored(ctx.redact(&message), timeline.elapsed()),
    };
    let request = summarize(ctx, &prepared);
    if ctx.dry_run {
        return StepOutcome {
            status: StepStatus::DryRun,
            request: Some(request),
            ..StepOutcome::errored(String::new(), Duration::ZERO)
        }
        .without_message();
    }
    let policy = step.retry.as_ref();
    let attempt_timeout = step.attempt_timeout.unwrap_or(ctx.plan.attempt_timeout);
    let log = |timeline: &Timeline, message: String| {
        ctx.events.emit(
            timeline,
            EventKind::StepLog {
                step: index,
                message: ctx.redact(&message),
            },
        )
    };
    let shown_url = ctx.redact(prepared.url.as_str());
    match policy {
        Some(p) => log(
            &timeline,
            format!(
                "{} request to {shown_url} (max_retries={})",
                prepared.method, p.max_retries
            ),
        ),
        None => log(
            &timeline,
            format!("{} request to {shown_url}", prepared.method),
        ),
    }

    let mut outcomes: Vec<String> = Vec::new();
    let mut scheduled = Duration::ZERO;
    let mut retries_done = 0u32;
    let reply = loop {
        let n = outcomes.len() as u32 + 1;
        let offset = timeline.elapsed();
        let budget = timeline
            .remaining()
            .map_or(attempt_timeout, |left| left.min(attempt_timeout));
        if budget.is_zero() {
            break Reply::Failed {
                class: "timeout",
                error: format!(
                    "the step's time ran out after {}",
                    HumanDuration(timeline.elapsed())
                ),
            };
        }
        let sent = Instant::now();
        let reply = tokio::select! {
            reply = send(&ctx.http, &prepared, budget) => reply,
            _ = cancel.cancelled() => return interrupted(ctx, request, &timeline, started),
        };
        let took = sent.elapsed();
        if let Reply::Response { headers, .. } = &reply
            && let Some(delay) = scheduled_delay(headers)
        {
            timeline.credit(delay, ctx.clock.scaled(delay).min(took));
        }
        let class = reply.class();
        let error = match &reply {
            Reply::Failed { error, .. } => Some(ctx.redact(error)),
            Reply::Response { .. } => None,
        };
        ctx.events.emit(
            &timeline,
            EventKind::AttemptFinished {
                step: index,
                attempt: Attempt {
                    n,
                    offset,
                    scheduled_delay: scheduled,
                    outcome: class.clone(),
                    duration: took,
                    error,
                },
            },
        );
        outcomes.push(class);
        let Some(policy) = policy else { break reply };
        let Some(delay) = retry_delay(policy, &reply, retries_done) else {
            if let Reply::Response { status, .. } = &reply {
                if (400..500).contains(status) && !policy.retry_on.statuses.contains(status) {
                    log(&timeline, format!("Response: {}", status_line(*status)));
                    log(&timeline, "No retry - client error".to_string());
                    break reply;
                }
            }
            break reply;
        };
        retries_done += 1;
        let why = match &reply {
            Reply::Response { status, .. } => format!("Server error {status}"),
            Reply::Failed { error, .. } => format!("Network error: {error}"),
        };
        log(
            &timeline,
            format!(
                "{why}, retrying in {:.1}s (attempt {retries_done}/{})",
                delay.as_secs_f64(),
                policy.max_retries
            ),
        );
        if timeline.would_overrun(delay) {
            break Reply::Failed {
                class: "timeout",
                error: format!(
                    "the step's timeout would pass during the {:.1}s wait before retry {retries_done}",
                    delay.as_secs_f64()
                ),
            };
        }
        tokio::select! {
            _ = timeline.sleep(delay) => {}
            _ = cancel.cancelled() => return interrupted(ctx, request, &timeline, started),
        }
        scheduled = delay;
    };

    let attempts = outcomes.len() as u32;
    let duration = timeline.elapsed();
    match reply {
        Reply::Failed { error, .. } => {
            let message = if attempts > 1 {
                format!(
                    "no response after {attempts} requests ({}): {error}",
                    outcomes.join(", ")
                )
            } else {
                format!("no response: {error}")
            };
            let mut outcome = StepOutcome::errored(ctx.redact(&message), duration);
            outcome.request = Some(request);
            outcome.real_duration = started.elapsed();
            outcome
        }
        Reply::Response {
            status,
            headers,
            body,
        } => {
            if policy.is_none()
                || (200..400).contains(&status)
                || !outcome_is_client_error(&outcomes)
            {
                log(&timeline, format!("Response: {}", status_line(status)));
            }
            let render = |t: &crate::model::Template| ctx.render(t);
            let received = expect::Received {
                status,
                headers: &headers,
                body: &body,
                attempts,
                duration,
            };
            let mut assertions = expect::check(&step.expect, &received, &render);
            let mut captured = HashMap::new();
            let mut shown_captures = Vec::new();
            for c in &step.captures {
                match capture::take(c, status, &headers, &body) {
                    Ok(value) => {
                        if c.secret {
                            ctx.add_secret(&value);
                        }
                        shown_captures.push((c.name.value.clone(), ctx.redact(&value)));
                        captured.insert(c.name.value.clone(), value);
                    }
                    Err(why) => assertions.push(crate::exec::Assertion::new(
                        format!("capture {}", c.name.value),
                        "a value",
                        why,
                        false,
                    )),
                }
            }
            ctx.set_captures(&step.name, captured);
            for a in &mut assertions {
                a.expected = ctx.redact(&a.expected);
                a.actual = ctx.redact(&a.actual);
            }
            let failed: Vec<String> = assertions
                .iter()
                .filter(|a| !a.passed)
                .map(|a| format!("{}: expected {}, got {}", a.name, a.expected, a.actual))
                .collect();
            let message = match failed.len() {
                0 => None,
                1 => Some(failed[0].clone()),
                n => Some(format!("{n} expectations failed; first: {}", failed[0])),
            };
            let response = ResponseSummary {
                status,
                headers: shown_headers(ctx, &headers),
                body: Some(redacted_body(ctx, &body)),
            };
            StepOutcome {
                status: if failed.is_empty() {
                    StepStatus::Passed
                } else {
                    StepStatus::Failed
                },
                message,
                assertions,
                captures: shown_captures,
                request: Some(request),
                response: Some(response),
                duration,
                real_duration: started.elapsed(),
                details: None,
            }
        }
    }
}

fn outcome_is_client_error(outcomes: &[String]) -> bool {
    outcomes
        .last()
        .and_then(|o| o.parse::<u16>().ok())
        .is_some_and(|s| (400..500).contains(&s))
}

/// The wait before the next retry, or `None` when the reply is not retried.
fn retry_delay(policy: &RetryPolicy, reply: &Reply, retries_done: u32) -> Option<Duration> {
    if retries_done >= policy.max_retries {
        return None;
    }
    let retryable = match reply {
        Reply::Response { status, .. } => {
            (*status >= 500 && policy.retry_on.server_errors)
                || policy.retry_on.statuses.contains(status)
        }
        Reply::Failed {
            class: "timeout", ..
        } => policy.retry_on.timeout,
        Reply::Failed {
            class: "connect", ..
        } => policy.retry_on.connect,
        Reply::Failed { class: "reset", .. } => policy.retry_on.reset,
        Reply::Failed { .. } => false,
    };
    if !retryable {
        return None;
    }
    let factor = policy.multiplier.powi(retries_done as i32);
    let delay = Duration::try_from_secs_f64(policy.base_delay.as_secs_f64() * factor)
        .unwrap_or(Duration::MAX);
    Some(policy.max_delay.map_or(delay, |cap| delay.min(cap)))
}

fn interrupted(
    ctx: &RunContext,
    request: RequestSummary,
    timeline: &Timeline,
    started: Instant,
) -> StepOutcome {
    let mut outcome = StepOutcome::errored("interrupted".into(), timeline.elapsed());
    outcome.request = Some(request);
    outcome.real_duration = started.elapsed();
    let _ = ctx;
    outcome
}

fn scheduled_delay(headers: &[(String, String)]) -> Option<Duration> {
    headers
        .iter()
        .find(|(k, _)| k == SCHEDULED_DELAY_HEADER)
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .map(Duration::from_millis)
}

/// `200 OK`, `503 Service Unavailable`.
pub fn status_line(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// Resolves the step's templates into a request.
fn prepare(ctx: &RunContext, http: &HttpAction) -> Result<Prepared, String> {
    let url_text = ctx.render(&http.url)?;
    let mut url = url::Url::parse(&url_text)
        .map_err(|e| format!("the URL \"{url_text}\" is not valid: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the URL \"{url_text}\" is not http(s)"));
    }
    if !http.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &http.query {
            pairs.append_pair(name, &ctx.render(value)?);
        }
    }
    let mut headers = Vec::new();
    for (name, value) in &http.headers {
        let value = ctx.render(value)?;
        if reqwest::header::HeaderValue::from_str(&value).is_err() {
            return Err(format!(
                "the value of header `{name}` holds characters a header cannot carry"
            ));
        }
        headers.push((name.clone(), value));
    }
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    let body = match &http.body {
        None => None,
        Some(Body::Text(t)) => Some(ctx.render(t)?.into_bytes()),
        Some(Body::Json(t)) => {
            let text = ctx.render(t)?;
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                format!("the JSON body is not valid JSON once its templates are filled in: {e}")
            })?;
            if !has(&headers, "content-type") {
                headers.push(("content-type".into(), "application/json".into()));
            }
            Some(text.into_bytes())
        }
        Some(Body::File(path)) => {
            let full = ctx.plan.base_dir.join(&path.value);
            Some(std::fs::read(&full).map_err(|e| {
                format!(
                    "cannot read body file {}: {}",
                    full.display(),
                    crate::io_error::describe(&e)
                )
            })?)
        }
    };
    let method = reqwest::Method::from_bytes(http.method.as_bytes())
        .map_err(|_| format!("bad method {}", http.method))?;
    Ok(Prepared {
        method,
        url,
        headers,
        body,
    })
}

/// The request as reports show it: credentials masked, secrets masked, body capped.
fn summarize(ctx: &RunContext, prepared: &Prepared) -> RequestSummary {
    RequestSummary {
        method: prepared.method.to_string(),
        url: ctx.redact(prepared.url.as_str()),
        headers: shown_headers(ctx, &prepared.headers),
        body: prepared.body.as_ref().map(|b| redacted_body(ctx, b)),
    }
}

fn shown_headers(ctx: &RunContext, headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let shown = if is_credential_header(k) {
                mask_credential(&ctx.redact(v))
            } else {
                ctx.redact(v)
            };
            (k.clone(), shown)
        })
        .collect()
}

fn redacted_body(ctx: &RunContext, body: &[u8]) -> ReportBody {
    let mut captured = ReportBody::capture(body);
    captured.text = ctx.redact(&captured.text);
    captured
}

/// Sends one request with a timeout; the reply or the failure's class.
pub async fn send(client: &reqwest::Client, prepared: &Prepared, timeout: Duration) -> Reply {
    let mut builder = client
        .request(prepared.method.clone(), prepared.url.clone())
        .timeout(timeout);
    for (name, value) in &prepared.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &prepared.body {
        builder = builder.body(body.clone());
    }
    let response = match builder.send().await {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room < chunk.len() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return failure(&e),
        }
    }
    Reply::Response {
        status,
        headers,
        body,
    }
}

/// Classifies a request failure: `timeout`, `connect`, `reset` or `error`.
fn failure(error: &reqwest::Error) -> Reply {
    if error.is_timeout() {
        return Reply::Failed {
            class: "timeout",
            error: "Timeout".into(),
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut reset = false;
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => {
                    return Reply::Failed {
                        class: "connect",
                        error: "Connection refused".into(),
                    };
                }
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => reset = true,
                TimedOut => {
                    return Reply::Failed {
                        class: "timeout",
                        error: "Timeout".into(),
                    };
                }
                _ => {}
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                reset = true;
            }
        }
        source = e.source();
    }
    if reset {
        return Reply::Failed {
            class: "reset",
            error: "Connection reset".into(),
        };
    }
    if error.is_connect() {
        return Reply::Failed {
            class: "connect",
            error: "Connection failed".into(),
        };
    }
    Reply::Failed {
        class: "error",
        error: describe(error),
    }
}

/// The innermost cause of a request error, in words.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text = e.to_string();
        source = e.source();
    }
    text
}

impl StepOutcome {
    fn without_message(mut self) -> Self {
        self.message = None;
        self
    }
}
