//! The header row (issue 13): found below a title block, said in the preview, chosen by the person
//! over HTTP and at the command line; the import reads the rows the preview showed.

use crate::helpers::spawn_app;
use serde_json::Value;

const TITLED: &str = "Sales 2024,,\nMade by finance,,\n,,\nRegion,Units,Price\nnorth,3,1.5\nsouth,5,2.5\n";

#[tokio::test]
async fn a_title_block_is_skipped_and_the_person_may_choose_another_row_or_none() {
    let app = spawn_app().await;
    let path = app.file("sales.csv");
    std::fs::write(&path, TITLED).expect("write");
    let resp = app.upload("/api/uploads", &path, "sales.csv", &[]).await;
    assert_eq!(resp.status(), 201);
    let upload = resp.json::<Value>().await.expect("json")["upload_id"].as_str().expect("id").to_owned();
    let (code, found) = app.get_json(&format!("/api/uploads/{upload}")).await;
    assert_eq!(code, 200, "{found}");
    assert_eq!(found["header_row"], 4);
    let names: Vec<&str> =
        found["columns"].as_array().expect("columns").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["region", "units", "price"]);
    let (_, none) = app.get_json(&format!("/api/uploads/{upload}?header_row=none")).await;
    assert_eq!(none["header_row"], Value::Null);
    assert_eq!(none["rows"].as_array().map(Vec::len), Some(5));
    let (code, bad) = app.get_json(&format!("/api/uploads/{upload}?header_row=zero")).await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad["error"].as_str().is_some_and(|e| e.contains("not a header row")), "{bad}");

    // The import finds the same row; asked for none, every row is data.
    let id = app.start_import(&path, "sales.csv", &[("table", "found")]).await;
    let done = app.wait_final(&id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (columns, rows) = app.all_rows("found").await;
    let names: Vec<&str> = columns.as_array().expect("columns").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["region", "units", "price"]);
    assert_eq!(rows.len(), 2);
    let id = app.start_import(&path, "sales.csv", &[("table", "raw"), ("header_row", "none")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (columns, rows) = app.all_rows("raw").await;
    assert_eq!(columns[0]["name"], "column_1");
    assert_eq!(rows.len(), 5);
    let id = app.start_import(&path, "sales.csv", &[("table", "nine"), ("header_row", "9")]).await;
    let failed = app.wait_final(&id).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("no row 9")), "{failed}");
    let resp = app.upload("/api/imports", &path, "sales.csv", &[("header_row", "first")]).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_totals_block_below_an_empty_row_is_left_out_when_asked() {
    let app = spawn_app().await;
    let path = app.file("totals.csv");
    std::fs::write(&path, "Region,Units\nnorth,3\nsouth,5\n\nTotal,8\n").expect("write");
    let resp = app.upload("/api/uploads", &path, "totals.csv", &[]).await;
    let upload = resp.json::<Value>().await.expect("json")["upload_id"].as_str().expect("id").to_owned();
    let (_, all) = app.get_json(&format!("/api/uploads/{upload}")).await;
    assert_eq!((all["rows"].as_array().map(Vec::len), &all["stop_at_blank"]), (Some(3), &Value::Bool(false)));
    let (_, cut) = app.get_json(&format!("/api/uploads/{upload}?stop_at_blank=true")).await;
    assert_eq!((cut["rows"].as_array().map(Vec::len), &cut["stop_at_blank"]), (Some(2), &Value::Bool(true)));

    let id = app.start_import(&path, "totals.csv", &[("table", "cut"), ("stop_at_blank", "on")]).await;
    let done = app.wait_final(&id).await;
    assert_eq!((done["status"].as_str(), done["rows_done"].as_u64()), (Some("succeeded"), Some(2)), "{done}");
    let id = app.start_import(&path, "totals.csv", &[("table", "all")]).await;
    assert_eq!(app.wait_final(&id).await["rows_done"], 3);
    let resp = app.upload("/api/imports", &path, "totals.csv", &[("stop_at_blank", "maybe")]).await;
    assert_eq!(resp.status(), 400);
}
