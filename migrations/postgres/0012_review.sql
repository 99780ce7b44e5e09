-- An import that stops before it changes its table, for a person to see what it would do (issue
-- 28): asked for with `review_first`. Once its rows are staged, `review` holds what it would do
-- and where its staged rows wait (JSON, see `import::review::Staged`), until it is committed,
-- discarded or its time is up. The bytes its staged rows take are `kept_bytes`, counted in the
-- stored-bytes quotas while it waits.
ALTER TABLE imports ADD COLUMN review_first BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE imports ADD COLUMN review TEXT;
-- The quota's sum and the sweep read the imports in review (a few) instead of the whole history.
CREATE INDEX imports_in_review ON imports (owner_id) WHERE status = 'review';
