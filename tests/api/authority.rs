//! Authority where it acts (issue 27, point 1), through the real server, on SQLite and
//! PostgreSQL alike: the cases as they were found. A name being created is its starter's from the
//! moment the import is queued; write access taken back stops an import that was queued, and one
//! that was already loading, before it changes the table; grants and ownership are facts of the
//! table, not of the history; tables sheetport did not make are the admins' alone, even to name.

use crate::access::{As, People, import, people, rpc, send, wait_final};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use sheetport::config::TableReaders;
use std::time::{Duration, Instant};

/// Queues an import as `who`; its id (the request must be accepted).
pub(crate) async fn queued(app: &TestApp, who: &As, table: &str, mode: &str) -> String {
    let (code, body) = import(app, who, table, mode).await;
    assert_eq!(code, 202, "{mode} into {table}: {body}");
    body["id"].as_str().expect("id").to_owned()
}

/// Rows of the big file: its import takes a second or more, long enough to act while it runs.
const BIG: usize = 2_000_000;

/// Queues the import of a file of [`BIG`] rows (the columns of `access::import`'s) as `who`.
async fn queued_big(app: &TestApp, who: &As, table: &str, mode: &str) -> String {
    let mut csv = String::with_capacity(BIG * 12);
    csv.push_str("region,units\n");
    for i in 0..BIG {
        csv.push_str(if i % 2 == 0 { "north," } else { "south," });
        csv.push_str(&(i % 1000).to_string());
        csv.push('\n');
    }
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("big.csv"))
        .text("table", table.to_owned())
        .text("mode", mode.to_owned());
    let resp = who.on(app.client.post(app.url("/api/imports"))).multipart(form).send().await.expect("import");
    assert_eq!(resp.status().as_u16(), 202);
    let body: Value = resp.json().await.expect("json");
    body["id"].as_str().expect("id").to_owned()
}

/// An admin's big import, loading: it holds the server's one import slot, so what is queued
/// after it waits in the queue until [`unblock`].
pub(crate) async fn blocker(app: &TestApp, p: &People) -> String {
    let id = queued_big(app, &p.root, "blocker", "create").await;
    wait_loading(app, &p.root, &id).await;
    id
}

pub(crate) async fn unblock(app: &TestApp, p: &People, id: &str) {
    assert_eq!(send(app, &p.root, Method::DELETE, &format!("/api/imports/{id}")).await.0, 202, "cancel the blocker");
    wait_final(app, &p.root, id).await;
}

/// Waits until the import `id` has rows in its staging table: it passed the check at its start.
async fn wait_loading(app: &TestApp, who: &As, id: &str) {
    let start = Instant::now();
    loop {
        let (_, body) = send(app, who, Method::GET, &format!("/api/imports/{id}")).await;
        if body["status"] == "running" && body["rows_done"].as_u64().is_some_and(|n| n > 0) {
            return;
        }
        assert!(matches!(body["status"].as_str(), Some("queued" | "running")), "{body}");
        assert!(start.elapsed() < Duration::from_secs(30), "never loaded: {body}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    app.db.scalar(&format!("SELECT count(*) FROM \"{table}\"")).await
}

#[tokio::test]
async fn a_name_being_created_is_its_starters_and_no_one_replaces_it_from_the_queue() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let blocker = blocker(&app, &p).await;

    // ana's import will create "payroll"; it waits behind the blocker.
    let ana = queued(&app, &p.ana, "payroll", "create").await;
    // bob may not queue anything into that name (before: his replace was accepted, ran after
    // hers and replaced her table), nor may an admin take it from the queue.
    for (who, mode) in [(&p.bob, "replace"), (&p.bob, "append"), (&p.bob, "upsert"), (&p.root, "replace")] {
        let (code, body) = import(&app, who, "payroll", mode).await;
        assert_eq!(code, 403, "{mode} as {}: {body}", who.label);
        assert!(error_of(&body).contains("an import by another account is creating the table"), "{body}");
    }
    // ana's own second import into her name is hers to queue.
    let again = queued(&app, &p.ana, "payroll", "append").await;
    unblock(&app, &p, &blocker).await;
    for id in [&ana, &again] {
        assert_eq!(wait_final(&app, &p.ana, id).await["status"], "succeeded");
    }
    assert_eq!(rows(&app, "payroll").await, 4, "her two imports, nobody else's");
    let (_, access) = send(&app, &p.bob, Method::GET, "/api/tables/payroll/access").await;
    assert_eq!(access["owner"], "ana");
}

