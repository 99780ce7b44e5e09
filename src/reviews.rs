//! What a person does with an import waiting in review (see `import::review`): reads its diff a page
//! at a time or whole as CSV, fixes its rejected rows (`grid`, `fixes`), commits it (a worker merges
//! exactly what it staged) or discards it (`auth::rules::cancel`); and the sweep that ends reviews
//! left alone past `--keep-review` and drops review tables no import needs any more.

pub mod fixes;
pub mod grid;
mod refit;
mod tx;

use crate::auth::{Asker, rules};
use crate::db::audit::{self, Action, Event};
use crate::db::tables::{pg_json_row, pg_select_list, sqlite_json_row, write_csv_row};
use crate::db::{self, Db, Pool};
use crate::error::AppError;
use crate::import::names::quote;
use crate::import::rejects;
use crate::import::review::{self, KIND_COLUMN, Staged, old_column};
use crate::import::sink::ROW_COLUMN;
use crate::jobs::Jobs;
use crate::model::{ColumnInfo, ColumnType, DiffKind, DiffPage, DiffRow, ImportId, ImportStatus};
use serde_json::Value as J;
use sqlx::AssertSqlSafe;

/// Most rows one diff page holds.
pub const MAX_DIFF_PAGE: u64 = 500;
/// Rows a CSV download reads per query.
const CSV_CHUNK: i64 = 2000;

/// The review `id` as the asker may see it: what it staged, or why there is none to see.
async fn staged_of(db: &Db, asker: &Asker, id: &ImportId) -> Result<(Staged, String), AppError> {
    rules::import_of(db, &asker.viewer, id).await?;
    let (status, table, review) =
        db::imports::review_of(db, id).await?.ok_or_else(|| AppError::NotFound(format!("no import with id {id}")))?;
    if status != ImportStatus::Review {
        return Err(not_in_review(status, review.is_some()));
    }
    let staged = review
        .as_deref()
        .map(Staged::from_json)
        .transpose()
        .map_err(|e| AppError::Internal(format!("import {id}: its stored review could not be read: {e}")))?
        .ok_or_else(|| not_in_review(status, false))?;
    Ok((staged, table))
}

/// Why an import has no review to read or commit, in words.
/// `reviewed`: it stopped for a review once.
fn not_in_review(status: ImportStatus, reviewed: bool) -> AppError {
    AppError::Conflict(
        match status {
            ImportStatus::Succeeded if reviewed => "this import was committed already; its rows are in the table",
            ImportStatus::Queued | ImportStatus::Running => {
                "this import is being read or committed now, so there is no review to act on; wait for it to end"
            }
            ImportStatus::Cancelled => {
                "this review was discarded or its time ran out, so nothing was written; import the file again"
            }
            ImportStatus::Failed => "this import failed, so there is nothing to review; import the file again",
            _ => "this import did not stop for a review; its rows went straight into the table",
        }
        .to_owned(),
    )
}

/// The review `id` as someone who may commit it sees it (to commit or fix it): its table and what
/// it staged. Only someone who may write the table may.
async fn committer(db: &Db, asker: &Asker, id: &ImportId) -> Result<(String, Staged), AppError> {
    let (staged, table) = staged_of(db, asker, id).await?;
    if staged.summary.ends_at <= db::now_ms() {
        return Err(AppError::Conflict(
            "this review's time is up and its rows are no longer kept, so nothing was written: import the file again"
                .into(),
        ));
    }
    rules::may_write(db, &asker.viewer, &table).await?;
    Ok((table, staged))
}

/// Commits the review `id`: the rows it staged go into the table exactly as it said, in one
/// transaction run by a worker, or not at all when the table changed since (the import then fails,
/// saying so). Only by someone who may write the table. Under the rule "stop: import nothing"
/// (`on_error: fail`) a review with rejected rows still to fix is refused, naming them: each is
/// fixed or skipped first (under "skip", they are simply left out).
pub async fn commit(db: &Db, jobs: &Jobs, asker: &Asker, id: &ImportId) -> Result<(), AppError> {
    let (table, staged) = committer(db, asker, id).await?;
    let left = staged.summary.to_fix();
    if left > 0 && stops_on_bad_rows(db, id).await? {
        let rejects = db.data_table(&rejects::table_of(&staged.table));
        let first = grid::first_open(db, &rejects, 5).await?;
        return Err(AppError::Conflict(rows_left(left, &first)));
    }
    // The import's error report keeps the rows left out, not those fixed since.
    if !staged.source.is_empty() {
        let rejects = db.data_table(&rejects::table_of(&staged.table));
        db::errors::forget_fixed(db, id, &rejects, &crate::import::names::quote(rejects::ROW)).await?;
    }
    if !jobs.commit(id).await? {
        return Err(AppError::Conflict("this review was committed or discarded a moment ago".into()));
    }
    let detail = format!("import {id}");
    let event =
        Event { user: asker.viewer.name(), target: Some(&table), detail: Some(&detail), address: Some(&asker.address) };
    audit::record(db, Action::Commit, event, db::now_ms()).await?;
    Ok(())
}

