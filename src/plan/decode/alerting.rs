//! `alerting { failure-rate-threshold 10.0; window "5m"; channel "log"; … }`, in a plan or in
//! the project config. The config also takes the spec's `config.yaml` keys
//! (`failure_rate_threshold`, `latency_threshold_seconds`, `window_minutes`,
//! `channels "slack,mqtt,log"`, …), so a spec user's settings carry over as written.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::{RawEntry, RawNode};
use super::super::reader::{self, NodeReader, unknown_node};
use super::template;
use crate::model::suggest::did_you_mean;
use crate::model::{
    AlertingDecl, CHANNELS, ChannelDecl, DEFAULT_ALERT_TOPIC, DEFAULT_SLACK_URL, Span, Spanned,
    Template, TextOrigin,
};
use std::time::Duration;

/// The spec's `config.yaml` keys, accepted in the project config beside the plan language's.
pub const SPEC_KEYS: &[&str] = &[
    "failure_rate_threshold",
    "auth_failure_threshold",
    "latency_threshold_seconds",
    "window_minutes",
    "min_deliveries",
    "channels",
];

/// The longest window: alert state is per run, and a run of more than a day is not one.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Decodes an `alerting` node; `spec_keys` also accepts the spec's `config.yaml` keys.
pub fn decode(node: &RawNode, spec_keys: bool, diags: &mut Diagnostics) -> Option<AlertingDecl> {
    NodeReader::new(node, diags).finish();
    let mut known: Vec<&str> = grammar::nodes("alerting").to_vec();
    if spec_keys {
        known.extend_from_slice(SPEC_KEYS);
    }
    let mut alerting = AlertingDecl::new(node.name_span);
    let mut seen: Vec<(String, Span)> = Vec::new();
    let mut ok = true;
    for child in node.children() {
        let name = child.name.as_str();
        if !known.contains(&name) {
            unknown_node(child, "`alerting`", &known, diags);
            ok = false;
            continue;
        }
        // One setting, however it is spelled: `window` and `window_minutes` are the same one.
        let setting = canonical(name);
        if setting != "channel" {
            if let Some((first, span)) = seen.iter().find(|(s, _)| canonical(s) == setting) {
                diags.push(
                    Diagnostic::error(
                        "hookplan::duplicate-node",
                        format!("`{setting}` is given twice (as `{first}` and `{name}`)"),
                        child.name_span,
                        "given again here",
                    )
                    .with_related(*span, "first given here")
                    .with_help("keep one of them"),
                );
                ok = false;
                continue;
            }
            seen.push((name.to_string(), child.name_span));
        }
        let mut c = NodeReader::new(child, diags);
        let decoded = match name {
            "enabled" => {
                // A bare `enabled` (the spec's `enabled: true`) turns it on.
                c.no_children();
                match c.opt_arg(0) {
                    None => Some(()),
                    Some(v) => {
                        reader::boolean(v, "`enabled`", c.diags).map(|b| alerting.enabled = b.value)
                    }
                }
            }
            "failure-rate-threshold" | "failure_rate_threshold" => {
                let example = format!("{name} 10.0");
                c.value(&example)
                    .and_then(|v| {
                        reader::float(v, &format!("`{name}`"), 0.0, 100.0, &example, c.diags)
                    })
                    .map(|p| alerting.failure_rate_threshold = p.value)
            }
            "auth-failure-threshold" | "auth_failure_threshold" => {
                let example = format!("{name} 5");
                c.value(&example)
                    .and_then(|v| {
                        reader::integer(v, &format!("`{name}`"), 1, 1_000_000, &example, c.diags)
                    })
                    .map(|n| alerting.auth_failure_threshold = n.value as u32)
            }
            "min-deliveries" | "min_deliveries" => {
                let example = format!("{name} 10");
                c.value(&example)
                    .and_then(|v| {
                        reader::integer(v, &format!("`{name}`"), 1, 1_000_000, &example, c.diags)
                    })
                    .map(|n| alerting.min_deliveries = n.value as u32)
            }
            "latency-threshold" => c
                .value("latency-threshold \"5s\"")
                .and_then(|v| positive_duration(v, name, "\"5s\"", Duration::MAX, c.diags))
                .map(|d| alerting.latency_threshold = d),
            "latency_threshold_seconds" => c
                .value("latency_threshold_seconds 5.0")
                .and_then(|v| {
                    seconds(
                        v,
                        name,
                        1.0,
                        "latency_threshold_seconds 5.0",
                        86_400.0,
                        c.diags,
                    )
                })
                .map(|d| alerting.latency_threshold = d),
            "window" => c
                .value("window \"5m\"")
                .and_then(|v| positive_duration(v, name, "\"5m\"", MAX_WINDOW, c.diags))
                .map(|d| alerting.window = d),
            "window_minutes" => c
                .value("window_minutes 5")
                .and_then(|v| seconds(v, name, 60.0, "window_minutes 5", 24.0 * 60.0, c.diags))
                .map(|d| alerting.window = d),
            "channel" => channel(&mut c).map(|ch| push_channel(&mut alerting, ch, c.diags)),
            "channels" => {
                let list = c.value("channels \"slack,mqtt,log\"");
                list.and_then(|v| channel_list(v, c.diags)).map(|list| {
                    for ch in list {
                        push_channel(&mut alerting, ch, c.diags);
                    }
                })
            }
            _ => unreachable!("checked against the known names above"),
        };
        ok &= decoded.is_some();
        c.finish();
    }
    if alerting.channels.is_empty() {
        // An alert that goes nowhere would only be seen in the report: the log is the floor.
        alerting.channels.push(ChannelDecl::Log {
            span: node.name_span,
        });
    }
    ok.then_some(alerting)
}

