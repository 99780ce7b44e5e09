//! Who may do what, checked on the server for every route, server function and SSE stream:
//!
//! - an import and its upload belong to whoever started it; only they and admins see them, follow
//!   them and cancel them (to anyone else they do not exist: 404, not 403, so ids cannot be probed);
//! - a table made by an import belongs to the person who started that import, from the moment it
//!   was queued: the name is theirs alone until the table is made (`db::registry` stores it, never
//!   the history); every signed-in person may read every table (`--table-readers owner`: only its
//!   owner, the people given write access, and admins);
//! - append, replace, upsert and insert-new need the table's owner, a person given write access,
//!   or an admin ([`may_import`]), checked when an import is queued, when it starts, and inside
//!   the transaction that changes the table, against that moment's facts;
//! - a table sheetport did not make is written, read and even named only to admins; anyone may
//!   create a new table.
//!
//! On a server without accounts everyone is [`Viewer::Open`] and every rule lets them through.

use super::{Asker, Viewer};
use crate::config::TableReaders;
use crate::db::audit::{self, Action, Event};
use crate::db::{self, Db};
use crate::error::AppError;
use crate::jobs::{Jobs, NewImport};
use crate::model::{ImportId, ImportMode};

/// Whether `viewer` may see something owned by `owner` (an import, an upload).
pub fn may_see(viewer: &Viewer, owner: Option<i64>) -> bool {
    viewer.is_admin() || (owner.is_some() && viewer.owner_id() == owner)
}

/// What the write rule knows about a table name and an account at one moment (see
/// [`db::registry::FACTS`], which reads it in one statement on either database).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// sheetport made the table, or an import that will make it has taken the name.
    pub registered: bool,
    /// Whose it is, when registered (`None`: made on a server without accounts, or before them).
    pub owner: Option<i64>,
    /// The account was given write access to it.
    pub granted: bool,
    pub admin: bool,
    /// The account exists and is not disabled.
    pub active: bool,
}

impl From<db::registry::FactsRow> for Facts {
    fn from((registered, owner, granted, admin, active): db::registry::FactsRow) -> Self {
        Facts { registered: registered > 0, owner, granted: granted > 0, admin: admin > 0, active: active > 0 }
    }
}

/// Whether an import started by `account` may write the table `table` now, `exists` saying
/// whether the table is there at this moment: the one rule, checked when the import is submitted,
/// when it starts, and inside the transaction that changes the table. `account` is `None` on a
/// server without accounts (everyone may). The refusal is the sentence the person reads.
pub fn may_import(account: Option<i64>, table: &str, exists: bool, facts: &Facts) -> Result<(), String> {
    let Some(me) = account else { return Ok(()) };
    if !facts.active {
        return Err("the account that started this import is disabled, so the import may not write anything".into());
    }
    if facts.registered && !exists {
        // The name is reserved for the import that will make the table: only its starter may
        // use it until then (an admin may cancel that import).
        return if facts.owner == Some(me) {
            Ok(())
        } else {
            Err(format!("an import by another account is creating the table {table:?}; choose another table name"))
        };
    }
    if !exists || facts.admin || (facts.registered && (facts.owner == Some(me) || facts.granted)) {
        return Ok(());
    }
    Err(if !facts.registered {
        format!(
            "the table {table:?} was not made by sheetport, so only an admin may write to it; choose another table name"
        )
    } else if facts.owner.is_none() {
        format!(
            "the table {table:?} was made before this server had accounts, so only an admin, or someone an admin gives \
             write access, may write to it; choose another table name"
        )
    } else {
        format!(
            "the table {table:?} belongs to another account; ask its owner or an admin to give you write access, or \
             choose another table name"
        )
    })
}

/// Whether `viewer` may write rows into the table `table` now (append, replace, upsert,
/// insert-new, its indexes, an undo): [`may_import`] for the person asking.
pub async fn may_write(db: &Db, viewer: &Viewer, table: &str) -> Result<(), AppError> {
    let account = match viewer {
        Viewer::Open => return Ok(()),
        Viewer::Anonymous => return Err(AppError::Unauthorized("sign in first".into())),
        Viewer::Person(person) => person.id,
    };
    let exists = db::tables::exists(db, table).await?;
    let facts = Facts::from(db::registry::facts(db, table, Some(account)).await?);
    may_import(Some(account), table, exists, &facts).map_err(AppError::Forbidden)
}

