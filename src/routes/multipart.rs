//! Reading an upload request (`multipart/form-data`): the `file` field streamed chunk by chunk
//! into [`uploads::Incoming`], the text fields that may accompany it, each refused past
//! [`MAX_FIELD`] bytes as soon as it gets there (never buffered whole first). Anything wrong, and
//! nothing of the request is kept.

use crate::auth::{Asker, Viewer};
use crate::db::uploads::UploadRecord;
use crate::error::AppError;
use crate::jobs::Choice;
use crate::model::{ColumnChoice, ImportMode, Mapping, OnError};
use crate::share::Who;
use crate::state::AppState;
use crate::uploads::Incoming;
use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::{HeaderMap, StatusCode, header};
use std::time::Duration;

/// Longest text field (table, sheet, encoding, mode, one column choice).
const MAX_FIELD: usize = 1024;
/// Longest `columns` field: every column's choice as JSON (a thousand columns with long names).
const MAX_COLUMNS_FIELD: usize = 256 * 1024;
/// Room for multipart boundaries and text fields on top of the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The text fields that may accompany the file (all optional; `mode` is `create` when absent or blank).
pub type Fields = Choice;

/// The `mode` field's value.
fn mode(text: &str) -> Result<ImportMode, AppError> {
    match text.trim() {
        "" => Ok(ImportMode::Create),
        m => m.to_ascii_lowercase().parse().map_err(|_| {
            AppError::BadRequest(format!("mode {m:?} is not one of create, append, replace, upsert, insert-new"))
        }),
    }
}

/// The `on_error` field's value.
fn on_error(text: &str) -> Result<OnError, AppError> {
    match text.trim() {
        "" => Ok(OnError::Fail),
        m => m
            .to_ascii_lowercase()
            .parse()
            .map_err(|_| AppError::BadRequest(format!("on_error {m:?} is not one of fail, skip"))),
    }
}

/// Adds the text fields about columns to `mapping`: `column` (`Source=target:type`, repeatable),
/// `skip_column` (repeatable), `key` (`a,b`), `columns` (every choice as a JSON array),
/// `on_error` and `add_unique_index`. False when `name` is none of them.
pub fn mapping_field(mapping: &mut Mapping, name: &str, value: &str) -> Result<bool, AppError> {
    match name {
        "column" => mapping.columns.push(ColumnChoice::parse(value).map_err(AppError::BadRequest)?),
        "skip_column" => mapping.columns.push(ColumnChoice {
            source: value.trim().to_owned(),
            skip: true,
            ..ColumnChoice::default()
        }),
        "columns" if !value.trim().is_empty() => {
            let choices: Vec<ColumnChoice> = serde_json::from_str(value).map_err(|e| {
                AppError::BadRequest(format!(
                    "the columns field is not a list of column choices ({e}); send it as \
                     [{{\"source\": \"Zip\", \"target\": \"zip\", \"type\": \"text\"}}, ...]"
                ))
            })?;
            mapping.columns.extend(choices);
        }
        "columns" => {}
        "key" => mapping.key.extend(value.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned)),
        "on_error" => mapping.on_error = on_error(value)?,
        "add_unique_index" => mapping.add_unique_index = yes(value)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// A yes/no field's value (`true`/`false`, `on` as a checkbox sends it, `1`/`0`, `yes`/`no`).
fn yes(text: &str) -> Result<bool, AppError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" => Ok(true),
        "" | "false" | "off" | "0" | "no" => Ok(false),
        other => Err(AppError::BadRequest(format!("{other:?} is not yes or no: send true or false"))),
    }
}

/// How much of a refused request is still read and dropped, so that its client, still sending,
/// gets to read the answer: closing a connection with unread data makes the kernel reset it, and
/// the client sees "connection reset" instead of the sentence (measured: 14 of 30 refused 16 MB uploads
/// lost their 413 that way; 2 of 20 at 800 KB; none of 30 with this). nginx's lingering close does the same.
const LINGER_BYTES: usize = 64 << 20;
const LINGER_TIME: Duration = Duration::from_secs(5);

