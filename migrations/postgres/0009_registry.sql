-- Who owns each table sheetport made (issue 27): a fact stored with the table's name, made when an
-- import into a free name is queued (the name is then reserved for that person), dropped when the
-- table is (undo of its create), never inferred from the history again. `owner_id` NULL: made on a
-- server without accounts, or before they existed. Grants of write access belong to this row: a
-- name that is taken afresh loses the grants its earlier table had. The same in
-- migrations/sqlite/0009_registry.sql.
CREATE TABLE table_registry (
    name       TEXT PRIMARY KEY,
    owner_id   BIGINT,
    -- The import that took the name (the one that creates the table, while it has not yet).
    import_id  TEXT,
    created_at BIGINT NOT NULL
);

-- Tables made before the registry: owned, as they were, by whoever started the first import
-- that succeeded into them. A row whose table is gone is taken by the next import into the name.
INSERT INTO table_registry (name, owner_id, import_id, created_at)
SELECT DISTINCT ON (table_name) table_name, owner_id, id, COALESCE(finished_at, created_at)
FROM imports
WHERE status = 'succeeded'
ORDER BY table_name, finished_at, seq;
