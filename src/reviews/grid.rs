//! Reading a review's rejected rows still to fix (see `import::rejects`): a page of them in sheet
//! order, each with its rejected cells, for the review's grid; and the same cells grouped by column
//! and reason with their most common values, where fixes at scale act. Both read in one of the
//! asker's places for views, as the diff's pages do.

use super::staged_of;
use crate::auth::Asker;
use crate::db::groups::Grouping;
use crate::db::on_pool;
use crate::error::AppError;
use crate::import::names::quote;
use crate::import::rejects::{self, CELLS, COL, HEAD, OPEN, REASON, ROW, STATE, VALUE};
use crate::import::sink::Kind;
use crate::model::{ImportId, RejectGroup, RejectPage, RejectedCell, RejectedRow};
use crate::state::AppState;
use sqlx::AssertSqlSafe;

/// Most rows one page of the grid holds.
pub const MAX_PAGE: u64 = 200;

/// A page of the review `id`'s rejected rows still to fix, from `offset`.
pub async fn page(
    state: &AppState,
    asker: &Asker,
    id: &ImportId,
    offset: u64,
    limit: u64,
) -> Result<RejectPage, AppError> {
    let db = &state.db;
    let (staged, _) = staged_of(db, asker, id).await?;
    let _view = crate::routes::tables::view_place(state, asker).await?;
    let table = db.data_table(&rejects::table_of(&staged.table));
    let total = staged.summary.to_fix();
    let limit = limit.clamp(1, MAX_PAGE);
    // The page's rows by their heads (one per row, in row order), then every open line of them.
    let sql = format!(
        "SELECT {r}, {COL}, {VALUE}, {REASON}, {HEAD}, CAST(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END AS BIGINT) FROM {table} \
         WHERE {STATE} = {OPEN} AND {r} IN (SELECT {r} FROM {table} WHERE {HEAD} = 1 AND {STATE} = {OPEN} \
         ORDER BY {r} LIMIT {limit} OFFSET {offset}) ORDER BY {r}, {COL}",
        r = quote(ROW),
        c = quote(CELLS),
        offset = offset.min(total),
    );
    let found: Vec<(i64, i64, String, String, i64, i64)> =
        on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(p).await)?;
    let mut rows: Vec<RejectedRow> = Vec::new();
    for (row, col, value, reason, head, kept) in found {
        let row = row.max(0) as u64;
        let col = staged.columns.get(col.max(0) as usize);
        let cell = RejectedCell {
            column: col.map(|c| c.name.clone()).unwrap_or_default(),
            label: col.map(|c| rejects::shown(c).to_owned()).unwrap_or_default(),
            value,
            reason,
        };
        match rows.last_mut().filter(|r| r.row == row) {
            Some(r) => r.cells.push(cell),
            None => rows.push(RejectedRow { row, cells: vec![cell], editable: head == 1 && kept == 1 }),
        }
    }
    Ok(RejectPage { total, skipped: staged.summary.skipped, offset, rows })
}

/// The review `id`'s rejected cells still to fix, grouped by column and reason, largest first (at
/// most [`crate::model::ErrorGroup::MOST`]), each with its most common values: counted as the import's own error
/// groups are (`db::groups`).
pub async fn groups(state: &AppState, asker: &Asker, id: &ImportId) -> Result<Vec<RejectGroup>, AppError> {
    let db = &state.db;
    let (staged, _) = staged_of(db, asker, id).await?;
    let _view = crate::routes::tables::view_place(state, asker).await?;
    let table = db.data_table(&rejects::table_of(&staged.table));
    let open = format!("{STATE} = {OPEN}");
    let int = match db.destination().kind() {
        Kind::Sqlite => "INTEGER",
        Kind::Postgres => "BIGINT",
    };
    let grouping = Grouping {
        from: &table,
        filter: &open,
        bind: None,
        column: COL,
        reason: REASON,
        value: VALUE,
        column_type: int,
    };
    let found = crate::db::groups::count(db, &grouping).await?;
    Ok(found
        .into_iter()
        .map(|(col, reason, rows, common)| {
            let col = col.parse::<usize>().ok().and_then(|c| staged.columns.get(c));
            RejectGroup {
                column: col.map(|c| c.name.clone()).unwrap_or_default(),
                label: col.map(|c| rejects::shown(c).to_owned()).unwrap_or_default(),
                reason,
                rows,
                common,
            }
        })
        .collect())
}

/// The first `n` rejected rows still to fix of the review whose rejects table is `table`, by number
/// (for a sentence naming them).
pub async fn first_open(db: &crate::db::Db, table: &str, n: usize) -> Result<Vec<u64>, sqlx::Error> {
    let sql =
        format!("SELECT {r} FROM {table} WHERE {HEAD} = 1 AND {STATE} = {OPEN} ORDER BY {r} LIMIT {n}", r = quote(ROW));
    let rows: Vec<i64> = on_pool!(db, p => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(p).await)?;
    Ok(rows.into_iter().map(|r| r.max(0) as u64).collect())
}
