//! The hot loop of an .xlsx import: a worksheet's `<sheetData>` scanned row by row as it inflates,
//! each `<c>` turned into a typed value (shared strings looked up, date-styled serials made dates,
//! formulas read as their cached values, error cells counted and kept as NULL).

use super::parts::{SharedStrings, Shown, Styles};
use crate::import::ImportError;
use crate::import::dates::{elapsed, from_serial};
use crate::import::source::xml::{Chunks, attr, attrs, broken, decode, element_text, next_tag, number};
use crate::import::source::{Flow, RowAssembler, RowVisitor};
use crate::import::value::{Value, parse_text};
use memchr::memchr;
use std::io::Read;

/// What the cells of a sheet are read against.
pub struct Context<'a> {
    /// How each cell style shows numbers.
    pub styles: &'a Styles,
    pub date1904: bool,
}

/// Streams the rows of one worksheet part into `visitor`, reading the shared strings as far as
/// its cells use them.
pub fn scan(
    part: impl Read,
    ctx: &Context<'_>,
    shared: &mut SharedStrings<'_>,
    visitor: &mut dyn RowVisitor,
) -> Result<(), ImportError> {
    let mut chunks = Chunks::new(part, "row");
    let mut scanner = Scanner {
        ctx,
        shared,
        rows: None,
        first_col: 0,
        row: 0,
        next_row: 0,
        col: 0,
        text: String::with_capacity(256),
    };
    while let Some(chunk) = chunks.next()? {
        if scanner.chunk(chunk, visitor)? {
            return Ok(());
        }
    }
    Err(broken("the sheet ends before its last row"))
}

struct Scanner<'a, 's> {
    ctx: &'a Context<'a>,
    shared: &'a mut SharedStrings<'s>,
    /// Set once `<sheetData>` starts (the dimension before it tells the first column).
    rows: Option<RowAssembler>,
    first_col: u32,
    /// 0-based row and next column, for cells and rows that omit their `r` reference.
    row: u32,
    /// The row a `<row>` without `r` is: the one after the last (0 for the first).
    next_row: u32,
    col: u32,
    text: String,
}

impl Scanner<'_, '_> {
    /// Reads a chunk of whole elements; true once `</sheetData>` was reached or the visitor has
    /// read enough.
    fn chunk(&mut self, xml: &[u8], visitor: &mut dyn RowVisitor) -> Result<bool, ImportError> {
        let mut at = 0;
        while let Some((tag, next)) = next_tag(xml, at)? {
            at = next;
            let Some(rows) = self.rows.as_mut() else {
                match tag.name {
                    b"dimension" => self.first_col = dimension(attr(tag.attrs, b"ref").unwrap_or_default(), visitor),
                    b"sheetData" if tag.empty => return Ok(true),
                    b"sheetData" => self.rows = Some(RowAssembler::new(self.first_col)),
                    _ => {}
                }
                continue;
            };
            match tag.name {
                b"row" if !tag.closing => {
                    self.row = match attr(tag.attrs, b"r").and_then(number) {
                        Some(r) if r > 0 => r - 1,
                        _ => self.next_row,
                    };
                    self.next_row = self.row.saturating_add(1);
                    self.col = 0;
                }
                b"c" if !tag.closing => {
                    let (mut reference, mut kind, mut style) = (None, None, 0);
                    for (key, value) in attrs(tag.attrs) {
                        match key {
                            b"r" => reference = Some(value),
                            b"t" => kind = Some(value),
                            b"s" => style = number(value).unwrap_or(0) as usize,
                            _ => {}
                        }
                    }
                    let col = reference.map_or(self.col, column);
                    self.col = col + 1;
                    if tag.empty {
                        continue;
                    }
                    let tag = CellTag { kind, style };
                    let (value, next) = cell(xml, at, tag, self.ctx, self.shared, &mut self.text, visitor)?;
                    at = next;
                    if rows.push(self.row, col, value, visitor)?.is_break() {
                        return Ok(true);
                    }
                }
                b"sheetData" if tag.closing => {
                    // The last row; whatever the visitor answers, the sheet ends here.
                    let _: Flow = rows.flush(visitor)?;
                    return Ok(true);
                }
                _ => {}
            }
        }
        Ok(false)
    }
}

