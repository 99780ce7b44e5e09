//! Configuration of `sheetport serve`, read once at start-up from command-line flags and
//! `SHEETPORT_*` environment variables (flags win, clap does both), with defaults that need
//! nothing set: 127.0.0.1:3000 and SQLite in ./data.

use crate::import::limits::{DEFAULT_MAX_CELL_BYTES, DEFAULT_MAX_MEMORY_MB, DEFAULT_MAX_ROWS, Limits};
use crate::server::client::Cidr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where sheetport keeps its database unless told otherwise.
pub const DEFAULT_DATABASE: &str = "sqlite://data/sheetport.db";
/// The PostgreSQL schema imports go into unless told otherwise.
pub const DEFAULT_DATA_SCHEMA: &str = "public";

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
    /// PostgreSQL: the schema imported tables go into (created if missing). sheetport's own tables
    /// are in the schema "sheetport", out of every import's reach. (SQLite keeps them in a file of
    /// their own beside the database file: sheetport.db → sheetport.state.db.)
    #[arg(long, env = "SHEETPORT_DATA_SCHEMA", default_value = DEFAULT_DATA_SCHEMA)]
    pub data_schema: String,
    /// Where uploaded files are stored (under uploads/).
    #[arg(long, env = "SHEETPORT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Largest file one upload may send, in bytes.
    #[arg(long, env = "SHEETPORT_MAX_UPLOAD_BYTES", default_value_t = 1 << 30)]
    pub max_upload_bytes: u64,
    /// Most memory, in MB, one import or preview may take to read an .xls or .xlsb workbook: those
    /// are read by a contained child process that dies past it (the other formats stream).
    #[arg(long, env = "SHEETPORT_MAX_MEMORY_MB", default_value_t = DEFAULT_MAX_MEMORY_MB)]
    pub max_memory_mb: u64,
    /// Most connections open at once (the next ones wait); lowered at start to what the
    /// open-file limit allows, which is raised to its hard limit first.
    #[arg(long, env = "SHEETPORT_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers.
    #[arg(long = "header-timeout", env = "SHEETPORT_HEADER_TIMEOUT", default_value = "30",
          value_name = "SECONDS", value_parser = seconds)]
    pub header_timeout: Duration,
    /// Seconds an upload may go without sending a byte before it is refused (408).
    #[arg(long = "body-idle-timeout", env = "SHEETPORT_BODY_IDLE_TIMEOUT", default_value = "60",
          value_name = "SECONDS", value_parser = seconds)]
    pub body_idle_timeout: Duration,
    /// Seconds one statement of a table view (a page, a search, a count) may run before it is
    /// stopped and the person told how to ask for less; a view whose client left stops at once.
    #[arg(long = "query-timeout", env = "SHEETPORT_QUERY_TIMEOUT", default_value = "10",
          value_name = "SECONDS", value_parser = seconds)]
    pub query_timeout: Duration,
    /// Uploads received at once; past it a request is refused (503) until one ends.
    #[arg(long, env = "SHEETPORT_MAX_CONCURRENT_UPLOADS", default_value_t = 32)]
    pub max_concurrent_uploads: usize,
    /// How many times its compressed size a part of a workbook (an .xlsx's sheet or shared strings,
    /// an .ods's content) may inflate to; past it the import is refused before a row is written.
    #[arg(long, env = "SHEETPORT_MAX_INFLATION_RATIO", default_value_t = crate::import::inflation::DEFAULT_MAX_RATIO)]
    pub max_inflation_ratio: u64,
    /// Bytes the parts of one workbook may inflate to in all.
    #[arg(long, env = "SHEETPORT_MAX_INFLATED_BYTES", default_value_t = crate::import::inflation::DEFAULT_MAX_BYTES)]
    pub max_inflated_bytes: u64,
    /// Imports one person may have waiting in the queue at once (the queue takes people in turn,
    /// so this bounds how long they keep the queue, not whose import goes next).
    #[arg(long, env = "SHEETPORT_MAX_QUEUED_IMPORTS_PER_PERSON", default_value_t = 10)]
    pub max_queued_imports_per_person: usize,
    /// Uploads one person may send at once (within --max-concurrent-uploads).
    #[arg(long, env = "SHEETPORT_MAX_UPLOADS_PER_PERSON", default_value_t = 4)]
    pub max_uploads_per_person: usize,
    /// Table views (pages, searches, counts) one person may have read at once; the others wait
    /// their turn or are refused in words.
    #[arg(long, env = "SHEETPORT_MAX_VIEWS_PER_PERSON", default_value_t = 2)]
    pub max_views_per_person: usize,
    /// How long a page past --max-views-per-person waits for one of its asker's own to finish
    /// before it is refused (not a flag: tests shorten it).
    #[arg(skip = VIEW_WAIT)]
    pub view_wait: Duration,
    /// Exports (CSV downloads) one person may have running at once (the server runs 2 at once).
    #[arg(long, env = "SHEETPORT_MAX_EXPORTS_PER_PERSON", default_value_t = 1)]
    pub max_exports_per_person: usize,
    /// Most bytes one account's stored files and the tables its replaces keep for an undo may
    /// take together (within --max-stored-bytes); past it its uploads and replaces are refused.
    #[arg(long, env = "SHEETPORT_MAX_STORED_BYTES_PER_PERSON", default_value_t = DEFAULT_MAX_STORED_BYTES_PER_PERSON)]
    pub max_stored_bytes_per_person: u64,
    /// Most data rows one import may write.
    #[arg(long, env = "SHEETPORT_MAX_ROWS", default_value_t = DEFAULT_MAX_ROWS)]
    pub max_rows: u64,
    /// Most bytes of text one cell may hold.
    #[arg(long, env = "SHEETPORT_MAX_CELL_BYTES", default_value_t = DEFAULT_MAX_CELL_BYTES)]
    pub max_cell_bytes: usize,
    /// How long a stored file is kept after its last import ended (for another look or a re-run),
    /// as 90s, 30m, 24h or 7d; it is deleted after that.
    #[arg(long, env = "SHEETPORT_KEEP_UPLOADS", default_value = "24h", value_name = "SPAN", value_parser = span)]
    pub keep_uploads: Duration,
    /// How long a stored file that no import used is kept (a preview someone left), as 90s, 30m,
    /// 24h or 7d.
    #[arg(long, env = "SHEETPORT_KEEP_UNIMPORTED", default_value = "24h", value_name = "SPAN", value_parser = span)]
    pub keep_unimported: Duration,
    /// How long the table a replace took the place of, and the earlier values of the rows an upsert
    /// changed, are kept, so the import can be undone, as 90s, 30m, 24h or 7d; 0 keeps none (such an
    /// import then cannot be undone).
    #[arg(long, env = "SHEETPORT_KEEP_REPLACED", default_value = "24h", value_name = "SPAN", value_parser = span_or_none)]
    pub keep_replaced: Duration,
    /// How long an import waiting in review keeps its staged rows for a person to commit them, as
    /// 90s, 30m, 24h or 7d; after that the review ends and nothing is written.
    #[arg(long, env = "SHEETPORT_KEEP_REVIEW", default_value = "24h", value_name = "SPAN", value_parser = span)]
    pub keep_review: Duration,
    /// Most bytes all stored files and the tables replaces keep for an undo may take together;
    /// past it an upload is refused (507) until older ones are deleted.
    #[arg(long, env = "SHEETPORT_MAX_STORED_BYTES", default_value_t = DEFAULT_MAX_STORED_BYTES)]
    pub max_stored_bytes: u64,
    /// Seconds a running job's instance may stay silent before another instance declares it
    /// dead and runs the job again (PostgreSQL deployments; a lone SQLite server re-runs at start).
    #[arg(long = "heartbeat-timeout", env = "SHEETPORT_HEARTBEAT_TIMEOUT", default_value = "15",
          value_name = "SECONDS", value_parser = seconds)]
    pub heartbeat_timeout: Duration,
    /// Run without accounts even on an address beyond this machine: anyone who can reach the
    /// server may read, import, replace and cancel anything. (On a loopback address the server runs
    /// without accounts until the first one is made with `sheetport user add NAME --admin`.)
    #[arg(long, env = "SHEETPORT_NO_AUTH")]
    pub no_auth: bool,
    /// The address people open sheetport at, such as https://sheets.example.com (several: repeat
    /// the flag or separate with commas). Requests must name this host (or a loopback name or an IP
    /// address), which stops DNS rebinding; sign-in cookies are Secure when it is https.
    #[arg(long = "public-url", env = "SHEETPORT_PUBLIC_URL", value_delimiter = ',', value_name = "URL",
          value_parser = PublicUrl::parse)]
    pub public_urls: Vec<PublicUrl>,
    /// Who may read an imported table: every signed-in person (all), or only its owner, the people
    /// its owner gave write access and admins (owner).
    #[arg(long, env = "SHEETPORT_TABLE_READERS", value_enum, default_value_t = TableReaders::All)]
    pub table_readers: TableReaders,
    /// A reverse proxy in front of this server (an address or a range such as 10.0.0.0/8; repeat
    /// the flag or separate with commas). Only from these are X-Forwarded-For and
    /// X-Forwarded-Proto believed: the client is then the address the proxy forwarded (for the
    /// audit log, the sign-in waits and the per-address connection cap), and sign-in cookies are
    /// Secure when it says https. Its own connections are not capped per address.
    #[arg(long = "trusted-proxy", env = "SHEETPORT_TRUSTED_PROXY", value_delimiter = ',', value_name = "CIDR",
          value_parser = Cidr::parse)]
    pub trusted_proxies: Vec<Cidr>,
    /// Connections one address (an IPv6 /64) may hold open at once; past it the next are closed at
    /// once. A browser holds at most six; a trusted proxy's are not counted.
    #[arg(long, env = "SHEETPORT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,
    /// How long a sign-in lasts unused, as 90s, 30m, 24h or 7d (each use extends it).
    #[arg(long, env = "SHEETPORT_SESSION_LIFETIME", default_value = "7d", value_name = "SPAN", value_parser = span)]
    pub session_lifetime: Duration,
}

