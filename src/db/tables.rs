//! Reading the tables imports made: which exist, and pages of their rows as JSON. Only tables an
//! import created are reachable by name, and only in the data file or schema, so the API can never
//! be pointed at the app's own tables.

use super::imports::columns_from_json;
use super::reads::{self, PgReading, SqliteReading};
use super::{Db, Pool, on_pool};
use crate::import::names::{joined, quote};
use crate::import::sink::column_type_of;
use crate::model::{ColumnInfo, ColumnType, ImportId, RowsPage, RowsView, TableSummary};
use serde_json::Value as J;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};
use std::collections::HashSet;

/// Most rows one page may ask for.
pub const MAX_PAGE: u64 = 1000;

/// Every table where imports go (the SQLite data file, or the PostgreSQL data schema).
pub async fn existing(db: &Db) -> Result<HashSet<String>, sqlx::Error> {
    let names: Vec<String> = match db.pool() {
        Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT name FROM data.sqlite_schema WHERE type = 'table'").fetch_all(p).await?
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1")
                .bind(db.data_schema())
                .fetch_all(p)
                .await?
        }
    };
    Ok(names.into_iter().collect())
}

/// Whether the table `name` exists where imports go: one name looked up, where [`existing`] lists
/// them all (the write rule asks this on every submit, start and end of an import).
pub async fn exists(db: &Db, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = match db.pool() {
        Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT count(*) FROM data.sqlite_schema WHERE type = 'table' AND name = $1")
                .bind(name)
                .fetch_one(p)
                .await?
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2")
                .bind(db.data_schema())
                .bind(name)
                .fetch_one(p)
                .await?
        }
    };
    Ok(n > 0)
}

/// The latest successful import into `name`, when that table still exists (`tables`: what exists).
async fn owner(
    db: &Db,
    name: &str,
    tables: &HashSet<String>,
) -> Result<Option<(ImportId, String, Vec<ColumnInfo>)>, sqlx::Error> {
    const SQL: &str = "SELECT id, file_name, columns FROM imports WHERE table_name = $1 AND status = 'succeeded' \
         ORDER BY finished_at DESC LIMIT 1";
    let row: Option<(ImportId, String, String)> =
        on_pool!(db, p => sqlx::query_as(SQL).bind(name).fetch_optional(p).await)?;
    match row {
        Some((id, file, columns)) if tables.contains(name) => Ok(Some((id, file, columns_from_json(&columns)?))),
        _ => Ok(None),
    }
}

/// The rows of `name`, counted on a connection for views, within the query timeout.
async fn count(db: &Db, name: &str) -> Result<u64, ViewError> {
    let sql = format!("SELECT count(*) FROM {}", db.data_table(name));
    let n: i64 = match db.views() {
        Pool::Sqlite(_) => {
            let mut reading = SqliteReading::start(db, Some(db.query_timeout())).await?;
            sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *reading).await
        }
        Pool::Postgres(_) => {
            let mut reading = PgReading::start(db, Some(db.query_timeout())).await?;
            let n = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *reading).await;
            if n.is_ok() {
                reading.finish();
            }
            n
        }
    }
    .map_err(|e| reads::view_error(db, e))?;
    Ok(n as u64)
}

/// Every table made by an import that still exists, most recently written first.
pub async fn list(db: &Db) -> Result<Vec<TableSummary>, ViewError> {
    const SQL: &str = "SELECT table_name FROM imports WHERE status = 'succeeded' GROUP BY table_name \
         ORDER BY max(finished_at) DESC";
    let names: Vec<String> = on_pool!(db, p => sqlx::query_scalar(SQL).fetch_all(p).await)?;
    let tables = existing(db).await?;
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| tables.contains(n)) {
        if let Some((import_id, file_name, columns)) = owner(db, &name, &tables).await? {
            let rows = count(db, &name).await?;
            out.push(TableSummary { name, rows, columns, import_id, file_name });
        }
    }
    Ok(out)
}

