//! Which row holds the column names. Sheets people make often start with a title, a date or a
//! note, and a blank row, above the real header; `auto` finds it among the first [`LOOK_AHEAD`]
//! rows: the first row that fills more than half the width of the rows below it and is mostly
//! text. Rows above it that are narrower (titles, notes) are skipped; when a wide row that is
//! mostly numbers comes first (data, or a header of years), the first row is the header, as before
//! this existed. The person can always choose the row (`HeaderRow::At`) or none (`HeaderRow::None`).
//!
//! [`Picker`] applies the choice between a reader and the visitor that wants "the header, then
//! data rows": it holds back the first rows while it looks, then hands over the header row and the
//! rows below it, and says which row it took. Asked to, it also stops at the first empty row after
//! the data began (a totals block often sits below one): a row of empty cells, or a gap in the
//! row numbers, which is how most files store an empty row (they leave it out).

use super::ImportError;
use super::limits::{check_labels, value_bytes};
use super::source::{Flow, RowVisitor};
use super::value::Value;
use crate::model::HeaderRow;

/// Rows (not blank) looked at to find the header.
pub const LOOK_AHEAD: usize = 20;
/// Bytes of rows held back while looking: past it the header is chosen among the rows held (a
/// row may hold 16 MiB; twenty of them would be 320 MiB held for a look).
const LOOK_AHEAD_BYTES: usize = 1 << 20;
/// Rows below a candidate whose width it is compared with.
const BELOW: usize = 5;

/// Cells holding something, and how many of those are text.
fn filled(cells: &[Value]) -> (usize, usize) {
    cells.iter().fold((0, 0), |(n, text), v| match v {
        Value::Null => (n, text),
        Value::Text(s) if s.trim().is_empty() => (n, text),
        Value::Text(_) => (n + 1, text + 1),
        _ => (n + 1, text),
    })
}

/// Columns up to the last that holds something.
fn width(cells: &[Value]) -> usize {
    cells
        .iter()
        .rposition(|v| !matches!(v, Value::Null) && !matches!(v, Value::Text(s) if s.trim().is_empty()))
        .map_or(0, |i| i + 1)
}

/// Of the first rows of a sheet (blank ones left out), the index of the header row.
pub fn find<R: AsRef<[Value]>>(rows: &[R]) -> usize {
    for (i, row) in rows.iter().enumerate() {
        let (n, text) = filled(row.as_ref());
        let below = rows[i + 1..].iter().take(BELOW).map(|r| width(r.as_ref())).max().unwrap_or(0);
        let wide = n * 2 > below;
        if !wide {
            continue; // a title or a note: narrower than the rows below
        }
        return if text * 2 >= n { i } else { 0 };
    }
    0
}

/// Where a sheet's data is: its header row, and whether it ends at its first empty row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    pub header: HeaderRow,
    pub stop_at_blank: bool,
}

/// Applies a [`Layout`] between a reader and `inner`; see the module's text.
pub struct Picker<'a> {
    inner: &'a mut dyn RowVisitor,
    choice: HeaderRow,
    stop_at_blank: bool,
    /// The number of the last row handed over after the header (`stop_at_blank`).
    last: Option<u64>,
    /// Rows held back while looking (`auto` only), with their numbers, and their bytes.
    held: Vec<(u64, Vec<Value>)>,
    held_bytes: usize,
    /// The row taken as the header: `Some(Some(n))` row n, `Some(None)` no header row; `None`
    /// until decided.
    pub chosen: Option<Option<u64>>,
    /// The number of the first row the sheet has, blank or not (the preview's row count).
    pub first: Option<u64>,
}

impl<'a> Picker<'a> {
    pub fn new(layout: Layout, inner: &'a mut dyn RowVisitor) -> Self {
        let Layout { header: choice, stop_at_blank } = layout;
        Self { inner, choice, stop_at_blank, last: None, held: Vec::new(), held_bytes: 0, chosen: None, first: None }
    }

    /// A row after the header: handed over, or the end of the data at the first empty row.
    fn data(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
        if self.stop_at_blank {
            let blank = width(cells) == 0;
            match self.last {
                Some(last) if blank || number > last + 1 => return Ok(Flow::Break(())),
                _ if blank => return Ok(Flow::Continue(())),
                _ => self.last = Some(number),
            }
        }
        self.inner.row(number, cells)
    }

