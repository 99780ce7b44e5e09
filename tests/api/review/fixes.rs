//! Fixing a review's rejected rows (issue 28, point 2), on SQLite and PostgreSQL: a corrected cell
//! is checked as the import checks it and its row moves to insert or update (or stays, with its new
//! reason); a value replaced in every equal cell fixes many rows at once, in batches, and the next
//! import into the table reads those cells the same way; rows left out by error; a review with rows
//! still to fix under "stop: import nothing" is not committed until each is fixed or skipped; a
//! commit writes exactly the rows fixed; no one but who may commit it fixes it.

use super::{BEFORE, import, review_tables, rows, send, stock, wait};
use crate::access::{As, people};
use crate::helpers::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// POSTs `body` as JSON; the status and the answer.
async fn post(app: &TestApp, who: Option<&As>, path: &str, body: Value) -> (u16, Value) {
    let req = app.client.post(app.url(path)).json(&body);
    let req = match who {
        Some(who) => who.on(req),
        None => req,
    };
    let resp = req.send().await.expect("request");
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

/// The rejected rows still to fix, as `row: column=value (reason)`.
async fn rejects(app: &TestApp, id: &str) -> Vec<String> {
    let (code, page) = app.get_json(&format!("/api/imports/{id}/rejects?limit=200")).await;
    assert_eq!(code, 200, "{page}");
    page["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| {
            r["cells"].as_array().expect("cells").iter().map(move |c| {
                format!(
                    "{}: {}={} ({})",
                    r["row"],
                    c["column"].as_str().unwrap(),
                    c["value"],
                    c["reason"].as_str().unwrap()
                )
            })
        })
        .collect()
}

/// Rejects tables left in the data database.
async fn rejects_tables(app: &TestApp) -> Vec<String> {
    app.tables().await.into_iter().filter(|t| t.starts_with("_sheetport_rejects_")).collect()
}

