//! The table browser's view (issue 14, point 3): sorted by any column, searched on the server,
//! past the end, exported as CSV with formulas neutralised, indexed for a sort on request, and given
//! a search index on request that finds what a scan finds and follows its table; on SQLite and
//! PostgreSQL.

use crate::helpers::{TestApp, on_postgres, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn page(app: &TestApp, query: &str) -> (u16, Value) {
    app.get_json(&format!("/api/tables/plants/rows{query}")).await
}

fn names(page: &Value) -> Vec<&str> {
    page["rows"].as_array().expect("rows").iter().map(|r| r[0].as_str().expect("a name")).collect()
}

async fn plants(app: &TestApp) {
    let text = "Name,Height,Note\noak,20,tall\nbirch,15,\"=HYPERLINK(\"\"x\"\")\"\nash,25,-5 degrees\nfir,15,Oakland\nyew,3,\n";
    let path = app.file("plants.csv");
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, "plants.csv", &[("table", "plants")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
}

#[tokio::test]
async fn a_view_sorts_searches_and_knows_its_end() {
    let app = spawn_app().await;
    plants(&app).await;
    let (_, p) = page(&app, "").await;
    assert_eq!(names(&p), ["oak", "birch", "ash", "fir", "yew"]);
    // Sorted by a column, ties in insertion order; descending is that order read backwards.
    let (_, p) = page(&app, "?sort=height").await;
    assert_eq!(names(&p), ["yew", "birch", "fir", "oak", "ash"]);
    let (_, p) = page(&app, "?sort=height&desc=1").await;
    assert_eq!(names(&p), ["ash", "oak", "fir", "birch", "yew"]);
    // Searched in every column, ignoring case; the count is of what it found, the table's beside it.
    let (_, p) = page(&app, "?q=OAK").await;
    assert_eq!(names(&p), ["oak", "fir"]);
    assert_eq!((p["total"].as_u64(), p["table_rows"].as_u64()), (Some(2), Some(5)));
    let (_, p) = page(&app, "?q=15&sort=name").await;
    assert_eq!(names(&p), ["birch", "fir"]);
    let (_, p) = page(&app, "?q=%25").await;
    assert_eq!(p["total"], 0, "a % is a character, not a wildcard");
    // Paged, and past the end: an empty page that still says how many rows there are.
    let (_, p) = page(&app, "?sort=name&offset=2&limit=2").await;
    assert_eq!(names(&p), ["fir", "oak"]);
    let (code, p) = page(&app, "?offset=50").await;
    assert_eq!(code, 200);
    assert_eq!((p["rows"].clone(), p["total"].as_u64()), (json!([]), Some(5)));
    // A column that is not there, a search past its bound: 400 in words.
    let (code, p) = page(&app, "?sort=colour").await;
    assert_eq!(code, 400);
    assert_eq!(p["error"], "the table \"plants\" has no column \"colour\" to sort by");
    let (code, p) = page(&app, &format!("?q={}", "a".repeat(201))).await;
    assert_eq!(code, 400, "{p}");
    let (code, p) = page(&app, "?q=oa%00k").await;
    assert_eq!((code, p["error"].as_str()), (400, Some("a search cannot hold the character NUL (U+0000)")));
    let (code, _) = page(&app, "?sort=height;DROP%20TABLE%20plants").await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn the_export_is_the_view_with_formulas_neutralised() {
    let app = spawn_app().await;
    plants(&app).await;
    let get = |q: &'static str| {
        let url = app.url(&format!("/api/tables/plants/export.csv{q}"));
        let client = app.client.clone();
        async move {
            let resp = client.get(url).send().await.expect("export");
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-disposition"], "attachment; filename=\"plants.csv\"");
            resp.text().await.expect("text")
        }
    };
    assert_eq!(
        get("").await,
        "name,height,note\r\noak,20,tall\r\nbirch,15,\"'=HYPERLINK(\"\"x\"\")\"\r\nash,25,\"'-5 degrees\"\r\nfir,15,Oakland\r\nyew,3,\r\n"
    );
    assert_eq!(get("?q=oak&sort=name&desc=1").await, "name,height,note\r\noak,20,tall\r\nfir,15,Oakland\r\n");
    let resp = app.client.get(app.url("/api/tables/nope/export.csv")).send().await.expect("export");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_large_export_streams_every_row() {
    let app = spawn_app().await;
    let mut text = String::from("n,word\n");
    for i in 0..25_000 {
        text.push_str(&format!("{i},w{i}\n"));
    }
    let path = app.file("many.csv");
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, "many.csv", &[("table", "many")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let body = app.client.get(app.url("/api/tables/many/export.csv?sort=n&desc=1")).send().await.expect("export");
    let body = body.text().await.expect("text");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 25_001);
    assert_eq!((lines[1], lines[25_000]), ("24999,w24999", "0,w0"));
}

#[tokio::test]
async fn deep_pages_and_common_searches_stay_cheap_and_exact() {
    let app = spawn_app().await;
    let mut text = String::from("n,word\n");
    for i in 1..=12_000 {
        text.push_str(&format!("{i},{}\n", if i % 2 == 0 { "even_one" } else { "odd" }));
    }
    let path = app.file("many.csv");
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, "many.csv", &[("table", "many")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    // A deep page starts at its row (by rowid where the rows are 1..n), and the same after rows at
    // the start are gone (by OFFSET): row 11,001 is what it says either way.
    let first = |p: &Value| p["rows"][0][0].as_i64();
    let (_, p) = app.get_json("/api/tables/many/rows?offset=11000&limit=5").await;
    assert_eq!(first(&p), Some(11_001));
    app.db.execute("DELETE FROM many WHERE n <= 2").await;
    let (_, p) = app.get_json("/api/tables/many/rows?offset=11000&limit=5").await;
    assert_eq!((first(&p), p["total"].as_u64()), (Some(11_003), Some(11_998)));
    // A search that finds more than it counts says so; `_` is a character, not a wildcard.
    let (_, p) = app.get_json("/api/tables/many/rows?q=o&limit=5").await;
    assert_eq!((p["total"].as_u64(), p["more"].as_bool()), (Some(10_000), Some(true)));
    let (_, p) = app.get_json("/api/tables/many/rows?q=n_o&limit=5").await;
    assert_eq!((p["total"].as_u64(), p["more"].as_bool()), (Some(5_999), Some(false)));
    // Its last page, short, ends the count; past the end it is counted again.
    let (_, p) = app.get_json("/api/tables/many/rows?q=n_o&offset=5990&limit=20").await;
    assert_eq!((p["rows"].as_array().map(Vec::len), p["total"].as_u64()), (Some(9), Some(5_999)));
    let (_, p) = app.get_json("/api/tables/many/rows?q=n_o&offset=7000&limit=20").await;
    assert_eq!((p["rows"].as_array().map(Vec::len), p["total"].as_u64()), (Some(0), Some(5_999)));
    let (_, p) = app.get_json("/api/tables/many/rows?q=N%20O&limit=5").await;
    assert_eq!(p["total"], 0);
    // A number is looked for in number columns too.
    let (_, p) = app.get_json("/api/tables/many/rows?q=11999").await;
    assert_eq!(first(&p), Some(11_999));
}

#[tokio::test]
async fn deep_pages_of_an_indexed_sort_are_the_sorted_rows() {
    let app = spawn_app().await;
    // 24,000 rows; `v` has runs of equal values and is empty (NULL) in every seventh row.
    let v = |n: i64| (n % 7 != 0).then_some((n * 37) % 500);
    let mut text = String::from("n,v\n");
    for n in 1..=24_000 {
        text.push_str(&format!("{n},{}\n", v(n).map(|x| x.to_string()).unwrap_or_default()));
    }
    let path = app.file("deep.csv");
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, "deep.csv", &[("table", "deep")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let resp = app.client.post(app.url("/api/tables/deep/indexes")).json(&json!({ "column": "v" })).send().await;
    assert_eq!(resp.expect("index").status(), 201);
    // Ascending: the values with the empty ones after them (PostgreSQL) or before (SQLite), as
    // each database orders them, ties in insertion order; descending is that read backwards.
    let mut asc: Vec<i64> = (1..=24_000).collect();
    asc.sort_by_key(|&n| (v(n).is_none() == on_postgres(), v(n), n));
    let desc: Vec<i64> = asc.iter().rev().copied().collect();
    // Deep pages (PostgreSQL finds them off the index from row 10,001), one that runs into the
    // empty values, pages among them, the last, and past the end.
    for offset in [0, 9_990, 10_000, 15_321, 20_560, 21_000, 23_990, 24_000, 30_000] {
        for (desc_q, want) in [("", &asc), ("&desc=1", &desc)] {
            let (code, p) =
                app.get_json(&format!("/api/tables/deep/rows?sort=v{desc_q}&offset={offset}&limit=20")).await;
            assert_eq!(code, 200, "{p}");
            let got: Vec<i64> = p["rows"].as_array().expect("rows").iter().map(|r| r[0].as_i64().expect("n")).collect();
            let expected: Vec<i64> = want.iter().skip(offset).take(20).copied().collect();
            assert_eq!(got, expected, "sort=v{desc_q} offset={offset}");
            assert_eq!(p["total"], 24_000);
        }
    }
}

#[tokio::test]
async fn many_pages_at_once_each_get_their_connections() {
    // One client asks for them all: its share of views is not what this is about.
    let app = spawn_app_with(|c| c.max_views_per_person = 64).await;
    plants(&app).await;
    let resp = app.client.post(app.url("/api/tables/plants/search-index")).send().await;
    assert_eq!(resp.expect("make").status(), 201);
    // On PostgreSQL a page of an indexed search reads on three connections at once; 48 of them at
    // once, each holding some of a pool of 16 and waiting for the rest, would wait for ever.
    let started = std::time::Instant::now();
    let pages = (0..48).map(|i| {
        let query = if i % 2 == 0 { "?q=oak" } else { "?q=tall&sort=height" };
        page(&app, query)
    });
    for (code, p) in futures::future::join_all(pages).await {
        assert_eq!((code, p["total"].as_u64().is_some()), (200, true), "{p}");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[tokio::test]
async fn exports_at_once_are_bounded_and_a_client_that_leaves_frees_its_place() {
    // The server's bound, not one person's share: this one client may hold them all.
    let app = spawn_app_with(|c| {
        c.max_exports_per_person = 8;
        c.max_views_per_person = 8;
    })
    .await;
    // 30 MB of CSV: more than loopback socket buffers take, so an export nobody reads stays open.
    let mut text = String::from("n,words\n");
    let filler = "x".repeat(90);
    for i in 0..300_000 {
        text.push_str(&format!("{i},{filler}\n"));
    }
    let path = app.file("wide.csv");
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, "wide.csv", &[("table", "wide")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let url = app.url("/api/tables/wide/export.csv");
    let (a, b) = (app.client.get(&url).send().await.expect("a"), app.client.get(&url).send().await.expect("b"));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let third = app.client.get(&url).send().await.expect("third");
    assert_eq!(third.status(), 503);
    let text = third.text().await.expect("text");
    assert!(text.contains("2 exports are running already"), "{text}");
    // The other pages are not held up meanwhile.
    assert_eq!(app.get_json("/api/tables/wide/rows?limit=1").await.0, 200);
    drop((a, b));
    let mut code = 0;
    for _ in 0..100 {
        let resp = app.client.get(&url).send().await.expect("again");
        code = resp.status().as_u16();
        if code == 200 {
            assert_eq!(resp.text().await.expect("all of it").lines().count(), 300_001);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(code, 200, "a place came free once its client left");
}

#[tokio::test]
async fn an_index_on_request_keeps_the_sorted_view_as_it_was() {
    let app = spawn_app().await;
    plants(&app).await;
    let (_, p) = page(&app, "?sort=height").await;
    assert_eq!((p["indexed"].clone(), p["may_write"].clone()), (json!([]), json!(true)));
    let index =
        |column: &str| app.client.post(app.url("/api/tables/plants/indexes")).json(&json!({ "column": column })).send();
    let resp = index("height").await.expect("index");
    assert_eq!(resp.status(), 201);
    // Asked again, it is there already: the same answer, no second index.
    assert_eq!(index("height").await.expect("index").status(), 201);
    let (_, p) = page(&app, "?sort=height").await;
    assert_eq!(p["indexed"], json!(["height"]));
    // Read off the index in the same order both ways, and paged.
    assert_eq!(names(&p), ["yew", "birch", "fir", "oak", "ash"]);
    let (_, p) = page(&app, "?sort=height&desc=1").await;
    assert_eq!(names(&p), ["ash", "oak", "fir", "birch", "yew"]);
    let (_, p) = page(&app, "?sort=height&offset=1&limit=2").await;
    assert_eq!(names(&p), ["birch", "fir"]);
    // A large append (on SQLite the index is set aside and made again after it) keeps the index.
    let path = app.file("more.csv");
    std::fs::write(&path, "Name,Height,Note\nelm,30,\nbox,1,\nyew,3,again\n").expect("write");
    let id = app.start_import(&path, "more.csv", &[("table", "plants"), ("mode", "append")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (_, p) = page(&app, "?sort=height").await;
    assert_eq!(p["indexed"], json!(["height"]));
    assert_eq!(names(&p), ["box", "yew", "yew", "birch", "fir", "oak", "ash", "elm"]);
    // A column that is not there, a table that is not: in words.
    let resp = index("colour").await.expect("index");
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["error"],
        "the table \"plants\" has no column \"colour\" to index"
    );
    let resp = app.client.post(app.url("/api/tables/nope/indexes")).json(&json!({"column": "a"})).send().await;
    assert_eq!(resp.expect("index").status(), 404);
}

/// The first column of the rows `q` finds in `visits`, which has a search index or not as `indexed`.
async fn who(app: &TestApp, q: &str, indexed: bool) -> Vec<String> {
    let (_, p) = app.get_json(&format!("/api/tables/visits/rows?q={q}")).await;
    assert_eq!(p["search_index"], indexed, "{p}");
    p["rows"].as_array().expect("rows").iter().map(|r| r[0].as_str().expect("who").to_owned()).collect()
}

#[tokio::test]
async fn a_search_finds_dates_and_times_as_they_are_shown_with_or_without_a_search_index() {
    let app = spawn_app().await;
    let path = app.file("visits.csv");
    std::fs::write(&path, "who,day,at\nAna,2024-03-05,2024-03-05 09:30:00\nBob,2024-11-20,2024-11-20 17:00:00\n")
        .expect("write");
    let id = app.start_import(&path, "visits.csv", &[("table", "visits")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (_, p) = app.get_json("/api/tables/visits/rows").await;
    assert_eq!(p["columns"][1]["type"], "date", "{p}");
    assert_eq!(who(&app, "2024-03", false).await, ["Ana"]);
    assert_eq!(who(&app, "17:00", false).await, ["Bob"]);
    assert_eq!(who(&app, "bo", false).await, ["Bob"]);
    assert!(who(&app, "2024-", false).await.len() == 2);
    // The same with the index (on PostgreSQL, dates and times through `sheetport.search_text`).
    let resp = app.client.post(app.url("/api/tables/visits/search-index")).send().await.expect("make");
    assert_eq!(resp.status(), 201);
    assert_eq!(who(&app, "2024-03", true).await, ["Ana"]);
    assert_eq!(who(&app, "17:00", true).await, ["Bob"]);
    assert_eq!(who(&app, "9:30:00", true).await, ["Ana"]);
    assert_eq!(who(&app, "11-20%2017", true).await, ["Bob"]);
    assert_eq!(who(&app, "2024-", true).await.len(), 2);
}

/// What `query` finds in `plants`: the names in order, and the count.
async fn found(app: &TestApp, query: &str) -> (Vec<String>, Value) {
    let (code, p) = page(app, query).await;
    assert_eq!(code, 200, "{query}: {p}");
    (names(&p).into_iter().map(str::to_owned).collect(), p["total"].clone())
}

#[tokio::test]
async fn a_search_index_finds_what_a_scan_finds_and_follows_its_table() {
    let app = spawn_app().await;
    plants(&app).await;
    // Three characters and more read the index; shorter ones, `%`, numbers, a sort and a page
    // further on are answered as before.
    let queries = [
        "?q=OAK",
        "?q=oakl",
        "?q=and",
        "?q=15",
        "?q=-5%20d",
        "?q=%3DHY",
        "?q=%25",
        "?q=irch&sort=height",
        "?q=a&limit=2&offset=1",
        "?q=zzz",
        "?q=%22%22x",
        "?q=degrees%20and%20more",
    ];
    let mut before = Vec::new();
    for q in queries {
        before.push(found(&app, q).await);
    }
    let (_, p) = page(&app, "?q=oak").await;
    assert_eq!(p["search_index"], false);
    let make = || app.client.post(app.url("/api/tables/plants/search-index")).send();
    assert_eq!(make().await.expect("make").status(), 201);
    assert_eq!(make().await.expect("again").status(), 201, "asked again, it is there already");
    let (_, p) = page(&app, "?q=oak").await;
    assert_eq!(p["search_index"], true);
    for (q, was) in queries.iter().zip(&before) {
        assert_eq!(&found(&app, q).await, was, "{q}");
    }
    assert_eq!(found(&app, "?q=OAK").await.0, ["oak", "fir"]);
    // The export of a search reads the index too.
    let csv = app.client.get(app.url("/api/tables/plants/export.csv?q=oak")).send().await.expect("export");
    assert_eq!(csv.text().await.expect("csv").lines().count(), 3);

    // Rows an append adds are found.
    let path = app.file("more.csv");
    std::fs::write(&path, "Name,Height,Note\nelm,30,Oakham\nbox,1,\n").expect("write");
    let id = app.start_import(&path, "more.csv", &[("table", "plants"), ("mode", "append")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    assert_eq!(found(&app, "?q=oak").await.0, ["oak", "fir", "elm"]);
    let (_, p) = page(&app, "?q=oak").await;
    assert_eq!(p["search_index"], true, "an append keeps the index");

    // A replace: the new table has no index, and is searched as it is; undone, the table comes
    // back with its index, in step with it.
    let path = app.file("new.csv");
    std::fs::write(&path, "Name,Height,Note\nmaple,12,Oak-like\n").expect("write");
    let id = app.start_import(&path, "new.csv", &[("table", "plants"), ("mode", "replace")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (_, p) = page(&app, "?q=oak").await;
    assert_eq!((names(&p), p["search_index"].clone()), (vec!["maple"], json!(false)));
    assert_eq!(make().await.expect("make").status(), 201);
    assert_eq!(found(&app, "?q=oak").await.0, ["maple"]);
    let undo = app.client.post(app.url(&format!("/api/imports/{}/undo", id))).send().await;
    assert_eq!(undo.expect("undo").status(), 200);
    let (_, p) = page(&app, "?q=oak").await;
    assert_eq!((names(&p), p["search_index"].clone()), (vec!["oak", "fir", "elm"], json!(true)));

    // A table that is not there: 404.
    let resp = app.client.post(app.url("/api/tables/nope/search-index")).send().await.expect("nope");
    assert_eq!(resp.status(), 404);

    if on_postgres() {
        // The restored table brought its own index back from where the replace kept it.
        let n =
            app.db.scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'plants' AND indexname = 'plants_search'");
        assert_eq!(n.await, 1);
    } else {
        // The index of the replacing table, which the undo dropped, goes at the next tidy (a make
        // runs one; so does the minutely sweep).
        assert_eq!(make().await.expect("make").status(), 201);
        let fts = app
            .db
            .texts(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'plants:search:*' \
                 AND sql LIKE 'CREATE VIRTUAL TABLE%'",
            )
            .await;
        assert_eq!(fts.len(), 1, "{fts:?}");
        // The search reads the index: a row taken out of it behind the app's back is not found.
        app.db.execute(&format!("DELETE FROM \"{}\" WHERE rowid = 1", fts[0])).await;
        assert_eq!(found(&app, "?q=oak").await.0, ["fir", "elm"]);
    }
}

#[tokio::test]
async fn a_search_index_follows_an_upsert_and_its_undo() {
    let app = spawn_app().await;
    let import = |name: &'static str, text: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let path = app.file(name);
            std::fs::write(&path, text).expect("write");
            let id = app.start_import(&path, name, &fields).await;
            let done = app.wait_final(&id).await;
            assert_eq!(done["status"], "succeeded", "{done}");
            done["id"].as_str().expect("id").to_owned()
        }
    };
    import("k.csv", "id,name\n1,Annabel\n2,Bobby\n", vec![("table", "k"), ("key", "id")]).await;
    let resp = app.client.post(app.url("/api/tables/k/search-index")).send().await.expect("make");
    assert_eq!(resp.status(), 201);
    let found = |q: &'static str| {
        let app = &app;
        async move {
            let (_, p) = app.get_json(&format!("/api/tables/k/rows?q={q}")).await;
            p["rows"].as_array().expect("rows").iter().map(|r| r[0].as_i64().expect("id")).collect::<Vec<_>>()
        }
    };
    // An upsert changes row 2 and adds row 3: the old text is found no more, the new is.
    import("u.csv", "id,name\n2,Roberta\n3,Bobbie\n", vec![("table", "k"), ("mode", "upsert"), ("key", "id")]).await;
    assert_eq!(found("bobb").await, [3]);
    assert_eq!(found("obert").await, [2]);
    // Insert-new adds rows; undone, they are found no more.
    let added =
        import("n.csv", "id,name\n4,Bobbington\n", vec![("table", "k"), ("mode", "insert-new"), ("key", "id")]).await;
    assert_eq!(found("bobb").await, [3, 4]);
    let undo = app.client.post(app.url(&format!("/api/imports/{added}/undo"))).send().await.expect("undo");
    assert_eq!(undo.status(), 200);
    assert_eq!(found("bobb").await, [3]);
}

#[tokio::test]
async fn a_search_index_being_filled_is_not_tidied_away() {
    if on_postgres() {
        return; // SQLite's index alone is a table of its own, filled in steps and tidied.
    }
    let app = spawn_app().await;
    plants(&app).await;
    // A fill in progress, as the first step of a make leaves it: the index's table and its
    // filling triggers, the final ones not yet there.
    app.db
        .execute(
            "CREATE VIRTUAL TABLE \"plants:search:1\" USING fts5(c0, c1, c2, content='', contentless_delete=1, \
             detail=none, tokenize='trigram'); \
             CREATE TRIGGER \"plants:search:1:filling-insert\" AFTER INSERT ON plants BEGIN \
             INSERT INTO \"plants:search:1\" (rowid, c0, c1, c2) VALUES (new.rowid, new.name, new.height, new.note); END;",
        )
        .await;
    // A tidy (a make on another table runs one) leaves it, so writes into the table still work.
    let path = app.file("other.csv");
    std::fs::write(&path, "a\nx\n").expect("write");
    let id = app.start_import(&path, "other.csv", &[("table", "other")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let resp = app.client.post(app.url("/api/tables/other/search-index")).send().await.expect("make");
    assert_eq!(resp.status(), 201);
    assert_eq!(app.db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'plants:search:1'").await, 1);
    let path = app.file("more.csv");
    std::fs::write(&path, "Name,Height,Note\nelm,30,\n").expect("write");
    let id = app.start_import(&path, "more.csv", &[("table", "plants"), ("mode", "append")]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    // The next make on the table drops what that fill left (no server is filling it) and makes
    // its own, which finds every row.
    let resp = app.client.post(app.url("/api/tables/plants/search-index")).send().await.expect("make");
    assert_eq!(resp.status(), 201);
    assert_eq!(app.db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'plants:search:1'").await, 0);
    assert_eq!(found(&app, "?q=elm").await.0, ["elm"]);
    assert_eq!(found(&app, "?q=OAK").await.0, ["oak", "fir"]);
}
