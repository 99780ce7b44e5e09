//! One `sheetport serve` process on a SQLite file, stopped as processes are: killed (SIGKILL) in
//! the middle of an import and started again on the same database, and stopped (SIGTERM) while
//! browsers follow a running and a queued import. SQLite has one server per database file, so a
//! restart is the whole recovery story there.

use crate::helpers::{TestDb, read_events};
use crate::process::{Instance, LONG, long_csv, status, upload, wait_final, wait_loading};
use std::path::PathBuf;
use std::time::Duration;

/// A lone server's heartbeat timeout (judged by nobody: SQLite has no reaper).
const HEARTBEAT: f64 = 15.0;

/// What every test here starts from: a directory with a SQLite file, a client, the long CSV.
struct Site {
    dir: tempfile::TempDir,
    db: TestDb,
    client: reqwest::Client,
    big: PathBuf,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let db = TestDb::Sqlite(dir.path().join("sheetport.db"));
        let big = long_csv(dir.path());
        Site { dir, db, client: reqwest::Client::new(), big }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_with_its_server_runs_again_from_the_start_when_the_server_restarts() {
    let Site { dir, db, client, big } = Site::new();
    let mut first = Instance::start(&db, dir.path(), HEARTBEAT);
    let id = upload(&client, &first, &big, "big").await;
    wait_loading(&client, &first, &id).await;
    first.kill9();
    // What the killed process left: its job `running` under a worker that is gone, and its
    // staging table with the rows it had committed.
    let running = format!("SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND status = 'running'");
    assert_eq!(db.scalar(&running).await, 1);
    assert!(db.tables().await.iter().any(|t| t.starts_with("_sheetport_staging")), "a staging table is left");

    let second = Instance::start(&db, dir.path(), HEARTBEAT);
    second.log.wait_for("dropped staging tables left by an interrupted process", Duration::from_secs(10));
    second.log.wait_for("re-queued imports interrupted by a restart", Duration::from_secs(10));
    let end = wait_final(&client, &second, &id, Duration::from_secs(300)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(end["rows_done"], LONG);
    assert_eq!(db.scalar("SELECT count(*) FROM big").await, LONG as i64, "exactly one run's rows");
    assert_eq!(db.scalar(&format!("SELECT attempts FROM sheetport.imports WHERE id = '{id}'")).await, 2);
    let tables = db.tables().await;
    assert!(!tables.iter().any(|t| t.starts_with("_sheetport_staging")), "{tables:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_event_streams_and_the_server_exits_then_the_imports_resume() {
    let Site { dir, db, client, big } = Site::new();
    let mut server = Instance::start(&db, dir.path(), HEARTBEAT);
    let running = upload(&client, &server, &big, "running").await;
    wait_loading(&client, &server, &running).await;
    // One import slot: the second waits in the queue behind the first.
    let queued = upload(&client, &server, &big, "queued").await;
    assert_eq!(status(&client, &server, &queued).await["status"], "queued");
    // Both streams are open (their response has begun) before the signal.
    let open = |id: &str| client.get(server.url(&format!("/api/imports/{id}/events"))).send();
    let (running_response, queued_response) =
        (open(&running).await.expect("events"), open(&queued).await.expect("events"));
    let running_stream = tokio::spawn(read_events(running_response, Duration::from_secs(60)));
    let queued_stream = tokio::spawn(read_events(queued_response, Duration::from_secs(60)));

    server.signal("TERM");
    let code = server.wait_exit(Duration::from_secs(30));
    assert!(code.success(), "a clean exit: {code:?}");
    // The streams ended by themselves: the server did not have to close them when its grace ran out.
    server.log.wait_for("sheetport stopped", Duration::from_secs(10));
    assert!(!server.log.has("connections still open"), "the streams kept the server waiting");
    for (name, stream) in [("running", running_stream), ("queued", queued_stream)] {
        let events = stream.await.expect("the stream ended");
        assert!(
            events.iter().all(|e| e.event == "progress"),
            "{name}: no final event, the job is not over: {events:?}"
        );
    }
    let back = "SELECT count(*) FROM sheetport.imports WHERE status = 'queued' AND attempts = 0";
    assert_eq!(db.scalar(back).await, 2, "both wait in the queue, the interrupted attempt not counted");

    let again = Instance::start(&db, dir.path(), HEARTBEAT);
    for (id, table) in [(&running, "running"), (&queued, "queued")] {
        let end = wait_final(&client, &again, id, Duration::from_secs(300)).await;
        assert_eq!(end["status"], "succeeded", "{end}");
        assert_eq!(db.scalar(&format!("SELECT count(*) FROM {table}")).await, LONG as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_kills_its_server_every_time_fails_after_three_attempts_and_the_server_stays_up() {
    let Site { dir, db, client, big } = Site::new();
    let mut server = Instance::start(&db, dir.path(), HEARTBEAT);
    let id = upload(&client, &server, &big, "big").await;
    // Three starts in turn claim it and die with it (SIGKILL, as a crash or the OOM killer would).
    for attempt in 1..=3 {
        wait_loading(&client, &server, &id).await;
        let claimed = format!("SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND attempts = {attempt}");
        assert_eq!(db.scalar(&claimed).await, 1, "attempt {attempt}");
        server.kill9();
        server = Instance::start(&db, dir.path(), HEARTBEAT);
    }
    // The fourth start does not run it again: it fails it in words, and serves on.
    let end = wait_final(&client, &server, &id, Duration::from_secs(30)).await;
    assert_eq!(end["status"], "failed", "{end}");
    assert!(end["error"].as_str().unwrap_or("").contains("stopped every time"), "{end}");
    assert_eq!(status(&client, &server, &id).await["rows_done"], 0);
    let tables = db.tables().await;
    assert!(!tables.iter().any(|t| t == "big" || t.starts_with("_sheetport_staging")), "{tables:?}");
    // And it still imports what it is given.
    let small = dir.path().join("small.csv");
    crate::dataset::write_csv(&small, 100).expect("csv");
    let next = upload(&client, &server, &small, "small").await;
    assert_eq!(wait_final(&client, &server, &next, Duration::from_secs(60)).await["status"], "succeeded");
}
