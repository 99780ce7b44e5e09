//! The small parts of an .xlsx/.xlsm package a sheet needs: the workbook (sheet names, where each
//! sheet's XML lives, the date system), the styles (which cell styles show dates, which show digits
//! zero-padded), and the shared-string table, kept as one string with offsets rather than a
//! `String` per entry and read only as far as the cells ask.

use super::padded::Template;
use crate::import::ImportError;
use crate::import::limits::Limits;
use crate::import::source::opc::{self, Relationship};
use crate::import::source::xml::{Chunks, attr, broken, decode, element_text, next_tag, number};
use std::collections::HashMap;
use std::io::Read;

/// A sheet as the workbook lists it.
#[derive(Debug, Clone)]
pub struct SheetRef {
    pub name: String,
    /// The part holding its cells, e.g. `xl/worksheets/sheet1.xml`.
    pub path: String,
    /// False for chart sheets and other parts that hold no cells.
    pub is_worksheet: bool,
}

/// What the workbook part and its relationships say.
#[derive(Debug, Clone, Default)]
pub struct Workbook {
    pub sheets: Vec<SheetRef>,
    /// Dates count from 1904-01-01 (old Mac Excel) instead of 1900-01-00.
    pub date1904: bool,
    /// The shared-string and styles parts: where the relationships say, else beside the workbook
    /// (`xl/sharedStrings.xml`, `xl/styles.xml`), where writers that list neither put them.
    pub shared_strings: String,
    pub styles: String,
}

/// Reads the workbook part (named `main`) with its relationships (resolved against it).
pub fn workbook(workbook_xml: &[u8], rels: &[Relationship], main: &str) -> Result<Workbook, ImportError> {
    // By id: a workbook of 200,000 sheets took 86 CPU-seconds per preview with a linear search.
    let targets: HashMap<&[u8], &Relationship> = rels.iter().map(|r| (r.id.as_bytes(), r)).collect();
    let related = |kind: &str, usual: &str| {
        rels.iter().find(|r| r.is(kind)).map_or_else(|| opc::resolve(main, usual), |r| r.target.clone())
    };
    let mut book = Workbook {
        shared_strings: related("sharedStrings", "sharedStrings.xml"),
        styles: related("styles", "styles.xml"),
        ..Workbook::default()
    };
    let mut at = 0;
    while let Some((tag, next)) = next_tag(workbook_xml, at)? {
        match tag.name {
            // Only the one that says: Excel also writes an `<x14:workbookPr defaultImageDpi=..>` in
            // the extensions at the end, which once reset a 1904 workbook's dates to the 1900
            // system (found: readxl's type-me.xlsx, 2016-01-01 arrived as 2011-12-31).
            b"workbookPr" if !tag.closing => {
                if let Some(v) = attr(tag.attrs, b"date1904") {
                    book.date1904 = matches!(v, b"1" | b"true");
                }
            }
            b"sheet" if !tag.closing => {
                let mut name = String::new();
                decode(&mut name, attr(tag.attrs, b"name").unwrap_or_default())?;
                // `r:id`: the attribute whose local name is `id` (`sheetId` is another one).
                let rid =
                    attr(tag.attrs, b"id").ok_or_else(|| broken(format!("sheet {name:?} has no relationship")))?;
                let rel = targets.get(rid).ok_or_else(|| broken(format!("sheet {name:?} points to no part")))?;
                book.sheets.push(SheetRef { name, path: rel.target.clone(), is_worksheet: rel.is("worksheet") });
            }
            _ => {}
        }
        at = next;
    }
    Ok(book)
}

/// How a cell style shows a number, as far as the value it stands for changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Number,
    /// A date or a time: the serial is one.
    Date,
    /// An elapsed time (`[h]:mm:ss`, `[mm]:ss`, `[ss]`): the serial counts days gone by.
    Elapsed,
    /// Whole digits in a layout (`00000`): the index of its [`Template`] in [`Styles`].
    Digits(u32),
}

