//! `sheetport import FILE`, run as a person runs it: the summary line on stdout, the exit code
//! (0 done, 1 failed, 2 a wrong command line, 130 cancelled with Ctrl-C), and the database left
//! whole or as it was.

use crate::dataset;
use crate::helpers::TestDb;
use crate::process::{long_csv, signal, wait_exit};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn sheetport() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sheetport"));
    cmd.env("RUST_LOG", "warn").env("NO_COLOR", "1").env_remove("SHEETPORT_DATABASE_URL");
    cmd
}

/// Runs `sheetport` with `args`: its exit code, stdout and stderr.
pub(crate) fn run(args: &[&str]) -> (i32, String, String) {
    let Output { status, stdout, stderr } = sheetport().args(args).output().expect("run sheetport");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (status.code().expect("an exit code"), text(stdout), text(stderr))
}

#[test]
fn a_good_file_is_imported_with_one_summary_line_and_exit_code_0() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("orders.csv");
    dataset::write_csv(&file, 2_000).expect("csv");
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let (code, out, err) = run(&["import", file.to_str().expect("path"), "--database", &url, "--table", "orders"]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("imported 2,000 rows into table orders in "), "{out}");

    // The same again with --mode create: the table is there, the import fails in words, its own
    // words only (found: the job's log line `WARN sheetport::jobs::worker: import failed ...`
    // came above them); with --verbose the log lines come too, on stderr.
    let again = ["import", file.to_str().expect("path"), "--database", &url, "--table", "orders"];
    let (code, out, err) = run(&again);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("import failed: ") && out.contains("already exists"), "{out}");
    assert_eq!(err, "", "no log lines unless asked");
    let (code, out, err) = run(&[&again[..], &["--verbose"]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("import failed: "), "{out}");
    assert!(err.contains("WARN") && err.contains("import failed"), "{err}");
    // --mode append adds the rows; the mode is read case-insensitively.
    let append = ["import", file.to_str().expect("path"), "--database", &url, "--table", "orders", "--mode", "Append"];
    assert_eq!(run(&append).0, 0);
    let conn = rusqlite::Connection::open(dir.path().join("cli.db")).expect("open");
    let rows: i64 = conn.query_row("SELECT count(*) FROM orders", [], |r| r.get(0)).expect("count");
    assert_eq!(rows, 4_000);
}

