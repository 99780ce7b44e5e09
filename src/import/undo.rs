//! Taking an import back. When a loader puts rows in place it records how they could be taken out
//! again, as an [`Undo`], without copying the table:
//!
//! - **create** (a table that did not exist): drop it;
//! - **replace**: the table it took the place of is not dropped but kept aside (SQLite: renamed
//!   `_sheetport_kept_<import>`, its indexes dropped and their definitions kept, because SQLite
//!   index names are file-wide; PostgreSQL: moved whole into a schema of its own,
//!   `sheetport_kept_<import>`), for `--keep-replaced`; undoing puts it back;
//! - **append** and **insert-new**: the rows it added are told apart from the others (SQLite: the
//!   rowids past the largest before, checked to be exactly the rows added; PostgreSQL: the
//!   transaction that wrote them, `xmin`); undoing deletes them;
//! - **upsert**: the rows it added go as insert-new's do, and the rows it changed get their earlier
//!   values back: those rows' values before (and on SQLite after) are kept in a table of the review's layout
//!   (SQLite: `_sheetport_kept_<import>`; PostgreSQL: in the schema `sheetport_kept_<import>`),
//!   for `--keep-replaced`. A reviewed upsert's commit keeps its review's table, which holds them
//!   already; a plain upsert writes only the rows it changes into it as it changes them (SQLite: a
//!   temporary trigger on the table; PostgreSQL: the merge statement reads the rows as they were).
//!
//! Only the last import into a table can be undone, and only while the table is as it left it
//! (checked before anything is deleted); the rules about *who* and *when* are in `db::imports`
//! and `auth::rules`.

use super::ImportError;
use super::names::{qualify, quote};
use super::sink::{Destination, sqlite};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

/// How a succeeded import can be taken back, as its loader recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Undo {
    /// It made the table: drop it.
    Drop,
    /// It replaced the table, kept as `kept` (SQLite: a table; PostgreSQL: the schema holding it)
    /// until `until` (Unix ms); on SQLite `indexes` are the kept table's index definitions.
    Restore {
        kept: String,
        until: i64,
        #[serde(default)]
        indexes: Vec<String>,
    },
    /// It added `rows` rows: on SQLite those with a rowid past `after` (and the table's largest
    /// rowid was `last` when it finished); on PostgreSQL those written by transaction `xid`.
    Remove {
        rows: u64,
        #[serde(default)]
        after: Option<i64>,
        #[serde(default)]
        last: Option<i64>,
        #[serde(default)]
        xid: Option<String>,
    },
    /// It changed `updated` rows and added `added` (an upsert): the changed rows' values before and
    /// after are kept as `kept` (SQLite: a table; PostgreSQL: the schema holding it, under the
    /// table's name) until `until`, in the layout of [`super::review`]'s table: the `key` columns,
    /// the `columns` as the import wrote them (SQLite; PostgreSQL tells by `xmin`), [`super::review::KIND_COLUMN`] (the changed rows are
    /// its updates) and each of `columns`' earlier value in [`super::review::old_column`] of its
    /// position `at`. The added rows are told apart as [`Undo::Remove`]'s are.
    Revert {
        kept: String,
        until: i64,
        updated: u64,
        added: u64,
        key: Vec<String>,
        columns: Vec<Changed>,
        #[serde(default)]
        after: Option<i64>,
        #[serde(default)]
        last: Option<i64>,
        #[serde(default)]
        xid: Option<String>,
        /// SQLite: the kept table holds each changed row's [`PRINT`] as the import wrote it, not
        /// its values.
        #[serde(default)]
        printed: bool,
    },
}

/// A column an upsert may have changed, and where [`Undo::Revert`]'s table keeps its earlier value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub name: String,
    pub at: usize,
}

impl Changed {
    /// The columns of `columns` (as staged, in order) that are not the key.
    pub fn of(columns: &[crate::model::ColumnInfo], key: &[String]) -> Vec<Changed> {
        columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !key.contains(&c.name))
            .map(|(at, c)| Changed { name: c.name.clone(), at })
            .collect()
    }
}

