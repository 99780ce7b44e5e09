//! `SheetPreview`: what an import of a stored upload would create, before it starts: each column's
//! SQL name, inferred type and header text, over the sheet's first rows.

use crate::format;
use crate::model::Inspection;
use leptos::prelude::*;

#[component]
pub fn SheetPreview(inspection: Inspection) -> impl IntoView {
    let Inspection { columns, rows, rows_total, upload, .. } = inspection;
    let summary = format!(
        "{} · {} · {} · {} columns",
        upload.format,
        format::bytes(upload.bytes),
        rows_total.map_or_else(|| "rows counted while importing".into(), |n| format!("{} rows", format::count(n))),
        columns.len()
    );
    let shown = rows.len();
    view! {
        <div class="preview">
            <p class="preview-meta">{summary}</p>
            <div class="table-scroll" tabindex="0" role="region" aria-label="First rows of the sheet">
                <table class="rows preview-table">
                    <thead>
                        <tr>
                            {columns.iter().map(|c| view! {
                                <th scope="col">
                                    <span class="col-name">{c.name.clone()}</span>
                                    <span class="type">{c.ty.words()}</span>
                                    <span class="col-label">{c.label.clone()}</span>
                                </th>
                            }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {rows.into_iter().map(|row| view! {
                            <tr>{row.into_iter().map(cell).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <p class="hint">{format!("The first {shown} rows; types are inferred from the first 1,000 and widened if later rows need it.")}</p>
        </div>
    }
}

/// One value as a table cell: numbers right-aligned, empty cells marked NULL rather than blank.
pub fn cell(v: serde_json::Value) -> impl IntoView {
    match v {
        serde_json::Value::Null => view! { <td class="null">"NULL"</td> }.into_any(),
        serde_json::Value::String(s) => view! { <td>{s}</td> }.into_any(),
        serde_json::Value::Number(n) => view! { <td class="num">{n.to_string()}</td> }.into_any(),
        other => view! { <td>{other.to_string()}</td> }.into_any(),
    }
}
