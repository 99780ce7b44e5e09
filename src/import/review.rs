//! Review before it lands (issue 28): an import that stops once every row is read, typed, mapped
//! and staged, with nothing in its table touched, and says what it would do. Its rows wait in a
//! table of their own in the data database (`_sheetport_review_<import>`), one row per staged row:
//! the sheet's row number, the values as they would land, what the row would do ([`KIND_COLUMN`]:
//! insert, update or unchanged) and, for a row whose key the table has, that row's values as the
//! table had them ([`old_column`]). The diff pages read it; the commit merges from it.
//!
//! A commit does exactly what was reviewed or nothing: inside the transaction that changes the
//! table, it checks that the table still holds, for every key of the file, what the review saw
//! (an upsert's rows as they were, an insert's key still absent; a replace: the whole table, by a
//! fingerprint), that the table's columns are as they were, and that the merge's own counts agree
//! with the review's. Rows of the table the file has no key for may change meanwhile: an upsert
//! or an append does not touch them, so what was reviewed still holds.
//!
//! The statements are decided here once and rendered for each dialect ([`Kind`]); each sink runs
//! them in its own transaction.

use super::ImportError;
use super::names::{joined, qualify, quote};
use super::sink::merge::Action;
use super::sink::{Destination, Kind, Merge, ROW_COLUMN, column_sql};
use crate::model::{ChangedColumn, ColumnInfo, ReviewSummary, TableShape};
use serde::{Deserialize, Serialize};

/// Prefix of every review's table (never a staging table's: a start drops those, not these).
pub const REVIEW_PREFIX: &str = "_sheetport_review_";
/// What a staged row would do: [`INSERT`], [`UPDATE`] or [`UNCHANGED`].
pub const KIND_COLUMN: &str = "_sheetport_kind";
pub const INSERT: i64 = 0;
pub const UPDATE: i64 = 1;
pub const UNCHANGED: i64 = 2;

/// The column holding the table's value of data column `i` (by position; key columns have none).
pub fn old_column(i: usize) -> String {
    format!("_sheetport_old_{i}")
}

/// Prefix of a table whose rows are done with, renamed in the transaction that finished with them
/// and dropped after it (see [`TRASH_PREFIX`]'s use in the SQLite sink): SQLite frees a million
/// rows' pages in about a second, which the person need not wait for.
pub const TRASH_PREFIX: &str = "_sheetport_trash_";

/// The review table of import `id`.
pub fn table_name(id: &str) -> String {
    format!("{REVIEW_PREFIX}{id}")
}

/// What a review staged and saw, kept with its import (`imports.review`) until it is committed,
/// discarded or its time is up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Staged {
    /// The table its rows wait in, in the data database.
    pub table: String,
    pub summary: ReviewSummary,
    /// The columns that go into the table, in order, as staged.
    pub columns: Vec<ColumnInfo>,
    pub key: Vec<String>,
    /// The key's unique index is made on the table at the commit.
    pub add_unique_index: bool,
    /// The rows met the table by the key (`Some(update)`: an upsert's, or an insert-new's), so the
    /// commit checks each key's row is as the review saw it.
    pub meets: Option<bool>,
    /// The table as the review saw it (`None`: there was none).
    pub shape: Option<TableShape>,
    /// A replace's whole table, as the review saw it (see [`Fingerprint`]).
    pub fingerprint: Option<String>,
    /// The sheet's columns as the import read them (header text, inferred type): with the
    /// import's mapping they make its [`super::shape::Plan`] again, so a fix of a rejected row is
    /// checked as the import checked it (see [`super::rejects`]). Empty in a review made before
    /// rows could be fixed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<ColumnInfo>,
}

impl Staged {
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Rows staged to go in (inserted, updated and unchanged).
    pub fn rows(&self) -> u64 {
        self.summary.inserted + self.summary.updated + self.summary.unchanged
    }

