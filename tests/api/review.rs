//! Review before it lands (issue 28): an import asked to stop for a review reads, types and stages
//! every row and changes nothing; it says what it would do (counts, changed cells per column, a diff
//! by row with old and new values, the whole diff as CSV); a commit does exactly that, or nothing
//! when the table changed since; a discard leaves nothing; a review left alone ends; another
//! instance on the same database commits it. Every test runs on SQLite and on PostgreSQL
//! (`SHEETPORT_TEST_DB=postgres`).

use crate::helpers::{TestApp, TestDb, on_postgres, spawn_app, spawn_app_on, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

/// Imports `text` as `name` and waits for the import to end; asserts it ended as `want`.
async fn import(app: &TestApp, name: &str, text: &str, fields: &[(&str, &str)], want: &str) -> Value {
    let path = app.file(name);
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, name, fields).await;
    let done = wait(app, &id).await;
    assert_eq!(done["status"], want, "{done}");
    done
}

/// Polls the import until it rests: in review, or ended.
pub(crate) async fn wait(app: &TestApp, id: &str) -> Value {
    for _ in 0..1200 {
        let (code, body) = app.get_json(&format!("/api/imports/{id}")).await;
        assert_eq!(code, 200, "{body}");
        if matches!(body["status"].as_str(), Some("review" | "succeeded" | "failed" | "cancelled")) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import {id} did not come to rest");
}

async fn send(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let resp = app.client.request(method, app.url(path)).send().await.expect("request");
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

/// The table's rows as `id|name|qty` text, in id order, read directly.
async fn rows(app: &TestApp, table: &str) -> Vec<String> {
    let cast = |c: &str| format!("COALESCE(CAST({c} AS TEXT), '∅')");
    app.db
        .texts(&format!(
            "SELECT {} || '|' || {} || '|' || {} FROM {table} ORDER BY id",
            cast("id"),
            cast("name"),
            cast("qty")
        ))
        .await
}

/// Review tables left in the data database, read directly.
async fn review_tables(app: &TestApp) -> Vec<String> {
    app.tables().await.into_iter().filter(|t| t.starts_with("_sheetport_review_")).collect()
}

/// A table `stock` of four rows keyed by `id`.
async fn stock(app: &TestApp) {
    import(
        app,
        "stock.csv",
        "id,name,qty\n1,Ann,10\n2,Bob,20\n3,Cy,30\n4,Dee,40\n",
        &[("table", "stock"), ("key", "id")],
        "succeeded",
    )
    .await;
}

/// The upsert the tests review: row 2 changes name, row 3 nothing, row 4 changes qty, row 5 is new.
const UPSERT: &str = "id,name,qty\n1,Ana,10\n3,Cy,30\n4,Dee,44\n5,Eve,50\n";

async fn review_upsert(app: &TestApp) -> Value {
    import(
        app,
        "up.csv",
        UPSERT,
        &[("table", "stock"), ("mode", "upsert"), ("key", "id"), ("review", "true")],
        "review",
    )
    .await
}

const BEFORE: [&str; 4] = ["1|Ann|10", "2|Bob|20", "3|Cy|30", "4|Dee|40"];

#[tokio::test]
async fn an_upsert_in_review_says_what_it_would_do_and_its_commit_does_exactly_that() {
    let app = spawn_app().await;
    stock(&app).await;
    let reviewed = review_upsert(&app).await;
    let id = reviewed["id"].as_str().expect("id").to_owned();
    let summary = &reviewed["review"];
    assert_eq!(
        (&summary["inserted"], &summary["updated"], &summary["unchanged"], &summary["removed"]),
        (&json!(1), &json!(2), &json!(1), &json!(0)),
        "{reviewed}"
    );
    assert_eq!(summary["changed"], json!([{ "column": "name", "cells": 1 }, { "column": "qty", "cells": 1 }]));
    assert_eq!(reviewed["counts"], Value::Null, "nothing happened yet");
    assert_eq!(rows(&app, "stock").await, BEFORE, "the table is untouched");

    // The diff, by row in the sheet (the header is row 1), with the old value of each changed cell.
    let (code, page) = app.get_json(&format!("/api/imports/{id}/diff")).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["columns"], json!(["id", "name", "qty"]));
    assert_eq!(page["key"], json!(["id"]));
    assert_eq!(page["total"], 4);
    let kinds: Vec<(u64, String)> = page["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["kind"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(kinds, [(2, "update".into()), (3, "unchanged".into()), (4, "update".into()), (5, "insert".into())]);
    let (_, updates) = app.get_json(&format!("/api/imports/{id}/diff?kind=update&limit=1&offset=1")).await;
    assert_eq!(updates["total"], 2);
    assert_eq!(
        updates["rows"],
        json!([{ "row": 4, "kind": "update", "values": [4, "Dee", 44], "old": [null, null, 40] }])
    );
    let (code, bad) = app.get_json(&format!("/api/imports/{id}/diff?kind=deleted")).await;
    assert_eq!(code, 400, "{bad}");
    // Jump to a sheet row: the page that holds it (or the next row of the kind), with its offset.
    let at = |q: &str| format!("/api/imports/{id}/diff?{q}");
    let row_of = |page: &Value| -> Vec<u64> {
        page["rows"].as_array().expect("rows").iter().map(|r| r["row"].as_u64().unwrap()).collect()
    };
    let (_, page) = app.get_json(&at("row=4&limit=2")).await;
    assert_eq!((&page["offset"], row_of(&page)), (&json!(2), vec![4, 5]), "{page}");
    let (_, page) = app.get_json(&at("kind=update&row=4&limit=1")).await;
    assert_eq!((&page["offset"], row_of(&page)), (&json!(1), vec![4]), "{page}");
    let (_, page) = app.get_json(&at("kind=update&row=3&limit=1")).await;
    assert_eq!(row_of(&page), [4], "row 3 is unchanged: the next update");
    let (_, page) = app.get_json(&at("row=9999999999&limit=3")).await;
    assert_eq!((&page["offset"], row_of(&page)), (&json!(3), vec![5]), "past the end: the last page");
    let (_, page) = app.get_json(&at("offset=99")).await;
    assert_eq!((&page["offset"], row_of(&page).len()), (&json!(4), 0), "an offset past the end says where it ends");

    // The whole diff as CSV.
    let csv = app.client.get(app.url(&format!("/api/imports/{id}/diff.csv"))).send().await.expect("csv");
    assert_eq!(csv.status(), 200);
    assert_eq!(
        csv.text().await.expect("text"),
        "row,change,id,name,qty,name (before),qty (before)\r\n2,update,1,Ana,10,Ann,\r\n3,unchanged,3,Cy,30,,\r\n\
         4,update,4,Dee,44,,40\r\n5,insert,5,Eve,50,,\r\n"
    );

    // Commit: exactly what was reviewed, with the same counts.
    let (code, body) = send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    let done = wait(&app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["counts"], json!({ "inserted": 1, "updated": 2, "unchanged": 1, "rejected": 0 }));
    assert_eq!(done["review"], Value::Null);
    assert_eq!(rows(&app, "stock").await, ["1|Ana|10", "2|Bob|20", "3|Cy|30", "4|Dee|44", "5|Eve|50"]);
    assert!(review_tables(&app).await.is_empty(), "the staged rows went with the commit");
    let (code, again) = send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 409, "{again}");
    assert!(again["error"].as_str().unwrap().contains("committed already"), "{again}");
    let (_, audit) = app.get_json("/api/audit").await;
    assert!(audit.to_string().contains("review committed"), "{audit}");

    // Undo: the review's table kept what the changed rows held; they get it back and the added row goes.
    let (code, body) = send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/undo")).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(rows(&app, "stock").await, BEFORE);
}

#[tokio::test]
async fn a_commit_is_refused_when_a_row_it_would_touch_changed_since_the_review() {
    let app = spawn_app().await;
    stock(&app).await;
    // A row whose key the file does not have may change: the upsert does not touch it.
    let reviewed = review_upsert(&app).await;
    app.db.execute("UPDATE stock SET qty = 21 WHERE id = 2").await;
    let (code, _) =
        send(&app, reqwest::Method::POST, &format!("/api/imports/{}/commit", reviewed["id"].as_str().unwrap())).await;
    assert_eq!(code, 202);
    let done = wait(&app, reviewed["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    // A row the review said would stay as it is, changed by hand: nothing is written.
    let reviewed = import(
        &app,
        "up2.csv",
        "id,name,qty\n3,Cy,30\n6,Fay,60\n",
        &[("table", "stock"), ("mode", "upsert"), ("key", "id"), ("review", "true")],
        "review",
    )
    .await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    app.db.execute("UPDATE stock SET name = 'Cyd' WHERE id = 3").await;
    let before = rows(&app, "stock").await;
    let (code, body) = send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    let done = wait(&app, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("changed after this review was made"), "{done}");
    assert_eq!(rows(&app, "stock").await, before, "nothing was written");
    assert!(review_tables(&app).await.is_empty(), "the refused review's rows are gone");

    // A key the review saw absent, written by hand meanwhile.
    let reviewed = import(
        &app,
        "up3.csv",
        "id,name,qty\n7,Gus,70\n",
        &[("table", "stock"), ("mode", "insert-new"), ("key", "id"), ("review", "true")],
        "review",
    )
    .await;
    app.db.execute("INSERT INTO stock (id, name, qty) VALUES (7, 'Hand', 1)").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(wait(&app, &id).await["status"], "failed");
    assert!(rows(&app, "stock").await.contains(&"7|Hand|1".to_owned()));
}

#[tokio::test]
async fn a_replace_in_review_counts_the_rows_that_go_and_holds_the_whole_table() {
    let app = spawn_app().await;
    stock(&app).await;
    let fields = [("table", "stock"), ("mode", "replace"), ("review", "true")];
    let reviewed = import(&app, "new.csv", "id,name,qty\n9,Ivy,90\n", &fields, "review").await;
    assert_eq!(reviewed["review"]["removed"], 4, "{reviewed}");
    assert_eq!(reviewed["review"]["inserted"], 1, "{reviewed}");
    let id = reviewed["id"].as_str().unwrap().to_owned();
    // Any change anywhere in a table a replace would remove is seen.
    app.db.execute("UPDATE stock SET qty = 41 WHERE id = 4").await;
    send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    let done = wait(&app, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(rows(&app, "stock").await.contains(&"4|Dee|41".to_owned()));

    let reviewed = import(&app, "new2.csv", "id,name,qty\n9,Ivy,90\n", &fields, "review").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    let done = wait(&app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(rows(&app, "stock").await, ["9|Ivy|90"]);
    // Committed from a review, a replace can be undone as any replace.
    let (code, body) = send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/undo")).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(rows(&app, "stock").await.len(), 4);
}

#[tokio::test]
async fn a_discarded_review_leaves_nothing_and_cannot_be_committed() {
    let app = spawn_app().await;
    stock(&app).await;
    let reviewed = review_upsert(&app).await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    assert_eq!(review_tables(&app).await.len(), 1);
    // While it waits, its staged rows count in the stored-bytes quotas (measured just after).
    let kept = format!("SELECT COALESCE(kept_bytes, 0) FROM sheetport.imports WHERE id = '{id}'");
    for _ in 0..100 {
        if app.db.scalar(&kept).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.db.scalar(&kept).await > 0, "the review's rows were measured");
    let (code, body) = send(&app, reqwest::Method::DELETE, &format!("/api/imports/{id}")).await;
    assert_eq!(code, 202, "{body}");
    let (_, ended) = app.get_json(&format!("/api/imports/{id}")).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(review_tables(&app).await.is_empty());
    assert_eq!(app.db.scalar(&kept).await, 0, "no longer counted");
    assert_eq!(rows(&app, "stock").await, BEFORE);
    let (code, body) = send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("discarded"), "{body}");
    let (code, _) = app.get_json(&format!("/api/imports/{id}/diff")).await;
    assert_eq!(code, 409);
    let (_, audit) = app.get_json("/api/audit").await;
    assert!(audit.to_string().contains("review discarded"), "{audit}");
}

#[tokio::test]
async fn a_review_left_alone_ends_and_its_rows_go() {
    let app = spawn_app_with(|c| c.keep_review = Duration::from_secs(1)).await;
    stock(&app).await;
    let reviewed = review_upsert(&app).await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    let mut ended = Value::Null;
    for _ in 0..100 {
        ended = app.get_json(&format!("/api/imports/{id}")).await.1;
        if ended["status"] == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(ended["error"].as_str().unwrap().contains("not committed in time"), "{ended}");
    assert!(review_tables(&app).await.is_empty());
    assert_eq!(rows(&app, "stock").await, BEFORE);
}

#[tokio::test]
async fn another_instance_on_the_same_database_commits_a_review() {
    let app = spawn_app().await;
    stock(&app).await;
    let reviewed = review_upsert(&app).await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().expect("dir");
    let same = match &app.db {
        TestDb::Sqlite(path) => TestDb::Sqlite(path.clone()),
        TestDb::Postgres { url, .. } => TestDb::Postgres { name: String::new(), url: url.clone() },
    };
    let other = spawn_app_on(dir, same, |_| {}).await;
    let (_, seen) = other.get_json(&format!("/api/imports/{id}")).await;
    assert_eq!(seen["review"], reviewed["review"]);
    let (code, body) = send(&other, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(wait(&other, &id).await["status"], "succeeded");
    assert_eq!(rows(&app, "stock").await, ["1|Ana|10", "2|Bob|20", "3|Cy|30", "4|Dee|44", "5|Eve|50"]);
    let TestApp { db, .. } = other;
    std::mem::forget(db);
    let _ = on_postgres();
}

#[tokio::test]
async fn a_review_survives_a_restart_and_is_committed_after_it() {
    let app = spawn_app().await;
    stock(&app).await;
    let reviewed = review_upsert(&app).await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    // The server stops (its shutdown token goes with the rest of it) and starts again on the same database.
    let TestApp { dir, db, .. } = app;
    let app = spawn_app_on(dir, db, |_| {}).await;
    let (_, seen) = app.get_json(&format!("/api/imports/{id}")).await;
    assert_eq!(seen["status"], "review", "{seen}");
    assert_eq!(seen["review"], reviewed["review"]);
    let (code, body) = send(&app, reqwest::Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(wait(&app, &id).await["status"], "succeeded");
    assert_eq!(rows(&app, "stock").await, ["1|Ana|10", "2|Bob|20", "3|Cy|30", "4|Dee|44", "5|Eve|50"]);
}

mod fixes;
