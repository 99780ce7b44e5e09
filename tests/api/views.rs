//! One reader cannot stall everyone (issue 27, point 2), on SQLite and PostgreSQL: a table of a
//! million rows, pages sorted by a column without an index asked for and abandoned by their
//! clients after 0.3 s, eight at once. Sessions and `/healthz` answer within a second throughout,
//! the abandoned queries stop (their connections free for the next pages at once, PostgreSQL's
//! backends idle), a deep page that would sort the whole table is refused in words, and a
//! statement past `--query-timeout` is stopped and said so.

use crate::access::{People, import, people, send, wait_final};
use crate::helpers::{TestApp, TestDb, spawn_app_with};
use reqwest::Method;
use std::time::{Duration, Instant};

const ROWS: i64 = 1_000_000;

/// ana's table `big`: an import of two rows, then `rows` more written straight into it (a region
/// of 400 hex digits, sorted by no index, and a number): 450 MB for [`ROWS`], where a page sorted
/// by region and searched takes about a second.
async fn big_table(app: &TestApp, p: &People, rows: i64) {
    let (code, body) = import(app, &p.ana, "big", "create").await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(wait_final(app, &p.ana, body["id"].as_str().expect("id")).await["status"], "succeeded");
    let sql = match &app.db {
        TestDb::Sqlite(_) => format!(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {rows}) \
             INSERT INTO big (region, units) SELECT hex(randomblob(200)), i FROM c"
        ),
        TestDb::Postgres { .. } => format!(
            "INSERT INTO big (region, units) SELECT upper(repeat(substr(md5(random()::text), 1, 16), 25)), i \
             FROM generate_series(1, {rows}) AS i; ANALYZE big"
        ),
    };
    app.db.execute(&sql).await;
}