    pub fn to_json(&self) -> String {
        // Plain structs of strings and numbers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a review of an import does, from what the import would do to its table (see
/// [`super::sink::merge::decide`]), the same on both databases.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The rows meet the table by the key (`Some(update)`), each found insert, update or unchanged;
    /// otherwise each is an insert.
    pub meets: Option<bool>,
    /// The table goes (a replace): its rows are counted and fingerprinted.
    pub replaces: bool,
    /// The commit makes the key's unique index: a table holding a key twice is refused now.
    pub checks_key: bool,
}

impl Plan {
    pub fn of(action: Action, add_unique_index: bool) -> Self {
        let meets = match action {
            Action::Merge { update } => Some(update),
            _ => None,
        };
        Plan {
            meets,
            replaces: matches!(action, Action::Replace | Action::CreateKeyed { retire: true }),
            checks_key: meets.is_some() && add_unique_index,
        }
    }
}

/// A row when the table `target` holds some value of the key twice (a unique index on it could
/// not be made). NULLs never repeat a key, as in a unique index.
pub fn key_twice(target: &str, key: &[String]) -> String {
    let keys: Vec<String> = key.iter().map(|k| quote(k)).collect();
    let present: Vec<String> = keys.iter().map(|k| format!("{k} IS NOT NULL")).collect();
    format!(
        "SELECT 1 FROM {target} WHERE {} GROUP BY {} HAVING count(*) > 1 LIMIT 1",
        present.join(" AND "),
        keys.join(", ")
    )
}

/// What the table looked like to a review: its shape, and for a replace its rows and fingerprint.
pub struct Seen {
    pub shape: Option<TableShape>,
    pub removed: u64,
    pub fingerprint: Option<String>,
}

/// What a review staged, from its [`tally`]'s `numbers` and what it saw.
pub fn staged(
    name: &str,
    merge: &Merge,
    columns: Vec<ColumnInfo>,
    plan: Plan,
    numbers: &[i64],
    seen: Seen,
    times: (i64, i64),
) -> Staged {
    let summary = summary(numbers, &columns, &merge.key, merge.rejected, seen.removed, times.0, times.1);
    Staged {
        table: name.to_owned(),
        summary,
        columns,
        key: merge.key.clone(),
        add_unique_index: merge.add_unique_index,
        meets: plan.meets,
        shape: seen.shape,
        fingerprint: seen.fingerprint,
        source: Vec::new(),
    }
}

/// A commit's merge wrote other than the review said: the checks before it hold every key's row as
/// reviewed, so this is a rule they missed; the transaction rolls back, and the person is told as
/// for any change.
pub fn counts_agree(staged: &Staged, target: &str, inserted: u64, updated: u64) -> Result<(), ImportError> {
    if (inserted, updated) == (staged.summary.inserted, staged.summary.updated) {
        return Ok(());
    }
    tracing::warn!(target, inserted, updated, "a review's commit did other than the review said");
    Err(changed_since(target))
}

/// The commit found the table other than the review saw it.
pub fn changed_since(target: &str) -> ImportError {
    ImportError::Conflict(format!(
        "the table {target:?} changed after this review was made (rows written by hand or by another import), so \
         nothing was written: review the file again to see what it would do now"
    ))
}

/// The review's staged rows are gone (its time was up, or it was discarded).
pub fn gone() -> ImportError {
    ImportError::Conflict(
        "the rows this review staged are no longer kept, so nothing was written: import the file again".into(),
    )
}

/// Drops the review table `name` and its rejected rows ([`super::rejects`]), when they are
/// there, and gives their space back.
pub async fn drop_table(dest: &Destination, name: &str) -> Result<(), ImportError> {
    let rejects = super::rejects::table_of(name);
    match dest {
        Destination::Sqlite(path) => {
            let (path, name) = (path.clone(), name.to_owned());
            super::off_runtime("drop a review's rows", move || {
                let conn = super::sink::sqlite::open(&path)?;
                conn.execute_batch(&format!(
                    "DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {}",
                    quote(&name),
                    quote(&rejects)
                ))?;
                super::sink::sqlite::give_back(&conn);
                Ok(())
            })
            .await
        }
        Destination::Postgres { pool, schema } => {
            for table in [name, rejects.as_str()] {
                let sql = format!("DROP TABLE IF EXISTS {}", qualify(schema, table));
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
            }
            Ok(())
        }
    }
}

/// Drops the tables set aside once done with (SQLite; see [`TRASH_PREFIX`]).
pub async fn take_out_trash(dest: &Destination) -> Result<usize, ImportError> {
    let Destination::Sqlite(path) = dest else { return Ok(0) };
    let path = path.clone();
    super::off_runtime("drop what was set aside", move || {
        super::sink::sqlite::take_out_trash(&super::sink::sqlite::open(&path)?)
    })
    .await
}

/// Readies the review table `name` for its pages: on PostgreSQL a VACUUM, which sets the visibility
/// map a deep page's index-only scan needs (a table made in a transaction has none); SQLite's
/// pages read its index as it is.
pub async fn settle(dest: &Destination, name: &str) -> Result<(), ImportError> {
    if let Destination::Postgres { pool, schema } = dest {
        let sql = format!("VACUUM (ANALYZE) {}", qualify(schema, name));
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    }
    Ok(())
}

/// The bytes the review table `name` takes, with its indexes (for the stored-bytes quotas).
pub async fn bytes(dest: &Destination, name: &str) -> Result<u64, ImportError> {
    match dest {
        Destination::Sqlite(path) => {
            let (path, name) = (path.clone(), name.to_owned());
            super::off_runtime("measure a review", move || {
                let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(super::undo::sqlite_kept_bytes(&conn, &name)?)
            })
            .await
        }
        Destination::Postgres { pool, schema } => {
            let bytes: i64 =
                sqlx::query_scalar("SELECT CAST(COALESCE(pg_total_relation_size(to_regclass($1)), 0) AS BIGINT)")
                    .bind(qualify(schema, name))
                    .fetch_one(pool)
                    .await?;
            Ok(bytes.max(0) as u64)
        }
    }
}

/// How a dialect says "differs, NULLs included".
fn differs(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "IS NOT",
        Kind::Postgres => "IS DISTINCT FROM",
    }
}

