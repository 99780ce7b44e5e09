//! Where rows come from. Every format streams its chosen sheet row by row, header first, into a
//! [`RowVisitor`], so no source ever holds a whole sheet: our own streaming readers for xlsx/xlsm
//! and ods, the `csv` crate for delimited text, and calamine (its cell reader for xlsb, its range
//! for legacy .xls) in a contained child process (see [`contained`]).

pub mod contained;
mod delimited;
mod excel;
mod ods;
mod xlsx;
mod xml;

use super::ImportError;
use super::detect::Format;
use super::limits::{Bounded, Limits};
use super::value::Value;
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

    /// One row: the header first, then data rows. Empty trailing cells may be missing; the
    /// visitor may take the values out of `cells`.
    fn row(&mut self, cells: &mut Vec<Value>) -> Result<Flow, ImportError>;

    /// The sheet being read, once chosen (workbooks only).
    fn sheet(&mut self, _name: &str) {}

    /// A spreadsheet error cell (`#DIV/0!`, `#N/A`, ...) was read; it arrives in its row as NULL.
    fn error_cell(&mut self) {}

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
        Format::Ods => ods::sheet_names(path),
        Format::Xlsx | Format::Xlsm => xlsx::sheet_names(path),
        Format::Xlsb | Format::Xls => contained::sheet_names(path, format, limits),
    }
}

/// Streams the rows of `sheet` (the first sheet when `None`) into `visitor`, within `limits`, and
/// returns the name of the sheet read (`None` for CSV/TSV).
pub fn stream(
    path: &Path,
    format: Format,
    sheet: Option<&str>,
    limits: &Limits,
    visitor: &mut dyn RowVisitor,
) -> Result<Option<String>, ImportError> {
    let visitor = &mut Bounded::new(visitor, limits);
    match format {
        Format::Csv | Format::Tsv => {
            delimited::stream(path, format, limits, visitor)?;
            Ok(None)
        }
        Format::Ods => ods::stream(path, sheet, limits, visitor).map(Some),
        Format::Xlsx | Format::Xlsm => xlsx::stream(path, sheet, limits, visitor).map(Some),
        Format::Xlsb | Format::Xls => contained::stream(path, format, sheet, limits, visitor).map(Some),
    }
}

/// The sheet to read: the one asked for (which must exist) or the first.
fn choose_sheet(names: &[String], wanted: Option<&str>) -> Result<String, ImportError> {
    match wanted {
        Some(w) => names.iter().find(|n| n.as_str() == w || n.eq_ignore_ascii_case(w)).cloned().ok_or_else(|| {
            ImportError::Invalid(format!("the workbook has no sheet named {w:?}; its sheets are: {}", names.join(", ")))
        }),
        None => names.first().cloned().ok_or_else(|| ImportError::Invalid("the workbook has no sheets".into())),
    }
}

/// Builds rows from cells that arrive with (row, column) positions, as the cell readers give them:
/// gaps become NULLs, and a row is handed over when the next one starts.
struct RowAssembler {
    current: Option<u32>,
    first_col: u32,
    cells: Vec<Value>,
}

impl RowAssembler {
    fn new(first_col: u32) -> Self {
        Self { current: None, first_col, cells: Vec::with_capacity(64) }
    }

    fn push(&mut self, row: u32, col: u32, value: Value, visitor: &mut dyn RowVisitor) -> Result<Flow, ImportError> {
        if self.current != Some(row) {
            let flow = self.flush(visitor)?;
            self.current = Some(row);
            if flow.is_break() {
                return Ok(flow);
            }
        }
        if matches!(value, Value::Null) || col < self.first_col {
            return Ok(Flow::Continue(()));
        }
        let i = (col - self.first_col) as usize;
        if i >= self.cells.len() {
            if i > super::MAX_COLUMNS {
                return Err(ImportError::Invalid(format!(
                    "row {} has a value in column {}; at most {} columns can be imported",
                    row + 1,
                    col + 1,
                    super::MAX_COLUMNS
                )));
            }
            self.cells.resize(i + 1, Value::Null);
        }
        self.cells[i] = value;
        Ok(Flow::Continue(()))
    }

    fn flush(&mut self, visitor: &mut dyn RowVisitor) -> Result<Flow, ImportError> {
        if self.current.take().is_none() {
            return Ok(Flow::Continue(()));
        }
        let flow = visitor.row(&mut self.cells)?;
        self.cells.clear();
        Ok(flow)
    }
}
