//! The calamine-based readers (.xls, .xlsb), contained in a child process. calamine builds every
//! .xls sheet's dense cell range as it opens the workbook and trusts the counts a file declares,
//! so a 14 KB .xls with cells at the far corners of 20 sheets asks for more than 4 GiB; no check
//! from outside can see every such case coming. So these formats are read by `sheetport
//! read-workbook` (this same program), which first limits its own address space and processor
//! time (`--max-memory-mb`; 60 s plus 2 s per MB of file) and then streams the sheet's rows over a
//! pipe in a small binary framing. Whatever the file does to calamine, the child dies of it, and
//! the person reads a sentence: the server and its other imports never notice.
//!
//! The frames (child → parent), each a tag byte and its fields, integers little-endian:
//! `N` names (u32 count, strings), `S` the sheet chosen, `T` a row total (u64, u8 estimated),
//! `E` an error cell, `R` a row (u64 its number in the sheet, u32 count, values), `D` done (the
//! sheet's name), `X` failed (a sentence). A string is a u32 length and UTF-8 bytes. A value is a tag and its payload: 0 NULL,
//! 1 i64, 2 f64, 3 bool (u8), 4 date (i32 days), 5 datetime (i64 ms), 6 text.

use super::{Flow, RowVisitor};
use crate::import::ImportError;
use crate::import::detect::Format;
use crate::import::limits::{DEFAULT_MAX_MEMORY_MB, Limits};
use crate::import::value::Value;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The longest sheet name or sentence the child may send (a bound on the parent's buffer; cells
/// are bounded by `--max-cell-bytes`).
const MAX_NAME: usize = 64 * 1024;
/// Bytes of the child's standard error kept for the log.
const STDERR_KEPT: usize = 4096;

static PROGRAM: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Sets the program that reads workbooks (`sheetport` itself unless told: a test harness that
/// runs the server in its own process names the real binary here).
pub fn set_reader_program(path: PathBuf) {
    *PROGRAM.write().unwrap_or_else(|e| e.into_inner()) = Some(path);
}

fn program() -> io::Result<PathBuf> {
    match PROGRAM.read().unwrap_or_else(|e| e.into_inner()).clone() {
        Some(path) => Ok(path),
        None => std::env::current_exe(),
    }
}

/// Processor seconds a reader may spend on a file of `bytes`: parsing costs O(bytes).
fn cpu_seconds(bytes: u64) -> u64 {
    60 + bytes / 500_000
}

/// What the child is asked for.
enum Ask<'a> {
    Names,
    Rows(Option<&'a str>),
}

/// Sheet names of an .xls or .xlsb workbook, read by a contained reader.
pub fn sheet_names(path: &Path, format: Format, limits: &Limits) -> Result<Vec<String>, ImportError> {
    let mut child = Reader::start(path, format, Ask::Names, limits, None)?;
    let result = child.names();
    child.finish(result)
}

/// Streams one sheet of an .xls or .xlsb workbook into `visitor`, read by a contained reader.
pub fn stream(
    path: &Path,
    format: Format,
    sheet: Option<&str>,
    limits: &Limits,
    visitor: &mut dyn RowVisitor,
) -> Result<String, ImportError> {
    let mut child = Reader::start(path, format, Ask::Rows(sheet), limits, visitor.cancel_token())?;
    let result = child.rows(visitor, limits.max_cell_bytes);
    child.finish(result)
}

/// A running child reader and the threads that watch it.
struct Reader {
    child: Arc<Mutex<Child>>,
    out: BufReader<ChildStdout>,
    stderr: Option<std::thread::JoinHandle<String>>,
    done: Arc<AtomicBool>,
    watcher: Option<std::thread::JoinHandle<()>>,
    cancel: Option<tokio_util::sync::CancellationToken>,
    memory_mb: u64,
    cpu_seconds: u64,
}

/// How the child's stream ended, when it ended in a frame.
enum End<T> {
    /// `D` or `N`: what was asked for.
    Done(T),
    /// The visitor stopped reading (`Break`).
    Stopped(T),
    /// `X`: the child's own sentence.
    Failed(String),
    /// The stream ended without a last frame: the child died (see its exit status).
    Died,
}

impl Reader {
    fn start(
        path: &Path,
        format: Format,
        ask: Ask<'_>,
        limits: &Limits,
        cancel: Option<tokio_util::sync::CancellationToken>,
    ) -> Result<Self, ImportError> {
        let memory_mb = limits.max_memory_mb.max(64);
        let cpu_seconds = cpu_seconds(std::fs::metadata(path)?.len());
        let mut cmd = Command::new(program()?);
        cmd.arg("read-workbook")
            .arg(path)
            .arg("--format")
            .arg(format.to_string())
            .arg("--max-memory-mb")
            .arg(memory_mb.to_string())
            .arg("--max-cpu-seconds")
            .arg(cpu_seconds.to_string())
            // mimalloc reserves its arenas a GiB at a time, which counts against the address-space
            // limit: with it, the 1,048,575-row .xlsb needed a 2 GB limit for 265 MB of memory;
            // without, 320 MB does (measured with `read-workbook --max-memory-mb`).
            .env("MIMALLOC_ARENA_RESERVE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match ask {
            Ask::Names => {
                cmd.arg("--names");
            }
            Ask::Rows(Some(sheet)) => {
                cmd.arg("--sheet").arg(sheet);
            }
            Ask::Rows(None) => {}
        }
        let mut child = cmd.spawn().map_err(|e| {
            tracing::error!(error = %e, "cannot start the workbook reader");
            ImportError::Internal(format!("cannot start the workbook reader: {e}"))
        })?;
        let out = BufReader::with_capacity(256 * 1024, child.stdout.take().expect("piped stdout"));
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::Builder::new().name("sheetport-reader-log".into()).spawn(move || {
            // Read to the end (a full pipe would stall the child), keeping the last few KB.
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEPT {
                    kept.drain(..kept.len() - STDERR_KEPT);
                }
            }
            String::from_utf8_lossy(&kept).into_owned()
        })?;
        let child = Arc::new(Mutex::new(child));
        let done = Arc::new(AtomicBool::new(false));
        // Cancelling must work while the child computes and sends nothing (calamine reads a whole
        // .xls before the first row): a watcher kills it when the import is cancelled.
        let watcher = match &cancel {
            Some(token) => {
                let (token, child, done) = (token.clone(), child.clone(), done.clone());
                Some(std::thread::Builder::new().name("sheetport-reader-watch".into()).spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        if token.is_cancelled() {
                            let _ = lock(&child).kill();
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                })?)
            }
            None => None,
        };
        Ok(Self { child, out, stderr: Some(stderr), done, watcher, cancel, memory_mb, cpu_seconds })
    }

    fn names(&mut self) -> Result<End<Vec<String>>, ImportError> {
        match self.tag()? {
            Some(b'N') => {
                let n = read_u32(&mut self.out)? as usize;
                let names = (0..n).map(|_| read_str(&mut self.out, MAX_NAME)).collect::<io::Result<_>>()?;
                Ok(End::Done(names))
            }
            Some(b'X') => Ok(End::Failed(read_str(&mut self.out, MAX_NAME)?)),
            Some(_) => Err(protocol()),
            None => Ok(End::Died),
        }
    }

    fn rows(&mut self, visitor: &mut dyn RowVisitor, max_cell: usize) -> Result<End<String>, ImportError> {
        let mut sheet = String::new();
        let mut cells = Vec::new();
        loop {
            match self.tag()? {
                Some(b'S') => {
                    sheet = read_str(&mut self.out, MAX_NAME)?;
                    visitor.sheet(&sheet);
                }
                Some(b'T') => {
                    let rows = read_u64(&mut self.out)?;
                    let estimated = read_u8(&mut self.out)? != 0;
                    visitor.total(rows, estimated);
                }
                Some(b'E') => visitor.error_cell(),
                Some(b'R') => {
                    let number = read_u64(&mut self.out)?;
                    let n = read_u32(&mut self.out)? as usize;
                    if n > crate::import::MAX_COLUMNS + 1 {
                        return Err(protocol());
                    }
                    cells.clear();
                    for _ in 0..n {
                        cells.push(read_value(&mut self.out, max_cell)?);
                    }
                    if visitor.row(number, &mut cells)?.is_break() {
                        return Ok(End::Stopped(sheet));
                    }
                }
                Some(b'D') => return Ok(End::Done(read_str(&mut self.out, MAX_NAME)?)),
                Some(b'X') => return Ok(End::Failed(read_str(&mut self.out, MAX_NAME)?)),
                Some(_) => return Err(protocol()),
                None => return Ok(End::Died),
            }
        }
    }

    /// The next frame's tag, or `None` at the end of the stream.
    fn tag(&mut self) -> io::Result<Option<u8>> {
        let mut b = [0u8];
        match self.out.read(&mut b)? {
            0 => Ok(None),
            _ => Ok(Some(b[0])),
        }
    }

    /// Stops the child (if it still runs), reaps it, and turns how the stream ended into the result.
    fn finish<T>(mut self, result: Result<End<T>, ImportError>) -> Result<T, ImportError> {
        self.done.store(true, Ordering::Relaxed);
        // The stream cut short inside a frame is the child killed while writing it (past a limit),
        // not a file that could not be read: it is told as a death, in the words for its cause.
        let result = match result {
            Err(ImportError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(End::Died),
            other => other,
        };
        if !matches!(result, Ok(End::Done(_) | End::Failed(_))) {
            let _ = lock(&self.child).kill();
        }
        let status = lock(&self.child).wait();
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
        let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
        if self.cancel.as_ref().is_some_and(|t| t.is_cancelled()) {
            return Err(ImportError::Cancelled);
        }
        match result {
            Ok(End::Done(v) | End::Stopped(v)) => Ok(v),
            Ok(End::Failed(sentence)) => Err(ImportError::Invalid(sentence)),
            Ok(End::Died) => {
                let signal = status.as_ref().ok().and_then(|s| s.signal());
                let status = status.map_or_else(|e| e.to_string(), |s| format!("{s:?}"));
                tracing::warn!(%status, stderr = %stderr.trim(), "the workbook reader died");
                Err(self.death(&stderr, signal))
            }
            Err(e) => {
                if !stderr.trim().is_empty() {
                    tracing::warn!(stderr = %stderr.trim(), "the workbook reader stopped");
                }
                Err(e)
            }
        }
    }

    /// Why the child died, in words.
    fn death(&self, stderr: &str, signal: Option<i32>) -> ImportError {
        if stderr.contains("memory allocation of") || stderr.contains("capacity overflow") {
            ImportError::Invalid(format!(
                "this workbook needs more than {} MB of memory to read, more than this server allows \
                 (--max-memory-mb); it may be damaged or built to exhaust memory. Saved as .xlsx or .csv, it \
                 would be read as a stream",
                self.memory_mb
            ))
        } else if matches!(signal, Some(SIGXCPU | SIGKILL)) {
            ImportError::Invalid(format!(
                "reading this workbook took more than {} seconds of processor time; it may be damaged or built to \
                 be slow",
                self.cpu_seconds
            ))
        } else {
            ImportError::Invalid("the workbook cannot be read, the file may be damaged".into())
        }
    }
}

/// What the kernel sends a process past its soft processor-time limit, and past the hard one
/// (Linux numbers; a child killed for a cancel never gets here).
const SIGXCPU: i32 = 24;
const SIGKILL: i32 = 9;

fn lock(child: &Mutex<Child>) -> std::sync::MutexGuard<'_, Child> {
    child.lock().unwrap_or_else(|e| e.into_inner())
}

