//! The benchmark and test dataset: a deterministic, seeded table of ten mixed columns (integer id,
//! 2-decimal amount, short name, 20–60-character free text, date, datetime, boolean, an integer
//! empty in ~10% of rows, category, email), and writers for it as .xlsx (shared or inline strings),
//! .xlsb (in `xlsb.rs`), .ods and .csv. The same row function tells tests what the imported table
//! must hold.

#![allow(dead_code)] // each user (tests, generator) needs a different part

#[path = "xlsb.rs"]
mod xlsb;
pub use xlsb::write_xlsb;

use sheetport::import::dates::civil_from_days;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Column headers as written in every file.
pub const HEADER: [&str; 10] =
    ["ID", "Amount", "Name", "Note", "Order date", "Shipped at", "Active", "Score", "Category", "Email"];

/// The SQL column names sheetport must derive from [`HEADER`].
pub const COLUMNS: [&str; 10] =
    ["id", "amount", "name", "note", "order_date", "shipped_at", "active", "score", "category", "email"];

const NAMES: [&str; 12] =
    ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Alan", "Edsger", "Radia", "Tim"];
const WORDS: [&str; 16] = [
    "shipment",
    "delayed",
    "customer",
    "requested",
    "invoice",
    "pallet",
    "fragile",
    "express",
    "returned",
    "warehouse",
    "north",
    "priority",
    "sample",
    "order",
    "confirmed",
    "by phone",
];
const CATEGORIES: [&str; 6] = ["hardware", "software", "services", "books", "garden", "toys"];

/// One generated row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: i64,
    pub amount_cents: i64,
    pub name: &'static str,
    pub note: String,
    /// Days since 1970-01-01.
    pub date: i32,
    /// Seconds since the Unix epoch (whole seconds, never midnight).
    pub datetime: i64,
    pub active: bool,
    pub score: Option<i64>,
    pub category: &'static str,
    pub email: String,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: cheap, deterministic, well spread.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Row `i` (0-based) of the dataset.
pub fn row(i: u64) -> Row {
    let r = mix(i ^ 0x5EED);
    let name = NAMES[(r % NAMES.len() as u64) as usize];
    let mut note = String::with_capacity(64);
    let target = 20 + (r >> 8) % 41;
    let mut k = r;
    while (note.len() as u64) < target {
        if !note.is_empty() {
            note.push(' ');
        }
        note.push_str(WORDS[(k % WORDS.len() as u64) as usize]);
        k = mix(k);
    }
    note.truncate(target as usize);
    let note = note.trim_end().to_owned();
    // Every 97th note carries the characters CSV and XML writers must escape.
    let note = if i.is_multiple_of(97) { format!("{note}, \"quoted\" & <tagged>") } else { note };
    let date = 18_262 + ((r >> 16) % 2_000) as i32; // from 2020-01-01
    let datetime = i64::from(date) * 86_400 + 3_600 + ((r >> 24) % 80_000) as i64;
    Row {
        id: i as i64 + 1,
        amount_cents: ((r >> 32) % 1_000_000) as i64 - 100_000,
        name,
        note,
        date,
        datetime,
        active: (r >> 40) & 1 == 1,
        score: (!(r >> 44).is_multiple_of(10)).then_some(((r >> 48) % 1000) as i64),
        category: CATEGORIES[((r >> 52) % CATEGORIES.len() as u64) as usize],
        email: format!("{}.{}@example.com", name.to_lowercase(), i + 1),
    }
}

