//! The SQLite sink: rusqlite on a connection of its own, sharing sqlx's libsqlite3-sys. A prepared
//! statement reused for every row is an order of magnitude faster than sqlx's per-statement path
//! for a bulk load, and the load runs on a blocking thread anyway.

use super::merge::{self, Action};
use super::{
    Duplicate, FinalStatement, Kind, Merge, ROW_COLUMN, STAGING_PREFIX, column_type_of, counts, data_columns,
    key_index_name, sql_type,
};
use crate::import::ImportError;
use crate::import::infer::{fits, join};
use crate::import::names::quote;
use crate::import::review::{self, Fingerprint, Staged};
use crate::import::undo::{self, Undo};
use crate::import::value::Value;
use crate::model::{ColumnInfo, ColumnType, Counts, TableColumn, TableShape};
use rusqlite::types::Null;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => ImportError::DiskFull,
            _ => ImportError::Database(e.to_string()),
        }
    }
}

/// Opens the database file for a bulk load: WAL so readers keep reading while we write, and
/// `synchronous = NORMAL`, which in WAL mode survives a killed process (the final swap runs FULL).
/// A small page cache: a bulk load only appends to the right edge of one B-tree, so a big cache
/// just holds dirty pages longer (64 MB → 4 MB measured: peak RSS 104 → 40 MB and 7% faster).
pub fn open(path: &Path) -> Result<Connection, ImportError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // Only a file without tables takes it (the server's pool sets it first, see `db`): the space
    // of a failed import's staging table can then be given back (see [`give_back`]).
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // A checkpoint leaves the write-ahead log at most this long, instead of as long as the largest
    // transaction ever made it.
    conn.pragma_update(None, "journal_size_limit", 64 << 20)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -4096)?;
    // Sorts (a key's duplicate check) and statement journals (an upsert's INSERT ... SELECT) go
    // to temporary files, not this process's memory: in memory an upsert of 1,048,575 rows into a
    // table of as many peaked at 113 MB, on disk at 53 MB (a plain import: 48 MB), as fast.
    conn.pragma_update(None, "temp_store", "FILE")?;
    crate::import::undo::add_print(&conn)?;
    Ok(conn)
}

/// Whether a table of that name exists.
pub fn table_exists(conn: &Connection, name: &str) -> Result<bool, ImportError> {
    Ok(conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |r| {
        r.get::<_, i64>(0)
    })? > 0)
}

/// The table `name` as an import into it sees it: columns (a column is required when NOT NULL
/// without a default, and is not the rowid's alias, which fills itself), and the column sets of
/// its unique indexes and primary key (an `INTEGER PRIMARY KEY` is the rowid and has no index).
pub fn shape(conn: &Connection, name: &str) -> Result<Option<TableShape>, ImportError> {
    if !table_exists(conn, name)? {
        return Ok(None);
    }
    let cols: Vec<(String, String, bool, bool, i64)> = conn
        .prepare("SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<Result<_, _>>()?;
    let pk: Vec<&(String, String, bool, bool, i64)> = cols.iter().filter(|c| c.4 > 0).collect();
    let rowid_alias = match pk.as_slice() {
        [only] if only.1.eq_ignore_ascii_case("INTEGER") => Some(only.0.clone()),
        _ => None,
    };
    let columns = cols
        .iter()
        .map(|(n, decl, notnull, has_default, _)| TableColumn {
            name: n.clone(),
            ty: column_type_of(decl),
            required: *notnull && !*has_default && rowid_alias.as_deref() != Some(n),
            declared: None,
        })
        .collect();
    let mut unique: Vec<Vec<String>> = rowid_alias.into_iter().map(|n| vec![n]).collect();
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1 AND partial = 0")?
        .query_map([name], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for index in indexes {
        let names: Vec<Option<String>> = conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
            .query_map([&index], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        // An index on an expression has no name for it: no key to meet rows by.
        if let Some(set) = names.into_iter().collect::<Option<Vec<String>>>() {
            unique.push(set);
        }
    }
    Ok(Some(TableShape { columns, unique }))
}

/// Drops every staging table: after a crash, what no job owns any more.
pub fn drop_all_staging(conn: &Connection) -> Result<usize, ImportError> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, ?1) = ?2")?
        .query_map(rusqlite::params![STAGING_PREFIX.len() as i64, STAGING_PREFIX], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for name in &names {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(name)))?;
    }
    Ok(names.len())
}