/// Whether the import `id` writes nothing while a row is rejected (`on_error: fail`).
async fn stops_on_bad_rows(db: &Db, id: &ImportId) -> Result<bool, AppError> {
    let record = db::imports::record(db, id).await?;
    let mapping: crate::model::Mapping =
        record.and_then(|r| r.mapping).and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default();
    Ok(mapping.on_error == crate::model::OnError::Fail)
}

/// Why a commit waits for rejected rows, naming the `first` of the `left` ones.
fn rows_left(left: u64, first: &[u64]) -> String {
    let mut named: Vec<String> = first.iter().map(|r| crate::format::count(*r)).collect();
    if left > first.len() as u64 {
        named.push("…".into());
    }
    let (rows, are) = if left == 1 { ("row", "is") } else { ("rows", "are") };
    format!(
        "{} {rows} {are} still rejected (row{} {}), and this import writes nothing while a row is rejected (its \
         rule for bad rows is \"stop: import nothing\"): fix or skip {} in the list of rejected rows, then commit",
        crate::format::count(left),
        if named.len() == 1 { "" } else { "s" },
        named.join(", "),
        if left == 1 { "it" } else { "each" }
    )
}

/// Records the bytes the review `id`'s staged rows take, for the stored-bytes quotas.
pub async fn measure(db: &Db, id: &ImportId) {
    let measured = async {
        let record = db::imports::record(db, id).await.map_err(|e| e.to_string())?;
        let Some(staged) = record.and_then(|r| r.review).and_then(|t| Staged::from_json(&t).ok()) else {
            return Ok(());
        };
        review::settle(db.destination(), &staged.table).await.map_err(|e| e.to_string())?;
        let mut bytes = 0;
        // The staged rows, and the rejected rows kept to be fixed (see `import::rejects`).
        for table in [staged.table.clone(), rejects::table_of(&staged.table)] {
            bytes += review::bytes(db.destination(), &table).await.map_err(|e| e.to_string())?;
        }
        db::queue::set_review_bytes(db, id, bytes).await.map_err(|e| e.to_string())
    };
    if let Err(e) = measured.await {
        tracing::warn!(%id, error = %e, "could not measure a review's staged rows");
    }
}

/// Ends the reviews whose time is up (nothing is written) and drops review tables that no import
/// needs (a process stopped between making one and recording it). Returns how many reviews ended.
pub async fn sweep(db: &Db, keep: std::time::Duration) -> Result<usize, sqlx::Error> {
    let now = db::now_ms();
    let before = now.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
    let mut ended = 0;
    for id in db::queue::expired_reviews(db, before, 100).await? {
        let reason = "the review was not committed in time, so nothing was written; import the file again to review it";
        if let Some(staged) = db::queue::end_review(db, &id, now, Some(reason)).await? {
            ended += 1;
            if let Ok(staged) = Staged::from_json(&staged)
                && let Err(e) = review::drop_table(db.destination(), &staged.table).await
            {
                tracing::warn!(%id, error = %e, "could not drop an ended review's rows; trying again later");
            }
        }
    }
    if let Err(e) = review::take_out_trash(db.destination()).await {
        tracing::warn!(error = %e, "could not drop tables set aside; trying again later");
    }
    let live = db::queue::live_reviews(db).await?;
    for table in db::tables::existing(db).await? {
        // A rejects table goes with its review table (`review::drop_table` drops both).
        let owner = rejects::review_of(&table).unwrap_or_else(|| table.clone());
        if owner.starts_with(review::REVIEW_PREFIX)
            && !live.contains(&owner)
            && let Err(e) = review::drop_table(db.destination(), &owner).await
        {
            tracing::warn!(table, error = %e, "could not drop a review table no import needs; trying again later");
        }
    }
    Ok(ended)
}

/// The columns a diff query selects: the row, its kind, the values, then the table's values of the
/// columns that are not the key.
fn selected(staged: &Staged) -> Vec<ColumnInfo> {
    let int =
        |name: &str| ColumnInfo { name: name.into(), label: String::new(), ty: ColumnType::Integer, declared: None };
    let mut cols = vec![int(ROW_COLUMN), int(KIND_COLUMN)];
    cols.extend(staged.columns.iter().cloned());
    if staged.meets.is_some() {
        cols.extend(
            staged
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !staged.key.contains(&c.name))
                .map(|(i, c)| ColumnInfo { name: old_column(i), ..c.clone() }),
        );
    }
    cols
}

