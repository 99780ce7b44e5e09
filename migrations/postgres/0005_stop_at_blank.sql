-- As migrations/sqlite/0006_stop_at_blank.sql.
ALTER TABLE imports ADD COLUMN stop_at_blank BOOLEAN NOT NULL DEFAULT FALSE;
