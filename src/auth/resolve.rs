//! Who is asking: every request passes [`resolve`], which reads an `Authorization: Bearer` API
//! token or the session cookie, puts the [`Viewer`] into the request's extensions (handlers,
//! server functions and pages read it from there) and, on a server with accounts, turns a request
//! from no one away from everything but signing in: the API with 401, a page with a redirect to
//! `/signin`.

use super::secrets::digest;
use super::{Person, Viewer};
use crate::db::{self, accounts};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sheetport_session";

/// Paths anyone may reach on a server with accounts: the sign-in page and its form's target, the
/// health check, and the files the sign-in page itself needs.
fn public(path: &str) -> bool {
    matches!(path, "/signin" | "/api/session" | "/healthz" | "/robots.txt" | "/favicon.ico")
        || path.starts_with("/pkg/")
}

/// The middleware: resolves the viewer, refuses no one where someone is needed, and renews a
/// session cookie that is past half its life.
pub async fn resolve(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let now = db::now_ms();
    let https = req.extensions().get::<crate::server::client::Client>().is_some_and(|c| c.https);
    let (viewer, renew) = match who(&state, req.headers(), https, now).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    if viewer == Viewer::Anonymous && !public(req.uri().path()) {
        let path = req.uri().path();
        if path.starts_with("/api/") || path.starts_with("/rpc/") || req.method() != Method::GET {
            return AppError::Unauthorized(
                "sign in first: open the page to sign in, or send an API token as \
                 \"Authorization: Bearer …\""
                    .into(),
            )
            .into_response();
        }
        let next_path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        return Redirect::to(&format!("/signin?next={}", encode(next_path))).into_response();
    }
    req.extensions_mut().insert(viewer);
    let mut response = next.run(req).await;
    if let Some(cookie) = renew {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The viewer, and a renewed session cookie when the session was extended.
async fn who(
    state: &AppState,
    headers: &HeaderMap,
    https: bool,
    now: i64,
) -> Result<(Viewer, Option<HeaderValue>), AppError> {
    if state.accounts.disabled() {
        return Ok((Viewer::Open, None));
    }
    let db = &state.db;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized("the Authorization header must be \"Bearer\" followed by an API token".into())
            })?;
        let user = accounts::token_user(db, &digest(token), now).await?.ok_or_else(|| {
            AppError::Unauthorized(
                "this API token does not work: it was revoked, its account disabled, or it is mistyped; \
                 make a new one on the Account page or with `sheetport token create`"
                    .into(),
            )
        })?;
        return Ok((Viewer::Person(Person { id: user.id, name: user.name, admin: user.admin, session: None }), None));
    }
    if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        let hash = digest(secret);
        if let Some((user, expires)) = accounts::session_user(db, &hash, now).await? {
            let lifetime = state.config.session_lifetime.as_millis() as i64;
            // Extended at most twice per lifetime: a write per request would be a write per SSE
            // reconnect and per page.
            let renew = if expires - now < lifetime / 2 {
                accounts::extend_session(db, &hash, now + lifetime).await?;
                Some(session_cookie(state, secret, https))
            } else {
                None
            };
            let person = Person { id: user.id, name: user.name, admin: user.admin, session: Some(hash) };
            return Ok((Viewer::Person(person), renew));
        }
    }
    let viewer = if state.accounts.on(db).await? { Viewer::Anonymous } else { Viewer::Open };
    Ok((viewer, None))
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// `Set-Cookie` for a session: sent only to this server's own pages (`SameSite=Lax`: not with
/// requests other sites make), out of scripts' reach, `Secure` when the public URL is https or a
/// trusted proxy says the request came over https (`https`).
pub fn session_cookie(state: &AppState, secret: &str, https: bool) -> HeaderValue {
    let max_age = state.config.session_lifetime.as_secs();
    let secure = if https || state.config.public_urls.iter().any(|u| u.secure) { "; Secure" } else { "" };
    let text = format!("{SESSION_COOKIE}={secret}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    // The secret is URL-safe base64: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("sheetport_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

/// Percent-encoding of a path for a query parameter (everything but unreserved characters and `/`).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; sheetport_session=abc ; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(encode("/imports?x=1&y"), "/imports%3Fx%3D1%26y");
    }
}