/// Waits until no rejects table is left (they are dropped just after a commit).
async fn no_rejects_tables(app: &TestApp) {
    for _ in 0..100 {
        if rejects_tables(app).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("rejects tables left: {:?}", rejects_tables(app).await);
}

/// An upsert into `stock` with three bad quantities: rows 3, 4 and 5 of the sheet.
const BAD: &str = "id,name,qty\n1,Ana,10\n5,Eve,x\n6,Fay,12 pcs\n2,Bob,n/a\n";

#[tokio::test]
async fn a_corrected_cell_is_checked_as_the_import_checks_it_and_its_row_moves() {
    let app = spawn_app().await;
    stock(&app).await;
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "id"), ("review", "true"), ("on_error", "skip")];
    let reviewed = import(&app, "bad.csv", BAD, &fields, "review").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    let s = &reviewed["review"];
    assert_eq!(
        (&s["inserted"], &s["updated"], &s["rejected"], &s["skipped"]),
        (&json!(0), &json!(1), &json!(3), &json!(0))
    );
    assert_eq!(
        rejects(&app, &id).await,
        [
            "3: qty=\"x\" (is not a whole number)",
            "4: qty=\"12 pcs\" (is not a whole number)",
            "5: qty=\"n/a\" (is not a whole number)"
        ]
    );
    assert_eq!(rejects_tables(&app).await.len(), 1, "kept beside the review");

    // A value that still fails stays, with its reason for the new value.
    let cell = format!("/api/imports/{id}/rejects/cell");
    let (code, still) = post(&app, None, &cell, json!({ "row": 3, "column": "qty", "value": "3.5" })).await;
    assert_eq!(code, 200, "{still}");
    assert_eq!((&still["fixed"], &still["still"]), (&json!(0), &json!(1)));
    assert_eq!(still["rejected"][0]["cells"][0]["value"], "3.5");
    assert_eq!(still["words"], "Row 3 is still rejected: in \"qty\", \"3.5\" is not a whole number.");
    assert_eq!(still["summary"]["rejected"], 3);
    assert_eq!(rejects(&app, &id).await[0], "3: qty=\"3.5\" (is not a whole number)");

    // A value that passes: the row is new to the table, and goes into the review as an insert.
    let (code, fixed) = post(&app, None, &cell, json!({ "row": 3, "column": "qty", "value": " 50 " })).await;
    assert_eq!(code, 200, "{fixed}");
    assert_eq!(fixed["moved"], json!([{ "row": 3, "kind": "insert" }]));
    assert_eq!(fixed["words"], "Row 3 passes now: it will be added to the table.");
    assert_eq!((&fixed["summary"]["inserted"], &fixed["summary"]["rejected"]), (&json!(1), &json!(2)));
    // Row 5's key is in the table: it becomes an update, against the table's value now.
    let (_, fixed) = post(&app, None, &cell, json!({ "row": 5, "column": "qty", "value": "25" })).await;
    assert_eq!(fixed["moved"], json!([{ "row": 5, "kind": "update" }]), "{fixed}");
    assert_eq!(fixed["summary"]["changed"], json!([{ "column": "name", "cells": 1 }, { "column": "qty", "cells": 1 }]));

    // The counts follow everywhere: the import's state, its events, the diff.
    let (_, state) = app.get_json(&format!("/api/imports/{id}")).await;
    let s = &state["review"];
    assert_eq!(
        (&s["inserted"], &s["updated"], &s["unchanged"], &s["rejected"]),
        (&json!(1), &json!(2), &json!(0), &json!(1))
    );
    assert_eq!(state["rows_rejected"], 1);
    let events = app.events(&id).await;
    assert_eq!(events.last().expect("an event").data["review"], state["review"]);
    let (_, diff) = app.get_json(&format!("/api/imports/{id}/diff")).await;
    assert_eq!(
        diff["rows"],
        json!([
            { "row": 2, "kind": "update", "values": [1, "Ana", 10], "old": [null, "Ann", null] },
            { "row": 3, "kind": "insert", "values": [5, "Eve", 50], "old": null },
            { "row": 5, "kind": "update", "values": [2, "Bob", 25], "old": [null, null, 20] }
        ])
    );
    // Fixed rows are no longer to fix; an unknown row or column is said so.
    let (code, gone) = post(&app, None, &cell, json!({ "row": 3, "column": "qty", "value": "1" })).await;
    assert_eq!(code, 404, "{gone}");
    let (code, bad) = post(&app, None, &cell, json!({ "row": 4, "column": "weight", "value": "1" })).await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("no column \"weight\""), "{bad}");
    // A value past what a cell of a file may hold is refused before anything is read, in words.
    let long = "9".repeat(sheetport::import::limits::DEFAULT_MAX_CELL_BYTES + 1);
    let (code, bad) = post(&app, None, &cell, json!({ "row": 4, "column": "qty", "value": long })).await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("more than a cell may hold"), "{bad}");
    let (code, bad) = post(
        &app,
        None,
        &format!("/api/imports/{id}/rejects/map"),
        json!({ "column": "qty", "from": "12 pcs", "to": long }),
    )
    .await;
    assert_eq!(code, 400, "{bad}");

    // The commit writes exactly the fixed rows, and leaves row 4 out.
    let (code, body) = send(&app, Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    let done = wait(&app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["counts"], json!({ "inserted": 1, "updated": 2, "unchanged": 0, "rejected": 1 }));
    assert_eq!(rows(&app, "stock").await, ["1|Ana|10", "2|Bob|25", "3|Cy|30", "4|Dee|40", "5|Eve|50"]);
    // The error report keeps the row left out, not the rows fixed.
    let (_, errors) = app.get_json(&format!("/api/imports/{id}/errors")).await;
    let listed: Vec<u64> = errors.as_array().expect("errors").iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert_eq!(listed, [4], "{errors}");
    // And so do its groups, counted again when the commit ended (the review's count had three).
    crate::mapping::kept_groups(&app, &id).await;
    let (_, groups) = app.get_json(&format!("/api/imports/{id}/errors/groups")).await;
    assert_eq!(
        groups,
        json!([{ "column": "qty", "reason": "is not a whole number", "rows": 1, "common": [{ "value": "12 pcs", "rows": 1 }] }])
    );
    no_rejects_tables(&app).await;
    assert!(review_tables(&app).await.is_empty());
    let (_, audit) = app.get_json("/api/audit").await;
    assert!(audit.to_string().contains("review fixed"), "{audit}");
    assert!(audit.to_string().contains("row 3, \\\"qty\\\" set to \\\" 50 \\\""), "{audit}");
}

