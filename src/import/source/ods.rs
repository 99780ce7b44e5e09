//! OpenDocument spreadsheets, streamed. calamine parses a whole `content.xml` (every sheet) into
//! memory when it opens an .ods file, so this reader scans the XML itself with the byte-level
//! scanner the .xlsx reader uses, one chunk of whole rows at a time, honouring
//! `number-rows-repeated` / `number-columns-repeated` without materialising the blank runs
//! LibreOffice writes to the sheet's edge.

use super::xml::{Chunks, Tag, attrs, broken, decode_xml, next_tag};
use super::{Counting, Flow, RowVisitor, choose_sheet};
use crate::import::ImportError;
use crate::import::dates::{self, DAY_MS};
use crate::import::inflation::{self, Budget, Inflating};
use crate::import::limits::{self, Limits};
use crate::import::value::{Value, parse_text};
use memchr::memchr;
use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

/// A repeated non-empty row is materialised at most this many times; more is a file built to hurt.
const MAX_REPEAT: u64 = 1_048_576;
/// How often (in rows) the total is re-estimated from the bytes read.
const ESTIMATE_EVERY: u64 = 16 * 1024;

/// Runs `f` over `content.xml` in chunks of whole rows, with the bytes read so far and its size,
/// within the bounds on inflation (see `import::inflation`).
fn with_content<T>(
    path: &Path,
    limits: &Limits,
    f: impl FnOnce(&mut Chunks<Counting<Inflating<&mut dyn Read>>>, &Rc<Cell<u64>>, u64) -> Result<T, ImportError>,
) -> Result<T, ImportError> {
    let mut zip = zip::ZipArchive::new(BufReader::new(File::open(path)?)).map_err(broken)?;
    let mut entry = zip.by_name("content.xml").map_err(broken)?;
    let (size, compressed) = (entry.size(), entry.compressed_size());
    inflation::declared("content", compressed, size, limits)?;
    let read = Rc::new(Cell::new(0));
    let inner: &mut dyn Read = &mut entry;
    let inner = Inflating::new(inner, "content", compressed, &Budget::default(), limits);
    let mut chunks = Chunks::new(Counting { inner, read: read.clone() }, "table-row");
    f(&mut chunks, &read, size)
}