/// `A1:J1048576`: reports the data rows (header excluded) and returns the first column.
fn dimension(range: &[u8], visitor: &mut dyn RowVisitor) -> u32 {
    let mut ends = range.split(|b| *b == b':').map(|r| (row_of(r), column(r)));
    let (first, last) = (ends.next(), ends.next());
    if let (Some((Some(r0), c0)), Some((Some(r1), _))) = (first, last) {
        if r1 > r0 {
            visitor.total(u64::from(r1 - r0), false);
        }
        return c0;
    }
    0
}

/// What a `<c>` tag says of its value: the type (`t`) and the style (`s`).
struct CellTag<'x> {
    kind: Option<&'x [u8]>,
    style: usize,
}

/// Reads the inside of a `<c>` (from `at`, just past its start tag) up to `</c>`: the cell's value
/// and the position after it.
fn cell(
    xml: &[u8],
    mut at: usize,
    CellTag { kind, style }: CellTag<'_>,
    ctx: &Context<'_>,
    shared: &mut SharedStrings<'_>,
    text: &mut String,
    visitor: &mut dyn RowVisitor,
) -> Result<(Value, usize), ImportError> {
    let mut raw: &[u8] = &[];
    let mut has_value = false;
    // A `<v>` written as a CDATA section, read whole (no allocation unless there is one).
    let mut cdata = String::new();
    text.clear();
    // Nearly every cell is `<v>..</v></c>` or `<is><t>..</t></is></c>`: take those without the
    // general loop below.
    if let Some((inner, end)) = simple(xml, at, b"<v>", b"</v></c>") {
        raw = inner;
        has_value = true;
        at = end;
    } else if let Some((inner, end)) = simple(xml, at, b"<is><t>", b"</t></is></c>") {
        decode(text, inner)?;
        has_value = true;
        at = end;
    } else {
        at = general(xml, at, &mut raw, &mut has_value, text, &mut cdata)?;
        if !cdata.is_empty() {
            raw = cdata.as_bytes();
        }
    }
    if !has_value {
        return Ok((Value::Null, at));
    }
    let value = match kind {
        None | Some(b"n") => {
            let shown = ctx.styles.shown(style);
            // An empty `<v></v>` is an empty cell, as other readers take it (found: xlsx2csv's
            // skip_empty_lines.xlsx was refused as damaged).
            let value = number_value(raw, shown, ctx.date1904)
                .or_else(|| raw.trim_ascii().is_empty().then_some(Value::Null))
                .ok_or_else(|| broken(format!("{:?} is not a number", String::from_utf8_lossy(raw))))?;
            match (shown, value) {
                // A code shown zero-padded comes in as it is shown (`padded`).
                (Shown::Digits(t), Value::Int(n)) if n >= 0 => Value::Text(ctx.styles.template(t).render(n as u64)),
                (_, value) => value,
            }
        }
        Some(b"s") => match number(raw) {
            Some(i) => {
                let i = i as usize;
                Value::text(shared.get(i)?.ok_or_else(|| broken(format!("shared string {i} does not exist")))?)
            }
            // Looked at only when it is no index: an empty `<v></v>` is an empty cell.
            None if raw.trim_ascii().is_empty() => Value::Null,
            None => return Err(broken("a shared-string index is not a number")),
        },
        Some(b"inlineStr") => Value::text(text),
        Some(b"b") => Value::Bool(matches!(raw.trim_ascii(), b"1" | b"true")),
        Some(b"e") => {
            visitor.error_cell();
            Value::Null
        }
        Some(b"d") => {
            decode(text, raw)?;
            parse_text(text)
        }
        // `str` (a formula's text result) and anything unknown: the text as written.
        Some(_) if !cdata.is_empty() => Value::text(&cdata),
        Some(_) => {
            decode(text, raw)?;
            Value::text(text)
        }
    };
    Ok((value, at))
}

/// `open` + text + `close` at `at`: the text and the position after `close`.
fn simple<'x>(xml: &'x [u8], at: usize, open: &[u8], close: &[u8]) -> Option<(&'x [u8], usize)> {
    let rest = xml.get(at..)?.strip_prefix(open)?;
    let end = memchr(b'<', rest)?;
    rest[end..].starts_with(close).then(|| (&rest[..end], at + open.len() + end + close.len()))
}

