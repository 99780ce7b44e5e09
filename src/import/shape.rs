//! From a sheet's columns to a table's. A [`Plan`] says which columns of the sheet go in, under
//! which names, as which types, and, for a table that exists, into which of its columns (matched
//! by name, see [`suggest`]); it is checked before a single row is written, so a mapping that
//! cannot work (an unknown column, a required column nothing fills, a key without a unique index)
//! is one sentence up front. Then, row by row, [`Plan::shape`] moves each value to its column and
//! reads it as the column's type when the type is fixed (chosen by the person, or the existing
//! table's): a value that cannot be read so, an empty required value or an empty key is a
//! [`RowError`] with the sheet's own row number, never a widened column or a failed import.

use super::ImportError;
use super::date_format::DateFormat;
use super::dates::DAY_MS;
use super::names::sanitize;
use super::value::{Value, parse_text};
use super::value_map::ValueMaps;
use crate::model::{ColumnChoice, ColumnInfo, ColumnType, ImportMode, Mapping, RowError, TableShape};

/// Score above which two differently written names are taken to mean the same column
/// (Jaro-Winkler on the names reduced to lowercase letters and digits): "E-mail" and
/// "email_address" score 0.88, "city" and "country" 0.60 (no prefix bonus below a Jaro score of 0.7).
const SIMILAR: f64 = 0.85;

/// Characters of each name the similarity score reads. Jaro-Winkler costs about the product of
/// the two lengths; 1,000 sheet columns with 1,024-byte headers against a table of 1,000 columns is
/// a million pairs, far too slow at full length. The names people match are much shorter.
const SIMILAR_CHARS: usize = 64;

/// Characters of a value a row error keeps (the report is for finding the cell, not a copy of it).
const VALUE_CHARS: usize = 200;

/// A name reduced to what people mean by it: lowercase letters and digits, accents kept apart
/// from case ("Unit Price", "unit_price" and "UNIT-PRICE" are one name).
pub fn normalize(name: &str) -> String {
    name.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphanumeric()).collect()
}

