//! Just enough XML for SpreadsheetML and OpenDocument, over byte slices: find the next tag, read
//! an attribute, decode text (entities, and OOXML's `_xHHHH_` escapes), and feed a stream in
//! chunks that end on a complete element. A general XML parser was the import's largest cost;
//! spreadsheets need no namespaces (only prefixes are dropped), no DTDs and no validation.

use crate::import::ImportError;
use memchr::{memchr, memchr2, memchr3, memmem};
use std::io::Read;

/// A workbook that cannot be read, in words; what was wrong (a zip error, "a tag never ends") goes
/// to the log, where it helps, not to the person, whom it would not.
pub fn broken(why: impl std::fmt::Display) -> ImportError {
    tracing::info!(detail = %why, "a workbook could not be read");
    ImportError::Invalid(
        "the workbook cannot be read, the file may be damaged; open it in a spreadsheet program, save it again and \
         import the new file"
            .into(),
    )
}

/// One tag: `<name attrs>`, `<name attrs/>` or `</name>`, with any `prefix:` dropped from the name.
#[derive(Debug, Clone, Copy)]
pub struct Tag<'a> {
    pub name: &'a [u8],
    pub attrs: &'a [u8],
    pub closing: bool,
    pub empty: bool,
}

/// The next tag at or after `from`, and the position just past its `>`. Comments, processing
/// instructions and declarations are skipped. `None` when no `<` is left; an error when a tag is
/// cut off (callers hand in whole elements, so that means a damaged file).
pub fn next_tag(data: &[u8], from: usize) -> Result<Option<(Tag<'_>, usize)>, ImportError> {
    let mut at = from;
    loop {
        let Some(lt) = memchr(b'<', &data[at..]).map(|i| at + i) else { return Ok(None) };
        let rest = &data[lt + 1..];
        if rest.starts_with(b"!--") {
            let end = memmem::find(rest, b"-->").ok_or_else(|| broken("a comment never ends"))?;
            at = lt + 1 + end + 3;
            continue;
        }
        if rest.starts_with(b"![CDATA[") {
            let end = memmem::find(rest, b"]]>").ok_or_else(|| broken("a CDATA section never ends"))?;
            at = lt + 1 + end + 3;
            continue;
        }
        if rest.starts_with(b"?") || rest.starts_with(b"!") {
            let end = memchr(b'>', rest).ok_or_else(|| broken("a declaration never ends"))?;
            at = lt + 1 + end + 1;
            continue;
        }
        let gt = tag_end(rest).ok_or_else(|| broken("a tag never ends"))?;
        let body = &rest[..gt];
        let (closing, body) = match body.strip_prefix(b"/") {
            Some(b) => (true, b),
            None => (false, body),
        };
        let (empty, body) = match body.strip_suffix(b"/") {
            Some(b) => (true, b),
            None => (false, body),
        };
        let name_len = body.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(body.len());
        let qname = &body[..name_len];
        let name = match memchr(b':', qname) {
            Some(i) => &qname[i + 1..],
            None => qname,
        };
        return Ok(Some((Tag { name, attrs: &body[name_len..], closing, empty }, lt + 1 + gt + 1)));
    }
}

/// Position of the `>` that ends a tag body, skipping quoted attribute values (which may hold `>`).
/// Jumps from quote to quote with memchr: OpenDocument's cells carry 100-byte attribute lists,
/// where a byte-at-a-time loop was a third of the whole import.
fn tag_end(rest: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let i = at + memchr3(b'>', b'"', b'\'', &rest[at..])?;
        match rest[i] {
            b'>' => return Some(i),
            quote => at = i + 1 + memchr(quote, &rest[i + 1..])? + 1,
        }
    }
}

/// Every `name="value"` pair of a tag's attributes, names without their prefix, values raw.
pub fn attrs(attrs: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = attrs;
    std::iter::from_fn(move || {
        let eq = rest.iter().position(|&b| b == b'=')?;
        let key = rest[..eq].trim_ascii();
        let key = key.iter().position(|&b| b == b':').map_or(key, |i| &key[i + 1..]);
        let after = rest[eq + 1..].trim_ascii_start();
        let quote = *after.first()?;
        let end = after[1..].iter().position(|&b| b == quote)?;
        rest = &after[1 + end + 1..];
        Some((key, &after[1..1 + end]))
    })
}

