-- Issue 14: how a succeeded import can be taken back (an `Undo` as JSON, see src/import/undo.rs;
-- NULL: it cannot), until when (a replaced table is kept only so long; NULL: for as long as it is
-- the table's last import), and the latest import into a table found by an index.
ALTER TABLE imports ADD COLUMN undo TEXT;
ALTER TABLE imports ADD COLUMN undo_until INTEGER;
CREATE INDEX imports_latest ON imports (table_name, finished_at);
CREATE INDEX imports_undo_until ON imports (undo_until) WHERE undo_until IS NOT NULL;