/// Checks that `account` may import into `table` now, and takes the name for them when the
/// import will make the table: a free name, or one whose reserving import ended without making
/// it (no import into it is queued or running but `import`). The caller holds the naming lock
/// (`Db::naming_lock`), so two imports cannot both find a name free.
pub async fn claim(db: &Db, account: Option<i64>, table: &str, import: &ImportId) -> Result<(), ClaimError> {
    let exists = db::tables::exists(db, table).await?;
    let mut facts = Facts::from(db::registry::facts(db, table, account).await?);
    if facts.registered
        && !exists
        && facts.owner != account
        && db::registry::pending_into(db, table, Some(import)).await? == 0
    {
        facts = Facts { registered: false, owner: None, granted: false, ..facts };
    }
    may_import(account, table, exists, &facts).map_err(ClaimError::Refused)?;
    if !exists && !facts.registered {
        db::registry::take(db, table, account, import, db::now_ms()).await?;
    }
    Ok(())
}

/// Forgets the name `table` when nothing holds it any more: the table is not there and no import
/// into it is queued or running (the import that reserved it failed, was cancelled, or its
/// table was undone). The caller holds the naming lock.
pub async fn release(db: &Db, table: &str) -> Result<(), sqlx::Error> {
    if !db::tables::exists(db, table).await? && db::registry::pending_into(db, table, None).await? == 0 {
        db::registry::forget(db, table).await?;
    }
    Ok(())
}

/// Why [`claim`] did not take a name.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The sentence the person reads.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `viewer` may read the table `table`: anyone signed in, or under `--table-readers owner`
/// its owner, the people given write access, and admins. `false` reads as "no such table".
pub async fn may_read(db: &Db, readers: TableReaders, viewer: &Viewer, table: &str) -> Result<bool, sqlx::Error> {
    let person = match viewer {
        Viewer::Anonymous => return Ok(false),
        v if v.is_admin() => return Ok(true),
        Viewer::Person(p) => p,
        Viewer::Open => return Ok(true),
    };
    // Tables sheetport did not make are no one's but the admins': not listed, not previewed.
    let Some(owner) = db::registry::owner(db, table).await? else { return Ok(false) };
    Ok(match readers {
        TableReaders::All => true,
        TableReaders::Owner => owner == Some(person.id) || db::accounts::granted(db, table, person.id).await?,
    })
}

/// Queues `req` as the asker's import, when they may write where it writes: recorded as theirs,
/// and in the audit log.
pub async fn submit(db: &Db, jobs: &Jobs, asker: &Asker, mut req: NewImport) -> Result<ImportId, AppError> {
    if asker.viewer == Viewer::Anonymous {
        return Err(AppError::Unauthorized("sign in first".into()));
    }
    // Whether they may write there is checked (and a new table's name taken for them) as the
    // import is queued, under the naming lock: see `Jobs::submit` and [`claim`].
    req.owner_id = asker.viewer.owner_id();
    let (file, mode) = (req.file_name.clone(), req.mode);
    let id = jobs.submit(req).await?;
    let table = db::imports::get_progress(db, &id).await?.map(|p| p.table).unwrap_or_default();
    let detail = format!("{mode} from {file} (import {id})");
    let event =
        Event { user: asker.viewer.name(), target: Some(&table), detail: Some(&detail), address: Some(&asker.address) };
    let action = if mode == ImportMode::Replace { Action::Replace } else { Action::Import };
    audit::record(db, action, event, db::now_ms()).await?;
    Ok(id)
}

/// The import `id`, when the asker may see it (its owner, an admin); anyone else reads "no such import".
pub async fn import_of(db: &Db, viewer: &Viewer, id: &ImportId) -> Result<(), AppError> {
    match db::imports::owner(db, id).await? {
        Some(owner) if may_see(viewer, owner) => Ok(()),
        _ => Err(AppError::NotFound(format!("no import with id {id}"))),
    }
}

/// Cancels the import `id` for the asker, when it is theirs (or they are an admin).
pub async fn cancel(db: &Db, jobs: &Jobs, asker: &Asker, id: &ImportId) -> Result<(), AppError> {
    import_of(db, &asker.viewer, id).await?;
    // An import in review has nothing running: cancelling it is discarding what it staged.
    let action = if jobs.discard(id).await? {
        Action::Discard
    } else {
        jobs.cancel(id).await?;
        Action::Cancel
    };
    let target = id.to_string();
    let event = Event { user: asker.viewer.name(), target: Some(&target), detail: None, address: Some(&asker.address) };
    audit::record(db, action, event, db::now_ms()).await?;
    Ok(())
}
