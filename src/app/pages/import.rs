//! `/imports/{id}`: one import, server-rendered with its current state, live after hydration.
//! Reloading or opening it in a second tab reattaches to the running job.

use crate::api::get_import;
use crate::app::components::{Alert, ImportProgress};
use crate::model::ImportId;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ImportPage() -> impl IntoView {
    let params = use_params_map();
    // A path that cannot be an import id is "no such import" without asking the server.
    let id = move || params.read().get("id").and_then(|id| ImportId::parse(&id));
    let state = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_import(id).await,
            None => Ok(None),
        }
    });
    view! {
        <Title text="Import · sheetport" />
        <h1 class="page-title">"Import"</h1>
        <p class="back"><a href="/imports">"← All imports"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match state.await {
                    Ok(Some(p)) => {
                        let id = p.id.clone();
                        view! { <ImportProgress id=id initial=p /> }.into_any()
                    }
                    Ok(None) => view! { <section class="card"><h2>"No such import"</h2><p><a href="/">"Upload a spreadsheet"</a></p></section> }.into_any(),
                    Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
