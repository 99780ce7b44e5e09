-- Accounts (issue 12): people, their sessions and API tokens, who may write which table, and the
-- audit log. Secrets are stored only as SHA-256 (session ids, tokens: 256 random bits each) or
-- Argon2id (passwords). Ids are integers here; the same tables in migrations/postgres/0003_accounts.sql.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    admin         BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL
);
-- Names are compared without case: "Ana" and "ana" are one person.
CREATE UNIQUE INDEX users_name ON users (lower(name));

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX tokens_user ON tokens (user_id);

-- Write access to a table, given by its owner or an admin to another person.
CREATE TABLE table_grants (
    table_name TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    granted_by INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (table_name, user_id)
);

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    user_name TEXT,
    action    TEXT NOT NULL,
    target    TEXT,
    detail    TEXT,
    address   TEXT
);
CREATE INDEX audit_at ON audit (at DESC);
-- Failed sign-ins by name and by address in the last minutes bound the next attempts.
CREATE INDEX audit_action ON audit (action, at);

-- Who started an import and who sent a file (NULL: before accounts, or a server without them).
ALTER TABLE imports ADD COLUMN owner_id INTEGER;
ALTER TABLE uploads ADD COLUMN owner_id INTEGER;
CREATE INDEX imports_owner ON imports (owner_id, created_at);