/// Why a view of a table cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("{0}")]
    Invalid(String),
    /// As many exports as may run at once are running.
    #[error("{0}")]
    Busy(String),
    /// The database cannot do what was asked (a search index where PostgreSQL lacks `pg_trgm`).
    #[error("{0}")]
    Unavailable(String),
    /// The view's statement ran past `--query-timeout` and was stopped (see `db::reads`), or it
    /// would sort a whole big table for one deep page: the sentence gives the way out.
    #[error("{0}")]
    TooSlow(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Exports at once. Each holds a database connection for as long as its client reads (SQLite's
/// pool has 4): without a bound, four slow downloads would stall every other request.
const EXPORTS_AT_ONCE: usize = 2;

/// The places for exports of one database.
pub(super) fn exports() -> std::sync::Arc<tokio::sync::Semaphore> {
    std::sync::Arc::new(tokio::sync::Semaphore::new(EXPORTS_AT_ONCE))
}
/// How long an export waits for its client to take the next chunk before it gives up and lets go
/// of its connection.
const EXPORT_STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// A view's SQL: the select list, and `FROM ... WHERE ... ORDER BY ...` (no LIMIT), with the
/// search text to bind as `$3` when there is one.
struct ViewSql {
    columns: Vec<ColumnInfo>,
    select: String,
    from: String,
    count: String,
    search: Option<String>,
    /// What the search index is asked (`$4`), when the search reads one.
    matched: Option<String>,
    /// The page's whole query when it is not `SELECT {select} {from} LIMIT $1 OFFSET $2`: a search
    /// in the table's own order read off SQLite's index takes its page there.
    page: Option<String>,
    /// The table has a search index.
    search_index: bool,
    /// Insertion order, nothing left out: on SQLite a page can start at a rowid instead of an OFFSET.
    keyset: bool,
    /// `FROM ... WHERE ...` without the order, for a view in the table's own order (see [`rows`]).
    unordered: String,
    /// The view is in the table's own order (no sort).
    physical: bool,
    /// PostgreSQL, sorted by a column an index leads, nothing left out: the page's query for a
    /// deep page (see [`SEEK_FROM`]).
    seek: Option<String>,
    /// The columns that lead an index.
    indexed: Vec<String>,
}

/// From this offset on, a PostgreSQL page of a view sorted by an indexed column is found by
/// [`ViewSql::seek`]. An OFFSET reads every row it steps over from the table, through the index,
/// in the index's order: at row 524,288 of 1,048,575, 0.9-2.2 s.
const SEEK_FROM: u64 = 10_000;

/// From this offset on, a page sorted by a column no index leads is refused on a table of more
/// than [`SORTED_WHOLE`] rows: the database sorts every row to skip to it (SQLite, a million rows
/// at offset 999,000: 9-11 s, all of it for one page of 100).
const DEEP_UNINDEXED: u64 = 10_000;
/// The most rows a deep page sorted without an index may sort (about a second on either database).
const SORTED_WHOLE: u64 = 100_000;

/// Whether `view` asks for a deep page sorted by a column no index leads.
fn deep_unindexed(sql: &ViewSql, view: &RowsView) -> bool {
    view.offset >= DEEP_UNINDEXED && view.sort.as_ref().is_some_and(|col| !sql.indexed.contains(col))
}

/// Refuses a deep page sorted without an index of a table of `rows` rows (counted up to
/// [`SORTED_WHOLE`] + 1 at least), with the way out.
fn refuse_deep_sort(sql: &ViewSql, view: &RowsView, rows: u64) -> Result<(), ViewError> {
    match &view.sort {
        Some(col) if deep_unindexed(sql, view) && rows > SORTED_WHOLE => Err(ViewError::TooSlow(format!(
            "to start at row {} sorted by {col:?}, every row of the table (more than {}) would be sorted first, \
             since no index is on that column; make the index the page offers for {col:?} and pages anywhere in the \
             table come at once, or sort the other way to reach the end from the top",
            crate::format::count(view.offset + 1),
            crate::format::count(SORTED_WHOLE)
        ))),
        _ => Ok(()),
    }
}

/// Matches a search counts exactly; past it the page says "more than".
pub const SEARCH_COUNTED: u64 = 10_000;

/// What `view` asks of `name`, checked against its columns, as SQL; `None` when no import made
/// such a table.
async fn view_sql(db: &Db, name: &str, view: &RowsView) -> Result<Option<ViewSql>, ViewError> {
    let Some((_, _, recorded)) = owner(db, name, &existing(db).await?).await? else { return Ok(None) };
    // Columns come from the table itself when an append met a table of another shape.
    let actual = table_columns(db, name).await?;
    let t = db.data_table(name);
    let sqlite = matches!(db.pool(), Pool::Sqlite(_));
    let order = match &view.sort {
        Some(col) => {
            if !actual.iter().any(|c| &c.name == col) {
                return Err(ViewError::Invalid(format!("the table {name:?} has no column {col:?} to sort by")));
            }
            let dir = if view.desc { "DESC" } else { "ASC" };
            // Ties by insertion order, so paging through equal values neither repeats nor skips;
            // descending is the ascending order read backwards, ties too, which is the order an
            // index on the column gives read backwards. With ties kept ascending under a
            // descending sort, SQLite sorted every run of equal values again: the page at row
            // 524,289 of 1,048,575 by an indexed column took 1.6 s, against 18 ms read backwards
            // (Python's SQLite 3.40, a table of the benchmark's shape; the harness has the app's).
            format!("{} {dir}, {} {dir}", quote(col), if sqlite { "rowid" } else { "ctid" })
        }
        None => (if sqlite { "rowid" } else { "ctid" }).to_owned(),
    };
    let search = view.search.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > RowsView::MAX_SEARCH) {
        return Err(ViewError::Invalid(format!("a search is at most {} characters", RowsView::MAX_SEARCH)));
    }
    // No cell holds one (PostgreSQL's text cannot), and SQLite's index and PostgreSQL refuse it.
    if search.is_some_and(|q| q.contains('\0')) {
        return Err(ViewError::Invalid("a search cannot hold the character NUL (U+0000)".to_owned()));
    }
    // SQLite: LIKE '%text%' (ASCII letters without case), `%`, `_` and `\` escaped; measured on
    // 1,048,575 rows × 10 columns (the sqlite3 shell), LIKE over the 4 text columns 0.30 s,
    // instr(lower(CAST ...)) over them 0.84 s. PostgreSQL: `strpos(lower(..), lower(..))` (every
    // letter without case), 0.8 s where ILIKE took 1.2 s (psql, one core, same shape of table).
    // Only columns whose values could hold the text: numbers and booleans only for a text that
    // could be part of one, dates and times likewise (PostgreSQL writes each out to compare it:
    // with the two date columns, 1.9 s).
    let numeric =
        search.is_some_and(|q| q.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')));
    let dated = search.is_some_and(|q| {
        q.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | ' ' | '.' | '+' | 'T' | 't' | 'Z' | 'z'))
    });
    let tests = |row: &str| -> Vec<String> {
        actual
            .iter()
            .filter(|c| match c.ty {
                ColumnType::Integer | ColumnType::Real | ColumnType::Boolean => numeric,
                ColumnType::Date | ColumnType::Datetime => dated,
                ColumnType::Text => true,
            })
            .map(|c| {
                let q = format!("{row}{}", quote(&c.name));
                if sqlite {
                    format!("{q} LIKE $3 ESCAPE '\\'")
                } else {
                    format!("strpos(lower({q}::text), lower($3)) > 0")
                }
            })
            .collect()
    };
    let scan = tests("");
    let index = super::search::find(db, name).await?;
    // A search of three characters or more reads the index when there is one; each row it finds is
    // then checked as a scan would, so the rows are the same either way.
    let (mut filter, mut matched, mut from_index) = (String::new(), None, None);
    if let Some(q) = search {
        filter =
            if scan.is_empty() { " WHERE false".to_owned() } else { format!(" WHERE ({})", joined(&scan, " OR ")) };
        match &index {
            Some(super::search::Index::Sqlite(fts)) if !scan.is_empty() => {
                if let Some(m) = super::search::sqlite_match(q) {
                    let f = format!("data.{}", quote(fts));
                    from_index = Some(format!(
                        "SELECT f.rowid FROM {f} AS f JOIN {t} AS r ON r.rowid = f.rowid WHERE f.{} MATCH $4 AND ({})",
                        quote(fts),
                        joined(&tests("r."), " OR ")
                    ));
                    matched = Some(m);
                }
            }
            Some(super::search::Index::Postgres) if !scan.is_empty() => {
                if let (Some(p), Some(text)) = (super::search::pg_pattern(q), super::search::pg_text(&actual)) {
                    filter = format!(" WHERE ({text}) ILIKE $4 AND ({})", joined(&scan, " OR "));
                    matched = Some(p);
                }
            }
            _ => {}
        }
    }
    if let Some(found) = &from_index {
        filter = format!(" WHERE rowid IN ({found})");
    }
    let select = if sqlite {
        actual.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ")
    } else {
        pg_select_list(&actual)
    };
    let indexed = super::indexes::leading_columns(db, name).await?;
    // The value at the offset is read off the index alone (an index-only scan: 28 ms at row
    // 524,289, where the table's rows are 30 times wider than one value), and so is the count of
    // those before it; the page is then taken from that value on, the OFFSET stepping only over its
    // equals. A value missing (the offset in the NULLs, or past the end) gives an empty page, and
    // `rows` falls back to the OFFSET. The page at row 524,288 of 1,048,575: 90 ms, where the
    // OFFSET takes `psql` 918 ms (BENCHMARKS.md; the visibility map set, as autovacuum leaves a
    // table; before that the index-only scans read the table too: 320 ms by hand).
    let seek = match &view.sort {
        Some(col) if !sqlite && search.is_none() && indexed.contains(col) => {
            let c = quote(col);
            let (dir, from, before) = if view.desc {
                (
                    "DESC",
                    "<=",
                    format!(
                        "(SELECT count(*) FROM {t} WHERE {c} > (SELECT v FROM v)) + (SELECT count(*) FROM {t} WHERE {c} IS NULL)"
                    ),
                )
            } else {
                ("ASC", ">=", format!("(SELECT count(*) FROM {t} WHERE {c} < (SELECT v FROM v))"))
            };
            Some(format!(
                "WITH v AS MATERIALIZED (SELECT {c} AS v FROM {t} ORDER BY {c} {dir} OFFSET $2 LIMIT 1) \
                 SELECT {select} FROM (SELECT * FROM {t} WHERE {c} {from} (SELECT v FROM v) ORDER BY {order} \
                 LIMIT $1 OFFSET $2 - ({before})) AS page"
            ))
        }
        _ => None,
    };
    let columns = if actual.len() == recorded.len() { recorded } else { actual };
    Ok(Some(ViewSql {
        columns,
        // The index gives its rows in rowid order and stops at the page (a search found in half the
        // rows: 0.6 ms, where the rows it finds, all of them first, took 130 ms).
        page: from_index.as_ref().filter(|_| view.sort.is_none()).map(|found| {
            format!(
                "SELECT {select} FROM {t} WHERE rowid IN ({found} ORDER BY f.rowid LIMIT $1 OFFSET $2) ORDER BY rowid"
            )
        }),
        select,
        from: format!("FROM {t}{filter} ORDER BY {order}"),
        unordered: format!("FROM {t}{filter}"),
        // Counted up to a bound: past it "more than" is all a person needs, and a common word
        // would otherwise read the whole table for the count alone.
        count: match &from_index {
            Some(found) => format!("SELECT count(*) FROM ({found} LIMIT {}) AS found", SEARCH_COUNTED + 1),
            None => format!("SELECT count(*) FROM (SELECT 1 FROM {t}{filter} LIMIT {}) AS found", SEARCH_COUNTED + 1),
        },
        matched,
        search_index: index.is_some(),
        search: search.map(|q| {
            if sqlite {
                format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
            } else {
                q.to_owned()
            }
        }),
        keyset: sqlite && view.sort.is_none() && search.is_none(),
        physical: view.sort.is_none(),
        seek,
        indexed,
    }))
}

