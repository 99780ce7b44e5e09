//! The page's path: store a file, look into it (sheets, columns, types, first rows), then start
//! the import of the chosen sheet through the `start_import` server function.

use crate::helpers::spawn_app;
use rust_xlsxwriter::{Formula, Workbook};
use serde_json::Value;

/// A workbook whose first sheet is notes and whose second holds the data, with formulas whose
/// cached results are numbers, text, and (in row 5) a `#DIV/0!` error.
fn two_sheets(path: &std::path::Path) {
    let mut wb = Workbook::new();
    let notes = wb.add_worksheet().set_name("Read me").expect("name");
    notes.write_string(0, 0, "This workbook has its data on the next sheet").expect("write");
    let data = wb.add_worksheet().set_name("Data").expect("name");
    for (c, h) in ["Order ID", "Amount", "Paid", "Per unit", "Label"].iter().enumerate() {
        data.write_string(0, c as u16, *h).expect("write");
    }
    for r in 1..=250u32 {
        data.write_number(r, 0, f64::from(r)).expect("write");
        data.write_number(r, 1, f64::from(r) * 0.5).expect("write");
        data.write_boolean(r, 2, r % 3 == 0).expect("write");
        let per_unit = if r == 5 {
            Formula::new("=B6/0").set_result("#DIV/0!")
        } else {
            Formula::new(format!("=B{}/4", r + 1)).set_result(format!("{}", f64::from(r) * 0.125))
        };
        data.write_formula(r, 3, per_unit).expect("write");
        data.write_formula(r, 4, Formula::new(format!("=\"n\"&A{}", r + 1)).set_result(format!("n{r}")))
            .expect("write");
    }
    wb.save(path).expect("save");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_upload_is_previewed_per_sheet_and_imported_from_the_chosen_one() {
    let app = spawn_app().await;
    two_sheets(&app.file("book.xlsx"));
    let resp = app.upload("/api/uploads", &app.file("book.xlsx"), "Quarterly book.xlsx", &[]).await;
    assert_eq!(resp.status(), 201);
    let upload: Value = resp.json().await.expect("json");
    assert_eq!(upload["format"], "xlsx");
    let upload_id = upload["upload_id"].as_str().expect("upload id");

    let (code, first) = app.get_json(&format!("/api/uploads/{upload_id}")).await;
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["sheets"], serde_json::json!(["Read me", "Data"]));
    assert_eq!(first["sheet"], "Read me");
    assert_eq!(first["table"], "quarterly_book");

    let (code, data) = app.get_json(&format!("/api/uploads/{upload_id}?sheet=Data")).await;
    assert_eq!(code, 200, "{data}");
    assert_eq!(data["sheet"], "Data");
    assert_eq!(data["rows_total"], 250);
    let columns: Vec<(String, String, String)> = data["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").into(),
                c["type"].as_str().unwrap_or("").into(),
                c["label"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("order_id".into(), "integer".into(), "Order ID".into()),
            ("amount".into(), "real".into(), "Amount".into()),
            ("paid".into(), "boolean".into(), "Paid".into()),
            ("per_unit".into(), "real".into(), "Per unit".into()),
            ("label".into(), "text".into(), "Label".into())
        ]
    );
    assert_eq!(data["rows"][0], serde_json::json!([1, 0.5, false, 0.125, "n1"]));
    assert_eq!(data["rows"][4], serde_json::json!([5, 2.5, false, null, "n5"]), "an error cell is NULL");
    assert_eq!(data["rows"].as_array().map(Vec::len), Some(8));

    let (code, missing) = app.get_json(&format!("/api/uploads/{upload_id}?sheet=Nope")).await;
    assert_eq!(code, 422);
    assert!(missing["error"].as_str().unwrap_or("").contains("its sheets are: Read me, Data"), "{missing}");
    let (code, _) = app.get_json("/api/uploads/0123456789abcdef0123456789abcdef").await;
    assert_eq!(code, 404);

    // The page starts the import with the server function, as a browser would call it.
    let resp = app
        .client
        .post(app.url("/rpc/start_import"))
        .form(&[("request[upload_id]", upload_id), ("request[sheet]", "Data"), ("request[table]", "orders")])
        .send()
        .await
        .expect("server fn");
    assert_eq!(resp.status(), 200);
    let id: String = resp.json().await.expect("import id");
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(end["sheet"], "Data");
    assert_eq!(end["error_cells"], 1, "the #DIV/0! cell is counted");
    let (_, rows) = app.all_rows("orders").await;
    assert_eq!(rows.len(), 250);
    assert_eq!(rows[2], serde_json::json!([3, 1.5, true, 0.375, "n3"]));
    assert_eq!(rows[4][3], serde_json::Value::Null);
}
