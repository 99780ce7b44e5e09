//! The history you can act on (issue 14): undo by mode (create drops the table, replace puts the
//! kept table back, append and insert-new delete the rows they added, an upsert puts back the
//! values it changed and deletes the rows it added), only the last import into a table, a kept table dropped when its time is up;
//! the filter by status and table; running an import again; deleting its record and file. Every
//! test runs on SQLite and on PostgreSQL (`SHEETPORT_TEST_DB=postgres`).

use crate::helpers::{TestApp, on_postgres, spawn_app, spawn_app_with};
use serde_json::Value;
use std::time::Duration;

async fn import(app: &TestApp, name: &str, text: &str, fields: &[(&str, &str)]) -> Value {
    let path = app.file(name);
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, name, fields).await;
    let done = app.wait_final(&id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    done
}

/// `POST /api/imports/{id}/{what}`: the status and body.
async fn post(app: &TestApp, id: &Value, what: &str) -> (u16, Value) {
    let id = id.as_str().expect("id");
    let resp = app.client.post(app.url(&format!("/api/imports/{id}/{what}"))).send().await.expect("request");
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

/// The import `id` as the history lists it.
async fn listed(app: &TestApp, id: &Value) -> Value {
    let (code, list) = app.get_json("/api/imports?limit=200").await;
    assert_eq!(code, 200, "{list}");
    list.as_array().expect("a list").iter().find(|p| p["id"] == *id).cloned().unwrap_or(Value::Null)
}

/// The table's rows, by their first value (PostgreSQL keeps an updated row elsewhere in the heap).
async fn rows(app: &TestApp, table: &str) -> Vec<Value> {
    let mut rows = app.all_rows(table).await.1;
    rows.sort_by_key(|r| r[0].as_i64());
    rows
}

/// Tables and schemas a replace kept, read directly.
async fn kept(app: &TestApp) -> i64 {
    if on_postgres() {
        app.db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'sheetport\\_kept\\_%'").await
    } else {
        app.db.scalar("SELECT count(*) FROM sqlite_schema WHERE substr(name, 1, 16) = '_sheetport_kept_'").await
    }
}

/// Indexes on `table`, read directly.
async fn indexes(app: &TestApp, table: &str) -> i64 {
    if on_postgres() {
        app.db
            .scalar(&format!("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = '{table}'"))
            .await
    } else {
        app.db
            .scalar(&format!("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = '{table}'"))
            .await
    }
}

#[tokio::test]
async fn each_mode_is_undone_as_it_says() {
    let app = spawn_app().await;
    let created = import(&app, "a.csv", "id,name\n1,Ann\n2,Bob\n", &[("table", "t")]).await;
    assert_eq!(listed(&app, &created["id"]).await["undo"], serde_json::json!({ "kind": "drop", "until": null }));

    // Append: its rows go; the create before it can be undone only once it is the last again.
    let appended = import(&app, "b.csv", "id,name\n3,Cy\n", &[("table", "t"), ("mode", "append")]).await;
    assert_eq!(listed(&app, &appended["id"]).await["undo"]["kind"], "remove");
    assert_eq!(listed(&app, &created["id"]).await["undo"], Value::Null, "only the last import offers an undo");
    let (code, body) = post(&app, &created["id"], "undo").await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("only the last import into a table can be undone"), "{body}");
    let (code, body) = post(&app, &appended["id"], "undo").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "undone");
    assert_eq!(rows(&app, "t").await, [serde_json::json!([1, "Ann"]), serde_json::json!([2, "Bob"])]);
    let (code, body) = post(&app, &appended["id"], "undo").await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("already undone"), "{body}");

    // Replace: the table as it was comes back, columns and all, and nothing stays kept.
    let replaced = import(
        &app,
        "c.csv",
        "code,colour,size\nx,red,1\ny,blue,2\nz,green,3\n",
        &[("table", "t"), ("mode", "replace")],
    )
    .await;
    let offer = listed(&app, &replaced["id"]).await["undo"].clone();
    assert_eq!(offer["kind"], "restore", "{offer}");
    let until = offer["until"].as_i64().expect("a replace is kept until a moment");
    let day = 24 * 3600 * 1000;
    assert!((day - 60_000..=day + 60_000).contains(&(until - replaced["created_at"].as_i64().unwrap())), "{offer}");
    assert_eq!(kept(&app).await, 1);
    assert_eq!(rows(&app, "t").await.len(), 3);
    let (code, body) = post(&app, &replaced["id"], "undo").await;
    assert_eq!(code, 200, "{body}");
    let (columns, back) = app.all_rows("t").await;
    assert_eq!(columns[0]["name"], "id");
    assert_eq!(back, [serde_json::json!([1, "Ann"]), serde_json::json!([2, "Bob"])]);
    assert_eq!(kept(&app).await, 0);

    // Create, once it is the last import again: the table goes.
    assert_eq!(listed(&app, &created["id"]).await["undo"]["kind"], "drop");
    let (code, body) = post(&app, &created["id"], "undo").await;
    assert_eq!(code, 200, "{body}");
    assert!(!app.tables().await.contains(&"t".to_owned()));
    let (code, _) = app.get_json("/api/tables/t/rows").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn keyed_tables_keep_their_index_and_an_upsert_is_undone_too() {
    let app = spawn_app().await;
    import(&app, "k.csv", "id,name\n1,Ann\n2,Bob\n", &[("table", "k"), ("key", "id")]).await;
    assert_eq!(indexes(&app, "k").await, 1);

    // A replace with the same key: the kept table's index is set aside with it and comes back.
    let replaced =
        import(&app, "k2.csv", "id,name\n7,Gus\n", &[("table", "k"), ("mode", "replace"), ("key", "id")]).await;
    assert_eq!(indexes(&app, "k").await, 1);
    let (code, body) = post(&app, &replaced["id"], "undo").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(indexes(&app, "k").await, 1);
    assert_eq!(rows(&app, "k").await.len(), 2);

    // Insert-new adds rows only: they go.
    let added =
        import(&app, "k3.csv", "id,name\n2,Bea\n3,Cy\n", &[("table", "k"), ("mode", "insert-new"), ("key", "id")])
            .await;
    assert_eq!(added["counts"]["inserted"], 1, "{added}");
    assert_eq!(listed(&app, &added["id"]).await["undo"]["kind"], "remove");
    let (code, body) = post(&app, &added["id"], "undo").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(rows(&app, "k").await, [serde_json::json!([1, "Ann"]), serde_json::json!([2, "Bob"])]);

    // An upsert that changed a row and added one: the row gets its earlier values back, the added
    // one goes, and what it kept for that goes with the undo.
    let upserted =
        import(&app, "k4.csv", "id,name\n1,Ana\n2,Bob\n4,Dee\n", &[("table", "k"), ("mode", "upsert"), ("key", "id")])
            .await;
    assert_eq!(upserted["counts"]["updated"], 1, "{upserted}");
    assert_eq!(upserted["counts"]["inserted"], 1, "{upserted}");
    let offer = listed(&app, &upserted["id"]).await["undo"].clone();
    assert_eq!(offer["kind"], "revert", "{offer}");
    let day = 24 * 3600 * 1000;
    let until = offer["until"].as_i64().expect("kept until a moment");
    assert!((day - 60_000..=day + 60_000).contains(&(until - upserted["created_at"].as_i64().unwrap())), "{offer}");
    assert_eq!(kept(&app).await, 1);
    assert_eq!(rows(&app, "k").await.len(), 3);
    let (code, body) = post(&app, &upserted["id"], "undo").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(rows(&app, "k").await, [serde_json::json!([1, "Ann"]), serde_json::json!([2, "Bob"])]);
    assert_eq!(indexes(&app, "k").await, 1);
    assert_eq!(kept(&app).await, 0);
}

