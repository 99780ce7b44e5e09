-- Issue 13: how an import's columns were mapped (a `Mapping` as JSON; NULL: as the sheet has
-- them), the rows it refused, what its rows did to the table (a `Counts` as JSON), and the row
-- errors themselves, in order, so a report of a million rows is read back in pages, never held.
ALTER TABLE imports ADD COLUMN mapping TEXT;
ALTER TABLE imports ADD COLUMN rows_rejected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN counts TEXT;
CREATE TABLE import_errors (
    import_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    row_number  INTEGER NOT NULL,
    column_name TEXT NOT NULL,
    value       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (import_id, seq)
);
