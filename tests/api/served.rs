//! How pages and streams leave the server: compressed as the client asks (brotli or gzip), never
//! the SSE stream, whose events must leave one by one.

use crate::helpers::spawn_app;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, VARY};

#[tokio::test]
async fn pages_are_compressed_as_asked_and_the_event_stream_never() {
    let app = spawn_app().await;
    let page = |encoding: Option<&'static str>| {
        let mut req = app.client.get(app.url("/"));
        if let Some(e) = encoding {
            req = req.header(ACCEPT_ENCODING, e);
        }
        req.send()
    };
    let br = page(Some("br")).await.expect("page");
    assert_eq!(br.headers()[CONTENT_ENCODING], "br");
    assert!(br.headers().get_all(VARY).iter().any(|v| v.to_str().is_ok_and(|v| v.contains("accept-encoding"))));
    let gz = page(Some("gzip")).await.expect("page");
    assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(gz.bytes().await.expect("body")[..2], [0x1f, 0x8b], "a gzip stream");
    let plain = page(None).await.expect("page");
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    let html = plain.text().await.expect("html");
    assert!(html.contains(r#"<link rel="icon" href="/favicon.svg""#), "a favicon");

    let path = app.file("small.csv");
    std::fs::write(&path, "a,b\n1,2\n3,4\n").expect("write");
    let id = app.start_import(&path, "small.csv", &[]).await;
    let events = app
        .client
        .get(app.url(&format!("/api/imports/{id}/events")))
        .header(ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .expect("events");
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    assert!(events.headers().get(CONTENT_ENCODING).is_none(), "SSE is sent as it is");
}
