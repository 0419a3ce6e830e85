//! `replay`: sends a request a sandbox recorded (same method, headers and body) to a URL.

use super::http::{self, Prepared};
use super::sandboxes::Sandboxes;
use crate::clock::Timeline;
use crate::exec::{RunContext, StepOutcome};
use crate::model::{ReplayAction, Step};
use base64::Engine;
use tokio_util::sync::CancellationToken;

/// Headers that belong to the original connection, not to the request.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "te",
    "upgrade",
    "accept-encoding",
];

pub async fn run(
    ctx: &RunContext,
    index: usize,
    step: &Step,
    spec: &ReplayAction,
    sandboxes: &Sandboxes,
    timeline: Timeline,
    cancel: CancellationToken,
) -> StepOutcome {
    let found = match sandboxes
        .matching(&spec.sandbox, spec.path.as_deref(), None)
        .await
    {
        Ok(found) => found,
        Err(why) => return StepOutcome::errored(ctx.redact(&why), timeline.elapsed()),
    };
    let matched: Vec<_> = found.requests().collect();
    let position = if spec.index > 0 {
        usize::try_from(spec.index - 1).ok()
    } else {
        matched
            .len()
            .checked_sub(spec.index.unsigned_abs() as usize)
    };
    let Some(recorded) = position.and_then(|i| matched.get(i)) else {
        let what = spec
            .path
            .as_deref()
            .map_or("requests".to_string(), |p| format!("requests to {p}"));
        return StepOutcome::errored(
            format!(
                "sandbox {} recorded {} {what}; there is no request {}",
                spec.sandbox.value,
                matched.len(),
                spec.index
            ),
            timeline.elapsed(),
        );
    };
    let target = match ctx.render(&spec.to) {
        Ok(t) => t,
        Err(why) => return StepOutcome::errored(ctx.redact(&why), timeline.elapsed()),
    };
    let url = match url::Url::parse(&target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            return StepOutcome::errored(
                format!("`to` is not an http(s) URL: {}", ctx.redact(&target)),
                timeline.elapsed(),
            );
        }
    };
    let body = if recorded.body_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(&recorded.body)
            .unwrap_or_default()
    } else {
        recorded.body.clone().into_bytes()
    };
    let method = match reqwest::Method::from_bytes(recorded.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            return StepOutcome::errored(
                format!("recorded method {} cannot be sent", recorded.method),
                timeline.elapsed(),
            );
        }
    };
    let prepared = Prepared {
        method,
        url,
        headers: recorded
            .headers
            .iter()
            .filter(|(k, _)| !HOP_BY_HOP.contains(&k.to_ascii_lowercase().as_str()))
            .cloned()
            .collect(),
        body: (!body.is_empty()).then_some(body),
        sign: None,
    };
    let mut outcome = http::execute(ctx, index, step, prepared, timeline, cancel).await;
    let mut details = serde_json::json!({ "replayed": recorded.id, "sandbox": spec.sandbox.value });
    ctx.redact_json(&mut details);
    outcome.details = Some(details);
    outcome
}