#[tokio::test]
async fn a_value_replaced_in_every_equal_cell_fixes_thousands_of_rows_and_the_next_import_reads_it_so() {
    let app = spawn_app().await;
    stock(&app).await;
    // 2,500 new rows, each with a quantity written as text: four in five "12 pcs", the rest "n/a".
    let mut text = String::from("id,name,qty\n1,Ana,10\n");
    for i in 0..2500 {
        let qty = if i % 5 == 0 { "n/a" } else { "12 pcs" };
        text.push_str(&format!("{},N{i},{qty}\n", 100 + i));
    }
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "id"), ("review", "true"), ("on_error", "skip")];
    let reviewed = import(&app, "many.csv", &text, &fields, "review").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    assert_eq!(reviewed["review"]["rejected"], 2500);
    let (code, groups) = app.get_json(&format!("/api/imports/{id}/rejects/groups")).await;
    assert_eq!(code, 200, "{groups}");
    assert_eq!(
        groups,
        json!([{ "column": "qty", "label": "qty", "reason": "is not a whole number", "rows": 2500,
                 "common": [{ "value": "12 pcs", "rows": 2000 }, { "value": "n/a", "rows": 500 }] }])
    );

    let map = format!("/api/imports/{id}/rejects/map");
    let (code, done) = post(&app, None, &map, json!({ "column": "qty", "from": "12 pcs", "to": "12" })).await;
    assert_eq!(code, 200, "{done}");
    assert_eq!((&done["fixed"], &done["still"]), (&json!(2000), &json!(0)), "{done}");
    assert_eq!((&done["summary"]["inserted"], &done["summary"]["rejected"]), (&json!(2000), &json!(500)));
    assert_eq!(
        done["words"],
        "\"12 pcs\" → \"12\" in \"qty\": 2,000 rows pass now. The next file into table \"stock\" is read the same way \
         (its preview lists it, and you can remove it there)."
    );
    // A replacement that does not pass leaves its rows rejected, with the reason for the new value.
    let (_, done) = post(&app, None, &map, json!({ "column": "qty", "from": "n/a", "to": "none" })).await;
    assert_eq!((&done["fixed"], &done["still"]), (&json!(0), &json!(500)), "{done}");
    assert_eq!(done["rejected"][0]["cells"][0]["value"], "none");
    let (code, nothing) = post(&app, None, &map, json!({ "column": "qty", "from": "n/a", "to": "" })).await;
    assert_eq!(code, 400, "the rejected cells say \"none\" now: {nothing}");
    let (_, done) = post(&app, None, &map, json!({ "column": "qty", "from": "none", "to": "" })).await;
    assert_eq!((&done["fixed"], &done["still"]), (&json!(500), &json!(0)), "{done}");
    assert_eq!(done["summary"]["rejected"], 0);

    let (code, body) = send(&app, Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    let committed = wait(&app, &id).await;
    assert_eq!(
        committed["counts"],
        json!({ "inserted": 2500, "updated": 1, "unchanged": 0, "rejected": 0 }),
        "{committed}"
    );
    assert_eq!(app.db.scalar("SELECT count(*) FROM stock WHERE qty = 12").await, 2000);
    assert_eq!(app.db.scalar("SELECT count(*) FROM stock WHERE qty IS NULL").await, 500);

    // The next file into the table: its preview offers the replacements, and an import with them
    // reads those cells as the review was told to.
    let next = "id,name,qty\n9000,Zed,12 pcs\n9001,Yan,none\n9002,Xi,n/a\n";
    let path = app.file("next.csv");
    std::fs::write(&path, next).expect("write");
    let resp = app.upload("/api/uploads", &path, "next.csv", &[]).await;
    let upload = resp.json::<Value>().await.expect("json")["upload_id"].as_str().expect("id").to_owned();
    let (_, preview) = app.get_json(&format!("/api/uploads/{upload}?table=stock")).await;
    let qty = preview["target"]["columns"].as_array().expect("choices").iter().find(|c| c["source"] == "qty").cloned();
    let qty = qty.expect("the qty column");
    assert_eq!(
        qty["values"],
        json!([{ "from": "12 pcs", "to": "12" }, { "from": "n/a", "to": "" }, { "from": "none", "to": "" }]),
        "{preview}"
    );
    let columns = preview["target"]["columns"].to_string();
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "id"), ("columns", columns.as_str())];
    let done = import(&app, "next.csv", next, &fields, "succeeded").await;
    assert_eq!(done["counts"]["rejected"], 0, "{done}");
    assert_eq!(
        app.db.texts("SELECT CAST(id AS TEXT) || '|' || COALESCE(CAST(qty AS TEXT), '∅') FROM stock WHERE id >= 9000 ORDER BY id").await,
        ["9000|12", "9001|∅", "9002|∅"],
        "\"n/a\" → \"none\", then \"none\" → empty: \"n/a\" is read as empty too"
    );
    // Without them (removed in the preview), the same cells are rejected again.
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "id"), ("on_error", "skip")];
    let done = import(&app, "again.csv", "id,name,qty\n9003,Wu,12 pcs\n", &fields, "succeeded").await;
    assert_eq!(done["counts"]["rejected"], 1, "{done}");
}

