//! Search indexes a person asks for, so a search that finds little in a large table does not read
//! all of it. Without one, a search is a scan: on 1,048,575 rows one that finds nothing read every
//! row (SQLite 497 ms in BENCHMARKS.md, PostgreSQL 2.2 s by hand). An index of the values'
//! trigrams (every three characters in a row) finds the few rows that hold all of a search's
//! trigrams; each of those is then checked with the same test the scan uses, so a search finds the
//! same rows with or without one. A search of one or two characters has no trigram and scans as
//! before (it tends to find a page early and stop).
//!
//! - SQLite: an FTS5 table with the trigram tokenizer beside the table, `{table}:search:{n}`, kept
//!   in step by three triggers on the table (`…:insert`, `…:delete`, `…:update`). Contentless (no
//!   copy of the values) and `detail=none` (no positions): on the benchmark's table of 1,048,575
//!   rows × 10 columns (145 MB) the index is 113 MB and took 18 s to make; on a prototype of the
//!   same shape, the default (positions kept) was 490 MB; a search that finds nothing then takes under 1 ms, one that finds one row
//!   3 ms. Its cost later: appending 200,000 rows took 2.9 s against 0.16 s without it; deleting
//!   them (an undo) 3.3-7.3 s. The `:` keeps its names apart from every table an import can make
//!   (letters, digits and `_`); the table it serves is the one its triggers are on, so a table
//!   renamed aside (a replace kept for undo) takes its index along and brings it back, and an index
//!   whose table went (dropped, replaced) is dropped by [`tidy`]. It is filled 20,000 rows a
//!   transaction, so imports into the same file wait half a second at most, not the whole time.
//! - PostgreSQL: one GIN index of `pg_trgm` on every column's text joined by a separator (dates and
//!   times through `sheetport.search_text`, as `date::text` cannot be indexed), made
//!   concurrently so imports into the table go on meanwhile. Where the server lacks `pg_trgm`, the
//!   person is told so in words.
//!
//! Made on request by someone who may write the table, like the sort index (`super::indexes`).

use super::{Db, Pool};
use crate::import::names::quote;
use crate::model::{ColumnInfo, ColumnType};
use sqlx::AssertSqlSafe;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Characters a search needs to use an index: trigrams are three characters.
pub const SHORTEST: usize = 3;

/// Trigrams of a search asked of the index: each a look-up of its own, and the check of each row
/// found makes the answer exact whatever is left out, so a long search asks for some spread along it.
const MOST_TRIGRAMS: usize = 12;

/// The text between columns in PostgreSQL's index: a control character no search will hold
/// (a search that holds one scans), so no match spans two cells.
const SEPARATOR: char = '\u{1f}';

/// A table's search index, where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Index {
    /// The FTS5 table's name, in the data file.
    Sqlite(String),
    Postgres,
}

/// Why a search index could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    /// The database cannot make one; the sentence says why and what to do.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The search index of `table`, if it has one that is in step with it.
pub async fn find(db: &Db, table: &str) -> Result<Option<Index>, sqlx::Error> {
    match db.pool() {
        Pool::Sqlite(p) => {
            let mut conn = p.acquire().await?;
            Ok(sqlite_find(&mut conn, table).await?.map(Index::Sqlite))
        }
        Pool::Postgres(p) => {
            // Valid: one being made (concurrently) is there before it is whole.
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 \
                 AND i.indisvalid",
            )
            .bind(db.data_schema())
            .bind(pg_index_name(table))
            .fetch_optional(p)
            .await?;
            Ok(found.map(|_| Index::Postgres))
        }
    }
}

/// The FTS5 table whose triggers are on `table`: the one in step with it.
async fn sqlite_find(conn: &mut sqlx::SqliteConnection, table: &str) -> Result<Option<String>, sqlx::Error> {
    let trigger: Option<String> = sqlx::query_scalar(
        "SELECT name FROM data.sqlite_schema WHERE type = 'trigger' AND tbl_name = $1 \
         AND name GLOB '*:search:*:insert' LIMIT 1",
    )
    .bind(table)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(trigger.and_then(|t| t.strip_suffix(":insert").map(str::to_owned)))
}

/// The name of a table's search index on PostgreSQL (index names are schema-wide; the table's
/// name keeps them apart, and no sort index ends in `_search`).
fn pg_index_name(table: &str) -> String {
    super::indexes::fit_name(format!("{table}_search"))
}

