//! The PostgreSQL sink: `COPY … FROM STDIN` in text format into a staging table, all inside one
//! transaction on one pooled connection. The staging table, every row and the final swap commit
//! together or not at all: if the process dies, the server rolls the transaction back and nothing
//! of the import (not even the staging table) is left. Rows are sent in segments of one `COPY`
//! each; a segment's rows count as done once the server has accepted them.
//!
//! The engine's writer runs on a blocking thread; each call here blocks that thread on the async
//! driver (`Handle::block_on`), which is what a blocking thread inside the runtime is for.

use super::{sql_type, FinalStatement, Kind, LOST};
use crate::import::infer::{fits, join};
use crate::import::names::quote;
use crate::import::value::Value;
use crate::import::ImportError;
use crate::model::{ColumnInfo, ColumnType, ImportMode};
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{AssertSqlSafe, Executor, Transaction};
use tokio::runtime::Handle;

/// A segment goes to the server when it reaches this size, even before the commit interval.
const SEGMENT_BYTES: usize = 8 << 20;

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        match e.as_database_error() {
            Some(db) => ImportError::Database(db.message().to_owned()),
            None => ImportError::Database(e.to_string()),
        }
    }
}

/// One import's transaction, staging table and the rows not yet sent.
pub struct PgSink {
    rt: Handle,
    /// Rolled back by sqlx if dropped uncommitted (a panic, an early return).
    tx: Transaction<'static, Postgres>,
    staging: String,
    columns: Vec<ColumnInfo>,
    copy_sql: String,
    /// Rows encoded in COPY's text format, waiting for the next segment.
    buf: Vec<u8>,
    text: String,
}