/// For each column of the sheet, the existing table's column it most likely goes into: the same
/// name written another way first, then the most similar name above [`SIMILAR`], each table
/// column taken once. A column with a choice in `remembered` (the last mapping into this table,
/// by the sheet's header text) keeps it when that table column still exists. Columns with no
/// match come back skipped.
pub fn suggest(source: &[ColumnInfo], table: &TableShape, remembered: Option<&Mapping>) -> Vec<ColumnChoice> {
    let mut taken = vec![false; table.columns.len()];
    let mut out: Vec<Option<ColumnChoice>> = vec![None; source.len()];
    let position = |name: &str| table.columns.iter().position(|c| c.name == name);
    // What the person chose last time wins.
    if let Some(last) = remembered {
        for (i, col) in source.iter().enumerate() {
            let Some(choice) = last.columns.iter().find(|c| c.source == col.label || c.source == col.name) else {
                continue;
            };
            if choice.skip {
                out[i] = Some(ColumnChoice { source: col.label.clone(), skip: true, ..ColumnChoice::default() });
            } else if let Some(t) = choice.target.as_deref().and_then(position).filter(|&t| !taken[t]) {
                taken[t] = true;
                out[i] = Some(choice_into(col, &table.columns[t].name));
            }
        }
    }
    // Each table column's name reduced once, not once per sheet column.
    let names: Vec<String> = table.columns.iter().map(|c| normalize(&c.name)).collect();
    // The same name written another way.
    for (i, col) in source.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let wanted = [normalize(&col.label), normalize(&col.name)];
        if let Some(t) = (0..table.columns.len()).find(|&t| !taken[t] && wanted.contains(&names[t])) {
            taken[t] = true;
            out[i] = Some(choice_into(col, &table.columns[t].name));
        }
    }
    // The most similar names, best pair first.
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    let short: Vec<String> = names.iter().map(|n| n.chars().take(SIMILAR_CHARS).collect()).collect();
    for (i, col) in source.iter().enumerate().filter(|(i, _)| out[*i].is_none()) {
        let mine: String =
            normalize(if col.label.is_empty() { &col.name } else { &col.label }).chars().take(SIMILAR_CHARS).collect();
        for t in (0..table.columns.len()).filter(|&t| !taken[t]) {
            let score = strsim::jaro_winkler(&mine, &short[t]);
            if score >= SIMILAR {
                pairs.push((score, i, t));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, i, t) in pairs {
        if out[i].is_none() && !taken[t] {
            taken[t] = true;
            out[i] = Some(choice_into(&source[i], &table.columns[t].name));
        }
    }
    out.into_iter()
        .zip(source)
        .map(|(choice, col)| {
            let mut choice = choice.unwrap_or_else(|| ColumnChoice {
                source: col.label.clone(),
                skip: true,
                ..ColumnChoice::default()
            });
            // How its dates are written and which values it replaces, as the person said last time,
            // whichever column it goes into.
            if !choice.skip {
                let last =
                    remembered.and_then(|m| m.columns.iter().find(|c| c.source == col.label || c.source == col.name));
                choice.format = last.and_then(|c| c.format.clone());
                choice.values = last.map(|c| c.values.clone()).unwrap_or_default();
            }
            choice
        })
        .collect()
}

fn choice_into(col: &ColumnInfo, target: &str) -> ColumnChoice {
    ColumnChoice { source: col.label.clone(), target: Some(target.to_owned()), ..ColumnChoice::default() }
}

/// Name of the staging table's column that carries each row's sheet row number when the import
/// has a key, so a key seen twice can be reported by row. Never a column of an imported table
/// (names made from headers never start with `_sheetport`).
pub const ROW_COLUMN: &str = "_sheetport_row";

/// How the sheet's columns become the table's; see the module's text.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The table's columns this import fills, in order: name, the sheet's header text, type.
    pub columns: Vec<ColumnInfo>,
    /// For each, the sheet's column (0-based) it comes from.
    sources: Vec<usize>,
    /// For each, whether its type is fixed: values are read as it or rejected, never widen it.
    fixed: Vec<bool>,
    /// For each, whether an empty value is a row error (a key, or a required column).
    required: Vec<bool>,
    /// For each, how its text dates are written, when the person said (the column is fixed then).
    formats: Vec<Option<DateFormat>>,
    /// For each, the values it replaces before reading (see [`super::value_map`]).
    maps: Vec<Option<ValueMaps>>,
    /// Positions in `columns` of the key, in the order the person gave.
    pub key: Vec<usize>,
    /// Whether the key needs a unique index made on the existing table.
    pub add_unique_index: bool,
    /// The sheet's width: rows are moved only when they need to be.
    width: usize,
    /// The columns are the sheet's own, in order, nothing fixed or required: rows pass untouched.
    identity: bool,
}