/// Any other cell content, tag by tag up to `</c>`: formulas, rich text, phonetic hints, and a
/// value written as a CDATA section (into `cdata`, decoded).
fn general<'x>(
    xml: &'x [u8],
    mut at: usize,
    raw: &mut &'x [u8],
    has_value: &mut bool,
    text: &mut String,
    cdata: &mut String,
) -> Result<usize, ImportError> {
    let mut in_phonetic = false;
    loop {
        let (tag, next) = next_tag(xml, at)?.ok_or_else(|| broken("a cell never ends"))?;
        at = next;
        match tag.name {
            b"v" if !tag.closing && !tag.empty => {
                let end = memchr(b'<', &xml[at..]).ok_or_else(|| broken("a value never ends"))?;
                if xml[at + end..].starts_with(b"<![CDATA[") {
                    // Found: `<v><![CDATA[42]]></v>` was a number that is not one (the sheet
                    // refused as damaged).
                    at = element_text(cdata, xml, at)?;
                } else {
                    *raw = &xml[at..at + end];
                    at += end;
                }
                *has_value = true;
            }
            // Inline strings: `<is><t>..</t></is>`, or rich text runs of `<t>`s.
            b"t" if !tag.closing && !tag.empty && !in_phonetic => {
                at = element_text(text, xml, at)?;
                *has_value = true;
            }
            b"rPh" => in_phonetic = !tag.closing && !tag.empty,
            b"c" if tag.closing => return Ok(at),
            _ => {} // `<f>` formulas: the cached `<v>` is what we import
        }
    }
}

/// A numeric cell: whole numbers as integers, date-styled serials as dates (negative serials are
/// no dates, whatever the style says), elapsed-time-styled ones as elapsed times.
fn number_value(raw: &[u8], shown: Shown, date1904: bool) -> Option<Value> {
    let raw = raw.trim_ascii();
    if !matches!(shown, Shown::Date | Shown::Elapsed) {
        let (negative, digits) = match raw.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, raw),
        };
        if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
            let n = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return Some(Value::Int(if negative { -n } else { n }));
        }
    }
    let f: f64 = std::str::from_utf8(raw).ok()?.parse().ok()?;
    Some(match shown {
        Shown::Date if f >= 0.0 && f.is_finite() => from_serial(f, date1904).into(),
        Shown::Elapsed if f.is_finite() => elapsed(f).into(),
        _ => Value::from_f64(f),
    })
}

/// The 0-based column of a cell reference (`AB12` → 27); 0 when it has no letters.
fn column(reference: &[u8]) -> u32 {
    let letters = reference.iter().take_while(|b| b.is_ascii_alphabetic()).take(3);
    letters.fold(0u32, |n, b| n * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1)).saturating_sub(1)
}

