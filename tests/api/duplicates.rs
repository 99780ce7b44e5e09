//! The same file twice (issue 28, point 5), on SQLite and PostgreSQL alike: every stored upload
//! keeps its content's SHA-256; the preview names the last import of the same content that landed
//! (by id, table, day and account), only one the person asking may see; a failed, discarded or
//! undone import does not count; `sheetport import --skip-if-imported` imports nothing when the
//! same content landed before, says which import that was, and exits 0.

use crate::access::{As, import, people, send, wait_final};
use crate::cli::run;
use crate::helpers::{TestApp, TestDb, spawn_app, spawn_app_on};
use reqwest::Method;
use serde_json::Value;
use std::process::Command;

/// The content `access::import` sends (as `sales.csv`).
const SALES: &str = "region,units\nnorth,3\nsouth,5\n";

/// Stores `text` as `name` by `POST /api/uploads` as `who`; the upload's id.
async fn upload(app: &TestApp, who: &As, name: &str, text: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_owned()));
    let resp = who.on(app.client.post(app.url("/api/uploads"))).multipart(form).send().await.expect("upload");
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    body["upload_id"].as_str().expect("upload_id").to_owned()
}

/// The preview of `text` stored as `name` by `who`: what it says about an earlier import.
async fn earlier(app: &TestApp, who: &As, name: &str, text: &str) -> Value {
    let id = upload(app, who, name, text).await;
    let (code, body) = send(app, who, Method::GET, &format!("/api/uploads/{id}")).await;
    assert_eq!(code, 200, "{body}");
    body["imported"].clone()
}

/// The SHA-256 of `bytes` as `sha256sum` (coreutils) writes it: a second opinion on the server's.
fn sha256sum(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("f");
    std::fs::write(&path, bytes).expect("write");
    let out = Command::new("sha256sum").arg(&path).output().expect("sha256sum");
    String::from_utf8(out.stdout).expect("UTF-8").split_whitespace().next().expect("digest").to_owned()
}

/// Today (UTC) as the sentences write a day: `5 Dec 2026`.
fn today() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    sheetport::format::day(now.as_millis() as i64)
}

#[tokio::test]
async fn the_preview_names_the_earlier_import_of_the_same_content_to_whoever_may_see_it() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let (code, body) = import(&app, &p.ana, "sales", "create").await;
    assert_eq!(code, 202, "{body}");
    let first = body["id"].as_str().expect("id").to_owned();
    assert_eq!(wait_final(&app, &p.ana, &first).await["status"], "succeeded");

    // The upload and its import keep the content's SHA-256, as sha256sum computes it.
    let digest = sha256sum(SALES.as_bytes());
    let kept = app
        .db
        .texts(&format!(
            "SELECT u.sha256 || ' ' || i.sha256 FROM sheetport.imports i JOIN sheetport.uploads u ON u.id = i.upload_id \
             WHERE i.id = '{first}'"
        ))
        .await;
    assert_eq!(kept, [format!("{digest} {digest}")]);

    // The same bytes under another name: the preview names that import, by id, for its owner.
    let named = earlier(&app, &p.ana, "week-49.csv", SALES).await;
    assert_eq!(named["id"], first.as_str(), "{named}");
    assert_eq!(named["table"], "sales");
    assert_eq!(named["owner"], "ana");
    assert_eq!(named["file_name"], "sales.csv");
    assert!(named["finished_at"].as_i64().is_some_and(|t| t > 0), "{named}");
    // The page's server function says the same (the page shows it before the person starts).
    let id = upload(&app, &p.ana, "again.csv", SALES).await;
    let (code, rpc) = crate::access::rpc(&app, &p.ana, "inspect_upload", &[("upload_id", &id)]).await;
    assert_eq!(code, 200, "{rpc}");
    assert_eq!(rpc["imported"]["id"], first.as_str(), "{rpc}");
    // An admin sees it too; another person never learns of ana's import or of her table.
    assert_eq!(earlier(&app, &p.root, "x.csv", SALES).await["id"], first.as_str());
    let bob = earlier(&app, &p.bob, "sales.csv", SALES).await;
    assert!(bob.is_null(), "bob must not see ana's import: {bob}");
    // One byte more is other content.
    assert!(earlier(&app, &p.ana, "sales.csv", &format!("{SALES}west,1\n")).await.is_null());

    // Bob imports the same content himself: from then on his preview names his own import.
    let (code, body) = import(&app, &p.bob, "bobs", "create").await;
    assert_eq!(code, 202, "{body}");
    let his = body["id"].as_str().expect("id").to_owned();
    assert_eq!(wait_final(&app, &p.bob, &his).await["status"], "succeeded");
    let named = earlier(&app, &p.bob, "sales.csv", SALES).await;
    assert_eq!((named["id"].as_str(), named["table"].as_str()), (Some(his.as_str()), Some("bobs")), "{named}");
    assert_eq!(earlier(&app, &p.ana, "sales.csv", SALES).await["id"], first.as_str(), "ana's stays hers");
    // The sentence the page shows: where, when, by whom, which import.
    let named: sheetport::model::EarlierImport =
        serde_json::from_value(earlier(&app, &p.ana, "sales.csv", SALES).await).expect("an earlier import");
    assert_eq!(
        named.words(),
        format!("imported into the table \"sales\" on {} by ana, import {first} (from \"sales.csv\")", today())
    );
}

