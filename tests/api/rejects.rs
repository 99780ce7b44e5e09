//! Requests and files that must be refused or stopped, leaving the database as it was.

use crate::dataset;
use crate::helpers::{spawn_app, spawn_app_with};
use serde_json::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_spreadsheet_gets_422_with_a_reason() {
    let app = spawn_app().await;
    let path = app.file("photo.xlsx");
    std::fs::write(&path, [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).expect("write");
    let resp = app.upload("/api/imports", &path, "photo.xlsx", &[]).await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"].as_str().unwrap_or("").contains("not a spreadsheet"), "{body}");
    let uploads = std::fs::read_dir(app.dir.path().join("uploads")).expect("uploads dir").count();
    assert_eq!(uploads, 0, "rejected files are not kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_get_413() {
    let app = spawn_app_with(|c| c.max_upload_bytes = 10_000).await;
    dataset::write_csv(&app.file("big.csv"), 2_000).expect("write csv");
    let resp = app.upload("/api/imports", &app.file("big.csv"), "big.csv", &[]).await;
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"].as_str().unwrap_or("").contains("larger than the 10.0 KB this server takes"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_file_gets_400() {
    let app = spawn_app().await;
    let form = reqwest::multipart::Form::new().text("table", "x");
    let resp = app.client.post(app.url("/api/imports")).multipart(form).send().await.expect("request");
    assert_eq!(resp.status(), 400);
    let (code, _) = app.get_json("/api/imports/not-an-id").await;
    assert_eq!(code, 404);
    let (code, _) = app.get_json("/api/tables/sqlite_schema/rows").await;
    assert_eq!(code, 404, "only tables made by imports are readable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_job_and_leaves_no_table() {
    let app = spawn_app().await;
    dataset::write_csv(&app.file("many.csv"), 400_000).expect("write csv");
    let id = app.start_import(&app.file("many.csv"), "many.csv", &[("table", "many")]).await;
    // Wait until rows are being committed, then cancel.
    loop {
        let (_, s) = app.get_json(&format!("/api/imports/{id}")).await;
        assert_ne!(s["status"], "succeeded", "the import finished before it could be cancelled");
        if s["rows_done"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resp = app.client.delete(app.url(&format!("/api/imports/{id}"))).send().await.expect("delete");
    assert_eq!(resp.status(), 202);
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "cancelled");
    assert_eq!(end["rows_done"], 0, "nothing is committed to the target");
    let tables = app.tables().await;
    assert!(!tables.iter().any(|t| t == "many" || t.starts_with("_sheetport_staging")), "{tables:?}");
    let resp = app.client.delete(app.url(&format!("/api/imports/{id}"))).send().await.expect("delete");
    assert_eq!(resp.status(), 409, "cancelling an ended import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_workbook_fails_with_words_and_no_table() {
    let app = spawn_app().await;
    dataset::write_xlsx(&app.file("good.xlsx"), 1_000, dataset::Strings::Shared).expect("write xlsx");
    // Keep the zip directory but damage the sheet's compressed bytes.
    let mut bytes = std::fs::read(app.file("good.xlsx")).expect("read");
    let n = bytes.len();
    for b in &mut bytes[n / 4..n / 2] {
        *b ^= 0x5a;
    }
    std::fs::write(app.file("broken.xlsx"), &bytes).expect("write");
    // What sheetport promises: the archive's directory is intact, so the upload is taken (checking
    // every compressed byte would cost a whole inflate per upload); the import then fails in words
    // and leaves nothing behind.
    let resp = app.upload("/api/imports", &app.file("broken.xlsx"), "broken.xlsx", &[("table", "broken")]).await;
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.expect("json");
    let end = app.wait_final(body["id"].as_str().expect("id")).await;
    assert_eq!(end["status"], "failed", "{end}");
    let error = end["error"].as_str().unwrap_or("");
    assert!(error.starts_with("the file could not be read") || error.contains("damaged"), "{end}");
    assert!(!app.tables().await.iter().any(|t| t == "broken" || t.starts_with("_sheetport_staging")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_does_not_declare_its_size_is_stopped_at_the_limit_as_it_streams() {
    let app = spawn_app_with(|c| c.max_upload_bytes = 100_000).await;
    // A chunked body with no Content-Length: only the bytes themselves can tell it is too big.
    // 800 KB: past the limit, and all of it sent while the server reads what follows the refusal.
    let chunk = "1,2,3,4,5,6,7,8\n".repeat(1_000);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let chunks = futures::stream::iter((0..50).map(move |_| {
        counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk.clone())
    }));
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(chunks)).file_name("endless.csv");
    let form = reqwest::multipart::Form::new().part("file", part);
    // The server refuses the file as soon as it passes the limit, reads and drops the rest (up to a
    // bound) so the client, still sending, gets to read the 413.
    let resp = app.client.post(app.url("/api/imports")).multipart(form).send().await.expect("an answer");
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"].as_str().unwrap_or("").contains("larger than the 100.0 KB this server takes"), "{body}");
    assert_eq!(sent.load(std::sync::atomic::Ordering::Relaxed), 800_000);
    let left: Vec<_> = std::fs::read_dir(app.dir.path().join("uploads")).expect("uploads dir").collect();
    assert!(left.is_empty(), "no file and no .part is left: {left:?}");
    let (_, imports) = app.get_json("/api/imports").await;
    assert_eq!(imports, serde_json::json!([]), "no import was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_functions_fail_as_the_http_api_does_and_internal_errors_stay_in_the_log() {
    let app = spawn_app().await;
    dataset::write_csv(&app.file("a.csv"), 10).expect("write csv");
    let id = app.start_import(&app.file("a.csv"), "a.csv", &[("table", "a")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let rpc = |name: &str, form: &[(&str, &str)]| app.client.post(app.url(&format!("/rpc/{name}"))).form(form).send();
    let answer =
        |resp: reqwest::Response| async move { (resp.status().as_u16(), resp.json::<Value>().await.expect("json")) };

    // The same refusal, the same status and the same words, whichever way the page or a script asks.
    let by_rest = answer(app.client.delete(app.url(&format!("/api/imports/{id}"))).send().await.expect("delete")).await;
    let by_rpc = answer(rpc("cancel_import", &[("id", &id)]).await.expect("rpc")).await;
    assert_eq!(by_rest, (409, serde_json::json!({ "error": "the import has already succeeded" })));
    assert_eq!(by_rpc, by_rest);
    let unknown = "0123456789abcdef0123456789abcdef";
    let by_rest = answer(app.client.get(app.url(&format!("/api/uploads/{unknown}"))).send().await.expect("get")).await;
    let by_rpc = answer(rpc("inspect_upload", &[("upload_id", unknown)]).await.expect("rpc")).await;
    assert_eq!(by_rest.0, 404);
    assert_eq!(by_rpc, by_rest);

    // A failure of the server's own (here: its table of imports is gone) reaches the person as a
    // plain sentence, never the database's text.
    app.db.execute("DROP TABLE sheetport.imports").await;
    for (status, body) in [
        answer(app.client.get(app.url("/api/imports")).send().await.expect("get")).await,
        answer(rpc("list_imports", &[]).await.expect("rpc")).await,
    ] {
        assert_eq!(status, 500);
        let text = body["error"].as_str().expect("an error sentence");
        assert!(text.starts_with("something went wrong on the server"), "{text}");
        assert!(!text.contains("imports") && !text.contains("relation") && !text.contains("table"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_text_field_is_refused_at_its_bound_and_nothing_is_kept() {
    let app = spawn_app().await;
    dataset::write_csv(&app.file("a.csv"), 10).expect("write csv");
    // An 8 MB `table` field, streamed: refused once past its first KB (never held whole), the rest
    // read and dropped so the client gets to read why.
    let chunk = "t".repeat(64 * 1024);
    let chunks = futures::stream::iter((0..128).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let file = std::fs::read(app.file("a.csv")).expect("read");
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(file).file_name("a.csv"))
        .part("table", reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(chunks)));
    let resp = app.client.post(app.url("/api/imports")).multipart(form).send().await.expect("an answer");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "the field \"table\" is longer than 1024 bytes");
    let left: Vec<_> = std::fs::read_dir(app.dir.path().join("uploads")).expect("uploads dir").collect();
    assert!(left.is_empty(), "the file sent before the field is not kept: {left:?}");
    let (_, imports) = app.get_json("/api/imports").await;
    assert_eq!(imports, serde_json::json!([]), "no import was queued");
}

#[tokio::test]
async fn a_malformed_request_is_refused_in_words_as_json() {
    let app = spawn_app().await;
    let refused = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("a JSON body");
        (status, body["error"].as_str().expect("an error").to_owned())
    };
    let (code, error) =
        refused(app.client.get(app.url("/api/tables/t/rows?offset=abc")).send().await.expect("get")).await;
    assert_eq!(code, 400);
    assert!(error.contains("whole numbers"), "{error}");
    let index = app.url("/api/tables/t/indexes");
    let (code, error) = refused(app.client.post(&index).body("{\"column\": 1}").send().await.expect("post")).await;
    assert_eq!((code, error.as_str()), (415, "send the body as JSON, with the header Content-Type: application/json"));
    let json = |body: &'static str| app.client.post(&index).header("content-type", "application/json").body(body);
    let (code, error) = refused(json("{\"column\":").send().await.expect("post")).await;
    assert_eq!((code, error.as_str()), (400, "the body is not valid JSON"));
    let (code, error) = refused(json("{\"colour\": \"x\"}").send().await.expect("post")).await;
    assert_eq!(code, 400);
    assert!(error.starts_with("the JSON body is not what this call takes"), "{error}");
    assert!(!error.contains("deserialize") && !error.contains("line 1"), "{error}");
}
