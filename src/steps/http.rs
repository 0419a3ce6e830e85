//! The `http` step: build the request from templates, send it (with the step's retry policy),
//! check the expectations, take the captures.

use super::{KindFuture, Runner, StepCall, capture, expect};
use crate::clock::Timeline;
use crate::exec::event::{Body as ReportBody, RequestSummary, ResponseSummary};
use crate::exec::{Attempt, EventKind, RunContext, StepOutcome, StepStatus};
use crate::model::{Body, HttpAction, HumanDuration, SignatureScheme, Step};
use crate::observe::{is_credential_name, mask_credential};
use crate::retry::{
    Admission, AttemptOutcome, Backoff, Decision, Transition, decide, parse_retry_after, target_of,
    wording,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Responses larger than this are read only this far (assertions see the cut body).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A request ready to send (templates resolved).
pub struct Prepared {
    pub method: reqwest::Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Signed afresh for each attempt, as webhook senders do (a new timestamp, the same id).
    pub sign: Option<Signing>,
    /// The request as it may be shown, when it was built from templates: what secrets filled
    /// in is masked and nothing else. Without it (a replayed request) values are masked by
    /// what they are.
    pub shown: Option<ShownRequest>,
}

/// A request rendered for display from its templates.
pub struct ShownRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// `None` when the body came from a file.
    pub body: Option<String>,
}

pub struct Signing {
    pub scheme: SignatureScheme,
    pub secret: String,
    /// The message id (`webhook-id`): the same for every attempt of a step.
    pub id: String,
}

/// What one request got.
pub enum Reply {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// No response: what went wrong, and in words.
    Failed {
        outcome: AttemptOutcome,
        error: String,
    },
}

impl Reply {
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            Reply::Response { status, .. } => AttemptOutcome::Status(*status),
            Reply::Failed { outcome, .. } => outcome.clone(),
        }
    }
}

pub const RUNNER: Runner = Runner {
    kind: "http",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let http = match call.action::<HttpAction>() {
        Ok(http) => http,
        Err(outcome) => return *outcome,
    };
    let StepCall {
        ctx,
        index,
        step,
        timeline,
        cancel,
        ..
    } = call;
    match prepare(ctx, step, http) {
        Ok(prepared) => execute(ctx, index, step, prepared, timeline, cancel).await,
        Err(message) => StepOutcome::errored(ctx.redact(&message), timeline.elapsed()),
    }
}

