//! OpenDocument spreadsheets, streamed. calamine parses a whole `content.xml` (every sheet) into
//! memory when it opens an .ods file, so this reader walks the XML itself with quick-xml: one row
//! at a time, honouring `number-rows-repeated` / `number-columns-repeated` without materialising
//! the blank runs LibreOffice writes to the sheet's edge.

use super::{choose_sheet, RowVisitor};
use crate::import::dates::{self, DAY_MS};
use crate::import::value::{parse_text, Value};
use crate::import::ImportError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::fs::File;
use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;
use std::path::Path;

/// A repeated non-empty row is materialised at most this many times; more is a file built to hurt.
const MAX_REPEAT: u64 = 1_048_576;
/// How often (in rows) the total is re-estimated from the bytes read.
const ESTIMATE_EVERY: u64 = 16 * 1024;

fn broken(e: impl std::fmt::Display) -> ImportError {
    ImportError::Invalid(format!("the .ods file cannot be read, it may be damaged: {e}"))
}

/// Counts the inflated bytes read, to estimate the row total as CSV does (ODS declares none).
struct Counting<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Where the reader is in `content.xml`: bytes read so far and its inflated size.
struct Position {
    read: Rc<Cell<u64>>,
    size: u64,
}

type Xml<'a> = Reader<BufReader<Counting<&'a mut dyn Read>>>;