impl Undo {
    /// Until when it can be done (Unix ms); `None`: for as long as it is the table's last import.
    pub fn until(&self) -> Option<i64> {
        match self {
            Undo::Restore { until, .. } | Undo::Revert { until, .. } => Some(*until),
            _ => None,
        }
    }

    /// The table (SQLite) or schema (PostgreSQL) it keeps, to be dropped when its time is up.
    pub fn kept(&self) -> Option<&str> {
        match self {
            Undo::Restore { kept, .. } | Undo::Revert { kept, .. } => Some(kept),
            _ => None,
        }
    }

    /// What undoing does, as the page offers it.
    pub fn kind(&self) -> crate::model::UndoKind {
        use crate::model::UndoKind;
        match self {
            Undo::Drop => UndoKind::Drop,
            Undo::Restore { .. } => UndoKind::Restore,
            Undo::Remove { .. } => UndoKind::Remove,
            Undo::Revert { .. } => UndoKind::Revert,
        }
    }
}

/// Keep the table a replace takes the place of: under names made from `tag` (the import's id),
/// for `for_ms` milliseconds.
#[derive(Debug, Clone)]
pub struct Keep {
    pub tag: String,
    pub for_ms: i64,
}

impl Keep {
    /// The SQLite table a replaced table is kept as (names starting with `_` no import can take).
    pub fn sqlite_name(&self) -> String {
        format!("_sheetport_kept_{}", self.tag)
    }

    /// The PostgreSQL schema a replaced table is moved into.
    pub fn pg_schema(&self) -> String {
        format!("sheetport_kept_{}", self.tag)
    }

    fn until(&self) -> i64 {
        crate::db::now_ms().saturating_add(self.for_ms)
    }
}

/// Why an import could not be undone, in words.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    /// The table is no longer as the import left it, or the kept copy is gone.
    #[error("{0}")]
    Changed(String),
    #[error(transparent)]
    Import(#[from] ImportError),
}

impl From<rusqlite::Error> for UndoError {
    fn from(e: rusqlite::Error) -> Self {
        UndoError::Import(e.into())
    }
}

impl From<sqlx::Error> for UndoError {
    fn from(e: sqlx::Error) -> Self {
        UndoError::Import(e.into())
    }
}

/// In a SQLite swap's transaction: the existing table `target` steps aside for a replace. Kept as
/// `keep` says ([`Undo::Restore`]), or dropped (`None`: nothing to undo with).
pub(super) fn sqlite_retire(conn: &Connection, target: &str, keep: Option<&Keep>) -> Result<Option<Undo>, ImportError> {
    let t = quote(target);
    let Some(keep) = keep else {
        conn.execute_batch(&format!("DROP TABLE {t}"))?;
        return Ok(None);
    };
    let kept = keep.sqlite_name();
    // Explicit indexes only: those of UNIQUE and PRIMARY KEY constraints (no `sql`) follow the table.
    let mut indexes = Vec::new();
    {
        let mut q = conn.prepare(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
        )?;
        let rows = q.query_map([target], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            indexes.push(row?);
        }
    }
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX {}", quote(name)))?;
    }
    // Legacy renaming: views and triggers that name the table keep naming `target`, not the kept copy.
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {k}; PRAGMA legacy_alter_table = ON; ALTER TABLE {t} RENAME TO {k}; \
         PRAGMA legacy_alter_table = OFF",
        k = quote(&kept)
    ))?;
    Ok(Some(Undo::Restore { kept, until: keep.until(), indexes: indexes.into_iter().map(|(_, sql)| sql).collect() }))
}

/// In a SQLite swap's transaction, before rows are added to `target`: the largest rowid, or `None`
/// for a table without rowids (whose added rows cannot be told apart).
pub(super) fn sqlite_mark(conn: &Connection, target: &str) -> Option<i64> {
    conn.query_row(&format!("SELECT coalesce(max(rowid), 0) FROM {}", quote(target)), [], |r| r.get(0)).ok()
}