/// A page of `name`'s rows as `view` asks, or `None` when no import made such a table. Past the end
/// the page is empty and says how many rows there are.
pub async fn rows(db: &Db, name: &str, view: &RowsView) -> Result<Option<RowsPage>, ViewError> {
    let Some(sql) = view_sql(db, name, view).await? else { return Ok(None) };
    let limit = view.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let offset = view.offset.min(i64::MAX as u64);
    let (limit_i, offset_i) = (limit as i64, offset as i64);
    // `$1`/`$2` are LIMIT/OFFSET; the search is `$3`, what its index is asked `$4` (SQLite binds by
    // number, PostgreSQL needs each used).
    let (all, rows, counted): (u64, Vec<Vec<J>>, Option<u64>) = match db.pool() {
        Pool::Sqlite(_) => {
            let mut reading = SqliteReading::start(db, Some(db.query_timeout())).await?;
            let stopped = |e| reads::view_error(db, e);
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", db.data_table(name))))
                .fetch_one(&mut *reading)
                .await
                .map_err(stopped)?;
            let all = n as u64;
            refuse_deep_sort(&sql, view, all)?;
            // A table whose rowids are 1..n (an import's, as long as no row was deleted but from
            // its end) has row k at rowid k: a page starts there, where an OFFSET steps over every
            // row before it (at row 1,048,526 of 1,048,575: 60 ms, against under 1 ms).
            let contiguous = sql.keyset && offset > 0 && {
                // Two subqueries: SQLite reads min() or max() alone off the B-tree's edge, both
                // in one SELECT by scanning every row (120 ms at a million).
                let (lo, hi): (Option<i64>, Option<i64>) = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT (SELECT min(rowid) FROM {t}), (SELECT max(rowid) FROM {t})",
                    t = db.data_table(name)
                )))
                .fetch_one(&mut *reading)
                .await
                .map_err(stopped)?;
                lo == Some(1) && hi == Some(all as i64)
            };
            let page = if contiguous {
                format!("SELECT {} FROM {} WHERE rowid > $2 ORDER BY rowid LIMIT $1", sql.select, db.data_table(name))
            } else if let Some(page) = &sql.page {
                page.clone()
            } else {
                format!("SELECT {} {} LIMIT $1 OFFSET $2", sql.select, sql.from)
            };
            let mut q = sqlx::query(AssertSqlSafe(page)).bind(limit_i).bind(offset_i);
            if let Some(s) = &sql.search {
                q = q.bind(s);
            }
            if let Some(m) = &sql.matched {
                q = q.bind(m);
            }
            let rows = q.fetch_all(&mut *reading).await.map_err(stopped)?;
            let rows: Vec<Vec<J>> = rows.iter().map(|r| sqlite_json_row(r, &sql.columns)).collect::<Result<_, _>>()?;
            // A search's count, when the page needs one, on the same connection and deadline.
            let counted = match &sql.search {
                Some(s) if (rows.len() as u64) == limit || (offset > 0 && rows.is_empty()) => {
                    let mut q = sqlx::query_scalar(AssertSqlSafe(search_only(&sql.count))).bind(s);
                    if let Some(m) = &sql.matched {
                        q = q.bind(m);
                    }
                    let n: i64 = q.fetch_one(&mut *reading).await.map_err(stopped)?;
                    Some(n as u64)
                }
                _ => None,
            };
            (all, rows, counted)
        }
        Pool::Postgres(_) => {
            // The table's count on a connection of its own beside the page (a million rows: 60 ms
            // of the page's time, counted before it). A search its index serves is counted beside
            // them too: the count is what such a search waits for (a common word: 100 ms to find
            // 10,001 matches), and with the index one that finds few is cheap to count even when
            // the page would have ended it.
            let seek = sql.seek.as_ref().filter(|_| offset >= SEEK_FROM);
            let indexed_search = sql.search.as_ref().filter(|_| sql.matched.is_some());
            // A page's connections are taken together, one page at a time: pages each holding one
            // and waiting for another could take the whole pool and wait for ever.
            let timeout = db.query_timeout();
            let (mut counting, mut paging, mut searching) = {
                let _together = db.page_connections().lock().await;
                let counting = PgReading::start(db, Some(timeout)).await?;
                let paging = PgReading::start(db, Some(timeout)).await?;
                let searching = match indexed_search {
                    Some(_) => Some(PgReading::start(db, Some(timeout)).await?),
                    None => None,
                };
                (counting, paging, searching)
            };
            let stopped = |e| reads::view_error(db, e);
            let table = db.data_table(name);
            if deep_unindexed(&sql, view) {
                // Whether the page is refused depends on the table's size: counted first, up to
                // the bound (the whole count of a wide table is itself a scan of all of it).
                let upto: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {}) AS r",
                    SORTED_WHOLE + 1
                )))
                .fetch_one(&mut *counting)
                .await
                .map_err(stopped)?;
                refuse_deep_sort(&sql, view, upto as u64)?;
            }
            let counted = async {
                match (indexed_search, searching.as_deref_mut()) {
                    (Some(s), Some(conn)) => pg_search_count(conn, &sql, s).await.map(Some),
                    _ => Ok(None),
                }
            };
            let (all, rows, counted) = tokio::try_join!(
                pg_count(&mut counting, &table),
                pg_page(&mut paging, &sql, seek, limit_i, offset_i),
                counted
            )
            .map_err(stopped)?;
            // The seek found no value at the offset (it is in the NULLs) or ran into them: the
            // page by OFFSET.
            let rows = if seek.is_some() && (rows.len() as u64) < limit && offset + (rows.len() as u64) < all {
                pg_page(&mut paging, &sql, None, limit_i, offset_i).await.map_err(stopped)?
            } else {
                rows
            };
            let counted = match (counted, &sql.search) {
                (None, Some(s)) if (rows.len() as u64) == limit || (offset > 0 && rows.is_empty()) => {
                    Some(pg_search_count(&mut counting, &sql, s).await.map_err(stopped)?)
                }
                (counted, _) => counted,
            };
            counting.finish();
            paging.finish();
            if let Some(s) = searching {
                s.finish();
            }
            (all, rows.iter().map(pg_json_row).collect::<Result<_, _>>()?, counted)
        }
    };
    let (total, more) = match &sql.search {
        None => (all, false),
        // A page that came back short, and not past the end, ends the matches: counting them again
        // would be a second pass over the table for a search that finds little, the slowest kind
        // (no match in 1,048,575 rows: two full scans, 646 ms on SQLite and 4.4 s on PostgreSQL).
        Some(_) if (rows.len() as u64) < limit && (offset == 0 || !rows.is_empty()) => {
            (offset + rows.len() as u64, false)
        }
        Some(_) => {
            let n = counted.unwrap_or_default();
            if n > SEARCH_COUNTED { (SEARCH_COUNTED, true) } else { (n, false) }
        }
    };
    Ok(Some(RowsPage {
        columns: sql.columns,
        rows,
        total,
        offset,
        limit,
        table_rows: all,
        more,
        indexed: sql.indexed,
        search_index: sql.search_index,
        may_write: false,
    }))
}

