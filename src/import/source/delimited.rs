//! CSV and TSV through the `csv` crate: the delimiter is sniffed from the first line (comma,
//! semicolon as European Excel writes, or tab), every field is read as the value it spells, and the
//! row total is estimated from the bytes read so far.

use super::RowVisitor;
use crate::import::ImportError;
use crate::import::detect::Format;
use crate::import::value::parse_text;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// How often (in rows) the total is re-estimated from the byte position.
const ESTIMATE_EVERY: u64 = 16 * 1024;

pub fn stream(path: &Path, format: Format, visitor: &mut dyn RowVisitor) -> Result<(), ImportError> {
    let size = std::fs::metadata(path)?.len();
    let mut input = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let delimiter = if format == Format::Tsv { b'\t' } else { sniff_delimiter(input.fill_buf()?) };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(256 * 1024)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let mut cells = Vec::with_capacity(64);
    let mut rows: u64 = 0;
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            ImportError::Invalid(format!(
                "the CSV cannot be read near line {}: {e}",
                e.position().map_or(0, |p| p.line())
            ))
        })?;
        if !more {
            break;
        }
        if record.len() > crate::import::MAX_COLUMNS {
            return Err(ImportError::Invalid(format!(
                "line {} has {} fields; at most {} columns can be imported",
                record.position().map_or(0, |p| p.line()),
                record.len(),
                crate::import::MAX_COLUMNS
            )));
        }
        for (i, field) in record.iter().enumerate() {
            let field = if rows == 0 && i == 0 { field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field) } else { field };
            let text = String::from_utf8_lossy(field);
            cells.push(if rows == 0 {
                crate::import::value::Value::Text(text.into_owned())
            } else {
                parse_text(&text)
            });
        }
        if visitor.row(&mut cells)?.is_break() {
            return Ok(());
        }
        cells.clear();
        rows += 1;
        if rows.is_multiple_of(ESTIMATE_EVERY) {
            let at = record.position().map_or(0, |p| p.byte()).max(1);
            visitor.total(((rows - 1) as f64 * size as f64 / at as f64) as u64, true);
        }
    }
    visitor.total(rows.saturating_sub(1), false);
    Ok(())
}

/// The most frequent of comma, semicolon and tab on the first line (outside quotes); comma on a tie.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let (mut counts, mut quoted) = ([0usize; 3], false);
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { [b',', b';', b'\t'][best] }
}

#[cfg(test)]
mod tests {
    use super::sniff_delimiter;

    #[test]
    fn delimiters_are_sniffed_from_the_first_line() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1;2"), b',');
        assert_eq!(sniff_delimiter(b"a;b;\"c,d,e\"\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter(b"single"), b',');
    }
}
