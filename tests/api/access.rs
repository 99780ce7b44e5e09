//! Accounts and access (issue 12), through the real server: who may see, start, follow, cancel
//! and write what, as anonymous, the owner, another person, an admin, a token and a revoked token;
//! requests from other sites and for other host names refused; the security headers; sign-in
//! bounds; a session made on one instance used on another; the CLI making accounts and tokens.

use crate::helpers::{TestApp, TestDb, spawn_app, spawn_app_on, spawn_app_with};
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use sheetport::auth::manage::{self, By};
use sheetport::config::TableReaders;
use sheetport::db::Db;

/// Someone making requests: with a session cookie, a token, or nothing.
#[derive(Clone)]
pub(crate) struct As {
    pub(crate) label: &'static str,
    header: Option<(reqwest::header::HeaderName, String)>,
}

impl As {
    pub(crate) fn anonymous() -> Self {
        Self { label: "anonymous", header: None }
    }

    fn token(label: &'static str, secret: &str) -> Self {
        Self { label, header: Some((AUTHORIZATION, format!("Bearer {secret}"))) }
    }

    pub(crate) fn on(&self, b: RequestBuilder) -> RequestBuilder {
        match &self.header {
            Some((k, v)) => b.header(k, HeaderValue::from_str(v).expect("header")),
            None => b,
        }
    }
}

/// The people of these tests: ana and bob (plain accounts), root (an admin).
pub(crate) struct People {
    pub(crate) db: Db,
    pub(crate) ana: As,
    pub(crate) bob: As,
    pub(crate) root: As,
    ana_token: As,
    revoked: As,
}

const PASSWORD: &str = "correct horse battery";

async fn app_db(app: &TestApp) -> Db {
    Db::connect(&app.db.url(), "public").await.expect("the test's database")
}

/// Signs in over HTTP; the session cookie's `name=value`.
async fn sign_in(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/session"))
        .json(&json!({ "name": name, "password": password }))
        .send()
        .await
        .expect("sign-in request")
}

async fn session(app: &TestApp, label: &'static str, name: &str) -> As {
    let resp = sign_in(app, name, PASSWORD).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let cookie = resp.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let pair = cookie.split(';').next().expect("name=value").to_owned();
    As { label, header: Some((COOKIE, pair)) }
}

pub(crate) async fn people(app: &TestApp) -> People {
    let db = app_db(app).await;
    for (name, admin) in [("ana", false), ("bob", false), ("root", true)] {
        manage::add_user(&db, name, PASSWORD, admin, By::CLI).await.expect("add user");
    }
    let ana_user = manage::user(&db, "ana").await.expect("ana");
    let ana_token = manage::create_token(&db, &ana_user, "script", By::CLI).await.expect("token");
    let old = manage::create_token(&db, &ana_user, "old", By::CLI).await.expect("token");
    manage::revoke_token(&db, old.token.id, |_| true, By::CLI).await.expect("revoke");
    People {
        ana: session(app, "ana", "ana").await,
        bob: session(app, "bob", "bob").await,
        root: session(app, "root", "root").await,
        ana_token: As::token("ana's token", &ana_token.secret),
        revoked: As::token("a revoked token", &old.secret),
        db,
    }
}

