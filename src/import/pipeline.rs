//! One import from file to table, on two threads: the source parses rows on one (inflate, XML or
//! CSV, conversion) and hands them in batches over a bounded channel to the sink on the calling
//! thread, which infers types from the first rows, loads a staging table in committed batches and
//! swaps it into place at the end. Progress goes into a `watch` channel in model terms, so the
//! server, the CLI and the benchmarks observe the same numbers.

use super::ImportError;
use super::detect::Format;
use super::header::{Layout, Picker};
use super::infer::{SAMPLE_ROWS, describe};
use super::limits::{Limits, value_bytes};
use super::names::header_labels;
use super::pace::Pace;
use super::rules;
use super::shape::{Plan, ROW_COLUMN, row_error};
use super::sink::{self, Destination, FinalStatement, Merge, Sink};
use super::source::{self, Flow, RowVisitor};
use super::value::Value;
use crate::model::{ColumnInfo, ColumnType, Counts, ImportMode, Mapping, OnError, Phase, Progress, RowError};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Rows per message between the threads: big enough to amortise the hand-off.
const BATCH_ROWS: usize = 2048;
/// Bytes per message at most (roughly, plus one row of at most `limits::MAX_ROW_BYTES`), so the
/// channel holds some 16 MB whatever the rows are like (bounded in rows only, 2,048 wide rows of
/// a 515-byte .ods took 1.6 GB).
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight between parser and writer (~1 MB each): enough to ride out the writer's
/// pauses at each commit without stopping the parser. Measured on 1,048,575 .xlsx rows: 4 batches
/// left the parser blocked 0.2 s and took 1.80 s; 16 never block it and take 1.61 s (+8 MB RSS).
const CHANNEL_DEPTH: usize = 16;
/// How often the writer commits, which is how often `rows_done` moves.
const COMMIT_EVERY: Duration = Duration::from_millis(150);

/// What to import and where.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    pub path: PathBuf,
    pub format: Format,
    /// The sheet to read; the first when `None`.
    pub sheet: Option<String>,
    /// The text encoding of a CSV/TSV file, when the person chose one (see [`super::encoding`]).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Its header row, and whether the data ends at its first empty row (see [`super::header`]).
    pub layout: Layout,
    /// The database that receives the table.
    pub dest: Destination,
    pub table: String,
    pub mode: ImportMode,
    /// The person's column choices, key and error policy (see [`super::shape`]).
    pub mapping: Mapping,
    /// Where row errors go, as they are found (the job's error report); `None`: counted only.
    pub errors: Option<Arc<dyn ErrorLog>>,
    /// The bounds the reading stays within.
    pub limits: Limits,
    /// This import's own staging table name (see [`super::sink::STAGING_PREFIX`]).
    pub staging: String,
    /// Keep a table a replace takes the place of, so the import can be undone; `None`: drop it.
    pub keep: Option<super::undo::Keep>,
    /// Whose import it is, checked inside the transaction that changes the table (see
    /// [`super::sink::Writer`]); `None`: no check (the benchmark's own runs).
    pub writer: Option<super::sink::Writer>,
    /// Stop before the table changes, for a person to review (see [`super::review`]): the review
    /// table's name and how long the review is kept (ms). `None`: the import lands.
    pub review: Option<(String, i64)>,
    /// Whether to publish progress while loading. Off, nothing is sent to the `watch` channel
    /// until the end and the load is one transaction: only the benchmark's on/off comparison
    /// (`sheetport profile`) turns it off, to price what live progress costs.
    pub live_progress: bool,
}

/// Receives an import's row errors in order, a bounded batch at a time, so a file of a million bad
/// rows is reported without being held.
pub trait ErrorLog: Send + Sync + std::fmt::Debug {
    fn append(&self, errors: &[RowError]) -> Result<(), ImportError>;
}

