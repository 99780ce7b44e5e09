//! `sheetport import FILE`: the server's engine and job record without HTTP. Draws a progress bar
//! on stderr when it is a terminal, prints one summary line, and exits non-zero with the reason
//! when the import fails. Ctrl-C cancels cleanly (the database is left as it was).

use crate::config::{ConfigError, flag_pairs};
use crate::db::Db;
use crate::format;
use crate::import::detect;
use crate::jobs::{JobOptions, Jobs, NewImport};
use crate::model::{ImportMode, ImportStatus, Progress};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What `sheetport import` was asked to do.
#[derive(Debug)]
pub struct ImportArgs {
    pub file: PathBuf,
    pub database_url: String,
    pub table: Option<String>,
    pub sheet: Option<String>,
    pub mode: ImportMode,
}

impl ImportArgs {
    pub fn parse(args: &[String]) -> Result<Self, ConfigError> {
        let (file, rest) =
            args.split_first().ok_or_else(|| ConfigError("usage: sheetport import FILE [--table NAME] ...".into()))?;
        let mut out = ImportArgs {
            file: PathBuf::from(file),
            database_url: std::env::var("SHEETPORT_DATABASE_URL")
                .unwrap_or_else(|_| "sqlite://data/sheetport.db".into()),
            table: None,
            sheet: None,
            mode: ImportMode::Create,
        };
        for (k, v) in flag_pairs(rest)? {
            match k.as_str() {
                "database" => out.database_url = v,
                "table" => out.table = Some(v),
                "sheet" => out.sheet = Some(v),
                "mode" => {
                    out.mode = ImportMode::parse(&v)
                        .ok_or_else(|| ConfigError(format!("--mode {v:?} is not one of create, append, replace")))?
                }
                other => return Err(ConfigError(format!("unknown option --{other} for import"))),
            }
        }
        Ok(out)
    }
}

/// Runs the import to its end; `Ok` carries the final state, which may be a failure.
pub async fn import(args: ImportArgs) -> anyhow::Result<Progress> {
    let path = args.file.canonicalize().map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file.display()))?;
    let bytes = std::fs::metadata(&path)?.len();
    let format = detect::detect(&path)?;
    let db = Db::connect(&args.database_url).await?;
    let options =
        JobOptions { serve_queue: false, heartbeat_timeout: crate::config::Config::default().heartbeat_timeout };
    let jobs = Jobs::start(db, options, CancellationToken::new()).await?;
    let id = jobs
        .submit(NewImport {
            upload_id: None,
            file_name: path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned()),
            file_path: path.to_string_lossy().into_owned(),
            format: format.as_str().to_owned(),
            bytes,
            sheet: args.sheet,
            table: args.table,
            mode: args.mode,
        })
        .await?;
    if let Some(mut rx) = jobs.watch(&id).await? {
        let bar = std::io::stderr().is_terminal();
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => { let _ = jobs.cancel(&id).await; }
                _ = ticker.tick() => {
                    if bar {
                        draw(&rx.borrow().clone().at(crate::db::now_ms()));
                    }
                }
                changed = rx.changed() => if changed.is_err() || rx.borrow().status.is_final() { break },
            }
        }
        if bar {
            eprint!("\r\x1b[2K");
        }
    }
    jobs.wait().await;
    jobs.status(&id).await?.ok_or_else(|| anyhow::anyhow!("the import's record is gone"))
}

fn draw(p: &Progress) {
    const WIDTH: usize = 30;
    let fraction = p.fraction().unwrap_or(0.0);
    let filled = (fraction * WIDTH as f64).round() as usize;
    let total = p.rows_total.map_or_else(|| "?".into(), format::count);
    let rate = p.rows_per_sec.map(format::rate).unwrap_or_default();
    let eta = p.eta_ms.map(|ms| format!("ETA {}", format::duration_ms(ms))).unwrap_or_default();
    eprint!(
        "\r\x1b[2K[{}{}] {:>6} {} / {} rows  {}  {}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        format::percent(fraction),
        format::count(p.rows_done),
        total,
        rate,
        eta
    );
    let _ = std::io::stderr().flush();
}

/// The one line printed at the end.
pub fn summary(p: &Progress) -> String {
    match p.status {
        ImportStatus::Succeeded => format!(
            "imported {} rows into table {} in {:.2} s{}",
            p.rows_done,
            p.table,
            p.elapsed_ms as f64 / 1000.0,
            p.rows_per_sec.map(|r| format!(" ({})", format::rate(r))).unwrap_or_default()
        ),
        ImportStatus::Cancelled => "import cancelled; the database is unchanged".into(),
        _ => format!("import failed: {}", p.error.as_deref().unwrap_or("unknown error")),
    }
}

/// `sheetport profile FILE [--runs N] [--scratch DIR]`: the stage breakdown of
/// [`crate::import::profile`] as one JSON object on stdout (the benchmark harness reads it).
pub fn profile(args: &[String]) -> anyhow::Result<String> {
    let (file, rest) =
        args.split_first().ok_or_else(|| ConfigError("usage: sheetport profile FILE [--runs N]".into()))?;
    let (mut runs, mut scratch) = (3usize, std::env::temp_dir());
    for (k, v) in flag_pairs(rest)? {
        match k.as_str() {
            "runs" => runs = v.parse().map_err(|_| ConfigError(format!("--runs {v:?} is not a number")))?,
            "scratch" => scratch = PathBuf::from(v),
            other => return Err(ConfigError(format!("unknown option --{other} for profile")).into()),
        }
    }
    let path = PathBuf::from(file);
    let format = detect::detect(&path)?;
    let p = crate::import::profile::profile(&path, format, &scratch, runs)?;
    Ok(serde_json::to_string(&p)?)
}