/// After rows were added: how to remove them, when the `added` rows are exactly those past `after`.
pub(super) fn sqlite_added(conn: &Connection, target: &str, after: Option<i64>, added: u64) -> Option<Undo> {
    let after = after?;
    let (n, last): (i64, i64) = conn
        .query_row(
            &format!("SELECT count(*), coalesce(max(rowid), 0) FROM {} WHERE rowid > ?1", quote(target)),
            [after],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()?;
    (n as u64 == added).then_some(Undo::Remove {
        rows: added,
        after: Some(after),
        last: Some(last.max(after)),
        xid: None,
    })
}

/// PostgreSQL: the SQL that sets `t` (qualified) aside for a replace, kept as `keep` says, or drops
/// it; and the [`Undo`] it makes possible.
pub(super) fn pg_retire(t: &str, keep: Option<&Keep>) -> (Vec<String>, Option<Undo>) {
    let Some(keep) = keep else { return (vec![format!("DROP TABLE {t}")], None) };
    let schema = keep.pg_schema();
    let s = quote(&schema);
    (
        vec![
            format!("DROP SCHEMA IF EXISTS {s} CASCADE"),
            format!("CREATE SCHEMA {s}"),
            format!("ALTER TABLE {t} SET SCHEMA {s}"),
        ],
        Some(Undo::Restore { kept: schema, until: keep.until(), indexes: Vec::new() }),
    )
}

/// What an upsert keeps for [`Undo::Revert`]: the table's key and the columns it may change.
pub(super) struct Revert {
    pub key: Vec<String>,
    pub columns: Vec<Changed>,
    pub keep: Keep,
}

impl Revert {
    /// Keeping for an upsert (`update`) that may change rows, when replaced tables are kept at all.
    /// A table too wide to keep beside its earlier values (see [`super::sink::max_columns`]) keeps
    /// none, and the import cannot be undone, as the history says.
    pub fn of(
        keep: Option<&Keep>,
        update: bool,
        columns: &[crate::model::ColumnInfo],
        key: &[String],
        kind: super::sink::Kind,
    ) -> Option<Revert> {
        let changed = Changed::of(columns, key);
        let keep = keep?.clone();
        // The kept table: row, every column, what the row did, each earlier value, and a print.
        let width = columns.len() + changed.len() + 3;
        if width > super::sink::max_columns(kind) {
            tracing::info!(
                columns = columns.len(),
                "an upsert too wide to keep its earlier values; it cannot be undone"
            );
            return None;
        }
        (update && !changed.is_empty()).then(|| Revert { key: key.to_vec(), columns: changed, keep })
    }

    /// SQLite: the statements before the merge into `target` that keep, as each row is changed, its
    /// key, its values before and its [`PRINT`] after in the kept table (a temporary trigger: only
    /// the rows the merge changes are written, and the merge needs no second pass over the table to
    /// find them). Its other columns stay empty: at 524,288 changed rows of ten columns, keeping the
    /// values after too made the server's upsert of 1,048,575 rows 7.5 s where keeping none took 5.2 s.
    pub fn sqlite_before(&self, target: &str, columns: &[crate::model::ColumnInfo]) -> String {
        let kept = quote(&self.keep.sqlite_name());
        let keys: Vec<String> = self.key.iter().map(|k| quote(k)).collect();
        let olds: Vec<String> = self.columns.iter().map(|c| quote(&super::review::old_column(c.at))).collect();
        let new: Vec<String> = keys.iter().map(|k| format!("NEW.{k}")).collect();
        let old: Vec<String> = self.columns.iter().map(|c| format!("OLD.{}", quote(&c.name))).collect();
        let printed: Vec<String> = self.columns.iter().map(|c| format!("NEW.{}", quote(&c.name))).collect();
        format!(
            "DROP TABLE IF EXISTS {kept}; {create}; ALTER TABLE {kept} ADD COLUMN {print_column} INTEGER; \
             DROP TRIGGER IF EXISTS temp.{trigger}; CREATE TEMP TRIGGER {trigger} AFTER UPDATE ON main.{t} BEGIN \
             INSERT INTO {kept} ({keys}, {kind}, {olds}, {print_column}) VALUES ({new}, {update}, {old}, \
             {PRINT}({printed})); END",
            create = super::review::create(super::sink::Kind::Sqlite, &kept, columns, &self.key, true),
            print_column = quote(PRINT_COLUMN),
            trigger = quote(KEEP_TRIGGER),
            t = quote(target),
            keys = keys.join(", "),
            kind = quote(super::review::KIND_COLUMN),
            olds = olds.join(", "),
            new = new.join(", "),
            update = super::review::UPDATE,
            old = old.join(", "),
            printed = printed.join(", "),
        )
    }

    /// SQLite, after the merge changed `updated` rows and added `added` (past the rowid `mark`):
    /// the [`Undo`], or none when the added rows cannot be told apart. Drops what it kept when the
    /// merge changed no row (then it is undone as insert-new is).
    pub fn sqlite_after(
        self,
        conn: &Connection,
        target: &str,
        mark: Option<i64>,
        added: u64,
        updated: u64,
    ) -> Result<Option<Undo>, ImportError> {
        conn.execute_batch(&format!("DROP TRIGGER IF EXISTS temp.{}", quote(KEEP_TRIGGER)))?;
        let kept = self.keep.sqlite_name();
        if updated == 0 {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(&kept)))?;
            return Ok(sqlite_added(conn, target, mark, added));
        }
        self.sqlite_kept(conn, target, kept, true, mark, added, updated)
    }

    /// SQLite: the [`Undo`] of a merge whose changed rows' values are kept in the table `kept`
    /// (`printed`: with their [`PRINT`] after, not the values).
    #[allow(clippy::too_many_arguments)]
    pub fn sqlite_kept(
        self,
        conn: &Connection,
        target: &str,
        kept: String,
        printed: bool,
        mark: Option<i64>,
        added: u64,
        updated: u64,
    ) -> Result<Option<Undo>, ImportError> {
        let (after, last) = match (mark, sqlite_added(conn, target, mark, added)) {
            (_, Some(Undo::Remove { after, last, .. })) => (after, last),
            // The rows it added cannot be told apart: it cannot be undone.
            _ => {
                conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(&kept)))?;
                return Ok(None);
            }
        };
        Ok(Some(Undo::Revert {
            kept,
            until: self.keep.until(),
            updated,
            added,
            key: self.key,
            columns: self.columns,
            after,
            last,
            xid: None,
            printed,
        }))
    }

    /// PostgreSQL: the statements before the merge into `t` (qualified) that make the kept table,
    /// and its qualified name.
    pub fn pg_before(&self, target: &str, columns: &[crate::model::ColumnInfo]) -> (Vec<String>, String) {
        let schema = quote(&self.keep.pg_schema());
        let kept = qualify(&self.keep.pg_schema(), target);
        let create = super::review::create(super::sink::Kind::Postgres, &kept, columns, &self.key, true);
        (vec![format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), format!("CREATE SCHEMA {schema}"), create], kept)
    }

    /// PostgreSQL: the part of the merge statement that keeps the changed rows, given `m`, the
    /// merge's `RETURNING` of the key's columns and [`FRESH`]: each changed row's key, and its values
    /// as `t` (qualified) held them before: a statement's sub-statements all read the table as it
    /// was when the statement began. The values after are not kept (their columns stay empty): the
    /// rows' `xmin` tells whether they are as the import left them, and keeping them cost 3 s more
    /// at 524,288 changed rows.
    pub fn pg_keep(&self, t: &str, kept: &str) -> String {
        let keys: Vec<String> = self.key.iter().map(|k| quote(k)).collect();
        let new: Vec<String> = keys.iter().map(|k| format!("m.{k}")).collect();
        let olds: Vec<String> = self.columns.iter().map(|c| quote(&super::review::old_column(c.at))).collect();
        let old: Vec<String> = self.columns.iter().map(|c| format!("o.{}", quote(&c.name))).collect();
        let on: Vec<String> = keys.iter().map(|k| format!("o.{k} = m.{k}")).collect();
        format!(
            "INSERT INTO {kept} ({row}, {keys}, {kind}, {olds}) SELECT 0, {new}, {update}, {old} FROM m JOIN {t} o \
             ON {on} WHERE NOT m.{fresh}",
            row = quote(super::sink::ROW_COLUMN),
            keys = keys.join(", "),
            kind = quote(super::review::KIND_COLUMN),
            olds = olds.join(", "),
            new = new.join(", "),
            update = super::review::UPDATE,
            old = old.join(", "),
            on = on.join(" AND "),
            fresh = quote(FRESH),
        )
    }

    /// PostgreSQL: the [`Undo`] of a merge by transaction `xid` whose changed rows are kept.
    pub fn pg_undo(self, xid: String, added: u64, updated: u64) -> Undo {
        Undo::Revert {
            kept: self.keep.pg_schema(),
            until: self.keep.until(),
            updated,
            added,
            key: self.key,
            columns: self.columns,
            after: None,
            last: None,
            xid: Some(xid),
            printed: false,
        }
    }
}

