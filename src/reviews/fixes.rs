//! What a person does to a review's rejected rows (issue 28, point 2): corrects one cell, replaces
//! every equal value of a column ("apply to every equal value", remembered with the table's
//! mapping for the next file into it), or leaves rows out (one, or every row with the same error).
//! Only someone who may commit the review may fix it (the same check as `reviews::commit`); each
//! fix is in the audit log; each answer says in words what happened and carries the review's
//! counts after it, which `GET /api/imports/{id}` and its events say from then on.

use super::refit::{self, Done};
use super::tx::{Held, P, Tx};
use crate::auth::Asker;
use crate::db::audit::{self, Action, Event};
use crate::db::{self, Db};
use crate::error::AppError;
use crate::format::{count, plural, quoted};
use crate::import::names::quote;
use crate::import::rejects::{self, COL, HEAD, REASON, ROW, STATE, VALUE};
use crate::import::value::Value;
use crate::import::value_map;
use crate::model::{
    CellFix, ColumnChoice, DiffKind, FixOutcome, ImportId, RejectedCell, RejectedRow, SkipFix, ValueFix, ValueMap,
};
use crate::state::AppState;

/// Corrects one cell of a rejected row and checks the row again as the import would.
pub async fn cell(state: &AppState, asker: &Asker, id: &ImportId, fix: &CellFix) -> Result<FixOutcome, AppError> {
    let db = &state.db;
    fits(state, &fix.value)?;
    let (table, _) = super::committer(db, asker, id).await?;
    let rules = refit::table_rules(db, id, &table).await?;
    let mut tx = Tx::begin(db).await?;
    let mut held = Held::take(&mut tx, id).await?;
    let plan = held.plan()?;
    let c = column_of(&held, &fix.column)?;
    let sql = refit::heads(&held.rejects(db), &format!("h.{} = $1", quote(ROW)), 1);
    let found = refit::cells_of(&mut tx, &sql, &[P::Int(fix.row as i64)], plan.width()).await?;
    let Some((number, cells)) = found.into_iter().next() else {
        return Err(AppError::NotFound(format!(
            "row {} is not among this review's rejected rows still to fix (fixed or skipped already?)",
            count(fix.row)
        )));
    };
    let Some(mut cells) = cells else {
        return Err(AppError::Conflict(format!(
            "row {} was refused after it was read (its key repeats an earlier row's, or it breaks a rule of the \
             table), so its other values were not kept: skip it, or correct the file and import it again",
            count(number)
        )));
    };
    // PostgreSQL's text holds no NUL (an import strips them from what it reads too).
    cells[plan.source_of(c)] = Value::text(&fix.value.replace('\0', ""));
    let done = refit::refit(db, &mut tx, &mut held, &plan, rules.as_ref(), vec![(number, cells)]).await?;
    held.save(&mut tx).await?;
    tx.commit().await?;
    let name = &held.staged.columns[c].name;
    let detail = format!("import {id}: row {number}, {} set to {}", quoted(name), quoted(&fix.value));
    record(db, asker, &table, &detail).await?;
    let words = match (done.moved.first(), done.rejected.first()) {
        (Some(moved), _) => format!("Row {} passes now: {}.", count(number), what_it_does(moved.kind)),
        (None, Some((_, lines))) => format!("Row {} is still rejected: {}.", count(number), reasons(&held, lines)),
        (None, None) => format!("Row {} was checked again.", count(number)),
    };
    Ok(outcome(&held, done, 0, words))
}

