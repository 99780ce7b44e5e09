//! Reading the tables imports made: which exist, and pages of their rows as JSON. Only tables an
//! import created are reachable by name, and only in the data file or schema, so the API can never
//! be pointed at the app's own tables.

use super::imports::columns_from_json;
use super::{Db, Pool, on_pool};
use crate::import::names::quote;
use crate::import::sink::column_type_of;
use crate::model::{ColumnInfo, ColumnType, ImportId, RowsPage, TableSummary};
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

async fn count(db: &Db, name: &str) -> Result<u64, sqlx::Error> {
    let sql = format!("SELECT count(*) FROM {}", db.data_table(name));
    let n: i64 = on_pool!(db, p => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(p).await)?;
    Ok(n as u64)
}

/// Every table made by an import that still exists, most recently written first.
pub async fn list(db: &Db) -> Result<Vec<TableSummary>, sqlx::Error> {
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

/// A page of `name`'s rows in insertion order, or `None` when no import made such a table.
pub async fn rows(db: &Db, name: &str, offset: u64, limit: u64) -> Result<Option<RowsPage>, sqlx::Error> {
    let Some((_, _, columns)) = owner(db, name, &existing(db).await?).await? else { return Ok(None) };
    // Columns come from the table itself when an append met a table of another shape.
    let actual = table_columns(db, name).await?;
    let limit = limit.clamp(1, MAX_PAGE);
    let total = count(db, name).await?;
    let (limit_i, offset_i) = (limit as i64, offset as i64);
    let rows: Vec<Vec<J>> = match db.pool() {
        Pool::Sqlite(p) => {
            // Named columns, not `*`: sqlx caches a statement's columns by its text, and a table
            // replaced by one of other columns under the same name would not match them.
            let list = actual.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
            let sql = format!("SELECT {list} FROM {} ORDER BY rowid LIMIT $1 OFFSET $2", db.data_table(name));
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(limit_i).bind(offset_i).fetch_all(p).await?;
            rows.iter().map(|r| sqlite_json_row(r, &columns)).collect::<Result<_, _>>()?
        }
        Pool::Postgres(p) => {
            // Dates and timestamps come back as text (as SQLite stores them); sqlx needs no
            // date-time crate for that. A freshly loaded table's physical order is its insertion order.
            let sql = format!(
                "SELECT {} FROM {} ORDER BY ctid LIMIT $1 OFFSET $2",
                pg_select_list(&actual),
                db.data_table(name)
            );
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(limit_i).bind(offset_i).fetch_all(p).await?;
            rows.iter().map(pg_json_row).collect::<Result<_, _>>()?
        }
    };
    let columns = if actual.len() == columns.len() { columns } else { actual };
    Ok(Some(RowsPage { columns, rows, total, offset, limit }))
}

/// The table's columns as the database declares them.
async fn table_columns(db: &Db, name: &str) -> Result<Vec<ColumnInfo>, sqlx::Error> {
    let sql = match db.pool() {
        Pool::Sqlite(_) => "SELECT name, type FROM pragma_table_info($1, $2) ORDER BY cid",
        Pool::Postgres(_) => {
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_name = $1 AND table_schema = $2 ORDER BY ordinal_position"
        }
    };
    let cols: Vec<(String, String)> =
        on_pool!(db, p => sqlx::query_as(sql).bind(name).bind(db.data_schema()).fetch_all(p).await)?;
    Ok(cols
        .into_iter()
        .map(|(name, decl)| ColumnInfo { label: name.clone(), name, ty: column_type_of(&decl) })
        .collect())
}

/// `"a", "b"::text AS "b", ...`: every column, dates and other types sqlx would need a crate for as text.
fn pg_select_list(cols: &[ColumnInfo]) -> String {
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
fn sqlite_json_row(r: &SqliteRow, columns: &[ColumnInfo]) -> Result<Vec<J>, sqlx::Error> {
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
fn pg_json_row(r: &PgRow) -> Result<Vec<J>, sqlx::Error> {
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
