//! Signing in and out: `GET /api/session` (who the page is showing things to), `POST /api/session`
//! (JSON from scripts, or the sign-in page's form, which works before the page's WASM has loaded),
//! `DELETE /api/session` and `POST /signout` (the header's form).

use crate::auth::resolve::{cleared_cookie, session_cookie};
use crate::auth::{Asker, signin};
use crate::error::AppError;
use crate::model::Account;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// `GET /api/session`.
pub async fn current(asker: Asker) -> Json<Account> {
    Json(asker.viewer.account())
}

#[derive(Debug, Deserialize)]
struct SignIn {
    name: String,
    password: String,
    /// The page to go back to (the form's).
    #[serde(default)]
    next: Option<String>,
}

/// Where a form may send the person after signing in: a path on this server, nothing else (an
/// open redirect would let a link through our sign-in page lead anywhere). Browsers drop tabs and
/// line breaks from a `Location` and read `\` as `/`, so `/<TAB>/evil.example` and `/\evil.example`
/// are other sites to them; only visible ASCII is kept, which also makes every accepted path a
/// valid header value (a line break in one answered 500 after the session was made).
fn local_path(next: Option<&str>) -> &str {
    let same_site = |p: &str| {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.starts_with("/signin")
            && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    };
    match next {
        Some(p) if same_site(p) => p,
        _ => "/",
    }
}

/// `POST /api/session`: JSON (`{"name", "password"}`, answered with the account and the cookie) or
/// a form (answered with a redirect: to `next`, or back to the sign-in page saying what failed).
pub async fn sign_in(State(state): State<AppState>, asker: Asker, headers: HeaderMap, body: Bytes) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let form: Result<SignIn, String> = if json {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    } else {
        serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
    };
    let Ok(form) = form else {
        return AppError::BadRequest("send a name and a password".into()).into_response();
    };
    let result = signin::sign_in(&state, &form.name, &form.password, &asker.address).await;
    let next = local_path(form.next.as_deref()).to_owned();
    match (result, json) {
        (Ok(session), true) => {
            let account = crate::auth::Viewer::Person(session.person).account();
            ([(header::SET_COOKIE, session_cookie(&state, &session.secret, asker.https))], Json(account))
                .into_response()
        }
        (Ok(session), false) => {
            ([(header::SET_COOKIE, session_cookie(&state, &session.secret, asker.https))], Redirect::to(&next))
                .into_response()
        }
        (Err(e), true) => AppError::from(e).into_response(),
        (Err(e), false) => {
            let reason = match e {
                // The page says how long, in the words the API uses (see `SignInPage`).
                signin::SignInError::Wait(ms) => format!("many&wait={}", (ms + 999) / 1000),
                signin::SignInError::App(AppError::Forbidden(_)) => "disabled".into(),
                signin::SignInError::App(AppError::Unauthorized(_)) => "wrong".into(),
                signin::SignInError::App(other) => return other.into_response(),
            };
            Redirect::to(&format!("/signin?error={reason}&next={}", urlencode(&next))).into_response()
        }
    }
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).map(|s| s[1..].to_owned()).unwrap_or_default()
}

/// `DELETE /api/session`: 204, the session ended and its cookie cleared.
pub async fn sign_out(State(state): State<AppState>, asker: Asker) -> Result<impl IntoResponse, AppError> {
    signin::sign_out(&state, &asker.viewer, &asker.address).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared_cookie())]))
}

/// `POST /signout`: the page's form; back to the sign-in page.
pub async fn sign_out_form(State(state): State<AppState>, asker: Asker) -> Result<impl IntoResponse, AppError> {
    signin::sign_out(&state, &asker.viewer, &asker.address).await?;
    Ok(([(header::SET_COOKIE, cleared_cookie())], Redirect::to("/signin")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/imports?x=1")), "/imports?x=1");
        assert_eq!(local_path(Some("/tables/sales?sort=-units&q=a%20b")), "/tables/sales?sort=-units&q=a%20b");
        let bad = [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "/a\\b",
            "/signin",
            "/\t/evil.example",
            "/\n/x",
            "/\r\nSet-Cookie: x=1",
            "/ /x",
            "/\u{7f}/x",
            "/caf\u{e9}",
            "",
            "evil.example",
        ];
        assert_eq!(local_path(None), "/");
        for bad in bad {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(urlencode("/a b?c=d"), "%2Fa+b%3Fc%3Dd");
    }
}