/// Returns the free pages at the end of the file to the file system and truncates the write-ahead
/// log, so a failed import leaves no more disk in use than before it (in a file made with
/// `auto_vacuum = INCREMENTAL`; in an older file the pages stay free for the next import).
/// Best effort: on a full disk even this may not be possible, and the next start tries again.
pub fn give_back(conn: &Connection) {
    let run = || -> rusqlite::Result<()> {
        // Each step frees one page: step the statement to its end.
        let mut vacuum = conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = vacuum.query([])?;
        while rows.next()?.is_some() {}
        drop(rows);
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
    };
    if let Err(e) = run() {
        tracing::warn!(error = %e, "could not give a failed import's space back to the file system");
    }
}

/// Where a swap leaves its [`FinalStatement`]'s parameters: the app's own file is another file, and
/// SQLite commits two files atomically only with a rollback journal (a WAL database commits each
/// file on its own), so the success is written here, in the swap's transaction, and applied to the
/// app's file right after, or at the next start when the process died in between. A name no import
/// can take (table names never start with `_`).
pub const RECEIPTS: &str = "_sheetport_receipts";

fn write_receipt(conn: &Connection, last: &FinalStatement) -> Result<(), ImportError> {
    let params: Vec<serde_json::Value> = last
        .params
        .iter()
        .map(|p| match p {
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Null => serde_json::Value::Null,
            other => {
                let mut s = String::new();
                other.write_text(&mut s);
                serde_json::Value::from(s)
            }
        })
        .collect();
    conn.execute_batch(&format!("CREATE TABLE IF NOT EXISTS {RECEIPTS} (params TEXT NOT NULL)"))?;
    let json = serde_json::Value::from(params).to_string();
    conn.execute(&format!("INSERT INTO {RECEIPTS} (params) VALUES (?1)"), [json])?;
    Ok(())
}

