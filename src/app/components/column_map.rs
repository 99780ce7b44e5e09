//! `ColumnMap`: where each column of the sheet goes, before the import starts. For a new table:
//! import it or not, its name, its type (inferred; any other on request). Into a table that
//! exists: which of its columns it fills (matched by name, or as the last import into that table
//! did), shown with that column's type; the table's columns that every row must fill are named
//! when nothing fills them. Either way the key columns are ticked here, and an existing table
//! without a unique index on them gets the offer to make one. A column of dates written with the
//! day and the month in either order (`03/04/2024`) asks how they are written, unless its values
//! or the last import into the table decide it; until it is answered the import does not start.
//! Values the last review of that table replaced (`N/A` → empty) are listed, each removable.

use crate::model::{
    ColumnChoice, ColumnType, DateColumn, Inspection, Mapping, OnError, TableShape, TargetPreview, ValueMap,
};
use leptos::prelude::*;

/// The types a column may be given, in the words the page uses.
const TYPES: [(ColumnType, &str); 6] = [
    (ColumnType::Text, "text (kept exactly as written)"),
    (ColumnType::Integer, "whole number"),
    (ColumnType::Real, "number"),
    (ColumnType::Boolean, "true/false"),
    (ColumnType::Date, "date"),
    (ColumnType::Datetime, "date and time"),
];

/// One column of the sheet and what the person chose for it.
#[derive(Clone)]
pub struct ColumnEdit {
    /// How the mapping names it: its header text, or the preview's name when the text is empty
    /// or shared with another column.
    source: String,
    label: String,
    /// The name a new table gives it.
    name: String,
    inferred: ColumnType,
    import: RwSignal<bool>,
    rename: RwSignal<String>,
    ty: RwSignal<ColumnType>,
    /// The existing table's column it fills; empty: left out.
    into: RwSignal<String>,
    key: RwSignal<bool>,
    /// What the preview found about its text dates, over the whole column.
    dates: Option<DateColumn>,
    /// How its dates are written, as the last import into the table said.
    remembered: Option<String>,
    /// How its dates are written: a format, [`AS_TEXT`], or empty while nobody said.
    format: RwSignal<String>,
    /// The existing table's columns of dates (or dates and times): only a column going into one
    /// of them reads its text with a date format.
    date_targets: Vec<String>,
    /// Values read as others, as the last import into the table was told (see `import::value_map`).
    values: RwSignal<Vec<ValueMap>>,
}

/// The date format choice "these are not dates: keep the text".
const AS_TEXT: &str = "text";

impl ColumnEdit {
    /// The column name it has in the table (new or existing), when it is imported at all.
    fn target(&self, existing: bool) -> Option<String> {
        if existing {
            Some(self.into.get()).filter(|t| !t.is_empty())
        } else {
            self.import
                .get()
                .then(|| Some(self.rename.get()).filter(|r| !r.trim().is_empty()).unwrap_or(self.name.clone()))
        }
    }

    /// Whether how its dates are written matters: it has such dates (or the last import into the
    /// table said how they were written) and goes in as dates, into a new table or into one of
    /// the existing table's date columns (a text column keeps the text as written).
    fn reads_dates(&self, existing: bool) -> bool {
        (self.dates.is_some() || self.remembered.is_some())
            && self.target(existing).is_some_and(|t| !existing || self.date_targets.contains(&t))
    }
}

/// The editable rows for a preview: suggestions into the existing table when there is one.
pub fn edits(found: &Inspection) -> Vec<ColumnEdit> {
    let labels: Vec<&str> = found.columns.iter().map(|c| c.label.as_str()).collect();
    let date_targets: Vec<String> = found
        .target
        .iter()
        .flat_map(|t| &t.shape.columns)
        .filter(|c| matches!(c.ty, ColumnType::Date | ColumnType::Datetime))
        .map(|c| c.name.clone())
        .collect();
    found
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let unique = !c.label.is_empty() && labels.iter().filter(|l| **l == c.label).count() == 1;
            let suggested = found.target.as_ref().and_then(|t| t.columns.get(i)).and_then(|s| s.target.clone());
            let key = found.target.as_ref().is_some_and(|t| suggested.as_ref().is_some_and(|s| t.key.contains(s)));
            let dates = found.dates.iter().find(|d| d.column == c.name).cloned();
            let remembered = found.target.as_ref().and_then(|t| t.columns.get(i)).and_then(|s| s.format.clone());
            let values = found.target.as_ref().and_then(|t| t.columns.get(i)).map(|s| s.values.clone());
            // The last import's choice first, then what the values decide; else the question stays open.
            let format =
                remembered.clone().or_else(|| dates.as_ref().and_then(|d| d.decided.clone())).unwrap_or_default();
            ColumnEdit {
                source: if unique { c.label.clone() } else { c.name.clone() },
                label: if c.label.is_empty() { c.name.clone() } else { c.label.clone() },
                name: c.name.clone(),
                inferred: c.ty,
                import: RwSignal::new(true),
                rename: RwSignal::new(String::new()),
                ty: RwSignal::new(if format.is_empty() { c.ty } else { read_as(&format, c.ty) }),
                into: RwSignal::new(suggested.unwrap_or_default()),
                key: RwSignal::new(key),
                dates,
                remembered,
                format: RwSignal::new(format),
                date_targets: date_targets.clone(),
                values: RwSignal::new(values.unwrap_or_default()),
            }
        })
        .collect()
}