/// Row errors held before they go to the [`ErrorLog`].
const ERRORS_PER_WRITE: usize = 1000;
/// Row errors a failed import's message quotes.
const ERRORS_QUOTED: usize = 3;
/// Row errors one report keeps: a million rows of a thousand bad cells would otherwise be a
/// billion lines (some 100 GB). Rows past it are still refused and counted.
const ERRORS_KEPT: u64 = 1_000_000;

/// What a finished import produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Rows that went into the table (inserted, updated or left unchanged).
    pub rows: u64,
    pub counts: Counts,
    pub columns: Vec<ColumnInfo>,
    pub timings: Timings,
    /// What a review staged and saw, when the import stopped before its table.
    pub review: Option<super::review::Staged>,
}

/// Where an import's time went, for logs and the benchmark's breakdown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// CPU time of the parser thread: inflate, XML or CSV parsing, conversion to values.
    pub parse_cpu: Duration,
    /// CPU time of the writer thread: type inference, inserts, commits, the final swap.
    pub write_cpu: Duration,
    /// Wall time of the final swap transaction (and the rare widening rebuild before it).
    pub finalize: Duration,
    /// Wall time the parser spent blocked on a full channel (the writer was behind).
    pub parse_blocked: Duration,
    /// Wall time the writer spent waiting for the parser's next batch (the parser was behind).
    pub write_starved: Duration,
}

/// CPU time the calling thread has used so far (Linux: `/proc/thread-self/schedstat`; zero
/// elsewhere, where the breakdown is simply not reported).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Given the final columns and row count, the statement to run inside the final transaction (the
/// sink adds the counts, see [`FinalStatement`]).
pub type OnCommit<'a> = &'a (dyn Fn(&[ColumnInfo], u64) -> Option<FinalStatement> + Sync);

/// Rows, and each one's number in the sheet.
struct Batch {
    rows: Vec<Vec<Value>>,
    numbers: Vec<u64>,
}

enum Msg {
    Header(Vec<String>),
    Rows(Batch),
    /// The source read the sheet to its end. Without it a closed channel means the parser
    /// failed, and nothing may be swapped in.
    End,
}

/// Runs the whole import, blocking the calling thread until the table is in place, the import
/// failed, or `cancel` fired; in the last two cases the database is left as it was.
pub fn run(
    spec: &ImportSpec,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
    on_commit: OnCommit<'_>,
) -> Result<Outcome, ImportError> {
    let (tx, rx) = sync_channel(CHANNEL_DEPTH);
    std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .name("sheetport-parse".into())
            .spawn_scoped(scope, || {
                let mut feeder = Feeder {
                    tx,
                    batch: Vec::with_capacity(BATCH_ROWS),
                    numbers: Vec::with_capacity(BATCH_ROWS),
                    batch_bytes: 0,
                    header_sent: false,
                    progress,
                    live: spec.live_progress,
                    cancel,
                    parsed: 0,
                    blocked: Duration::ZERO,
                };
                // A `Break` means the writer stopped (it reports why; sending `End` then finds the
                // channel closed too), or the data ended at an empty row.
                let mut picker = Picker::new(spec.layout, &mut feeder);
                source::stream(
                    &spec.path,
                    spec.format,
                    spec.sheet.as_deref(),
                    spec.encoding,
                    &spec.limits,
                    &mut picker,
                )?;
                let _: Flow = picker.finish()?;
                if feeder.flush()?.is_continue() {
                    let _: Flow = feeder.send(Msg::End)?;
                }
                Ok((thread_cpu(), feeder.blocked))
            })
            .map_err(ImportError::Io)?;
        let cpu_before = thread_cpu();
        let written = write(spec, rx, progress, cancel, on_commit);
        let write_cpu = thread_cpu().saturating_sub(cpu_before);
        let parsed: Result<(Duration, Duration), ImportError> = parser.join().unwrap_or_else(|panic| {
            let message = super::panic_message(panic.as_ref());
            tracing::error!(panic = %message, file = %spec.path.display(), "the reader thread panicked");
            Err(ImportError::Internal(format!("the reader thread panicked: {message}")))
        });
        match (written, parsed) {
            (Ok(mut w), Ok((parse_cpu, parse_blocked))) => {
                w.timings.parse_cpu = parse_cpu;
                w.timings.parse_blocked = parse_blocked;
                w.timings.write_cpu = write_cpu;
                Ok(w)
            }
            // A cancel that stopped the parser before the writer had a header would otherwise read
            // as "the sheet is empty" (a contained reader killed while it computes).
            _ if cancel.is_cancelled() => Err(ImportError::Cancelled),
            // A parse error is the real reason the writer stopped.
            (_, Err(e)) if !matches!(e, ImportError::Cancelled) => Err(e),
            // The writer stopping first makes the parser's send fail; the writer's reason is the real one.
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    })
}

