//! Every cell of every file (issue 30), through the real server, on SQLite and PostgreSQL: the
//! cases as they were found in workbooks no one here wrote. A cell written as a CDATA section (in
//! an inline string or the shared strings) arrives with its text, and a row of only such cells
//! is not lost; line ends inside XML text arrive as XML reads them (CR LF and CR as LF), while an
//! escaped CR (`_x000D_`) stays a CR.

use crate::helpers::spawn_app;
use serde_json::json;
use std::path::Path;

/// A one-sheet workbook of `rows` (the sheet's `<sheetData>`), with `shared` as its shared strings.
fn workbook(path: &Path, rows: &str, shared: &str) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let options = zip::write::SimpleFileOptions::default();
    for (name, text) in [
        (
            "xl/workbook.xml",
            r#"<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>"#.to_owned(),
        ),
        ("xl/sharedStrings.xml", format!("<sst>{shared}</sst>")),
        ("xl/worksheets/sheet1.xml", format!("<worksheet><sheetData>{rows}</sheetData></worksheet>")),
    ] {
        zip.start_file(name, options).expect("part");
        zip.write_all(text.as_bytes()).expect("write part");
    }
    zip.finish().expect("finish");
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
