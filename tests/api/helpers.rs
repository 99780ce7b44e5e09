//! A real sheetport server per test: a fresh temporary directory, a fresh database (a SQLite
//! file, or with `SHEETPORT_TEST_DB=postgres` a new database on the real PostgreSQL server, dropped
//! afterwards), the real router on 127.0.0.1:0, and a reqwest client that also reads the SSE stream.

use futures::StreamExt;
use serde_json::Value;
use sheetport::config::Config;
use sheetport::server::Application;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// Stops the server when the test drops it (fields drop in order: the server first).
    _shutdown: tokio_util::sync::DropGuard,
    pub dir: tempfile::TempDir,
    pub db: TestDb,
}

/// The PostgreSQL server the tests use (trust auth); any database on it serves for admin work.
pub fn pg_admin_url() -> String {
    std::env::var("SHEETPORT_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether this run of the suite targets PostgreSQL instead of SQLite.
pub fn on_postgres() -> bool {
    std::env::var("SHEETPORT_TEST_DB").is_ok_and(|v| v == "postgres")
}

/// A test's own database.
pub enum TestDb {
    Sqlite(PathBuf),
    /// A database created for this test, dropped (with its connections) when the test ends.
    Postgres {
        name: String,
        url: String,
    },
}

impl TestDb {
    /// The database this run of the suite targets (see [`on_postgres`]).
    pub async fn create(dir: &Path) -> Self {
        if on_postgres() { Self::postgres().await } else { TestDb::Sqlite(dir.join("sheetport.db")) }
    }

    /// A new, empty PostgreSQL database.
    pub async fn postgres() -> Self {
        let name = format!("sheetport_test_{}", uuid_like());
        let admin = sqlx::PgPool::connect(&pg_admin_url()).await.expect("connect to PostgreSQL (is it running?)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        let base = pg_admin_url();
        let url = format!("{}/{name}", &base[..base.rfind('/').expect("URL with a database")]);
        TestDb::Postgres { name, url }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(path) => format!("sqlite://{}", path.display()),
            TestDb::Postgres { url, .. } => url.clone(),
        }
    }

    /// A direct connection to a SQLite test database: the data file, with the app's own file
    /// attached as `sheetport`, so statements name the app's tables as on PostgreSQL
    /// (`sheetport.imports`).
    fn open_sqlite(path: &Path) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(path).expect("open db");
        let state = sheetport::db::state_file(path);
        conn.execute("ATTACH DATABASE ?1 AS sheetport", [state.to_str().expect("UTF-8 path")]).expect("attach");
        conn
    }

    /// One number from the database, read directly (not through the app). The app's own tables
    /// are `sheetport.imports` and `sheetport.uploads` on both databases.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self {
            TestDb::Sqlite(path) => {
                let conn = Self::open_sqlite(path);
                conn.query_row(sql, [], |r| r.get(0)).expect("query")
            }
            TestDb::Postgres { url, .. } => {
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                let n: i64 =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&pool).await.expect("query");
                pool.close().await;
                n
            }
        }
    }

    /// One text column of a query's rows, read directly (not through the app): a table's rows
    /// as `SELECT a || '|' || b FROM t ORDER BY a` see them, on either database.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        match self {
            TestDb::Sqlite(path) => {
                let conn = Self::open_sqlite(path);
                let mut stmt = conn.prepare(sql).expect("prepare");
                stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
            }
            TestDb::Postgres { url, .. } => {
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                let rows =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&pool).await.expect("query");
                pool.close().await;
                rows
            }
        }
    }

    /// Runs one statement directly (not through the app).
    pub async fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite(path) => {
                Self::open_sqlite(path).execute_batch(sql).expect("execute");
            }
            TestDb::Postgres { url, .. } => {
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&pool).await.expect("execute");
                pool.close().await;
            }
        }
    }

    /// Names of all tables where imports go (the data file or schema), read directly.
    pub async fn tables(&self) -> Vec<String> {
        match self {
            TestDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).expect("open db");
                let mut stmt =
                    conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").expect("prepare");
                stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
            }
            TestDb::Postgres { url, .. } => {
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                let names =
                    sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
                        .fetch_all(&pool)
                        .await
                        .expect("tables");
                pool.close().await;
                names
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { name, .. } = self {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            // Drop runs outside async; a thread of its own may start a runtime.
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    let admin = sqlx::PgPool::connect(&pg_admin_url()).await?;
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await?;
                    admin.close().await;
                    Ok::<_, sqlx::Error>(())
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("warning: could not drop the test database {name}");
            }
        }
    }
}

/// 32 hex digits, unique enough for a test database name.
fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos();
    format!("{:x}{:04x}{:x}", t, std::process::id() & 0xffff, N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Starts a server with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `tweak` adjusts its configuration.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = TestDb::create(dir.path()).await;
    spawn_app_on(dir, db, tweak).await
}

