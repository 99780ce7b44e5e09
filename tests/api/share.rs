//! A fair share of the queue (issue 27, point 4): people take turns, so one person's pile of
//! imports delays another's by one of theirs at most, and one person may keep only so many
//! waiting.

use crate::access::{import, people, send, wait_final};
use crate::authority::{blocker, queued, unblock};
use crate::helpers::{spawn_app, spawn_app_with};
use reqwest::Method;

#[tokio::test]
async fn the_queue_takes_people_in_turn() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let blocking = blocker(&app, &p).await;
    // ana queues five, then bob one (before: bob's waited for all five of hers).
    let mut ana = Vec::new();
    for i in 0..5 {
        ana.push(queued(&app, &p.ana, &format!("mine_{i}"), "create").await);
    }
    let bob = queued(&app, &p.bob, "his", "create").await;
    unblock(&app, &p, &blocking).await;
    let started = |body: serde_json::Value| body["started_at"].as_i64().expect("started");
    let bob_started = started(wait_final(&app, &p.bob, &bob).await);
    let mut before = 0;
    for id in &ana {
        if started(wait_final(&app, &p.ana, id).await) < bob_started {
            before += 1;
        }
    }
    assert_eq!(before, 1, "bob's import started after {before} of ana's five");
}

#[tokio::test]
async fn one_person_keeps_only_so_many_imports_waiting() {
    let app = spawn_app_with(|c| c.max_queued_imports_per_person = 3).await;
    let p = people(&app).await;
    let blocking = blocker(&app, &p).await;
    let mut waiting = Vec::new();
    for i in 0..3 {
        waiting.push(queued(&app, &p.ana, &format!("t{i}"), "create").await);
    }
    let (code, body) = import(&app, &p.ana, "t3", "create").await;
    assert_eq!(code, 429, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("you have 3 imports waiting")), "{body}");
    // Someone else's share is their own.
    let bob = queued(&app, &p.bob, "his", "create").await;
    // Once one of hers is cancelled, there is room for one more.
    assert_eq!(send(&app, &p.ana, Method::DELETE, &format!("/api/imports/{}", waiting[0])).await.0, 202);
    wait_final(&app, &p.ana, &waiting[0]).await;
    waiting[0] = queued(&app, &p.ana, "t3", "create").await;
    unblock(&app, &p, &blocking).await;
    for id in waiting.iter().chain([&bob]) {
        assert_eq!(wait_final(&app, &p.root, id).await["status"], "succeeded");
    }
}
