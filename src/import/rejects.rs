//! A review's rejected rows, kept whole so a person can fix them (issue 28, point 2). An import
//! that stops for review keeps every row it refused in a table beside the review table
//! (`_sheetport_rejects_<import>`, dropped with it and counted in its bytes): one line per
//! rejected cell (the row's number in the sheet, the table's column by position, the value as the
//! report shows it, why), and on the row's first line the whole row as it was read, before any
//! typing ([`cells_json`]). A fix puts a corrected cell into that row and shapes it again with the
//! import's own [`Plan`] ([`reshape`]), so it is checked exactly as the import checked it.
//!
//! While the file is read the lines go to a temporary file ([`Spool`]), not the database: the
//! loader holds the data file's write lock between its commits, and a second writer would wait on
//! it. Once the review table is made they are loaded in one transaction ([`store`]). Bounded as
//! the review table is: a line per rejected cell, so at most a row's width per row of the file.
//! Measured on SQLite, a review of 200,000 rows all rejected: 12.6-12.9 s kept, 12.0-12.6 s not
//! (an import without review); the import's own error report takes most of both.
//!
//! A row refused after staging (its key repeats an earlier row's) was not kept whole (the staged
//! row is typed already and goes with the staging table): its line has no cells, and it can be
//! skipped, not corrected.

use super::ImportError;
use super::names::{qualify, quote};
use super::review::REVIEW_PREFIX;
use super::shape::{Plan, convert};
use super::sink::{Destination, Kind};
use super::value::Value;
use crate::model::{ColumnInfo, RowError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as J, json};
use std::io::{BufRead, Seek, Write};

/// Prefix of every rejects table; the rest of the name is its review's.
pub const REJECTS_PREFIX: &str = "_sheetport_rejects_";
/// The row's number in the sheet: the staging table's own column of it, so a fix's batch is checked
/// by the same statements as the import's staged rows (`import::rules`).
pub const ROW: &str = super::shape::ROW_COLUMN;
/// The rejected cell's column, by its position among the review's columns.
pub const COL: &str = "_sheetport_col";
/// [`OPEN`] or [`SKIPPED`] (the same on every line of a row).
pub const STATE: &str = "_sheetport_state";
/// 1 on a row's first line, which holds its cells.
pub const HEAD: &str = "_sheetport_head";
pub const VALUE: &str = "_sheetport_value";
pub const REASON: &str = "_sheetport_reason";
/// The row as read ([`cells_json`]); NULL on every line but the first, and on a row not kept whole.
pub const CELLS: &str = "_sheetport_cells";
/// A rejected row still to fix.
pub const OPEN: i64 = 0;
/// A rejected row a person chose to leave out.
pub const SKIPPED: i64 = 1;

/// The rejects table of the review table `review`.
pub fn table_of(review: &str) -> String {
    match review.strip_prefix(REVIEW_PREFIX) {
        Some(id) => format!("{REJECTS_PREFIX}{id}"),
        None => format!("{REJECTS_PREFIX}{review}"),
    }
}

/// The review table a rejects table belongs to.
pub fn review_of(rejects: &str) -> Option<String> {
    rejects.strip_prefix(REJECTS_PREFIX).map(|id| format!("{REVIEW_PREFIX}{id}"))
}

/// One line of the rejects table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub row: u64,
    pub col: usize,
    pub value: String,
    pub reason: String,
    pub head: bool,
    pub cells: Option<String>,
}

/// The table, rendered for `kind`.
pub fn create(kind: Kind, table: &str) -> String {
    // PostgreSQL's INTEGER is 4 bytes, which the app's reads (64-bit) do not take.
    let int = match kind {
        Kind::Sqlite => "INTEGER",
        Kind::Postgres => "BIGINT",
    };
    format!(
        "CREATE TABLE {table} ({ROW} {int} NOT NULL, {COL} {int} NOT NULL, {STATE} {int} NOT NULL, {HEAD} {int} NOT \
         NULL, {VALUE} TEXT NOT NULL, {REASON} TEXT NOT NULL, {CELLS} TEXT, PRIMARY KEY ({ROW}, {COL}))"
    )
}

/// The insert of `n` lines, with `$1`, `$2`, ... numbered from `first`, in the order [`Line`]'s
/// [`params`] gives them.
pub fn insert(table: &str, n: usize, first: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let b = first + i * PARAMS;
            format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6)
        })
        .collect();
    format!(
        "INSERT INTO {table} ({ROW}, {COL}, {STATE}, {HEAD}, {VALUE}, {REASON}, {CELLS}) VALUES {}",
        rows.join(", ")
    )
}

