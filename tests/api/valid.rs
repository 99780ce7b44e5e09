//! Valid data that once failed a whole import: each now arrives.

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_byte_deep_in_a_csv_and_system_column_headers_import_on_both_databases() {
    let app = spawn_app().await;
    // Past the first 64 KB (where detection would call it binary): PostgreSQL text cannot hold
    // NUL, which once failed the import there. Headers `xmin` and `ctid` are system columns there.
    let mut csv = String::from("xmin,ctid,note\n");
    for i in 0..5000 {
        csv.push_str(&format!("{i},{i},row {i} of the file\n"));
    }
    csv.push_str("1,2,x\0y\n");
    let path = app.file("boxes.csv");
    std::fs::write(&path, csv).expect("write csv");
    let id = app.start_import(&path, "boxes.csv", &[]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    let names: Vec<&str> =
        end["columns"].as_array().expect("columns").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["xmin_2", "ctid_2", "note"]);
    assert_eq!(end["columns"][0]["label"], "xmin", "the header text is kept as the label");
    let (_, rows) = app.all_rows("boxes").await;
    assert_eq!(rows.len(), 5001);
    assert_eq!(rows[5000], serde_json::json!([1, 2, "xy"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_uploads_of_one_file_at_once_make_eight_tables() {
    let app = spawn_app_with(|c| c.max_uploads_per_person = 8).await;
    let path = app.file("sales.csv");
    std::fs::write(&path, "a\n1\n").expect("write csv");
    let ids = futures::future::join_all((0..8).map(|_| app.start_import(&path, "sales.csv", &[]))).await;
    let mut tables = Vec::new();
    for id in &ids {
        let end = app.wait_final(id).await;
        assert_eq!(end["status"], "succeeded", "{end}");
        tables.push(end["table"].as_str().expect("table").to_owned());
    }
    tables.sort();
    assert_eq!(tables, ["sales", "sales_2", "sales_3", "sales_4", "sales_5", "sales_6", "sales_7", "sales_8"]);
}

/// Excel's "Unicode Text": UTF-16 little-endian with a byte-order mark, tab-separated.
fn unicode_text(text: &str) -> Vec<u8> {
    [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excel_unicode_text_and_windows_1252_csv_are_detected_shown_and_imported() {
    let app = spawn_app().await;
    let utf16 = app.file("export.txt");
    std::fs::write(&utf16, unicode_text("Name\tCity\tAmount\r\nZoë\tKöln\t12.5\r\n李\t北京\t3\r\n")).expect("write");
    let resp = app.upload("/api/uploads", &utf16, "export.txt", &[]).await;
    assert_eq!(resp.status(), 201);
    let info: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(info["format"], "tsv", "{info}");
    let (code, preview) = app.get_json(&format!("/api/uploads/{}", info["upload_id"].as_str().expect("id"))).await;
    assert_eq!(code, 200, "{preview}");
    assert_eq!(preview["encoding"], "UTF-16LE");
    assert_eq!(preview["columns"][0]["label"], "Name");
    assert_eq!(preview["rows"][0], serde_json::json!(["Zoë", "Köln", 12.5]));
    let id = app.start_import(&utf16, "export.txt", &[("table", "unicode_text")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    let (_, rows) = app.all_rows("unicode_text").await;
    assert_eq!(rows, [serde_json::json!(["Zoë", "Köln", 12.5]), serde_json::json!(["李", "北京", 3.0])]);

    // Excel's "CSV (Comma delimited)" on a German Windows: windows-1252 with semicolons.
    let cp1252 = app.file("kunden.csv");
    std::fs::write(
        &cp1252,
        b"Name;Stadt;Stra\xDFe\nJ\xFCrgen;K\xF6ln;Hauptstra\xDFe 1\nRen\xE9e;M\xFCnchen;\xC4u\xDFere Weg 2\n",
    )
    .expect("write");
    let resp = app.upload("/api/uploads", &cp1252, "kunden.csv", &[]).await;
    let info: serde_json::Value = resp.json().await.expect("json");
    let (_, preview) = app.get_json(&format!("/api/uploads/{}", info["upload_id"].as_str().expect("id"))).await;
    assert_eq!(preview["encoding"], "windows-1252", "{preview}");
    assert_eq!(preview["columns"][2]["label"], "Straße");
    let id = app.start_import(&cp1252, "kunden.csv", &[("table", "kunden")]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    let (_, rows) = app.all_rows("kunden").await;
    assert_eq!(rows[0], serde_json::json!(["Jürgen", "Köln", "Hauptstraße 1"]));
    assert_eq!(rows[1], serde_json::json!(["Renée", "München", "Äußere Weg 2"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_can_choose_the_encoding_and_a_wrong_guess_is_said_in_words() {
    let app = spawn_app().await;
    // Six Cyrillic letters in windows-1251 ("Привет"); read as KOI8-R when the person says so.
    let path = app.file("greeting.csv");
    std::fs::write(&path, b"word\n\xCF\xF0\xE8\xE2\xE5\xF2\n").expect("write");
    let resp = app.upload("/api/uploads", &path, "greeting.csv", &[]).await;
    let info: serde_json::Value = resp.json().await.expect("json");
    let upload = info["upload_id"].as_str().expect("id").to_owned();
    let (code, koi8) = app.get_json(&format!("/api/uploads/{upload}?encoding=koi8-r")).await;
    assert_eq!(code, 200, "{koi8}");
    assert_eq!((koi8["encoding"].as_str(), koi8["rows"][0][0].as_str()), (Some("KOI8-R"), Some("оПХБЕР")));
    let (code, bad) = app.get_json(&format!("/api/uploads/{upload}?encoding=klingon")).await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad["error"].as_str().expect("error").contains("not a text encoding"), "{bad}");
    let resp = app.upload("/api/imports", &path, "greeting.csv", &[("encoding", "klingon")]).await;
    assert_eq!(resp.status(), 400);
    let id = app.start_import(&path, "greeting.csv", &[("encoding", "windows-1251"), ("table", "greeting")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    assert_eq!(app.all_rows("greeting").await.1, [serde_json::json!(["Привет"])]);

    // ASCII for the first 2 MB, then a windows-1252 byte: the guess (UTF-8) is wrong, and the
    // failure says where and what to do; the same file with the encoding named imports whole.
    let mut csv = b"id,city\n".to_vec();
    for i in 0..100_000 {
        csv.extend_from_slice(format!("{i},Springfield and Shelbyville\n").as_bytes());
    }
    csv.extend_from_slice(b"100000,K\xF6ln\n");
    let late = app.file("late.csv");
    std::fs::write(&late, &csv).expect("write");
    let id = app.start_import(&late, "late.csv", &[]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "failed", "{end}");
    let error = end["error"].as_str().expect("error");
    assert!(error.contains("line 100002 is not UTF-8") && error.contains("windows-1252"), "{error}");
    let id = app.start_import(&late, "late.csv", &[("encoding", "windows-1252"), ("table", "late")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (_, rows) = app.all_rows("late").await;
    assert_eq!((rows.len(), &rows[100_000]), (100_001, &serde_json::json!([100000, "Köln"])));
}