/// Replaces every rejected cell of a column whose text is `from` with `to`, in batches, and keeps
/// the replacement in the import's mapping (and so, once committed, the table's). The rows are
/// found in one pass (their numbers held: 8 bytes a row, 8 MB for a million), then shaped again
/// [`refit::BATCH_ROWS`] to a transaction, each batch read by its rows' numbers (read again from
/// the last row done, PostgreSQL passed over the rows behind it at every batch). A map of 200,000
/// rows, all of them passing, measured: 2.5-3.4 s on SQLite, 5.4-6.2 s on PostgreSQL.
pub async fn map(state: &AppState, asker: &Asker, id: &ImportId, fix: &ValueFix) -> Result<FixOutcome, AppError> {
    let db = &state.db;
    fits(state, &fix.map.from)?;
    fits(state, &fix.map.to)?;
    let (table, _) = super::committer(db, asker, id).await?;
    // Up to a thousand transactions: one of the person's places, as a long read takes.
    let _place = crate::routes::tables::view_place(state, asker).await?;
    let rules = refit::table_rules(db, id, &table).await?;
    let fix = ValueFix {
        column: fix.column.clone(),
        map: ValueMap { from: fix.map.from.replace('\0', ""), to: fix.map.to.replace('\0', "") },
    };
    if fix.map.from.trim() == fix.map.to.trim() {
        return Err(AppError::BadRequest("the value and its replacement are the same; nothing would change".into()));
    }
    let from = fix.map.from.trim().to_owned();
    // The rows whose cell in the column shows the value (as the grid shows it: as read, or as an
    // earlier replacement made it; cut at 200 characters, past which two values that start alike
    // are both shaped again, and the one that does not hold it stays as it was).
    let mut tx = Tx::begin(db).await?;
    let mut held = Held::take(&mut tx, id).await?;
    let c = column_of(&held, &fix.column)?;
    let name = held.staged.columns[c].name.clone();
    let sql = format!(
        "SELECT DISTINCT {r} FROM {} WHERE {COL} = $1 AND TRIM({VALUE}) = $2 AND {STATE} = {open} ORDER BY {r}",
        held.rejects(db),
        r = quote(ROW),
        open = rejects::OPEN
    );
    let found: Vec<(i64,)> = tx.fetch(&sql, &[P::Int(c as i64), P::Text(shown_value(&from))]).await?;
    if found.is_empty() {
        return Err(AppError::BadRequest(format!(
            "no rejected row still to fix has {} in {}; nothing was changed",
            quoted(&from),
            quoted(&name)
        )));
    }
    remember(&mut held, c, &fix)?;
    held.save(&mut tx).await?;
    tx.commit().await?;
    let numbers: Vec<String> = found.into_iter().map(|(r,)| r.to_string()).collect();
    let mut done = Done::default();
    let width = held.staged.source.len();
    // The review table was analyzed once made (`review::settle`), with the rows it had then.
    let mut analyzed = held.staged.rows();
    let mut last = held;
    for chunk in numbers.chunks(refit::batch_rows(width)) {
        let mut tx = Tx::begin(db).await?;
        let mut held = Held::take(&mut tx, id).await?;
        refit::keep_statistics(&mut tx, db, &held, &mut analyzed).await?;
        let plan = held.plan()?;
        let filter = format!("h.{} IN ({})", quote(ROW), chunk.join(", "));
        let sql = refit::heads(&held.rejects(db), &filter, chunk.len());
        // Rows not kept whole cannot be shaped again (see `import::rejects`); they stay.
        let found = refit::cells_of(&mut tx, &sql, &[], plan.width()).await?;
        let unkept = found.iter().filter(|(_, cells)| cells.is_none()).count() as u64;
        let rows: Vec<(u64, Vec<Value>)> = found.into_iter().filter_map(|(n, cells)| cells.map(|c| (n, c))).collect();
        let mut batch = refit::refit(db, &mut tx, &mut held, &plan, rules.as_ref(), rows).await?;
        batch.unkept = unkept;
        done.add(batch);
        held.save(&mut tx).await?;
        tx.commit().await?;
        last = held;
    }
    let held = last;
    let rows = done.fixed + done.still;
    let detail =
        format!("import {id}: in {}, {} ({})", quoted(&name), fix.map.words(), plural(rows as usize, "row", "rows"));
    record(db, asker, &table, &detail).await?;
    let words = mapped_words(&fix.map, &name, &held.table, &done);
    // Rows moved between the tables: their bytes are measured again (after the answer).
    let (db, id) = (db.clone(), id.clone());
    tokio::spawn(async move { super::measure(&db, &id).await });
    Ok(outcome(&held, done, 0, words))
}

