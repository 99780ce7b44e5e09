//! `/imports`: the history, newest first, filtered by status and table (the filter is the URL's
//! query, so a filtered view can be bookmarked and works before the WASM loads). Each import says
//! when (relative, and exactly on hover and to screen readers), who, what, how it ended and why;
//! an ended one can be run again or deleted, and the last import into a table undone while that is
//! possible. While any import is queued or running the list is refreshed every second.

use crate::api::{delete_import, list_imports, rerun_import, undo_import};
use crate::app::components::Alert;
use crate::format;
use crate::model::{History, HistoryFilter, ImportStatus, Progress, UndoKind, UndoOffer};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::time::Duration;

#[component]
pub fn ImportsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || HistoryFilter {
        status: query.read().get("status").and_then(|s| s.parse::<ImportStatus>().ok()),
        table: query.read().get("table").filter(|t| !t.is_empty()),
    };
    // Bumped after an action, so the list is read again.
    let changed = RwSignal::new(0u32);
    let history = Resource::new(move || (filter(), changed.get()), |(f, _)| list_imports(Some(f)));
    let said = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move |_| {
        let ticker = set_interval_with_handle(
            move || {
                let busy = history
                    .get_untracked()
                    .and_then(Result::ok)
                    .is_some_and(|h| h.imports.iter().any(|p| !p.status.is_final()));
                if busy {
                    history.refetch();
                }
            },
            Duration::from_millis(1000),
        )
        .ok();
        on_cleanup(move || {
            if let Some(t) = ticker {
                t.clear();
            }
        });
    });
    view! {
        <Title text="Imports · sheetport" />
        <section class="card wide">
            <h1>"Imports"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(h) => view! { <Filter h=h.clone() current=filter() /> <HistoryView h filtered=filter() != HistoryFilter::default() changed said /> }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
            <p class="said" role="status" aria-live="polite">
                {move || said.get().map(|r| match r {
                    Ok(text) => view! { <span class="ok">{text}</span> }.into_any(),
                    Err(text) => view! { <span class="error">{text}</span> }.into_any(),
                })}
            </p>
        </section>
    }
}

