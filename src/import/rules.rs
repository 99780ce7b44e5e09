//! The live table's own rules, checked before anything is written to it (issue 28, point 3).
//!
//! A table made by hand may say more than its columns' types: a UNIQUE index, a CHECK, a foreign
//! key, `varchar(20)`, `numeric(6,2)`, `smallint`, a type sheetport does not make (uuid, json, an
//! enum, a domain). A row that broke one used to fail the whole merge with the database's message
//! and no row number. Now, once every row is staged, each rule is one query over the staging table
//! listing the rows that break it (row errors with the sheet's row number, the column and the rule
//! in words, under the person's error rule) and one statement taking them out, so the merge meets
//! only rows the table takes. NOT NULL is checked earlier, per row ([`super::shape`]).
//!
//! The rules are read from the table by each dialect ([`sqlite`], [`postgres`]) into one
//! [`TableRules`]; which checks an import needs and in what order is decided here once
//! ([`steps`]) and rendered for either dialect.

pub mod postgres;
pub mod sqlite;

use super::names::quote;
use super::sink::{Kind, ROW_COLUMN};
use crate::format::count;
use crate::model::ColumnInfo;

/// What a table says about the rows it takes, beyond its columns' types and NOT NULL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableRules {
    /// Every column, in order, as the table declares it.
    pub columns: Vec<Declared>,
    pub checks: Vec<Check>,
    pub references: Vec<Reference>,
    /// The column sets of its unique indexes and primary key.
    pub unique: Vec<Vec<String>>,
}

/// One column as the table declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub name: String,
    /// Its type as the database writes it (PostgreSQL's `format_type`; SQLite's declaration).
    pub decl: String,
    /// What its type takes beyond sheetport's own type for it.
    pub limit: Option<Limit>,
    /// Its default when it is a constant: the value a check sees in a row that does not fill it.
    pub default: Option<String>,
    /// NOT NULL with a default: an empty value is no missing column, it does not take the default
    /// and the table refuses it. (NOT NULL without one is checked per row, see [`super::shape`].)
    pub filled: bool,
}

/// What a column's declared type takes beyond sheetport's type for it (PostgreSQL enforces these;
/// SQLite ignores a declared length or precision and has no other types).
#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// Text of at most this many characters (`varchar(n)`, `char(n)`).
    Chars(u64),
    /// `numeric(precision, scale)`: a value rounded to `scale` decimals has at most
    /// `precision - scale` digits before the point.
    Digits { precision: u32, scale: u32 },
    /// A whole number in this range (`smallint`, `integer`).
    Whole { min: i64, max: i64 },
    /// A type sheetport does not make: the value, staged as text, must read as it; `what` says
    /// what it takes in words ("a UUID", "one of: new, paid, sent").
    Reads { what: String },
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Its name (PostgreSQL names every one; SQLite only those written `CONSTRAINT name`).
    pub name: Option<String>,
    /// The expression, as the database keeps it.
    pub expr: String,
}

/// A foreign key: the table's `columns` hold values of `parent`'s `parent_columns`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub columns: Vec<String>,
    /// The parent table as SQL (quoted, with its schema on PostgreSQL).
    pub parent_sql: String,
    /// The parent table's name, for the person.
    pub parent: String,
    pub parent_columns: Vec<String>,
}

/// What an import asks of the rules: where its rows are staged and how they meet the table.
#[derive(Clone, Copy)]
pub struct Probe<'a> {
    pub kind: Kind,
    /// The staging table and the target, as SQL (quoted; qualified on PostgreSQL).
    pub staging: &'a str,
    pub target: &'a str,
    /// The staged data columns (without [`ROW_COLUMN`]).
    pub columns: &'a [ColumnInfo],
    /// The key the rows meet the table by (empty for an append).
    pub key: &'a [String],
    /// `Some(update)`: the rows meet the table by the key (upsert, insert-new); `None`: appended.
    pub meets: Option<bool>,
    /// The review table whose rows are decided already, when a review's fixed rows are checked:
    /// a unique value one of the rows it writes has is taken (`None`: the import's own check).
    pub reviewed: Option<&'a str>,
}

/// One step of the checks, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A statement run as it is: a function a check needs, or a column turned into the table's
    /// type once its values were checked (PostgreSQL).
    Exec(String),
    /// Rows that break a rule: `select` lists them (`row`, another row or 0, the value as text) in
    /// row order, then `delete` takes them out of the staging table.
    Find(Find),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Find {
    pub select: String,
    pub delete: String,
    /// The staged column the error names (an index into [`Probe::columns`]).
    pub column: usize,
    pub reason: Reason,
}