/// The 0-based row of a cell reference (`AB12` → 11).
fn row_of(reference: &[u8]) -> Option<u32> {
    let digits = &reference[reference.iter().position(u8::is_ascii_digit)?..];
    number(digits)?.checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::dates::days_from_civil;

    #[derive(Default)]
    struct Collect {
        rows: Vec<Vec<Value>>,
        numbers: Vec<u64>,
        total: Option<u64>,
        errors: u32,
    }

    impl RowVisitor for Collect {
        fn total(&mut self, rows: u64, _estimated: bool) {
            self.total = Some(rows);
        }
        fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
            self.numbers.push(number);
            self.rows.push(std::mem::take(cells));
            Ok(Flow::Continue(()))
        }
        fn error_cell(&mut self) {
            self.errors += 1;
        }
    }

    /// Style 0 plain, style 1 a date, style 2 zero-padded to five digits.
    fn styles() -> Styles {
        let xml = br#"<styleSheet><numFmts><numFmt numFmtId="164" formatCode="00000"/></numFmts>
            <cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/></cellXfs></styleSheet>"#;
        Styles::read(xml).expect("styles")
    }

    fn read(sheet: &str, shared: &mut SharedStrings<'_>) -> Collect {
        let ctx = Context { styles: &styles(), date1904: false };
        let mut out = Collect::default();
        scan(sheet.as_bytes(), &ctx, shared, &mut out).expect("scans");
        out
    }

    #[test]
    fn every_cell_kind() {
        let xml = &b"<sst><si><t>Name</t></si><si><t>Ada</t></si></sst>"[..];
        let mut shared = SharedStrings::new(xml, &crate::import::limits::Limits::default());
        let sheet = r#"<worksheet><dimension ref="B2:F4"/><sheetData>
            <row r="2"><c r="B2" t="s"><v>0</v></c><c r="C2" t="inlineStr"><is><t>When</t></is></c><c r="D2" t="str"><f>"Ok"</f><v>Ok</v></c><c r="F2" t="s"><v>0</v></c></row>
            <row r="3"><c r="B3" t="s"><v>1</v></c><c r="C3" s="1"><v>45292</v></c><c r="D3" t="b"><v>1</v></c><c r="E3" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="F3"><v>-12.5</v></c></row>
            <row r="4" spans="2:6"><c r="B4" s="1"/><c r="C4" s="1"><v>45292.75</v></c><c r="D4"><f>2*21</f><v>42</v></c><c r="F4" t="inlineStr"><is><r><t>a&amp;</t></r><r><t>b</t></r></is></c></row>
            <row r="5"/></sheetData></worksheet>"#;
        let out = read(sheet, &mut shared);
        assert_eq!(out.total, Some(2));
        assert_eq!(out.errors, 1);
        let day = days_from_civil(2024, 1, 1);
        assert_eq!(
            out.rows,
            vec![
                vec![
                    Value::Text("Name".into()),
                    Value::Text("When".into()),
                    Value::Text("Ok".into()),
                    Value::Null,
                    Value::Text("Name".into())
                ],
                vec![Value::Text("Ada".into()), Value::Date(day), Value::Bool(true), Value::Null, Value::Real(-12.5)],
                vec![
                    Value::Null,
                    Value::DateTime(i64::from(day) * 86_400_000 + 18 * 3_600_000),
                    Value::Int(42),
                    Value::Null,
                    Value::Text("a&b".into())
                ],
            ]
        );
    }

    #[test]
    fn elapsed_times_and_times_keep_what_a_spreadsheet_shows() {
        let xml = br#"<styleSheet><numFmts><numFmt numFmtId="165" formatCode="[h]:mm:ss"/><numFmt numFmtId="166" formatCode="hh:mm:ss.000"/><numFmt numFmtId="167" formatCode="[mm]:ss"/></numFmts>
            <cellXfs><xf numFmtId="0"/><xf numFmtId="165"/><xf numFmtId="46"/><xf numFmtId="166"/><xf numFmtId="167"/></cellXfs></styleSheet>"#;
        let ctx = Context { styles: &Styles::read(xml).expect("styles"), date1904: false };
        // 255:10:10 is 918,610 seconds: 10.632060185185185 days; the times as LibreOffice writes them.
        let sheet = r#"<worksheet><sheetData><row><c s="1"><v>10.632060185185185</v></c><c s="2"><v>1.5</v></c>
            <c s="3"><v>0.423728280740741</v></c><c s="3"><v>0.646041655092593</v></c><c s="4"><v>-0.25</v></c><c s="1"><v>0</v></c></row></sheetData></worksheet>"#;
        let mut out = Collect::default();
        scan(sheet.as_bytes(), &ctx, &mut SharedStrings::none(), &mut out).expect("scans");
        let text = |s: &str| Value::Text(s.into());
        // Found: the first arrived as 1900-01-10 15:10:10, the times without their fractions.
        assert_eq!(
            out.rows[0],
            [
                text("255:10:10"),
                text("36:00:00"),
                text("10:10:10.123456"),
                text("15:30:17.999"),
                text("-06:00:00"),
                text("00:00:00")
            ]
        );
    }

    #[test]
    fn values_written_as_cdata_are_read() {
        let xml = &b"<sst><si><t>zero</t></si><si><t>one</t></si></sst>"[..];
        let mut shared = SharedStrings::new(xml, &crate::import::limits::Limits::default());
        let sheet = r#"<worksheet><sheetData><row><c><v><![CDATA[42]]></v></c><c t="s"><v><![CDATA[1]]></v></c>
            <c t="str"><f>A1</f><v><![CDATA[a &amp; <b>]]></v></c><c s="1"><v><![CDATA[45292]]></v></c><c t="b"><v><![CDATA[1]]></v></c>
            <c><v> <![CDATA[2.5]]> </v></c></row></sheetData></worksheet>"#;
        let out = read(sheet, &mut shared);
        assert_eq!(
            out.rows[0],
            [
                Value::Int(42),
                Value::Text("one".into()),
                Value::Text("a &amp; <b>".into()),
                Value::Date(days_from_civil(2024, 1, 1)),
                Value::Bool(true),
                Value::Real(2.5)
            ]
        );
    }

    #[test]
    fn an_empty_value_is_an_empty_cell() {
        let sheet = r#"<worksheet><sheetData><row><c><v></v></c><c t="s"><v/></c><c s="1"><v> </v></c><c><v>3</v></c></row></sheetData></worksheet>"#;
        let out = read(sheet, &mut SharedStrings::none());
        assert_eq!(out.rows[0], [Value::Null, Value::Null, Value::Null, Value::Int(3)]);
    }

    #[test]
    fn cells_without_references_follow_each_other() {
        let sheet = "<worksheet><sheetData><row><c><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row></sheetData></worksheet>";
        let out = read(sheet, &mut SharedStrings::none());
        assert_eq!(out.rows, vec![vec![Value::Int(1), Value::Int(2)], vec![Value::Int(3)]]);
    }

    #[test]
    fn zero_padded_whole_numbers_come_in_as_shown() {
        let sheet = r#"<worksheet><sheetData><row><c s="2"><v>501</v></c><c s="2"><v>123456</v></c><c s="2"><v>2.5</v></c>
            <c s="2"><v>-7</v></c><c s="2" t="str"><v>x</v></c><c><v>501</v></c></row></sheetData></worksheet>"#;
        let out = read(sheet, &mut SharedStrings::none());
        let want = [Value::Text("00501".into()), Value::Text("123456".into()), Value::Real(2.5), Value::Int(-7)];
        assert_eq!(out.rows[0][..4], want);
        assert_eq!(out.rows[0][4..], [Value::Text("x".into()), Value::Int(501)]);
    }

    #[test]
    fn a_wrong_dimension_and_a_first_row_without_a_number_lose_nothing() {
        let sheet = r#"<worksheet><dimension ref="C1:D3"/><sheetData>
            <row><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="D1" t="inlineStr"><is><t>amount</t></is></c></row>
            <row r="2"><c r="A2"><v>7</v></c><c r="D2"><v>9</v></c></row>
            <row r="7"><c r="A7"><v>8</v></c></row><row><c><v>10</v></c></row></sheetData></worksheet>"#;
        let out = read(sheet, &mut SharedStrings::none());
        assert_eq!(out.numbers, [1, 2, 7, 8], "the sheet's own numbers: blank rows 3 to 6 are not in the file");
        assert_eq!(
            out.rows,
            vec![
                vec![Value::Text("id".into()), Value::Null, Value::Null, Value::Text("amount".into())],
                vec![Value::Int(7), Value::Null, Value::Null, Value::Int(9)],
                vec![Value::Int(8)],
                vec![Value::Int(10)],
            ]
        );
    }

    #[test]
    fn a_row_or_cell_given_twice_is_an_error() {
        let ctx = Context { styles: &Styles::default(), date1904: false };
        for (sheet, says) in [
            (
                r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row><row r="2"><c r="A2"><v>3</v></c></row>"#,
                "cell A2 twice",
            ),
            (
                r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="3"><c r="A3"><v>2</v></c><c r="A3"><v>3</v></c></row>"#,
                "cell A3 twice",
            ),
            (
                r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="3"><c r="A3"><v>2</v></c></row><row r="2"><c r="A2"><v>3</v></c></row>"#,
                "row 2 after row 3",
            ),
        ] {
            let xml = format!("<worksheet><sheetData>{sheet}</sheetData></worksheet>");
            let err = scan(xml.as_bytes(), &ctx, &mut SharedStrings::none(), &mut Collect::default())
                .expect_err("given twice");
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn a_cut_off_sheet_is_an_error() {
        let ctx = Context { styles: &Styles::default(), date1904: false };
        let cut = "<worksheet><sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c></row><row r=\"2\"><c r=\"A2\"><v>";
        let err = scan(cut.as_bytes(), &ctx, &mut SharedStrings::none(), &mut Collect::default()).expect_err("cut off");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn references() {
        assert_eq!(column(b"A1"), 0);
        assert_eq!(column(b"AB12"), 27);
        assert_eq!(column(b"XFD1"), 16_383);
        assert_eq!(row_of(b"AB12"), Some(11));
        assert_eq!(row_of(b"AB"), None);
    }
}
