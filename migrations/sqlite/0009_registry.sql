-- Who owns each table sheetport made (issue 27): a fact stored with the table's name, made when an
-- import into a free name is queued (the name is then reserved for that person), dropped when the
-- table is (undo of its create), never inferred from the history again. `owner_id` NULL: made on a
-- server without accounts, or before they existed. Grants of write access belong to this row: a
-- name that is taken afresh loses the grants its earlier table had.
CREATE TABLE table_registry (
    name       TEXT PRIMARY KEY,
    owner_id   INTEGER,
    -- The import that took the name (the one that creates the table, while it has not yet).
    import_id  TEXT,
    created_at INTEGER NOT NULL
);

-- Tables made before the registry: owned, as they were, by whoever started the first import
-- that succeeded into them. A row whose table is gone is taken by the next import into the name.
INSERT INTO table_registry (name, owner_id, import_id, created_at)
SELECT i.table_name, i.owner_id, i.id, COALESCE(i.finished_at, i.created_at)
FROM imports i
WHERE i.status = 'succeeded' AND NOT EXISTS (
    SELECT 1 FROM imports e
    WHERE e.table_name = i.table_name AND e.status = 'succeeded'
      AND (e.finished_at < i.finished_at OR (e.finished_at = i.finished_at AND e.rowid < i.rowid))
);
