//! `/signin`: a plain form posted to `POST /api/session`, so signing in works before the page's
//! WASM has loaded (and without it). The server answers with a redirect: to where the person was
//! going (`?next=`), or back here with `?error=` saying what failed.

use crate::app::components::Alert;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The sentence for the server's `?error=` code (and, for "many", `?wait=` seconds).
fn message(code: &str, wait: Option<u64>) -> Option<String> {
    match code {
        "wrong" => Some("The name or the password is wrong.".into()),
        "many" => Some(format!(
            "Too many failed sign-ins from here. Try again in {}, or ask an admin to reset the password.",
            crate::format::wait(wait.unwrap_or(1))
        )),
        "disabled" => Some("This account is disabled. Ask an admin to enable it.".into()),
        _ => None,
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    let error = move || {
        let q = query.read();
        q.get("error").and_then(|c| message(&c, q.get("wait").and_then(|w| w.parse().ok())))
    };
    view! {
        <Title text="Sign in · sheetport" />
        <section class="card signin">
            <h1>"Sign in"</h1>
            {move || error().map(|m| view! { <Alert text=m /> })}
            <form method="post" action="/api/session" class="signin-form">
                <input type="hidden" name="next" value=next />
                <label>"Name"<input name="name" autocomplete="username" required autofocus maxlength="64" /></label>
                <label>"Password"<input type="password" name="password" autocomplete="current-password" required maxlength="1024" /></label>
                <button type="submit" class="button">"Sign in"</button>
            </form>
            <p class="hint">"No account yet? An admin makes one on the Account page, or the operator with "
                <code>"sheetport user add NAME"</code>"."</p>
        </section>
    }
}
