//! Row errors counted by column and reason, each group with the values most of its rows held: the
//! one grouped read behind an import's error summary (`db::errors`) and a review's rejected cells
//! still to fix (`reviews::grid`), written once for both tables and both databases.
//!
//! Two steps, not one. The groups first, largest first (at most [`ErrorGroup::MOST`]); then, per
//! group, its most common values, `ORDER BY count DESC LIMIT` [`ErrorGroup::COMMON`] (a bounded
//! sort in both databases). One statement ranking every (column, reason, value) with a window
//! sorted all of them: 1,000,000 rejected cells took 2.4 s of CPU on SQLite and 2.3 s on
//! PostgreSQL; the two steps took 0.3 s (SQLite, over an index on (state, column, reason, value)
//! that the rejects table has) and 0.9 s (PostgreSQL, hashing; the index did not help it), measured
//! on a table of that shape (`/tmp/grp` scripts, 40 % one value, 30 % distinct values).

use super::{Db, on_pool};
use crate::model::{CommonValue, ErrorGroup};
use sqlx::AssertSqlSafe;

/// Where the cells are and what their columns are called.
pub struct Grouping<'a> {
    /// The table, as the app's connections name it.
    pub from: &'a str,
    /// Which of its lines count: a condition with at most the one parameter `$1` ([`Self::bind`]).
    pub filter: &'a str,
    pub bind: Option<&'a str>,
    /// The column a cell belongs to, the reason, the value.
    pub column: &'a str,
    pub reason: &'a str,
    pub value: &'a str,
    /// The SQL type of `column` (`TEXT`, or an integer position), so a group's column compares
    /// with the column itself and its index serves.
    pub column_type: &'a str,
}

/// A group as read: its column as text, its reason, its rows, its most common values.
pub type Group = (String, String, u64, Vec<CommonValue>);

/// The largest groups of `g`, largest first (ties by column and reason), each with its most common
/// values (most rows first, ties by value).
pub async fn count(db: &Db, g: &Grouping<'_>) -> Result<Vec<Group>, sqlx::Error> {
    let totals = format!(
        "SELECT CAST({c} AS TEXT), {r}, count(*) FROM {from} WHERE {filter} GROUP BY {c}, {r} \
         ORDER BY count(*) DESC, CAST({c} AS TEXT), {r} LIMIT {most}",
        c = g.column,
        r = g.reason,
        from = g.from,
        filter = g.filter,
        most = ErrorGroup::MOST,
    );
    let groups: Vec<(String, String, i64)> = on_pool!(db, p => {
        let mut q = sqlx::query_as(AssertSqlSafe(totals.clone()));
        if let Some(b) = g.bind {
            q = q.bind(b);
        }
        q.fetch_all(p).await
    })?;
    let n = if g.bind.is_some() { 2 } else { 1 };
    let top = format!(
        "SELECT {v}, count(*) FROM {from} WHERE {filter} AND {c} = CAST(${n} AS {ty}) AND {r} = ${m} \
         GROUP BY {v} ORDER BY count(*) DESC, {v} LIMIT {common}",
        v = g.value,
        c = g.column,
        r = g.reason,
        from = g.from,
        filter = g.filter,
        ty = g.column_type,
        m = n + 1,
        common = ErrorGroup::COMMON,
    );
    let mut out = Vec::with_capacity(groups.len());
    for (column, reason, rows) in groups {
        let common: Vec<(String, i64)> = on_pool!(db, p => {
            let mut q = sqlx::query_as(AssertSqlSafe(top.clone()));
            if let Some(b) = g.bind {
                q = q.bind(b);
            }
            q.bind(&column).bind(&reason).fetch_all(p).await
        })?;
        let common = common.into_iter().map(|(value, n)| CommonValue { value, rows: n.max(0) as u64 }).collect();
        out.push((column, reason, rows.max(0) as u64, common));
    }
    Ok(out)
}
