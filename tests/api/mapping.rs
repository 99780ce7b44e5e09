//! Columns and keys (issue 13): renaming, retyping and leaving out columns; matching a sheet to a
//! table that exists (and remembering how); upsert and insert-new by a key; and rows that cannot
//! go in, failing the import or skipped, each reported with the sheet's own row number. Every test
//! runs on SQLite and on PostgreSQL (`SHEETPORT_TEST_DB=postgres`).

use crate::helpers::{TestApp, spawn_app};
use serde_json::Value;
use std::path::Path;

/// Writes `text` as `name` in the test's directory and imports it with `fields`; the final state.
async fn import(app: &TestApp, name: &str, text: &str, fields: &[(&str, &str)]) -> Value {
    let path = app.file(name);
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, name, fields).await;
    app.wait_final(&id).await
}

/// The import's row errors as the JSON endpoint lists them: `(row, column, value)`.
async fn errors(app: &TestApp, id: &str) -> Vec<(u64, String, String)> {
    let (code, list) = app.get_json(&format!("/api/imports/{id}/errors?limit=1000")).await;
    assert_eq!(code, 200, "{list}");
    list.as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().expect("text").to_owned();
            (e["row"].as_u64().expect("row"), text("column"), text("value"))
        })
        .collect()
}

fn counts(done: &Value) -> [u64; 4] {
    let c = &done["counts"];
    ["inserted", "updated", "unchanged", "rejected"].map(|k| c[k].as_u64().unwrap_or_else(|| panic!("{k} in {done}")))
}

/// The `people` table's rows, read directly: `id|email|name|age`.
async fn people(app: &TestApp) -> Vec<String> {
    app.db
        .texts(
            "SELECT id || '|' || email_address || '|' || coalesce(full_name, '') || '|' || coalesce(age, -1) \
             FROM people ORDER BY id",
        )
        .await
}

const PEOPLE: &str =
    "CREATE TABLE people (id BIGINT NOT NULL PRIMARY KEY, email_address TEXT NOT NULL, full_name TEXT, age BIGINT)";