#[tokio::test]
async fn an_upsert_is_not_undone_over_a_row_changed_since() {
    let app = spawn_app().await;
    import(&app, "k.csv", "id,name,qty\n1,Ann,1\n2,Bob,2\n", &[("table", "k"), ("key", "id")]).await;
    let upserted =
        import(&app, "k2.csv", "id,name,qty\n1,Ana,1\n2,Bob,3\n", &[("table", "k"), ("mode", "upsert"), ("key", "id")])
            .await;
    assert_eq!(upserted["counts"]["updated"], 2, "{upserted}");
    // Someone changes, by hand, a cell the upsert did not change in a row it did: putting the
    // earlier values back would undo that too.
    app.db.execute("UPDATE k SET qty = 9 WHERE id = 1").await;
    let (code, body) = post(&app, &upserted["id"], "undo").await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("has changed since this import"), "{body}");
    assert_eq!(
        rows(&app, "k").await,
        [serde_json::json!([1, "Ana", 9]), serde_json::json!([2, "Bob", 3])],
        "nothing was touched"
    );

    // With nothing kept (`--keep-replaced 0`), an upsert that changed rows offers no undo.
    let app = spawn_app_with(|c| c.keep_replaced = Duration::ZERO).await;
    import(&app, "k.csv", "id,name\n1,Ann\n", &[("table", "k"), ("key", "id")]).await;
    let upserted =
        import(&app, "k2.csv", "id,name\n1,Ana\n", &[("table", "k"), ("mode", "upsert"), ("key", "id")]).await;
    assert_eq!(listed(&app, &upserted["id"]).await["undo"], Value::Null);
    assert_eq!(kept(&app).await, 0);
    let (code, body) = post(&app, &upserted["id"], "undo").await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cannot be undone"), "{body}");
}