/// The rows a search finds, counted up to [`SEARCH_COUNTED`] + 1, on a PostgreSQL connection.
async fn pg_search_count(conn: &mut sqlx::PgConnection, sql: &ViewSql, search: &str) -> Result<u64, sqlx::Error> {
    let mut tx = pg_read(conn).await?;
    let mut q = sqlx::query_scalar(AssertSqlSafe(search_only(&sql.count))).bind(search);
    if let Some(m) = &sql.matched {
        q = q.bind(m);
    }
    let n: i64 = q.fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(n as u64)
}

/// Every row of `table` (a qualified name), counted on a PostgreSQL connection.
async fn pg_count(conn: &mut sqlx::PgConnection, table: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(conn).await?;
    Ok(n as u64)
}

/// A transaction for a view's reads on PostgreSQL, without JIT: a search or sort over a million
/// rows is costed far above `jit_above_cost`, and compiling its expressions took longer than the
/// query (EXPLAIN ANALYZE, the benchmark's table, a common word with the search index: the page
/// 56 ms with JIT, 28 of them compiling, and 8 ms without; its count 167 ms against 98).
async fn pg_read(conn: &mut sqlx::PgConnection) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, sqlx::Error> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    Ok(tx)
}

/// A page of a view on PostgreSQL, by `seek` when given, else by OFFSET.
async fn pg_page(
    conn: &mut sqlx::PgConnection,
    sql: &ViewSql,
    seek: Option<&String>,
    limit: i64,
    offset: i64,
) -> Result<Vec<PgRow>, sqlx::Error> {
    // The table's own order is its physical order, which `ORDER BY ctid` got by sorting every
    // row before the first 50 (280 ms at a million; 690 ms deep). One sequential scan yields
    // that order itself when it starts at the first page (no synchronised scan) and runs
    // alone (no parallel workers), and stops at the page: a search finds its first 50 early.
    // The rows are found in a subquery of whole rows and only the page's are cast to text:
    // cast in the scan, every row an OFFSET steps over was cast too (690 ms at row
    // 1,048,526, against 180 ms for the scan alone).
    let mut tx = pg_read(conn).await?;
    let page = if let Some(seek) = seek {
        seek.clone()
    } else if sql.physical {
        sqlx::query("SET LOCAL synchronize_seqscans = off").execute(&mut *tx).await?;
        sqlx::query("SET LOCAL max_parallel_workers_per_gather = 0").execute(&mut *tx).await?;
        format!("SELECT {} FROM (SELECT * {} LIMIT $1 OFFSET $2) AS page", sql.select, sql.unordered)
    } else {
        format!("SELECT {} FROM (SELECT * {} LIMIT $1 OFFSET $2) AS page", sql.select, sql.from)
    };
    let mut q = sqlx::query(AssertSqlSafe(page)).bind(limit).bind(offset);
    if let Some(s) = &sql.search {
        q = q.bind(s);
    }
    if let Some(m) = &sql.matched {
        q = q.bind(m);
    }
    let rows = q.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// A query of the search's parameters alone (`$3`, `$4`) numbered from `$1`, as they are bound.
fn search_only(sql: &str) -> String {
    sql.replace("$3", "$1").replace("$4", "$2")
}

/// Makes an index on `column` of `name` so views sorted by it read their pages off it; `None` when
/// no import made such a table.
pub async fn make_index(db: &Db, name: &str, column: &str) -> Result<Option<()>, ViewError> {
    if owner(db, name, &existing(db).await?).await?.is_none() {
        return Ok(None);
    }
    if !table_columns(db, name).await?.iter().any(|c| c.name == column) {
        return Err(ViewError::Invalid(format!("the table {name:?} has no column {column:?} to index")));
    }
    super::indexes::make(db, name, column).await?;
    Ok(Some(()))
}

/// Makes a search index on `name` so searches of three characters or more read it; `None` when no
/// import made such a table.
pub async fn make_search_index(db: &Db, name: &str) -> Result<Option<()>, ViewError> {
    if owner(db, name, &existing(db).await?).await?.is_none() {
        return Ok(None);
    }
    let columns = table_columns(db, name).await?;
    super::search::make(db, name, &columns).await.map_err(|e| match e {
        super::search::MakeError::Unavailable(m) => ViewError::Unavailable(m),
        super::search::MakeError::Db(e) => ViewError::Db(e),
    })?;
    Ok(Some(()))
}

/// Every row of `view` of `name` (offset and limit aside), as CSV lines in `lines`-row chunks, in
/// a stream read from one query; `None` when no import made such a table. Text cells a
/// spreadsheet would run as formulas are neutralised (see `import::report`).
pub async fn export(
    db: &Db,
    name: &str,
    view: &RowsView,
    hold: impl Send + 'static,
) -> Result<Option<futures::stream::BoxStream<'static, Result<String, sqlx::Error>>>, ViewError> {
    use futures::StreamExt;
    let Some(sql) = view_sql(db, name, view).await? else { return Ok(None) };
    let permit = db.exports().clone().try_acquire_owned().map_err(|_| {
        ViewError::Busy(format!(
            "{EXPORTS_AT_ONCE} exports are running already; try again once one of them has finished"
        ))
    })?;
    let mut header = String::new();
    for (i, c) in sql.columns.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        crate::import::report::write_cell(&mut header, &c.name);
    }
    header.push_str("\r\n");
    let text = search_only(&format!("SELECT {} {}", sql.select, sql.from));
    let (columns, search, matched) = (sql.columns.clone(), sql.search.clone(), sql.matched.clone());
    // One query read as a stream by a task of its own, a thousand rows a chunk through a channel
    // of four: memory stays bounded whatever the table, and a client that leaves stops the query.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, sqlx::Error>>(4);
    // On a connection for views with no deadline (an export runs as long as its client reads),
    // stopped when the task ends: the client left, or stopped reading for `EXPORT_STALL`. The
    // client leaving is watched apart from the reading: a sort or a rare search reads for long
    // before its first row, and stops then too (the reading's drop interrupts it). `hold` (the
    // asker's share) is given back only then, with the export's place.
    macro_rules! pump {
        ($db:ident => $reading:expr, $row:expr) => {{
            let $db = db.clone();
            let left = tx.clone();
            tokio::spawn(async move {
                let (_permit, _hold) = (permit, hold);
                tokio::select! {
                    () = pump_rows!($reading, $row) => {}
                    () = left.closed() => {}
                }
            });
        }};
    }
    macro_rules! pump_rows {
        ($reading:expr, $row:expr) => {
            async move {
                use futures::TryStreamExt;
                let send =
                    |chunk| async { matches!(tokio::time::timeout(EXPORT_STALL, tx.send(chunk)).await, Ok(Ok(()))) };
                let mut reading = match $reading.await {
                    Ok(reading) => reading,
                    Err(ViewError::Db(e)) => {
                        send(Err(e)).await;
                        return;
                    }
                    Err(e) => {
                        send(Err(sqlx::Error::Protocol(e.to_string()))).await;
                        return;
                    }
                };
                let mut q = sqlx::query(AssertSqlSafe(text));
                if let Some(s) = search {
                    q = q.bind(s);
                }
                if let Some(m) = matched {
                    q = q.bind(m);
                }
                let mut rows = q.fetch(&mut *reading);
                let mut chunk = String::new();
                let mut n = 0;
                loop {
                    match rows.try_next().await {
                        Ok(Some(r)) => match $row(&r, &columns) {
                            Ok(values) => {
                                write_csv_row(&mut chunk, &values);
                                n += 1;
                                if n % 1000 == 0 && !send(Ok(std::mem::take(&mut chunk))).await {
                                    return;
                                }
                            }
                            Err(e) => {
                                send(Err(e)).await;
                                return;
                            }
                        },
                        Ok(None) => break,
                        Err(e) => {
                            send(Err(e)).await;
                            return;
                        }
                    }
                }
                drop(rows);
                if !chunk.is_empty() {
                    send(Ok(chunk)).await;
                }
                reading.finish();
            }
        };
    }
    match db.views() {
        Pool::Sqlite(_) => {
            pump!(own => SqliteReading::start(&own, None), |r: &SqliteRow, c: &[ColumnInfo]| sqlite_json_row(r, c))
        }
        Pool::Postgres(_) => pump!(own => PgReading::start(&own, None), |r: &PgRow, _: &[ColumnInfo]| pg_json_row(r)),
    }
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    Ok(Some(futures::stream::once(async move { Ok(header) }).chain(body).boxed()))
}

