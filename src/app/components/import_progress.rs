//! `ImportProgress`: one import, live. It renders whatever state it is given on the server, then
//! in the browser follows the SSE stream and re-renders reactively: a status line (the card's one
//! live region), a real `<progress>` bar of rows read, rows committed of the total, percent,
//! rows/s, elapsed and the time left (once the pace is steady); at the end a summary with a link to
//! the table, or the error in plain words. Elapsed and the time left tick between events.

use super::{AfterHydration, ReviewPanel};
use crate::api::{cancel_import, import_error_groups, import_errors};
use crate::app::browser;
use crate::format;
use crate::model::{ImportId, ImportStatus, Phase, Progress};
use leptos::prelude::*;
use std::time::Duration;

/// A state and the local time it arrived, so the clock-derived numbers can move between events.
#[derive(Clone, PartialEq)]
struct Seen {
    progress: Progress,
    at: f64,
}

#[component]
pub fn ImportProgress(
    /// The import to show.
    id: ImportId,
    /// The state to render before the first event (from SSR, or `None` right after starting).
    #[prop(optional)]
    initial: Option<Progress>,
    /// Take the focus once shown (right after the person started this import).
    #[prop(optional)]
    focus: bool,
) -> impl IntoView {
    let seen = RwSignal::new(initial.map(|progress| Seen { progress, at: browser::now_ms() }));
    let now = RwSignal::new(browser::now_ms());
    let cancel_error = RwSignal::new(None::<String>);
    // Moves when a review is committed or discarded: the import runs (or ends) again, and is
    // followed again.
    let run = RwSignal::new(0u32);

    // Browser only: follow the stream and tick the clock while the job lives.
    let follow_id = id.clone();
    Effect::new(move |_| {
        run.track();
        let handle =
            browser::follow(&follow_id, move |progress| seen.set(Some(Seen { progress, at: browser::now_ms() })));
        // Only while it runs: the clock redraws the card's body, and an ended import's body reads its
        // row errors (their groups read every error once), which must not be read again 4 times a second.
        let tick = move || {
            if seen.with_untracked(|s| s.as_ref().is_none_or(|s| !s.progress.status.is_final())) {
                now.set(browser::now_ms());
            }
        };
        let ticker = set_interval_with_handle(tick, Duration::from_millis(250)).ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.abort();
            }
            if let Some(t) = ticker {
                t.clear();
            }
        });
    });

    let cancel_id = id.clone();
    let cancel = move |_| {
        let id = cancel_id.clone();
        leptos::task::spawn_local(async move {
            if let Err(e) = cancel_import(id).await {
                cancel_error.set(Some(e.to_string()));
            }
        });
    };

    // Browser only: after Import, the card takes the focus, so keyboard and screen-reader users
    // land where the news is.
    let card = NodeRef::<leptos::html::Section>::new();
    Effect::new(move |_| {
        if let Some(el) = card.get().filter(|_| focus) {
            let _ = el.focus();
        }
    });
    // The one live region: a line that changes when the phase or the outcome does. The card
    // itself re-renders on every event (a whole card as a live region was 164 announcements in a
    // 2 s import); the memo keeps the line's text, and so the announcements, to real changes.
    let line = Memo::new(move |_| {
        seen.with(|s| s.as_ref().map_or_else(|| "Starting the import…".to_owned(), |s| status_line(&s.progress)))
    });
    // An import in review, drawn once: the panel keeps its page, filter, grid and focus while the
    // clock ticks and its fixes move the counts (which it passes up, for the status line).
    let in_review = Memo::new(move |_| {
        seen.with(|s| {
            let p = &s.as_ref()?.progress;
            (p.status == ImportStatus::Review && p.review.is_some()).then(|| (p.id.clone(), p.table.clone()))
        })
    });
    let decided = Callback::new(move |()| run.update(|n| *n += 1));
    let fixed = Callback::new(move |summary: crate::model::ReviewSummary| {
        seen.update(|s| {
            if let Some(s) = s {
                s.progress.rows_rejected = summary.rejected;
                s.progress.review = Some(summary);
            }
        })
    });
    let data_status = move || seen.with(|s| s.as_ref().map(|s| s.progress.status.to_string()));

    view! {
        <section class="card progress-card" data-status=data_status node_ref=card tabindex="-1" aria-label="Import progress">
            {move || seen.with(|s| s.as_ref().map(|Seen { progress: p, .. }| view! {
                <header class="progress-head">
                    <h2 class="file-name">{p.file_name.clone()}</h2>
                    <span class=format!("badge badge-{}", p.status)>{status_label(p.status)}</span>
                </header>
            }))}
            <p class=move || if seen.with(|s| s.as_ref().is_some_and(|s| s.progress.status == ImportStatus::Failed)) { "phase error" } else { "phase" }
                role="status" aria-live="polite">{move || line.get()}</p>
            {move || {
                let Some(Seen { progress: p, at }) = seen.get() else {
                    return ().into_any();
                };
                card_body(p, at, now.get(), cancel.clone(), cancel_error).into_any()
            }}
            // Its pages are browser-only resources (see `AfterHydration`).
            <AfterHydration>
                {move || in_review.get().map(|(id, table)| {
                    let summary = seen.with_untracked(|s| s.as_ref().and_then(|s| s.progress.review.clone())).unwrap_or_default();
                    view! { <ReviewPanel id table summary on_decided=decided on_fixed=fixed /> }
                })}
            </AfterHydration>
        </section>
    }
}

