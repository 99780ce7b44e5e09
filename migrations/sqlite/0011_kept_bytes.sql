-- Bytes of the table a replace kept aside for an undo (measured just after the import; NULL until
-- then, and meaningless once `undo_until` is NULL): counted in the stored bytes of the server and
-- of the person who replaced it (`--max-stored-bytes`, `--max-stored-bytes-per-person`).
ALTER TABLE imports ADD COLUMN kept_bytes BIGINT;
-- The quota's sum reads the imports whose undo is open (a few) instead of the whole history.
CREATE INDEX imports_kept ON imports (owner_id) WHERE undo_until IS NOT NULL;