/// Which rule a row breaks, with what its words need.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    Empty { column: String },
    Limit { column: String, limit: Limit },
    Check { name: Option<String>, column: String },
    Refers { parent: String, columns: Vec<String> },
    RepeatsInFile { columns: Vec<String> },
    InTable { columns: Vec<String> },
}

impl Reason {
    /// The reason in words, for a row whose value (as text) is `value` and whose `other` row (for
    /// a repeat: the first row with it) is given.
    pub fn words(&self, value: &str, other: u64) -> String {
        match self {
            Reason::Empty { column } => format!("is empty, and the table's column {column:?} needs a value"),
            Reason::Limit { column, limit } => match limit {
                Limit::Chars(n) => format!(
                    "has {} characters; the table's column {column:?} takes at most {}",
                    count(value.chars().count() as u64),
                    count(*n)
                ),
                Limit::Digits { precision, scale } => {
                    let below = format!("1{}", "0".repeat(precision.saturating_sub(*scale) as usize));
                    let below = below.parse::<u64>().map_or(below, count);
                    let decimals = match scale {
                        0 => "whole numbers".to_owned(),
                        1 => "numbers with 1 decimal".to_owned(),
                        n => format!("numbers with {n} decimals"),
                    };
                    format!("is too large for the table's column {column:?}, which takes {decimals} below {below}")
                }
                Limit::Whole { min, max } => format!(
                    "is too large for the table's column {column:?}, which takes whole numbers from {} to {}",
                    signed(*min),
                    signed(*max)
                ),
                Limit::Reads { what } => format!("is not {what}, which the table's column {column:?} takes"),
            },
            Reason::Check { name: Some(name), .. } => format!("is not allowed by the table's rule {name:?}"),
            Reason::Check { name: None, column } => format!("is not allowed by a rule the table has on {column:?}"),
            Reason::Refers { parent, columns } => format!(
                "is not in the table {parent:?} ({}), which this column must refer to",
                names(columns, "column", "columns")
            ),
            Reason::RepeatsInFile { columns } => format!(
                "repeats the {} of row {}; the table takes each value only once",
                names(columns, "value of", "values of"),
                count(other)
            ),
            Reason::InTable { columns } => format!(
                "is in the table already ({}, in another row), and the table takes each value only once",
                names(columns, "column", "columns")
            ),
        }
    }
}

fn signed(n: i64) -> String {
    if n < 0 { format!("-{}", count(n.unsigned_abs())) } else { count(n as u64) }
}

fn names(columns: &[String], one: &str, many: &str) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("{c:?}")).collect();
    format!("{} {}", if columns.len() == 1 { one } else { many }, quoted.join(", "))
}