/// The parser's side: drops blank rows, sends the header, then batches of rows.
struct Feeder<'a> {
    tx: SyncSender<Msg>,
    batch: Vec<Vec<Value>>,
    numbers: Vec<u64>,
    /// Roughly what `batch` holds ([`value_bytes`]), so wide or text-heavy rows go in smaller batches.
    batch_bytes: usize,
    header_sent: bool,
    progress: &'a watch::Sender<Progress>,
    live: bool,
    cancel: &'a CancellationToken,
    parsed: u64,
    blocked: Duration,
}

impl Feeder<'_> {
    /// Hands `msg` to the writer; `Break` when the writer has stopped (it reports why).
    fn send(&mut self, msg: Msg) -> Result<Flow, ImportError> {
        let msg = match self.tx.try_send(msg) {
            Ok(()) => return Ok(Flow::Continue(())),
            Err(TrySendError::Full(msg)) => msg,
            Err(TrySendError::Disconnected(_)) => return Ok(Flow::Break(())),
        };
        let waiting = Instant::now();
        let sent = self.tx.send(msg);
        self.blocked += waiting.elapsed();
        Ok(if sent.is_ok() { Flow::Continue(()) } else { Flow::Break(()) })
    }

    fn flush(&mut self) -> Result<Flow, ImportError> {
        if self.cancel.is_cancelled() {
            return Err(ImportError::Cancelled);
        }
        if self.batch.is_empty() {
            return Ok(Flow::Continue(()));
        }
        self.parsed += self.batch.len() as u64;
        self.batch_bytes = 0;
        let rows = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_ROWS));
        let numbers = std::mem::replace(&mut self.numbers, Vec::with_capacity(BATCH_ROWS));
        let flow = self.send(Msg::Rows(Batch { rows, numbers }))?;
        if self.live {
            let parsed = self.parsed;
            self.progress.send_modify(|p| p.rows_parsed = parsed);
        }
        Ok(flow)
    }
}

impl RowVisitor for Feeder<'_> {
    fn total(&mut self, rows: u64, estimated: bool) {
        if !self.live {
            return;
        }
        self.progress.send_if_modified(|p| {
            let changed = p.rows_total != Some(rows) || p.rows_total_estimated != estimated;
            p.rows_total = Some(rows);
            p.rows_total_estimated = estimated;
            changed
        });
    }

    fn row(&mut self, number: u64, cells: &mut Vec<Value>) -> Result<Flow, ImportError> {
        if cells.iter().all(|v| matches!(v, Value::Null)) {
            return Ok(Flow::Continue(()));
        }
        // One pass: the row's size, for the batch's byte bound, and NUL out of text (PostgreSQL
        // text cannot hold it, and one failed a whole import there; no sheet means one).
        let mut bytes = 0;
        for v in cells.iter_mut() {
            if let Value::Text(s) = v
                && memchr::memchr(0, s.as_bytes()).is_some()
            {
                s.retain(|c| c != '\0');
            }
            bytes += value_bytes(v);
        }
        if !self.header_sent {
            self.header_sent = true;
            return self.send(Msg::Header(header_labels(cells)));
        }
        let width = cells.len();
        self.batch_bytes += bytes;
        self.batch.push(std::mem::replace(cells, Vec::with_capacity(width)));
        self.numbers.push(number);
        if self.batch.len() >= BATCH_ROWS || self.batch_bytes >= BATCH_BYTES {
            return self.flush();
        }
        Ok(Flow::Continue(()))
    }

    fn sheet(&mut self, name: &str) {
        self.progress.send_modify(|p| p.sheet = Some(name.to_owned()));
    }

    fn error_cell(&mut self) {
        self.progress.send_modify(|p| p.error_cells += 1);
    }

    fn cancel_token(&self) -> Option<CancellationToken> {
        Some(self.cancel.clone())
    }
}

