//! A full disk, for real: a server whose data folder is a 16 MB tmpfs, mounted in a mount namespace
//! of its own (`unshare`), so nothing outside the test sees it.

use crate::process::{Instance, upload, wait_final};
use std::process::Command;
use std::time::Duration;

/// `sheetport serve` with its database and uploads on a `size` tmpfs at `dir`.
fn on_small_disk(dir: &std::path::Path, size: &str) -> Instance {
    let dir = dir.to_str().expect("utf-8 path");
    let mut command = Command::new("unshare");
    command
        .args(["-rm", "sh", "-c", &format!("mount -t tmpfs -o size={size} tmpfs \"$0\" && exec \"$@\""), dir])
        .arg(env!("CARGO_BIN_EXE_sheetport"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            dir,
            "--database",
            &format!("sqlite://{dir}/sheetport.db"),
        ]);
    Instance::spawn(command)
}

/// `bytes` of CSV that does not compress (and so takes its size on disk in the database too).
fn incompressible_csv(bytes: usize) -> String {
    let mut csv = String::from("id,noise\n");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut i = 0u64;
    while csv.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        csv.push_str(&format!("{i},{x:016x}{:016x}{:016x}\n", x.rotate_left(21), x.rotate_left(42)));
        i += 1;
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_import_in_words_and_gives_the_space_back() {
    let (dir, files) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let server = on_small_disk(dir.path(), "16m");
    let client = reqwest::Client::new();

    // 8 MB stored leaves 8 MB, which the table's 8 MB and its write-ahead log cannot fit in.
    let big = files.path().join("big.csv");
    std::fs::write(&big, incompressible_csv(8 << 20)).expect("write");
    let id = upload(&client, &server, &big, "big").await;
    let end = wait_final(&client, &server, &id, Duration::from_secs(120)).await;
    assert_eq!(end["status"], "failed", "{end}");
    let error = end["error"].as_str().expect("error");
    assert!(error.starts_with("the disk is full") && error.contains("nothing of this import was kept"), "{error}");

    // The staging table's space went back to the file system: a small file still fits, whole.
    let small = files.path().join("small.csv");
    std::fs::write(&small, incompressible_csv(200 << 10)).expect("write");
    let id = upload(&client, &server, &small, "small").await;
    let end = wait_final(&client, &server, &id, Duration::from_secs(60)).await;
    assert_eq!(end["status"], "succeeded", "{end}; the log:\n{}", server.log.lines().join("\n"));

    // An upload larger than the room left: 507 in words, and no part of it stays behind.
    let huge = files.path().join("huge.csv");
    std::fs::write(&huge, incompressible_csv(12 << 20)).expect("write");
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(std::fs::read(&huge).expect("read")).file_name("huge.csv"));
    let resp = client.post(server.url("/api/uploads")).multipart(form).send().await.expect("upload");
    assert_eq!(resp.status(), 507);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(body["error"].as_str().expect("error").contains("disk is full"), "{body}");
    let id = upload(&client, &server, &small, "small_again").await;
    let end = wait_final(&client, &server, &id, Duration::from_secs(60)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
}