/// The write rule's facts ([`crate::db::registry::FACTS`]) for `table` and `account`, read from the
/// app's own file beside the data file `conn` has open, on a connection of their own: the data
/// connection never attaches the app's file, so no table name can reach it.
fn authority_facts(
    conn: &Connection,
    table: &str,
    account: Option<i64>,
) -> Result<crate::db::registry::FactsRow, ImportError> {
    let data = conn.path().filter(|p| !p.is_empty()).ok_or_else(|| {
        ImportError::Internal("the write check needs the app's file, and the data file has no path".into())
    })?;
    let state = Connection::open_with_flags(
        crate::db::state_file(Path::new(data)),
        // Read and write (never create): a read-only connection to a WAL file fails without its -shm.
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    state.busy_timeout(Duration::from_secs(30))?;
    // `$1`, `$2` are SQLite parameters numbered by first appearance: the name, then the account.
    Ok(state.query_row(crate::db::registry::FACTS, rusqlite::params![table, account], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?)
}

/// One import's staging table and the open transaction rows go into.
pub struct SqliteSink {
    conn: Connection,
    staging: String,
    columns: Vec<ColumnInfo>,
    /// What each column was created as; `columns[i].ty` is widened as values demand.
    declared: Vec<ColumnType>,
    insert_sql: String,
    in_tx: bool,
    text: String,
}

impl SqliteSink {
    /// Creates the staging table (replacing a leftover of the same name).
    pub fn create(conn: Connection, staging: &str, columns: Vec<ColumnInfo>) -> Result<Self, ImportError> {
        let defs: Vec<String> =
            columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Sqlite, c.ty))).collect();
        conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS {s}; CREATE TABLE {s} ({})",
            defs.join(", "),
            s = quote(staging)
        ))?;
        let params = vec!["?"; columns.len()].join(", ");
        Ok(Self {
            insert_sql: format!("INSERT INTO {} VALUES ({params})", quote(staging)),
            declared: columns.iter().map(|c| c.ty).collect(),
            conn,
            staging: staging.to_owned(),
            columns,
            in_tx: false,
            text: String::with_capacity(256),
        })
    }

    /// A review's staged rows (see [`crate::import::review`]), for its commit to merge from.
    pub fn reopen(conn: Connection, staged: &Staged) -> Result<Self, ImportError> {
        if !table_exists(&conn, &staged.table)? {
            return Err(review::gone());
        }
        let mut columns = staged.columns.clone();
        columns.push(ColumnInfo {
            name: ROW_COLUMN.into(),
            label: String::new(),
            ty: ColumnType::Integer,
            declared: None,
        });
        Ok(Self {
            insert_sql: String::new(),
            declared: columns.iter().map(|c| c.ty).collect(),
            conn,
            staging: staged.table.clone(),
            columns,
            in_tx: false,
            text: String::new(),
        })
    }

    /// Columns with the types the values so far demand.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// Inserts rows of exactly `columns().len()` values into the open transaction (opening one).
    pub fn insert(&mut self, rows: &[Vec<Value>]) -> Result<(), ImportError> {
        if !self.in_tx {
            self.conn.execute_batch("BEGIN")?;
            self.in_tx = true;
        }
        let mut stmt = self.conn.prepare_cached(&self.insert_sql)?;
        for row in rows {
            for (i, value) in row.iter().enumerate() {
                let col = &mut self.columns[i];
                if !fits(col.ty, value)
                    && let Some(kind) = value.kind()
                {
                    col.ty = join(col.ty, kind);
                }
                let idx = i + 1;
                match (value, col.ty) {
                    (Value::Null, _) => stmt.raw_bind_parameter(idx, Null)?,
                    (Value::Int(n), ColumnType::Integer | ColumnType::Real) => stmt.raw_bind_parameter(idx, n)?,
                    (Value::Real(f), ColumnType::Real) => stmt.raw_bind_parameter(idx, f)?,
                    (Value::Bool(b), ColumnType::Boolean) => stmt.raw_bind_parameter(idx, i64::from(*b))?,
                    (Value::Text(s), _) => stmt.raw_bind_parameter(idx, s.as_str())?,
                    (Value::Date(_), ColumnType::Datetime) => {
                        self.text.clear();
                        value.write_text(&mut self.text);
                        self.text.push_str(" 00:00:00");
                        stmt.raw_bind_parameter(idx, self.text.as_str())?
                    }
                    _ => {
                        self.text.clear();
                        value.write_text(&mut self.text);
                        stmt.raw_bind_parameter(idx, self.text.as_str())?
                    }
                }
            }
            stmt.raw_execute()?;
        }
        Ok(())
    }

    /// Makes the rows inserted so far durable in the staging table.
    pub fn commit(&mut self) -> Result<(), ImportError> {
        if self.in_tx {
            self.conn.execute_batch("COMMIT")?;
            self.in_tx = false;
        }
        Ok(())
    }

    /// Every row whose key an earlier row had, in row order (see [`super::Sink::duplicates`]).
    pub fn duplicates(&mut self, key: &[String], visit: &mut dyn FnMut(Duplicate)) -> Result<u64, ImportError> {
        self.commit()?;
        let keys: Vec<String> = key.iter().map(|k| quote(k)).collect();
        let text: Vec<String> = keys.iter().map(|k| format!("CAST({k} AS TEXT)")).collect();
        // Only the keys seen more than once are sorted by row: the grouping is the one pass over
        // every key (0.30 s at 1,048,575 rows, where the window over all of them took 0.88 s).
        let sql = format!(
            "SELECT row, first, key FROM (SELECT {r} AS row, min({r}) OVER (PARTITION BY {k}) AS first, {t} AS key \
             FROM {s} WHERE ({k}) IN (SELECT {k} FROM {s} GROUP BY {k} HAVING count(*) > 1)) \
             WHERE row > first ORDER BY row",
            r = quote(ROW_COLUMN),
            k = keys.join(", "),
            t = text.join(" || ', ' || "),
            s = quote(&self.staging)
        );

        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            visit(Duplicate { row: r.get::<_, i64>(0)? as u64, first: r.get::<_, i64>(1)? as u64, key: r.get(2)? });
            n += 1;
        }
        Ok(n)
    }

    /// The rows a rule's check lists (see [`crate::import::rules`]), to `visit`; how many.
    pub fn broken(&mut self, sql: &str, visit: &mut dyn FnMut(u64, u64, String)) -> Result<u64, ImportError> {
        self.commit()?;
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let text: Option<String> = r.get(2)?;
            visit(r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, text.unwrap_or_default());
            n += 1;
        }
        Ok(n)
    }

    /// Runs `sql` on the staging table's connection.
    pub fn exec(&mut self, sql: &str) -> Result<(), ImportError> {
        self.commit()?;
        self.conn.execute_batch(sql)?;
        Ok(())
    }

    /// The staging table, as SQL.
    pub fn staging(&self) -> String {
        quote(&self.staging)
    }

    /// Puts the staging table in place of (or merges it into) `target` in one transaction, with
    /// the final statement's receipt written in that same transaction (see [`RECEIPTS`]).
    pub fn finish(mut self, target: &str, merge: Merge) -> Result<(Vec<ColumnInfo>, Counts), ImportError> {
        match self.swap(target, merge) {
            Ok(counts) => Ok((data_columns(&self.columns), counts)),
            Err(e) => {
                self.abort()?;
                Err(e)
            }
        }
    }

    /// Stops before the table: turns the staging table into the review table `name` (see
    /// [`crate::import::review`]), in one transaction that reads the table and changes nothing of
    /// it. Returns the columns and what the review saw; on an error, leaves nothing behind.
    pub fn review(
        mut self,
        target: &str,
        merge: Merge,
        name: &str,
        times: (i64, i64),
    ) -> Result<(Vec<ColumnInfo>, Staged), ImportError> {
        match self.stage_review(target, &merge, name, times) {
            Ok(staged) => Ok((data_columns(&self.columns), staged)),
            Err(e) => {
                self.abort()?;
                Err(e)
            }
        }
    }

    fn stage_review(
        &mut self,
        target: &str,
        merge: &Merge,
        name: &str,
        times: (i64, i64),
    ) -> Result<Staged, ImportError> {
        self.commit()?;
        self.rebuild_widened()?;
        let columns = data_columns(&self.columns);
        let (staging, t, r) = (quote(&self.staging), quote(target), quote(name));
        let source = merge::source(&staging, &merge.key, merge.dedupe);
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        let exists = table_exists(&tx, target)?;
        if let Some(writer) = merge.writer {
            writer.check(target, exists, authority_facts(&tx, target, writer.account)?)?;
        }
        let plan =
            review::Plan::of(merge::decide(merge.mode, exists, !merge.key.is_empty(), target)?, merge.add_unique_index);
        let meets = plan.meets;
        if plan.checks_key && tx.query_row(&review::key_twice(&t, &merge.key), [], |_| Ok(())).optional()?.is_some() {
            return Err(merge::repeated_key(target));
        }
        let removed: i64 =
            if plan.replaces { tx.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))? } else { 0 };
        let seen = review::Seen {
            shape: if exists { shape(&tx, target)? } else { None },
            removed: removed.max(0) as u64,
            fingerprint: if plan.replaces { Some(fingerprint(&tx, target)?) } else { None },
        };
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {r}; {}",
            review::create(Kind::Sqlite, &r, &columns, &merge.key, meets.is_some())
        ))?;
        tx.execute(&review::fill(Kind::Sqlite, &r, &source, &t, &columns, &merge.key, meets), [])?;
        for sql in review::indexes(Kind::Sqlite, &r, name) {
            tx.execute_batch(&sql)?;
        }
        let tally = review::tally(Kind::Sqlite, &r, &columns, &merge.key, meets.is_some());
        let numbers: Vec<i64> = tx.query_row(&tally, [], |row| {
            (0..row.as_ref().column_count()).map(|i| row.get(i)).collect::<rusqlite::Result<_>>()
        })?;
        tx.execute_batch(&trash(&self.staging))?;
        tx.commit()?;
        Ok(review::staged(name, merge, columns, plan, &numbers, seen, times))
    }

    fn swap(&mut self, target: &str, mut merge: Merge) -> Result<Counts, ImportError> {
        self.commit()?;
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        self.rebuild_widened()?;
        let columns = data_columns(&self.columns);
        let (staging, t) = (quote(&self.staging), quote(target));
        let cols = columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
        let keys: Vec<String> = merge.key.iter().map(|k| quote(k)).collect();
        // A review's rows merge from its table, less those that would leave the table as it is.
        let source = match &merge.reviewed {
            Some(_) => review::changing(&staging),
            None => merge::source(&staging, &merge.key, merge.dedupe),
        };
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        let exists = table_exists(&tx, target)?;
        if let Some(writer) = merge.writer {
            // This transaction holds the data file's write lock: no other import changes the
            // table until it ends, so the facts read now hold for what it does.
            writer.check(target, exists, authority_facts(&tx, target, writer.account)?)?;
        }
        let action = merge::decide(merge.mode, exists, !keys.is_empty(), target)?;
        if let Some(staged) = &merge.reviewed {
            still_as_reviewed(&tx, target, staged)?;
        }
        // A review's table has columns of its own: its rows are copied, never the table renamed.
        let renamed = merge.reviewed.is_none();
        let (mut inserted, mut updated) = (merge.rows, 0);
        let taken_back: Option<Undo>;
        match action {
            Action::Append => {
                let mark = undo::sqlite_mark(&tx, target);
                let set_aside = set_aside_indexes(&tx, target, merge.rows, mark.unwrap_or(0))?;
                tx.execute_batch(&format!(
                    "INSERT INTO {t} ({cols}) SELECT {cols} FROM {staging}; DROP TABLE {staging}"
                ))?;
                for sql in set_aside {
                    tx.execute_batch(&sql)?;
                }
                taken_back = undo::sqlite_added(&tx, target, mark, merge.rows);
            }
            Action::Merge { update } => {
                if merge.add_unique_index {
                    let index = quote(&key_index_name(target, &merge.key));
                    tx.execute_batch(&format!("CREATE UNIQUE INDEX {index} ON {t} ({})", keys.join(", ")))
                        .map_err(|e| repeated_key(e, target))?;
                }
                if let Some(staged) = merge.reviewed.as_ref().filter(|s| s.meets.is_some()) {
                    // A review's rows, as it decided them one by one, checked as they are written.
                    let plan = review::merge_commit(Kind::Sqlite, &staging, &t, &columns, &merge.key, update);
                    let mark = undo::sqlite_mark(&tx, target);
                    updated = match &plan.update {
                        Some(sql) => tx.execute(sql, [])? as u64,
                        None => 0,
                    };
                    inserted = tx.execute(&plan.insert, [])? as u64;
                    let unchanged: i64 = tx.query_row(&plan.unchanged, [], |r| r.get(0))?;
                    if unchanged.max(0) as u64 != staged.summary.unchanged {
                        return Err(review::changed_since(target));
                    }
                    // The review's table holds every changed row's values before and after: kept
                    // as it is, it is what an undo puts back.
                    let revert = undo::Revert::of(merge.keep.as_ref(), update, &columns, &merge.key, Kind::Sqlite);
                    taken_back = match revert {
                        Some(revert) if updated > 0 => {
                            let kept = revert.keep.sqlite_name();
                            tx.execute_batch(&format!(
                                "DROP TABLE IF EXISTS {k}; ALTER TABLE {staging} RENAME TO {k}",
                                k = quote(&kept)
                            ))?;
                            revert.sqlite_kept(&tx, target, kept, false, mark, inserted, updated)?
                        }
                        _ => {
                            tx.execute_batch(&trash(&self.staging))?;
                            if updated == 0 { undo::sqlite_added(&tx, target, mark, inserted) } else { None }
                        }
                    };
                    // The counts are checked against the review's below.
                } else {
                    let before: i64 = tx.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                    let mark = undo::sqlite_mark(&tx, target);
                    let revert = undo::Revert::of(merge.keep.as_ref(), update, &columns, &merge.key, Kind::Sqlite);
                    if let Some(revert) = &revert {
                        tx.execute_batch(&revert.sqlite_before(target, &columns))?;
                    }
                    let rest: Vec<String> =
                        columns.iter().filter(|c| !merge.key.contains(&c.name)).map(|c| quote(&c.name)).collect();
                    let action = if !update || rest.is_empty() {
                        "NOTHING".to_owned()
                    } else {
                        let set: Vec<String> = rest.iter().map(|c| format!("{c} = excluded.{c}")).collect();
                        let differs: Vec<String> =
                            rest.iter().map(|c| format!("{t}.{c} IS NOT excluded.{c}")).collect();
                        format!(
                            "UPDATE SET {} WHERE {}",
                            set.join(", "),
                            crate::import::names::joined(&differs, " OR ")
                        )
                    };
                    // `WHERE true` tells SQLite's parser the ON CONFLICT is the upsert's, not a join's.
                    let changed = tx.execute(
                    &format!(
                        "INSERT INTO {t} ({cols}) SELECT {cols} FROM {source} WHERE true ON CONFLICT ({}) DO {action}",
                        keys.join(", ")
                    ),
                    [],
                )? as u64;
                    let after: i64 = tx.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                    inserted = (after - before).max(0) as u64;
                    updated = changed.saturating_sub(inserted);
                    taken_back = match revert {
                        Some(revert) => revert.sqlite_after(&tx, target, mark, inserted, updated)?,
                        // Without what the changed rows held, only an upsert that changed none.
                        None if updated == 0 => undo::sqlite_added(&tx, target, mark, inserted),
                        None => None,
                    };
                    tx.execute_batch(&format!("DROP TABLE {staging}"))?;
                }
            }
            Action::CreateKeyed { retire } => {
                // A new table with its key's unique index, filled from the staging table.
                taken_back =
                    if retire { undo::sqlite_retire(&tx, target, merge.keep.as_ref())? } else { Some(Undo::Drop) };
                let defs: Vec<String> =
                    columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Sqlite, c.ty))).collect();
                let index = quote(&key_index_name(target, &merge.key));
                tx.execute_batch(&format!(
                    "CREATE TABLE {t} ({}); CREATE UNIQUE INDEX {index} ON {t} ({}); \
                     INSERT INTO {t} ({cols}) SELECT {cols} FROM {source}; DROP TABLE {staging}",
                    defs.join(", "),
                    keys.join(", ")
                ))?;
            }
            Action::Replace => {
                taken_back = undo::sqlite_retire(&tx, target, merge.keep.as_ref())?;
                tx.execute_batch(&put_in_place(&staging, &t, &columns, renamed))?;
            }
            Action::Create => {
                tx.execute_batch(&put_in_place(&staging, &t, &columns, renamed))?;
                taken_back = Some(Undo::Drop);
            }
        }
        if let Some(staged) = &merge.reviewed {
            review::counts_agree(staged, target, inserted, updated)?;
        }
        let counts = counts(merge.rows, inserted, updated, merge.rejected);
        if let Some(mut last) = merge.last.take() {
            super::finished(&mut last, &counts, taken_back.as_ref());
            write_receipt(&tx, &last)?;
        }
        tx.commit()?;
        Ok(counts)
    }

    /// Drops the staging table and everything uncommitted, and gives the space back: the
    /// database is as it was.
    pub fn abort(mut self) -> Result<(), ImportError> {
        // SQLite ends the transaction itself on some errors (a full disk), and a ROLLBACK then
        // fails with "no transaction is active" before the staging table is dropped.
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        self.in_tx = false;
        self.conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(&self.staging)))?;
        give_back(&self.conn);
        Ok(())
    }

    /// When values outgrew a column's sampled type, recreate the staging table with the wider
    /// types, converting what was stored under the narrower one (rare: only when the sample lied).
    fn rebuild_widened(&mut self) -> Result<(), ImportError> {
        if self.columns.iter().zip(&self.declared).all(|(c, d)| c.ty == *d) {
            return Ok(());
        }
        let rebuilt = format!("{}_w", self.staging);
        let defs: Vec<String> =
            self.columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Sqlite, c.ty))).collect();
        let exprs: Vec<String> = self
            .columns
            .iter()
            .zip(&self.declared)
            .map(|(c, was)| {
                let q = quote(&c.name);
                match (was, c.ty) {
                    (ColumnType::Boolean, ColumnType::Text) => {
                        format!("CASE {q} WHEN 1 THEN 'true' WHEN 0 THEN 'false' ELSE {q} END")
                    }
                    (ColumnType::Date, ColumnType::Datetime) => {
                        format!("CASE WHEN length({q}) = 10 THEN {q} || ' 00:00:00' ELSE {q} END")
                    }
                    _ => q,
                }
            })
            .collect();
        let (s, r) = (quote(&self.staging), quote(&rebuilt));
        self.conn.execute_batch(&format!(
            "BEGIN; CREATE TABLE {r} ({}); INSERT INTO {r} SELECT {} FROM {s}; DROP TABLE {s}; ALTER TABLE {r} RENAME TO {s}; COMMIT",
            defs.join(", "),
            exprs.join(", ")
        ))?;
        self.declared = self.columns.iter().map(|c| c.ty).collect();
        Ok(())
    }
}