/// The filter: a status and a table, as a GET form (the router navigates without a reload).
#[component]
fn Filter(h: History, current: HistoryFilter) -> impl IntoView {
    let status = current.status.map(|s| s.to_string()).unwrap_or_default();
    let table = current.table.clone().unwrap_or_default();
    view! {
        <Form method="GET" action="/imports" attr:class="filter">
            <label>"Status "
                <select name="status">
                    <option value="" selected=status.is_empty()>"Any"</option>
                    {ImportStatus::ALL.into_iter().map(|s| {
                        let value = s.to_string();
                        let selected = value == status;
                        view! { <option value=value selected=selected>{status_word(s)}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Table "
                <select name="table">
                    <option value="" selected=table.is_empty()>"Any"</option>
                    {h.tables.into_iter().map(|t| {
                        let selected = t == table;
                        view! { <option value=t.clone() selected=selected>{t.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit" class="button secondary">"Show"</button>
            {(current != HistoryFilter::default()).then(|| view! { <a href="/imports">"Show all"</a> })}
        </Form>
    }
}

#[component]
fn HistoryView(
    h: History,
    filtered: bool,
    changed: RwSignal<u32>,
    said: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    if h.imports.is_empty() {
        return if filtered {
            view! { <p>"No import matches this filter. "<a href="/imports">"Show all imports"</a>"."</p> }.into_any()
        } else {
            view! { <p>"No imports yet. "<a href="/">"Upload a spreadsheet"</a>"."</p> }.into_any()
        };
    }
    let now = h.now;
    let who = h.imports.iter().any(|p| p.owner.is_some());
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label="Imports">
            <table class="imports">
                <thead><tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"File"</th>
                    <th scope="col">"Table"</th>
                    <th scope="col">"Mode"</th>
                    {who.then(|| view! { <th scope="col">"Who"</th> })}
                    <th scope="col">"Status"</th>
                    <th scope="col" class="num">"Rows"</th>
                    <th scope="col" class="num">"Took"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {h.imports.into_iter().map(|p| view! { <Row p now who changed said /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// What a person asked a row for, waiting for them to confirm it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asking {
    Undo,
    Delete,
}

#[component]
fn Row(
    p: Progress,
    now: i64,
    who: bool,
    changed: RwSignal<u32>,
    said: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let href = format!("/imports/{}", p.id);
    let table_href = format!("/tables/{}", p.table);
    let percent =
        p.fraction().filter(|_| !p.status.is_final()).map(|f| format!(" {}", format::percent(f))).unwrap_or_default();
    let when = p.created_at;
    let ended = p.status.is_final();
    let asking = RwSignal::new(None::<Asking>);
    let busy = RwSignal::new(false);
    let (id, table, undo) = (p.id.clone(), p.table.clone(), p.undo);
    let navigate = use_navigate();
    let act = move |what: Asking| {
        let (id, table) = (id.clone(), table.clone());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = match what {
                Asking::Undo => {
                    undo_import(id).await.map(|()| format!("Undone: table {table} is as it was before that import."))
                }
                Asking::Delete => delete_import(id)
                    .await
                    .map(|()| "The import's record and file were deleted; the table is as it was.".to_owned()),
            };
            busy.set(false);
            asking.set(None);
            said.set(Some(result.map_err(|e| e.to_string())));
            changed.update(|n| *n += 1);
        });
    };
    let rerun_id = p.id.clone();
    let rerun = move |_| {
        let (id, navigate) = (rerun_id.clone(), navigate.clone());
        busy.set(true);
        leptos::task::spawn_local(async move {
            match rerun_import(id).await {
                Ok(new) => navigate(&format!("/imports/{new}"), Default::default()),
                Err(e) => {
                    busy.set(false);
                    said.set(Some(Err(e.to_string())));
                }
            }
        });
    };
    let act_confirm = act.clone();
    let (confirm_table, confirm_id) = (p.table.clone(), p.id.to_string());
    let columns = if who { "9" } else { "8" };
    let reason = p.error.clone().filter(|_| p.status == ImportStatus::Failed);
    view! {
        <tr data-status=p.status.to_string() data-id=p.id.to_string()>
            <td class="when" data-label="When"><time datetime=iso(when) title=format::date_ms(when)>{format::ago(now, when)}</time>
                <span class="visually-hidden">{format!(" ({})", format::date_ms(when))}</span></td>
            <td data-label="File"><a href=href>{p.file_name.clone()}</a></td>
            <td data-label="Table"><a href=table_href><code>{p.table.clone()}</code></a></td>
            <td data-label="Mode">{mode_word(p.mode)}</td>
            {who.then(|| view! { <td data-label="Who">{p.owner.clone().unwrap_or_else(|| "–".into())}</td> })}
            <td class="status" data-label="Status">
                <span class=format!("badge badge-{}", p.status)>{status_word(p.status)}</span>{percent}
                {reason.map(|r| view! { <span class="reason" title=r.clone()>{r.clone()}</span> })}
            </td>
            <td class="num" data-label="Rows">{format::count(p.rows_done)}</td>
            <td class="num" data-label="Took">{format::duration_ms(p.elapsed_ms)}</td>
            <td class="do"><div class="row-actions">
                {undo.map(|_| view! {
                    <button type="button" class="button secondary small undo" disabled=move || busy.get() || asking.get().is_some()
                        on:click=move |_| asking.set(Some(Asking::Undo))>"Undo"</button>
                })}
                {ended.then(|| view! {
                    <button type="button" class="button secondary small rerun" disabled=busy on:click=rerun.clone()>"Run again"</button>
                    <button type="button" class="button secondary small delete" disabled=move || busy.get() || asking.get().is_some()
                        on:click=move |_| asking.set(Some(Asking::Delete))>"Delete"</button>
                })}
            </div></td>
        </tr>
        {move || asking.get().map(|what| {
            let act = act_confirm.clone();
            let words = match what {
                Asking::Undo => undo.map(|u| undo_words(&u, &confirm_table, now)).unwrap_or_default(),
                Asking::Delete => "Delete this import's record and its stored file? The table stays as it is.".to_owned(),
            };
            view! {
                <tr class="confirm-row" data-for=confirm_id.clone()>
                    <td colspan=columns>
                        <div class="confirm">
                            <span>{words}</span>
                            <button type="button" class="button small confirm-yes" disabled=busy on:click=move |_| act(what)>
                                {if what == Asking::Undo { "Undo the import" } else { "Delete" }}
                            </button>
                            <button type="button" class="button secondary small confirm-no" on:click=move |_| asking.set(None)>"Keep it"</button>
                        </div>
                    </td>
                </tr>
            }
        })}
    }
}

/// What undoing does, said before it is done.
fn undo_words(u: &UndoOffer, table: &str, now: i64) -> String {
    let until = u.until.map(|t| format!(" (possible {})", format::left(now, t))).unwrap_or_default();
    match u.kind {
        UndoKind::Drop => {
            format!("Undo: table {table} will be deleted, as it did not exist before this import{until}.")
        }
        UndoKind::Restore => {
            format!("Undo: table {table} will be put back as it was before this import replaced it{until}.")
        }
        UndoKind::Remove => format!("Undo: the rows this import added to table {table} will be deleted{until}."),
        UndoKind::Revert => format!(
            "Undo: the rows this import changed in table {table} will get their earlier values back, and the rows \
             it added will be deleted{until}."
        ),
    }
}

pub(crate) fn status_word(s: ImportStatus) -> &'static str {
    match s {
        ImportStatus::Queued => "Queued",
        ImportStatus::Running => "Running",
        ImportStatus::Succeeded => "Succeeded",
        ImportStatus::Failed => "Failed",
        ImportStatus::Cancelled => "Cancelled",
        ImportStatus::Undone => "Undone",
        ImportStatus::Review => "In review",
    }
}

fn mode_word(m: crate::model::ImportMode) -> &'static str {
    use crate::model::ImportMode as M;
    match m {
        M::Create => "New table",
        M::Replace => "Replace",
        M::Append => "Append",
        M::Upsert => "Update or add",
        M::InsertNew => "Add new only",
    }
}

/// `2026-12-04T19:56:00Z`, for `<time datetime>`.
fn iso(ms: i64) -> String {
    let d = format::date_ms(ms); // "2026-12-04 19:56 UTC"
    format!("{}T{}:00Z", &d[..10], &d[11..16])
}