/// Makes a search index on `table` (the caller has checked it exists and who asks), with its
/// columns as the database declares them; one that is there already is left as it is.
pub async fn make(db: &Db, table: &str, columns: &[ColumnInfo]) -> Result<(), MakeError> {
    let Some(building) = Building::start(db, table) else {
        return Err(MakeError::Unavailable(format!(
            "a search index on {table:?} is being made already; it is there once that ends"
        )));
    };
    // A task of its own: a client that leaves does not cut it short (SQLite's fill half done, or
    // PostgreSQL's session lock held by a connection gone back to the pool).
    let (db, table, columns) = (db.clone(), table.to_owned(), columns.to_vec());
    let task = tokio::spawn(async move {
        let _building = building;
        match db.pool() {
            Pool::Sqlite(p) => {
                tidy(&db).await?;
                sqlite_make(p, &table, &columns).await
            }
            Pool::Postgres(p) => pg_make(p, &db, &table, &columns).await,
        }
    });
    match task.await {
        Ok(made) => made,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// A table whose search index this server is making; the mark goes when this does.
struct Building(Arc<Mutex<HashSet<String>>>, String);

impl Building {
    fn start(db: &Db, table: &str) -> Option<Self> {
        let set = db.building().clone();
        let fresh = set.lock().unwrap_or_else(PoisonError::into_inner).insert(table.to_owned());
        fresh.then(|| Self(set, table.to_owned()))
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.1);
    }
}

/// Rows filled into a new index per transaction. A million rows took 20 s in one: every import
/// into the same file would have waited that long, and past the 30 s a connection waits for a
/// lock, failed. 20,000 rows hold the lock for about half a second.
const FILL: i64 = 20_000;

/// SQLite: makes the FTS5 table and its triggers, fills it in steps, then marks it in step. Each
/// step is a `BEGIN IMMEDIATE` transaction (the write lock first; sqlx's own begin DEFERRED).
/// While it fills, its triggers (`…:filling-insert` and the rest) keep it up to date with what
/// imports change meanwhile; [`find`] does not see it until they are renamed `…:insert` and the
/// rest, in one transaction once every row is in. A fill a crash cut short is dropped by the next.
async fn sqlite_make(p: &sqlx::SqlitePool, table: &str, columns: &[ColumnInfo]) -> Result<(), MakeError> {
    let t = quote(table);
    let slots = (0..columns.len()).map(|i| format!("c{i}")).collect::<Vec<_>>().join(", ");
    let values = columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
    let new = columns.iter().map(|c| format!("new.{}", quote(&c.name))).collect::<Vec<_>>().join(", ");
    // Trigger bodies name tables without a schema: a trigger reads and writes its own file's.
    let triggers = |fts: &str, kind: &str| {
        let f = quote(fts);
        format!(
            "CREATE TRIGGER data.{ins} AFTER INSERT ON {t} BEGIN INSERT INTO {f} (rowid, {slots}) VALUES (new.rowid, {new}); END;
             CREATE TRIGGER data.{del} AFTER DELETE ON {t} BEGIN DELETE FROM {f} WHERE rowid = old.rowid; END;
             CREATE TRIGGER data.{upd} AFTER UPDATE ON {t} BEGIN DELETE FROM {f} WHERE rowid = old.rowid; \
             INSERT INTO {f} (rowid, {slots}) VALUES (new.rowid, {new}); END;",
            ins = quote(&format!("{fts}:{kind}insert")),
            del = quote(&format!("{fts}:{kind}delete")),
            upd = quote(&format!("{fts}:{kind}update")),
        )
    };
    let drop_triggers = |fts: &str, kind: &str| {
        ["insert", "delete", "update"]
            .iter()
            .map(|k| format!("DROP TRIGGER IF EXISTS data.{};", quote(&format!("{fts}:{kind}{k}"))))
            .collect::<String>()
    };
    // 1. The table and the triggers that keep it up to date from now on.
    let (fts, last) = {
        let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
        if sqlite_find(&mut tx, table).await?.is_some() {
            tx.commit().await?;
            return Ok(());
        }
        // What a fill that did not end left (this server marks the one it is making).
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT substr(name, 1, length(name) - length(':filling-insert')) FROM data.sqlite_schema \
             WHERE type = 'trigger' AND tbl_name = $1 AND name GLOB '*:search:*:filling-insert'",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        for old in stale {
            let sql = format!("{}DROP TABLE IF EXISTS data.{};", drop_triggers(&old, "filling-"), quote(&old));
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        let fts = format!("{table}:search:{:x}", super::now_ms());
        let sql = format!(
            "CREATE VIRTUAL TABLE data.{} USING fts5({slots}, content='', contentless_delete=1, detail=none, \
             tokenize='trigram'); {}",
            quote(&fts),
            triggers(&fts, "filling-")
        );
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        let last: Option<i64> =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT max(rowid) FROM data.{t}"))).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        (fts, last.unwrap_or(0))
    };
    let (f, sizes) = (quote(&fts), quote(&format!("{fts}_docsize")));
    // 2. The rows there were, a step at a time; a row a trigger put in meanwhile is in already.
    let mut from = 0_i64;
    while from < last {
        let to = from.saturating_add(FILL).min(last);
        let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
        still_filling(&mut tx, &fts, table).await?;
        let sql = format!(
            "INSERT INTO data.{f} (rowid, {slots}) SELECT rowid, {values} FROM data.{t} AS r \
             WHERE r.rowid > $1 AND r.rowid <= $2 AND NOT EXISTS (SELECT 1 FROM data.{sizes} AS d WHERE d.id = r.rowid)"
        );
        sqlx::query(AssertSqlSafe(sql)).bind(from).bind(to).execute(&mut *tx).await?;
        tx.commit().await?;
        from = to;
        // Others waiting for the file take their turn.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // 3. In step: the triggers under the names `find` knows.
    let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
    still_filling(&mut tx, &fts, table).await?;
    let sql = format!("{}{}", drop_triggers(&fts, "filling-"), triggers(&fts, ""));
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The index `fts` is still filling on `table`: the table was not dropped or replaced meanwhile
/// (its triggers would have gone with it).
async fn still_filling(conn: &mut sqlx::SqliteConnection, fts: &str, table: &str) -> Result<(), MakeError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data.sqlite_schema WHERE type = 'trigger' AND name = $1 AND tbl_name = $2",
    )
    .bind(format!("{fts}:filling-insert"))
    .bind(table)
    .fetch_one(conn)
    .await?;
    if n == 0 {
        return Err(MakeError::Unavailable(format!(
            "the table {table:?} was replaced or dropped while its search index was being made"
        )));
    }
    Ok(())
}

/// Drops the search indexes whose table is gone (dropped, or replaced by a new table of the same
/// name): an FTS5 table with neither its insert trigger nor, while it fills, its filling one (one
/// being filled is no orphan: dropped, its triggers would fail every write to its table). The
/// other way round cannot happen: the triggers go with their table, and only this and a make
/// drop an index, each with its triggers gone first.
pub async fn tidy(db: &Db) -> Result<usize, sqlx::Error> {
    let Pool::Sqlite(p) = db.pool() else { return Ok(0) };
    let orphans: Vec<String> = sqlx::query_scalar(
        "SELECT s.name FROM data.sqlite_schema AS s WHERE s.type = 'table' AND s.name GLOB '*:search:*' \
         AND s.sql LIKE 'CREATE VIRTUAL TABLE%' AND NOT EXISTS (SELECT 1 FROM data.sqlite_schema AS g \
         WHERE g.type = 'trigger' AND g.name IN (s.name || ':insert', s.name || ':filling-insert'))",
    )
    .fetch_all(p)
    .await?;
    for name in &orphans {
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS data.{}", quote(name)))).execute(p).await?;
        tracing::info!(index = %name, "dropped a search index whose table is gone");
    }
    Ok(orphans.len())
}

/// PostgreSQL: `CREATE INDEX CONCURRENTLY`, so imports into the table go on while it is made (a
/// plain one blocked every write to the table for the 26 s it took on a million rows); outside a
/// transaction, so one at a time across servers by a session lock.
async fn pg_make(p: &sqlx::PgPool, db: &Db, table: &str, columns: &[ColumnInfo]) -> Result<(), MakeError> {
    let Some(text) = pg_text(columns) else {
        return Err(MakeError::Unavailable(format!(
            "the table {table:?} has only true-or-false columns: there is no text to index"
        )));
    };
    let mut conn = p.acquire().await?;
    const LOCK: &str = "hashtext('sheetport: search index')";
    sqlx::query(AssertSqlSafe(format!("SELECT pg_advisory_lock({LOCK})"))).execute(&mut *conn).await?;
    let made = pg_make_locked(&mut conn, db, table, &text).await;
    if sqlx::query(AssertSqlSafe(format!("SELECT pg_advisory_unlock({LOCK})"))).execute(&mut *conn).await.is_err() {
        // Its session ends with it, and the lock with the session.
        conn.close_on_drop();
    }
    made
}

async fn pg_make_locked(conn: &mut sqlx::PgConnection, db: &Db, table: &str, text: &str) -> Result<(), MakeError> {
    let schema: Option<String> = sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname = 'pg_trgm'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let schema = match schema {
        Some(s) => s,
        None => {
            if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute(&mut *conn).await {
                tracing::warn!(error = %e, "could not add pg_trgm for a search index");
                return Err(MakeError::Unavailable(
                    "this PostgreSQL server cannot make search indexes: it lacks the pg_trgm extension, or \
                     sheetport may not add it. Whoever runs the database can run CREATE EXTENSION pg_trgm \
                     in it (pg_trgm comes with PostgreSQL's contrib package); searches still work without \
                     an index, only slower"
                        .to_owned(),
                ));
            }
            crate::db::APP_SCHEMA.to_owned()
        }
    };
    let name = pg_index_name(table);
    // A concurrent build cut short leaves its index invalid, and IF NOT EXISTS would keep it.
    let invalid: Option<bool> = sqlx::query_scalar(
        "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND n.nspname = $2",
    )
    .bind(&name)
    .bind(db.data_schema())
    .fetch_optional(&mut *conn)
    .await?;
    if invalid == Some(true) {
        let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS {}", db.data_table(&name));
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    }
    let sql = format!(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} USING gin (({text}) {}.gin_trgm_ops)",
        quote(&name),
        db.data_table(table),
        quote(&schema)
    );
    sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    // The planner weighs the index by what it knows of the expression's values.
    sqlx::query(AssertSqlSafe(format!("ANALYZE {}", db.data_table(table)))).execute(&mut *conn).await?;
    Ok(())
}

