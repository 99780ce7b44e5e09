//! Slow and half-open clients cannot pin the server: headers must arrive in time, an upload may
//! not go silent, uploads at once and connections at once are bounded.

use crate::helpers::spawn_app_with;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes); returns what it sent.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut out)).await.ok()?.ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_too_slowly_and_uploads_gone_silent_are_cut_off() {
    let app = spawn_app_with(|c| {
        c.header_timeout = Duration::from_secs(1);
        c.body_idle_timeout = Duration::from_secs(1);
    })
    .await;
    // Half the headers, then nothing: closed after the header timeout.
    let started = Instant::now();
    let mut slow = TcpStream::connect(app.addr).await.expect("connect");
    slow.write_all(b"POST /api/imports HTTP/1.1\r\nHost: localhost\r\n").await.expect("write");
    assert!(read_to_close(&mut slow, Duration::from_secs(10)).await.is_some(), "the connection is closed");
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());

    // Headers and the start of a file, then nothing: 408 with a sentence, nothing kept.
    let body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\na,b\n1,2\n";
    let head = "POST /api/imports HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=b\r\n\
                Content-Length: 100000\r\n\r\n";
    let mut silent = TcpStream::connect(app.addr).await.expect("connect");
    silent.write_all(head.as_bytes()).await.expect("write");
    silent.write_all(body.as_bytes()).await.expect("write");
    let answer = read_to_close(&mut silent, Duration::from_secs(10)).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("the upload stopped: nothing arrived for 1 seconds"), "{answer}");
    let stored: Vec<_> = std::fs::read_dir(app.dir.path().join("uploads")).map(|d| d.collect()).unwrap_or_default();
    assert!(stored.is_empty(), "nothing of it is kept: {stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_the_bound_are_refused_in_words_until_one_ends() {
    let app = spawn_app_with(|c| {
        c.max_concurrent_uploads = 1;
        c.body_idle_timeout = Duration::from_secs(2);
    })
    .await;
    let head = "POST /api/imports HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=b\r\n\
                Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; \
                filename=\"a.csv\"\r\n\r\na,b\n";
    let mut first = TcpStream::connect(app.addr).await.expect("connect");
    first.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let path = app.file("b.csv");
    std::fs::write(&path, "a\n1\n").expect("write csv");
    let refused = app.upload("/api/imports", &path, "b.csv", &[]).await;
    assert_eq!(refused.status(), 503);
    let text = refused.text().await.expect("body");
    assert!(text.contains("as many as it takes at once; try again in a moment"), "{text}");
    // The first one goes silent and is cut off; then there is room again.
    let answer = read_to_close(&mut first, Duration::from_secs(10)).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let id = app.start_import(&path, "b.csv", &[]).await;
    assert_eq!(app.wait_final(&id).await["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_bound_wait_for_a_free_one() {
    let app = spawn_app_with(|c| {
        c.max_connections = 1;
        c.header_timeout = Duration::from_secs(1);
    })
    .await;
    // The one connection is taken by a client that sends nothing...
    let _idle = TcpStream::connect(app.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so a request waits until the header timeout frees it, then is served.
    let started = Instant::now();
    let (code, _) = app.get_json("/healthz").await;
    assert_eq!(code, 200);
    assert!(started.elapsed() >= Duration::from_millis(500), "it waited: {:?}", started.elapsed());
}

/// A connection from `127.0.0.{last}` to `to` that sends nothing.
async fn idle_from(last: u8, to: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, last], 0))).expect("bind");
    socket.connect(to).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_from_one_address_cannot_take_every_connection() {
    let app = spawn_app_with(|c| {
        c.max_connections = 100;
        c.max_connections_per_address = 10;
        c.header_timeout = Duration::from_secs(2);
    })
    .await;
    // 150 connections from one address, sending nothing (before: they filled all 100 places, and
    // everyone else waited for the header timeout).
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(idle_from(2, app.addr).await);
    }
    let started = Instant::now();
    let health = app.client.get(app.url("/healthz")).timeout(Duration::from_secs(5)).send().await.expect("health");
    assert_eq!(health.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1), "/healthz took {:?}", started.elapsed());
    // Past its share, the address's connections were closed at once; the rest once they had sent
    // nothing for the first-byte deadline (here the 2 s header timeout).
    let mut closed_at_once = 0;
    for stream in &mut idle {
        if read_to_close(stream, Duration::from_millis(20)).await.is_some() {
            closed_at_once += 1;
        }
    }
    assert!(closed_at_once >= 140, "{closed_at_once} of 150 closed at once");
    let started = Instant::now();
    for stream in &mut idle {
        assert!(read_to_close(stream, Duration::from_secs(5)).await.is_some(), "closed for sending nothing");
    }
    assert!(started.elapsed() < Duration::from_secs(4), "closed after {:?}", started.elapsed());
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    use sheetport::server::client::Cidr;
    let app = spawn_app_with(|c| c.trusted_proxies = vec![Cidr::parse("127.0.0.1").expect("range")]).await;
    let db = sheetport::db::Db::connect(&app.db.url(), "public").await.expect("db");
    sheetport::auth::manage::add_user(&db, "ana", "correct horse battery", false, sheetport::auth::manage::By::CLI)
        .await
        .expect("add");
    let sign_in = |client: reqwest::Client, password: &'static str| {
        let url = app.url("/api/session");
        async move {
            client
                .post(url)
                .header("x-forwarded-for", "198.51.100.7")
                .header("x-forwarded-proto", "https")
                .json(&serde_json::json!({ "name": "ana", "password": password }))
                .send()
                .await
                .expect("sign-in")
        }
    };
    // Through the trusted proxy (127.0.0.1): the forwarded client, and https.
    assert_eq!(sign_in(app.client.clone(), "wrong").await.status(), 401);
    let ok = sign_in(app.client.clone(), "correct horse battery").await;
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // From anywhere else the same headers are not believed.
    let other =
        reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().expect("client");
    assert_eq!(sign_in(other.clone(), "wrong").await.status(), 401);
    let ok = sign_in(other, "correct horse battery").await;
    assert!(!ok.headers()["set-cookie"].to_str().expect("ascii").contains("Secure"));
    let addresses =
        app.db.texts("SELECT address FROM sheetport.audit WHERE action = 'sign-in failed' ORDER BY id").await;
    assert_eq!(addresses, ["198.51.100.7", "127.0.0.2"]);
}
