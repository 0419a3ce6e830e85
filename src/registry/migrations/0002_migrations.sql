-- Which webhooks a migration moved into which secret store, and which wait for approval there.
CREATE TABLE hookplan_migrations (
    code TEXT NOT NULL,
    store TEXT NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL,
    names TEXT NOT NULL,
    backup TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (code, store)
)
