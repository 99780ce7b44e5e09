//! Valid data that once failed a whole import: each now arrives.

use crate::helpers::spawn_app;

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
    let app = spawn_app().await;
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
