//! Signing in and out. A sign-in checks the password against its Argon2id hash (on a blocking
//! thread) and starts a session: a random secret in an `HttpOnly`, `SameSite=Lax` cookie, its
//! SHA-256 in the `sessions` table, so any instance on the same database serves it. Failed
//! attempts are in the audit log, and they slow the next ones on every instance alike, by
//! growing delays (see [`wait`]), never by locking a name: the limits count failures of a name
//! *from one address*, and from one address for any name, so no one can lock another person out
//! by failing in their name (found: ten wrong passwords for an account from anywhere made even the
//! right one from elsewhere wait 15 minutes; 100 failures from one address locked every account
//! out from there). That is the OWASP authentication cheat sheet's advice.
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
/// Failed sign-ins for one name from one address that wait for nothing; each after them doubles
/// the wait for the next, from a second up to the window: past some 15 failures a password is
/// guessed from one address at one try per quarter hour.
pub const FREE_FAILURES_PER_NAME: i64 = 5;
/// Failed sign-ins from one address, for any names, that wait for nothing (several people behind
/// a proxy share an address; see `--trusted-proxy`); each after them adds a second to the wait
/// for the next, up to [`MOST_WAIT_PER_ADDRESS_MS`].
pub const FREE_FAILURES_PER_ADDRESS: i64 = 50;
/// The longest an address waits for its failures with many names.
pub const MOST_WAIT_PER_ADDRESS_MS: i64 = 60_000;

/// How long the next sign-in attempt for a name from an address must wait after `failures`, at
/// `now`; `None` when it may go now. A right password from an address that has not failed is
/// never held up by anyone else's failures.
pub fn wait(failures: &audit::Failures, now: i64) -> Option<i64> {
    let by_name = (failures.pair >= FREE_FAILURES_PER_NAME).then(|| {
        let doublings = (failures.pair - FREE_FAILURES_PER_NAME).min(20) as u32;
        failures.pair_last.unwrap_or(now) + (1000_i64 << doublings).min(WINDOW_MS)
    });
    let by_address = (failures.address >= FREE_FAILURES_PER_ADDRESS).then(|| {
        let extra = (failures.address - FREE_FAILURES_PER_ADDRESS + 1) * 1000;
        failures.address_last.unwrap_or(now) + extra.min(MOST_WAIT_PER_ADDRESS_MS)
    });
    let until = by_name.into_iter().chain(by_address).max()?;
    (until > now).then_some(until - now)
}
/// Longest name accepted.
pub const MAX_NAME: usize = 64;

/// A new session: who, and the secret for the cookie.
pub struct Session {
    pub person: Person,
    pub secret: String,
}

/// Why a sign-in did not start a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Too many failures from this address (see [`wait`]): milliseconds until the next try.
    #[error("too many failed sign-ins from here; try again in {}, or ask an admin to reset the password", in_words(*.0))]
    Wait(i64),
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<sqlx::Error> for SignInError {
    fn from(e: sqlx::Error) -> Self {
        SignInError::App(e.into())
    }
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Wait(_) => AppError::TooMany(e.to_string()),
            SignInError::App(e) => e,
        }
    }
}

/// Checks `name` and `password` and starts a session, or says why not.
pub async fn sign_in(state: &AppState, name: &str, password: &str, address: &str) -> Result<Session, SignInError> {
    let db = &state.db;
    let now = db::now_ms();
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(AppError::Unauthorized("the name or the password is wrong".into()).into());
    }
    // The turn first, then the count: a flood's attempts queue here, and those past the bound's
    // worth of failures are refused without a hash.
    let busy = || AppError::Busy("the server is busy checking other sign-ins; try again in a moment".into());
    let turn = secrets::turn().await.ok_or_else(busy)?;
    let failures = audit::failures_since(db, name, address, now - WINDOW_MS).await?;
    if let Some(ms) = wait(&failures, now) {
        return Err(SignInError::Wait(ms));
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
            return Err(AppError::Forbidden("this account is disabled; ask an admin to enable it".into()).into());
        }
        _ => {
            audit::record(db, Action::SignInFailed, event, now).await?;
            return Err(AppError::Unauthorized("the name or the password is wrong".into()).into());
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

/// A wait of `ms` in words, rounded up to whole seconds (see [`crate::format::wait`]).
pub fn in_words(ms: i64) -> String {
    crate::format::wait((ms.max(0) as u64).div_ceil(1000))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::audit::Failures;

    #[test]
    fn waits_grow_for_a_name_from_an_address_and_never_lock_anyone_else_out() {
        let now = 10_000_000;
        let pair = |n, last| Failures { pair: n, pair_last: Some(last), address: n, address_last: Some(last) };
        assert_eq!(wait(&Failures::default(), now), None, "no failures: no wait");
        assert_eq!(wait(&pair(4, now), now), None, "four failures wait for nothing");
        assert_eq!(wait(&pair(5, now), now), Some(1000));
        assert_eq!(wait(&pair(6, now), now), Some(2000));
        assert_eq!(wait(&pair(8, now - 3000), now), Some(5000), "8 s after the last, 3 s ago");
        assert_eq!(wait(&pair(5, now - 1000), now), None, "the wait is over");
        assert_eq!(wait(&pair(40, now), now), Some(WINDOW_MS), "at most the window");
        // An address failing with many names waits a second more per failure, up to a minute.
        let spray = |n| Failures { pair: 0, pair_last: None, address: n, address_last: Some(now) };
        assert_eq!(wait(&spray(49), now), None);
        assert_eq!(wait(&spray(50), now), Some(1000));
        assert_eq!(wait(&spray(100), now), Some(51_000));
        assert_eq!(wait(&spray(1000), now), Some(MOST_WAIT_PER_ADDRESS_MS));
        assert_eq!(
            [in_words(1), in_words(1000), in_words(32_000), in_words(WINDOW_MS)],
            ["1 second", "1 second", "32 seconds", "15 minutes"]
        );
    }
}
