//! The command line: `sheetport [serve]` runs the web app, `sheetport import FILE` runs one import
//! in the terminal (a progress bar on stderr when it is a terminal, one summary line on stdout),
//! `sheetport profile FILE` measures where an import's time goes, `sheetport user …` and
//! `sheetport token …` manage accounts and API tokens (see `accounts`). clap reads the flags and the
//! `SHEETPORT_*` variables, and writes help, version and usage errors.
//!
//! Exit codes: 0 done; 1 the import (or the server) failed, with the reason; 2 the command line
//! was wrong; 130 the import was cancelled with Ctrl-C (or SIGTERM) and the database is unchanged.

mod accounts;

use crate::config::{Config, DEFAULT_DATA_SCHEMA, DEFAULT_DATABASE};
use crate::db::{self, Db};
use crate::format;
use crate::import::detect;
use crate::import::limits::{DEFAULT_MAX_CELL_BYTES, DEFAULT_MAX_MEMORY_MB, DEFAULT_MAX_ROWS, Limits};
use crate::import::report;
use crate::jobs::{JobOptions, Jobs, NewImport};
use crate::model::{ColumnChoice, EarlierImport, HeaderRow, ImportMode, ImportStatus, Mapping, OnError, Progress};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Exit code of an import stopped by Ctrl-C: 128 + SIGINT, as shells report it.
pub const CANCELLED: u8 = 130;

/// sheetport: import spreadsheets of a million rows into a database, with live progress.
#[derive(Debug, Parser)]
#[command(name = "sheetport", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a command, sheetport serves (as `sheetport serve`).
    #[command(flatten)]
    serve: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web app and the HTTP API (the default).
    Serve(Config),
    /// Import one file in this terminal, without the server.
    Import(ImportArgs),
    /// Where an import's time goes, as JSON (the benchmark harness reads it).
    Profile(ProfileArgs),
    /// Manage accounts: add, list, disable, enable, reset-password.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Manage API tokens: create, list, revoke.
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// The contained reader of .xls and .xlsb workbooks, which sheetport runs as a child process.
    #[command(hide = true)]
    ReadWorkbook(crate::import::source::contained::ChildArgs),
}

/// What `sheetport import` was asked to do.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The spreadsheet: .xlsx, .xlsm, .xlsb, .xls, .ods, .csv or .tsv (recognised by content).
    pub file: PathBuf,
    #[arg(long = "database", env = "SHEETPORT_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database_url: String,
    /// PostgreSQL: the schema the table goes into.
    #[arg(long, env = "SHEETPORT_DATA_SCHEMA", default_value = DEFAULT_DATA_SCHEMA)]
    pub data_schema: String,
    /// The table to write (default: named after the file, made unique).
    #[arg(long)]
    pub table: Option<String>,
    /// The sheet to read (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// The text encoding of a CSV/TSV file, such as windows-1252 or UTF-16LE (default: detected).
    #[arg(long)]
    pub encoding: Option<String>,
    /// What to do when the table exists.
    #[arg(long, value_enum, ignore_case = true, default_value_t = ImportMode::Create)]
    pub mode: ImportMode,
    /// The row that holds the column names: auto (found among the first 20 rows; titles above it
    /// are skipped), a row number as the sheet shows it, or none (columns named column_1, ...).
    #[arg(long, default_value = "auto", value_name = "N|auto|none")]
    pub header_row: HeaderRow,
    /// End the data at its first empty row (a totals block below it is not imported).
    #[arg(long)]
    pub stop_at_blank: bool,
    /// A column's target name and type: 'Source Name=target:type', 'Source=target' or
    /// 'Source:type' (text, integer, real, boolean, date, datetime); for dates written as text,
    /// how they are written after the type: 'Sold on:date:%d/%m/%Y' (day first) or
    /// '%m/%d/%Y' (month first), with %y, %H, %M, %S as needed. Repeat for more columns.
    #[arg(long = "column", value_name = "SOURCE=TARGET:TYPE[:FORMAT]", value_parser = column_choice)]
    pub columns: Vec<ColumnChoice>,
    /// A column of the sheet to leave out. Repeat for more.
    #[arg(long = "skip-column", value_name = "SOURCE")]
    pub skip_columns: Vec<String>,
    /// The columns that identify a row (for upsert and insert-new; create and replace make a
    /// unique index on them), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub key: Vec<String>,
    /// Make the unique index the key needs when the existing table has none.
    #[arg(long)]
    pub add_unique_index: bool,
    /// What a row with a value its column cannot take does: fail the import (nothing is
    /// written), or skip the row (the rest goes in).
    #[arg(long, value_enum, ignore_case = true, default_value_t = OnError::Fail)]
    pub on_error: OnError,
    /// Write every row error to this CSV file (row, column, value, reason).
    #[arg(long, value_name = "FILE.csv")]
    pub errors: Option<PathBuf>,
    /// Read, check and stage every row and say what the import would do to the table (rows new,
    /// changed, unchanged, gone), without changing anything; exits 0 when it could be imported.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: write every row's change to this CSV file (row, change, values, and the
    /// table's values before).
    #[arg(long, value_name = "FILE.csv", requires = "dry_run")]
    pub diff: Option<PathBuf>,
    /// Import nothing when the same content (a file with the same SHA-256, whatever its name)
    /// was imported into this database before and landed: say which import that was, and exit 0.
    /// The file is read once more for its SHA-256, which this import keeps for the next check.
    #[arg(long)]
    pub skip_if_imported: bool,
    /// Most memory, in MB, reading an .xls or .xlsb workbook may take.
    #[arg(long, env = "SHEETPORT_MAX_MEMORY_MB", default_value_t = DEFAULT_MAX_MEMORY_MB)]
    pub max_memory_mb: u64,
    /// Most data rows the import may write.
    #[arg(long, env = "SHEETPORT_MAX_ROWS", default_value_t = DEFAULT_MAX_ROWS)]
    pub max_rows: u64,
    /// Most bytes of text one cell may hold.
    #[arg(long, env = "SHEETPORT_MAX_CELL_BYTES", default_value_t = DEFAULT_MAX_CELL_BYTES)]
    pub max_cell_bytes: usize,
    /// Also print the engine's log lines on stderr (RUST_LOG chooses which; without it, info).
    #[arg(short, long)]
    pub verbose: bool,
}