/// SQLite: the function giving a row's print (its values' [`super::review::RowPrint`], as an
/// integer), which an upsert keeps for each row it changes in place of the values it wrote: the
/// undo compares the row's print now with it (see [`Revert::sqlite_before`]).
pub const PRINT: &str = "sheetport_print";
/// The kept table's column holding each changed row's [`PRINT`] as the upsert wrote it.
const PRINT_COLUMN: &str = "_sheetport_print";

/// Adds [`PRINT`] to a connection.
pub fn add_print(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::ValueRef;
    conn.create_scalar_function(PRINT, -1, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        let mut print = super::review::Fingerprint::default().start();
        for i in 0..ctx.len() {
            match ctx.get_raw(i) {
                ValueRef::Null => print.value(0, &[]),
                ValueRef::Integer(n) => print.value(1, &n.to_le_bytes()),
                ValueRef::Real(f) => print.value(2, &f.to_bits().to_le_bytes()),
                ValueRef::Text(t) => print.value(3, t),
                ValueRef::Blob(b) => print.value(4, b),
            }
        }
        Ok(print.finish() as i64)
    })
}

/// The temporary trigger that keeps an upsert's changed rows on SQLite (see [`Revert`]).
const KEEP_TRIGGER: &str = "_sheetport_keep";

