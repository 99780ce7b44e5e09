//! Managing accounts, the same for the CLI (`sheetport user …`, `sheetport token …`) and the HTTP
//! API an admin's page uses: each operation checks its input, does it, and records it in the audit
//! log with who did it (`by`: `None` for the CLI, run by whoever operates the machine).

use super::secrets::{self, digest};
use crate::config::TableReaders;
use crate::db::audit::{self, Action, Event};
use crate::db::{self, Db, accounts};
use crate::error::AppError;
use crate::model::{NewToken, TableAccess, UserInfo};

/// Who asked for a change, for the audit log: a person's name and address, or the operator's CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct By<'a> {
    pub name: Option<&'a str>,
    pub address: Option<&'a str>,
}

impl By<'_> {
    /// The machine's operator, at the command line.
    pub const CLI: By<'static> = By { name: None, address: Some("command line") };
}

async fn log(db: &Db, action: Action, by: By<'_>, target: &str, detail: Option<&str>) -> Result<(), AppError> {
    let event = Event { user: by.name, target: Some(target), detail, address: by.address };
    Ok(audit::record(db, action, event, db::now_ms()).await?)
}

/// Whether `name` can be an account's name: 1 to 64 letters, digits or `. _ - @`.
pub fn check_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.chars().count() <= super::signin::MAX_NAME
        && name.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "{} cannot be a name: use 1 to {} letters, digits, dots, dashes, underscores or @",
            crate::format::quoted(name),
            super::signin::MAX_NAME
        )))
    }
}

async fn hash(password: &str) -> Result<String, AppError> {
    secrets::check_password(password).map_err(AppError::BadRequest)?;
    let password = password.to_owned();
    secrets::hashing(move || secrets::hash_password(&password))
        .await
        .ok_or_else(|| AppError::Busy("the server is busy checking passwords; try again in a moment".into()))
}

/// Adds an account.
pub async fn add_user(db: &Db, name: &str, password: &str, admin: bool, by: By<'_>) -> Result<UserInfo, AppError> {
    check_name(name)?;
    let hash = hash(password).await?;
    let now = db::now_ms();
    let id = accounts::add_user(db, name, &hash, admin, now)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("there is already an account named {name:?}")))?;
    log(db, Action::UserAdded, by, name, admin.then_some("admin")).await?;
    Ok(UserInfo { id, name: name.to_owned(), admin, disabled: false, created_at: now })
}

/// The account named `name`, or a 404 that says so.
pub async fn user(db: &Db, name: &str) -> Result<accounts::User, AppError> {
    accounts::user_named(db, name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no account named {name:?}")))
}

/// Disables (or enables again) an account: its sessions end, its tokens stop working.
pub async fn set_disabled(db: &Db, name: &str, disabled: bool, by: By<'_>) -> Result<(), AppError> {
    let u = user(db, name).await?;
    accounts::set_disabled(db, u.id, disabled).await?;
    log(db, Action::UserChanged, by, &u.name, Some(if disabled { "disabled" } else { "enabled" })).await
}

/// Makes an account an admin, or not.
pub async fn set_admin(db: &Db, name: &str, admin: bool, by: By<'_>) -> Result<(), AppError> {
    let u = user(db, name).await?;
    accounts::set_admin(db, u.id, admin).await?;
    log(db, Action::UserChanged, by, &u.name, Some(if admin { "made admin" } else { "no longer admin" })).await
}

/// Sets a new password; the account's sessions end.
pub async fn reset_password(db: &Db, name: &str, password: &str, by: By<'_>) -> Result<(), AppError> {
    let u = user(db, name).await?;
    let hash = hash(password).await?;
    accounts::set_password(db, u.id, &hash).await?;
    log(db, Action::UserChanged, by, &u.name, Some("password reset")).await
}

/// Longest token label.
const MAX_LABEL: usize = 100;

/// Makes an API token for `user`; its secret is in the answer and nowhere else.
pub async fn create_token(db: &Db, user: &accounts::User, label: &str, by: By<'_>) -> Result<NewToken, AppError> {
    let label = label.trim();
    let label = if label.is_empty() { "token" } else { label };
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!("a token's name is at most {MAX_LABEL} characters of text")));
    }
    let secret = secrets::new_token();
    let now = db::now_ms();
    let id = accounts::add_token(db, user.id, label, &digest(&secret), now).await?;
    log(db, Action::TokenCreated, by, &format!("token {id} ({label}) of {}", user.name), None).await?;
    let (token, _) =
        accounts::token(db, id).await?.ok_or_else(|| AppError::Internal("token just made is gone".into()))?;
    Ok(NewToken { token, secret })
}

