//! Where rows come from. Every format streams its chosen sheet row by row, header first, into a
//! [`RowVisitor`], so no source ever holds a whole sheet: our own streaming readers for xlsx/xlsm
//! and ods, `csv-core` for delimited text, and calamine (its cell reader for xlsb, its range
//! for legacy .xls) in a contained child process (see [`contained`]).

pub mod contained;
mod delimited;
mod excel;
mod ods;
pub(super) mod opc;
mod xlsx;
mod xml;

use super::ImportError;
use super::detect::Format;
use super::limits::{Bounded, Limits};
use super::value::Value;
use encoding_rs::Encoding;
use std::ops::ControlFlow;
use std::path::Path;

/// What a visitor answers to each row: read on, or stop here because it has what it needs (the
/// source then returns `Ok` at once). Errors are for what went wrong, never for "enough".
pub type Flow = ControlFlow<()>;

/// Receives a sheet's rows in order. [`RowVisitor::row`] stops the reading early with
/// [`ControlFlow::Break`], or with an error (such as [`ImportError::Cancelled`]), which the source
/// then returns.
pub trait RowVisitor {
    /// The number of data rows (header excluded) when the source knows it (`estimated == false`)
    /// or can guess it from bytes read so far (`estimated == true`). May be called many times.
    fn total(&mut self, rows: u64, estimated: bool);

    /// One row: the header first, then data rows. `number` is the row's number in the sheet as a
    /// spreadsheet program shows it (1-based, counting the blank rows a file may leave out; for
    /// CSV/TSV the record's), so a person can be told "row 7". Empty trailing cells may be
    /// missing; the visitor may take the values out of `cells`.
    fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError>;

    /// The sheet being read, once chosen (workbooks only).
    fn sheet(&mut self, _name: &str) {}

    /// A spreadsheet error cell (`#DIV/0!`, `#N/A`, ...) was read; it arrives in its row as NULL.
    fn error_cell(&mut self) {}

    /// Whether the first row holding a value is data, not a header (the person asked for no
    /// header row): the row bound ([`Bounded`]) then counts it too.
    fn first_row_is_data(&self) -> bool {
        false
    }

    /// Fires when the reading should stop even between rows (a reader that computes for long
    /// before its first row, such as a contained one, watches it).
    fn cancel_token(&self) -> Option<tokio_util::sync::CancellationToken> {
        None
    }
}

/// Sheet names of a workbook, in order (one unnamed sheet for CSV/TSV).
pub fn sheet_names(path: &Path, format: Format, limits: &Limits) -> Result<Vec<String>, ImportError> {
    match format {
        Format::Csv | Format::Tsv => Ok(Vec::new()),
        Format::Ods => ods::sheet_names(path, limits),
        Format::Xlsx | Format::Xlsm => xlsx::sheet_names(path),
        Format::Xlsb | Format::Xls => contained::sheet_names(path, format, limits),
    }
}

/// Streams the rows of `sheet` (the first sheet when `None`) into `visitor`, within `limits`, and
/// returns the name of the sheet read (`None` for CSV/TSV). CSV/TSV is read in `encoding` when
/// the person chose one (a byte-order mark still wins), else in the one its bytes suggest.
pub fn stream(
    path: &Path,
    format: Format,
    sheet: Option<&str>,
    encoding: Option<&'static Encoding>,
    limits: &Limits,
    visitor: &mut dyn RowVisitor,
) -> Result<Option<String>, ImportError> {
    let visitor = &mut Bounded::new(visitor, limits);
    match format {
        Format::Csv | Format::Tsv => {
            let encoding = super::encoding::of_file(path, encoding)?;
            delimited::stream(path, format, encoding, limits, visitor)?;
            Ok(None)
        }
        Format::Ods => ods::stream(path, sheet, limits, visitor).map(Some),
        Format::Xlsx | Format::Xlsm => xlsx::stream(path, sheet, limits, visitor).map(Some),
        Format::Xlsb | Format::Xls => contained::stream(path, format, sheet, limits, visitor).map(Some),
    }
}