/// Rows of the review table after the row `after` (and of `kind`), in row order.
async fn read(
    db: &Db,
    staged: &Staged,
    kind: Option<DiffKind>,
    after: Option<i64>,
    offset: u64,
    limit: i64,
) -> Result<Vec<DiffRow>, sqlx::Error> {
    let cols = selected(staged);
    let table = db.data_table(&staged.table);
    let list = match db.pool() {
        Pool::Sqlite(_) => cols.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", "),
        Pool::Postgres(_) => pg_select_list(&cols),
    };
    let (k, r) = (quote(KIND_COLUMN), quote(ROW_COLUMN));
    let mut filter = Vec::new();
    if let Some(kind) = kind {
        filter.push(format!("{k} = {}", kind_number(kind)));
    }
    if let Some(after) = after {
        filter.push(format!("{r} > {after}"));
    }
    // A deep page is found by its first row through the index alone, then read from there: an
    // OFFSET over the rows themselves fetched every row it skipped (PostgreSQL: 0.75 s for the
    // 262,144th update of a million-row review; this way an index-only scan).
    if offset > 0 {
        let where_ = if filter.is_empty() { String::new() } else { format!("WHERE {}", filter.join(" AND ")) };
        let first = format!("SELECT {r} FROM {table} {where_} ORDER BY {r} LIMIT 1 OFFSET {offset}");
        let start: Option<i64> =
            crate::db::on_pool!(db, p => sqlx::query_scalar(AssertSqlSafe(first)).fetch_optional(p).await)?;
        let Some(start) = start else { return Ok(Vec::new()) };
        filter.push(format!("{r} >= {start}"));
    }
    let filter = if filter.is_empty() { String::new() } else { format!("WHERE {}", filter.join(" AND ")) };
    let sql = format!("SELECT {list} FROM {table} {filter} ORDER BY {r} LIMIT {limit}");
    let values: Vec<Vec<J>> = match db.pool() {
        Pool::Sqlite(p) => {
            let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(p).await?;
            rows.iter().map(|row| sqlite_json_row(row, &cols)).collect::<Result<_, _>>()?
        }
        Pool::Postgres(p) => {
            let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(p).await?;
            rows.iter().map(pg_json_row).collect::<Result<_, _>>()?
        }
    };
    Ok(values.into_iter().map(|v| diff_row(staged, v)).collect())
}

fn kind_number(kind: DiffKind) -> i64 {
    match kind {
        DiffKind::Insert => review::INSERT,
        DiffKind::Update => review::UPDATE,
        DiffKind::Unchanged => review::UNCHANGED,
    }
}

/// One selected row as the diff shows it: for an update, the table's value of each cell it changes.
fn diff_row(staged: &Staged, mut v: Vec<J>) -> DiffRow {
    let n = staged.columns.len();
    let row = v.first().and_then(J::as_i64).unwrap_or(0).max(0) as u64;
    let kind = match v.get(1).and_then(J::as_i64) {
        Some(review::UPDATE) => DiffKind::Update,
        Some(review::UNCHANGED) => DiffKind::Unchanged,
        _ => DiffKind::Insert,
    };
    let olds: Vec<J> = v.split_off((2 + n).min(v.len()));
    let values: Vec<J> = v.split_off(2.min(v.len()));
    let old = (kind == DiffKind::Update).then(|| {
        let mut olds = olds.into_iter();
        staged
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if staged.key.contains(&c.name) {
                    return None;
                }
                let was = olds.next().unwrap_or(J::Null);
                (values.get(i) != Some(&was)).then_some(was)
            })
            .collect()
    });
    DiffRow { row, kind, values, old }
}

/// Where a page of a review's diff starts: at a row of its kind, or at the page that holds the
/// sheet's row `Row` (or, if that row is not of the kind, the first row after it).
#[derive(Clone, Copy, Debug)]
pub enum DiffAt {
    Offset(u64),
    Row(u64),
}

