//! Several real `sheetport serve` processes sharing one PostgreSQL database and one data
//! directory: progress followed on another instance than the one uploaded to, a queue shared
//! without double runs, and an instance killed with SIGKILL in the middle of an import. These
//! always run on PostgreSQL, whatever `SHEETPORT_TEST_DB` says.

use crate::dataset;
use crate::helpers::{Sse, TestDb, read_events};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `sheetport serve` process on a port of its own, killed when dropped.
struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    fn start(db: &TestDb, data_dir: &Path, heartbeat_secs: f64) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sheetport"))
            .args(["serve", "--addr", "127.0.0.1:0", "--database", &db.url()])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--heartbeat-timeout", &heartbeat_secs.to_string()])
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sheetport serve");
        // The log line "sheetport listening on http://127.0.0.1:PORT" says which port it got.
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let base = loop {
            let line = lines.next().expect("the server exited before listening").expect("read log");
            if let Some(at) = line.find("listening on http://") {
                let url = line[at + "listening on ".len()..].split_whitespace().next().expect("url");
                break url.trim_end_matches(|c: char| !c.is_ascii_digit()).to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Instance { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn upload(client: &reqwest::Client, to: &Instance, file: &Path, table: &str) -> String {
    let bytes = tokio::fs::read(file).await.expect("read");
    let name = file.file_name().expect("name").to_string_lossy().into_owned();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name))
        .text("table", table.to_owned());
    let resp = client.post(to.url("/api/imports")).multipart(form).send().await.expect("upload");
    assert_eq!(resp.status(), 202);
    resp.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned()
}

async fn status(client: &reqwest::Client, on: &Instance, id: &str) -> Value {
    client.get(on.url(&format!("/api/imports/{id}"))).send().await.expect("status").json().await.expect("json")
}

async fn wait_final(client: &reqwest::Client, on: &Instance, id: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let s = status(client, on, id).await;
        if matches!(s["status"].as_str(), Some("succeeded" | "failed" | "cancelled")) {
            return s;
        }
        assert!(start.elapsed() < within, "import {id} still {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rows of an import the tests interrupt (kill, stop, cancel) while it runs: enough that it is still
/// running seconds after it started loading, even on a fast machine (400,000 once finished first).
const LONG: u64 = 1_500_000;

/// Writes `big.csv` of [`LONG`] rows into `dir`: the file of every test that interrupts an import.
fn long_csv(dir: &Path) -> PathBuf {
    let big = dir.join("big.csv");
    dataset::write_csv(&big, LONG).expect("csv");
    big
}

/// Waits until the import has rows in the database (it is past inference, loading).
async fn wait_loading(client: &reqwest::Client, on: &Instance, id: &str) {
    let start = Instant::now();
    loop {
        let s = status(client, on, id).await;
        if s["rows_done"].as_u64().unwrap_or(0) > 0 {
            return;
        }
        assert_ne!(s["status"], "succeeded", "finished before the test could act on it");
        assert!(start.elapsed() < Duration::from_secs(60), "never started loading: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every event of one import's SSE stream on `on`, until the stream ends.
async fn events(client: &reqwest::Client, on: &Instance, id: &str) -> Vec<Sse> {
    let resp = client.get(on.url(&format!("/api/imports/{id}/events"))).send().await.expect("events");
    read_events(resp, Duration::from_secs(300)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_of_an_upload_to_one_instance_streams_live_from_the_other() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (Instance::start(&db, dir.path(), 15.0), Instance::start(&db, dir.path(), 15.0));
    let client = reqwest::Client::new();
    // Enough rows that the import outlasts several 250 ms checkpoints (200,000 took under 0.5 s).
    const ROWS: u64 = 800_000;
    let file = dir.path().join("big.csv");
    dataset::write_csv(&file, ROWS).expect("csv");

    let id = upload(&client, &a, &file, "big").await;
    let events = events(&client, &b, &id).await;
    let last = events.last().expect("events");
    assert_eq!(last.event, "done", "{:?}", last.data);
    assert_eq!(last.data["rows_done"], ROWS);
    let live = events
        .iter()
        .filter(|e| e.event == "progress")
        .filter(|e| e.data["status"] == "running" && e.data["rows_done"].as_u64().is_some_and(|n| n > 0 && n < ROWS));
    assert!(
        live.count() >= 2,
        "live progress on the other instance: {:?}",
        events.iter().map(|e| &e.data["rows_done"]).collect::<Vec<_>>()
    );
    let done: Vec<u64> = events.iter().map(|e| e.data["rows_done"].as_u64().unwrap_or(0)).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "rows_done never goes back: {done:?}");
    assert_eq!(db.scalar("SELECT count(*) FROM big").await, ROWS as i64);
    // Both instances answer for it alike.
    assert_eq!(status(&client, &a, &id).await["status"], "succeeded");
    assert_eq!(status(&client, &b, &id).await["rows_done"], ROWS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_imports_across_two_instances_each_run_exactly_once() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (Instance::start(&db, dir.path(), 15.0), Instance::start(&db, dir.path(), 15.0));
    let client = reqwest::Client::new();
    const ROWS: u64 = 5_000;
    let file = dir.path().join("small.csv");
    dataset::write_csv(&file, ROWS).expect("csv");

    let uploads = (0..10).map(|i| {
        let (client, to, file) = (&client, if i % 2 == 0 { &a } else { &b }, &file);
        async move { upload(client, to, file, &format!("t{i}")).await }
    });
    let ids = futures::future::join_all(uploads).await;
    for id in &ids {
        let end = wait_final(&client, &a, id, Duration::from_secs(120)).await;
        assert_eq!(end["status"], "succeeded", "{end}");
    }
    for i in 0..10 {
        assert_eq!(db.scalar(&format!("SELECT count(*) FROM t{i}")).await, ROWS as i64);
    }
    assert_eq!(
        db.scalar("SELECT count(*) FROM imports WHERE status = 'succeeded' AND attempts = 1").await,
        10,
        "each claimed once"
    );
    assert_eq!(db.scalar("SELECT count(DISTINCT worker) FROM imports").await, 2, "both instances took a share");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_instance_running_an_import_hands_it_to_the_other() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    const HEARTBEAT: f64 = 2.0;
    let mut a = Instance::start(&db, dir.path(), HEARTBEAT);

    // An earlier import, which must survive everything below.
    let small = dir.path().join("small.csv");
    dataset::write_csv(&small, 1_000).expect("csv");
    let first = upload(&client, &a, &small, "earlier").await;
    assert_eq!(wait_final(&client, &a, &first, Duration::from_secs(60)).await["status"], "succeeded");

    let big = long_csv(dir.path());
    let id = upload(&client, &a, &big, "big").await;
    // Wait until A is loading (rows accepted), then start B and kill A.
    wait_loading(&client, &a, &id).await;
    let b = Instance::start(&db, dir.path(), HEARTBEAT);
    let a_pid = a.child.id();
    a.kill9();
    let killed = Instant::now();
    // Nothing of the dead instance's transaction is visible: no staging table, no partial target.
    let leftovers = db
        .scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_sheetport_staging%' OR tablename = 'big'")
        .await;
    assert_eq!(leftovers, 0);

    // B notices within the heartbeat window (plus its check interval) and takes the job back.
    let not_a =
        format!("SELECT count(*) FROM imports WHERE id = '{id}' AND (worker IS NULL OR worker NOT LIKE '%:{a_pid}:%')");
    while db.scalar(&not_a).await == 0 {
        assert!(killed.elapsed() < Duration::from_secs_f64(HEARTBEAT * 2.0 + 2.0), "not taken over in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let taken_over = killed.elapsed();
    let end = wait_final(&client, &b, &id, Duration::from_secs(300)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(db.scalar("SELECT count(*) FROM big").await, LONG as i64);
    assert_eq!(
        db.scalar("SELECT attempts::bigint FROM imports WHERE status = 'succeeded' AND table_name = 'big'").await,
        2
    );
    assert_eq!(db.scalar("SELECT count(*) FROM earlier").await, 1_000, "earlier imports are intact");
    assert_eq!(db.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_sheetport_staging%'").await, 0);
    eprintln!("taken over {taken_over:?} after SIGKILL (heartbeat timeout {HEARTBEAT} s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_is_cancelled_from_the_instance_not_running_it() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (Instance::start(&db, dir.path(), 15.0), Instance::start(&db, dir.path(), 15.0));
    let client = reqwest::Client::new();
    let big = long_csv(dir.path());
    let id = upload(&client, &a, &big, "big").await;
    wait_loading(&client, &a, &id).await;
    let a_pid = a.child.id();
    let runs_on_a =
        db.scalar(&format!("SELECT count(*) FROM imports WHERE id = '{id}' AND worker LIKE '%:{a_pid}:%'")).await == 1;
    let other = if runs_on_a { &b } else { &a };

    let asked = Instant::now();
    let resp = client.delete(other.url(&format!("/api/imports/{id}"))).send().await.expect("delete");
    assert_eq!(resp.status(), 202);
    let end = wait_final(&client, other, &id, Duration::from_secs(30)).await;
    assert_eq!(end["status"], "cancelled", "{end}");
    assert!(asked.elapsed() < Duration::from_secs(2), "stopped in {:?}", asked.elapsed());
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'big' OR tablename LIKE '_sheetport_staging%'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_instance_hands_its_running_import_back_to_the_queue() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let mut a = Instance::start(&db, dir.path(), 15.0);
    let big = long_csv(dir.path());
    let id = upload(&client, &a, &big, "big").await;
    wait_loading(&client, &a, &id).await;
    // SIGTERM: a graceful stop, as a deploy or a scale-down does it.
    let term = Command::new("kill").args(["-TERM", &a.child.id().to_string()]).status().expect("kill");
    assert!(term.success());
    let code = a.child.wait().expect("wait");
    assert!(code.success(), "a clean exit: {code:?}");
    let back = db
        .scalar(&format!("SELECT count(*) FROM imports WHERE id = '{id}' AND status = 'queued' AND attempts = 0"))
        .await;
    assert_eq!(back, 1, "queued again, the interrupted attempt not counted");

    // Another instance (a long heartbeat timeout: no reaping involved) picks it up at once.
    let b = Instance::start(&db, dir.path(), 600.0);
    let end = wait_final(&client, &b, &id, Duration::from_secs(120)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(db.scalar("SELECT count(*) FROM big").await, LONG as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_instances_keep_dying_fails_after_three_attempts() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    const HEARTBEAT: f64 = 1.0;
    let big = long_csv(dir.path());
    let mut first = Instance::start(&db, dir.path(), HEARTBEAT);
    let id = upload(&client, &first, &big, "big").await;
    let claimed = |n: i64| {
        format!(
            "SELECT count(*) FROM imports WHERE id = '{id}' AND status = 'running' AND attempts = {n} AND rows_done > 0"
        )
    };
    // Three instances in turn claim it and die with it (SIGKILL, as a crash would).
    for attempt in 1..=3 {
        let start = Instant::now();
        while db.scalar(&claimed(attempt)).await == 0 {
            assert!(start.elapsed() < Duration::from_secs(60), "attempt {attempt} never started loading");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.kill9();
        if attempt < 3 {
            first = Instance::start(&db, dir.path(), HEARTBEAT);
        }
    }
    // A fourth instance judges it dead for the third time and fails it in words.
    let last = Instance::start(&db, dir.path(), HEARTBEAT);
    let end = wait_final(&client, &last, &id, Duration::from_secs(30)).await;
    assert_eq!(end["status"], "failed", "{end}");
    assert!(end["error"].as_str().unwrap_or("").contains("stopped every time"), "{end}");
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'big' OR tablename LIKE '_sheetport_staging%'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_instance_that_wakes_up_after_losing_its_import_cannot_complete_it() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    const HEARTBEAT: f64 = 1.0;
    let big = long_csv(dir.path());
    let a = Instance::start(&db, dir.path(), HEARTBEAT);
    let id = upload(&client, &a, &big, "big").await;
    wait_loading(&client, &a, &id).await;
    // Freeze A (a long GC-like pause, a hung VM): B declares it dead and runs the import itself.
    let pid = a.child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().expect("kill").success());
    let b = Instance::start(&db, dir.path(), HEARTBEAT);
    let end = wait_final(&client, &b, &id, Duration::from_secs(120)).await;
    // A wakes up: its next checkpoint finds the job is no longer its own, and it stops.
    assert!(Command::new("kill").args(["-CONT", &pid]).status().expect("kill").success());
    assert_eq!(end["status"], "succeeded", "{end}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(db.scalar("SELECT count(*) FROM big").await, LONG as i64, "exactly one run's rows");
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM imports WHERE id = '{id}' AND status = 'succeeded' AND attempts = 2"))
            .await,
        1
    );
    assert_eq!(db.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_sheetport_staging%'").await, 0);
    assert_eq!(status(&client, &a, &id).await["status"], "succeeded", "A reports the real outcome too");
}