/// Sets the table `name` aside to be dropped after the transaction (see [`review::TRASH_PREFIX`]).
fn trash(name: &str) -> String {
    format!("ALTER TABLE {} RENAME TO {}", quote(name), quote(&format!("{}{name}", review::TRASH_PREFIX)))
}

/// Drops the tables set aside by [`trash`], and gives their space back.
pub fn take_out_trash(conn: &Connection) -> Result<usize, ImportError> {
    let prefix = review::TRASH_PREFIX;
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, ?1) = ?2")?
        .query_map(rusqlite::params![prefix.len() as i64, prefix], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for name in &names {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(name)))?;
    }
    if !names.is_empty() {
        give_back(conn);
    }
    Ok(names.len())
}

/// The statements that make the staged rows the table `t`: the staging table renamed, or (a
/// review's, which has columns of its own) a new table filled from it in row order.
fn put_in_place(staging: &str, t: &str, columns: &[ColumnInfo], renamed: bool) -> String {
    if renamed {
        return format!("ALTER TABLE {staging} RENAME TO {t}");
    }
    let defs: Vec<String> =
        columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Sqlite, c.ty))).collect();
    let cols = columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
    format!(
        "CREATE TABLE {t} ({}); INSERT INTO {t} ({cols}) SELECT {cols} FROM {staging} ORDER BY {}; DROP TABLE {staging}",
        defs.join(", "),
        quote(ROW_COLUMN)
    )
}