/// `YYYY-MM-DD`.
pub fn date_text(days: i32) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS` (with `sep` between date and time).
pub fn datetime_text(secs: i64, sep: char) -> String {
    let (days, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!("{}{sep}{:02}:{:02}:{:02}", date_text(days as i32), s / 3600, s / 60 % 60, s % 60)
}

/// `cents` as a decimal number: `-1234` → -12.34.
pub fn amount(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// The row as the JSON values `GET /api/tables/{name}/rows` must return.
pub fn expected_json(r: &Row) -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!(r.id),
        json!(amount(r.amount_cents)),
        json!(r.name),
        json!(r.note),
        json!(date_text(r.date)),
        json!(datetime_text(r.datetime, ' ')),
        json!(r.active),
        r.score.map_or(serde_json::Value::Null, |s| json!(s)),
        json!(r.category),
        json!(r.email),
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// Writes `rows` rows as CSV with a header line.
pub fn write_csv(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "{}", HEADER.join(","))?;
    for i in 0..rows {
        let r = row(i);
        writeln!(
            w,
            "{},{:.2},{},{},{},{},{},{},{},{}",
            r.id,
            amount(r.amount_cents),
            r.name,
            csv_field(&r.note),
            date_text(r.date),
            datetime_text(r.datetime, ' '),
            r.active,
            r.score.map(|s| s.to_string()).unwrap_or_default(),
            r.category,
            r.email
        )?;
    }
    w.flush()
}

/// How an .xlsx file stores its strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strings {
    /// A shared-string table, as Excel itself writes.
    Shared,
    /// Strings inline in each cell (rust_xlsxwriter's constant-memory mode).
    Inline,
}

/// Writes `rows` rows as an .xlsx workbook with one sheet.
pub fn write_xlsx(path: &Path, rows: u64, strings: Strings) -> Result<(), rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let ws = match strings {
        Strings::Shared => wb.add_worksheet_with_low_memory()?,
        Strings::Inline => wb.add_worksheet_with_constant_memory()?,
    };
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let dt_fmt = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..rows {
        let r = row(i);
        let x = i as u32 + 1;
        let (y, m, d) = civil_from_days(r.date);
        let date = ExcelDateTime::from_ymd(y as u16, m as u8, d as u8)?;
        let (dy, dm, dd) = civil_from_days(r.datetime.div_euclid(86_400) as i32);
        let s = r.datetime.rem_euclid(86_400);
        let dt = ExcelDateTime::from_ymd(dy as u16, dm as u8, dd as u8)?.and_hms(
            (s / 3600) as u16,
            (s / 60 % 60) as u8,
            (s % 60) as u8,
        )?;
        ws.write_number(x, 0, r.id as f64)?;
        ws.write_number(x, 1, amount(r.amount_cents))?;
        ws.write_string(x, 2, r.name)?;
        ws.write_string(x, 3, &r.note)?;
        ws.write_datetime_with_format(x, 4, &date, &date_fmt)?;
        ws.write_datetime_with_format(x, 5, &dt, &dt_fmt)?;
        ws.write_boolean(x, 6, r.active)?;
        if let Some(score) = r.score {
            ws.write_number(x, 7, score as f64)?;
        }
        ws.write_string(x, 8, r.category)?;
        ws.write_string(x, 9, &r.email)?;
    }
    wb.save(path)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes `rows` rows as an OpenDocument spreadsheet (what LibreOffice saves).
pub fn write_ods(path: &Path, rows: u64) -> std::io::Result<()> {
    use zip::CompressionMethod;
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(path)?));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    zip.start_file("mimetype", stored)?;
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")?;
    zip.start_file("META-INF/manifest.xml", deflated)?;
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"#,
    )?;
    zip.start_file("content.xml", deflated)?;
    let mut w = BufWriter::with_capacity(1 << 20, &mut zip);
    w.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Orders"><table:table-column table:number-columns-repeated="10"/>"#)?;
    let s = |w: &mut BufWriter<_>, v: &str| {
        write!(
            w,
            r#"<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>"#,
            xml_escape(v)
        )
    };
    write!(w, "<table:table-row>")?;
    for h in HEADER {
        s(&mut w, h)?;
    }
    write!(w, "</table:table-row>")?;
    for i in 0..rows {
        let r = row(i);
        let a = amount(r.amount_cents);
        write!(
            w,
            r#"<table:table-row><table:table-cell office:value-type="float" office:value="{0}"><text:p>{0}</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="{a}"><text:p>{a:.2}</text:p></table:table-cell>"#,
            r.id
        )?;
        s(&mut w, r.name)?;
        s(&mut w, &r.note)?;
        let (d, dt) = (date_text(r.date), datetime_text(r.datetime, 'T'));
        write!(
            w,
            r#"<table:table-cell office:value-type="date" office:date-value="{d}"><text:p>{d}</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="{dt}"><text:p>{dt}</text:p></table:table-cell><table:table-cell office:value-type="boolean" office:boolean-value="{0}"><text:p>{0}</text:p></table:table-cell>"#,
            r.active
        )?;
        match r.score {
            Some(v) => write!(
                w,
                r#"<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>"#
            )?,
            None => write!(w, "<table:table-cell/>")?,
        }
        s(&mut w, r.category)?;
        s(&mut w, &r.email)?;
        write!(w, "</table:table-row>")?;
    }
    // The blank run LibreOffice writes to the sheet's edge.
    write!(
        w,
        r#"<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#
    )?;
    w.flush()?;
    drop(w);
    zip.finish()?;
    Ok(())
}