/// One `--column`: its parts, and its date format checked, so a wrong one is a usage error.
fn column_choice(spec: &str) -> Result<ColumnChoice, String> {
    let choice = ColumnChoice::parse(spec)?;
    if let Some(format) = &choice.format {
        crate::jobs::check_date_format(format)?;
    }
    Ok(choice)
}

#[derive(Debug, clap::Args)]
struct ProfileArgs {
    file: PathBuf,
    /// Timed runs of each stage (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the scratch databases go (default: the system's temporary directory).
    #[arg(long)]
    scratch: Option<PathBuf>,
}

impl Cli {
    /// The log filter this command starts with: a server and the contained reader log (RUST_LOG,
    /// else info); a command run in a terminal says only its own words there, its logs only with
    /// `--verbose`. (Found: a failed `sheetport import` printed the job's `WARN ... import
    /// failed` line above its own sentence.)
    pub fn log_filter(&self) -> Option<String> {
        let terminal = match &self.command {
            Some(Command::Import(args)) => !args.verbose,
            Some(Command::Profile(_) | Command::User(_) | Command::Token(_)) => true,
            Some(Command::Serve(_) | Command::ReadWorkbook(_)) | None => false,
        };
        if terminal {
            return None;
        }
        Some(std::env::var("RUST_LOG").ok().filter(|f| !f.is_empty()).unwrap_or_else(|| "info,sqlx=warn".into()))
    }

