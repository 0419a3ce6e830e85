//! `expect-secrets`: assertions on what a secret store holds when the step runs. A value is
//! compared with what the plan expects and never shown: an assertion says `equal`, `differs`
//! or `absent`, and the expected side is the template with its secrets masked.

use super::{KindFuture, Runner, StepCall};
use crate::exec::{Assertion, StepOutcome, StepStatus};
use crate::model::ExpectSecrets;
use std::time::Instant;

pub const RUNNER: Runner = Runner {
    kind: "expect-secrets",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<ExpectSecrets>() {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let ctx = call.ctx;
    let started = Instant::now();
    let fail =
        |message: String| StepOutcome::errored(ctx.redact(&message), call.timeline.elapsed());
    let opened = match call.store(&spec.store.value).await {
        Ok(opened) => opened,
        Err(why) => return fail(why),
    };
    let path = spec
        .path
        .clone()
        .unwrap_or_else(|| opened.decl.path.clone());
    let mut assertions = Vec::new();
    let mut failures = Vec::new();
    for check in &spec.checks {
        let name = &check.name.value;
        let found = match opened.store.get(&path, name).await {
            Ok(secret) => Some(secret),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                return fail(format!(
                    "reading secret \"{name}\" from secret store \"{}\": {e}",
                    spec.store.value
                ));
            }
        };
        let present = check.present.unwrap_or(true);
        let state = if found.is_some() { "present" } else { "absent" };
        if check.present.is_some() || (check.equals.is_none() && check.version.is_none()) {
            let expected = if present { "present" } else { "absent" };
            let passed = found.is_some() == present;
            assertions.push(Assertion::new(
                format!("secret {name}"),
                expected,
                state,
                passed,
            ));
            if !passed {
                failures.push(format!("secret \"{name}\" is {state} in {path}"));
            }
        }
        if let Some(template) = &check.equals {
            let (expected, shown) = match (ctx.render(template), ctx.render_shown(template)) {
                (Ok(value), Ok(shown)) => (value, shown),
                (Err(why), _) | (_, Err(why)) => return fail(why),
            };
            let actual = match &found {
                None => "absent",
                Some(secret) if secret.value.expose() == expected => "equal",
                Some(_) => "differs",
            };
            let passed = actual == "equal";
            assertions.push(Assertion::new(
                format!("secret {name} value"),
                format!("equals {shown}"),
                actual,
                passed,
            ));
            if !passed {
                failures.push(format!("secret \"{name}\": its value is {actual}"));
            }
        }
        if let Some(version) = check.version {
            let actual = found
                .as_ref()
                .map_or_else(|| "absent".to_string(), |s| s.version.to_string());
            let passed = found.as_ref().is_some_and(|s| s.version == version);
            assertions.push(Assertion::new(
                format!("secret {name} version"),
                version.to_string(),
                actual.clone(),
                passed,
            ));
            if !passed {
                failures.push(format!(
                    "secret \"{name}\": version {actual}, expected {version}"
                ));
            }
        }
    }
    let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
    outcome.status = if failures.is_empty() {
        StepStatus::Passed
    } else {
        StepStatus::Failed
    };
    outcome.message = (!failures.is_empty()).then(|| failures.join("; "));
    outcome.assertions = assertions;
    outcome.details = Some(serde_json::json!({
        "store": spec.store.value,
        "path": path,
        "checked": spec.checks.len(),
    }));
    outcome.real_duration = started.elapsed();
    outcome
}