/// Imports `text` as `name` on a server without accounts; waits for it to rest; its body.
async fn open_import(app: &TestApp, name: &str, text: &str, fields: &[(&str, &str)]) -> Value {
    let path = app.file(name);
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, name, fields).await;
    crate::review::wait(app, &id).await
}

#[tokio::test]
async fn only_an_import_that_landed_counts_not_a_failed_discarded_or_undone_one() {
    let app = spawn_app().await;
    let open = As::anonymous(); // a server without accounts: everyone may see everything
    let stock = "id,name\n1,Ann\n2,Bob\n";
    let first = open_import(&app, "stock.csv", stock, &[("table", "stock"), ("key", "id")]).await;
    assert_eq!(first["status"], "succeeded");
    let week = "id,name\n2,Bea\n3,Cy\n";
    assert!(earlier(&app, &open, "week.csv", week).await.is_null(), "never imported");

    // Failed: create into a table that exists.
    let failed = open_import(&app, "week.csv", week, &[("table", "stock")]).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(earlier(&app, &open, "week.csv", week).await.is_null(), "a failed import does not count");

    // Reviewed, then discarded.
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "id"), ("review", "true")];
    let reviewed = open_import(&app, "week.csv", week, &fields).await;
    assert_eq!(reviewed["status"], "review", "{reviewed}");
    assert!(earlier(&app, &open, "week.csv", week).await.is_null(), "a review waiting does not count");
    let id = reviewed["id"].as_str().expect("id");
    assert_eq!(send(&app, &open, Method::DELETE, &format!("/api/imports/{id}")).await.0, 202);
    assert!(earlier(&app, &open, "week.csv", week).await.is_null(), "a discarded review does not count");

    // Reviewed, then committed: it landed.
    let reviewed = open_import(&app, "week.csv", week, &fields).await;
    let id = reviewed["id"].as_str().expect("id").to_owned();
    assert_eq!(send(&app, &open, Method::POST, &format!("/api/imports/{id}/commit")).await.0, 202);
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let named = earlier(&app, &open, "week.csv", week).await;
    assert_eq!((named["id"].as_str(), named["table"].as_str()), (Some(id.as_str()), Some("stock")), "{named}");
    assert!(named["owner"].is_null(), "no accounts, no one in particular: {named}");

    // Landed, then taken back (undo): it no longer counts.
    let fresh = "code\nA\nB\n";
    let made = open_import(&app, "fresh.csv", fresh, &[("table", "fresh")]).await;
    assert_eq!(made["status"], "succeeded", "{made}");
    let id = made["id"].as_str().expect("id");
    assert_eq!(earlier(&app, &open, "fresh.csv", fresh).await["id"], id);
    let (code, body) = send(&app, &open, Method::POST, &format!("/api/imports/{id}/undo")).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "undone");
    assert!(earlier(&app, &open, "fresh.csv", fresh).await.is_null(), "an undone import does not count");
}

#[tokio::test]
async fn the_command_line_skips_content_that_landed_before_and_says_which_import_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TestDb::create(dir.path()).await;
    let url = db.url();
    let file = dir.path().join("orders.csv");
    std::fs::write(&file, "id,qty\n1,3\n2,5\n3,7\n").expect("write");
    let path = file.to_str().expect("path");
    let args = ["import", path, "--database", &url, "--table", "orders", "--mode", "append", "--skip-if-imported"];

    // A run that fails does not count: the table has a column the file lacks, so nothing lands.
    db.execute("CREATE TABLE orders (id BIGINT, qty BIGINT, code TEXT NOT NULL)").await;
    let (code, out, _) = run(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("import failed: "), "{out}");
    db.execute("DROP TABLE orders").await;

    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("imported 3 rows into table orders in "), "{out}");
    let id = db.texts("SELECT id FROM sheetport.imports WHERE status = 'succeeded'").await;
    assert_eq!(id.len(), 1);

    // Again: nothing is written, the earlier import is named, and a script reads exit code 0.
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        format!(
            "skipped: this file was already imported into the table \"orders\" on {}, import {} (from \
             \"orders.csv\"); nothing was written",
            today(),
            id[0]
        )
    );
    assert_eq!(db.scalar("SELECT count(*) FROM orders").await, 3);
    assert_eq!(db.scalar("SELECT count(*) FROM sheetport.imports").await, 2, "the skip records no import");

    // The same content under another name is the same content; other content is imported.
    let copy = dir.path().join("copy.csv");
    std::fs::copy(&file, &copy).expect("copy");
    let mut renamed = args;
    renamed[1] = copy.to_str().expect("path");
    let (code, out, _) = run(&renamed);
    assert_eq!(code, 0);
    assert!(out.starts_with("skipped: "), "{out}");
    std::fs::write(&copy, "id,qty\n4,9\n").expect("write");
    let (code, out, _) = run(&renamed);
    assert_eq!(code, 0);
    assert!(out.starts_with("imported 1 ") && out.contains(" into table orders "), "{out}");
    // Without the flag, the command line imports what it is given.
    let (code, out, _) = run(&args[..args.len() - 1]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(db.scalar("SELECT count(*) FROM orders").await, 7);

    // A server on the same database (without accounts: it sees every import) names the command
    // line's import in its preview of the same content.
    let app = spawn_app_on(dir, db, |_| {}).await;
    let named = earlier(&app, &As::anonymous(), "orders.csv", "id,qty\n1,3\n2,5\n3,7\n").await;
    assert_eq!(named["id"], id[0].as_str(), "{named}");
    assert_eq!(named["table"], "orders");
}
