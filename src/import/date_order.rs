//! Dates written as text with the day and the month in an order the text does not say
//! (`03/04/2024`: 3 April or 4 March?), checked over every value of the column, not a sample
//! (issue 28). A preview runs it on the columns whose sampled values are such dates: one value with
//! a day over 12 decides the order (and the preview says which value), values that fit both orders
//! are counted as ambiguous, and then the person is asked; nothing is guessed. Per column it keeps
//! counters and three examples, so it reads a sheet of any length in constant memory, at the pace
//! the reader gives it its rows.

use super::dates::is_valid_date;
use super::value::Value;
use crate::format::{count, plural, quoted};
use crate::model::{ColumnInfo, DateColumn};

/// The share of a sampled column's values that must be such dates for the column to be checked.
const MOSTLY: f64 = 0.9;
/// Characters of an example value kept (a date is short; a longer value is cut).
const EXAMPLE_CHARS: usize = 40;

/// A text that has the shape `a<sep>b<sep>year` (one or two digits each for `a` and `b`, `/`, `.`
/// or `-` twice, a year of four or two digits) and perhaps a time (` 13:05` or ` 13:05:09`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Written {
    a: u32,
    b: u32,
    year: i32,
    sep: u8,
    long_year: bool,
    /// 0: no time; 2: hours and minutes; 3: and seconds.
    time: u8,
}

/// Reads the shape of `s`, if it has it.
fn written(s: &str) -> Option<Written> {
    let b = s.trim().as_bytes();
    let mut i = 0;
    let a = number(b, &mut i, 1, 2)?;
    let sep = *b.get(i).filter(|c| matches!(c, b'/' | b'.' | b'-'))?;
    i += 1;
    let second = number(b, &mut i, 1, 2)?;
    (b.get(i) == Some(&sep)).then_some(())?;
    i += 1;
    let start = i;
    let year = number(b, &mut i, 2, 4)?;
    let long_year = match i - start {
        4 => true,
        2 => false,
        _ => return None,
    };
    let year = if long_year {
        year as i32
    } else if year >= 69 {
        1900 + year as i32
    } else {
        2000 + year as i32
    };
    let mut time = 0;
    if i < b.len() {
        if !matches!(b[i], b' ' | b'T') {
            return None;
        }
        i += 1;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        let hour = number(b, &mut i, 1, 2)?;
        (b.get(i) == Some(&b':')).then_some(())?;
        i += 1;
        let minute = number(b, &mut i, 2, 2)?;
        time = 2;
        if b.get(i) == Some(&b':') {
            i += 1;
            let second = number(b, &mut i, 2, 2)?;
            if second > 59 {
                return None;
            }
            time = 3;
            if b.get(i) == Some(&b'.') {
                i += 1;
                let digits = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                (i > digits).then_some(())?;
            }
        }
        if i != b.len() || hour > 23 || minute > 59 {
            return None;
        }
    }
    Some(Written { a, b: second, year, sep, long_year, time })
}

