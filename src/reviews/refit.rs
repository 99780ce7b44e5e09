//! Rejected rows of a review shaped again after a fix (see `import::rejects`), a batch at a time,
//! each batch one transaction that holds the review ([`super::tx`]).
//!
//! A row that passes goes into the review table exactly as the review's own fill puts rows there
//! (`import::review::fill`: against the live table now, with its old values), its key checked
//! against the rows already there; a row that still fails keeps its place in the rejects table with
//! its new reasons.

use super::tx::{Held, P, Tx};
use crate::db::Db;
use crate::error::AppError;
use crate::import::names::quote;
use crate::import::rejects::{self, CELLS, HEAD, Line, ROW, STATE};
use crate::import::review::{self, Staged};
use crate::import::rules::{self, TableRules};
use crate::import::shape::{Plan, row_error};
use crate::import::sink::{Destination, Kind, sql_type};
use crate::import::value::Value;
use crate::model::{ChangedColumn, ColumnType, DiffKind, ImportId, MovedRow, RowError};
use serde_json::Value as J;
use std::collections::HashMap;

/// Cells one batch holds at most, as read and as shaped (a batch is in memory twice over).
const BATCH_CELLS: usize = 30_000;
/// Rows one batch shapes at most (fewer for wide rows: see [`batch_rows`]). A value map over a
/// million rejected rows is a thousand transactions of about ten statements, not a million trips.
pub const BATCH_ROWS: usize = 1000;
/// Rows a fix lists back by number (the rest are counted).
pub const LISTED: usize = 20;
/// The temporary table a batch's passing rows wait in before the review's fill reads them.
const FIXING: &str = "_sheetport_fixing";

/// Keeps PostgreSQL's statistics of a review table as it grows with fixes: analyzed again each
/// time it has doubled since (`analyzed`: its rows then). Without them, a value map's thousand
/// rows were joined to the review by a hash of the whole table (a review made of rejected rows only
/// had none to go by, and took every key for a repeat): 15 ms a statement at 100,000 rows. Ten
/// times for a million rows, each a sample of 30,000 rows.
pub async fn keep_statistics(tx: &mut Tx, db: &Db, held: &Held, analyzed: &mut u64) -> Result<(), sqlx::Error> {
    let rows = held.staged.rows();
    if tx.kind() == Kind::Postgres && rows >= 2 * (*analyzed).max(BATCH_ROWS as u64 / 2) {
        tx.exec(&format!("ANALYZE {}", db.data_table(&held.staged.table)), &[]).await?;
        *analyzed = rows;
    }
    Ok(())
}

/// Rows one batch takes, for a sheet `width` columns wide: a thousand, or fewer of a wide sheet's
/// (29 rows of 1,000 columns).
pub fn batch_rows(width: usize) -> usize {
    (BATCH_CELLS / (width + 1)).clamp(1, BATCH_ROWS)
}

/// What one batch did.
#[derive(Debug, Default)]
pub struct Done {
    pub fixed: u64,
    pub moved: Vec<MovedRow>,
    pub still: u64,
    pub rejected: Vec<(u64, Vec<Line>)>,
    /// Rows a fix meant but could not shape again: refused after staging, they were not kept
    /// whole (see `import::rejects`), and can only be skipped.
    pub unkept: u64,
}

impl Done {
    pub fn add(&mut self, other: Done) {
        self.fixed += other.fixed;
        self.still += other.still;
        self.unkept += other.unkept;
        self.moved.extend(other.moved.into_iter().take(LISTED.saturating_sub(self.moved.len())));
        self.rejected.extend(other.rejected.into_iter().take(LISTED.saturating_sub(self.rejected.len())));
    }
}