fn protocol() -> ImportError {
    ImportError::Internal("the workbook reader sent something unexpected".into())
}

fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_str(r: &mut impl Read, max: usize) -> io::Result<String> {
    let n = read_u32(r)? as usize;
    if n > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "a text longer than the reader may send"));
    }
    let mut bytes = vec![0u8; n];
    r.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(io::Error::other)
}

/// One value; a text past `max_cell` bytes stops the reading before it is allocated.
fn read_value(r: &mut impl Read, max_cell: usize) -> Result<Value, ImportError> {
    Ok(match read_u8(r)? {
        0 => Value::Null,
        1 => Value::Int(read_u64(r)? as i64),
        2 => Value::Real(f64::from_bits(read_u64(r)?)),
        3 => Value::Bool(read_u8(r)? != 0),
        4 => Value::Date(read_u32(r)? as i32),
        5 => Value::DateTime(read_u64(r)? as i64),
        6 => Value::Text(read_str(r, max_cell).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => crate::import::limits::cell_too_big(max_cell),
            _ => e.into(),
        })?),
        _ => return Err(protocol()),
    })
}

fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u32).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn write_value(w: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Null => w.write_all(&[0]),
        Value::Int(n) => {
            w.write_all(&[1])?;
            w.write_all(&n.to_le_bytes())
        }
        Value::Real(f) => {
            w.write_all(&[2])?;
            w.write_all(&f.to_bits().to_le_bytes())
        }
        Value::Bool(b) => w.write_all(&[3, u8::from(*b)]),
        Value::Date(d) => {
            w.write_all(&[4])?;
            w.write_all(&d.to_le_bytes())
        }
        Value::DateTime(ms) => {
            w.write_all(&[5])?;
            w.write_all(&ms.to_le_bytes())
        }
        Value::Text(s) => {
            w.write_all(&[6])?;
            write_str(w, s)
        }
    }
}

