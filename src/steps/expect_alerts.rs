//! `expect-alerts`: assertions on the alerts raised before the step started. The evaluator
//! records each alert before the delivery that raised it is passed on, so every alert raised
//! by the steps this one needs is already there.

use super::{KindFuture, Runner, StepCall};
use crate::exec::{Assertion, StepOutcome, StepStatus};
use crate::model::{CountExpectation, ExpectAlerts, HumanDuration};
use std::time::Instant;

pub const RUNNER: Runner = Runner {
    kind: "expect-alerts",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(async move { run(call) })
}

fn run(call: StepCall<'_>) -> StepOutcome {
    let spec = match call.action::<ExpectAlerts>() {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let started = Instant::now();
    let raised = call.ctx.alerts.raised();
    let matched: Vec<_> = raised
        .iter()
        .filter(|r| spec.kind.is_none_or(|k| r.alert.kind == k) && r.alert.state == spec.state)
        .collect();
    let what = match spec.kind {
        Some(kind) => format!("{} alerts {}", kind.as_str(), spec.state.as_str()),
        None => format!("alerts {}", spec.state.as_str()),
    };
    // Without a count, at least one: a check that nothing in particular happened proves nothing.
    let count = spec.count.unwrap_or(CountExpectation::AtLeast(1));
    let passed = count.holds(matched.len() as u32);
    let assertion = Assertion::new(
        format!("count of {what}"),
        count.to_string(),
        matched.len().to_string(),
        passed,
    );
    let listed: Vec<serde_json::Value> = matched
        .iter()
        .map(|r| {
            serde_json::json!({
                "kind": r.alert.kind,
                "state": r.alert.state,
                "value": r.alert.value,
                "threshold": r.alert.threshold,
                "deliveries": r.alert.deliveries,
                "at_ms": r.at.as_millis() as u64,
            })
        })
        .collect();
    let mut outcome = StepOutcome::errored(String::new(), call.timeline.elapsed());
    outcome.status = if passed {
        StepStatus::Passed
    } else {
        StepStatus::Failed
    };
    outcome.message = (!passed).then(|| {
        let seen = if raised.is_empty() {
            "no alert was raised".to_string()
        } else {
            let last = raised.last().expect("not empty");
            format!(
                "{} alert(s) raised in all, the last {} {} at {}",
                raised.len(),
                last.alert.kind.as_str(),
                last.alert.state.as_str(),
                HumanDuration(last.at)
            )
        };
        format!("{what}: expected {count}, got {} ({seen})", matched.len())
    });
    outcome.assertions = vec![assertion];
    outcome.details = Some(serde_json::json!({
        "kind": spec.kind,
        "state": spec.state,
        "raised": raised.len(),
        "matched": matched.len(),
        "alerts": listed,
    }));
    outcome.real_duration = started.elapsed();
    outcome
}
