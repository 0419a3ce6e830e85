-- hookplan's bookkeeping beside the registry. Portable SQL: SQLite and PostgreSQL.
CREATE TABLE hookplan_registry (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE hookplan_credentials (
    code TEXT NOT NULL,
    field TEXT NOT NULL,
    location TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (code, field)
);
