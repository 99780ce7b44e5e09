//! `/tables` lists the imported tables; `/tables/{name}` browses one: sorted by any column (the
//! header's links), searched (text in any column, on the server), paged, jumped to a row, past the
//! end said in words, the view exported as CSV; all of it plain links and GET forms in the URL, so
//! it works before hydration too and a view can be bookmarked. On a large table, a sort by a column
//! no index starts with and a search without a search index say what they cost and offer the
//! index to whoever may write the table. It also says who may write to the table (its owner and
//! admins give and take back write access there).

use crate::api::{list_tables, table_rows, who_may_write};
use crate::app::components::{Alert, cell};
use crate::format;
use crate::model::{RowsPage, RowsView, TableAccess};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

const PAGE: u64 = 50;
/// Rows from which a sort without an index is offered one: at 100,000 a page sorted without one
/// took about 15 ms, at 1,048,575 150 ms (SQLite) and 190 ms (PostgreSQL).
const INDEX_WORTH: u64 = 100_000;
/// Characters a search needs to read a search index (its trigrams are three characters).
const SEARCH_INDEX_SHORTEST: usize = 3;

#[component]
pub fn TablesPage() -> impl IntoView {
    let tables = Resource::new(|| (), |_| list_tables());
    view! {
        <Title text="Tables · sheetport" />
        <section class="card">
            <h1>"Tables"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tables.await {
                        Ok(list) if list.is_empty() => view! { <p>"No tables yet. "<a href="/">"Import a spreadsheet"</a>"."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="table-list">
                                {list.into_iter().map(|t| view! {
                                    <li>
                                        <a href=format!("/tables/{}", t.name)><code>{t.name.clone()}</code></a>
                                        {format!(" — {} rows, {} columns, from {}", format::count(t.rows), t.columns.len(), t.file_name)}
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The view the URL asks for: `?sort=&desc=1&q=&offset=`, or `?row=N` for the page holding row N.
fn view_of(query: &leptos_router::params::ParamsMap) -> RowsView {
    let row = query.get("row").and_then(|r| r.trim().parse::<u64>().ok()).filter(|r| *r > 0);
    let offset = match row {
        Some(r) => (r - 1) / PAGE * PAGE,
        None => query.get("offset").and_then(|o| o.parse::<u64>().ok()).unwrap_or(0),
    };
    RowsView {
        offset,
        limit: Some(PAGE),
        sort: query.get("sort").filter(|s| !s.is_empty()),
        desc: query.get("desc").is_some_and(|d| d == "1"),
        search: query.get("q").filter(|q| !q.trim().is_empty()),
    }
}

#[component]
pub fn TablePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let view = move || query.with(view_of);
    let jumped = move || query.read().get("row").and_then(|r| r.trim().parse::<u64>().ok());
    let index = ServerAction::<crate::api::MakeIndex>::new();
    let search_index = ServerAction::<crate::api::MakeSearchIndex>::new();
    let page = Resource::new(
        move || (name(), view(), index.version().get(), search_index.version().get()),
        |(name, view, _, _)| table_rows(name, Some(view)),
    );
    view! {
        <Title text=move || format!("Table {} · sheetport", name()) />
        <section class="card wide">
            <h1>"Table "<code>{name}</code></h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(Some(rows)) => view! { <Browser name=name() view=view() jumped=jumped() rows index search_index /> <Access name=name() /> }.into_any(),
                        Ok(None) => view! { <p>"No imported table has this name. See the "<a href="/tables">"tables"</a>"."</p> }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Who may write the table, and for its owner and admins, a form to change that.
#[component]
fn Access(name: String) -> impl IntoView {
    let grant = ServerAction::<crate::api::GrantWrite>::new();
    let revoke = ServerAction::<crate::api::RevokeWrite>::new();
    let table = name.clone();
    let access =
        Resource::new(move || (grant.version().get(), revoke.version().get()), move |_| who_may_write(table.clone()));
    view! {
        <section class="access" aria-labelledby="access-title">
            <h2 id="access-title">"Who may write to it"</h2>
            <Transition fallback=|| ()>
                {move || {
                    let name = name.clone();
                    Suspend::new(async move {
                        match access.await {
                            Ok(a) => view! { <AccessView name a grant revoke /> }.into_any(),
                            Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || grant.value().get().and_then(Result::err).map(|e| view! { <Alert text=e.to_string() /> })}
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <Alert text=e.to_string() /> })}
        </section>
    }
}

#[component]
fn AccessView(
    name: String,
    a: TableAccess,
    grant: ServerAction<crate::api::GrantWrite>,
    revoke: ServerAction<crate::api::RevokeWrite>,
) -> impl IntoView {
    let owner = match &a.owner {
        Some(o) => format!("Its owner, {o}, and admins"),
        None => "Admins".into(),
    };
    let others = if a.writers.is_empty() { ".".to_owned() } else { format!(", and {}.", a.writers.join(", ")) };
    let table = name.clone();
    view! {
        <p>{owner}{others}</p>
        {a.may_change.then(|| view! {
            <ul class="writers">
                {a.writers.into_iter().map(|w| {
                    let (table, who) = (table.clone(), w.clone());
                    view! {
                        <li>{w}" "<button class="button secondary" on:click=move |_| {
                            revoke.dispatch(crate::api::RevokeWrite { name: table.clone(), user: who.clone() });
                        }>"Take back"</button></li>
                    }
                }).collect_view()}
            </ul>
            <ActionForm action=grant attr:class="inline-form">
                <input type="hidden" name="name" value=name.clone() />
                <label>"Give write access to"<input name="user" required maxlength="64" autocomplete="off" placeholder="a name" /></label>
                <button type="submit" class="button">"Give"</button>
            </ActionForm>
        })}
    }
}

#[component]
fn Browser(
    name: String,
    view: RowsView,
    jumped: Option<u64>,
    rows: RowsPage,
    index: ServerAction<crate::api::MakeIndex>,
    search_index: ServerAction<crate::api::MakeSearchIndex>,
) -> impl IntoView {
    let RowsPage {
        columns,
        rows,
        total,
        offset,
        limit,
        table_rows,
        more,
        indexed,
        search_index: searchable,
        may_write,
    } = rows;
    // Searched for a text the index would take, on a table large enough for a scan to show.
    let unsearchable = view
        .search
        .as_deref()
        .is_some_and(|q| !searchable && table_rows >= INDEX_WORTH && q.trim().chars().count() >= SEARCH_INDEX_SHORTEST);
    // Sorted by a column no index starts with, on a table large enough for that to show.
    let unindexed = view.sort.clone().filter(|c| table_rows >= INDEX_WORTH && !indexed.contains(c));
    let last = (offset + rows.len() as u64).min(total);
    let base = format!("/tables/{name}");
    let at = |o: u64| format!("{base}{}", view.query(o));
    let prev = (offset > 0).then(|| at(offset.saturating_sub(limit).min(total.saturating_sub(1) / limit * limit)));
    let next = ((last < total || more) && rows.len() as u64 == limit).then(|| at(last));
    let last_page = total.saturating_sub(1) / limit * limit;
    let searched = view.search.clone();
    let count = match &searched {
        Some(q) => format!(
            "Rows {}–{} of {}{} with “{}” (the table has {})",
            format::count(if total == 0 { 0 } else { offset + 1 }),
            format::count(last),
            if more { "more than " } else { "" },
            format::count(total),
            q,
            format::count(table_rows)
        ),
        None => format!(
            "Rows {}–{} of {}",
            format::count(if total == 0 { 0 } else { offset + 1 }),
            format::count(last),
            format::count(total)
        ),
    };
    let past_end = rows.is_empty() && offset > 0;
    let export = format!("/api/tables/{name}/export.csv{}", view.query(0));
    let sort_link = {
        let (view, base) = (view.clone(), base.clone());
        move |col: &str| {
            let desc = view.sort.as_deref() == Some(col) && !view.desc;
            let next = RowsView { sort: Some(col.to_owned()), desc, offset: 0, ..view.clone() };
            format!("{base}{}", next.query(0))
        }
    };
    let sorted = view.sort.clone();
    let (sort_hidden, desc_hidden) = (view.sort.clone(), view.desc);
    view! {
        <div class="table-tools">
            <form method="get" action=base.clone() class="search" role="search">
                <label for="table-search">"Search"</label>
                <input id="table-search" type="search" name="q" maxlength=RowsView::MAX_SEARCH.to_string() value=searched.clone().unwrap_or_default() placeholder="Text in any column" />
                {sort_hidden.map(|s| view! { <input type="hidden" name="sort" value=s /> })}
                {desc_hidden.then(|| view! { <input type="hidden" name="desc" value="1" /> })}
                <button type="submit" class="button secondary">"Search"</button>
                {searched.is_some().then(|| view! { <a href=base.clone()>"Clear"</a> })}
            </form>
            <form method="get" action=base.clone() class="jump">
                <label for="jump-row">"Go to row"</label>
                <input id="jump-row" type="number" name="row" min="1" max=total.max(1).to_string() inputmode="numeric" />
                <button type="submit" class="button secondary">"Go"</button>
            </form>
            <a class="button secondary export" href=export download="">{if searched.is_some() || sorted.is_some() { "Export this view (CSV)" } else { "Export (CSV)" }}</a>
        </div>
        <p class="table-meta" role="status">{count}</p>
        {unindexed.map(|col| view! { <IndexOffer name=name.clone() column=col table_rows may_write index /> })}
        {unsearchable.then(|| view! { <SearchIndexOffer name=name.clone() table_rows may_write action=search_index /> })}
        {past_end.then(|| view! {
            <p class="note past-end">{format!("There is no row {} here: the view has {} rows. ", format::count(offset + 1), format::count(total))}
                {(total > 0).then(|| view! { <a href=at(last_page)>"Go to the last page"</a> })}</p>
        })}
        <div class="table-scroll" tabindex="0" role="region" aria-label=format!("Rows of table {name}")>
            <table class="rows">
                <thead>
                    <tr>
                        <th scope="col" class="num">"#"</th>
                        {columns.iter().map(|c| {
                            let state = if sorted.as_deref() == Some(c.name.as_str()) { if view.desc { "descending" } else { "ascending" } } else { "none" };
                            let arrow = match state { "ascending" => " ▲", "descending" => " ▼", _ => "" };
                            view! {
                                <th scope="col" aria-sort=state title=c.label.clone()>
                                    <a href=sort_link(&c.name) class="sort">{c.name.clone()}{arrow}</a>
                                    <span class="type">{c.ty.words()}</span>
                                </th>
                            }
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().enumerate().map(|(i, row)| {
                        let n = offset + i as u64 + 1;
                        view! {
                            <tr class:jumped=jumped == Some(n) data-row=n.to_string()>
                                <td class="num">{format::count(n)}</td>
                                {row.into_iter().map(cell).collect_view()}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {prev.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
        </nav>
    }
}

/// Under a view sorted by a column without an index: what that costs, and for those who may write
/// the table, a button that makes one (a plain form before hydration).
#[component]
fn IndexOffer(
    name: String,
    column: String,
    table_rows: u64,
    may_write: bool,
    index: ServerAction<crate::api::MakeIndex>,
) -> impl IntoView {
    let cost =
        format!("Sorted by {column} without an index: each page sorts all {} rows again. ", format::count(table_rows));
    let pending = index.pending();
    view! {
        <div class="note index-offer">
            {if may_write {
                view! {
                    <ActionForm action=index>
                        {cost}
                        <input type="hidden" name="name" value=name />
                        <input type="hidden" name="column" value=column.clone() />
                        <button type="submit" class="button secondary small" disabled=move || pending.get()>
                            {move || if pending.get() { "Making the index…".to_owned() } else { format!("Index {column}") }}
                        </button>
                        " (about a second for a million rows; later imports into the table take longer, up to half as long again)"
                    </ActionForm>
                }.into_any()
            } else {
                view! { <p>{cost}"Someone who may write to the table can make an index so pages come at once."</p> }.into_any()
            }}
            {move || index.value().get().and_then(Result::err).map(|e| view! { <Alert text=e.to_string() /> })}
        </div>
    }
}

/// Under a search on a large table without a search index: what that costs, and for those who may
/// write the table, a button that makes one (a plain form before hydration).
#[component]
fn SearchIndexOffer(
    name: String,
    table_rows: u64,
    may_write: bool,
    action: ServerAction<crate::api::MakeSearchIndex>,
) -> impl IntoView {
    let cost = format!("Searched without a search index: each search reads all {} rows. ", format::count(table_rows));
    let pending = action.pending();
    view! {
        <div class="note index-offer">
            {if may_write {
                view! {
                    <ActionForm action>
                        {cost}
                        <input type="hidden" name="name" value=name />
                        <button type="submit" class="button secondary small" disabled=move || pending.get()>
                            {move || if pending.get() { "Making the search index…" } else { "Make a search index" }}
                        </button>
                        " (about 20 seconds for a million rows, and room almost the size of the table; \
                        later imports into the table take 5 to 20 times longer)"
                    </ActionForm>
                }.into_any()
            } else {
                view! { <p>{cost}"Someone who may write to the table can make a search index so searches come at once."</p> }.into_any()
            }}
            {move || action.value().get().and_then(Result::err).map(|e| view! { <Alert text=e.to_string() /> })}
        </div>
    }
}