/// The column of a PostgreSQL merge's `RETURNING` that tells an inserted row from an updated one.
pub(super) const FRESH: &str = "_sheetport_fresh";

/// Puts back the earlier values of the rows [`Undo::Revert`] kept in `kept` (both quoted or
/// qualified), in `t`.
fn revert(t: &str, kept: &str, key: &[String], columns: &[Changed]) -> String {
    let set: Vec<String> =
        columns.iter().map(|c| format!("{} = k.{}", quote(&c.name), quote(&super::review::old_column(c.at)))).collect();
    let on: Vec<String> = key.iter().map(|k| format!("t.{k} = k.{k}", k = quote(k))).collect();
    format!(
        "UPDATE {t} AS t SET {} FROM {kept} AS k WHERE k.{} = {} AND {}",
        set.join(", "),
        quote(super::review::KIND_COLUMN),
        super::review::UPDATE,
        on.join(" AND ")
    )
}

/// SQLite: how many of the rows [`Undo::Revert`] kept `t` still holds as the import left them
/// (`printed`: told by their [`PRINT`]).
fn still_as_written(t: &str, kept: &str, key: &[String], columns: &[Changed], printed: bool) -> String {
    let mut on: Vec<String> = key.iter().map(|k| format!("t.{k} = k.{k}", k = quote(k))).collect();
    if printed {
        let values: Vec<String> = columns.iter().map(|c| format!("t.{}", quote(&c.name))).collect();
        on.push(format!("{PRINT}({}) = k.{}", values.join(", "), quote(PRINT_COLUMN)));
    } else {
        on.extend(columns.iter().map(|c| format!("t.{c} IS k.{c}", c = quote(&c.name))));
    }
    format!(
        "SELECT count(*) FROM {kept} AS k JOIN {t} AS t ON {} WHERE k.{} = {}",
        super::names::joined(&on, " AND "),
        quote(super::review::KIND_COLUMN),
        super::review::UPDATE
    )
}