/// Who may read an imported table (`--table-readers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TableReaders {
    #[default]
    All,
    Owner,
}

/// One `--public-url`: the origin a browser sends from it and the host name requests carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https`.
    pub secure: bool,
    /// `scheme://host[:port]`, lowercase, as browsers send it in `Origin`.
    pub origin: String,
    /// The host name alone, lowercase (an IPv6 address in brackets).
    pub host: String,
}

impl PublicUrl {
    /// `http(s)://host[:port][/path]`; the path is ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a URL such as https://sheets.example.com");
        let lower = text.trim().to_ascii_lowercase();
        let (scheme, rest) = lower.split_once("://").ok_or_else(bad)?;
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let host = host_name(authority).to_owned();
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self { secure: scheme == "https", origin: format!("{scheme}://{authority}"), host })
    }
}

/// The host name of an authority (`host[:port]`): `[::1]:3000` → `[::1]`, `a.example:80` → `a.example`.
pub fn host_name(authority: &str) -> &str {
    if authority.starts_with('[') {
        authority.find(']').map_or(authority, |i| &authority[..=i])
    } else {
        authority.split(':').next().unwrap_or("")
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: DEFAULT_DATABASE.into(),
            data_schema: DEFAULT_DATA_SCHEMA.into(),
            data_dir: PathBuf::from("data"),
            max_upload_bytes: 1 << 30,
            max_memory_mb: DEFAULT_MAX_MEMORY_MB,
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            max_connections_per_address: 256,
            query_timeout: crate::db::reads::QUERY_TIMEOUT,
            body_idle_timeout: Duration::from_secs(60),
            max_concurrent_uploads: 32,
            max_inflation_ratio: crate::import::inflation::DEFAULT_MAX_RATIO,
            max_inflated_bytes: crate::import::inflation::DEFAULT_MAX_BYTES,
            max_queued_imports_per_person: 10,
            max_uploads_per_person: 4,
            max_views_per_person: 2,
            view_wait: VIEW_WAIT,
            max_exports_per_person: 1,
            max_stored_bytes_per_person: DEFAULT_MAX_STORED_BYTES_PER_PERSON,
            max_rows: DEFAULT_MAX_ROWS,
            max_cell_bytes: DEFAULT_MAX_CELL_BYTES,
            heartbeat_timeout: Duration::from_secs(15),
            keep_uploads: Duration::from_secs(24 * 3600),
            keep_unimported: Duration::from_secs(24 * 3600),
            keep_replaced: Duration::from_secs(24 * 3600),
            keep_review: Duration::from_secs(24 * 3600),
            max_stored_bytes: DEFAULT_MAX_STORED_BYTES,
            no_auth: false,
            public_urls: Vec::new(),
            table_readers: TableReaders::All,
            session_lifetime: Duration::from_secs(7 * 86_400),
        }
    }
}