fn attr_text(tag: &Tag<'_>, name: &[u8]) -> Result<Option<String>, ImportError> {
    match attrs(tag.attrs).find(|(k, _)| *k == name) {
        Some((_, raw)) => {
            let mut s = String::new();
            decode_xml(&mut s, raw)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

fn repeat(tag: &Tag<'_>, name: &[u8]) -> u64 {
    attrs(tag.attrs)
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Names of the sheets, in order.
pub fn sheet_names(path: &Path, limits: &Limits) -> Result<Vec<String>, ImportError> {
    // Listing the sheets reads the whole content: within the server's bounds on inflation.
    with_content(path, limits, |chunks, _, _| {
        let mut names = Vec::new();
        while let Some(xml) = chunks.next()? {
            let mut at = 0;
            while let Some((tag, next)) = next_tag(xml, at)? {
                at = next;
                if tag.name == b"table" && !tag.closing {
                    names.push(attr_text(&tag, b"name")?.unwrap_or_default());
                }
            }
        }
        Ok(names)
    })
}

/// Streams the rows of one sheet (the first when `sheet` is `None`) in a single pass.
pub fn stream(
    path: &Path,
    sheet: Option<&str>,
    limits: &Limits,
    visitor: &mut dyn RowVisitor,
) -> Result<String, ImportError> {
    with_content(path, limits, |chunks, read, size| {
        let mut seen: Vec<String> = Vec::new();
        let mut table: Option<(String, Table)> = None;
        while let Some(xml) = chunks.next()? {
            let mut at = 0;
            while let Some((tag, next)) = next_tag(xml, at)? {
                at = next;
                if let Some((name, t)) = table.as_mut() {
                    if t.tag(&tag, xml, &mut at, visitor)? {
                        return Ok(std::mem::take(name));
                    }
                    if t.emitted % ESTIMATE_EVERY == 0 && t.emitted > 0 && t.estimated_at != t.emitted {
                        t.estimated_at = t.emitted;
                        let fraction = read.get().max(1) as f64 / size.max(1) as f64;
                        visitor.total(((t.emitted - 1) as f64 / fraction) as u64, true);
                    }
                } else if tag.name == b"table" && !tag.closing {
                    let name = attr_text(&tag, b"name")?.unwrap_or_default();
                    let wanted = match sheet {
                        None => true,
                        Some(w) => name == w || name.eq_ignore_ascii_case(w),
                    };
                    if wanted && tag.empty {
                        visitor.sheet(&name);
                        return Ok(name);
                    } else if wanted {
                        visitor.sheet(&name);
                        table = Some((name, Table { max_cell: limits.max_cell_bytes, ..Table::default() }));
                    } else {
                        seen.push(name);
                    }
                }
            }
        }
        match table {
            Some(_) => Err(broken("the sheet ends early")),
            // Not found: name every sheet the file has, as `choose_sheet` does.
            None => choose_sheet(&seen, sheet).and_then(|_| Err(broken("the sheet ends early"))),
        }
    })
}

/// One cell being read: its attributes decide the value, text children only matter for strings.
struct CellState {
    value: Option<Value>,
    is_string: bool,
    /// A formula's error (`#DIV/0!`): LibreOffice says so (`calcext:value-type="error"`, after the
    /// `office:value-type="string"` of its shown text); it arrives as NULL, counted as in the
    /// other formats.
    error: bool,
    /// A whole number ≥ 0: its shown text is read too, for leading zeros (`padded`).
    may_be_padded: bool,
    text: String,
    paragraphs: u32,
    /// Inside a `<text:p>`: text here is the cell's (whitespace between paragraphs is not).
    in_paragraph: bool,
    repeat: u64,
}

/// The state of the table being read.
#[derive(Default)]
struct Table {
    row: Vec<Value>,
    /// Empty cells not yet placed: only a later value makes them real.
    pending_blanks: u64,
    /// Roughly what `row` holds (`limits::value_bytes`), priced before repeats are written out.
    row_bytes: usize,
    /// `--max-cell-bytes`, checked as a cell's text grows (a `<text:s text:c="1024"/>` is 1 KB of
    /// spaces in 20 bytes of XML).
    max_cell: usize,
    row_repeat: u64,
    cell: Option<CellState>,
    in_annotation: bool,
    emitted: u64,
    estimated_at: u64,
    /// Rows of the table so far, blank and repeated ones included: the next row's number is one more.
    numbered: u64,
}

impl Table {
    /// Handles one tag inside the table (and the text after it, moving `at` past that text);
    /// true once the table ends or the visitor has read enough.
    fn tag(
        &mut self,
        tag: &Tag<'_>,
        xml: &[u8],
        at: &mut usize,
        visitor: &mut dyn RowVisitor,
    ) -> Result<bool, ImportError> {
        match tag.name {
            b"table" if tag.closing => return Ok(true),
            b"table-row" if !tag.closing => {
                self.row.clear();
                self.pending_blanks = 0;
                self.row_bytes = 0;
                // A self-closing row has no cells and no end tag: a blank row, skipped (but counted).
                self.row_repeat = repeat(tag, b"number-rows-repeated");
                if tag.empty {
                    self.numbered = self.numbered.saturating_add(self.row_repeat);
                }
            }
            b"table-row" => {
                let flow = self.end_row(visitor)?;
                if flow.is_break() {
                    return Ok(true);
                }
            }
            b"table-cell" | b"covered-table-cell" if !tag.closing => {
                let c = start_cell(tag)?;
                if c.error {
                    visitor.error_cell();
                }
                if tag.empty {
                    self.place(c)?;
                } else {
                    self.cell = Some(c);
                }
            }
            b"table-cell" | b"covered-table-cell" => {
                if let Some(c) = self.cell.take() {
                    self.place(c)?;
                }
            }
            // A cell's comment is not its value.
            b"annotation" => self.in_annotation = !tag.closing && !tag.empty,
            b"p" if !tag.closing && !self.in_annotation => {
                if let Some(c) = self.cell.as_mut() {
                    if c.paragraphs > 0 {
                        c.text.push('\n');
                    }
                    c.paragraphs += 1;
                    c.in_paragraph = !tag.empty;
                }
            }
            b"p" if !self.in_annotation => {
                if let Some(c) = self.cell.as_mut() {
                    c.in_paragraph = false;
                }
            }
            b"s" if tag.empty => {
                if let Some(c) = self.cell.as_mut() {
                    let n = repeat(tag, b"c").min(1024) as usize;
                    if c.text.len() + n > self.max_cell {
                        return Err(limits::cell_too_big(self.max_cell));
                    }
                    c.text.extend(std::iter::repeat_n(' ', n));
                }
            }
            b"tab" if tag.empty => self.push_text("\t"),
            b"line-break" if tag.empty => self.push_text("\n"),
            _ => {}
        }
        // Text after the tag belongs to a string cell's paragraph (spans and links included).
        let in_annotation = self.in_annotation;
        if let Some(c) =
            self.cell.as_mut().filter(|c| (c.is_string || c.may_be_padded) && c.in_paragraph && !in_annotation)
        {
            let end = memchr(b'<', &xml[*at..]).map_or(xml.len(), |i| *at + i);
            if c.text.len() + (end - *at) > self.max_cell {
                return Err(limits::cell_too_big(self.max_cell));
            }
            decode_xml(&mut c.text, &xml[*at..end])?;
            *at = end;
        }
        Ok(false)
    }

    /// Puts a finished cell (and its repeats) into the row; blanks are held back until a value
    /// follows, so a trailing run of 16,384 empty cells costs nothing. Its size is priced before
    /// its repeats are written out (one 1 MB cell repeated 1,600 times was a 1.6 GB row).
    fn place(&mut self, c: CellState) -> Result<(), ImportError> {
        let value = match c.value {
            // 501 shown as 00501 (a minimum number of integer digits): the code as shown. The
            // writer's own text says it, so the number style need not be looked up.
            Some(Value::Int(n)) if c.may_be_padded && shows_padded(&c.text, n) => Some(Value::Text(c.text)),
            Some(v) => Some(v),
            None => (c.is_string && !c.text.trim().is_empty()).then_some(Value::Text(c.text)),
        };
        match value {
            None => self.pending_blanks = self.pending_blanks.saturating_add(c.repeat),
            Some(v) => {
                let width = (self.row.len() as u64).saturating_add(self.pending_blanks).saturating_add(c.repeat);
                if width > crate::import::MAX_COLUMNS as u64 {
                    return Err(ImportError::Invalid(format!(
                        "a row has values in {width} columns; at most {} columns can be imported",
                        crate::import::MAX_COLUMNS
                    )));
                }
                // At most 1,000 columns (checked above), so this cannot overflow.
                self.row_bytes += limits::value_bytes(&v) * c.repeat as usize + 16 * self.pending_blanks as usize;
                if self.row_bytes > limits::MAX_ROW_BYTES {
                    return Err(limits::row_too_big());
                }
                self.row.extend(std::iter::repeat_n(Value::Null, self.pending_blanks as usize));
                self.pending_blanks = 0;
                self.row.extend(std::iter::repeat_n(v, c.repeat as usize));
            }
        }
        Ok(())
    }

    fn push_text(&mut self, s: &str) {
        if let Some(c) = self.cell.as_mut() {
            c.text.push_str(s);
        }
    }

    fn end_row(&mut self, visitor: &mut dyn RowVisitor) -> Result<Flow, ImportError> {
        let first = self.numbered + 1;
        self.numbered = self.numbered.saturating_add(self.row_repeat);
        if self.row.iter().all(|v| matches!(v, Value::Null)) {
            return Ok(Flow::Continue(()));
        }
        for i in 0..self.row_repeat.min(MAX_REPEAT) {
            // The last (usually only) copy takes the row itself.
            let mut cells =
                if i + 1 == self.row_repeat.min(MAX_REPEAT) { std::mem::take(&mut self.row) } else { self.row.clone() };
            self.emitted += 1;
            if visitor.row(first + i, &mut cells)?.is_break() {
                return Ok(Flow::Break(()));
            }
        }
        Ok(Flow::Continue(()))
    }
}

fn utf8(v: Option<&[u8]>) -> Option<&str> {
    v.and_then(|v| std::str::from_utf8(v).ok())
}

fn start_cell(tag: &Tag<'_>) -> Result<CellState, ImportError> {
    let (mut kind, mut value_raw, mut date, mut time, mut boolean, mut repeat) = (None, None, None, None, None, 1u64);
    for (k, v) in attrs(tag.attrs) {
        match k {
            b"value-type" => kind = Some(v),
            b"value" => value_raw = Some(v),
            b"date-value" => date = Some(v),
            b"time-value" => time = Some(v),
            b"boolean-value" => boolean = Some(v),
            b"number-columns-repeated" => {
                repeat = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
            }
            _ => {}
        }
    }
    let value = match kind {
        Some(b"float" | b"percentage" | b"currency") => {
            utf8(value_raw).and_then(|v| v.parse::<f64>().ok()).map(Value::from_f64)
        }
        Some(b"boolean") => boolean.map(|v| Value::Bool(v == b"true")),
        Some(b"date") => utf8(date).map(|v| match parse_text(v) {
            // Midnight datetimes are dates, as Excel's serials are.
            Value::DateTime(ms) if ms.rem_euclid(DAY_MS) == 0 => Value::Date(ms.div_euclid(DAY_MS) as i32),
            other => other,
        }),
        Some(b"time") => utf8(time).map(time_value),
        _ => None,
    };
    Ok(CellState {
        may_be_padded: kind == Some(b"float") && matches!(value, Some(Value::Int(n)) if n >= 0),
        value,
        is_string: matches!(kind, None | Some(b"string")),
        error: kind == Some(b"error"),
        text: String::new(),
        paragraphs: 0,
        in_paragraph: false,
        repeat,
    })
}

/// Whether `shown` is `n` with leading zeros, as `00501` is 501 (and `501` is not).
fn shows_padded(shown: &str, n: i64) -> bool {
    shown.len() > 1
        && shown.starts_with('0')
        && shown.bytes().all(|b| b.is_ascii_digit())
        && shown.trim_start_matches('0').parse::<i64>().unwrap_or(0) == n
}

/// `PT12H30M05S` (ISO 8601 duration, as ODS stores times of day and elapsed times alike) as the
/// text a spreadsheet shows, `12:30:05`, to the microsecond (`PT255H10M10.5S` is `255:10:10.5`;
/// found: fractions and signs were dropped).
fn time_value(v: &str) -> Value {
    let negative = v.starts_with('-');
    let body = v.trim_start_matches(['-', '+']).trim_start_matches('P');
    let (mut seconds, mut num, mut in_time) = (0f64, String::new(), false);
    for ch in body.chars() {
        let unit = match ch {
            'T' => {
                in_time = true;
                continue;
            }
            'D' if !in_time => 86_400.0,
            'H' => 3_600.0,
            'M' if in_time => 60.0,
            'S' => 1.0,
            _ => {
                num.push(ch);
                continue;
            }
        };
        seconds += num.parse::<f64>().unwrap_or(0.0) * unit;
        num.clear();
    }
    let micros = (seconds * 1e6).round();
    if !micros.is_finite() || micros >= 9.2e18 {
        return Value::Text(v.to_owned());
    }
    let mut s = String::new();
    dates::write_time(&mut s, if negative { -(micros as i64) } else { micros as i64 });
    Value::Text(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(Default)]
    struct Collect {
        sheet: Option<String>,
        rows: Vec<Vec<Value>>,
        numbers: Vec<u64>,
    }

    impl RowVisitor for Collect {
        fn total(&mut self, _rows: u64, _estimated: bool) {}
        fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
            self.numbers.push(number);
            self.rows.push(std::mem::take(cells));
            Ok(Flow::Continue(()))
        }
        fn sheet(&mut self, name: &str) {
            self.sheet = Some(name.to_owned());
        }
    }

    /// An .ods file whose content.xml holds `tables`.
    fn ods(tables: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let mut zip = zip::ZipWriter::new(file.reopen().expect("reopen"));
        zip.start_file("content.xml", zip::write::SimpleFileOptions::default()).expect("start");
        write!(zip, "<office:document-content><office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>").expect("write");
        zip.finish().expect("finish");
        file
    }

    #[test]
    fn cells_text_repeats_and_sheets() {
        let file = ods(
            r#"<table:table table:name="Notes"><table:table-row><table:table-cell office:value-type="string"><text:p>skip me</text:p></table:table-cell></table:table-row></table:table>
            <table:table table:name="R&amp;D">
              <table:table-row table:number-rows-repeated="2"/><table:table-row><table:table-cell/></table:table-row>
              <table:table-row><table:table-cell office:value-type="string"><text:p>Name</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell><text:p>When</text:p></table:table-cell></table:table-row>
              <table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type="string"><text:p>a<text:s text:c="2"/><text:span>b</text:span> &amp; c</text:p>
                  <text:p>second</text:p><office:annotation><text:p>a comment</text:p></office:annotation></table:table-cell>
                <table:table-cell office:value-type="float" office:value="2.5"><text:p>2,50</text:p></table:table-cell><table:table-cell office:value-type="boolean" office:boolean-value="true"/>
                <table:table-cell office:value-type="date" office:date-value="2024-01-31"/></table:table-row>
              <table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
            </table:table>"#,
        );
        let mut out = Collect::default();
        assert_eq!(stream(file.path(), Some("r&d"), &Limits::default(), &mut out).expect("reads"), "R&D");
        assert_eq!(out.sheet.as_deref(), Some("R&D"));
        let day = crate::import::dates::days_from_civil(2024, 1, 31);
        let data = vec![Value::Text("a  b & c\nsecond".into()), Value::Real(2.5), Value::Bool(true), Value::Date(day)];
        assert_eq!(
            out.rows,
            vec![
                vec![Value::Text("Name".into()), Value::Null, Value::Null, Value::Text("When".into())],
                data.clone(),
                data
            ]
        );
        assert_eq!(out.numbers, [4, 5, 6], "after three blank rows, two of them one repeated element");
        assert_eq!(sheet_names(file.path(), &Limits::default()).expect("names"), ["Notes", "R&D"]);
        let err =
            stream(file.path(), Some("Nope"), &Limits::default(), &mut Collect::default()).expect_err("no such sheet");
        assert!(err.to_string().contains("its sheets are: Notes, R&D"), "{err}");
    }

    #[test]
    fn whole_numbers_shown_with_leading_zeros_keep_them() {
        let cell = |value: &str, shown: &str| {
            format!(
                r#"<table:table-cell office:value-type="float" office:value="{value}"><text:p>{shown}</text:p></table:table-cell>"#
            )
        };
        let row =
            [cell("501", "00501"), cell("10004", "10004"), cell("7", "7"), cell("2.5", "02.50"), cell("5", "0005 kg")];
        let file = ods(&format!(
            r#"<table:table table:name="S"><table:table-row>{}</table:table-row></table:table>"#,
            row.concat()
        ));
        let mut out = Collect::default();
        stream(file.path(), None, &Limits::default(), &mut out).expect("reads");
        let want = [Value::Text("00501".into()), Value::Int(10004), Value::Int(7), Value::Real(2.5), Value::Int(5)];
        assert_eq!(out.rows, [want]);
        assert!(shows_padded("00", 0) && !shows_padded("0", 0) && !shows_padded("00502", 501));
    }

    #[test]
    fn ods_times_become_text() {
        assert_eq!(time_value("PT12H30M05S"), Value::Text("12:30:05".into()));
        assert_eq!(time_value("PT00H00M00.5S"), Value::Text("00:00:00.5".into()));
        assert_eq!(time_value("PT10H10M10.123456S"), Value::Text("10:10:10.123456".into()));
        assert_eq!(time_value("PT255H10M10S"), Value::Text("255:10:10".into()));
        assert_eq!(time_value("P1DT2H"), Value::Text("26:00:00".into()));
        assert_eq!(time_value("-PT12H"), Value::Text("-12:00:00".into()));
    }
}
