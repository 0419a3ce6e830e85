//! Typed access to a raw node's arguments, properties and children, reporting every misuse.
//!
//! A decoder asks a [`NodeReader`] for what it understands; [`NodeReader::finish`] then reports
//! what it did not ask for (unknown properties with a suggestion, extra arguments).

use super::diagnostic::{Diagnostic, Diagnostics};
use super::raw::{RawEntry, RawNode, RawProp, RawValue};
use crate::model::suggest::did_you_mean;
use crate::model::{DurationError, Span, Spanned, parse_duration};
use std::time::Duration;

pub struct NodeReader<'a, 'd> {
    pub node: &'a RawNode,
    pub diags: &'d mut Diagnostics,
    args_used: usize,
    props_known: Vec<&'static str>,
}

impl<'a, 'd> NodeReader<'a, 'd> {
    pub fn new(node: &'a RawNode, diags: &'d mut Diagnostics) -> Self {
        if let Some(span) = node.annotation {
            diags.push(
                Diagnostic::error(
                    "hookplan::annotation",
                    "type annotations are not used in plans",
                    span,
                    "remove this",
                )
                .with_help("remove the `(…)` annotation"),
            );
        }
        Self {
            node,
            diags,
            args_used: 0,
            props_known: Vec::new(),
        }
    }

    // ------------------------------------------------------------ arguments

