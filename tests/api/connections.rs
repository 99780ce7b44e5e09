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