impl Plan {
    /// The plan for the sheet's `source` columns (named and typed by the preview's rules), the
    /// person's `mapping`, and `table` when the import goes into a table that exists (append,
    /// upsert, insert-new). Refuses, in words, what cannot work.
    pub fn new(
        source: &[ColumnInfo],
        mapping: &Mapping,
        table: Option<&TableShape>,
        mode: ImportMode,
    ) -> Result<Self, ImportError> {
        let mut picked: Vec<Option<&ColumnChoice>> = vec![None; source.len()];
        for choice in &mapping.columns {
            let i = find_source(source, &choice.source)?;
            if picked[i].is_some() {
                return Err(invalid(format!(
                    "the column {} is chosen twice; choose it once",
                    crate::format::quoted(&choice.source)
                )));
            }
            picked[i] = Some(choice);
        }
        // Table columns the person named are not offered to the other columns.
        let suggested = table.map(|t| {
            let named: Vec<&str> =
                mapping.columns.iter().filter(|c| !c.skip).filter_map(|c| c.target.as_deref()).collect();
            let free = TableShape {
                columns: t.columns.iter().filter(|c| not_named(&named, &c.name)).cloned().collect(),
                unique: Vec::new(),
            };
            suggest(source, &free, None)
        });
        let mut columns: Vec<ColumnInfo> = Vec::new();
        let (mut sources, mut fixed, mut formats, mut maps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, col) in source.iter().enumerate() {
            let choice = picked[i];
            if choice.is_some_and(|c| c.skip) {
                continue;
            }
            let explicit = choice.and_then(|c| c.target.as_deref()).filter(|t| !t.trim().is_empty());
            let format = choice
                .and_then(|c| c.format.as_deref())
                .filter(|f| !f.trim().is_empty())
                .map(DateFormat::parse)
                .transpose()
                .map_err(|e| invalid(format!("for the column {}: {e}", crate::format::quoted(&col.label))))?;
            let mut declared = None;
            let (name, ty, is_fixed) = match (table, explicit) {
                (Some(table), Some(target)) => {
                    let tc = table_column(table, target).ok_or_else(|| {
                        invalid(format!(
                            "the table has no column {} for the sheet's column {}; its columns are {}",
                            crate::format::quoted(target),
                            crate::format::quoted(&col.label),
                            list(table.columns.iter().map(|c| c.name.as_str()))
                        ))
                    })?;
                    declared = tc.declared.clone();
                    (tc.name.clone(), tc.ty, true)
                }
                (Some(table), None) => {
                    // Matched by name, or left out: a column the table does not have has nowhere to go.
                    let Some(target) = suggested.as_ref().and_then(|s| s[i].target.clone()) else { continue };
                    let tc = table_column(table, &target).expect("suggested from the table's own columns");
                    declared = tc.declared.clone();
                    (tc.name.clone(), tc.ty, true)
                }
                (None, target) => {
                    let name = target.map_or_else(|| col.name.clone(), |t| sanitize(t, &col.name));
                    match (choice.and_then(|c| c.ty), &format) {
                        (Some(ty), _) => (name, ty, true),
                        (None, Some(format)) => (name, format.column_type(), true),
                        (None, None) => (name, col.ty, false),
                    }
                }
            };
            if format.is_some() && !matches!(ty, ColumnType::Date | ColumnType::Datetime | ColumnType::Text) {
                return Err(invalid(format!(
                    "a date format is given for the sheet's column {}, but the column it goes into holds {}, not \
                     dates; leave the format out or choose another column",
                    crate::format::quoted(&col.label),
                    match ty {
                        ColumnType::Integer => "whole numbers",
                        ColumnType::Real => "numbers",
                        _ => "true/false values",
                    }
                )));
            }
            if let Some(other) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(&name)) {
                return Err(invalid(format!(
                    "the sheet's columns {} and {} would both go into the column {name:?}; choose another name \
                     for one of them, or leave one out",
                    crate::format::quoted(&other.label),
                    crate::format::quoted(&col.label)
                )));
            }
            columns.push(ColumnInfo { name, label: col.label.clone(), ty, declared });
            sources.push(i);
            fixed.push(is_fixed);
            formats.push(format);
            maps.push(choice.and_then(|c| ValueMaps::of(&c.values)));
        }
        if columns.is_empty() {
            return Err(invalid(match table {
                Some(_) => {
                    "no column of the sheet matches a column of the table; choose which column goes where".into()
                }
                None => "every column is left out; choose at least one to import".to_owned(),
            }));
        }
        let mut required = vec![false; columns.len()];
        if let Some(table) = table {
            let missing: Vec<&str> = table
                .columns
                .iter()
                .filter(|tc| tc.required && !columns.iter().any(|c| c.name == tc.name))
                .map(|tc| tc.name.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(invalid(format!(
                    "the table needs a value in every row for {}, but no column of the sheet goes there; choose the \
                     sheet's column for it",
                    list(missing.into_iter())
                )));
            }
            for (c, req) in columns.iter().zip(required.iter_mut()) {
                *req = table.columns.iter().any(|tc| tc.name == c.name && tc.required);
            }
        }
        let key = key_of(&columns, source, &sources, mapping, table, mode)?;
        for &k in &key {
            required[k] = true;
        }
        let add_unique_index = match (table, key.is_empty()) {
            (Some(table), false) => {
                let wanted: Vec<&str> = key.iter().map(|&k| columns[k].name.as_str()).collect();
                let indexed = table
                    .unique
                    .iter()
                    .any(|set| set.len() == wanted.len() && set.iter().all(|c| wanted.contains(&c.as_str())));
                if !indexed && !mapping.add_unique_index {
                    return Err(invalid(format!(
                        "the table has no unique index on {}, which {mode} needs to find the rows it already has; \
                         let sheetport add one (it fails if the table holds that key twice), or choose other key \
                         columns",
                        list(wanted.into_iter())
                    )));
                }
                !indexed
            }
            _ => false,
        };
        let width = source.len();
        let identity = sources.iter().copied().eq(0..width)
            && !fixed.contains(&true)
            && !required.contains(&true)
            && maps.iter().all(Option::is_none);
        Ok(Self { columns, sources, fixed, required, formats, maps, key, add_unique_index, width, identity })
    }

    /// Whether the import has a key (its staging table then carries [`ROW_COLUMN`]).
    pub fn keyed(&self) -> bool {
        !self.key.is_empty()
    }

    /// The key's column names.
    pub fn key_names(&self) -> Vec<String> {
        self.key.iter().map(|&k| self.columns[k].name.clone()).collect()
    }

    /// Turns the sheet's row `number` (its cells, padded to the sheet's width) into the table's
    /// row, in place. A value that cannot go in is pushed to `errors` (all of the row's, so one
    /// look shows them) and the row is refused (`false`).
    pub fn shape(&self, number: u64, row: &mut Vec<Value>, errors: &mut Vec<RowError>) -> bool {
        if self.identity {
            return true;
        }
        let before = errors.len();
        let mut out = Vec::with_capacity(self.columns.len() + 1);
        for (c, &s) in self.sources.iter().enumerate() {
            let value = self.mapped(c, std::mem::replace(&mut row[s], Value::Null));
            let col = &self.columns[c];
            let value = if self.fixed[c] {
                let converted = match &self.formats[c] {
                    Some(format) => convert_written(value, col.ty, format),
                    None => convert(value, col.ty),
                };
                match converted {
                    Ok(v) => v,
                    Err((v, reason)) => {
                        errors.push(row_error(number, col, &v, reason));
                        Value::Null
                    }
                }
            } else {
                value
            };
            if matches!(value, Value::Null) && self.required[c] && errors.len() == before {
                let reason = if self.key.contains(&c) {
                    "is empty, and a key column needs a value in every row"
                } else {
                    "is empty, and the table needs a value in this column in every row"
                };
                errors.push(row_error(number, col, &Value::Null, reason.into()));
            }
            out.push(value);
        }
        *row = out;
        errors.len() == before
    }

    /// The sheet's width the plan was made for.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The value-map step: column `c`'s cell `value` as its replacements say (see
    /// [`super::value_map`]), before it is read as the column's type.
    fn mapped(&self, c: usize, value: Value) -> Value {
        match &self.maps[c] {
            Some(maps) => maps.apply(value),
            None => value,
        }
    }

    /// The sheet's column (0-based) column `c` is filled from.
    pub fn source_of(&self, c: usize) -> usize {
        self.sources[c]
    }
}