/// The writer's end of the channel, timing how long it waits for the parser.
struct Inbox {
    rx: Receiver<Msg>,
    starved: Duration,
}

impl Inbox {
    /// The next message; `None` once the parser is gone.
    fn recv(&mut self) -> Option<Msg> {
        if let Ok(msg) = self.rx.try_recv() {
            return Some(msg);
        }
        let waiting = Instant::now();
        let msg = self.rx.recv().ok();
        self.starved += waiting.elapsed();
        msg
    }
}

/// The writer's side: sample, infer, plan the columns, create staging, load in committed
/// batches, report rows that cannot go in, swap or merge.
fn write(
    spec: &ImportSpec,
    rx: Receiver<Msg>,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
    on_commit: OnCommit<'_>,
) -> Result<Outcome, ImportError> {
    let mut rx = Inbox { rx, starved: Duration::ZERO };
    let header = match rx.recv() {
        Some(Msg::Header(h)) => h,
        // The parser ended without a row: an empty sheet, or its own error (reported by `run`).
        _ => return Err(ImportError::Invalid("the sheet is empty: there is no header row".into())),
    };
    let mut sampled =
        Sampled { rows: Vec::with_capacity(SAMPLE_ROWS), numbers: Vec::new(), pending: None, ended: false };
    while sampled.rows.len() < SAMPLE_ROWS && sampled.pending.is_none() {
        match rx.recv() {
            Some(Msg::Rows(batch)) if sampled.rows.len() + batch.rows.len() <= SAMPLE_ROWS * 4 => {
                sampled.rows.extend(batch.rows);
                sampled.numbers.extend(batch.numbers);
            }
            Some(Msg::Rows(batch)) => sampled.pending = Some(batch),
            Some(Msg::End) => {
                sampled.ended = true;
                break;
            }
            Some(Msg::Header(_)) | None => break,
        }
    }
    let source = describe(header, &mut sampled.rows);
    // Only these modes meet a table that exists; create fails on one at the swap, replace drops it.
    // With its own rules, checked once the rows are staged (see [`super::rules`]).
    let (table, rules) =
        if spec.mode.meets_table() { sink::table_blocking(&spec.dest, &spec.table)?.unzip() } else { (None, None) };
    let plan = Plan::new(&source, &spec.mapping, table.as_ref(), spec.mode)?;
    let key = plan.key_names();
    let meets = match spec.mode {
        _ if key.is_empty() => None,
        ImportMode::Upsert => Some(true),
        ImportMode::InsertNew => Some(false),
        _ => None,
    };
    let target = sink::target_sql(&spec.dest, &spec.table);
    let probe = rules::Probe {
        kind: spec.dest.kind(),
        staging: "",
        target: &target,
        columns: &plan.columns,
        key: &key,
        meets,
        reviewed: None,
    };
    let checked = rules.as_ref().is_some_and(|r| !rules::steps(r, &probe).is_empty());
    let mut staging = plan.columns.clone();
    // A review lists rows by their number in the sheet, and so does a rule's error: the staging
    // table carries them then.
    let numbered = plan.keyed() || spec.review.is_some() || checked;
    wide_enough(spec, &plan, numbered, table.is_some() && meets.is_some())?;
    if numbered {
        staging.push(ColumnInfo {
            name: ROW_COLUMN.into(),
            label: String::new(),
            ty: ColumnType::Integer,
            declared: None,
        });
    }

    // Only a new table without a key is the staging table renamed; every other import copies
    // its rows out of it (upsert .xlsx into PostgreSQL: 1.37x its floor with a logged staging table).
    // A review's staged rows outlive this transaction: never a temporary table.
    let copied = (plan.keyed() || table.is_some()) && spec.review.is_none();
    let mut sink = Sink::create(&spec.dest, &spec.staging, staging, copied)?;
    progress.send_modify(|p| {
        p.columns = plan.columns.clone();
        p.phase = Phase::Loading;
    });
    let commit_every = if spec.live_progress { COMMIT_EVERY } else { Duration::MAX };
    let mut report = Report {
        log: spec.errors.as_deref(),
        pending: Vec::new(),
        quoted: Vec::new(),
        rejected: 0,
        kept: 0,
        // A review is reached whatever the rule: its rejected rows are kept whole to be fixed
        // (see `rejects`), and under `fail` its commit waits until each is fixed or skipped.
        fail: spec.mapping.on_error == OnError::Fail && spec.review.is_none(),
        spool: spec.review.is_some().then(|| super::rejects::Spool::new(spec.path.parent())).transpose()?,
    };
    let mut loader =
        Loader { sink: &mut sink, plan: &plan, numbered, report: &mut report, progress, commit_every, cancel };
    let loaded = loader.load(sampled, &mut rx).and_then(|rows| {
        // Rows the table's rules refuse are row errors; once a row is refused under `fail`,
        // nothing will be written anyway.
        let mut dropped = 0;
        if let Some(rules) = rules.as_ref().filter(|_| checked && !(report.fail && report.rejected > 0)) {
            let staging = sink.staging();
            let steps = rules::steps(rules, &rules::Probe { staging: &staging, ..probe });
            dropped = check_rules(&mut sink, &mut report, &plan, &steps)?;
            if dropped > 0 {
                progress.send_modify(|p| p.rows_rejected = report.rejected);
            }
        }
        // A key seen before is a row error too; only the database sees every key at once.
        let mut dedupe = false;
        if plan.keyed() {
            let names = plan.key_names();
            let label = plan.key.iter().map(|&k| plan.columns[k].label.as_str()).collect::<Vec<_>>().join(", ");
            let mut failed = Ok(());
            let repeated = sink.duplicates(&names, &mut |d| {
                if failed.is_ok() {
                    failed = report.row(
                        &plan,
                        None,
                        vec![RowError {
                            row: d.row,
                            column: label.clone(),
                            value: d.key,
                            reason: super::shape::repeated_key(d.first),
                        }],
                    );
                }
            })?;
            failed?;
            if repeated > 0 {
                progress.send_modify(|p| p.rows_rejected = report.rejected);
            }
            dropped += repeated;
            dedupe = repeated > 0;
        }
        report.flush()?;
        Ok((rows, dropped, dedupe))
    });
    let (rows, dropped, dedupe) = match loaded {
        Ok(_) if report.fail && report.rejected > 0 => {
            drop(rx);
            sink.abort()?;
            return Err(report.failure());
        }
        Ok(done) => done,
        Err(e) => {
            drop(rx); // unblocks the parser
            sink.abort()?;
            return Err(e);
        }
    };
    progress.send_modify(|p| p.phase = Phase::Finalizing);
    let finalizing = Instant::now();
    let rows = rows - dropped;
    let last = on_commit(&sink::data_columns(sink.columns()), rows);
    let merge = Merge {
        mode: spec.mode,
        key: plan.key_names(),
        add_unique_index: plan.add_unique_index,
        dedupe,
        rows,
        rejected: report.rejected,
        last,
        keep: spec.keep.clone(),
        writer: spec.writer,
        reviewed: None,
    };
    if let Some((name, keep)) = &spec.review {
        let made = crate::db::now_ms();
        let (columns, mut staged) = sink.review(&spec.table, merge, name, (made, made.saturating_add(*keep)))?;
        // The rejected rows go beside the review's, to be fixed (without them there is no review).
        if let Some(spool) = report.spool.take() {
            super::rejects::keep(&spec.dest, name, spool)?;
        }
        staged.source = source;
        let s = &staged.summary;
        let counts = Counts { inserted: s.inserted, updated: s.updated, unchanged: s.unchanged, rejected: s.rejected };
        progress.send_modify(|p| p.review = Some(staged.summary.clone()));
        let timings = Timings { finalize: finalizing.elapsed(), write_starved: rx.starved, ..Timings::default() };
        return Ok(Outcome { rows: staged.rows(), counts, columns, timings, review: Some(staged) });
    }
    let (columns, counts) = sink.finish(&spec.table, merge)?;
    progress.send_modify(|p| p.counts = Some(counts));
    let timings = Timings { finalize: finalizing.elapsed(), write_starved: rx.starved, ..Timings::default() };
    Ok(Outcome { rows, counts, columns, timings, review: None })
}

