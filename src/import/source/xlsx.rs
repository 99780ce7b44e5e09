//! .xlsx and .xlsm, read by sheetport itself rather than through calamine: the worksheet XML is
//! scanned as it inflates by a byte-level reader that knows SpreadsheetML's few shapes. On the
//! benchmark's 500,000-row sheet the parsing thread needs half the CPU time calamine's cell reader
//! did (perf: 2.0 s against 4.0 s), and memory stays at a few 1 MB chunks plus the shared-string
//! table, which every reader must hold (as far as the cells read so far use it). .xlsb and .xls stay with calamine.

mod padded;
mod parts;
mod sheet;

use super::opc::{self, Parts};
use super::xml::broken;
use super::{RowVisitor, choose_sheet};
use crate::import::ImportError;
use crate::import::inflation::{self, Budget, Inflating};
use crate::import::limits::Limits;
use parts::{SharedStrings, Styles, Workbook};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

type Archive = zip::ZipArchive<BufReader<File>>;

/// The archive and its parts by name (see `opc`).
fn open(path: &Path) -> Result<(Archive, Parts), ImportError> {
    let zip = zip::ZipArchive::new(BufReader::with_capacity(256 * 1024, File::open(path)?)).map_err(broken)?;
    let parts = Parts::new(&zip);
    Ok((zip, parts))
}

/// A small part read whole, or `None` when the archive has no such part.
fn small_part(zip: &mut Archive, parts: &Parts, name: &str) -> Result<Option<Vec<u8>>, ImportError> {
    opc::small_part(zip, parts, name).map_err(|e| broken(format!("{name}: {e}")))
}

/// The workbook, found through the package's relationships, and its sheets through its own.
fn workbook(zip: &mut Archive, parts: &Parts) -> Result<Workbook, ImportError> {
    let main = opc::workbook_part(zip, parts)?.ok_or_else(|| broken("the package has no workbook part"))?;
    let book = small_part(zip, parts, &main)?.ok_or_else(|| broken(format!("there is no {main}")))?;
    let rels = small_part(zip, parts, &opc::rels_of(&main))?.unwrap_or_default();
    parts::workbook(&book, &opc::relationships(&rels, &main)?, &main)
}

/// Sheet names in workbook order.
pub fn sheet_names(path: &Path) -> Result<Vec<String>, ImportError> {
    let (mut zip, parts) = open(path)?;
    Ok(workbook(&mut zip, &parts)?.sheets.into_iter().map(|s| s.name).collect())
}

/// Streams one sheet's rows into the visitor; returns its name.
pub fn stream(
    path: &Path,
    sheet: Option<&str>,
    limits: &Limits,
    visitor: &mut dyn RowVisitor,
) -> Result<String, ImportError> {
    let (mut zip, parts) = open(path)?;
    let book = workbook(&mut zip, &parts)?;
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
    let styles = match small_part(&mut zip, &parts, &book.styles)? {
        Some(xml) => Styles::read(&xml)?,
        None => Styles::default(),
    };
    // The shared strings inflate on a second handle of the file, as far as the sheet's cells ask;
    // both parts within the bounds on inflation, checked on what the archive declares first.
    let budget = Budget::default();
    let (mut strings_zip, _) = open(path)?;
    let strings_part = parts.index(&book.shared_strings).map(|i| strings_zip.by_index(i));
    let mut shared = match strings_part {
        Some(Ok(part)) => {
            let compressed = part.compressed_size();
            inflation::declared("shared strings", compressed, part.size(), limits)?;
            SharedStrings::new(Inflating::new(part, "shared strings", compressed, &budget, limits), limits)
        }
        None => SharedStrings::none(),
        Some(Err(e)) => return Err(broken(e)),
    };
    let i = parts.index(&chosen.path).ok_or_else(|| broken(format!("there is no {}", chosen.path)))?;
    let part = zip.by_index(i).map_err(|e| broken(format!("{}: {e}", chosen.path)))?;
    let compressed = part.compressed_size();
    inflation::declared("sheet", compressed, part.size(), limits)?;
    let ctx = sheet::Context { styles: &styles, date1904: book.date1904 };
    sheet::scan(Inflating::new(part, "sheet", compressed, &budget, limits), &ctx, &mut shared, visitor)?;
    Ok(name)
}