    /// Runs the command (on a tokio runtime it makes, but for the contained reader) and says how
    /// the process should exit.
    pub fn run(self) -> ExitCode {
        if let Some(Command::ReadWorkbook(args)) = &self.command {
            // No runtime: the reader is one thread under a memory limit.
            return crate::import::source::contained::child_main(args);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
        let result = match self.command {
            Some(Command::ReadWorkbook(_)) => unreachable!("handled above"),
            Some(Command::Import(args)) => return runtime.block_on(import_command(args)),
            Some(Command::Serve(config)) => runtime.block_on(crate::server::serve(config)),
            None => runtime.block_on(crate::server::serve(self.serve)),
            Some(Command::Profile(args)) => profile(args).map(|json| println!("{json}")),
            Some(Command::User(command)) => runtime.block_on(accounts::user(command)),
            Some(Command::Token(command)) => runtime.block_on(accounts::token(command)),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        }
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", said(e));
    ExitCode::FAILURE
}

/// An error and its causes, each once: many errors already end with their cause's words (sqlx's
/// "error communicating with database: Connection refused" over that same io error), which
/// anyhow's `{:#}` would print again.
fn said(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// How `sheetport import` ended: the import ran (to whatever end), or it was skipped because the
/// same content landed before (`--skip-if-imported`).
#[derive(Debug)]
pub enum Ended {
    Ran(Box<Progress>),
    Skipped(EarlierImport),
}

/// `sheetport import`: the summary line, and the exit code for how it ended.
async fn import_command(args: ImportArgs) -> ExitCode {
    let stops = args.on_error == OnError::Fail;
    match import(args).await {
        Ok(Ended::Skipped(earlier)) => {
            println!("skipped: this file was already {}; nothing was written", earlier.words());
            ExitCode::SUCCESS
        }
        Ok(Ended::Ran(p)) => {
            let p = *p;
            println!("{}", summary(&p));
            // A dry run reaches its review whatever the rule; under `fail`, a rejected row is the
            // import failing, as it would without --dry-run.
            let rejected = p.review.as_ref().map_or(0, |r| r.rejected);
            if stops && p.status == ImportStatus::Review && rejected > 0 {
                println!(
                    "with --on-error fail the import would write nothing while {} {} values {} columns cannot take \
                     (--errors FILE lists them); correct the file, or use --on-error skip",
                    format::plural(rejected as usize, "row", "rows"),
                    if rejected == 1 { "has" } else { "have" },
                    if rejected == 1 { "its" } else { "their" }
                );
                return ExitCode::FAILURE;
            }
            match p.status {
                ImportStatus::Succeeded | ImportStatus::Review => ExitCode::SUCCESS,
                ImportStatus::Cancelled => ExitCode::from(CANCELLED),
                _ => ExitCode::FAILURE,
            }
        }
        Err(e) => fail(&e),
    }
}

/// Runs the import to its end; `Ok` carries the final state, which may be a failure, or the
/// earlier import that made it skip. Ctrl-C or SIGTERM cancels it, and the database is left as it was.
pub async fn import(args: ImportArgs) -> anyhow::Result<Ended> {
    let path = args.file.canonicalize().map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file.display()))?;
    let bytes = std::fs::metadata(&path)?.len();
    let format = detect::detect(&path)?;
    let db = Db::connect(&args.database_url, &args.data_schema).await?;
    // The command line runs as the operator: every import in the database counts.
    let sha256 = if args.skip_if_imported {
        let file = path.clone();
        let sha256 = tokio::task::spawn_blocking(move || crate::uploads::file_sha256(&file))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        if let Some(earlier) = db::imports::landed_with(&db, &sha256, None).await? {
            return Ok(Ended::Skipped(earlier));
        }
        Some(sha256)
    } else {
        None
    };
    let limits = Limits {
        max_rows: args.max_rows,
        max_cell_bytes: args.max_cell_bytes,
        max_memory_mb: args.max_memory_mb,
        ..Limits::default()
    };
    // A replaced table is not kept: no server may be running to drop it once its time is up.
    let options = JobOptions {
        serve_queue: false,
        heartbeat_timeout: Config::default().heartbeat_timeout,
        limits,
        keep_replaced: std::time::Duration::ZERO,
        keep_review: Config::default().keep_review,
        max_queued_per_person: usize::MAX,
        max_stored_per_person: u64::MAX,
    };
    // Listening before the job starts, so a Ctrl-C at any moment after this is seen.
    let (mut interrupt, mut terminate) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    let mut mapping = Mapping {
        columns: args.columns,
        key: args.key,
        on_error: args.on_error,
        add_unique_index: args.add_unique_index,
    };
    mapping.columns.extend(args.skip_columns.into_iter().map(|source| ColumnChoice {
        source,
        skip: true,
        ..ColumnChoice::default()
    }));
    let jobs = Jobs::start(db.clone(), options, CancellationToken::new()).await?;
    let id = jobs
        .submit(NewImport {
            upload_id: None,
            file_name: path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned()),
            file_path: path.to_string_lossy().into_owned(),
            format,
            bytes,
            sheet: args.sheet,
            encoding: args.encoding,
            table: args.table,
            mode: args.mode,
            owner_id: None,
            header_row: args.header_row,
            stop_at_blank: args.stop_at_blank,
            mapping,
            review: args.dry_run,
            sha256,
        })
        .await?;
    if let Some(mut rx) = jobs.watch(&id).await? {
        let bar = Bar::new();
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = interrupt.recv() => jobs.cancel(&id).await.unwrap_or(()),
                _ = terminate.recv() => jobs.cancel(&id).await.unwrap_or(()),
                _ = ticker.tick() => bar.show(&rx.borrow().clone().at(db::now_ms())),
                changed = rx.changed() => if changed.is_err() || rx.borrow().status.is_final() { break },
            }
        }
        bar.0.finish_and_clear();
    }
    jobs.wait().await;
    let end = jobs.status(&id).await?.ok_or_else(|| anyhow::anyhow!("the import's record is gone"))?;
    if let Some(file) = &args.errors {
        write_errors(&db, &id, file).await?;
    }
    if end.status == ImportStatus::Review {
        // A dry run: what it would do is said (and written), then its staged rows go.
        let written = match &args.diff {
            Some(file) => write_diff(&db, &id, file).await,
            None => Ok(()),
        };
        jobs.discard(&id).await?;
        // What the run set aside is dropped now: this process is about to end.
        crate::import::review::take_out_trash(db.destination()).await?;
        written?;
    }
    Ok(Ended::Ran(Box::new(end)))
}

