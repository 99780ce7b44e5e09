//! A PostgreSQL table's rules (see [`super`]), read from the catalogs: each column's declared type
//! with what it takes beyond sheetport's type for it, the checks, the foreign keys and the unique
//! indexes.

use super::{Check, Declared, Limit, Reference, TableRules};
use crate::import::ImportError;
use crate::import::names::{qualify, quote};
use crate::model::{ColumnType, TableShape};
use sqlx::PgConnection;

/// Enum labels named in a reason; past these, "…".
const LABELS: usize = 12;

/// How sheetport meets a column of PostgreSQL type `typname` (its base type's name; `typtype` 'e'
/// for an enum, 'd' for a domain), declared as `decl`: the type it stages values as, what the
/// declared type takes beyond that, and whether the values are staged as text and turned into
/// the declared type once checked (a type sheetport does not make).
pub fn column(typname: &str, typtype: &str, decl: &str, labels: &[String]) -> (ColumnType, Option<Limit>, bool) {
    let sized = |d: &str| -> Option<Vec<u32>> {
        let inner = d.split_once('(')?.1.strip_suffix(')')?;
        inner.split(',').map(|n| n.trim().parse().ok()).collect()
    };
    if typtype == "e" {
        let mut shown: Vec<&str> = labels.iter().take(LABELS).map(String::as_str).collect();
        if labels.len() > LABELS {
            shown.push("…");
        }
        return (ColumnType::Text, Some(Limit::Reads { what: format!("one of: {}", shown.join(", ")) }), true);
    }
    if typtype == "d" {
        return (ColumnType::Text, Some(Limit::Reads { what: format!("a value of the type {decl}") }), true);
    }
    match typname {
        "int2" => (ColumnType::Integer, Some(Limit::Whole { min: i16::MIN.into(), max: i16::MAX.into() }), false),
        "int4" => (ColumnType::Integer, Some(Limit::Whole { min: i32::MIN.into(), max: i32::MAX.into() }), false),
        "int8" => (ColumnType::Integer, None, false),
        "float4" | "float8" => (ColumnType::Real, None, false),
        "numeric" => {
            let limit = match sized(decl).as_deref() {
                Some([p]) => Some(Limit::Digits { precision: *p, scale: 0 }),
                Some([p, s]) if s <= p => Some(Limit::Digits { precision: *p, scale: *s }),
                _ => None,
            };
            (ColumnType::Real, limit, false)
        }
        "bool" => (ColumnType::Boolean, None, false),
        "date" => (ColumnType::Date, None, false),
        "timestamp" | "timestamptz" => (ColumnType::Datetime, None, false),
        "varchar" | "bpchar" => {
            let limit = match sized(decl).as_deref() {
                Some([n]) => Some(Limit::Chars((*n).into())),
                _ => None,
            };
            (ColumnType::Text, limit, false)
        }
        "text" | "name" | "citext" => (ColumnType::Text, None, false),
        other => {
            let what = match other {
                "uuid" => "a UUID (like 123e4567-e89b-12d3-a456-426614174000)".to_owned(),
                "json" | "jsonb" => "valid JSON".to_owned(),
                "time" | "timetz" => "a time of day (like 14:30)".to_owned(),
                "interval" => "a length of time (like 2 hours 30 minutes, or 02:30:00)".to_owned(),
                "inet" | "cidr" => "an IP address".to_owned(),
                _ => format!("a value of the type {decl}"),
            };
            (ColumnType::Text, Some(Limit::Reads { what }), true)
        }
    }
}

/// A column as the catalogs describe it: name, declared type, `typtype`, its (base) type's name,
/// default, enum labels, NOT NULL with a default.
type ColumnRow = (String, String, String, String, Option<String>, Vec<String>, bool);

/// Table `name` in `schema` as an import into it sees it (see `sink::postgres::shape`) and its
/// rules, read on one connection, or `None` when there is no such table.
pub async fn read(
    conn: &mut PgConnection,
    schema: &str,
    name: &str,
) -> Result<Option<(TableShape, TableRules)>, ImportError> {
    let Some(shape) = crate::import::sink::postgres::shape_in(conn, schema, name).await? else { return Ok(None) };
    let table = qualify(schema, name);
    let rows: Vec<ColumnRow> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typtype::text, \
         COALESCE(b.typname, t.typname)::text, pg_get_expr(d.adbin, d.adrelid), \
         ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), \
         a.attnotnull AND (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type b ON b.oid = t.typbasetype \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
    )
    .bind(&table)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let columns = rows
        .into_iter()
        .map(|(name, decl, typtype, typname, default, labels, filled)| Declared {
            limit: column(&typname, &typtype, &decl, &labels).1,
            filled,
            default: default.filter(|d| constant(d)),
            name,
            decl,
        })
        .collect();
    let checks: Vec<(String, String)> = sqlx::query_as(
        "SELECT conname::text, pg_get_expr(conbin, conrelid) FROM pg_constraint \
         WHERE conrelid = to_regclass($1) AND contype = 'c' ORDER BY conname",
    )
    .bind(&table)
    .fetch_all(&mut *conn)
    .await?;
    let references: Vec<(Vec<String>, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), \
         n.nspname::text, p.relname::text, \
         ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) \
         FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid JOIN pg_namespace n ON n.oid = p.relnamespace \
         WHERE c.conrelid = to_regclass($1) AND c.contype = 'f' ORDER BY c.conname",
    )
    .bind(&table)
    .fetch_all(&mut *conn)
    .await?;
    let unique = shape.unique.clone();
    Ok(Some((
        shape,
        TableRules {
            columns,
            checks: checks.into_iter().map(|(name, expr)| Check { name: Some(name), expr }).collect(),
            references: references
                .into_iter()
                .map(|(columns, nsp, parent, parent_columns)| Reference {
                    columns,
                    parent_sql: format!("{}.{}", quote(&nsp), quote(&parent)),
                    parent,
                    parent_columns,
                })
                .collect(),
            unique,
        },
    )))
}

/// A default a check may read in place of a value: a literal with its cast, not a call (`nextval`
/// would take a million sequence numbers).
fn constant(default: &str) -> bool {
    !default.contains('(')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_is_staged_as_sheetports_own_with_what_it_takes_beyond() {
        assert_eq!(
            column("numeric", "b", "numeric(6,2)", &[]),
            (ColumnType::Real, Some(Limit::Digits { precision: 6, scale: 2 }), false)
        );
        assert_eq!(column("varchar", "b", "character varying(5)", &[]).1, Some(Limit::Chars(5)));
        assert_eq!(column("varchar", "b", "character varying", &[]).1, None);
        assert_eq!(column("int2", "b", "smallint", &[]).1, Some(Limit::Whole { min: -32768, max: 32767 }));
        // `interval` and `point` hold "INT" but are no integers.
        assert_eq!(column("interval", "b", "interval", &[]).0, ColumnType::Text);
        assert!(column("point", "b", "point", &[]).2);
        let labels = vec!["new".to_owned(), "paid".to_owned()];
        assert_eq!(column("mood", "e", "mood", &labels).1, Some(Limit::Reads { what: "one of: new, paid".into() }));
    }
}
