//! The accounts tables: `users`, their `sessions` and API `tokens` (both stored as the SHA-256 of
//! their secret, see `auth::secrets`), and `table_grants` (write access to a table given to
//! another person). Rules about who may do what live in `auth::rules`; this is only their storage.

use super::{Db, on_pool};
use crate::model::{TokenInfo, UserInfo};

/// A person as the server checks them on each request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub admin: bool,
    pub disabled: bool,
}

/// A person with their password hash, for signing in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub name: String,
    pub admin: bool,
    pub disabled: bool,
    pub password_hash: String,
}

/// Whether any account exists (disabled ones too: once accounts are on, they stay on).
pub async fn any_user(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 = on_pool!(db, p => sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(p).await)?;
    Ok(n > 0)
}

/// Adds a person; `Ok(None)` when the name is taken (without regard to case).
pub async fn add_user(db: &Db, name: &str, hash: &str, admin: bool, now: i64) -> Result<Option<i64>, sqlx::Error> {
    const SQL: &str = "INSERT INTO users (name, password_hash, admin, created_at) VALUES ($1, $2, $3, $4) \
        ON CONFLICT DO NOTHING RETURNING id";
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(name).bind(hash).bind(admin).bind(now).fetch_optional(p).await)
}

/// The person named `name` (without regard to case), with their password hash.
pub async fn credentials(db: &Db, name: &str) -> Result<Option<Credentials>, sqlx::Error> {
    const SQL: &str = "SELECT id, name, admin, disabled, password_hash FROM users WHERE lower(name) = lower($1)";
    on_pool!(db, p => sqlx::query_as(SQL).bind(name).fetch_optional(p).await)
}

/// The person named `name`, if any.
pub async fn user_named(db: &Db, name: &str) -> Result<Option<User>, sqlx::Error> {
    const SQL: &str = "SELECT id, name, admin, disabled FROM users WHERE lower(name) = lower($1)";
    on_pool!(db, p => sqlx::query_as(SQL).bind(name).fetch_optional(p).await)
}

/// The name of the person `id`.
pub async fn user_name(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, p => sqlx::query_scalar("SELECT name FROM users WHERE id = $1").bind(id).fetch_optional(p).await)
}

/// Everyone, in the order they were added.
pub async fn users(db: &Db) -> Result<Vec<UserInfo>, sqlx::Error> {
    const SQL: &str = "SELECT id, name, admin, disabled, created_at FROM users ORDER BY id";
    let rows: Vec<(i64, String, bool, bool, i64)> = on_pool!(db, p => sqlx::query_as(SQL).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, admin, disabled, created_at)| UserInfo { id, name, admin, disabled, created_at })
        .collect())
}

/// Disables or enables a person; a disabled person's sessions end and their tokens stop working.
/// `false` when there is no such person.
pub async fn set_disabled(db: &Db, id: i64, disabled: bool) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, p => sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
        .bind(disabled).bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    if disabled {
        end_sessions_of(db, id).await?;
    }
    Ok(done > 0)
}

/// Makes a person an admin or not.
pub async fn set_admin(db: &Db, id: i64, admin: bool) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, p => sqlx::query("UPDATE users SET admin = $1 WHERE id = $2")
        .bind(admin).bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// A new password; every session of the person ends (their tokens stay).
pub async fn set_password(db: &Db, id: i64, hash: &str) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, p => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash).bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    end_sessions_of(db, id).await?;
    Ok(done > 0)
}

/// Records a session (by the hash of its id) until `expires_at`.
pub async fn add_session(db: &Db, id_hash: &str, user: i64, now: i64, expires_at: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
    on_pool!(db, p => sqlx::query(SQL).bind(id_hash).bind(user).bind(now).bind(expires_at).execute(p).await.map(drop))
}

/// The enabled person whose unexpired session has this hash, and when it expires.
pub async fn session_user(db: &Db, id_hash: &str, now: i64) -> Result<Option<(User, i64)>, sqlx::Error> {
    const SQL: &str = "SELECT u.id, u.name, u.admin, u.disabled, s.expires_at FROM sessions s \
        JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled";
    let row: Option<(i64, String, bool, bool, i64)> =
        on_pool!(db, p => sqlx::query_as(SQL).bind(id_hash).bind(now).fetch_optional(p).await)?;
    Ok(row.map(|(id, name, admin, disabled, expires)| (User { id, name, admin, disabled }, expires)))
}

/// Moves a session's end (it is used, so it lasts).
pub async fn extend_session(db: &Db, id_hash: &str, expires_at: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id_hash = $2")
        .bind(expires_at).bind(id_hash).execute(p).await.map(drop))
}

/// Ends one session (signing out).
pub async fn end_session(db: &Db, id_hash: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(p).await.map(drop))
}

async fn end_sessions_of(db: &Db, user: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user).execute(p).await.map(drop))
}

