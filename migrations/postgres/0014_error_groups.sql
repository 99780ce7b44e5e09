-- An ended import's row errors grouped by column and reason with their most common values (a JSON
-- list of `ErrorGroup`), counted once when it ends (`db::errors::summarize`) so its page reads them
-- at once: counting a million errors on every visit took 2.9 s of CPU on SQLite. NULL while it runs,
-- for imports without errors, and until counted.
ALTER TABLE imports ADD COLUMN error_groups TEXT;
