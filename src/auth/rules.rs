//! Who may do what, checked on the server for every route, server function and SSE stream:
//!
//! - an import and its upload belong to whoever started it; only they and admins see them, follow
//!   them and cancel them (to anyone else they do not exist: 404, not 403, so ids cannot be probed);
//! - a table made by an import belongs to the person who started the first import that made it;
//!   every signed-in person may read every table (`--table-readers owner`: only its owner, the
//!   people given write access, and admins);
//! - append, replace, upsert and insert-new need the table's owner, a person the owner gave write
//!   access, or an admin;
//!   a table sheetport did not make is written only by admins; anyone may create a new table.
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

/// Whether `viewer` may write rows into the existing table `table` (append, replace, upsert,
/// insert-new); the
/// refusal says whose table it is and what to do.
pub async fn may_write(db: &Db, viewer: &Viewer, table: &str) -> Result<(), AppError> {
    if viewer.is_admin() {
        return Ok(());
    }
    let Viewer::Person(person) = viewer else {
        return Err(AppError::Unauthorized("sign in first".into()));
    };
    if !db::tables::existing(db).await?.contains(table) {
        return Ok(());
    }
    match db::accounts::table_owner(db, table).await? {
        Some(Some(owner)) if owner == person.id => Ok(()),
        _ if db::accounts::granted(db, table, person.id).await? => Ok(()),
        None => Err(AppError::Forbidden(format!(
            "the table {table:?} was not made by sheetport, so only an admin may write to it; choose another \
             table name"
        ))),
        Some(owner) => {
            let whose = match owner {
                Some(id) => db::accounts::user_name(db, id).await?.map_or("someone else".into(), |n| format!("{n:?}")),
                None => "no one (it was made before accounts existed)".into(),
            };
            Err(AppError::Forbidden(format!(
                "the table {table:?} belongs to {whose}; ask them or an admin to give you write access, or \
                 choose another table name"
            )))
        }
    }
}

/// Whether `viewer` may read the table `table`: anyone signed in, or under `--table-readers owner`
/// its owner, the people given write access, and admins. `false` reads as "no such table".
pub async fn may_read(db: &Db, readers: TableReaders, viewer: &Viewer, table: &str) -> Result<bool, sqlx::Error> {
    match (viewer, readers) {
        (Viewer::Anonymous, _) => Ok(false),
        (_, TableReaders::All) => Ok(true),
        (v, TableReaders::Owner) if v.is_admin() => Ok(true),
        (Viewer::Person(p), TableReaders::Owner) => Ok(db::accounts::table_owner(db, table).await? == Some(Some(p.id))
            || db::accounts::granted(db, table, p.id).await?),
        (Viewer::Open, _) => Ok(true),
    }
}

/// Queues `req` as the asker's import, when they may write where it writes: recorded as theirs,
/// and in the audit log.
pub async fn submit(db: &Db, jobs: &Jobs, asker: &Asker, mut req: NewImport) -> Result<ImportId, AppError> {
    if asker.viewer == Viewer::Anonymous {
        return Err(AppError::Unauthorized("sign in first".into()));
    }
    if let Some(table) = req.target() {
        may_write(db, &asker.viewer, &table).await?;
    }
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
    jobs.cancel(id).await?;
    let target = id.to_string();
    let event = Event { user: asker.viewer.name(), target: Some(&target), detail: None, address: Some(&asker.address) };
    audit::record(db, Action::Cancel, event, db::now_ms()).await?;
    Ok(())
}
