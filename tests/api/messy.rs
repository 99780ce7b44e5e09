//! Workbooks no one here wrote (tests/fixtures/messy, made by LibreOffice and Gnumeric from the
//! flat ODS files beside them, see make.sh): a merged title block, a note and a blank row above a
//! header with a merged cell, leading-zero codes, dates typed as text, a totals row below a blank
//! row, a second sheet; and a workbook in the 1904 date system. Each is imported through the server
//! and every cell checked.

use crate::helpers::spawn_app;
use serde_json::{Value, json};
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messy").join(name)
}

/// Numbers compared as numbers (10 and 10.0 are one value), everything else exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[tokio::test]
async fn the_messy_sales_sheet_arrives_cell_for_cell_from_every_writer_and_format() {
    let app = spawn_app().await;
    let expected = [
        json!(["00501", "EMEA", "Paris", "2024-01-31", 3, 1.5]),
        json!(["00502", "EMEA", "Berlin", "2024-02-29", 5, 2.25]),
        json!(["01003", "APAC", "Tokyo", "2024-03-15", 7, 0.99]),
        json!(["10004", "AMER", "Lima", "15/04/2024", 2, 10]),
    ];
    for (i, file) in ["messy.libreoffice.xlsx", "messy.libreoffice.ods", "messy.libreoffice.xls", "messy.gnumeric.xlsx"]
        .iter()
        .enumerate()
    {
        let table = format!("sales_{i}");
        let id = app.start_import(&fixture(file), file, &[("table", &table), ("stop_at_blank", "true")]).await;
        let done = app.wait_final(&id).await;
        assert_eq!(done["status"], "succeeded", "{file}: {done}");
        assert_eq!(done["sheet"], "Sales", "{file}");
        let (columns, rows) = app.all_rows(&table).await;
        let names: Vec<&str> = columns.as_array().expect("columns").iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["code", "region", "column_3", "sold_on", "units", "price"], "{file}");
        let types: Vec<&str> = columns.as_array().expect("columns").iter().filter_map(|c| c["type"].as_str()).collect();
        assert_eq!(
            types,
            ["text", "text", "text", "text", "integer", "real"],
            "{file}: codes stay text, mixed dates are text"
        );
        assert_eq!(rows.len(), expected.len(), "{file}: the totals row below the blank row is left out");
        for (got, want) in rows.iter().zip(&expected) {
            let (got, want) = (got.as_array().expect("row"), want.as_array().expect("row"));
            assert!(
                got.len() == want.len() && got.iter().zip(want).all(|(a, b)| same(a, b)),
                "{file}: {got:?} ≠ {want:?}"
            );
        }
    }
    // The second sheet, by name; without stop_at_blank the totals row is data like any other.
    let path = fixture("messy.libreoffice.xlsx");
    let id =
        app.start_import(&path, "messy.xlsx", &[("table", "notes"), ("sheet", "Notes"), ("header_row", "none")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (_, rows) = app.all_rows("notes").await;
    assert_eq!(rows, vec![json!(["Figures are provisional."]), json!(["Contact: finance@example.com"])]);
    let id = app.start_import(&path, "messy.xlsx", &[("table", "with_total")]).await;
    assert_eq!(app.wait_final(&id).await["rows_done"], 5);
}

#[tokio::test]
async fn a_workbook_in_the_1904_date_system_keeps_its_dates() {
    let app = spawn_app().await;
    for (i, file) in [
        "dates1904.libreoffice.xlsx",
        "dates1904.libreoffice.ods",
        "dates1904.libreoffice.xls",
        "dates1904.gnumeric.xlsx",
    ]
    .iter()
    .enumerate()
    {
        let table = format!("ledger_{i}");
        let id = app.start_import(&fixture(file), file, &[("table", &table)]).await;
        assert_eq!(app.wait_final(&id).await["status"], "succeeded", "{file}");
        let (columns, rows) = app.all_rows(&table).await;
        assert_eq!(columns[0]["type"], "date", "{file}");
        let days: Vec<&str> = rows.iter().filter_map(|r| r[0].as_str()).collect();
        assert_eq!(days, ["1904-01-02", "2000-02-29", "2024-12-31"], "{file}");
        let amounts: Vec<f64> = rows.iter().filter_map(|r| r[1].as_f64()).collect();
        assert_eq!(amounts, [1.0, 2.5, -3.0], "{file}");
    }
}

#[tokio::test]
async fn numbers_shown_with_leading_zeros_arrive_as_shown() {
    let app = spawn_app().await;
    for (i, file) in ["codes.libreoffice.xlsx", "codes.libreoffice.ods", "codes.gnumeric.xlsx"].iter().enumerate() {
        let table = format!("stores_{i}");
        let id = app.start_import(&fixture(file), file, &[("table", &table)]).await;
        assert_eq!(app.wait_final(&id).await["status"], "succeeded", "{file}");
        let (columns, rows) = app.all_rows(&table).await;
        let types: Vec<&str> = columns.as_array().expect("columns").iter().filter_map(|c| c["type"].as_str()).collect();
        assert_eq!(types, ["text", "text", "integer", "real"], "{file}: a zero-padded number is a code");
        let want = [
            json!(["00501", "Holtsville", 12, 1250.5]),
            json!(["02134", "Allston", 7, 980]),
            json!(["10004", "New York", 30, 4100]),
        ];
        assert_eq!(rows.len(), want.len(), "{file}");
        for (got, want) in rows.iter().zip(&want) {
            let (got, want) = (got.as_array().expect("row"), want.as_array().expect("row"));
            assert!(got.iter().zip(want).all(|(a, b)| same(a, b)), "{file}: {got:?} ≠ {want:?}");
        }
    }
}
