//! A real sheetport server per test: a fresh temporary directory with its own SQLite file, the
//! real router on 127.0.0.1:0, and a reqwest client that also reads the SSE stream as bytes.

use futures::StreamExt;
use serde_json::Value;
use sheetport::config::Config;
use sheetport::server::{build_state, router};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub db_path: PathBuf,
    /// Stops the server when the test drops it.
    _shutdown: tokio_util::sync::DropGuard,
}

/// Starts a server with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `tweak` adjusts its configuration.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("sheetport.db");
    let mut config = Config {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: format!("sqlite://{}", db_path.display()),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    tweak(&mut config);
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind(config.addr).await.expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let state = build_state(config, shutdown.clone()).await.expect("state");
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, router(state)).with_graceful_shutdown(async move { stop.cancelled().await }).await
    });
    TestApp { addr, client: reqwest::Client::new(), dir, db_path, _shutdown: shutdown.drop_guard() }
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
        let mut form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()));
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
        let resp = self.client.get(self.url(&format!("/api/imports/{id}/events"))).send().await.expect("events request");
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
        tokio::time::timeout(Duration::from_secs(120), read).await.expect("the stream must end");
        out
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
            let (code, page) = self.get_json(&format!("/api/tables/{table}/rows?offset={}&limit=1000", rows.len())).await;
            assert_eq!(code, 200, "{page}");
            let batch = page["rows"].as_array().expect("rows").clone();
            let total = page["total"].as_u64().expect("total") as usize;
            rows.extend(batch);
            if rows.len() >= total {
                return (page["columns"].clone(), rows);
            }
        }
    }

    /// Names of all tables in the database file, read directly.
    pub fn sqlite_tables(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(&self.db_path).expect("open db");
        let mut stmt = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").expect("prepare");
        stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    }
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
