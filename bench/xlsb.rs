//! The dataset as an Excel binary workbook (.xlsb, BIFF12, [MS-XLSB]): a streaming, pure-Rust
//! writer of the whole package — content types, relationships, `xl/workbook.bin` with one sheet
//! named "Data", `xl/styles.bin`, `xl/worksheets/sheet1.bin` and `xl/sharedStrings.bin`.
//!
//! Cells are written as Excel writes them: text through the shared-string table, numbers as RK
//! numbers when one holds the value exactly (else 8-byte floats), booleans as such, empty cells
//! omitted, dates and datetimes as serial numbers whose cell format (numFmt 14, and a custom
//! `yyyy-mm-dd hh:mm:ss`) marks them as dates. The sheet streams into the zip; only the
//! shared-string table is held in memory, because it is written after the sheet.

use super::{HEADER, amount, row};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// The sheet's name in the workbook.
const SHEET: &str = "Data";

/// Excel's serial day of 1970-01-01 in the 1900 date system (days since 1899-12-30; exact for
/// every day from 1900-03-01 on).
const UNIX_EPOCH_SERIAL: i64 = 25_569;

/// Record types ([MS-XLSB] 2.3.2).
mod rt {
    pub const ROW_HDR: u16 = 0x0000;
    pub const CELL_RK: u16 = 0x0002;
    pub const CELL_BOOL: u16 = 0x0004;
    pub const CELL_REAL: u16 = 0x0005;
    pub const CELL_ISST: u16 = 0x0007;
    pub const SST_ITEM: u16 = 0x0013;
    pub const FONT: u16 = 0x002B;
    pub const FMT: u16 = 0x002C;
    pub const FILL: u16 = 0x002D;
    pub const BORDER: u16 = 0x002E;
    pub const XF: u16 = 0x002F;
    pub const STYLE: u16 = 0x0030;
    pub const BEGIN_SHEET: u16 = 0x0081;
    pub const END_SHEET: u16 = 0x0082;
    pub const BEGIN_BOOK: u16 = 0x0083;
    pub const END_BOOK: u16 = 0x0084;
    pub const BEGIN_WS_VIEWS: u16 = 0x0085;
    pub const END_WS_VIEWS: u16 = 0x0086;
    pub const BEGIN_BOOK_VIEWS: u16 = 0x0087;
    pub const END_BOOK_VIEWS: u16 = 0x0088;
    pub const BEGIN_WS_VIEW: u16 = 0x0089;
    pub const END_WS_VIEW: u16 = 0x008A;
    pub const BEGIN_BUNDLE_SHS: u16 = 0x008F;
    pub const END_BUNDLE_SHS: u16 = 0x0090;
    pub const BEGIN_SHEET_DATA: u16 = 0x0091;
    pub const END_SHEET_DATA: u16 = 0x0092;
    pub const WS_DIM: u16 = 0x0094;
    pub const WB_PROP: u16 = 0x0099;
    pub const BUNDLE_SH: u16 = 0x009C;
    pub const BOOK_VIEW: u16 = 0x009E;
    pub const BEGIN_SST: u16 = 0x009F;
    pub const END_SST: u16 = 0x00A0;
    pub const BEGIN_STYLE_SHEET: u16 = 0x0116;
    pub const END_STYLE_SHEET: u16 = 0x0117;
    pub const BEGIN_DXFS: u16 = 0x01F9;
    pub const END_DXFS: u16 = 0x01FA;
    pub const BEGIN_TABLE_STYLES: u16 = 0x01FC;
    pub const END_TABLE_STYLES: u16 = 0x01FD;
    pub const BEGIN_FILLS: u16 = 0x025B;
    pub const END_FILLS: u16 = 0x025C;
    pub const BEGIN_FONTS: u16 = 0x0263;
    pub const END_FONTS: u16 = 0x0264;
    pub const BEGIN_BORDERS: u16 = 0x0265;
    pub const END_BORDERS: u16 = 0x0266;
    pub const BEGIN_FMTS: u16 = 0x0267;
    pub const END_FMTS: u16 = 0x0268;
    pub const BEGIN_CELL_XFS: u16 = 0x0269;
    pub const END_CELL_XFS: u16 = 0x026A;
    pub const BEGIN_STYLES: u16 = 0x026B;
    pub const END_STYLES: u16 = 0x026C;
    pub const BEGIN_CELL_STYLE_XFS: u16 = 0x0272;
    pub const END_CELL_STYLE_XFS: u16 = 0x0273;
}

