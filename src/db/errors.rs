//! An import's row errors (see `import::shape`), in the order they were found: appended in
//! bounded batches while the import runs, read back a page at a time for the page and the CSV
//! report, so a file of a million bad rows is never held in memory.

use super::{Db, on_pool};
use crate::model::{CommonValue, ErrorGroup, ImportId, RowError};

/// Most errors one page may ask for.
pub const MAX_PAGE: i64 = 10_000;

/// Forgets `id`'s errors: an attempt that starts again (after a crash) reports afresh.
pub async fn clear(db: &Db, id: &ImportId) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("DELETE FROM import_errors WHERE import_id = $1").bind(id).execute(p).await.map(drop))
}

/// Forgets `id`'s errors of rows a review's fixes let in: those whose row is no longer among the
/// rows of `rejected` (the review's rejects table, as the app's connections name it, by its
/// `row_column`). One statement at the commit, whatever the number of fixes before it.
pub async fn forget_fixed(db: &Db, id: &ImportId, rejected: &str, row_column: &str) -> Result<u64, sqlx::Error> {
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
/// with its most common values. One pass over the errors, grouped by column, reason and value in
/// the database; only each group's first few values come back.
pub async fn groups(db: &Db, id: &ImportId) -> Result<Vec<ErrorGroup>, sqlx::Error> {
    const SQL: &str = "SELECT column_name, reason, value, n, total FROM (\
         SELECT column_name, reason, value, count(*) AS n, \
         CAST(sum(count(*)) OVER (PARTITION BY column_name, reason) AS BIGINT) AS total, \
         row_number() OVER (PARTITION BY column_name, reason ORDER BY count(*) DESC, value) AS k \
         FROM import_errors WHERE import_id = $1 GROUP BY column_name, reason, value) AS g \
         WHERE k <= $2 ORDER BY total DESC, column_name, reason, n DESC, value";
    let rows: Vec<(String, String, String, i64, i64)> = on_pool!(db, p => sqlx::query_as(SQL)
        .bind(id)
        .bind(ErrorGroup::COMMON as i64)
        .fetch_all(p)
        .await)?;
    let mut out: Vec<ErrorGroup> = Vec::new();
    for (column, reason, value, n, total) in rows {
        let common = CommonValue { value, rows: n.max(0) as u64 };
        if let Some(g) = out.last_mut().filter(|g| g.column == column && g.reason == reason) {
            g.common.push(common);
        } else if out.len() == ErrorGroup::MOST {
            break;
        } else {
            out.push(ErrorGroup { column, reason, rows: total.max(0) as u64, common: vec![common] });
        }
    }
    Ok(out)
}