/// Starts a server on a database the test prepared (in `dir`, for SQLite).
pub async fn spawn_app_on(dir: tempfile::TempDir, db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    // `SHEETPORT_TEST_LOG=warn` (a tracing filter): the servers' logs, for a failing test.
    static LOG: std::sync::Once = std::sync::Once::new();
    LOG.call_once(|| {
        if let Ok(filter) = std::env::var("SHEETPORT_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
    });
    // This process is the test harness: workbooks are read by the real binary.
    sheetport::import::source::contained::set_reader_program(env!("CARGO_BIN_EXE_sheetport").into());
    let mut config = Config {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: db.url(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    tweak(&mut config);
    // The same start-up and shutdown path as `sheetport serve`; the test's token is its signal.
    let app = Application::build(config).await.expect("the server starts");
    let addr = app.addr().expect("local addr");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(app.run_until(async move { stop.cancelled().await }));
    TestApp { addr, client: reqwest::Client::new(), dir, db, _shutdown: shutdown.drop_guard() }
}

/// One Server-Sent Event as it arrived.
#[derive(Debug, Clone)]
pub struct Sse {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Writes `bytes` to a file named `name` in the test's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// POSTs `path` as multipart field `file` (named `name`) plus text fields.
    pub async fn upload(&self, endpoint: &str, path: &Path, name: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let bytes = tokio::fs::read(path).await.expect("read upload");
        let mut form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()));
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        self.client.post(self.url(endpoint)).multipart(form).send().await.expect("upload request")
    }

    /// Uploads to `POST /api/imports`, asserts 202, returns the import id.
    pub async fn start_import(&self, path: &Path, name: &str, fields: &[(&str, &str)]) -> String {
        let resp = self.upload("/api/imports", path, name, fields).await;
        assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
        let location = resp.headers().get("location").expect("Location header").to_str().expect("ascii").to_owned();
        let body: Value = resp.json().await.expect("json");
        let id = body["id"].as_str().expect("id").to_owned();
        assert_eq!(location, format!("/api/imports/{id}"));
        assert_eq!(body["status"], "queued");
        assert_eq!(body["events_url"], format!("/api/imports/{id}/events"));
        id
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(self.url(path)).send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Reads the whole SSE stream of an import (it ends after the final event).
    pub async fn events(&self, id: &str) -> Vec<Sse> {
        let resp =
            self.client.get(self.url(&format!("/api/imports/{id}/events"))).send().await.expect("events request");
        read_events(resp, Duration::from_secs(120)).await
    }

    /// Polls the status endpoint until the import reaches a final status.
    pub async fn wait_final(&self, id: &str) -> Value {
        for _ in 0..1200 {
            let (code, body) = self.get_json(&format!("/api/imports/{id}")).await;
            assert_eq!(code, 200);
            if matches!(body["status"].as_str(), Some("succeeded" | "failed" | "cancelled")) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("import {id} did not finish");
    }

    /// Every row of an imported table, through the paginated rows endpoint.
    pub async fn all_rows(&self, table: &str) -> (Value, Vec<Value>) {
        let mut rows = Vec::new();
        loop {
            let (code, page) =
                self.get_json(&format!("/api/tables/{table}/rows?offset={}&limit=1000", rows.len())).await;
            assert_eq!(code, 200, "{page}");
            let batch = page["rows"].as_array().expect("rows").clone();
            let total = page["total"].as_u64().expect("total") as usize;
            rows.extend(batch);
            if rows.len() >= total {
                return (page["columns"].clone(), rows);
            }
        }
    }

    /// Names of all tables in the test's database, read directly.
    pub async fn tables(&self) -> Vec<String> {
        self.db.tables().await
    }
}

/// Checks an SSE response's headers and reads its events until the stream ends (within `limit`).
pub async fn read_events(resp: reqwest::Response, limit: Duration) -> Vec<Sse> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    let mut stream = resp.bytes_stream();
    let (mut buf, mut out) = (String::new(), Vec::new());
    let read = async {
        while let Some(chunk) = stream.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if let Some(ev) = parse_event(&block) {
                    out.push(ev);
                }
            }
        }
    };
    tokio::time::timeout(limit, read).await.expect("the stream must end");
    out
}

fn parse_event(block: &str) -> Option<Sse> {
    let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    (!data.is_empty()).then(|| Sse { event, id, data: serde_json::from_str(&data).expect("event data is JSON") })
}

/// Writes a zip of `parts` (each a name and its text) to `path`, deflated at `level` (`None`: the
/// default): a workbook's package made by hand, for files no writer would make.
pub fn zip_parts(path: &Path, parts: &[(&str, String)], level: Option<i64>) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(level);
    for (name, text) in parts {
        zip.start_file(*name, options).expect("part");
        zip.write_all(text.as_bytes()).expect("write part");
    }
    zip.finish().expect("finish");
}

/// The parts of a one-sheet .xlsx whose sheet holds `rows` (its `<sheetData>`).
pub fn one_sheet_parts(rows: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "xl/workbook.xml",
            r#"<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>"#.to_owned(),
        ),
        ("xl/worksheets/sheet1.xml", format!("<worksheet><sheetData>{rows}</sheetData></worksheet>")),
    ]
}
