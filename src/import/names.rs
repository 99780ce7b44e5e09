//! Turning what people type into spreadsheets into SQL names: header cells become safe, unique
//! column identifiers, and file names become table names. The original text is kept separately
//! for display; the identifiers are still always quoted when they reach SQL.

use super::value::Value;
use std::collections::HashSet;

/// Longest identifier we make: PostgreSQL's limit, so a name works on both databases.
const MAX_IDENT: usize = 63;

/// Lowercase ASCII letters, digits and single underscores; never empty, never starting with a digit.
pub fn sanitize(raw: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_IDENT));
    for c in raw.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'a'..='z' | '0'..='9' => c,
            'à'..='å' => 'a',
            'è'..='ë' => 'e',
            'ì'..='ï' => 'i',
            'ò'..='ö' | 'ø' => 'o',
            'ù'..='ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            'ß' => 's',
            _ => '_',
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
        if out.len() >= MAX_IDENT {
            break;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        return fallback.to_owned();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
        out.truncate(MAX_IDENT);
    }
    if out.starts_with("sqlite_") || out.starts_with("_sheetport") || out.starts_with("pg_") {
        out.insert_str(0, "t_");
        out.truncate(MAX_IDENT);
    }
    out
}

/// The header row's cells as display labels: their text, trimmed, without trailing blanks.
pub fn header_labels(cells: &[Value]) -> Vec<String> {
    let mut labels: Vec<String> = cells
        .iter()
        .map(|v| {
            let mut s = String::new();
            v.write_text(&mut s);
            s.trim().to_owned()
        })
        .collect();
    while labels.last().is_some_and(String::is_empty) {
        labels.pop();
    }
    labels
}

/// Column names the databases keep for themselves: PostgreSQL's system columns (a table cannot
/// have a column `xmin`, a bounding box's header) and SQLite's names for the row id (a column
/// `rowid` would hide it from the table viewer's `ORDER BY rowid`).
const RESERVED_COLUMNS: [&str; 9] = ["tableoid", "xmin", "cmin", "xmax", "cmax", "ctid", "oid", "rowid", "_rowid_"];

/// Column identifiers for a header row: sanitized, `column_N` for blank cells, and made unique
/// (case-insensitively, as SQL compares them) with `_2`, `_3`, ... suffixes.
pub fn column_names<S: AsRef<str>>(header: &[S]) -> Vec<String> {
    let mut taken = HashSet::with_capacity(header.len() + RESERVED_COLUMNS.len());
    // A header named after a system column takes the next free name (`xmin` → `xmin_2`).
    taken.extend(RESERVED_COLUMNS.iter().map(|c| c.to_string()));
    header
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let base = sanitize(raw.as_ref(), &format!("column_{}", i + 1));
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                let suffix = format!("_{n}");
                let keep = base.len().min(MAX_IDENT - suffix.len());
                name = format!("{}{suffix}", &base[..keep]);
                n += 1;
            }
            name
        })
        .collect()
}

/// A table name from an uploaded file's name: the stem, sanitized (`Sales 2024 (final).xlsx` →
/// `sales_2024_final`).
pub fn table_name_for_file(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => base,
    };
    sanitize(stem, "imported")
}

/// `name` in double quotes, with inner quotes doubled: valid in SQLite and PostgreSQL alike.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `parts` joined by `op` (`" OR "`, `" AND "`). Past 100 parts, as a balanced tree of parentheses:
/// SQLite refuses an expression deeper than 1,000, and a chain of 1,500 ORs (a 1,500-column
/// upsert's "did any value change") is 1,500 deep ("Expression tree is too large").
pub fn joined(parts: &[String], op: &str) -> String {
    if parts.len() <= 100 {
        return parts.join(op);
    }
    fn tree(parts: &[String], op: &str) -> String {
        match parts {
            [one] => one.clone(),
            _ => {
                let (a, b) = parts.split_at(parts.len() / 2);
                format!("({}{op}{})", tree(a, op), tree(b, op))
            }
        }
    }
    tree(parts, op)
}

/// `"schema"."name"`: a table named with its schema, so no search path can send it elsewhere
/// (PostgreSQL looks in `pg_catalog` before the search path for an unqualified name).
pub fn qualify(schema: &str, name: &str) -> String {
    format!("{}.{}", quote(schema), quote(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_named_after_system_columns_take_the_next_free_name() {
        assert_eq!(
            column_names(&["xmin", "xmax", "ctid", "rowid", "a"]),
            ["xmin_2", "xmax_2", "ctid_2", "rowid_2", "a"]
        );
        assert_eq!(column_names(&["xmin", "xmin_2"]), ["xmin_2", "xmin_2_2"]);
    }

    #[test]
    fn header_cells_become_safe_unique_identifiers() {
        let header = ["Order ID", "order id", "", "2024 Sales ($)", "Prénom", "select", "ORDER_ID", "  ", "a\"b"];
        assert_eq!(
            column_names(&header),
            ["order_id", "order_id_2", "column_3", "_2024_sales", "prenom", "select", "order_id_3", "column_8", "a_b"]
        );
    }

    #[test]
    fn long_headers_are_cut_and_still_unique() {
        let long = "x".repeat(200);
        let names = column_names(&[long.as_str(), long.as_str()]);
        assert_eq!(names[0].len(), 63);
        assert_eq!(names[1].len(), 63);
        assert!(names[1].ends_with("_2"));
    }

    #[test]
    fn file_names_become_table_names() {
        assert_eq!(table_name_for_file("Sales 2024 (final).xlsx"), "sales_2024_final");
        assert_eq!(table_name_for_file("C:\\Users\\me\\data.csv"), "data");
        assert_eq!(table_name_for_file(".xlsx"), "xlsx");
        assert_eq!(table_name_for_file("???.csv"), "imported");
        assert_eq!(table_name_for_file("sqlite_master.csv"), "t_sqlite_master");
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
