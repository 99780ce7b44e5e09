//! One cell's value as the engine carries it from any source to any sink, and the reading of a
//! text cell (CSV, TSV, ISO strings) into the most specific value it spells.

use super::dates::{self, DAY_MS, ExcelMoment, days_from_civil, is_valid_date};
use crate::model::ColumnType;

/// A typed cell. Dates and datetimes are numbers so no text is built until a sink needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since the Unix epoch, no time zone.
    DateTime(i64),
    Text(String),
}

impl Value {
    /// The narrowest column type that holds this value; `None` for NULL, which fits any column.
    pub fn kind(&self) -> Option<ColumnType> {
        Some(match self {
            Value::Null => return None,
            Value::Int(_) => ColumnType::Integer,
            Value::Real(_) => ColumnType::Real,
            Value::Bool(_) => ColumnType::Boolean,
            Value::Date(_) => ColumnType::Date,
            Value::DateTime(_) => ColumnType::Datetime,
            Value::Text(_) => ColumnType::Text,
        })
    }

    /// A float from a spreadsheet: integral values within f64's exact range become integers,
    /// because spreadsheets store every number as a float and an id column should stay integer.
    pub fn from_f64(f: f64) -> Value {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        if f.is_finite() && f.fract() == 0.0 && f.abs() < EXACT {
            Value::Int(f as i64)
        } else if f.is_finite() {
            Value::Real(f)
        } else {
            Value::Null
        }
    }

    /// A text cell from a spreadsheet stays text (the file already said what it is), but blank
    /// text is NULL.
    pub fn text(s: &str) -> Value {
        if s.trim().is_empty() { Value::Null } else { Value::Text(s.to_owned()) }
    }

    /// Appends the text form of this value (what a TEXT column stores).
    pub fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Null => {}
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Real(f) => {
                let _ = write!(out, "{f}");
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Date(d) => dates::write_date(out, *d),
            Value::DateTime(ms) => dates::write_datetime(out, *ms),
            Value::Text(s) => out.push_str(s),
        }
    }

    /// The value as JSON, as the table viewer shows it: numbers and booleans as themselves,
    /// dates and datetimes as ISO text.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Int(i) => J::from(*i),
            Value::Real(f) => J::from(*f),
            Value::Bool(b) => J::Bool(*b),
            Value::Text(s) => J::String(s.clone()),
            Value::Date(_) | Value::DateTime(_) => {
                let mut s = String::with_capacity(19);
                self.write_text(&mut s);
                J::String(s)
            }
        }
    }
}

impl From<ExcelMoment> for Value {
    /// Dates and datetimes as themselves; a time of day (no date) and an elapsed time as the text
    /// a spreadsheet shows, `HH:MM:SS[.ffffff]` (see `dates::write_time`).
    fn from(m: ExcelMoment) -> Self {
        match m {
            ExcelMoment::Date(d) => Value::Date(d),
            ExcelMoment::DateTime(ms) => Value::DateTime(ms),
            ExcelMoment::Time(us) | ExcelMoment::Duration(us) => {
                let mut s = String::with_capacity(15);
                dates::write_time(&mut s, us);
                Value::Text(s)
            }
            ExcelMoment::Number(f) => Value::from_f64(f),
        }
    }
}

/// Reads a text cell as the most specific value it spells: empty is NULL; `42` an integer (but
/// `007` stays text: leading zeros are identifiers such as ZIP codes); `4.2`, `1e3` reals;
/// `true`/`false` booleans; `2024-01-31` a date; `2024-01-31 12:00[:00[.123]]` (or with `T`) a datetime.
pub fn parse_text(s: &str) -> Value {
    let t = s.trim();
    if t.is_empty() {
        return Value::Null;
    }
    let b = t.as_bytes();
    let first = b[0];
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        if let Some(v) = parse_number(t) {
            return v;
        }
        if let Some(v) = parse_iso(t) {
            return v;
        }
    } else if t.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    } else if t.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    Value::Text(s.to_owned())
}

