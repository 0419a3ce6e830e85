//! `mqtt "events" url="mqtt://127.0.0.1:1883" { topic-prefix "webhook"; qos 1;
//! username "hookplan" password="${secret.MQTT_PASSWORD:-}"; outbox 10000; drain "2s" }`

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use super::{check_name, template};
use crate::model::{BrokerAddress, MqttDecl, Template};
use std::time::Duration;

const EXAMPLE: &str = "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\"";

/// The largest outbox: beyond it a broker that is down costs more memory than it is worth.
const MAX_OUTBOX: i128 = 10_000_000;

/// The longest drain at the end of a run.
const MAX_DRAIN: Duration = Duration::from_secs(60);

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<MqttDecl> {
    let mut r = NodeReader::new(node, diags);
    let name = r.string_arg(0, "a name", EXAMPLE);
    let url_prop = r.prop("url");
    let url = url_prop
        .and_then(|p| template(&p.entry, "`url`", "url=\"mqtt://127.0.0.1:1883\"", r.diags));
    r.finish();
    let name = name.filter(|n| check_name(n, "mqtt connection", diags))?;
    let url = match (url_prop, url) {
        (None, _) => {
            diags.push(
                Diagnostic::error(
                    "hookplan::missing-property",
                    format!("mqtt \"{}\" needs a `url`", name.value),
                    name.span,
                    "no `url=`",
                )
                .with_help("add `url=\"mqtt://127.0.0.1:1883\"`"),
            );
            return None;
        }
        (Some(_), None) => return None,
        (Some(prop), Some(url)) => {
            if let Some(literal) = url.as_literal()
                && let Err(why) = BrokerAddress::parse(&literal)
            {
                diags.push(
                    Diagnostic::error(
                        "hookplan::bad-url",
                        why,
                        prop.entry.span,
                        "not a broker URL",
                    )
                    .with_help("write `url=\"mqtt://host:1883\"` or `url=\"mqtts://host:8883\"`"),
                );
                return None;
            }
            url
        }
    };
    let mut decl = MqttDecl::new(name.value.clone(), name.span, url);
    let mut seen = Vec::new();
    let mut ok = true;
    for child in node.children() {
        let kind = child.name.as_str();
        if !grammar::nodes("mqtt").contains(&kind) {
            reader::unknown_node(
                child,
                &format!("mqtt \"{}\"", name.value),
                grammar::nodes("mqtt"),
                diags,
            );
            ok = false;
            continue;
        }
        if !once(&mut seen, child, diags) {
            ok = false;
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        let decoded = match kind {
            "topic-prefix" => c
                .value("topic-prefix \"webhook\"")
                .and_then(|v| {
                    reader::string(v, "`topic-prefix`", "topic-prefix \"webhook\"", c.diags)
                })
                .and_then(|prefix| {
                    let bad = prefix.value.is_empty()
                        || prefix.value.contains(['#', '+'])
                        || prefix.value.ends_with('/');
                    if bad {
                        c.diags.push(
                            Diagnostic::error(
                                "hookplan::bad-topic",
                                format!("\"{}\" is not a topic prefix", prefix.value),
                                prefix.span,
                                "no wildcards, not empty, no trailing `/`",
                            )
                            .with_help("write `topic-prefix \"webhook\"`"),
                        );
                        return None;
                    }
                    decl.topic_prefix = prefix.value;
                    Some(())
                }),
            "qos" => c
                .value("qos 1")
                .and_then(|v| reader::integer(v, "`qos`", 0, 1, "qos 1", c.diags))
                .map(|q| decl.qos = q.value as u8),
            "username" => {
                let user = c.value("username \"hookplan\" password=\"${secret.MQTT_PASSWORD}\"");
                let user = user.and_then(|v| {
                    reader::string(v, "`username`", "username \"hookplan\"", c.diags)
                });
                let password = c.prop("password").map(|p| {
                    template(
                        &p.entry,
                        "`password`",
                        "password=\"${secret.MQTT_PASSWORD}\"",
                        c.diags,
                    )
                });
                match (user, password) {
                    (Some(user), None) => {
                        decl.username = Some(user.value);
                        Some(())
                    }
                    (Some(user), Some(Some(password))) => {
                        decl.username = Some(user.value);
                        decl.password = Some(password);
                        Some(())
                    }
                    _ => None,
                }
            }
            "outbox" => c
                .value("outbox 10000")
                .and_then(|v| {
                    reader::integer(v, "`outbox`", 1, MAX_OUTBOX, "outbox 10000", c.diags)
                })
                .map(|n| decl.outbox = n.value as usize),
            "drain" => c
                .value("drain \"2s\"")
                .and_then(|v| reader::duration(v, "`drain`", "\"2s\"", c.diags))
                .and_then(|d| {
                    if d.value > MAX_DRAIN {
                        reader::out_of_range(
                            d.span,
                            "`drain`",
                            "at most 1m",
                            "drain \"2s\"",
                            c.diags,
                        );
                        return None;
                    }
                    decl.drain = d.value;
                    Some(())
                }),
            _ => unreachable!("checked against the grammar above"),
        };
        ok &= decoded.is_some();
        c.finish();
    }
    ok.then_some(decl)
}

/// Connections declared twice under one name.
pub fn check_unique(connections: &[MqttDecl], diags: &mut Diagnostics) {
    for (i, decl) in connections.iter().enumerate() {
        if let Some(first) = connections[..i].iter().find(|d| d.name == decl.name) {
            diags.push(
                Diagnostic::error(
                    "hookplan::duplicate-name",
                    format!("mqtt \"{}\" is declared twice", decl.name),
                    decl.span,
                    "second declaration",
                )
                .with_related(first.span, "first declaration"),
            );
        }
    }
}

/// The templates of a connection (its URL, its password), for reference checks.
pub fn templates(decl: &MqttDecl) -> impl Iterator<Item = &Template> {
    std::iter::once(&decl.url).chain(decl.password.as_ref())
}
