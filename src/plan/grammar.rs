//! Which nodes may appear where: the one list that unknown-node suggestions and the
//! plan-language reference (`schemas/plan-language.md`, kept in step by a test) are checked
//! against. A step's actions, and the nodes each one holds, come from the kinds table.

use super::kinds::{self, STEP_KINDS};
use std::sync::LazyLock;

/// (where, the nodes it holds), for every place but a step and its actions. `*` stands for any
/// name (a variable).
const FIXED: &[(&str, &[&str])] = &[
    (
        "top",
        &[
            "plan",
            "vars",
            "retry",
            "sandbox",
            "database",
            "secret-store",
            "mqtt",
            "alerting",
            "step",
        ],
    ),
    (
        "plan",
        &["description", "seed", "jobs", "timeout", "attempt-timeout"],
    ),
    ("vars", &["*"]),
    (
        "retry",
        &[
            "max-retries",
            "base-delay",
            "multiplier",
            "max-delay",
            "jitter",
            "retry-on",
            "respect-retry-after",
            "circuit-breaker",
        ],
    ),
    (
        "expect",
        &[
            "status",
            "attempts",
            "header",
            "json",
            "body-contains",
            "duration-below",
            "delays",
        ],
    ),
    (
        "sandbox",
        &[
            "port",
            "bind",
            "error-rate",
            "error-status",
            "delay",
            "endpoint",
            "infisical",
        ],
    ),
    (
        "infisical",
        &[
            "project",
            "environment",
            "identity",
            "api",
            "approval-required",
            "state",
            "token-ttl",
            "token-max-ttl",
            "faults-after-write",
            "secret",
        ],
    ),
    (
        "endpoint",
        &[
            "status",
            "body",
            "json",
            "body-file",
            "header",
            "delay",
            "fault",
            "respond",
            "every",
            "error-rate",
            "require-signature",
        ],
    ),
    ("database", &["table", "columns", "seed-sql", "auth-header"]),
    (
        "secret-store",
        &[
            "path",
            "name",
            "file",
            "api-url",
            "project",
            "environment",
            "auth",
            "api-version",
            "ca-bundle",
            "retry",
        ],
    ),
    (
        "mqtt",
        &["topic-prefix", "qos", "username", "outbox", "drain"],
    ),
    (
        "alerting",
        &[
            "enabled",
            "failure-rate-threshold",
            "auth-failure-threshold",
            "latency-threshold",
            "window",
            "min-deliveries",
            "channel",
        ],
    ),
    ("respond", &["header"]),
    ("every", &["header"]),
];

/// What a step holds besides its one action.
pub const STEP_SETTINGS: &[&str] = &[
    "description",
    "needs",
    "retry",
    "timeout",
    "attempt-timeout",
    "expect",
    "capture",
    "continue-on-error",
    "always",
    "tags",
];

/// A step's nodes: its settings, then every action.
static STEP: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut nodes = vec!["description", "needs"];
    nodes.extend(kinds::names());
    nodes.extend(STEP_SETTINGS.iter().skip(2));
    nodes
});

/// The nodes allowed in `context`.
pub fn nodes(context: &str) -> &'static [&'static str] {
    if context == "step" {
        return &STEP;
    }
    if let Some(kind) = kinds::find(context) {
        return kind.children;
    }
    FIXED
        .iter()
        .find(|(c, _)| *c == context)
        .map_or(&[], |(_, n)| n)
}

/// Every place nodes may appear, with the nodes it holds.
pub fn contexts() -> Vec<(&'static str, &'static [&'static str])> {
    let mut all: Vec<(&'static str, &'static [&'static str])> = FIXED[..4].to_vec();
    all.push(("step", nodes("step")));
    all.extend(STEP_KINDS.iter().map(|k| (k.name, k.children)));
    all.extend_from_slice(&FIXED[4..]);
    all
}

/// Whether a step node is an action.
pub fn is_action(name: &str) -> bool {
    kinds::find(name).is_some()
}
