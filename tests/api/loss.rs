//! Data that was once dropped without a word: now it arrives, or the import fails and says where.

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_wider_than_the_header_after_the_sample_fails_in_words_and_leaves_nothing() {
    let app = spawn_app().await;
    let mut csv = String::from("id,name\n");
    for i in 1..=10_000 {
        csv.push_str(&format!("{i},n{i}\n"));
    }
    csv.push_str("10001,n10001,a stray note\n");
    let path = app.file("ragged.csv");
    std::fs::write(&path, csv).expect("write csv");
    let before = app.tables().await;
    let id = app.start_import(&path, "ragged.csv", &[]).await;
    let end = app.wait_final(&id).await;
    assert_eq!(end["status"], "failed", "{end}");
    let error = end["error"].as_str().expect("error");
    assert!(error.contains("row 10,002 has a value in column 3") && error.contains("only 2 columns"), "{error}");
    assert_eq!(app.tables().await, before, "no table and no staging table is left");

    // Inside the sample a wider row widens the table instead, and nothing is lost either.
    let path = app.file("wide_early.csv");
    std::fs::write(&path, "id,name\n1,a\n2,b,extra\n").expect("write csv");
    let id = app.start_import(&path, "wide_early.csv", &[]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (_, rows) = app.all_rows("wide_early").await;
    assert_eq!(rows[1], serde_json::json!([2, "b", "extra"]));
}
