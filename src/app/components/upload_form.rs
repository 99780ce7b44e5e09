//! `UploadForm`: a drop zone and a file picker. A chosen file is uploaded with a byte progress
//! bar, then the `inspect_upload` server function shows its sheets, columns, types and first rows,
//! and the person picks the sheet (or a CSV's text encoding), table name and mode before `start_import` queues the import;
//! `on_started` gets the new import's id.

use super::column_map::{self, ColumnMap};
use super::{Alert, SheetPreview};
use crate::api::{inspect_upload, start_import};
use crate::app::browser::{self, PickedFile};
use crate::format;
use crate::model::{
    HeaderRow, ImportId, ImportMode, ImportRequest, Inspection, Mapping, OnError, TEXT_ENCODINGS, UploadId,
};
use leptos::prelude::*;

/// How to read the file for a preview: each `None` or `false` is "as found".
#[derive(Clone, Default)]
struct Look {
    sheet: Option<String>,
    encoding: Option<String>,
    header: Option<HeaderRow>,
    stop_at_blank: bool,
    /// The table the rows would go into (`None`: the one named after the file).
    table: Option<String>,
}

#[derive(Clone, PartialEq)]
enum Stage {
    Idle,
    Uploading {
        name: String,
        sent: u64,
        total: u64,
    },
    /// Stored; reading the header and first rows (of `sheet`, when one was picked).
    Inspecting {
        name: String,
    },
    /// Looked into: waiting for the person to start the import.
    Ready(Box<Inspection>),
    Starting,
    Failed(String),
}

impl Stage {
    fn busy(&self) -> bool {
        matches!(self, Stage::Uploading { .. } | Stage::Inspecting { .. } | Stage::Starting)
    }
}

