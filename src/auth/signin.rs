//! Signing in and out. A sign-in checks the password against its Argon2id hash (on a blocking
//! thread) and starts a session: a random secret in an `HttpOnly`, `SameSite=Lax` cookie, its
//! SHA-256 in the `sessions` table, so any instance on the same database serves it. Failed
//! attempts are in the audit log, and they bound the next ones on every instance alike: past
//! [`MAX_FAILURES_PER_NAME`] for one name or [`MAX_FAILURES_PER_ADDRESS`] from one address within
//! [`WINDOW_MS`], attempts are refused (429) until the window moves on.
//!
//! Sessions are this small table rather than `tower-sessions` with its sqlx store: that store needs
//! sqlx 0.8, whose `libsqlite3-sys` 0.28–0.30 and the SQLite loader's (rusqlite 0.39: 0.37) both
//! link `sqlite3`, which cargo refuses ("only one package in the dependency graph may specify the
//! same links value"); and it keeps session ids as they are, where this keeps only their digest.

use super::secrets::{self, digest};
use super::{Person, Viewer};
use crate::db::audit::{self, Action, Event};
use crate::db::{self, accounts};
use crate::error::AppError;
use crate::state::AppState;

/// The window failed sign-ins are counted in.
pub const WINDOW_MS: i64 = 15 * 60_000;
/// Failed sign-ins for one name within the window before the next are refused: a password
/// cannot be guessed at ten tries per quarter hour.
pub const MAX_FAILURES_PER_NAME: i64 = 10;
/// Failed sign-ins from one address within the window (several people behind one proxy share it).
pub const MAX_FAILURES_PER_ADDRESS: i64 = 100;
/// Longest name accepted.
pub const MAX_NAME: usize = 64;

/// A new session: who, and the secret for the cookie.
pub struct Session {
    pub person: Person,
    pub secret: String,
}

/// Checks `name` and `password` and starts a session, or says why not.
pub async fn sign_in(state: &AppState, name: &str, password: &str, address: &str) -> Result<Session, AppError> {
    let db = &state.db;
    let now = db::now_ms();
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(AppError::Unauthorized("the name or the password is wrong".into()));
    }
    // The turn first, then the count: a flood's attempts queue here, and those past the bound's
    // worth of failures are refused without a hash.
    let busy = || AppError::Busy("the server is busy checking other sign-ins; try again in a moment".into());
    let turn = secrets::turn().await.ok_or_else(busy)?;
    let (by_name, by_address) = audit::failures_since(db, name, address, now - WINDOW_MS).await?;
    if by_name >= MAX_FAILURES_PER_NAME || by_address >= MAX_FAILURES_PER_ADDRESS {
        return Err(AppError::TooMany(format!(
            "too many failed sign-ins for this name or from this address; wait {} minutes and try again, or \
             ask an admin to reset the password",
            WINDOW_MS / 60_000
        )));
    }
    let found = accounts::credentials(db, name).await?;
    let hash = found.as_ref().map_or_else(|| secrets::decoy_hash().to_owned(), |c| c.password_hash.clone());
    let given = password.to_owned();
    let matches =
        tokio::task::spawn_blocking(move || secrets::verify_password(&given, &hash)).await.map_err(|_| busy())?;
    let event = Event { user: None, target: Some(name), detail: None, address: Some(address) };
    let user = match found {
        Some(user) if matches && !user.disabled => user,
        Some(_) if matches => {
            audit::record(db, Action::SignInFailed, Event { detail: Some("account disabled"), ..event }, now).await?;
            return Err(AppError::Forbidden("this account is disabled; ask an admin to enable it".into()));
        }
        _ => {
            audit::record(db, Action::SignInFailed, event, now).await?;
            return Err(AppError::Unauthorized("the name or the password is wrong".into()));
        }
    };
    let secret = secrets::random();
    let lifetime = state.config.session_lifetime.as_millis() as i64;
    accounts::add_session(db, &digest(&secret), user.id, now, now + lifetime).await?;
    drop(turn);
    let signed_in = Event { user: Some(&user.name), target: None, detail: None, address: Some(address) };
    audit::record(db, Action::SignIn, signed_in, now).await?;
    let person = Person { id: user.id, name: user.name, admin: user.admin, session: Some(digest(&secret)) };
    Ok(Session { person, secret })
}

/// Ends the viewer's session, if they came with one.
pub async fn sign_out(state: &AppState, viewer: &Viewer, address: &str) -> Result<(), AppError> {
    if let Viewer::Person(Person { session: Some(hash), name, .. }) = viewer {
        accounts::end_session(&state.db, hash).await?;
        let event = Event { user: Some(name), target: None, detail: None, address: Some(address) };
        audit::record(&state.db, Action::SignOut, event, db::now_ms()).await?;
    }
    Ok(())
}
