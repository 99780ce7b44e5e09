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
    // One that missed it (it saw only the first event) gets it, with the same id. (A stream that
    // connected after the end saw only the end; any earlier id will do when all did.)
    let earlier =
        streams.iter().filter_map(|s| s[0].id.clone()).find(|id| id != &final_id).unwrap_or_else(|| "1".to_owned());
    let resp = app.client.get(&url).header("Last-Event-ID", earlier).send().await.expect("reconnect");
    let events = read_events(resp, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].event.as_str(), events[0].id.as_deref()), ("done", Some(final_id.as_str())));
}

/// The time left is calm (issue 14): none until the pace is steady, then within reach of the truth
/// and rarely climbing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_left_waits_for_a_steady_pace_and_rarely_climbs() {
    let app = spawn_app().await;
    let path = app.file("orders.xlsx");
    dataset::write_xlsx(&path, 1_000_000, Strings::Inline).expect("write xlsx");
    let id = app.start_import(&path, "orders.xlsx", &[]).await;
    let resp = app.client.get(app.url(&format!("/api/imports/{id}/events"))).send().await.expect("events");
    let events = read_events(resp, Duration::from_secs(300)).await;
    let last = events.last().expect("events");
    assert_eq!(last.event, "done");
    let total_ms = last.data["elapsed_ms"].as_u64().expect("elapsed");
    let moving: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.event == "progress" && e.data["rows_done"].as_u64().unwrap_or(0) > 0)
        .map(|e| &e.data)
        .collect();
    let seen: Vec<String> =
        moving.iter().map(|p| format!("{}ms {} rows {} eta", p["elapsed_ms"], p["rows_done"], p["eta_ms"])).collect();
    let first = moving
        .iter()
        .position(|p| p["eta_ms"].is_u64())
        .unwrap_or_else(|| panic!("a time left once the pace is steady: {seen:?}"));
    assert!(first >= 3, "no time left in the first commits' events: {first}");
    let etas: Vec<(u64, u64)> =
        moving[first..].iter().filter_map(|p| Some((p["elapsed_ms"].as_u64()?, p["eta_ms"].as_u64()?))).collect();
    let (at, eta) = etas[0];
    let truth = total_ms.saturating_sub(at);
    assert!(eta <= truth * 3 + 1000, "the first time left ({eta} ms) is near the truth ({truth} ms)");
    let climbs = etas.windows(2).filter(|w| w[1].1 > w[0].1 + 250).count();
    assert!(climbs * 3 < etas.len().max(3), "it climbed in {climbs} of {} updates: {etas:?}", etas.len());
}