#[tokio::test]
async fn under_stop_import_nothing_a_review_commits_once_each_rejected_row_is_fixed_or_skipped() {
    let app = spawn_app().await;
    stock(&app).await;
    // Rows 3 and 4 hold bad quantities; row 5 repeats row 2's key. The rule is the default: stop.
    let text = "id,name,qty\n1,Ana,10\n5,Eve,x\n6,Fay,y\n1,Dup,11\n";
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "id"), ("review", "true")];
    let reviewed = import(&app, "stop.csv", text, &fields, "review").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    assert_eq!(reviewed["review"]["rejected"], 3, "{reviewed}");
    let (code, refused) = send(&app, Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 409, "{refused}");
    assert_eq!(
        refused["error"],
        "3 rows are still rejected (rows 3, 4, 5), and this import writes nothing while a row is rejected (its rule \
         for bad rows is \"stop: import nothing\"): fix or skip each in the list of rejected rows, then commit"
    );
    assert_eq!(rows(&app, "stock").await, BEFORE);

    // The repeated key was refused after staging: it can be skipped, not corrected.
    let (_, page) = app.get_json(&format!("/api/imports/{id}/rejects")).await;
    assert_eq!(page["rows"][2]["row"], 5);
    assert_eq!(page["rows"][2]["editable"], false);
    assert_eq!(page["rows"][2]["cells"][0]["reason"], "repeats the key of row 2; a key may appear only once in a file");
    let cell = format!("/api/imports/{id}/rejects/cell");
    let (code, body) = post(&app, None, &cell, json!({ "row": 5, "column": "id", "value": "7" })).await;
    assert_eq!(code, 409, "{body}");
    let skip = format!("/api/imports/{id}/rejects/skip");
    let (code, one) = post(&app, None, &skip, json!({ "row": 5 })).await;
    assert_eq!(code, 200, "{one}");
    assert_eq!((&one["skipped"], &one["words"]), (&json!(1), &json!("Row 5 is left out.")));
    // Every row with one error, in one statement.
    let (_, all) = post(&app, None, &skip, json!({ "column": "qty", "reason": "is not a whole number" })).await;
    assert_eq!(all["words"], "2 rows where \"qty\" is not a whole number are left out.", "{all}");
    assert_eq!((&all["summary"]["rejected"], &all["summary"]["skipped"]), (&json!(3), &json!(3)));
    let (_, page) = app.get_json(&format!("/api/imports/{id}/rejects")).await;
    assert_eq!((&page["total"], &page["skipped"], &page["rows"]), (&json!(0), &json!(3), &json!([])));
    let (code, body) = post(&app, None, &skip, json!({ "column": "qty" })).await;
    assert_eq!(code, 400, "{body}");

    let (code, body) = send(&app, Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    let done = wait(&app, &id).await;
    assert_eq!(done["counts"], json!({ "inserted": 0, "updated": 1, "unchanged": 0, "rejected": 3 }), "{done}");
    assert_eq!(rows(&app, "stock").await, ["1|Ana|10", "2|Bob|20", "3|Cy|30", "4|Dee|40"]);
    no_rejects_tables(&app).await;
}

