//! An import's row errors (see `import::shape`), in the order they were found: appended in
//! bounded batches while the import runs, read back a page at a time for the page and the CSV
//! report, so a file of a million bad rows is never held in memory.

use super::{Db, on_pool};
use crate::model::{ErrorGroup, ImportId, ImportStatus, RowError};

/// Most errors one page may ask for.
pub const MAX_PAGE: i64 = 10_000;

/// Forgets `id`'s errors: an attempt that starts again (after a crash) reports afresh.
pub async fn clear(db: &Db, id: &ImportId) -> Result<(), sqlx::Error> {
    forget_groups(db, id).await?;
    on_pool!(db, p => sqlx::query("DELETE FROM import_errors WHERE import_id = $1").bind(id).execute(p).await.map(drop))
}

/// Forgets the groups [`summarize`] kept for `id`: its errors change.
async fn forget_groups(db: &Db, id: &ImportId) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE imports SET error_groups = NULL WHERE id = $1";
    on_pool!(db, p => sqlx::query(SQL).bind(id).execute(p).await.map(drop))
}

/// Forgets `id`'s errors of rows a review's fixes let in: those whose row is no longer among the
/// rows of `rejected` (the review's rejects table, as the app's connections name it, by its
/// `row_column`). One statement at the commit, whatever the number of fixes before it.
pub async fn forget_fixed(db: &Db, id: &ImportId, rejected: &str, row_column: &str) -> Result<u64, sqlx::Error> {
    forget_groups(db, id).await?;
    let sql = format!(
        "DELETE FROM import_errors WHERE import_id = $1 AND row_number NOT IN (SELECT {row_column} FROM {rejected})"
    );
    on_pool!(db, p => sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id).execute(p).await.map(|r| r.rows_affected()))
}

/// Appends `errors` as numbers `first_seq`, `first_seq + 1`, ... of `id`'s report, in one statement.
pub async fn append(db: &Db, id: &ImportId, first_seq: i64, errors: &[RowError]) -> Result<(), sqlx::Error> {
    // Six parameters a row; both databases take 32,766 or more, so 1,000 rows go in one statement.
    for (chunk_no, chunk) in errors.chunks(1000).enumerate() {
        let mut sql =
            String::from("INSERT INTO import_errors (import_id, seq, row_number, column_name, value, reason) VALUES ");
        for i in 0..chunk.len() {
            let b = i * 6;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6));
        }
        let base = first_seq + (chunk_no * 1000) as i64;
        on_pool!(db, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (i, e) in chunk.iter().enumerate() {
                q = q
                    .bind(id)
                    .bind(base + i as i64)
                    .bind(e.row as i64)
                    .bind(&e.column)
                    .bind(&e.value)
                    .bind(&e.reason);
            }
            q.execute(p).await.map(drop)
        })?;
    }
    Ok(())
}

/// Up to `limit` of `id`'s errors after number `after` (`-1`: from the first), in order, each
/// with its number for the next page.
pub async fn page(db: &Db, id: &ImportId, after: i64, limit: i64) -> Result<Vec<(i64, RowError)>, sqlx::Error> {
    const SQL: &str = "SELECT seq, row_number, column_name, value, reason FROM import_errors \
         WHERE import_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    let rows: Vec<(i64, i64, String, String, String)> = on_pool!(db, p => sqlx::query_as(SQL)
        .bind(id)
        .bind(after)
        .bind(limit.clamp(1, MAX_PAGE))
        .fetch_all(p)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(seq, row, column, value, reason)| (seq, RowError { row: row as u64, column, value, reason }))
        .collect())
}

/// `id`'s errors grouped by column and reason, largest first (at most [`ErrorGroup::MOST`]), each
/// with its most common values: as counted when the import ended ([`summarize`]), or counted now
/// (a running import, or one ended before it was counted).
pub async fn groups(db: &Db, id: &ImportId) -> Result<Vec<ErrorGroup>, sqlx::Error> {
    const SQL: &str = "SELECT error_groups FROM imports WHERE id = $1";
    let stored: Option<Option<String>> = on_pool!(db, p => sqlx::query_scalar(SQL).bind(id).fetch_optional(p).await)?;
    if let Some(groups) = stored.flatten().and_then(|json| serde_json::from_str(&json).ok()) {
        return Ok(groups);
    }
    count(db, id).await
}

/// Counts `id`'s errors by group (see `db::groups`).
async fn count(db: &Db, id: &ImportId) -> Result<Vec<ErrorGroup>, sqlx::Error> {
    let grouping = super::groups::Grouping {
        from: "import_errors",
        filter: "import_id = $1",
        bind: Some(id.as_str()),
        column: "column_name",
        reason: "reason",
        value: "value",
        column_type: "TEXT",
    };
    let found = super::groups::count(db, &grouping).await?;
    Ok(found.into_iter().map(|(column, reason, rows, common)| ErrorGroup { column, reason, rows, common }).collect())
}

/// Counts the errors of `id`, which ended as `status`, and keeps the groups with it, so its page
/// reads them at once. Kept only while the import is still so: a review committed meanwhile is
/// counted again when its commit ends.
pub async fn summarize(db: &Db, id: &ImportId, status: ImportStatus) -> Result<(), sqlx::Error> {
    let groups = count(db, id).await?;
    let json = serde_json::to_string(&groups).unwrap_or_default();
    const SQL: &str = "UPDATE imports SET error_groups = $1 WHERE id = $2 AND status = $3";
    on_pool!(db, p => sqlx::query(SQL).bind(&json).bind(id).bind(status).execute(p).await.map(drop))
}