/// A page of the review `id`'s diff, read in one of the asker's places for views (a deep page reads
/// an index for a moment: one person's pages may not hold every connection).
pub async fn diff(
    state: &crate::state::AppState,
    asker: &Asker,
    id: &ImportId,
    kind: Option<DiffKind>,
    at: DiffAt,
    limit: u64,
) -> Result<DiffPage, AppError> {
    let db = &state.db;
    let (staged, _) = staged_of(db, asker, id).await?;
    let _view = crate::routes::tables::view_place(state, asker).await?;
    let s = &staged.summary;
    let total = match kind {
        None => s.inserted + s.updated + s.unchanged,
        Some(DiffKind::Insert) => s.inserted,
        Some(DiffKind::Update) => s.updated,
        Some(DiffKind::Unchanged) => s.unchanged,
    };
    let limit = limit.clamp(1, MAX_DIFF_PAGE);
    let offset = match at {
        DiffAt::Offset(offset) => offset.min(total),
        // The rows of the kind before it, over the index the pages read by: the page that holds it.
        DiffAt::Row(row) => {
            let before = rows_before(db, &staged, kind, row).await?;
            before.min(total.saturating_sub(1)) / limit * limit
        }
    };
    let rows = read(db, &staged, kind, None, offset, limit as i64).await?;
    Ok(DiffPage {
        columns: staged.columns.iter().map(|c| c.name.clone()).collect(),
        key: staged.key.clone(),
        total,
        offset,
        rows,
    })
}

/// How many of the review's rows of `kind` (every kind: `None`) come before the sheet's row `row`.
async fn rows_before(db: &Db, staged: &Staged, kind: Option<DiffKind>, row: u64) -> Result<u64, sqlx::Error> {
    let (k, r) = (quote(KIND_COLUMN), quote(ROW_COLUMN));
    let row = i64::try_from(row).unwrap_or(i64::MAX);
    let of_kind = kind.map(|kind| format!("{k} = {} AND ", kind_number(kind))).unwrap_or_default();
    let sql = format!("SELECT count(*) FROM {} WHERE {of_kind}{r} < {row}", db.data_table(&staged.table));
    let n: i64 = crate::db::on_pool!(db, p => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(p).await)?;
    Ok(n.max(0) as u64)
}

/// The whole diff of the review `id` as CSV lines, read a chunk at a time: each row's number in the
/// sheet, what it would do, its values, and for each column that is not the key the value the table
/// has (on an update, where it changes). Formula-escaped as the error report is.
pub async fn diff_csv(
    db: &Db,
    asker: &Asker,
    id: &ImportId,
    hold: impl Send + 'static,
) -> Result<futures::stream::BoxStream<'static, Result<String, sqlx::Error>>, AppError> {
    let (staged, _) = staged_of(db, asker, id).await?;
    Ok(diff_lines(db, staged, hold))
}

/// What the import `id` in review staged (for the command line, which asks no one's authority).
pub async fn staged(db: &Db, id: &ImportId) -> anyhow::Result<Staged> {
    let record = db::imports::record(db, id).await?.ok_or_else(|| anyhow::anyhow!("no import with id {id}"))?;
    let text = record.review.ok_or_else(|| anyhow::anyhow!("import {id} did not stop for a review"))?;
    Ok(Staged::from_json(&text)?)
}

/// The CSV lines of [`diff_csv`], read a chunk at a time by a task that holds `hold` until the last
/// line is read or the reader leaves.
pub fn diff_lines(
    db: &Db,
    staged: Staged,
    hold: impl Send + 'static,
) -> futures::stream::BoxStream<'static, Result<String, sqlx::Error>> {
    let mut header = vec![J::from("row"), J::from("change")];
    header.extend(staged.columns.iter().map(|c| J::from(c.name.as_str())));
    if staged.meets.is_some() {
        header.extend(
            staged
                .columns
                .iter()
                .filter(|c| !staged.key.contains(&c.name))
                .map(|c| J::from(format!("{} (before)", c.name))),
        );
    }
    let mut first = String::new();
    write_csv_row(&mut first, &header);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, sqlx::Error>>(4);
    let db = db.clone();
    tokio::spawn(async move {
        let _hold = hold;
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        let mut after = None;
        loop {
            let rows = match read(&db, &staged, None, after, 0, CSV_CHUNK).await {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let Some(last) = rows.last() else { return };
            after = Some(last.row as i64);
            let mut chunk = String::new();
            for r in &rows {
                let mut line = vec![J::from(r.row), J::from(r.kind.to_string())];
                line.extend(r.values.iter().cloned());
                if staged.meets.is_some() {
                    let olds: Vec<J> = match &r.old {
                        Some(old) => old
                            .iter()
                            .zip(&staged.columns)
                            .filter(|(_, c)| !staged.key.contains(&c.name))
                            .map(|(o, _)| o.clone().unwrap_or(J::Null))
                            .collect(),
                        None => vec![J::Null; staged.columns.iter().filter(|c| !staged.key.contains(&c.name)).count()],
                    };
                    line.extend(olds);
                }
                write_csv_row(&mut chunk, &line);
            }
            // A client that left closes the channel: the reading stops.
            if tx.send(Ok(chunk)).await.is_err() || (rows.len() as i64) < CSV_CHUNK {
                return;
            }
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) }))
}