impl PgSink {
    /// Opens the import's transaction and creates the staging table in it.
    pub fn create(pool: &PgPool, staging: &str, columns: Vec<ColumnInfo>) -> Result<Self, ImportError> {
        let rt = Handle::try_current()
            .map_err(|_| ImportError::Database("the PostgreSQL loader needs the tokio runtime".into()))?;
        let defs: Vec<String> =
            columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Postgres, c.ty))).collect();
        let create = format!("CREATE TABLE {} ({})", quote(staging), defs.join(", "));
        let tx = rt.block_on(async {
            let mut tx = pool.begin().await?;
            (&mut *tx).execute(AssertSqlSafe(create)).await?;
            Ok::<_, sqlx::Error>(tx)
        })?;
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        Ok(Self {
            rt,
            tx,
            copy_sql: format!("COPY {} ({}) FROM STDIN", quote(staging), names.join(", ")),
            staging: staging.to_owned(),
            columns,
            buf: Vec::with_capacity(SEGMENT_BYTES + (1 << 20)),
            text: String::with_capacity(256),
        })
    }

    /// Columns with the types the values so far demand.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// Encodes rows of exactly `columns().len()` values, sending a segment when enough have gathered.
    pub fn insert(&mut self, rows: &[Vec<Value>]) -> Result<(), ImportError> {
        for row in rows {
            self.widen_for(row)?;
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b'\t');
                }
                self.encode(value, self.columns[i].ty);
            }
            self.buf.push(b'\n');
        }
        if self.buf.len() >= SEGMENT_BYTES {
            self.send_segment()?;
        }
        Ok(())
    }

    /// Sends what is buffered; once this returns the server holds those rows (in the transaction).
    pub fn commit(&mut self) -> Result<(), ImportError> {
        self.send_segment()
    }

    fn send_segment(&mut self) -> Result<(), ImportError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let (tx, sql, buf) = (&mut self.tx, &self.copy_sql, &self.buf);
        self.rt.block_on(async {
            let mut copy = tx.copy_in_raw(sql).await?;
            copy.send(buf.as_slice()).await?;
            copy.finish().await
        })?;
        self.buf.clear();
        Ok(())
    }

    /// Appends one value in COPY's text format: `\N` for NULL, backslash escapes in text.
    fn encode(&mut self, value: &Value, ty: ColumnType) {
        let text = match (value, ty) {
            (Value::Null, _) => return self.buf.extend_from_slice(b"\\N"),
            (Value::Bool(b), ColumnType::Boolean) => return self.buf.push(if *b { b't' } else { b'f' }),
            (Value::Text(s), _) => s.as_str(),
            _ => {
                self.text.clear();
                value.write_text(&mut self.text);
                if matches!((value, ty), (Value::Date(_), ColumnType::Datetime)) {
                    self.text.push_str(" 00:00:00");
                }
                // Numbers, dates and booleans-as-text never need escaping.
                return self.buf.extend_from_slice(self.text.as_bytes());
            }
        };
        let bytes = text.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'\\' => b"\\\\",
                b'\t' => b"\\t",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            self.buf.extend_from_slice(escaped);
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
    }

    /// When a value outgrows its column's sampled type (rare: the sample lied), sends what is
    /// buffered and changes the staging column's type in place, converting the rows already there.
    fn widen_for(&mut self, row: &[Value]) -> Result<(), ImportError> {
        for (i, value) in row.iter().enumerate() {
            let ty = self.columns[i].ty;
            if fits(ty, value) {
                continue;
            }
            let Some(kind) = value.kind() else { continue };
            self.send_segment()?;
            let wider = join(ty, kind);
            let (t, c, pg) = (quote(&self.staging), quote(&self.columns[i].name), sql_type(Kind::Postgres, wider));
            let sql = format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {pg} USING {c}::{pg}");
            self.rt.block_on((&mut *self.tx).execute(AssertSqlSafe(sql)))?;
            self.columns[i].ty = wider;
        }
        Ok(())
    }

    /// Puts the staging table in place of (or into) `target`, runs `last` in the same
    /// transaction and commits. On error everything rolls back. Returns the final columns.
    pub fn finish(mut self, target: &str, mode: ImportMode, last: Option<FinalStatement>) -> Result<Vec<ColumnInfo>, ImportError> {
        self.send_segment()?;
        let (staging, t) = (quote(&self.staging), quote(target));
        let columns = self.columns.clone();
        let rt = self.rt.clone();
        let result = rt.block_on(async {
            let conn = &mut *self.tx;
            // Two imports into one new name must not both see it free: lock the name first.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(target).execute(&mut *conn).await?;
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&t).fetch_one(&mut *conn).await?;
            match mode {
                ImportMode::Create if exists => {
                    return Err(ImportError::Conflict(format!(
                        "a table named {target:?} already exists; choose another name, or import with mode \"replace\" or \"append\""
                    )));
                }
                ImportMode::Append if exists => {
                    let have: Vec<String> = sqlx::query_scalar(
                        "SELECT column_name::text FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name = $1",
                    )
                    .bind(target)
                    .fetch_all(&mut *conn)
                    .await?;
                    let missing: Vec<&str> =
                        columns.iter().map(|c| c.name.as_str()).filter(|n| !have.iter().any(|h| h == n)).collect();
                    if !missing.is_empty() {
                        return Err(ImportError::Conflict(format!(
                            "the table {target:?} has no column {}; append needs the same header, or use mode \"replace\"",
                            missing.join(", ")
                        )));
                    }
                    let cols: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
                    let cols = cols.join(", ");
                    (&mut *conn).execute(AssertSqlSafe(format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {staging}"))).await?;
                    (&mut *conn).execute(AssertSqlSafe(format!("DROP TABLE {staging}"))).await?;
                }
                ImportMode::Replace if exists => {
                    (&mut *conn).execute(AssertSqlSafe(format!("DROP TABLE {t}"))).await?;
                    (&mut *conn).execute(AssertSqlSafe(format!("ALTER TABLE {staging} RENAME TO {t}"))).await?;
                }
                _ => {
                    (&mut *conn).execute(AssertSqlSafe(format!("ALTER TABLE {staging} RENAME TO {t}"))).await?;
                }
            }
            if let Some(last) = &last {
                let mut q = sqlx::query(AssertSqlSafe(last.sql));
                for p in &last.params {
                    q = match p {
                        Value::Int(n) => q.bind(*n),
                        Value::Null => q.bind(None::<String>),
                        other => {
                            let mut s = String::new();
                            other.write_text(&mut s);
                            q.bind(s)
                        }
                    };
                }
                if q.execute(&mut *conn).await?.rows_affected() != 1 {
                    return Err(ImportError::Conflict(LOST.into()));
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                rt.block_on(self.tx.commit())?;
                Ok(columns)
            }
            Err(e) => {
                self.abort()?;
                Err(e)
            }
        }
    }

    /// Rolls the transaction back: the staging table and every row sent vanish with it.
    pub fn abort(self) -> Result<(), ImportError> {
        self.rt.block_on(self.tx.rollback())?;
        Ok(())
    }
}
