//! One component per route.

mod account;
mod home;
mod import;
mod imports;
mod signin;
mod tables;

pub use account::AccountPage;
pub use home::HomePage;
pub use import::ImportPage;
pub use imports::ImportsPage;
pub use signin::SignInPage;
pub use tables::{TablePage, TablesPage};

use leptos::prelude::*;

/// Shown for any path no route matches.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <leptos_meta::Title text="Page not found · sheetport" />
        <section class="card">
            <h1>"Page not found"</h1>
            <p><a href="/">"Upload a spreadsheet"</a>" or see the "<a href="/imports">"imports"</a>"."</p>
        </section>
    }
}
