-- The text encoding the person chose for a CSV/TSV file (a WHATWG name such as windows-1252);
-- NULL: detected from the file's bytes when the job runs.
ALTER TABLE imports ADD COLUMN encoding TEXT;

-- Which imports use an upload: asked for each stored file when the expired ones are deleted.
CREATE INDEX imports_upload ON imports (upload_id);