    /// Call once the reader has ended: hands over what is still held back.
    pub fn finish(&mut self) -> Result<Flow, ImportError> {
        match (self.choice, self.chosen) {
            (HeaderRow::Auto, None) if !self.held.is_empty() => self.release(),
            (HeaderRow::At(n), None) => Err(ImportError::Invalid(format!(
                "the sheet has no row {n} to take the column names from; choose another header row"
            ))),
            _ => Ok(Flow::Continue(())),
        }
    }

    /// Decides among the held rows and hands them over from the header on.
    fn release(&mut self) -> Result<Flow, ImportError> {
        let held = std::mem::take(&mut self.held);
        let at = find(&held.iter().map(|(_, c)| c.as_slice()).collect::<Vec<_>>());
        self.chosen = Some(Some(held[at].0));
        let mut rows = held.into_iter().skip(at);
        if let Some((number, mut cells)) = rows.next() {
            check_labels(&cells)?;
            if self.inner.row(number, &mut cells)?.is_break() {
                return Ok(Flow::Break(()));
            }
        }
        for (number, mut cells) in rows {
            if self.data(number, &mut cells)?.is_break() {
                return Ok(Flow::Break(()));
            }
        }
        Ok(Flow::Continue(()))
    }
}

impl RowVisitor for Picker<'_> {
    fn total(&mut self, rows: u64, estimated: bool) {
        self.inner.total(rows, estimated);
    }

    fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
        self.first.get_or_insert(number);
        if self.chosen.is_some() {
            return self.data(number, cells);
        }
        let blank = width(cells) == 0;
        match self.choice {
            HeaderRow::Auto => {
                if !blank {
                    self.held_bytes += cells.iter().map(value_bytes).sum::<usize>();
                    self.held.push((number, std::mem::take(cells)));
                    if self.held.len() >= LOOK_AHEAD || self.held_bytes >= LOOK_AHEAD_BYTES {
                        return self.release();
                    }
                }
                Ok(Flow::Continue(()))
            }
            HeaderRow::At(n) if number < n => Ok(Flow::Continue(())),
            HeaderRow::At(n) if number > n || blank => Err(ImportError::Invalid(format!(
                "row {n} of the sheet is empty, so it cannot give the column names; choose another header row"
            ))),
            HeaderRow::At(n) => {
                check_labels(cells)?;
                self.chosen = Some(Some(n));
                self.inner.row(number, cells)
            }
            HeaderRow::None if blank => Ok(Flow::Continue(())),
            HeaderRow::None => {
                // An empty header: every column is named column_1, column_2, ... (see `names`).
                self.chosen = Some(None);
                if self.inner.row(number, &mut vec![Value::Text(String::new())])?.is_break() {
                    return Ok(Flow::Break(()));
                }
                self.data(number, cells)
            }
        }
    }

    fn sheet(&mut self, name: &str) {
        self.inner.sheet(name);
    }

    fn error_cell(&mut self) {
        self.inner.error_cell();
    }

    fn first_row_is_data(&self) -> bool {
        self.choice == HeaderRow::None
    }

    fn cancel_token(&self) -> Option<tokio_util::sync::CancellationToken> {
        self.inner.cancel_token()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn the_header_is_found_below_a_title_block() {
        let rows = vec![
            vec![t("Sales report")],
            vec![t("Made 2024-01-02"), Value::Null, Value::Null],
            vec![t("Region"), t("Units"), t("Price")],
            vec![t("north"), Value::Int(3), Value::Real(1.5)],
            vec![t("south"), Value::Int(5), Value::Real(2.5)],
        ];
        assert_eq!(find(&rows), 2);
    }

    #[test]
    fn a_plain_sheet_a_header_of_numbers_and_data_without_a_header_keep_the_first_row() {
        let plain = vec![vec![t("id"), t("name")], vec![Value::Int(1), t("a")]];
        assert_eq!(find(&plain), 0);
        let years = vec![
            vec![t("Region")],
            vec![Value::Int(2021), Value::Int(2022), Value::Int(2023)],
            vec![Value::Int(1), Value::Int(2), Value::Int(3)],
        ];
        assert_eq!(find(&years), 0, "a wide row of numbers first: the first row, as before");
        let data = vec![vec![Value::Int(1), t("a"), Value::Real(2.5)], vec![Value::Int(2), t("b"), Value::Real(3.5)]];
        assert_eq!(find(&data), 0);
        // A header with a few empty cells (merged above two columns) is still wide enough.
        let merged = vec![vec![t("Region"), t("Sales"), Value::Null], vec![t("n"), Value::Int(1), Value::Int(2)]];
        assert_eq!(find(&merged), 0);
    }

    /// Rows as they were handed over, with their numbers.
    type Numbered = Vec<(u64, Vec<Value>)>;

    #[derive(Default)]
    struct Seen(Numbered);

    impl RowVisitor for Seen {
        fn total(&mut self, _: u64, _: bool) {}
        fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
            self.0.push((number, std::mem::take(cells)));
            Ok(Flow::Continue(()))
        }
    }

    fn pick(choice: HeaderRow, rows: &[(u64, Vec<Value>)]) -> Result<(Numbered, Option<Option<u64>>), ImportError> {
        let mut seen = Seen::default();
        let mut p = Picker::new(Layout { header: choice, stop_at_blank: false }, &mut seen);
        for (n, r) in rows {
            let _: Flow = p.row(*n, &mut r.clone())?;
        }
        let _: Flow = p.finish()?;
        let chosen = p.chosen;
        Ok((seen.0, chosen))
    }

    #[test]
    fn the_picker_hands_over_the_header_and_what_is_below_it() {
        let rows = vec![
            (1, vec![t("Sales report")]),
            (3, vec![t("Region"), t("Units")]),
            (4, vec![t("north"), Value::Int(3)]),
        ];
        let (seen, chosen) = pick(HeaderRow::Auto, &rows).expect("auto");
        assert_eq!(chosen, Some(Some(3)));
        assert_eq!(seen.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [3, 4]);
        let (seen, chosen) = pick(HeaderRow::At(1), &rows).expect("row 1");
        assert_eq!((seen.len(), chosen), (3, Some(Some(1))));
        let (seen, chosen) = pick(HeaderRow::None, &rows).expect("none");
        assert_eq!(chosen, Some(None));
        assert_eq!(seen[0], (1, vec![t("")]), "an empty header first");
        assert_eq!(seen.len(), 4);
        let err = pick(HeaderRow::At(2), &rows).expect_err("row 2 is blank");
        assert!(err.to_string().contains("row 2 of the sheet is empty"), "{err}");
        let err = pick(HeaderRow::At(9), &rows).expect_err("no row 9");
        assert!(err.to_string().contains("no row 9"), "{err}");
        // More rows than the look-ahead: held back only until it is full, nothing lost.
        let many: Vec<(u64, Vec<Value>)> = (1..=50).map(|n| (n, vec![Value::Int(n as i64), t("x")])).collect();
        let (seen, chosen) = pick(HeaderRow::Auto, &many).expect("many");
        assert_eq!((seen.len(), chosen), (50, Some(Some(1))));
        assert_eq!("3".parse::<HeaderRow>(), Ok(HeaderRow::At(3)));
        assert_eq!("None".parse::<HeaderRow>(), Ok(HeaderRow::None));
        assert!("0".parse::<HeaderRow>().is_err() && "x".parse::<HeaderRow>().is_err());
    }

    #[test]
    fn the_data_can_end_at_the_first_empty_row() {
        let rows: Numbered = vec![
            (1, vec![t("Region"), t("Units")]),
            (2, vec![t("north"), Value::Int(3)]),
            (3, vec![t("south"), Value::Int(5)]),
            (5, vec![t("Total"), Value::Int(8)]),
        ];
        let mut seen = Seen::default();
        let mut p = Picker::new(Layout { header: HeaderRow::Auto, stop_at_blank: true }, &mut seen);
        let mut flow = Flow::Continue(());
        for (n, r) in &rows {
            flow = p.row(*n, &mut r.clone()).expect("row");
        }
        assert!(flow.is_continue(), "held back until the end: the look-ahead is not full");
        assert!(p.finish().expect("finish").is_break(), "row 4 is empty: the data ends there");
        assert_eq!(seen.0.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3]);
        // An empty row the file writes out ends it too; one right below the header does not.
        let mut seen = Seen::default();
        let mut p = Picker::new(Layout { header: HeaderRow::At(1), stop_at_blank: true }, &mut seen);
        for (n, r) in [
            (1, vec![t("a")]),
            (2, vec![Value::Null]),
            (3, vec![Value::Int(1)]),
            (4, vec![Value::Null]),
            (5, vec![Value::Int(2)]),
        ] {
            if p.row(n, &mut r.clone()).expect("row").is_break() {
                break;
            }
        }
        assert_eq!(seen.0.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 3]);
    }
}