/// Parameters per line of [`insert`].
pub const PARAMS: usize = 7;
/// Lines per [`insert`]: 3,500 parameters, far below both databases' bounds (SQLite 32,766,
/// PostgreSQL 65,535).
pub const LINES_PER_INSERT: usize = 500;

/// One line's parameters for [`insert`]: row, column, state, head, value, reason, cells.
pub enum Param<'a> {
    Int(i64),
    Text(&'a str),
    Null,
}

impl Line {
    pub fn params(&self) -> [Param<'_>; PARAMS] {
        [
            Param::Int(self.row as i64),
            Param::Int(self.col as i64),
            Param::Int(OPEN),
            Param::Int(i64::from(self.head)),
            Param::Text(&self.value),
            Param::Text(&self.reason),
            self.cells.as_deref().map_or(Param::Null, Param::Text),
        ]
    }
}

/// The lines of the sheet's row `number`, refused with `errors` (in column order, as
/// [`Plan::shape`] gives them); `raw`: the row as read, when it was kept whole.
pub fn lines_of(plan: &Plan, number: u64, raw: Option<&[Value]>, errors: &[RowError]) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::with_capacity(errors.len());
    let mut next = 0;
    for e in errors {
        // Errors come in column order and name a column by its header text, which two columns
        // may share: the next column so named whose cell holds the value, else the next so named.
        let named: Vec<usize> = (next..plan.columns.len()).filter(|&c| shown(&plan.columns[c]) == e.column).collect();
        let holds = |c: &usize| raw.and_then(|r| r.get(plan.source_of(*c))).is_some_and(|v| same_value(v, &e.value));
        let col = named
            .iter()
            .copied()
            .find(holds)
            .or_else(|| named.first().copied())
            // A key seen before names the key's columns together.
            .or_else(|| plan.key.first().copied())
            .unwrap_or(0);
        next = col + 1;
        if lines.iter().any(|l| l.col == col) {
            continue;
        }
        lines.push(Line {
            row: number,
            col,
            value: e.value.clone(),
            reason: e.reason.clone(),
            head: lines.is_empty(),
            cells: None,
        });
    }
    if let Some(first) = lines.first_mut() {
        first.cells = raw.map(cells_json);
    }
    lines
}

/// Whether `cell` is the value a row error shows as `shown` (cut short with `…` past 200 characters).
fn same_value(cell: &Value, shown: &str) -> bool {
    let mut text = String::new();
    cell.write_text(&mut text);
    match shown.strip_suffix('…') {
        Some(start) => text.starts_with(start),
        None => text == shown,
    }
}

/// A column as row errors name it: its header text, or its name when it had none.
pub fn shown(c: &ColumnInfo) -> &str {
    if c.label.is_empty() { &c.name } else { &c.label }
}

/// A row's cells as JSON, every type kept apart (a number as a number, a date by its day), so it
/// is shaped again exactly as read. Empty cells at its end are left out.
pub fn cells_json(cells: &[Value]) -> String {
    let end = cells.iter().rposition(|v| !matches!(v, Value::Null)).map_or(0, |i| i + 1);
    let out: Vec<J> = cells[..end]
        .iter()
        .map(|v| match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::Real(f) => json!({ "f": f }),
            Value::Date(d) => json!({ "d": d }),
            Value::DateTime(ms) => json!({ "t": ms }),
            Value::Text(s) => J::String(s.clone()),
        })
        .collect();
    J::Array(out).to_string()
}