#[tokio::test]
async fn a_name_whose_import_ended_without_the_table_is_free_again() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let blocker = blocker(&app, &p).await;
    // ana's create is cancelled in the queue: the name it reserved is anyone's again.
    let cancelled = queued(&app, &p.ana, "orders", "create").await;
    assert_eq!(send(&app, &p.ana, Method::DELETE, &format!("/api/imports/{cancelled}")).await.0, 202);
    let id = queued(&app, &p.bob, "orders", "create").await;
    unblock(&app, &p, &blocker).await;
    assert_eq!(wait_final(&app, &p.bob, &id).await["status"], "succeeded");
    let (_, access) = send(&app, &p.bob, Method::GET, "/api/tables/orders/access").await;
    assert_eq!(access["owner"], "bob");
}

#[tokio::test]
async fn write_access_taken_back_stops_a_queued_import_and_a_loading_one() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let made = queued(&app, &p.ana, "shared", "create").await;
    assert_eq!(wait_final(&app, &p.ana, &made).await["status"], "succeeded");
    assert_eq!(send(&app, &p.ana, Method::PUT, "/api/tables/shared/writers/bob").await.0, 204);

    // Queued while bob could write, run after ana took it back (before: it ran).
    let blocker = blocker(&app, &p).await;
    let waiting = queued(&app, &p.bob, "shared", "append").await;
    assert_eq!(send(&app, &p.ana, Method::DELETE, "/api/tables/shared/writers/bob").await.0, 204);
    unblock(&app, &p, &blocker).await;
    let end = wait_final(&app, &p.bob, &waiting).await;
    assert_eq!(end["status"], "failed", "{end}");
    assert!(end["error"].as_str().is_some_and(|e| e.contains("belongs to another account")), "{end}");
    assert_eq!(rows(&app, "shared").await, 2, "ana's rows only");

    // Started while bob could write, loading (past the check at its start), then taken back:
    // the check inside the transaction that would change the table refuses it.
    assert_eq!(send(&app, &p.ana, Method::PUT, "/api/tables/shared/writers/bob").await.0, 204);
    let loading = queued_big(&app, &p.bob, "shared", "replace").await;
    wait_loading(&app, &p.bob, &loading).await;
    assert_eq!(send(&app, &p.ana, Method::DELETE, "/api/tables/shared/writers/bob").await.0, 204);
    let (_, now) = send(&app, &p.bob, Method::GET, &format!("/api/imports/{loading}")).await;
    assert_eq!(now["status"], "running", "still loading when its access was taken back: {now}");
    let end = wait_final(&app, &p.bob, &loading).await;
    assert_eq!(end["status"], "failed", "{end}");
    assert!(end["error"].as_str().is_some_and(|e| e.contains("belongs to another account")), "{end}");
    assert_eq!(rows(&app, "shared").await, 2, "ana's table as it was");
    let (_, access) = send(&app, &p.ana, Method::GET, "/api/tables/shared/access").await;
    assert_eq!(access, json!({"owner": "ana", "writers": [], "may_change": true}));
}

#[tokio::test]
async fn grants_and_ownership_belong_to_the_table_not_to_its_name_or_history() {
    let app = spawn_app().await;
    let p: People = people(&app).await;
    // ana makes "reused", gives bob write access, then undoes the create.
    let made = queued(&app, &p.ana, "reused", "create").await;
    assert_eq!(wait_final(&app, &p.ana, &made).await["status"], "succeeded");
    assert_eq!(send(&app, &p.ana, Method::PUT, "/api/tables/reused/writers/bob").await.0, 204);
    assert_eq!(send(&app, &p.ana, Method::POST, &format!("/api/imports/{made}/undo")).await.0, 200);
    // A grant needs a table: the name alone gives nothing.
    assert_eq!(send(&app, &p.ana, Method::PUT, "/api/tables/reused/writers/bob").await.0, 404);
    assert_eq!(send(&app, &p.root, Method::PUT, "/api/tables/nothing/writers/bob").await.0, 404);
    // root makes a new "reused": bob's old grant is not on it (before: bob could append).
    let new = queued(&app, &p.root, "reused", "create").await;
    assert_eq!(wait_final(&app, &p.root, &new).await["status"], "succeeded");
    let (code, body) = import(&app, &p.bob, "reused", "append").await;
    assert_eq!(code, 403, "{body}");
    let (_, access) = send(&app, &p.root, Method::GET, "/api/tables/reused/access").await;
    assert_eq!(access, json!({"owner": "root", "writers": [], "may_change": true}));

    // ana makes "kept", bob appends once with her leave, she takes it back and deletes the
    // record of her create: the table stays hers (before: it became bob's).
    let kept = queued(&app, &p.ana, "kept", "create").await;
    wait_final(&app, &p.ana, &kept).await;
    assert_eq!(send(&app, &p.ana, Method::PUT, "/api/tables/kept/writers/bob").await.0, 204);
    let appended = queued(&app, &p.bob, "kept", "append").await;
    assert_eq!(wait_final(&app, &p.bob, &appended).await["status"], "succeeded");
    assert_eq!(send(&app, &p.ana, Method::DELETE, "/api/tables/kept/writers/bob").await.0, 204);
    assert_eq!(send(&app, &p.ana, Method::DELETE, &format!("/api/imports/{kept}/record")).await.0, 204);
    let (_, access) = send(&app, &p.bob, Method::GET, "/api/tables/kept/access").await;
    assert_eq!(access["owner"], "ana");
    assert_eq!(import(&app, &p.bob, "kept", "append").await.0, 403);
    assert_eq!(send(&app, &p.bob, Method::PUT, "/api/tables/kept/writers/bob").await.0, 403);
}

