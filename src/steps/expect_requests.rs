//! `expect-requests`: assertions on what a sandbox recorded, each with expected and actual.

use super::sandboxes::{fault_name, status_of};
use super::{KindFuture, Runner, StepCall};
use crate::exec::{Assertion, RunContext, StepOutcome, StepStatus};
use crate::model::{CountExpectation, ExpectRequests, RequestCheck};
use crate::observe::{is_credential_name, mask_credential};
use crate::sandbox::RecordedRequest;
use base64::Engine;
use std::time::{Instant, SystemTime};

/// How many of the matching requests the report lists.
const LISTED: usize = 100;

pub const RUNNER: Runner = Runner {
    kind: "expect-requests",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<ExpectRequests>() {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let StepCall {
        ctx,
        sandboxes,
        timeline,
        ..
    } = call;
    let started = Instant::now();
    let found = match sandboxes
        .matching(&spec.sandbox, spec.path.as_deref(), spec.method.as_deref())
        .await
    {
        Ok(found) => found,
        Err(why) => return StepOutcome::errored(ctx.redact(&why), timeline.elapsed()),
    };
    let matched: Vec<&RecordedRequest> = found.requests().collect();

    let mut assertions = Vec::new();
    // Without a count, at least one request must have arrived: a check over no request at all
    // proves nothing (a mistyped path would pass).
    let count = spec.count.unwrap_or(CountExpectation::AtLeast(1));
    assertions.push(Assertion::new(
        "count",
        count.to_string(),
        matched.len().to_string(),
        count.holds(matched.len() as u32),
    ));
    for check in &spec.checks {
        assertions.push(check_all(ctx, check, &matched));
    }
    for a in &mut assertions {
        a.expected = ctx.redact(&a.expected);
        a.actual = ctx.redact(&a.actual);
    }
    let failed: Vec<&Assertion> = assertions.iter().filter(|a| !a.passed).collect();
    let what = describe(spec);
    let message = match failed.as_slice() {
        [] => None,
        [one] => Some(format!(
            "{what}: {}: expected {}, got {}",
            one.name, one.expected, one.actual
        )),
        [first, ..] => Some(format!(
            "{what}: {} checks failed; first: {}: expected {}, got {}",
            failed.len(),
            first.name,
            first.expected,
            first.actual
        )),
    };
    let listed: Vec<serde_json::Value> = matched
        .iter()
        .take(LISTED)
        .map(|r| serde_json::json!({ "id": r.id, "method": r.method, "path": ctx.redact(&r.path), "status": status_of(r), "fault": fault_name(r) }))
        .collect();
    // Ids, methods, statuses and fault names are the tool's own words: only paths may hold a
    // secret.
    let details = serde_json::json!({ "sandbox": spec.sandbox.value, "recorded": found.all.len(), "matched": matched.len(), "requests": listed });
    let mut outcome = StepOutcome::errored(String::new(), timeline.elapsed());
    outcome.status = if failed.is_empty() {
        StepStatus::Passed
    } else {
        StepStatus::Failed
    };
    outcome.message = message;
    outcome.assertions = assertions;
    outcome.details = Some(details);
    outcome.real_duration = started.elapsed();
    outcome
}

/// `sandbox hooks, POST /webhook/*`.
fn describe(spec: &ExpectRequests) -> String {
    let mut text = format!("sandbox {}", spec.sandbox.value);
    if let Some(method) = &spec.method {
        text.push_str(&format!(", {method}"));
    }
    if let Some(path) = &spec.path {
        text.push_str(&format!(" {path}"));
    }
    text
}

fn body_of(r: &RecordedRequest) -> Vec<u8> {
    if r.body_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(&r.body)
            .unwrap_or_default()
    } else {
        r.body.as_bytes().to_vec()
    }
}

fn header<'a>(r: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first request (by its position among the matching ones) that fails `test`, with why.
fn first_failure<'r>(
    matched: &[&'r RecordedRequest],
    mut test: impl FnMut(&RecordedRequest) -> Result<(), String>,
) -> Option<(usize, &'r RecordedRequest, String)> {
    matched
        .iter()
        .enumerate()
        .find_map(|(i, r)| test(r).err().map(|why| (i + 1, *r, why)))
}

