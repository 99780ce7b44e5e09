//! Reading the tables imports made: which exist, and pages of their rows as JSON. Only tables an
//! import created are reachable by name, so the API can never be pointed at internal tables.

use crate::import::names::quote;
use crate::model::{ColumnInfo, ImportId, RowsPage, TableSummary};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Column, Row, SqlitePool, TypeInfo, ValueRef};
use std::collections::HashSet;

/// Most rows one page may ask for.
pub const MAX_PAGE: u64 = 1000;

/// The latest successful import into `name`, when that table still exists: (import id, file, columns).
async fn owner(pool: &SqlitePool, name: &str) -> Result<Option<(ImportId, String, Vec<ColumnInfo>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT i.id, i.file_name, i.columns FROM imports i \
         JOIN sqlite_schema s ON s.type = 'table' AND s.name = i.table_name \
         WHERE i.table_name = ? AND i.status = 'succeeded' ORDER BY i.finished_at DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let columns: String = r.try_get("columns")?;
        Ok((ImportId(r.try_get("id")?), r.try_get("file_name")?, serde_json::from_str(&columns).unwrap_or_default()))
    })
    .transpose()
}

async fn count(pool: &SqlitePool, name: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", quote(name)))).fetch_one(pool).await?;
    Ok(n as u64)
}

/// Every table made by an import that still exists, most recently written first.
pub async fn list(pool: &SqlitePool) -> Result<Vec<TableSummary>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT i.table_name FROM imports i JOIN sqlite_schema s ON s.type = 'table' AND s.name = i.table_name \
         WHERE i.status = 'succeeded' GROUP BY i.table_name ORDER BY max(i.finished_at) DESC",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if let Some((import_id, file_name, columns)) = owner(pool, &name).await? {
            let rows = count(pool, &name).await?;
            out.push(TableSummary { name, rows, columns, import_id, file_name });
        }
    }
    Ok(out)
}

/// A page of `name`'s rows in insertion order, or `None` when no import made such a table.
pub async fn rows(pool: &SqlitePool, name: &str, offset: u64, limit: u64) -> Result<Option<RowsPage>, sqlx::Error> {
    let Some((_, _, columns)) = owner(pool, name).await? else { return Ok(None) };
    let limit = limit.clamp(1, MAX_PAGE);
    let total = count(pool, name).await?;
    let sql = format!("SELECT * FROM {} ORDER BY rowid LIMIT ? OFFSET ?", quote(name));
    let rows = sqlx::query(AssertSqlSafe(sql)).bind(limit as i64).bind(offset as i64).fetch_all(pool).await?;
    // Columns come from the table itself: an append may have met a table of another shape.
    let columns = match rows.first() {
        Some(first) if first.columns().len() != columns.len() => first
            .columns()
            .iter()
            .map(|c| ColumnInfo { name: c.name().to_owned(), label: c.name().to_owned(), ty: crate::import::sink::column_type_of(c.type_info().name()) })
            .collect(),
        _ => columns,
    };
    let rows = rows.iter().map(|r| json_row(r, &columns)).collect::<Result<_, _>>()?;
    Ok(Some(RowsPage { columns, rows, total, offset, limit }))
}

/// A row as JSON values, by each value's own storage class (booleans by the column's type).
fn json_row(r: &SqliteRow, columns: &[ColumnInfo]) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    use serde_json::Value as J;
    (0..r.columns().len())
        .map(|i| {
            let raw = r.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(J::Null);
            }
            let is_bool = columns.get(i).is_some_and(|c| c.ty == crate::model::ColumnType::Boolean);
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

/// `base`, or `base_2`, `base_3`, ... : the first name no table has and no job in `reserved` will take.
pub async fn unique_name(pool: &SqlitePool, base: &str, reserved: &HashSet<String>) -> Result<String, sqlx::Error> {
    let taken: HashSet<String> = sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    let mut name = base.to_owned();
    let mut n = 2;
    while taken.contains(&name) || reserved.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    Ok(name)
}
