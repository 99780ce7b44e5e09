//! The app's own tables are out of every import's reach: imports named after them land among the
//! data, the app keeps working, and databases an earlier version made (app tables beside the data)
//! are moved apart at start without losing a row.

use crate::helpers::{TestDb, spawn_app, spawn_app_on};

/// A CSV shaped like the app's `uploads` table, pointing at a file no one uploaded.
const FAKE_UPLOAD: &str = "id,file_name,path,format,bytes,created_at\n\
    0123456789abcdef0123456789abcdef,passwd,/etc/passwd,csv,100,1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_named_after_the_apps_tables_land_among_the_data() {
    let app = spawn_app().await;
    let fake = app.file("uploads.csv");
    std::fs::write(&fake, FAKE_UPLOAD).expect("write csv");
    // Each of the app's table names, in the modes that would have written or replaced them.
    for (table, mode) in [("uploads", "append"), ("imports", "replace"), ("_sqlx_migrations", "replace")] {
        let id = app.start_import(&fake, "uploads.csv", &[("table", table), ("mode", mode)]).await;
        let done = app.wait_final(&id).await;
        assert_eq!(done["status"], "succeeded", "{table}: {done}");
    }
    // The forged row is data now, and the app never serves the file it names.
    let (code, _) = app.get_json("/api/uploads/0123456789abcdef0123456789abcdef").await;
    assert_eq!(code, 404, "a forged upload row must not be the app's");
    assert_eq!(app.db.scalar("SELECT count(*) FROM sheetport.uploads WHERE path = '/etc/passwd'").await, 0);
    // The app's own record is whole: three imports, each with its upload.
    assert_eq!(app.db.scalar("SELECT count(*) FROM sheetport.imports WHERE status = 'succeeded'").await, 3);
    assert_eq!(app.db.scalar("SELECT count(*) FROM sheetport.uploads").await, 3);
    let tables = app.tables().await;
    for name in ["uploads", "imports", "sqlx_migrations"] {
        assert!(tables.iter().any(|t| t == name), "{name} is a data table: {tables:?}");
    }
    // And the app still works: a new upload, preview and import after all that.
    let csv = app.file("after.csv");
    std::fs::write(&csv, "a,b\n1,x\n2,y\n").expect("write csv");
    let id = app.start_import(&csv, "after.csv", &[]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
    let (code, list) = app.get_json("/api/imports").await;
    assert_eq!(code, 200);
    assert_eq!(list.as_array().expect("list").len(), 4, "{list}");
}

/// The migrations an earlier version had when it kept its tables among the data (up to `last`).
fn before_the_split(mut m: sqlx::migrate::Migrator, last: i64) -> sqlx::migrate::Migrator {
    m.migrations = m.migrations.iter().filter(|x| x.version <= last).cloned().collect::<Vec<_>>().into();
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_with_the_apps_tables_among_the_data_is_moved_apart_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = TestDb::create(dir.path()).await;
    // The layout an earlier version made: its migrations run where the data is, one finished
    // import of `orders` recorded there, and the table itself.
    let record = "INSERT INTO uploads (id, file_name, path, format, bytes, created_at) VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'orders.csv', '/nowhere', 'csv', 10, 1); \
        INSERT INTO imports (id, upload_id, file_name, file_path, format, table_name, mode, status, phase, \
        rows_total, rows_done, columns, created_at, finished_at) VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', \
        'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'orders.csv', '/nowhere', 'csv', 'orders', 'create', 'succeeded', \
        'finished', 2, 2, '[{\"name\":\"n\",\"label\":\"n\",\"type\":\"integer\"}]', 1, 2); \
        CREATE TABLE orders (n INTEGER); INSERT INTO orders VALUES (1), (2);";
    match &db {
        TestDb::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect_with(
                sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true),
            )
            .await
            .expect("open");
            before_the_split(sqlx::migrate!("./migrations/sqlite"), 2).run(&pool).await.expect("old layout");
            sqlx::raw_sql(record).execute(&pool).await.expect("old rows");
            pool.close().await;
        }
        TestDb::Postgres { url, .. } => {
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            before_the_split(sqlx::migrate!("./migrations/postgres"), 1).run(&pool).await.expect("old layout");
            sqlx::raw_sql(record).execute(&pool).await.expect("old rows");
            pool.close().await;
        }
    }
    // The old upload record is from long ago: kept here, so the test sees it moved (not expired).
    let app = spawn_app_on(dir, db, |c| {
        c.keep_uploads = std::time::Duration::from_secs(1 << 40);
        c.keep_unimported = std::time::Duration::from_secs(1 << 40);
    })
    .await;
    let (code, list) = app.get_json("/api/imports").await;
    assert_eq!(code, 200);
    assert_eq!(list[0]["id"], "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "{list}");
    let (_, tables) = app.get_json("/api/tables").await;
    assert_eq!(tables[0]["name"], "orders", "{tables}");
    assert_eq!(tables[0]["rows"], 2);
    assert_eq!(app.tables().await, vec!["orders".to_owned()], "only the data is left where imports go");
    assert_eq!(app.db.scalar("SELECT count(*) FROM sheetport.uploads").await, 1);
    // An import named after an app table now goes among the data.
    let csv = app.file("imports.csv");
    std::fs::write(&csv, "a\n1\n").expect("write csv");
    let id = app.start_import(&csv, "imports.csv", &[]).await;
    assert_eq!(app.wait_final(&id).await["table"], "imports");
}
