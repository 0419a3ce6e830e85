//! The run digest: sha256 over a canonical JSON of what makes a run what it is.
//!
//! In it: the plan's canonical hash, the seed, the variables (secrets masked), and per step its
//! name, status, assertion results, captured keys, and per attempt its outcome class and
//! scheduled delay; sandbox recordings as a sorted multiset. Not in it: timings, timestamps,
//! tool version, absolute paths, ports, request ids, raw error text, dropped-event counts.
//!
//! The canonical JSON is written straight into the hash (no document is built): compact, keys
//! in the order of the fields below.

use super::model::{Report, SandboxReport, StepReport};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Canonical<'a> {
    plan: &'a str,
    seed: u64,
    variables: &'a BTreeMap<String, String>,
    #[serde(serialize_with = "steps")]
    steps: &'a [StepReport],
    #[serde(serialize_with = "sandboxes")]
    sandboxes: &'a [SandboxReport],
}

#[derive(Serialize)]
struct CanonicalStep<'a> {
    name: &'a str,
    status: &'a str,
    assertions: Vec<(&'a str, bool)>,
    captures: Vec<&'a str>,
    attempts: Vec<(&'a str, u64)>,
}

#[derive(Serialize)]
struct CanonicalSandbox<'a> {
    name: &'a str,
    recordings: &'a [[String; 7]],
}

fn steps<S: Serializer>(steps: &&[StepReport], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(steps.len()))?;
    for step in steps.iter() {
        seq.serialize_element(&CanonicalStep {
            name: &step.name,
            status: step.status.as_str(),
            assertions: step
                .assertions
                .iter()
                .map(|a| (a.name.as_str(), a.passed))
                .collect(),
            captures: step.captures.keys().map(String::as_str).collect(),
            attempts: step
                .attempts
                .iter()
                .map(|a| (a.outcome.as_str(), a.scheduled_delay_ms))
                .collect(),
        })?;
    }
    seq.end()
}

fn sandboxes<S: Serializer>(sandboxes: &&[SandboxReport], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(sandboxes.len()))?;
    for sandbox in sandboxes.iter() {
        seq.serialize_element(&CanonicalSandbox {
            name: &sandbox.name,
            recordings: &sandbox.recordings,
        })?;
    }
    seq.end()
}

/// Feeds what is written into the hash.
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn digest(report: &Report) -> String {
    let canonical = Canonical {
        plan: &report.plan.canonical_hash,
        seed: report.seed,
        variables: &report.variables,
        steps: &report.steps,
        sandboxes: &report.sandboxes,
    };
    let mut hashing = Hashing(Sha256::new());
    serde_json::to_writer(&mut hashing, &canonical).expect("the canonical form serializes");
    format!("sha256:{}", hex::encode(hashing.0.finalize()))
}
