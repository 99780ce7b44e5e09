-- The queue takes people in turn (`db::queue::claim`): each queued import asks when its owner's
-- last import started, read off this index's end instead of all of that person's history.
CREATE INDEX imports_owner_started ON imports (owner_id, started_at);
