//! The checks every request passes before anything else, and the headers every response carries:
//!
//! - **Host.** The request must name this server: a loopback name, an IP address, or the host of a
//!   `--public-url`. A web page on another name that resolves to this machine (DNS rebinding) is
//!   refused with 421 before it reaches anything.
//! - **Origin.** A request that changes something (any method but GET, HEAD, OPTIONS) from a
//!   browser must come from this server's own pages: its `Origin` (or, without one, its `Referer`)
//!   must be this server's. Programs (curl, scripts) send neither and pass; browsers always send
//!   `Origin` on such requests.
//! - **Headers.** `X-Content-Type-Options: nosniff`, `Referrer-Policy`, `X-Frame-Options` and a
//!   Content-Security-Policy: pages get [`page_policy`] (their own scripts, by nonce, and the WASM
//!   bundle, nothing else); everything else gets [`STRICT_POLICY`].

use crate::config::{Config, host_name};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

/// The policy of everything that is not a page: nothing may run, load or frame it.
pub const STRICT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy of a page rendered with `nonce`: scripts from this server and the inline ones Leptos
/// writes (each carries the nonce), WebAssembly compiled from them, styles, images and connections
/// to this server; no plugins, no framing, forms only to this server.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The middleware.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = match check(&state.config, req.method(), req.headers(), req.uri()) {
        Ok(()) => next.run(req).await,
        Err(Refusal::Host(authority)) => {
            let text = format!(
                "this server does not answer to the name {}; if people reach it at that address, its \
                 operator can add it with --public-url",
                crate::format::quoted(&authority)
            );
            (StatusCode::MISDIRECTED_REQUEST, text).into_response()
        }
        Err(Refusal::Origin) => AppError::Forbidden(
            "refused: this request came from another web site; sheetport takes changes only from its own \
             pages, or from programs with an API token"
                .into(),
        )
        .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(STRICT_POLICY));
    }
    response
}

/// Why a request is turned away before it reaches anything.
enum Refusal {
    /// For a host name that is not this server's (the name, lowercase).
    Host(String),
    /// A change asked for by a page of another site.
    Origin,
}

fn check(config: &Config, method: &Method, headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), Refusal> {
    let authority = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
        .to_ascii_lowercase();
    if !known_host(config, &authority) {
        tracing::warn!(host = %authority, "refused a request for a host this server is not");
        return Err(Refusal::Host(authority));
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .map(|v| v.to_str().unwrap_or("null").to_ascii_lowercase());
    match from {
        None => Ok(()),
        Some(from) if same_origin(config, &authority, &from) => Ok(()),
        Some(from) => {
            tracing::warn!(origin = %from, host = %authority, %method, "refused a change requested from another site");
            Err(Refusal::Origin)
        }
    }
}

/// Whether `authority` (the `Host` header) names this server.
fn known_host(config: &Config, authority: &str) -> bool {
    let host = host_name(authority);
    if host.is_empty() {
        return false;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok() || config.public_urls.iter().any(|u| u.host == host)
}

/// Whether `from` (an `Origin`, or a `Referer` URL) is this server as the request reached it, or
/// one of its public URLs.
fn same_origin(config: &Config, authority: &str, from: &str) -> bool {
    let Some((scheme, rest)) = from.split_once("://") else { return false };
    let from_authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let origin = format!("{scheme}://{from_authority}");
    (from_authority == authority && (scheme == "http" || scheme == "https"))
        || config.public_urls.iter().any(|u| u.origin == origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PublicUrl;

    fn config(urls: &[&str]) -> Config {
        Config { public_urls: urls.iter().map(|u| PublicUrl::parse(u).expect("valid")).collect(), ..Config::default() }
    }

    #[test]
    fn hosts_are_loopback_names_addresses_or_public_urls() {
        let c = config(&["https://sheets.example.com"]);
        for ok in [
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "10.0.0.5",
            "sheets.example.com",
            "sheets.example.com:443",
        ] {
            assert!(known_host(&c, ok), "{ok}");
        }
        for bad in ["", "evil.example", "evil.example:3000", "localhost.evil.example", "sheets.example.com.evil"] {
            assert!(!known_host(&c, bad), "{bad}");
        }
    }

    #[test]
    fn changes_come_only_from_this_server() {
        let c = config(&["https://sheets.example.com"]);
        assert!(same_origin(&c, "127.0.0.1:3000", "http://127.0.0.1:3000"));
        assert!(same_origin(&c, "127.0.0.1:3000", "http://127.0.0.1:3000/imports?x"));
        assert!(same_origin(&c, "internal:8080", "https://sheets.example.com"));
        assert!(!same_origin(&c, "127.0.0.1:3000", "http://127.0.0.1:3001"), "another local server");
        assert!(!same_origin(&c, "127.0.0.1:3000", "null"));
        assert!(!same_origin(&c, "127.0.0.1:3000", "http://evil.example"));
    }
}