/// Cell formats (indexes into the cellXfs of styles.bin).
const GENERAL: u32 = 0;
const DATE: u32 = 1;
const DATETIME: u32 = 2;
/// The custom number format of [`DATETIME`] (custom ids start at 164).
const DATETIME_FMT: (u16, &str) = (164, "yyyy-mm-dd hh:mm:ss");
/// The built-in short-date number format of [`DATE`].
const DATE_FMT_ID: u16 = 14;

/// Writes `rows` rows as an .xlsb workbook with one sheet (at most 1,048,575 rows under the header).
pub fn write_xlsb(path: &Path, rows: u64) -> io::Result<()> {
    let last_row = u32::try_from(rows)
        .ok()
        .filter(|&r| r < 1 << 20)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{rows} rows do not fit an Excel sheet")))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(path)?));
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, xml) in [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", ROOT_RELS),
        ("xl/_rels/workbook.bin.rels", WORKBOOK_RELS),
    ] {
        zip.start_file(name, deflated)?;
        zip.write_all(xml.as_bytes())?;
    }
    zip.start_file("xl/workbook.bin", deflated)?;
    write_workbook(&mut Records(&mut zip))?;
    zip.start_file("xl/styles.bin", deflated)?;
    write_styles(&mut Records(&mut zip))?;

    zip.start_file("xl/worksheets/sheet1.bin", deflated)?;
    let mut sheet =
        Sheet { out: Records(BufWriter::with_capacity(1 << 20, &mut zip)), strings: SharedStrings::default() };
    sheet.begin(last_row)?;
    sheet.row(0)?;
    for (c, h) in HEADER.iter().enumerate() {
        sheet.text(c as u32, h)?;
    }
    for i in 0..rows {
        let r = row(i);
        sheet.row(i as u32 + 1)?;
        sheet.number(0, GENERAL, r.id as f64)?;
        sheet.number(1, GENERAL, amount(r.amount_cents))?;
        sheet.text(2, r.name)?;
        sheet.text(3, &r.note)?;
        sheet.number(4, DATE, (i64::from(r.date) + UNIX_EPOCH_SERIAL) as f64)?;
        let (days, secs) = (r.datetime.div_euclid(86_400), r.datetime.rem_euclid(86_400));
        sheet.number(5, DATETIME, (days + UNIX_EPOCH_SERIAL) as f64 + secs as f64 / 86_400.0)?;
        sheet.out.cell(rt::CELL_BOOL, 6, GENERAL, &[u8::from(r.active)])?;
        if let Some(score) = r.score {
            sheet.number(7, GENERAL, score as f64)?;
        }
        sheet.text(8, r.category)?;
        sheet.text(9, &r.email)?;
    }
    let Sheet { out: Records(mut buffered), strings } = sheet.end()?;
    buffered.flush()?;
    drop(buffered);

    zip.start_file("xl/sharedStrings.bin", deflated)?;
    strings.write(&mut Records(BufWriter::with_capacity(1 << 20, &mut zip)))?;
    zip.finish()?.flush()
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/><Override PartName="/xl/worksheets/sheet1.bin" ContentType="application/vnd.ms-excel.worksheet"/><Override PartName="/xl/styles.bin" ContentType="application/vnd.ms-excel.styles"/><Override PartName="/xl/sharedStrings.bin" ContentType="application/vnd.ms-excel.sharedStrings"/></Types>"#;

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.bin"/></Relationships>"#;

const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.bin"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.bin"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.bin"/></Relationships>"#;

/// A record body under construction, little-endian as the format stores everything.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    /// An XLWideString (also the layout of XLNullableWideString when not null): the count of
    /// UTF-16 code units, then the units.
    fn wide(mut self, s: &str) -> Self {
        push_wide(&mut self.0, s);
        self
    }
}

fn push_wide(out: &mut Vec<u8>, s: &str) {
    out.extend((s.encode_utf16().count() as u32).to_le_bytes());
    s.encode_utf16().for_each(|u| out.extend(u.to_le_bytes()));
}

