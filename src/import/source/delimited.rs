//! CSV and TSV through `csv-core`: the delimiter is sniffed from the first line (comma, semicolon
//! as European Excel writes, or tab), every field is read as the value it spells, and the row total
//! is estimated from the bytes read so far. UTF-8 is read as it is stored (and must be valid);
//! any other encoding (see [`crate::import::encoding`]) is decoded to UTF-8 on the way in. `csv-core` writes fields into a buffer this reader
//! owns, so a record is bounded while it is read (the `csv` crate grows its own buffer to whatever
//! a field needs: a CSV of 100 MB fields took 2.66 GB for a preview).

use super::{Counting, RowVisitor};
use crate::import::detect::Format;
use crate::import::limits::{self, Limits, MAX_ROW_BYTES};
use crate::import::value::{Value, parse_text};
use crate::import::{ImportError, MAX_COLUMNS};
use csv_core::{ReadRecordResult, ReaderBuilder};
use encoding_rs::Encoding;
use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

/// How often (in rows) the total is re-estimated from the byte position.
const ESTIMATE_EVERY: u64 = 16 * 1024;

/// Reads the file in `encoding` (see [`crate::import::encoding::of_file`]).
pub fn stream(
    path: &Path,
    format: Format,
    encoding: &'static Encoding,
    limits: &Limits,
    visitor: &mut dyn RowVisitor,
) -> Result<(), ImportError> {
    let size = std::fs::metadata(path)?.len();
    let max_cell = limits.max_cell_bytes;
    // Bytes taken from the file, for the estimate of the total (the decoder reads ahead of the parser).
    let read = Rc::new(Cell::new(0u64));
    let file = Counting { inner: File::open(path)?, read: read.clone() };
    let mut input: Box<dyn BufRead> = if encoding == encoding_rs::UTF_8 {
        Box::new(BufReader::with_capacity(256 * 1024, file))
    } else {
        let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_override(true)
            .strip_bom(true)
            .build(file);
        Box::new(BufReader::with_capacity(256 * 1024, decoded))
    };
    // From the file's start as text: the decoder's first reads may hand over only a few bytes.
    let delimiter = if format == Format::Tsv { b'\t' } else { sniff_delimiter(head(path, encoding)?.as_bytes()) };
    let mut parser = ReaderBuilder::new().delimiter(delimiter).build();
    let (mut out, mut ends) = (vec![0u8; 64 * 1024], vec![0usize; 64]);
    let (mut out_len, mut ends_len) = (0, 0);
    let mut cells = Vec::with_capacity(64);
    // `line`: the line the current record started on, for messages; `joined`: line breaks inside
    // the quoted fields of the records so far, which a spreadsheet shows within one row.
    let (mut rows, mut line, mut lines, mut joined) = (0u64, 1u64, 1u64, 0u64);
    loop {
        let buf = input.fill_buf()?;
        let at_end = buf.is_empty();
        let (result, n_in, n_out, n_ends) = parser.read_record(buf, &mut out[out_len..], &mut ends[ends_len..]);
        lines += memchr::memchr_iter(b'\n', &buf[..n_in]).count() as u64;
        input.consume(n_in);
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
                    // Decoded text is valid UTF-8 by construction; only UTF-8 as stored can be wrong.
                    let text = std::str::from_utf8(field).map_err(|_| {
                        ImportError::Invalid(format!(
                            "line {line} is not UTF-8 text: choose the file's encoding (such as windows-1252) and \
                             import it again, or save it as \"CSV UTF-8\""
                        ))
                    })?;
                    cells.push(if rows == 0 { Value::Text(text.to_owned()) } else { parse_text(text) });
                }
                // The row a spreadsheet shows it in: csv-core passes over blank lines, which a
                // spreadsheet shows as blank rows; a record's first line is where its own line
                // breaks (inside quotes, and its end unless the file ends without one) began.
                let inner = memchr::memchr_iter(b'\n', &out[..out_len]).count() as u64;
                let first_line = lines.saturating_sub(inner + u64::from(!at_end));
                let number = first_line.saturating_sub(joined).max(rows + 1);
                joined += inner;
                (out_len, ends_len, line) = (0, 0, lines);
                if visitor.row(number, &mut cells)?.is_break() {
                    return Ok(());
                }
                cells.clear();
                rows += 1;
                if rows.is_multiple_of(ESTIMATE_EVERY) {
                    visitor.total(((rows - 1) as f64 * size as f64 / read.get().max(1) as f64) as u64, true);
                }
            }
            ReadRecordResult::End => break,
        }
    }
    visitor.total(rows.saturating_sub(1), false);
    Ok(())
}

/// The first 64 KB of the file as text in `encoding`.
fn head(path: &Path, encoding: &'static Encoding) -> std::io::Result<String> {
    let mut bytes = Vec::with_capacity(64 * 1024);
    File::open(path)?.take(64 * 1024).read_to_end(&mut bytes)?;
    Ok(crate::import::encoding::decode_head(&bytes, encoding).into_owned())
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
