//! Which kind of spreadsheet a stored file is, decided by its content and never by its name: zip
//! archives are told apart by the parts inside them, OLE2 files are legacy .xls, and the rest must
//! read as delimited text. Also guards zip archives whose declared sizes make them bombs.

use super::source::opc::{self, Parts};
use super::{ImportError, encoding};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

pub use crate::model::Format;

const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Largest inflated size any one part of a workbook may declare, and the largest ratio of inflated
/// to stored size: far beyond what Excel writes for a full 1,048,576-row sheet, far below a bomb.
const MAX_PART_BYTES: u64 = 16 << 30;
const MAX_RATIO: u64 = 1000;

/// Looks at the file's bytes and names its format, or says in plain words why it is not one we read.
pub fn detect(path: &Path) -> Result<Format, ImportError> {
    let mut head = Vec::with_capacity(64 * 1024);
    File::open(path)?.take(64 * 1024).read_to_end(&mut head)?;
    if head.is_empty() {
        return Err(ImportError::Unsupported("the file is empty".into()));
    }
    if head.starts_with(b"PK\x03\x04") {
        return detect_zip(path);
    }
    if head.starts_with(&OLE2_MAGIC) {
        return Ok(Format::Xls);
    }
    detect_text(&head)
}

fn detect_zip(path: &Path) -> Result<Format, ImportError> {
    let not_a_workbook = |why: &str| {
        ImportError::Unsupported(format!(
            "this is a zip archive but not a spreadsheet ({why}); upload an .xlsx, .xlsm, .xlsb or .ods file"
        ))
    };
    // zip's own words ("Could not find EOCD") go to the log; the person reads what to do.
    let damaged = |e: zip::result::ZipError| {
        tracing::info!(error = %e, "an upload that starts as a zip archive could not be read as one");
        ImportError::Unsupported(
            "the file starts like a workbook (.xlsx and .ods files are zip archives) but is incomplete or damaged, \
             perhaps cut short on its way; open it in a spreadsheet program, save it again and upload the new file"
                .into(),
        )
    };
    let mut zip = zip::ZipArchive::new(BufReader::new(File::open(path)?)).map_err(damaged)?;
    let mut names = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(damaged)?;
        let (size, stored) = (entry.size(), entry.compressed_size().max(1));
        if size > MAX_PART_BYTES || (size > 64 << 20 && size / stored > MAX_RATIO) {
            tracing::info!(part = %entry.name().unwrap_or_default(), size, stored, "a zip part too large to inflate");
            return Err(ImportError::Unsupported(format!(
                "this file would take {} to open, far more than any real workbook of {}: it is damaged or made to \
                 do harm, and was not read",
                crate::format::bytes(size),
                crate::format::bytes(stored)
            )));
        }
        names.push(entry.name().map(|n| n.into_owned()).unwrap_or_default());
    }
    let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
    // An Office Open XML package: its workbook where its relationships say (see `opc`).
    let parts = Parts::new(&zip);
    let workbook = opc::workbook_part(&mut zip, &parts)?;
    if let Some(workbook) = workbook {
        if workbook.to_ascii_lowercase().ends_with(".bin") {
            return Ok(Format::Xlsb);
        }
        let mut types = String::new();
        if let Some(Ok(ct)) = parts.index("[Content_Types].xml").map(|i| zip.by_index(i)) {
            let _ = ct.take(1 << 20).read_to_string(&mut types);
        }
        return Ok(if types.contains("macroEnabled") { Format::Xlsm } else { Format::Xlsx });
    }
    if has("content.xml") {
        let mut mime = String::new();
        if let Ok(m) = zip.by_name("mimetype") {
            let _ = m.take(256).read_to_string(&mut mime);
        }
        return match mime.trim() {
            "application/vnd.oasis.opendocument.spreadsheet" | "" => Ok(Format::Ods),
            other => Err(not_a_workbook(&format!("it is an OpenDocument {other} file"))),
        };
    }
    Err(not_a_workbook("no workbook part inside"))
}

fn detect_text(head: &[u8]) -> Result<Format, ImportError> {
    let binary = || {
        ImportError::Unsupported(
            "this is a binary file, not a spreadsheet; upload .xlsx, .xlsm, .xlsb, .xls, .ods, .csv or .tsv".into(),
        )
    };
    let encoding = encoding::sniff(head);
    if encoding != encoding_rs::UTF_16LE && encoding != encoding_rs::UTF_16BE && head.contains(&0) {
        return Err(binary());
    }
    let text = encoding::decode_head(head, encoding);
    // Any byte decodes in a legacy encoding, so text is what has few control characters (a PNG
    // without zero bytes in its first 64 KB would otherwise read as windows-1252).
    let odd = text.chars().filter(|&c| (c.is_control() && !matches!(c, '\t' | '\r' | '\n')) || c == '\u{fffd}').count();
    if odd * 100 > text.chars().count().max(1) {
        return Err(binary());
    }
    if text.trim_start_matches('\u{feff}').trim_start().starts_with('<') {
        return Err(ImportError::Unsupported(
            "this looks like an HTML or XML document, not a spreadsheet; export the data as .xlsx or .csv".into(),
        ));
    }
    let first_line = text.lines().next().unwrap_or("");
    let tabs = first_line.matches('\t').count();
    Ok(if tabs > 0 && tabs >= first_line.matches(',').count() { Format::Tsv } else { Format::Csv })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn detect_bytes(bytes: &[u8]) -> Result<Format, ImportError> {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        detect(f.path())
    }

    #[test]
    fn text_formats() {
        assert_eq!(detect_bytes(b"a,b\n1,2\n").ok(), Some(Format::Csv));
        assert_eq!(detect_bytes(b"a\tb\n1\t2\n").ok(), Some(Format::Tsv));
        assert_eq!(detect_bytes("\u{feff}name;city\n".as_bytes()).ok(), Some(Format::Csv));
        // Excel's "Unicode Text" (UTF-16 with a byte-order mark, tab-separated) and windows-1252.
        let unicode_text: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("name\tcity\nZo\u{eb}\tK\u{f6}ln\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(detect_bytes(&unicode_text).ok(), Some(Format::Tsv));
        assert_eq!(detect_bytes(b"caf\xe9,x\n").ok(), Some(Format::Csv));
    }

    #[test]
    fn not_spreadsheets() {
        for bytes in [
            &b""[..],
            b"\x89PNG\r\n\x1a\n\0\0\0",
            b"<html><body>hi</body></html>",
            b"PK\x03\x04garbage",
            b"\x89PNG\r\n\x1a\n\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f",
        ] {
            let err = detect_bytes(bytes).expect_err("must be rejected");
            assert!(matches!(err, ImportError::Unsupported(_)), "{err:?}");
        }
    }
}
