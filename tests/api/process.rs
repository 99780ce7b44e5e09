//! Real `sheetport` processes for the tests that need what only a process has: signals (SIGTERM,
//! SIGKILL, SIGSTOP, SIGINT), restarts on the same database, several instances side by side, and
//! the command line's exit codes. Their log lines are kept, so a test can wait for one.

use crate::dataset;
use crate::helpers::{Sse, TestDb, read_events};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Lines a process wrote to stderr so far, and a way to wait for more.
#[derive(Clone, Default)]
pub struct Log(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Log {
    /// Collects `stderr` on a thread of its own (so the process never blocks on a full pipe).
    fn collect(stderr: impl std::io::Read + Send + 'static) -> Self {
        let log = Log::default();
        let writer = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (lines, more) = &*writer.0;
                lines.lock().expect("log lock").push(line);
                more.notify_all();
            }
        });
        log
    }

    /// Every line written so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.0.lock().expect("log lock").clone()
    }

    /// Whether a line written so far contains `needle`.
    pub fn has(&self, needle: &str) -> bool {
        self.0.0.lock().expect("log lock").iter().any(|l| l.contains(needle))
    }

    /// The first line containing `needle`, waiting up to `within` for it to be written.
    pub fn wait_for(&self, needle: &str, within: Duration) -> String {
        let (lines, more) = &*self.0;
        let deadline = Instant::now() + within;
        let mut guard = lines.lock().expect("log lock");
        loop {
            if let Some(line) = guard.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no log line with {needle:?} within {within:?}; the log:\n{}", guard.join("\n"));
            guard = more.wait_timeout(guard, left).expect("log lock").0;
        }
    }
}

/// One `sheetport serve` process on a port of its own, killed when dropped.
pub struct Instance {
    pub child: Child,
    pub base: String,
    pub log: Log,
}

impl Instance {
    /// Starts a server on `db` with its uploads in `data_dir`, and waits until it listens.
    pub fn start(db: &TestDb, data_dir: &Path, heartbeat_secs: f64) -> Instance {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sheetport"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--database", &db.url()])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--heartbeat-timeout", &heartbeat_secs.to_string()])
            // The tests send many uploads at once from this one address (no accounts).
            .args(["--max-uploads-per-person", "64"]);
        Instance::spawn(command)
    }

    /// Runs `command` (a `sheetport serve` on port 0, perhaps behind a wrapper that `exec`s it)
    /// and waits until it listens.
    pub fn spawn(mut command: Command) -> Instance {
        let mut child = command
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sheetport serve");
        let log = Log::collect(child.stderr.take().expect("stderr"));
        // The log line "sheetport listening on http://127.0.0.1:PORT" says which port it got.
        let line = log.wait_for("listening on http://", Duration::from_secs(60));
        let at = line.find("http://").expect("url");
        let url = line[at..].split_whitespace().next().expect("url");
        let base = url.trim_end_matches(|c: char| !c.is_ascii_digit()).to_owned();
        Instance { child, base, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `pid:` part of this process's worker name in the `imports.worker` column.
    pub fn worker_like(&self) -> String {
        format!("%:{}:%", self.child.id())
    }

    /// Sends a signal by name (`TERM`, `STOP`, `CONT`, `INT`).
    pub fn signal(&self, name: &str) {
        signal(&self.child, name);
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Waits up to `within` for the process to exit on its own.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        wait_exit(&mut self.child, within)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the signal `name` (`TERM`, `INT`, ...) to `child`.
pub fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().expect("kill");
    assert!(sent.success(), "kill -{name}");
}

/// Waits up to `within` for `child` to exit; a process still running then fails the test.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "still running {within:?} later");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub async fn upload(client: &reqwest::Client, to: &Instance, file: &Path, table: &str) -> String {
    let bytes = tokio::fs::read(file).await.expect("read");
    let name = file.file_name().expect("name").to_string_lossy().into_owned();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name))
        .text("table", table.to_owned());
    let resp = client.post(to.url("/api/imports")).multipart(form).send().await.expect("upload");
    assert_eq!(resp.status(), 202);
    resp.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned()
}

pub async fn status(client: &reqwest::Client, on: &Instance, id: &str) -> Value {
    client.get(on.url(&format!("/api/imports/{id}"))).send().await.expect("status").json().await.expect("json")
}

pub async fn wait_final(client: &reqwest::Client, on: &Instance, id: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let s = status(client, on, id).await;
        if matches!(s["status"].as_str(), Some("succeeded" | "failed" | "cancelled")) {
            return s;
        }
        assert!(start.elapsed() < within, "import {id} still {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rows of an import the tests interrupt (kill, stop, cancel) while it runs: enough that it is still
/// running seconds after it started loading, even on a fast machine (400,000 once finished first).
pub const LONG: u64 = 1_500_000;

/// Writes `big.csv` of [`LONG`] rows into `dir`: the file of every test that interrupts an import.
pub fn long_csv(dir: &Path) -> PathBuf {
    let big = dir.join("big.csv");
    dataset::write_csv(&big, LONG).expect("csv");
    big
}

/// Waits until the import has rows in the database (it is past inference, loading).
pub async fn wait_loading(client: &reqwest::Client, on: &Instance, id: &str) {
    let start = Instant::now();
    loop {
        let s = status(client, on, id).await;
        if s["rows_done"].as_u64().unwrap_or(0) > 0 {
            return;
        }
        assert_ne!(s["status"], "succeeded", "finished before the test could act on it");
        assert!(start.elapsed() < Duration::from_secs(60), "never started loading: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every event of one import's SSE stream on `on`, until the stream ends.
pub async fn events(client: &reqwest::Client, on: &Instance, id: &str) -> Vec<Sse> {
    let resp = client.get(on.url(&format!("/api/imports/{id}/events"))).send().await.expect("events");
    read_events(resp, Duration::from_secs(300)).await
}