/// The review table: the row number (SQLite: its rowid, so pages in row order cost no sort), the
/// data columns, what each row would do, and with a table to meet, the table's values.
pub fn create(kind: Kind, review: &str, columns: &[ColumnInfo], key: &[String], olds: bool) -> String {
    let row = match kind {
        Kind::Sqlite => "INTEGER PRIMARY KEY",
        Kind::Postgres => "BIGINT NOT NULL",
    };
    let mut defs = vec![format!("{} {row}", quote(ROW_COLUMN))];
    defs.extend(columns.iter().map(|c| format!("{} {}", quote(&c.name), column_sql(kind, c))));
    defs.push(format!("{} INTEGER NOT NULL", quote(KIND_COLUMN)));
    if olds {
        for (i, c) in columns.iter().enumerate().filter(|(_, c)| !key.contains(&c.name)) {
            defs.push(format!("{} {}", quote(&old_column(i)), column_sql(kind, c)));
        }
    }
    format!("CREATE TABLE {review} ({})", defs.join(", "))
}

/// Fills the review table from `source` (the staging table, or its first row of each key). No
/// ORDER BY: the staging table holds its rows in the sheet's order already, and sorting them again
/// took 3.2 s of a million-row fill that takes 1.35 s without (SQLite). `meet`: the rows meet the table `target` by the key, and `update` says whether a row that
/// differs would change it (upsert) or be left (insert-new); otherwise every row is an insert.
pub fn fill(
    kind: Kind,
    review: &str,
    source: &str,
    target: &str,
    columns: &[ColumnInfo],
    key: &[String],
    meet: Option<bool>,
) -> String {
    let r = quote(ROW_COLUMN);
    let cols: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let into = format!("{r}, {}, {}", cols.join(", "), quote(KIND_COLUMN));
    let Some(update) = meet else {
        return format!("INSERT INTO {review} ({into}) SELECT {r}, {}, {INSERT} FROM {source} s", cols.join(", "));
    };
    let rest: Vec<(usize, &ColumnInfo)> = columns.iter().enumerate().filter(|(_, c)| !key.contains(&c.name)).collect();
    let on: Vec<String> = key.iter().map(|k| format!("t.{k} = s.{k}", k = quote(k))).collect();
    let absent = format!("t.{} IS NULL", quote(&key[0]));
    let diff: Vec<String> =
        rest.iter().map(|(_, c)| format!("t.{q} {} s.{q}", differs(kind), q = quote(&c.name))).collect();
    let what = if update && !diff.is_empty() {
        format!("CASE WHEN {absent} THEN {INSERT} WHEN {} THEN {UPDATE} ELSE {UNCHANGED} END", joined(&diff, " OR "))
    } else {
        format!("CASE WHEN {absent} THEN {INSERT} ELSE {UNCHANGED} END")
    };
    let olds: Vec<String> = rest.iter().map(|(i, _)| quote(&old_column(*i))).collect();
    let old_values: Vec<String> = rest.iter().map(|(_, c)| format!("t.{}", quote(&c.name))).collect();
    let new_values: Vec<String> = cols.iter().map(|c| format!("s.{c}")).collect();
    let (olds, old_values) = if rest.is_empty() {
        (String::new(), String::new())
    } else {
        (format!(", {}", olds.join(", ")), format!(", {}", old_values.join(", ")))
    };
    format!(
        "INSERT INTO {review} ({into}{olds}) SELECT s.{r}, {}, {what}{old_values} FROM {source} s \
         LEFT JOIN {target} t ON {}",
        new_values.join(", "),
        on.join(" AND ")
    )
}

