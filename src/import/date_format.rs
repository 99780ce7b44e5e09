//! A column's date format, as a person names it (`%d/%m/%Y`, `%m/%d/%y %H:%M`): the order of the
//! day, the month and the year in text dates, which no value like `03/04/2024` can say by itself
//! (issue 28). Chosen per column (`--column 'Sold on:date:%d/%m/%Y'`, the API's `column` and
//! `columns` fields, the page) and remembered with the table's mapping; an import reads that
//! column's text with it, value by value, with no allocation.

use super::dates::{DAY_MS, days_from_civil, is_valid_date};
use super::value::Value;
use crate::model::ColumnType;

/// One piece of a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `%d`/`%e`: the day, one or two digits.
    Day,
    /// `%m`: the month, one or two digits.
    Month,
    /// `%Y`: the year, four digits.
    Year,
    /// `%y`: the year, two digits (69-99: 1969-1999; 00-68: 2000-2068, as POSIX reads them).
    ShortYear,
    /// `%H`: the hour, 0-23, one or two digits.
    Hour,
    /// `%M`: the minutes, two digits.
    Minute,
    /// `%S`: the seconds, two digits, and a fraction of a second after a `.` when there is one.
    Second,
    /// Whitespace: one or more spaces (or tabs) in the value.
    Space,
    /// Any other character, as written (`%%` is a `%`).
    Literal(char),
}

/// A parsed date format; see the module's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    parts: Vec<Part>,
    /// Where a value may end early: before the time (a date alone is midnight), and before the
    /// seconds (`10:30` is `10:30:00`).
    short_ends: Vec<usize>,
}

/// The directives a format may use, for the sentence that refuses one.
const DIRECTIVES: &str = "%d (day), %m (month), %Y (four-digit year), %y (two-digit year), %H (hour), %M (minutes), \
                          %S (seconds)";