/// A reader that counts the bytes taken from it, for the row total estimated from bytes read
/// (CSV's file bytes, an .ods file's inflated XML: neither declares its rows).
struct Counting<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// The sheet to read: the one asked for (which must exist) or the first.
fn choose_sheet(names: &[String], wanted: Option<&str>) -> Result<String, ImportError> {
    match wanted {
        Some(w) => names.iter().find(|n| n.as_str() == w || n.eq_ignore_ascii_case(w)).cloned().ok_or_else(|| {
            ImportError::Invalid(format!(
                "the workbook has no sheet named {}; its sheets are: {}",
                crate::format::quoted(w),
                crate::format::some_of(names.iter().map(String::as_str), str::to_owned).join(", ")
            ))
        }),
        None => names.first().cloned().ok_or_else(|| ImportError::Invalid("the workbook has no sheets".into())),
    }
}

/// Builds rows from cells that arrive with (row, column) positions, as the cell readers give them:
/// gaps become NULLs, and a row is handed over when the next one starts. Columns left of
/// `first_col` (where the sheet's declared range starts) are dropped as empty, which a value there
/// disproves: up to the header row the columns move right to take it, later it is an error. Cells
/// come in reading order; one that does not (a cell or a row given twice) is an error too, as
/// merging the two would lose one of them.
struct RowAssembler {
    current: Option<u32>,
    /// The last column given in the current row.
    last_col: Option<u32>,
    first_col: u32,
    /// Whether a row with a value has been handed over (the header, so its columns are fixed).
    header_done: bool,
    cells: Vec<Value>,
}

impl RowAssembler {
    fn new(first_col: u32) -> Self {
        Self { current: None, last_col: None, first_col, header_done: false, cells: Vec::with_capacity(64) }
    }

    fn push(&mut self, row: u32, col: u32, value: Value, visitor: &mut dyn RowVisitor) -> Result<Flow, ImportError> {
        if self.current != Some(row) {
            if let Some(before) = self.current.filter(|&c| row < c) {
                return Err(ImportError::Invalid(format!(
                    "the sheet gives row {} after row {}, out of order; open the file in a spreadsheet program, save \
                     it again and import the new file",
                    row + 1,
                    before + 1
                )));
            }
            let flow = self.flush(visitor)?;
            (self.current, self.last_col) = (Some(row), None);
            if flow.is_break() {
                return Ok(flow);
            }
        }
        if self.last_col.is_some_and(|c| col <= c) {
            return Err(ImportError::Invalid(format!(
                "the sheet gives cell {} twice; open the file in a spreadsheet program, save it again and import the \
                 new file",
                cell_name(row, col)
            )));
        }
        self.last_col = Some(col);
        if matches!(value, Value::Null) {
            return Ok(Flow::Continue(()));
        }
        if col < self.first_col {
            if self.header_done {
                return Err(ImportError::Invalid(format!(
                    "cell {} has a value left of the header's first column, outside the range the sheet declares; \
                     open the file in a spreadsheet program, save it again and import the new file",
                    cell_name(row, col)
                )));
            }
            // The row's first value (cells come in column order, so none is to its right yet).
            self.first_col = col;
        }
        let i = (col - self.first_col) as usize;
        if i >= self.cells.len() {
            if i >= super::MAX_COLUMNS {
                return Err(ImportError::Invalid(format!(
                    "row {} has a value in column {}; at most {} columns can be imported",
                    row + 1,
                    column_name(col),
                    super::MAX_COLUMNS
                )));
            }
            self.cells.resize(i + 1, Value::Null);
        }
        self.cells[i] = value;
        Ok(Flow::Continue(()))
    }

    fn flush(&mut self, visitor: &mut dyn RowVisitor) -> Result<Flow, ImportError> {
        let Some(row) = self.current.take() else {
            return Ok(Flow::Continue(()));
        };
        self.header_done |= !self.cells.is_empty();
        let flow = visitor.row(u64::from(row) + 1, &mut self.cells)?;
        self.cells.clear();
        Ok(flow)
    }
}

/// A 0-based column as a spreadsheet names it: 0 → A, 27 → AB.
fn column_name(col: u32) -> String {
    let (mut n, mut letters) = (col + 1, Vec::new());
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.iter().rev().map(|&b| b as char).collect()
}

