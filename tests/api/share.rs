//! A fair share (issue 27, point 4): people take turns in the queue, so one person's pile of
//! imports delays another's by one of theirs at most, and one person may keep only so many
//! waiting; one person's uploads at once, stored bytes (kept tables counted), table views and
//! exports at once are bounded within the server's, so the next person is served.

use crate::access::{As, import, people, send, wait_final};
use crate::authority::{blocker, queued, unblock};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::Value;
use sheetport::auth::manage;
use sheetport::db::uploads::stored_bytes;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_queue_takes_people_in_turn() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let blocking = blocker(&app, &p).await;
    // ana queues five, then bob one (before: bob's waited for all five of hers).
    let mut ana = Vec::new();
    for i in 0..5 {
        ana.push(queued(&app, &p.ana, &format!("mine_{i}"), "create").await);
    }
    let bob = queued(&app, &p.bob, "his", "create").await;
    unblock(&app, &p, &blocking).await;
    let started = |body: serde_json::Value| body["started_at"].as_i64().expect("started");
    let bob_started = started(wait_final(&app, &p.bob, &bob).await);
    let mut before = 0;
    for id in &ana {
        if started(wait_final(&app, &p.ana, id).await) < bob_started {
            before += 1;
        }
    }
    assert_eq!(before, 1, "bob's import started after {before} of ana's five");
}

#[tokio::test]
async fn one_person_keeps_only_so_many_imports_waiting() {
    let app = spawn_app_with(|c| c.max_queued_imports_per_person = 3).await;
    let p = people(&app).await;
    let blocking = blocker(&app, &p).await;
    let mut waiting = Vec::new();
    for i in 0..3 {
        waiting.push(queued(&app, &p.ana, &format!("t{i}"), "create").await);
    }
    let (code, body) = import(&app, &p.ana, "t3", "create").await;
    assert_eq!(code, 429, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("you have 3 imports waiting")), "{body}");
    // Someone else's share is their own.
    let bob = queued(&app, &p.bob, "his", "create").await;
    // Once one of hers is cancelled, there is room for one more.
    assert_eq!(send(&app, &p.ana, Method::DELETE, &format!("/api/imports/{}", waiting[0])).await.0, 202);
    wait_final(&app, &p.ana, &waiting[0]).await;
    waiting[0] = queued(&app, &p.ana, "t3", "create").await;
    unblock(&app, &p, &blocking).await;
    for id in waiting.iter().chain([&bob]) {
        assert_eq!(wait_final(&app, &p.root, id).await["status"], "succeeded");
    }
}

/// A multipart upload of `table`'s CSV as `who` whose body stops after its first line and stays
/// open until the returned sender is dropped (the request then ends, refused as cut short).
fn held_upload(
    app: &TestApp,
    who: &As,
) -> (futures::channel::mpsc::UnboundedSender<Vec<u8>>, tokio::task::JoinHandle<u16>) {
    let (tx, rx) = futures::channel::mpsc::unbounded::<Vec<u8>>();
    tx.unbounded_send(b"region,units\n".to_vec()).expect("first line");
    let body = reqwest::Body::wrap_stream(futures::StreamExt::map(rx, Ok::<_, std::io::Error>));
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::stream(body).file_name("slow.csv"));
    let request = who.on(app.client.post(app.url("/api/uploads"))).multipart(form);
    (tx, tokio::spawn(async move { request.send().await.map_or(0, |r| r.status().as_u16()) }))
}

