//! sheetport: upload a spreadsheet of a million rows, import it into a database in a background
//! job, and watch it live. One crate: the `ssr` feature builds the server, `hydrate` the page's WASM.

// Built without `erase_components` (a `RUSTFLAGS` in the environment replaces the one in
// `.cargo/config.toml`), each page's whole view tree is one type; the history's and the upload
// form's pass the default limit of 128 ("queries overflow the depth limit").
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod format;
pub mod model;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
pub mod history;
#[cfg(feature = "ssr")]
pub mod import;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod reviews;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod share;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod uploads;

/// Entry point of the WASM bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
