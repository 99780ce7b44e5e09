//! The `audit` table: one row per sign-in, failed sign-in, import, token and account change, with
//! who, when and from where. Admins read it (`GET /api/audit`, the page); failed sign-ins in it
//! also bound the next attempts, on every instance alike (see `auth::signin`).

use super::{Db, on_pool};
use crate::model::AuditEntry;

/// What happened, as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    Import,
    /// An import that replaces a table.
    Replace,
    Cancel,
    /// An import taken back.
    Undo,
    /// An import in review committed: its rows go into the table.
    Commit,
    /// An import in review discarded: nothing is written.
    Discard,
    /// A review's rejected rows fixed: a cell corrected, a value replaced, rows left out.
    Fix,
    /// An import's record (and its file) deleted.
    Forget,
    TokenCreated,
    TokenRevoked,
    UserAdded,
    UserChanged,
    Granted,
    GrantRevoked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign-in",
            Action::SignInFailed => "sign-in failed",
            Action::SignOut => "sign-out",
            Action::Import => "import",
            Action::Replace => "replace",
            Action::Cancel => "cancel",
            Action::Undo => "undo",
            Action::Commit => "review committed",
            Action::Discard => "review discarded",
            Action::Fix => "review fixed",
            Action::Forget => "import deleted",
            Action::TokenCreated => "token created",
            Action::TokenRevoked => "token revoked",
            Action::UserAdded => "account added",
            Action::UserChanged => "account changed",
            Action::Granted => "write access given",
            Action::GrantRevoked => "write access taken back",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub user: Option<&'a str>,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub address: Option<&'a str>,
}

/// Longest text kept in any field: the log must not become the place a long field is stored.
const MAX_FIELD: usize = 512;

fn cut(s: Option<&str>) -> Option<&str> {
    s.map(|s| if s.len() <= MAX_FIELD { s } else { &s[..s.floor_char_boundary(MAX_FIELD)] })
}

/// Records `action`.
pub async fn record(db: &Db, action: Action, e: Event<'_>, at: i64) -> Result<(), sqlx::Error> {
    const SQL: &str =
        "INSERT INTO audit (at, user_name, action, target, detail, address) VALUES ($1, $2, $3, $4, $5, $6)";
    on_pool!(db, p => sqlx::query(SQL)
        .bind(at)
        .bind(cut(e.user))
        .bind(action.as_str())
        .bind(cut(e.target))
        .bind(cut(e.detail))
        .bind(cut(e.address))
        .execute(p)
        .await
        .map(drop))
}

/// Failed sign-ins since `since`: for this name (any case) from this address, and from this
/// address for any name, each with when the last was (see `auth::signin::wait`).
pub async fn failures_since(db: &Db, name: &str, address: &str, since: i64) -> Result<Failures, sqlx::Error> {
    const SQL: &str = "SELECT \
        coalesce(sum(CASE WHEN lower(target) = lower($1) AND address = $2 THEN 1 ELSE 0 END), 0), \
        max(CASE WHEN lower(target) = lower($1) AND address = $2 THEN at END), \
        coalesce(sum(CASE WHEN address = $2 THEN 1 ELSE 0 END), 0), \
        max(CASE WHEN address = $2 THEN at END) \
        FROM audit WHERE action = $3 AND at > $4";
    let (pair, pair_last, from_address, address_last): (i64, Option<i64>, i64, Option<i64>) = on_pool!(db, p => sqlx::query_as(SQL)
            .bind(cut(Some(name)))
            .bind(address)
            .bind(Action::SignInFailed.as_str())
            .bind(since)
            .fetch_one(p)
            .await)?;
    Ok(Failures { pair, pair_last, address: from_address, address_last })
}

/// Failed sign-ins counted for one attempt (see [`failures_since`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    /// For the name, from the address.
    pub pair: i64,
    pub pair_last: Option<i64>,
    /// From the address, for any name.
    pub address: i64,
    pub address_last: Option<i64>,
}

/// The most recent entries, newest first, older than `before` when given.
pub async fn recent(db: &Db, limit: i64, before: Option<i64>) -> Result<Vec<AuditEntry>, sqlx::Error> {
    const SQL: &str = "SELECT id, at, user_name, action, target, detail, address FROM audit \
        WHERE id < $1 ORDER BY id DESC LIMIT $2";
    on_pool!(db, p => sqlx::query_as(SQL).bind(before.unwrap_or(i64::MAX)).bind(limit).fetch_all(p).await)
}
