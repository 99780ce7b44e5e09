//! `/`: upload a spreadsheet and watch its import, right here.

use crate::app::components::{ImportProgress, UploadForm};
use crate::model::ImportId;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let current = RwSignal::new(None::<ImportId>);
    view! {
        <Title text="Import a spreadsheet · sheetport" />
        <section class="intro">
            <h1>"Import a spreadsheet"</h1>
            <p>"The file is stored on the server and imported into a database table in the background. "
               "You can close this tab; the import carries on, and "<a href="/imports">"Imports"</a>" shows it."</p>
        </section>
        <UploadForm on_started=Callback::new(move |id| current.set(Some(id))) />
        {move || current.get().map(|id| {
            let href = format!("/imports/{id}");
            view! {
                <ImportProgress id=id focus=true />
                <p class="permalink"><a href=href>"Open this import on its own page"</a></p>
            }
        })}
    }
}
