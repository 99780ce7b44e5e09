//! `sheetport profile FILE`: where an import's time goes, stage by stage, on this machine. The
//! benchmark harness runs it to write BENCHMARKS.md's breakdown and to price live progress:
//!
//! 1. inflate: every part of the archive decompressed to nowhere by the zip reader we use
//!    (the file read whole for CSV/TSV), one thread;
//! 2. parse: the format's reader producing values for a visitor that drops them, one thread;
//! 3. import: the real two-thread pipeline into a fresh SQLite file, with the parser's and the
//!    writer's CPU time and the final swap's wall time, alternately with live progress on and off.

use super::ImportError;
use super::detect::Format;
use super::limits::Limits;
use super::pipeline::{self, ImportSpec, Timings};
use super::source::{self, Flow, RowVisitor};
use super::value::Value;
use crate::model::{ImportMode, Progress};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The measured stages of one file (seconds; import times are medians of the runs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Profile {
    pub rows: u64,
    pub inflate_s: f64,
    pub parse_s: f64,
    pub import_s: f64,
    pub import_no_progress_s: f64,
    pub parse_cpu_s: f64,
    pub write_cpu_s: f64,
    pub finalize_s: f64,
    /// The parser waiting for the writer, and the writer waiting for the parser (wall time).
    pub parse_blocked_s: f64,
    pub write_starved_s: f64,
    pub runs: usize,
}

/// Measures `path` (the first sheet) with `runs` imports each way into a scratch database in `scratch`.
pub fn profile(path: &Path, format: Format, scratch: &Path, runs: usize) -> Result<Profile, ImportError> {
    let inflate = time(|| inflate(path, format))?.0;
    let (parse, rows) = time(|| parse(path, format))?;
    let mut on = Vec::new();
    let mut off = Vec::new();
    let mut timings = Vec::new();
    for _ in 0..runs.max(1) {
        // Alternating the two kinds spreads any drift of the machine over both.
        let (wall, t) = import_once(path, format, scratch, true)?;
        on.push(wall);
        timings.push(t);
        off.push(import_once(path, format, scratch, false)?.0);
    }
    let median_of = |f: fn(&Timings) -> Duration| median(timings.iter().map(f).collect());
    Ok(Profile {
        rows,
        inflate_s: inflate.as_secs_f64(),
        parse_s: parse.as_secs_f64(),
        import_s: median(on).as_secs_f64(),
        import_no_progress_s: median(off).as_secs_f64(),
        parse_cpu_s: median_of(|t| t.parse_cpu).as_secs_f64(),
        write_cpu_s: median_of(|t| t.write_cpu).as_secs_f64(),
        finalize_s: median_of(|t| t.finalize).as_secs_f64(),
        parse_blocked_s: median_of(|t| t.parse_blocked).as_secs_f64(),
        write_starved_s: median_of(|t| t.write_starved).as_secs_f64(),
        runs: runs.max(1),
    })
}

fn time<T>(f: impl FnOnce() -> Result<T, ImportError>) -> Result<(Duration, T), ImportError> {
    let start = Instant::now();
    let out = f()?;
    Ok((start.elapsed(), out))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

/// Decompresses every part of a zip-based workbook (reads the whole file otherwise).
fn inflate(path: &Path, format: Format) -> Result<(), ImportError> {
    let file = BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    if matches!(format, Format::Csv | Format::Tsv | Format::Xls) {
        std::io::copy(&mut { file }, &mut std::io::sink())?;
        return Ok(());
    }
    let mut zip = zip::ZipArchive::new(file).map_err(|e| ImportError::Invalid(e.to_string()))?;
    let mut buf = vec![0; 1 << 20];
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| ImportError::Invalid(e.to_string()))?;
        while part.read(&mut buf)? > 0 {}
    }
    Ok(())
}

/// Reads the first sheet into a visitor that only counts rows; returns the data rows.
fn parse(path: &Path, format: Format) -> Result<u64, ImportError> {
    struct Count(u64);
    impl RowVisitor for Count {
        fn total(&mut self, _: u64, _: bool) {}
        fn row(&mut self, _number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
            self.0 += u64::from(cells.iter().any(|v| !matches!(v, Value::Null)));
            cells.clear();
            Ok(Flow::Continue(()))
        }
    }
    let mut count = Count(0);
    source::stream(path, format, None, None, &Limits::default(), &mut count)?;
    Ok(count.0.saturating_sub(1))
}

/// One real import into a fresh database file; its wall time and the pipeline's timings.
fn import_once(path: &Path, format: Format, scratch: &Path, live: bool) -> Result<(Duration, Timings), ImportError> {
    let db = scratch.join(format!("sheetport-profile-{}.db", std::process::id()));
    let remove = |db: &PathBuf| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    };
    remove(&db);
    let spec = ImportSpec {
        path: path.to_path_buf(),
        format,
        sheet: None,
        encoding: None,
        layout: super::header::Layout::default(),
        dest: super::sink::Destination::Sqlite(db.clone()),
        table: "t".into(),
        mode: ImportMode::Create,
        mapping: crate::model::Mapping::default(),
        errors: None,
        staging: format!("{}profile", super::sink::STAGING_PREFIX),
        limits: Limits::default(),
        keep: None,
        writer: None,
        review: None,
        live_progress: live,
    };
    let (progress, _rx) = watch::channel(Progress::default());
    let start = Instant::now();
    let outcome = pipeline::run(&spec, &progress, &CancellationToken::new(), &|_, _| None);
    let wall = start.elapsed();
    remove(&db);
    Ok((wall, outcome?.timings))
}
