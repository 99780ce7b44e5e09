//! The live table's rules, checked before the merge (issue 28, point 3): a table made by hand with
//! a UNIQUE index, CHECK constraints (named and not), a foreign key, and on PostgreSQL `varchar(n)`,
//! `numeric(p,s)`, `smallint` and types sheetport does not make (uuid, an enum, jsonb, time). Each
//! row that breaks a rule is a row error with its sheet row, the column and the rule in words,
//! under the person's error rule; the merge itself never fails on data. Before, the first such row
//! failed the whole import with the database's own message and no row number. SQLite and
//! PostgreSQL (`SHEETPORT_TEST_DB=postgres`).

use crate::helpers::{TestApp, on_postgres, spawn_app};
use crate::review::wait;
use serde_json::Value;

async fn import(app: &TestApp, name: &str, text: &str, fields: &[(&str, &str)]) -> Value {
    let path = app.file(name);
    std::fs::write(&path, text).expect("write");
    let id = app.start_import(&path, name, fields).await;
    wait(app, &id).await
}

/// The import's row errors: `(row, column, value, reason)`, by row.
async fn row_errors(app: &TestApp, done: &Value) -> Vec<(u64, String, String, String)> {
    let id = done["id"].as_str().expect("id");
    let (code, list) = app.get_json(&format!("/api/imports/{id}/errors?limit=1000")).await;
    assert_eq!(code, 200, "{list}");
    let mut out: Vec<(u64, String, String, String)> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().expect("text").to_owned();
            (e["row"].as_u64().expect("row"), text("column"), text("value"), text("reason"))
        })
        .collect();
    out.sort();
    out
}

fn counts(done: &Value) -> [u64; 4] {
    let c = &done["counts"];
    ["inserted", "updated", "unchanged", "rejected"].map(|k| c[k].as_u64().unwrap_or_else(|| panic!("{k} in {done}")))
}

async fn skus(app: &TestApp) -> Vec<String> {
    app.db.texts("SELECT sku || '|' || coalesce(email, '') FROM stock ORDER BY sku").await
}

const STOCK: &str = "CREATE TABLE suppliers (id INTEGER PRIMARY KEY); INSERT INTO suppliers VALUES (1), (2); \
    CREATE TABLE stock (sku TEXT PRIMARY KEY, email TEXT UNIQUE, qty INTEGER CHECK (qty >= 0), \
    supplier INTEGER REFERENCES suppliers (id), price REAL, CONSTRAINT cheap CHECK (price < 1000)); \
    INSERT INTO stock VALUES ('a', 'a@x', 1, 1, 5);";

const FILE: &str = "sku,email,qty,supplier,price\n\
    b,b@x,2,1,10\n\
    c,a@x,3,2,10\n\
    d,d@x,-1,1,10\n\
    e,e@x,4,9,10\n\
    f,f@x,5,2,2000\n\
    g,b@x,6,2,10\n\
    h,,7,,\n";

#[tokio::test]
async fn every_row_a_tables_rules_refuse_is_a_row_error_with_its_row_and_the_rule_in_words() {
    let app = spawn_app().await;
    app.db.execute(STOCK).await;

    // Stop (the default): nothing is written, and the message names the first rows.
    let done = import(&app, "stock.csv", FILE, &[("table", "stock"), ("mode", "append")]).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().expect("an error");
    assert!(error.starts_with("5 rows have values") && error.contains("row 4, \"qty\""), "{error}");
    assert!(!error.to_lowercase().contains("constraint failed") && !error.contains("violates"), "{error}");
    assert_eq!(skus(&app).await, ["a|a@x"]);

    // Skip: every such row is listed, and the rest go in.
    let done = import(&app, "stock.csv", FILE, &[("table", "stock"), ("mode", "append"), ("on_error", "skip")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(counts(&done), [2, 0, 0, 5], "{done}");
    assert_eq!(skus(&app).await, ["a|a@x", "b|b@x", "h|"]);
    let errors = row_errors(&app, &done).await;
    let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.0, e.1.as_str())).collect();
    assert_eq!(found, [(3, "email"), (4, "qty"), (5, "supplier"), (6, "price"), (7, "email")], "{errors:?}");
    let reason = |row: u64| errors.iter().find(|e| e.0 == row).map(|e| e.3.clone()).unwrap_or_default();
    assert_eq!(errors[0].2, "a@x");
    assert_eq!(
        reason(3),
        "is in the table already (column \"email\", in another row), and the table takes each value only once"
    );
    assert!(reason(4).contains("qty"), "an unnamed check is named by its column: {}", reason(4));
    assert_eq!(errors[2].2, "9");
    assert_eq!(reason(5), "is not in the table \"suppliers\" (column \"id\"), which this column must refer to");
    assert!(errors[3].2.starts_with("2000"), "{errors:?}");
    assert_eq!(reason(6), "is not allowed by the table's rule \"cheap\"");
    assert_eq!(reason(7), "repeats the value of \"email\" of row 2; the table takes each value only once");

    // An upsert changes its own key's row, never another's value of a unique column.
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "sku"), ("on_error", "skip")];
    let done = import(&app, "up.csv", "sku,email\na,b@x\nb,b2@x\nh,h@x\n", &fields).await;
    assert_eq!(counts(&done), [0, 2, 0, 1], "{done}");
    assert_eq!(skus(&app).await, ["a|a@x", "b|b2@x", "h|h@x"]);
    assert_eq!(row_errors(&app, &done).await[0].0, 2);
    let done = import(&app, "up.csv", "sku,email\na,a@x\n", &fields).await;
    assert_eq!(counts(&done), [0, 0, 1, 0], "its own value is no repeat: {done}");

    // NOT NULL with a default: an empty cell does not take the default; a missing column does.
    app.db.execute("CREATE TABLE notes (id INTEGER, note TEXT NOT NULL DEFAULT 'none')").await;
    let fields = [("table", "notes"), ("mode", "append"), ("on_error", "skip")];
    let done = import(&app, "notes.csv", "id,note\n1,\n2,x\n", &fields).await;
    assert_eq!(counts(&done), [1, 0, 0, 1], "{done}");
    let errors = row_errors(&app, &done).await;
    assert_eq!(
        errors,
        [(2, "note".into(), String::new(), "is empty, and the table's column \"note\" needs a value".into())]
    );
    import(&app, "ids.csv", "id\n3\n", &fields).await;
    let notes = app.db.texts("SELECT id || '|' || note FROM notes ORDER BY id").await;
    assert_eq!(notes, ["2|x", "3|none"]);
}