/// Shapes the rejected rows `rows` (number, cells as now corrected) again with `plan`: those that
/// pass go into the review table, the rest keep their place with their new reasons. Updates the
/// held review's counts (not yet saved).
pub async fn refit(
    db: &Db,
    tx: &mut Tx,
    held: &mut Held,
    plan: &Plan,
    rules: Option<&TableRules>,
    rows: Vec<(u64, Vec<Value>)>,
) -> Result<Done, AppError> {
    let columns = held.staged.columns.clone();
    let mut all: Vec<u64> = rows.iter().map(|(n, _)| *n).collect();
    all.sort_unstable();
    // (number, the row as it goes in, the row as read)
    let mut passing: Vec<(u64, Vec<Value>, Vec<Value>)> = Vec::new();
    let mut failing: Vec<(u64, Vec<Value>, Vec<RowError>)> = Vec::new();
    // A key twice in the batch: the earlier row keeps it, as in the file.
    let mut keys: HashMap<String, u64> = HashMap::new();
    for (number, raw) in rows {
        match rejects::reshape(plan, &columns, number, &raw) {
            Ok(row) if plan.keyed() => match keys.get(&key_text(plan, &row)) {
                Some(&first) => {
                    let e = repeated(plan, &row, number, first);
                    failing.push((number, raw, vec![e]));
                }
                None => {
                    keys.insert(key_text(plan, &row), number);
                    passing.push((number, row, raw));
                }
            },
            Ok(row) => passing.push((number, row, raw)),
            Err(errors) => failing.push((number, raw, errors)),
        }
    }
    let mut done = Done::default();
    if !passing.is_empty() {
        let kind = tx.kind();
        let review_table = db.data_table(&held.staged.table);
        let fixing = match kind {
            Kind::Sqlite => format!("temp.{}", quote(FIXING)),
            Kind::Postgres => format!("pg_temp.{}", quote(FIXING)),
        };
        stage(tx, &fixing, &columns, &passing).await?;
        // A key the review holds already (a row that passed, or one fixed before): this row repeats it.
        if !held.staged.key.is_empty() {
            let taken = key_taken(tx, db, &held.staged, &fixing).await?;
            if !taken.is_empty() {
                let rows: Vec<String> = taken.keys().map(u64::to_string).collect();
                tx.exec(&format!("DELETE FROM {fixing} WHERE {} IN ({})", quote(ROW), rows.join(", ")), &[]).await?;
                passing.retain_mut(|(number, row, raw)| match taken.get(&*number) {
                    Some(&other) => {
                        failing.push((*number, std::mem::take(raw), vec![repeated(plan, row, *number, other)]));
                        false
                    }
                    None => true,
                });
            }
        }
        // The live table's own rules, as the import checked them on its staged rows.
        if let Some(rules) = rules.filter(|_| !passing.is_empty()) {
            let broken = broken_rules(tx, db, held, rules, &fixing).await?;
            passing.retain_mut(|(number, _, raw)| match broken.get(&*number) {
                Some(e) => {
                    failing.push((*number, std::mem::take(raw), vec![e.clone()]));
                    false
                }
                None => true,
            });
        }
        if !passing.is_empty() {
            let target = db.data_table(&held.table);
            let s = &held.staged;
            let fill = review::fill(kind, &review_table, &fixing, &target, &columns, &s.key, s.meets);
            let returned = tx.numbers(&format!("{fill} {}", returning(kind, s))).await?;
            count_in(held, returned, &mut done);
        }
        if kind == Kind::Sqlite {
            tx.exec(&format!("DROP TABLE {fixing}"), &[]).await?;
        }
    }
    // Every row touched loses its old lines; those still rejected get new ones.
    let rejects_table = held.rejects(db);
    for chunk in all.chunks(BATCH_ROWS) {
        let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
        let sql = format!("DELETE FROM {rejects_table} WHERE {} IN ({})", quote(ROW), list.join(", "));
        tx.exec(&sql, &[]).await?;
    }
    failing.sort_by_key(|(n, ..)| *n);
    let mut lines: Vec<Line> = Vec::new();
    for (number, raw, errors) in &failing {
        let these = rejects::lines_of(plan, *number, Some(raw.as_slice()), errors);
        if done.rejected.len() < LISTED {
            done.rejected.push((*number, these.clone()));
        }
        lines.extend(these);
    }
    insert_lines(tx, &rejects_table, &lines).await?;
    done.still = failing.len() as u64;
    done.fixed = passing.len() as u64;
    let s = &mut held.staged.summary;
    s.rejected = s.rejected.saturating_sub(done.fixed);
    Ok(done)
}

/// The live table's rules (see `import::rules`), read once for a fix, before its transactions;
/// none when the import does not meet the table (a replace takes its place), as for the import.
pub async fn table_rules(db: &Db, id: &ImportId, table: &str) -> Result<Option<TableRules>, AppError> {
    let meets = crate::db::imports::record(db, id).await?.is_some_and(|r| r.mode.meets_table());
    if !meets {
        return Ok(None);
    }
    Ok(match db.destination() {
        Destination::Sqlite(path) => {
            let (path, table) = (path.clone(), table.to_owned());
            crate::import::off_runtime("read a table's rules", move || {
                rules::sqlite::read(&crate::import::sink::sqlite::open(&path)?, &table)
            })
            .await?
            .map(|(_, rules)| rules)
        }
        Destination::Postgres { pool, schema } => {
            rules::postgres::read(&mut *pool.acquire().await?, schema, table).await?.map(|(_, rules)| rules)
        }
    })
}

