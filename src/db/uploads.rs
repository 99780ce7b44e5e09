//! The `uploads` table: files received and stored under `DATA_DIR/uploads/<id>`, before and after
//! anything is imported from them.

use super::{Db, on_pool};
use crate::model::{Format, UploadId, UploadInfo};

/// A stored upload.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRecord {
    pub id: UploadId,
    pub file_name: String,
    pub path: String,
    pub format: Format,
    pub bytes: i64,
    pub created_at: i64,
    /// Who sent it (`None` on a server without accounts).
    pub owner_id: Option<i64>,
    /// The SHA-256 of its content, in hex (`None`: stored before sheetport kept it).
    pub sha256: Option<String>,
}

impl UploadRecord {
    /// What the API says about it.
    pub fn info(&self) -> UploadInfo {
        UploadInfo {
            upload_id: self.id.clone(),
            file_name: self.file_name.clone(),
            bytes: self.bytes as u64,
            format: self.format,
        }
    }
}

pub async fn insert(db: &Db, u: &UploadRecord) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "INSERT INTO uploads (id, file_name, path, format, bytes, created_at, owner_id, sha256) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&u.id)
    .bind(&u.file_name)
    .bind(&u.path)
    .bind(u.format)
    .bind(u.bytes)
    .bind(u.created_at)
    .bind(u.owner_id)
    .bind(&u.sha256)
    .execute(p)
    .await
    .map(drop))
}

/// The upload `id`, or `None`; a row whose format the app does not know is an error.
pub async fn get(db: &Db, id: &UploadId) -> Result<Option<UploadRecord>, sqlx::Error> {
    const SQL: &str =
        "SELECT id, file_name, path, format, bytes, created_at, owner_id, sha256 FROM uploads WHERE id = $1";
    on_pool!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)
}

/// Bytes the server stores for people, for the quotas: every stored upload, every table a replace
/// keeps for an undo and the staged rows of every import in review (`None`), or only those of one person (`Some(owner)`).
pub async fn stored_bytes(db: &Db, owner: Option<i64>) -> Result<u64, sqlx::Error> {
    // `$1` NULL or not keeps one statement for both; the kept tables are those whose undo is still
    // open (an import that kept none has no `undo_until`).
    const SQL: &str = "SELECT CAST(COALESCE((SELECT SUM(bytes) FROM uploads WHERE CAST($1 AS BIGINT) IS NULL OR owner_id = $1), 0) \
        + COALESCE((SELECT SUM(kept_bytes) FROM imports WHERE (undo_until IS NOT NULL OR status = 'review') \
            AND (CAST($1 AS BIGINT) IS NULL OR owner_id = $1)), 0) AS BIGINT)";
    let total: i64 = on_pool!(db, p => sqlx::query_scalar(SQL).bind(owner).fetch_one(p).await)?;
    Ok(total.max(0) as u64)
}

/// Uploads whose time is up, oldest first, at most `limit`: no queued or running import uses them,
/// and either every import of them ended before `ended_before` or none ever used them and they
/// were stored before `stored_before` (Unix milliseconds).
pub async fn expired(
    db: &Db,
    ended_before: i64,
    stored_before: i64,
    limit: i64,
) -> Result<Vec<UploadRecord>, sqlx::Error> {
    const SQL: &str = "SELECT id, file_name, path, format, bytes, created_at, owner_id, sha256 FROM uploads u \
        WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.upload_id = u.id \
            AND (i.status IN ('queued', 'running') OR COALESCE(i.finished_at, i.created_at) >= $1)) \
        AND (u.created_at < $2 OR EXISTS (SELECT 1 FROM imports i WHERE i.upload_id = u.id)) \
        ORDER BY u.created_at LIMIT $3";
    on_pool!(db, p => sqlx::query_as(SQL).bind(ended_before).bind(stored_before).bind(limit).fetch_all(p).await)
}

/// Forgets an upload (its file is the caller's to delete).
pub async fn delete(db: &Db, id: &UploadId) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(p).await.map(drop))
}
