//! The `expect-requests` action: assertions on what a sandbox recorded.

use super::action::{ActionSpec, Resource};
use super::{SignatureScheme, Spanned, Template};
use std::any::Any;
use std::time::Duration;

/// Assertions on what a sandbox recorded.
#[derive(Debug, Clone)]
pub struct ExpectRequests {
    pub sandbox: Spanned<String>,
    /// A glob over the request path; `None` = every request.
    pub path: Option<String>,
    pub method: Option<String>,
    pub count: Option<CountExpectation>,
    pub checks: Vec<RequestCheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountExpectation {
    Exactly(u32),
    AtLeast(u32),
    AtMost(u32),
    Between(u32, u32),
}

impl CountExpectation {
    pub fn holds(self, n: u32) -> bool {
        match self {
            Self::Exactly(e) => n == e,
            Self::AtLeast(min) => n >= min,
            Self::AtMost(max) => n <= max,
            Self::Between(min, max) => (min..=max).contains(&n),
        }
    }
}

impl std::fmt::Display for CountExpectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exactly(e) => write!(f, "{e}"),
            Self::AtLeast(min) => write!(f, "at least {min}"),
            Self::AtMost(max) => write!(f, "at most {max}"),
            Self::Between(min, max) => write!(f, "{min} to {max}"),
        }
    }
}

/// A check that every matching recorded request must pass.
#[derive(Debug, Clone)]
pub enum RequestCheck {
    Method(String),
    Header {
        name: String,
        value: Option<Template>,
    },
    Json {
        pointer: String,
        value: serde_json::Value,
    },
    BodyContains(String),
    Signature {
        scheme: SignatureScheme,
        secret: Template,
        tolerance: Duration,
    },
    /// The matching requests arrived in this order of paths.
    Order(Vec<String>),
    /// The fault injected into each matching request, in arrival order (`none`, `error-rate`,
    /// `reset`, `close`, `hang`, `slow-body`, `rejected`).
    Faults(Vec<String>),
    /// The status the sandbox answered each matching request with, in arrival order.
    Statuses(Vec<u16>),
}

impl ActionSpec for ExpectRequests {
    fn kind(&self) -> &'static str {
        "expect-requests"
    }

    fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        for check in &self.checks {
            match check {
                RequestCheck::Signature { secret, .. } => out.push(secret),
                RequestCheck::Header { value: Some(v), .. } => out.push(v),
                _ => {}
            }
        }
        out
    }

    fn resources(&self) -> Vec<(Resource, &Spanned<String>)> {
        vec![(Resource::Sandbox, &self.sandbox)]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
