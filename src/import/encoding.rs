//! The text encoding of a CSV or TSV file. A byte-order mark decides when there is one (Excel's
//! "Unicode Text" is UTF-16 with one); then UTF-16 without a mark by its zero bytes; then UTF-8 when
//! the sample is valid UTF-8; otherwise `chardetng` (Firefox's detector) guesses from the sample
//! (Excel's "CSV (Comma delimited)" on Windows is windows-1252). The person can override the guess
//! with any WHATWG encoding label; the preview shows the encoding used.

use super::ImportError;
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// How much of a file the guess looks at: enough for chardetng to see the accented letters of a
/// mostly-ASCII sheet, and read in about a millisecond.
const SAMPLE_BYTES: u64 = 1 << 20;

/// The encoding named by `label` (any WHATWG label: "latin1", "cp1252", "utf-16le", "sjis", ...),
/// or a sentence saying it is not one.
pub fn named(label: &str) -> Result<&'static Encoding, ImportError> {
    match Encoding::for_label_no_replacement(label.trim().as_bytes()) {
        Some(e) => Ok(e),
        None => Err(ImportError::Invalid(format!(
            "{} is not a text encoding sheetport knows; use a name such as UTF-8, UTF-16LE, windows-1252 or \
             Shift_JIS",
            crate::format::quoted(label)
        ))),
    }
}

/// The encoding to read `path` in: the one its byte-order mark names (a mark is never wrong, and
/// the decoder follows it too), else `chosen` when the person chose one, else the guess.
pub fn of_file(path: &Path, chosen: Option<&'static Encoding>) -> std::io::Result<&'static Encoding> {
    let sample = if chosen.is_some() { 4 } else { SAMPLE_BYTES };
    let mut head = Vec::with_capacity(64 * 1024);
    File::open(path)?.take(sample).read_to_end(&mut head)?;
    Ok(match (Encoding::for_bom(&head), chosen) {
        (Some((bom, _)), _) => bom,
        (None, Some(chosen)) => chosen,
        (None, None) => sniff(&head),
    })
}

/// The encoding the start of a text file is in (see the module's note for the order of the tests).
pub fn sniff(head: &[u8]) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return encoding;
    }
    if let Some(encoding) = utf16_by_zeros(head) {
        return encoding;
    }
    match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        // Valid but for a character cut by the end of the sample.
        Err(e) if e.error_len().is_none() => UTF_8,
        Err(_) => {
            let mut detector = chardetng::EncodingDetector::new();
            detector.feed(head, true);
            detector.guess(None, false)
        }
    }
}

/// UTF-16 without a byte-order mark: text whose characters are mostly ASCII has a zero byte in
/// every other position, on the high side of each unit (odd positions for little-endian).
fn utf16_by_zeros(head: &[u8]) -> Option<&'static Encoding> {
    let pairs = &head[..head.len().min(4096) & !1];
    if pairs.len() < 4 {
        return None;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for unit in pairs.chunks_exact(2) {
        even += usize::from(unit[0] == 0);
        odd += usize::from(unit[1] == 0);
    }
    let units = pairs.len() / 2;
    if odd * 10 >= units * 4 && even * 10 <= odd {
        Some(UTF_16LE)
    } else if even * 10 >= units * 4 && odd * 10 <= even {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The start of a file as text in `encoding` (byte-order mark removed, a character cut at the end
/// replaced), for the checks that tell a delimited file from other documents.
pub fn decode_head<'a>(head: &'a [u8], encoding: &'static Encoding) -> Cow<'a, str> {
    encoding.decode_with_bom_removal(head).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    #[test]
    fn the_encoding_is_told_by_its_bytes() {
        assert_eq!(sniff(b"name,city\nAnna,Graz\n"), UTF_8);
        assert_eq!(sniff("name,city\nZoë,Köln\n".as_bytes()), UTF_8);
        assert_eq!(sniff(b"\xEF\xBB\xBFname\n"), UTF_8);
        assert_eq!(sniff(&utf16le("name\tcity\nZoë\tKöln\n", true)), UTF_16LE);
        assert_eq!(sniff(&utf16le("name\tcity\nZoë\tKöln\n", false)), UTF_16LE);
        let be: Vec<u8> = "name,city\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(sniff(&be), UTF_16BE);
        // Excel's "CSV (Comma delimited)" on a German Windows: windows-1252.
        let cp1252 =
            b"Name;Stadt;Stra\xDFe\nJ\xFCrgen;K\xF6ln;Hauptstra\xDFe 1\nRen\xE9e;M\xFCnchen;\xC4u\xDFere Weg\n";
        assert_eq!(sniff(cp1252), encoding_rs::WINDOWS_1252);
    }

    #[test]
    fn labels_name_encodings_or_say_they_do_not() {
        assert_eq!(named("latin1").ok(), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(named(" utf-16le ").ok(), Some(UTF_16LE));
        let err = named("klingon").expect_err("not an encoding");
        assert!(err.to_string().contains("not a text encoding"), "{err}");
        assert!(named("replacement").is_err(), "the replacement encoding would turn every file into one character");
    }
}