/// Indexes the diff's pages read by (a kind's rows in row order; PostgreSQL: all rows in order too).
pub fn indexes(kind: Kind, review: &str, name: &str) -> Vec<String> {
    let r = quote(ROW_COLUMN);
    let by_kind = quote(&format!("{name}_kind"));
    let mut out = vec![format!("CREATE INDEX {by_kind} ON {review} ({}, {r})", quote(KIND_COLUMN))];
    if kind == Kind::Postgres {
        out.push(format!("CREATE UNIQUE INDEX {} ON {review} ({r})", quote(&format!("{name}_row"))));
    }
    out
}

/// One row: how many rows of each kind, then, for each column that is not the key, how many of
/// its cells an update changes. The kinds are counted over their index, the cells over the
/// updated rows only: one pass over every row with a `CASE` per kind and column took 0.71 s of a
/// 1,048,575-row upsert's review (half of it updates) on SQLite, this statement 0.44 s (sqlite3 shell, warm).
pub fn tally(kind: Kind, review: &str, columns: &[ColumnInfo], key: &[String], olds: bool) -> String {
    let k = quote(KIND_COLUMN);
    let count = |n: i64| format!("CAST((SELECT count(*) FROM {review} WHERE {k} = {n}) AS BIGINT)");
    let mut parts = vec![count(INSERT), "CAST(count(*) AS BIGINT)".to_owned(), count(UNCHANGED)];
    if olds {
        for (i, c) in columns.iter().enumerate().filter(|(_, c)| !key.contains(&c.name)) {
            parts.push(format!(
                "CAST(COALESCE(sum(CASE WHEN {} {} {} THEN 1 ELSE 0 END), 0) AS BIGINT)",
                quote(&old_column(i)),
                differs(kind),
                quote(&c.name)
            ));
        }
    }
    format!("SELECT {} FROM {review} WHERE {k} = {UPDATE}", parts.join(", "))
}

/// The summary from [`tally`]'s row (`numbers`, in its order).
pub fn summary(
    numbers: &[i64],
    columns: &[ColumnInfo],
    key: &[String],
    rejected: u64,
    removed: u64,
    made_at: i64,
    ends_at: i64,
) -> ReviewSummary {
    let n = |i: usize| numbers.get(i).copied().unwrap_or(0).max(0) as u64;
    let changed = columns
        .iter()
        .filter(|c| !key.contains(&c.name))
        .enumerate()
        .map(|(j, c)| ChangedColumn { column: c.name.clone(), cells: n(3 + j) })
        .filter(|c| c.cells > 0)
        .collect();
    ReviewSummary {
        inserted: n(0),
        updated: n(1),
        unchanged: n(2),
        rejected,
        skipped: 0,
        removed,
        changed,
        made_at,
        ends_at,
    }
}

/// The rows a commit merges: those that change the table (an unchanged row would do nothing).
pub fn changing(review: &str) -> String {
    format!("(SELECT * FROM {review} WHERE {} <> {UNCHANGED})", quote(KIND_COLUMN))
}

