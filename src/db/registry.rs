//! The table registry: which tables sheetport made and whose they are. A row is made when an
//! import into a free name is queued (the name is reserved for its starter from then on), and
//! dropped with the table; grants of write access (`accounts::grant`) belong to it and go with it.
//! Ownership is this fact, never a reading of the import history (which a person can delete).
//! Who may do what with it is decided in `auth::rules`; this is only its storage.

use super::{Db, on_pool};
use crate::model::ImportId;
use std::collections::HashSet;

/// What the write rule needs to know about a table name and an account, in one statement that
/// both databases read alike (`$1`: the table's name, `$2`: the account's id or NULL). The loader
/// runs it inside the transaction that changes the table (see `import::sink`), the queue when an
/// import is submitted and when it starts: the columns of [`crate::auth::rules::Facts`], in order.
pub const FACTS: &str = "SELECT \
    (SELECT count(*) FROM table_registry WHERE name = $1), \
    (SELECT owner_id FROM table_registry WHERE name = $1), \
    (SELECT count(*) FROM table_grants WHERE table_name = $1 AND user_id = $2), \
    (SELECT count(*) FROM users WHERE id = $2 AND admin), \
    (SELECT count(*) FROM users WHERE id = $2 AND NOT disabled)";

/// [`FACTS`]'s row: registered, owner, granted, admin, active (counts as 0 or 1).
pub type FactsRow = (i64, Option<i64>, i64, i64, i64);

/// The facts about `table` and `account` (see [`FACTS`]).
pub async fn facts(db: &Db, table: &str, account: Option<i64>) -> Result<FactsRow, sqlx::Error> {
    on_pool!(db, p => sqlx::query_as(FACTS).bind(table).bind(account).fetch_one(p).await)
}

/// Who owns the table `name`: `Some(owner)` when sheetport made it (`owner` is `None` when that
/// was on a server without accounts, or before they existed), `None` when it is not registered.
pub async fn owner(db: &Db, name: &str) -> Result<Option<Option<i64>>, sqlx::Error> {
    const SQL: &str = "SELECT owner_id FROM table_registry WHERE name = $1";
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(name).fetch_optional(p).await)
}

/// Every registered name (made tables, and names reserved for an import that will make one).
pub async fn names(db: &Db) -> Result<HashSet<String>, sqlx::Error> {
    let names: Vec<String> =
        on_pool!(db, p => sqlx::query_scalar("SELECT name FROM table_registry").fetch_all(p).await)?;
    Ok(names.into_iter().collect())
}

/// Takes the name `table` for `account`, for the import `import`: a new row, or the row of a
/// table that is gone (whose grants then go: they were given for another table). The caller
/// holds the naming lock and has checked that the name is free to take.
pub async fn take(db: &Db, table: &str, account: Option<i64>, import: &ImportId, now: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO table_registry (name, owner_id, import_id, created_at) VALUES ($1, $2, $3, $4) \
        ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id, import_id = excluded.import_id, \
        created_at = excluded.created_at";
    on_pool!(db, p => sqlx::query(SQL).bind(table).bind(account).bind(import).bind(now).execute(p).await.map(drop))?;
    drop_grants(db, table).await
}

/// Forgets the table `table`: it was dropped, or the import that reserved its name ended
/// without making it. Its grants go with it.
pub async fn forget(db: &Db, table: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("DELETE FROM table_registry WHERE name = $1").bind(table).execute(p).await.map(drop))?;
    drop_grants(db, table).await
}

async fn drop_grants(db: &Db, table: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("DELETE FROM table_grants WHERE table_name = $1").bind(table).execute(p).await.map(drop))
}

/// How many imports into `table` are queued or running, leaving out `except`.
pub async fn pending_into(db: &Db, table: &str, except: Option<&ImportId>) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT count(*) FROM imports WHERE table_name = $1 AND status IN ('queued', 'running') \
        AND ($2 IS NULL OR id <> $2)";
    let except = except.map(ToString::to_string);
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(table).bind(except.as_deref()).fetch_one(p).await)
}