/// Refuses, in words, an import whose tables would have more columns than the database takes: the
/// staging table (the sheet's columns, and the row numbers when it carries them) and a review's
/// table (`olds`: with each column's value as the table has it).
fn wide_enough(spec: &ImportSpec, plan: &Plan, numbered: bool, olds: bool) -> Result<(), ImportError> {
    let kind = spec.dest.kind();
    let (max, name) = (sink::max_columns(kind), sink::database_name(kind));
    let n = plan.columns.len();
    let count = |n: usize| crate::format::count(n as u64);
    if n + usize::from(numbered) > max {
        let why = if n > max { String::new() } else { " with the row number sheetport keeps beside them".to_owned() };
        return Err(ImportError::Invalid(format!(
            "this import has {} columns{why}, more than a {name} table takes ({}); leave some columns out",
            count(n),
            count(max)
        )));
    }
    let review = 2 + n + if olds { n - plan.key.len() } else { 0 };
    if spec.review.is_some() && review > max {
        return Err(ImportError::Invalid(format!(
            "a review keeps each row's values as the table has them beside the new ones: for {} columns that is a \
             table of {} columns, more than {name} takes ({}); import without review, or leave some columns out",
            count(n),
            count(review),
            count(max)
        )));
    }
    Ok(())
}

/// Runs the checks of the table's rules over the staged rows: each rule's rows are row errors, and
/// are taken out. Returns how many were.
fn check_rules(
    sink: &mut Sink,
    report: &mut Report<'_>,
    plan: &Plan,
    steps: &[rules::Step],
) -> Result<u64, ImportError> {
    let mut dropped = 0;
    for step in steps {
        match step {
            rules::Step::Exec(sql) => sink.exec(sql)?,
            rules::Step::Find(find) => {
                let column = &plan.columns[find.column];
                let mut failed = Ok(());
                let n = sink.broken(&find.select, &mut |row, other, value| {
                    if failed.is_ok() {
                        let reason = find.reason.words(&value, other);
                        failed = report.row(plan, None, vec![row_error(row, column, &Value::Text(value), reason)]);
                    }
                })?;
                failed?;
                if n > 0 {
                    sink.exec(&find.delete)?;
                    dropped += n;
                }
            }
        }
    }
    Ok(dropped)
}