/// Refuses a review's commit when the table is no longer as the review saw it: its columns and
/// indexes, a replace's whole table, every key's row of a merge (see [`crate::import::review`]).
fn still_as_reviewed(tx: &Transaction<'_>, target: &str, staged: &Staged) -> Result<(), ImportError> {
    if shape(tx, target)? != staged.shape {
        return Err(review::changed_since(target));
    }
    if let Some(print) = &staged.fingerprint
        && fingerprint(tx, target)? != *print
    {
        return Err(review::changed_since(target));
    }
    // A merge's rows are checked as they are written (see `review::merge_commit`).
    Ok(())
}

/// The table's [`Fingerprint`], from every value of every row.
fn fingerprint(conn: &Connection, target: &str) -> Result<String, ImportError> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare(&format!("SELECT * FROM {}", quote(target)))?;
    let n = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut print = Fingerprint::default();
    while let Some(row) = rows.next()? {
        let mut h = print.start();
        for i in 0..n {
            match row.get_ref(i)? {
                ValueRef::Null => h.value(0, &[]),
                ValueRef::Integer(v) => h.value(1, &v.to_le_bytes()),
                ValueRef::Real(v) => h.value(2, &v.to_le_bytes()),
                ValueRef::Text(v) => h.value(3, v),
                ValueRef::Blob(v) => h.value(4, v),
            }
        }
        print.add(h);
    }
    Ok(print.text())
}