#[tokio::test]
async fn columns_are_renamed_retyped_and_left_out_as_chosen() {
    let app = spawn_app().await;
    let text = "Code,Name,Units,Notes\n00501,Paris,3,x\n00502,Berlin,5,y\n";
    let done = import(
        &app,
        "codes.csv",
        text,
        &[("table", "codes"), ("column", "Units=qty:real"), ("column", "Name=city"), ("skip_column", "Notes")],
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (columns, rows) = app.all_rows("codes").await;
    let shape: Vec<(&str, &str, &str)> = columns
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["label"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(shape, [("code", "Code", "text"), ("city", "Name", "text"), ("qty", "Units", "real")]);
    assert_eq!(rows, [serde_json::json!(["00501", "Paris", 3.0]), serde_json::json!(["00502", "Berlin", 5.0])]);

    // As JSON, the page's way; an unknown column or two columns into one name are refused up front.
    let json = r#"[{"source": "Units", "type": "text"}, {"source": "code", "skip": true}]"#;
    let done = import(&app, "codes.csv", text, &[("table", "codes_2"), ("columns", json)]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (columns, rows) = app.all_rows("codes_2").await;
    assert_eq!(columns[1]["name"], "units");
    assert_eq!(columns[1]["type"], "text");
    assert_eq!(rows[0], serde_json::json!(["Paris", "3", "x"]));
    let done = import(&app, "codes.csv", text, &[("table", "codes_3"), ("column", "Colour=c")]).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().is_some_and(|e| e.contains("no column \"Colour\"") && e.contains("\"Units\"")));
    let done = import(&app, "codes.csv", text, &[("table", "codes_3"), ("column", "Name=notes")]).await;
    assert!(done["error"].as_str().is_some_and(|e| e.contains("both go into the column \"notes\"")), "{done}");
    assert!(!app.tables().await.contains(&"codes_3".to_owned()));
    let resp = app.upload("/api/imports", &app.file("codes.csv"), "codes.csv", &[("columns", "{not json")]).await;
    assert_eq!(resp.status(), 400);
    let resp = app.upload("/api/imports", &app.file("codes.csv"), "codes.csv", &[("on_error", "shrug")]).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_bad_cell_fails_the_import_or_is_skipped_and_reported_by_its_sheet_row() {
    let app = spawn_app().await;
    // Row 1 is a title, row 2 blank, row 3 the header: rows 5 and 7 are the bad ones.
    let text = "Stock count,,\n,,\nSku,Units,When\nA1,3,2024-01-31\nA2,three,2024-02-01\nA3,5,2024-02-02\nA4,=1+1,31/02/2024\n";
    let fields = [("table", "stock"), ("column", "Units:integer"), ("column", "When:date")];
    let failed = import(&app, "stock.csv", text, &fields).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let message = failed["error"].as_str().expect("error");
    assert!(message.starts_with("2 rows have values their columns cannot take, so nothing was imported"), "{message}");
    assert!(message.contains("row 5, \"Units\": \"three\" is not a whole number"), "{message}");
    assert_eq!(failed["rows_rejected"], 2);
    assert!(!app.tables().await.contains(&"stock".to_owned()), "fail writes nothing");
    let id = failed["id"].as_str().expect("id");
    assert_eq!(
        errors(&app, id).await,
        [
            (5, "Units".into(), "three".into()),
            (7, "Units".into(), "=1+1".into()),
            (7, "When".into(), "31/02/2024".into())
        ]
    );

    let mut skip = fields.to_vec();
    skip.push(("on_error", "skip"));
    let done = import(&app, "stock.csv", text, &skip).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(counts(&done), [2, 0, 0, 2]);
    assert_eq!(done["rows_done"], 2);
    let (_, rows) = app.all_rows("stock").await;
    assert_eq!(rows, [serde_json::json!(["A1", 3, "2024-01-31"]), serde_json::json!(["A3", 5, "2024-02-02"])]);
    // The report as CSV: every error, the formula neutralised.
    let id = done["id"].as_str().expect("id");
    let resp = app.client.get(app.url(&format!("/api/imports/{id}/errors.csv"))).send().await.expect("csv");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = resp.text().await.expect("text");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "row,column,value,reason");
    assert_eq!(lines[1], "5,Units,three,is not a whole number");
    assert_eq!(lines[2], "7,Units,\"'=1+1\",is not a whole number");
    assert!(lines[3].starts_with("7,When,31/02/2024,is not a date"), "{csv}");
    assert_eq!(lines.len(), 4);
    // Compressed when asked (a browser always asks): the whole report, to its end.
    let url = app.url(&format!("/api/imports/{id}/errors.csv"));
    let resp = app.client.get(url).header("accept-encoding", "gzip").send().await.expect("csv");
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let gz = resp.bytes().await.expect("the compressed report, to its end");
    assert_eq!(gz[..2], [0x1f, 0x8b]);
}

#[tokio::test]
async fn a_sheet_goes_into_an_existing_table_by_matched_names_and_the_mapping_is_remembered() {
    let app = spawn_app().await;
    app.db.execute(PEOPLE).await;
    let text = "ID,E-mail,Full Name,Age,Extra\n1,a@x.org,Ann,30,q\n2,b@x.org,Bob,,r\n";
    let path = app.file("people.csv");
    std::fs::write(&path, text).expect("write");
    let resp = app.upload("/api/uploads", &path, "people.csv", &[]).await;
    let upload = resp.json::<Value>().await.expect("json")["upload_id"].as_str().expect("id").to_owned();
    let (code, found) = app.get_json(&format!("/api/uploads/{upload}?table=people")).await;
    assert_eq!(code, 200, "{found}");
    let target = &found["target"];
    assert_eq!(target["table"], "people");
    assert_eq!(target["key"], serde_json::json!(["id"]));
    assert_eq!(target["remembered"], false);
    let goes: Vec<String> = target["columns"]
        .as_array()
        .expect("choices")
        .iter()
        .map(|c| format!("{}→{}", c["source"].as_str().unwrap(), c["target"].as_str().unwrap_or("skip")))
        .collect();
    assert_eq!(goes, ["ID→id", "E-mail→email_address", "Full Name→full_name", "Age→age", "Extra→skip"]);
    let required: Vec<bool> =
        target["shape"]["columns"].as_array().expect("cols").iter().map(|c| c["required"] == true).collect();
    assert_eq!(required, [true, true, false, false]);

    // Upsert with no key named takes the table's own (its primary key).
    let done = import(&app, "people.csv", text, &[("table", "people"), ("mode", "upsert")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(counts(&done), [2, 0, 0, 0]);
    assert_eq!(people(&app).await, ["1|a@x.org|Ann|30", "2|b@x.org|Bob|-1"]);

    // The same file again changes nothing; a changed one updates, inserts, and leaves alone.
    let again = import(&app, "people.csv", text, &[("table", "people"), ("mode", "upsert")]).await;
    assert_eq!(counts(&again), [0, 0, 2, 0], "{again}");
    let changed = "ID,E-mail,Full Name,Age,Extra\n1,a@x.org,Ann,31,q\n2,b@x.org,Bob,,r\n3,c@x.org,Cy,5,s\n";
    let done = import(&app, "people.csv", changed, &[("table", "people"), ("mode", "upsert"), ("key", "id")]).await;
    assert_eq!(counts(&done), [1, 1, 1, 0], "{done}");
    assert_eq!(people(&app).await, ["1|a@x.org|Ann|31", "2|b@x.org|Bob|-1", "3|c@x.org|Cy|5"]);

    // Insert-new keeps the values the table has.
    let newer = "ID,E-mail,Full Name,Age\n1,z@x.org,Zed,99\n4,d@x.org,Di,7\n";
    let done = import(&app, "people.csv", newer, &[("table", "people"), ("mode", "insert-new")]).await;
    assert_eq!(counts(&done), [1, 0, 1, 0], "{done}");
    assert_eq!(people(&app).await[0], "1|a@x.org|Ann|31");
    assert_eq!(people(&app).await.len(), 4);

    // A bad cell under "fail" leaves the table exactly as it was; under "skip" only it stays out.
    let before = people(&app).await;
    let bad = "ID,E-mail,Full Name,Age\n1,new@x.org,Ann,32\n5,e@x.org,Eve,old\n";
    let done = import(&app, "bad.csv", bad, &[("table", "people"), ("mode", "upsert")]).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().is_some_and(|e| e.contains("row 3, \"Age\": \"old\" is not a whole number")));
    assert_eq!(people(&app).await, before);
    let done = import(&app, "bad.csv", bad, &[("table", "people"), ("mode", "upsert"), ("on_error", "skip")]).await;
    assert_eq!(counts(&done), [0, 1, 0, 1], "{done}");
    assert_eq!(people(&app).await[0], "1|new@x.org|Ann|32");
    assert_eq!(people(&app).await.len(), before.len());

    // A required column nothing fills is refused before anything is read.
    let done = import(&app, "people.csv", "ID,Name\n9,Nine\n", &[("table", "people"), ("mode", "upsert")]).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().is_some_and(|e| e.contains("\"email_address\"")), "{done}");

    // The last mapping is offered first: "Mail" went into email_address by hand, and is again.
    let odd = "ID,Mail,Full Name\n5,e@x.org,Eve\n";
    let fields = [("table", "people"), ("mode", "upsert"), ("column", "Mail=email_address")];
    assert_eq!(import(&app, "odd.csv", odd, &fields).await["status"], "succeeded");
    let resp = app.upload("/api/uploads", &app.file("odd.csv"), "odd.csv", &[]).await;
    let upload = resp.json::<Value>().await.expect("json")["upload_id"].as_str().expect("id").to_owned();
    let (_, found) = app.get_json(&format!("/api/uploads/{upload}?table=people")).await;
    assert_eq!(found["target"]["remembered"], true);
    assert_eq!(found["target"]["columns"][1]["target"], "email_address", "{found}");
}

#[tokio::test]
async fn a_key_needs_a_unique_index_and_may_appear_once_per_file() {
    let app = spawn_app().await;
    app.db.execute("CREATE TABLE items (code TEXT, price REAL)").await;
    app.db.execute("INSERT INTO items VALUES ('a', 1.0)").await;
    let text = "code,price\na,2\nb,3\n";
    let done = import(&app, "items.csv", text, &[("table", "items"), ("mode", "upsert"), ("key", "code")]).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().is_some_and(|e| e.contains("no unique index on \"code\"")), "{done}");
    let fields = [("table", "items"), ("mode", "upsert"), ("key", "code"), ("add_unique_index", "true")];
    let done = import(&app, "items.csv", text, &fields).await;
    assert_eq!(counts(&done), [1, 1, 0, 0], "{done}");
    let rows = app.db.texts("SELECT code || '|' || price FROM items ORDER BY code").await;
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with("a|2"), "{rows:?}");

    // A key twice in the file: fail leaves the table as it was; skip keeps the first.
    let before = app.db.texts("SELECT code || '|' || price FROM items ORDER BY code").await;
    let twice = "code,price\nc,4\nd,5\nc,6\n";
    let done = import(&app, "twice.csv", twice, &[("table", "items"), ("mode", "upsert"), ("key", "code")]).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().is_some_and(|e| e.contains("row 4") && e.contains("repeats the key of row 2")));
    assert_eq!(app.db.texts("SELECT code || '|' || price FROM items ORDER BY code").await, before);
    let fields = [("table", "items"), ("mode", "upsert"), ("key", "code"), ("on_error", "skip")];
    let done = import(&app, "twice.csv", twice, &fields).await;
    assert_eq!(counts(&done), [2, 0, 0, 1], "{done}");
    assert_eq!(errors(&app, done["id"].as_str().unwrap()).await, [(4, "code".into(), "c".into())]);
    let c = app.db.texts("SELECT code || '|' || price FROM items WHERE code = 'c'").await;
    assert!(c[0].starts_with("c|4"), "{c:?}");

    // An empty key is a row error; append takes no key.
    let done = import(&app, "gap.csv", "code,price\n,7\ne,8\n", &fields).await;
    assert_eq!(counts(&done), [1, 0, 0, 1], "{done}");
    let done =
        import(&app, "gap.csv", "code,price\ne,8\n", &[("table", "items"), ("mode", "append"), ("key", "code")]).await;
    assert!(done["error"].as_str().is_some_and(|e| e.contains("(append) adds every one and has no key")), "{done}");
}