/// The passing rows in `fixing` that break a rule of the live table, each with its row error:
/// the import's own checks ([`rules::steps`]) over the batch, the rows they find taken out.
/// A unique index of other columns than the key is checked against the table, within the batch,
/// and against the rows the review writes already (a value one of them has is taken).
async fn broken_rules(
    tx: &mut Tx,
    db: &Db,
    held: &Held,
    rules: &TableRules,
    fixing: &str,
) -> Result<HashMap<u64, RowError>, AppError> {
    let target = db.data_table(&held.table);
    let s = &held.staged;
    let review = db.data_table(&s.table);
    let probe = rules::Probe {
        kind: tx.kind(),
        staging: fixing,
        target: &target,
        columns: &s.columns,
        key: &s.key,
        meets: s.meets,
        reviewed: Some(&review),
    };
    let mut broken = HashMap::new();
    for step in rules::steps(rules, &probe) {
        match step {
            rules::Step::Exec(sql) => drop(tx.exec(&sql, &[]).await?),
            rules::Step::Find(find) => {
                let found: Vec<(i64, i64, Option<String>)> = tx.fetch(&find.select, &[]).await?;
                let Some(column) = s.columns.get(find.column) else { continue };
                for (row, other, value) in &found {
                    let value = value.clone().unwrap_or_default();
                    let reason = find.reason.words(&value, (*other).max(0) as u64);
                    let e = row_error((*row).max(0) as u64, column, &Value::Text(value), reason);
                    broken.entry(e.row).or_insert(e);
                }
                if !found.is_empty() {
                    tx.exec(&find.delete, &[]).await?;
                }
            }
        }
    }
    Ok(broken)
}

/// The passing rows in `fixing` whose key a row of the review table has already, with that row.
async fn key_taken(tx: &mut Tx, db: &Db, staged: &Staged, fixing: &str) -> Result<HashMap<u64, u64>, sqlx::Error> {
    key_index(tx, db, staged).await?;
    let review = db.data_table(&staged.table);
    let sql = format!("SELECT f.{r}, r.{r} FROM {}", probe(tx.kind(), fixing, &review, &staged.key), r = quote(ROW));
    let taken: Vec<(i64, i64)> = tx.fetch(&sql, &[]).await?;
    Ok(taken.into_iter().map(|(f, r)| (f.max(0) as u64, r.max(0) as u64)).collect())
}

/// The rows whose key repeats another's, failing as the import fails them.
fn repeated(plan: &Plan, row: &[Value], number: u64, first: u64) -> RowError {
    let label = plan.key.iter().map(|&k| rejects::shown(&plan.columns[k])).collect::<Vec<_>>().join(", ");
    RowError {
        row: number,
        column: label,
        value: key_text(plan, row),
        reason: crate::import::shape::repeated_key(first),
    }
}

/// A shaped row's key as text, its values joined by ", " (as the import's duplicate report says it).
fn key_text(plan: &Plan, row: &[Value]) -> String {
    let parts: Vec<String> = plan
        .key
        .iter()
        .map(|&k| {
            let mut s = String::new();
            row[k].write_text(&mut s);
            s
        })
        .collect();
    parts.join(", ")
}

/// `fixing f` joined to `table r` by the columns `on`, each of the batch's rows looked up by the
/// table's index. PostgreSQL is told so (a lateral lookup): left to choose, it read the whole
/// review table at each batch (8 ms a statement at 100,000 rows) or its whole index in order.
fn probe(kind: Kind, fixing: &str, table: &str, on: &[String]) -> String {
    match kind {
        Kind::Sqlite => {
            let on: Vec<String> = on.iter().map(|c| format!("r.{c} = f.{c}", c = quote(c))).collect();
            format!("{fixing} f JOIN {table} r ON {}", on.join(" AND "))
        }
        Kind::Postgres => {
            let on: Vec<String> = on.iter().map(|c| format!("t.{c} = f.{c}", c = quote(c))).collect();
            format!("{fixing} f CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE {}) r", on.join(" AND "))
        }
    }
}

