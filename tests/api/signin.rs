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
    for next in
        ["/%09/x", "/%0A/x", "/%0D%0ASet-Cookie:%20x=1", "//x", "/%5Cx", "/\\x", "https://x", "/%09/evil.example"]
    {
        let (status, location, cookie) = post_form(&client, &url, PASSWORD, next).await;
        assert_eq!((status, location.as_str()), (303, "/"), "the right password with next={next}");
        let cookie = cookie.expect("a session cookie");
        let me = client.get(app.url("/api/session")).header(COOKIE, &cookie).send().await.expect("me");
        assert_eq!(me.status(), 200, "the session works after next={next}");

        let (status, location, cookie) = post_form(&client, &url, "wrong password", next).await;
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