/// Sends a prepared request with the step's retry policy, then checks the step's expectations
/// and takes its captures.
pub async fn execute(
    ctx: &RunContext,
    index: usize,
    step: &Step,
    prepared: Prepared,
    mut timeline: Timeline,
    cancel: CancellationToken,
) -> StepOutcome {
    let started = Instant::now();
    let request = summarize(ctx, &prepared);
    if ctx.dry_run {
        let mut outcome = StepOutcome::errored(String::new(), Duration::ZERO);
        outcome.status = StepStatus::DryRun;
        outcome.message = step.retry.as_ref().map(|p| {
            let schedule: Vec<String> = Backoff::new(p, ctx.random.seed(), &step.name)
                .schedule()
                .into_iter()
                .map(wording::seconds)
                .collect();
            if schedule.is_empty() {
                "no retries".to_string()
            } else {
                format!("would retry after {}", schedule.join(", "))
            }
        });
        outcome.request = Some(request);
        return outcome;
    }
    let policy = step.retry.as_ref();
    let attempt_timeout = step.attempt_timeout.unwrap_or(ctx.plan.attempt_timeout);
    // The lines are the tool's own words around values already masked (the shown URL, the
    // target): masking them again would turn `(attempt 1/3)` into `(attempt ***/3)` for a
    // secret `1`.
    let log = |timeline: &Timeline, message: String| {
        ctx.events.emit(
            timeline,
            EventKind::StepLog {
                step: index,
                message,
            },
        )
    };
    let shown_url = request.url.clone();
    let method = prepared.method.as_str();
    match policy {
        Some(p) => log(
            &timeline,
            wording::request_line(method, &shown_url, p.max_retries),
        ),
        None => log(&timeline, format!("{method} request to {shown_url}")),
    }
    let target = target_of(&prepared.url).unwrap_or_default();
    let shown_target = ctx.redact(&target);
    let breaker = policy.and_then(|p| p.circuit_breaker.as_ref());
    let backoff = policy.map(|p| Backoff::new(p, ctx.random.seed(), &step.name));

    let mut outcomes: Vec<AttemptOutcome> = Vec::new();
    let mut scheduled = Duration::ZERO;
    let mut previous_wait: Option<Duration> = None;
    let mut retries_done = 0u32;
    let mut delays: Vec<Duration> = Vec::new();
    let reply = loop {
        let n = outcomes.len() as u32 + 1;
        let offset = timeline.elapsed();
        let budget = timeline
            .remaining()
            .map_or(attempt_timeout, |left| left.min(attempt_timeout));
        let sent = Instant::now();
        let mut ticket = None;
        if let Some(breaker) = breaker {
            let (admission, transition) = ctx.breakers.admit(&target, breaker, timeline.now());
            if let Some(t) = transition {
                circuit_changed(ctx, index, &timeline, &shown_target, &t);
            }
            match admission {
                Admission::Admitted(t) => ticket = Some(t),
                Admission::Rejected { retry_in } => {
                    log(
                        &timeline,
                        wording::circuit_open_line(&shown_target, retry_in),
                    );
                    break_attempt(
                        ctx,
                        index,
                        &timeline,
                        &request,
                        n,
                        offset,
                        scheduled,
                        &AttemptOutcome::CircuitOpen,
                        Duration::ZERO,
                        Some("circuit open: not sent".into()),
                    );
                    outcomes.push(AttemptOutcome::CircuitOpen);
                    break Reply::Failed {
                        outcome: AttemptOutcome::CircuitOpen,
                        error: format!("circuit open for {shown_target}"),
                    };
                }
            }
        }
        let reply = if budget.is_zero() {
            Reply::Failed {
                outcome: AttemptOutcome::Timeout,
                error: format!(
                    "the step's time ran out after {}",
                    HumanDuration(timeline.elapsed())
                ),
            }
        } else {
            tokio::select! {
                reply = send(&ctx.http, &prepared, budget) => reply,
                _ = cancel.cancelled() => return interrupted(request, &timeline, started),
            }
        };
        let took = sent.elapsed();
        if let Reply::Response { headers, .. } = &reply
            && let Some(delay) = ctx.link.verified_delay(headers)
        {
            timeline.credit(delay, ctx.clock.scaled(delay).min(took));
        }
        let outcome = reply.outcome();
        if let Some(ticket) = ticket
            && let Some(t) = ctx
                .breakers
                .record(&target, ticket, &outcome, timeline.now())
        {
            circuit_changed(ctx, index, &timeline, &shown_target, &t);
        }
        let error = match &reply {
            Reply::Failed { error, .. } => Some(ctx.redact(error)),
            Reply::Response { .. } => None,
        };
        break_attempt(
            ctx, index, &timeline, &request, n, offset, scheduled, &outcome, took, error,
        );
        outcomes.push(outcome.clone());
        let (Some(policy), Some(backoff)) = (policy, &backoff) else {
            break reply;
        };
        match decide(policy, &outcome, retries_done) {
            Decision::Retry => {}
            Decision::Success => break reply,
            Decision::NoRetry(reason) => {
                if let AttemptOutcome::Status(status) = outcome {
                    log(&timeline, wording::response_line(status));
                }
                log(&timeline, wording::no_retry_line(&reason));
                break reply;
            }
            Decision::GiveUp(_) => {
                if let AttemptOutcome::Status(status) = outcome {
                    log(&timeline, wording::response_line(status));
                }
                log(&timeline, wording::give_up_summary(&outcomes));
                break reply;
            }
        }
        let retry_after = match &reply {
            Reply::Response { headers, .. } if policy.respect_retry_after => headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                .and_then(|(_, v)| parse_retry_after(v, ctx.clock.wall_now())),
            _ => None,
        };
        retries_done += 1;
        let wait = backoff.wait(retries_done, previous_wait, retry_after);
        log(
            &timeline,
            wording::retry_line(&outcome, wait.delay, retries_done, policy.max_retries),
        );
        if timeline.would_overrun(wait.delay) {
            break Reply::Failed {
                outcome: AttemptOutcome::Timeout,
                error: format!(
                    "the step's timeout would pass during the {} wait before retry {retries_done}",
                    wording::seconds(wait.delay)
                ),
            };
        }
        tokio::select! {
            _ = timeline.sleep(wait.delay) => {}
            _ = cancel.cancelled() => return interrupted(request, &timeline, started),
        }
        scheduled = wait.delay;
        delays.push(wait.delay);
        previous_wait = Some(wait.delay);
    };

    let attempts = outcomes.len() as u32;
    let duration = timeline.elapsed();
    match reply {
        Reply::Failed { error, outcome } => {
            let sent =
                &outcomes[..outcomes.len() - usize::from(outcome == AttemptOutcome::CircuitOpen)];
            let message = match (&outcome, sent.len()) {
                (AttemptOutcome::CircuitOpen, 0) => format!("{error}: nothing was sent"),
                (AttemptOutcome::CircuitOpen, n) => {
                    let classes: Vec<String> =
                        sent.iter().map(|o| o.class().into_owned()).collect();
                    format!(
                        "{error}: request {} was not sent (the {n} before it got {})",
                        n + 1,
                        classes.join(", ")
                    )
                }
                (_, 0 | 1) => format!("no response: {error}"),
                _ => format!(
                    "no response: {}; last: {error}",
                    wording::give_up_summary(&outcomes)
                ),
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
            // A final answer that ended the retries was already shown with the reason.
            let already_said = match policy {
                Some(p) => {
                    matches!(
                        decide(p, &AttemptOutcome::Status(status), 0),
                        Decision::NoRetry(_)
                    ) || matches!(
                        decide(p, &AttemptOutcome::Status(status), p.max_retries),
                        Decision::GiveUp(_)
                    )
                }
                None => false,
            };
            if !already_said {
                log(&timeline, wording::response_line(status));
            }
            let render = |t: &crate::model::Template| ctx.render(t);
            let received = expect::Received {
                status,
                headers: &headers,
                body: &body,
                attempts,
                duration,
                delays: &delays,
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
            let mut message = match failed.len() {
                0 => None,
                1 => Some(failed[0].clone()),
                n => Some(format!("{n} expectations failed; first: {}", failed[0])),
            };
            if message.is_some()
                && attempts > 1
                && outcomes.iter().rev().skip(1).any(|o| !o.is_success())
            {
                let sent: Vec<String> = outcomes.iter().map(|o| o.class().into_owned()).collect();
                message = message
                    .map(|m| format!("{m} (after {attempts} requests: {})", sent.join(", ")));
            }
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

#[allow(clippy::too_many_arguments)]
fn break_attempt(
    ctx: &RunContext,
    step: usize,
    timeline: &Timeline,
    request: &RequestSummary,
    n: u32,
    offset: Duration,
    scheduled_delay: Duration,
    outcome: &AttemptOutcome,
    duration: Duration,
    error: Option<String>,
) {
    let attempt = Attempt {
        n,
        method: request.method.clone(),
        url: request.url.clone(),
        offset,
        scheduled_delay,
        outcome: outcome.to_class(),
        duration,
        error,
    };
    ctx.events
        .emit(timeline, EventKind::AttemptFinished { step, attempt });
}

fn circuit_changed(
    ctx: &RunContext,
    step: usize,
    timeline: &Timeline,
    target: &str,
    transition: &Transition,
) {
    ctx.events.emit(
        timeline,
        EventKind::StepLog {
            step,
            message: wording::transition_line(target, transition),
        },
    );
    ctx.events.emit(
        timeline,
        EventKind::CircuitChanged {
            target: target.to_string(),
            from: transition.from.to_string(),
            to: transition.to.to_string(),
            reason: transition.reason.to_string(),
        },
    );
}

fn interrupted(request: RequestSummary, timeline: &Timeline, started: Instant) -> StepOutcome {
    let mut outcome = StepOutcome::errored("interrupted".into(), timeline.elapsed());
    outcome.request = Some(request);
    outcome.real_duration = started.elapsed();
    outcome
}

/// Resolves the step's templates into a request, and into the request as it may be shown.
fn prepare(ctx: &RunContext, step: &Step, http: &HttpAction) -> Result<Prepared, String> {
    let url_text = ctx.render(&http.url)?;
    let shown_url_text = ctx.render_shown(&http.url)?;
    let mut url = url::Url::parse(&url_text)
        .map_err(|e| format!("the URL \"{shown_url_text}\" is not valid: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the URL \"{shown_url_text}\" is not http(s)"));
    }
    let mut shown_url = url::Url::parse(&shown_url_text).ok();
    if !http.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &http.query {
            pairs.append_pair(name, &ctx.render(value)?);
        }
        drop(pairs);
        if let Some(shown) = &mut shown_url {
            let mut pairs = shown.query_pairs_mut();
            for (name, value) in &http.query {
                pairs.append_pair(name, &ctx.render_shown(value)?);
            }
        }
    }
    let mut headers = Vec::new();
    let mut shown_headers = Vec::new();
    for (name, value) in &http.headers {
        let shown = ctx.render_shown(value)?;
        let value = ctx.render(value)?;
        if reqwest::header::HeaderValue::from_str(&value).is_err() {
            return Err(format!(
                "the value of header `{name}` holds characters a header cannot carry"
            ));
        }
        headers.push((name.clone(), value));
        shown_headers.push((name.clone(), shown));
    }
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    let mut shown_body = None;
    let body = match &http.body {
        None => None,
        Some(Body::Text(t)) => {
            shown_body = Some(ctx.render_shown(t)?);
            Some(ctx.render(t)?.into_bytes())
        }
        Some(Body::Json(t)) => {
            let text = render_json(t, |r| ctx.lookup(r))?;
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                format!("the JSON body is not valid JSON once its templates are filled in: {e}")
            })?;
            if !has(&headers, "content-type") {
                headers.push(("content-type".into(), "application/json".into()));
                shown_headers.push(("content-type".into(), "application/json".into()));
            }
            shown_body = Some(render_json(t, |r| ctx.lookup_shown(r))?);
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
    let sign = match &http.sign {
        None => None,
        Some(spec) => Some(Signing {
            scheme: spec.scheme,
            secret: ctx.render(&spec.secret)?,
            id: message_id(ctx, step, body.as_deref().unwrap_or_default()),
        }),
    };
    let shown = ShownRequest {
        // A URL whose host a secret filled in may not parse once masked: shown as written.
        url: shown_url.map_or(shown_url_text, |u| u.to_string()),
        headers: shown_headers,
        body: shown_body,
    };
    Ok(Prepared {
        method,
        url,
        headers,
        body,
        sign,
        shown: Some(shown),
    })
}

/// A message id that is the same for the same step, body and seed: a retried delivery keeps
/// its id, as receivers use it to drop duplicates.
fn message_id(ctx: &RunContext, step: &Step, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(ctx.random.seed().to_le_bytes());
    hasher.update(step.name.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    format!("msg_{}", &hex::encode(hasher.finalize())[..24])
}

/// Renders a JSON body: a value inserted inside a JSON string is escaped for it, so a secret
/// holding a quote cannot break (or inject into) the document; outside strings it goes in as
/// written (`{"amount": ${vars.amount}}`).
pub(super) fn render_json(
    template: &crate::model::Template,
    lookup: impl Fn(&crate::model::Reference) -> Result<String, String>,
) -> Result<String, String> {
    use crate::model::Part;
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for part in &template.parts {
        match part {
            Part::Text(text) => {
                for c in text.chars() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' if in_string => escaped = true,
                        '"' => in_string = !in_string,
                        _ => {}
                    }
                }
                out.push_str(text);
            }
            Part::Ref { reference, .. } => {
                let value =
                    lookup(reference).map_err(|missing| format!("cannot resolve {missing}"))?;
                if in_string {
                    let quoted = serde_json::to_string(&value).expect("a string serializes");
                    out.push_str(&quoted[1..quoted.len() - 1]);
                } else {
                    out.push_str(&value);
                }
            }
        }
    }
    Ok(out)
}

/// The request as reports show it: what secrets filled in masked, credential headers shown
/// as their scheme and a short prefix, the body capped.
fn summarize(ctx: &RunContext, prepared: &Prepared) -> RequestSummary {
    let (url, mut headers, body) = match &prepared.shown {
        Some(shown) => (
            shown.url.clone(),
            shown.headers.clone(),
            match (&shown.body, &prepared.body) {
                (Some(text), _) => Some(ReportBody::capture(text.as_bytes())),
                (None, Some(bytes)) => Some(redacted_body(ctx, bytes)),
                (None, None) => None,
            },
        ),
        None => (
            ctx.redact(prepared.url.as_str()),
            prepared
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), ctx.redact(v)))
                .collect(),
            prepared.body.as_ref().map(|b| redacted_body(ctx, b)),
        ),
    };
    if let Some(signing) = &prepared.sign {
        // The signature is made afresh for each attempt; the report says so instead.
        match signing.scheme {
            SignatureScheme::StandardWebhooks => {
                headers.push((crate::signature::WEBHOOK_ID.into(), signing.id.clone()));
                headers.push((
                    crate::signature::WEBHOOK_SIGNATURE.into(),
                    "v1,(signed when sent)".into(),
                ));
            }
            SignatureScheme::Stripe => headers.push((
                crate::signature::STRIPE_SIGNATURE.into(),
                "t=…,v1=(signed when sent)".into(),
            )),
        }
    }
    RequestSummary {
        method: prepared.method.to_string(),
        url,
        headers: headers
            .into_iter()
            .map(|(k, v)| {
                let shown = if is_credential_name(&k) && !v.contains("(signed when sent)") {
                    mask_credential(&v)
                } else {
                    v
                };
                (k, shown)
            })
            .collect(),
        body,
    }
}

