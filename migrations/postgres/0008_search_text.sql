-- The text a search index holds for a date or a time (src/db/search.rs). An index may not use
-- `date::text`: it follows the session's DateStyle. to_char with a fixed pattern writes the same
-- text in every session; for the ISO style sheetport's pages show, it holds every search a
-- cell's text can match (a time's fraction in full: '05:06:07.500000' holds '05:06:07.5').
-- IMMUTABLE, so an index may use it, and so PostgreSQL keeps it whole (a body more volatile than
-- its function is not inlined) and the index and the query name the same thing.
CREATE FUNCTION search_text(date) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_char($1, 'YYYY-MM-DD') $$;
CREATE FUNCTION search_text(timestamp) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_char($1, 'YYYY-MM-DD HH24:MI:SS.US') $$;
