//! The page: the HTML shell, the router and the site header. Pages live in `pages/`, reusable
//! pieces in `components/`, and the few browser-only calls (XHR upload, EventSource) in `browser`.

mod browser;
mod components;
mod pages;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

/// The signed-in person's name and a sign-out button (a plain form: it works before hydration);
/// nothing on a server without accounts or before signing in.
#[component]
fn Who() -> impl IntoView {
    let me = Resource::new(|| (), |_| crate::api::who_am_i());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await.ok().and_then(|a| a.name).map(|name| view! {
                    <form class="who" method="post" action="/signout">
                        <span class="who-name">{name}</span>
                        <button type="submit" class="link">"Sign out"</button>
                    </form>
                })
            })}
        </Suspense>
    }
}

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The app: header, routes, and a marker for browser tests once hydration has run.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: tests wait for this attribute.
    Effect::new(move |_| {
        browser::mark_hydrated();
    });
    view! {
        <Title text="sheetport" />
        <Router>
            // The router would take the click as a navigation; the link only moves the focus.
            <a class="skip-link" href="#main" on:click=|ev| {
                ev.prevent_default();
                browser::focus_main();
            }>"Skip to the content"</a>
            <header class="site-header">
                <A href="/" attr:class="brand">"sheetport"</A>
                <nav aria-label="Main">
                    <A href="/">"Upload"</A>
                    <A href="/imports">"Imports"</A>
                    <A href="/tables">"Tables"</A>
                    <A href="/account">"Account"</A>
                </nav>
                <Who />
            </header>
            <main id="main" tabindex="-1">
                <Routes fallback=|| view! { <pages::NotFound /> }>
                    <Route path=path!("/") view=pages::HomePage />
                    <Route path=path!("/imports") view=pages::ImportsPage />
                    <Route path=path!("/imports/:id") view=pages::ImportPage />
                    <Route path=path!("/tables") view=pages::TablesPage />
                    <Route path=path!("/tables/:name") view=pages::TablePage />
                    <Route path=path!("/signin") view=pages::SignInPage />
                    <Route path=path!("/account") view=pages::AccountPage />
                </Routes>
            </main>
        </Router>
    }
}