/// Commits the review `staged` into `spec.table`: exactly what it said, in one transaction, or
/// nothing when the table is no longer as the review saw it (see [`super::review`]).
pub fn commit(
    spec: &ImportSpec,
    staged: &super::review::Staged,
    progress: &watch::Sender<Progress>,
    on_commit: OnCommit<'_>,
) -> Result<Outcome, ImportError> {
    let began = Instant::now();
    progress.send_modify(|p| {
        p.columns = staged.columns.clone();
        p.rows_total = Some(staged.rows());
        p.rows_parsed = staged.rows() + staged.summary.rejected;
        p.rows_done = staged.rows();
        p.rows_rejected = staged.summary.rejected;
        p.phase = Phase::Finalizing;
    });
    let sink = Sink::reopen(&spec.dest, staged)?;
    let merge = Merge {
        mode: spec.mode,
        key: staged.key.clone(),
        add_unique_index: staged.add_unique_index,
        dedupe: false,
        rows: staged.rows(),
        rejected: staged.summary.rejected,
        last: on_commit(&staged.columns, staged.rows()),
        keep: spec.keep.clone(),
        writer: spec.writer,
        reviewed: Some(staged.clone()),
    };
    let (columns, counts) = sink.finish(&spec.table, merge)?;
    progress.send_modify(|p| p.counts = Some(counts));
    let timings = Timings { finalize: began.elapsed(), ..Timings::default() };
    Ok(Outcome { rows: staged.rows(), counts, columns, timings, review: None })
}

