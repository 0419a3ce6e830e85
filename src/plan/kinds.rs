//! The step kinds the language knows, one line each. A kind's language half — its node name,
//! the nodes it holds, its decoder, and the values it publishes — lives in its decoder module;
//! its runner half is the entry of the same name in `steps::RUNNERS`.

use super::decode;
use super::diagnostic::Diagnostics;
use super::raw::RawNode;
use crate::model::Action;

/// The language half of a step kind.
pub struct StepKind {
    /// The node name inside a step (`http`, `replay`, …).
    pub name: &'static str,
    /// The child nodes its node takes (unknown-node suggestions and the reference use them).
    pub children: &'static [&'static str],
    /// Whether it gets a response that `expect` and `capture` apply to.
    pub responds: bool,
    /// Values it publishes as `${steps.STEP.NAME}`, which `check` accepts without a `capture`.
    pub publishes: &'static [&'static str],
    /// Whether its steps retry with the `default` policy unless they name one (`call`: the
    /// spec's "retry is on for every webhook"); `retry "none"` turns it off.
    pub default_retry: bool,
    /// Decodes the node into the kind's model value; every fault is a diagnostic.
    pub(crate) decode: fn(&RawNode, &mut Diagnostics) -> Option<Action>,
}

/// Every step kind. A new kind is one module and one line here.
pub const STEP_KINDS: &[StepKind] = &[
    decode::http::KIND,
    decode::expect_requests::KIND,
    decode::replay::KIND,
    decode::call::KIND,
    decode::expect_alerts::KIND,
    decode::expect_secrets::KIND,
    decode::status::KIND,
    decode::backup::KIND,
    decode::verify::KIND,
    decode::migrate::KIND,
    decode::rollback::KIND,
];

/// The kind of this name.
pub fn find(name: &str) -> Option<&'static StepKind> {
    STEP_KINDS.iter().find(|k| k.name == name)
}

/// The kinds' names, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    STEP_KINDS.iter().map(|k| k.name)
}