/// The plan-language name of a setting, whichever way it was written.
fn canonical(name: &str) -> &str {
    match name {
        "failure_rate_threshold" => "failure-rate-threshold",
        "auth_failure_threshold" => "auth-failure-threshold",
        "latency_threshold_seconds" => "latency-threshold",
        "window_minutes" => "window",
        "min_deliveries" => "min-deliveries",
        "channels" => "channel",
        other => other,
    }
}

fn positive_duration(
    entry: &RawEntry,
    name: &str,
    example: &str,
    max: Duration,
    diags: &mut Diagnostics,
) -> Option<Duration> {
    let what = format!("`{name}`");
    let d = reader::duration(entry, &what, example, diags)?;
    if d.value.is_zero() || d.value > max {
        let range = if max == Duration::MAX {
            "longer than zero".to_string()
        } else {
            format!(
                "longer than zero and at most {}",
                crate::model::HumanDuration(max)
            )
        };
        reader::out_of_range(d.span, &what, &range, &format!("{name} {example}"), diags);
        return None;
    }
    Some(d.value)
}

/// A number of `unit` seconds (the spec's `_seconds` and `_minutes` keys), more than zero.
fn seconds(
    entry: &RawEntry,
    name: &str,
    unit: f64,
    example: &str,
    max: f64,
    diags: &mut Diagnostics,
) -> Option<Duration> {
    let what = format!("`{name}`");
    let n = reader::float(entry, &what, 0.0, max, example, diags)?;
    if n.value <= 0.0 {
        reader::out_of_range(
            n.span,
            &what,
            &format!("more than 0 and at most {max}"),
            example,
            diags,
        );
        return None;
    }
    Some(Duration::from_secs_f64(n.value * unit))
}

/// Adds a channel, reporting one given twice (two Slack posts per alert is never meant).
fn push_channel(alerting: &mut AlertingDecl, channel: ChannelDecl, diags: &mut Diagnostics) {
    if let Some(first) = alerting
        .channels
        .iter()
        .find(|c| c.name() == channel.name())
    {
        diags.push(
            Diagnostic::error(
                "hookplan::duplicate-node",
                format!("the `{}` channel is given twice", channel.name()),
                channel.span(),
                "given again here",
            )
            .with_related(first.span(), "first given here")
            .with_help("keep one of them"),
        );
        return;
    }
    alerting.channels.push(channel);
}

