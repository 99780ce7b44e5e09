//! Every cell of every file (issue 30), through the real server, on SQLite and PostgreSQL: the
//! cases as they were found in workbooks no one here wrote. A cell written as a CDATA section (in
//! an inline string or the shared strings) arrives with its text, and a row of only such cells
//! is not lost; line ends inside XML text arrive as XML reads them (CR LF and CR as LF), while an
//! escaped CR (`_x000D_`) stays a CR; a value (`<v>`) written as CDATA is read. With no header row (`header_row=none`), a first cell longer
//! than a header label may be is a cell like any other.

use crate::helpers::{on_postgres, one_sheet_parts, spawn_app, spawn_app_with, zip_parts};
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
        // Found: a value written as CDATA was "not a number", the sheet refused as damaged.
        r#"<row r="5"><c r="A5"><v><![CDATA[42]]></v></c><c r="B5" t="str"><f>A1</f><v><![CDATA[a &amp; b]]></v></c></row>"#
            .to_owned(),
    ];
    workbook(&path, &rows.concat(), "<si><t><![CDATA[shared <text>]]></t></si>");
    let id = app.start_import(&path, "cdata.xlsx", &[("table", "cells")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(4)), "{end}");
    let (_, got) = app.all_rows("cells").await;
    assert_eq!(
        got,
        vec![
            json!(["Hello", "shared <text>"]),
            json!(["a < b & c and & more", "ABC\r\nDEF"]),
            json!(["one\ntwo\nthree", "x\ny"]),
            json!(["42", "a &amp; b"]),
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

/// The parts of a package laid out another legal way: the workbook found through `_rels/.rels`
/// at `Book/Main.xml`, a sheet through a `..` target whose case differs from the archive's, the
/// shared strings through an absolute target, the styles (a date) beside the workbook.
fn relocated_parts() -> Vec<(&'static str, String)> {
    let rel = |id: &str, kind: &str, target: &str| {
        format!(
            r#"<Relationship Id="{id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#
        )
    };
    vec![
        ("_rels/.rels", format!("<Relationships>{}</Relationships>", rel("rId1", "officeDocument", "Book/Main.xml"))),
        (
            "Book/Main.xml",
            r#"<workbook xmlns:r="r"><sheets><sheet name="Data" sheetId="1" r:id="rId7"/></sheets></workbook>"#.to_owned(),
        ),
        (
            "Book/_rels/Main.xml.rels",
            format!(
                "<Relationships>{}{}{}</Relationships>",
                rel("rId7", "worksheet", "../sheets/ONE.xml"),
                rel("rId8", "sharedStrings", "/Shared/strings.xml"),
                rel("rId9", "styles", "look.xml")
            ),
        ),
        ("Shared/strings.xml", "<sst><si><t>where</t></si><si><t>here</t></si></sst>".to_owned()),
        ("Book/look.xml", r#"<styleSheet><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>"#.to_owned()),
        (
            "Sheets/one.xml",
            r#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>when</t></is></c></row>
               <row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" s="1"><v>45292</v></c></row></sheetData></worksheet>"#
                .to_owned(),
        ),
    ]
}

#[tokio::test]
async fn packages_laid_out_another_legal_way_are_read() {
    let app = spawn_app().await;
    // Found: both refused as "a zip archive but not a spreadsheet", for the reader assumed
    // `xl/workbook.xml` and its names written with forward slashes.
    let relocated = app.file("relocated.xlsx");
    zip_parts(&relocated, &relocated_parts(), None);
    let backslashed = app.file("backslashed.xlsx");
    let mut parts =
        one_sheet_parts(r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>"#);
    parts.push(("_rels/.rels", r#"<Relationships><Relationship Id="rId1" Type="http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned()));
    let parts: Vec<(String, String)> = parts.into_iter().map(|(n, t)| (n.replace('/', "\\"), t)).collect();
    let parts: Vec<(&str, String)> = parts.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    zip_parts(&backslashed, &parts, None);

    let id = app.start_import(&relocated, "relocated.xlsx", &[("table", "relocated")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(1)), "{end}");
    let (columns, rows) = app.all_rows("relocated").await;
    let names: Vec<&str> = columns.as_array().expect("columns").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["where", "when"]);
    assert_eq!(columns[1]["type"], "date", "{columns}");
    assert_eq!(rows, vec![json!(["here", "2024-01-01"])]);

    let id =
        app.start_import(&backslashed, "backslashed.xlsx", &[("table", "backslashed"), ("header_row", "none")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(2)), "{end}");
    let (_, rows) = app.all_rows("backslashed").await;
    assert_eq!(rows, vec![json!([1]), json!([2])]);
}

/// A fixture of `tests/fixtures/cells` (see its make.py).
fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cells").join(name)
}

#[tokio::test]
async fn a_sheet_of_one_cell_with_no_header_row_is_one_row_and_the_row_bound_counts_it() {
    let app = spawn_app_with(|c| c.max_rows = 2).await;
    // Found: "the sheet is empty: there is no header row".
    let id =
        app.start_import(&fixture("one-cell.xls"), "one-cell.xls", &[("table", "one"), ("header_row", "none")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(1)), "{end}");
    let (columns, rows) = app.all_rows("one").await;
    assert_eq!(columns[0]["name"], "column_1");
    assert_eq!(rows, vec![json!(["only"])]);
    // With no header row every row is data: --max-rows 2 takes two rows, not three.
    let path = app.file("three.csv");
    std::fs::write(&path, "a\nb\nc\n").expect("write");
    let id = app.start_import(&path, "three.csv", &[("table", "three"), ("header_row", "none")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "failed", "{end}");
    assert!(end["error"].as_str().is_some_and(|e| e.starts_with("the sheet has more than 2 rows")), "{end}");
    let path = app.file("two.csv");
    std::fs::write(&path, "a\nb\n").expect("write");
    let id = app.start_import(&path, "two.csv", &[("table", "two"), ("header_row", "none")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(2)), "{end}");
}

#[tokio::test]
async fn an_xls_that_declares_a_huge_extent_but_holds_four_cells_imports_in_a_few_mb() {
    // Found: refused as needing more than 1,024 MB (calamine reserved room for the 16.8 M cells
    // the sheet declares). Read here within 128 MB, the contained reader's whole address space.
    let app = spawn_app_with(|c| c.max_memory_mb = 128).await;
    let id = app.start_import(&fixture("declared.xls"), "declared.xls", &[("table", "declared")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(1)), "{end}");
    let (columns, rows) = app.all_rows("declared").await;
    assert_eq!((columns[0]["name"].as_str(), columns[1]["name"].as_str()), (Some("id"), Some("name")));
    assert_eq!(rows, vec![json!([7, "seven"])]);
}

/// What every cell of `cells.fods` (see tests/fixtures/cells/cells.py) becomes, as docs/cells.md
/// says, read from the files LibreOffice and Gnumeric made of it.
#[tokio::test]
async fn every_class_of_cell_arrives_as_the_cell_contract_says() {
    let app = spawn_app().await;
    let types = ["integer", "real", "date", "datetime", "text", "text", "boolean", "text", "text", "text", "text"];
    // The same instant, as each database's table view writes it.
    let half_second = if on_postgres() { "2024-02-29 23:59:59.5" } else { "2024-02-29 23:59:59.500" };
    for (file, times) in [
        ("cells.libreoffice.xlsx", ["10:10:10.123456", "15:30:17.999"]),
        ("cells.libreoffice.xls", ["10:10:10.123456", "15:30:17.999"]),
        ("cells.libreoffice.ods", ["10:10:10.123456", "15:30:17.999"]),
        // Gnumeric reads the .ods's times to the second: its file holds 10:10:10 and 15:30:17.
        ("cells.gnumeric.xlsx", ["10:10:10", "15:30:17"]),
    ] {
        let table = file.replace('.', "_");
        let id = app.start_import(&fixture(file), file, &[("table", &table)]).await;
        let end = app.wait_final(&id).await;
        assert_eq!((end["status"].as_str(), end["rows_done"].as_u64()), (Some("succeeded"), Some(2)), "{file}: {end}");
        assert_eq!(end["error_cells"], 2, "{file}: #DIV/0! and #N/A are counted: {end}");
        let (columns, rows) = app.all_rows(&table).await;
        let got: Vec<&str> = columns.as_array().expect("columns").iter().filter_map(|c| c["type"].as_str()).collect();
        assert_eq!(got, types, "{file}");
        assert_eq!(
            rows,
            vec![
                json!([
                    42,
                    2.5,
                    "2024-01-31",
                    "2024-01-31 12:30:15",
                    times[0],
                    "255:10:10",
                    true,
                    null,
                    "bold, and plain",
                    "one\ntwo",
                    null
                ]),
                json!([
                    -7,
                    -0.125,
                    "1900-03-01",
                    half_second,
                    times[1],
                    "36:00:00",
                    false,
                    null,
                    "x",
                    "a\nb\nc",
                    "last"
                ]),
            ],
            "{file}"
        );
    }
}
