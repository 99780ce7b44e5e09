//! The transaction a fix runs in, and the review it holds (see `refit`): on PostgreSQL its import's
//! row is locked (`FOR UPDATE`: a commit's `status = 'queued'` waits for it, on any instance); on
//! SQLite the transaction starts `IMMEDIATE` on a connection that has the app's file and the data
//! file open (one server per file). Inside it, the review's counts are read, the rows changed, and
//! the counts written back, so a commit always merges what the counts say. Statements are written
//! once and run on either database ([`Tx::exec`], [`Tx::fetch`]).

use crate::db::{Db, Pool};
use crate::error::AppError;
use crate::import::rejects;
use crate::import::review::Staged;
use crate::import::shape::Plan;
use crate::import::sink::Kind;
use crate::model::{ImportId, ImportMode, ImportStatus, Mapping};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, Row};

/// One transaction on either database.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A parameter. Rows go in as one JSON text (`refit::from_json`), so two kinds are enough.
#[derive(Debug, Clone, PartialEq)]
pub enum P {
    Int(i64),
    Text(String),
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                P::Int(n) => q.bind(*n),
                P::Text(s) => q.bind(s.clone()),
            };
        }
        q
    }};
}

impl Tx {
    /// Starts the transaction that holds the review of `id` (see the module's text).
    pub async fn begin(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db.pool() {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Tx::Sqlite(_) => Kind::Sqlite,
            Tx::Postgres(_) => Kind::Postgres,
        }
    }

    /// Runs `sql`; the rows it changed.
    pub async fn exec(&mut self, sql: &str, params: &[P]) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        Ok(match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query::<sqlx::Sqlite>(sql), params).execute(&mut **t).await?.rows_affected()
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query::<sqlx::Postgres>(sql), params).execute(&mut **t).await?.rows_affected()
            }
        })
    }

    /// The rows `sql` returns, as `T`.
    pub async fn fetch<T>(&mut self, sql: &str, params: &[P]) -> Result<Vec<T>, sqlx::Error>
    where
        T: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>,
    {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Tx::Sqlite(t) => bind_all!(sqlx::query_as::<sqlx::Sqlite, T>(sql), params).fetch_all(&mut **t).await,
            Tx::Postgres(t) => bind_all!(sqlx::query_as::<sqlx::Postgres, T>(sql), params).fetch_all(&mut **t).await,
        }
    }

    /// The rows of numbers `sql` returns (as many a row as it selects).
    pub async fn numbers(&mut self, sql: &str) -> Result<Vec<Vec<i64>>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Tx::Sqlite(t) => {
                let rows = sqlx::query(sql).fetch_all(&mut **t).await?;
                rows.iter().map(|row| (0..row.len()).map(|i| row.try_get::<i64, _>(i)).collect()).collect()
            }
            Tx::Postgres(t) => {
                let rows = sqlx::query(sql).fetch_all(&mut **t).await?;
                rows.iter().map(|row| (0..row.len()).map(|i| row.try_get::<i64, _>(i)).collect()).collect()
            }
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// An import's status, table, mode, mapping and review, as [`Held::take`] reads them.
type ImportRow = (ImportStatus, String, ImportMode, Option<String>, Option<String>);

/// A review held by a [`Tx`]: what the import asked for and what it staged, as they are now.
pub struct Held {
    pub id: ImportId,
    /// The live table.
    pub table: String,
    pub mode: ImportMode,
    pub mapping: Mapping,
    pub staged: Staged,
}

impl Held {
    /// Holds the review of `id` in `tx`, or says why there is none to fix.
    pub async fn take(tx: &mut Tx, id: &ImportId) -> Result<Self, AppError> {
        let lock = if tx.kind() == Kind::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT status, table_name, mode, mapping, review FROM imports WHERE id = $1{lock}");
        let found: Vec<ImportRow> = tx.fetch(&sql, &[P::Text(id.to_string())]).await?;
        let Some((status, table, mode, mapping, review)) = found.into_iter().next() else {
            return Err(AppError::NotFound(format!("no import with id {id}")));
        };
        if status != ImportStatus::Review {
            return Err(super::not_in_review(status, review.is_some()));
        }
        let internal = |what: &str, e: serde_json::Error| AppError::Internal(format!("import {id}: its {what}: {e}"));
        let staged = Staged::from_json(review.as_deref().unwrap_or_default()).map_err(|e| internal("review", e))?;
        let mapping: Mapping = match mapping.as_deref() {
            Some(text) => serde_json::from_str(text).map_err(|e| internal("mapping", e))?,
            None => Mapping::default(),
        };
        if staged.source.is_empty() {
            return Err(AppError::Conflict(
                "this review was made by an earlier version of sheetport, which did not keep its rejected rows; \
                 import the file again to fix them here"
                    .into(),
            ));
        }
        Ok(Self { id: id.clone(), table, mode, mapping, staged })
    }

    /// The import's plan as it shapes rows now (its mapping's value maps included).
    pub fn plan(&self) -> Result<Plan, AppError> {
        let table = if self.mode.meets_table() { self.staged.shape.as_ref() } else { None };
        let plan = Plan::new(&self.staged.source, &self.mapping, table, self.mode)
            .map_err(|e| AppError::Internal(format!("import {}: its plan could not be made again: {e}", self.id)))?;
        let same = plan.columns.len() == self.staged.columns.len()
            && plan.columns.iter().zip(&self.staged.columns).all(|(a, b)| a.name == b.name);
        if !same {
            return Err(AppError::Internal(format!("import {}: its plan no longer gives the staged columns", self.id)));
        }
        Ok(plan)
    }

    /// The rejects table, as the app's connections name it.
    pub fn rejects(&self, db: &Db) -> String {
        db.data_table(&rejects::table_of(&self.staged.table))
    }

    /// Writes the review's counts (and mapping) back to its import, in the same transaction.
    pub async fn save(&self, tx: &mut Tx) -> Result<(), AppError> {
        let s = &self.staged.summary;
        let mapping = serde_json::to_string(&self.mapping).unwrap_or_default();
        let changed = tx
            .exec(
                "UPDATE imports SET review = $1, mapping = $2, rows_done = $3, rows_total = $3, rows_rejected = $4 \
                 WHERE id = $5 AND status = 'review'",
                &[
                    P::Text(self.staged.to_json()),
                    P::Text(mapping),
                    P::Int(self.staged.rows() as i64),
                    P::Int(s.rejected as i64),
                    P::Text(self.id.to_string()),
                ],
            )
            .await?;
        if changed != 1 {
            return Err(AppError::Conflict("this review was committed or discarded a moment ago".into()));
        }
        Ok(())
    }
}
