//! How long stored files stay. A file is deleted once its last import ended `--keep-uploads` ago,
//! or, when no import ever used it (a preview someone left), `--keep-unimported` after it was
//! stored; a `.part` file of an upload that stopped is deleted once no byte could still arrive,
//! and a stored file without a record (a crash between storing and recording) like an unused one.
//! A sweep runs at start and then every minute (sooner when the spans are shorter), forgets
//! expired sign-in sessions, drops the tables replaces kept once `--keep-replaced` is up, and the
//! search indexes of tables that are gone.

use crate::config::Config;
use crate::db::uploads::UploadRecord;
use crate::db::{self, Db};
use crate::model::UploadId;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Upload records looked at per query; a sweep repeats until it finds fewer.
const BATCH: i64 = 500;

/// Runs sweeps until `shutdown`.
pub fn start(db: Db, config: Arc<Config>, shutdown: CancellationToken) {
    let kept = if config.keep_replaced.is_zero() { Duration::MAX } else { config.keep_replaced / 2 };
    let every = Duration::from_secs(60)
        .min(config.keep_uploads / 2)
        .min(config.keep_unimported / 2)
        .min(kept)
        .min(config.keep_review / 2);
    tokio::spawn(async move {
        loop {
            if let Err(e) = sweep(&db, &config).await {
                tracing::warn!(error = %e, "could not delete expired uploads; trying again later");
            }
            // Expired sessions are refused anyway; this keeps their table small.
            if let Err(e) = db::accounts::sweep_sessions(&db, db::now_ms()).await {
                tracing::warn!(error = %e, "could not forget expired sessions; trying again later");
            }
            if let Err(e) = crate::history::sweep_kept(&db).await {
                tracing::warn!(error = %e, "could not drop replaced tables whose time was up; trying again later");
            }
            if let Err(e) = crate::reviews::sweep(&db, config.keep_review).await {
                tracing::warn!(error = %e, "could not end reviews whose time was up; trying again later");
            }
            if let Err(e) = crate::history::measure_unmeasured(&db).await {
                tracing::warn!(error = %e, "could not measure kept tables; trying again later");
            }
            // After the kept tables: a search index goes once its table has.
            if let Err(e) = db::search::tidy(&db).await {
                tracing::warn!(error = %e, "could not drop search indexes of tables that are gone; trying again later");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Deletes what has expired; returns how many files went.
pub async fn sweep(db: &Db, config: &Config) -> Result<usize, sqlx::Error> {
    let dir = config.upload_dir();
    let now = db::now_ms();
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let (ended_before, stored_before) =
        (now.saturating_sub(ms(config.keep_uploads)), now.saturating_sub(ms(config.keep_unimported)));
    let mut deleted = 0;
    loop {
        let expired = db::uploads::expired(db, ended_before, stored_before, BATCH).await?;
        for upload in &expired {
            if discard(db, &dir, upload).await? {
                deleted += 1;
            }
        }
        if (expired.len() as i64) < BATCH {
            break;
        }
    }
    deleted += sweep_folder(db, &dir, config).await?;
    if deleted > 0 {
        tracing::info!(deleted, "deleted stored files whose time was up");
    }
    Ok(deleted)
}

/// Files in the upload folder that no record keeps: `.part` files no upload writes any more,
/// and stored files without a record, once they are as old as an unused upload may get.
async fn sweep_folder(db: &Db, dir: &Path, config: &Config) -> Result<usize, sqlx::Error> {
    // An upload that receives nothing for the idle timeout is refused and deletes its own part.
    let part_dead_after = config.body_idle_timeout + Duration::from_secs(60);
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return Ok(0) };
    let mut deleted = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
        let age = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        let expired = match name.strip_suffix(".part") {
            Some(id) if UploadId::parse(id).is_some() => age > part_dead_after,
            Some(_) => false,
            None => match UploadId::parse(&name) {
                Some(id) => age > config.keep_unimported && db::uploads::get(db, &id).await?.is_none(),
                None => false,
            },
        };
        if expired && remove(&path).await {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Deletes a stored upload, its record and then its file (only ever a file in the upload folder
/// `dir`, whatever a record says); true if the file was there.
pub async fn discard(db: &Db, dir: &Path, upload: &UploadRecord) -> Result<bool, sqlx::Error> {
    // The record first: a preview or import asked for after this finds no upload and says so,
    // instead of finding a record whose file is gone.
    db::uploads::delete(db, &upload.id).await?;
    let path = Path::new(&upload.path);
    Ok(path.parent() == Some(dir) && remove(path).await)
}

/// Deletes a file; true if it was there.
async fn remove(path: &Path) -> bool {
    match tokio::fs::remove_file(path).await {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not delete a stored file");
            false
        }
    }
}