/// Waits up to `within` for no query of the test's database to be running on PostgreSQL (a
/// cancel is sent a moment after its request ends); how many still run then.
async fn settled_backends(app: &TestApp, within: Duration) -> i64 {
    let until = Instant::now() + within;
    loop {
        let n = busy_backends(app).await;
        if n == 0 || Instant::now() > until {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Queries of the test's database running on PostgreSQL now (none on SQLite).
async fn busy_backends(app: &TestApp) -> i64 {
    match &app.db {
        TestDb::Sqlite(_) => 0,
        TestDb::Postgres { .. } => {
            app.db
                .scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                     AND state = 'active' AND pid <> pg_backend_pid()",
                )
                .await
        }
    }
}

#[tokio::test]
async fn abandoned_slow_views_stop_and_never_hold_up_sessions_or_health() {
    // bob asks for eight at once here: his share of views is not what this test is about.
    let app = spawn_app_with(|c| {
        c.query_timeout = Duration::from_secs(20);
        c.max_views_per_person = 16;
    })
    .await;
    let p = people(&app).await;
    big_table(&app, &p, ROWS).await;
    let (code, body) = import(&app, &p.ana, "small", "create").await;
    assert_eq!(code, 202, "{body}");
    wait_final(&app, &p.ana, body["id"].as_str().expect("id")).await;
    let slow = "/api/tables/big/rows?sort=region&offset=9000&q=A";
    // What one such page costs when its client waits (the precondition of what follows).
    let start = Instant::now();
    let (code, page) = send(&app, &p.bob, Method::GET, slow).await;
    let alone = start.elapsed();
    assert_eq!(code, 200, "{page}");
    // Slower than the 0.3 s after which its clients leave, with room to spare.
    assert!(alone > Duration::from_millis(450), "the slow page took only {alone:?}: the test needs a slower one");

    // Eight at once, each abandoned after 0.3 s; sessions and health are watched meanwhile.
    let watcher = {
        let (client, health, session, bob) =
            (app.client.clone(), app.url("/healthz"), app.url("/api/session"), p.bob.clone());
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                for (url, who) in [(&health, None), (&session, Some(&bob))] {
                    let t = Instant::now();
                    let request = client.get(url.as_str()).timeout(Duration::from_secs(5));
                    let request = match who {
                        Some(who) => who.on(request),
                        None => request,
                    };
                    let resp = request.send().await.expect("answered");
                    assert_eq!(resp.status().as_u16(), 200, "{url}");
                    worst = worst.max(t.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            worst
        })
    };
    let abandoned: Vec<_> = (0..8)
        .map(|_| {
            let (app_url, who) = (app.url(slow), p.bob.clone());
            let client = app.client.clone();
            tokio::spawn(async move {
                let request = who.on(client.get(app_url)).timeout(Duration::from_millis(300)).send();
                assert!(request.await.is_err(), "answered within 0.3 s: it was meant to be slow");
            })
        })
        .collect();
    for a in abandoned {
        a.await.expect("abandoned request");
    }
    // Moments after the last client left, nothing works for them any more: the views'
    // connections are free at once for the next pages, here of a small table (the abandoned
    // queries ran a second or more each, holding them, when nothing stopped them).
    let start = Instant::now();
    let next: Vec<_> = (0..3)
        .map(|_| {
            let (client, url, who) = (app.client.clone(), app.url("/api/tables/small/rows"), p.bob.clone());
            tokio::spawn(async move { who.on(client.get(url)).send().await.expect("page").status().as_u16() })
        })
        .collect();
    for page in next {
        assert_eq!(page.await.expect("page"), 200);
    }
    let waited = start.elapsed();
    let worst = watcher.await.expect("watcher");
    assert!(waited < Duration::from_secs(1), "the next three pages took {waited:?}: the views were still busy");
    let left = settled_backends(&app, Duration::from_secs(1)).await;
    assert_eq!(left, 0, "queries of abandoned views still running on PostgreSQL a second later");
    assert!(worst < Duration::from_secs(1), "health or session took {worst:?} while views were abandoned");
}

#[tokio::test]
async fn a_deep_page_sorted_without_an_index_is_refused_and_a_slow_one_stopped_in_words() {
    let app = spawn_app_with(|c| c.query_timeout = Duration::from_millis(200)).await;
    let p = people(&app).await;
    big_table(&app, &p, ROWS).await;
    // Deep and unindexed: refused at once, with the way out.
    let start = Instant::now();
    let (code, body) = send(&app, &p.bob, Method::GET, "/api/tables/big/rows?sort=region&offset=999000").await;
    assert_eq!(code, 422, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains("make the index") && error.contains("999,001"), "{error}");
    assert!(start.elapsed() < Duration::from_secs(2), "refused in {:?}", start.elapsed());
    // Past the timeout: stopped, and said so.
    let (code, body) = send(&app, &p.bob, Method::GET, "/api/tables/big/rows?sort=region&offset=9000&q=A").await;
    assert_eq!(code, 422, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("was stopped")), "{body}");
    assert_eq!(settled_backends(&app, Duration::from_secs(1)).await, 0, "a statement ran past its timeout");
}

#[tokio::test]
async fn one_person_reads_only_so_many_views_and_exports_at_once() {
    // Found: four slow pages from one person held every connection for views; two exports nobody
    // read refused everyone's exports for a minute.
    // Refused at once, for the test: a page past the share otherwise waits 2 s for the first.
    let app = spawn_app_with(|c| {
        c.max_views_per_person = 1;
        c.view_wait = Duration::ZERO;
        c.max_exports_per_person = 1;
    })
    .await;
    let p = people(&app).await;
    big_table(&app, &p, 300_000).await;
    let slow = "/api/tables/big/rows?sort=region&offset=9000&q=A";
    let page = |who: &crate::access::As| {
        let (client, url, who) = (app.client.clone(), app.url(slow), who.clone());
        tokio::spawn(async move {
            let resp = who.on(client.get(url)).send().await.expect("page");
            (resp.status().as_u16(), resp.json::<serde_json::Value>().await.unwrap_or_default())
        })
    };
    // Four of ana's at once (each reads for a while) and one of bob's beside them.
    let ana: Vec<_> = (0..4).map(|_| page(&p.ana)).collect();
    let bob = page(&p.bob);
    let mut answers = Vec::new();
    for a in ana {
        answers.push(a.await.expect("ana's page"));
    }
    assert!(answers.iter().all(|(code, _)| *code == 200 || *code == 429), "{answers:?}");
    assert!(answers.iter().any(|(code, _)| *code == 200), "none of ana's pages was read: {answers:?}");
    let (_, refused) = answers.iter().find(|(code, _)| *code == 429).expect("one of ana's pages was refused");
    let words = refused["error"].as_str().unwrap_or_default();
    assert!(
        words.contains(
            "you have 1 view of tables being read at once already (pages, lists of tables and exports count)"
        ),
        "{words}"
    );
    assert_eq!(bob.await.expect("bob").0, 200, "bob's share is his own");
    // Alone, ana's next page is hers again.
    assert_eq!(send(&app, &p.ana, Method::GET, slow).await.0, 200);

    // An export that ana does not read (120 MB: it cannot all wait in the sockets' buffers).
    let export = |who: &crate::access::As| who.on(app.client.get(app.url("/api/tables/big/export.csv"))).send();
    let held = export(&p.ana).await.expect("export");
    assert_eq!(held.status(), 200);
    let refused = export(&p.ana).await.expect("export");
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.expect("json");
    let words = body["error"].as_str().unwrap_or_default();
    assert!(words.contains("you are downloading 1 export already, as many as one person may at once"), "{words}");
    let bobs = export(&p.bob).await.expect("export");
    assert_eq!(bobs.status(), 200, "bob's share is his own");
    drop(bobs);
    // Once she lets go of it, the place is hers again.
    drop(held);
    let start = Instant::now();
    loop {
        let again = export(&p.ana).await.expect("export");
        if again.status() == 200 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "the export's place was not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