/// Checks every matching request; the actual value names the first one that fails.
fn check_all(ctx: &RunContext, check: &RequestCheck, matched: &[&RecordedRequest]) -> Assertion {
    let verdict =
        |name: String, expected: String, failure: Option<(usize, &RecordedRequest, String)>| {
            match failure {
                None if matched.is_empty() => {
                    Assertion::new(name, expected, "no matching request", true)
                }
                None => Assertion::new(
                    name,
                    expected,
                    format!("all {} as expected", matched.len()),
                    true,
                ),
                Some((n, r, why)) => Assertion::new(
                    name,
                    expected,
                    format!("request {n} ({}): {why}", r.id),
                    false,
                ),
            }
        };
    match check {
        RequestCheck::Method(method) => verdict(
            "method".into(),
            method.clone(),
            first_failure(matched, |r| {
                if r.method.eq_ignore_ascii_case(method) {
                    Ok(())
                } else {
                    Err(r.method.clone())
                }
            }),
        ),
        RequestCheck::Header { name, value } => {
            let expected = match value {
                None => Ok(None),
                Some(t) => ctx.render(t).map(Some),
            };
            let expected = match expected {
                Ok(e) => e,
                Err(why) => return Assertion::new(format!("header {name}"), "a value", why, false),
            };
            let shown = |v: &str| {
                if is_credential_name(name) {
                    mask_credential(v)
                } else {
                    v.to_string()
                }
            };
            let label = expected
                .as_deref()
                .map_or("present".to_string(), |e| format!("\"{}\"", shown(e)));
            verdict(
                format!("header {name}"),
                label,
                first_failure(matched, |r| match (header(r, name), &expected) {
                    (None, _) => Err("absent".into()),
                    (Some(_), None) => Ok(()),
                    (Some(got), Some(want)) if got == want => Ok(()),
                    (Some(got), Some(_)) => Err(format!("\"{}\"", shown(got))),
                }),
            )
        }
        RequestCheck::Json { pointer, value } => verdict(
            format!("json {pointer}"),
            value.to_string(),
            first_failure(matched, |r| {
                let document: serde_json::Value = serde_json::from_slice(&body_of(r))
                    .map_err(|_| "the body is not JSON".to_string())?;
                match document.pointer(pointer) {
                    None => Err("nothing at this pointer".into()),
                    Some(found) if json_equal(found, value) => Ok(()),
                    Some(found) => Err(found.to_string()),
                }
            }),
        ),
        RequestCheck::BodyContains(needle) => verdict(
            "body contains".into(),
            format!("\"{needle}\""),
            first_failure(matched, |r| {
                if String::from_utf8_lossy(&body_of(r)).contains(needle.as_str()) {
                    Ok(())
                } else {
                    Err(format!("not found in {} bytes", r.body_size))
                }
            }),
        ),
        RequestCheck::Signature {
            scheme,
            secret,
            tolerance,
        } => {
            let secret = match ctx.render(secret) {
                Ok(s) => s,
                Err(why) => {
                    return Assertion::new(
                        format!("signature {}", scheme.as_str()),
                        "valid",
                        why,
                        false,
                    );
                }
            };
            verdict(
                format!("signature {}", scheme.as_str()),
                "valid".into(),
                first_failure(matched, |r| {
                    // Checked against the time the request arrived, not now: a recording stays valid.
                    let arrived = chrono::DateTime::parse_from_rfc3339(&r.timestamp)
                        .map(SystemTime::from)
                        .unwrap_or_else(|_| SystemTime::now());
                    let headers = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                    crate::signature::verify(
                        *scheme,
                        &secret,
                        headers,
                        &body_of(r),
                        arrived,
                        *tolerance,
                    )
                    .map_err(|e| e.to_string())
                }),
            )
        }
        RequestCheck::Order(paths) => {
            let mut seen: Vec<&str> = Vec::new();
            for r in matched {
                if paths.contains(&r.path) && !seen.contains(&r.path.as_str()) {
                    seen.push(&r.path);
                }
            }
            let passed = seen.len() == paths.len() && seen.iter().zip(paths).all(|(a, b)| *a == b);
            Assertion::new(
                "order",
                paths.join(" → "),
                if seen.is_empty() {
                    "none of them arrived".into()
                } else {
                    seen.join(" → ")
                },
                passed,
            )
        }
        RequestCheck::Faults(faults) => {
            let got: Vec<&str> = matched.iter().map(|r| fault_name(r)).collect();
            Assertion::new("faults", faults.join(", "), got.join(", "), got == *faults)
        }
        RequestCheck::Statuses(statuses) => {
            let got: Vec<String> = matched.iter().map(|r| status_of(r)).collect();
            let want: Vec<String> = statuses.iter().map(u16::to_string).collect();
            Assertion::new("statuses", want.join(", "), got.join(", "), got == want)
        }
    }
}

fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
