-- Files received by POST /api/uploads or /api/imports, stored under DATA_DIR/uploads/<id>.
CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    file_name  TEXT NOT NULL,
    path       TEXT NOT NULL,
    format     TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    created_at INTEGER NOT NULL
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
    rows_total   INTEGER,
    rows_done    INTEGER NOT NULL DEFAULT 0,
    bytes_total  INTEGER,
    error        TEXT,
    error_cells  INTEGER NOT NULL DEFAULT 0,
    columns      TEXT NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    elapsed_ms   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX imports_created_at ON imports (created_at DESC);
CREATE INDEX imports_table_name ON imports (table_name, status);
