//! `RejectGrid`: a review's rejected rows still to fix, as an editable grid (the W3C APG grid
//! pattern): one tab stop, the arrow keys move between cells (Home/End along a row, Ctrl+Home/End
//! to the first and last cell, Page Up/Down to the pages before and after), Enter or F2 edits a
//! value, Enter saves it and Escape cancels. A screen reader hears each value with its row, its
//! column and why it was rejected. A saved value is checked on the server as the import checks it;
//! a row that passes leaves the grid, one that does not stays with its new reason, said in a live
//! region. Below it, the errors by column and reason, where fixes act on every row at once: replace
//! every equal value (remembered for the next file into the table), or skip every row with the error.

use super::review::{RETRIES, RETRY_AFTER};
use crate::api::{fix_cell, map_values, reject_groups, rejected_rows, skip_rejects};
use crate::app::browser;
use crate::format;
use crate::model::{CellFix, FixOutcome, ImportId, RejectGroup, RejectPage, SkipFix, ValueFix, ValueMap};
use leptos::prelude::*;

/// Rows a page of the grid shows.
const PAGE: u64 = 50;
/// The grid's columns: the row, the column, the value, why, and the row's skip button.
const COLUMNS: usize = 5;
const VALUE: usize = 2;
const SKIP: usize = 4;

/// One line of the grid: a rejected cell of a row.
#[derive(Clone, Debug, PartialEq)]
struct Line {
    row: u64,
    column: String,
    label: String,
    value: String,
    reason: String,
    editable: bool,
}

fn lines_of(page: &RejectPage) -> Vec<Line> {
    page.rows
        .iter()
        .flat_map(|r| {
            r.cells.iter().map(move |c| Line {
                row: r.row,
                column: c.column.clone(),
                label: c.label.clone(),
                value: c.value.clone(),
                reason: c.reason.clone(),
                editable: r.editable,
            })
        })
        .collect()
}

/// The element that takes the focus for cell (`line`, `col`): the skip button in its column,
/// the cell itself elsewhere.
fn cell_id(line: usize, col: usize) -> String {
    if col == SKIP { format!("reject-skip-{line}") } else { format!("reject-{line}-{col}") }
}

