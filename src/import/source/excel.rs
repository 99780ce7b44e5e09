//! Binary Excel workbooks through calamine: xlsb with its streaming cell reader, legacy xls through
//! its range reader. Run only by the contained reader (`source::contained`), a child process
//! whose memory and processor time are limited, because calamine trusts what these files declare.

use super::{Flow, RowAssembler, RowVisitor, choose_sheet};
use crate::import::ImportError;
use crate::import::dates;
use crate::import::detect::Format;
use crate::import::value::{Value, parse_text};
use calamine::{Data, DataRef, Dimensions, Reader, Xls, Xlsb};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

type Buffered = BufReader<File>;

fn open<R: Reader<Buffered>>(path: &Path) -> Result<R, ImportError>
where
    R::Error: std::fmt::Display,
{
    let file = BufReader::with_capacity(256 * 1024, File::open(path)?);
    R::new(file).map_err(|e| {
        // calamine's words ("Cfb error: Sector 128 points past end of file") are for the log: this
        // runs in the contained reader, whose stderr the server logs.
        eprintln!("calamine could not open the workbook: {e}");
        ImportError::Invalid(
            "the workbook cannot be read, the file may be damaged; open it in a spreadsheet program, save it again \
             and import the new file"
                .into(),
        )
    })
}

fn broken(e: impl std::fmt::Display) -> ImportError {
    eprintln!("calamine could not read the sheet: {e}");
    ImportError::Invalid(
        "the sheet cannot be read, the file may be damaged; open it in a spreadsheet program, save it again and \
         import the new file"
            .into(),
    )
}

/// Sheet names in workbook order.
pub fn sheet_names(path: &Path, format: Format) -> Result<Vec<String>, ImportError> {
    Ok(match format {
        Format::Xls => open::<Xls<_>>(path)?.sheet_names(),
        _ => open::<Xlsb<_>>(path)?.sheet_names(),
    })
}

/// Streams an .xlsb sheet through calamine's cell reader.
fn stream_xlsb(path: &Path, sheet: Option<&str>, visitor: &mut dyn RowVisitor) -> Result<String, ImportError> {
    let mut wb = open::<Xlsb<_>>(path)?;
    let name = choose_sheet(&wb.sheet_names(), sheet)?;
    visitor.sheet(&name);
    let mut cells = wb.worksheet_cells_reader(&name).map_err(broken)?;
    let mut rows = start(cells.dimensions(), visitor);
    while let Some(cell) = cells.next_cell().map_err(broken)? {
        let (r, c) = cell.get_position();
        if let DataRef::Error(_) = cell.get_value() {
            visitor.error_cell();
        }
        if rows.push(r, c, from_calamine(cell.get_value()), visitor)?.is_break() {
            return Ok(name);
        }
    }
    // The last row; whatever the visitor answers, the sheet ends here.
    let _: Flow = rows.flush(visitor)?;
    Ok(name)
}

/// Streams one sheet's rows into the visitor.
pub fn stream(
    path: &Path,
    format: Format,
    sheet: Option<&str>,
    visitor: &mut dyn RowVisitor,
) -> Result<String, ImportError> {
    match format {
        Format::Xls => {
            let mut wb = open::<Xls<_>>(path)?;
            let name = choose_sheet(&wb.sheet_names(), sheet)?;
            visitor.sheet(&name);
            // A whole range: calamine 0.38 builds every .xls sheet's dense range when the workbook
            // opens (`Xls::new`), before any extent could be checked, and `worksheet_range` hands
            // out a copy of it, so a sheet costs twice its extent (65,536 × 256 cells: 537 MB,
            // measured as corners.xls's failed allocation, and as much again for the copy). No
            // streaming API exists for .xls; the bound is the contained reader's memory limit,
            // which this runs under, and past it the person reads "needs more than N MB".
            let range = wb.worksheet_range(&name).map_err(broken)?;
            let Some((r0, c0)) = range.start() else { return Ok(name) };
            visitor.total(range.height().saturating_sub(1) as u64, false);
            let mut rows = RowAssembler::new(c0);
            for (r, row) in range.rows().enumerate() {
                for (c, data) in row.iter().enumerate() {
                    if let Data::Error(_) = data {
                        visitor.error_cell();
                    }
                    if rows.push(r0 + r as u32, c0 + c as u32, from_data(data), visitor)?.is_break() {
                        return Ok(name);
                    }
                }
            }
            let _: Flow = rows.flush(visitor)?;
            Ok(name)
        }
        _ => stream_xlsb(path, sheet, visitor),
    }
}

/// Reports the row count the sheet declares (its `dimension`), when it declares one.
fn start(dims: Dimensions, visitor: &mut dyn RowVisitor) -> RowAssembler {
    if dims.end.0 > dims.start.0 {
        visitor.total(u64::from(dims.end.0 - dims.start.0), false);
    }
    RowAssembler::new(dims.start.1)
}

/// A cell as the engine carries it: whole floats become integers, date serials become dates,
/// error cells (`#DIV/0!`) become NULL, formulas arrive as their cached values.
fn from_calamine(d: &DataRef<'_>) -> Value {
    match d {
        DataRef::Empty | DataRef::Error(_) => Value::Null,
        DataRef::Int(i) => Value::Int(*i),
        DataRef::Float(f) => Value::from_f64(*f),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::String(s) => Value::text(s),
        DataRef::SharedString(s) => Value::text(s),
        DataRef::DateTime(dt) => dates::from_excel(dt).into(),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => parse_text(s),
    }
}

fn from_data(d: &Data) -> Value {
    match d {
        Data::Empty | Data::Error(_) => Value::Null,
        Data::Int(i) => Value::Int(*i),
        Data::Float(f) => Value::from_f64(*f),
        Data::Bool(b) => Value::Bool(*b),
        Data::String(s) => Value::text(s),
        Data::DateTime(dt) => dates::from_excel(dt).into(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => parse_text(s),
    }
}
