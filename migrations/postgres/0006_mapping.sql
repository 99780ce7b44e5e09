-- As migrations/sqlite/0007_mapping.sql.
ALTER TABLE imports ADD COLUMN mapping TEXT;
ALTER TABLE imports ADD COLUMN rows_rejected BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN counts TEXT;
CREATE TABLE import_errors (
    import_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    row_number  BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    value       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (import_id, seq)
);