fn number(b: &[u8], i: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *i;
    while *i - start < max && b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    (*i - start >= min).then(|| b[start..*i].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// What one value says about the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Says {
    /// Only day/month reads it (`25/03/2024`).
    DayFirst,
    /// Only month/day reads it (`03/25/2024`).
    MonthFirst,
    /// Both read it, as two different days (`03/04/2024`).
    Either,
    /// Both read it as the same day (`05/05/2024`).
    Same,
    /// Neither reads it (`31/31/2024`): not a date.
    Neither,
}

fn says(w: &Written) -> Says {
    let day_first = is_valid_date(w.year, w.b, w.a);
    let month_first = is_valid_date(w.year, w.a, w.b);
    match (day_first, month_first) {
        (true, true) if w.a == w.b => Says::Same,
        (true, true) => Says::Either,
        (true, false) => Says::DayFirst,
        (false, true) => Says::MonthFirst,
        (false, false) => Says::Neither,
    }
}

/// One checked column's counts.
#[derive(Debug, Clone, Default)]
struct Column {
    /// The column's position in the sheet.
    index: usize,
    /// The separator and year width of its first date: the formats are written with them.
    shape: Option<(u8, bool)>,
    /// The most of a time any date had (see [`Written::time`]).
    time: u8,
    day_first: u64,
    month_first: u64,
    either: u64,
    same: u64,
    /// Values that are not dates of its shape (other text, numbers, a date written otherwise).
    other: u64,
    /// The first value of each kind, with its row.
    first_day_first: Option<(u64, String)>,
    first_month_first: Option<(u64, String)>,
    first_either: Option<(u64, String)>,
}

impl Column {
    fn observe(&mut self, number: u64, value: &Value) {
        let text = match value {
            Value::Null => return,
            Value::Text(s) => s,
            // A cell the file itself says is a date reads the same whichever order is chosen.
            Value::Date(_) | Value::DateTime(_) => {
                self.same += 1;
                return;
            }
            _ => {
                self.other += 1;
                return;
            }
        };
        let Some(w) = written(text) else {
            self.other += 1;
            return;
        };
        let shape = *self.shape.get_or_insert((w.sep, w.long_year));
        if shape != (w.sep, w.long_year) {
            self.other += 1;
            return;
        }
        let keep = |slot: &mut Option<(u64, String)>| {
            if slot.is_none() {
                *slot = Some((number, text.trim().chars().take(EXAMPLE_CHARS).collect()));
            }
        };
        match says(&w) {
            Says::DayFirst => {
                self.day_first += 1;
                keep(&mut self.first_day_first);
            }
            Says::MonthFirst => {
                self.month_first += 1;
                keep(&mut self.first_month_first);
            }
            Says::Either => {
                self.either += 1;
                keep(&mut self.first_either);
            }
            Says::Same => self.same += 1,
            Says::Neither => {
                self.other += 1;
                return;
            }
        }
        self.time = self.time.max(w.time);
    }

    /// The format of each order, with the separator, year and time its dates have.
    fn formats(&self) -> (String, String) {
        let (sep, long) = self.shape.unwrap_or((b'/', true));
        let (sep, year) = (char::from(sep), if long { "%Y" } else { "%y" });
        let time = match self.time {
            0 => "",
            2 => " %H:%M",
            _ => " %H:%M:%S",
        };
        (format!("%d{sep}%m{sep}{year}{time}"), format!("%m{sep}%d{sep}{year}{time}"))
    }

    fn report(&self, info: &ColumnInfo) -> DateColumn {
        let (day_first_format, month_first_format) = self.formats();
        let dates = self.day_first + self.month_first + self.either + self.same;
        let name = quoted(if info.label.is_empty() { &info.name } else { &info.label });
        let example = |e: &Option<(u64, String)>| {
            e.as_ref().map(|(row, v)| format!("{v} in row {}", count(*row))).unwrap_or_default()
        };
        let (decided, mut note) = match (self.day_first, self.month_first) {
            (1.., 0) => (
                Some(day_first_format.clone()),
                format!(
                    "The dates in {name} are read as day/month/year: {} has no month {}.",
                    example(&self.first_day_first),
                    self.first_day_first.as_ref().and_then(|(_, v)| written(v)).map_or(0, |w| w.a)
                ),
            ),
            (0, 1..) => (
                Some(month_first_format.clone()),
                format!(
                    "The dates in {name} are read as month/day/year: {} has no month {}.",
                    example(&self.first_month_first),
                    self.first_month_first.as_ref().and_then(|(_, v)| written(v)).map_or(0, |w| w.b)
                ),
            ),
            (1.., 1..) => (
                None,
                format!(
                    "The dates in {name} are written both ways: {} is day/month, {} is month/day. Choose how they \
                     are written; the values written the other way are rejected.",
                    example(&self.first_day_first),
                    example(&self.first_month_first)
                ),
            ),
            (0, 0) if self.either > 0 => (
                None,
                format!(
                    "{} of the {} in {name} could be day/month or month/day ({}: {}?), and none says which. Choose \
                     how they are written.",
                    count(self.either),
                    plural(dates as usize, "date", "dates"),
                    example(&self.first_either),
                    self.first_either
                        .as_ref()
                        .and_then(|(_, v)| written(v))
                        .map_or_else(String::new, |w| { format!("{} or {}", spoken(w.a, w.b), spoken(w.b, w.a)) })
                ),
            ),
            (0, 0) => (
                Some(day_first_format.clone()),
                format!("The dates in {name} read the same day/month or month/day: read as day/month/year."),
            ),
        };
        if decided.is_some() && self.either > 0 {
            note.push_str(&format!(
                " {} of the {} could have been read either way.",
                count(self.either),
                plural(dates as usize, "date", "dates")
            ));
        }
        if self.other > 0 {
            note.push_str(&format!(
                " {} of the column {} not a date written so: read as dates, {} rejected.",
                plural(self.other as usize, "value", "values"),
                if self.other == 1 { "is" } else { "are" },
                if self.other == 1 { "it is" } else { "they are" }
            ));
        }
        DateColumn {
            column: info.name.clone(),
            dates,
            ambiguous: self.either,
            day_first: self.day_first,
            month_first: self.month_first,
            other: self.other,
            day_first_format,
            month_first_format,
            decided,
            note,
        }
    }
}

/// `3 April` from a day and a month.
fn spoken(day: u32, month: u32) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!("{day} {}", MONTHS.get(month as usize - 1).copied().unwrap_or("?"))
}

/// The check of a sheet's text date columns; see the module's text.
#[derive(Debug, Clone, Default)]
pub struct DateCheck {
    columns: Vec<Column>,
}

impl DateCheck {
    /// The columns of `sample` (rows padded to one width) whose values are mostly text dates with
    /// the day and the month in either order; their counts start empty (observe the sample too).
    pub fn of_sample(sample: &[Vec<Value>]) -> Self {
        let width = sample.iter().map(Vec::len).max().unwrap_or(0);
        let columns = (0..width)
            .filter(|&c| {
                let (mut values, mut dates) = (0usize, 0usize);
                for v in sample.iter().filter_map(|r| r.get(c)) {
                    match v {
                        Value::Null => {}
                        Value::Text(s) => {
                            values += 1;
                            dates += usize::from(written(s).is_some_and(|w| says(&w) != Says::Neither));
                        }
                        _ => values += 1,
                    }
                }
                dates > 0 && dates as f64 >= values as f64 * MOSTLY
            })
            .map(|index| Column { index, ..Column::default() })
            .collect();
        Self { columns }
    }

