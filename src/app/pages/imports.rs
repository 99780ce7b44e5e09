//! `/imports`: the history, newest first. While any import is queued or running the list is
//! refreshed every second, so statuses and counts stay live.

use crate::api::list_imports;
use crate::app::components::Alert;
use crate::format;
use crate::model::Progress;
use leptos::prelude::*;
use leptos_meta::Title;
use std::time::Duration;

#[component]
pub fn ImportsPage() -> impl IntoView {
    let imports = Resource::new(|| (), |_| list_imports());
    Effect::new(move |_| {
        let ticker = set_interval_with_handle(
            move || {
                let busy = imports
                    .get_untracked()
                    .and_then(Result::ok)
                    .is_some_and(|l| l.iter().any(|p| !p.status.is_final()));
                if busy {
                    imports.refetch();
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
        <section class="card">
            <h1>"Imports"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match imports.await {
                        Ok(list) if list.is_empty() => view! { <p>"No imports yet. "<a href="/">"Upload a spreadsheet"</a>"."</p> }.into_any(),
                        Ok(list) => view! { <ImportsTable list /> }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ImportsTable(list: Vec<Progress>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="imports">
                <thead><tr><th>"File"</th><th>"Table"</th><th>"Status"</th><th class="num">"Rows"</th><th class="num">"Time"</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|p| {
                        let href = format!("/imports/{}", p.id);
                        let percent = p.fraction().filter(|_| !p.status.is_final()).map(|f| format!(" {}", format::percent(f))).unwrap_or_default();
                        view! {
                            <tr data-status=p.status.to_string()>
                                <td><a href=href>{p.file_name.clone()}</a></td>
                                <td><code>{p.table.clone()}</code></td>
                                <td><span class=format!("badge badge-{}", p.status.to_string())>{p.status.to_string()}</span>{percent}</td>
                                <td class="num">{format::count(p.rows_done)}</td>
                                <td class="num">{format::duration_ms(p.elapsed_ms)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