/// Leaves rejected rows out: one row, or every row with a rejected cell in a column for a reason.
/// One statement, however many rows.
pub async fn skip(state: &AppState, asker: &Asker, id: &ImportId, fix: &SkipFix) -> Result<FixOutcome, AppError> {
    let db = &state.db;
    let (table, _) = super::committer(db, asker, id).await?;
    // One statement, over as many rows as the error has: one of the person's places.
    let _place = crate::routes::tables::view_place(state, asker).await?;
    let mut tx = Tx::begin(db).await?;
    let mut held = Held::take(&mut tx, id).await?;
    let rejects_table = held.rejects(db);
    let r = quote(ROW);
    let (which, params, detail, words): (String, Vec<P>, String, Words) =
        match (fix.row, fix.column.as_deref(), fix.reason.as_deref()) {
            (Some(row), None, None) => (
                "$1".into(),
                vec![P::Int(row as i64)],
                format!("import {id}: row {row} left out"),
                Box::new(move |n| match n {
                    0 => format!("Row {} is not among the rejected rows still to fix.", count(row)),
                    _ => format!("Row {} is left out.", count(row)),
                }),
            ),
            (None, Some(column), Some(reason)) => {
                let c = column_of(&held, column)?;
                let name = held.staged.columns[c].name.clone();
                let said = format!("{} {reason}", quoted(&name));
                (
                    format!("SELECT {r} FROM {rejects_table} WHERE {COL} = $1 AND {REASON} = $2"),
                    vec![P::Int(c as i64), P::Text(reason.to_owned())],
                    format!("import {id}: every row where {said} left out"),
                    Box::new(move |n| match n {
                        0 => format!("No rejected row still to fix has {said}."),
                        _ => format!("{} where {said} {} left out.", plural(n as usize, "row", "rows"), were(n)),
                    }),
                )
            }
            _ => {
                return Err(AppError::BadRequest(
                    "say which rows to leave out: a row, or a column and a reason (every row with that error)".into(),
                ));
            }
        };
    let heads = format!(
        "SELECT count(*) FROM {rejects_table} WHERE {HEAD} = 1 AND {STATE} = {open} AND {r} IN ({which})",
        open = rejects::OPEN
    );
    let n: Vec<(i64,)> = tx.fetch(&heads, &params).await?;
    let n = n.first().map_or(0, |(n,)| (*n).max(0) as u64);
    let sql = format!(
        "UPDATE {rejects_table} SET {STATE} = {skipped} WHERE {STATE} = {open} AND {r} IN ({which})",
        skipped = rejects::SKIPPED,
        open = rejects::OPEN
    );
    tx.exec(&sql, &params).await?;
    held.staged.summary.skipped += n;
    held.save(&mut tx).await?;
    tx.commit().await?;
    if n > 0 {
        record(db, asker, &table, &detail).await?;
    }
    Ok(outcome(&held, Done::default(), n, words(n)))
}

/// A value a person typed, within what a cell of a file may hold (`--max-cell-bytes`): a fix is
/// read as the import reads, and the import refuses a longer cell.
fn fits(state: &AppState, value: &str) -> Result<(), AppError> {
    let max = state.config.max_cell_bytes;
    if value.len() <= max {
        return Ok(());
    }
    Err(AppError::BadRequest(format!(
        "the value is {} long, more than a cell may hold ({}); shorten it",
        crate::format::bytes(value.len() as u64),
        crate::format::bytes(max as u64)
    )))
}

/// What a skip says of the rows it left out, by how many.
type Words = Box<dyn Fn(u64) -> String + Send + Sync>;

/// The review's column a request names: the table's column, or the sheet's header text.
fn column_of(held: &Held, named: &str) -> Result<usize, AppError> {
    let cols = &held.staged.columns;
    let named = named.trim();
    cols.iter().position(|c| c.name == named).or_else(|| cols.iter().position(|c| c.label == named)).ok_or_else(|| {
        let names: Vec<String> = cols.iter().map(|c| quoted(&c.name)).collect();
        AppError::BadRequest(format!(
            "this review has no column {}; its columns are {}",
            quoted(named),
            names.join(", ")
        ))
    })
}