/// A unique index that could not be made because the table holds a key twice, in words.
fn repeated_key(e: rusqlite::Error, table: &str) -> ImportError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => merge::repeated_key(table),
        _ => e.into(),
    }
}

/// Before a large append: drops the table's own non-unique indexes (those a person made for
/// sorting) and returns the statements that make them again, to run once the rows are in, in the
/// same transaction. Kept up to date row by row, an index on a column in no particular order made
/// appending 1,048,575 rows to a table of as many 3.2 times slower (6.58 s against 2.07 s, the
/// bench harness); made again after, it costs about 0.5 s a million rows. So only when the rows
/// added are at least an eighth of those there (`before`: the table's largest rowid). Unique indexes
/// stay: they are what refuses a repeated key.
fn set_aside_indexes(
    tx: &Transaction<'_>,
    target: &str,
    adding: u64,
    before: i64,
) -> Result<Vec<String>, rusqlite::Error> {
    if adding.saturating_mul(8) < before.max(0) as u64 {
        return Ok(Vec::new());
    }
    let mut stmt = tx.prepare(
        "SELECT il.name, s.sql FROM pragma_index_list(?1) AS il JOIN sqlite_schema AS s ON s.name = il.name \
         WHERE il.\"unique\" = 0 AND il.origin = 'c' AND s.sql IS NOT NULL",
    )?;
    let indexes: Vec<(String, String)> =
        stmt.query_map([target], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    for (name, _) in &indexes {
        tx.execute_batch(&format!("DROP INDEX {}", quote(name)))?;
    }
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}