pub(crate) async fn send(app: &TestApp, who: &As, method: Method, path: &str) -> (u16, Value) {
    let resp = who.on(app.client.request(method, app.url(path))).send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Imports a small CSV as `who` into `table` with `mode`; the status and the body.
pub(crate) async fn import(app: &TestApp, who: &As, table: &str, mode: &str) -> (u16, Value) {
    let csv = "region,units\nnorth,3\nsouth,5\n";
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("sales.csv"))
        .text("table", table.to_owned())
        .text("mode", mode.to_owned());
    let resp = who.on(app.client.post(app.url("/api/imports"))).multipart(form).send().await.expect("import");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn wait_final(app: &TestApp, who: &As, id: &str) -> Value {
    for _ in 0..600 {
        let (code, body) = send(app, who, Method::GET, &format!("/api/imports/{id}")).await;
        assert_eq!(code, 200, "{body}");
        if matches!(body["status"].as_str(), Some("succeeded" | "failed" | "cancelled")) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import {id} did not end");
}

/// Calls a server function as the page does (form-encoded POST).
pub(crate) async fn rpc(app: &TestApp, who: &As, name: &str, args: &[(&str, &str)]) -> (u16, Value) {
    let resp = who
        .on(app.client.post(app.url(&format!("/rpc/{name}"))))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(args).expect("form"))
        .send()
        .await
        .expect("rpc");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_route_and_server_function_checks_who_is_asking() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let anonymous = As::anonymous();

    // ana's import makes the table "sales", hers.
    let (code, body) = import(&app, &p.ana, "sales", "create").await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    assert_eq!(wait_final(&app, &p.ana, &id).await["status"], "succeeded");

    // Seeing the import: its owner and admins; to anyone else it does not exist.
    let import_path = format!("/api/imports/{id}");
    let events_path = format!("{import_path}/events");
    for (who, see) in
        [(&anonymous, 401), (&p.ana, 200), (&p.bob, 404), (&p.root, 200), (&p.ana_token, 200), (&p.revoked, 401)]
    {
        assert_eq!(send(&app, who, Method::GET, &import_path).await.0, see, "GET import as {}", who.label);
        let events = who.on(app.client.get(app.url(&events_path))).send().await.expect("events");
        assert_eq!(events.status().as_u16(), see, "events as {}", who.label);
        // Cancelling an ended import: 409 for those who may, the same refusals for the rest.
        let cancel = if see == 200 { 409 } else { see };
        assert_eq!(send(&app, who, Method::DELETE, &import_path).await.0, cancel, "DELETE as {}", who.label);
    }
    // The lists: one's own, or everyone's for an admin.
    for (who, n) in [(&p.ana, 1), (&p.bob, 0), (&p.root, 1), (&p.ana_token, 1)] {
        let (code, list) = send(&app, who, Method::GET, "/api/imports").await;
        assert_eq!((code, list.as_array().map(Vec::len)), (200, Some(n)), "list as {}", who.label);
        let (code, list) = rpc(&app, who, "list_imports", &[]).await;
        assert_eq!((code, list["imports"].as_array().map(Vec::len)), (200, Some(n)), "list_imports as {}", who.label);
    }
    assert_eq!(send(&app, &anonymous, Method::GET, "/api/imports").await.0, 401);
    assert_eq!(rpc(&app, &anonymous, "list_imports", &[]).await.0, 401);
    assert_eq!(send(&app, &p.revoked, Method::GET, "/api/imports").await.0, 401);
    // Server functions follow the same rules: bob cannot see or cancel ana's import.
    assert_eq!(rpc(&app, &p.bob, "get_import", &[("id", &id)]).await, (200, Value::Null));
    assert_eq!(rpc(&app, &p.bob, "cancel_import", &[("id", &id)]).await.0, 404);
    assert_eq!(rpc(&app, &p.ana, "cancel_import", &[("id", &id)]).await.0, 409);

    // Writing her table: ana, her token, an admin; bob only once she gives him write access.
    for (who, code) in
        [(&p.ana, 202), (&p.ana_token, 202), (&p.root, 202), (&p.bob, 403), (&anonymous, 401), (&p.revoked, 401)]
    {
        let (got, body) = import(&app, who, "sales", "append").await;
        assert_eq!(got, code, "append as {}: {body}", who.label);
        if got == 403 {
            assert!(body["error"].as_str().is_some_and(|e| e.contains("belongs to another account")), "{body}");
        }
        if got == 202 {
            wait_final(&app, who, body["id"].as_str().expect("id")).await;
        }
    }
    assert_eq!(import(&app, &p.bob, "sales", "replace").await.0, 403);
    assert_eq!(send(&app, &p.bob, Method::PUT, "/api/tables/sales/writers/bob").await.0, 403, "only the owner gives");
    assert_eq!(send(&app, &p.ana, Method::PUT, "/api/tables/sales/writers/bob").await.0, 204);
    let (_, access) = send(&app, &p.bob, Method::GET, "/api/tables/sales/access").await;
    assert_eq!(access, json!({"owner": "ana", "writers": ["bob"], "may_change": false}));
    let (_, access) = send(&app, &p.ana, Method::GET, "/api/tables/sales/access").await;
    assert_eq!(access["may_change"], true);
    let (code, body) = import(&app, &p.bob, "sales", "append").await;
    assert_eq!(code, 202, "{body}");
    wait_final(&app, &p.bob, body["id"].as_str().expect("id")).await;
    assert_eq!(send(&app, &p.ana, Method::DELETE, "/api/tables/sales/writers/bob").await.0, 204);
    assert_eq!(import(&app, &p.bob, "sales", "append").await.0, 403);
    // A new table is anyone's to make, and then theirs.
    let (code, body) = import(&app, &p.bob, "bobs", "create").await;
    assert_eq!(code, 202, "{body}");
    wait_final(&app, &p.bob, body["id"].as_str().expect("id")).await;
    assert_eq!(import(&app, &p.ana, "bobs", "append").await.0, 403);
    // A table sheetport did not make: admins only.
    app.db.execute("CREATE TABLE theirs (x INTEGER)").await;
    assert_eq!(import(&app, &p.ana, "theirs", "replace").await.0, 403);

    // Reading tables: everyone signed in (the default).
    for who in [&p.ana, &p.bob, &p.root, &p.ana_token] {
        let (code, list) = send(&app, who, Method::GET, "/api/tables").await;
        assert_eq!(code, 200);
        assert!(list.as_array().expect("list").iter().any(|t| t["name"] == "sales"), "{} sees sales", who.label);
        assert_eq!(send(&app, who, Method::GET, "/api/tables/sales/rows").await.0, 200);
    }
    assert_eq!(send(&app, &anonymous, Method::GET, "/api/tables/sales/rows").await.0, 401);

    // Accounts and the audit log: admins only.
    assert_eq!(send(&app, &p.ana, Method::GET, "/api/users").await.0, 403);
    assert_eq!(send(&app, &p.ana, Method::GET, "/api/audit").await.0, 403);
    assert_eq!(rpc(&app, &p.ana, "audit_log", &[]).await.0, 403);
    let (code, users) = send(&app, &p.root, Method::GET, "/api/users").await;
    assert_eq!((code, users.as_array().map(Vec::len)), (200, Some(3)));
    let (code, log) = send(&app, &p.root, Method::GET, "/api/audit?limit=1000").await;
    assert_eq!(code, 200);
    let actions: Vec<&str> = log.as_array().expect("log").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["sign-in", "import", "token created", "token revoked", "account added", "write access given"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let import_entry = log.as_array().expect("log").iter().find(|e| e["action"] == "import").expect("an import");
    assert_eq!(import_entry["address"], "127.0.0.1");

    // Tokens: one's own; someone else's is no token.
    let (code, made) = send(&app, &p.bob, Method::POST, "/api/tokens").await;
    assert_eq!(code, 415, "a JSON body is needed: {made}");
    let resp =
        p.bob.on(app.client.post(app.url("/api/tokens"))).json(&json!({"name": "ci"})).send().await.expect("token");
    assert_eq!(resp.status(), 201);
    let made: Value = resp.json().await.expect("json");
    let bob_token = made["token"]["id"].as_i64().expect("id");
    assert!(made["secret"].as_str().is_some_and(|s| s.starts_with("spt_")));
    let path = format!("/api/tokens/{bob_token}");
    assert_eq!(send(&app, &p.ana, Method::DELETE, &path).await.0, 404);
    let (_, mine) = send(&app, &p.ana, Method::GET, "/api/tokens").await;
    assert!(mine.as_array().expect("list").iter().all(|t| t["user"] == "ana"), "{mine}");
    let bob_with_token = As::token("bob's token", made["secret"].as_str().expect("secret"));
    assert_eq!(send(&app, &bob_with_token, Method::GET, "/api/imports").await.0, 200);
    assert_eq!(send(&app, &p.bob, Method::DELETE, &path).await.0, 204);
    assert_eq!(send(&app, &bob_with_token, Method::GET, "/api/imports").await.0, 401, "revoked at once");

    // A disabled account: its session and its tokens stop working at once.
    manage::set_disabled(&p.db, "ana", true, By::CLI).await.expect("disable");
    assert_eq!(send(&app, &p.ana, Method::GET, "/api/imports").await.0, 401);
    assert_eq!(send(&app, &p.ana_token, Method::GET, "/api/imports").await.0, 401);
    let resp = sign_in(&app, "ana", PASSWORD).await;
    assert_eq!(resp.status(), 403, "disabled, said in words");
}

#[tokio::test]
async fn pages_send_the_anonymous_to_sign_in_and_sign_in_works_without_the_page_script() {
    let app = spawn_app().await;
    let db = app_db(&app).await;
    manage::add_user(&db, "ana", PASSWORD, false, By::CLI).await.expect("add");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");

    let resp = client.get(app.url("/imports?x=1")).send().await.expect("page");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/signin?next=/imports%3Fx%3D1");
    let resp = client.get(app.url("/signin")).send().await.expect("sign-in page");
    assert_eq!(resp.status(), 200);
    let policy = resp.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    assert!(policy.contains("'wasm-unsafe-eval'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    let nonce = policy.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce").to_owned();
    let html = resp.text().await.expect("html");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the page's scripts carry the nonce");
    assert!(html.contains("action=\"/api/session\""));

    // The form, as a browser without the page's script posts it.
    let form = [("name", "ana"), ("password", "wrong password"), ("next", "/imports")];
    let resp = client.post(app.url("/api/session")).form(&form).send().await.expect("post");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/signin?error=wrong&next=%2Fimports");
    let form = [("name", "ANA"), ("password", PASSWORD), ("next", "https://evil.example/")];
    let resp = client.post(app.url("/api/session")).form(&form).send().await.expect("post");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/", "never away from this server");
    let cookie = resp.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("pair").to_owned();
    let resp = client.get(app.url("/imports")).header(COOKIE, &cookie).send().await.expect("page");
    assert_eq!(resp.status(), 200);
    let (code, me) = {
        let r = client.get(app.url("/api/session")).header(COOKIE, &cookie).send().await.expect("me");
        (r.status().as_u16(), r.json::<Value>().await.expect("json"))
    };
    assert_eq!((code, me), (200, json!({"name": "ana", "admin": false, "accounts": true})));

    // Signing out ends the session on the server, not only in the browser.
    let resp = client.post(app.url("/signout")).header(COOKIE, &cookie).send().await.expect("sign out");
    assert_eq!(resp.status(), 303);
    assert!(resp.headers()["set-cookie"].to_str().expect("ascii").contains("Max-Age=0"));
    let resp = client.get(app.url("/api/imports")).header(COOKIE, &cookie).send().await.expect("after");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn other_sites_and_other_host_names_are_refused_and_every_response_has_security_headers() {
    let app = spawn_app().await;
    let own = format!("http://{}", app.addr);
    let elsewhere = format!("http://127.0.0.1:{}", app.addr.port() + 1);
    for origin in ["http://evil.example", elsewhere.as_str(), "null"] {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(b"a\n1\n".to_vec()).file_name("x.csv"));
        let resp = app
            .client
            .post(app.url("/api/imports"))
            .header("origin", origin)
            .multipart(form)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), 403, "an import from {origin}");
        let resp = app
            .client
            .post(app.url("/rpc/cancel_import"))
            .header("origin", origin)
            .form(&[("id", "0123456789abcdef0123456789abcdef")])
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), 403, "a cancel from {origin}");
    }
    // Without Origin, a Referer from elsewhere is refused too; one from here is not.
    let resp = app
        .client
        .delete(app.url("/api/imports/0123456789abcdef0123456789abcdef"))
        .header("referer", "http://evil.example/page")
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .delete(app.url("/api/imports/0123456789abcdef0123456789abcdef"))
        .header("origin", own.as_str())
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 404, "from this server's own page: on to the route");

    // DNS rebinding: a page on another name that resolves here.
    let resp = app
        .client
        .get(app.url("/api/imports"))
        .header("host", format!("evil.example:{}", app.addr.port()))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 421);
    let resp = app
        .client
        .get(app.url("/api/imports"))
        .header("host", format!("localhost:{}", app.addr.port()))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);

    for path in ["/", "/api/imports", "/pkg/sheetport.css", "/nowhere", "/healthz"] {
        let resp = app.client.get(app.url(path)).send().await.expect("get");
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn failed_sign_ins_are_bounded_and_names_that_do_not_exist_look_the_same() {
    let app = spawn_app().await;
    let db = app_db(&app).await;
    manage::add_user(&db, "ana", PASSWORD, false, By::CLI).await.expect("add");
    let resp = sign_in(&app, "nobody", PASSWORD).await;
    assert_eq!(resp.status(), 401);
    let unknown: Value = resp.json().await.expect("json");
    let resp = sign_in(&app, "ana", "wrong password").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.expect("json"), unknown, "the same words either way");
    for _ in 0..4 {
        assert_eq!(sign_in(&app, "Ana", "wrong password").await.status(), 401);
    }
    let resp = sign_in(&app, "ana", PASSWORD).await;
    assert_eq!(resp.status(), 429, "five failures from here: even the right password waits, here");
    let error = resp.json::<Value>().await.expect("json")["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("try again in 1 second"), "{error}");
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_another_and_tables_can_be_owner_only() {
    let app = spawn_app_with(|c| c.table_readers = TableReaders::Owner).await;
    let p = people(&app).await;
    let (code, body) = import(&app, &p.ana, "sales", "create").await;
    assert_eq!(code, 202, "{body}");
    wait_final(&app, &p.ana, body["id"].as_str().expect("id")).await;
    assert_eq!(send(&app, &p.bob, Method::GET, "/api/tables/sales/rows").await.0, 404, "owner-only");
    let (_, list) = send(&app, &p.bob, Method::GET, "/api/tables").await;
    assert_eq!(list, json!([]));
    assert_eq!(send(&app, &p.root, Method::GET, "/api/tables/sales/rows").await.0, 200);

    // A second instance on the same database knows ana's session.
    let dir = tempfile::tempdir().expect("dir");
    let same = match &app.db {
        TestDb::Sqlite(path) => TestDb::Sqlite(path.clone()),
        TestDb::Postgres { url, .. } => TestDb::Postgres { name: String::new(), url: url.clone() },
    };
    let other = spawn_app_on(dir, same, |_| {}).await;
    let (code, list) = send(&other, &p.ana, Method::GET, "/api/imports").await;
    assert_eq!((code, list.as_array().map(Vec::len)), (200, Some(1)));
    assert_eq!(send(&other, &As::anonymous(), Method::GET, "/api/imports").await.0, 401);
    // The second TestDb must not drop the database (its name is empty): forget it.
    let TestApp { db, .. } = other;
    std::mem::forget(db);
}

#[tokio::test]
async fn a_server_beyond_loopback_without_accounts_refuses_to_start_unless_told() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TestDb::create(dir.path()).await;
    let config = |no_auth| sheetport::config::Config {
        addr: "0.0.0.0:0".parse().expect("addr"),
        database_url: db.url(),
        data_dir: dir.path().to_path_buf(),
        no_auth,
        ..Default::default()
    };
    let refused = sheetport::server::Application::build(config(false)).await.err().expect("refused");
    let text = refused.to_string();
    assert!(text.contains("sheetport user add NAME --admin") && text.contains("--no-auth"), "{text}");
    assert!(sheetport::server::Application::build(config(true)).await.is_ok(), "--no-auth starts");
    // With an account it starts, and asks everyone to sign in.
    let handle = Db::connect(&db.url(), "public").await.expect("db");
    manage::add_user(&handle, "root", PASSWORD, true, By::CLI).await.expect("add");
    assert!(sheetport::server::Application::build(config(false)).await.is_ok());
}

/// What a request of the matrix sends.
enum Body {
    Empty,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    /// A small CSV into `table` with `mode`.
    Import(&'static str, &'static str),
}

#[tokio::test]
async fn the_matrix_every_route_and_server_function_by_every_kind_of_asker() {
    let app = spawn_app().await;
    let p = people(&app).await;
    // ana's things: an upload, an import from it that made "sales", and its id.
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"region,units\nnorth,3\n".to_vec()).file_name("sales.csv"));
    let resp = p.ana.on(app.client.post(app.url("/api/uploads"))).multipart(form).send().await.expect("upload");
    assert_eq!(resp.status(), 201);
    let upload = resp.json::<Value>().await.expect("json")["upload_id"].as_str().expect("id").to_owned();
    let (code, started) =
        rpc(&app, &p.ana, "start_import", &[("request[upload_id]", &upload), ("request[table]", "sales")]).await;
    assert_eq!(code, 200, "{started}");
    let id = started.as_str().expect("an id").to_owned();
    wait_final(&app, &p.ana, &id).await;

    let imp = format!("/api/imports/{id}");
    let events = format!("{imp}/events");
    let up = format!("/api/uploads/{upload}");
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        format!("person{n}")
    };
    // Columns: anonymous, another person (bob), the owner (ana), an admin, ana's token, a revoked token.
    let rows: Vec<(&str, Method, String, Body, [u16; 6])> = vec![
        ("list imports", Method::GET, "/api/imports".into(), Body::Empty, [401, 200, 200, 200, 200, 401]),
        ("one import", Method::GET, imp.clone(), Body::Empty, [401, 404, 200, 200, 200, 401]),
        ("its events", Method::GET, events, Body::Empty, [401, 404, 200, 200, 200, 401]),
        ("its errors", Method::GET, format!("{imp}/errors"), Body::Empty, [401, 404, 200, 200, 200, 401]),
        ("its error report", Method::GET, format!("{imp}/errors.csv"), Body::Empty, [401, 404, 200, 200, 200, 401]),
        ("cancel it (ended)", Method::DELETE, imp.clone(), Body::Empty, [401, 404, 409, 409, 409, 401]),
        (
            "append to her table",
            Method::POST,
            "/api/imports".into(),
            Body::Import("sales", "append"),
            [401, 403, 202, 202, 202, 401],
        ),
        (
            "replace her table",
            Method::POST,
            "/api/imports".into(),
            Body::Import("sales", "replace"),
            [401, 403, 202, 202, 202, 401],
        ),
        (
            "a new table",
            Method::POST,
            "/api/imports".into(),
            Body::Import("", "create"),
            [401, 202, 202, 202, 202, 401],
        ),
        (
            "store a file",
            Method::POST,
            "/api/uploads".into(),
            Body::Import("", "create"),
            [401, 201, 201, 201, 201, 401],
        ),
        ("preview her upload", Method::GET, up, Body::Empty, [401, 404, 200, 200, 200, 401]),
        ("list tables", Method::GET, "/api/tables".into(), Body::Empty, [401, 200, 200, 200, 200, 401]),
        ("read her table", Method::GET, "/api/tables/sales/rows".into(), Body::Empty, [401, 200, 200, 200, 200, 401]),
        (
            "index her table",
            Method::POST,
            "/api/tables/sales/indexes".into(),
            Body::Json(json!({"column": "units"})),
            [401, 403, 201, 201, 201, 401],
        ),
        (
            "rpc make_index",
            Method::POST,
            "/rpc/make_index".into(),
            Body::Form(vec![("name", "sales".into()), ("column", "region".into())]),
            [401, 403, 200, 200, 200, 401],
        ),
        (
            "who may write her table",
            Method::GET,
            "/api/tables/sales/access".into(),
            Body::Empty,
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "give bob write access",
            Method::PUT,
            "/api/tables/sales/writers/bob".into(),
            Body::Empty,
            [401, 403, 204, 204, 204, 401],
        ),
        ("list tokens", Method::GET, "/api/tokens".into(), Body::Empty, [401, 200, 200, 200, 200, 401]),
        ("everyone's tokens", Method::GET, "/api/tokens?all=true".into(), Body::Empty, [401, 403, 403, 200, 403, 401]),
        (
            "make a token",
            Method::POST,
            "/api/tokens".into(),
            Body::Json(json!({"name": "x"})),
            [401, 201, 201, 201, 201, 401],
        ),
        ("list accounts", Method::GET, "/api/users".into(), Body::Empty, [401, 403, 403, 200, 403, 401]),
        ("add an account", Method::POST, "/api/users".into(), Body::Json(Value::Null), [401, 403, 403, 201, 403, 401]),
        (
            "change an account",
            Method::PATCH,
            "/api/users/bob".into(),
            Body::Json(json!({"disabled": false})),
            [401, 403, 403, 204, 403, 401],
        ),
        ("audit log", Method::GET, "/api/audit".into(), Body::Empty, [401, 403, 403, 200, 403, 401]),
        ("who am I", Method::GET, "/api/session".into(), Body::Empty, [200, 200, 200, 200, 200, 401]),
        ("health", Method::GET, "/healthz".into(), Body::Empty, [200, 200, 200, 200, 200, 401]),
        ("rpc who_am_i", Method::POST, "/rpc/who_am_i".into(), Body::Form(vec![]), [401, 200, 200, 200, 200, 401]),
        (
            "rpc inspect_upload",
            Method::POST,
            "/rpc/inspect_upload".into(),
            Body::Form(vec![("upload_id", upload.clone())]),
            [401, 404, 200, 200, 200, 401],
        ),
        (
            "rpc start_import",
            Method::POST,
            "/rpc/start_import".into(),
            Body::Form(vec![
                ("request[upload_id]", upload.clone()),
                ("request[table]", "sales".into()),
                ("request[mode]", "append".into()),
            ]),
            [401, 404, 200, 200, 200, 401],
        ),
        (
            "rpc import_errors",
            Method::POST,
            "/rpc/import_errors".into(),
            Body::Form(vec![("id", id.clone())]),
            [401, 404, 200, 200, 200, 401],
        ),
        (
            "rpc get_import",
            Method::POST,
            "/rpc/get_import".into(),
            Body::Form(vec![("id", id.clone())]),
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "rpc list_imports",
            Method::POST,
            "/rpc/list_imports".into(),
            Body::Form(vec![]),
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "rpc cancel_import",
            Method::POST,
            "/rpc/cancel_import".into(),
            Body::Form(vec![("id", id.clone())]),
            [401, 404, 409, 409, 409, 401],
        ),
        (
            "rpc list_tables",
            Method::POST,
            "/rpc/list_tables".into(),
            Body::Form(vec![]),
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "rpc table_rows",
            Method::POST,
            "/rpc/table_rows".into(),
            Body::Form(vec![("name", "sales".into()), ("offset", "0".into()), ("limit", "5".into())]),
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "rpc list_tokens",
            Method::POST,
            "/rpc/list_tokens".into(),
            Body::Form(vec![]),
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "rpc create_token",
            Method::POST,
            "/rpc/create_token".into(),
            Body::Form(vec![("name", "y".into())]),
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "rpc revoke_token (none)",
            Method::POST,
            "/rpc/revoke_token".into(),
            Body::Form(vec![("id", "999999".into())]),
            [401, 404, 404, 404, 404, 401],
        ),
        (
            "rpc who_may_write",
            Method::POST,
            "/rpc/who_may_write".into(),
            Body::Form(vec![("name", "sales".into())]),
            [401, 200, 200, 200, 200, 401],
        ),
        (
            "rpc grant_write",
            Method::POST,
            "/rpc/grant_write".into(),
            Body::Form(vec![("name", "sales".into()), ("user", "bob".into())]),
            [401, 403, 200, 200, 200, 401],
        ),
        (
            "rpc reset_password",
            Method::POST,
            "/rpc/reset_password".into(),
            Body::Form(vec![("name", "nobody".into()), ("password", PASSWORD.into())]),
            [401, 403, 403, 404, 403, 401],
        ),
        ("rpc list_users", Method::POST, "/rpc/list_users".into(), Body::Form(vec![]), [401, 403, 403, 200, 403, 401]),
        ("rpc add_user", Method::POST, "/rpc/add_user".into(), Body::Form(vec![]), [401, 403, 403, 200, 403, 401]),
        (
            "rpc set_disabled",
            Method::POST,
            "/rpc/set_disabled".into(),
            Body::Form(vec![("name", "bob".into()), ("disabled", "false".into())]),
            [401, 403, 403, 200, 403, 401],
        ),
        ("rpc audit_log", Method::POST, "/rpc/audit_log".into(), Body::Form(vec![]), [401, 403, 403, 200, 403, 401]),
        // The history's actions, last: a rerun queues (a create into a table that exists, which
        // fails later); an undo of an import that is no longer the table's last is refused; a
        // deleted record is gone for whoever asks next.
        ("run it again", Method::POST, format!("{imp}/rerun"), Body::Empty, [401, 404, 202, 202, 202, 401]),
        ("undo it (not the last)", Method::POST, format!("{imp}/undo"), Body::Empty, [401, 404, 409, 409, 409, 401]),
        (
            "rpc undo_import",
            Method::POST,
            "/rpc/undo_import".into(),
            Body::Form(vec![("id", id.clone())]),
            [401, 404, 409, 409, 409, 401],
        ),
        ("delete its record", Method::DELETE, format!("{imp}/record"), Body::Empty, [401, 404, 204, 404, 404, 401]),
    ];
    let askers =
        [As::anonymous(), p.bob.clone(), p.ana.clone(), p.root.clone(), p.ana_token.clone(), p.revoked.clone()];
    let mut wrong = Vec::new();
    for (label, method, path, body, expected) in &rows {
        for (who, want) in askers.iter().zip(expected) {
            let mut req = who.on(app.client.request(method.clone(), app.url(path)));
            req = match body {
                Body::Empty => req,
                Body::Json(Value::Null) => req.json(&json!({"name": fresh(), "password": PASSWORD})),
                Body::Json(v) => req.json(v),
                Body::Form(fields) if fields.is_empty() && *label == "rpc add_user" => {
                    req.form(&[("name", fresh()), ("password", PASSWORD.to_owned())])
                }
                Body::Form(fields) => req.form(fields),
                Body::Import(table, mode) => {
                    let form = reqwest::multipart::Form::new()
                        .part(
                            "file",
                            reqwest::multipart::Part::bytes(b"region,units\nwest,1\n".to_vec()).file_name("more.csv"),
                        )
                        .text("table", table.to_string())
                        .text("mode", mode.to_string());
                    req.multipart(form)
                }
            };
            let resp = req.send().await.expect("request");
            let got = resp.status().as_u16();
            if got != *want {
                let text = resp.text().await.unwrap_or_default();
                wrong.push(format!("{label} ({method} {path}) as {}: {got}, not {want}: {text:.200}", who.label));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
