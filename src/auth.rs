//! Accounts and access (issue 12): who is asking ([`Viewer`], resolved once per request by
//! `resolve` from a session cookie or an API token), what they may do (`rules`), signing in and out
//! (`signin`), and the checks every request passes first (`guard`: the `Host` is one of ours, a
//! change comes from our own pages, and the security headers).
//!
//! Two ways to run: with no account yet on a loopback address (or with `--no-auth`), everyone who
//! can reach the server is [`Viewer::Open`] and may do everything, as one person on their laptop
//! expects; once the first account exists, every request must be a person's.

pub mod guard;
pub mod manage;
pub mod resolve;
pub mod rules;
pub mod secrets;
pub mod signin;

use crate::db::{self, Db};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use resolve::SESSION_COOKIE;

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// A server without accounts: no one in particular, with every right.
    Open,
    /// A server with accounts, and a request that proved no one.
    Anonymous,
    /// A signed-in person, or a script with one of their tokens.
    Person(Person),
}

/// A person, as checked on this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub admin: bool,
    /// The hash of the session this request came with (`None`: an API token).
    pub session: Option<String>,
}

impl Person {
    /// The account, as the accounts tables name it (enabled: a disabled one is no one).
    pub fn user(&self) -> db::accounts::User {
        db::accounts::User { id: self.id, name: self.name.clone(), admin: self.admin, disabled: false }
    }
}

impl Viewer {
    /// The id imports and uploads are recorded under (`None` on a server without accounts).
    pub fn owner_id(&self) -> Option<i64> {
        match self {
            Viewer::Person(p) => Some(p.id),
            _ => None,
        }
    }

    /// The name the audit log records.
    pub fn name(&self) -> Option<&str> {
        match self {
            Viewer::Person(p) => Some(&p.name),
            _ => None,
        }
    }

    /// Whether every rule lets them through: admins, and everyone on a server without accounts.
    pub fn is_admin(&self) -> bool {
        match self {
            Viewer::Open => true,
            Viewer::Anonymous => false,
            Viewer::Person(p) => p.admin,
        }
    }

    /// What the page shows about them.
    pub fn account(&self) -> crate::model::Account {
        crate::model::Account {
            name: self.name().map(str::to_owned),
            admin: self.is_admin(),
            accounts: !matches!(self, Viewer::Open),
        }
    }
}

/// Whether this server has accounts: never with `--no-auth`; otherwise from the moment the first
/// account exists (created by the CLI, perhaps while the server runs, so it is asked until then).
#[derive(Debug, Clone)]
pub struct Accounts {
    no_auth: bool,
    on: Arc<AtomicBool>,
}

impl Accounts {
    pub fn new(no_auth: bool) -> Self {
        Self { no_auth, on: Arc::default() }
    }

    /// Whether every request must be a person's.
    pub async fn on(&self, db: &Db) -> Result<bool, sqlx::Error> {
        if self.no_auth {
            return Ok(false);
        }
        if self.on.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let on = db::accounts::any_user(db).await?;
        if on {
            self.on.store(true, Ordering::Relaxed);
        }
        Ok(on)
    }

    /// Whether `--no-auth` was given.
    pub fn disabled(&self) -> bool {
        self.no_auth
    }
}

/// Who asked and from where, as handlers and server functions take it from the request (put
/// there by [`resolve`]); a request that did not pass through it is no one.
#[derive(Debug, Clone)]
pub struct Asker {
    pub viewer: Viewer,
    /// The client's IP address: the peer's, or behind a trusted proxy the one it forwarded (see
    /// `server::client`).
    pub address: String,
    /// A trusted proxy says the client came over https.
    pub https: bool,
}

impl Asker {
    pub fn of(parts: &Parts) -> Self {
        Self {
            viewer: parts.extensions.get::<Viewer>().cloned().unwrap_or(Viewer::Anonymous),
            address: match parts.extensions.get::<crate::server::client::Client>() {
                Some(client) => client.address.to_string(),
                None => {
                    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default()
                }
            },
            https: parts.extensions.get::<crate::server::client::Client>().is_some_and(|c| c.https),
        }
    }

    /// For the audit log.
    pub fn by(&self) -> manage::By<'_> {
        manage::By { name: self.viewer.name(), address: Some(&self.address) }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Asker {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}