    /// The positional argument at `index`, reporting it missing as `what` (e.g. "a step name").
    pub fn arg(&mut self, index: usize, what: &str, example: &str) -> Option<&'a RawEntry> {
        self.args_used = self.args_used.max(index + 1);
        let found = self.node.args.get(index);
        if found.is_none() {
            let node = self.node;
            self.diags.push(
                Diagnostic::error(
                    "hookplan::missing-argument",
                    format!("`{}` needs {what}", node.name),
                    node.head_span(),
                    format!("{what} is missing"),
                )
                .with_help(format!("write it as `{example}`")),
            );
        }
        found
    }

    pub fn opt_arg(&mut self, index: usize) -> Option<&'a RawEntry> {
        self.args_used = self.args_used.max(index + 1);
        self.node.args.get(index)
    }

    pub fn string_arg(
        &mut self,
        index: usize,
        what: &str,
        example: &str,
    ) -> Option<Spanned<String>> {
        let entry = self.arg(index, what, example)?;
        string(
            entry,
            &format!("`{}`'s {what}", self.node.name),
            example,
            self.diags,
        )
    }

    /// All positional arguments (a list node such as `needs "a" "b"`).
    pub fn rest_args(&mut self, from: usize) -> &'a [RawEntry] {
        self.args_used = self.node.args.len().max(from);
        self.node.args.get(from..).unwrap_or(&[])
    }

    /// All positional arguments as strings, at least one.
    pub fn string_list(&mut self, what: &str, example: &str) -> Vec<Spanned<String>> {
        let node = self.node;
        if node.args.is_empty() {
            self.arg(0, what, example);
            return Vec::new();
        }
        let context = format!("`{}`", node.name);
        self.rest_args(0)
            .iter()
            .filter_map(|e| string(e, &context, example, self.diags))
            .collect()
    }

    /// The single value of a setting node such as `seed 42`.
    pub fn value(&mut self, example: &str) -> Option<&'a RawEntry> {
        let entry = self.arg(0, "a value", example);
        self.no_children();
        entry
    }

    // ------------------------------------------------------------ properties

    pub fn prop(&mut self, name: &'static str) -> Option<&'a RawProp> {
        self.props_known.push(name);
        self.node.props.iter().rev().find(|p| p.name == name)
    }

    pub fn string_prop(&mut self, name: &'static str, example: &str) -> Option<Spanned<String>> {
        let prop = self.prop(name)?;
        string(&prop.entry, &format!("`{name}`"), example, self.diags)
    }

    pub fn int_prop(
        &mut self,
        name: &'static str,
        min: i128,
        max: i128,
        example: &str,
    ) -> Option<Spanned<i128>> {
        let prop = self.prop(name)?;
        integer(
            &prop.entry,
            &format!("`{name}`"),
            min,
            max,
            example,
            self.diags,
        )
    }

    pub fn float_prop(
        &mut self,
        name: &'static str,
        min: f64,
        max: f64,
        example: &str,
    ) -> Option<Spanned<f64>> {
        let prop = self.prop(name)?;
        float(
            &prop.entry,
            &format!("`{name}`"),
            min,
            max,
            example,
            self.diags,
        )
    }

    pub fn bool_prop(&mut self, name: &'static str) -> Option<Spanned<bool>> {
        let prop = self.prop(name)?;
        boolean(&prop.entry, &format!("`{name}`"), self.diags)
    }

    pub fn duration_prop(
        &mut self,
        name: &'static str,
        example: &str,
    ) -> Option<Spanned<Duration>> {
        let prop = self.prop(name)?;
        duration(&prop.entry, &format!("`{name}`"), example, self.diags)
    }

    // ------------------------------------------------------------ children

    pub fn no_children(&mut self) {
        let node = self.node;
        if let Some(children) = &node.children {
            let span = children.first().map_or(node.span, |c| c.span);
            self.diags.push(
                Diagnostic::error(
                    "hookplan::unexpected-children",
                    format!("`{}` takes no child nodes", node.name),
                    span,
                    "unexpected child node",
                )
                .with_help("remove the `{ … }` block"),
            );
        }
    }

    /// Reports what was not asked for: unknown properties, duplicate properties, extra arguments.
    pub fn finish(self) {
        let node = self.node;
        let mut seen: Vec<&RawProp> = Vec::new();
        for prop in &node.props {
            if let Some(first) = seen.iter().find(|p| p.name == prop.name) {
                self.diags.push(
                    Diagnostic::error(
                        "hookplan::duplicate-property",
                        format!("`{}` is given twice on `{}`", prop.name, node.name),
                        prop.span,
                        "given again here",
                    )
                    .with_related(first.span, "first given here")
                    .with_help("keep one of them"),
                );
                continue;
            }
            seen.push(prop);
            if self.props_known.contains(&prop.name.as_str()) {
                continue;
            }
            let mut known = self.props_known.clone();
            known.dedup();
            let help = match did_you_mean(&prop.name, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if known.is_empty() => format!("`{}` takes no properties", node.name),
                None => format!("`{}` takes: {}", node.name, known.join(", ")),
            };
            self.diags.push(
                Diagnostic::error(
                    "hookplan::unknown-property",
                    format!("unknown property `{}` on `{}`", prop.name, node.name),
                    prop.name_span,
                    "unknown property",
                )
                .with_help(help),
            );
        }
        if node.args.len() > self.args_used {
            let extra = &node.args[self.args_used..];
            let span = Span::new(
                extra[0].span.start,
                extra.last().unwrap().span.end() - extra[0].span.start,
            );
            let count = if self.args_used == 0 {
                "no arguments".to_string()
            } else {
                format!("{} argument(s)", self.args_used)
            };
            self.diags.push(
                Diagnostic::error(
                    "hookplan::extra-argument",
                    format!("`{}` takes {count}, found {}", node.name, node.args.len()),
                    span,
                    "unexpected",
                )
                .with_help("remove the extra value, or name it as a property (`key=value`)"),
            );
        }
    }
}

/// Reports a node that has no meaning where it is.
pub fn unknown_node(node: &RawNode, context: &str, known: &[&str], diags: &mut Diagnostics) {
    let help = match did_you_mean(&node.name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("{context} holds: {}", known.join(", ")),
    };
    let where_ = if context.starts_with("the top") {
        format!("at {context}")
    } else {
        format!("in {context}")
    };
    diags.push(
        Diagnostic::error(
            "hookplan::unknown-node",
            format!("unknown node `{}` {where_}", node.name),
            node.name_span,
            "unknown node",
        )
        .with_help(help),
    );
}

/// Reports a second occurrence of a node that may appear once, returning false for it.
pub fn once(seen: &mut Vec<(String, Span)>, node: &RawNode, diags: &mut Diagnostics) -> bool {
    if let Some((_, first)) = seen.iter().find(|(name, _)| *name == node.name) {
        diags.push(
            Diagnostic::error(
                "hookplan::duplicate-node",
                format!("`{}` is given twice", node.name),
                node.name_span,
                "given again here",
            )
            .with_related(*first, "first given here")
            .with_help("keep one of them"),
        );
        return false;
    }
    seen.push((node.name.clone(), node.name_span));
    true
}

