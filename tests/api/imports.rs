//! Imports that succeed: every format round-trips every value, progress streams live, statuses poll.

use crate::dataset::{self, COLUMNS, Strings};
use crate::helpers::{TestApp, spawn_app};
use serde_json::Value;

/// Enough rows that an import spans several commits even in an optimised build.
const ROWS: u64 = 100_000;

/// Follows the stream of a fresh import and checks the table holds exactly the dataset.
async fn import_and_verify(app: &TestApp, file: &str, table: &str) {
    let id = app.start_import(&app.file(file), file, &[("table", table)]).await;
    let events = app.events(&id).await;

    let last = events.last().expect("at least one event");
    assert_eq!(last.event, "done", "{:?}", last.data);
    assert_eq!(events.iter().filter(|e| matches!(e.event.as_str(), "done" | "failed" | "cancelled")).count(), 1);
    // Ids grow through the job's life (Unix milliseconds), so a reconnect can say what it saw.
    let ids: Vec<u64> = events.iter().map(|e| e.id.as_deref().and_then(|i| i.parse().ok()).expect("an id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // Progress arrived while rows were still moving, before the end.
    let live: Vec<&Value> = events
        .iter()
        .filter(|e| e.event == "progress")
        .map(|e| &e.data)
        .filter(|d| d["status"] == "running" && d["rows_done"].as_u64().is_some_and(|n| n > 0 && n < ROWS))
        .collect();
    assert!(!live.is_empty(), "no live progress among {} events", events.len());
    // rows_done never goes backwards.
    let done: Vec<u64> = events.iter().map(|e| e.data["rows_done"].as_u64().unwrap_or(0)).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert_eq!(last.data["rows_done"], ROWS);
    assert_eq!(last.data["rows_total"], ROWS);
    assert_eq!(last.data["table"], table);

    let (columns, rows) = app.all_rows(table).await;
    let names: Vec<&str> =
        columns.as_array().expect("columns").iter().map(|c| c["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, COLUMNS);
    let types: Vec<&str> =
        columns.as_array().expect("columns").iter().map(|c| c["type"].as_str().unwrap_or("")).collect();
    assert_eq!(types, ["integer", "real", "text", "text", "date", "datetime", "boolean", "integer", "text", "text"]);
    assert_eq!(columns[4]["label"], "Order date");
    assert_eq!(rows.len() as u64, ROWS);
    for (i, row) in rows.iter().enumerate() {
        let want = dataset::expected_json(&dataset::row(i as u64));
        assert_eq!(row.as_array().expect("row"), &want, "row {i} of {file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_with_shared_strings_round_trips_with_live_progress() {
    let app = spawn_app().await;
    dataset::write_xlsx(&app.file("orders.xlsx"), ROWS, Strings::Shared).expect("write xlsx");
    import_and_verify(&app, "orders.xlsx", "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_with_inline_strings_round_trips_with_live_progress() {
    let app = spawn_app().await;
    dataset::write_xlsx(&app.file("orders.xlsx"), ROWS, Strings::Inline).expect("write xlsx");
    import_and_verify(&app, "orders.xlsx", "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ods_round_trips_with_live_progress() {
    let app = spawn_app().await;
    dataset::write_ods(&app.file("orders.ods"), ROWS).expect("write ods");
    import_and_verify(&app, "orders.ods", "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsb_round_trips_with_live_progress() {
    let app = spawn_app().await;
    dataset::write_xlsb(&app.file("orders.xlsb"), ROWS).expect("write xlsb");
    import_and_verify(&app, "orders.xlsb", "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_round_trips_with_live_progress() {
    let app = spawn_app().await;
    dataset::write_csv(&app.file("orders.csv"), ROWS).expect("write csv");
    import_and_verify(&app, "orders.csv", "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_sse_poll_the_status_and_late_streams_get_the_final_event() {
    let app = spawn_app().await;
    dataset::write_csv(&app.file("Sales 2024 (final).csv"), 500).expect("write csv");
    let id = app.start_import(&app.file("Sales 2024 (final).csv"), "Sales 2024 (final).csv", &[]).await;
    let status = app.wait_final(&id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["table"], "sales_2024_final", "table named after the file");
    assert_eq!(status["rows_done"], 500);
    assert!(status["elapsed_ms"].as_u64().is_some());

    let events = app.events(&id).await;
    assert_eq!(events.len(), 1, "after the end, only the final event");
    assert_eq!(events[0].event, "done");

    // The same file again gets a fresh name instead of failing.
    let again = app.start_import(&app.file("Sales 2024 (final).csv"), "Sales 2024 (final).csv", &[]).await;
    assert_eq!(app.wait_final(&again).await["table"], "sales_2024_final_2");

    let (code, list) = app.get_json("/api/imports").await;
    assert_eq!(code, 200);
    let ids: Vec<&str> = list.as_array().expect("list").iter().map(|p| p["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, [again.as_str(), id.as_str()], "newest first");
    let (_, tables) = app.get_json("/api/tables").await;
    assert_eq!(tables.as_array().expect("tables").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_replace_modes() {
    let app = spawn_app().await;
    dataset::write_csv(&app.file("a.csv"), 300).expect("write csv");
    let first = app.start_import(&app.file("a.csv"), "a.csv", &[("table", "t")]).await;
    assert_eq!(app.wait_final(&first).await["status"], "succeeded");

    let clash = app.start_import(&app.file("a.csv"), "a.csv", &[("table", "t"), ("mode", "create")]).await;
    let failed = app.wait_final(&clash).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap_or("").contains("already exists"), "{failed}");

    let append = app.start_import(&app.file("a.csv"), "a.csv", &[("table", "t"), ("mode", "append")]).await;
    assert_eq!(app.wait_final(&append).await["status"], "succeeded");
    assert_eq!(app.get_json("/api/tables/t/rows?limit=1").await.1["total"], 600);

    let replace = app.start_import(&app.file("a.csv"), "a.csv", &[("table", "t"), ("mode", "replace")]).await;
    assert_eq!(app.wait_final(&replace).await["status"], "succeeded");
    assert_eq!(app.get_json("/api/tables/t/rows?limit=1").await.1["total"], 300);
    assert!(!app.tables().await.iter().any(|t| t.starts_with("_sheetport_staging")), "no staging table left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_text_arrives_byte_for_byte() {
    // What COPY's text format would have to escape, and what a careless writer would mangle.
    let long = "long ".repeat(20_000);
    let texts = [
        "tab\there",
        "line one\nline two",
        "carriage\r\nreturn",
        "back\\slash \\N \\t",
        "\\N",
        "quote \" and ' apostrophe",
        "ünïcödé ✓ 漢字 🎉",
        "  padded  ",
        long.as_str(),
    ];
    let mut csv = String::from("id,text\n");
    for (i, t) in texts.iter().enumerate() {
        csv.push_str(&format!("{i},\"{}\"\n", t.replace('"', "\"\"")));
    }
    let app = spawn_app().await;
    std::fs::write(app.file("awkward.csv"), csv).expect("write");
    let id = app.start_import(&app.file("awkward.csv"), "awkward.csv", &[("table", "awkward")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    let (_, rows) = app.all_rows("awkward").await;
    let got: Vec<&str> = rows.iter().map(|r| r[1].as_str().unwrap_or("<not text>")).collect();
    assert_eq!(got, texts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_outgrow_the_sampled_type_widen_the_column() {
    // Types are inferred from the first 1,000 rows; later rows break each guess.
    let app = spawn_app().await;
    let mut csv = String::from("code,amount,when,flag\n");
    for i in 0..3000 {
        let code = if i < 2500 { i.to_string() } else { format!("A-{i}") };
        let amount = if i < 2900 { i.to_string() } else { format!("{i}.5") };
        // Row 2500 is a date again, in what is a datetime column by then.
        let when = match i {
            ..2000 => "2024-01-02",
            2500 => "2024-01-03",
            _ => "2024-01-02 03:04:05",
        };
        let flag = if i < 2999 { if i % 2 == 0 { "true" } else { "false" } } else { "maybe" };
        csv.push_str(&format!("{code},{amount},{when},{flag}\n"));
    }
    std::fs::write(app.file("drift.csv"), csv).expect("write");
    let id = app.start_import(&app.file("drift.csv"), "drift.csv", &[("table", "drift")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    let (columns, rows) = app.all_rows("drift").await;
    let types: Vec<&str> =
        columns.as_array().expect("columns").iter().map(|c| c["type"].as_str().unwrap_or("")).collect();
    assert_eq!(types, ["text", "real", "datetime", "text"]);
    assert_eq!(rows.len(), 3000);
    for (i, row) in rows.iter().enumerate() {
        let want = serde_json::json!([
            if i < 2500 { i.to_string() } else { format!("A-{i}") },
            if i < 2900 { i as f64 } else { i as f64 + 0.5 },
            match i {
                ..2000 => "2024-01-02 00:00:00",
                2500 => "2024-01-03 00:00:00",
                _ => "2024-01-02 03:04:05",
            },
            if i == 2999 {
                "maybe"
            } else if i % 2 == 0 {
                "true"
            } else {
                "false"
            },
        ]);
        assert_eq!(row, &want, "row {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xls_saved_by_libreoffice_round_trips() {
    // tests/fixtures/make-fixtures.sh: the dataset's first 500 rows, saved by LibreOffice as BIFF8.
    const XLS_ROWS: u64 = 500;
    let app = spawn_app().await;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/orders-500.xls");
    let id = app.start_import(&fixture, "orders.xls", &[("table", "orders")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(end["rows_total"], XLS_ROWS);
    let (columns, rows) = app.all_rows("orders").await;
    let types: Vec<&str> =
        columns.as_array().expect("columns").iter().map(|c| c["type"].as_str().unwrap_or("")).collect();
    assert_eq!(types, ["integer", "real", "text", "text", "date", "datetime", "boolean", "integer", "text", "text"]);
    assert_eq!(rows.len() as u64, XLS_ROWS);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.as_array().expect("row"), &dataset::expected_json(&dataset::row(i as u64)), "row {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_come_at_most_ten_times_a_second() {
    let app = spawn_app().await;
    const LONGER: u64 = 400_000;
    dataset::write_csv(&app.file("orders.csv"), LONGER).expect("write csv");
    let id = app.start_import(&app.file("orders.csv"), "orders.csv", &[("table", "orders")]).await;
    let events = app.events(&id).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"));
    // Each event carries the server's clock at the moment it went out (`elapsed_ms` since the job
    // started): between two live events of one stream lie at least 100 ms. (The first event goes
    // out at once and the final one as soon as the job ends; neither waits.)
    let live: Vec<u64> = events
        .iter()
        .skip(1)
        .filter(|e| e.event == "progress" && e.data["status"] == "running")
        .map(|e| e.data["elapsed_ms"].as_u64().expect("elapsed_ms"))
        .collect();
    assert!(live.len() >= 3, "the import lasted long enough to throttle: {live:?}");
    for pair in live.windows(2) {
        assert!(pair[1] - pair[0] >= 99, "events {} ms apart: {live:?}", pair[1] - pair[0]);
    }
}