/// The raw (undecoded) value of the attribute whose local name is `name`.
pub fn attr<'a>(list: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    attrs(list).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// An attribute or element holding a small unsigned number (`s="3"`, `r="12"`, `numFmtId="164"`),
/// surrounding blanks allowed; `None` for anything else, including more than nine digits.
#[inline(always)]
pub fn number(v: &[u8]) -> Option<u32> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Appends the text of an element whose content starts at `at` to `out` (OOXML: entities and
/// `_xHHHH_` escapes resolved): its characters and its CDATA sections (`<![CDATA[...]]>`, taken as
/// written, their line ends normalised), up to the next tag. Returns where that tag starts.
/// (Found: a cell written as CDATA, as some generators do, was read as empty, and a row of only
/// such cells vanished.)
pub fn element_text(out: &mut String, xml: &[u8], mut at: usize) -> Result<usize, ImportError> {
    loop {
        let end = at + memchr(b'<', &xml[at..]).ok_or_else(|| broken("a text never ends"))?;
        decode(out, &xml[at..end])?;
        let rest = &xml[end..];
        if !rest.starts_with(b"<![CDATA[") {
            return Ok(end);
        }
        let inner = &rest[9..];
        let close = memmem::find(inner, b"]]>").ok_or_else(|| broken("a CDATA section never ends"))?;
        let text = std::str::from_utf8(&inner[..close]).map_err(|_| broken("text that is not UTF-8"))?;
        push_lines(out, text);
        at = end + 9 + close + 3;
    }
}

/// Appends `text` with its line ends as XML reads them (XML 1.0 §2.11): CR LF and a lone CR are LF.
fn push_lines(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('\n') {
            rest = after;
        }
    }
    out.push_str(rest);
}

/// Appends `raw` text to `out`, resolving XML entities and OOXML `_xHHHH_` escapes.
pub fn decode(out: &mut String, raw: &[u8]) -> Result<(), ImportError> {
    decode_with(out, raw, true)
}

/// Appends `raw` text to `out`, resolving XML entities only (OpenDocument has no `_xHHHH_`).
pub fn decode_xml(out: &mut String, raw: &[u8]) -> Result<(), ImportError> {
    decode_with(out, raw, false)
}