/// The sheet's column a choice names: its header text, else the preview's name for it, else the
/// header text with case and punctuation ignored.
fn find_source(source: &[ColumnInfo], wanted: &str) -> Result<usize, ImportError> {
    source
        .iter()
        .position(|c| c.label == wanted)
        .or_else(|| source.iter().position(|c| c.name == wanted))
        .or_else(|| {
            let n = normalize(wanted);
            source.iter().position(|c| normalize(&c.label) == n)
        })
        .ok_or_else(|| {
            invalid(format!(
                "the sheet has no column {wanted:?}; its columns are {}",
                list(source.iter().map(|c| if c.label.is_empty() { c.name.as_str() } else { c.label.as_str() }))
            ))
        })
}

/// Whether no name in `named` means the table column `name`.
fn not_named(named: &[&str], name: &str) -> bool {
    let n = normalize(name);
    !named.iter().any(|w| *w == name || normalize(w) == n)
}

/// The table's column `name`, exactly or written another way.
fn table_column<'t>(table: &'t TableShape, name: &str) -> Option<&'t crate::model::TableColumn> {
    let n = normalize(name);
    table.columns.iter().find(|c| c.name == name).or_else(|| table.columns.iter().find(|c| normalize(&c.name) == n))
}

/// The key's positions among `columns`: each name the person gave, as a column of the table (or
/// the sheet's header text of a column that goes in); without one, an existing table's only
/// unique index when every one of its columns is filled.
fn key_of(
    columns: &[ColumnInfo],
    source: &[ColumnInfo],
    sources: &[usize],
    mapping: &Mapping,
    table: Option<&TableShape>,
    mode: ImportMode,
) -> Result<Vec<usize>, ImportError> {
    let names: Vec<String> = mapping.key.iter().map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
    if names.is_empty() {
        if !mode.keyed() {
            return Ok(Vec::new());
        }
        // The table's own key, when it has exactly one that this import fills.
        let usable: Vec<Vec<usize>> = table
            .map(|t| {
                t.unique
                    .iter()
                    .filter_map(|set| set.iter().map(|n| columns.iter().position(|c| &c.name == n)).collect())
                    .collect()
            })
            .unwrap_or_default();
        return match usable.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(invalid(format!(
                "{} needs key columns: the columns that identify a row, such as an id or a code; choose them",
                match mode {
                    ImportMode::InsertNew => "adding only new rows (insert-new)",
                    _ => "updating rows by a key (upsert)",
                }
            ))),
        };
    }
    if mode == ImportMode::Append {
        return Err(invalid(
            "adding the rows (append) adds every one and has no key; to match rows the table already has by a key, \
             choose to update them (upsert) or to add only the new ones (insert-new)"
                .into(),
        ));
    }
    let mut key = Vec::new();
    for name in &names {
        let n = normalize(name);
        let at = columns
            .iter()
            .position(|c| &c.name == name)
            .or_else(|| columns.iter().position(|c| normalize(&c.name) == n))
            .or_else(|| sources.iter().position(|&s| source[s].label == *name || normalize(&source[s].label) == n))
            .ok_or_else(|| {
                invalid(format!(
                    "the key column {name:?} is not among the columns imported ({}); choose it among them",
                    list(columns.iter().map(|c| c.name.as_str()))
                ))
            })?;
        if key.contains(&at) {
            return Err(invalid(format!("the key names the column {:?} twice", columns[at].name)));
        }
        key.push(at);
    }
    Ok(key)
}

