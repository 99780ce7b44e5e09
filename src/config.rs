//! Configuration of `sheetport serve`, read once at start-up from command-line flags and
//! `SHEETPORT_*` environment variables (flags win, clap does both), with defaults that need
//! nothing set: 127.0.0.1:3000 and SQLite in ./data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where sheetport keeps its database unless told otherwise.
pub const DEFAULT_DATABASE: &str = "sqlite://data/sheetport.db";

/// Everything `sheetport serve` needs to know.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "SHEETPORT_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// sqlite://path/to/file.db or postgres://user:password@host:5432/database (several
    /// instances can then share it, and one --data-dir on a shared volume).
    #[arg(long = "database", env = "SHEETPORT_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database_url: String,
    /// Where uploaded files are stored (under uploads/).
    #[arg(long, env = "SHEETPORT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Largest file one upload may send, in bytes.
    #[arg(long, env = "SHEETPORT_MAX_UPLOAD_BYTES", default_value_t = 1 << 30)]
    pub max_upload_bytes: u64,
    /// Seconds a running job's instance may stay silent before another instance declares it
    /// dead and runs the job again (PostgreSQL deployments; a lone SQLite server re-runs at start).
    #[arg(long = "heartbeat-timeout", env = "SHEETPORT_HEARTBEAT_TIMEOUT", default_value = "15",
          value_name = "SECONDS", value_parser = seconds)]
    pub heartbeat_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: DEFAULT_DATABASE.into(),
            data_dir: PathBuf::from("data"),
            max_upload_bytes: 1 << 30,
            heartbeat_timeout: Duration::from_secs(15),
        }
    }
}

impl Config {
    /// Where uploaded files are stored.
    pub fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
}

/// A number of seconds, at least half of one.
fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.5 && s.is_finite())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a number of seconds ≥ 0.5"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn flags_override_defaults_and_bad_values_are_refused() {
        let c = Serve::try_parse_from(["serve", "--addr", "0.0.0.0:8080", "--max-upload-bytes=42"]).expect("valid");
        assert_eq!(c.config.addr.port(), 8080);
        assert_eq!(c.config.max_upload_bytes, 42);
        assert_eq!(c.config.heartbeat_timeout, Duration::from_secs(15));
        assert!(Serve::try_parse_from(["serve", "--nope", "1"]).is_err());
        assert!(Serve::try_parse_from(["serve", "--addr"]).is_err());
        assert!(Serve::try_parse_from(["serve", "--heartbeat-timeout", "0.1"]).is_err());
    }
}
