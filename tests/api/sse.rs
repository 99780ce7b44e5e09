//! Many streams of one import share its events, and a reconnect is answered by what it saw.

use crate::dataset::{self, Strings};
use crate::helpers::{read_events, spawn_app};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_streams_of_one_import_see_the_same_events_and_a_reconnect_after_the_end_gets_204() {
    let app = spawn_app().await;
    let path = app.file("orders.xlsx");
    dataset::write_xlsx(&path, 100_000, Strings::Shared).expect("write xlsx");
    let id = app.start_import(&path, "orders.xlsx", &[]).await;
    let url = app.url(&format!("/api/imports/{id}/events"));
    let streams = futures::future::join_all((0..200).map(|_| async {
        let resp = app.client.get(&url).send().await.expect("events");
        read_events(resp, Duration::from_secs(120)).await
    }))
    .await;
    let ends: Vec<(String, Option<String>)> =
        streams.iter().map(|s| s.last().map(|e| (e.event.clone(), e.id.clone())).expect("an event")).collect();
    assert!(ends.iter().all(|e| e == &ends[0]), "every stream ends with the same event and id: {ends:?}");
    assert_eq!(ends[0].0, "done");
    let final_id = ends[0].1.clone().expect("id");

    // A client that saw the end and reconnects (as EventSource does) is told there is no more.
    let again = app.client.get(&url).header("Last-Event-ID", &final_id).send().await.expect("reconnect");
    assert_eq!(again.status(), 204);
    // One that missed it (it saw only the first event) gets it, with the same id.
    let earlier = streams[0][0].id.clone().expect("id");
    let resp = app.client.get(&url).header("Last-Event-ID", earlier).send().await.expect("reconnect");
    let events = read_events(resp, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].event.as_str(), events[0].id.as_deref()), ("done", Some(final_id.as_str())));
}
