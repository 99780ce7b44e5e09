//! Mutation fuzzing of every format sheetport reads, on stable Rust (no nightly, no libFuzzer):
//! small valid files of each format (the benchmark's dataset, and the committed .xls) are mutated
//! (bytes flipped, cut, repeated; tokens that once cost memory or time spliced in; for zip formats
//! the inflated XML mutated and zipped again, so the parsers see it rather than a checksum error)
//! and each result is previewed and imported into a scratch SQLite file, in-process, or through a
//! real `sheetport serve` with `--server`.
//!
//! A case fails when it panics, takes longer than [`CASE_LIMIT`], leaves a staging table behind,
//! answers a 5xx or the generic "went wrong" sentence, or kills the process (memory is bounded: a
//! worker process runs the cases under `RLIMIT_AS`, and its supervisor keeps the case it died on).
//! Failing cases are written to `--out` (default `target/fuzz`); move them to `tests/fixtures/fuzz/`,
//! where `--replay` (which CI runs) keeps them fixed.
//!
//! ```text
//! cargo run --release --features ssr --example fuzz -- --seconds 3600            # a long run
//! cargo run --release --features ssr --example fuzz -- --server --seconds 600    # through the server
//! cargo run --features ssr --example fuzz -- --replay tests/fixtures/fuzz        # the kept crashers
//! ```

#[path = "../bench/dataset.rs"]
mod dataset;

use sheetport::import::header::Layout;
use sheetport::import::limits::Limits;
use sheetport::import::sink::Destination;
use sheetport::import::{self, ImportError, ImportSpec, detect};
use sheetport::model::{ImportMode, Progress};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Longest one case may take (preview and import of a file of a few KB, debug build).
const CASE_LIMIT: Duration = Duration::from_secs(20);
/// Address space of a worker: far above what a few-KB file may legitimately need.
const WORKER_MEMORY: u64 = 2 << 30;

/// Tokens spliced into files: what once cost memory or time, and what parsers trip on.
const TOKENS: &[&[u8]] = &[
    b"<row r=\"",
    b"<row>",
    b"</row>",
    b"<c r=\"XFD1048576\"",
    b"<c r=\"A1\">",
    b"</c>",
    b" t=\"s\"",
    b" t=\"d\"",
    b" t=\"inlineStr\"",
    b"<v>",
    b"</v>",
    b"<is><t>",
    b"<si><t>",
    b"row>",
    b"<dimension ref=\"C1:D3\"/>",
    b" table:number-columns-repeated=\"16384\"",
    b" table:number-rows-repeated=\"1048576\"",
    b"<text:s text:c=\"100000\"/>",
    b"<table:table-row>",
    b"<table:table-cell office:value-type=\"float\" office:value=\"1e308\">",
    b"&amp;",
    b"&#0;",
    b"&#xFFFF;",
    b"<![CDATA[",
    b"]]>",
    b"\"",
    b",",
    b";",
    b"\t",
    b"\r\n",
    b"\n",
    b"\0",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC3",
    b"2024-01-31T12:3Z",
    b"-1e15",
    b"45292.75",
    b"9999999999999999999999",
];

/// Bytes set in place of others: what delimits, quotes, escapes or ends things.
const BYTES: &[u8] = b"\0\xFF<>\"&0919 ,;\t\n\r";

/// xorshift64*: enough randomness for mutations, reproducible from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to eight stacked byte-level mutations.
fn mutate_bytes(data: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        let last = data.len().saturating_sub(1);
        match rng.below(7) {
            0 if !data.is_empty() => data[at.min(last)] ^= 1 << rng.below(8),
            1 if !data.is_empty() => data[at.min(last)] = BYTES[rng.below(BYTES.len())],
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 if at < data.len() => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            4 if at < data.len() => {
                // A piece repeated: what amplifies (a row, a cell, a tag) in a few bytes.
                let end = (at + 1 + rng.below(128)).min(data.len());
                let piece = data[at..end].to_vec();
                let times = 1 + rng.below(200);
                let insert_at = rng.below(data.len() + 1);
                data.splice(insert_at..insert_at, piece.iter().copied().cycle().take(piece.len() * times));
            }
            5 => {
                let bytes: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            _ => data.truncate(at),
        }
    }
}

/// A zip file with one part's inflated bytes mutated (the rest copied as they are).
fn mutate_zip(data: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data)).ok()?;
    let target = rng.below(archive.len());
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).ok()?;
        let name = part.name().ok()?.into_owned();
        let mut bytes = Vec::new();
        part.read_to_end(&mut bytes).ok()?;
        if i == target {
            mutate_bytes(&mut bytes, rng);
        }
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        out.start_file(name, options).ok()?;
        out.write_all(&bytes).ok()?;
    }
    Some(out.finish().ok()?.into_inner())
}

