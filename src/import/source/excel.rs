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
    R::new(file).map_err(|e| open_failed(&e))
}

fn open_failed(e: &dyn std::fmt::Display) -> ImportError {
    // calamine's words ("Cfb error: Sector 128 points past end of file") are for the log: this
    // runs in the contained reader, whose stderr the server logs.
    eprintln!("calamine could not open the workbook: {e}");
    ImportError::Invalid(
        "the workbook cannot be read, the file may be damaged; open it in a spreadsheet program, save it again and \
         import the new file"
            .into(),
    )
}

/// An .xls workbook, opened by calamine from the file itself, or from a copy whose sheets
/// declare no extent when one declares more than [`DECLARED_CELLS`] cells. calamine 0.38 reserves
/// room for every cell a sheet's DIMENSIONS record declares as it opens the workbook, before it
/// reads one (a sheet that declares 65,536 × 256 cells asks for 671 MB however few it holds:
/// found, a sheet of four cells refused as needing more than 1,024 MB). What a sheet then takes
/// follows from the cells it holds, as far apart as they are, which the memory limit still bounds.
fn open_xls(path: &Path) -> Result<Xls<Buffered>, ImportError> {
    match std::panic::catch_unwind(|| undeclared_copy(path)) {
        Ok(Ok(Some(copy))) => Xls::new(BufReader::with_capacity(256 * 1024, copy)).map_err(|e| open_failed(&e)),
        // No copy needed, or the compound file is one only calamine reads: the file itself.
        Ok(Ok(None) | Err(_)) | Err(_) => open::<Xls<_>>(path),
    }
}

/// A sheet declaring more cells than this is read from a copy (calamine's reserve for it, at 40
/// bytes a cell, would be 40 MB).
const DECLARED_CELLS: u64 = 1 << 20;

/// BIFF's DIMENSIONS record: a sheet's declared extent (MS-XLS 2.4.90).
const DIMENSIONS: u16 = 0x0200;

/// When a sheet of the workbook declares more than [`DECLARED_CELLS`], a copy of the workbook
/// (its workbook stream, all calamine reads of it) whose DIMENSIONS records declare nothing,
/// zeroed where they stand: two passes over the stream, O(bytes), in a file deleted once closed.
fn undeclared_copy(path: &Path) -> std::io::Result<Option<File>> {
    use std::io::{Seek, Write};
    let mut book = cfb::open(path)?;
    let Some(name) = ["Workbook", "Book"].into_iter().find(|n| book.is_stream(n)) else { return Ok(None) };
    let mut largest = 0u64;
    biff_records(BufReader::new(book.open_stream(name)?), |kind, data| {
        if kind == DIMENSIONS {
            largest = largest.max(declared_cells(data));
        }
        Ok(())
    })?;
    if largest <= DECLARED_CELLS {
        return Ok(None);
    }
    // Version 3 (512-byte sectors), as Excel writes them: calamine refuses a version 4 file whose
    // root holds no small streams.
    let mut copy = cfb::CompoundFile::create_with_version(cfb::Version::V3, tempfile::tempfile()?)?;
    let mut out = std::io::BufWriter::new(copy.create_stream(name)?);
    biff_records(BufReader::new(book.open_stream(name)?), |kind, data| {
        if kind == DIMENSIONS {
            data.fill(0);
        }
        out.write_all(&kind.to_le_bytes())?;
        out.write_all(&(data.len() as u16).to_le_bytes())?;
        out.write_all(data)
    })?;
    out.into_inner().map_err(|e| e.into_error())?.flush()?;
    copy.flush()?;
    let mut file = copy.into_inner();
    file.rewind()?;
    Ok(Some(file))
}

/// The cells a DIMENSIONS record declares (BIFF8: rows as u32, BIFF5: as u16; last ones + 1).
fn declared_cells(data: &[u8]) -> u64 {
    let u16_at = |i: usize| data.get(i..i + 2).map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
    let u32_at = |i: usize| data.get(i..i + 4).map_or(0, |b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    let (rows, cols) = match data.len() {
        10 => (u16_at(2).saturating_sub(u16_at(0)), u16_at(6).saturating_sub(u16_at(4))),
        _ => (u32_at(4).saturating_sub(u32_at(0)), u16_at(10).saturating_sub(u16_at(8))),
    };
    rows.saturating_mul(cols)
}

/// Each record of a BIFF stream (a u16 type, a u16 length, that many bytes) in order, to `f`; a
/// stream that ends inside a record ends there (calamine says what it makes of that).
fn biff_records(
    mut stream: impl std::io::Read,
    mut f: impl FnMut(u16, &mut [u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut data = vec![0u8; usize::from(u16::MAX)];
    loop {
        let mut head = [0u8; 4];
        match stream.read_exact(&mut head) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            other => other?,
        }
        let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
        match stream.read_exact(&mut data[..len]) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            other => other?,
        }
        f(u16::from_le_bytes([head[0], head[1]]), &mut data[..len])?;
    }
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
        Format::Xls => open_xls(path)?.sheet_names(),
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
            let mut wb = open_xls(path)?;
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
