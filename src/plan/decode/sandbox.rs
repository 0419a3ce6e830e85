//! `sandbox "name" { port 0; error-rate 0.2; delay "100ms"; endpoint "/p" …; infisical { … } }`

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::{RawEntry, RawNode};
use super::super::reader::{self, NodeReader, once};
use super::check_name;
use super::http::{check_json, signature_node};
use crate::model::{
    BodyDecl, ConnectionFault, DelaySpec, EndpointDecl, RespondDecl, ResponseDecl, SandboxDecl,
    SignatureCheckDecl,
};
use std::time::Duration;

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<SandboxDecl> {
    let mut r = NodeReader::new(node, diags);
    let name = r.string_arg(0, "a name", "sandbox \"hooks\" { port 0 }");
    r.finish();
    let name = name.filter(|n| check_name(n, "sandbox", diags))?;
    let mut sandbox = SandboxDecl {
        name: name.value.clone(),
        span: name.span,
        port: 0,
        bind: "127.0.0.1".into(),
        error_rate: 0.0,
        error_status: 503,
        delay: None,
        delay_span: None,
        endpoints: Vec::new(),
        infisical: None,
    };
    let mut seen = Vec::new();
    for child in node.children() {
        let kind = child.name.as_str();
        if !grammar::nodes("sandbox").contains(&kind) {
            reader::unknown_node(
                child,
                &format!("sandbox \"{}\"", name.value),
                grammar::nodes("sandbox"),
                diags,
            );
            continue;
        }
        if kind != "endpoint" && !once(&mut seen, child, diags) {
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        match kind {
            "port" => {
                if let Some(p) = c
                    .value("port 0")
                    .and_then(|v| reader::integer(v, "`port`", 0, 65535, "port 0", c.diags))
                {
                    sandbox.port = p.value as u16;
                }
            }
            "bind" => {
                if let Some(b) = c
                    .value("bind \"127.0.0.1\"")
                    .and_then(|v| reader::string(v, "`bind`", "bind \"127.0.0.1\"", c.diags))
                {
                    if b.parse::<std::net::IpAddr>().is_err() {
                        c.diags.push(
                            Diagnostic::error(
                                "hookplan::bad-address",
                                format!("\"{}\" is not an IP address", b.value),
                                b.span,
                                "not an IP address",
                            )
                            .with_help("use \"127.0.0.1\" (the default), \"::1\" or \"0.0.0.0\""),
                        );
                    } else {
                        sandbox.bind = b.value;
                    }
                }
            }
            "error-rate" => {
                if let Some(rate) = c
                    .value("error-rate 0.2")
                    .and_then(|v| error_rate(v, c.diags))
                {
                    sandbox.error_rate = rate;
                }
            }
            "error-status" => {
                if let Some(s) = c.value("error-status 503").and_then(|v| {
                    reader::integer(v, "`error-status`", 100, 599, "error-status 503", c.diags)
                }) {
                    sandbox.error_status = s.value as u16;
                }
            }
            "delay" => {
                if let Some((delay, span)) = delay_node(&mut c) {
                    sandbox.delay = Some(delay);
                    sandbox.delay_span = Some(span);
                }
            }
            "endpoint" => {
                drop(c);
                if let Some(endpoint) = endpoint(child, diags) {
                    sandbox.endpoints.push(endpoint);
                }
                continue;
            }
            "infisical" => {
                drop(c);
                sandbox.infisical = super::infisical::decode(child, &name.value, diags);
                continue;
            }
            _ => unreachable!("checked against the grammar above"),
        }
        c.finish();
    }
    Some(sandbox)
}

fn error_rate(entry: &RawEntry, diags: &mut Diagnostics) -> Option<f64> {
    reader::float(entry, "`error-rate`", 0.0, 1.0, "error-rate 0.2", diags).map(|r| r.value)
}

/// `delay "100ms"` or a range `delay "100ms" "300ms"`, and where its longest value stands.
fn delay_node(c: &mut NodeReader) -> Option<(DelaySpec, crate::model::Span)> {
    c.no_children();
    let example = "delay \"100ms\" (or a range: delay \"100ms\" \"300ms\")";
    let low = c
        .arg(0, "a duration", example)
        .and_then(|e| reader::duration(e, "`delay`", "\"100ms\"", c.diags));
    let high = c
        .opt_arg(1)
        .and_then(|e| reader::duration(e, "`delay`", "\"300ms\"", c.diags));
    let low = low?;
    let span = high.as_ref().map_or(low.span, |h| h.span);
    range(low.value, high.map(|h| (h.value, h.span)), c.diags).map(|d| (d, span))
}

fn range(
    low: Duration,
    high: Option<(Duration, crate::model::Span)>,
    diags: &mut Diagnostics,
) -> Option<DelaySpec> {
    match high {
        None => Some(DelaySpec::Fixed(low)),
        Some((high, _)) if high >= low => Some(DelaySpec::Range(low, high)),
        Some((_, span)) => {
            diags.push(
                Diagnostic::error(
                    "hookplan::bad-range",
                    "the end of a delay range is before its start",
                    span,
                    "shorter than the start",
                )
                .with_help("write the shorter delay first: delay \"100ms\" \"300ms\""),
            );
            None
        }
    }
}

fn endpoint(node: &RawNode, diags: &mut Diagnostics) -> Option<EndpointDecl> {
    let mut r = NodeReader::new(node, diags);
    let path = r.string_arg(0, "a path", "endpoint \"/webhook/payment\" status=201");
    let method = r
        .string_prop("method", "method=\"POST\"")
        .map(|m| m.value.to_ascii_uppercase());
    let endpoint_rate = r
        .prop("error-rate")
        .and_then(|p| error_rate(&p.entry, r.diags));
    let mut response = response_props(&mut r);
    r.finish();
    let path = path?;
    if !path.starts_with('/') {
        diags.push(
            Diagnostic::error(
                "hookplan::bad-path",
                format!("endpoint path \"{}\" does not start with `/`", path.value),
                path.span,
                "not a path",
            )
            .with_help("write it as \"/webhook/payment\""),
        );
    }
    let mut endpoint = EndpointDecl {
        path: path.value,
        method,
        span: node.name_span,
        response: ResponseDecl::default(),
        sequence: Vec::new(),
        every: None,
        error_rate: endpoint_rate,
        signature: None,
    };
    for child in node.children() {
        let kind = child.name.as_str();
        let mut c = NodeReader::new(child, diags);
        match kind {
            "status" => {
                if let Some(s) = c
                    .value("status 201")
                    .and_then(|v| reader::integer(v, "`status`", 100, 599, "status 201", c.diags))
                {
                    response.status = Some(s.value as u16);
                }
            }
            "body" | "json" | "body-file" => {
                let example = format!("{kind} \"…\"");
                if let Some(entry) = c.value(&example)
                    && let Some(text) =
                        reader::string(entry, &format!("`{kind}`"), &example, c.diags)
                {
                    if kind == "json" {
                        check_json(&text, entry, "the JSON response", c.diags);
                    }
                    response.body = Some(body(kind, text.value));
                }
            }
            "header" => {
                c.no_children();
                let name = c.string_arg(0, "a name", "header \"x-id\" \"1\"");
                let value = c.string_arg(1, "a value", "header \"x-id\" \"1\"");
                if let (Some(n), Some(v)) = (name, value) {
                    response.headers.push((n.value, v.value));
                }
            }
            "delay" => {
                if let Some((delay, span)) = delay_node(&mut c) {
                    response.delay = Some(delay);
                    response.delay_span = Some(span);
                }
            }
            "fault" => {
                if let Some(f) = c.value("fault \"reset\"").and_then(|v| fault(v, c.diags)) {
                    response.fault = Some(f);
                }
            }
            "error-rate" => {
                if let Some(rate) = c
                    .value("error-rate 0.2")
                    .and_then(|v| error_rate(v, c.diags))
                {
                    endpoint.error_rate = Some(rate);
                }
            }
            "respond" => {
                let times = c
                    .int_prop("times", 1, 1_000_000, "respond status=503 times=2")
                    .map(|t| t.value as u32);
                let answer = response_props(&mut c);
                let headers = response_headers(child, c.diags);
                c.finish();
                if let Some(last) = endpoint.sequence.last()
                    && last.times.is_none()
                {
                    diags.push(
                            Diagnostic::error(
                                "hookplan::unreachable-respond",
                                "this `respond` is never reached",
                                child.name_span,
                                "unreachable",
                            )
                            .with_help("the `respond` before it has no `times=` and answers every remaining request; give it `times=N`"),
                        );
                }
                endpoint.sequence.push(RespondDecl {
                    times,
                    response: ResponseDecl { headers, ..answer },
                });
                continue;
            }
            "every" => {
                let n = c.arg(0, "a count", "every 3 status=500").and_then(|v| {
                    reader::integer(v, "`every`", 2, 1_000_000, "every 3 status=500", c.diags)
                });
                let answer = response_props(&mut c);
                let headers = response_headers(child, c.diags);
                c.finish();
                if let Some(n) = n {
                    endpoint.every = Some((n.value as u32, ResponseDecl { headers, ..answer }));
                }
                continue;
            }
            "require-signature" => {
                c.no_children();
                if let Some((scheme, secret, tolerance)) = signature_node(&mut c, true) {
                    endpoint.signature = Some(SignatureCheckDecl {
                        scheme,
                        secret,
                        tolerance,
                    });
                }
            }
            _ => {
                c.finish();
                reader::unknown_node(child, "`endpoint`", grammar::nodes("endpoint"), diags);
                continue;
            }
        }
        c.finish();
    }
    endpoint.response = response;
    Some(endpoint)
}

fn body(kind: &str, text: String) -> BodyDecl {
    match kind {
        "json" => BodyDecl::Json(text),
        "body-file" => BodyDecl::File(text.into()),
        _ => BodyDecl::Text(text),
    }
}

/// The answer given as properties: status, body, json, body-file, delay, fault.
fn response_props(c: &mut NodeReader) -> ResponseDecl {
    let mut response = ResponseDecl {
        status: c
            .int_prop("status", 100, 599, "status=201")
            .map(|s| s.value as u16),
        ..ResponseDecl::default()
    };
    let mut bodies = Vec::new();
    for kind in ["body", "json", "body-file"] {
        let Some(prop) = c.prop(kind) else { continue };
        if let Some(text) = reader::string(
            &prop.entry,
            &format!("`{kind}`"),
            &format!("{kind}=\"…\""),
            c.diags,
        ) {
            if kind == "json" {
                check_json(&text, &prop.entry, "the JSON response", c.diags);
            }
            bodies.push((body(kind, text.value), text.span));
        }
    }
    if bodies.len() > 1 {
        c.diags.push(
            Diagnostic::error(
                "hookplan::two-bodies",
                "a response has one body",
                bodies[1].1,
                "second body",
            )
            .with_related(bodies[0].1, "first body")
            .with_help("keep one of `body`, `json` and `body-file`"),
        );
    }
    response.body = bodies.into_iter().next().map(|(b, _)| b);
    if let Some(d) = c
        .prop("delay")
        .and_then(|p| reader::duration(&p.entry, "`delay`", "\"100ms\"", c.diags))
    {
        response.delay = Some(DelaySpec::Fixed(d.value));
        response.delay_span = Some(d.span);
    }
    if let Some(p) = c.prop("fault") {
        response.fault = fault(&p.entry, c.diags);
    }
    response
}

fn response_headers(node: &RawNode, diags: &mut Diagnostics) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for child in node.children() {
        let mut c = NodeReader::new(child, diags);
        if child.name != "header" {
            c.finish();
            reader::unknown_node(
                child,
                &format!("`{}`", node.name),
                grammar::nodes(&node.name),
                diags,
            );
            continue;
        }
        c.no_children();
        let name = c.string_arg(0, "a name", "header \"retry-after\" \"2\"");
        let value = c.string_arg(1, "a value", "header \"retry-after\" \"2\"");
        c.finish();
        if let (Some(n), Some(v)) = (name, value) {
            headers.push((n.value, v.value));
        }
    }
    headers
}

fn fault(entry: &RawEntry, diags: &mut Diagnostics) -> Option<ConnectionFault> {
    let name = reader::string(entry, "`fault`", "fault=\"reset\"", diags)?;
    let fault = ConnectionFault::parse(&name);
    if fault.is_none() {
        diags.push(
            Diagnostic::error(
                "hookplan::unknown-value",
                format!("unknown fault \"{}\"", name.value),
                name.span,
                "unknown fault",
            )
            .with_help(format!("use one of: {}", ConnectionFault::NAMES.join(", "))),
        );
    }
    fault
}