#[component]
pub fn RejectGrid(
    id: ImportId,
    /// Called with what each fix did, for the review's counts.
    on_fixed: Callback<FixOutcome>,
) -> impl IntoView {
    let offset = RwSignal::new(0u64);
    // Moves after each fix: the page and the groups are read again.
    let version = RwSignal::new(0u32);
    let page = LocalResource::new({
        let id = id.clone();
        move || {
            version.track();
            rejected_rows(id.clone(), offset.get())
        }
    });
    let groups = LocalResource::new({
        let id = id.clone();
        move || {
            version.track();
            reject_groups(id.clone())
        }
    });
    let lines = RwSignal::new(Vec::<Line>::new());
    let total = RwSignal::new(0u64);
    let active = RwSignal::new((0usize, VALUE));
    let editing = RwSignal::new(None::<usize>);
    let draft = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    // After a fix or a new page, the focus goes back into the grid once its lines are drawn.
    let refocus = RwSignal::new(false);

    // The card learns that the import is in review a moment before its record says so (the worker
    // tells watchers first): a page asked for in that moment is refused, and asked for again.
    let tries = RwSignal::new(0u32);
    let loaded = RwSignal::new(false);
    Effect::new(move |_| match page.get() {
        Some(Err(_)) if tries.get_untracked() < RETRIES => {
            tries.update(|n| *n += 1);
            set_timeout(move || version.update(|v| *v += 1), RETRY_AFTER);
        }
        Some(Err(e)) => message.set(e.to_string()),
        Some(Ok(p)) => {
            tries.set(0);
            loaded.set(true);
            let found = lines_of(&p);
            let (line, col) = active.get_untracked();
            let line = line.min(found.len().saturating_sub(1));
            active.set((line, col));
            total.set(p.total);
            lines.set(found);
            if refocus.get_untracked() && !lines.with_untracked(Vec::is_empty) {
                refocus.set(false);
                browser::focus_soon(cell_id(line, col));
            }
        }
        None => {}
    });

    let fixed = move |outcome: FixOutcome| {
        message.set(outcome.words.clone());
        on_fixed.run(outcome);
        refocus.set(true);
        version.update(|v| *v += 1);
    };
    let failed = move |e: crate::model::ApiError| message.set(e.to_string());

    let save_id = id.clone();
    let save = move |line: usize| {
        let Some(l) = lines.with_untracked(|ls| ls.get(line).cloned()) else { return };
        let fix = CellFix { row: l.row, column: l.column.clone(), value: draft.get_untracked() };
        editing.set(None);
        busy.set(true);
        let id = save_id.clone();
        leptos::task::spawn_local(async move {
            match fix_cell(id, fix).await {
                Ok(outcome) => fixed(outcome),
                Err(e) => {
                    failed(e);
                    browser::focus_soon(cell_id(line, VALUE));
                }
            }
            busy.set(false);
        });
    };

    let skip_id = id.clone();
    let skip_row = move |row: u64| {
        busy.set(true);
        let id = skip_id.clone();
        leptos::task::spawn_local(async move {
            match skip_rejects(id, SkipFix { row: Some(row), ..SkipFix::default() }).await {
                Ok(outcome) => fixed(outcome),
                Err(e) => failed(e),
            }
            busy.set(false);
        });
    };

    // The cells are drawn already: the focus moves at once (the arrow keys' next press finds it there).
    let move_to = move |line: usize, col: usize| {
        active.set((line, col));
        browser::focus_now(&cell_id(line, col));
    };
    let on_key = {
        move |ev: leptos::ev::KeyboardEvent| {
            if editing.get_untracked().is_some() {
                return;
            }
            let n = lines.with_untracked(Vec::len);
            if n == 0 {
                return;
            }
            let (line, col) = active.get_untracked();
            let last = n - 1;
            let key = ev.key();
            let to = match key.as_str() {
                "ArrowDown" => Some((line.saturating_add(1).min(last), col)),
                "ArrowUp" => Some((line.saturating_sub(1), col)),
                "ArrowRight" => Some((line, (col + 1).min(COLUMNS - 1))),
                "ArrowLeft" => Some((line, col.saturating_sub(1))),
                "Home" if ev.ctrl_key() => Some((0, 0)),
                "End" if ev.ctrl_key() => Some((last, COLUMNS - 1)),
                "Home" => Some((line, 0)),
                "End" => Some((line, COLUMNS - 1)),
                "PageDown" => {
                    if offset.get_untracked() + PAGE < total.get_untracked() {
                        refocus.set(true);
                        active.set((0, col));
                        offset.update(|o| *o += PAGE);
                    }
                    ev.prevent_default();
                    None
                }
                "PageUp" => {
                    if offset.get_untracked() > 0 {
                        refocus.set(true);
                        active.set((0, col));
                        offset.update(|o| *o = o.saturating_sub(PAGE));
                    }
                    ev.prevent_default();
                    None
                }
                "Enter" | "F2" if col == VALUE => {
                    ev.prevent_default();
                    match lines.with_untracked(|ls| ls.get(line).cloned()) {
                        Some(l) if l.editable && !busy.get_untracked() => {
                            draft.set(l.value.clone());
                            editing.set(Some(line));
                        }
                        Some(l) if !l.editable => message.set(format!(
                            "Row {} can only be skipped: it was refused after it was read (a repeated key, or a rule of the table), and its other values were not kept.",
                            format::count(l.row)
                        )),
                        _ => {}
                    }
                    None
                }
                _ => None,
            };
            if let Some((l, c)) = to {
                ev.prevent_default();
                move_to(l, c);
            }
        }
    };

    let draw = move || {
        let (shown, editing_line) = (lines.get(), editing.get());
        shown
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let tab = move |c: usize| if active.get() == (i, c) { "0" } else { "-1" };
                let focus = move |c: usize| move |_| active.set((i, c));
                let described = format!("reject-{i}-1 reject-{i}-3");
                let row = l.row;
                let skip_row = skip_row.clone();
                let value = if editing_line == Some(i) {
                    let save = save.clone();
                    // Focused as soon as it is in the page, before the next key is read (a frame
                    // later, the first keys typed went nowhere).
                    let input = NodeRef::<leptos::html::Input>::new();
                    input.on_load(|el| {
                        let _ = el.focus();
                        el.select();
                    });
                    view! {
                        <input id="reject-edit" type="text" class="reject-edit" node_ref=input
                            aria-label=format!("New value for {} in row {}", l.label, l.row)
                            aria-describedby=described.clone()
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))
                            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                                ev.stop_propagation();
                                match ev.key().as_str() {
                                    "Enter" => { ev.prevent_default(); save(i); }
                                    "Escape" => {
                                        ev.prevent_default();
                                        editing.set(None);
                                        message.set("Not changed.".into());
                                        browser::focus_soon(cell_id(i, VALUE));
                                    }
                                    _ => {}
                                }
                            } />
                    }
                    .into_any()
                } else if l.value.is_empty() {
                    view! { <span class="empty">"(empty)"</span> }.into_any()
                } else {
                    view! { <span>{l.value.clone()}</span> }.into_any()
                };
                view! {
                    <tr aria-rowindex=i + 2>
                        <th scope="row" role="rowheader" id=cell_id(i, 0) tabindex=move || tab(0) on:focus=focus(0) class="num">
                            {format!("Row {}", format::count(l.row))}
                        </th>
                        <td role="gridcell" id=cell_id(i, 1) tabindex=move || tab(1) on:focus=focus(1)>{l.label.clone()}</td>
                        <td role="gridcell" id=cell_id(i, VALUE) tabindex=move || tab(VALUE) on:focus=focus(VALUE)
                            class=if l.editable { "reject-value editable" } else { "reject-value" }
                            aria-readonly=(!l.editable).then_some("true")
                            aria-describedby=described
                            on:dblclick=move |_| if l.editable {
                                draft.set(lines.with_untracked(|ls| ls.get(i).map(|l| l.value.clone()).unwrap_or_default()));
                                editing.set(Some(i));
                            }>
                            {value}
                        </td>
                        <td role="gridcell" id=cell_id(i, 3) tabindex=move || tab(3) on:focus=focus(3)>{l.reason.clone()}</td>
                        <td role="gridcell">
                            <button type="button" class="button secondary small" id=cell_id(i, SKIP) tabindex=move || tab(SKIP)
                                on:focus=focus(SKIP) disabled=move || busy.get()
                                aria-label=format!("Skip row {}", format::count(row))
                                on:click=move |_| skip_row(row)>"Skip row"</button>
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };

    view! {
        <section class="rejects" aria-labelledby="rejects-title">
            <h4 id="rejects-title">"Rejected rows to fix"</h4>
            <p class="reject-message" role="status" aria-live="polite">{move || message.get()}</p>
            <p id="reject-help" class="hint">
                "Arrow keys move between cells. Enter or F2 edits a value; Enter saves it, Escape cancels. A saved value is checked as the import checks it."
            </p>
            {move || (total.get() == 0 && loaded.get()).then(|| view! { <p class="note">"No rejected row is left to fix."</p> })}
            <div class="table-scroll" role="region" aria-label="Rejected rows">
                <table class="rows reject-grid" role="grid" aria-labelledby="rejects-title" aria-describedby="reject-help"
                    aria-rowcount=move || (total.get() + 1).to_string() on:keydown=on_key>
                    <thead><tr aria-rowindex="1">
                        <th scope="col">"Row"</th><th scope="col">"Column"</th><th scope="col">"Value"</th>
                        <th scope="col">"Why"</th><th scope="col"><span class="visually-hidden">"Skip"</span></th>
                    </tr></thead>
                    <tbody>{draw}</tbody>
                </table>
            </div>
            <p class="pager">
                <button type="button" class="button secondary" disabled=move || offset.get() == 0
                    on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE))>"Previous rows"</button>
                <span>{move || {
                    let (first, n) = (offset.get() + 1, lines.with(|ls| ls.iter().map(|l| l.row).collect::<std::collections::BTreeSet<_>>().len() as u64));
                    if n == 0 { String::new() } else {
                        format!("Rejected rows {}–{} of {}", format::count(first), format::count(first + n - 1), format::count(total.get()))
                    }
                }}</span>
                <button type="button" class="button secondary" disabled=move || { offset.get() + PAGE >= total.get() }
                    on:click=move |_| offset.update(|o| *o += PAGE)>"Next rows"</button>
            </p>
            <Suspense fallback=|| ()>
                {move || groups.get().and_then(Result::ok).filter(|g| !g.is_empty()).map(|list| view! {
                    <h5 id="reject-groups-title">"Fix many at once"</h5>
                    <ul class="reject-groups" aria-labelledby="reject-groups-title">
                        {list.into_iter().enumerate().map(|(index, group)| view! {
                            <RejectGroupItem id=id.clone() index group on_fixed=Callback::new(fixed) />
                        }).collect_view()}
                    </ul>
                })}
            </Suspense>
        </section>
    }
}

