-- The queue and progress checkpoints, as in migrations/postgres/0001_init.sql: which instance
-- claimed a job, when it last said it is alive, how many times it was claimed, whether someone
-- asked it to stop, and the numbers another reader of the row needs.
ALTER TABLE imports ADD COLUMN worker TEXT;
ALTER TABLE imports ADD COLUMN heartbeat_at INTEGER;
ALTER TABLE imports ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE imports ADD COLUMN rows_parsed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN rows_total_estimated BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX imports_queue ON imports (status, created_at);
