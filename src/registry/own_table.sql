CREATE TABLE IF NOT EXISTS webhooks (
    code TEXT PRIMARY KEY,
    direction TEXT NOT NULL DEFAULT 'OUT' CHECK (direction IN ('IN', 'OUT')),
    url TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'POST' CHECK (method IN ('POST', 'GET', 'PUT')),
    auth TEXT NOT NULL DEFAULT 'none' CHECK (auth IN ('none', 'basic', 'bearer', 'header')),
    "user" TEXT,
    "key" TEXT,
    password TEXT,
    signing_secret TEXT,
    enabled INTEGER NOT NULL DEFAULT 1
)