#[test]
fn a_file_that_is_not_a_spreadsheet_or_a_wrong_command_line_says_why() {
    let dir = tempfile::tempdir().expect("dir");
    let png = dir.path().join("photo.xlsx");
    std::fs::write(&png, [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).expect("write");
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let (code, out, err) = run(&["import", png.to_str().expect("path"), "--database", &url]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("error: ") && err.contains("not a spreadsheet"), "{err}");

    let (code, _, err) = run(&["import", png.to_str().expect("path"), "--mode", "sideways"]);
    assert_eq!(code, 2, "a usage error");
    assert!(err.contains("sideways") && err.contains("create"), "{err}");
    let (code, _, err) = run(&["import", "/no/such/file.csv", "--database", &url]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot open /no/such/file.csv"), "{err}");
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("import") && out.contains("serve") && out.contains("profile"), "{out}");
}

#[test]
fn ctrl_c_cancels_the_import_and_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let big = long_csv(dir.path());
    let db_path = dir.path().join("cli.db");
    let url = format!("sqlite://{}", db_path.display());
    let mut child = sheetport()
        .args(["import", big.to_str().expect("path"), "--database", &url, "--table", "big"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sheetport import");
    // Wait until rows are going in (the staging table exists), then press Ctrl-C.
    let db = TestDb::Sqlite(db_path.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let started = Instant::now();
    while !runtime.block_on(db.tables()).iter().any(|t| t.starts_with("_sheetport_staging")) {
        assert!(child.try_wait().expect("try_wait").is_none(), "sheetport import ended before it was interrupted");
        assert!(started.elapsed() < Duration::from_secs(60), "the import never started loading");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let out = std::io::read_to_string(child.stdout.take().expect("stdout")).expect("stdout");
    assert_eq!(status.code(), Some(130), "{out}");
    assert_eq!(out.trim(), "import cancelled; the database is unchanged");
    let tables = runtime.block_on(db.tables());
    assert!(!tables.iter().any(|t| t == "big" || t.starts_with("_sheetport_staging")), "{tables:?}");
    let cancelled = "SELECT count(*) FROM sheetport.imports WHERE status = 'cancelled' AND rows_done = 0";
    assert_eq!(runtime.block_on(db.scalar(cancelled)), 1);
}

/// Runs sheetport with `input` on its stdin (a pipe, not a terminal, as in a script).
fn run_with_stdin(args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = sheetport()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sheetport");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let Output { status, stdout, stderr } = child.wait_with_output().expect("wait");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (status.code().expect("an exit code"), text(stdout), text(stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_tokens_made_at_the_command_line_work_for_scripts_until_revoked() {
    let dir = tempfile::tempdir().expect("dir");
    let db_path = dir.path().join("sheetport.db");
    let url = format!("sqlite://{}", db_path.display());
    let password = "correct horse battery\n";
    let (code, out, err) = run_with_stdin(&["user", "add", "ana", "--admin", "--database", &url], password);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "added an admin account \"ana\"");
    let (code, _, err) = run_with_stdin(&["user", "add", "bob", "--database", &url], "short\n");
    assert_eq!(code, 1);
    assert!(err.contains("the password is too short"), "{err}");
    let (code, _, err) = run_with_stdin(&["user", "add", "ANA", "--database", &url], password);
    assert_eq!(code, 1);
    assert!(err.contains("there is already an account named \"ANA\""), "{err}");
    let (code, _, err) = run_with_stdin(&["user", "add", "no spaces", "--database", &url], password);
    assert_eq!(code, 1);
    assert!(err.contains("cannot be a name"), "{err}");

    let (code, out, err) = run(&["token", "create", "--user", "ana", "--name", "ci", "--database", &url]);
    assert_eq!(code, 0, "{err}");
    let secret = out.lines().last().expect("the secret, last").to_owned();
    assert!(secret.starts_with("spt_") && secret.len() == 47, "{out}");
    let id = out.split_whitespace().nth(1).expect("the token's id").to_owned();
    let (_, users, _) = run(&["user", "list", "--database", &url]);
    assert!(users.starts_with("ana\tadmin\tsince "), "{users}");
    let (_, tokens, _) = run(&["token", "list", "--database", &url]);
    assert_eq!(tokens.trim(), format!("{id}\tana\tci\tnever used"));

    // A server on that database: the token is the way in, and nothing else is.
    let app = crate::helpers::spawn_app_on(dir, TestDb::Sqlite(db_path), |_| {}).await;
    let get = |auth: Option<String>| {
        let mut req = app.client.get(app.url("/api/imports"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move { req.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(get(Some(format!("Bearer {secret}"))).await, 200);
    assert_eq!(get(None).await, 401);
    assert_eq!(get(Some("Bearer spt_guessed".into())).await, 401);
    let (_, tokens, _) = run(&["token", "list", "--database", &url]);
    assert!(tokens.contains("\tci\tlast used "), "{tokens}");
    let (code, out, _) = run(&["token", "revoke", &id, "--database", &url]);
    assert_eq!((code, out.trim()), (0, format!("revoked token {id}").as_str()));
    assert_eq!(get(Some(format!("Bearer {secret}"))).await, 401, "revoked at once");
    let (code, _, err) = run(&["token", "revoke", &id, "--database", &url]);
    assert_eq!(code, 1);
    assert!(err.contains("revoked already"), "{err}");
}

#[test]
fn columns_keys_and_bad_rows_are_chosen_at_the_command_line_with_the_report_in_a_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("stock.csv");
    std::fs::write(&file, "SKU,Units,Notes\nA1,3,x\nA2,three,y\nA1,4,z\n").expect("write");
    let report = dir.path().join("errors.csv");
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let path = file.to_str().expect("path");
    let args = [
        "import",
        path,
        "--database",
        &url,
        "--table",
        "stock",
        "--column",
        "Units=qty:integer",
        "--skip-column",
        "Notes",
        "--key",
        "sku",
        "--on-error",
        "skip",
        "--errors",
        report.to_str().expect("path"),
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("into table stock") && out.ends_with(": 1 new, 0 updated, 0 unchanged, 2 rejected\n"),
        "{out}"
    );
    let csv = std::fs::read_to_string(&report).expect("the report");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[..2], ["row,column,value,reason", "3,Units,three,is not a whole number"]);
    assert!(lines[2].starts_with("4,SKU,A1,repeats the key of row 2"), "{csv}");

    // An upsert finds the key the import made; fail (the default) stops on a bad row.
    std::fs::write(&file, "SKU,Units\nA1,9\nB2,1\n").expect("write");
    let upsert = ["import", path, "--database", &url, "--table", "stock", "--mode", "upsert", "--column", "Units=qty"];
    let (code, out, err) = run(&upsert);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with(": 1 new, 1 updated, 0 unchanged, 0 rejected\n"), "{out}");
    std::fs::write(&file, "SKU,Units\nC3,lots\n").expect("write");
    let (code, out, _) = run(&upsert);
    assert_eq!(code, 1);
    assert!(out.starts_with("import failed: 1 row has values their columns cannot take"), "{out}");
    let (code, _, err) = run(&["import", path, "--column", "=x"]);
    assert_eq!(code, 2, "{err}");
    let (code, help, _) = run(&["import", "--help"]);
    assert_eq!(code, 0);
    for flag in ["--column", "--skip-column", "--key", "--on-error", "--errors", "--add-unique-index", "insert-new"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[test]
fn a_dry_run_says_what_an_upsert_would_do_writes_its_diff_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&a, "id,name,qty\n1,Ann,10\n2,Bob,20\n3,Cy,30\n").expect("a");
    std::fs::write(&b, "id,name,qty\n1,Ana,10\n3,Cy,30\n5,Eve,50\n").expect("b");
    let db = dir.path().join("cli.db");
    let url = format!("sqlite://{}", db.display());
    let path = |p: &std::path::Path| p.to_str().expect("path").to_owned();
    assert_eq!(run(&["import", &path(&a), "--database", &url, "--table", "t", "--key", "id"]).0, 0);
    let diff = dir.path().join("diff.csv");
    let (code, out, err) = run(&[
        "import",
        &path(&b),
        "--database",
        &url,
        "--table",
        "t",
        "--mode",
        "upsert",
        "--key",
        "id",
        "--dry-run",
        "--diff",
        &path(&diff),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        "dry run: nothing was written; into table t the import would add 1 row, change 1 row (cells changed: 1 in \
         name), leave 1 row as it is"
    );
    assert_eq!(
        std::fs::read_to_string(&diff).expect("diff"),
        "row,change,id,name,qty,name (before),qty (before)\r\n2,update,1,Ana,10,Ann,\r\n3,unchanged,3,Cy,30,,\r\n\
         4,insert,5,Eve,50,,\r\n"
    );
    let conn = rusqlite::Connection::open(&db).expect("open");
    let rows: Vec<String> = conn
        .prepare("SELECT id || '|' || name || '|' || qty FROM t ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows, ["1|Ann|10", "2|Bob|20", "3|Cy|30"], "the table is as it was");
    let left: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_sheetport\\_%' ESCAPE '\\'", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(left, 0, "nothing staged is left behind");
    // --diff without --dry-run is a wrong command line.
    let (code, _, err) = run(&["import", &path(&b), "--database", &url, "--diff", &path(&diff)]);
    assert_eq!(code, 2, "{err}");
}