/// The mapping the rows say: only what differs from the defaults, so the import's record (and
/// the mapping remembered for the table) holds the person's choices, not the whole sheet.
pub fn mapping(edits: &[ColumnEdit], existing: bool, on_error: OnError, add_unique_index: bool) -> Mapping {
    let mut columns = Vec::new();
    let mut key = Vec::new();
    for e in edits {
        let target = e.target(existing);
        if e.key.get_untracked()
            && let Some(t) = &target
        {
            key.push(t.clone());
        }
        let format =
            Some(e.format.get_untracked()).filter(|f| !f.is_empty() && f != AS_TEXT && e.reads_dates(existing));
        let values = e.values.get_untracked();
        let choice = match (&target, existing) {
            (None, _) => ColumnChoice { source: e.source.clone(), skip: true, ..ColumnChoice::default() },
            (Some(t), true) => ColumnChoice {
                source: e.source.clone(),
                target: Some(t.clone()),
                format,
                values,
                ..ColumnChoice::default()
            },
            (Some(t), false) => {
                let ty = e.ty.get_untracked();
                ColumnChoice {
                    source: e.source.clone(),
                    target: (*t != e.name).then(|| t.clone()),
                    ty: (ty != e.inferred).then_some(ty),
                    skip: false,
                    format,
                    values,
                }
            }
        };
        if choice.skip
            || choice.target.is_some()
            || choice.ty.is_some()
            || choice.format.is_some()
            || !choice.values.is_empty()
        {
            columns.push(choice);
        }
    }
    Mapping { columns, key, on_error, add_unique_index }
}

/// The columns that go in whose dates nobody has said how to read yet, as sentences: the import
/// does not start until they are answered (no silent guess).
pub fn unanswered(edits: &[ColumnEdit], existing: bool) -> Vec<String> {
    edits
        .iter()
        .filter(|e| e.dates.is_some() && e.format.get().is_empty() && e.reads_dates(existing))
        .map(|e| {
            let ambiguous = e.dates.as_ref().map_or(0, |d| d.ambiguous);
            format!(
                "Choose how the dates in {} are written, day first or month first ({} could be either).",
                e.label,
                crate::format::plural(ambiguous as usize, "date", "dates")
            )
        })
        .collect()
}

/// The type a new table's column gets for the date format `format` (`inferred` for text).
fn read_as(format: &str, inferred: ColumnType) -> ColumnType {
    match format {
        "" => inferred,
        AS_TEXT => ColumnType::Text,
        f if f.contains("%H") => ColumnType::Datetime,
        _ => ColumnType::Date,
    }
}

/// A date format for people: "day/month/year, such as 31/01/2024".
fn format_words(format: &str) -> String {
    let order = match (format.find("%d"), format.find("%m")) {
        (Some(d), Some(m)) if d < m => "day first",
        (Some(_), Some(_)) => "month first",
        _ => "as written",
    };
    let example = [("%d", "31"), ("%m", "01"), ("%Y", "2024"), ("%y", "24"), ("%H", "13"), ("%M", "45"), ("%S", "09")]
        .iter()
        .fold(format.to_owned(), |text, (directive, value)| text.replace(directive, value));
    format!("{order}, such as {example}")
}

/// The choices of how a column's dates are written: day first, month first (and the last
/// import's, when it is neither), or not dates at all.
fn format_options(e: &ColumnEdit) -> Vec<(String, String)> {
    let mut formats: Vec<String> = Vec::new();
    if let Some(d) = &e.dates {
        formats.push(d.day_first_format.clone());
        formats.push(d.month_first_format.clone());
    }
    if let Some(r) = e.remembered.clone().filter(|r| !formats.contains(r)) {
        formats.push(r);
    }
    let mut options: Vec<(String, String)> = formats.into_iter().map(|f| (format_words(&f), f)).collect();
    options.push(("not dates: keep the text".to_owned(), AS_TEXT.to_owned()));
    options
}