/// A merge's commit, as the review decided it row by row: the statements, each run once, and what
/// each must report for the commit to be what was reviewed. Folding the check into the writes
/// costs one pass: an update changes a row only while it holds the values the review saw, an
/// insert goes in only while its key is absent, and the rows the review left alone are counted
/// as they are now.
pub struct MergeCommit {
    /// Updates the rows the review would change, from the values the review saw; must change
    /// `summary.updated` rows. `None`: the key is every column, nothing can change.
    pub update: Option<String>,
    /// Inserts the rows of keys the table lacked; must insert `summary.inserted` rows.
    pub insert: String,
    /// Counts the rows the review would leave alone that are still as it saw them; must be
    /// `summary.unchanged`.
    pub unchanged: String,
}

/// The [`MergeCommit`] of the review `review` into `target` (`update`: an upsert's).
pub fn merge_commit(
    kind: Kind,
    review: &str,
    target: &str,
    columns: &[ColumnInfo],
    key: &[String],
    update: bool,
) -> MergeCommit {
    let k = quote(KIND_COLUMN);
    let on: Vec<String> = key.iter().map(|c| format!("t.{c} = r.{c}", c = quote(c))).collect();
    let rest: Vec<(usize, &ColumnInfo)> = columns.iter().enumerate().filter(|(_, c)| !key.contains(&c.name)).collect();
    let cols: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let same = |theirs: &dyn Fn(usize, &ColumnInfo) -> String| -> Vec<String> {
        rest.iter()
            .map(|(i, c)| match kind {
                Kind::Sqlite => format!("t.{} IS {}", quote(&c.name), theirs(*i, c)),
                Kind::Postgres => format!("t.{} IS NOT DISTINCT FROM {}", quote(&c.name), theirs(*i, c)),
            })
            .collect()
    };
    let update_sql = (update && !rest.is_empty()).then(|| {
        let set: Vec<String> = rest.iter().map(|(_, c)| format!("{q} = r.{q}", q = quote(&c.name))).collect();
        let was = same(&|i, _| format!("r.{}", quote(&old_column(i))));
        format!(
            "UPDATE {target} AS t SET {} FROM {review} AS r WHERE r.{k} = {UPDATE} AND {} AND {}",
            set.join(", "),
            on.join(" AND "),
            joined(&was, " AND ")
        )
    });
    // Any conflict (the key, now present; another unique index) leaves the row out, and the count
    // then falls short of the review's: nothing is written.
    let insert = format!(
        "INSERT INTO {target} ({c}) SELECT {c} FROM {review} WHERE {k} = {INSERT} ON CONFLICT DO NOTHING",
        c = cols.join(", ")
    );
    let mut still = on.clone();
    still.insert(0, format!("r.{k} = {UNCHANGED}"));
    if update {
        still.extend(same(&|_, c| format!("r.{}", quote(&c.name))));
    }
    let unchanged = format!("SELECT count(*) FROM {review} r JOIN {target} t ON {}", joined(&still, " AND "));
    MergeCommit { update: update_sql, insert, unchanged }
}

/// A fingerprint of a whole table: its row count and the sum of a hash of each row's values,
/// which any insert, delete or change of a value moves (the order of rows does not).
#[derive(Debug, Default)]
pub struct Fingerprint {
    rows: u64,
    sum: u64,
}

impl Fingerprint {
    /// A row's hash, to be given its values and then [`Fingerprint::add`]ed.
    pub fn start(&self) -> RowPrint {
        // SipHash with fixed keys: the same row hashes the same in every process.
        #[allow(deprecated)]
        RowPrint(std::hash::SipHasher::new_with_keys(0x5368_6565_7470_6f72, 0x7420_7265_7669_6577))
    }

    pub fn add(&mut self, row: RowPrint) {
        use std::hash::Hasher;
        self.rows += 1;
        self.sum = self.sum.wrapping_add(row.0.finish());
    }

    pub fn text(&self) -> String {
        format!("{}:{:016x}", self.rows, self.sum)
    }
}

/// One row's hash in the making.
#[allow(deprecated)]
pub struct RowPrint(std::hash::SipHasher);