/// Takes the import that recorded `undo` out of `table` in `dest`, in one transaction, once the
/// table is checked to be as the import left it and `still` (the caller's check that this is
/// still the table's last import, and none is finishing) passes. `still` runs while the table is
/// locked against imports putting rows in place, so none can slip in between the two.
pub async fn apply<F, Fut>(dest: &Destination, table: &str, undo: &Undo, still: F) -> Result<(), UndoError>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), UndoError>> + Send,
{
    match dest {
        Destination::Sqlite(path) => {
            let (path, table, undo) = (path.clone(), table.to_owned(), undo.clone());
            let rt = tokio::runtime::Handle::current();
            super::off_runtime("undo", move || {
                let mut conn = sqlite::open(&path)?;
                Ok(sqlite_apply(&mut conn, &table, &undo, || rt.block_on(still())))
            })
            .await?
        }
        Destination::Postgres { pool, schema } => pg_apply(pool, schema, table, undo, still).await,
    }
}

fn sqlite_apply(
    conn: &mut Connection,
    table: &str,
    undo: &Undo,
    still: impl FnOnce() -> Result<(), UndoError>,
) -> Result<(), UndoError> {
    let t = quote(table);
    // Immediate: the data file's write lock, which every import's swap takes too.
    let tx = rusqlite::Transaction::new(conn, rusqlite::TransactionBehavior::Immediate)?;
    still()?;
    let exists = sqlite::table_exists(&tx, table)?;
    match undo {
        Undo::Drop if exists => tx.execute_batch(&format!("DROP TABLE {t}"))?,
        // Dropped already (by hand, or by an undo whose record a crash kept from being written).
        Undo::Drop => {}
        Undo::Restore { kept, indexes, .. } => {
            if !sqlite::table_exists(&tx, kept)? {
                return Err(UndoError::Changed(gone(table)));
            }
            if exists {
                tx.execute_batch(&format!("DROP TABLE {t}"))?;
            }
            tx.execute_batch(&format!(
                "PRAGMA legacy_alter_table = ON; ALTER TABLE {} RENAME TO {t}; PRAGMA legacy_alter_table = OFF",
                quote(kept)
            ))?;
            for sql in indexes {
                tx.execute_batch(sql)?;
            }
        }
        Undo::Remove { rows, after: Some(after), last: Some(last), .. } if exists => {
            let (n, max): (i64, i64) = tx.query_row(
                &format!("SELECT count(*), coalesce(max(rowid), 0) FROM {t} WHERE rowid > ?1"),
                [after],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if n as u64 != *rows || max.max(*after) != *last {
                return Err(UndoError::Changed(changed(table)));
            }
            tx.execute(&format!("DELETE FROM {t} WHERE rowid > ?1"), [after])?;
        }
        Undo::Remove { .. } => return Err(UndoError::Changed(changed(table))),
        Undo::Revert { kept, updated, added, key, columns, after, last, printed, .. } if exists => {
            if !sqlite::table_exists(&tx, kept)? {
                return Err(UndoError::Changed(gone(table)));
            }
            let k = quote(kept);
            if let (Some(after), Some(last)) = (after, last) {
                let (n, max): (i64, i64) = tx.query_row(
                    &format!("SELECT count(*), coalesce(max(rowid), 0) FROM {t} WHERE rowid > ?1"),
                    [after],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                if n as u64 != *added || max.max(*after) != *last {
                    return Err(UndoError::Changed(changed(table)));
                }
            }
            let same: i64 = tx.query_row(&still_as_written(&t, &k, key, columns, *printed), [], |r| r.get(0))?;
            if same as u64 != *updated {
                return Err(UndoError::Changed(changed(table)));
            }
            tx.execute(&revert(&t, &k, key, columns), [])?;
            if let Some(after) = after {
                tx.execute(&format!("DELETE FROM {t} WHERE rowid > ?1"), [after])?;
            }
            tx.execute_batch(&format!("DROP TABLE {k}"))?;
        }
        Undo::Revert { .. } => return Err(UndoError::Changed(changed(table))),
    }
    tx.commit()?;
    sqlite::give_back(conn);
    Ok(())
}

async fn pg_apply<F, Fut>(
    pool: &sqlx::PgPool,
    schema: &str,
    table: &str,
    undo: &Undo,
    still: F,
) -> Result<(), UndoError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), UndoError>>,
{
    use sqlx::{AssertSqlSafe, Executor};
    let t = qualify(schema, table);
    let mut tx = pool.begin().await?;
    // The same lock an import takes before it puts a table in place (see `sink::postgres`).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&t).execute(&mut *tx).await?;
    still().await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&t).fetch_one(&mut *tx).await?;
    let run = |sql: String| AssertSqlSafe(sql);
    match undo {
        Undo::Drop if exists => {
            (&mut *tx).execute(run(format!("DROP TABLE {t}"))).await?;
        }
        Undo::Drop => {}
        Undo::Restore { kept, .. } => {
            let k = qualify(kept, table);
            let there: bool =
                sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&k).fetch_one(&mut *tx).await?;
            if !there {
                return Err(UndoError::Changed(gone(table)));
            }
            if exists {
                (&mut *tx).execute(run(format!("DROP TABLE {t}"))).await?;
            }
            (&mut *tx).execute(run(format!("ALTER TABLE {k} SET SCHEMA {}", quote(schema)))).await?;
            (&mut *tx).execute(run(format!("DROP SCHEMA {} CASCADE", quote(kept)))).await?;
        }
        Undo::Remove { rows, xid: Some(xid), .. } if exists => {
            // A row the import wrote and nothing changed since still carries its transaction's id.
            let n: i64 = sqlx::query_scalar(run(format!("SELECT count(*) FROM {t} WHERE xmin::text = $1")))
                .bind(xid)
                .fetch_one(&mut *tx)
                .await?;
            if n as u64 != *rows {
                return Err(UndoError::Changed(changed(table)));
            }
            sqlx::query(run(format!("DELETE FROM {t} WHERE xmin::text = $1"))).bind(xid).execute(&mut *tx).await?;
        }
        Undo::Remove { .. } => return Err(UndoError::Changed(changed(table))),
        Undo::Revert { kept, updated, added, key, columns, xid: Some(xid), .. } if exists => {
            let k = qualify(kept, table);
            let there: bool =
                sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&k).fetch_one(&mut *tx).await?;
            if !there {
                return Err(UndoError::Changed(gone(table)));
            }
            // Every row the import wrote, changed or added, and nothing changed since, still
            // carries its transaction's id.
            let n: i64 = sqlx::query_scalar(run(format!("SELECT count(*) FROM {t} WHERE xmin::text = $1")))
                .bind(xid)
                .fetch_one(&mut *tx)
                .await?;
            if n as u64 != updated + added {
                return Err(UndoError::Changed(changed(table)));
            }
            // The changed rows first: their earlier values carry this transaction's id, so what
            // still carries the import's is the rows it added.
            (&mut *tx).execute(run(revert(&t, &k, key, columns))).await?;
            sqlx::query(run(format!("DELETE FROM {t} WHERE xmin::text = $1"))).bind(xid).execute(&mut *tx).await?;
            (&mut *tx).execute(run(format!("DROP SCHEMA {} CASCADE", quote(kept)))).await?;
        }
        Undo::Revert { .. } => return Err(UndoError::Changed(changed(table))),
    }
    tx.commit().await?;
    Ok(())
}