#[tokio::test]
async fn a_table_changed_since_is_not_touched() {
    let app = spawn_app().await;
    import(&app, "a.csv", "id,name\n1,Ann\n", &[("table", "t")]).await;
    let appended = import(&app, "b.csv", "id,name\n2,Bob\n3,Cy\n", &[("table", "t"), ("mode", "append")]).await;
    // Someone deletes a row by hand: the rows the import added can no longer be told apart.
    app.db.execute("DELETE FROM t WHERE id = 3").await;
    let (code, body) = post(&app, &appended["id"], "undo").await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("has changed since this import"), "{body}");
    assert_eq!(rows(&app, "t").await.len(), 2, "nothing was deleted");
}

#[tokio::test]
async fn a_kept_table_goes_when_its_time_is_up() {
    let app = spawn_app_with(|c| c.keep_replaced = Duration::from_secs(2)).await;
    import(&app, "a.csv", "id\n1\n", &[("table", "t")]).await;
    let replaced = import(&app, "b.csv", "id\n2\n", &[("table", "t"), ("mode", "replace")]).await;
    assert_eq!(kept(&app).await, 1);
    for _ in 0..100 {
        if kept(&app).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(kept(&app).await, 0, "the sweep dropped the kept table");
    assert_eq!(listed(&app, &replaced["id"]).await["undo"], Value::Null);
    let (code, body) = post(&app, &replaced["id"], "undo").await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cannot be undone"), "{body}");
    assert_eq!(rows(&app, "t").await, [serde_json::json!([2])]);

    // Kept for none: a replace then offers no undo at all.
    let app = spawn_app_with(|c| c.keep_replaced = Duration::ZERO).await;
    import(&app, "a.csv", "id\n1\n", &[("table", "t")]).await;
    let replaced = import(&app, "b.csv", "id\n2\n", &[("table", "t"), ("mode", "replace")]).await;
    assert_eq!(kept(&app).await, 0);
    assert_eq!(listed(&app, &replaced["id"]).await["undo"], Value::Null);
}

#[tokio::test]
async fn the_history_filters_runs_again_and_forgets() {
    let app = spawn_app().await;
    let first = import(&app, "a.csv", "id\n1\n2\n", &[("table", "a")]).await;
    import(&app, "b.csv", "id\n1\n", &[("table", "b")]).await;
    let path = app.file("bad.csv");
    std::fs::write(&path, "id\n1\n").expect("write");
    let failed = app.start_import(&path, "bad.csv", &[("table", "a")]).await;
    assert_eq!(app.wait_final(&failed).await["status"], "failed", "the table exists and the mode is create");

    let ids = |list: &Value| -> Vec<String> {
        list.as_array().expect("list").iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
    };
    let (_, list) = app.get_json("/api/imports?status=failed").await;
    assert_eq!(ids(&list), vec![failed.as_str()]);
    let (_, list) = app.get_json("/api/imports?table=a").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (_, list) = app.get_json("/api/imports?table=a&status=succeeded").await;
    assert_eq!(ids(&list), vec![first["id"].as_str().unwrap()]);
    let (code, body) = app.get_json("/api/imports?status=sideways").await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("is not a status"), "{body}");

    // Run again: the same file, table and mode, as a new import.
    let append = import(&app, "c.csv", "id\n3\n", &[("table", "a"), ("mode", "append")]).await;
    let (code, body) = post(&app, &append["id"], "rerun").await;
    assert_eq!(code, 202, "{body}");
    let again = app.wait_final(body["id"].as_str().unwrap()).await;
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(
        (again["mode"].clone(), again["table"].clone(), again["file_name"].clone()),
        ("append".into(), "a".into(), "c.csv".into())
    );
    assert_eq!(rows(&app, "a").await.len(), 4);

    // Delete: the record, its errors and (no other import used it) its stored file; the table stays.
    let uploads = || std::fs::read_dir(app.dir.path().join("uploads")).map_or(0, |d| d.count());
    let before = uploads();
    let resp = app.client.delete(app.url(&format!("/api/imports/{failed}/record"))).send().await.expect("delete");
    assert_eq!(resp.status(), 204);
    assert_eq!(app.get_json(&format!("/api/imports/{failed}")).await.0, 404);
    assert_eq!(uploads(), before - 1, "the failed import's file is gone");
    // The appended file served two imports: deleting one record keeps it for the other.
    let c = append["id"].as_str().unwrap();
    let resp = app.client.delete(app.url(&format!("/api/imports/{c}/record"))).send().await.expect("delete");
    assert_eq!(resp.status(), 204);
    assert_eq!(uploads(), before - 1);
    let (code, body) = post(&app, &again["id"], "rerun").await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(app.wait_final(body["id"].as_str().unwrap()).await["status"], "succeeded");
    assert_eq!(rows(&app, "a").await.len(), 5);
    let resp = app
        .client
        .delete(app.url("/api/imports/0123456789abcdef0123456789abcdef/record"))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 404);
}
