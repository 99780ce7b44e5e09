//! The bounds every import and preview reads within, whatever the file says: rows per import, the
//! size of one cell, of one header label and of one row, and the memory a reader that must hold
//! things whole may take. They come from the command line (`--max-rows`, `--max-cell-bytes`,
//! `--max-memory-mb`) with each import and preview, and the readers check them while they build a
//! row (a repeated cell or a run of spaces is priced before it is written out); every row passes
//! [`Bounded`] too. Past a bound the reading stops with a sentence that names it.

use super::ImportError;
use super::source::{Flow, RowVisitor};
use super::value::Value;

/// The configurable bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Data rows one import may write.
    pub max_rows: u64,
    /// Bytes of text one cell may hold.
    pub max_cell_bytes: usize,
    /// Memory, in MB, a reader that must hold something whole may take: the contained .xls and
    /// .xlsb readers (their whole process), the .xlsx reader's shared-string table.
    pub max_memory_mb: u64,
    /// How many times its compressed size a workbook's part may inflate to (see `inflation`).
    pub max_inflation_ratio: u64,
    /// Bytes a workbook's parts may inflate to in all.
    pub max_inflated_bytes: u64,
}

/// Ten times Excel's row limit: far past any sheet, short of a file built to fill the disk (a
/// 743-byte .ods that repeats one row made 41.9 M rows).
pub const DEFAULT_MAX_ROWS: u64 = 10_000_000;
/// Thirty times Excel's own cell limit (32,767 characters).
pub const DEFAULT_MAX_CELL_BYTES: usize = 1 << 20;
/// The 1,048,575-row .xlsb benchmark file needs 265 MB. A completely full .xls sheet (65,536 × 256
/// cells) needs more: 537 MB for calamine's range and as much for the copy it hands out.
pub const DEFAULT_MAX_MEMORY_MB: u64 = 1024;
/// Bytes one header label may hold: it is shown in every list of imports and tables (a 50 MB one
/// made each of those answers 52 MB).
pub const MAX_LABEL_BYTES: usize = 1024;
/// Bytes one row may hold in all (1,000 columns of 1 MB would otherwise be a 1 GB row).
pub const MAX_ROW_BYTES: usize = 16 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rows: DEFAULT_MAX_ROWS,
            max_cell_bytes: DEFAULT_MAX_CELL_BYTES,
            max_memory_mb: DEFAULT_MAX_MEMORY_MB,
            max_inflation_ratio: super::inflation::DEFAULT_MAX_RATIO,
            max_inflated_bytes: super::inflation::DEFAULT_MAX_BYTES,
        }
    }
}

impl Limits {
    /// `max_memory_mb` in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.max_memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }
}

/// The sentence for a cell past `max_cell_bytes`.
pub fn cell_too_big(max: usize) -> ImportError {
    ImportError::Invalid(format!(
        "a cell holds more than {} of text, more than this server reads in one cell; shorten it, or ask \
         whoever runs the server to raise that limit (--max-cell-bytes)",
        bytes(max as u64)
    ))
}

/// The sentence for a row past [`MAX_ROW_BYTES`].
pub fn row_too_big() -> ImportError {
    ImportError::Invalid(format!("a row holds more than {} of text; no row may hold more", bytes(MAX_ROW_BYTES as u64)))
}

/// `1 MB`, `16 MB`, `512 KB`: sizes as a person reads them.
fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MB", n >> 20)
    } else if n >= 1024 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// Roughly what a value occupies: its text, or a machine word.
#[inline]
pub fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Text(s) => s.len() + 16,
        _ => 16,
    }
}

/// Checks the row taken as the header (by `header::Picker`, which knows which row that is: not
/// the first row when the person chose another or none): each label at most [`MAX_LABEL_BYTES`].
/// (Found: with `header_row=none`, a first cell longer than that was refused "as a header".)
pub fn check_labels(cells: &[Value]) -> Result<(), ImportError> {
    for (i, v) in cells.iter().enumerate() {
        if let Value::Text(s) = v
            && s.trim().len() > MAX_LABEL_BYTES
        {
            return Err(ImportError::Invalid(format!(
                "the header of column {} is {} bytes long; a header may be at most {MAX_LABEL_BYTES} bytes (is \
                 that row really the header?)",
                i + 1,
                crate::format::count(s.trim().len() as u64)
            )));
        }
    }
    Ok(())
}

/// A visitor that passes rows on to another after checking them against the bounds: each cell's
/// and each row's size, and the number of data rows.
pub struct Bounded<'a> {
    inner: &'a mut dyn RowVisitor,
    limits: Limits,
    header_seen: bool,
    rows: u64,
}

