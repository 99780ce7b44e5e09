-- The same two tables as migrations/sqlite/0001_init.sql, in PostgreSQL's types. Timestamps are
-- Unix milliseconds in both, so every statement in src/db reads the same on either database.

-- Files received by POST /api/uploads or /api/imports, stored under DATA_DIR/uploads/<id>.
CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    file_name  TEXT NOT NULL,
    path       TEXT NOT NULL,
    format     TEXT NOT NULL,
    bytes      BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per import job. Live numbers are in memory while a job runs; this row holds the
-- state a restarted server or a late SSE client needs.
CREATE TABLE imports (
    id           TEXT PRIMARY KEY,
    upload_id    TEXT,
    file_name    TEXT NOT NULL,
    file_path    TEXT NOT NULL,
    format       TEXT NOT NULL,
    sheet        TEXT,
    table_name   TEXT NOT NULL,
    mode         TEXT NOT NULL,
    status       TEXT NOT NULL,
    phase        TEXT NOT NULL,
    rows_total   BIGINT,
    rows_done    BIGINT NOT NULL DEFAULT 0,
    bytes_total  BIGINT,
    error        TEXT,
    error_cells  BIGINT NOT NULL DEFAULT 0,
    columns      TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    elapsed_ms   BIGINT NOT NULL DEFAULT 0,
    -- Insertion order, which SQLite's rowid gives for free.
    seq          BIGSERIAL,
    -- The queue (see src/jobs/queue.rs): which instance claimed the job, when it last said it is
    -- alive, how many times it was claimed, and whether someone asked it to stop.
    worker           TEXT,
    heartbeat_at     BIGINT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    -- Progress checkpoints, so any instance can show a job another one runs.
    rows_parsed          BIGINT NOT NULL DEFAULT 0,
    rows_total_estimated BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX imports_created_at ON imports (created_at DESC);
CREATE INDEX imports_table_name ON imports (table_name, status);
CREATE INDEX imports_queue ON imports (status, created_at, seq);
