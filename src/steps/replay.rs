//! `replay`: sends a request a sandbox recorded (same method, headers and body) to a URL. The
//! same runner serves plans and `hookplan sandbox replay`.

use super::http::{self, Prepared};
use super::{KindFuture, Runner, StepCall};
use crate::exec::StepOutcome;
use crate::model::ReplayAction;
use crate::sandbox::{RecordedRequest, Selection, recording};

pub const RUNNER: Runner = Runner {
    kind: "replay",
    run: start,
};

/// Headers that describe one hop or are recomputed by the client, never copied.
pub const NOT_REPLAYED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "accept-encoding",
];

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<ReplayAction>() {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let StepCall {
        ctx,
        index,
        step,
        sandboxes,
        timeline,
        cancel,
        ..
    } = call;
    let recorded = match spec.folder.as_deref() {
        Some(dir) => from_folder(spec, dir),
        None => match sandboxes
            .matching(&spec.sandbox, spec.path.as_deref(), None)
            .await
        {
            Ok(found) => pick(spec, found.requests().cloned().collect()),
            Err(why) => Err(why),
        },
    };
    let recorded = match recorded {
        Ok(recorded) => recorded,
        Err(why) => return StepOutcome::errored(ctx.redact(&why), timeline.elapsed()),
    };
    let target = match ctx.render(&spec.to) {
        Ok(t) => t,
        Err(why) => return StepOutcome::errored(ctx.redact(&why), timeline.elapsed()),
    };
    let url = match crate::sandbox::replay::target(&recorded, &target) {
        Ok(url) => url,
        Err(_) => {
            return StepOutcome::errored(
                format!("`to` is not an http(s) URL: {}", ctx.redact(&target)),
                timeline.elapsed(),
            );
        }
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
    let body = recorded.body_bytes();
    let prepared = Prepared {
        method,
        url,
        headers: recorded
            .headers
            .iter()
            .filter(|(k, _)| !NOT_REPLAYED.contains(&k.to_ascii_lowercase().as_str()))
            .cloned()
            .collect(),
        body: (!body.is_empty()).then_some(body),
        sign: None,
        shown: None,
    };
    let mut outcome = http::execute(ctx, index, step, prepared, timeline, cancel).await;
    // Ids, names and paths are the tool's own facts: never masked.
    outcome.details = Some(serde_json::json!({
        "replayed": recorded.id,
        "sandbox": spec.sandbox.value,
        "method": recorded.method,
    }));
    outcome
}

/// A recording of a sandbox outside the plan, by id or by path and index.
fn from_folder(spec: &ReplayAction, dir: &std::path::Path) -> Result<RecordedRequest, String> {
    let name = &spec.sandbox.value;
    match &spec.id {
        Some(id) => match recording::find(dir, id) {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(format!(
                "no recorded request \"{id}\" in sandbox \"{name}\""
            )),
            Err(e) => Err(format!("cannot read sandbox \"{name}\"'s recordings: {e}")),
        },
        None => {
            let all = recording::read(dir, Selection::All)
                .map_err(|e| format!("cannot read sandbox \"{name}\"'s recordings: {e}"))?;
            let pattern = spec
                .path
                .as_deref()
                .map(glob::Pattern::new)
                .transpose()
                .map_err(|e| format!("path is not a valid pattern: {e}"))?;
            let matched = all
                .into_iter()
                .filter(|r| pattern.as_ref().is_none_or(|p| p.matches(&r.path)))
                .collect();
            pick(spec, matched)
        }
    }
}

/// The `index`-th of the matching requests (1 = first, -1 = last).
fn pick(spec: &ReplayAction, matched: Vec<RecordedRequest>) -> Result<RecordedRequest, String> {
    if let Some(id) = &spec.id {
        return matched.into_iter().find(|r| &r.id == id).ok_or_else(|| {
            format!(
                "sandbox {} recorded no request \"{id}\"",
                spec.sandbox.value
            )
        });
    }
    let count = matched.len();
    let position = if spec.index > 0 {
        usize::try_from(spec.index - 1).ok()
    } else {
        count.checked_sub(spec.index.unsigned_abs() as usize)
    };
    match position.and_then(|i| matched.into_iter().nth(i)) {
        Some(recorded) => Ok(recorded),
        None => {
            let what = spec
                .path
                .as_deref()
                .map_or("requests".to_string(), |p| format!("requests to {p}"));
            Err(format!(
                "sandbox {} recorded {count} {what}; there is no request {}",
                spec.sandbox.value, spec.index
            ))
        }
    }
}
