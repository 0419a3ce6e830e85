//! The raw layer: KDL nodes as plain data with their spans, before any meaning is given to them.

use crate::model::{Span, TextOrigin};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    String(String),
    Integer(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl RawValue {
    /// What kind of value this is, for "expected …, found …" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RawValue::String(_) => "a string",
            RawValue::Integer(_) => "an integer",
            RawValue::Float(_) => "a number with a fraction",
            RawValue::Bool(_) => "a boolean",
            RawValue::Null => "#null",
        }
    }
}

impl fmt::Display for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawValue::String(s) => write!(f, "{s:?}"),
            RawValue::Integer(i) => write!(f, "{i}"),
            RawValue::Float(x) => write!(f, "{x}"),
            RawValue::Bool(b) => write!(f, "#{b}"),
            RawValue::Null => f.write_str("#null"),
        }
    }
}

/// A value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    pub value: RawValue,
    /// The value alone (for a property: without `name=`).
    pub span: Span,
    /// Where a string's text starts in the file when written without escapes.
    pub verbatim_at: Option<usize>,
}

impl RawEntry {
    pub fn origin(&self) -> TextOrigin {
        TextOrigin::new(self.span, self.verbatim_at)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawProp {
    pub name: String,
    pub name_span: Span,
    /// `name=value` as a whole.
    pub span: Span,
    pub entry: RawEntry,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawNode {
    pub name: String,
    pub name_span: Span,
    /// The whole node, children included.
    pub span: Span,
    /// A `(type)` annotation on the node or an entry; plans have no use for them.
    pub annotation: Option<Span>,
    pub args: Vec<RawEntry>,
    pub props: Vec<RawProp>,
    pub children: Option<Vec<RawNode>>,
}

impl RawNode {
    /// The span from the name to the end of the last entry: the node's head without children.
    pub fn head_span(&self) -> Span {
        let end = self
            .args
            .iter()
            .map(|a| a.span.end())
            .chain(self.props.iter().map(|p| p.span.end()))
            .max()
            .unwrap_or(self.name_span.end());
        Span::new(self.name_span.start, end - self.name_span.start)
    }

    pub fn children(&self) -> &[RawNode] {
        self.children.as_deref().unwrap_or(&[])
    }
}