#[tokio::test]
async fn a_key_a_fix_repeats_is_refused_as_the_import_refuses_it() {
    let app = spawn_app().await;
    stock(&app).await;
    let text = "id,name,qty\n7,Gus,70\nx,Hal,80\ny,Ida,90\n";
    let fields = [("table", "stock"), ("mode", "insert-new"), ("key", "id"), ("review", "true"), ("on_error", "skip")];
    let reviewed = import(&app, "keys.csv", text, &fields, "review").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    let cell = format!("/api/imports/{id}/rejects/cell");
    // Row 3 takes the key row 2 has in the review: refused, and kept to fix again.
    let (_, taken) = post(&app, None, &cell, json!({ "row": 3, "column": "id", "value": "7" })).await;
    assert_eq!(
        taken["words"],
        "Row 3 is still rejected: in \"id\", \"7\" repeats the key of row 2; a key may appear only once in a file.",
        "{taken}"
    );
    assert_eq!(taken["rejected"][0]["editable"], true);
    // Row 4 takes a key the table has: insert-new leaves that row as it is.
    let (_, kept) = post(&app, None, &cell, json!({ "row": 4, "column": "id", "value": "3" })).await;
    assert_eq!(kept["moved"], json!([{ "row": 4, "kind": "unchanged" }]), "{kept}");
    let (_, fixed) = post(&app, None, &cell, json!({ "row": 3, "column": "id", "value": "8" })).await;
    assert_eq!(fixed["moved"], json!([{ "row": 3, "kind": "insert" }]), "{fixed}");
    send(&app, Method::POST, &format!("/api/imports/{id}/commit")).await;
    let done = wait(&app, &id).await;
    assert_eq!(done["counts"], json!({ "inserted": 2, "updated": 0, "unchanged": 1, "rejected": 0 }), "{done}");
    assert_eq!(rows(&app, "stock").await, ["1|Ann|10", "2|Bob|20", "3|Cy|30", "4|Dee|40", "7|Gus|70", "8|Hal|80"]);
}

