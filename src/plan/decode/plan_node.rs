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
            "timeout" => {
                if let Some(v) = c.value("timeout \"5m\"") {
                    settings.timeout =
                        reader::duration(v, "`timeout`", "\"5m\"", c.diags).map(|s| s.value);
                }
            }
            "attempt-timeout" => {
                if let Some(v) = c.value("attempt-timeout \"10s\"") {
                    settings.attempt_timeout =
                        reader::duration(v, "`attempt-timeout`", "\"10s\"", c.diags)
                            .map(|s| s.value);
                }
            }
            _ => unreachable!("checked against the grammar above"),
        }
        c.finish();
    }
    name.map(|_| settings)
}