/// The seed files: a few rows of the benchmark's dataset in every format, and the committed .xls.
fn seeds(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let rows = 12;
    let mut made = Vec::new();
    let mut add = |name: &str, write: &dyn Fn(&Path) -> Result| -> Result {
        let path = dir.join(name);
        write(&path)?;
        made.push((name.to_owned(), std::fs::read(&path)?));
        Ok(())
    };
    add("seed.csv", &|p| Ok(dataset::write_csv(p, rows)?))?;
    add("shared.xlsx", &|p| Ok(dataset::write_xlsx(p, rows, dataset::Strings::Shared)?))?;
    add("inline.xlsx", &|p| Ok(dataset::write_xlsx(p, rows, dataset::Strings::Inline)?))?;
    add("seed.ods", &|p| Ok(dataset::write_ods(p, rows)?))?;
    add("seed.xlsb", &|p| Ok(dataset::write_xlsb(p, rows)?))?;
    let xls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/orders-500.xls");
    made.push(("seed.xls".to_owned(), std::fs::read(xls)?));
    Ok(made)
}

/// How a case went wrong, in a line for the report.
type Failure = String;

/// Previews and imports `path` in this process.
fn run_in_process(path: &Path, scratch: &Path) -> std::result::Result<(), Failure> {
    let limits = Limits { max_rows: 200_000, max_cell_bytes: 1 << 20, max_memory_mb: 256, ..Limits::default() };
    let outcome = std::panic::catch_unwind(|| -> std::result::Result<(), Failure> {
        let Ok(format) = detect::detect(path) else { return Ok(()) };
        let _ = import::inspect(path, format, None, None, Layout::default(), 8, &limits).map_err(words)?;
        let db = scratch.join("fuzz.db");
        let _ = std::fs::remove_file(&db);
        let spec = ImportSpec {
            path: path.to_owned(),
            format,
            sheet: None,
            encoding: None,
            layout: Layout::default(),
            dest: Destination::Sqlite(db.clone()),
            table: "fuzzed".into(),
            mode: ImportMode::Replace,
            mapping: Default::default(),
            errors: None,
            limits,
            staging: "_sheetport_staging_fuzz".into(),
            keep: None,
            writer: None,
            review: None,
            live_progress: true,
        };
        let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
        let cancel = tokio_util::sync::CancellationToken::new();
        let result = import::run(&spec, &tx, &cancel, &|_, _| None);
        if result.is_err() {
            let conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
            let left: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_schema WHERE name LIKE '_sheetport_staging%'", [], |r| r.get(0))
                .map_err(|e| e.to_string())?;
            if left > 0 {
                return Err("a failed import left its staging table".into());
            }
        }
        result.map(drop).map_err(words)
    });
    match outcome {
        Ok(r) => r,
        Err(panic) => Err(format!("panicked: {}", import::panic_message(panic.as_ref()))),
    }
}

/// Errors about the file are the expected outcome; only the internal ones are failures.
fn words(e: ImportError) -> Failure {
    match e {
        ImportError::Internal(m) | ImportError::Database(m) => format!("an internal error: {m}"),
        _ => String::new(),
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fuzz: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    seconds: u64,
    seed: u64,
    out: PathBuf,
    server: bool,
    worker: bool,
    replay: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut a =
        Args { seconds: 60, seed: 0, out: PathBuf::from("target/fuzz"), server: false, worker: false, replay: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => a.seconds = value()?.parse()?,
            "--seed" => a.seed = value()?.parse()?,
            "--out" => a.out = value()?.into(),
            "--replay" => a.replay = Some(value()?.into()),
            "--server" => a.server = true,
            "--worker" => a.worker = true,
            _ => return Err(format!("unknown flag {flag}; see the comment at the top of fuzz/main.rs").into()),
        }
    }
    if a.seed == 0 {
        a.seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as u64 | 1;
    }
    Ok(a)
}

/// The `sheetport` binary beside this example (`target/<profile>/examples/fuzz` → `target/<profile>/sheetport`).
fn sheetport_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.parent().and_then(Path::parent).ok_or("no target folder")?.join("sheetport");
    if !bin.exists() {
        return Err(format!("{} is missing; build it first (cargo build --features ssr)", bin.display()).into());
    }
    Ok(bin)
}

fn real_main() -> Result<ExitCode> {
    let a = args()?;
    std::fs::create_dir_all(&a.out)?;
    import::source::contained::set_reader_program(sheetport_binary()?);
    if let Some(dir) = &a.replay {
        return replay(dir, &a.out);
    }
    if a.worker {
        return worker(&a);
    }
    supervise(&a)
}