/// A 0-based cell position as a spreadsheet names it: (2, 0) → A3.
fn cell_name(row: u32, col: u32) -> String {
    format!("{}{}", column_name(col), u64::from(row) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row a reader hands over, with its number; for the readers' tests.
    #[derive(Default)]
    pub(crate) struct Rows {
        pub rows: Vec<Vec<Value>>,
        pub numbers: Vec<u64>,
    }

    impl RowVisitor for Rows {
        fn total(&mut self, _rows: u64, _estimated: bool) {}
        fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
            self.numbers.push(number);
            self.rows.push(std::mem::take(cells));
            Ok(Flow::Continue(()))
        }
    }

    fn assemble_numbered(first_col: u32, cells: &[(u32, u32, i64)]) -> Result<Rows, ImportError> {
        let (mut rows, mut out) = (RowAssembler::new(first_col), Rows::default());
        for &(r, c, v) in cells {
            let _: Flow = rows.push(r, c, Value::Int(v), &mut out)?;
        }
        let _: Flow = rows.flush(&mut out)?;
        Ok(out)
    }

    fn assemble(first_col: u32, cells: &[(u32, u32, i64)]) -> Result<Vec<Vec<Value>>, ImportError> {
        assemble_numbered(first_col, cells).map(|r| r.rows)
    }

    #[test]
    fn rows_carry_the_numbers_the_sheet_gives_them_gaps_included() {
        let out = assemble_numbered(0, &[(0, 0, 1), (4, 1, 2), (5, 0, 3)]).expect("assembled");
        assert_eq!(out.numbers, [1, 5, 6]);
    }

    #[test]
    fn csv_rows_are_numbered_by_record_blank_lines_and_quoted_line_breaks_as_a_spreadsheet_shows_them() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut f, b"title\n\na,b\n\"two\nlines\",2\n3,4\n").expect("write");
        let mut out = Rows::default();
        stream(f.path(), Format::Csv, None, None, &Limits::default(), &mut out).expect("read");
        let shown: Vec<u64> = out
            .numbers
            .iter()
            .zip(&out.rows)
            .filter(|(_, r)| r.iter().any(|v| !matches!(v, Value::Null)))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(shown, [1, 3, 4, 5], "LibreOffice shows them in rows 1, 3, 4 and 5");
        // A last line without its line break.
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut f, b"a\n\n\nb").expect("write");
        let mut out = Rows::default();
        stream(f.path(), Format::Csv, None, None, &Limits::default(), &mut out).expect("read");
        assert_eq!(out.numbers, [1, 4]);
    }

    #[test]
    fn a_declared_range_that_starts_too_far_right_loses_nothing() {
        // `<dimension ref="C1:D3">` over a header in A..D: the columns move right.
        let rows = assemble(2, &[(0, 0, 1), (0, 2, 3), (0, 3, 4), (1, 0, 5), (1, 3, 8)]);
        let rows = rows.expect("assembled");
        assert_eq!(rows[0], [Value::Int(1), Value::Null, Value::Int(3), Value::Int(4)]);
        assert_eq!(rows[1], [Value::Int(5), Value::Null, Value::Null, Value::Int(8)]);
        // A value left of the header's columns, after the header: said, not dropped.
        let err = assemble(2, &[(0, 2, 1), (1, 0, 2)]).expect_err("left of the header");
        assert!(err.to_string().contains("cell A2 has a value left of"), "{err}");
    }

    #[test]
    fn a_cell_or_row_given_twice_is_an_error_not_a_merge() {
        let err = assemble(0, &[(0, 0, 1), (2, 0, 2), (2, 1, 3), (2, 0, 4)]).expect_err("A3 twice");
        assert!(err.to_string().contains("cell A3 twice"), "{err}");
        let err = assemble(0, &[(0, 0, 1), (2, 0, 2), (1, 0, 4)]).expect_err("row 2 after row 3");
        assert!(err.to_string().contains("row 2 after row 3"), "{err}");
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(27), "AB");
        assert_eq!(column_name(16383), "XFD");
    }
}