fn decode_with(out: &mut String, raw: &[u8], ooxml: bool) -> Result<(), ImportError> {
    let text = std::str::from_utf8(raw).map_err(|_| broken("text that is not UTF-8"))?;
    // A literal CR is a line end to normalise (XML 1.0 §2.11: CR LF and a lone CR read as LF); one
    // written as `&#13;` or `_x000D_` is a character and stays. (Found: `ABC_x000D_` then CR LF
    // arrived as `ABC\r\r\n` where every spreadsheet program shows `ABC\r\n`.)
    let special: &[char] = if ooxml { &['&', '_', '\r'] } else { &['&', '\r'] };
    let plain = if ooxml { memchr3(b'&', b'_', b'\r', raw).is_none() } else { memchr2(b'&', b'\r', raw).is_none() };
    if plain {
        out.push_str(text);
        return Ok(());
    }
    let mut rest = text;
    while let Some(i) = rest.find(special) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix('\r') {
            out.push('\n');
            rest = after.strip_prefix('\n').unwrap_or(after);
        } else if rest.starts_with('&') {
            let end = rest.find(';').ok_or_else(|| broken("an unfinished character reference"))?;
            let entity = &rest[1..end];
            let ch = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = match entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => entity.strip_prefix('#').and_then(|d| d.parse().ok()),
                    };
                    code.and_then(char::from_u32).ok_or_else(|| broken(format!("an unknown entity &{entity};")))?
                }
            };
            out.push(ch);
            rest = &rest[end + 1..];
        } else {
            // `_x000D_` stands for a character XML cannot hold; `_x005F_` escapes a literal `_`.
            let escaped = rest.as_bytes();
            let code = (escaped.len() >= 7 && escaped[1] == b'x' && escaped[6] == b'_')
                .then(|| u32::from_str_radix(&rest[2..6], 16).ok())
                .flatten();
            match code.and_then(char::from_u32) {
                Some(ch) => {
                    out.push(ch);
                    rest = &rest[7..];
                }
                None => {
                    out.push('_');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

/// Reads a stream in pieces that each end just after a complete `</unit>` element (any prefix), so
/// the parser always sees whole elements; memory stays at a few chunks whatever the part's size.
pub struct Chunks<R> {
    reader: R,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out.
    consumed: usize,
    eof: bool,
    finder: memmem::FinderRev<'static>,
}

/// Bytes read from the stream at a time.
const READ_SIZE: usize = 1 << 20;
/// A single element larger than this is a file built to exhaust memory.
const MAX_ELEMENT: usize = 256 << 20;
/// Longest end tag (with its prefix) that may straddle two reads.
const TAG_MARGIN: usize = 64;

impl<R: Read> Chunks<R> {
    /// Chunks ending on `</unit>`, where `unit` is a local name such as `row` or `si`.
    pub fn new(reader: R, unit: &'static str) -> Self {
        let finder = memmem::FinderRev::new(format!("{unit}>").as_bytes()).into_owned();
        Self { reader, buf: Vec::with_capacity(2 * READ_SIZE), consumed: 0, eof: false, finder }
    }

    /// The next piece: everything up to the last complete unit end, or the whole rest at the end of
    /// the stream. `None` once everything was handed out.
    pub fn next(&mut self) -> Result<Option<&[u8]>, ImportError> {
        self.buf.drain(..self.consumed);
        self.consumed = 0;
        // Where the search for a unit end starts: bytes before it were searched in vain already
        // (less a margin for an end tag cut in two), so a huge element is not rescanned per fill.
        let mut from = 0;
        loop {
            if let Some(end) = self.last_unit_end(from) {
                self.consumed = end;
                return Ok(Some(&self.buf[..end]));
            }
            if self.eof {
                self.consumed = self.buf.len();
                return Ok((!self.buf.is_empty()).then_some(&self.buf[..]));
            }
            if self.buf.len() > MAX_ELEMENT {
                return Err(broken("one row is larger than 256 MB"));
            }
            from = self.buf.len().saturating_sub(TAG_MARGIN);
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), ImportError> {
        let len = self.buf.len();
        self.buf.resize(len + READ_SIZE, 0);
        let mut filled = len;
        while filled < self.buf.len() {
            match self.reader.read(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(filled);
                    // A part stopped for inflating too far says so; anything else is damage.
                    return Err(crate::import::inflation::of_io(&e).unwrap_or_else(|| broken(e)));
                }
            }
        }
        self.buf.truncate(filled);
        Ok(())
    }

    /// End (exclusive) of the last `</unit>` or `</prefix:unit>` in the buffer whose name starts at
    /// or after `from`, if any. Text and attribute values cannot hold a raw `<`, so a `</` always
    /// starts a real tag.
    ///
    /// O(bytes) whatever the text holds: a tag opened at some `<` ends at its first `>`, so of all
    /// the hits after that `<` only the one ending there can be a unit end, and the next search
    /// starts before that `<`. (Judging each hit on its own rescanned back to the same `<` for each
    /// one: cells full of `row>`, 8 MiB of XML, took over 125 CPU-seconds.)
    fn last_unit_end(&self, from: usize) -> Option<usize> {
        let mut hay = &self.buf[..];
        let needle_len = self.finder.needle().len();
        while let Some(i) = self.finder.rfind(&hay[from.min(hay.len())..]).map(|i| i + from) {
            // A unit end's name starts at or after `from`, so its `</` is no earlier than `from - 2`:
            // looking further back would rescan a huge element at every fill.
            let floor = from.saturating_sub(2).min(i);
            let lt = floor + memchr::memrchr(b'<', &hay[floor..i])?;
            // The hit's own `>` is at i + needle_len - 1, so there is a first one.
            let gt = lt + 1 + memchr(b'>', &hay[lt + 1..i + needle_len])?;
            let start = (gt + 1).checked_sub(needle_len).filter(|j| *j > lt && *j >= from);
            if let Some(j) = start
                && &hay[j..=gt] == self.finder.needle()
            {
                let between = &hay[lt + 1..j];
                if between.first() == Some(&b'/') && !between[1..].iter().any(u8::is_ascii_whitespace) {
                    let prefix = &between[1..];
                    if prefix.is_empty() || prefix.last() == Some(&b':') {
                        return Some(gt + 1);
                    }
                }
            }
            hay = &hay[..lt];
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(raw: &str) -> String {
        let mut s = String::new();
        decode(&mut s, raw.as_bytes()).expect("decodes");
        s
    }

    #[test]
    fn text_escapes_are_resolved() {
        assert_eq!(decoded("plain"), "plain");
        assert_eq!(decoded("R&amp;D &lt;b&gt; &quot;x&quot; &apos;y&apos;"), "R&D <b> \"x\" 'y'");
        assert_eq!(decoded("&#233;t&#xE9;"), "été");
        assert_eq!(decoded("line_x000D_break and snake_case_x005F_x"), "line\rbreak and snake_case_x");
        assert!(decode(&mut String::new(), b"&bogus;").is_err());
    }

    #[test]
    fn line_ends_read_as_xml_reads_them_and_escaped_ones_stay() {
        assert_eq!(decoded("a\r\nb\rc\nd"), "a\nb\nc\nd");
        assert_eq!(decoded("ABC_x000D_\r\nDEF"), "ABC\r\nDEF");
        assert_eq!(decoded("x&#13;\r\ny"), "x\r\ny");
        let mut ods = String::new();
        decode_xml(&mut ods, b"one\r\ntwo\rthree").expect("decodes");
        assert_eq!(ods, "one\ntwo\nthree");
    }

    #[test]
    fn cdata_sections_are_text() {
        let xml = b"<t>a &amp; <![CDATA[<b> & \r\n]]]]><![CDATA[>]]>z</t>";
        let mut out = String::new();
        let end = element_text(&mut out, xml, 3).expect("text");
        assert_eq!(out, "a & <b> & \n]]>z");
        assert_eq!(&xml[end..], b"</t>");
        let (tag, _) = next_tag(b"<![CDATA[ > ]]><c r=\"A1\">", 0).expect("tag").expect("a tag");
        assert_eq!(tag.name, b"c", "a CDATA section holding > is skipped whole");
        assert!(element_text(&mut String::new(), b"<![CDATA[never", 0).is_err());
    }

    #[test]
    fn tags_and_attributes() {
        let xml = br#"<?xml version="1.0"?><!-- c --><x:c r="B7" t='s' s="3"><v>12</v></x:c><row/>"#;
        let (tag, at) = next_tag(xml, 0).expect("ok").expect("tag");
        assert_eq!(tag.name, b"c");
        assert!(!tag.closing && !tag.empty);
        assert_eq!(attr(tag.attrs, b"r"), Some(&b"B7"[..]));
        assert_eq!(attr(tag.attrs, b"t"), Some(&b"s"[..]));
        assert_eq!(attr(tag.attrs, b"x"), None);
        let (v, at) = next_tag(xml, at).expect("ok").expect("tag");
        assert_eq!((v.name, &xml[at..at + 2]), (&b"v"[..], &b"12"[..]));
        let (_, at) = next_tag(xml, at).expect("ok").expect("tag");
        let (end_c, at) = next_tag(xml, at).expect("ok").expect("tag");
        assert!(end_c.closing && end_c.name == b"c");
        let (row, _) = next_tag(xml, at).expect("ok").expect("tag");
        assert!(row.empty && row.name == b"row");
        assert_eq!(attr(br#" a="x>y" b="2""#, b"b"), Some(&b"2"[..]));
        // Quoted values may hold `>` and the other quote; the tag ends at the first bare `>`.
        let quoted = br#"<c a="x>'y" b='1>"2'/><d>"#;
        let (c, at) = next_tag(quoted, 0).expect("ok").expect("tag");
        assert!(c.empty && c.name == b"c");
        assert_eq!(attr(c.attrs, b"b"), Some(&br#"1>"2"#[..]));
        assert_eq!(next_tag(quoted, at).expect("ok").expect("tag").0.name, b"d");
        assert!(next_tag(br#"<c a="never closed>"#, 0).is_err());
    }

    #[test]
    fn chunks_end_on_whole_units() {
        let xml = b"<sheetData><row r=\"1\"><c><v>1</v></c></row><x:row r=\"2\"></x:row><row r=\"3\"><c>";
        let mut chunks = Chunks::new(&xml[..], "row");
        let first = chunks.next().expect("ok").expect("chunk").to_vec();
        assert!(first.ends_with(b"</x:row>"), "{}", String::from_utf8_lossy(&first));
        let rest = chunks.next().expect("ok").expect("rest").to_vec();
        assert_eq!(rest, b"<row r=\"3\"><c>");
        assert!(chunks.next().expect("ok").is_none());
    }

    #[test]
    fn a_unit_end_across_reads_and_a_row_larger_than_a_read_are_found() {
        // `</x:row>` straddles the first 1 MB read; the second row spans three reads.
        let mut xml = b"<x:row><c><v>".to_vec();
        xml.resize(READ_SIZE - 12, b'a');
        xml.extend_from_slice(b"</v></c></x:row><x:row><c><v>");
        xml.resize(xml.len() + 3 * READ_SIZE, b'b');
        xml.extend_from_slice(b"</v></c></x:row>");
        let mut chunks = Chunks::new(&xml[..], "row");
        let first = chunks.next().expect("ok").expect("chunk").len();
        assert_eq!(&xml[first - 8..first], b"</x:row>");
        let second = chunks.next().expect("ok").expect("chunk").len();
        assert_eq!(first + second, xml.len());
        assert!(chunks.next().expect("ok").is_none());
    }

    #[test]
    fn text_full_of_unit_ends_is_chunked_in_linear_time() {
        // 8 MiB of `row>` in cells: once over 125 CPU-seconds, as
        // every hit rescanned back to its cell's start. Linear, it takes milliseconds; the bound
        // here only tells linear from quadratic.
        let mut xml = Vec::new();
        for _ in 0..4 {
            xml.extend_from_slice(b"<row><c t=\"inlineStr\"><is><t>");
            for _ in 0..(1 << 19) {
                xml.extend_from_slice(b"row>");
            }
            xml.extend_from_slice(b"</t></is></c></row>");
        }
        let started = std::time::Instant::now();
        let mut chunks = Chunks::new(&xml[..], "row");
        let mut total = 0;
        while let Some(chunk) = chunks.next().expect("ok") {
            assert!(chunk.ends_with(b"</row>"));
            total += chunk.len();
        }
        assert_eq!(total, xml.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}
