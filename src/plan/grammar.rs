//! Which nodes may appear where: the one list that unknown-node suggestions and the
//! plan-language reference (`schemas/plan-language.md`, kept in step by a test) are checked against.

/// (where, the nodes it holds). `*` stands for any name (a variable).
pub const NODES: &[(&str, &[&str])] = &[
    ("top", &["plan", "vars", "retry", "sandbox", "step"]),
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
        "step",
        &[
            "description",
            "needs",
            "http",
            "expect-requests",
            "replay",
            "retry",
            "timeout",
            "attempt-timeout",
            "expect",
            "capture",
            "continue-on-error",
            "always",
            "tags",
        ],
    ),
    (
        "http",
        &["header", "query", "json", "body", "body-file", "sign"],
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
    ("respond", &["header"]),
    ("every", &["header"]),
    (
        "expect-requests",
        &[
            "count",
            "method",
            "header",
            "json",
            "body-contains",
            "signature",
            "order",
            "faults",
            "statuses",
        ],
    ),
];

/// The nodes allowed in `context`.
pub fn nodes(context: &str) -> &'static [&'static str] {
    NODES
        .iter()
        .find(|(c, _)| *c == context)
        .map_or(&[], |(_, n)| n)
}

/// The step actions: a step holds exactly one.
pub const ACTIONS: &[&str] = &["http", "expect-requests", "replay"];