/// One row as a CSV line: numbers and booleans as they are, text neutralised and quoted as the
/// error report's cells are, NULL as nothing.
pub(crate) fn write_csv_row(out: &mut String, values: &[J]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            J::Null => {}
            J::String(s) => crate::import::report::write_cell(out, s),
            other => out.push_str(&other.to_string()),
        }
    }
    out.push_str("\r\n");
}

/// The table's columns as the database declares them.
async fn table_columns(db: &Db, name: &str) -> Result<Vec<ColumnInfo>, sqlx::Error> {
    let sql = match db.pool() {
        Pool::Sqlite(_) => "SELECT name, type FROM pragma_table_info($1, $2) ORDER BY cid",
        // The catalogue, not `information_schema.columns` (6 ms a page, its privilege checks), with
        // the type named as that view names it (no modifiers: `numeric`, `character varying`).
        Pool::Postgres(_) => {
            "SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = $1 AND n.nspname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        }
    };
    let cols: Vec<(String, String)> =
        on_pool!(db, p => sqlx::query_as(sql).bind(name).bind(db.data_schema()).fetch_all(p).await)?;
    Ok(cols
        .into_iter()
        .map(|(name, decl)| ColumnInfo { label: name.clone(), name, ty: column_type_of(&decl), declared: None })
        .collect())
}

/// `"a", "b"::text AS "b", ...`: every column, dates and other types sqlx would need a crate for as text.
pub(crate) fn pg_select_list(cols: &[ColumnInfo]) -> String {
    cols.iter()
        .map(|c| {
            let q = quote(&c.name);
            match c.ty {
                ColumnType::Integer | ColumnType::Real | ColumnType::Boolean => q,
                _ => format!("{q}::text AS {q}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A SQLite row as JSON values, by each value's own storage class (booleans by the column's type).
pub(crate) fn sqlite_json_row(r: &SqliteRow, columns: &[ColumnInfo]) -> Result<Vec<J>, sqlx::Error> {
    (0..r.columns().len())
        .map(|i| {
            let raw = r.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(J::Null);
            }
            let is_bool = columns.get(i).is_some_and(|c| c.ty == ColumnType::Boolean);
            Ok(match raw.type_info().name() {
                "INTEGER" if is_bool => J::Bool(r.try_get::<i64, _>(i)? != 0),
                "INTEGER" => J::from(r.try_get::<i64, _>(i)?),
                "REAL" => J::from(r.try_get::<f64, _>(i)?),
                "BLOB" => J::String(format!("<{} bytes>", r.try_get::<Vec<u8>, _>(i)?.len())),
                _ => J::String(r.try_get::<String, _>(i)?),
            })
        })
        .collect()
}

/// A PostgreSQL row as JSON values, by each column's declared type.
pub(crate) fn pg_json_row(r: &PgRow) -> Result<Vec<J>, sqlx::Error> {
    (0..r.columns().len())
        .map(|i| {
            if r.try_get_raw(i)?.is_null() {
                return Ok(J::Null);
            }
            Ok(match r.columns()[i].type_info().name() {
                "BOOL" => J::Bool(r.try_get(i)?),
                "INT2" => J::from(r.try_get::<i16, _>(i)?),
                "INT4" => J::from(r.try_get::<i32, _>(i)?),
                "INT8" => J::from(r.try_get::<i64, _>(i)?),
                "FLOAT4" => J::from(r.try_get::<f32, _>(i)?),
                "FLOAT8" => J::from(r.try_get::<f64, _>(i)?),
                _ => J::String(r.try_get::<String, _>(i)?),
            })
        })
        .collect()
}

/// `base`, or `base_2`, `base_3`, ... : the first name no table has and no job in `reserved` will take.
pub async fn unique_name(db: &Db, base: &str, reserved: &HashSet<String>) -> Result<String, sqlx::Error> {
    let taken = existing(db).await?;
    let mut name = base.to_owned();
    let mut n = 2;
    while taken.contains(&name) || reserved.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    Ok(name)
}