/// Files being received now (`<id>.part` in the uploads folder).
fn parts(app: &TestApp) -> usize {
    std::fs::read_dir(app.dir.path().join("uploads"))
        .map_or(0, |d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "part")).count())
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A small file uploaded as `who`: the status and the body.
async fn upload(app: &TestApp, who: &As, bytes: usize) -> (u16, Value) {
    let mut csv = "region,units\n".to_owned();
    while csv.len() < bytes {
        csv.push_str("north,3\n");
    }
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("sales.csv"));
    let resp = who.on(app.client.post(app.url("/api/uploads"))).multipart(form).send().await.expect("upload");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn one_person_sends_only_so_many_uploads_at_once() {
    // Found: one account holding the four places of --max-concurrent-uploads 4 refused everyone's.
    let app = spawn_app_with(|c| {
        c.max_concurrent_uploads = 4;
        c.max_uploads_per_person = 2;
    })
    .await;
    let p = people(&app).await;
    let (first, first_done) = held_upload(&app, &p.ana);
    let (second, second_done) = held_upload(&app, &p.ana);
    until("ana's two uploads are being received", || parts(&app) == 2).await;
    let (code, body) = upload(&app, &p.ana, 100).await;
    assert_eq!(code, 429, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("you are sending 2 uploads already, as many as one person")),
        "{body}"
    );
    // bob's share is his own, and the server's places are not all taken.
    assert_eq!(upload(&app, &p.bob, 100).await.0, 201);
    // Once one of hers ends (its body ends, so it is stored), she may send another.
    drop(first);
    assert_eq!(first_done.await.expect("first"), 201);
    assert_eq!(upload(&app, &p.ana, 100).await.0, 201);
    drop(second);
    second_done.await.expect("second");
}

#[tokio::test]
async fn one_persons_stored_files_and_kept_tables_fill_only_their_share() {
    // Found: one account's unimported uploads filled the stored-bytes quota for all; each re-run
    // of a replace kept a copy of the table that no quota counted.
    let app = spawn_app_with(|c| c.max_stored_bytes_per_person = 3_000).await;
    let p = people(&app).await;
    assert_eq!(upload(&app, &p.ana, 1_000).await.0, 201);
    let (code, body) = upload(&app, &p.ana, 2_500).await;
    assert_eq!(code, 507, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(
            "this file does not fit in what is left of the 3.0 KB one person may store (your uploaded files and the \
             tables your replaces keep for an undo take 1.0 KB)"
        ),
        "{body}"
    );
    assert!(error.ends_with("and send this file again"), "{body}");
    assert_eq!(upload(&app, &p.bob, 2_500).await.0, 201, "bob's share is his own");
    let stored = || std::fs::read_dir(app.dir.path().join("uploads")).expect("uploads").count();
    assert_eq!(stored(), 2, "the refused file is not kept");

    // A replace keeps the table it replaced: measured once it ends, and counted.
    let first = queued(&app, &p.bob, "stock", "create").await;
    assert_eq!(wait_final(&app, &p.bob, &first).await["status"], "succeeded");
    let replace = queued(&app, &p.bob, "stock", "replace").await;
    assert_eq!(wait_final(&app, &p.bob, &replace).await["status"], "succeeded");
    // Measured a moment after the import ends (off its path): waited for here.
    let bob = manage::user(&p.db, "bob").await.expect("bob").id;
    let files = 2_501 + 2 * 29;
    let start = Instant::now();
    while stored_bytes(&p.db, Some(bob)).await.expect("stored") == files {
        assert!(start.elapsed() < Duration::from_secs(10), "the kept table was never measured");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let kept = stored_bytes(&p.db, Some(bob)).await.expect("stored") - files;
    assert!(kept >= 4096, "the kept table takes {kept} bytes, less than a page");
    let everyone = stored_bytes(&p.db, None).await.expect("stored");
    assert_eq!(everyone, 1_005 + files + kept, "the server's quota counts every file and the kept table");
    // bob's files (2.5 KB and two of 29 bytes) leave room, but with the kept table (a page or more
    // of the database, 4 KB at least) his share is full: no more replaces, nor uploads.
    let (code, body) = send(&app, &p.bob, Method::POST, &format!("/api/imports/{replace}/rerun")).await;
    assert_eq!(code, 507, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(", all of the 3.0 KB one person may store"), "{body}");
    assert!(error.ends_with("and replace the table again"), "{body}");
    assert_eq!(upload(&app, &p.bob, 100).await.0, 507);
    // Deleting the replace's record (its kept table and file go with it) gives the room back.
    assert_eq!(send(&app, &p.bob, Method::DELETE, &format!("/api/imports/{replace}/record")).await.0, 204);
    let again = queued(&app, &p.bob, "stock", "replace").await;
    assert_eq!(wait_final(&app, &p.bob, &again).await["status"], "succeeded");
}