/// Runs every file in `dir` once; any failure fails the run.
fn replay(dir: &Path, out: &Path) -> Result<ExitCode> {
    let mut failed = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    files.retain(|p| p.is_file() && p.extension().is_some_and(|e| e != "md"));
    for path in &files {
        let started = Instant::now();
        let why = match run_in_process(path, out) {
            Err(why) if !why.is_empty() => why,
            _ if started.elapsed() > CASE_LIMIT => format!("took {:?}", started.elapsed()),
            _ => String::new(),
        };
        if !why.is_empty() {
            eprintln!("fuzz: {} still fails: {why}", path.display());
            failed += 1;
        }
    }
    eprintln!("fuzz: replayed {} kept cases, {failed} failing", files.len());
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Restarts workers (each under a memory limit) until the time is up, keeping the case a dead
/// worker was on.
fn supervise(a: &Args) -> Result<ExitCode> {
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let (mut seed, mut deaths) = (a.seed, 0);
    let mut found: Vec<PathBuf> = Vec::new();
    eprintln!("fuzz: {} s from seed {seed}, {}", a.seconds, if a.server { "through the server" } else { "in-process" });
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now()).as_secs().max(1);
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["--worker", "--seconds", &left.to_string(), "--seed", &seed.to_string()]).arg("--out").arg(&a.out);
        if a.server {
            cmd.arg("--server");
        }
        let status = cmd.env("MALLOC_ARENA_MAX", "2").status()?;
        let current = std::fs::read_dir(&a.out)?
            .filter_map(|e| Some(e.ok()?.path()))
            .find(|p| p.file_stem().is_some_and(|s| s == "current"));
        match (status.success(), current) {
            (true, _) => break,
            (false, Some(case)) => {
                deaths += 1;
                let kept =
                    a.out.join(format!("died-{seed}.{}", case.extension().and_then(|e| e.to_str()).unwrap_or("bin")));
                std::fs::rename(&case, &kept)?;
                eprintln!("fuzz: the worker died ({status}) on a case, kept as {}", kept.display());
                found.push(kept);
            }
            (false, None) => return Err(format!("the worker failed before its first case ({status})").into()),
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1) | 1;
    }
    found.extend(
        std::fs::read_dir(&a.out)?
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("failed-"))),
    );
    if found.is_empty() {
        eprintln!("fuzz: no failing case");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("fuzz: {} failing cases ({deaths} killed the worker): {found:?}", found.len());
        Ok(ExitCode::FAILURE)
    }
}

/// Runs cases until the time is up; exits non-zero only by dying (the supervisor then keeps
/// `current.*`); failures it can report are written as `failed-*` files.
fn worker(a: &Args) -> Result<ExitCode> {
    rustix::process::setrlimit(
        rustix::process::Resource::As,
        rustix::process::Rlimit { current: Some(WORKER_MEMORY), maximum: Some(WORKER_MEMORY) },
    )?;
    let scratch = tempfile::tempdir()?;
    let seeds = seeds(scratch.path())?;
    let mut server = if a.server { Some(server::Server::start(scratch.path())?) } else { None };
    let mut rng = Rng(a.seed);
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let (mut cases, mut failures) = (0u64, 0u64);
    while Instant::now() < deadline {
        let (name, seed) = &seeds[rng.below(seeds.len())];
        let ext = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("bin").to_owned();
        let mut data = seed.clone();
        if matches!(ext.as_str(), "xlsx" | "ods" | "xlsb") && rng.below(3) > 0 {
            data = mutate_zip(&data, &mut rng).unwrap_or(data);
        } else {
            mutate_bytes(&mut data, &mut rng);
        }
        // Written before the case runs: if it kills this process, the supervisor keeps it.
        let current = a.out.join(format!("current.{ext}"));
        std::fs::write(&current, &data)?;
        let started = Instant::now();
        let result = match &mut server {
            Some(s) => s.run(&current),
            None => run_in_process(&current, scratch.path()),
        };
        let failure = match result {
            Err(why) if !why.is_empty() => Some(why),
            _ if started.elapsed() > CASE_LIMIT => Some(format!("took {:?}", started.elapsed())),
            _ => None,
        };
        if let Some(why) = failure {
            failures += 1;
            let kept = a.out.join(format!("failed-{}-{cases}.{ext}", a.seed));
            std::fs::rename(&current, &kept)?;
            eprintln!("fuzz: {} {why}", kept.display());
        }
        cases += 1;
    }
    let _ = std::fs::remove_file(a.out.join("current.csv"));
    for ext in ["xlsx", "ods", "xlsb", "xls", "csv"] {
        let _ = std::fs::remove_file(a.out.join(format!("current.{ext}")));
    }
    eprintln!("fuzz: {cases} cases, {failures} failing");
    Ok(ExitCode::SUCCESS)
}

mod server;
