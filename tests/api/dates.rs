//! Dates that could be read two ways (issue 28, point 4), on SQLite and PostgreSQL alike: a column
//! of text dates (`03/04/2024`) is checked over every row, not the sample, so a value far down
//! decides it and the preview says which; a column no value decides is counted as ambiguous and
//! the person asked; the choice is the column's date format (`column=Sold on:date:%d/%m/%Y`, the
//! `columns` JSON, `--column` on the command line), read exactly so, and remembered with the
//! table's mapping.

use crate::cli::run;
use crate::helpers::{TestApp, TestDb, spawn_app};
use serde_json::Value;

/// Rows of the long sheet: well past the 1,000 rows a preview samples for types.
const ROWS: usize = 3_000;
/// The row (of the sheet, the header being row 1) whose `Sold on` has a day over 12.
const DECIDING_ROW: usize = 2_901;

/// A CSV of [`ROWS`] rows: `Sold on` holds dates whose day and month are both 12 or less (so
/// either order reads them) but for one row far down, `Paid on` only such dates; `Units` a number.
fn long_csv() -> (String, u64, u64) {
    let mut text = String::from("Sold on,Units,Paid on\n");
    let (mut sold_ambiguous, mut paid_ambiguous) = (0, 0);
    for i in 0..ROWS {
        let row = i + 2;
        let (d, m) = (i % 12 + 1, (i / 12) % 12 + 1);
        let sold = if row == DECIDING_ROW { "25/03/2024".to_owned() } else { format!("{d:02}/{m:02}/2024") };
        let paid = format!("{m}/{d}/2024");
        if row != DECIDING_ROW && d != m {
            sold_ambiguous += 1;
        }
        if d != m {
            paid_ambiguous += 1;
        }
        text.push_str(&format!("{sold},{i},{paid}\n"));
    }
    (text, sold_ambiguous, paid_ambiguous)
}

/// Stores `text` as `name` (`POST /api/uploads`) and previews it with `query`; the preview.
async fn preview(app: &TestApp, name: &str, text: &str, query: &str) -> Value {
    let path = app.file(name);
    std::fs::write(&path, text).expect("write");
    let resp = app.upload("/api/uploads", &path, name, &[]).await;
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.expect("json")["upload_id"].as_str().expect("id").to_owned();
    let (code, body) = app.get_json(&format!("/api/uploads/{id}{query}")).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// The preview's finding about the column `name`.
fn date_column<'a>(preview: &'a Value, name: &str) -> &'a Value {
    preview["dates"]
        .as_array()
        .expect("a list of date columns")
        .iter()
        .find(|d| d["column"] == name)
        .unwrap_or_else(|| panic!("no date finding for {name}: {preview}"))
}

/// Imports `text` as `name` with `fields`; the final state.
async fn import(app: &TestApp, name: &str, text: &str, fields: &[(&str, &str)]) -> Value {
    let path = app.file(name);
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, name, fields).await;
    app.wait_final(&id).await
}

/// One column of a table's rows, through the rows endpoint, as JSON text.
async fn column(app: &TestApp, table: &str, name: &str) -> Vec<String> {
    let (columns, rows) = app.all_rows(table).await;
    let at = columns.as_array().expect("columns").iter().position(|c| c["name"] == name).expect("the column");
    rows.iter().map(|r| r[at].as_str().map_or_else(|| r[at].to_string(), str::to_owned)).collect()
}

#[tokio::test]
async fn the_whole_column_decides_the_order_or_the_preview_counts_the_ambiguous_dates_and_asks() {
    let app = spawn_app().await;
    let (text, sold_ambiguous, paid_ambiguous) = long_csv();
    let p = preview(&app, "sales.csv", &text, "").await;
    assert_eq!(p["rows_total"], ROWS as u64, "read to the end, the rows are counted");
    let names: Vec<&str> = p["dates"].as_array().expect("dates").iter().filter_map(|d| d["column"].as_str()).collect();
    assert_eq!(names, ["sold_on", "paid_on"], "the text date columns, not the numbers");

    // One value in row 2,901, far past the sample, decides `Sold on`; the preview says which.
    let sold = date_column(&p, "sold_on");
    assert_eq!(sold["decided"], "%d/%m/%Y", "{sold}");
    assert_eq!(sold["dates"], ROWS as u64);
    assert_eq!(sold["ambiguous"], sold_ambiguous);
    assert_eq!((sold["day_first"].as_u64(), sold["month_first"].as_u64()), (Some(1), Some(0)));
    let note = sold["note"].as_str().expect("note");
    assert!(
        note.starts_with(&format!(
            "The dates in \"Sold on\" are read as day/month/year: 25/03/2024 in row {} has no month 25.",
            sheetport::format::count(DECIDING_ROW as u64)
        )),
        "{note}"
    );

    // Nothing decides `Paid on`: how many could be either, and the question; no guess.
    let paid = date_column(&p, "paid_on");
    assert!(paid["decided"].is_null(), "{paid}");
    assert_eq!(paid["ambiguous"], paid_ambiguous);
    assert_eq!(
        (paid["day_first_format"].as_str(), paid["month_first_format"].as_str()),
        (Some("%d/%m/%Y"), Some("%m/%d/%Y"))
    );
    let note = paid["note"].as_str().expect("note");
    assert!(
        note.starts_with(&format!(
            "{} of the 3,000 dates in \"Paid on\" could be day/month or month/day (1/2/2024 in row 3: 1 February or \
             2 January?), and none says which. Choose how they are written.",
            sheetport::format::count(paid_ambiguous)
        )),
        "{note}"
    );
    // A short file is checked whole too, and a file without such dates has none.
    let short = preview(&app, "short.csv", "When,N\n03/04/2024,1\n13/04/2024,2\n", "").await;
    assert_eq!(date_column(&short, "when")["decided"], "%d/%m/%Y");
    let plain = preview(&app, "plain.csv", "When,N\n2024-04-03,1\n", "").await;
    assert_eq!(plain["dates"], serde_json::json!([]));
}