/// Writes the review's whole diff to `file` as CSV (see `reviews::diff_lines`).
async fn write_diff(db: &Db, id: &crate::model::ImportId, file: &std::path::Path) -> anyhow::Result<()> {
    use futures::StreamExt;
    use std::io::Write;
    let staged = crate::reviews::staged(db, id).await?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(file).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?,
    );
    let mut lines = crate::reviews::diff_lines(db, staged, ());
    while let Some(chunk) = lines.next().await {
        out.write_all(chunk?.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// Writes the import's error report to `file` as CSV, a page at a time (see `import::report`).
async fn write_errors(db: &Db, id: &crate::model::ImportId, file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(file).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?,
    );
    out.write_all(report::HEADER.as_bytes())?;
    let mut after = -1;
    loop {
        let page = db::errors::page(db, id, after, db::errors::MAX_PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        let mut text = String::new();
        page.iter().for_each(|(_, e)| report::write_line(&mut text, e));
        out.write_all(text.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The terminal's progress bar (hidden when stderr is not a terminal).
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("[{bar:30}] {percent:>3}% {human_pos}/{human_len} rows  {msg}")
            .map_or_else(|_| ProgressStyle::default_bar(), |s| s.progress_chars("#>."));
        bar.set_style(style);
        Self(bar)
    }

    fn show(&self, p: &Progress) {
        if let Some(total) = p.rows_total {
            self.0.set_length(total);
        }
        self.0.set_position(p.rows_done);
        let rate = p.rows_per_sec.map(format::rate).unwrap_or_default();
        let eta = p.eta_ms.map(|ms| format!("ETA {}", format::duration_ms(ms))).unwrap_or_default();
        self.0.set_message(format!("{rate}  {eta}"));
    }
}

/// The one line printed at the end.
pub fn summary(p: &Progress) -> String {
    match p.status {
        ImportStatus::Succeeded => format!(
            "imported {} into table {} in {:.2} s{}{}",
            format::plural(p.rows_done as usize, "row", "rows"),
            p.table,
            p.elapsed_ms as f64 / 1000.0,
            p.rows_per_sec.map(|r| format!(" ({})", format::rate(r))).unwrap_or_default(),
            p.counts.filter(|c| c.updated + c.unchanged + c.rejected > 0).map(counts).unwrap_or_default()
        ),
        ImportStatus::Cancelled => "import cancelled; the database is unchanged".into(),
        ImportStatus::Review => match &p.review {
            Some(r) => format!(
                "dry run: nothing was written; into table {} the import would add {}, change {}{}, leave {} as {}{}{}",
                p.table,
                format::plural(r.inserted as usize, "row", "rows"),
                format::plural(r.updated as usize, "row", "rows"),
                if r.changed.is_empty() {
                    String::new()
                } else {
                    let cols: Vec<String> = r.changed.iter().map(|c| format!("{} in {}", c.cells, c.column)).collect();
                    format!(" (cells changed: {})", cols.join(", "))
                },
                format::plural(r.unchanged as usize, "row", "rows"),
                if r.unchanged == 1 { "it is" } else { "they are" },
                if r.removed > 0 {
                    format!(", and remove the {} the table has now", format::plural(r.removed as usize, "row", "rows"))
                } else {
                    String::new()
                },
                if r.rejected > 0 {
                    format!("; {} would be left out", format::plural(r.rejected as usize, "row", "rows"))
                } else {
                    String::new()
                },
            ),
            None => "dry run: nothing was written".into(),
        },
        _ => format!("import failed: {}", p.error.as_deref().unwrap_or("unknown error")),
    }
}

/// What the rows did, when it is more than "inserted": `: 10 new, 5 updated, 3 unchanged, 2 rejected`.
fn counts(c: crate::model::Counts) -> String {
    format!(": {} new, {} updated, {} unchanged, {} rejected", c.inserted, c.updated, c.unchanged, c.rejected)
}

/// `sheetport profile FILE [--runs N] [--scratch DIR]`: the stage breakdown of
/// [`crate::import::profile`] as one JSON object.
fn profile(args: ProfileArgs) -> anyhow::Result<String> {
    let format = detect::detect(&args.file)?;
    let scratch = args.scratch.unwrap_or_else(std::env::temp_dir);
    let p = crate::import::profile::profile(&args.file, format, &scratch, args.runs)?;
    Ok(serde_json::to_string(&p)?)
}

#[cfg(test)]
mod tests {
    use super::said;

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = anyhow::Error::new(crate::db::DbError::Open(sqlx::Error::Io(io)));
        assert_eq!(said(&e), "cannot open the database: error communicating with database: Connection refused");
        let e = anyhow::Error::new(std::io::Error::other("disk on fire")).context("the file could not be read");
        assert_eq!(said(&e), "the file could not be read: disk on fire");
    }
}
