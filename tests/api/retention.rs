//! Stored files do not stay forever: deleted after their import (or unused) once their time is up,
//! interrupted uploads' parts too, and a quota on what is stored at once.

use crate::helpers::spawn_app_with;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// The names in the upload folder.
fn stored(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("uploads"))
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits until `done` holds, for at most `within`.
async fn until(within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_deleted_once_their_time_is_up_and_their_imports_stay_on_record() {
    let app = spawn_app_with(|c| {
        c.keep_uploads = Duration::from_secs(1);
        c.keep_unimported = Duration::from_secs(3);
    })
    .await;
    let path = app.file("a.csv");
    std::fs::write(&path, "a\n1\n").expect("write");
    let resp = app.upload("/api/uploads", &path, "a.csv", &[]).await;
    let unused: serde_json::Value = resp.json().await.expect("json");
    let unused = unused["upload_id"].as_str().expect("id").to_owned();
    let id = app.start_import(&path, "a.csv", &[]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    // A part of an upload that stopped ten minutes ago.
    let stale = app.dir.path().join("uploads").join(format!("{}.part", "ab".repeat(16)));
    let part = std::fs::File::create(&stale).expect("part");
    part.set_modified(SystemTime::now() - Duration::from_secs(600)).expect("mtime");
    drop(part);

    // The imported file goes first (1 s after its import), then the unused one (3 s after it came).
    until(Duration::from_secs(20), || !stored(app.dir.path()).iter().any(|n| n.ends_with(".part"))).await;
    until(Duration::from_secs(20), || stored(app.dir.path()) == [unused.clone()]).await;
    until(Duration::from_secs(20), || stored(app.dir.path()).is_empty()).await;
    let (code, body) = app.get_json(&format!("/api/uploads/{unused}")).await;
    assert_eq!(code, 404, "{body}");
    assert!(body["error"].as_str().expect("error").contains("choose the file again"), "{body}");
    let (code, record) = app.get_json(&format!("/api/imports/{id}")).await;
    assert_eq!((code, record["status"].as_str()), (200, Some("succeeded")), "the import stays on record");
    assert_eq!(app.all_rows("a").await.1.len(), 1, "and its table stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_quota_an_upload_is_refused_with_507_and_nothing_is_kept() {
    let app = spawn_app_with(|c| c.max_stored_bytes = 100_000).await;
    let path = app.file("sixty.csv");
    let mut csv = String::from("n\n");
    while csv.len() < 60_000 {
        csv.push_str("123456789\n");
    }
    std::fs::write(&path, &csv).expect("write");
    assert_eq!(app.upload("/api/uploads", &path, "sixty.csv", &[]).await.status(), 201);
    let resp = app.upload("/api/uploads", &path, "sixty.csv", &[]).await;
    assert_eq!(resp.status(), 507);
    let body: serde_json::Value = resp.json().await.expect("json");
    let error = body["error"].as_str().expect("error");
    assert!(error.contains("keeps at most 100.0 KB") && error.contains("try again once"), "{error}");
    assert_eq!(stored(app.dir.path()).len(), 1, "the refused upload left nothing: {:?}", stored(app.dir.path()));
    let resp = app.upload("/api/imports", &path, "sixty.csv", &[]).await;
    assert_eq!(resp.status(), 507, "imports are refused alike");
}