/// Writes BIFF12 records: the type in one or two bytes and the body's length in one to four,
/// seven bits a byte, low bits first, the high bit saying another byte follows.
struct Records<W: Write>(W);

impl<W: Write> Records<W> {
    fn record(&mut self, id: u16, body: &[u8]) -> io::Result<()> {
        let mut head = [0u8; 6];
        let mut n = 0;
        for mut v in [usize::from(id), body.len()] {
            loop {
                head[n] = (v & 0x7F) as u8 | if v > 0x7F { 0x80 } else { 0 };
                n += 1;
                v >>= 7;
                if v == 0 {
                    break;
                }
            }
        }
        self.0.write_all(&head[..n])?;
        self.0.write_all(body)
    }

    /// A record with no body (the Begin/End brackets).
    fn mark(&mut self, id: u16) -> io::Result<()> {
        self.record(id, &[])
    }

    /// A cell record ([MS-XLSB] 2.5.9 Cell): column, 24-bit cell format index, flags, then `value`.
    fn cell(&mut self, id: u16, col: u32, style: u32, value: &[u8]) -> io::Result<()> {
        let mut body = [0u8; 16];
        body[..4].copy_from_slice(&col.to_le_bytes());
        body[4..8].copy_from_slice(&style.to_le_bytes()); // style < 2^24, so fPhShow stays 0
        body[8..8 + value.len()].copy_from_slice(value);
        self.record(id, &body[..8 + value.len()])
    }
}

/// [MS-XLSB] 2.1.7.61 Workbook: properties, one book view, the one sheet.
fn write_workbook<W: Write>(w: &mut Records<W>) -> io::Result<()> {
    w.mark(rt::BEGIN_BOOK)?;
    // Flags: fShowInkAnnotation | fAutoCompressPictures, Excel's defaults; 1900 date system.
    w.record(rt::WB_PROP, &Body::default().u32(0x0001_0020).u32(0).wide("").0)?;
    w.mark(rt::BEGIN_BOOK_VIEWS)?;
    // Window position and size in twips, tab ratio, first and active tab, flags (scroll bars, tabs).
    let view = Body::default().u32(0).u32(460).u32(28_800).u32(17_600).u32(600).u32(0).u32(0).u8(0x78);
    w.record(rt::BOOK_VIEW, &view.0)?;
    w.mark(rt::END_BOOK_VIEWS)?;
    w.mark(rt::BEGIN_BUNDLE_SHS)?;
    // Visible, tab id 1, relationship rId1, name.
    w.record(rt::BUNDLE_SH, &Body::default().u32(0).u32(1).wide("rId1").wide(SHEET).0)?;
    w.mark(rt::END_BUNDLE_SHS)?;
    w.mark(rt::END_BOOK)
}

