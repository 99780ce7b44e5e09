//! What a person can do with a past import besides looking at it: undo it (see `import::undo` for
//! what each mode can undo and why), run it again with the same choices, or delete its record and
//! stored file. And the sweep that drops what replaces kept once `--keep-replaced` is up.

use crate::auth::{Asker, rules};
use crate::db::audit::{self, Action, Event};
use crate::db::{self, Db};
use crate::error::AppError;
use crate::import::undo::{self, Undo, UndoError};
use crate::jobs::{Choice, Jobs, NewImport};
use crate::model::{HeaderRow, ImportId, ImportStatus, Mapping};
use std::path::Path;

/// Kept tables dropped per query; a sweep repeats until it finds fewer.
const BATCH: i64 = 100;

/// Undoes the import `id` for the asker: only the last import into its table, only one that
/// succeeded, only while no other import is writing that table, and only by someone who may write
/// to the table.
pub async fn undo(db: &Db, asker: &Asker, id: &ImportId) -> Result<(), AppError> {
    rules::import_of(db, &asker.viewer, id).await?;
    let Some((status, table, how)) = db::imports::undo_of(db, id).await? else {
        return Err(AppError::NotFound(format!("no import with id {id}")));
    };
    if status == ImportStatus::Undone {
        return Err(AppError::Conflict("this import was already undone".into()));
    }
    if status != ImportStatus::Succeeded {
        return Err(AppError::Conflict(format!(
            "only an import that succeeded can be undone; this one {}, so the table {table:?} is as it was before it",
            match status {
                ImportStatus::Failed => "failed",
                ImportStatus::Cancelled => "was cancelled",
                _ => "has not finished",
            }
        )));
    }
    let Some(how) = how else {
        return Err(AppError::Conflict(
            "this import cannot be undone: what it overwrote was not kept (the values an upsert changed and the \
             table a replace took the place of are kept only for a while, or not at all, as this server is set up)"
                .into(),
        ));
    };
    if how.until().is_some_and(|until| until <= db::now_ms()) {
        return Err(AppError::Conflict(format!(
            "what the table {table:?} held before this import is no longer kept, so this import cannot be undone"
        )));
    }
    rules::may_write(db, &asker.viewer, &table).await?;
    let (check_db, check_id, check_table) = (db.clone(), id.clone(), table.clone());
    let still = move || {
        let (db, id, table) = (check_db.clone(), check_id.clone(), check_table.clone());
        async move { still_last(&db, &id, &table).await }
    };
    undo::apply(db.destination(), &table, &how, still).await.map_err(|e| match e {
        UndoError::Changed(m) => AppError::Conflict(m),
        UndoError::Import(e) => e.into(),
    })?;
    db::imports::mark_undone(db, id).await?;
    // An undone create dropped the table: its name, owner and grants go with it.
    rules::release(db, &table).await?;
    let detail = format!("import {id}");
    let event =
        Event { user: asker.viewer.name(), target: Some(&table), detail: Some(&detail), address: Some(&asker.address) };
    audit::record(db, Action::Undo, event, db::now_ms()).await?;
    Ok(())
}

/// Whether `id` is still the last import into `table` and no import is about to write it.
async fn still_last(db: &Db, id: &ImportId, table: &str) -> Result<(), UndoError> {
    let conflict = |m: String| UndoError::Changed(m);
    let db_error = |e: sqlx::Error| UndoError::Import(crate::import::ImportError::Database(e.to_string()));
    if db::imports::pending_tables(db).await.map_err(db_error)?.contains(table) {
        return Err(conflict(format!(
            "an import into the table {table:?} is running; wait for it to end (or cancel it), then undo"
        )));
    }
    if db::imports::latest_into(db, table).await.map_err(db_error)?.as_ref() != Some(id) {
        return Err(conflict(format!(
            "a later import went into the table {table:?}; only the last import into a table can be undone, so \
             undo that one first"
        )));
    }
    Ok(())
}