/// The checks an import into a table with `rules` needs, in order: the columns' own limits (and
/// on PostgreSQL each column of a type sheetport does not make turned into it), then the checks,
/// the foreign keys, and the unique indexes within the file and against the table. A rule on
/// columns the import does not fill is the table's own business and is left to it; so is the
/// unique index of the key a merge meets rows by (repeats of the key are reported already).
pub fn steps(rules: &TableRules, probe: &Probe<'_>) -> Vec<Step> {
    let mut out = Vec::new();
    let staged = |name: &str| probe.columns.iter().position(|c| c.name == name);
    let mut turned = Vec::new();
    for d in rules.columns.iter().filter(|d| d.filled) {
        let Some(i) = staged(&d.name) else { continue };
        let bad = format!("s.{} IS NULL", quote(&d.name));
        out.push(find(probe, i, "''", &bad, Reason::Empty { column: d.name.clone() }));
    }
    for (n, d) in rules.columns.iter().enumerate() {
        let (Some(i), Some(limit)) = (staged(&d.name), d.limit.as_ref()) else { continue };
        let c = format!("s.{}", quote(&d.name));
        let bad = match (limit, probe.kind) {
            (Limit::Chars(n), Kind::Postgres) => format!("char_length({c}) > {n}"),
            (Limit::Chars(n), Kind::Sqlite) => format!("length({c}) > {n}"),
            (Limit::Digits { precision, scale }, _) => format!(
                "round(abs(CAST({c} AS NUMERIC)), {scale}) >= CAST(1{} AS NUMERIC)",
                "0".repeat(precision.saturating_sub(*scale) as usize)
            ),
            (Limit::Whole { min, max }, _) => format!("({c} < {min} OR {c} > {max})"),
            (Limit::Reads { .. }, Kind::Sqlite) => continue,
            (Limit::Reads { .. }, Kind::Postgres) => {
                let f = format!("pg_temp.sheetport_reads_{n}");
                out.push(Step::Exec(reads_function(&f, &d.decl)));
                turned.push(format!(
                    "ALTER TABLE {} ALTER COLUMN {q} TYPE {t} USING CAST({q} AS {t})",
                    probe.staging,
                    q = quote(&d.name),
                    t = d.decl
                ));
                format!("{c} IS NOT NULL AND NOT {f}({c})")
            }
        };
        let reason = Reason::Limit { column: d.name.clone(), limit: limit.clone() };
        out.push(find(probe, i, &format!("CAST({c} AS TEXT)"), &bad, reason));
    }
    out.extend(turned.into_iter().map(Step::Exec));
    for check in &rules.checks {
        if let Some(step) = check_step(rules, probe, check) {
            out.push(step);
        }
    }
    for r in &rules.references {
        let Some(at) = r.columns.iter().map(|c| staged(c)).collect::<Option<Vec<usize>>>() else { continue };
        let mut bad = present(&r.columns);
        let on = pairs("p", &r.parent_columns, "s", &r.columns);
        bad.push(format!("NOT EXISTS (SELECT 1 FROM {} p WHERE {on})", r.parent_sql));
        // A table that refers to itself: a row may refer to another row of the same file.
        if r.parent_sql == probe.target && r.parent_columns.iter().all(|c| staged(c).is_some()) {
            let on = pairs("f", &r.parent_columns, "s", &r.columns);
            bad.push(format!("NOT EXISTS (SELECT 1 FROM {} f WHERE {on})", probe.staging));
        }
        let reason = Reason::Refers { parent: r.parent.clone(), columns: r.parent_columns.clone() };
        out.push(find(probe, at[0], &text_of(&r.columns), &bad.join(" AND "), reason));
    }
    let the_key = |set: &[String]| probe.meets.is_some() && same_set(set, probe.key);
    let sets: Vec<(&Vec<String>, usize)> = rules
        .unique
        .iter()
        .filter(|set| !the_key(set))
        .filter_map(|set| set.iter().map(|c| staged(c)).collect::<Option<Vec<usize>>>().map(|at| (set, at[0])))
        .collect();
    for &(set, at) in &sets {
        out.push(repeats(probe, set, at));
        if let Some(review) = probe.reviewed {
            out.push(repeats_reviewed(probe, review, set, at));
        }
    }
    for &(set, at) in &sets {
        let mut bad = present(set);
        let mut on = vec![pairs("t", set, "s", set)];
        if probe.meets == Some(true) {
            // An upsert's row meets its own key's row: that row is the one it changes.
            on.push(format!("NOT ({})", pairs("t", probe.key, "s", probe.key)));
        }
        bad.push(format!("EXISTS (SELECT 1 FROM {} t WHERE {})", probe.target, on.join(" AND ")));
        let reason = Reason::InTable { columns: set.clone() };
        out.push(find(probe, at, &text_of(set), &bad.join(" AND "), reason));
    }
    out
}

/// A find's "other row" when there is none. PostgreSQL reads a bare 0 as a 4-byte integer; the
/// row numbers are 8.
const NO_ROW: &str = "CAST(0 AS BIGINT)";

/// The rows a check finds: `bad` over the staging table `s`, only rows that would be written.
fn find(probe: &Probe<'_>, column: usize, value: &str, bad: &str, reason: Reason) -> Step {
    let r = quote(ROW_COLUMN);
    let from = format!("{} s WHERE ({bad}){}", probe.staging, written(probe));
    Step::Find(Find {
        select: format!("SELECT s.{r}, {NO_ROW}, {value} FROM {from} ORDER BY s.{r}"),
        delete: format!("DELETE FROM {} WHERE {r} IN (SELECT s.{r} FROM {from})", probe.staging),
        column,
        reason,
    })
}

/// The rows a merge writes: an insert-new leaves the rows of keys the table has alone, so their
/// values need not suit it.
fn written(probe: &Probe<'_>) -> String {
    if probe.meets != Some(false) {
        return String::new();
    }
    format!(" AND NOT EXISTS (SELECT 1 FROM {} w WHERE {})", probe.target, pairs("w", probe.key, "s", probe.key))
}