/// Puts the passing rows into a temporary table shaped as the review's source (row, then columns).
async fn stage(
    tx: &mut Tx,
    fixing: &str,
    columns: &[crate::model::ColumnInfo],
    rows: &[(u64, Vec<Value>, Vec<Value>)],
) -> Result<(), sqlx::Error> {
    let kind = tx.kind();
    let mut defs = vec![format!("{} BIGINT NOT NULL", quote(ROW))];
    defs.extend(columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(kind, c.ty))));
    tx.exec(&format!("DROP TABLE IF EXISTS {fixing}"), &[]).await?;
    let create = format!("CREATE TEMP TABLE {} ({})", quote(FIXING), defs.join(", "));
    match kind {
        Kind::Sqlite => tx.exec(&create, &[]).await?,
        Kind::Postgres => tx.exec(&format!("{create} ON COMMIT DROP"), &[]).await?,
    };
    let names: Vec<String> = std::iter::once(quote(ROW)).chain(columns.iter().map(|c| quote(&c.name))).collect();
    let types: Vec<ColumnType> = std::iter::once(ColumnType::Integer).chain(columns.iter().map(|c| c.ty)).collect();
    let json: Vec<J> = rows
        .iter()
        .map(|(number, row, _)| {
            J::Array(std::iter::once(J::from(*number)).chain(row.iter().map(Value::to_json)).collect())
        })
        .collect();
    let sql = format!("INSERT INTO {fixing} ({}) {}", names.join(", "), from_json(kind, &types));
    tx.exec(&sql, &[P::Text(J::Array(json).to_string())]).await?;
    if kind == Kind::Postgres {
        // A temporary table has no statistics: without them PostgreSQL guessed it large and read
        // the whole review table and the whole live table by a hash join at each batch (a value
        // map over 200,000 rows took 48 s; with them it reads each key by its index).
        tx.exec(&format!("ANALYZE {fixing}"), &[]).await?;
    }
    Ok(())
}

/// The rows of one JSON parameter (`$1`, an array of arrays) as typed columns, to insert from: one
/// bound value however many rows. Bound one value each, sqlx's SQLite driver took 59 ms for 1,000
/// rows of 4 values (measured), more than the rest of a batch together.
fn from_json(kind: Kind, types: &[ColumnType]) -> String {
    let columns: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| match kind {
            Kind::Sqlite => format!("json_extract(value, '$[{i}]')"),
            Kind::Postgres => format!("CAST(e->>{i} AS {})", sql_type(Kind::Postgres, *ty)),
        })
        .collect();
    match kind {
        Kind::Sqlite => format!("SELECT {} FROM json_each($1)", columns.join(", ")),
        Kind::Postgres => format!("SELECT {} FROM jsonb_array_elements(CAST($1 AS jsonb)) AS e", columns.join(", ")),
    }
}

/// Makes the index the key checks read on the review table (once, at its first fix): without it,
/// each batch would read the whole review table.
async fn key_index(tx: &mut Tx, db: &Db, staged: &Staged) -> Result<(), sqlx::Error> {
    let name = format!("{}_key", staged.table);
    let keys: Vec<String> = staged.key.iter().map(|k| quote(k)).collect();
    let sql = match tx.kind() {
        Kind::Sqlite => format!(
            "CREATE INDEX IF NOT EXISTS {}.{} ON {} ({})",
            quote(db.data_schema()),
            quote(&name),
            quote(&staged.table),
            keys.join(", ")
        ),
        Kind::Postgres => format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
            quote(&name),
            db.data_table(&staged.table),
            keys.join(", ")
        ),
    };
    tx.exec(&sql, &[]).await.map(drop)
}

/// What the fill of fixed rows returns of each: its row, what it does, and (meeting the table)
/// for each column that is not the key whether an update changes it, as the review's tally
/// counts them (`review::tally`). Read from the insert itself: a second read of the rows just put
/// in looked each up again, 9 ms a batch on PostgreSQL.
fn returning(kind: Kind, staged: &Staged) -> String {
    let k = quote(review::KIND_COLUMN);
    let mut out = vec![quote(ROW), format!("CAST({k} AS BIGINT)")];
    if staged.meets.is_some() {
        let differs = match kind {
            Kind::Sqlite => "IS NOT",
            Kind::Postgres => "IS DISTINCT FROM",
        };
        for (i, c) in staged.columns.iter().enumerate().filter(|(_, c)| !staged.key.contains(&c.name)) {
            out.push(format!(
                "CAST(CASE WHEN {k} = {} AND {} {differs} {} THEN 1 ELSE 0 END AS BIGINT)",
                review::UPDATE,
                quote(&review::old_column(i)),
                quote(&c.name)
            ));
        }
    }
    format!("RETURNING {}", out.join(", "))
}

