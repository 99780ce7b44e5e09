//! .xlsx and .xlsm, read by sheetport itself rather than through calamine: the worksheet XML is
//! scanned as it inflates by a byte-level reader that knows SpreadsheetML's few shapes. On the
//! benchmark's 500,000-row sheet the parsing thread needs half the CPU time calamine's cell reader
//! did (perf: 2.0 s against 4.0 s), and memory stays at a few 1 MB chunks plus the shared-string
//! table, which every reader must hold (as far as the cells read so far use it). .xlsb and .xls stay with calamine.

mod padded;
mod parts;
mod sheet;

use super::xml::broken;
use super::{RowVisitor, choose_sheet};
use crate::import::ImportError;
use crate::import::inflation::{self, Budget, Inflating};
use crate::import::limits::Limits;
use parts::{SharedStrings, Styles, Workbook};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

type Archive = zip::ZipArchive<BufReader<File>>;

/// Largest workbook or styles part we read whole; real ones are kilobytes.
const MAX_SMALL_PART: u64 = 64 << 20;

fn open(path: &Path) -> Result<Archive, ImportError> {
    zip::ZipArchive::new(BufReader::with_capacity(256 * 1024, File::open(path)?)).map_err(broken)
}

/// A small part read whole, or `None` when the archive has no such part.
fn small_part(zip: &mut Archive, name: &str) -> Result<Option<Vec<u8>>, ImportError> {
    let part = match zip.by_name(name) {
        Ok(part) => part,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(broken(e)),
    };
    let mut bytes = Vec::new();
    part.take(MAX_SMALL_PART).read_to_end(&mut bytes).map_err(broken)?;
    Ok(Some(bytes))
}

fn workbook(zip: &mut Archive) -> Result<Workbook, ImportError> {
    let book = small_part(zip, "xl/workbook.xml")?.ok_or_else(|| broken("there is no xl/workbook.xml"))?;
    let rels = small_part(zip, "xl/_rels/workbook.xml.rels")?.unwrap_or_default();
    parts::workbook(&book, &rels)
}

/// Sheet names in workbook order.
pub fn sheet_names(path: &Path) -> Result<Vec<String>, ImportError> {
    Ok(workbook(&mut open(path)?)?.sheets.into_iter().map(|s| s.name).collect())
}

/// Streams one sheet's rows into the visitor; returns its name.
pub fn stream(
    path: &Path,
    sheet: Option<&str>,
    limits: &Limits,
    visitor: &mut dyn RowVisitor,
) -> Result<String, ImportError> {
    let mut zip = open(path)?;
    let book = workbook(&mut zip)?;
    let names: Vec<String> = book.sheets.iter().map(|s| s.name.clone()).collect();
    let name = choose_sheet(&names, sheet)?;
    let chosen = book.sheets.iter().find(|s| s.name == name).ok_or_else(|| broken("the sheet vanished"))?;
    if !chosen.is_worksheet {
        return Err(ImportError::Invalid(format!(
            "the sheet {} is a chart, not a table of cells; choose another sheet",
            crate::format::quoted(&name)
        )));
    }
    visitor.sheet(&name);
    let styles = match small_part(&mut zip, "xl/styles.xml")? {
        Some(xml) => Styles::read(&xml)?,
        None => Styles::default(),
    };
    // The shared strings inflate on a second handle of the file, as far as the sheet's cells ask;
    // both parts within the bounds on inflation, checked on what the archive declares first.
    let budget = Budget::default();
    let mut strings_zip = open(path)?;
    let mut shared = match strings_zip.by_name("xl/sharedStrings.xml") {
        Ok(part) => {
            let compressed = part.compressed_size();
            inflation::declared("shared strings", compressed, part.size(), limits)?;
            SharedStrings::new(Inflating::new(part, "shared strings", compressed, &budget, limits), limits)
        }
        Err(zip::result::ZipError::FileNotFound) => SharedStrings::none(),
        Err(e) => return Err(broken(e)),
    };
    let part = zip.by_name(&chosen.path).map_err(|e| broken(format!("{}: {e}", chosen.path)))?;
    let compressed = part.compressed_size();
    inflation::declared("sheet", compressed, part.size(), limits)?;
    let ctx = sheet::Context { styles: &styles, date1904: book.date1904 };
    sheet::scan(Inflating::new(part, "sheet", compressed, &budget, limits), &ctx, &mut shared, visitor)?;
    Ok(name)
}