/// Rows whose values of `set` an earlier row of the file had.
fn repeats(probe: &Probe<'_>, set: &[String], at: usize) -> Step {
    let r = quote(ROW_COLUMN);
    let cols: Vec<String> = set.iter().map(|c| format!("s.{}", quote(c))).collect();
    let inner = format!(
        "SELECT s.{r} AS {r}, min(s.{r}) OVER (PARTITION BY {}) AS _sheetport_first, {} AS _sheetport_value \
         FROM {} s WHERE {}{}",
        cols.join(", "),
        text_of(set),
        probe.staging,
        present(set).join(" AND "),
        written(probe)
    );
    let from = format!("({inner}) d WHERE d.{r} > d._sheetport_first");
    Step::Find(Find {
        select: format!("SELECT d.{r}, d._sheetport_first, d._sheetport_value FROM {from} ORDER BY d.{r}"),
        delete: format!("DELETE FROM {} WHERE {r} IN (SELECT d.{r} FROM {from})", probe.staging),
        column: at,
        reason: Reason::RepeatsInFile { columns: set.to_vec() },
    })
}

/// Rows whose values of `set` a row the review `review` writes has (a fixed row, checked against
/// the rows decided before it): the first such row is named, as a repeat within the file is.
fn repeats_reviewed(probe: &Probe<'_>, review: &str, set: &[String], at: usize) -> Step {
    let r = quote(ROW_COLUMN);
    let writes = format!("w.{} <> {}", quote(super::review::KIND_COLUMN), super::review::UNCHANGED);
    let on = pairs("w", set, "s", set);
    let first = format!("(SELECT min(w.{r}) FROM {review} w WHERE {writes} AND {on})");
    let from = format!(
        "{} s WHERE {} AND EXISTS (SELECT 1 FROM {review} w WHERE {writes} AND {on}){}",
        probe.staging,
        present(set).join(" AND "),
        written(probe)
    );
    Step::Find(Find {
        select: format!("SELECT s.{r}, CAST({first} AS BIGINT), {} FROM {from} ORDER BY s.{r}", text_of(set)),
        delete: format!("DELETE FROM {} WHERE {r} IN (SELECT s.{r} FROM {from})", probe.staging),
        column: at,
        reason: Reason::RepeatsInFile { columns: set.to_vec() },
    })
}

/// A CHECK over each staged row as the table would hold it: its staged values as the column's
/// type, a column the import does not fill as its constant default (an upsert's changed row: as
/// the table has it), anything else NULL (which a check lets pass, as the database does).
fn check_step(rules: &TableRules, probe: &Probe<'_>, check: &Check) -> Option<Step> {
    let mentioned = mentions(&check.expr);
    let column = rules
        .columns
        .iter()
        .filter(|d| mentioned.iter().any(|m| m.eq_ignore_ascii_case(&d.name)))
        .find_map(|d| probe.columns.iter().position(|c| c.name == d.name))?;
    let r = quote(ROW_COLUMN);
    let keyed = probe.meets.is_some() && !probe.key.is_empty();
    let mut cols = vec![format!("s.{r} AS {r}")];
    for d in &rules.columns {
        let q = quote(&d.name);
        let value = if probe.columns.iter().any(|c| c.name == d.name) {
            match probe.kind {
                Kind::Postgres => format!("CAST(s.{q} AS {})", d.decl),
                Kind::Sqlite => format!("s.{q}"),
            }
        } else {
            let default = d.default.clone().unwrap_or_else(|| "NULL".into());
            let default = match probe.kind {
                Kind::Postgres => format!("CAST({default} AS {})", d.decl),
                Kind::Sqlite => default,
            };
            if keyed {
                format!("CASE WHEN t.{} IS NULL THEN {default} ELSE t.{q} END", quote(&probe.key[0]))
            } else {
                default
            }
        };
        cols.push(format!("{value} AS {q}"));
    }
    let join = if keyed {
        format!(" LEFT JOIN {} t ON {}", probe.target, pairs("t", probe.key, "s", probe.key))
    } else {
        String::new()
    };
    let rows = format!("(SELECT {} FROM {} s{join} WHERE 1 = 1{})", cols.join(", "), probe.staging, written(probe));
    let q = quote(&probe.columns[column].name);
    let from = format!("{rows} x WHERE NOT ({})", check.expr);
    Some(Step::Find(Find {
        select: format!("SELECT x.{r}, {NO_ROW}, CAST(x.{q} AS TEXT) FROM {from} ORDER BY x.{r}"),
        delete: format!("DELETE FROM {} WHERE {r} IN (SELECT x.{r} FROM {from})", probe.staging),
        column,
        reason: Reason::Check { name: check.name.clone(), column: probe.columns[column].name.clone() },
    }))
}

/// A function that says whether a text reads as `decl` (PostgreSQL 15 has no `pg_input_is_valid`;
/// one per column, temporary: about 2.5 µs a value, measured on 200,000 uuids).
fn reads_function(name: &str, decl: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {name}(v text) RETURNS boolean LANGUAGE plpgsql AS $sheetport$ \
         BEGIN PERFORM CAST(v AS {decl}); RETURN true; EXCEPTION WHEN others THEN RETURN false; END $sheetport$"
    )
}