/// `channel "log"`, `channel "slack" url="…"`, `channel "mqtt" mqtt="events" topic="…"`.
fn channel(c: &mut NodeReader) -> Option<ChannelDecl> {
    c.no_children();
    let example = "channel \"slack\" url=\"${secret.SLACK_WEBHOOK_URL}\"";
    let name = c.string_arg(0, "a channel name", example)?;
    let name_span = name.span;
    let span = c.node.head_span();
    match known_channel(&name, c.diags)? {
        "log" => Some(ChannelDecl::Log { span }),
        "slack" => {
            let example = "url=\"${secret.SLACK_WEBHOOK_URL}\"";
            let url = match c.prop("url") {
                Some(prop) => template(&prop.entry, "`url`", example, c.diags)?,
                None => default_slack_url(name_span),
            };
            Some(ChannelDecl::Slack { url, span })
        }
        _ => {
            let connection = c.string_prop("mqtt", "mqtt=\"events\"");
            let topic = c
                .string_prop("topic", "topic=\"webhook/alerts\"")
                .map_or_else(|| DEFAULT_ALERT_TOPIC.to_string(), |t| t.value);
            Some(ChannelDecl::Mqtt {
                connection,
                topic,
                span,
            })
        }
    }
}

/// The spec's `channels "slack,mqtt,log"`: each name with its place inside the string.
fn channel_list(entry: &RawEntry, diags: &mut Diagnostics) -> Option<Vec<ChannelDecl>> {
    let text = reader::string(entry, "`channels`", "channels \"slack,mqtt,log\"", diags)?;
    let mut channels = Vec::new();
    let mut ok = true;
    let mut offset = 0;
    for part in text.value.split(',') {
        let trimmed = part.trim();
        let lead = part.len() - part.trim_start().len();
        let span = match entry.verbatim_at {
            Some(at) => Span::new(at + offset + lead, trimmed.len().max(1)),
            None => entry.span,
        };
        offset += part.len() + 1;
        if trimmed.is_empty() {
            continue;
        }
        match known_channel(&Spanned::new(trimmed.to_string(), span), diags) {
            Some("log") => channels.push(ChannelDecl::Log { span }),
            Some("slack") => channels.push(ChannelDecl::Slack {
                url: default_slack_url(span),
                span,
            }),
            Some(_) => channels.push(ChannelDecl::Mqtt {
                connection: None,
                topic: DEFAULT_ALERT_TOPIC.to_string(),
                span,
            }),
            None => ok = false,
        }
    }
    ok.then_some(channels)
}

fn known_channel(name: &Spanned<String>, diags: &mut Diagnostics) -> Option<&'static str> {
    if let Some(known) = CHANNELS.iter().find(|c| **c == name.value) {
        return Some(known);
    }
    let help = match did_you_mean(&name.value, CHANNELS.iter().copied()) {
        Some(s) => format!("did you mean \"{s}\"?"),
        None => format!("channels are: {}", CHANNELS.join(", ")),
    };
    diags.push(
        Diagnostic::error(
            "hookplan::unknown-value",
            format!("unknown alert channel \"{}\"", name.value),
            name.span,
            "not a channel",
        )
        .with_help(help),
    );
    None
}

fn default_slack_url(span: Span) -> Template {
    Template::parse(DEFAULT_SLACK_URL, TextOrigin::new(span, None))
        .expect("the default Slack URL is a valid template")
}

/// An mqtt channel must name one of the declared `mqtt` connections (or leave the name out
/// when there is exactly one).
pub fn check_mqtt_channels(alerting: &AlertingDecl, connections: &[&str], diags: &mut Diagnostics) {
    for channel in &alerting.channels {
        let ChannelDecl::Mqtt {
            connection, span, ..
        } = channel
        else {
            continue;
        };
        let (message, at) = match connection {
            Some(name) if connections.contains(&name.as_str()) => continue,
            None if connections.len() == 1 => continue,
            Some(name) => (
                format!("the mqtt connection \"{}\" is not declared", name.value),
                name.span,
            ),
            None if connections.is_empty() => (
                "the mqtt channel needs an mqtt connection, and none is declared".to_string(),
                *span,
            ),
            None => (
                "the mqtt channel must name one of the mqtt connections".to_string(),
                *span,
            ),
        };
        let help = if connections.is_empty() {
            "declare it with `mqtt \"events\" url=\"mqtt://127.0.0.1:1883\"`, or remove the mqtt channel".to_string()
        } else {
            match connection
                .as_ref()
                .and_then(|n| did_you_mean(n, connections.iter().copied()))
            {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!("declared: {}", connections.join(", ")),
            }
        };
        diags.push(
            Diagnostic::error("hookplan::unknown-reference", message, at, "not declared")
                .with_help(help),
        );
    }
}