/// Revokes token `id`, if `may(owner id)` says the asker may.
pub async fn revoke_token(db: &Db, id: i64, may: impl Fn(i64) -> bool, by: By<'_>) -> Result<(), AppError> {
    let missing = || AppError::NotFound(format!("there is no token {id}"));
    let (token, owner) = accounts::token(db, id).await?.ok_or_else(missing)?;
    if !may(owner) {
        return Err(missing());
    }
    if !accounts::revoke_token(db, id, db::now_ms()).await? {
        return Err(AppError::Conflict(format!("token {id} was revoked already")));
    }
    log(db, Action::TokenRevoked, by, &format!("token {id} ({}) of {}", token.name, token.user), None).await
}

/// Who may write the table `table` (see [`TableAccess`]), as `viewer` sees it; to someone who
/// may not read it, there is no such table (its owner and writers are not theirs to know).
pub async fn table_access(
    db: &Db,
    readers: TableReaders,
    viewer: &super::Viewer,
    table: &str,
) -> Result<TableAccess, AppError> {
    if !super::rules::may_read(db, readers, viewer, table).await? || !db::tables::exists(db, table).await? {
        return Err(AppError::NotFound(format!("there is no table named {table:?}")));
    }
    let owner = db::registry::owner(db, table).await?.flatten();
    let owner_name = match owner {
        Some(id) => accounts::user_name(db, id).await?,
        None => None,
    };
    let may_change = viewer.is_admin() || (owner.is_some() && viewer.owner_id() == owner);
    Ok(TableAccess { owner: owner_name, writers: accounts::writers(db, table).await?, may_change })
}

/// The account `user`, when `viewer` owns `table` or is an admin: only they say who writes to it.
async fn writer_for(
    db: &Db,
    readers: TableReaders,
    viewer: &super::Viewer,
    table: &str,
    user: &str,
) -> Result<accounts::User, AppError> {
    if !table_access(db, readers, viewer, table).await?.may_change {
        return Err(AppError::Forbidden(format!("only the owner of {table:?} or an admin may say who writes to it")));
    }
    self::user(db, user).await
}

/// Gives `user` write access to `table` (append, replace), when `viewer` owns it or is an admin.
/// Only on a table sheetport made that is there now ([`table_access`] says so): a grant on a
/// free name would outlive it and pass to whoever makes the next table of that name.
pub async fn grant(
    db: &Db,
    readers: TableReaders,
    viewer: &super::Viewer,
    by: By<'_>,
    table: &str,
    user: &str,
) -> Result<(), AppError> {
    let to = writer_for(db, readers, viewer, table, user).await?;
    accounts::grant(db, table, to.id, viewer.owner_id(), db::now_ms()).await?;
    log(db, Action::Granted, by, table, Some(&format!("to {}", to.name))).await
}

/// Takes write access to `table` back from `user`.
pub async fn take_back(
    db: &Db,
    readers: TableReaders,
    viewer: &super::Viewer,
    by: By<'_>,
    table: &str,
    user: &str,
) -> Result<(), AppError> {
    let from = writer_for(db, readers, viewer, table, user).await?;
    if !accounts::revoke_grant(db, table, from.id).await? {
        return Err(AppError::NotFound(format!("{} has no write access to {table:?} to take back", from.name)));
    }
    log(db, Action::GrantRevoked, by, table, Some(&format!("from {}", from.name))).await
}