fn present(set: &[String]) -> Vec<String> {
    set.iter().map(|c| format!("s.{} IS NOT NULL", quote(c))).collect()
}

fn pairs(a: &str, left: &[String], b: &str, right: &[String]) -> String {
    let on: Vec<String> = left.iter().zip(right).map(|(l, r)| format!("{a}.{} = {b}.{}", quote(l), quote(r))).collect();
    on.join(" AND ")
}

/// The values of `set` in a row of `s`, as one text.
fn text_of(set: &[String]) -> String {
    let parts: Vec<String> = set.iter().map(|c| format!("COALESCE(CAST(s.{} AS TEXT), '')", quote(c))).collect();
    parts.join(" || ', ' || ")
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|c| b.contains(c))
}

/// The names an expression mentions: its bare words and quoted names, outside string literals.
pub fn mentions(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                while let Some(c) = chars.next() {
                    if c == '\'' && chars.peek() != Some(&'\'') {
                        break;
                    } else if c == '\'' {
                        chars.next();
                    }
                }
            }
            '"' | '`' | '[' => {
                let end = if c == '[' { ']' } else { c };
                let mut name = String::new();
                while let Some(c) = chars.next() {
                    if c == end && chars.peek() == Some(&end) && end != ']' {
                        chars.next();
                        name.push(c);
                    } else if c == end {
                        break;
                    } else {
                        name.push(c);
                    }
                }
                out.push(name);
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut name = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '$' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(name);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnType;

    fn col(name: &str) -> ColumnInfo {
        ColumnInfo { name: name.into(), label: name.into(), ty: ColumnType::Text, declared: None }
    }

    fn declared(name: &str, limit: Option<Limit>) -> Declared {
        Declared { name: name.into(), decl: "text".into(), limit, default: None, filled: false }
    }

    #[test]
    fn an_expression_mentions_its_names_and_not_its_strings() {
        assert_eq!(mentions("qty > 0 AND \"Unit \"\"price\"\"\" < 5"), vec!["qty", "AND", "Unit \"price\""]);
        assert_eq!(mentions("status IN ('new', 'it''s qty')"), vec!["status", "IN"]);
        assert_eq!(mentions("[a b] + `c`"), vec!["a b", "c"]);
    }

    #[test]
    fn a_merge_key_is_not_checked_again_and_rules_on_columns_not_filled_are_left_to_the_table() {
        let rules = TableRules {
            columns: vec![declared("sku", None), declared("email", None), declared("note", Some(Limit::Chars(3)))],
            unique: vec![vec!["sku".into()], vec!["email".into()], vec!["note".into()]],
            ..TableRules::default()
        };
        let cols = [col("sku"), col("email")];
        let key = ["sku".to_owned()];
        let probe = Probe {
            kind: Kind::Sqlite,
            staging: "s",
            target: "t",
            columns: &cols,
            key: &key,
            meets: Some(true),
            reviewed: None,
        };
        let steps = steps(&rules, &probe);
        let reasons: Vec<&Reason> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Find(f) => Some(&f.reason),
                Step::Exec(_) => None,
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                &Reason::RepeatsInFile { columns: vec!["email".into()] },
                &Reason::InTable { columns: vec!["email".into()] }
            ]
        );
        let Step::Find(against) = &steps[1] else { panic!("a find") };
        assert!(against.select.contains("NOT (t.\"sku\" = s.\"sku\")"), "{}", against.select);
    }

    #[test]
    fn the_words_name_the_rule_and_what_it_takes() {
        let limit = |l| Reason::Limit { column: "qty".into(), limit: l };
        assert_eq!(
            limit(Limit::Whole { min: -32768, max: 32767 }).words("40000", 0),
            "is too large for the table's column \"qty\", which takes whole numbers from -32,768 to 32,767"
        );
        assert_eq!(
            limit(Limit::Digits { precision: 6, scale: 2 }).words("12345.5", 0),
            "is too large for the table's column \"qty\", which takes numbers with 2 decimals below 10,000"
        );
        assert_eq!(
            limit(Limit::Chars(3)).words("abcd", 0),
            "has 4 characters; the table's column \"qty\" takes at most 3"
        );
        assert_eq!(
            Reason::RepeatsInFile { columns: vec!["email".into()] }.words("a@b", 12),
            "repeats the value of \"email\" of row 12; the table takes each value only once"
        );
    }
}
