//! The server under a hard memory limit (`prlimit --as`), fed every hostile file the repo knows one
//! after another: each is refused or fails in words within seconds, and the server lives on and
//! imports a valid file at the end. In-process tests cannot show this: there an allocation past a
//! bound would kill the test harness, not a server.

use crate::process::Instance;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use zip::write::SimpleFileOptions;

/// Address space the server may use. Without mimalloc's 1 GiB arena reservations and glibc's
/// 64 MB per-thread arenas (both switched off below) this tracks what it really allocates.
const MEMORY_LIMIT: &str = "1500000000";

/// A minimal workbook: `sheets` names (all on one sheet part), the sheet part, shared strings.
pub(crate) fn xlsx(path: &Path, sheets: usize, sheet_xml: &str, shared: Option<&str>) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut put = |name: &str, text: &str| {
        zip.start_file(name, deflated).expect("part");
        zip.write_all(text.as_bytes()).expect("write part");
    };
    put(
        "[Content_Types].xml",
        r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#,
    );
    let names: String =
        (0..sheets).map(|i| format!(r#"<sheet name="S{i}" sheetId="{}" r:id="rId1"/>"#, i + 1)).collect();
    put("xl/workbook.xml", &format!(r#"<workbook xmlns:r="r"><sheets>{names}</sheets></workbook>"#));
    put(
        "xl/_rels/workbook.xml.rels",
        r#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>"#,
    );
    put("xl/worksheets/sheet1.xml", &format!("<worksheet><sheetData>{sheet_xml}</sheetData></worksheet>"));
    if let Some(sst) = shared {
        put("xl/sharedStrings.xml", sst);
    }
    zip.finish().expect("finish");
}

/// Every hostile file: the committed ones and those cheaper to make here than to store.
fn hostile_files(dir: &Path) -> Vec<PathBuf> {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let mut files: Vec<PathBuf> =
        ["corners.xls", "wide-column.xls", "repeated-cell.ods", "spaces.ods", "repeated-rows.ods", "wide-rows.ods"]
            .iter()
            .map(|n| committed.join(n))
            .collect();
    // 60 MB of shared strings from a 60 KB file (past the 32 MB memory bound given below).
    let big = "x".repeat(1_000_000);
    let sst: String = std::iter::once("<sst>".to_owned())
        .chain((0..60).map(|_| format!("<si><t>{big}</t></si>")))
        .chain(std::iter::once("</sst>".to_owned()))
        .collect();
    let row = r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#;
    files.push(dir.join("shared-strings.xlsx"));
    xlsx(files.last().expect("path"), 1, row, Some(&sst));
    // 8 MiB of `row>` inside one cell: the scanner once took minutes over it.
    let text = "row>".repeat(2 << 20);
    files.push(dir.join("row-text.xlsx"));
    xlsx(
        files.last().expect("path"),
        1,
        &format!(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>{text}</t></is></c></row>"#),
        None,
    );
    // 200,000 sheets: listing them once cost 86 s per preview.
    files.push(dir.join("sheets.xlsx"));
    xlsx(files.last().expect("path"), 200_000, r#"<row r="1"><c r="A1"><v>1</v></c></row>"#, None);
    // A 20 MB header label and a 20 MB field.
    files.push(dir.join("label.csv"));
    std::fs::write(files.last().expect("path"), format!("{},b\n1,2\n", "h".repeat(20 << 20))).expect("write");
    files.push(dir.join("field.csv"));
    std::fs::write(files.last().expect("path"), format!("a,b\n1,\"{}\"\n", "f".repeat(20 << 20))).expect("write");
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_memory_limit_every_hostile_file_fails_in_words_and_the_server_lives_on() {
    let (data, files) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let hostile = hostile_files(files.path());
    let data_dir = data.path().to_str().expect("utf-8");
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={MEMORY_LIMIT}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_sheetport"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir", data_dir])
        .args(["--database", &format!("sqlite://{data_dir}/sheetport.db")])
        .args(["--max-memory-mb", "32", "--max-rows", "100000"])
        .env("MIMALLOC_ARENA_RESERVE", "0")
        .env("MALLOC_ARENA_MAX", "2");
    let mut server = Instance::spawn(command);
    let client = reqwest::Client::new();
    let post = |path: &Path| {
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let bytes = std::fs::read(path).expect("read");
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
        client.post(server.url("/api/imports")).multipart(form).send()
    };
    for path in &hostile {
        let started = Instant::now();
        let resp = post(path).await.expect("the server answers");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("json");
        let error = if status == 202 {
            let id = body["id"].as_str().expect("id");
            let end = crate::process::wait_final(&client, &server, id, Duration::from_secs(120)).await;
            assert_eq!(end["status"], "failed", "{path:?}: {end}");
            end["error"].as_str().expect("error").to_owned()
        } else {
            assert_eq!(status, 422, "{path:?}: {body}");
            body["error"].as_str().expect("error").to_owned()
        };
        assert!(
            !error.is_empty() && !error.contains("server's log") && !error.contains("went wrong"),
            "{path:?} failed, but not in words about the file: {error}"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "{path:?} took {:?}", started.elapsed());
        let health = client.get(server.url("/healthz")).send().await.expect("the server lives");
        assert_eq!(health.status(), 200, "after {path:?}");
    }
    let csv = files.path().join("fine.csv");
    std::fs::write(&csv, "a\n1\n").expect("write");
    let id = crate::process::upload(&client, &server, &csv, "fine").await;
    let end = crate::process::wait_final(&client, &server, &id, Duration::from_secs(60)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    // (The contained reader of corners.xls died of its own limit, as it should; the server did not.)
    assert!(server.child.try_wait().expect("wait").is_none(), "the server exited:\n{}", server.log.lines().join("\n"));
}