/// Reads `value` as a value of a column of type `ty`, or says why it is not one (and gives the
/// value back for the report). Text is read as people write it: `42`, `4.5`, `true`/`yes`/`1`,
/// `2024-01-31`, `2024-01-31 13:45[:00]`; anything goes into a text column as its text.
pub fn convert(value: Value, ty: ColumnType) -> Result<Value, (Value, String)> {
    use ColumnType as T;
    let parsed = match &value {
        // A number with leading zeros stays text when nothing says otherwise ("00501", a code);
        // a column typed as a number says otherwise.
        Value::Text(s) if matches!(ty, T::Integer | T::Real) => match (parse_text(s), s.trim()) {
            (Value::Text(_), t) => t
                .parse::<i64>()
                .map(Value::Int)
                .or_else(|_| {
                    t.parse::<f64>()
                        .map_err(drop)
                        .and_then(|f| if f.is_finite() { Ok(Value::Real(f)) } else { Err(()) })
                })
                .unwrap_or_else(|()| Value::Text(s.clone())),
            (v, _) => v,
        },
        Value::Text(s) if ty != T::Text => parse_text(s),
        _ => value.clone(),
    };
    let ok = match (ty, parsed) {
        (_, Value::Null) => Some(Value::Null),
        (T::Text, _) => {
            if let Value::Text(_) = value {
                return Ok(value);
            }
            let mut s = String::new();
            value.write_text(&mut s);
            Some(Value::Text(s))
        }
        (T::Integer, Value::Int(n)) => Some(Value::Int(n)),
        (T::Integer, Value::Real(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(Value::Int(f as i64)),
        (T::Real, Value::Int(n)) => Some(Value::Real(n as f64)),
        (T::Real, Value::Real(f)) => Some(Value::Real(f)),
        (T::Boolean, Value::Bool(b)) => Some(Value::Bool(b)),
        (T::Boolean, Value::Int(n @ (0 | 1))) => Some(Value::Bool(n == 1)),
        (T::Boolean, Value::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" => Some(Value::Bool(true)),
            "no" | "n" => Some(Value::Bool(false)),
            _ => None,
        },
        (T::Date, Value::Date(d)) => Some(Value::Date(d)),
        (T::Date, Value::DateTime(ms)) if ms.rem_euclid(DAY_MS) == 0 => Some(Value::Date(ms.div_euclid(DAY_MS) as i32)),
        (T::Datetime, Value::Date(d)) => Some(Value::DateTime(i64::from(d) * DAY_MS)),
        (T::Datetime, Value::DateTime(ms)) => Some(Value::DateTime(ms)),
        _ => None,
    };
    ok.ok_or_else(|| {
        let reason = match ty {
            T::Integer => "is not a whole number",
            T::Real => "is not a number",
            T::Boolean => "is not true or false (write true/false, yes/no or 1/0)",
            T::Date => "is not a date (write dates as 2024-01-31)",
            T::Datetime => "is not a date and time (write them as 2024-01-31 13:45:00)",
            T::Text => "cannot be written as text",
        };
        (value, reason.to_owned())
    })
}

/// Reads `value` as [`convert`] does, its text first with the date `format` the person gave the
/// column (an ISO date, which says its order itself, is read too); a text that is neither is a
/// row error that says how the column's dates are written.
pub fn convert_written(value: Value, ty: ColumnType, format: &DateFormat) -> Result<Value, (Value, String)> {
    let Value::Text(s) = &value else { return convert(value, ty) };
    if let Some(date) = format.read(s) {
        return convert(date, ty).map_err(|(_, reason)| (value, reason));
    }
    if s.trim().is_empty() {
        return Ok(Value::Null);
    }
    match parse_text(s) {
        iso @ (Value::Date(_) | Value::DateTime(_)) if ty != ColumnType::Text => convert(iso, ty),
        _ if ty == ColumnType::Text => Ok(value),
        _ => Err((value, format!("is not a date written {}", format.words()))),
    }
}

/// Why a row whose key an earlier row (`first`) had is refused: by the import, and by a fix.
pub fn repeated_key(first: u64) -> String {
    format!("repeats the key of row {first}; a key may appear only once in a file")
}

pub(crate) fn row_error(row: u64, col: &ColumnInfo, value: &Value, reason: String) -> RowError {
    let mut text = String::new();
    value.write_text(&mut text);
    if let Some((cut, _)) = text.char_indices().nth(VALUE_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    let column = if col.label.is_empty() { col.name.clone() } else { col.label.clone() };
    RowError { row, column, value: text, reason }
}

fn invalid(message: String) -> ImportError {
    ImportError::Invalid(message)
}

/// Names as a person reads them: `"a", "b" and "c"`.
fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names = crate::format::some_of(names, crate::format::quoted);
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TableColumn;
    use ColumnType::*;

    fn col(name: &str, label: &str, ty: ColumnType) -> ColumnInfo {
        ColumnInfo { name: name.into(), label: label.into(), ty, declared: None }
    }

    fn table(cols: &[(&str, ColumnType, bool)], unique: &[&[&str]]) -> TableShape {
        TableShape {
            columns: cols
                .iter()
                .map(|(n, ty, req)| TableColumn { name: (*n).into(), ty: *ty, required: *req, declared: None })
                .collect(),
            unique: unique.iter().map(|set| set.iter().map(|s| (*s).to_owned()).collect()).collect(),
        }
    }

    fn targets(choices: &[ColumnChoice]) -> Vec<Option<&str>> {
        choices.iter().map(|c| c.target.as_deref()).collect()
    }

    #[test]
    fn names_written_another_way_or_nearly_the_same_are_matched_once() {
        let source = [
            col("e_mail", "E-mail", Text),
            col("full_name", "Full Name", Text),
            col("city", "City", Text),
            col("id", "ID", Integer),
            col("email", "Email", Text),
        ];
        let t = table(&[("id", Integer, true), ("email_address", Text, false), ("fullname", Text, false)], &[&["id"]]);
        // "E-mail" takes email_address by similarity (0.88); the later "Email" finds it taken.
        assert_eq!(
            targets(&suggest(&source, &t, None)),
            [Some("email_address"), Some("fullname"), None, Some("id"), None]
        );
        let remembered = Mapping {
            columns: vec![ColumnChoice {
                source: "Email".into(),
                target: Some("email_address".into()),
                ..Default::default()
            }],
            ..Mapping::default()
        };
        assert_eq!(
            targets(&suggest(&source, &t, Some(&remembered))),
            [None, Some("fullname"), None, Some("id"), Some("email_address")],
            "the last mapping wins over a match"
        );
    }

    #[test]
    fn the_similarity_threshold_sits_between_a_near_miss_and_another_word() {
        let score = |a: &str, b: &str| strsim::jaro_winkler(&normalize(a), &normalize(b));
        assert!((score("E-mail", "email_address") - 0.883).abs() < 0.001);
        assert!((score("city", "country") - 0.595).abs() < 0.001);
        assert!(score("E-mail", "email_address") >= SIMILAR && score("city", "country") < SIMILAR);
    }

    #[test]
    fn the_widest_sheet_against_the_widest_table_is_matched_with_names_cut_short() {
        // 1,000 sheet columns with 1,024-byte headers against 1,000 table columns: the worst the
        // limits let through. Only the first 64 characters are compared: 5.8 s in the test build
        // for the million pairs (at full length each pair costs some 250 times more: estimated).
        let source: Vec<ColumnInfo> =
            (0..1000).map(|i| col(&format!("c{i}"), &format!("{i:04}{}", "x".repeat(1020)), Text)).collect();
        let t = TableShape {
            columns: (0..1000)
                .map(|i| TableColumn {
                    name: format!("{i:04}{}", "y".repeat(59)),
                    ty: Text,
                    required: false,
                    declared: None,
                })
                .collect(),
            unique: Vec::new(),
        };
        assert_eq!(suggest(&source, &t, None).len(), 1000);
    }

    #[test]
    fn a_plan_refuses_what_cannot_work_before_anything_is_read() {
        let source = [col("id", "ID", Integer), col("name", "Name", Text)];
        let t = table(&[("id", Integer, true), ("name", Text, false), ("owner", Text, true)], &[]);
        let err = |m: &Mapping, t: Option<&TableShape>, mode| Plan::new(&source, m, t, mode).unwrap_err().to_string();
        assert!(err(&Mapping::default(), Some(&t), ImportMode::Append).contains("\"owner\""));
        let t2 = table(&[("id", Integer, true), ("name", Text, false)], &[]);
        let keyed = Mapping { key: vec!["id".into()], ..Mapping::default() };
        assert!(err(&keyed, Some(&t2), ImportMode::Upsert).contains("no unique index on \"id\""));
        assert!(err(&Mapping::default(), None, ImportMode::Upsert).contains("needs key columns"));
        assert!(err(&keyed, None, ImportMode::Append).contains("(append) adds every one and has no key"));
        let unknown = Mapping { key: vec!["nope".into()], ..Mapping::default() };
        assert!(err(&unknown, None, ImportMode::Create).contains("\"nope\" is not among the columns"));
        let offer = Mapping { add_unique_index: true, ..keyed.clone() };
        assert!(Plan::new(&source, &offer, Some(&t2), ImportMode::Upsert).expect("plan").add_unique_index);
    }

    #[test]
    fn rows_are_moved_converted_and_refused_with_their_row_number() {
        let source = [col("code", "Code", Text), col("units", "Units", Integer), col("notes", "Notes", Text)];
        let mapping = Mapping {
            columns: vec![
                ColumnChoice { source: "Notes".into(), skip: true, ..Default::default() },
                ColumnChoice {
                    source: "Units".into(),
                    target: Some("Qty".into()),
                    ty: Some(Real),
                    ..Default::default()
                },
            ],
            key: vec!["code".into()],
            ..Mapping::default()
        };
        let plan = Plan::new(&source, &mapping, None, ImportMode::Create).expect("plan");
        assert_eq!(plan.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["code", "qty"]);
        let mut errors = Vec::new();
        let mut row = vec![Value::Text("00501".into()), Value::Int(3), Value::Text("x".into())];
        assert!(plan.shape(4, &mut row, &mut errors));
        assert_eq!(row, [Value::Text("00501".into()), Value::Real(3.0)]);
        let mut row = vec![Value::Null, Value::Text("lots".into()), Value::Null];
        assert!(!plan.shape(9, &mut row, &mut errors));
        let got: Vec<(u64, &str, &str)> = errors.iter().map(|e| (e.row, e.column.as_str(), e.value.as_str())).collect();
        assert_eq!(got, [(9, "Code", ""), (9, "Units", "lots")]);
    }

    #[test]
    fn values_are_read_as_their_column_type_or_refused() {
        let day = super::super::dates::days_from_civil(2024, 1, 31);
        let ok = |v: Value, ty| convert(v, ty).expect("converts");
        assert_eq!(ok(Value::Text(" 42 ".into()), Integer), Value::Int(42));
        assert_eq!(ok(Value::Text("007".into()), Integer), Value::Int(7));
        assert_eq!(ok(Value::Real(3.0), Integer), Value::Int(3));
        assert_eq!(ok(Value::Int(3), Real), Value::Real(3.0));
        assert_eq!(ok(Value::Text("Yes".into()), Boolean), Value::Bool(true));
        assert_eq!(ok(Value::Int(0), Boolean), Value::Bool(false));
        assert_eq!(ok(Value::Text("2024-01-31".into()), Date), Value::Date(day));
        assert_eq!(ok(Value::DateTime(i64::from(day) * DAY_MS), Date), Value::Date(day));
        assert_eq!(ok(Value::Date(day), Datetime), Value::DateTime(i64::from(day) * DAY_MS));
        assert_eq!(ok(Value::Text("00501".into()), Text), Value::Text("00501".into()));
        assert_eq!(ok(Value::Real(1.5), Text), Value::Text("1.5".into()));
        assert_eq!(ok(Value::Null, Integer), Value::Null);
        for (v, ty) in [
            (Value::Real(1.5), Integer),
            (Value::Text("12x".into()), Integer),
            (Value::Text("inf".into()), Real),
            (Value::Text("abc".into()), Real),
            (Value::Int(2), Boolean),
            (Value::Text("15/04/2024".into()), Date),
            (Value::DateTime(i64::from(day) * DAY_MS + 1000), Date),
            (Value::Bool(true), Datetime),
        ] {
            assert!(convert(v.clone(), ty).is_err(), "{v:?} as {ty}");
        }
    }
}