#[tokio::test]
async fn a_review_lists_the_rows_the_tables_rules_refuse_and_commits_the_rest() {
    let app = spawn_app().await;
    app.db.execute(STOCK).await;
    let fields = [("table", "stock"), ("mode", "append"), ("on_error", "skip"), ("review", "true")];
    let done = import(&app, "stock.csv", FILE, &fields).await;
    assert_eq!(done["status"], "review", "{done}");
    assert_eq!(done["review"]["inserted"], 2, "{done}");
    assert_eq!(done["review"]["rejected"], 5, "{done}");
    let id = done["id"].as_str().expect("id");
    let resp = app.client.post(app.url(&format!("/api/imports/{id}/commit"))).send().await.expect("commit");
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap_or_default());
    let done = wait(&app, id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(skus(&app).await, ["a|a@x", "b|b@x", "h|"]);
}

#[tokio::test]
async fn postgres_types_sheetport_does_not_make_and_sized_types_are_checked_per_value() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    app.db
        .execute(
            "CREATE TYPE mood AS ENUM ('new', 'paid'); \
             CREATE TABLE orders (id uuid PRIMARY KEY, code varchar(3), amount numeric(5,2), n smallint, \
             status mood, meta jsonb, at time, took interval)",
        )
        .await;
    let good = "123e4567-e89b-12d3-a456-426614174000";
    let text = format!(
        "id,code,amount,n,status,meta,at,took\n\
         {good},abc,999.994,7,new,{{}},14:30,2 hours\n\
         not-a-uuid,abc,1,1,new,{{}},14:30,1 day\n\
         223e4567-e89b-12d3-a456-426614174000,abcd,1,1,new,{{}},14:30,1 day\n\
         323e4567-e89b-12d3-a456-426614174000,abc,999.995,1,new,{{}},14:30,1 day\n\
         423e4567-e89b-12d3-a456-426614174000,abc,1,40000,new,{{}},14:30,1 day\n\
         523e4567-e89b-12d3-a456-426614174000,abc,1,1,lost,{{}},14:30,1 day\n\
         623e4567-e89b-12d3-a456-426614174000,abc,1,1,paid,{{x,14:30,1 day\n\
         723e4567-e89b-12d3-a456-426614174000,abc,1,1,paid,,25:99,1 day\n\
         823e4567-e89b-12d3-a456-426614174000,,,,,,,\n"
    );
    let done =
        import(&app, "orders.csv", &text, &[("table", "orders"), ("mode", "append"), ("on_error", "skip")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(counts(&done), [2, 0, 0, 7], "{done}");
    let errors = row_errors(&app, &done).await;
    let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.0, e.1.as_str())).collect();
    assert_eq!(
        found,
        [(3, "id"), (4, "code"), (5, "amount"), (6, "n"), (7, "status"), (8, "meta"), (9, "at")],
        "{errors:?}"
    );
    assert_eq!(
        errors[0].3,
        "is not a UUID (like 123e4567-e89b-12d3-a456-426614174000), which the table's column \"id\" takes"
    );
    assert_eq!(errors[1].3, "has 4 characters; the table's column \"code\" takes at most 3");
    assert_eq!(
        errors[2].3,
        "is too large for the table's column \"amount\", which takes numbers with 2 decimals below 1,000"
    );
    assert!(errors[3].3.contains("from -32,768 to 32,767"), "{errors:?}");
    assert_eq!(errors[4].3, "is not one of: new, paid, which the table's column \"status\" takes");
    let rows = app
        .db
        .texts("SELECT id::text || '|' || coalesce(amount::text, '') || '|' || coalesce(took::text, '') FROM orders ORDER BY id")
        .await;
    assert_eq!(rows, [format!("{good}|999.99|02:00:00"), "823e4567-e89b-12d3-a456-426614174000||".to_owned()]);

    // An upsert by the uuid, through a review: the declared types hold in the review's table too.
    let fields = [("table", "orders"), ("mode", "upsert"), ("key", "id"), ("review", "true")];
    let done = import(&app, "up.csv", &format!("id,amount,status\n{good},12.5,paid\n"), &fields).await;
    assert_eq!(done["status"], "review", "{done}");
    assert_eq!(done["review"]["updated"], 1, "{done}");
    let id = done["id"].as_str().expect("id");
    let resp = app.client.post(app.url(&format!("/api/imports/{id}/commit"))).send().await.expect("commit");
    assert!(resp.status().is_success());
    assert_eq!(wait(&app, id).await["status"], "succeeded");
    let row =
        app.db.texts(&format!("SELECT amount::text || '|' || status::text FROM orders WHERE id = '{good}'")).await;
    assert_eq!(row, ["12.50|paid"]);
}

