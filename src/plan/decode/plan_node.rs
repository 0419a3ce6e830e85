//! `plan "name" { description …; seed …; jobs …; timeout …; attempt-timeout … }`

use super::super::diagnostic::Diagnostics;
use super::super::grammar;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use crate::model::Span;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub jobs: Option<usize>,
    pub timeout: Option<Duration>,
    pub attempt_timeout: Option<Duration>,
}

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<PlanSettings> {
    let mut r = NodeReader::new(node, diags);
    let name = r.string_arg(0, "a name", "plan \"quickstart\" { … }");
    r.finish();
    let mut settings = PlanSettings {
        name: name.as_ref().map(|n| n.value.clone()).unwrap_or_default(),
        span: name.as_ref().map_or(node.name_span, |n| n.span),
        description: None,
        seed: None,
        jobs: None,
        timeout: None,
        attempt_timeout: None,
    };
    let mut seen = Vec::new();
    for child in node.children() {
        if !grammar::nodes("plan").contains(&child.name.as_str()) {
            reader::unknown_node(child, "`plan`", grammar::nodes("plan"), diags);
            continue;
        }
        if !once(&mut seen, child, diags) {
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        match child.name.as_str() {
            "description" => {
                if let Some(v) = c.value("description \"…\"") {
                    settings.description =
                        reader::string(v, "`description`", "description \"…\"", c.diags)
                            .map(|s| s.value);
                }
            }
            "seed" => {
                if let Some(v) = c.value("seed 42") {
                    settings.seed =
                        reader::integer(v, "`seed`", 0, u64::MAX as i128, "seed 42", c.diags)
                            .map(|s| s.value as u64);
                }
            }
            "jobs" => {
                if let Some(v) = c.value("jobs 4") {
                    settings.jobs = reader::integer(v, "`jobs`", 1, 1024, "jobs 4", c.diags)
                        .map(|s| s.value as usize);
                }
            }
            "timeout" | "attempt-timeout" => {
                let kind = child.name.as_str();
                let example = if kind == "timeout" {
                    "timeout \"5m\""
                } else {
                    "attempt-timeout \"10s\""
                };
                let what = format!("`{kind}`");
                let value = c
                    .value(example)
                    .and_then(|v| reader::duration(v, &what, &example[kind.len() + 1..], c.diags));
                match value {
                    // As on a step: a limit of zero would fail everything at once.
                    Some(d) if d.value.is_zero() => {
                        reader::out_of_range(d.span, &what, "longer than zero", example, c.diags)
                    }
                    Some(d) if kind == "timeout" => settings.timeout = Some(d.value),
                    Some(d) => settings.attempt_timeout = Some(d.value),
                    None => {}
                }
            }
            _ => unreachable!("checked against the grammar above"),
        }
        c.finish();
    }
    name.map(|_| settings)
}
