//! Where the parts of an Office Open XML package are, as the Open Packaging Conventions (ECMA-376
//! part 2) say: the package's relationships (`_rels/.rels`) name its main part (the workbook),
//! the workbook's relationships (`<dir>/_rels/<name>.rels`) name its sheets, shared strings and
//! styles, each target relative to the part that names it (`..` and `/`-absolute targets
//! included). Part names compare as case-insensitive ASCII; some Windows tools write them with
//! backslashes (`xl\worksheets\sheet1.xml`), which other readers accept, so this does too.
//! (Found: both were refused as "a zip archive but not a spreadsheet", for every reader assumed
//! `xl/workbook.xml`.)

use super::xml::{attr, decode, next_tag};
use crate::import::ImportError;
use std::collections::HashMap;
use std::io::{Read, Seek};

/// A package's entries by part name, as the conventions compare part names (see [`key`]).
pub struct Parts {
    by_name: HashMap<String, usize>,
}

impl Parts {
    /// Indexes an archive's entries (O(entries)); the first of two names that compare equal wins.
    pub fn new<R: Read + Seek>(zip: &zip::ZipArchive<R>) -> Parts {
        let mut by_name = HashMap::with_capacity(zip.len());
        for i in 0..zip.len() {
            if let Some(Ok(name)) = zip.name_for_index(i) {
                by_name.entry(key(&name)).or_insert(i);
            }
        }
        Parts { by_name }
    }

    /// The archive index of a part, by any spelling of its name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(&key(name)).copied()
    }
}

/// A part name as compared: `\` read as `/`, no leading `/`, `%XX` escapes decoded, ASCII letters
/// in lower case.
pub fn key(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let hex = |j: usize| bytes.get(j).and_then(|&h| (h as char).to_digit(16));
        match b {
            b'\\' => out.push(b'/'),
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                let (hi, lo) = (hex(i + 1).unwrap_or(0), hex(i + 2).unwrap_or(0));
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            _ => out.push(b.to_ascii_lowercase()),
        }
        i += 1;
    }
    let name = String::from_utf8_lossy(&out).into_owned();
    match name.strip_prefix('/') {
        Some(rest) => rest.to_owned(),
        None => name,
    }
}

/// The relationships part of `part` (`xl/workbook.xml` → `xl/_rels/workbook.xml.rels`); of the
/// package itself (`""`), `_rels/.rels`.
pub fn rels_of(part: &str) -> String {
    match part.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/_rels/{name}.rels"),
        None => format!("_rels/{part}.rels"),
    }
}

/// A relationship target resolved against the part that holds the relationship (`source`, a part
/// name without leading `/`; `""` for the package): absolute targets from the package root,
/// relative ones from the source's folder, `.` and `..` segments applied, a fragment dropped.
pub fn resolve(source: &str, target: &str) -> String {
    let target = target.replace('\\', "/");
    let target = target.split(['#', '?']).next().unwrap_or_default();
    let mut segments: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        segments.extend(source.rsplit_once('/').map_or("", |(dir, _)| dir).split('/').filter(|s| !s.is_empty()));
    }
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    segments.join("/")
}

/// One relationship of a part: its id, its type and its target part (resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    pub id: String,
    pub kind: String,
    pub target: String,
}

impl Relationship {
    /// Whether its type ends with `/suffix` (`worksheet`, `sharedStrings`, `styles`, ...).
    pub fn is(&self, suffix: &str) -> bool {
        self.kind.strip_suffix(suffix).is_some_and(|rest| rest.ends_with('/'))
    }
}

/// The internal relationships a relationships part lists, targets resolved against `source`
/// (external ones, such as hyperlinks, point out of the package and are left out).
pub fn relationships(xml: &[u8], source: &str) -> Result<Vec<Relationship>, ImportError> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((tag, next)) = next_tag(xml, at)? {
        at = next;
        if tag.name != b"Relationship" || tag.closing {
            continue;
        }
        if attr(tag.attrs, b"TargetMode").is_some_and(|m| m.eq_ignore_ascii_case(b"External")) {
            continue;
        }
        let get = |k: &[u8]| -> Result<String, ImportError> {
            let mut s = String::new();
            decode(&mut s, attr(tag.attrs, k).unwrap_or_default())?;
            Ok(s)
        };
        let (id, kind, target) = (get(b"Id")?, get(b"Type")?, get(b"Target")?);
        if !target.is_empty() {
            out.push(Relationship { id, kind, target: resolve(source, &target) });
        }
    }
    Ok(out)
}

