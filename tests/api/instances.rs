//! Several real `sheetport serve` processes sharing one PostgreSQL database and one data
//! directory: progress followed on another instance than the one uploaded to, a queue shared
//! without double runs, instances killed (SIGKILL), frozen (SIGSTOP) or stopped (SIGTERM) in the
//! middle of an import. These always run on PostgreSQL, whatever `SHEETPORT_TEST_DB` says.

use crate::dataset;
use crate::helpers::{TestDb, read_events};
use crate::process::{Instance, LONG, events, long_csv, status, upload, wait_final, wait_loading};
use std::time::{Duration, Instant};

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
        db.scalar("SELECT count(*) FROM sheetport.imports WHERE status = 'succeeded' AND attempts = 1").await,
        10,
        "each claimed once"
    );
    assert_eq!(
        db.scalar("SELECT count(DISTINCT worker) FROM sheetport.imports").await,
        2,
        "both instances took a share"
    );
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
    a.kill9();
    let killed = Instant::now();

    // B's reaper finds A silent past the heartbeat timeout, puts the job back in the queue, and B
    // claims it: the row is B's, on its second attempt, counting from zero again.
    b.log.wait_for("re-queued or failed", Duration::from_secs(60));
    b.log.wait_for("claimed an import", Duration::from_secs(60));
    let taken_over = killed.elapsed();
    let row = format!(
        "SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND worker LIKE '{}' AND attempts = 2",
        b.worker_like()
    );
    assert_eq!(db.scalar(&row).await, 1, "the job is B's, on its second attempt");
    let end = wait_final(&client, &b, &id, Duration::from_secs(300)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(db.scalar("SELECT count(*) FROM big").await, LONG as i64);
    assert_eq!(
        db.scalar("SELECT attempts::bigint FROM sheetport.imports WHERE status = 'succeeded' AND table_name = 'big'")
            .await,
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
    let runs_on_a = db
        .scalar(&format!(
            "SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND worker LIKE '{}'",
            a.worker_like()
        ))
        .await
        == 1;
    let other = if runs_on_a { &b } else { &a };

    let resp = client.delete(other.url(&format!("/api/imports/{id}"))).send().await.expect("delete");
    assert_eq!(resp.status(), 202);
    let end = wait_final(&client, other, &id, Duration::from_secs(30)).await;
    assert_eq!(end["status"], "cancelled", "{end}");
    assert_eq!(end["rows_done"], 0, "{end}");
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
    a.signal("TERM");
    let code = a.wait_exit(Duration::from_secs(30));
    assert!(code.success(), "a clean exit: {code:?}");
    let back = db
        .scalar(&format!(
            "SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND status = 'queued' AND attempts = 0"
        ))
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
            "SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND status = 'running' AND attempts = {n} AND rows_done > 0"
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
    a.signal("STOP");
    let b = Instance::start(&db, dir.path(), HEARTBEAT);
    let end = wait_final(&client, &b, &id, Duration::from_secs(120)).await;
    // A wakes up: its next checkpoint (or its final statement) finds the job no longer its own,
    // and it stops, rolling back what it had loaded.
    a.signal("CONT");
    assert_eq!(end["status"], "succeeded", "{end}");
    a.log.wait_for("import taken over by another server", Duration::from_secs(60));
    assert_eq!(db.scalar("SELECT count(*) FROM big").await, LONG as i64, "exactly one run's rows");
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM sheetport.imports WHERE id = '{id}' AND status = 'succeeded' AND attempts = 2"
        ))
        .await,
        1
    );
    assert_eq!(db.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_sheetport_staging%'").await, 0);
    assert_eq!(status(&client, &a, &id).await["status"], "succeeded", "A reports the real outcome too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_streaming_an_import_another_one_runs_stops_at_once_on_sigterm() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let a = Instance::start(&db, dir.path(), 15.0);
    let big = long_csv(dir.path());
    let id = upload(&client, &a, &big, "big").await;
    wait_loading(&client, &a, &id).await;
    // B joins only now, so the job is certainly A's; B serves its stream from the row (a mirror).
    let mut b = Instance::start(&db, dir.path(), 15.0);
    let resp = client.get(b.url(&format!("/api/imports/{id}/events"))).send().await.expect("events");
    let stream = tokio::spawn(read_events(resp, Duration::from_secs(60)));

    b.signal("TERM");
    // Without the stream ending at shutdown, B waited for the import to finish on A (or forever).
    let code = b.wait_exit(Duration::from_secs(30));
    assert!(code.success(), "a clean exit: {code:?}");
    b.log.wait_for("sheetport stopped", Duration::from_secs(10));
    assert!(!b.log.has("connections still open"), "the stream kept the server waiting");
    let events = stream.await.expect("the stream ended");
    assert!(!events.is_empty() && events.iter().all(|e| e.event == "progress"), "{events:?}");
    // A carries on undisturbed.
    let end = wait_final(&client, &a, &id, Duration::from_secs(300)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_uploaded_to_two_instances_at_once_makes_distinct_tables() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (Instance::start(&db, dir.path(), 15.0), Instance::start(&db, dir.path(), 15.0));
    let client = reqwest::Client::new();
    let bytes = b"a\n1\n".to_vec();
    // No table name: each is named after the file, made unique across both instances.
    let posts = (0..8).map(|i| {
        let (client, to, bytes) = (&client, if i % 2 == 0 { &a } else { &b }, bytes.clone());
        async move {
            let form = reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(bytes).file_name("sales.csv"));
            let resp = client.post(to.url("/api/imports")).multipart(form).send().await.expect("post");
            assert_eq!(resp.status(), 202);
            resp.json::<serde_json::Value>().await.expect("json")["id"].as_str().expect("id").to_owned()
        }
    });
    let ids = futures::future::join_all(posts).await;
    let mut tables = Vec::new();
    for id in &ids {
        let end = wait_final(&client, &a, id, Duration::from_secs(120)).await;
        assert_eq!(end["status"], "succeeded", "{end}");
        tables.push(end["table"].as_str().expect("table").to_owned());
    }
    tables.sort();
    assert_eq!(tables, ["sales", "sales_2", "sales_3", "sales_4", "sales_5", "sales_6", "sales_7", "sales_8"]);
}