#[tokio::test]
async fn only_who_may_commit_a_review_fixes_it() {
    let app = spawn_app().await;
    let p = people(&app).await;
    // ana's table, and her review of an upsert into it with a bad row.
    let upload = |who: &As, name: &str, text: &str, fields: &[(&str, &str)]| {
        let mut form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_owned()));
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        who.on(app.client.post(app.url("/api/imports"))).multipart(form).send()
    };
    let made =
        upload(&p.ana, "s.csv", "id,name,qty\n1,Ann,10\n", &[("table", "stock"), ("key", "id")]).await.expect("import");
    let made: Value = made.json().await.expect("json");
    crate::access::wait_final(&app, &p.ana, made["id"].as_str().unwrap()).await;
    let fields = [("table", "stock"), ("mode", "upsert"), ("key", "id"), ("review", "true"), ("on_error", "skip")];
    let resp = upload(&p.ana, "u.csv", "id,name,qty\n2,Bob,x\n", &fields).await.expect("import");
    let id = resp.json::<Value>().await.expect("json")["id"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        let (_, state) = crate::access::send(&app, &p.ana, Method::GET, &format!("/api/imports/{id}")).await;
        if state["status"] == "review" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cell = format!("/api/imports/{id}/rejects/cell");
    let fix = json!({ "row": 2, "column": "qty", "value": "20" });
    // bob cannot see ana's review, let alone fix it; neither can the anonymous.
    assert_eq!(post(&app, Some(&p.bob), &cell, fix.clone()).await.0, 404);
    assert_eq!(post(&app, Some(&As::anonymous()), &cell, fix.clone()).await.0, 401);
    let skip = format!("/api/imports/{id}/rejects/skip");
    assert_eq!(post(&app, Some(&p.bob), &skip, json!({ "row": 2 })).await.0, 404);
    assert_eq!(crate::access::send(&app, &p.bob, Method::GET, &format!("/api/imports/{id}/rejects")).await.0, 404);
    let args = [("id", id.as_str()), ("fix[row]", "2"), ("fix[column]", "qty"), ("fix[value]", "20")];
    assert_eq!(crate::access::rpc(&app, &p.bob, "fix_cell", &args).await.0, 404);
    // ana can.
    let (code, fixed) = post(&app, Some(&p.ana), &cell, fix).await;
    assert_eq!(code, 200, "{fixed}");
    assert_eq!(fixed["fixed"], 1);
}

#[test]
fn a_dry_run_with_rejected_rows_under_stop_import_nothing_says_the_import_would_fail() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&a, "id,name,qty\n1,Ann,10\n").expect("a");
    std::fs::write(&b, "id,name,qty\n1,Ana,10\n2,Bob,x\n").expect("b");
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let path = |p: &std::path::Path| p.to_str().expect("path").to_owned();
    let run = crate::cli::run;
    assert_eq!(run(&["import", &path(&a), "--database", &url, "--table", "t", "--key", "id"]).0, 0);
    let upsert = ["--database", &url, "--table", "t", "--mode", "upsert", "--key", "id", "--dry-run"];
    let (code, out, err) = run(&[&["import", &path(&b)][..], &upsert[..]].concat());
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.ends_with(
            "; 1 row would be left out\nwith --on-error fail the import would write nothing while 1 row has values its \
             columns cannot take (--errors FILE lists them); correct the file, or use --on-error skip\n"
        ),
        "{out}"
    );
    let (code, out, err) = run(&[&["import", &path(&b)][..], &upsert[..], &["--on-error", "skip"][..]].concat());
    assert_eq!(code, 0, "{out}{err}");
}

