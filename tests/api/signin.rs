//! Signing in (issue 27): the form's `next` leads only to a path on this server and never answers
//! 500, whatever it holds.

use crate::helpers::spawn_app;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use sheetport::auth::manage::{self, By};
use sheetport::db::Db;

const PASSWORD: &str = "correct horse battery";

/// The sign-in form as a browser without the page's script posts it, `next` sent as written
/// (already percent-encoded); the status, `Location` and the session cookie's `name=value`.
async fn post_form(client: &reqwest::Client, url: &str, password: &str, next: &str) -> (u16, String, Option<String>) {
    let body = format!("name=ana&password={}&next={next}", password.replace(' ', "+"));
    let resp = client
        .post(url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("sign-in form");
    let location = resp.headers().get(LOCATION).map(|v| v.to_str().expect("ascii").to_owned()).unwrap_or_default();
    let cookie = resp
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (resp.status().as_u16(), location, cookie)
}

#[tokio::test]
async fn sign_in_next_leads_only_to_a_path_here_and_never_answers_500() {
    let app = spawn_app().await;
    let db = Db::connect(&app.db.url(), "public").await.expect("the test's database");
    manage::add_user(&db, "ana", PASSWORD, false, By::CLI).await.expect("add");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let url = app.url("/api/session");

    // The values the attack tried, percent-encoded as a link would carry them: a tab and a line
    // break (browsers drop them, leaving `//x`), scheme-relative, a backslash (read as `/`), a scheme.
    for (i, next) in
        ["/%09/x", "/%0A/x", "/%0D%0ASet-Cookie:%20x=1", "//x", "/%5Cx", "/\\x", "https://x", "/%09/evil.example"]
            .into_iter()
            .enumerate()
    {
        let (status, location, cookie) = post_form(&client, &url, PASSWORD, next).await;
        assert_eq!((status, location.as_str()), (303, "/"), "the right password with next={next}");
        let cookie = cookie.expect("a session cookie");
        let me = client.get(app.url("/api/session")).header(COOKIE, &cookie).send().await.expect("me");
        assert_eq!(me.status(), 200, "the session works after next={next}");

        // Each wrong password from an address of its own: five from one would make the next wait.
        let elsewhere = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from([127, 0, 0, 20 + i as u8]))
            .build()
            .expect("client");
        let (status, location, cookie) = post_form(&elsewhere, &url, "wrong password", next).await;
        assert_eq!(
            (status, location.as_str()),
            (303, "/signin?error=wrong&next=%2F"),
            "a wrong password with next={next}"
        );
        assert_eq!(cookie, None);
    }
    // A path here is kept, its query included.
    let (status, location, _) = post_form(&client, &url, PASSWORD, "/tables/sales%3Fsort%3D-units").await;
    assert_eq!((status, location.as_str()), (303, "/tables/sales?sort=-units"));
    // The page that carries `next` into its form is not upset by one either.
    let page = client.get(app.url("/signin?next=/%0A/x")).send().await.expect("page");
    assert_eq!(page.status(), 200);
}

/// A client whose requests come from `127.0.0.{last}` (any loopback address reaches the server).
fn from(last: u8) -> reqwest::Client {
    reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, last])).build().expect("client")
}

async fn json_sign_in(client: &reqwest::Client, url: &str, name: &str, password: &str) -> (u16, String) {
    let resp = client
        .post(url)
        .json(&serde_json::json!({ "name": name, "password": password }))
        .send()
        .await
        .expect("sign-in");
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn failures_in_someone_elses_name_slow_only_where_they_come_from() {
    let app = spawn_app().await;
    let db = Db::connect(&app.db.url(), "public").await.expect("the test's database");
    manage::add_user(&db, "ana", PASSWORD, false, By::CLI).await.expect("add");
    let url = app.url("/api/session");

    // Twelve wrong passwords for ana from three addresses (before: ten from anywhere made even
    // her right password wait 15 minutes, from everywhere).
    for last in [2, 5, 6] {
        for _ in 0..4 {
            assert_eq!(json_sign_in(&from(last), &url, "ana", "guess").await.0, 401);
        }
    }
    assert_eq!(json_sign_in(&from(3), &url, "ana", PASSWORD).await.0, 200, "ana, from where she signs in");

    // From one address the waits grow: five failures wait for nothing, then one second, two, ...
    let guesser = from(7);
    for _ in 0..5 {
        assert_eq!(json_sign_in(&guesser, &url, "ana", "guess").await.0, 401);
    }
    let (status, error) = json_sign_in(&guesser, &url, "ana", PASSWORD).await;
    assert_eq!(status, 429, "even the right password waits where the guesses came from");
    assert!(error.contains("try again in 1 second"), "{error}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(json_sign_in(&guesser, &url, "ana", "guess").await.0, 401, "after the wait, a try");
    let (status, error) = json_sign_in(&guesser, &url, "ana", "guess").await;
    assert_eq!(status, 429);
    assert!(error.contains("try again in 2 seconds"), "{error}");

    // Fifty made-up names from one address slow that address, and only it.
    let sprayer = from(8);
    for i in 0..50 {
        assert_eq!(json_sign_in(&sprayer, &url, &format!("user{i}"), "guess").await.0, 401);
    }
    assert_eq!(json_sign_in(&sprayer, &url, "ana", PASSWORD).await.0, 429);
    assert_eq!(json_sign_in(&from(9), &url, "ana", PASSWORD).await.0, 200);
    // Every failure is in the audit log.
    let failed = app.db.scalar("SELECT count(*) FROM sheetport.audit WHERE action = 'sign-in failed'").await;
    assert_eq!(failed, 12 + 5 + 1 + 50);
}