/// Queues the import `id` again, as the asker's, with the same file, table, mode and choices.
pub async fn rerun(db: &Db, jobs: &Jobs, asker: &Asker, id: &ImportId) -> Result<ImportId, AppError> {
    rules::import_of(db, &asker.viewer, id).await?;
    let Some(record) = db::imports::record(db, id).await? else {
        return Err(AppError::NotFound(format!("no import with id {id}")));
    };
    let gone = || {
        AppError::Conflict(format!(
            "the file {:?} is no longer stored (files are deleted a while after their last import), so this \
             import cannot be run again; upload the file again",
            record.file_name
        ))
    };
    let upload_id = record.upload_id.clone().ok_or_else(gone)?;
    let upload = db::uploads::get(db, &upload_id).await?.ok_or_else(gone)?;
    let unreadable = |what: &str| AppError::Internal(format!("import {id}: stored {what} could not be read"));
    let mapping: Mapping = match record.mapping.as_deref() {
        Some(text) => serde_json::from_str(text).map_err(|_| unreadable("column choices"))?,
        None => Mapping::default(),
    };
    let header_row: HeaderRow = match record.header_row.as_deref() {
        Some(text) => text.parse().map_err(|_| unreadable("header row"))?,
        None => HeaderRow::Auto,
    };
    let choice = Choice {
        table: Some(record.table),
        sheet: record.sheet,
        encoding: record.encoding,
        mode: record.mode,
        header_row,
        stop_at_blank: record.stop_at_blank,
        mapping,
        review: record.review_first,
    };
    rules::submit(db, jobs, asker, NewImport::of_upload(upload, choice)).await
}

/// Deletes the ended import `id`'s record and row errors, what it kept for an undo, and its stored
/// file when no other import used it. The table it wrote stays as it is.
pub async fn forget(db: &Db, upload_dir: &Path, asker: &Asker, id: &ImportId) -> Result<(), AppError> {
    rules::import_of(db, &asker.viewer, id).await?;
    let Some((upload, kept)) = db::imports::delete(db, id).await? else {
        return Err(AppError::Conflict("this import has not ended; cancel it first, then delete it".into()));
    };
    if let Some(kept) = kept {
        forget_kept(db, &kept).await;
    }
    if let Some(upload_id) = upload
        && db::imports::uses_of_upload(db, &upload_id).await? == 0
        && let Some(upload) = db::uploads::get(db, &upload_id).await?
    {
        crate::uploads::retention::discard(db, upload_dir, &upload).await?;
    }
    let detail = format!("import {id}");
    let event = Event { user: asker.viewer.name(), target: None, detail: Some(&detail), address: Some(&asker.address) };
    audit::record(db, Action::Forget, event, db::now_ms()).await?;
    Ok(())
}

/// Drops what an undo would have used; a failure is logged (the next start's sweep cannot find it
/// again, so it says which).
async fn forget_kept(db: &Db, kept: &Undo) {
    if let Err(e) = undo::forget(db.destination(), kept).await {
        tracing::warn!(error = %e, ?kept, "could not drop a kept table");
    }
}

/// Records how many bytes the table the succeeded import `id` kept for an undo takes (when it kept
/// one), for the stored-bytes quotas (`db::uploads::stored_bytes`).
pub async fn measure_kept(db: &Db, id: &ImportId) -> Result<(), String> {
    let Some((_, _, Some(undo))) = db::imports::undo_of(db, id).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    if undo.until().is_none() {
        return Ok(());
    }
    let bytes = undo::kept_bytes(db.destination(), &undo).await.map_err(|e| e.to_string())?;
    db::imports::set_kept_bytes(db, id, bytes).await.map_err(|e| e.to_string())
}

/// Measures the kept tables that were not measured as their import ended (the process stopped in
/// between, or they were kept by a version that did not measure them), a few per sweep.
pub async fn measure_unmeasured(db: &Db) -> Result<(), sqlx::Error> {
    for id in db::imports::unmeasured_kept(db, 20).await? {
        if let Err(e) = measure_kept(db, &id).await {
            tracing::warn!(%id, error = %e, "could not measure a kept table; trying again later");
        }
    }
    Ok(())
}

/// Drops the tables replaces kept whose time is up, and forgets that those imports could be undone.
/// Returns how many went.
pub async fn sweep_kept(db: &Db) -> Result<usize, sqlx::Error> {
    let mut dropped = 0;
    loop {
        let expired = db::imports::expired_undos(db, db::now_ms(), BATCH).await?;
        for (id, kept) in &expired {
            if let Some(kept) = kept {
                if let Err(e) = undo::forget(db.destination(), kept).await {
                    tracing::warn!(%id, error = %e, "could not drop a kept table; trying again later");
                    return Ok(dropped);
                }
                dropped += 1;
            }
            db::imports::forget_undo(db, id).await?;
        }
        if (expired.len() as i64) < BATCH {
            return Ok(dropped);
        }
    }
}
