//! Numbers an .xlsx shows with leading zeros: ZIP codes, employee and product numbers formatted
//! `00000` (or `000-00-0000`). The file stores 501; the person sees, and means, "00501" (an .ods
//! says what it shows beside each value, so the .ods reader reads that instead). Such a cell comes in as the text the sheet
//! shows, as a CSV's `00501` does: a code, not a quantity (LibreOffice's own CSV export agrees;
//! pandas and calamine give 501).

/// A digit layout: `0` is one digit, anything else is written as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

/// Longest format this reads as a layout; real ones are a dozen characters. Bounds the text a
/// single cell can become.
const MAX_TEMPLATE: usize = 64;

impl Template {
    /// An Excel format code that only places whole digits: `00000`, `000-00-0000`, `"ID "0000`,
    /// `00000\-0000`. Only the first section (positive numbers) counts; a colour (`[Blue]`) is
    /// allowed, a condition (`[<=99999]`) is not. `None` for anything else: `#`, `?`, a decimal
    /// point, an exponent, a percent, text `@`, or fewer than two digits (`0` is plain General).
    pub fn excel(code: &str) -> Option<Template> {
        let section = code.split(';').next()?;
        let mut out = String::new();
        let mut chars = section.chars();
        while let Some(c) = chars.next() {
            match c {
                '0' => out.push('0'),
                '\\' => out.push(literal(chars.next()?)?),
                '"' => {
                    for q in chars.by_ref() {
                        if q == '"' || out.len() > MAX_TEMPLATE {
                            break;
                        }
                        out.push(literal(q)?);
                    }
                }
                '[' => {
                    let inner: String = chars.by_ref().take_while(|&q| q != ']').collect();
                    if inner.starts_with(['<', '>', '=']) || inner.eq_ignore_ascii_case("h") {
                        return None;
                    }
                }
                '-' | ' ' | '(' | ')' | '/' | ':' | '+' => out.push(c),
                _ => return None,
            }
            if out.len() > MAX_TEMPLATE {
                return None;
            }
        }
        (out.bytes().filter(|&b| b == b'0').count() >= 2).then_some(Template(out))
    }

    /// `n` laid out: missing digits are zeros; digits beyond the layout's go before its first
    /// placeholder, as Excel shows them (`00000` with 1234567 → `1234567`).
    pub fn render(&self, n: u64) -> String {
        let digits = n.to_string();
        let places = self.0.bytes().filter(|&b| b == b'0').count();
        let padded = format!("{digits:0>places$}");
        let extra = padded.len() - places;
        let mut out = String::with_capacity(self.0.len() + extra);
        let mut next = padded.chars();
        let mut first = true;
        for c in self.0.chars() {
            if c == '0' {
                let take = if first { extra + 1 } else { 1 };
                first = false;
                out.extend(next.by_ref().take(take));
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// A character written as it is; a digit there would read as a placeholder, so none is taken.
fn literal(c: char) -> Option<char> {
    (!c.is_ascii_digit()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_read_from_format_codes() {
        let shown = |code: &str, n| Template::excel(code).map(|t| t.render(n));
        assert_eq!(shown("00000", 501).as_deref(), Some("00501"));
        assert_eq!(shown("00000", 1_234_567).as_deref(), Some("1234567"));
        assert_eq!(shown("000\\-00\\-0000", 12_345_678).as_deref(), Some("012-34-5678"));
        assert_eq!(shown("000-00-0000", 1_234_567_890).as_deref(), Some("1234-56-7890"));
        assert_eq!(shown("\"ID \"0000;-0000", 42).as_deref(), Some("ID 0042"));
        assert_eq!(shown("[Blue]000", 7).as_deref(), Some("007"));
        for code in
            ["0", "General", "0.00", "#,##0", "00.0", "0%", "00E+0", "@", "[<=99999]00000;00000-0000", "\"1\"00"]
        {
            assert_eq!(Template::excel(code), None, "{code}");
        }
        assert_eq!(Template::excel(&"0".repeat(65)), None);
        assert_eq!(Template::excel(&format!("00\"{}\"", "x".repeat(1 << 20))), None, "a long literal is cut short");
    }
}
