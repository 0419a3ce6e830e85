//! `step "name" { <one action>; needs …; retry …; timeout …; expect …; capture …; … }`

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::kinds;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use super::{check_name, check_pointer, expect, retry};
use crate::model::{Action, Capture, CaptureSource, RetryPolicy, Span, Spanned, Step, Undecoded};

/// A step before its retry policy name is looked up.
#[derive(Debug)]
pub struct DecodedStep {
    pub step: Step,
    pub retry: Option<RetryChoice>,
    /// Where each expectation was written, for checks against the step's action.
    pub expect_spans: Vec<Span>,
}

#[derive(Debug)]
pub enum RetryChoice {
    Named(Spanned<String>),
    Inline(RetryPolicy),
}

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<DecodedStep> {
    let mut r = NodeReader::new(node, diags);
    let name = r.string_arg(0, "a name", "step \"deliver\" { … }");
    r.finish();
    let name = name.filter(|n| check_name(n, "step", diags))?;
    let example_action = format!(
        "step \"{}\" {{ http \"POST\" \"https://example.com/hook\" }}",
        name.value
    );

    let mut action: Option<Action> = None;
    let mut step = DecodedStep {
        step: Step {
            span: name.span,
            ..Step::new(&name.value, Action::new(Undecoded, name.span))
        },
        retry: None,
        expect_spans: Vec::new(),
    };
    let mut seen = Vec::new();
    for child in node.children() {
        let kind = child.name.as_str();
        if !grammar::nodes("step").contains(&kind) {
            reader::unknown_node(
                child,
                &format!("step \"{}\"", name.value),
                grammar::nodes("step"),
                diags,
            );
            continue;
        }
        let repeatable = matches!(kind, "needs" | "expect" | "capture" | "tags");
        if let Some(step_kind) = kinds::find(kind) {
            if let Some(first) = &action {
                diags.push(
                    Diagnostic::error(
                        "hookplan::two-actions",
                        format!(
                            "step \"{}\" has two actions: `{}` and `{kind}`",
                            name.value,
                            first.kind()
                        ),
                        child.name_span,
                        "second action",
                    )
                    .with_related(first.span, "first action")
                    .with_help("a step does one thing: split it into two steps"),
                );
                continue;
            }
            action = (step_kind.decode)(child, diags);
            continue;
        } else if !repeatable && !once(&mut seen, child, diags) {
            continue;
        }
        match kind {
            "description" => {
                let mut c = NodeReader::new(child, diags);
                if let Some(v) = c.value("description \"…\"") {
                    step.step.description =
                        reader::string(v, "`description`", "description \"…\"", c.diags)
                            .map(|s| s.value);
                }
                c.finish();
            }
            "needs" => {
                let mut c = NodeReader::new(child, diags);
                c.no_children();
                step.step
                    .needs
                    .extend(c.string_list("a step name", "needs \"deliver\""));
                c.finish();
            }
            "tags" => {
                let mut c = NodeReader::new(child, diags);
                c.no_children();
                step.step.tags.extend(
                    c.string_list("a tag", "tags \"smoke\"")
                        .into_iter()
                        .map(|t| t.value),
                );
                c.finish();
            }
            "retry" => step.retry = retry_choice(child, diags),
            "timeout" | "attempt-timeout" => {
                let mut c = NodeReader::new(child, diags);
                let example = format!("{kind} \"10s\"");
                if let Some(d) = c
                    .value(&example)
                    .and_then(|v| reader::duration(v, &format!("`{kind}`"), "\"10s\"", c.diags))
                {
                    if d.value.is_zero() {
                        reader::out_of_range(
                            d.span,
                            &format!("`{kind}`"),
                            "longer than zero",
                            &example,
                            c.diags,
                        );
                    } else if kind == "timeout" {
                        step.step.timeout = Some(d.value);
                    } else {
                        step.step.attempt_timeout = Some(d.value);
                    }
                }
                c.finish();
            }
            "expect" => {
                step.expect_spans.push(child.name_span);
                expect::decode(child, &mut step.step.expect, diags);
            }
            "capture" => {
                if let Some(capture) = capture(child, diags) {
                    if let Some(first) = step
                        .step
                        .captures
                        .iter()
                        .find(|c| c.name.value == capture.name.value)
                    {
                        diags.push(
                            Diagnostic::error(
                                "hookplan::duplicate-capture",
                                format!("`{}` is captured twice", capture.name.value),
                                capture.name.span,
                                "captured again here",
                            )
                            .with_related(first.name.span, "first captured here")
                            .with_help("give each capture its own name"),
                        );
                    } else {
                        step.step.captures.push(capture);
                    }
                }
            }
            "continue-on-error" | "always" => {
                let mut c = NodeReader::new(child, diags);
                let example = format!("{kind} #true");
                if let Some(b) = c
                    .value(&example)
                    .and_then(|v| reader::boolean(v, &format!("`{kind}`"), c.diags))
                {
                    if kind == "always" {
                        step.step.always = b.value;
                    } else {
                        step.step.continue_on_error = b.value;
                    }
                }
                c.finish();
            }
            // A setting the grammar lists but no arm decodes is reported, never ignored.
            _ => reader::unknown_node(
                child,
                &format!("step \"{}\"", name.value),
                grammar::nodes("step"),
                diags,
            ),
        }
    }
    match action {
        Some(action) => step.step.action = action,
        None => {
            // An action that failed to decode has already been reported; the step is kept (with
            // a placeholder action) so that steps naming it do not report it missing too.
            let reported = node.children().iter().any(|c| grammar::is_action(&c.name));
            if reported {
                return Some(step);
            } else {
                diags.push(
                    Diagnostic::error(
                        "hookplan::no-action",
                        format!("step \"{}\" does nothing", name.value),
                        name.span,
                        "this step has no action",
                    )
                    .with_help(format!(
                        "give it one of: {}; e.g. `{example_action}`",
                        kinds::names().collect::<Vec<_>>().join(", ")
                    )),
                );
                return Some(step);
            }
        }
    }
    Some(step)
}

