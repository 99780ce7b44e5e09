//! Configuration, read once at start-up from command-line flags and `SHEETPORT_*` environment
//! variables (flags win), with defaults that need nothing set: 127.0.0.1:3000 and SQLite in ./data.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `sheetport serve` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub max_upload_bytes: u64,
    /// How long a running job's instance may stay silent before another instance declares it
    /// dead and runs the job again (PostgreSQL deployments; a lone SQLite server re-runs at start).
    pub heartbeat_timeout: std::time::Duration,
}

/// A flag or variable that could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: "sqlite://data/sheetport.db".into(),
            data_dir: PathBuf::from("data"),
            max_upload_bytes: 1 << 30,
            heartbeat_timeout: std::time::Duration::from_secs(15),
        }
    }
}

impl Config {
    /// Defaults, overridden by the environment, overridden by `--flag value` pairs in `args`.
    pub fn from_env_and_args(args: &[String]) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut set = |key: &str, value: String| -> Result<(), ConfigError> {
            match key {
                "addr" => {
                    c.addr = value.parse().map_err(|_| ConfigError(format!("--addr {value:?} is not HOST:PORT")))?
                }
                "database" => c.database_url = value,
                "data-dir" => c.data_dir = PathBuf::from(value),
                "max-upload-bytes" => {
                    c.max_upload_bytes = value
                        .parse()
                        .map_err(|_| ConfigError(format!("--max-upload-bytes {value:?} is not a number")))?
                }
                "heartbeat-timeout" => {
                    let secs: f64 =
                        value.parse().ok().filter(|s: &f64| *s >= 0.5 && s.is_finite()).ok_or_else(|| {
                            ConfigError(format!("--heartbeat-timeout {value:?} is not a number of seconds ≥ 0.5"))
                        })?;
                    c.heartbeat_timeout = std::time::Duration::from_secs_f64(secs)
                }
                other => return Err(ConfigError(format!("unknown option --{other}; see `sheetport --help`"))),
            }
            Ok(())
        };
        for (key, var) in [
            ("addr", "SHEETPORT_ADDR"),
            ("database", "SHEETPORT_DATABASE_URL"),
            ("data-dir", "SHEETPORT_DATA_DIR"),
            ("max-upload-bytes", "SHEETPORT_MAX_UPLOAD_BYTES"),
            ("heartbeat-timeout", "SHEETPORT_HEARTBEAT_TIMEOUT"),
        ] {
            if let Some(v) = env(var) {
                set(key, v)?;
            }
        }
        for (key, value) in flag_pairs(args)? {
            set(&key, value)?;
        }
        Ok(c)
    }

    /// Where uploaded files are stored.
    pub fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
}

/// `--key value` and `--key=value` pairs; anything else is an error.
pub fn flag_pairs(args: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(ConfigError(format!("unexpected argument {arg:?}; see `sheetport --help`")));
        };
        match flag.split_once('=') {
            Some((k, v)) => out.push((k.to_owned(), v.to_owned())),
            None => {
                let v = it.next().ok_or_else(|| ConfigError(format!("--{flag} needs a value")))?;
                out.push((flag.to_owned(), v.clone()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let args: Vec<String> =
            ["--addr", "0.0.0.0:8080", "--max-upload-bytes=42"].iter().map(|s| s.to_string()).collect();
        let c = Config::from_env_and_args(&args).expect("valid flags");
        assert_eq!(c.addr.port(), 8080);
        assert_eq!(c.max_upload_bytes, 42);
        assert!(Config::from_env_and_args(&["--nope".into(), "1".into()]).is_err());
        assert!(Config::from_env_and_args(&["--addr".into()]).is_err());
    }
}