/// For each cell style (the `s` attribute of a cell), how it shows numbers.
#[derive(Debug, Default)]
pub struct Styles {
    shown: Vec<Shown>,
    templates: Vec<Template>,
}

/// Cell styles past this many read as plain numbers: Excel allows 64,000, and a 64 MB styles part
/// of bare `<xf/>`s would otherwise hold 13 million of them.
const MAX_STYLES: usize = 1 << 20;

impl Styles {
    /// Reads `xl/styles.xml`: the custom number formats (by id, so the cost stays linear in the
    /// part), then each `<xf>` of `<cellXfs>`.
    pub fn read(styles_xml: &[u8]) -> Result<Styles, ImportError> {
        let mut custom: std::collections::HashMap<u32, Shown> = std::collections::HashMap::new();
        let mut styles = Styles::default();
        let mut in_cell_xfs = false;
        let mut at = 0;
        while let Some((tag, next)) = next_tag(styles_xml, at)? {
            match tag.name {
                b"numFmt" if !tag.closing => {
                    let id = attr(tag.attrs, b"numFmtId").and_then(number);
                    let mut code = String::new();
                    decode(&mut code, attr(tag.attrs, b"formatCode").unwrap_or_default())?;
                    if let Some(id) = id {
                        let shown = if let Some(moment) = date_format(&code) {
                            moment
                        } else if let Some(template) = Template::excel(&code) {
                            styles.templates.push(template);
                            Shown::Digits(styles.templates.len() as u32 - 1)
                        } else {
                            Shown::Number
                        };
                        custom.insert(id, shown);
                    }
                }
                b"cellXfs" => in_cell_xfs = !tag.closing && !tag.empty,
                b"xf" if in_cell_xfs && !tag.closing && styles.shown.len() < MAX_STYLES => {
                    let id = attr(tag.attrs, b"numFmtId").and_then(number).unwrap_or(0);
                    let builtin = match id {
                        46 => Shown::Elapsed, // [h]:mm:ss
                        _ if is_builtin_date(id) => Shown::Date,
                        _ => Shown::Number,
                    };
                    styles.shown.push(custom.get(&id).copied().unwrap_or(builtin));
                }
                _ => {}
            }
            at = next;
        }
        Ok(styles)
    }

    /// How style `s` shows numbers (the default style, and styles not listed, as plain numbers).
    pub fn shown(&self, s: usize) -> Shown {
        self.shown.get(s).copied().unwrap_or(Shown::Number)
    }

    pub fn template(&self, i: u32) -> &Template {
        &self.templates[i as usize]
    }
}

/// Excel's built-in number formats that show dates or times (14–22, 27–36, 45–47 and the East
/// Asian and Thai ones 50–58, 71–81).
fn is_builtin_date(id: u32) -> bool {
    matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58 | 71..=81)
}

/// Whether a custom format code shows a date or time ([`Shown::Date`]): a d, m, y, h or s
/// outside quoted text, escapes and `[...]` sections (colours, conditions, locales); or an elapsed
/// time ([`Shown::Elapsed`]): an `[h]`, `[m]` or `[s]` section, however many letters.
pub fn date_format(code: &str) -> Option<Shown> {
    let (mut date, mut chars) = (false, code.chars());
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|&q| q != ']').collect();
                let lower = inner.to_ascii_lowercase();
                let unit = lower.chars().next();
                if unit.is_some_and(|u| matches!(u, 'h' | 'm' | 's')) && lower.chars().all(|q| Some(q) == unit) {
                    return Some(Shown::Elapsed);
                }
            }
            'd' | 'D' | 'm' | 'M' | 'y' | 'Y' | 'h' | 'H' | 's' | 'S' => date = true,
            _ => {}
        }
    }
    date.then_some(Shown::Date)
}

