//! `/tables` lists the imported tables; `/tables/{name}` pages through one of them
//! (`?offset=`), with plain links so paging works before hydration too, and says who may write to
//! it (its owner and admins give and take back write access there).

use crate::api::{list_tables, table_rows, who_may_write};
use crate::app::components::{Alert, cell};
use crate::format;
use crate::model::{RowsPage, TableAccess};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

const PAGE: u64 = 50;

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

#[component]
pub fn TablePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let offset = move || query.read().get("offset").and_then(|o| o.parse::<u64>().ok()).unwrap_or(0);
    let page = Resource::new(move || (name(), offset()), |(name, offset)| table_rows(name, offset, PAGE));
    view! {
        <Title text=move || format!("Table {} · sheetport", name()) />
        <section class="card wide">
            <h1>"Table "<code>{name}</code></h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(Some(rows)) => view! { <RowsView name=name() rows /> <Access name=name() /> }.into_any(),
                        Ok(None) => view! { <p>"No imported table has this name. See the "<a href="/tables">"tables"</a>"."</p> }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Suspense>
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
fn RowsView(name: String, rows: RowsPage) -> impl IntoView {
    let RowsPage { columns, rows, total, offset, limit } = rows;
    let last = (offset + rows.len() as u64).min(total);
    let prev = (offset > 0).then(|| format!("/tables/{name}?offset={}", offset.saturating_sub(limit)));
    let next = (last < total).then(|| format!("/tables/{name}?offset={last}"));
    view! {
        <p class="table-meta">{format!("Rows {}–{} of {}", format::count(if total == 0 { 0 } else { offset + 1 }), format::count(last), format::count(total))}</p>
        <div class="table-scroll">
            <table class="rows">
                <thead>
                    <tr>
                        <th class="num">"#"</th>
                        {columns.iter().map(|c| view! { <th title=c.label.clone()>{c.name.clone()}<span class="type">{c.ty.to_string()}</span></th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().enumerate().map(|(i, row)| view! {
                        <tr>
                            <td class="num">{format::count(offset + i as u64 + 1)}</td>
                            {row.into_iter().map(cell).collect_view()}
                        </tr>
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
