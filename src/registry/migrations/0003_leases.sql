-- Who may change the registry's credentials now: a lease per name, its expiry set by the
-- database's own clock (seconds since the epoch), renewed while its holder works.
CREATE TABLE hookplan_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    acquired_at TEXT NOT NULL
)
