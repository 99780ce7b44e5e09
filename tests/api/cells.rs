//! Every cell of every file (issue 30), through the real server, on SQLite and PostgreSQL: the
//! cases as they were found in workbooks no one here wrote. A cell written as a CDATA section (in
//! an inline string or the shared strings) arrives with its text, and a row of only such cells
//! is not lost; line ends inside XML text arrive as XML reads them (CR LF and CR as LF), while an
//! escaped CR (`_x000D_`) stays a CR. With no header row (`header_row=none`), a first cell longer
//! than a header label may be is a cell like any other.

use crate::helpers::{one_sheet_parts, spawn_app, zip_parts};
use serde_json::json;
use std::path::Path;

/// A one-sheet workbook of `rows` (the sheet's `<sheetData>`), with `shared` as its shared strings.
fn workbook(path: &Path, rows: &str, shared: &str) {
    let mut parts = one_sheet_parts(rows);
    parts.push(("xl/sharedStrings.xml", format!("<sst>{shared}</sst>")));
    zip_parts(path, &parts, None);
}

/// An inline string cell.
fn inline(r: &str, t: &str) -> String {
    format!(r#"<c r="{r}" t="inlineStr"><is><t>{t}</t></is></c>"#)
}

#[tokio::test]
async fn cdata_cells_and_line_ends_arrive_as_written() {
    let app = spawn_app().await;
    let path = app.file("cdata.xlsx");
    let rows = [
        format!(r#"<row r="1">{}{}</row>"#, inline("A1", "name"), inline("B1", "note")),
        // Found: read as empty, so this row of only CDATA cells vanished ("imported 1 rows").
        format!(r#"<row r="2">{}<c r="B2" t="s"><v>0</v></c></row>"#, inline("A2", "<![CDATA[Hello]]>")),
        format!(
            r#"<row r="3">{}{}</row>"#,
            inline("A3", "<![CDATA[a < b & c]]> and &amp; more"),
            // Found: `ABC\r\r\nDEF`, where every spreadsheet program shows `ABC\r\nDEF`.
            inline("B3", "ABC_x000D_\r\nDEF")
        ),
        format!(r#"<row r="4">{}{}</row>"#, inline("A4", "one\r\ntwo\rthree"), inline("B4", "<![CDATA[x\r\ny]]>")),
    ];
    workbook(&path, &rows.concat(), "<si><t><![CDATA[shared <text>]]></t></si>");
    let id = app.start_import(&path, "cdata.xlsx", &[("table", "cells")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(3)), "{end}");
    let (_, got) = app.all_rows("cells").await;
    assert_eq!(
        got,
        vec![
            json!(["Hello", "shared <text>"]),
            json!(["a < b & c and & more", "ABC\r\nDEF"]),
            json!(["one\ntwo\nthree", "x\ny"]),
        ]
    );
}

#[tokio::test]
async fn a_long_first_cell_is_a_cell_when_no_row_is_the_header() {
    let app = spawn_app().await;
    let long = "x".repeat(2_000);
    let path = app.file("long.csv");
    std::fs::write(&path, format!("{long},1\nshort,2\n")).expect("write");
    // Found: refused "as a header" although no header was asked for (a cell may hold 1 MB).
    let id = app.start_import(&path, "long.csv", &[("table", "raw"), ("header_row", "none")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(2)), "{end}");
    let (_, rows) = app.all_rows("raw").await;
    assert_eq!(rows, vec![json!([long, "1"]), json!(["short", "2"])]);
    // Taken as the header, it is a label too long, said in words.
    let id = app.start_import(&path, "long.csv", &[("table", "named"), ("header_row", "1")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "failed", "{end}");
    assert!(
        end["error"].as_str().is_some_and(|e| e.starts_with("the header of column 1 is 2,000 bytes long")),
        "{end}"
    );
}
