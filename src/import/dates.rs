//! Calendar arithmetic for the import: days since 1970-01-01 for dates, milliseconds since the Unix
//! epoch for datetimes, the ISO text both are stored as, and the conversion of Excel's date serials.
//! Hand-written (Howard Hinnant's civil-date algorithms) so the engine needs no date crate.

use calamine::ExcelDateTime;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date. `m` is 1..=12, `d` 1..=31.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y-m-d` names a real day.
pub fn is_valid_date(y: i32, m: u32, d: u32) -> bool {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&d)
}

/// Appends `n` as exactly `width` decimal digits (zero-padded; `n` must fit). Hand-rolled because
/// every date and datetime cell of an import is formatted here, and `write!` costs several times more.
fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut n = n;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf[..width].iter().for_each(|&b| out.push(char::from(b)));
}

/// Appends `YYYY-MM-DD` to `out`.
pub fn write_date(out: &mut String, days: i32) {
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        use std::fmt::Write;
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
        return;
    }
    push_digits(out, y as u32, 4);
    out.push('-');
    push_digits(out, m, 2);
    out.push('-');
    push_digits(out, d, 2);
}

/// Appends `YYYY-MM-DD HH:MM:SS`, with `.mmm` only when the milliseconds are not zero.
pub fn write_datetime(out: &mut String, ms: i64) {
    let days = ms.div_euclid(DAY_MS);
    let in_day = ms.rem_euclid(DAY_MS) as u32;
    write_date(out, days as i32);
    let (h, mi, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    out.push(' ');
    push_digits(out, h, 2);
    out.push(':');
    push_digits(out, mi, 2);
    out.push(':');
    push_digits(out, s, 2);
    if milli != 0 {
        out.push('.');
        push_digits(out, milli, 3);
    }
}

/// Appends a time of day or an elapsed time given in microseconds as a spreadsheet shows it:
/// `HH:MM:SS` (hours past 99 in as many digits as they take: `255:10:10`), then `.` and the
/// fraction of a second when there is one, to the microsecond, its trailing zeros dropped
/// (`10:10:10.123456`, `15:30:17.999`); a minus before a negative one. (Found: the fractions were
/// dropped.) PostgreSQL reads this text as an `interval`.
pub fn write_time(out: &mut String, micros: i64) {
    use std::fmt::Write;
    let sign = if micros < 0 { "-" } else { "" };
    let us = micros.unsigned_abs();
    let secs = us / 1_000_000;
    let _ = write!(out, "{sign}{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let fraction = us % 1_000_000;
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Microseconds in a day, as a float (serials are days).
const DAY_US: f64 = 86_400_000_000.0;

/// A serial as microseconds, when it is one an `i64` holds (some 290,000 years).
fn serial_micros(serial: f64) -> Option<i64> {
    let us = (serial * DAY_US).round();
    (us.is_finite() && us.abs() < 9.2e18).then_some(us as i64)
}

/// An elapsed time (a number shown as `[h]:mm:ss`, `[mm]:ss` or `[ss]`): its days as
/// microseconds, negative ones too. (Found: 10.63 shown as 255:10:10 arrived as
/// `1900-01-10 15:10:10`.)
pub fn elapsed(serial: f64) -> ExcelMoment {
    serial_micros(serial).map_or(ExcelMoment::Number(serial), ExcelMoment::Duration)
}

/// What an Excel date cell holds once its serial is decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExcelMoment {
    /// A whole day: days since 1970-01-01.
    Date(i32),
    /// A day and a time: milliseconds since the Unix epoch.
    DateTime(i64),
    /// A time of day with no date (serial below 1): microseconds since midnight.
    Time(i64),
    /// An elapsed time (a duration format, such as `[h]:mm:ss`): microseconds.
    Duration(i64),
    /// A serial past 9999-12-31, the last day spreadsheets know (or not finite): no date at
    /// all, so the number itself (once stored as a year -1701602 on SQLite, `-infinity` on PostgreSQL).
    Number(f64),
}

/// The serial of 10000-01-01 in the 1900 system; the 1904 system's is 1,462 lower, so this bound
/// lets a 1904 workbook reach four years past 9999, which still prints as a four-digit year.
const PAST_LAST_DAY: f64 = 2_958_466.0;

/// Decodes an Excel date serial in either date system (calamine knows which one the workbook uses).
pub fn from_excel(dt: &ExcelDateTime) -> ExcelMoment {
    let serial = dt.as_f64();
    if !serial.is_finite() || serial >= PAST_LAST_DAY || (serial < 0.0 && !dt.is_duration()) {
        return ExcelMoment::Number(serial);
    }
    if dt.is_duration() {
        return elapsed(serial);
    }
    if (0.0..1.0).contains(&serial) {
        return serial_micros(serial).map_or(ExcelMoment::Number(serial), ExcelMoment::Time);
    }
    let (y, m, d, h, mi, s, milli) = dt.to_ymd_hms_milli();
    let days = days_from_civil(i32::from(y), u32::from(m), u32::from(d));
    let in_day = i64::from(h) * 3_600_000 + i64::from(mi) * 60_000 + i64::from(s) * 1000 + i64::from(milli);
    if in_day == 0 { ExcelMoment::Date(days) } else { ExcelMoment::DateTime(i64::from(days) * DAY_MS + in_day) }
}

/// Decodes a non-negative Excel date serial: days since 1899-12-30 (1900 system, where serials
/// below 61 count from 1899-12-31 because Excel believes 1900-02-29 existed) or since 1904-01-01,
/// with the fraction as the time of day, to the millisecond. Below 1 it is a time of day, as
/// [`from_excel`] reads it.
pub fn from_serial(serial: f64, date1904: bool) -> ExcelMoment {
    if !serial.is_finite() || serial >= PAST_LAST_DAY {
        return ExcelMoment::Number(serial);
    }
    if serial < 1.0 {
        return serial_micros(serial).map_or(ExcelMoment::Number(serial), ExcelMoment::Time);
    }
    let total_ms = (serial * DAY_MS as f64).round() as i64;
    let epoch = if date1904 {
        days_from_civil(1904, 1, 1)
    } else if serial < 61.0 {
        days_from_civil(1899, 12, 31)
    } else {
        days_from_civil(1899, 12, 30)
    };
    let days = epoch + total_ms.div_euclid(DAY_MS) as i32;
    match total_ms.rem_euclid(DAY_MS) {
        0 => ExcelMoment::Date(days),
        in_day => ExcelMoment::DateTime(i64::from(days) * DAY_MS + in_day),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    fn excel(serial: f64, is_1904: bool) -> ExcelMoment {
        from_excel(&ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, is_1904))
    }

    fn date_text(days: i32) -> String {
        let mut s = String::new();
        write_date(&mut s, days);
        s
    }

    #[test]
    fn civil_round_trips_across_four_centuries() {
        for z in (-800_000..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(z);
            assert!(is_valid_date(y, m, d));
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn excel_1900_serials_become_dates() {
        assert_eq!(excel(25_569.0, false), ExcelMoment::Date(0));
        assert_eq!(excel(45_292.0, false), ExcelMoment::Date(days_from_civil(2024, 1, 1)));
        // Serials before Excel's phantom 1900-02-29 are one day off from the naive epoch.
        assert_eq!(excel(1.0, false), ExcelMoment::Date(days_from_civil(1900, 1, 1)));
        assert_eq!(excel(59.0, false), ExcelMoment::Date(days_from_civil(1900, 2, 28)));
        assert_eq!(excel(61.0, false), ExcelMoment::Date(days_from_civil(1900, 3, 1)));
    }

    #[test]
    fn excel_1904_serials_become_dates() {
        assert_eq!(excel(0.0 + 1.0, true), ExcelMoment::Date(days_from_civil(1904, 1, 2)));
        assert_eq!(excel(43_830.0, true), ExcelMoment::Date(days_from_civil(2024, 1, 1)));
    }

    #[test]
    fn serials_past_the_last_day_are_numbers() {
        assert_eq!(excel(1e15, false), ExcelMoment::Number(1e15));
        assert_eq!(from_serial(1e15, false), ExcelMoment::Number(1e15));
        assert_eq!(excel(2_958_465.0, false), ExcelMoment::Date(days_from_civil(9999, 12, 31)));
    }

    #[test]
    fn excel_times_and_datetimes() {
        let noon = days_from_civil(2025, 10, 13) as i64 * DAY_MS + 12 * 3_600_000;
        assert_eq!(excel(45_943.5, false), ExcelMoment::DateTime(noon));
        assert_eq!(excel(0.25, false), ExcelMoment::Time(6 * 3_600_000_000));
    }

    #[test]
    fn times_keep_their_fractions_and_elapsed_times_their_hours() {
        let shown = |m: ExcelMoment| {
            let mut s = String::new();
            match m {
                ExcelMoment::Time(us) | ExcelMoment::Duration(us) => write_time(&mut s, us),
                other => panic!("{other:?}"),
            }
            s
        };
        assert_eq!(shown(from_serial(36_610.123_456 / 86_400.0, false)), "10:10:10.123456");
        assert_eq!(shown(from_serial(55_817.999 / 86_400.0, false)), "15:30:17.999");
        assert_eq!(shown(from_serial(0.5, false)), "12:00:00");
        assert_eq!(shown(elapsed(10.63)), "255:07:12");
        assert_eq!(shown(elapsed(918_610.0 / 86_400.0)), "255:10:10");
        assert_eq!(shown(elapsed(-0.5)), "-12:00:00");
        assert_eq!(shown(elapsed(1.5 / 86_400.0)), "00:00:01.5");
        let timedelta = ExcelDateTime::new(918_610.0 / 86_400.0, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(shown(from_excel(&timedelta)), "255:10:10");
        assert_eq!(elapsed(1e300), ExcelMoment::Number(1e300));
    }

    #[test]
    fn raw_serials_decode_as_calamine_does() {
        for date1904 in [false, true] {
            for i in 0..20_000 {
                let serial = f64::from(i) * 3.7 + f64::from(i % 7) * 0.125 + f64::from(i % 13) / 86_400.0;
                assert_eq!(
                    from_serial(serial, date1904),
                    excel(serial, date1904),
                    "serial {serial} (1904: {date1904})"
                );
            }
        }
    }

    #[test]
    fn iso_text() {
        assert_eq!(date_text(days_from_civil(2024, 2, 29)), "2024-02-29");
        assert_eq!(date_text(days_from_civil(1899, 12, 31)), "1899-12-31");
        let mut s = String::new();
        write_datetime(&mut s, days_from_civil(2024, 1, 2) as i64 * DAY_MS + 3_723_004);
        assert_eq!(s, "2024-01-02 01:02:03.004");
        s.clear();
        write_datetime(&mut s, -1000);
        assert_eq!(s, "1969-12-31 23:59:59");
        assert_eq!(date_text(days_from_civil(10_000, 1, 1)), "10000-01-01");
        assert_eq!(date_text(days_from_civil(33, 5, 7)), "0033-05-07");
    }
}
