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
        "INSERT INTO uploads (id, file_name, path, format, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&u.id)
    .bind(&u.file_name)
    .bind(&u.path)
    .bind(u.format)
    .bind(u.bytes)
    .bind(u.created_at)
    .execute(p)
    .await
    .map(drop))
}

/// The upload `id`, or `None`; a row whose format the app does not know is an error.
pub async fn get(db: &Db, id: &UploadId) -> Result<Option<UploadRecord>, sqlx::Error> {
    const SQL: &str = "SELECT id, file_name, path, format, bytes, created_at FROM uploads WHERE id = $1";
    on_pool!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)
}
