//! A SQLite table's rules (see [`super`]): its checks, read from the `CREATE TABLE` statement it
//! was made with (SQLite keeps no other record of them), its foreign keys and its unique indexes.
//! SQLite ignores a declared length or precision, so its columns have no limits.

use super::{Check, Declared, Reference, TableRules};
use crate::import::ImportError;
use crate::import::names::quote;
use crate::model::TableShape;
use rusqlite::Connection;

/// Table `name` as an import into it sees it (see `sink::sqlite::shape`) and its rules, read on one
/// connection, or `None` when there is no such table.
pub fn read(conn: &Connection, name: &str) -> Result<Option<(TableShape, TableRules)>, ImportError> {
    let Some(shape) = crate::import::sink::sqlite::shape(conn, name)? else { return Ok(None) };
    let sql: String = conn
        .query_row("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |r| r.get(0))
        .unwrap_or_default();
    let columns: Vec<(String, String, Option<String>, bool)> = conn
        .prepare("SELECT name, type, dflt_value, \"notnull\" FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut references: Vec<Reference> = Vec::new();
    let keys: Vec<(i64, String, String, Option<String>)> = conn
        .prepare("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut i = 0;
    while i < keys.len() {
        let id = keys[i].0;
        let group: Vec<&(i64, String, String, Option<String>)> = keys[i..].iter().take_while(|k| k.0 == id).collect();
        i += group.len();
        let parent = group[0].1.clone();
        // No columns named: the parent's primary key.
        let parent_columns: Vec<String> = if group.iter().all(|k| k.3.is_some()) {
            group.iter().filter_map(|k| k.3.clone()).collect()
        } else {
            conn.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?
                .query_map([&parent], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        if parent_columns.len() != group.len() {
            continue; // a parent with no such key: the database would refuse every row; not ours to say
        }
        references.push(Reference {
            columns: group.iter().map(|k| k.2.clone()).collect(),
            parent_sql: quote(&parent),
            parent,
            parent_columns,
        });
    }
    let unique = shape.unique.clone();
    Ok(Some((
        shape,
        TableRules {
            columns: columns
                .into_iter()
                .map(|(name, decl, default, not_null)| Declared {
                    name,
                    decl,
                    limit: None,
                    filled: not_null && default.is_some(),
                    default: default.filter(|d| constant(d)),
                })
                .collect(),
            checks: checks(&sql),
            references,
            unique,
        },
    )))
}

/// A default a check may read in place of a value: a literal, not `CURRENT_TIMESTAMP` or a call.
fn constant(default: &str) -> bool {
    let d = default.trim();
    !d.contains('(') && !d.to_ascii_uppercase().starts_with("CURRENT_")
}

/// The CHECK constraints of a `CREATE TABLE` statement, column and table constraints alike, with
/// their names where given (`CONSTRAINT name CHECK (...)`).
pub fn checks(sql: &str) -> Vec<Check> {
    let tokens = tokens(sql);
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let Token::Word(w) = t else { continue };
        if !w.eq_ignore_ascii_case("CHECK") {
            continue;
        }
        let Some(Token::Group(expr)) = tokens.get(i + 1) else { continue };
        let name = match (i.checked_sub(2).map(|j| &tokens[j]), i.checked_sub(1).map(|j| &tokens[j])) {
            (Some(Token::Word(c)), Some(Token::Word(n) | Token::Quoted(n))) if c.eq_ignore_ascii_case("CONSTRAINT") => {
                Some(n.clone())
            }
            _ => None,
        };
        out.push(Check { name, expr: expr.trim().to_owned() });
    }
    out
}

/// The statement's top-level words, quoted names and parenthesised groups (their text, inside the
/// outermost parentheses of the column list).
#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Group(String),
    Other,
}

fn tokens(sql: &str) -> Vec<Token> {
    // The column list is the first parenthesised group outside a quoted name (a table made by hand
    // may be called "stock (2024)"); its own tokens are what we read.
    let b = sql.as_bytes();
    let mut open = 0;
    while open < b.len() && b[open] != b'(' {
        open = if matches!(b[open], b'\'' | b'"' | b'`' | b'[') { quoted(sql, open).0 } else { open + 1 };
    }
    if open >= b.len() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = open + 1;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' | b'[' => {
                let (end, text) = quoted(sql, i);
                out.push(if c == b'\'' { Token::Other } else { Token::Quoted(text) });
                i = end;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(b.len(), |n| i + n + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            }
            b'(' => {
                let end = group_end(sql, i);
                out.push(Token::Group(sql[i + 1..end.saturating_sub(1).max(i + 1)].to_owned()));
                i = end;
            }
            b')' => break,
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80) {
                    i += 1;
                }
                out.push(Token::Word(sql[start..i].to_owned()));
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                out.push(Token::Other);
                i += 1;
            }
        }
    }
    out
}

/// The end (one past) of the quoted text starting at `i`, and the text with doubled quotes undone.
fn quoted(sql: &str, i: usize) -> (usize, String) {
    let b = sql.as_bytes();
    let close = if b[i] == b'[' { b']' } else { b[i] };
    let mut j = i + 1;
    let mut text = Vec::new();
    while j < b.len() {
        if b[j] == close {
            if close != b']' && b.get(j + 1) == Some(&close) {
                text.push(close);
                j += 2;
                continue;
            }
            return (j + 1, String::from_utf8_lossy(&text).into_owned());
        }
        text.push(b[j]);
        j += 1;
    }
    (b.len(), String::from_utf8_lossy(&text).into_owned())
}

/// One past the parenthesis that closes the one at `i`, over strings and quoted names.
fn group_end(sql: &str, i: usize) -> usize {
    let b = sql.as_bytes();
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'\'' | b'"' | b'`' | b'[' => {
                j = quoted(sql, j).0;
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_read_from_the_statement_with_their_names() {
        let sql = "CREATE TABLE \"stock\" (sku TEXT PRIMARY KEY, qty INTEGER CHECK (qty >= 0), -- a (comment\n \
                   note TEXT DEFAULT 'CHECK (x)', CONSTRAINT \"cheap enough\" CHECK (price < 1000 AND (qty + 1) > 0), \
                   price REAL, CHECK(note <> ')'))";
        let got = checks(sql);
        let named = checks("CREATE TABLE \"stock (2024)\" (qty INTEGER CHECK (qty > 0))");
        assert_eq!(named, vec![Check { name: None, expr: "qty > 0".into() }]);
        assert_eq!(
            got,
            vec![
                Check { name: None, expr: "qty >= 0".into() },
                Check { name: Some("cheap enough".into()), expr: "price < 1000 AND (qty + 1) > 0".into() },
                Check { name: None, expr: "note <> ')'".into() },
            ]
        );
    }
}