fn retry_choice(node: &RawNode, diags: &mut Diagnostics) -> Option<RetryChoice> {
    if node.children.is_some() {
        if !node.args.is_empty() {
            diags.push(
                Diagnostic::error(
                    "hookplan::retry-form",
                    "an inline `retry { … }` takes no name",
                    node.args[0].span,
                    "name on an inline policy",
                )
                .with_help("either name a policy defined at the top (`retry \"standard\"`) or write its settings inline (`retry { max-retries 3 }`)"),
            );
        }
        return retry::decode(node, false, diags).map(RetryChoice::Inline);
    }
    let mut c = NodeReader::new(node, diags);
    let name = c.string_arg(0, "a policy name", "retry \"standard\"");
    c.finish();
    name.map(RetryChoice::Named)
}

fn capture(node: &RawNode, diags: &mut Diagnostics) -> Option<Capture> {
    let mut c = NodeReader::new(node, diags);
    c.no_children();
    let example = "capture \"token\" json=\"/access_token\"";
    let name = c.string_arg(0, "a name", example);
    let json = c.string_prop("json", example);
    let header = c.string_prop("header", "capture \"id\" header=\"x-request-id\"");
    let status = c.bool_prop("status");
    let body = c.bool_prop("body");
    let secret = c.bool_prop("secret").is_some_and(|s| s.value);
    c.finish();
    let name = name.filter(|n| check_name(n, "capture", diags))?;
    let mut sources = Vec::new();
    if let Some(pointer) = json
        && check_pointer(&pointer, diags)
    {
        sources.push(CaptureSource::Json(pointer.value));
    }
    if let Some(header) = header {
        sources.push(CaptureSource::Header(header.value.to_ascii_lowercase()));
    }
    if status.is_some_and(|s| s.value) {
        sources.push(CaptureSource::Status);
    }
    if body.is_some_and(|b| b.value) {
        sources.push(CaptureSource::Body);
    }
    match sources.len() {
        1 => Some(Capture {
            name,
            source: sources.remove(0),
            secret,
        }),
        0 => {
            diags.push(
                Diagnostic::error(
                    "hookplan::incomplete",
                    format!("capture `{}` does not say what to capture", name.value),
                    name.span,
                    "from where?",
                )
                .with_help(
                    "add one of json=\"/pointer\", header=\"name\", status=#true, body=#true",
                ),
            );
            None
        }
        _ => {
            diags.push(
                Diagnostic::error(
                    "hookplan::capture-sources",
                    format!("capture `{}` names more than one source", name.value),
                    node.head_span(),
                    "several sources",
                )
                .with_help("capture one value per `capture` node"),
            );
            None
        }
    }
}