/// The cells [`cells_json`] wrote, `width` of them.
pub fn cells_from_json(text: &str, width: usize) -> Result<Vec<Value>, ImportError> {
    let bad = || ImportError::Internal("a rejected row's stored cells could not be read".into());
    let J::Array(items) = serde_json::from_str::<J>(text).map_err(|_| bad())? else { return Err(bad()) };
    let mut out: Vec<Value> = items
        .into_iter()
        .map(|j| match j {
            J::Null => Some(Value::Null),
            J::Bool(b) => Some(Value::Bool(b)),
            J::Number(n) => n.as_i64().map(Value::Int),
            J::String(s) => Some(Value::Text(s)),
            J::Object(o) => {
                if let Some(f) = o.get("f") {
                    f.as_f64().map(Value::Real)
                } else if let Some(d) = o.get("d") {
                    d.as_i64().and_then(|d| i32::try_from(d).ok()).map(Value::Date)
                } else {
                    o.get("t").and_then(J::as_i64).map(Value::DateTime)
                }
            }
            J::Array(_) => None,
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    out.resize(width.max(out.len()), Value::Null);
    Ok(out)
}

/// The sheet's row `number` (its cells as read, `raw`) shaped by the import's `plan` into the
/// review's `columns`: the row as it would go in, or why it still cannot. A column whose type the
/// plan leaves open (a new table's) is read as the type it was staged with.
pub fn reshape(plan: &Plan, columns: &[ColumnInfo], number: u64, raw: &[Value]) -> Result<Vec<Value>, Vec<RowError>> {
    let mut row = raw.to_vec();
    row.resize(plan.width().max(row.len()), Value::Null);
    let mut errors = Vec::new();
    if !plan.shape(number, &mut row, &mut errors) {
        return Err(errors);
    }
    let mut out = Vec::with_capacity(row.len());
    for (value, col) in row.into_iter().zip(columns) {
        match convert(value, col.ty) {
            Ok(v) => out.push(v),
            Err((v, reason)) => {
                let mut value = String::new();
                v.write_text(&mut value);
                errors.push(RowError { row: number, column: shown(col).to_owned(), value, reason });
            }
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// A review's rejected rows on their way to its rejects table, in a temporary file (see the
/// module's text).
pub struct Spool {
    out: std::io::BufWriter<std::fs::File>,
    /// Lines written.
    pub lines: u64,
}

impl Spool {
    /// A spool in `dir` (beside the upload, on the data's disk), else in the system's temporary
    /// directory (a command line's file may sit in a folder it cannot write).
    pub fn new(dir: Option<&std::path::Path>) -> Result<Self, ImportError> {
        let file = match dir.map(tempfile::tempfile_in) {
            Some(Ok(file)) => file,
            _ => tempfile::tempfile()?,
        };
        Ok(Self { out: std::io::BufWriter::with_capacity(1 << 16, file), lines: 0 })
    }

    /// The lines of one refused row (see [`lines_of`]).
    pub fn add(
        &mut self,
        plan: &Plan,
        number: u64,
        raw: Option<&[Value]>,
        errors: &[RowError],
    ) -> Result<(), ImportError> {
        for line in lines_of(plan, number, raw, errors) {
            serde_json::to_writer(&mut self.out, &line).map_err(|e| ImportError::Io(e.into()))?;
            self.out.write_all(b"\n")?;
            self.lines += 1;
        }
        Ok(())
    }

    /// Reads the lines back, in the order written.
    fn read(self) -> Result<impl Iterator<Item = Result<Line, ImportError>>, ImportError> {
        let mut file = self.out.into_inner().map_err(|e| ImportError::Io(e.into_error()))?;
        file.rewind()?;
        Ok(std::io::BufReader::with_capacity(1 << 16, file).lines().map(|line| {
            let line = line?;
            serde_json::from_str(&line).map_err(|e| ImportError::Internal(format!("a spooled rejected row: {e}")))
        }))
    }
}

/// Drops the rejects table of the review table `review`, when it is there (a committed review's:
/// the rows it left out stay out).
pub async fn drop_table(dest: &Destination, review: &str) -> Result<(), ImportError> {
    let name = table_of(review);
    match dest {
        Destination::Sqlite(path) => {
            let path = path.clone();
            super::off_runtime("drop a review's rejected rows", move || {
                let conn = super::sink::sqlite::open(&path)?;
                conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(&name)))?;
                super::sink::sqlite::give_back(&conn);
                Ok(())
            })
            .await
        }
        Destination::Postgres { pool, schema } => {
            let sql = format!("DROP TABLE IF EXISTS {}", qualify(schema, &name));
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
            Ok(())
        }
    }
}

/// Keeps `spool` as the rejects table of the review table `review` (see [`store`]); when that
/// fails, the review table goes too: a review whose rejected rows cannot be fixed is not made.
pub fn keep(dest: &Destination, review: &str, spool: Spool) -> Result<(), ImportError> {
    let Err(e) = store(dest, review, spool) else { return Ok(()) };
    tracing::warn!(review, error = %e, "could not keep a review's rejected rows; the review is not made");
    if let Ok(rt) = tokio::runtime::Handle::try_current()
        && let Err(dropped) = rt.block_on(super::review::drop_table(dest, review))
    {
        tracing::warn!(review, error = %dropped, "could not drop the review's rows (the sweep will)");
    }
    Err(e)
}

/// Makes the rejects table of the review table `review` in `dest` and loads `spool` into it, in
/// one transaction (from the engine's writer thread, after the review table is made).
pub fn store(dest: &Destination, review: &str, spool: Spool) -> Result<(), ImportError> {
    let name = table_of(review);
    match dest {
        Destination::Sqlite(path) => {
            let mut conn = super::sink::sqlite::open(path)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute_batch(&format!(
                "DROP TABLE IF EXISTS {q}; {}",
                create(Kind::Sqlite, &quote(&name)),
                q = quote(&name)
            ))?;
            {
                let mut stmt = tx.prepare(&insert(&quote(&name), 1, 1))?;
                for line in spool.read()? {
                    let line = line?;
                    let values: Vec<rusqlite::types::Value> = line
                        .params()
                        .into_iter()
                        .map(|p| match p {
                            Param::Int(n) => rusqlite::types::Value::Integer(n),
                            Param::Text(s) => rusqlite::types::Value::Text(s.to_owned()),
                            Param::Null => rusqlite::types::Value::Null,
                        })
                        .collect();
                    stmt.execute(rusqlite::params_from_iter(values))?;
                }
            }
            // For the groups still to fix (`db::groups`): SQLite counts a million lines' groups in
            // 0.3 s over it, 1.2 s without, and builds it in 1.3 s once. PostgreSQL hashes them
            // as fast without one.
            tx.execute_batch(&format!(
                "CREATE INDEX {} ON {} ({STATE}, {COL}, {REASON}, {VALUE})",
                quote(&format!("{name}_groups")),
                quote(&name)
            ))?;
            tx.commit()?;
            Ok(())
        }
        Destination::Postgres { pool, schema } => {
            let rt = tokio::runtime::Handle::try_current()
                .map_err(|_| ImportError::Database("keeping rejected rows needs the tokio runtime".into()))?;
            let table = qualify(schema, &name);
            let mut lines = spool.read()?;
            rt.block_on(async {
                let mut tx = pool.begin().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}"))).execute(&mut *tx).await?;
                sqlx::query(sqlx::AssertSqlSafe(create(Kind::Postgres, &table))).execute(&mut *tx).await?;
                loop {
                    let chunk: Vec<Line> = lines.by_ref().take(LINES_PER_INSERT).collect::<Result<_, _>>()?;
                    if chunk.is_empty() {
                        break;
                    }
                    let sql = insert(&table, chunk.len(), 1);
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for line in &chunk {
                        for p in line.params() {
                            q = match p {
                                Param::Int(n) => q.bind(n),
                                Param::Text(s) => q.bind(s.to_owned()),
                                Param::Null => q.bind(None::<String>),
                            };
                        }
                    }
                    q.execute(&mut *tx).await?;
                }
                // Statistics, for the fixes' reads by row (without them PostgreSQL read the whole
                // table to delete a thousand rows' lines: 22 ms a batch at 200,000 rejected rows).
                sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}"))).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok::<_, ImportError>(())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ColumnChoice, ColumnType, ImportMode, Mapping};

    fn col(name: &str, label: &str, ty: ColumnType) -> ColumnInfo {
        ColumnInfo { name: name.into(), label: label.into(), ty, declared: None }
    }

    #[test]
    fn a_row_keeps_every_type_it_was_read_with() {
        let row = vec![
            Value::Int(7),
            Value::Real(1.0),
            Value::Text("12 pcs".into()),
            Value::Null,
            Value::Bool(true),
            Value::Date(19_000),
            Value::DateTime(1_700_000_000_000),
            Value::Null,
        ];
        let text = cells_json(&row);
        assert!(text.ends_with("{\"t\":1700000000000}]"), "empty cells at the end are left out: {text}");
        assert_eq!(cells_from_json(&text, 8).expect("cells"), row);
    }

    #[test]
    fn a_fixed_cell_is_shaped_as_the_import_shaped_it_and_each_error_finds_its_column() {
        let source = [
            col("sku", "SKU", ColumnType::Text),
            col("qty", "Qty", ColumnType::Integer),
            col("qty_2", "Qty", ColumnType::Integer),
        ];
        let mapping = Mapping {
            columns: vec![ColumnChoice {
                source: "Qty".into(),
                ty: Some(ColumnType::Integer),
                values: vec![crate::model::ValueMap { from: "n/a".into(), to: String::new() }],
                ..ColumnChoice::default()
            }],
            key: vec!["sku".into()],
            ..Mapping::default()
        };
        let plan = Plan::new(&source, &mapping, None, ImportMode::Create).expect("plan");
        let raw = [Value::Text("A1".into()), Value::Text("n/a".into()), Value::Text("x".into())];
        let staged: Vec<ColumnInfo> = plan.columns.clone();
        let errors = reshape(&plan, &staged, 9, &raw).expect_err("the second Qty is text");
        assert_eq!(errors.len(), 1);
        let lines = lines_of(&plan, 9, Some(&raw), &errors);
        assert_eq!((lines[0].col, lines[0].head, lines[0].reason.as_str()), (2, true, "is not a whole number"));
        assert!(lines[0].cells.is_some());
        let mut fixed = raw.to_vec();
        fixed[2] = Value::Text("12".into());
        assert_eq!(
            reshape(&plan, &staged, 9, &fixed).expect("passes"),
            [Value::Text("A1".into()), Value::Null, Value::Int(12)],
            "n/a is read as empty, as the value map says"
        );
    }
}