/// A credential header is shown as its scheme and a short prefix; one the tool wrote itself
/// (a placeholder in parentheses) is shown as it is.
fn shown_headers(ctx: &RunContext, headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let shown = if is_credential_name(k) && !v.contains("(signed when sent)") {
                mask_credential(&ctx.redact(v))
            } else {
                ctx.redact(v)
            };
            (k.clone(), shown)
        })
        .collect()
}

/// A body masked by value: inside JSON string values, else as text.
fn redacted_body(ctx: &RunContext, body: &[u8]) -> ReportBody {
    let masked = ctx.redact_body(body);
    let mut captured = ReportBody::capture(&masked);
    captured.size = body.len();
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
    if let Some(signing) = &prepared.sign {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let body = prepared.body.as_deref().unwrap_or_default();
        match crate::signature::sign(signing.scheme, &signing.secret, &signing.id, now, body) {
            Ok(headers) => {
                for (name, value) in headers {
                    builder = builder.header(name, value);
                }
            }
            Err(e) => {
                return Reply::Failed {
                    outcome: AttemptOutcome::Other("signature".into()),
                    error: format!("cannot sign the request: {e}"),
                };
            }
        }
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

/// Classifies a request failure: timeout, connect, reset, or another error.
fn failure(error: &reqwest::Error) -> Reply {
    let outcome = if error.is_timeout() {
        AttemptOutcome::Timeout
    } else {
        match AttemptOutcome::from_error_chain(error) {
            AttemptOutcome::Other(_) if error.is_connect() => AttemptOutcome::Connect,
            outcome => outcome,
        }
    };
    let error = match &outcome {
        AttemptOutcome::Timeout => "Timeout".to_string(),
        AttemptOutcome::Connect => "Connection refused".to_string(),
        AttemptOutcome::Reset => "Connection reset".to_string(),
        _ => crate::http_client::innermost_cause(error),
    };
    Reply::Failed { outcome, error }
}
