//! `retry "name" { … }` at the top, or `retry { … }` inline on a step.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use super::check_name;
use crate::model::{CircuitBreakerPolicy, Jitter, RetryOn, RetryPolicy};

pub fn decode(node: &RawNode, named: bool, diags: &mut Diagnostics) -> Option<RetryPolicy> {
    let mut r = NodeReader::new(node, diags);
    let name = if named { r.string_arg(0, "a name", "retry \"standard\" { max-retries 3 }") } else { None };
    r.finish();
    if named && !name.as_ref().is_some_and(|n| check_name(n, "retry policy", diags)) {
        return None;
    }
    let mut policy = RetryPolicy {
        name: name.as_ref().map(|n| n.value.clone()),
        span: name.as_ref().map_or(node.name_span, |n| n.span),
        ..RetryPolicy::default()
    };
    let mut seen = Vec::new();
    for child in node.children() {
        if !grammar::nodes("retry").contains(&child.name.as_str()) {
            reader::unknown_node(child, "`retry`", grammar::nodes("retry"), diags);
            continue;
        }
        if !once(&mut seen, child, diags) {
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        match child.name.as_str() {
            "max-retries" => {
                if let Some(v) = c.value("max-retries 3")
                    && let Some(n) = reader::integer(v, "`max-retries`", 0, 100, "max-retries 3", c.diags)
                {
                    policy.max_retries = n.value as u32;
                }
            }
            "base-delay" => {
                if let Some(d) = c.value("base-delay \"2s\"").and_then(|v| reader::duration(v, "`base-delay`", "\"2s\"", c.diags)) {
                    policy.base_delay = d.value;
                }
            }
            "multiplier" => {
                if let Some(m) = c.value("multiplier 2").and_then(|v| reader::float(v, "`multiplier`", 1.0, 10.0, "multiplier 2", c.diags)) {
                    policy.multiplier = m.value;
                }
            }
            "max-delay" => {
                if let Some(d) = c.value("max-delay \"30s\"").and_then(|v| reader::duration(v, "`max-delay`", "\"30s\"", c.diags)) {
                    policy.max_delay = Some(d.value);
                }
            }
            "jitter" => {
                if let Some(j) = c.value("jitter \"full\"").and_then(|v| reader::string(v, "`jitter`", "jitter \"full\"", c.diags)) {
                    match Jitter::parse(&j) {
                        Some(jitter) => policy.jitter = jitter,
                        None => c.diags.push(
                            Diagnostic::error("hookplan::unknown-value", format!("unknown jitter \"{}\"", j.value), j.span, "unknown jitter")
                                .with_help(format!("use one of: {}", Jitter::NAMES.join(", "))),
                        ),
                    }
                }
            }
            "retry-on" => {
                let mut on = RetryOn::none();
                for class in c.string_list("retry classes", "retry-on \"5xx\" \"timeout\" \"429\"") {
                    if !on.add(&class) {
                        let help = if class.starts_with('4') {
                            "client errors are never retried; only 408 and 429 may be named".to_string()
                        } else {
                            format!("use any of: {}", RetryOn::CLASSES.join(", "))
                        };
                        c.diags.push(
                            Diagnostic::error("hookplan::unknown-value", format!("cannot retry on \"{}\"", class.value), class.span, "not a retry class")
                                .with_help(help),
                        );
                    }
                }
                policy.retry_on = on;
            }
            "respect-retry-after" => {
                if let Some(b) = c.value("respect-retry-after #true").and_then(|v| reader::boolean(v, "`respect-retry-after`", c.diags)) {
                    policy.respect_retry_after = b.value;
                }
            }
            "circuit-breaker" => {
                policy.circuit_breaker = circuit_breaker(&mut c);
            }
            _ => unreachable!("checked against the grammar above"),
        }
        c.finish();
    }
    if let (Some(max), true) = (policy.max_delay, policy.max_delay.is_some_and(|m| m < policy.base_delay)) {
        diags.push(
            Diagnostic::warning(
                "hookplan::max-delay-below-base",
                format!("max-delay ({}) is below base-delay ({})", crate::model::HumanDuration(max), crate::model::HumanDuration(policy.base_delay)),
                policy.span,
                "every retry waits max-delay",
            )
            .with_help("raise max-delay or lower base-delay"),
        );
    }
    // A policy with a faulty setting is still returned (with defaults there), so that steps
    // naming it do not report it missing as well.
    Some(policy)
}

fn circuit_breaker(c: &mut NodeReader) -> Option<CircuitBreakerPolicy> {
    c.no_children();
    let defaults = CircuitBreakerPolicy::default();
    let example = "circuit-breaker failures=5 open-for=\"30s\"";
    let failures = c.int_prop("failures", 1, 10_000, example).map(|v| v.value as u32);
    let ratio = c.float_prop("ratio", 0.01, 1.0, "circuit-breaker ratio=0.5 window=20").map(|v| v.value);
    let window = c.int_prop("window", 1, 10_000, "window=20").map_or(defaults.window, |v| v.value as u32);
    let open_for = c.duration_prop("open-for", "open-for=\"30s\"").map_or(defaults.open_for, |v| v.value);
    let probes = c.int_prop("probes", 1, 100, "probes=1").map_or(defaults.probes, |v| v.value as u32);
    if failures.is_none() && ratio.is_none() {
        let node = c.node;
        c.diags.push(
            Diagnostic::error("hookplan::incomplete", "`circuit-breaker` needs `failures` or `ratio`", node.head_span(), "when does it open?")
                .with_help(format!("e.g. `{example}` or `circuit-breaker ratio=0.5 window=20`")),
        );
        return None;
    }
    Some(CircuitBreakerPolicy { consecutive_failures: failures, failure_ratio: ratio, window, open_for, probes })
}