impl Config {
    /// The bounds every import and preview of this server reads within.
    pub fn limits(&self) -> Limits {
        Limits {
            max_rows: self.max_rows,
            max_cell_bytes: self.max_cell_bytes,
            max_memory_mb: self.max_memory_mb,
            max_inflation_ratio: self.max_inflation_ratio,
            max_inflated_bytes: self.max_inflated_bytes,
        }
    }

    /// Where uploaded files are stored.
    pub fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
}

/// Stored files, all together: ten uploads of the largest size (1 GiB each by default).
pub const DEFAULT_MAX_STORED_BYTES: u64 = 10 << 30;
/// A person's page waits this long for one of their own pages before it is refused: a search typed
/// quickly asks for several pages in a row, each ending the one before.
pub const VIEW_WAIT: Duration = Duration::from_secs(2);
/// One person's stored files and kept tables: four uploads of the largest size.
pub const DEFAULT_MAX_STORED_BYTES_PER_PERSON: u64 = 4 << 30;

/// A span of time: a number with `s`, `m`, `h` or `d` (seconds without one), at least a second.
/// A [`span`], or 0 for none.
fn span_or_none(text: &str) -> Result<Duration, String> {
    if text.trim().trim_end_matches(['s', 'S']).trim().parse::<f64>() == Ok(0.0) {
        Ok(Duration::ZERO)
    } else {
        span(text)
    }
}

