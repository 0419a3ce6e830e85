-- The migration journal: a run and each webhook's progress through it, committed before the
-- next side effect, so that a run killed at any instant is resumed (on its own backup) or
-- rolled back, from any machine that reaches the registry.
CREATE TABLE hookplan_journal (
    run_id TEXT PRIMARY KEY,
    store TEXT NOT NULL,
    path TEXT NOT NULL,
    selection TEXT NOT NULL,
    backup TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE hookplan_journal_webhooks (
    run_id TEXT NOT NULL,
    code TEXT NOT NULL,
    stage TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, code)
)