impl DateFormat {
    /// Reads a format, or says in words what is wrong with it. A format names the day, the month
    /// and the year once each, and may add the hour, then the minutes, then the seconds.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let bad = |why: String| format!("{} is not a date format sheetport reads: {why}", crate::format::quoted(spec));
        let mut parts = Vec::new();
        let mut chars = spec.trim().chars();
        while let Some(c) = chars.next() {
            let part = match c {
                '%' => match chars.next() {
                    Some('d' | 'e') => Part::Day,
                    Some('m') => Part::Month,
                    Some('Y') => Part::Year,
                    Some('y') => Part::ShortYear,
                    Some('H') => Part::Hour,
                    Some('M') => Part::Minute,
                    Some('S') => Part::Second,
                    Some('%') => Part::Literal('%'),
                    Some(other) => return Err(bad(format!("%{other} is not one of {DIRECTIVES}"))),
                    None => return Err(bad(format!("it ends with a lone %; use {DIRECTIVES}"))),
                },
                c if c.is_whitespace() => Part::Space,
                c => Part::Literal(c),
            };
            // Runs of whitespace are one.
            if !(part == Part::Space && parts.last() == Some(&Part::Space)) {
                parts.push(part);
            }
        }
        let count = |p: &[Part]| parts.iter().filter(|x| p.contains(x)).count();
        if count(&[Part::Day]) != 1 || count(&[Part::Month]) != 1 || count(&[Part::Year, Part::ShortYear]) != 1 {
            return Err(bad("it must name the day (%d), the month (%m) and the year (%Y or %y), once each".into()));
        }
        let at = |p: Part| parts.iter().position(|x| *x == p);
        let (hour, minute, second) = (at(Part::Hour), at(Part::Minute), at(Part::Second));
        let once =
            [Part::Hour, Part::Minute, Part::Second].iter().all(|p| parts.iter().filter(|x| *x == p).count() <= 1);
        let ordered = match (hour, minute, second) {
            (None, None, None) => true,
            (Some(_), None, None) => true,
            (Some(h), Some(m), None) => h < m,
            (Some(h), Some(m), Some(s)) => h < m && m < s,
            _ => false,
        };
        let date_end = parts.iter().rposition(|p| matches!(p, Part::Day | Part::Month | Part::Year | Part::ShortYear));
        if !once || !ordered || hour.zip(date_end).is_some_and(|(h, d)| h < d) {
            return Err(bad(
                "the time comes after the date, as the hour (%H), then the minutes (%M), then the seconds (%S)".into(),
            ));
        }
        // A value may stop before the separator in front of the hour, and before the one in front
        // of the seconds.
        let mut short_ends = Vec::new();
        for directive in [hour, second].into_iter().flatten() {
            if directive > 0 && matches!(parts[directive - 1], Part::Space | Part::Literal(_)) {
                short_ends.push(directive - 1);
            }
        }
        Ok(Self { parts, short_ends })
    }

    /// Whether the format reads a time of day too.
    pub fn has_time(&self) -> bool {
        self.parts.contains(&Part::Hour)
    }

    /// The column type the format reads into when the person named no other: date, or date and
    /// time.
    pub fn column_type(&self) -> ColumnType {
        if self.has_time() { ColumnType::Datetime } else { ColumnType::Date }
    }

    /// The format for people: `day/month/year, such as 31/01/2024` (the order of its date parts,
    /// and the last day of January 2024 at 13:45:09 written with it).
    pub fn words(&self) -> String {
        let order: Vec<&str> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Day => Some("day"),
                Part::Month => Some("month"),
                Part::Year | Part::ShortYear => Some("year"),
                _ => None,
            })
            .collect();
        let example: String = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Day => "31".to_owned(),
                Part::Month => "01".to_owned(),
                Part::Year => "2024".to_owned(),
                Part::ShortYear => "24".to_owned(),
                Part::Hour => "13".to_owned(),
                Part::Minute => "45".to_owned(),
                Part::Second => "09".to_owned(),
                Part::Space => " ".to_owned(),
                Part::Literal(c) => c.to_string(),
            })
            .collect();
        format!("{}, such as {example}", order.join("/"))
    }

    /// The text `s` read with this format: a date (or a date and time, when the value has a
    /// time), or `None` when it is not written so or names no real day.
    pub fn read(&self, s: &str) -> Option<Value> {
        let b = s.trim().as_bytes();
        let (mut i, mut at) = (0usize, 0usize);
        let (mut day, mut month, mut year) = (0u32, 0u32, 0i32);
        let (mut hour, mut minute, mut second, mut milli) = (0u32, 0u32, 0u32, 0u32);
        let mut timed = false;
        while at < self.parts.len() {
            if i == b.len() && self.short_ends.contains(&at) {
                break;
            }
            match self.parts[at] {
                Part::Day => day = digits(b, &mut i, 1, 2)?,
                Part::Month => month = digits(b, &mut i, 1, 2)?,
                Part::Year => year = digits(b, &mut i, 4, 4)? as i32,
                Part::ShortYear => {
                    let yy = digits(b, &mut i, 2, 2)? as i32;
                    year = if yy >= 69 { 1900 + yy } else { 2000 + yy };
                }
                Part::Hour => {
                    hour = digits(b, &mut i, 1, 2)?;
                    timed = true;
                }
                Part::Minute => minute = digits(b, &mut i, 2, 2)?,
                Part::Second => {
                    second = digits(b, &mut i, 2, 2)?;
                    if b.get(i) == Some(&b'.') {
                        let start = i + 1;
                        i = start;
                        while b.get(i).is_some_and(u8::is_ascii_digit) {
                            i += 1;
                        }
                        let frac = &b[start..i];
                        if frac.is_empty() {
                            return None;
                        }
                        let kept = &frac[..frac.len().min(3)];
                        milli =
                            kept.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')) * 10u32.pow(3 - kept.len() as u32);
                    }
                }
                Part::Space => {
                    let start = i;
                    while b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
                        i += 1;
                    }
                    if i == start {
                        return None;
                    }
                }
                Part::Literal(c) => {
                    let mut buf = [0u8; 4];
                    let lit = c.encode_utf8(&mut buf).as_bytes();
                    if !b[i..].starts_with(lit) {
                        return None;
                    }
                    i += lit.len();
                }
            }
            at += 1;
        }
        if i != b.len() || !is_valid_date(year, month, day) || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        if !timed {
            return Some(Value::Date(days));
        }
        let in_day = i64::from(hour) * 3_600_000 + i64::from(minute) * 60_000 + i64::from(second) * 1000;
        Some(Value::DateTime(i64::from(days) * DAY_MS + in_day + i64::from(milli)))
    }
}

