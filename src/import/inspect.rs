//! A first look at a stored file without importing it: its sheets, its header, the column types
//! the first rows imply, and those rows. Reads only as far as the sample, so it answers in a
//! moment even for a million-row sheet (a shared-string table is still read whole, as it must be),
//! unless a column of the sample holds dates written as text with the day and the month in either
//! order (`03/04/2024`): then it reads on to the end, counting only those columns' values (see
//! `date_order`), since one row far down may decide the order, or show it cannot be decided.

use super::ImportError;
use super::date_order::DateCheck;
use super::detect::Format;
use super::header::{Layout, Picker};
use super::infer::{SAMPLE_ROWS, describe};
use super::limits::Limits;
use super::names::header_labels;
use super::source::{self, Flow, RowVisitor};
use super::value::Value;
use crate::model::{ColumnInfo, DateColumn};
use encoding_rs::Encoding;
use std::path::Path;

/// What [`inspect`] found.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Sheet names in workbook order; empty for CSV/TSV.
    pub sheets: Vec<String>,
    /// The sheet read; `None` for CSV/TSV.
    pub sheet: Option<String>,
    /// The text encoding read in (CSV/TSV only).
    pub encoding: Option<&'static Encoding>,
    pub columns: Vec<ColumnInfo>,
    /// The first data rows, padded to the columns' width.
    pub rows: Vec<Vec<Value>>,
    /// Data rows an import will read: counted when the sample reached the end of the sheet; else
    /// the rows the sheet declares past the sample and those in it (blank rows before and in the
    /// sample not counted; those after it are, as the sheet declares them). `None` when the sheet
    /// declares nothing and is longer than the sample.
    pub rows_total: Option<u64>,
    /// The sheet's row the column names came from; `None`: no header row (`HeaderRow::None`).
    pub header_row: Option<u64>,
    /// The columns of dates written with the day and the month in either order, each checked
    /// over every row.
    pub dates: Vec<DateColumn>,
}

/// Reads `sheet` (the first when `None`) up to the type sample, in `encoding` when it is CSV/TSV
/// and one was chosen, where `layout` says its header and data are, and keeps its first `show` rows.
pub fn inspect(
    path: &Path,
    format: Format,
    sheet: Option<&str>,
    encoding: Option<&'static Encoding>,
    layout: Layout,
    show: usize,
    limits: &Limits,
) -> Result<Preview, ImportError> {
    let sheets = source::sheet_names(path, format, limits)?;
    let encoding = match format {
        Format::Csv | Format::Tsv => Some(super::encoding::of_file(path, encoding)?),
        _ => None,
    };
    let mut sampler = Sampler {
        header: None,
        rows: Vec::with_capacity(SAMPLE_ROWS),
        numbers: Vec::with_capacity(SAMPLE_ROWS),
        total: None,
        sheet: None,
        last: 0,
        full: false,
        check: None,
        after: 0,
    };
    let mut picker = Picker::new(layout, &mut sampler);
    source::stream(path, format, sheet, encoding, limits, &mut picker)?;
    let first = picker.first;
    let _: Flow = picker.finish()?;
    let header_row = picker.chosen.flatten();
    let labels =
        sampler.header.ok_or_else(|| ImportError::Invalid("the sheet is empty: there is no header row".into()))?;
    let seen = sampler.rows.len() as u64;
    // A sheet declares the rows after its first (title rows and the header among them), so its
    // last row is the first's number plus that; the import reads those past the sample. Read to
    // the end for a date check, they were counted.
    let rows_total = match (sampler.full, sampler.total, first) {
        (false, _, _) => Some(seen),
        (true, _, _) if sampler.check.is_some() => Some(seen + sampler.after),
        (true, Some(declared), Some(first)) => Some((first + declared).saturating_sub(sampler.last) + seen),
        (true, _, _) => None,
    };
    let mut rows = sampler.rows;
    let columns = describe(labels, &mut rows);
    // A sample that is the whole sheet is checked now; a longer sheet's columns were chosen when
    // the sample filled, and counted to its end.
    let check = sampler.check.unwrap_or_else(|| {
        let mut check = DateCheck::of_sample(&rows);
        rows.iter().zip(&sampler.numbers).for_each(|(row, n)| check.observe(*n, row));
        check
    });
    let dates = check.report(&columns);
    rows.truncate(show);
    Ok(Preview { sheets, sheet: sampler.sheet, encoding, columns, rows, rows_total, header_row, dates })
}

/// Keeps the header and the first [`SAMPLE_ROWS`] non-blank rows, then stops the reader, unless
/// the sample has text date columns to check: then it counts their values to the end.
struct Sampler {
    header: Option<Vec<String>>,
    rows: Vec<Vec<Value>>,
    /// Each sample row's number in the sheet.
    numbers: Vec<u64>,
    total: Option<u64>,
    sheet: Option<String>,
    /// The number of the last data row kept.
    last: u64,
    /// The sample is full: the reader stopped before the end of the sheet (or went on for `check`).
    full: bool,
    /// Once the sample is full, the check of its text date columns, when it has some.
    check: Option<DateCheck>,
    /// Non-blank rows read past the sample for `check`.
    after: u64,
}