/// The sheet's row `number` has a value in 0-based column `col`, past the `width` columns the
/// header and the first `sampled` rows made.
fn beyond_columns(number: u64, col: usize, width: usize, sampled: u64) -> ImportError {
    ImportError::Invalid(format!(
        "row {} has a value in column {}, but the header and the first {} rows have only {} columns; give \
         that column a header (or remove the value) and import the file again",
        crate::format::count(number),
        col + 1,
        crate::format::count(sampled),
        width
    ))
}

/// What the writer read before the table could be created: the type sample (and its rows'
/// numbers), the batch that did not fit into it, and whether the parser already said the sheet ended.
struct Sampled {
    rows: Vec<Vec<Value>>,
    numbers: Vec<u64>,
    pending: Option<Batch>,
    ended: bool,
}

/// Row errors on their way to the log: counted, the first few kept for a failure's message, the
/// rest written in bounded batches.
struct Report<'a> {
    log: Option<&'a dyn ErrorLog>,
    pending: Vec<RowError>,
    quoted: Vec<RowError>,
    /// Rows refused (a row with two bad cells is one row).
    rejected: u64,
    /// Errors sent to the log so far (at most [`ERRORS_KEPT`]).
    kept: u64,
    /// `on_error: fail`: nothing will be written once a row is refused.
    fail: bool,
    /// A review's: its refused rows, kept to be fixed (see [`super::rejects`]).
    spool: Option<super::rejects::Spool>,
}