/// Stores the request's `file` and records it as an upload; returns it with the text fields.
/// Anything wrong, and nothing of it is kept.
pub async fn receive(
    state: &AppState,
    asker: &Asker,
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<(UploadRecord, Fields), AppError> {
    let viewer = &asker.viewer;
    if *viewer == Viewer::Anonymous {
        return Err(AppError::Unauthorized("sign in first".into()));
    }
    // This person's share first, so one person's uploads cannot hold every place of the server's.
    let Some(_mine) = state.shares.uploads.take(Who::of(asker)) else {
        linger(&mut multipart).await;
        let each = state.shares.uploads.each();
        return Err(AppError::TooMany(format!(
            "you are sending {} already, as many as one person may send at once; wait for {} to finish and send \
             this file again",
            crate::format::plural(each, "upload", "uploads"),
            if each == 1 { "it" } else { "one of them" }
        )));
    };
    // Held until the upload is stored or refused: each one holds a file and a write buffer.
    let Ok(_permit) = state.uploads.clone().try_acquire_owned() else {
        linger(&mut multipart).await;
        return Err(AppError::Busy(format!(
            "the server is receiving {} uploads already, as many as it takes at once; try again in a moment",
            state.config.max_concurrent_uploads
        )));
    };
    let received = read(state, viewer.owner_id(), headers, &mut multipart).await;
    if received.is_err() {
        linger(&mut multipart).await;
    }
    received
}

/// `next` (the next field, or chunk), unless the client sends nothing for `idle`.
async fn within<T>(idle: Duration, next: impl Future<Output = T>) -> Result<T, AppError> {
    tokio::time::timeout(idle, next).await.map_err(|_| AppError::Stalled(idle))
}

/// Reads and drops the rest of a refused request, up to [`LINGER_BYTES`] or [`LINGER_TIME`].
async fn linger(multipart: &mut Multipart) {
    let mut dropped = 0;
    let drain = async {
        // A field left half-read is skipped by the next `next_field`; a broken body ends it all.
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                dropped += chunk.len();
                if dropped > LINGER_BYTES {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

async fn read(
    state: &AppState,
    owner: Option<i64>,
    headers: &HeaderMap,
    multipart: &mut Multipart,
) -> Result<(UploadRecord, Fields), AppError> {
    let limit = state.config.max_upload_bytes;
    // A request that says up front it is too big is refused before a byte is stored; one that
    // does not say (chunked) or says less is refused by `Incoming` once it has sent too much.
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + MULTIPART_OVERHEAD) {
        return Err(AppError::TooLarge(limit));
    }
    let idle = state.config.body_idle_timeout;
    let mut fields = Fields::default();
    let mut file: Option<(Incoming, String)> = None;
    while let Some(mut field) = within(idle, multipart.next_field()).await?.map_err(|e| multipart_error(e, limit))? {
        match field.name().unwrap_or("") {
            "file" if file.is_none() => {
                let name = field.file_name().filter(|n| !n.is_empty()).unwrap_or("upload").to_owned();
                let mut incoming = Incoming::create(&state.config, &state.db, &state.receiving, owner).await?;
                while let Some(chunk) = within(idle, field.chunk()).await?.map_err(|e| multipart_error(e, limit))? {
                    incoming.write(&chunk).await?;
                }
                file = Some((incoming, name));
            }
            "file" => return Err(AppError::BadRequest("send one file per request".into())),
            "table" => fields.table = Some(within(idle, text(field, limit)).await??),
            "sheet" => fields.sheet = Some(within(idle, text(field, limit)).await??),
            "encoding" => fields.encoding = Some(within(idle, text(field, limit)).await??),
            "mode" => fields.mode = mode(&within(idle, text(field, limit)).await??)?,
            "stop_at_blank" => fields.stop_at_blank = yes(&within(idle, text(field, limit)).await??)?,
            "review" => fields.review = yes(&within(idle, text(field, limit)).await??)?,
            "header_row" => {
                fields.header_row = within(idle, text(field, limit)).await??.parse().map_err(AppError::BadRequest)?
            }
            name @ ("column" | "skip_column" | "key" | "on_error" | "add_unique_index" | "columns") => {
                let name = name.to_owned();
                let max = if name == "columns" { MAX_COLUMNS_FIELD } else { MAX_FIELD };
                let value = within(idle, text_up_to(field, max, limit)).await??;
                mapping_field(&mut fields.mapping, &name, &value)?;
            }
            _ => {} // unknown fields are ignored, as browsers may add their own
        }
    }
    let Some((incoming, name)) = file else {
        return Err(AppError::BadRequest(
            "no file in the request: send it as multipart/form-data in a field named \"file\"".into(),
        ));
    };
    Ok((incoming.finish(&state.db, name, owner).await?, fields))
}

/// A text field, read only as far as [`MAX_FIELD`] bytes.
async fn text(field: Field<'_>, limit: u64) -> Result<String, AppError> {
    text_up_to(field, MAX_FIELD, limit).await
}

/// A text field, read only as far as `max` bytes.
async fn text_up_to(mut field: Field<'_>, max: usize, limit: u64) -> Result<String, AppError> {
    let name = field.name().unwrap_or("").to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
        if bytes.len() + chunk.len() > max {
            return Err(AppError::BadRequest(format!("the field {name:?} is longer than {max} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| AppError::BadRequest(format!("the field {name:?} is not UTF-8 text")))
}

fn multipart_error(e: MultipartError, limit: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge(limit)
    } else {
        tracing::info!(error = %e, "a multipart upload could not be read");
        AppError::BadRequest(
            "the upload was cut off or is not a form upload (multipart/form-data with the file in a field named \
             \"file\"); send the file again"
                .into(),
        )
    }
}