/// The package's main part (the workbook) as `_rels/.rels` names it (its type ends with
/// `/officeDocument` in the transitional and the strict vocabulary alike): `None` when it names none.
pub fn main_part(package_rels: &[u8]) -> Result<Option<String>, ImportError> {
    Ok(relationships(package_rels, "")?.into_iter().find(|r| r.is("officeDocument")).map(|r| r.target))
}

/// Largest part read whole (relationships, the workbook, the styles); real ones are kilobytes.
pub const MAX_SMALL_PART: u64 = 64 << 20;

/// A small part read whole (at most [`MAX_SMALL_PART`] bytes), by any spelling of its name, or
/// `None` when the package has no such part.
pub fn small_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    parts: &Parts,
    name: &str,
) -> zip::result::ZipResult<Option<Vec<u8>>> {
    let Some(i) = parts.index(name) else { return Ok(None) };
    let mut bytes = Vec::new();
    zip.by_index(i)?.take(MAX_SMALL_PART).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// The workbook part: where `_rels/.rels` says, else at its usual place (`xl/workbook.xml`, or
/// `xl/workbook.bin` for an .xlsb), as long as the package has it; `None` when it has none.
pub fn workbook_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    parts: &Parts,
) -> Result<Option<String>, ImportError> {
    let named = match small_part(zip, parts, "_rels/.rels").map_err(super::xml::broken)? {
        Some(rels) => main_part(&rels)?,
        None => None,
    };
    let candidates = named.into_iter().chain(["xl/workbook.xml".to_owned(), "xl/workbook.bin".to_owned()]);
    Ok(candidates.into_iter().find(|name| parts.index(name).is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_compare_as_the_conventions_say() {
        assert_eq!(key("xl\\worksheets\\Sheet1.XML"), "xl/worksheets/sheet1.xml");
        assert_eq!(key("/xl/workbook.xml"), "xl/workbook.xml");
        assert_eq!(key("xl/worksheets/sheet%201.xml"), key("xl/worksheets/Sheet 1.xml"));
        assert_eq!(key("100%"), "100%");
    }

    #[test]
    fn targets_resolve_against_their_source() {
        assert_eq!(resolve("", "xl/workbook.xml"), "xl/workbook.xml");
        assert_eq!(resolve("", "/xl/workbook.xml"), "xl/workbook.xml");
        assert_eq!(resolve("xl/workbook.xml", "worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(resolve("xl/workbook.xml", "./worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(resolve("xl/workbook.xml", "/xl/worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(resolve("book/main.xml", "../sheets/one.xml"), "sheets/one.xml");
        assert_eq!(resolve("workbook.xml", "sheet.xml"), "sheet.xml");
        assert_eq!(resolve("xl/workbook.xml", "worksheets\\sheet1.xml#x"), "xl/worksheets/sheet1.xml");
        assert_eq!(resolve("a.xml", "../../../b.xml"), "b.xml");
        assert_eq!(rels_of("xl/workbook.xml"), "xl/_rels/workbook.xml.rels");
        assert_eq!(rels_of("workbook.xml"), "_rels/workbook.xml.rels");
        assert_eq!(rels_of(""), "_rels/.rels");
    }

    #[test]
    fn the_main_part_is_the_office_document() {
        let rels = br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId3" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
            <Relationship Id="rId1" Type="http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument" Target="/Book/Main.xml"/>
            <Relationship Id="rId9" Type="http://x/hyperlink" Target="http://example.com/a" TargetMode="External"/></Relationships>"#;
        assert_eq!(main_part(rels).expect("reads"), Some("Book/Main.xml".to_owned()));
        assert_eq!(relationships(rels, "").expect("reads").len(), 2);
        assert_eq!(main_part(b"<Relationships/>").expect("reads"), None);
    }
}