/// Everything below the status line: the bar, the numbers, and at the end the outcome.
fn card_body(
    p: Progress,
    at: f64,
    now: f64,
    cancel: impl Fn(leptos::ev::MouseEvent) + Clone + 'static,
    cancel_error: RwSignal<Option<String>>,
) -> impl IntoView {
    let live = !p.status.is_final();
    let since = if live { (now - at).max(0.0) as u64 } else { 0 };
    let elapsed = p.elapsed_ms + since;
    let eta = p.eta_ms.map(|e| e.saturating_sub(since));
    let fraction = p.fraction();
    let read = p.read_fraction();
    let status = p.status;
    let total = match (p.rows_total, p.rows_total_estimated) {
        (Some(t), true) => format!("~{}", format::count(t)),
        (Some(t), false) => format::count(t),
        (None, _) => "?".into(),
    };
    let table_href = format!("/tables/{}", p.table);
    let columns = p.columns.clone();
    view! {
        {(!matches!(status, ImportStatus::Failed | ImportStatus::Cancelled | ImportStatus::Review)).then(|| view! {
            <progress
                max="100"
                value=read.map(|f| format!("{:.2}", f * 100.0))
                aria-label="Rows read of the total"
            ></progress>
            <p class="bar-caption">{if live { "The bar shows rows read; rows count once committed." } else { "" }}</p>
        })}
        {(status != ImportStatus::Review).then(|| view! {
        <dl class="stats">
            <div><dt>"Rows committed"</dt><dd class="rows-done">{format::count(p.rows_done)}" / "{total}</dd></div>
            <div><dt>"Done"</dt><dd class="percent">{fraction.map(format::percent).unwrap_or_else(|| "–".into())}</dd></div>
            <div><dt>"Speed"</dt><dd class="rate">{p.rows_per_sec.map(format::rate).unwrap_or_else(|| "–".into())}</dd></div>
            <div><dt>"Elapsed"</dt><dd class="elapsed">{format::duration_ms(elapsed)}</dd></div>
            <div><dt>"Time left"</dt><dd class="eta">{eta.filter(|_| live).map(format::duration_ms).unwrap_or_else(|| "–".into())}</dd></div>
            <div><dt>"Rows read"</dt><dd class="rows-read">{format::count(p.rows_parsed)}</dd></div>
            {(p.rows_rejected > 0).then(|| view! {
                <div><dt>"Rows left out"</dt><dd class="rejected">{format::count(p.rows_rejected)}</dd></div>
            })}
        </dl>
        })}
        {(!columns.is_empty()).then(|| view! {
            <details class="columns">
                <summary>{format!("{} columns", columns.len())}</summary>
                <ul>
                    {columns.into_iter().map(|c| {
                        let renamed = c.label.to_lowercase() != c.name.replace('_', " ");
                        view! {
                        <li><code>{c.name}</code>" "<span class="type">{c.ty.words()}</span>
                            {renamed.then(|| view! { <span class="label">" from “"{c.label}"”"</span> })}
                        </li>
                    }}).collect_view()}
                </ul>
            </details>
        })}
        {match status {
            ImportStatus::Succeeded => view! {
                <p class="outcome success">
                    {format!("Imported {} into table ", format::plural(p.rows_done as usize, "row", "rows"))}<code>{p.table.clone()}</code>". "
                    <a href=table_href class="button">"Browse the table"</a>
                </p>
                {p.counts.filter(|c| c.updated + c.unchanged + c.rejected > 0).map(|c| view! {
                    <p class="counts">{format!(
                        "{} new, {} updated, {} unchanged, {} left out.",
                        format::count(c.inserted), format::count(c.updated), format::count(c.unchanged), format::count(c.rejected)
                    )}</p>
                })}
                {(p.error_cells > 0).then(|| view! { <p class="note">{format!("{} error cells (like #DIV/0!) were stored as empty.", format::count(p.error_cells))}</p> })}
                {(p.rows_rejected > 0).then(|| view! { <RowErrors id=p.id.clone() rejected=p.rows_rejected /> })}
            }.into_any(),
            // The review itself (its rejected rows a grid of their own) is drawn outside this body,
            // which the clock redraws every 250 ms.
            ImportStatus::Review => ().into_any(),
            ImportStatus::Failed => view! {
                <p class="outcome error">"Nothing was written to the database."</p>
                {(p.rows_rejected > 0).then(|| view! { <RowErrors id=p.id.clone() rejected=p.rows_rejected /> })}
            }.into_any(),
            ImportStatus::Cancelled => view! {
                <p class="outcome cancelled">"Cancelled. Nothing was written to the database."</p>
            }.into_any(),
            ImportStatus::Undone => view! {
                <p class="outcome cancelled">"Undone: table "<code>{p.table.clone()}</code>" is as it was before this import. "
                    <a href="/imports">"See the history"</a></p>
            }.into_any(),
            _ => view! {
                <p class="actions">
                    <button type="button" class="button secondary cancel" on:click=cancel.clone()>"Cancel import"</button>
                    {move || cancel_error.get().map(|e| view! { <span class="error">{e}</span> })}
                </p>
            }.into_any(),
        }}
    }
}

