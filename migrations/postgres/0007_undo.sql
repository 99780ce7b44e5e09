-- As migrations/sqlite/0008_undo.sql.
ALTER TABLE imports ADD COLUMN undo TEXT;
ALTER TABLE imports ADD COLUMN undo_until BIGINT;
CREATE INDEX imports_latest ON imports (table_name, finished_at);
CREATE INDEX imports_undo_until ON imports (undo_until) WHERE undo_until IS NOT NULL;