    /// Whether no column is checked (then nothing needs to read on past the sample).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Counts the sheet's row `number`.
    pub fn observe(&mut self, number: u64, row: &[Value]) {
        for c in &mut self.columns {
            if let Some(v) = row.get(c.index) {
                c.observe(number, v);
            }
        }
    }

    /// What the check found, column by column (`columns`: the sheet's, as the preview names them).
    pub fn report(&self, columns: &[ColumnInfo]) -> Vec<DateColumn> {
        self.columns.iter().filter_map(|c| columns.get(c.index).map(|info| c.report(info))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnType;

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    /// The check of the first column of rows holding `values` (`""`: an empty cell), as if the
    /// sample had chosen it.
    fn check(values: &[&str]) -> DateColumn {
        let cell = |v: &&str| if v.is_empty() { Value::Null } else { text(v) };
        let rows: Vec<Vec<Value>> = values.iter().map(|v| vec![cell(v), Value::Int(1)]).collect();
        let mut c = DateCheck { columns: vec![Column::default()] };
        for (i, r) in rows.iter().enumerate() {
            c.observe(i as u64 + 2, r);
        }
        let info = [
            ColumnInfo { name: "sold_on".into(), label: "Sold on".into(), ty: ColumnType::Text, declared: None },
            ColumnInfo { name: "n".into(), label: "N".into(), ty: ColumnType::Integer, declared: None },
        ];
        let mut found = c.report(&info);
        assert_eq!(found.len(), 1, "only the date column");
        found.remove(0)
    }

    #[test]
    fn values_that_fit_both_orders_are_counted_and_the_person_asked() {
        let d = check(&["03/04/2024", "05/05/2024", "11/12/2024", ""]);
        assert_eq!((d.dates, d.ambiguous, d.day_first, d.month_first, d.other), (3, 2, 0, 0, 0));
        assert_eq!(d.decided, None);
        assert_eq!((d.day_first_format.as_str(), d.month_first_format.as_str()), ("%d/%m/%Y", "%m/%d/%Y"));
        assert_eq!(
            d.note,
            "2 of the 3 dates in \"Sold on\" could be day/month or month/day (03/04/2024 in row 2: 3 April or 4 \
             March?), and none says which. Choose how they are written."
        );
        let d = check(&["05/05/2024"]);
        assert_eq!((d.decided.as_deref(), d.ambiguous), (Some("%d/%m/%Y"), 0), "the same day either way");
    }

    #[test]
    fn a_day_over_12_decides_and_the_value_is_named() {
        let d = check(&["03/04/2024", "25/03/2024", "01/02/2024"]);
        assert_eq!(d.decided.as_deref(), Some("%d/%m/%Y"));
        assert_eq!((d.ambiguous, d.day_first), (2, 1));
        assert_eq!(
            d.note,
            "The dates in \"Sold on\" are read as day/month/year: 25/03/2024 in row 3 has no month 25. 2 of the 3 \
             dates could have been read either way."
        );
        let d = check(&["3-4-24 10:00", "3-25-24 9:30:15", "n/a"]);
        assert!(
            d.note.starts_with(
                "The dates in \"Sold on\" are read as month/day/year: 3-25-24 9:30:15 in row 3 has no month 25."
            ),
            "{}",
            d.note
        );
        assert_eq!(d.decided.as_deref(), Some("%m-%d-%y %H:%M:%S"));
        assert!(d.note.ends_with(" 1 value of the column is not a date written so: read as dates, it is rejected."));
    }

    #[test]
    fn both_orders_at_once_cannot_be_decided() {
        let d = check(&["25/03/2024", "03/25/2024", "31.12.2024"]);
        assert_eq!(d.decided, None);
        assert_eq!((d.day_first, d.month_first, d.other), (1, 1, 1), "another separator is another shape");
        assert!(d.note.contains("written both ways: 25/03/2024 in row 2 is day/month, 03/25/2024 in row 3 is"));
    }

    #[test]
    fn only_columns_of_such_dates_are_checked() {
        let rows = vec![
            vec![text("2024-03-04"), text("1/2/2024"), text("x"), Value::Date(3), text("1/2/2024")],
            vec![text("2024-03-05"), text("13/2/2024"), text("y"), Value::Date(4), text("nope")],
        ];
        let c = DateCheck::of_sample(&rows);
        assert_eq!(c.columns.iter().map(|c| c.index).collect::<Vec<_>>(), [1], "ISO, text, real dates, half");
        assert!(written("1/2/2024 25:00").is_none());
        assert!(written("1/2/202").is_none());
        assert!(written("1/2/2024T10:15:00.5").is_some());
    }
}