/// The child's side: a visitor that writes every call as a frame.
struct Encoder<W: Write> {
    out: W,
    /// The first write error (the parent went away): reading stops at the next row.
    failed: Option<io::Error>,
}

impl<W: Write> Encoder<W> {
    fn frame(&mut self, f: impl FnOnce(&mut W) -> io::Result<()>) {
        if self.failed.is_none()
            && let Err(e) = f(&mut self.out)
        {
            self.failed = Some(e);
        }
    }
}

impl<W: Write> RowVisitor for Encoder<W> {
    fn total(&mut self, rows: u64, estimated: bool) {
        self.frame(|w| {
            w.write_all(b"T")?;
            w.write_all(&rows.to_le_bytes())?;
            w.write_all(&[u8::from(estimated)])
        });
    }

    fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
        self.frame(|w| {
            w.write_all(b"R")?;
            w.write_all(&number.to_le_bytes())?;
            w.write_all(&(cells.len() as u32).to_le_bytes())?;
            cells.iter().try_for_each(|v| write_value(w, v))
        });
        Ok(if self.failed.is_some() { Flow::Break(()) } else { Flow::Continue(()) })
    }

    fn sheet(&mut self, name: &str) {
        self.frame(|w| {
            w.write_all(b"S")?;
            write_str(w, name)
        });
    }

    fn error_cell(&mut self) {
        self.frame(|w| w.write_all(b"E"));
    }
}

