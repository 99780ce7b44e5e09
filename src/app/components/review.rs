//! `ReviewPanel`: an import waiting in review (issue 28). What it would do, in counts and by column;
//! its rows a page at a time, filtered by what each would do, an updated row's changed cells shown
//! as the table has them and as they would be; the whole diff as a download; and the two ways on:
//! commit (exactly this is written, or nothing if the table changed since) or discard. Its rejected
//! rows are a grid of their own ([`RejectGrid`]), where each fix moves the counts.

use super::RejectGrid;
use crate::api::{cancel_import, commit_review, review_diff};
use crate::format;
use crate::model::{DiffKind, DiffRow, FixOutcome, ImportId, ReviewSummary};
use leptos::prelude::*;

/// Rows a page of the diff shows.
const PAGE: u64 = 50;
/// How many times a refused page is asked for again, and after how long (the diff's and the
/// rejected rows' grid's).
pub(super) const RETRIES: u32 = 10;
pub(super) const RETRY_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

#[component]
pub fn ReviewPanel(
    id: ImportId,
    table: String,
    summary: ReviewSummary,
    /// Called once the person committed or discarded, for the card to follow the import again.
    on_decided: Callback<()>,
    /// Called with the review's counts after each fix of a rejected row.
    on_fixed: Callback<ReviewSummary>,
) -> impl IntoView {
    let has_rejects = summary.rejected > 0;
    let summary = RwSignal::new(summary);
    let kind = RwSignal::new(None::<DiffKind>);
    let offset = RwSignal::new(0u64);
    // A sheet row asked for ("Go to row"): the page that holds it, which says where it starts.
    let jump = RwSignal::new(None::<u64>);
    let row_input = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let page_id = id.clone();
    // Moves to read the page again: the card learns that the import is in review a moment before
    // its record says so (the worker tells watchers first), and a page asked for in that moment is
    // refused ("being read or committed now"), which the person need not see.
    let again = RwSignal::new(0u32);
    // A fixed row joins the diff: its page is read again.
    let page = LocalResource::new(move || {
        summary.track();
        again.track();
        review_diff(page_id.clone(), kind.get(), offset.get(), jump.get())
    });
    Effect::new(move |_| {
        if let Some(Err(_)) = page.get()
            && again.get_untracked() < RETRIES
        {
            set_timeout(move || again.update(|n| *n += 1), RETRY_AFTER);
        }
    });
    let total_of = move |k: Option<DiffKind>| {
        summary.with(|s| match k {
            None => s.inserted + s.updated + s.unchanged,
            Some(DiffKind::Insert) => s.inserted,
            Some(DiffKind::Update) => s.updated,
            Some(DiffKind::Unchanged) => s.unchanged,
        })
    };
    let fixed = Callback::new(move |outcome: FixOutcome| {
        on_fixed.run(outcome.summary.clone());
        summary.set(outcome.summary);
        error.set(None);
    });
    let (commit_id, discard_id) = (id.clone(), id.clone());
    let commit = move |_| decide(commit_review(commit_id.clone()), busy, error, on_decided);
    let discard = move |_| decide(cancel_import(discard_id.clone()), busy, error, on_decided);
    let changed = move || -> Vec<String> {
        summary.with(|s| {
            s.changed
                .iter()
                .map(|c| format!("{} ({})", c.column, format::plural(c.cells as usize, "cell", "cells")))
                .collect()
        })
    };
    let rows = |n: u64| format::plural(n as usize, "row", "rows");
    let s = move || summary.get();
    let csv = format!("/api/imports/{id}/diff.csv");
    let filters = [
        (None, "Every row"),
        (Some(DiffKind::Insert), "New"),
        (Some(DiffKind::Update), "Changed"),
        (Some(DiffKind::Unchanged), "Unchanged"),
    ];
    let total_for_pager = total_of;
    view! {
        <section class="review" aria-labelledby="review-title">
            <h3 id="review-title">"What this import would do to table "<code>{table.clone()}</code></h3>
            <ul class="review-counts">
                <li class="inserted">{move || format!("{} new", rows(s().inserted))}</li>
                <li class="updated">
                    {move || format!("{} changed", rows(s().updated))}
                    {move || { let c = changed(); (!c.is_empty()).then(|| format!(": {}", c.join(", "))) }}
                </li>
                <li class="unchanged">{move || format!("{} already as in the file", rows(s().unchanged))}</li>
                {move || (s().removed > 0).then(|| view! {
                    <li class="removed">{format!("{} of the table now would be gone (replaced)", rows(s().removed))}</li>
                })}
                {move || (s().rejected > 0).then(|| view! {
                    <li class="rejected">{rejected_words(&s())}</li>
                })}
            </ul>
            <p class="note">"Nothing has been written yet. Commit writes exactly these changes; if the table changes before then, nothing is written and you can review again."</p>
            <div class="diff-filter" role="group" aria-label="Which rows to show">
                {filters.into_iter().map(|(k, words)| {
                    view! {
                        <button type="button" class="button secondary"
                            aria-pressed=move || (kind.get() == k).to_string()
                            on:click=move |_| { kind.set(k); jump.set(None); offset.set(0); }>
                            {move || format!("{words} ({})", format::count(total_of(k)))}
                        </button>
                    }
                }).collect_view()}
            </div>
            <Suspense fallback=|| view! { <p>"Reading the changes…"</p> }>
                {move || page.get().map(|found| match found {
                    Ok(p) => {
                        let total = total_for_pager(kind.get_untracked());
                        let (at, jumped) = (p.offset, jump.get_untracked());
                        let first = p.offset + 1;
                        let last = p.offset + p.rows.len() as u64;
                        let columns = p.columns.clone();
                        view! {
                            <div class="table-scroll" tabindex="0" role="region" aria-label="The rows and their changes">
                                <table class="rows diff">
                                    <thead><tr>
                                        <th scope="col">"Row"</th><th scope="col">"Change"</th>
                                        {columns.iter().map(|c| view! { <th scope="col">{c.clone()}</th> }).collect_view()}
                                    </tr></thead>
                                    <tbody>{p.rows.into_iter().map(|r| diff_row(r, jumped)).collect_view()}</tbody>
                                </table>
                            </div>
                            <p class="pager">
                                <button type="button" class="button secondary" disabled={p.offset == 0}
                                    on:click=move |_| { jump.set(None); offset.set(at.saturating_sub(PAGE)) }>"Previous"</button>
                                <span>{if last >= first { format!("Rows {}–{} of {}", format::count(first), format::count(last), format::count(total)) } else { "No rows of this kind".into() }}</span>
                                <button type="button" class="button secondary" disabled={last >= total}
                                    on:click=move |_| { jump.set(None); offset.set(at + PAGE) }>"Next"</button>
                            </p>
                        }.into_any()
                    }
                    Err(_) if again.get_untracked() < RETRIES => view! { <p>"Reading the changes…"</p> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
            <form class="jump" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                if let Some(input) = row_input.get() {
                    jump.set(input.value().trim().parse::<u64>().ok());
                }
            }>
                <label for="diff-row">"Go to row"</label>
                <input id="diff-row" name="row" type="number" min="2" inputmode="numeric" node_ref=row_input />
                <button type="submit" class="button secondary">"Go"</button>
            </form>
            <p><a class="download-diff" href=csv download="">"Download every change (CSV)"</a></p>
            {has_rejects.then(|| view! { <RejectGrid id=id.clone() on_fixed=fixed /> })}
            <p class="actions">
                <button type="button" class="button commit" disabled=move || busy.get() on:click=commit>"Commit: write these changes"</button>
                <button type="button" class="button secondary discard" disabled=move || busy.get() on:click=discard>"Discard"</button>
                {move || error.get().map(|e| view! { <span class="error" role="alert">{e}</span> })}
            </p>
        </section>
    }
}

/// `3 rows left out: 2 to fix (listed below), 1 skipped`.
fn rejected_words(s: &ReviewSummary) -> String {
    let rows = format::plural(s.rejected as usize, "row", "rows");
    match (s.to_fix(), s.skipped) {
        (0, _) => format!("{rows} left out (skipped)"),
        (fix, 0) => format!("{rows} left out: {} to fix or skip (listed below)", format::count(fix)),
        (fix, skipped) => format!(
            "{rows} left out: {} to fix or skip (listed below), {} skipped",
            format::count(fix),
            format::count(skipped)
        ),
    }
}

/// Commits or discards (`asked`): the card follows the import again once done; a refusal is said
/// beside the buttons, which work again.
fn decide(
    asked: impl std::future::Future<Output = Result<(), crate::model::ApiError>> + 'static,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    on_decided: Callback<()>,
) {
    busy.set(true);
    leptos::task::spawn_local(async move {
        match asked.await {
            Ok(()) => on_decided.run(()),
            Err(e) => {
                error.set(Some(e.to_string()));
                busy.set(false);
            }
        }
    });
}

/// One row of the diff: an updated cell shows the table's value struck out and the file's beside it.
/// `jumped`: the sheet row the person asked for, marked as the table browser marks it.
fn diff_row(r: DiffRow, jumped: Option<u64>) -> impl IntoView {
    let word = match r.kind {
        DiffKind::Insert => "New",
        DiffKind::Update => "Changed",
        DiffKind::Unchanged => "Unchanged",
    };
    let old = r.old.unwrap_or_default();
    let cells = r.values.into_iter().enumerate().map(move |(i, v)| match old.get(i).cloned().flatten() {
        Some(was) => view! {
            <td class="changed"><del aria-label="was">{cell(&was)}</del>" → "<ins aria-label="becomes">{cell(&v)}</ins></td>
        }
        .into_any(),
        None => view! { <td>{cell(&v)}</td> }.into_any(),
    });
    view! {
        <tr class=format!("diff-{}", r.kind) class:jumped=jumped == Some(r.row) data-row=r.row.to_string()>
            <td class="num">{r.row}</td><td>{word}</td>
            {cells.collect_view()}
        </tr>
    }
}

/// A value as the table browser shows it: empty for no value.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