fn span(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_lowercase()),
        _ => (t, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        _ => f64::NAN,
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| *s >= 1.0 && *s <= 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a span of time such as 90s, 30m, 24h or 7d"))
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
        let c = Serve::try_parse_from(["serve", "--keep-uploads", "7d", "--keep-unimported", "90"]).expect("valid");
        assert_eq!(c.config.keep_uploads, Duration::from_secs(7 * 86_400));
        assert_eq!(c.config.keep_unimported, Duration::from_secs(90));
        assert_eq!(span("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(span("soon").is_err() && span("3w").is_err() && span("0s").is_err());
        assert_eq!(c.config.keep_replaced, Duration::from_secs(24 * 3600));
        let c = Serve::try_parse_from(["serve", "--keep-replaced", "0"]).expect("valid");
        assert_eq!(c.config.keep_replaced, Duration::ZERO);
        assert_eq!(span_or_none("30m"), Ok(Duration::from_secs(1800)));
        assert!(span_or_none("-1").is_err());
    }

    #[test]
    fn public_urls_give_an_origin_and_a_host() {
        let c = Serve::try_parse_from(["serve", "--public-url", "https://Sheets.Example.com/app,http://[::1]:8080"])
            .expect("valid");
        let [a, b] = c.config.public_urls.as_slice() else { panic!("two URLs") };
        assert_eq!(
            (a.secure, a.origin.as_str(), a.host.as_str()),
            (true, "https://sheets.example.com", "sheets.example.com")
        );
        assert_eq!((b.secure, b.origin.as_str(), b.host.as_str()), (false, "http://[::1]:8080", "[::1]"));
        for bad in ["sheets.example.com", "ftp://x", "https://", "https://user@x"] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(host_name("a.example:80"), "a.example");
    }
}