/// Adds what the rows just put into the review table do (their [`returning`] rows) to the held
/// counts, and lists the first.
fn count_in(held: &mut Held, returned: Vec<Vec<i64>>, done: &mut Done) {
    let staged = &mut held.staged;
    let rest: Vec<&str> =
        staged.columns.iter().filter(|c| !staged.key.contains(&c.name)).map(|c| c.name.as_str()).collect();
    let s = &mut staged.summary;
    let mut cells = vec![0u64; rest.len()];
    let mut moved = Vec::with_capacity(returned.len());
    for r in &returned {
        let kind = match r.get(1).copied() {
            Some(review::UPDATE) => DiffKind::Update,
            Some(review::UNCHANGED) => DiffKind::Unchanged,
            _ => DiffKind::Insert,
        };
        match kind {
            DiffKind::Insert => s.inserted += 1,
            DiffKind::Update => s.updated += 1,
            DiffKind::Unchanged => s.unchanged += 1,
        }
        for (j, n) in cells.iter_mut().enumerate() {
            *n += r.get(2 + j).copied().unwrap_or(0).max(0) as u64;
        }
        moved.push(MovedRow { row: r.first().copied().unwrap_or(0).max(0) as u64, kind });
    }
    for (column, cells) in rest.iter().zip(cells).filter(|(_, n)| *n > 0) {
        match s.changed.iter_mut().find(|x| x.column == *column) {
            Some(x) => x.cells += cells,
            None => s.changed.push(ChangedColumn { column: (*column).to_owned(), cells }),
        }
    }
    // In the table's order, as the review said them.
    let order: Vec<&str> = staged.columns.iter().map(|c| c.name.as_str()).collect();
    s.changed.sort_by_key(|x| order.iter().position(|c| *c == x.column));
    moved.sort_by_key(|m| m.row);
    moved.truncate(LISTED);
    done.moved = moved;
}

/// Writes rejects lines, [`rejects::LINES_PER_INSERT`] to a statement.
async fn insert_lines(tx: &mut Tx, table: &str, lines: &[Line]) -> Result<(), sqlx::Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let json: Vec<J> = lines
        .iter()
        .map(|l| {
            J::Array(
                l.params()
                    .into_iter()
                    .map(|p| match p {
                        rejects::Param::Int(n) => J::from(n),
                        rejects::Param::Text(s) => J::from(s),
                        rejects::Param::Null => J::Null,
                    })
                    .collect(),
            )
        })
        .collect();
    let int = ColumnType::Integer;
    let types = [int, int, int, int, ColumnType::Text, ColumnType::Text, ColumnType::Text];
    let sql = format!(
        "INSERT INTO {table} ({ROW}, {COL}, {STATE}, {HEAD}, {VALUE}, {REASON}, {CELLS}) {}",
        from_json(tx.kind(), &types),
        COL = rejects::COL,
        VALUE = rejects::VALUE,
        REASON = rejects::REASON,
        ROW = quote(ROW),
        CELLS = quote(CELLS)
    );
    tx.exec(&sql, &[P::Text(J::Array(json).to_string())]).await?;
    Ok(())
}

/// The cells of the open rejected rows `sql` selects (row, cells), ready to correct: a row not
/// kept whole comes back without cells.
pub async fn cells_of(
    tx: &mut Tx,
    sql: &str,
    params: &[P],
    width: usize,
) -> Result<Vec<(u64, Option<Vec<Value>>)>, AppError> {
    let found: Vec<(i64, Option<String>)> = tx.fetch(sql, params).await?;
    found
        .into_iter()
        .map(|(row, cells)| {
            let cells = cells.map(|c| rejects::cells_from_json(&c, width)).transpose()?;
            Ok((row.max(0) as u64, cells))
        })
        .collect()
}

/// The select of the first `limit` open rejected rows' heads (row, cells) that `filter` lets
/// through, in row order, for [`cells_of`].
pub fn heads(rejects_table: &str, filter: &str, limit: usize) -> String {
    format!(
        "SELECT h.{r}, h.{c} FROM {rejects_table} h WHERE h.{HEAD} = 1 AND h.{STATE} = {open} AND {filter} \
         ORDER BY h.{r} LIMIT {limit}",
        r = quote(ROW),
        c = quote(CELLS),
        open = rejects::OPEN
    )
}