#[tokio::test]
async fn tables_sheetport_did_not_make_are_the_admins_alone() {
    let app = spawn_app().await;
    let p = people(&app).await;
    app.db.execute("CREATE TABLE other_app_cards (card_number TEXT, pin TEXT)").await;
    // bob: not listed, not readable, no owner to learn, no columns in a preview, not writable.
    let (_, list) = send(&app, &p.bob, Method::GET, "/api/tables").await;
    assert!(!list.to_string().contains("other_app_cards"), "{list}");
    assert_eq!(send(&app, &p.bob, Method::GET, "/api/tables/other_app_cards/rows").await.0, 404);
    assert_eq!(send(&app, &p.bob, Method::GET, "/api/tables/other_app_cards/access").await.0, 404);
    let (code, body) = rpc(&app, &p.bob, "who_may_write", &[("name", "other_app_cards")]).await;
    assert_ne!(code, 200, "{body}");
    let upload = upload_as(&app, &p.bob).await;
    let (code, preview) =
        send(&app, &p.bob, Method::GET, &format!("/api/uploads/{upload}?table=other_app_cards")).await;
    assert_eq!(code, 200, "{preview}");
    assert_eq!(preview["target"], Value::Null, "no columns of another app's table: {preview}");
    let (code, body) = import(&app, &p.bob, "other_app_cards", "append").await;
    assert_eq!(code, 403, "{body}");
    assert!(error_of(&body).contains("not made by sheetport"), "{body}");
    // root, an admin, may write it and sees its columns in a preview.
    let upload = upload_as(&app, &p.root).await;
    let (_, preview) = send(&app, &p.root, Method::GET, &format!("/api/uploads/{upload}?table=other_app_cards")).await;
    assert_eq!(preview["target"]["table"], "other_app_cards", "{preview}");
}

#[tokio::test]
async fn with_owner_only_readers_a_table_is_not_there_for_those_who_may_not_read_it() {
    let app = spawn_app_with(|c| c.table_readers = TableReaders::Owner).await;
    let p = people(&app).await;
    let made = queued(&app, &p.ana, "salaries", "create").await;
    wait_final(&app, &p.ana, &made).await;
    // The same answer as for a table that does not exist.
    for path in ["/api/tables/salaries/access", "/api/tables/nothing/access"] {
        let (code, body) = send(&app, &p.bob, Method::GET, path).await;
        assert_eq!(code, 404, "{path}: {body}");
        assert!(!body.to_string().contains("ana"), "{body}");
    }
    let (code, body) = import(&app, &p.bob, "salaries", "append").await;
    assert_eq!(code, 403, "{body}");
    assert!(!body.to_string().contains("ana"), "the refusal does not name the owner: {body}");
    assert_eq!(send(&app, &p.bob, Method::PUT, "/api/tables/salaries/writers/bob").await.0, 404);
}

/// Uploads a small CSV as `who`; the upload's id.
async fn upload_as(app: &TestApp, who: &As) -> String {
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"card_number,pin\n1,2\n".to_vec()).file_name("cards.csv"));
    let resp = who.on(app.client.post(app.url("/api/uploads"))).multipart(form).send().await.expect("upload");
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().await.expect("json");
    body["upload_id"].as_str().expect("upload_id").to_owned()
}
