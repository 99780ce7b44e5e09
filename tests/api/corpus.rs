//! The corpus (tests/fixtures/corpus, see its collect.py): workbooks no one here wrote, taken from
//! registry packages (R's readxl examples, written by Excel; xlsx2csv's test files, from Excel,
//! LibreOffice and generators), each imported through the server with no header row and compared
//! cell by cell with what another reader, python-calamine, reads in it (expected.json). The
//! differences known and argued are listed in known.txt; one not listed fails the test, and so does
//! one listed that no longer happens (then the list is out of date).

use crate::helpers::spawn_app;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

/// The rows without the rows of only empty cells, and without the leading columns empty in every
/// row (where each reader starts a sheet differs: at A1, or at its first value).
fn normalised(rows: &[Value]) -> Vec<Vec<Value>> {
    let rows: Vec<Vec<Value>> = rows
        .iter()
        .map(|r| r.as_array().cloned().unwrap_or_default())
        .filter(|r| r.iter().any(|v| !v.is_null()))
        .collect();
    let lead = rows.iter().map(|r| r.iter().take_while(|v| v.is_null()).count()).min().unwrap_or(0);
    rows.into_iter()
        .map(|r| {
            let mut r: Vec<Value> = r.into_iter().skip(lead).collect();
            while r.last().is_some_and(Value::is_null) {
                r.pop();
            }
            r
        })
        .collect()
}

/// A cell as both readers' values compare: numbers (or the text of one, in a text column) as
/// numbers, booleans (or their text), anything else as its text, a time's trailing zero digits of
/// a second dropped (`23:59:59.500` is `23:59:59.5`, as PostgreSQL writes it).
fn same(ours: &Value, theirs: &Value) -> bool {
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok()));
    let text = |v: &Value| -> Option<String> {
        let s = match v {
            Value::Bool(b) => b.to_string(),
            Value::String(s) => s.clone(),
            _ => return None,
        };
        let time_fraction = s.len() > 9 && s.contains(':') && s.contains('.') && s.ends_with('0');
        Some(if time_fraction { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s })
    };
    match (ours, theirs) {
        (Value::Null, Value::Null) => true,
        (Value::Number(_), _) | (_, Value::Number(_)) => match (number(ours), number(theirs)) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            _ => false,
        },
        _ => text(ours).is_some() && text(ours) == text(theirs),
    }
}

#[tokio::test]
async fn workbooks_of_other_writers_arrive_as_another_reader_reads_them() {
    let app = spawn_app().await;
    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("expected.json")).expect("expected.json"))
            .expect("expected.json is JSON");
    let known: BTreeSet<(String, String)> = std::fs::read_to_string(corpus().join("known.txt"))
        .expect("known.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut fields = l.split('\t');
            (fields.next().unwrap_or_default().to_owned(), fields.next().unwrap_or_default().to_owned())
        })
        .collect();
    let mut found = BTreeSet::new();
    let mut shown = Vec::new();
    for (i, (file, want)) in expected.iter().enumerate() {
        let table = format!("corpus_{i}");
        let name = Path::new(file).file_name().and_then(|n| n.to_str()).unwrap_or("corpus.xlsx");
        let id = app.start_import(&corpus().join(file), name, &[("table", &table), ("header_row", "none")]).await;
        let end = app.wait_final(&id).await;
        if end["status"] != "succeeded" {
            found.insert((file.clone(), "*".to_owned()));
            shown.push(format!("{file}\t*\tnot imported: {}", end["error"]));
            continue;
        }
        let (_, got) = app.all_rows(&table).await;
        let (ours, theirs) = (normalised(&got), normalised(want.as_array().expect("rows")));
        for r in 0..ours.len().max(theirs.len()) {
            let (a, b) = (ours.get(r).cloned().unwrap_or_default(), theirs.get(r).cloned().unwrap_or_default());
            for c in 0..a.len().max(b.len()) {
                let (x, y) = (a.get(c).unwrap_or(&Value::Null), b.get(c).unwrap_or(&Value::Null));
                if !same(x, y) {
                    let cell = format!("R{}C{}", r + 1, c + 1);
                    shown.push(format!("{file}\t{cell}\tours {x}, theirs {y}"));
                    found.insert((file.clone(), cell));
                }
            }
        }
    }
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "differences not in known.txt: {new:?}\nlisted but gone: {gone:?}\nall differences:\n{}",
        shown.join("\n")
    );
    assert!(expected.len() >= 30, "the corpus is its 32 files");
}
