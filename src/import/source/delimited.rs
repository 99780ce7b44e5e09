//! CSV and TSV through `csv-core`: the delimiter is sniffed from the first line (comma, semicolon
//! as European Excel writes, or tab), every field is read as the value it spells, and the row total
//! is estimated from the bytes read so far. `csv-core` writes fields into a buffer this reader
//! owns, so a record is bounded while it is read (the `csv` crate grows its own buffer to whatever
//! a field needs: a CSV of 100 MB fields took 2.66 GB for a preview).

use super::RowVisitor;
use crate::import::detect::Format;
use crate::import::limits::{self, Limits, MAX_ROW_BYTES};
use crate::import::value::{Value, parse_text};
use crate::import::{ImportError, MAX_COLUMNS};
use csv_core::{ReadRecordResult, ReaderBuilder};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// How often (in rows) the total is re-estimated from the byte position.
const ESTIMATE_EVERY: u64 = 16 * 1024;

pub fn stream(path: &Path, format: Format, limits: &Limits, visitor: &mut dyn RowVisitor) -> Result<(), ImportError> {
    let size = std::fs::metadata(path)?.len();
    let max_cell = limits.max_cell_bytes;
    let mut input = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let delimiter = if format == Format::Tsv { b'\t' } else { sniff_delimiter(input.fill_buf()?) };
    let mut parser = ReaderBuilder::new().delimiter(delimiter).build();
    let (mut out, mut ends) = (vec![0u8; 64 * 1024], vec![0usize; 64]);
    let (mut out_len, mut ends_len) = (0, 0);
    let mut cells = Vec::with_capacity(64);
    // `line`: the line the current record started on, for messages.
    let (mut rows, mut read, mut line, mut lines) = (0u64, 0u64, 1u64, 1u64);
    loop {
        let buf = input.fill_buf()?;
        let (result, n_in, n_out, n_ends) = parser.read_record(buf, &mut out[out_len..], &mut ends[ends_len..]);
        lines += memchr::memchr_iter(b'\n', &buf[..n_in]).count() as u64;
        input.consume(n_in);
        read += n_in as u64;
        out_len += n_out;
        ends_len += n_ends;
        match result {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => {
                if out.len() > MAX_ROW_BYTES {
                    return Err(limits::row_too_big());
                }
                out.resize(out.len() * 2, 0);
            }
            ReadRecordResult::OutputEndsFull => {
                if ends.len() > MAX_COLUMNS {
                    return Err(ImportError::Invalid(format!(
                        "line {line} has more than {MAX_COLUMNS} fields; at most {MAX_COLUMNS} columns can be imported"
                    )));
                }
                ends.resize(ends.len() * 2, 0);
            }
            ReadRecordResult::Record => {
                if ends_len > MAX_COLUMNS {
                    return Err(ImportError::Invalid(format!(
                        "line {line} has {ends_len} fields; at most {MAX_COLUMNS} columns can be imported"
                    )));
                }
                let mut start = 0;
                for (i, &end) in ends[..ends_len].iter().enumerate() {
                    let mut field = &out[start..end];
                    start = end;
                    if rows == 0 && i == 0 {
                        field = field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field);
                    }
                    if field.len() > max_cell {
                        return Err(limits::cell_too_big(max_cell));
                    }
                    let text = std::str::from_utf8(field).map_err(|_| {
                        ImportError::Invalid(format!(
                            "line {line} is not UTF-8 text; save the file as UTF-8 (in Excel: \"CSV UTF-8\") and \
                             upload it again"
                        ))
                    })?;
                    cells.push(if rows == 0 { Value::Text(text.to_owned()) } else { parse_text(text) });
                }
                (out_len, ends_len, line) = (0, 0, lines);
                if visitor.row(&mut cells)?.is_break() {
                    return Ok(());
                }
                cells.clear();
                rows += 1;
                if rows.is_multiple_of(ESTIMATE_EVERY) {
                    visitor.total(((rows - 1) as f64 * size as f64 / read.max(1) as f64) as u64, true);
                }
            }
            ReadRecordResult::End => break,
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