fn wrong_type(
    entry: &RawEntry,
    what: &str,
    expected: &str,
    example: &str,
    diags: &mut Diagnostics,
) {
    diags.push(
        Diagnostic::error(
            "hookplan::wrong-type",
            format!("{what} must be {expected}, found {}", entry.value.kind()),
            entry.span,
            format!("expected {expected}"),
        )
        .with_help(format!("write it as `{example}`")),
    );
}

pub fn out_of_range(span: Span, what: &str, range: &str, example: &str, diags: &mut Diagnostics) {
    diags.push(
        Diagnostic::error(
            "hookplan::out-of-range",
            format!("{what} must be {range}"),
            span,
            "out of range",
        )
        .with_help(format!("for example `{example}`")),
    );
}

pub fn string(
    entry: &RawEntry,
    what: &str,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<Spanned<String>> {
    match &entry.value {
        RawValue::String(s) => Some(Spanned::new(s.clone(), entry.span)),
        _ => {
            wrong_type(entry, what, "a string", example, diags);
            None
        }
    }
}

pub fn integer(
    entry: &RawEntry,
    what: &str,
    min: i128,
    max: i128,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<Spanned<i128>> {
    match &entry.value {
        RawValue::Integer(i) if (min..=max).contains(i) => Some(Spanned::new(*i, entry.span)),
        RawValue::Integer(_) => {
            let range = if max == i128::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            out_of_range(entry.span, what, &range, example, diags);
            None
        }
        _ => {
            wrong_type(entry, what, "an integer", example, diags);
            None
        }
    }
}

pub fn float(
    entry: &RawEntry,
    what: &str,
    min: f64,
    max: f64,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<Spanned<f64>> {
    let value = match &entry.value {
        RawValue::Float(f) => *f,
        RawValue::Integer(i) => *i as f64,
        _ => {
            wrong_type(entry, what, "a number", example, diags);
            return None;
        }
    };
    if !(min..=max).contains(&value) {
        out_of_range(
            entry.span,
            what,
            &format!("between {min} and {max}"),
            example,
            diags,
        );
        return None;
    }
    Some(Spanned::new(value, entry.span))
}

pub fn boolean(entry: &RawEntry, what: &str, diags: &mut Diagnostics) -> Option<Spanned<bool>> {
    match &entry.value {
        RawValue::Bool(b) => Some(Spanned::new(*b, entry.span)),
        RawValue::String(s) if s == "true" || s == "false" => {
            diags.push(
                Diagnostic::error(
                    "hookplan::wrong-type",
                    format!("{what} must be a boolean, found the string \"{s}\""),
                    entry.span,
                    "expected #true or #false",
                )
                .with_help(format!("KDL v2 writes booleans as #{s}")),
            );
            None
        }
        _ => {
            wrong_type(entry, what, "a boolean", "#true", diags);
            None
        }
    }
}

pub fn duration(
    entry: &RawEntry,
    what: &str,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<Spanned<Duration>> {
    let RawValue::String(text) = &entry.value else {
        let help_example = match &entry.value {
            RawValue::Integer(i) => format!("\"{i}s\""),
            _ => example.to_string(),
        };
        diags.push(
            Diagnostic::error(
                "hookplan::wrong-type",
                format!("{what} must be a duration, found {}", entry.value.kind()),
                entry.span,
                "expected a duration",
            )
            .with_help(format!(
                "durations are strings with a unit, e.g. {help_example}"
            )),
        );
        return None;
    };
    match parse_duration(text) {
        Ok(d) => Some(Spanned::new(d, entry.span)),
        Err(error) => {
            // Point at the unknown unit itself when the string was written as it reads.
            let unit_span = match (&error, entry.verbatim_at) {
                (DurationError::UnknownUnit { unit }, Some(at)) => text
                    .find(unit.as_str())
                    .map(|i| Span::new(at + i, unit.len())),
                _ => None,
            };
            let (span, label) = match unit_span {
                Some(span) => (span, "unknown unit"),
                None => (entry.span, "not a duration"),
            };
            diags.push(
                Diagnostic::error("hookplan::bad-duration", format!("{what} is not a valid duration: {error}"), span, label)
                    .with_help("write a number and a unit (ms, s, m, h): \"500ms\", \"2s\", \"1.5s\", \"1m30s\", \"2h\""),
            );
            None
        }
    }
}