impl<'a> Bounded<'a> {
    pub fn new(inner: &'a mut dyn RowVisitor, limits: &Limits) -> Self {
        Self { inner, limits: *limits, header_seen: false, rows: 0 }
    }
}

impl RowVisitor for Bounded<'_> {
    fn total(&mut self, rows: u64, estimated: bool) {
        self.inner.total(rows, estimated);
    }

    fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
        if cells.iter().all(|v| matches!(v, Value::Null)) {
            return self.inner.row(number, cells);
        }
        let mut total = 0;
        for v in cells.iter() {
            if let Value::Text(s) = v
                && s.len() > self.limits.max_cell_bytes
            {
                return Err(cell_too_big(self.limits.max_cell_bytes));
            }
            total += value_bytes(v);
        }
        if total > MAX_ROW_BYTES {
            return Err(row_too_big());
        }
        // The first row is the header, unless the person asked for none. (Found: with no header
        // row, --max-rows 2 let three rows in.)
        if self.header_seen || self.inner.first_row_is_data() {
            self.rows += 1;
            if self.rows > self.limits.max_rows {
                let most = crate::format::count(self.limits.max_rows);
                return Err(ImportError::Invalid(format!(
                    "the sheet has more than {most} rows, more than this server imports at once; split it into \
                     files of at most {most} rows, or ask whoever runs the server to raise that limit (--max-rows)"
                )));
            }
        }
        self.header_seen = true;
        self.inner.row(number, cells)
    }

    fn sheet(&mut self, name: &str) {
        self.inner.sheet(name);
    }

    fn error_cell(&mut self) {
        self.inner.error_cell();
    }

    fn first_row_is_data(&self) -> bool {
        self.inner.first_row_is_data()
    }

    fn cancel_token(&self) -> Option<tokio_util::sync::CancellationToken> {
        self.inner.cancel_token()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(u64);
    impl RowVisitor for Count {
        fn total(&mut self, _: u64, _: bool) {}
        fn row(&mut self, _: u64, _: &mut Vec<Value>) -> Result<Flow, ImportError> {
            self.0 += 1;
            Ok(Flow::Continue(()))
        }
    }

    /// A visitor that was asked for no header row.
    struct AllData<'a>(&'a mut Count);
    impl RowVisitor for AllData<'_> {
        fn total(&mut self, _: u64, _: bool) {}
        fn row(&mut self, n: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
            self.0.row(n, cells)
        }
        fn first_row_is_data(&self) -> bool {
            true
        }
    }

    fn feed(limits: Limits, rows: Vec<Vec<Value>>) -> Result<u64, ImportError> {
        let mut count = Count(0);
        let mut b = Bounded::new(&mut count, &limits);
        for (i, mut r) in rows.into_iter().enumerate() {
            let _: Flow = b.row(i as u64 + 1, &mut r)?;
        }
        Ok(count.0)
    }

    #[test]
    fn rows_and_cells_past_their_bounds_stop_the_reading_in_words() {
        let limits = Limits { max_rows: 2, max_cell_bytes: 10, ..Limits::default() };
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(feed(limits, vec![vec![t("h")], vec![t("a")], vec![Value::Null], vec![t("b")]]).ok(), Some(4));
        let e = feed(limits, vec![vec![t("h")], vec![t("a")], vec![t("b")], vec![t("c")]]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the sheet has more than 2 rows, more than this server imports at once; split it into files of at \
             most 2 rows, or ask whoever runs the server to raise that limit (--max-rows)"
        );
        // With no header row, the first row is one of the rows counted.
        let mut count = Count(0);
        let mut data = AllData(&mut count);
        let mut b = Bounded::new(&mut data, &limits);
        for (i, mut r) in [vec![t("a")], vec![t("b")]].into_iter().enumerate() {
            assert!(b.row(i as u64 + 1, &mut r).is_ok());
        }
        let e = b.row(3, &mut vec![t("c")]).unwrap_err();
        assert!(e.to_string().starts_with("the sheet has more than 2 rows"), "{e}");
        let e = feed(limits, vec![vec![t("h")], vec![t("12345678901")]]).unwrap_err();
        assert!(e.to_string().starts_with("a cell holds more than 10 bytes of text"), "{e}");
        // A long first cell is a cell like any other here: only the header's labels are bounded
        // (`check_labels`, by the picker that knows which row that is).
        let long = "x".repeat(MAX_LABEL_BYTES + 1);
        assert_eq!(feed(Limits::default(), vec![vec![t("a"), t(&long)]]).ok(), Some(1));
        let e = check_labels(&[t("a"), t(&long)]).unwrap_err();
        assert!(e.to_string().starts_with("the header of column 2 is 1,025 bytes long"), "{e}");
    }
}