/// What `sheetport read-workbook` was asked to do.
#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    pub file: PathBuf,
    #[arg(long, value_parser = |s: &str| s.parse::<Format>().map_err(|e| e.to_string()))]
    pub format: Format,
    #[arg(long)]
    pub sheet: Option<String>,
    /// Print the sheet names instead of a sheet's rows.
    #[arg(long)]
    pub names: bool,
    #[arg(long, default_value_t = DEFAULT_MAX_MEMORY_MB)]
    pub max_memory_mb: u64,
    #[arg(long, default_value_t = 60)]
    pub max_cpu_seconds: u64,
}

/// `sheetport read-workbook`: limits this process, reads, and writes frames to standard output.
pub fn child_main(args: &ChildArgs) -> ExitCode {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let memory = args.max_memory_mb.saturating_mul(1 << 20);
    let limits = [(Resource::As, memory), (Resource::Cpu, args.max_cpu_seconds)];
    for (resource, value) in limits {
        // The soft limit signals (SIGXCPU) or fails allocations; the hard one just above it kills.
        let hard = if matches!(resource, Resource::Cpu) { value + 5 } else { value };
        if let Err(e) = setrlimit(resource, Rlimit { current: Some(value), maximum: Some(hard) }) {
            eprintln!("cannot limit the reader: {e}");
            return ExitCode::FAILURE;
        }
    }
    let stdout = io::stdout().lock();
    let mut enc = Encoder { out: BufWriter::with_capacity(256 * 1024, stdout), failed: None };
    let result = if args.names {
        super::excel::sheet_names(&args.file, args.format).map(|names| {
            enc.frame(|w| {
                w.write_all(b"N")?;
                w.write_all(&(names.len() as u32).to_le_bytes())?;
                names.iter().try_for_each(|n| write_str(w, n))
            });
        })
    } else {
        super::excel::stream(&args.file, args.format, args.sheet.as_deref(), &mut enc).map(|name| {
            enc.frame(|w| {
                w.write_all(b"D")?;
                write_str(w, &name)
            });
        })
    };
    if let Err(e) = &result {
        enc.frame(|w| {
            w.write_all(b"X")?;
            write_str(w, &e.to_string())
        });
    }
    enc.frame(|w| w.flush());
    match (result, enc.failed) {
        (Ok(()), None) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cross_the_pipe_unchanged() {
        let values = vec![
            Value::Null,
            Value::Int(-42),
            Value::Real(1.5e300),
            Value::Bool(true),
            Value::Date(-719_528),
            Value::DateTime(1_700_000_000_123),
            Value::Text("naïve, \"quoted\"\n".into()),
        ];
        let mut buf = Vec::new();
        for v in &values {
            write_value(&mut buf, v).expect("write");
        }
        let mut r = buf.as_slice();
        let back: Vec<Value> = values.iter().map(|_| read_value(&mut r, 100).expect("read")).collect();
        assert_eq!(back, values);
        assert!(r.is_empty());
    }

    #[test]
    fn a_text_longer_than_the_bound_is_refused_before_it_is_allocated() {
        let mut frame = vec![6u8];
        frame.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = read_value(&mut frame.as_slice(), 1 << 20).expect_err("too long");
        assert!(e.to_string().starts_with("a cell holds more than 1 MB of text"), "{e}");
    }
}
