//! Where rows go. A sink owns one import's staging table: it creates it from the inferred columns,
//! takes rows in committed batches, and at the end swaps it into place in one transaction (or
//! drops it), so the target table holds either the whole import or none of it.

pub mod sqlite;

use crate::model::ColumnType;

/// Prefix of every staging table, so leftovers from a killed process can be found and dropped.
pub const STAGING_PREFIX: &str = "_sheetport_staging_";

/// The SQL type a column is declared with. SQLite reads these for affinity; the names also tell
/// the table viewer how to show the values.
pub fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "INTEGER",
        ColumnType::Real => "REAL",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Datetime => "DATETIME",
        ColumnType::Text => "TEXT",
    }
}

/// Inverse of [`sql_type`], for tables read back from the database.
pub fn column_type_of(decl: &str) -> ColumnType {
    match decl.to_ascii_uppercase().as_str() {
        "INTEGER" | "BIGINT" | "INT" => ColumnType::Integer,
        "REAL" | "DOUBLE PRECISION" | "FLOAT" => ColumnType::Real,
        "BOOLEAN" => ColumnType::Boolean,
        "DATE" => ColumnType::Date,
        "DATETIME" | "TIMESTAMP" => ColumnType::Datetime,
        _ => ColumnType::Text,
    }
}