/// One group of rejected cells: how many, why, the most common values each with a replacement to
/// apply to every equal value, and a button that skips every row with this error.
#[component]
fn RejectGroupItem(
    id: ImportId,
    /// Its place in the list, for its fields' ids.
    index: usize,
    group: RejectGroup,
    on_fixed: Callback<FixOutcome>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let words = format!("{}: “{}” {}.", format::plural(group.rows as usize, "row", "rows"), group.label, group.reason);
    let skip = {
        let (id, column, reason) = (id.clone(), group.column.clone(), group.reason.clone());
        move |_| {
            let fix = SkipFix { row: None, column: Some(column.clone()), reason: Some(reason.clone()) };
            act(skip_rejects(id.clone(), fix), busy, error, on_fixed);
        }
    };
    let values = group
        .common
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let to = RwSignal::new(String::new());
            let field = format!("map-{index}-{k}");
            let shown = if c.value.is_empty() { "an empty cell".to_owned() } else { format!("“{}”", c.value) };
            let (id, column, from) = (id.clone(), group.column.clone(), c.value.clone());
            let apply = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let fix = ValueFix { column: column.clone(), map: ValueMap { from: from.clone(), to: to.get_untracked() } };
                act(map_values(id.clone(), fix), busy, error, on_fixed);
            };
            view! {
                <form class="value-map" on:submit=apply>
                    <label for=field.clone()>{format!("Read {shown} ({}) as", format::plural(c.rows as usize, "row", "rows"))}</label>
                    <input id=field type="text" placeholder="empty" prop:value=move || to.get()
                        on:input=move |ev| to.set(event_target_value(&ev)) />
                    <button type="submit" class="button secondary small" disabled=move || busy.get()>"Apply to every equal value"</button>
                </form>
            }
        })
        .collect_view();
    view! {
        <li class="reject-group">
            <p>{words}</p>
            {values}
            <p>
                <button type="button" class="button secondary small skip-all" disabled=move || busy.get() on:click=skip>
                    "Skip every row with this error"
                </button>
                {move || error.get().map(|e| view! { <span class="error" role="alert">{e}</span> })}
            </p>
        </li>
    }
}

/// Runs a fix at scale: its words go to the grid's live region (through `on_fixed`), a refusal
/// beside the group's buttons.
fn act(
    asked: impl std::future::Future<Output = Result<FixOutcome, crate::model::ApiError>> + 'static,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    on_fixed: Callback<FixOutcome>,
) {
    busy.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        match asked.await {
            Ok(outcome) => on_fixed.run(outcome),
            Err(e) => error.set(Some(e.to_string())),
        }
        busy.set(false);
    });
}