impl Report<'_> {
    /// One refused row's errors, and the row as read (`raw`) when it is kept for a review.
    fn row(&mut self, plan: &Plan, raw: Option<&[Value]>, errors: Vec<RowError>) -> Result<(), ImportError> {
        self.rejected += 1;
        if let (Some(spool), Some(first)) = (self.spool.as_mut(), errors.first()) {
            spool.add(plan, first.row, raw, &errors)?;
        }
        for e in errors {
            if self.quoted.len() < ERRORS_QUOTED {
                self.quoted.push(e.clone());
            }
            if self.log.is_some() && self.kept < ERRORS_KEPT {
                self.kept += 1;
                self.pending.push(e);
            }
        }
        if self.pending.len() >= ERRORS_PER_WRITE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ImportError> {
        if let Some(log) = self.log
            && !self.pending.is_empty()
        {
            log.append(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Why a `fail` import failed, quoting its first errors.
    fn failure(&self) -> ImportError {
        let rows = crate::format::count(self.rejected);
        // The table's rules find their rows rule by rule: name them in the sheet's order.
        let mut first = self.quoted.clone();
        first.sort_by_key(|e| e.row);
        let quoted: Vec<String> =
            first.iter().map(|e| format!("row {}, {:?}: {:?} {}", e.row, e.column, e.value, e.reason)).collect();
        let more = if self.rejected as usize > self.quoted.len() { "; …" } else { "" };
        let (noun, verb) = if self.rejected == 1 { ("row", "has") } else { ("rows", "have") };
        ImportError::Invalid(format!(
            "{rows} {noun} {verb} values their columns cannot take, so nothing was imported: {}{more}. The error report \
             lists every one; correct them and import again, or choose to skip bad rows",
            quoted.join("; ")
        ))
    }
}

/// The writer's loop: shapes each row by the plan, loads the good ones, commits every
/// `commit_every`.
struct Loader<'a, 'r> {
    sink: &'a mut Sink,
    plan: &'a Plan,
    /// Each row carries its number in the sheet (a key's duplicate report, a review's pages).
    numbered: bool,
    report: &'a mut Report<'r>,
    progress: &'a watch::Sender<Progress>,
    commit_every: Duration,
    cancel: &'a CancellationToken,
}

impl Loader<'_, '_> {
    /// Loads the sample and every later batch; returns the rows written to the staging table.
    fn load(&mut self, sampled: Sampled, rx: &mut Inbox) -> Result<u64, ImportError> {
        let mut written = 0u64;
        // The first commit comes right after the sample, so the first rows show up at once.
        let mut last_commit = Instant::now().checked_sub(COMMIT_EVERY).unwrap_or_else(Instant::now);
        let Sampled { rows: sample, numbers, pending, mut ended } = sampled;
        let sampled_rows = sample.len() as u64;
        let width = self.plan.width();
        let mut prefetched = std::iter::once(Batch { rows: sample, numbers }).chain(pending);
        let mut errors = Vec::new();
        let mut pace = Pace::default();
        loop {
            let mut batch = match prefetched.next() {
                Some(batch) => batch,
                None if ended => break,
                None => match rx.recv() {
                    Some(Msg::Rows(batch)) => batch,
                    Some(Msg::End) => {
                        ended = true;
                        continue;
                    }
                    Some(Msg::Header(_)) => continue,
                    None => break,
                },
            };
            if self.cancel.is_cancelled() {
                return Err(ImportError::Cancelled);
            }
            let rejected_before = self.report.rejected;
            let mut good = 0;
            for i in 0..batch.rows.len() {
                let number = batch.numbers[i];
                let row = &mut batch.rows[i];
                // Wider than the header and the sample: a value there has no column to go to.
                if let Some(col) = row.iter().skip(width).position(|v| !matches!(v, Value::Null)) {
                    return Err(beyond_columns(number, width + col, width, sampled_rows));
                }
                row.resize(width, Value::Null);
                // A review keeps a refused row as read; shaping consumes it, so a copy is made first
                // (only under review: a copy of every row, for the few refused; 63 ms a million rows
                // of five cells, two of them text, measured alone).
                let raw = self.report.spool.is_some().then(|| row.clone());
                if !self.plan.shape(number, row, &mut errors) {
                    self.report.row(self.plan, raw.as_deref(), std::mem::take(&mut errors))?;
                    continue;
                }
                if self.numbered {
                    row.push(Value::Int(number as i64));
                }
                batch.rows.swap(good, i);
                good += 1;
            }
            batch.rows.truncate(good);
            // Once a row is refused under `fail`, nothing will be written: only look on.
            if !(self.report.fail && self.report.rejected > 0) {
                self.sink.insert(&batch.rows)?;
                written += batch.rows.len() as u64;
            }
            let rejected = self.report.rejected;
            if rejected != rejected_before {
                self.progress.send_modify(|p| p.rows_rejected = rejected);
            }
            if last_commit.elapsed() >= self.commit_every {
                self.sink.commit()?;
                last_commit = Instant::now();
                let pace = pace.commit(last_commit, written);
                self.progress.send_modify(|p| {
                    p.rows_done = written;
                    p.pace = pace;
                });
            }
        }
        if self.cancel.is_cancelled() {
            return Err(ImportError::Cancelled);
        }
        if !ended {
            // The parser stopped early; `run` reports its error.
            return Err(ImportError::Invalid(
                "the file ended unexpectedly, as if cut short; open it in a spreadsheet program, save it again and \
                 import the new file"
                    .into(),
            ));
        }
        self.sink.commit()?;
        // The rows are in; what is left (the merge or the swap) has no pace to reckon by.
        self.progress.send_modify(|p| {
            p.rows_done = written;
            p.pace = None;
        });
        Ok(written)
    }
}