impl RowVisitor for Sampler {
    fn total(&mut self, rows: u64, estimated: bool) {
        if !estimated {
            self.total = Some(rows);
        }
    }

    fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
        if cells.iter().all(|v| matches!(v, Value::Null)) {
            return Ok(Flow::Continue(()));
        }
        if self.header.is_none() {
            self.header = Some(header_labels(cells));
            return Ok(Flow::Continue(()));
        }
        if let Some(check) = &mut self.check {
            check.observe(number, cells);
            self.after += 1;
            return Ok(Flow::Continue(()));
        }
        self.rows.push(std::mem::take(cells));
        self.numbers.push(number);
        self.last = number;
        self.full = self.rows.len() >= SAMPLE_ROWS;
        if !self.full {
            return Ok(Flow::Continue(()));
        }
        let mut check = DateCheck::of_sample(&self.rows);
        if check.is_empty() {
            return Ok(Flow::Break(()));
        }
        self.rows.iter().zip(&self.numbers).for_each(|(row, n)| check.observe(*n, row));
        self.check = Some(check);
        Ok(Flow::Continue(()))
    }

    fn sheet(&mut self, name: &str) {
        self.sheet = Some(name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnType;
    use crate::model::HeaderRow;
    use std::io::Write;

    #[test]
    fn a_csv_preview_has_named_typed_columns_and_the_first_rows() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(f, "Order ID,Amount,When,Note").expect("write");
        for i in 1..=3000 {
            writeln!(f, "{i},{}.5,2024-01-{:02},n{i}", i, i % 28 + 1).expect("write");
        }
        let p = preview(f.path(), HeaderRow::Auto, 5).expect("inspect");
        let names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["order_id", "amount", "when", "note"]);
        let types: Vec<ColumnType> = p.columns.iter().map(|c| c.ty).collect();
        assert_eq!(types, [ColumnType::Integer, ColumnType::Real, ColumnType::Date, ColumnType::Text]);
        assert_eq!(p.rows.len(), 5);
        assert_eq!(p.rows[0][0], Value::Int(1));
        assert!(p.sheets.is_empty() && p.sheet.is_none());
        assert_eq!(p.header_row, Some(1));
    }

    /// A preview of the CSV file `path` with `header` chosen, showing `show` rows.
    fn preview(path: &Path, header: HeaderRow, show: usize) -> Result<Preview, ImportError> {
        inspect(path, Format::Csv, None, None, Layout { header, stop_at_blank: false }, show, &Limits::default())
    }

    /// The row the preview took, its column names and how many rows it shows.
    fn look(path: &Path, header: HeaderRow) -> (Option<u64>, Vec<String>, usize) {
        let p = preview(path, header, 9).expect("inspect");
        (p.header_row, p.columns.into_iter().map(|c| c.name).collect(), p.rows.len())
    }

    #[test]
    fn a_title_block_above_the_header_is_skipped_and_the_row_said() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(f, "Sales 2024,,\nMade by finance,,\n,,\nRegion,Units,Price\nnorth,3,1.5\nsouth,5,2.5")
            .expect("write");
        assert_eq!(
            look(f.path(), HeaderRow::Auto),
            (Some(4), vec!["region".into(), "units".into(), "price".into()], 2)
        );
        // Chosen by the person: none at all (every row not blank is data), or row 2.
        let none = look(f.path(), HeaderRow::None);
        assert_eq!(none, (None, vec!["column_1".into(), "column_2".into(), "column_3".into()], 5));
        let (row, names, rows) = look(f.path(), HeaderRow::At(2));
        assert_eq!((row, names[0].as_str(), rows), (Some(2), "made_by_finance", 3));
    }

    #[test]
    fn the_rows_to_import_are_those_an_import_reads() {
        // A small file is counted: title rows, the header and blank rows are not rows to import.
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(f, "Sales 2024,,\n,,\nRegion,Units,Price\nnorth,3,1.5\n,,\nsouth,5,2.5\n").expect("write");
        assert_eq!(preview(f.path(), HeaderRow::Auto, 5).expect("inspect").rows_total, Some(2));
        // A long sheet: what it declares past the sample, and the sample's own rows. Title in row 1,
        // a blank row 2, the header in row 3, 1,502 rows below it of which rows 10 and 20 are blank.
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("long.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "Sales by region").expect("cell");
        sheet.write_string(2, 0, "Region").expect("cell");
        sheet.write_string(2, 1, "Units").expect("cell");
        for row in 3..1505u32 {
            if row != 9 && row != 19 {
                sheet.write_string(row, 0, "north").expect("cell");
                sheet.write_number(row, 1, f64::from(row)).expect("cell");
            }
        }
        book.save(&path).expect("save");
        let layout = Layout { header: HeaderRow::Auto, stop_at_blank: false };
        let p = inspect(&path, Format::Xlsx, None, None, layout, 5, &Limits::default()).expect("inspect");
        assert_eq!((p.header_row, p.rows_total), (Some(3), Some(1500)));
    }

    #[test]
    fn an_empty_file_says_so() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(b"\n\n").expect("write");
        let err = preview(f.path(), HeaderRow::Auto, 5).expect_err("empty");
        assert!(err.to_string().contains("no header row"), "{err}");
    }
}