/// The first 100 row errors of an ended import, and the whole report as a download.
#[component]
fn RowErrors(id: ImportId, rejected: u64) -> impl IntoView {
    let href = format!("/api/imports/{id}/errors.csv");
    let errors = LocalResource::new({
        let id = id.clone();
        move || import_errors(id.clone())
    });
    let groups = LocalResource::new(move || import_error_groups(id.clone()));
    view! {
        <section class="row-errors">
            <h3>{format!("Rows left out: {}", format::count(rejected))}</h3>
            <AfterHydration>
            <Suspense fallback=|| ()>
                {move || groups.get().and_then(Result::ok).filter(|g| !g.is_empty()).map(|list| view! {
                    <ul class="error-groups" aria-label="Rows left out, by column and reason">
                        {list.iter().map(|g| view! { <li>{group_words(g)}</li> }).collect_view()}
                    </ul>
                })}
            </Suspense>
            </AfterHydration>
            <p><a class="button secondary download-errors" href=href download="">"Download the error report (CSV)"</a></p>
            <AfterHydration>
            <Suspense fallback=|| view! { <p>"Reading the errors…"</p> }>
                {move || errors.get().map(|found| match found {
                    Ok(list) => {
                        let shown = list.len();
                        view! {
                            <div class="table-scroll" tabindex="0" role="region" aria-label="The first row errors">
                                <table class="rows errors-table">
                                    <thead><tr>
                                        <th scope="col">"Row"</th><th scope="col">"Column"</th>
                                        <th scope="col">"Value"</th><th scope="col">"Why"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|e| view! {
                                            <tr><td class="num">{e.row}</td><td>{e.column}</td><td>{e.value}</td><td>{e.reason}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {(shown == 100).then(|| view! { <p class="hint">"The first 100; the report has every one."</p> })}
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
            </AfterHydration>
        </section>
    }
}

/// One group of row errors in words: "1,204 rows: “amount” is not a number. Most common: “n/a”
/// (1,100 rows), “12 pcs” (40 rows)."
fn group_words(g: &crate::model::ErrorGroup) -> String {
    let common: Vec<String> = g
        .common
        .iter()
        .map(|c| {
            let value = if c.value.is_empty() { "an empty cell".to_owned() } else { format!("“{}”", c.value) };
            format!("{value} ({})", format::plural(c.rows as usize, "row", "rows"))
        })
        .collect();
    let most = if common.len() == 1 { "All of them:" } else { "Most common:" };
    let most = if common.len() == 1 && g.common[0].rows != g.rows { "Most common:" } else { most };
    format!(
        "{}: “{}” {}. {most} {}.",
        format::plural(g.rows as usize, "row", "rows"),
        g.column,
        g.reason,
        common.join(", ")
    )
}

fn status_label(s: ImportStatus) -> &'static str {
    match s {
        ImportStatus::Queued => "Queued",
        ImportStatus::Running => "Running",
        ImportStatus::Succeeded => "Done",
        ImportStatus::Failed => "Failed",
        ImportStatus::Cancelled => "Cancelled",
        ImportStatus::Undone => "Undone",
        ImportStatus::Review => "In review",
    }
}

/// The status line: the phase while the import runs, then how it ended (the failure's reason is
/// in the outcome below it).
fn status_line(p: &Progress) -> String {
    match p.status {
        ImportStatus::Succeeded => format!(
            "Done: {} {} in table {}.",
            format::plural(p.rows_done as usize, "row", "rows"),
            if p.rows_done == 1 { "is" } else { "are" },
            p.table
        ),
        ImportStatus::Failed => format!("The import failed: {}", p.error.as_deref().unwrap_or("the server gave no reason; try again, and if it fails again ask whoever runs the server to look at its log.")),
        ImportStatus::Cancelled => "Cancelled; nothing was written.".into(),
        ImportStatus::Undone => format!("Undone: table {} is as it was before this import.", p.table),
        ImportStatus::Review => match &p.review {
            Some(r) => format!(
                "In review: nothing is written to table {} until the review is committed. It would add {}, change {} \
                 and leave {} as {}.",
                p.table,
                format::plural(r.inserted as usize, "row", "rows"),
                format::plural(r.updated as usize, "row", "rows"),
                format::plural(r.unchanged as usize, "row", "rows"),
                if r.unchanged == 1 { "it is" } else { "they are" }
            ),
            None => format!("In review: nothing is written to table {} until the review is committed.", p.table),
        },
        ImportStatus::Queued | ImportStatus::Running => phase_label(p),
    }
}

fn phase_label(p: &Progress) -> String {
    match p.phase {
        Phase::Queued => "Waiting for the import before it to finish…".into(),
        Phase::Inspecting => "Reading the header and the first rows…".into(),
        Phase::Loading => format!("Loading rows into table {}…", p.table),
        Phase::Finalizing => format!("Putting table {} in place…", p.table),
        Phase::Finished => match p.status {
            ImportStatus::Succeeded => "Finished.".into(),
            ImportStatus::Cancelled => "Stopped.".into(),
            _ => "Stopped with an error.".into(),
        },
    }
}
