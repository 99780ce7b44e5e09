-- As migrations/sqlite/0005_header_row.sql.
ALTER TABLE imports ADD COLUMN header_row TEXT;
