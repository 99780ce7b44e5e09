-- The SHA-256 of a stored file's content (issue 28), in hex: computed while the file streams in,
-- kept with the upload and copied to every import of it (the upload's file is deleted a while
-- after its last import; the import's record stays), so a preview can say that the same content
-- was imported before, where and when. NULL for files stored before this, and for the command
-- line's imports unless it was asked to check (`--skip-if-imported`).
ALTER TABLE uploads ADD COLUMN sha256 TEXT;
ALTER TABLE imports ADD COLUMN sha256 TEXT;
-- Only imports that landed count: a preview asks for a few rows of one content, not the history.
CREATE INDEX imports_landed_sha256 ON imports (sha256, finished_at) WHERE sha256 IS NOT NULL AND status = 'succeeded';