/// The shared-string table: every string's text back to back, and where each one ends. Cells refer
/// to it by index, so what was read must be held; it is bounded, each string by
/// `--max-cell-bytes`, the table by `--max-memory-mb` (a 1.76 MB .xlsx with a 1 GiB table once took
/// 2.1 GB to import). It is read only as far as the cells ask: writers add strings in the order
/// cells first use them, so a preview of the first rows reads the table's first megabyte, not all
/// of it.
pub struct SharedStrings<'a> {
    table: Table,
    /// The rest of `xl/sharedStrings.xml`, until it is read to its end.
    rest: Option<Chunks<Box<dyn Read + 'a>>>,
}

#[derive(Default)]
struct Table {
    text: String,
    ends: Vec<usize>,
    max_cell: usize,
    max_bytes: usize,
}

impl<'a> SharedStrings<'a> {
    /// The table of a part, read later as cells need it.
    pub fn new(part: impl Read + 'a, limits: &Limits) -> Self {
        let rest = Chunks::new(Box::new(part) as Box<dyn Read + 'a>, "si");
        SharedStrings {
            table: Table { max_cell: limits.max_cell_bytes, max_bytes: limits.memory_bytes(), ..Table::default() },
            rest: Some(rest),
        }
    }

    /// A workbook without shared strings.
    pub fn none() -> Self {
        SharedStrings { table: Table::default(), rest: None }
    }

    /// Entry `i`, read up to it when it has not been yet; `None` when the table has no such entry.
    pub fn get(&mut self, i: usize) -> Result<Option<&str>, ImportError> {
        while self.table.ends.len() <= i {
            let Some(rest) = self.rest.as_mut() else { break };
            match rest.next()? {
                Some(chunk) => self.table.add_chunk(chunk)?,
                None => self.rest = None,
            }
        }
        let t = &self.table;
        let Some(&end) = t.ends.get(i) else { return Ok(None) };
        let start = if i == 0 { 0 } else { t.ends[i - 1] };
        Ok(Some(&t.text[start..end]))
    }
}

impl Table {
    /// Adds every `<si>` of a chunk. The text of an entry is its `<t>` runs, minus phonetic hints.
    fn add_chunk(&mut self, xml: &[u8]) -> Result<(), ImportError> {
        let (mut at, mut in_si, mut in_phonetic) = (0, false, false);
        while let Some((tag, next)) = next_tag(xml, at)? {
            at = next;
            match tag.name {
                b"sst" if !tag.closing => {
                    let unique = attr(tag.attrs, b"uniqueCount").and_then(number).unwrap_or(0) as usize;
                    self.ends.reserve(unique.min(16 << 20));
                }
                b"si" if tag.closing || tag.empty => {
                    self.ends.push(self.text.len());
                    in_si = false;
                    if self.text.len() + self.ends.len() * 8 > self.max_bytes {
                        return Err(ImportError::Invalid(format!(
                            "this workbook's table of shared text needs more than {} MB of memory, more than this \
                             server allows (--max-memory-mb); it may be built to exhaust memory",
                            self.max_bytes >> 20
                        )));
                    }
                }
                b"si" => in_si = true,
                b"rPh" => in_phonetic = !tag.closing && !tag.empty,
                b"t" if in_si && !in_phonetic && !tag.closing && !tag.empty => {
                    at = element_text(&mut self.text, xml, at)?;
                    let start = self.ends.last().copied().unwrap_or(0);
                    if self.text.len() - start > self.max_cell {
                        return Err(crate::import::limits::cell_too_big(self.max_cell));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheets_resolve_through_relationships() {
        let wb = br#"<workbook xmlns:r="x"><workbookPr date1904="1"/><sheets>
            <sheet name="R&amp;D" sheetId="1" r:id="rId2"/><sheet name="Chart" sheetId="2" r:id="rId9"/></sheets>
            <extLst><ext><x14:workbookPr defaultImageDpi="32767"/></ext></extLst></workbook>"#;
        let rels = br#"<Relationships><Relationship Id="rId2" Type="http://x/relationships/worksheet" Target="worksheets/sheet1.xml"/>
            <Relationship Id="rId9" Type="http://x/relationships/chartsheet" Target="/xl/chartsheets/sheet1.xml"/></Relationships>"#;
        let rels = opc::relationships(rels, "xl/workbook.xml").expect("reads");
        let book = workbook(wb, &rels, "xl/workbook.xml").expect("reads");
        assert!(book.date1904);
        assert_eq!(book.sheets[0].name, "R&D");
        assert_eq!(book.sheets[0].path, "xl/worksheets/sheet1.xml");
        assert!(book.sheets[0].is_worksheet);
        assert_eq!(book.sheets[1].path, "xl/chartsheets/sheet1.xml");
        assert!(!book.sheets[1].is_worksheet);
        // Neither listed: beside the workbook, where writers that list neither put them.
        assert_eq!((book.shared_strings.as_str(), book.styles.as_str()), ("xl/sharedStrings.xml", "xl/styles.xml"));
    }

    #[test]
    fn date_formats_are_recognised() {
        for code in
            ["yyyy-mm-dd", "d/m/yy h:mm", "mmm yyyy", "[$-409]dddd, mmmm d, yyyy", "hh:mm AM/PM", "hh:mm:ss.000"]
        {
            assert_eq!(date_format(code), Some(Shown::Date), "{code}");
        }
        for code in ["[h]:mm:ss", "[HH]:MM:SS.00", "[mm]:ss", "[ss]", "[Red][h]:mm"] {
            assert_eq!(date_format(code), Some(Shown::Elapsed), "{code}");
        }
        for code in ["General", "0.00", "#,##0 \"days\"", "[Red]0.00", "0.00E+00", "@", "\\d0", "_-* #,##0_-", "[hm]0"]
        {
            assert_eq!(date_format(code), None, "{code}");
        }
    }

    #[test]
    fn styles_map_cell_formats() {
        let xml = br#"<styleSheet><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\-mm\-dd"/><numFmt numFmtId="165" formatCode="0.000"/></numFmts>
            <cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>
            <cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="165"/><xf numFmtId="22"/></cellXfs></styleSheet>"#;
        let styles = Styles::read(xml).expect("reads");
        let shown: Vec<Shown> = (0..5).map(|s| styles.shown(s)).collect();
        assert_eq!(shown, [Shown::Number, Shown::Date, Shown::Number, Shown::Date, Shown::Number]);
    }

    #[test]
    fn zero_padded_formats_are_layouts() {
        let xml = br#"<styleSheet><numFmts count="2"><numFmt numFmtId="164" formatCode="00000"/><numFmt numFmtId="165" formatCode="000\-00\-0000"/></numFmts>
            <cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="165"/><xf numFmtId="164"/></cellXfs></styleSheet>"#;
        let styles = Styles::read(xml).expect("reads");
        let Shown::Digits(i) = styles.shown(2) else { panic!("{:?}", styles.shown(2)) };
        assert_eq!(styles.template(i).render(501), "00501");
        let Shown::Digits(i) = styles.shown(1) else { panic!("{:?}", styles.shown(1)) };
        assert_eq!(styles.template(i).render(12_345_678), "012-34-5678");
    }

    #[test]
    fn shared_strings_keep_runs_and_drop_phonetics() {
        let xml = br#"<sst uniqueCount="4"><si><t>plain</t></si><si><r><rPr><b/></rPr><t>bo</t></r><r><t xml:space="preserve">ld &amp; more</t></r></si>
            <si><t/></si><si><t>&#x6F22;</t><rPh><t>kan</t></rPh></si></sst>"#;
        let mut table = SharedStrings::new(&xml[..], &Limits::default());
        assert_eq!(table.get(3).expect("reads"), Some("漢"));
        assert_eq!(table.get(0).expect("reads"), Some("plain"));
        assert_eq!(table.get(1).expect("reads"), Some("bold & more"));
        assert_eq!(table.get(2).expect("reads"), Some(""));
        assert_eq!(table.get(4).expect("reads"), None);
        assert_eq!(SharedStrings::none().get(0).expect("reads"), None);
    }
}