impl RowPrint {
    /// One value: a tag for its type, and its bytes.
    pub fn value(&mut self, tag: u8, bytes: &[u8]) {
        use std::hash::Hasher;
        self.0.write_u8(tag);
        self.0.write_usize(bytes.len());
        self.0.write(bytes);
    }

    /// The row's hash.
    pub fn finish(&self) -> u64 {
        use std::hash::Hasher;
        self.0.finish()
    }
}

/// PostgreSQL's fingerprint of `target`: the same idea as [`Fingerprint`], by the server's own
/// hash of each row's text.
pub fn pg_fingerprint(target: &str) -> String {
    format!(
        "SELECT count(*)::text || ':' || COALESCE(sum(hashtextextended(t::text, 0)::numeric), 0)::text FROM {target} t"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnType;

    fn cols() -> Vec<ColumnInfo> {
        ["sku", "qty"]
            .iter()
            .map(|n| ColumnInfo { name: (*n).into(), label: (*n).into(), ty: ColumnType::Integer, declared: None })
            .collect()
    }

    #[test]
    fn an_upsert_review_meets_the_table_by_its_key_and_keeps_the_old_values_of_other_columns() {
        let key = vec!["sku".to_owned()];
        let sql = fill(Kind::Sqlite, "\"r\"", "\"s\"", "\"t\"", &cols(), &key, Some(true));
        assert_eq!(
            sql,
            "INSERT INTO \"r\" (\"_sheetport_row\", \"sku\", \"qty\", \"_sheetport_kind\", \"_sheetport_old_1\") \
             SELECT s.\"_sheetport_row\", s.\"sku\", s.\"qty\", CASE WHEN t.\"sku\" IS NULL THEN 0 WHEN \
             t.\"qty\" IS NOT s.\"qty\" THEN 1 ELSE 2 END, t.\"qty\" FROM \"s\" s LEFT JOIN \"t\" t ON \
             t.\"sku\" = s.\"sku\""
        );
        let pg = merge_commit(Kind::Postgres, "r", "t", &cols(), &key, true);
        assert_eq!(
            pg.update.as_deref(),
            Some(
                "UPDATE t AS t SET \"qty\" = r.\"qty\" FROM r AS r WHERE r.\"_sheetport_kind\" = 1 AND t.\"sku\" = \
                 r.\"sku\" AND t.\"qty\" IS NOT DISTINCT FROM r.\"_sheetport_old_1\""
            )
        );
        assert!(
            merge_commit(Kind::Sqlite, "r", "t", &cols(), &key, false).update.is_none(),
            "insert-new changes no row"
        );
        let insert_new = fill(Kind::Sqlite, "r", "s", "t", &cols(), &key, Some(false));
        assert!(insert_new.contains("CASE WHEN t.\"sku\" IS NULL THEN 0 ELSE 2 END"), "{insert_new}");
    }

    #[test]
    fn a_summary_names_only_the_columns_an_update_changes() {
        let key = vec!["sku".to_owned()];
        let s = summary(&[3, 2, 1, 2], &cols(), &key, 4, 0, 10, 20);
        assert_eq!((s.inserted, s.updated, s.unchanged, s.rejected), (3, 2, 1, 4));
        assert_eq!(s.changed, vec![ChangedColumn { column: "qty".into(), cells: 2 }]);
        let none = summary(&[3, 0, 0, 0], &cols(), &key, 0, 0, 10, 20);
        assert!(none.changed.is_empty());
    }

    #[test]
    fn a_fingerprint_moves_with_any_change_and_not_with_order() {
        let print = |rows: &[&[&[u8]]]| {
            let mut f = Fingerprint::default();
            for row in rows {
                let mut h = f.start();
                for v in *row {
                    h.value(1, v);
                }
                f.add(h);
            }
            f.text()
        };
        let a: &[&[u8]] = &[b"1", b"x"];
        let b: &[&[u8]] = &[b"2", b"y"];
        let b2: &[&[u8]] = &[b"2", b"z"];
        assert_eq!(print(&[a, b]), print(&[b, a]));
        assert_ne!(print(&[a, b]), print(&[a, b2]));
        assert_ne!(print(&[a, b]), print(&[a]));
    }
}
