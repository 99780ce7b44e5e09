//! Column type inference. Types are chosen from a sample of the first rows so the staging table can
//! be created before the whole file is read; every later value is still checked, and a column that
//! meets a value its type cannot hold is widened (the sink then rebuilds the table at the end).

use super::names::column_names;
use super::value::Value;
use crate::model::{ColumnInfo, ColumnType};

/// Rows read before the column types are chosen (by an import, and by a preview alike).
pub const SAMPLE_ROWS: usize = 1000;

/// The columns a sheet makes: names from the header labels, types from the sampled rows. The
/// width is the widest of the header and the rows; every sample row is padded to it.
pub fn describe(mut labels: Vec<String>, sample: &mut [Vec<Value>]) -> Vec<ColumnInfo> {
    let width = sample.iter().map(Vec::len).max().unwrap_or(0).max(labels.len()).max(1);
    labels.resize(width, String::new());
    let mut inference = Inference::new(width);
    for row in sample.iter_mut() {
        row.resize(width, Value::Null);
        inference.observe(row);
    }
    column_names(&labels)
        .into_iter()
        .zip(labels)
        .zip(inference.types())
        .map(|((name, label), ty)| ColumnInfo { name, label, ty, declared: None })
        .collect()
}

/// The type that holds values of both `a` and `b`: integer and real make real, date and datetime
/// make datetime, anything else mixed makes text.
pub fn join(a: ColumnType, b: ColumnType) -> ColumnType {
    use ColumnType::*;
    match (a, b) {
        (x, y) if x == y => x,
        (Integer, Real) | (Real, Integer) => Real,
        (Date, Datetime) | (Datetime, Date) => Datetime,
        _ => Text,
    }
}

/// Per-column running inference over a stream of rows.
#[derive(Debug, Clone)]
pub struct Inference {
    /// `None` while a column has seen only NULLs.
    seen: Vec<Option<ColumnType>>,
}

impl Inference {
    pub fn new(width: usize) -> Self {
        Self { seen: vec![None; width] }
    }

    /// Folds one row (of exactly `width` values) into the running types.
    pub fn observe(&mut self, row: &[Value]) {
        for (slot, value) in self.seen.iter_mut().zip(row) {
            if let Some(kind) = value.kind() {
                *slot = Some(slot.map_or(kind, |s| join(s, kind)));
            }
        }
    }

    /// The types so far; a column of only NULLs is text, the type that holds anything later.
    pub fn types(&self) -> Vec<ColumnType> {
        self.seen.iter().map(|t| t.unwrap_or(ColumnType::Text)).collect()
    }
}

/// Whether a column declared `ty` stores `value` as-is (NULL fits everything; an integer fits a
/// real column; a date fits a datetime column).
pub fn fits(ty: ColumnType, value: &Value) -> bool {
    match value.kind() {
        None => true,
        Some(kind) => join(ty, kind) == ty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType::*;

    fn infer(rows: &[Vec<Value>]) -> Vec<ColumnType> {
        let mut inf = Inference::new(rows[0].len());
        rows.iter().for_each(|r| inf.observe(r));
        inf.types()
    }

    #[test]
    fn types_follow_the_values() {
        let rows = vec![
            vec![Value::Int(1), Value::Int(1), Value::Null, Value::Bool(true), Value::Date(1), Value::Int(5)],
            vec![
                Value::Int(2),
                Value::Real(1.5),
                Value::Null,
                Value::Bool(false),
                Value::DateTime(9),
                Value::Text("x".into()),
            ],
            vec![Value::Null, Value::Int(3), Value::Null, Value::Null, Value::Date(2), Value::Int(6)],
        ];
        assert_eq!(infer(&rows), [Integer, Real, Text, Boolean, Datetime, Text]);
    }

    #[test]
    fn fitting_and_widening() {
        assert!(fits(Real, &Value::Int(1)));
        assert!(!fits(Integer, &Value::Real(1.5)));
        assert!(fits(Datetime, &Value::Date(3)));
        assert!(fits(Integer, &Value::Null));
        assert!(fits(Text, &Value::Bool(true)));
        assert!(!fits(Boolean, &Value::Int(1)));
        assert_eq!(join(Boolean, Integer), Text);
    }
}