#[component]
pub fn UploadForm(
    /// Called with the new import's id once it is queued.
    on_started: Callback<ImportId>,
) -> impl IntoView {
    let stage = RwSignal::new(Stage::Idle);
    let table = RwSignal::new(String::new());
    let mode = RwSignal::new(ImportMode::Create);
    // Whether to stop for a review: `None` until the person chooses, which means "review when the
    // import would change a table that exists".
    let review = RwSignal::new(None::<bool>);
    let dragging = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();

    let inspect = move |upload_id: UploadId, name: String, look: Look| {
        stage.set(Stage::Inspecting { name });
        leptos::task::spawn_local(async move {
            let Look { sheet, encoding, header, stop_at_blank, table: asked } = look;
            // The table name typed so far counts for every look (another sheet, say).
            let table = asked.or_else(|| Some(table.get_untracked()).filter(|t| !t.trim().is_empty()));
            stage.set(match inspect_upload(upload_id, sheet, encoding, header, Some(stop_at_blank), table).await {
                Ok(found) => Stage::Ready(Box::new(found)),
                Err(e) => Stage::Failed(e.to_string()),
            });
        });
    };

    let send = move |file: PickedFile| {
        if stage.with_untracked(Stage::busy) {
            return;
        }
        stage.set(Stage::Uploading { name: file.name.clone(), sent: 0, total: file.size });
        let name = file.name.clone();
        leptos::task::spawn_local(async move {
            let progress_name = name.clone();
            let uploaded = browser::upload(file, move |sent, total| {
                stage.set(Stage::Uploading { name: progress_name.clone(), sent, total });
            })
            .await;
            match uploaded {
                Ok(info) => inspect(info.upload_id, name, Look::default()),
                Err(e) if e == browser::CANCELLED => stage.set(Stage::Idle),
                Err(e) => stage.set(Stage::Failed(e)),
            }
        });
    };
    let cancel_upload = move |_| browser::cancel_upload();

    // A file chosen before the page was interactive is taken once it is.
    Effect::new(move |_| {
        if file_input.get().is_some()
            && let Some(f) = browser::pending_file(&file_input)
        {
            send(f);
        }
    });
    // Leaving (or reloading) the page mid-upload would lose it: the browser asks first.
    let unload = window_event_listener(leptos::ev::beforeunload, move |ev| {
        if matches!(stage.get_untracked(), Stage::Uploading { .. }) {
            ev.prevent_default();
            ev.set_return_value("The upload is not finished; leaving stops it.");
        }
    });
    on_cleanup(move || unload.remove());

    let start = move |found: Inspection, mapping: Mapping| {
        stage.set(Stage::Starting);
        // The header row, the sheet and the encoding the preview used (found or chosen), so the
        // import reads what the person saw.
        let reviewing = review.get_untracked().unwrap_or_else(|| reviews_by_default(&found, mode.get_untracked()));
        let request = ImportRequest {
            upload_id: found.upload.upload_id,
            table: Some(table.get_untracked()).filter(|t| !t.trim().is_empty()),
            sheet: found.sheet,
            encoding: found.encoding,
            mode: mode.get_untracked(),
            header_row: found.header_row.map_or(HeaderRow::None, HeaderRow::At),
            stop_at_blank: found.stop_at_blank,
            review: reviewing,
            mapping,
        };
        leptos::task::spawn_local(async move {
            match start_import(request).await {
                Ok(id) => {
                    stage.set(Stage::Idle);
                    table.set(String::new());
                    on_started.run(id);
                }
                Err(e) => stage.set(Stage::Failed(e.to_string())),
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
                    if stage.with_untracked(Stage::busy) {
                        return;
                    }
                    match browser::dropped_files(&ev) {
                        (_, n) if n > 1 => stage.set(Stage::Failed(format!(
                            "One file at a time: {n} files were dropped. Drop or choose just one; the next can follow once this one is imported."
                        ))),
                        (Some(f), _) => send(f),
                        (None, _) => {}
                    }
                }
            >
                <input
                    node_ref=file_input
                    type="file"
                    name="file"
                    class="visually-hidden"
                    accept=".xlsx,.xlsm,.xlsb,.xls,.ods,.csv,.tsv,text/csv"
                    on:change=move |ev| if let Some(f) = browser::input_file(&ev) { send(f) }
                />
                // A phone has nothing to drop: it reads the second (see `style/main.css`).
                <span class="dropzone-title pointer-fine">"Drop a spreadsheet here, or choose a file"</span>
                <span class="dropzone-title pointer-coarse">"Choose a spreadsheet"</span>
                <span class="dropzone-hint">".xlsx, .xlsm, .xlsb, .xls, .ods, .csv or .tsv — up to a million rows and more"</span>
            </label>
            {move || match stage.get() {
                Stage::Idle => ().into_any(),
                Stage::Uploading { name, sent, total } => view! {
                    <div class="upload-progress" aria-live="polite">
                        <p>{format!("Uploading {name}: {} of {}", format::bytes(sent), format::bytes(total))}</p>
                        <progress max=total.max(1).to_string() value=sent.to_string() aria-label="Bytes uploaded"></progress>
                        <p><button type="button" class="button secondary cancel-upload" on:click=cancel_upload>"Cancel the upload"</button></p>
                    </div>
                }.into_any(),
                Stage::Inspecting { name } => view! {
                    <p class="upload-progress" aria-live="polite">{format!("Uploaded {name}. Reading its header and first rows…")}</p>
                }.into_any(),
                Stage::Ready(found) => {
                    let found = *found;
                    view! { <ImportOptions found table mode review on_look=inspect on_start=start /> }.into_any()
                }
                Stage::Starting => view! { <p class="upload-progress">"Starting the import…"</p> }.into_any(),
                Stage::Failed(e) => view! { <Alert text=e /> }.into_any(),
            }}
        </form>
    }
}

/// Whether an import stops for a review unless the person says otherwise: when it would change a
/// table that exists.
fn reviews_by_default(found: &Inspection, mode: ImportMode) -> bool {
    found.target.is_some() && mode != ImportMode::Create
}

/// The looked-into file: which sheet (or text encoding), which table, which mode, the preview, and
/// the start button. Another sheet or encoding is looked into again (`on_look`).
#[component]
fn ImportOptions(
    found: Inspection,
    table: RwSignal<String>,
    mode: RwSignal<ImportMode>,
    review: RwSignal<Option<bool>>,
    on_look: impl Fn(UploadId, String, Look) + Copy + 'static,
    on_start: impl Fn(Inspection, Mapping) + Copy + 'static,
) -> impl IntoView {
    let (upload_id, name) = (found.upload.upload_id.clone(), found.upload.file_name.clone());
    let sheets = found.sheets.clone();
    let current = found.sheet.clone().unwrap_or_default();
    let encoding = found.encoding.clone();
    // The detected encoding is offered even when it is not one of the usual ones.
    let mut encodings: Vec<(String, String)> =
        TEXT_ENCODINGS.iter().map(|&(name, words)| (name.to_owned(), words.to_owned())).collect();
    if let Some(e) = encoding.as_ref().filter(|e| !encodings.iter().any(|(n, _)| n == *e)) {
        encodings.push((e.clone(), e.clone()));
    }
    let (look_id, look_name) = (upload_id.clone(), name.clone());
    let (header_id, header_name, stop_id, stop_name) =
        (upload_id.clone(), name.clone(), upload_id.clone(), name.clone());
    // What the preview was read with, for a look again with one thing changed.
    let same = Look {
        sheet: found.sheet.clone(),
        encoding: found.encoding.clone(),
        header: Some(found.header_row.map_or(HeaderRow::None, HeaderRow::At)),
        stop_at_blank: found.stop_at_blank,
        table: Some(table.get_untracked()).filter(|t| !t.trim().is_empty()),
    };
    let same_stop = same.clone();
    let same_table = same.clone();
    let (table_id, table_name) = (upload_id.clone(), name.clone());
    let stopping = found.stop_at_blank;
    // The row the preview took (found, or chosen), the first rows to choose from, or none.
    let header_now = found.header_row.map_or_else(|| "none".to_owned(), |n| n.to_string());
    let last = found.header_row.unwrap_or(0).max(20);
    let mut header_rows: Vec<(String, String)> = (1..=last).map(|n| (n.to_string(), format!("row {n}"))).collect();
    header_rows.push(("none".into(), "no row: every row is data".into()));
    let placeholder = found.table.clone();
    let review_default = found.clone();
    let reviewing =
        Signal::derive(move || review.get().unwrap_or_else(|| reviews_by_default(&review_default, mode.get())));
    let total = found.rows_total;
    let rows = move || {
        let verb = if reviewing.get() { "Review" } else { "Import" };
        total
            .map(|n| format!("{verb} {} {}", format::count(n), if n == 1 { "row" } else { "rows" }))
            .unwrap_or_else(|| verb.into())
    };
    let start_with = found.clone();
    let edits = column_map::edits(&found);
    let edits_to_start = edits.clone();
    let edits_to_wait = edits.clone();
    let target = found.target.clone();
    let exists = target.as_ref().map(|t| {
        format!(
            "A table named {} already exists ({} columns). Choose what to do with it below, or another name.",
            t.table,
            t.shape.columns.len()
        )
    });
    // The same content landed before (one of the person's own imports, or anyone's for an admin).
    let earlier = found.imported.clone();
    let has_target = target.is_some();
    let existing = Signal::derive(move || {
        has_target && matches!(mode.get(), ImportMode::Append | ImportMode::Upsert | ImportMode::InsertNew)
    });
    let keyed = Signal::derive(move || mode.get().keyed());
    let on_error = RwSignal::new(OnError::Fail);
    let add_index = RwSignal::new(false);
    view! {
        <div class="import-options">
            <h2 class="file-name">{name.clone()}</h2>
            <div class="option-grid">
                {(sheets.len() > 1).then(|| view! {
                    <p class="field">
                        <label for="sheet">"Sheet"</label>
                        <select id="sheet" on:change=move |ev| on_look(upload_id.clone(), name.clone(), Look { sheet: Some(event_target_value(&ev)), ..Look::default() })>
                            {sheets.into_iter().map(|s| {
                                let (selected, label) = (s == current, s.clone());
                                view! { <option value=s selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                    </p>
                })}
                {encoding.map(|current| view! {
                    <p class="field">
                        <label for="encoding">"Text encoding"</label>
                        <select id="encoding"
                            on:change=move |ev| on_look(look_id.clone(), look_name.clone(), Look { encoding: Some(event_target_value(&ev)), ..Look::default() })>
                            {encodings.into_iter().map(|(value, words)| {
                                let selected = value == current;
                                view! { <option value=value selected=selected>{words}</option> }
                            }).collect_view()}
                        </select>
                    </p>
                })}
                <p class="field">
                    <label for="header-row">"Column names are in"</label>
                    <select id="header-row"
                        on:change=move |ev| {
                            let header = event_target_value(&ev).parse().ok();
                            on_look(header_id.clone(), header_name.clone(), Look { header, ..same.clone() })
                        }>
                        {header_rows.into_iter().map(|(value, words)| {
                            let selected = value == header_now;
                            view! { <option value=value selected=selected>{words}</option> }
                        }).collect_view()}
                    </select>
                </p>
                <p class="field check">
                    <label>
                        <input type="checkbox" checked=stopping
                            on:change=move |ev| on_look(stop_id.clone(), stop_name.clone(), Look { stop_at_blank: event_target_checked(&ev), ..same_stop.clone() }) />
                        "Stop at the first empty row (leave out a totals block below the data)"
                    </label>
                </p>
                <p class="field">
                    <label for="table-name">"Table name"</label>
                    <input id="table-name" type="text" autocomplete="off" spellcheck="false" placeholder=placeholder
                        prop:value=move || table.get() on:input=move |ev| table.set(event_target_value(&ev))
                        on:change=move |ev| {
                            let wanted = Some(event_target_value(&ev)).filter(|t| !t.trim().is_empty());
                            on_look(table_id.clone(), table_name.clone(), Look { table: wanted, ..same_table.clone() })
                        } />
                </p>
                <p class="field">
                    <label for="mode">"If the table exists"</label>
                    <select id="mode" prop:value=move || mode.get().to_string()
                        on:change=move |ev| if let Ok(m) = event_target_value(&ev).parse() { mode.set(m) }>
                        {[
                            (ImportMode::Create, "Stop: never touch an existing table"),
                            (ImportMode::Append, "Append the rows to it"),
                            (ImportMode::Upsert, "Update rows with the same key, add the others"),
                            (ImportMode::InsertNew, "Add only rows with a new key"),
                            (ImportMode::Replace, "Replace it"),
                        ].into_iter().map(|(m, words)| view! { <option value=m.to_string()>{words}</option> }).collect_view()}
                    </select>
                </p>
                <p class="field check">
                    <label>
                        <input type="checkbox" class="review-first" prop:checked=move || reviewing.get()
                            on:change=move |ev| review.set(Some(event_target_checked(&ev))) />
                        "Show me what would change before anything is written (review)"
                    </label>
                </p>
                <p class="field">
                    <label for="on-error">"Rows with a value their column cannot take"</label>
                    <select id="on-error" prop:value=move || on_error.get().to_string()
                        on:change=move |ev| if let Ok(o) = event_target_value(&ev).parse() { on_error.set(o) }>
                        <option value="fail">"Stop: import nothing and list them"</option>
                        <option value="skip">"Leave them out and import the rest"</option>
                    </select>
                </p>
            </div>
            {earlier.map(|e| {
                let href = format!("/imports/{}", e.id);
                view! {
                    <p class="note already-imported" role="status">
                        {format!("This file was already {}. ", e.words())}
                        <a href=href>"See that import"</a>
                    </p>
                }
            })}
            {exists.map(|words| view! { <p class="note table-exists">{words}</p> })}
            <ColumnMap edits target existing keyed add_unique_index=add_index />
            <SheetPreview inspection=found />
            <p class="actions">
                <button type="button" class="button start"
                    // A date column nobody has said how to read: not until it is answered (see the
                    // column map's question).
                    prop:disabled=move || !column_map::unanswered(&edits_to_wait, existing.get()).is_empty()
                    on:click=move |_| {
                        let mapping = column_map::mapping(&edits_to_start, existing.get_untracked(), on_error.get_untracked(), add_index.get_untracked());
                        on_start(start_with.clone(), mapping)
                    }>{rows}</button>
            </p>
        </div>
    }
}
