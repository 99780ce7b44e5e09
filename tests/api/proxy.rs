//! docs/nginx.conf in front of the server, with Debian's real nginx (issue 27, point 7): an upload
//! and its live progress stream pass through, the stream event by event (not held back until the
//! end), and the address the server records is the client's, not one the client wrote.

use crate::dataset;
use crate::helpers::{TestApp, spawn_app_with};
use futures::StreamExt;
use sheetport::server::client::Cidr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// nginx running docs/nginx.conf, its upstream the test's server; stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: nginx's master then stops its worker, which a killed master leaves
        // running (holding the test's output open).
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn start(app: &TestApp, dir: &Path) -> Self {
        let binary = Path::new("/usr/sbin/nginx");
        assert!(binary.exists(), "nginx is not installed: scripts/setup.sh installs Debian's nginx-light");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let site = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/nginx.conf"))
            .expect("docs/nginx.conf")
            .replace("server 127.0.0.1:3000;", &format!("server {};", app.addr))
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
        std::fs::write(dir.join("site.conf"), site).expect("site");
        let d = dir.display();
        // Workers as the user running the test (root in CI: nginx would otherwise switch to nobody,
        // who cannot write the temporary folders).
        let user = if rustix::process::geteuid().is_root() { "user root;" } else { "" };
        let main = format!(
            "{user} worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf; }}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).expect("conf");
        let child =
            Command::new(binary).arg("-p").arg(dir).arg("-c").arg(dir.join("nginx.conf")).spawn().expect("start nginx");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "nginx did not start: see {d}/error.log");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_nginx_progress_streams_live_and_the_client_is_who_it_is() {
    let app = spawn_app_with(|c| c.trusted_proxies = vec![Cidr::parse("127.0.0.1").expect("range")]).await;
    let nginx = Nginx::start(&app, app.dir.path());
    // The client reaches nginx from 127.0.0.2 and claims to be 1.2.3.4.
    let client =
        reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().expect("client");

    let path = app.file("long.csv");
    dataset::write_csv(&path, 1_000_000).expect("csv");
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(std::fs::read(&path).expect("read")).file_name("long.csv"));
    let resp = client
        .post(nginx.url("/api/imports"))
        .header("x-forwarded-for", "1.2.3.4")
        .multipart(form)
        .send()
        .await
        .expect("upload through nginx");
    assert_eq!(resp.status(), 202);
    let body: serde_json::Value = resp.json().await.expect("json");
    let id = body["id"].as_str().expect("id").to_owned();

    // Each event as it arrives, with when.
    let resp = client.get(nginx.url(&format!("/api/imports/{id}/events"))).send().await.expect("events");
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let (mut buf, mut arrivals) = (String::new(), Vec::new());
    let read = async {
        while let Some(chunk) = stream.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if block.contains("\"rows_done\"") {
                    arrivals.push((Instant::now(), block.contains("event: done") || block.contains("event:done")));
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.expect("the stream ends");
    let (last, done) = *arrivals.last().expect("events");
    assert!(done, "the stream ends with the end");
    let live = arrivals.iter().filter(|(at, _)| last.duration_since(*at) > Duration::from_millis(200)).count();
    assert!(live >= 2, "{live} of {} events came 0.2 s or more before the end: nginx held them back", arrivals.len());

    // The server saw the client's address (127.0.0.2, appended by nginx), not the one it wrote.
    let (_, imports) = app.get_json("/api/imports").await;
    let entries = app.db.texts("SELECT address FROM sheetport.audit WHERE action = 'import'").await;
    assert_eq!(entries, ["127.0.0.2"], "{imports}");
}