/// Drops what a [`Undo::Restore`] kept, once it can no longer be used; anything else keeps nothing.
pub async fn forget(dest: &Destination, undo: &Undo) -> Result<(), ImportError> {
    let Some(kept) = undo.kept() else { return Ok(()) };
    match dest {
        Destination::Sqlite(path) => {
            let (path, kept) = (path.clone(), kept.to_owned());
            super::off_runtime("forget a kept table", move || {
                let conn = sqlite::open(&path)?;
                conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(&kept)))?;
                sqlite::give_back(&conn);
                Ok(())
            })
            .await
        }
        Destination::Postgres { pool, .. } => {
            let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(kept));
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
            Ok(())
        }
    }
}

/// Bytes the table `undo` kept takes on disk (0 for an undo that keeps none): SQLite's page count
/// of it (the `dbstat` table, which walks its pages: about 30 ms a 100 MB table), PostgreSQL's
/// size of the kept schema's tables with their indexes and TOAST.
pub async fn kept_bytes(dest: &Destination, undo: &Undo) -> Result<u64, ImportError> {
    let Some(kept) = undo.kept() else { return Ok(0) };
    match dest {
        Destination::Sqlite(path) => {
            let (path, kept) = (path.clone(), kept.to_owned());
            super::off_runtime("measure a kept table", move || {
                // Read-only, with none of a writer's pragmas or clean-up: a checkpoint here waited
                // for readers of the file (30 s, under a load test's deep sorts) while this import
                // held the server's import slot.
                let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(sqlite_kept_bytes(&conn, &kept)?)
            })
            .await
        }
        Destination::Postgres { pool, .. } => {
            const SQL: &str = "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) FROM pg_class c \
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'";
            let bytes: i64 = sqlx::query_scalar(SQL).bind(kept).fetch_one(pool).await?;
            Ok(bytes.max(0) as u64)
        }
    }
}