/// Forgets expired sessions (the retention sweep calls it).
pub async fn sweep_sessions(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let done = on_pool!(db, p => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Records a token (by the hash of its secret); returns its id.
pub async fn add_token(db: &Db, user: i64, name: &str, hash: &str, now: i64) -> Result<i64, sqlx::Error> {
    const SQL: &str = "INSERT INTO tokens (user_id, name, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id";
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(user).bind(name).bind(hash).bind(now).fetch_one(p).await)
}

/// The enabled person whose unrevoked token has this hash. Notes the use at most once a minute,
/// so a script's thousand requests do not write a thousand times.
pub async fn token_user(db: &Db, hash: &str, now: i64) -> Result<Option<User>, sqlx::Error> {
    const SQL: &str = "SELECT u.id, u.name, u.admin, u.disabled FROM tokens t JOIN users u ON u.id = t.user_id \
        WHERE t.hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled";
    let user: Option<User> = on_pool!(db, p => sqlx::query_as(SQL).bind(hash).fetch_optional(p).await)?;
    if user.is_some() {
        const USED: &str = "UPDATE tokens SET last_used_at = $1 WHERE hash = $2 \
            AND (last_used_at IS NULL OR last_used_at < $3)";
        on_pool!(db, p => sqlx::query(USED).bind(now).bind(hash).bind(now - 60_000).execute(p).await.map(drop))?;
    }
    Ok(user)
}

const TOKEN_COLUMNS: &str = "SELECT t.id, t.name, u.name, t.created_at, t.last_used_at, t.revoked_at FROM tokens t JOIN users u ON u.id = t.user_id";

type TokenRow = (i64, String, String, i64, Option<i64>, Option<i64>);
/// A [`TokenRow`] and its owner's id.
type TokenOwnerRow = (i64, String, String, i64, Option<i64>, Option<i64>, i64);

fn token_info((id, name, user, created_at, last_used_at, revoked_at): TokenRow) -> TokenInfo {
    TokenInfo { id, name, user, created_at, last_used_at, revoked_at }
}

/// One token's record and its owner's id.
pub async fn token(db: &Db, id: i64) -> Result<Option<(TokenInfo, i64)>, sqlx::Error> {
    const SQL: &str = "SELECT t.id, t.name, u.name, t.created_at, t.last_used_at, t.revoked_at, t.user_id \
        FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1";
    let row: Option<TokenOwnerRow> = on_pool!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)?;
    Ok(row.map(|(id, name, user, c, l, r, owner)| (token_info((id, name, user, c, l, r)), owner)))
}

/// Tokens, newest first: one person's, or everyone's.
pub async fn tokens(db: &Db, user: Option<i64>) -> Result<Vec<TokenInfo>, sqlx::Error> {
    let rows: Vec<TokenRow> = match user {
        Some(u) => {
            let sql = format!("{TOKEN_COLUMNS} WHERE t.user_id = $1 ORDER BY t.id DESC");
            on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(u).fetch_all(p).await)?
        }
        None => {
            let sql = format!("{TOKEN_COLUMNS} ORDER BY t.id DESC");
            on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await)?
        }
    };
    Ok(rows.into_iter().map(token_info).collect())
}

/// Revokes a token; `false` when it does not exist or was revoked already.
pub async fn revoke_token(db: &Db, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, p => sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now).bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Whether `user` was given write access to `table`.
pub async fn granted(db: &Db, table: &str, user: i64) -> Result<bool, sqlx::Error> {
    const SQL: &str = "SELECT count(*) FROM table_grants WHERE table_name = $1 AND user_id = $2";
    let n: i64 = on_pool!(db, p => sqlx::query_scalar(SQL).bind(table).bind(user).fetch_one(p).await)?;
    Ok(n > 0)
}

/// Gives `user` write access to `table`.
pub async fn grant(db: &Db, table: &str, user: i64, by: Option<i64>, now: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO table_grants (table_name, user_id, granted_by, created_at) VALUES ($1, $2, $3, $4) \
        ON CONFLICT DO NOTHING";
    on_pool!(db, p => sqlx::query(SQL).bind(table).bind(user).bind(by).bind(now).execute(p).await.map(drop))
}

/// The names of the people given write access to `table`.
pub async fn writers(db: &Db, table: &str) -> Result<Vec<String>, sqlx::Error> {
    const SQL: &str = "SELECT u.name FROM table_grants g JOIN users u ON u.id = g.user_id WHERE g.table_name = $1 \
        ORDER BY u.name";
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(table).fetch_all(p).await)
}

/// Takes write access to `table` back from `user`.
pub async fn revoke_grant(db: &Db, table: &str, user: i64) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, p => sqlx::query("DELETE FROM table_grants WHERE table_name = $1 AND user_id = $2")
        .bind(table).bind(user).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}