/// Runs `f` over a streaming XML reader of the archive's `content.xml`.
fn with_content<T>(path: &Path, f: impl FnOnce(&mut Xml<'_>, Position) -> Result<T, ImportError>) -> Result<T, ImportError> {
    let mut zip = zip::ZipArchive::new(BufReader::new(File::open(path)?)).map_err(broken)?;
    let mut entry = zip.by_name("content.xml").map_err(broken)?;
    let size = entry.size();
    let read = Rc::new(Cell::new(0));
    let inner: &mut dyn Read = &mut entry;
    let mut xml = Reader::from_reader(BufReader::with_capacity(256 * 1024, Counting { inner, read: read.clone() }));
    xml.config_mut().trim_text(false);
    f(&mut xml, Position { read, size })
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().map(|a| a.value.into_owned())
}

fn repeat(e: &BytesStart<'_>, name: &str) -> u64 {
    attr(e, name).and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

/// Names of the sheets, in order.
pub fn sheet_names(path: &Path) -> Result<Vec<String>, ImportError> {
    with_content(path, |xml, _| {
        let (mut names, mut buf) = (Vec::new(), Vec::new());
        loop {
            match xml.read_event_into(&mut buf).map_err(broken)? {
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "table:table" => {
                    names.push(attr(&e, "table:name").unwrap_or_default());
                }
                Event::Eof => return Ok(names),
                _ => {}
            }
            buf.clear();
        }
    })
}

/// Streams the rows of one sheet.
pub fn stream(path: &Path, sheet: Option<&str>, visitor: &mut dyn RowVisitor) -> Result<String, ImportError> {
    let wanted = choose_sheet(&sheet_names(path)?, sheet)?;
    visitor.sheet(&wanted);
    with_content(path, |xml, position| {
        let mut buf = Vec::with_capacity(4096);
        loop {
            match xml.read_event_into(&mut buf).map_err(broken)? {
                Event::Start(e) if e.name().as_ref() == "table:table" => {
                    if attr(&e, "table:name").as_deref() == Some(wanted.as_str()) {
                        read_table(xml, &position, visitor)?;
                        return Ok(wanted);
                    }
                    let end = e.to_owned();
                    xml.read_to_end_into(end.name(), &mut Vec::new()).map_err(broken)?;
                }
                Event::Eof => return Ok(wanted),
                _ => {}
            }
            buf.clear();
        }
    })
}

/// One cell being read: its attributes decide the value, text children only matter for strings.
struct CellState {
    value: Option<Value>,
    is_string: bool,
    text: String,
    paragraphs: u32,
    repeat: u64,
}

fn read_table<R: BufRead>(xml: &mut Reader<R>, position: &Position, visitor: &mut dyn RowVisitor) -> Result<(), ImportError> {
    let mut emitted: u64 = 0;
    let mut buf = Vec::with_capacity(4096);
    let mut row: Vec<Value> = Vec::with_capacity(64);
    let mut pending_blanks: u64 = 0; // empty cells not yet placed: only a later value makes them real
    let mut row_repeat = 1;
    let mut cell: Option<CellState> = None;
    let mut in_annotation = false;
    loop {
        let event = xml.read_event_into(&mut buf).map_err(broken)?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "table:table-row" => {
                row.clear();
                pending_blanks = 0;
                // A self-closing row has no cells and no end event: a blank row, skipped.
                row_repeat = repeat(&e, "table:number-rows-repeated");
            }
            Event::End(e) if e.name().as_ref() == "table:table-row" => {
                if row.iter().any(|v| !matches!(v, Value::Null)) {
                    for _ in 0..row_repeat.min(MAX_REPEAT) {
                        let mut copy = row.clone();
                        visitor.row(&mut copy)?;
                        emitted += 1;
                        if emitted % ESTIMATE_EVERY == 0 {
                            let at = position.read.get().max(1) as f64;
                            visitor.total(((emitted - 1) as f64 * position.size as f64 / at) as u64, true);
                        }
                    }
                }
            }
            Event::Start(e) if is_cell(&e) => cell = Some(start_cell(&e)?),
            Event::Empty(e) if is_cell(&e) => {
                let c = start_cell(&e)?;
                place(&mut row, &mut pending_blanks, c)?;
            }
            Event::End(e) if matches!(e.name().as_ref(), "table:table-cell" | "table:covered-table-cell") => {
                if let Some(c) = cell.take() {
                    place(&mut row, &mut pending_blanks, c)?;
                }
            }
            // A cell's comment is not its value.
            Event::Start(e) if e.name().as_ref() == "office:annotation" => in_annotation = true,
            Event::End(e) if e.name().as_ref() == "office:annotation" => in_annotation = false,
            Event::Start(e) if e.name().as_ref() == "text:p" && !in_annotation => {
                if let Some(c) = cell.as_mut() {
                    if c.paragraphs > 0 {
                        c.text.push('\n');
                    }
                    c.paragraphs += 1;
                }
            }
            Event::Empty(e) if e.name().as_ref() == "text:s" => {
                if let Some(c) = cell.as_mut() {
                    let n = repeat(&e, "text:c").min(1024) as usize;
                    c.text.extend(std::iter::repeat_n(' ', n));
                }
            }
            Event::Empty(e) if e.name().as_ref() == "text:tab" => {
                if let Some(c) = cell.as_mut() {
                    c.text.push('\t');
                }
            }
            Event::Empty(e) if e.name().as_ref() == "text:line-break" => {
                if let Some(c) = cell.as_mut() {
                    c.text.push('\n');
                }
            }
            Event::Text(t) if !in_annotation => {
                if let Some(c) = cell.as_mut().filter(|c| c.is_string && c.paragraphs > 0) {
                    c.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) if !in_annotation => {
                if let Some(c) = cell.as_mut().filter(|c| c.is_string && c.paragraphs > 0) {
                    let ch = match r.resolve_char_ref().ok().flatten() {
                        Some(ch) => Some(ch),
                        None => match r.as_ref() {
                            "amp" => Some('&'),
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "quot" => Some('"'),
                            "apos" => Some('\''),
                            _ => None,
                        },
                    };
                    c.text.extend(ch);
                }
            }
            Event::End(e) if e.name().as_ref() == "table:table" => return Ok(()),
            Event::Eof => return Err(broken("the sheet ends early")),
            _ => {}
        }
        buf.clear();
    }
}

fn is_cell(e: &BytesStart<'_>) -> bool {
    matches!(e.name().as_ref(), "table:table-cell" | "table:covered-table-cell")
}

fn start_cell(e: &BytesStart<'_>) -> Result<CellState, ImportError> {
    let kind = attr(e, "office:value-type");
    let value = match kind.as_deref() {
        Some("float" | "percentage" | "currency") => {
            attr(e, "office:value").and_then(|v| v.parse::<f64>().ok()).map(Value::from_f64)
        }
        Some("boolean") => attr(e, "office:boolean-value").map(|v| Value::Bool(v == "true")),
        Some("date") => attr(e, "office:date-value").map(|v| match parse_text(&v) {
            // Midnight datetimes are dates, as Excel's serials are.
            Value::DateTime(ms) if ms.rem_euclid(DAY_MS) == 0 => Value::Date(ms.div_euclid(DAY_MS) as i32),
            other => other,
        }),
        Some("time") => attr(e, "office:time-value").map(|v| time_value(&v)),
        _ => None,
    };
    Ok(CellState {
        value,
        is_string: kind.as_deref() == Some("string") || kind.is_none(),
        text: String::new(),
        paragraphs: 0,
        repeat: repeat(e, "table:number-columns-repeated"),
    })
}

/// `PT12H30M05S` (ISO 8601 duration, as ODS stores times) as `12:30:05` text.
fn time_value(v: &str) -> Value {
    let body = v.trim_start_matches('-').trim_start_matches("PT");
    let (mut ms, mut num) = (0i64, String::new());
    for ch in body.chars() {
        match ch {
            'H' => ms += num.parse::<f64>().unwrap_or(0.0) as i64 * 3_600_000,
            'M' => ms += num.parse::<f64>().unwrap_or(0.0) as i64 * 60_000,
            'S' => ms += (num.parse::<f64>().unwrap_or(0.0) * 1000.0) as i64,
            _ => {
                num.push(ch);
                continue;
            }
        }
        num.clear();
    }
    let mut s = String::new();
    dates::write_time(&mut s, ms);
    Value::Text(s)
}

/// Puts a finished cell (and its repeats) into the row; blanks are held back until a value
/// follows, so a trailing run of 16,384 empty cells costs nothing.
fn place(row: &mut Vec<Value>, pending_blanks: &mut u64, c: CellState) -> Result<(), ImportError> {
    let value = c.value.or_else(|| (c.is_string && !c.text.trim().is_empty()).then(|| Value::Text(c.text)));
    match value {
        None => *pending_blanks += c.repeat,
        Some(v) => {
            let width = row.len() as u64 + *pending_blanks + c.repeat;
            if width > crate::import::MAX_COLUMNS as u64 {
                return Err(ImportError::Invalid(format!(
                    "a row has values in {width} columns; at most {} columns can be imported",
                    crate::import::MAX_COLUMNS
                )));
            }
            row.extend(std::iter::repeat_n(Value::Null, *pending_blanks as usize));
            *pending_blanks = 0;
            row.extend(std::iter::repeat_n(v, c.repeat as usize));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_times_become_text() {
        assert_eq!(time_value("PT12H30M05S"), Value::Text("12:30:05".into()));
        assert_eq!(time_value("PT00H00M00.5S"), Value::Text("00:00:00".into()));
    }
}