/// A sheet of `width` columns and two rows: `sku` and then `c1`, `c2`, ... holding `cell(i)`.
fn wide(width: usize, cell: impl Fn(usize) -> String) -> String {
    let header: Vec<String> = std::iter::once("sku".to_owned()).chain((1..width).map(|i| format!("c{i}"))).collect();
    let row = |sku: &str| -> String {
        std::iter::once(sku.to_owned()).chain((1..width).map(&cell)).collect::<Vec<_>>().join(",")
    };
    format!("{}\n{}\n{}\n", header.join(","), row("a"), row("b"))
}

#[tokio::test]
async fn the_width_is_what_the_database_used_takes_and_a_row_past_it_is_refused_in_words() {
    let app = spawn_app().await;
    // 1,500 columns: past the 1,000 once taken everywhere, within both databases' tables.
    let numbers = wide(1500, |i| i.to_string());
    let words = wide(1500, |i| format!("w{}", i % 7));
    let done = import(&app, "words.csv", &words, &[("table", "words")]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(app.db.texts("SELECT c1499 FROM words ORDER BY sku").await, ["w1", "w1"]);
    let done = import(&app, "numbers.csv", &numbers, &[("table", "numbers")]).await;
    if on_postgres() {
        // 1,500 numbers are 12 KB: no PostgreSQL row holds them.
        assert_eq!(done["status"], "failed", "{done}");
        let error = done["error"].as_str().expect("error");
        assert!(error.starts_with("a row of this sheet needs more room than PostgreSQL gives one row"), "{error}");
        let done = import(&app, "wider.csv", &wide(1601, |_| "x".into()), &[("table", "wider")]).await;
        assert_eq!(
            done["error"],
            "this import has 1,601 columns, more than a PostgreSQL table takes (1,600); leave some columns out",
            "{done}"
        );
    } else {
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(app.db.scalar("SELECT sum(c1499) FROM numbers").await, 2998);
        // An upsert of them in review keeps each column twice: 2,999 columns are past SQLite's 2,000.
        let fields = [
            ("table", "numbers"),
            ("mode", "upsert"),
            ("key", "sku"),
            ("add_unique_index", "true"),
            ("review", "true"),
        ];
        let done = import(&app, "numbers.csv", &numbers, &fields).await;
        assert_eq!(done["status"], "failed", "{done}");
        let error = done["error"].as_str().expect("error");
        assert!(error.contains("import without review"), "{error}");
        // Without review it goes in, and (too wide to keep its earlier values) cannot be undone.
        let changed = wide(1500, |i| (i + 1).to_string());
        let done = import(&app, "numbers.csv", &changed, &fields[..4]).await;
        assert_eq!(counts(&done), [0, 2, 0, 0], "{done}");
        assert!(done["undo"].is_null(), "{done}");
        assert_eq!(app.db.scalar("SELECT sum(c1499) FROM numbers").await, 3000);
        // 600 columns are kept (1,202 columns, a print of 599 values) and undone.
        let fields = [("table", "six"), ("mode", "upsert"), ("key", "sku"), ("add_unique_index", "true")];
        import(&app, "six.csv", &wide(600, |i| i.to_string()), &fields[..1]).await;
        let done = import(&app, "six.csv", &wide(600, |i| (i * 2).to_string()), &fields).await;
        assert_eq!(counts(&done), [0, 2, 0, 0], "{done}");
        assert!(!done["undo"].is_null(), "{done}");
        let id = done["id"].as_str().expect("id");
        let resp = app.client.post(app.url(&format!("/api/imports/{id}/undo"))).send().await.expect("undo");
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap_or_default());
        assert_eq!(app.db.scalar("SELECT sum(c599) FROM six").await, 1198);
    }
}