/// `min` to `max` ASCII digits at `b[*i..]`, as a number; `i` moves past them.
fn digits(b: &[u8], i: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *i;
    while *i - start < max && b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    let n = *i - start;
    (n >= min).then(|| b[start..*i].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(format: &str, value: &str) -> Option<Value> {
        DateFormat::parse(format).expect("a format").read(value)
    }

    fn day(y: i32, m: u32, d: u32) -> Value {
        Value::Date(days_from_civil(y, m, d))
    }

    fn at(y: i32, m: u32, d: u32, h: i64, mi: i64, s: i64, ms: i64) -> Value {
        let days = i64::from(days_from_civil(y, m, d));
        Value::DateTime(days * DAY_MS + h * 3_600_000 + mi * 60_000 + s * 1000 + ms)
    }

    #[test]
    fn the_order_the_format_names_is_the_order_read() {
        assert_eq!(read("%d/%m/%Y", "03/04/2024"), Some(day(2024, 4, 3)));
        assert_eq!(read("%m/%d/%Y", "03/04/2024"), Some(day(2024, 3, 4)));
        assert_eq!(read("%d/%m/%Y", " 3/4/2024 "), Some(day(2024, 4, 3)), "one digit, spaces around");
        assert_eq!(read("%d.%m.%Y", "31.12.1999"), Some(day(1999, 12, 31)));
        assert_eq!(read("%d-%m-%y", "01-02-24"), Some(day(2024, 2, 1)));
        assert_eq!(read("%d-%m-%y", "01-02-69"), Some(day(1969, 2, 1)));
        assert_eq!(read("%Y/%m/%d", "2024/02/29"), Some(day(2024, 2, 29)));
        // Not so written, or no such day.
        for (format, value) in [
            ("%d/%m/%Y", "25/13/2024"),
            ("%m/%d/%Y", "25/03/2024"),
            ("%d/%m/%Y", "31/04/2024"),
            ("%d/%m/%Y", "29/02/2023"),
            ("%d/%m/%Y", "03-04-2024"),
            ("%d/%m/%Y", "03/04/24"),
            ("%d/%m/%Y", "03/04/2024x"),
            ("%d/%m/%Y", "003/04/2024"),
            ("%d/%m/%Y", ""),
            ("%d/%m/%Y", "2024-04-03"),
        ] {
            assert_eq!(read(format, value), None, "{value:?} with {format}");
        }
    }

    #[test]
    fn times_are_read_and_may_be_left_out() {
        let f = "%d/%m/%Y %H:%M:%S";
        assert_eq!(read(f, "03/04/2024 13:05:09"), Some(at(2024, 4, 3, 13, 5, 9, 0)));
        assert_eq!(read(f, "03/04/2024 13:05:09.25"), Some(at(2024, 4, 3, 13, 5, 9, 250)));
        assert_eq!(read(f, "03/04/2024 9:05"), Some(at(2024, 4, 3, 9, 5, 0, 0)), "no seconds");
        assert_eq!(read(f, "03/04/2024"), Some(day(2024, 4, 3)), "a date alone");
        assert_eq!(read(f, "03/04/2024 24:00:00"), None);
        assert_eq!(read(f, "03/04/2024 10:60"), None);
        assert_eq!(read(f, "03/04/2024 10"), None, "an hour without its minutes");
        assert_eq!(read("%m/%d/%Y %H:%M", "12/31/2024  23:59"), Some(at(2024, 12, 31, 23, 59, 0, 0)));
    }

    #[test]
    fn a_format_that_cannot_name_a_day_is_refused_in_words() {
        for (spec, says) in [
            ("%d/%m", "the year (%Y or %y)"),
            ("%d/%d/%Y", "once each"),
            ("%q/%m/%Y", "%q is not one of"),
            ("%d/%m/%Y %", "lone %"),
            ("%d/%m/%Y %M", "the hour (%H), then the minutes"),
            ("%H:%M %d/%m/%Y", "the time comes after the date"),
            ("%d/%m/%Y %H:%S", "then the minutes"),
        ] {
            let e = DateFormat::parse(spec).expect_err(spec);
            assert!(e.contains(says), "{spec}: {e}");
        }
        assert_eq!(DateFormat::parse("%d/%m/%Y").expect("ok").column_type(), ColumnType::Date);
        assert_eq!(DateFormat::parse("%m.%d.%y  %H:%M").expect("ok").words(), "month/day/year, such as 01.31.24 13:45");
        assert_eq!(DateFormat::parse("%d/%m/%Y %H:%M").expect("ok").column_type(), ColumnType::Datetime);
    }
}