#[tokio::test]
async fn a_fix_is_checked_against_the_tables_own_rules_as_the_import_is() {
    let app = spawn_app().await;
    // A table made by hand, with a rule of its own on the quantity.
    app.db
        .execute(
            "CREATE TABLE counted (id INTEGER PRIMARY KEY, qty INTEGER CONSTRAINT qty_not_negative CHECK (qty >= 0))",
        )
        .await;
    app.db.execute("INSERT INTO counted (id, qty) VALUES (1, 10)").await;
    let fields = [("table", "counted"), ("mode", "upsert"), ("key", "id"), ("review", "true"), ("on_error", "skip")];
    let reviewed = import(&app, "counts.csv", "id,qty\n1,11\n2,x\n3,-4\n", &fields, "review").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    // The import refused row 4 for the rule, row 3 for its type.
    assert_eq!(
        rejects(&app, &id).await,
        [
            "3: qty=\"x\" (is not a whole number)",
            "4: qty=\"-4\" (is not allowed by the table's rule \"qty_not_negative\")"
        ]
    );
    // A fix that breaks the rule stays, with the rule in words; one that keeps it passes.
    let cell = format!("/api/imports/{id}/rejects/cell");
    let (_, still) = post(&app, None, &cell, json!({ "row": 3, "column": "qty", "value": "-1" })).await;
    assert_eq!(
        still["words"],
        "Row 3 is still rejected: in \"qty\", \"-1\" is not allowed by the table's rule \"qty_not_negative\".",
        "{still}"
    );
    let (_, fixed) = post(&app, None, &cell, json!({ "row": 3, "column": "qty", "value": "2" })).await;
    assert_eq!(fixed["moved"], json!([{ "row": 3, "kind": "insert" }]), "{fixed}");
    // Row 4 was refused by the rule after it was staged: it was not kept whole, and can be skipped.
    let map = format!("/api/imports/{id}/rejects/map");
    let (_, mapped) = post(&app, None, &map, json!({ "column": "qty", "from": "-4", "to": "4" })).await;
    assert_eq!((&mapped["fixed"], &mapped["still"]), (&json!(0), &json!(0)), "{mapped}");
    assert!(mapped["words"].as_str().unwrap().contains("1 row with it was refused after it was read"), "{mapped}");
    let (code, _) = post(&app, None, &format!("/api/imports/{id}/rejects/skip"), json!({ "row": 4 })).await;
    assert_eq!(code, 200);
    send(&app, Method::POST, &format!("/api/imports/{id}/commit")).await;
    let done = wait(&app, &id).await;
    assert_eq!(done["counts"], json!({ "inserted": 1, "updated": 1, "unchanged": 0, "rejected": 1 }), "{done}");
    assert_eq!(
        app.db.texts("SELECT CAST(id AS TEXT) || '|' || CAST(qty AS TEXT) FROM counted ORDER BY id").await,
        ["1|11", "2|2"]
    );
}

#[tokio::test]
async fn a_fix_may_not_take_a_unique_value_another_row_of_the_review_writes() {
    let app = spawn_app().await;
    // A unique email besides the key. Row 2 of the file brings new@x.org; row 3 brings it too,
    // with a bad quantity, so the import refused row 3 for its type before the emails were compared.
    app.db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, qty INTEGER)").await;
    app.db.execute("INSERT INTO people (id, email, qty) VALUES (1, 'ann@x.org', 1)").await;
    let fields = [("table", "people"), ("mode", "upsert"), ("key", "id"), ("review", "true"), ("on_error", "skip")];
    let text = "id,email,qty\n10,new@x.org,1\n11,new@x.org,x\n";
    let reviewed = import(&app, "people.csv", text, &fields, "review").await;
    let id = reviewed["id"].as_str().unwrap().to_owned();
    assert_eq!(rejects(&app, &id).await, ["3: qty=\"x\" (is not a whole number)"]);
    // The quantity fixed, the email is one the review writes already: refused in words, not let
    // in to make the commit fail (on the old code it moved in, and the commit was refused as "the
    // table changed after this review was made").
    let cell = format!("/api/imports/{id}/rejects/cell");
    let (_, still) = post(&app, None, &cell, json!({ "row": 3, "column": "qty", "value": "2" })).await;
    assert_eq!(
        still["words"],
        "Row 3 is still rejected: in \"email\", \"new@x.org\" repeats the value of \"email\" of row 2; the table takes \
         each value only once.",
        "{still}"
    );
    let (_, fixed) = post(&app, None, &cell, json!({ "row": 3, "column": "email", "value": "eve@x.org" })).await;
    assert_eq!(fixed["moved"], json!([{ "row": 3, "kind": "insert" }]), "{fixed}");
    let (code, body) = send(&app, Method::POST, &format!("/api/imports/{id}/commit")).await;
    assert_eq!(code, 202, "{body}");
    let done = wait(&app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        app.db
            .texts("SELECT CAST(id AS TEXT) || '|' || email || '|' || CAST(qty AS TEXT) FROM people ORDER BY id")
            .await,
        ["1|ann@x.org|1", "10|new@x.org|1", "11|eve@x.org|2"]
    );
}