#[tokio::test]
async fn the_chosen_format_reads_each_date_and_refuses_what_is_not_so_written() {
    let app = spawn_app().await;
    let text = "Sold on,Units\n03/04/2024,1\n04/03/2024,2\n12/31/2024,3\n2024-05-06,4\n,5\n";
    // Day first: 12/31/2024 has no month 31 and is a row error; an ISO date says its order itself.
    let done =
        import(&app, "dm.csv", text, &[("table", "dm"), ("column", "Sold on:date:%d/%m/%Y"), ("on_error", "skip")])
            .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["counts"]["rejected"], 1, "{done}");
    assert_eq!(column(&app, "dm", "sold_on").await, ["2024-04-03", "2024-03-04", "2024-05-06", "null"]);
    let id = done["id"].as_str().expect("id");
    let (_, errors) = app.get_json(&format!("/api/imports/{id}/errors")).await;
    assert_eq!(errors[0]["row"], 4);
    assert_eq!(errors[0]["value"], "12/31/2024");
    assert_eq!(errors[0]["reason"], "is not a date written day/month/year, such as 31/01/2024");

    // Month first, through the `columns` JSON, with a time: the same text, other days.
    let columns = r#"[{"source": "Sold on", "type": "datetime", "format": "%m/%d/%Y %H:%M"}]"#;
    let text = "Sold on,Units\n03/04/2024 13:30,1\n12/31/2024,3\n";
    let done = import(&app, "md.csv", text, &[("table", "md"), ("columns", columns)]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let got = column(&app, "md", "sold_on").await;
    assert_eq!(got.len(), 2);
    assert!(got[0].starts_with("2024-03-04 13:30") || got[0].starts_with("2024-03-04T13:30"), "{got:?}");
    assert!(got[1].starts_with("2024-12-31"), "{got:?}");

    // A format that names no day is refused with the request, in words.
    let path = app.file("bad.csv");
    std::fs::write(&path, "Sold on\n03/04/2024\n").expect("write");
    let resp = app.upload("/api/imports", &path, "bad.csv", &[("column", "Sold on:date:%d/%q/%Y")]).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    let error = body["error"].as_str().expect("error");
    assert!(error.contains("\"%d/%q/%Y\" is not a date format sheetport reads: %q is not one of"), "{error}");
    // A format for a column that is not dates is refused before a row is read.
    let done = import(&app, "n.csv", "N\n1\n", &[("table", "n"), ("column", "N:integer:%d/%m/%Y")]).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().is_some_and(|e| e.contains("a date format is given")), "{done}");
}

#[tokio::test]
async fn the_format_is_remembered_with_the_tables_mapping_and_read_on_the_next_import() {
    let app = spawn_app().await;
    let first = "Sold on,Units\n03/04/2024,1\n";
    let done = import(&app, "week1.csv", first, &[("table", "sales"), ("column", "Sold on:date:%m/%d/%Y")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    // The next file's preview into that table offers the format the last import used.
    let next = "Sold on,Units\n05/06/2024,2\n07/08/2024,3\n";
    let p = preview(&app, "week2.csv", next, "?table=sales").await;
    let target = &p["target"];
    assert_eq!(target["remembered"], true, "{p}");
    let sold =
        target["columns"].as_array().expect("columns").iter().find(|c| c["source"] == "Sold on").expect("Sold on");
    assert_eq!((sold["target"].as_str(), sold["format"].as_str()), (Some("sold_on"), Some("%m/%d/%Y")), "{p}");
    // The ambiguous column is still reported: the page shows the remembered choice beside it.
    assert!(date_column(&p, "sold_on")["decided"].is_null());

    // Appended with that choice (as the page sends it), the dates are read month first.
    let columns = sold.to_string();
    let done = import(
        &app,
        "week2.csv",
        next,
        &[("table", "sales"), ("mode", "append"), ("columns", &format!("[{columns}]"))],
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(column(&app, "sales", "sold_on").await, ["2024-03-04", "2024-05-06", "2024-07-08"]);
}

#[tokio::test]
async fn the_command_line_takes_the_format_after_the_type() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TestDb::create(dir.path()).await;
    let url = db.url();
    let file = dir.path().join("sales.csv");
    std::fs::write(&file, "Sold on,Units\n03/04/2024,1\n25/12/2024,2\n").expect("write");
    let path = file.to_str().expect("path");
    let (code, out, err) =
        run(&["import", path, "--database", &url, "--table", "sales", "--column", "Sold on:date:%d/%m/%Y"]);
    assert_eq!(code, 0, "{out}{err}");
    let days = db.texts("SELECT CAST(sold_on AS TEXT) FROM sales ORDER BY units").await;
    assert_eq!(days, ["2024-04-03", "2024-12-25"]);
    // A format that cannot be read is a wrong command line (exit 2), said before anything runs.
    let (code, _, err) =
        run(&["import", path, "--database", &url, "--table", "other", "--column", "Sold on:date:%d/%m"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must name the day (%d), the month (%m) and the year"), "{err}");
}
