//! What an import's final transaction does to its table, decided once for both databases (issue
//! 28, step 0). Each sink asks [`decide`] with the mode, whether the table exists (read under its
//! lock, in that transaction) and whether the import has a key, and renders the [`Action`] in its
//! own SQL; the sentences a refusal reads are here too. Before this, both sinks held the same match
//! on the mode, the same guards in the same order, and the same sentences, written twice.

use super::super::ImportError;
use super::super::names::quote;
use crate::model::ImportMode;

/// What the final transaction does with the staged rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Add them to the existing table (append).
    Append,
    /// Merge them into the existing table by the key: rows of new keys go in; rows of keys it
    /// holds are updated where they differ (`update`: upsert) or left as they are (insert-new).
    Merge { update: bool },
    /// A new table with the key's unique index, filled from the staged rows; the table in its way
    /// (a replace's) is retired first (`retire`).
    CreateKeyed { retire: bool },
    /// The staged rows take the place of the existing table, which is retired (replace).
    Replace,
    /// The staged rows become the table (a new one).
    Create,
}

/// The action for `mode` on `target`, or the refusal in words (a create of a name taken).
pub fn decide(mode: ImportMode, exists: bool, keyed: bool, target: &str) -> Result<Action, ImportError> {
    Ok(match mode {
        ImportMode::Create if exists => return Err(taken(target)),
        ImportMode::Append if exists => Action::Append,
        ImportMode::Upsert | ImportMode::InsertNew if exists => Action::Merge { update: mode == ImportMode::Upsert },
        _ if keyed => Action::CreateKeyed { retire: exists },
        ImportMode::Replace if exists => Action::Replace,
        _ => Action::Create,
    })
}

/// A create into a name a table has.
fn taken(target: &str) -> ImportError {
    ImportError::Conflict(format!(
        "a table named {target:?} already exists; choose another name, or what to do with it: replace it, add the \
         rows to it (append), or update rows by a key (upsert, insert-new)"
    ))
}

/// The rows that go in: the staging table's, or with `dedupe` only the first row of each key (rows
/// of a key seen before were reported). A subquery without an alias, which PostgreSQL wants given.
pub fn source(staging: &str, key: &[String], dedupe: bool) -> String {
    if !dedupe {
        return staging.to_owned();
    }
    let keys: Vec<String> = key.iter().map(|k| quote(k)).collect();
    format!(
        "(SELECT * FROM {staging} WHERE {r} IN (SELECT min({r}) FROM {staging} GROUP BY {}))",
        keys.join(", "),
        r = quote(super::ROW_COLUMN)
    )
}

/// The key's unique index could not be made on the existing table: it holds a key twice.
pub fn repeated_key(target: &str) -> ImportError {
    ImportError::Conflict(format!(
        "the table {target:?} already holds some key more than once, so it cannot get the unique index the key \
         needs; remove the repeated rows from it, or choose other key columns"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ImportMode::*;

    #[test]
    fn each_mode_meets_a_table_or_its_absence_as_it_says() {
        let cases = [
            // mode, the table exists, keyed: the action (None: refused)
            (Create, false, false, Some(Action::Create)),
            (Create, false, true, Some(Action::CreateKeyed { retire: false })),
            (Create, true, false, None),
            (Create, true, true, None),
            (Append, true, false, Some(Action::Append)),
            (Append, false, false, Some(Action::Create)),
            (Replace, true, false, Some(Action::Replace)),
            (Replace, true, true, Some(Action::CreateKeyed { retire: true })),
            (Replace, false, false, Some(Action::Create)),
            (Replace, false, true, Some(Action::CreateKeyed { retire: false })),
            (Upsert, true, true, Some(Action::Merge { update: true })),
            (Upsert, false, true, Some(Action::CreateKeyed { retire: false })),
            (InsertNew, true, true, Some(Action::Merge { update: false })),
            (InsertNew, false, true, Some(Action::CreateKeyed { retire: false })),
        ];
        for (mode, exists, keyed, want) in cases {
            let got = decide(mode, exists, keyed, "sales").ok();
            assert_eq!(got, want, "{mode:?}, exists {exists}, keyed {keyed}");
        }
        let refused = decide(Create, true, false, "sales").unwrap_err().to_string();
        assert!(refused.starts_with("a table named \"sales\" already exists; choose another name"), "{refused}");
    }
}