#[component]
pub fn ColumnMap(
    edits: Vec<ColumnEdit>,
    target: Option<TargetPreview>,
    /// Whether the rows go into the existing table (append, upsert, insert-new).
    #[prop(into)]
    existing: Signal<bool>,
    /// Whether the mode needs a key (upsert, insert-new).
    #[prop(into)]
    keyed: Signal<bool>,
    add_unique_index: RwSignal<bool>,
) -> impl IntoView {
    let shape = target.as_ref().map(|t| t.shape.clone()).unwrap_or_default();
    let table_columns: Vec<String> = shape.columns.iter().map(|c| c.name.clone()).collect();
    let for_checks = edits.clone();
    let shape_for_checks = shape.clone();
    // What the choices leave undone, in words, as they change.
    let problems = move || {
        let existing = existing.get();
        let mut out = Vec::new();
        if existing {
            let filled: Vec<String> = for_checks.iter().filter_map(|e| e.target(true)).collect();
            for c in shape_for_checks.columns.iter().filter(|c| c.required && !filled.contains(&c.name)) {
                out.push(format!(
                    "The table needs a value in every row for {}: choose the sheet's column for it.",
                    c.name
                ));
            }
        }
        let key: Vec<String> = for_checks.iter().filter(|e| e.key.get()).filter_map(|e| e.target(existing)).collect();
        if keyed.get() && key.is_empty() && !(existing && shape_for_checks.unique.len() == 1) {
            out.push("Tick the key columns: the ones that identify a row, such as an id or a code.".to_owned());
        }
        out.extend(unanswered(&for_checks, existing));
        out
    };
    let replaced: Vec<ColumnEdit> = edits.iter().filter(|e| !e.values.get_untracked().is_empty()).cloned().collect();
    // What the whole-column check of each text date column found, in words.
    let date_notes: Vec<String> = edits.iter().filter_map(|e| e.dates.as_ref().map(|d| d.note.clone())).collect();
    let for_index = edits.clone();
    let needs_index = move || {
        let existing = existing.get();
        let key: Vec<String> = for_index.iter().filter(|e| e.key.get()).filter_map(|e| e.target(existing)).collect();
        (existing && keyed.get() && !key.is_empty() && !indexed(&shape, &key)).then(|| key.join(", "))
    };
    view! {
        <div class="column-map">
            <h3>"Columns"</h3>
            <div class="table-scroll" tabindex="0" role="region" aria-label="Where each column goes">
                <table class="rows mapping">
                    <thead>
                        <tr>
                            <th scope="col">"Column in the sheet"</th>
                            <th scope="col">"Goes into"</th>
                            <th scope="col">"Type"</th>
                            <th scope="col">"Key"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {edits.into_iter().map(|e| {
                            let table_columns = table_columns.clone();
                            let shape = target.as_ref().map(|t| t.shape.clone()).unwrap_or_default();
                            let id = format!("map-{}", e.name);
                            let (e2, e3, e4) = (e.clone(), e.clone(), e.clone());
                            let (row_name, check_label) = (e.name.clone(), e.label.clone());
                            let key_label = format!("{} is part of the key", e.label);
                            view! {
                                <tr data-column=row_name>
                                    <th scope="row">
                                        <label class="check">
                                            <input type="checkbox" class="import-column" prop:checked=move || e.import.get()
                                                prop:disabled=move || existing.get()
                                                on:change=move |ev| e.import.set(event_target_checked(&ev)) />
                                            " "{check_label}
                                        </label>
                                    </th>
                                    <td data-label="Goes into">
                                        {move || if existing.get() {
                                            let options = table_columns.clone();
                                            let into = e3.into;
                                            view! {
                                                <select class="into" aria-label=format!("Table column for {}", e3.label)
                                                    prop:value=move || into.get()
                                                    on:change=move |ev| into.set(event_target_value(&ev))>
                                                    <option value="">"(leave out)"</option>
                                                    {options.into_iter().map(|c| {
                                                        let selected = c == into.get_untracked();
                                                        view! { <option value=c.clone() selected=selected>{c.clone()}</option> }
                                                    }).collect_view()}
                                                </select>
                                            }.into_any()
                                        } else {
                                            let (rename, import) = (e3.rename, e3.import);
                                            view! {
                                                <input type="text" class="rename" id=id.clone() autocomplete="off" spellcheck="false"
                                                    aria-label=format!("Column name for {}", e3.label)
                                                    placeholder=e3.name.clone() prop:value=move || rename.get()
                                                    prop:disabled=move || !import.get()
                                                    on:input=move |ev| rename.set(event_target_value(&ev)) />
                                            }.into_any()
                                        }}
                                    </td>
                                    <td data-label="Type">
                                        {move || if existing.get() {
                                            let ty = shape.columns.iter().find(|c| c.name == e2.into.get()).map(|c| type_words(c.ty));
                                            view! { <span class="type">{ty.unwrap_or("–")}</span> }.into_any()
                                        } else {
                                            let (format, asks) = (e2.format, e2.dates.is_some() || e2.remembered.is_some());
                                            view! {
                                                <select class="retype" aria-label=format!("Type of {}", e2.label)
                                                    prop:disabled=move || !e2.import.get()
                                                    prop:value=move || e2.ty.get().to_string()
                                                    on:change=move |ev| if let Ok(t) = event_target_value(&ev).parse() {
                                                        // Another type than dates answers the date question: not dates.
                                                        if asks && !matches!(t, ColumnType::Date | ColumnType::Datetime) {
                                                            format.set(AS_TEXT.to_owned());
                                                        }
                                                        e2.ty.set(t)
                                                    }>
                                                    {TYPES.iter().map(|(t, words)| {
                                                        let selected = *t == e2.ty.get_untracked();
                                                        view! { <option value=t.to_string() selected=selected>{*words}</option> }
                                                    }).collect_view()}
                                                </select>
                                            }.into_any()
                                        }}
                                        {move || e4.reads_dates(existing.get()).then(|| {
                                            let (format, ty, inferred) = (e4.format, e4.ty, e4.inferred);
                                            let options = format_options(&e4);
                                            view! {
                                                <select class="date-format" aria-label=format!("How the dates in {} are written", e4.label)
                                                    prop:value=move || format.get()
                                                    on:change=move |ev| {
                                                        let chosen = event_target_value(&ev);
                                                        if !existing.get_untracked() {
                                                            ty.set(read_as(&chosen, inferred));
                                                        }
                                                        format.set(chosen);
                                                    }>
                                                    <option value="" disabled=true selected=move || format.get_untracked().is_empty()>
                                                        "Dates: day first or month first?"
                                                    </option>
                                                    {options.into_iter().map(|(words, value)| {
                                                        let selected = value == format.get_untracked();
                                                        view! { <option value=value selected=selected>{words}</option> }
                                                    }).collect_view()}
                                                </select>
                                            }
                                        })}
                                    </td>
                                    <td data-label="Key">
                                        <input type="checkbox" class="key" aria-label=key_label
                                            prop:checked=move || e.key.get()
                                            on:change=move |ev| e.key.set(event_target_checked(&ev)) />
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {move || needs_index().map(|key| view! {
                <p class="field check offer">
                    <label>
                        <input type="checkbox" class="add-index" prop:checked=move || add_unique_index.get()
                            on:change=move |ev| add_unique_index.set(event_target_checked(&ev)) />
                        {format!(" The table has no unique index on {key}, which is how rows it already has are found. Add one (the import fails if the table holds a key twice).")}
                    </label>
                </p>
            })}
            {(!replaced.is_empty()).then(|| view! { <ValueMaps edits=replaced /> })}
            {(!date_notes.is_empty()).then(|| view! {
                <ul class="date-notes">
                    {date_notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
                </ul>
            })}
            <ul class="problems">
                {move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
            </ul>
        </div>
    }
}

/// The values the last review of the table replaced, per column, each with a button that removes
/// it from this import (and so from what the table remembers after it).
#[component]
fn ValueMaps(edits: Vec<ColumnEdit>) -> impl IntoView {
    view! {
        <div class="value-maps">
            <h4 id="value-maps-title">"Values read as others"</h4>
            <p class="hint">"Fixes made in the last review of this table. Each is applied to this file too; remove any that does not fit it."</p>
            <ul aria-labelledby="value-maps-title">
                {edits.into_iter().map(|e| {
                    let (values, label) = (e.values, e.label.clone());
                    move || values.get().into_iter().enumerate().map(|(k, m)| {
                        let words = m.words();
                        let remove = format!("Remove: {} {}", label, words);
                        view! {
                            <li>
                                <span>{format!("{}: {}", label, words)}</span>" "
                                <button type="button" class="button secondary small remove-map" aria-label=remove
                                    on:click=move |_| values.update(|v| { if k < v.len() { v.remove(k); } })>"Remove"</button>
                            </li>
                        }
                    }).collect_view()
                }).collect_view()}
            </ul>
        </div>
    }
}

/// Whether a unique index of `shape` covers exactly the columns of `key`.
fn indexed(shape: &TableShape, key: &[String]) -> bool {
    shape.unique.iter().any(|set| set.len() == key.len() && set.iter().all(|c| key.contains(c)))
}

fn type_words(ty: ColumnType) -> &'static str {
    TYPES.iter().find(|(t, _)| *t == ty).map_or("text", |(_, w)| w)
}
