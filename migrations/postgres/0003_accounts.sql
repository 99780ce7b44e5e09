-- As migrations/sqlite/0004_accounts.sql, in PostgreSQL's types.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    admin         BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_name ON users (lower(name));

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE table_grants (
    table_name TEXT NOT NULL,
    user_id    BIGINT NOT NULL,
    granted_by BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (table_name, user_id)
);

CREATE TABLE audit (
    id        BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    user_name TEXT,
    action    TEXT NOT NULL,
    target    TEXT,
    detail    TEXT,
    address   TEXT
);
CREATE INDEX audit_at ON audit (at DESC);
CREATE INDEX audit_action ON audit (action, at);

ALTER TABLE imports ADD COLUMN owner_id BIGINT;
ALTER TABLE uploads ADD COLUMN owner_id BIGINT;
CREATE INDEX imports_owner ON imports (owner_id, created_at);
