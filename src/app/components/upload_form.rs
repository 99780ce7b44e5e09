//! `UploadForm`: a drop zone and a file picker. A chosen file is uploaded with a byte progress
//! bar, then the `start_import` server function queues its import, and `on_started` gets the id.

use crate::api::start_import;
use crate::app::browser::{self, PickedFile};
use crate::format;
use leptos::prelude::*;

#[derive(Clone, PartialEq)]
enum Stage {
    Idle,
    Uploading { name: String, sent: u64, total: u64 },
    Starting,
    Failed(String),
}

#[component]
pub fn UploadForm(
    /// Called with the new import's id once it is queued.
    on_started: Callback<String>,
) -> impl IntoView {
    let stage = RwSignal::new(Stage::Idle);
    let table = RwSignal::new(String::new());
    let dragging = RwSignal::new(false);

    let send = move |file: PickedFile| {
        if matches!(stage.get_untracked(), Stage::Uploading { .. } | Stage::Starting) {
            return;
        }
        stage.set(Stage::Uploading { name: file.name.clone(), sent: 0, total: file.size });
        let name = file.name.clone();
        leptos::task::spawn_local(async move {
            let uploaded = browser::upload(file, move |sent, total| {
                stage.set(Stage::Uploading { name: name.clone(), sent, total });
            })
            .await;
            let info = match uploaded {
                Ok(info) => info,
                Err(e) => return stage.set(Stage::Failed(e)),
            };
            stage.set(Stage::Starting);
            let wanted = table.get_untracked();
            match start_import(info.upload_id, Some(wanted).filter(|t| !t.trim().is_empty()), None, None).await {
                Ok(id) => {
                    stage.set(Stage::Idle);
                    on_started.run(id.0);
                }
                Err(e) => stage.set(Stage::Failed(server_message(&e.to_string()))),
            }
        });
    };

    view! {
        <form class="card upload" on:submit=|ev| ev.prevent_default()>
            <label
                class="dropzone"
                class:dragging=move || dragging.get()
                on:dragover=move |ev| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=move |ev| {
                    ev.prevent_default();
                    dragging.set(false);
                    if let Some(f) = browser::dropped_file(&ev) { send(f) }
                }
            >
                <input
                    type="file"
                    name="file"
                    class="visually-hidden"
                    accept=".xlsx,.xlsm,.xlsb,.xls,.ods,.csv,.tsv,text/csv"
                    on:change=move |ev| if let Some(f) = browser::input_file(&ev) { send(f) }
                />
                <span class="dropzone-title">"Drop a spreadsheet here, or choose a file"</span>
                <span class="dropzone-hint">".xlsx, .xlsm, .xlsb, .xls, .ods, .csv or .tsv — up to a million rows and more"</span>
            </label>
            <p class="field">
                <label for="table-name">"Table name "<span class="hint">"(optional; defaults to the file name)"</span></label>
                <input id="table-name" type="text" autocomplete="off" spellcheck="false" placeholder="e.g. sales_2024"
                    prop:value=move || table.get() on:input=move |ev| table.set(event_target_value(&ev)) />
            </p>
            {move || match stage.get() {
                Stage::Idle => ().into_any(),
                Stage::Uploading { name, sent, total } => view! {
                    <div class="upload-progress" aria-live="polite">
                        <p>{format!("Uploading {name}: {} of {}", format::bytes(sent), format::bytes(total))}</p>
                        <progress max=total.max(1).to_string() value=sent.to_string() aria-label="Bytes uploaded"></progress>
                    </div>
                }.into_any(),
                Stage::Starting => view! { <p class="upload-progress">"Upload complete. Starting the import…"</p> }.into_any(),
                Stage::Failed(e) => view! { <p class="outcome error" role="alert">{e}</p> }.into_any(),
            }}
        </form>
    }
}

/// Server function errors arrive as "error running server function: ..."; keep the sentence.
fn server_message(raw: &str) -> String {
    raw.strip_prefix("error running server function: ").unwrap_or(raw).to_owned()
}
