-- Whether an import stops at the first empty row after its data (a totals block below), issue 13.
ALTER TABLE imports ADD COLUMN stop_at_blank BOOLEAN NOT NULL DEFAULT FALSE;