fn parse_number(t: &str) -> Option<Value> {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let int_part = digits.split(['.', 'e', 'E']).next().unwrap_or("");
    if int_part.len() > 1 && int_part.starts_with('0') {
        return None; // "007": an identifier, not a number
    }
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return t.parse::<i64>().ok().map(Value::Int).or_else(|| t.parse::<f64>().ok().map(Value::Real));
    }
    let numeric = digits.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'));
    if !numeric || !digits.bytes().any(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::Real)
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `YYYY-MM-DD`, optionally followed by `[T ]HH:MM[:SS[.fff]]` and an ignored `Z`.
fn parse_iso(t: &str) -> Option<Value> {
    let b = t.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&b[0..4])? as i32, num(&b[5..7])?, num(&b[8..10])?);
    if !is_valid_date(y, m, d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if b.len() == 10 {
        return Some(Value::Date(days));
    }
    let rest = &b[10..];
    if rest.len() < 6 || !(rest[0] == b'T' || rest[0] == b' ') || rest[3] != b':' {
        return None;
    }
    let rest = rest[1..].strip_suffix(b"Z").unwrap_or(&rest[1..]);
    // `12:3Z` is six bytes before the `Z` comes off: too short for minutes.
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let (h, mi) = (num(&rest[0..2])?, num(&rest[3..5])?);
    let (mut s, mut milli) = (0, 0);
    if rest.len() > 5 {
        if rest[5] != b':' || rest.len() < 8 {
            return None;
        }
        s = num(&rest[6..8])?;
        if rest.len() > 8 {
            if rest[8] != b'.' || rest.len() == 9 {
                return None;
            }
            let frac = &rest[9..rest.len().min(12)];
            milli = num(frac)? * 10u32.pow(3 - frac.len() as u32);
            if rest.len() > 12 && !rest[12..].iter().all(u8::is_ascii_digit) {
                return None;
            }
        }
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let in_day = i64::from(h) * 3_600_000 + i64::from(mi) * 60_000 + i64::from(s) * 1000 + i64::from(milli);
    Some(Value::DateTime(i64::from(days) * DAY_MS + in_day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_read_as_their_most_specific_value() {
        let day = days_from_civil(2024, 1, 31);
        let cases: &[(&str, Value)] = &[
            ("", Value::Null),
            ("   ", Value::Null),
            ("42", Value::Int(42)),
            ("-7", Value::Int(-7)),
            ("0", Value::Int(0)),
            ("007", Value::Text("007".into())),
            ("4.25", Value::Real(4.25)),
            ("-0.5", Value::Real(-0.5)),
            ("1e3", Value::Real(1000.0)),
            ("99999999999999999999", Value::Real(1e20)),
            ("TRUE", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("2024-01-31", Value::Date(day)),
            ("2024-02-30", Value::Text("2024-02-30".into())),
            ("2024-01-31 12:30", Value::DateTime(day as i64 * DAY_MS + 45_000_000)),
            ("2024-01-31T12:30:15Z", Value::DateTime(day as i64 * DAY_MS + 45_015_000)),
            ("2024-01-31 00:00:00.5", Value::DateTime(day as i64 * DAY_MS + 500)),
            ("1-2-3", Value::Text("1-2-3".into())),
            // Once a panic that failed the whole import: too short for its minutes after the `Z`.
            ("2024-01-31T12:3Z", Value::Text("2024-01-31T12:3Z".into())),
            ("2024-01-31 1:30", Value::Text("2024-01-31 1:30".into())),
            ("inf", Value::Text("inf".into())),
            ("NaN", Value::Text("NaN".into())),
            ("-", Value::Text("-".into())),
            ("hello", Value::Text("hello".into())),
        ];
        for (input, want) in cases {
            assert_eq!(&parse_text(input), want, "input {input:?}");
        }
    }

    #[test]
    fn spreadsheet_floats_that_are_whole_become_integers() {
        assert_eq!(Value::from_f64(3.0), Value::Int(3));
        assert_eq!(Value::from_f64(3.5), Value::Real(3.5));
        assert_eq!(Value::from_f64(1e300), Value::Real(1e300));
        assert_eq!(Value::from_f64(f64::NAN), Value::Null);
    }
}
