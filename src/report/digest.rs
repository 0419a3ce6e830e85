//! The run digest: sha256 over a canonical JSON of what makes a run what it is.
//!
//! In it: the plan's canonical hash, the seed, the variables (secrets masked), and per step its
//! name, status, assertion results, captured keys, and per attempt its outcome class and
//! scheduled delay; sandbox recordings as a sorted multiset. Not in it: timings, timestamps,
//! tool version, absolute paths, ports, request ids, raw error text.

use super::model::Report;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub fn digest(report: &Report) -> String {
    let steps: Vec<Value> = report
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "status": s.status.as_str(),
                "assertions": s.assertions.iter().map(|a| json!([a.name, a.passed])).collect::<Vec<_>>(),
                "captures": s.captures.keys().collect::<Vec<_>>(),
                "attempts": s.attempts.iter().map(|a| json!([a.outcome, a.scheduled_delay_ms])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let sandboxes: Vec<Value> = report
        .sandboxes
        .iter()
        .map(|s| json!({ "name": s.name, "recordings": s.recordings }))
        .collect();
    let canonical = json!({
        "plan": report.plan.canonical_hash,
        "seed": report.seed,
        "variables": report.variables,
        "steps": steps,
        "sandboxes": sandboxes,
    });
    // serde_json keeps insertion order for objects (preserve_order): build them in a fixed order.
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    )
}
