//! `--server`: each case goes through a real `sheetport serve` (started once per worker, under the
//! worker's memory limit): uploaded, previewed, imported, followed to its end. A 5xx answer, the
//! generic "went wrong" sentence or a dead server is a failure.

use super::{CASE_LIMIT, Failure, Result, sheetport_binary};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    base: String,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Server {
    /// Starts `sheetport serve` on a free port with its data in `dir`.
    pub fn start(dir: &Path) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let data = dir.join("server");
        let child = Command::new(sheetport_binary()?)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--max-memory-mb", "256", "--max-rows", "200000"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--database")
            .arg(format!("sqlite://{}/sheetport.db", data.display()))
            .env("MIMALLOC_ARENA_RESERVE", "0")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let server = Self { child, base: format!("http://127.0.0.1:{port}"), rt, client: reqwest::Client::new() };
        let started = Instant::now();
        while server.rt.block_on(server.client.get(format!("{}/healthz", server.base)).send()).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                return Err("the server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// Uploads, previews and imports `path`; exits the process (3) if the server died, so the
    /// supervisor keeps the case.
    pub fn run(&mut self, path: &Path) -> std::result::Result<(), Failure> {
        let result = self.rt.block_on(case(&self.client, &self.base, path));
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("fuzz: the server died ({status})");
            std::process::exit(3);
        }
        result
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sentence a person may read, or the failure it hides.
fn judge(status: u16, body: &Value) -> std::result::Result<(), Failure> {
    let error = body["error"].as_str().unwrap_or("");
    if status >= 500 || error.contains("went wrong") || error.contains("server's log") {
        return Err(format!("answered {status}: {body}"));
    }
    Ok(())
}

async fn case(client: &reqwest::Client, base: &str, path: &Path) -> std::result::Result<(), Failure> {
    let io = |e: reqwest::Error| format!("the request failed: {e}");
    let form = || {
        let bytes = std::fs::read(path).unwrap_or_default();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name(name))
    };
    let resp = client.post(format!("{base}/api/uploads")).multipart(form()).send().await.map_err(io)?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    judge(status, &body)?;
    if status != 201 {
        return Ok(());
    }
    let upload = body["upload_id"].as_str().unwrap_or("");
    let resp = client.get(format!("{base}/api/uploads/{upload}")).send().await.map_err(io)?;
    let status = resp.status().as_u16();
    judge(status, &resp.json().await.unwrap_or(Value::Null))?;
    let resp = client
        .post(format!("{base}/api/imports"))
        .multipart(form().text("mode", "replace").text("table", "fuzzed"))
        .send()
        .await
        .map_err(io)?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    judge(status, &body)?;
    let Some(id) = body["id"].as_str() else { return Ok(()) };
    let started = Instant::now();
    loop {
        let p: Value =
            client.get(format!("{base}/api/imports/{id}")).send().await.map_err(io)?.json().await.map_err(io)?;
        match p["status"].as_str() {
            Some("succeeded" | "cancelled") => return Ok(()),
            Some("failed") => return judge(200, &serde_json::json!({ "error": p["error"] })),
            _ if started.elapsed() > CASE_LIMIT => return Err(format!("the import did not end within {CASE_LIMIT:?}")),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
