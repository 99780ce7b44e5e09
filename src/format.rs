//! Numbers for people: counts with thousands separators, byte sizes, durations and rates, shared
//! by the page and the terminal progress bar so both say the same thing the same way.

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1, "export", "exports"` → `1 export`; `2, …` → `2 exports`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", count(n as u64), if n == 1 { one } else { many })
}

/// `1536` → `1.5 KB`; decimal units, as file managers show them.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

/// `65_000` → `1m 05s`; `4_200` → `4.2s`.
pub fn duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=9 => format!("{:.1}s", ms as f64 / 1000.0),
        10..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s / 60 % 60),
    }
}

/// A wait of `seconds` as a person reads it: "1 second", "32 seconds", "15 minutes".
pub fn wait(seconds: u64) -> String {
    match seconds {
        0 | 1 => "1 second".into(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// Rows per second, rounded to a whole number with separators.
pub fn rate(rows_per_sec: f64) -> String {
    format!("{} rows/s", count(rows_per_sec.max(0.0).round() as u64))
}

/// `0.4567` → `45.7%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", (fraction * 100.0).clamp(0.0, 100.0))
}

/// A moment (Unix milliseconds) as `2026-12-04 06:44 UTC`.
pub fn date_ms(ms: i64) -> String {
    let (year, month, day, rest) = civil(ms);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// The day of a moment (Unix milliseconds, UTC) as people write it: `5 Dec 2026`.
pub fn day(ms: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (year, month, day, _) = civil(ms);
    format!("{day} {} {year}", MONTHS[(month - 1) as usize])
}

/// A moment (Unix milliseconds) as its UTC year, month (1-12), day and seconds into that day.
fn civil(ms: i64) -> (i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm, proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day, rest)
}

/// How long before `now` the moment `then` was (Unix milliseconds), as people say it: "just now",
/// "5 minutes ago", "yesterday", "3 days ago"; past a month, the date.
pub fn ago(now: i64, then: i64) -> String {
    let secs = (now - then).max(0) / 1000;
    let plural = |n: i64, one: &str, unit: &str| if n == 1 { format!("{one} ago") } else { format!("{n} {unit}s ago") };
    match secs {
        0..45 => "just now".into(),
        45..3_600 => plural((secs + 30) / 60, "a minute", "minute"),
        3_600..86_400 => plural(secs / 3600, "an hour", "hour"),
        86_400..172_800 => "yesterday".into(),
        172_800..2_592_000 => plural(secs / 86_400, "a day", "day"),
        _ => date_ms(then),
    }
}

/// How long until `until` from `now`, coarsely: "for 23 more hours", "for 5 more minutes".
pub fn left(now: i64, until: i64) -> String {
    let secs = (until - now).max(0) / 1000;
    let more = |n: i64, unit: &str| format!("for {n} more {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        0..60 => "for less than a minute".into(),
        60..7_200 => more(secs / 60, "minute"),
        7_200..172_800 => more(secs / 3600, "hour"),
        _ => more(secs / 86_400, "day"),
    }
}

/// A name or value from a file or a request inside a sentence: in double quotes as written,
/// without the backslashes Rust's `{:?}` adds before quotes in it, control characters (a line
/// break in a header cell) as spaces, and cut after 80 characters, since a header cell may hold a
/// megabyte and a message is one line.
pub fn quoted(s: &str) -> String {
    const MOST: usize = 80;
    let mut out = String::with_capacity(s.len().min(MOST * 4) + 4);
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        if i == MOST {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.push('"');
    out
}

/// The first names of a list a file or a table supplies, for a sentence: at most 20, each cut
/// at 80 characters, then how many more (a workbook may hold thousands of sheets, a table 1,600
/// columns). `each` writes one name (as it is, or [`quoted`]).
pub fn some_of<'a>(names: impl IntoIterator<Item = &'a str>, each: impl Fn(&str) -> String) -> Vec<String> {
    const MOST: usize = 20;
    let mut out = Vec::new();
    let mut more = 0u64;
    for n in names {
        if out.len() < MOST {
            let cut: String = n.chars().take(80).collect();
            out.push(if cut.len() < n.len() { each(&format!("{cut}…")) } else { each(n) });
        } else {
            more += 1;
        }
    }
    if more > 0 {
        out.push(format!("{} more", count(more)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_in_sentences_are_cut_short() {
        let names: Vec<String> = (1..=1000).map(|i| format!("Sheet{i}")).collect();
        let shown = some_of(names.iter().map(String::as_str), |n| n.to_owned());
        assert_eq!(shown.len(), 21);
        assert_eq!((shown[0].as_str(), shown[19].as_str(), shown[20].as_str()), ("Sheet1", "Sheet20", "980 more"));
        let long = "x".repeat(10_000);
        assert_eq!(some_of([long.as_str()], |n| n.to_owned())[0].chars().count(), 81);
        assert_eq!(some_of(["a", "b"], quoted), ["\"a\"", "\"b\""]);
    }

    #[test]
    fn names_in_sentences_are_one_short_line_as_written() {
        assert_eq!(quoted("Zip"), "\"Zip\"");
        assert_eq!(quoted("say \"hi\" \\ o"), "\"say \"hi\" \\ o\"");
        assert_eq!(quoted("Total\nsales"), "\"Total sales\"");
        let long = quoted(&"é".repeat(1_000_000));
        assert_eq!(long.chars().count(), 83);
        assert!(long.ends_with("é…\""));
    }

    #[test]
    fn moments_read_as_people_say_them() {
        let now = 1_764_806_400_000; // 2025-12-04 00:00 UTC
        assert_eq!(ago(now, now - 3_000), "just now");
        assert_eq!(ago(now, now - 60_000), "a minute ago");
        assert_eq!(ago(now, now - 10 * 60_000), "10 minutes ago");
        assert_eq!(ago(now, now - 11 * 60_000), "11 minutes ago");
        assert_eq!(ago(now, now - 3_600_000), "an hour ago");
        assert_eq!(ago(now, now - 5 * 3_600_000), "5 hours ago");
        assert_eq!(ago(now, now - 30 * 3_600_000), "yesterday");
        assert_eq!(ago(now, now - 3 * 86_400_000), "3 days ago");
        assert_eq!(ago(now, now - 40 * 86_400_000), "2025-10-25 00:00 UTC");
        // A clock a little behind the record's never says "in the future".
        assert_eq!(ago(now, now + 5_000), "just now");
        assert_eq!(left(now, now + 30_000), "for less than a minute");
        assert_eq!(left(now, now + 5 * 60_000), "for 5 more minutes");
        assert_eq!(left(now, now + 23 * 3_600_000), "for 23 more hours");
        assert_eq!(left(now, now + 7 * 86_400_000), "for 7 more days");
        assert_eq!(day(now), "4 Dec 2025");
        assert_eq!(day(now - 1), "3 Dec 2025");
        assert_eq!(day(0), "1 Jan 1970");
    }

    #[test]
    fn people_numbers() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_048_575), "1,048,575");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(duration_ms(4_200), "4.2s");
        assert_eq!(duration_ms(65_000), "1m 05s");
        assert_eq!(duration_ms(3_725_000), "1h 02m");
        assert_eq!(rate(123_456.7), "123,457 rows/s");
        assert_eq!(percent(0.4567), "45.7%");
        assert_eq!(date_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(date_ms(1_796_367_840_000), "2026-12-04 07:04 UTC");
        assert_eq!(date_ms(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