/// Adds the replacement to the mapping's choice for the sheet's column that fills column `c`.
fn remember(held: &mut Held, c: usize, fix: &ValueFix) -> Result<(), AppError> {
    let source = held.staged.source.get(held.plan()?.source_of(c)).cloned().ok_or_else(|| {
        AppError::Internal(format!("import {}: the review's column {c} has no sheet column", held.id))
    })?;
    let choices = &mut held.mapping.columns;
    let at = match choices.iter().position(|ch| ch.source == source.label || ch.source == source.name) {
        Some(at) => at,
        None => {
            choices.push(ColumnChoice { source: source.label.clone(), ..ColumnChoice::default() });
            choices.len() - 1
        }
    };
    choices[at].values = value_map::with(&choices[at].values, fix.map.clone());
    Ok(())
}

/// A value as a rejects line shows it (cut past 200 characters, as a row error does), trimmed.
fn shown_value(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Records a fix in the audit log.
async fn record(db: &Db, asker: &Asker, table: &str, detail: &str) -> Result<(), AppError> {
    let event =
        Event { user: asker.viewer.name(), target: Some(table), detail: Some(detail), address: Some(&asker.address) };
    audit::record(db, Action::Fix, event, db::now_ms()).await?;
    Ok(())
}

/// What the fix did, with the review's counts after it.
fn outcome(held: &Held, done: Done, skipped: u64, words: String) -> FixOutcome {
    let rejected = done
        .rejected
        .iter()
        .map(|(row, lines)| RejectedRow {
            row: *row,
            cells: cells(held, lines),
            editable: lines.first().is_some_and(|l| l.cells.is_some()),
        })
        .collect();
    FixOutcome {
        summary: held.staged.summary.clone(),
        fixed: done.fixed,
        moved: done.moved,
        still: done.still,
        rejected,
        skipped,
        words,
    }
}

/// A rejected row's lines as its grid shows them.
pub(super) fn cells(held: &Held, lines: &[rejects::Line]) -> Vec<RejectedCell> {
    lines
        .iter()
        .map(|l| {
            let col = held.staged.columns.get(l.col);
            RejectedCell {
                column: col.map(|c| c.name.clone()).unwrap_or_default(),
                label: col.map(|c| rejects::shown(c).to_owned()).unwrap_or_default(),
                value: l.value.clone(),
                reason: l.reason.clone(),
            }
        })
        .collect()
}

/// `in "qty", "12 pcs" is not a whole number; in "sku", the cell is empty, and a key ...`.
fn reasons(held: &Held, lines: &[rejects::Line]) -> String {
    cells(held, lines)
        .iter()
        .map(|c| {
            let what = if c.value.is_empty() { "the cell".to_owned() } else { quoted(&c.value) };
            format!("in {}, {what} {}", quoted(&c.label), c.reason)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a row that passes will do, in words.
fn what_it_does(kind: DiffKind) -> &'static str {
    match kind {
        DiffKind::Insert => "it will be added to the table",
        DiffKind::Update => "it will change a row of the table",
        DiffKind::Unchanged => "the table has it as it is already",
    }
}

fn were(n: u64) -> &'static str {
    if n == 1 { "is" } else { "are" }
}

/// `"12 pcs" → "12" in "qty": 40 rows pass now, 2 are still rejected. The next file into table
/// "stock" is read the same way.`
fn mapped_words(map: &crate::model::ValueMap, column: &str, table: &str, done: &Done) -> String {
    let passed = match done.fixed {
        0 => "no row passes yet".to_owned(),
        n => format!("{} {} now", plural(n as usize, "row", "rows"), if n == 1 { "passes" } else { "pass" }),
    };
    let still = match done.still {
        0 => String::new(),
        n => format!(", {} {} still rejected", plural(n as usize, "row", "rows"), were(n)),
    };
    let unkept = match done.unkept {
        0 => String::new(),
        1 => " 1 row with it was refused after it was read (a repeated key, or a rule of the table), and can \
               only be skipped."
            .to_owned(),
        n => format!(
            " {} rows with it were refused after they were read (a repeated key, or a rule of the table), and can \
             only be skipped.",
            count(n)
        ),
    };
    format!(
        "{} in {}: {passed}{still}.{unkept} The next file into table {} is read the same way (its preview lists it, and \
         you can remove it there).",
        map.words(),
        quoted(column),
        quoted(table)
    )
}