/// [MS-XLSB] 2.1.7.50 Styles: the parts Excel needs (one font, the two mandatory fills, one
/// border, the Normal style) and three cell formats: General, a date, a datetime.
///
/// calamine reads this part by hopping over records it does not know one byte at a time, taking
/// body bytes for record types; every body before the cellXfs therefore ends in a byte below 0x80,
/// so no body swallows the next record's type.
fn write_styles<W: Write>(w: &mut Records<W>) -> io::Result<()> {
    w.mark(rt::BEGIN_STYLE_SHEET)?;
    w.record(rt::BEGIN_FMTS, &Body::default().u32(1).0)?;
    w.record(rt::FMT, &Body::default().u16(DATETIME_FMT.0).wide(DATETIME_FMT.1).0)?;
    w.mark(rt::END_FMTS)?;

    w.record(rt::BEGIN_FONTS, &Body::default().u32(1).0)?;
    // Calibri 11 pt (in twentieths), regular weight, swiss family, theme colour 1, minor scheme.
    let color = [0x06, 0x01, 0, 0, 0, 0, 0, 0];
    let font =
        Body::default().u16(220).u16(0).u16(400).u16(0).u8(0).u8(2).u8(0).u8(0).bytes(&color).u8(2).wide("Calibri");
    w.record(rt::FONT, &font.0)?;
    w.mark(rt::END_FONTS)?;

    w.record(rt::BEGIN_FILLS, &Body::default().u32(2).0)?;
    for pattern in [0u32, 17] {
        // Pattern none and gray125; system foreground and background colours; no gradient.
        let fg = [0x03, 0x40, 0, 0, 0, 0, 0, 0xFF];
        let bg = [0x03, 0x41, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        w.record(rt::FILL, &Body::default().u32(pattern).bytes(&fg).bytes(&bg).bytes(&[0; 48]).0)?;
    }
    w.mark(rt::END_FILLS)?;

    w.record(rt::BEGIN_BORDERS, &Body::default().u32(1).0)?;
    // No diagonals; top, bottom, left, right, diagonal: no line, automatic colour.
    let side = [0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0];
    let border = (0..5).fold(Body::default().u8(0), |b, _| b.bytes(&side));
    w.record(rt::BORDER, &border.0)?;
    w.mark(rt::END_BORDERS)?;

    w.record(rt::BEGIN_CELL_STYLE_XFS, &Body::default().u32(1).0)?;
    w.record(rt::XF, &xf(0xFFFF, 0, 0))?;
    w.mark(rt::END_CELL_STYLE_XFS)?;

    w.record(rt::BEGIN_CELL_XFS, &Body::default().u32(3).0)?;
    w.record(rt::XF, &xf(0, 0, 0))?; // GENERAL
    w.record(rt::XF, &xf(0, DATE_FMT_ID, 1))?; // DATE
    w.record(rt::XF, &xf(0, DATETIME_FMT.0, 1))?; // DATETIME
    w.mark(rt::END_CELL_XFS)?;

    w.record(rt::BEGIN_STYLES, &Body::default().u32(1).0)?;
    // Cell style XF 0, built in, "Normal" (built-in id 0), no outline level.
    w.record(rt::STYLE, &Body::default().u32(0).u16(1).u8(0).u8(0xFF).wide("Normal").0)?;
    w.mark(rt::END_STYLES)?;
    w.record(rt::BEGIN_DXFS, &Body::default().u32(0).0)?;
    w.mark(rt::END_DXFS)?;
    w.record(rt::BEGIN_TABLE_STYLES, &Body::default().u32(0).wide("TableStyleMedium2").wide("PivotStyleLight16").0)?;
    w.mark(rt::END_TABLE_STYLES)?;
    w.mark(rt::END_STYLE_SHEET)
}

/// A BrtXF: parent style XF, number format, font/fill/border 0, bottom-aligned and locked, and
/// `applied` = 1 when the number format is this XF's own rather than its style's.
fn xf(parent: u16, num_fmt: u16, applied: u8) -> Vec<u8> {
    Body::default().u16(parent).u16(num_fmt).u16(0).u16(0).u16(0).u8(0).u8(0).u16(0x1010).u8(applied).u8(0).0
}

/// The shared-string table: each distinct text once, in order of first use.
#[derive(Default)]
struct SharedStrings {
    index: HashMap<Box<str>, u32>,
    uses: u32,
}

impl SharedStrings {
    fn id(&mut self, s: &str) -> u32 {
        self.uses += 1;
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.index.len() as u32;
        self.index.insert(s.into(), i);
        i
    }

    /// [MS-XLSB] 2.1.7.45 Shared String Table: references and distinct strings, then each string.
    fn write<W: Write>(self, w: &mut Records<BufWriter<W>>) -> io::Result<()> {
        let mut ordered = vec![""; self.index.len()];
        for (s, &i) in &self.index {
            ordered[i as usize] = s;
        }
        w.record(rt::BEGIN_SST, &Body::default().u32(self.uses).u32(ordered.len() as u32).0)?;
        let mut item = Vec::with_capacity(256);
        for s in ordered {
            item.clear();
            item.push(0); // a plain string: no rich-text runs, no phonetic text
            push_wide(&mut item, s);
            w.record(rt::SST_ITEM, &item)?;
        }
        w.mark(rt::END_SST)?;
        w.0.flush()
    }
}

/// [MS-XLSB] 2.1.7.62 Worksheet, written as it streams.
struct Sheet<W: Write> {
    out: Records<W>,
    strings: SharedStrings,
}

impl<W: Write> Sheet<W> {
    /// Everything up to the cell table: the used range (rows 0..=last_row, columns A..J) and one
    /// selected sheet view.
    fn begin(&mut self, last_row: u32) -> io::Result<()> {
        let w = &mut self.out;
        w.mark(rt::BEGIN_SHEET)?;
        w.record(rt::WS_DIM, &Body::default().u32(0).u32(last_row).u32(0).u32(HEADER.len() as u32 - 1).0)?;
        w.mark(rt::BEGIN_WS_VIEWS)?;
        // Flags: gridlines, headings, zeros, ruler, outline symbols, default gridline colour,
        // selected tab; normal view from A1; gridline colour 64 (automatic); zoom 100%; book view 0.
        let view =
            Body::default().u16(0x03DC).u32(0).u32(0).u32(0).u8(64).u8(0).u16(0).u16(100).u16(0).u16(0).u16(0).u32(0);
        w.record(rt::BEGIN_WS_VIEW, &view.0)?;
        w.mark(rt::END_WS_VIEW)?;
        w.mark(rt::END_WS_VIEWS)?;
        w.mark(rt::BEGIN_SHEET_DATA)
    }

    /// A BrtRowHdr: row, format 0, default height (15 pt in twips), one span of columns A..J.
    fn row(&mut self, rw: u32) -> io::Result<()> {
        let hdr = Body::default().u32(rw).u32(0).u16(300).u8(0).u8(0).u8(0).u32(1).u32(0).u32(HEADER.len() as u32 - 1);
        self.out.record(rt::ROW_HDR, &hdr.0)
    }

    fn text(&mut self, col: u32, s: &str) -> io::Result<()> {
        let isst = self.strings.id(s);
        self.out.cell(rt::CELL_ISST, col, GENERAL, &isst.to_le_bytes())
    }

    fn number(&mut self, col: u32, style: u32, v: f64) -> io::Result<()> {
        match rk(v) {
            Some(rk) => self.out.cell(rt::CELL_RK, col, style, &rk.to_le_bytes()),
            None => self.out.cell(rt::CELL_REAL, col, style, &v.to_le_bytes()),
        }
    }

    fn end(mut self) -> io::Result<Self> {
        self.out.mark(rt::END_SHEET_DATA)?;
        self.out.mark(rt::END_SHEET)?;
        Ok(self)
    }
}

/// `v` as an RkNumber ([MS-XLSB] 2.5.122) when one holds it exactly: a 30-bit integer (bit 1
/// set), that integer divided by 100 (bits 0 and 1 set), or a double whose low 34 bits are zero
/// (its high 30 bits stored, bits 0 and 1 clear). Excel's readers decode `n / 100` as exactly
/// that division, which is how the check below is made.
fn rk(v: f64) -> Option<u32> {
    const LIMIT: f64 = (1 << 29) as f64;
    let int = |n: f64| (n.fract() == 0.0 && (-LIMIT..LIMIT).contains(&n)).then_some(((n as i32) << 2) as u32 | 0b10);
    if let Some(rk) = int(v) {
        return Some(rk);
    }
    let hundredths = (v * 100.0).round();
    if let Some(rk) = int(hundredths).filter(|_| hundredths / 100.0 == v) {
        return Some(rk | 0b01);
    }
    let bits = v.to_bits();
    (bits & ((1 << 34) - 1) == 0).then_some((bits >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::rk;

    /// Decodes an RkNumber as [MS-XLSB] 2.5.122 (and calamine) do.
    fn decode(rk: u32) -> f64 {
        let v = if rk & 0b10 != 0 { f64::from(rk as i32 >> 2) } else { f64::from_bits(u64::from(rk & !0b11) << 32) };
        if rk & 0b01 != 0 { v / 100.0 } else { v }
    }

    #[test]
    fn xlsb_rk_numbers_are_exact_or_refused() {
        // Integers, hundredths, and doubles with 34 low zero bits (2^29 is past the integer form).
        for v in
            [0.0, 1.0, -1.0, 536_870_911.0, -536_870_912.0, 536_870_912.0, 0.5, -2.25, 12.34, -999.99, 0.01, 45_000.0]
        {
            let n = rk(v).unwrap_or_else(|| panic!("{v} has an exact RK form"));
            assert_eq!(decode(n).to_bits(), v.to_bits(), "{v}");
        }
        for v in [45_000.123_456, std::f64::consts::PI, 0.1 + 0.2] {
            assert_eq!(rk(v), None, "{v} has no exact RK form");
        }
    }
}