/// PostgreSQL: the text the index holds for a row, every column but true-or-false ones (whose
/// text, `true` or `false`, no search that reaches them can hold) joined by [`SEPARATOR`]; `None`
/// when there is no such column. The same text in the index and in the query, so the planner sees
/// they match.
pub fn pg_text(columns: &[ColumnInfo]) -> Option<String> {
    let parts: Vec<String> = columns
        .iter()
        .filter(|c| c.ty != ColumnType::Boolean)
        .map(|c| {
            let q = quote(&c.name);
            match c.ty {
                ColumnType::Date | ColumnType::Datetime => format!("coalesce(sheetport.search_text({q}), '')"),
                _ => format!("coalesce({q}::text, '')"),
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" || E'\\x1f' || "))
}

/// PostgreSQL: the pattern for `(text) ILIKE` that finds `search` in the index's text, or `None`
/// when the index cannot help (too short, or holding the separator).
pub fn pg_pattern(search: &str) -> Option<String> {
    if search.chars().count() < SHORTEST || search.contains(SEPARATOR) {
        return None;
    }
    Some(format!("%{}%", search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
}

/// SQLite: the FTS5 query that finds the rows holding every trigram of `search` (some of them when
/// it is long), or `None` when it is shorter than a trigram.
pub fn sqlite_match(search: &str) -> Option<String> {
    let chars: Vec<char> = search.chars().collect();
    if chars.len() < SHORTEST {
        return None;
    }
    let n = chars.len() - SHORTEST + 1;
    let take = n.min(MOST_TRIGRAMS);
    // Evenly spread, the first and the last always in.
    let mut picks: Vec<usize> = (0..take).map(|k| if take == 1 { 0 } else { k * (n - 1) / (take - 1) }).collect();
    picks.dedup();
    let terms: Vec<String> = picks
        .into_iter()
        .map(|i| {
            let tri: String = chars[i..i + SHORTEST].iter().collect();
            format!("\"{}\"", tri.replace('"', "\"\""))
        })
        .collect();
    Some(terms.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_asks_for_its_trigrams_quoted() {
        assert_eq!(sqlite_match("ab"), None);
        assert_eq!(sqlite_match("abc").as_deref(), Some("\"abc\""));
        assert_eq!(sqlite_match("a\"bcd").as_deref(), Some("\"a\"\"b\" AND \"\"\"bc\" AND \"bcd\""));
        // Long searches ask for at most MOST_TRIGRAMS, the first and last among them.
        let long = sqlite_match(&"x".repeat(50).chars().chain("yz!".chars()).collect::<String>()).unwrap();
        assert_eq!(long.matches(" AND ").count() + 1, MOST_TRIGRAMS);
        assert!(long.starts_with("\"xxx\"") && long.ends_with("\"yz!\""), "{long}");
        // Characters, not bytes.
        assert_eq!(sqlite_match("éàü").as_deref(), Some("\"éàü\""));
    }

    #[test]
    fn postgres_patterns_escape_and_refuse_what_the_index_cannot_answer() {
        assert_eq!(pg_pattern("50%_a\\").as_deref(), Some("%50\\%\\_a\\\\%"));
        assert_eq!(pg_pattern("ab"), None);
        assert_eq!(pg_pattern("a\u{1f}bc"), None);
        let cols = |tys: &[ColumnType]| -> Vec<ColumnInfo> {
            tys.iter()
                .enumerate()
                .map(|(i, ty)| ColumnInfo { name: format!("c{i}"), label: String::new(), ty: *ty, declared: None })
                .collect()
        };
        assert_eq!(pg_text(&cols(&[ColumnType::Boolean])), None);
        assert_eq!(
            pg_text(&cols(&[ColumnType::Text, ColumnType::Boolean, ColumnType::Date])).as_deref(),
            Some("coalesce(\"c0\"::text, '') || E'\\x1f' || coalesce(sheetport.search_text(\"c2\"), '')")
        );
    }
}