#[tokio::test]
async fn create_and_replace_with_a_key_make_its_unique_index() {
    let app = spawn_app().await;
    let text = "sku,qty\nx,1\ny,2\n";
    let done = import(&app, "skus.csv", text, &[("table", "skus"), ("key", "sku")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    // The index is there: an upsert needs no offer to make one.
    let done =
        import(&app, "skus.csv", "sku,qty\nx,5\n", &[("table", "skus"), ("mode", "upsert"), ("key", "sku")]).await;
    assert_eq!(counts(&done), [0, 1, 0, 0], "{done}");
    let done = import(&app, "skus.csv", text, &[("table", "skus"), ("mode", "replace"), ("key", "sku")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (_, rows) = app.all_rows("skus").await;
    assert_eq!(rows.len(), 2);
    let done = import(&app, "skus.csv", "sku,qty\nz,1\n", &[("table", "skus"), ("mode", "upsert")]).await;
    assert_eq!(counts(&done), [1, 0, 0, 0], "the table's own key is found: {done}");
}

#[tokio::test]
async fn dates_typed_as_text_in_a_libreoffice_workbook_become_dates_or_row_errors() {
    let app = spawn_app().await;
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messy/messy.libreoffice.xlsx");
    let fields = [("table", "sales"), ("stop_at_blank", "true"), ("column", "Sold on:date"), ("on_error", "skip")];
    let id = app.start_import(&file, "messy.xlsx", &fields).await;
    let done = app.wait_final(&id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(counts(&done), [3, 0, 0, 1]);
    assert_eq!(errors(&app, &id).await, [(8, "Sold on".into(), "15/04/2024".into())]);
    let (columns, rows) = app.all_rows("sales").await;
    assert_eq!(columns[3]["type"], "date");
    assert_eq!(rows[1][3], "2024-02-29", "a date typed as text is read as the date it spells");
}

#[tokio::test]
async fn row_errors_are_grouped_by_column_and_reason_with_their_most_common_values() {
    let app = spawn_app().await;
    let done = import(&app, "stock.csv", "sku,qty,day\na,1,2024-01-02\n", &[("table", "stock")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let bad = "sku,qty,day\nb,n/a,2024-01-03\nc,n/a,2024-01-04\nd,12 pcs,soon\ne,n/a,2024-01-05\nf,2,2024-01-06\n\
               g,12 pcs,2024-01-07\nh,x,2024-01-08\ni,y,2024-01-09\n";
    let fields = [("table", "stock"), ("mode", "append"), ("on_error", "skip")];
    let done = import(&app, "bad.csv", bad, &fields).await;
    assert_eq!(done["counts"]["rejected"], 7, "{done}");
    let id = done["id"].as_str().expect("id");
    let (code, groups) = app.get_json(&format!("/api/imports/{id}/errors/groups")).await;
    assert_eq!(code, 200, "{groups}");
    assert_eq!(
        groups,
        serde_json::json!([
            { "column": "qty", "reason": "is not a whole number", "rows": 7, "common": [
                { "value": "n/a", "rows": 3 }, { "value": "12 pcs", "rows": 2 }, { "value": "x", "rows": 1 }
            ] },
            { "column": "day", "reason": "is not a date (write dates as 2024-01-31)", "rows": 1, "common": [
                { "value": "soon", "rows": 1 }
            ] }
        ])
    );
    // Counted once more when it ended and kept with it: the page reads that, the same groups.
    kept_groups(&app, id).await;
    let (_, again) = app.get_json(&format!("/api/imports/{id}/errors/groups")).await;
    assert_eq!(again, groups);
    let (code, _) = app.get_json("/api/imports/0123456789abcdef0123456789abcdef/errors/groups").await;
    assert_eq!(code, 404);
}

/// Waits until import `id`'s error groups are counted and kept (`db::errors::summarize`).
pub async fn kept_groups(app: &TestApp, id: &str) {
    let sql = format!("SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND error_groups IS NOT NULL");
    for _ in 0..200 {
        if app.db.scalar(&sql).await == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("import {id}'s error groups were not kept");
}