/// The pages of the kept table `kept`, of its indexes, and of its search index when it has one:
/// an FTS5 table named after the table it was made for, found through its triggers (which moved
/// with the table), and the FTS5 table's own tables (`…_data`, `…_idx`, …), about the table's size.
pub(super) fn sqlite_kept_bytes(conn: &Connection, kept: &str) -> rusqlite::Result<u64> {
    // One read of the schema: the kept table's own tables and indexes, and its triggers, whose
    // names lead to its search index.
    let schema: Vec<(String, String, String)> = conn
        .prepare("SELECT type, name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index', 'trigger')")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let searches: Vec<&str> = schema
        .iter()
        .filter(|(ty, _, table)| ty == "trigger" && table == kept)
        .filter_map(|(_, name, _)| name.strip_suffix(":insert").filter(|f| f.contains(":search:")))
        .collect();
    let of_search = |n: &str| searches.iter().any(|f| n == *f || n.strip_prefix(f).is_some_and(|r| r.starts_with('_')));
    let parts: Vec<&str> = schema
        .iter()
        .filter(|(ty, name, table)| ty != "trigger" && (table == kept || of_search(name)))
        .map(|(_, name, _)| name.as_str())
        .collect();
    let mut bytes = 0u64;
    let mut size = conn.prepare("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = ?1 AND aggregate = TRUE")?;
    for name in &parts {
        bytes += size.query_row([name], |r| r.get::<_, i64>(0))?.max(0) as u64;
    }
    Ok(bytes)
}

fn gone(table: &str) -> String {
    format!("what the table {table:?} held before this import is no longer kept, so this import cannot be undone")
}

fn changed(table: &str) -> String {
    format!(
        "the table {table:?} has changed since this import, so its rows can no longer be told apart from the \
         others; this import cannot be undone"
    )
}
