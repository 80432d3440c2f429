//! Settings, read from command-line flags or `CLAIMTRAIL_*` environment
//! variables (flags win), with defaults that serve a local SQLite file.

use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

use crate::db::{DbOptions, Durability};
use crate::limits::{Limit, Rate};

/// Every setting of the server and the CLI.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Database: a SQLite file path, or a `postgres://` URL.
    #[arg(long, env = "CLAIMTRAIL_DATABASE_URL", default_value = "claimtrail.db", global = true)]
    pub database_url: String,

    /// Address to listen on.
    #[arg(long, env = "CLAIMTRAIL_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: String,

    /// Maximum number of pooled database connections.
    #[arg(long, env = "CLAIMTRAIL_POOL_SIZE", default_value_t = 8, global = true)]
    pub pool_size: u32,

    /// Number of HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "CLAIMTRAIL_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Require an API key (scope `read` or more) for reads too.
    #[arg(long, env = "CLAIMTRAIL_REQUIRE_KEY_FOR_READS", global = true, action = ArgAction::Set,
        num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true",
        value_parser = boolean("CLAIMTRAIL_REQUIRE_KEY_FOR_READS"))]
    pub require_key_for_reads: bool,

    /// Browser origins allowed to call the API (comma-separated, or `*`).
    #[arg(long, env = "CLAIMTRAIL_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "CLAIMTRAIL_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Largest accepted import body (`POST /v1/import`), in bytes.
    #[arg(long, env = "CLAIMTRAIL_MAX_IMPORT_BYTES", default_value_t = 256 * 1024 * 1024, global = true)]
    pub max_import_bytes: usize,

    /// How long the answer to a POST with an `Idempotency-Key` is kept for
    /// replays, in hours.
    #[arg(long, env = "CLAIMTRAIL_IDEMPOTENCY_HOURS", default_value_t = 24, global = true)]
    pub idempotency_hours: u64,

    /// Do not load the seed data into an empty database at start.
    #[arg(long, env = "CLAIMTRAIL_NO_SEED", global = true, action = ArgAction::Set,
        num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true",
        value_parser = boolean("CLAIMTRAIL_NO_SEED"))]
    pub no_seed: bool,

    /// How long a request waits for a free database connection before a 503.
    #[arg(long, env = "CLAIMTRAIL_DB_ACQUIRE_TIMEOUT", default_value = "10s", value_parser = duration, global = true)]
    pub db_acquire_timeout: Duration,

    /// How long `/readyz` waits for the database before its 503.
    #[arg(long, env = "CLAIMTRAIL_DB_HEALTH_TIMEOUT", default_value = "500ms", value_parser = duration, global = true)]
    pub db_health_timeout: Duration,

    /// After a failed connection attempt, how long requests are answered
    /// 503 with `Retry-After` at once, before one may try the database again.
    #[arg(long, env = "CLAIMTRAIL_DB_RETRY_AFTER", default_value = "2s", value_parser = duration, global = true)]
    pub db_retry_after: Duration,

    /// A pooled connection is checked (`SELECT 1`) before it is lent unless
    /// its last use succeeded within this long (`0s`: check every time).
    #[arg(long, env = "CLAIMTRAIL_DB_CHECK_AFTER_IDLE", default_value = "1s", value_parser = duration, global = true)]
    pub db_check_after_idle: Duration,

    /// The longest one database statement of a request may run (`0s`: no limit).
    #[arg(long, env = "CLAIMTRAIL_STATEMENT_TIMEOUT", default_value = "5s", value_parser = duration, global = true)]
    pub statement_timeout: Duration,

    /// What a commit survives: `normal` (a crash of the process) or `full`
    /// (power loss too, at an fsync per commit).
    #[arg(long, env = "CLAIMTRAIL_DURABILITY", value_enum, default_value_t = Durability::Normal, global = true)]
    pub durability: Durability,

    /// How much of a SQLite database file each connection reads through a
    /// memory map, in MiB (`0`: none; SQLite then reads pages with `read()`
    /// into its own cache). Mapped pages are the OS's file cache, shared
    /// by all connections, but they count in the server's resident memory
    /// (RSS) once read. At most 2047 (SQLite's limit).
    #[arg(long, env = "CLAIMTRAIL_SQLITE_MMAP_MIB", default_value_t = crate::db::DEFAULT_MMAP_MIB, global = true)]
    pub sqlite_mmap_mib: u64,

    /// How many MiB of claim cards the server keeps as the JSON it sent
    /// (`0`: none). A kept card is sent again only while its claim's
    /// version is the one it was made at, read from the database on each
    /// request, so a write by any process is seen as soon as it commits.
    #[arg(long, env = "CLAIMTRAIL_CARD_CACHE_MIB", default_value_t = DEFAULT_CARD_CACHE_MIB, global = true)]
    pub card_cache_mib: u64,

    /// SQLite: terms in at least this many claims have their posting lists
    /// stored in the database (`0`: none), so that the first search by
    /// relevance of two such words on a server is ranked from them instead
    /// of by FTS5. A server stores those missing or out of date when it
    /// starts, in the background, and those it reads for searches. A much
    /// lower value stores many more lists (`1`: one per term).
    #[arg(long, env = "CLAIMTRAIL_STORED_LISTS_MIN_CLAIMS", default_value_t = DEFAULT_STORED_LISTS_MIN_CLAIMS, global = true)]
    pub stored_lists_min_claims: u64,

    /// Requests per key (or client address, without a key) and window,
    /// e.g. `3000/1m`; `off`; `auto` is off on a loopback address, else 3000/1m.
    #[arg(long, env = "CLAIMTRAIL_RATE_LIMIT", default_value = "auto", global = true)]
    pub rate_limit: Limit<Rate>,

    /// Requests in flight at once per key (or client address); `off`;
    /// `auto` is off on a loopback address, else 16.
    #[arg(long, env = "CLAIMTRAIL_CONCURRENCY_LIMIT", default_value = "auto", global = true)]
    pub concurrency_limit: Limit<u32>,

    /// Log filter, in `tracing` `EnvFilter` syntax.
    #[arg(long, env = "CLAIMTRAIL_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "CLAIMTRAIL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Where Prometheus metrics are served, if anywhere.
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsSettings,
}

/// The claim cards a server keeps by default, in MiB (see
/// `card::cache`): at 3 to 4 kB a card, some 8,000 to 10,000 cards.
pub const DEFAULT_CARD_CACHE_MIB: u64 = 32;

/// Claims a term is in, at least, for its posting list to be stored: the
/// first search of two words each in fewer claims took FTS5 at most
/// 16.5 ms at a million claims, of two words each in about 50,000 up to
/// 70 ms (README, "Posting lists stored in the database").
pub const DEFAULT_STORED_LISTS_MIN_CLAIMS: u64 = 20_000;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` fields, for people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Settings {
    /// The settings a test or tool gets without flags or environment.
    pub fn for_database(database_url: impl Into<String>) -> Settings {
        Settings {
            database_url: database_url.into(),
            bind: "127.0.0.1:0".to_string(),
            pool_size: 8,
            workers: Some(2),
            require_key_for_reads: false,
            cors_origins: Vec::new(),
            max_body_bytes: 2 * 1024 * 1024,
            max_import_bytes: 256 * 1024 * 1024,
            idempotency_hours: 24,
            no_seed: true,
            db_acquire_timeout: Duration::from_secs(10),
            db_health_timeout: Duration::from_millis(500),
            db_retry_after: Duration::from_secs(2),
            db_check_after_idle: crate::db::DEFAULT_CHECK_AFTER_IDLE,
            statement_timeout: Duration::from_secs(5),
            durability: Durability::Normal,
            sqlite_mmap_mib: crate::db::DEFAULT_MMAP_MIB,
            card_cache_mib: DEFAULT_CARD_CACHE_MIB,
            stored_lists_min_claims: DEFAULT_STORED_LISTS_MIN_CLAIMS,
            rate_limit: Limit::Auto,
            concurrency_limit: Limit::Auto,
            log: "warn".to_string(),
            log_format: LogFormat::Text,
            metrics: Default::default(),
        }
    }

    /// The server's pool, as these settings say.
    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            pool_size: self.pool_size,
            acquire_timeout: self.db_acquire_timeout,
            health_timeout: self.db_health_timeout,
            retry_after: self.db_retry_after,
            statement_timeout: Some(self.statement_timeout).filter(|t| !t.is_zero()),
            durability: self.durability,
            mmap_mib: self.sqlite_mmap_mib,
            check_after_idle: self.db_check_after_idle,
            stored_lists_min_claims: self.stored_lists_min_claims,
        }
    }
}

/// The words operators write for on and off, in any case.
pub fn parse_boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A boolean setting's parser; its error names the variable and the words
/// it takes.
fn boolean(variable: &'static str) -> impl Fn(&str) -> Result<bool, String> + Clone + Send + Sync + 'static {
    move |value| {
        parse_boolean(value).ok_or_else(|| {
            format!("{variable} must be one of 1/0, true/false, yes/no, on/off (any case), not `{value}`")
        })
    }
}

/// A duration such as `500ms`, `5s`, `2m`.
fn duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value.trim())
        .map_err(|e| format!("`{value}` is not a duration such as 500ms, 5s or 2m: {e}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn booleans_take_the_words_operators_write() {
        for word in ["1", "true", "TRUE", "yes", "Yes", "on", "ON"] {
            assert_eq!(parse_boolean(word), Some(true), "{word}");
        }
        for word in ["0", "false", "False", "no", "NO", "off", "Off"] {
            assert_eq!(parse_boolean(word), Some(false), "{word}");
        }
        for word in ["", "2", "set", "enabled", "y", "t"] {
            assert_eq!(parse_boolean(word), None, "{word}");
        }
    }

    #[test]
    fn a_bare_flag_is_true_and_a_flag_with_a_word_is_that_word() {
        let parsed = Cli::try_parse_from(["claimtrail", "--require-key-for-reads", "--no-seed=off"]).expect("parses");
        assert!(parsed.settings.require_key_for_reads);
        assert!(!parsed.settings.no_seed);
        let parsed = Cli::try_parse_from(["claimtrail"]).expect("parses");
        assert!(!parsed.settings.require_key_for_reads);
    }

    #[test]
    fn a_bad_boolean_names_the_variable_and_the_accepted_words() {
        let error = Cli::try_parse_from(["claimtrail", "--no-seed=maybe"]).expect_err("refused").to_string();
        assert!(error.contains("CLAIMTRAIL_NO_SEED"), "{error}");
        assert!(error.contains("1/0, true/false, yes/no, on/off"), "{error}");
    }

    #[test]
    fn durations_and_limits_parse() {
        let parsed = Cli::try_parse_from([
            "claimtrail",
            "--statement-timeout=250ms",
            "--rate-limit=10/1s",
            "--concurrency-limit=off",
        ])
        .expect("parses");
        assert_eq!(parsed.settings.statement_timeout, Duration::from_millis(250));
        assert_eq!(parsed.settings.rate_limit, Limit::Set(Rate { requests: 10, window: Duration::from_secs(1) }));
        assert_eq!(parsed.settings.concurrency_limit, Limit::Off);
        assert!(Cli::try_parse_from(["claimtrail", "--statement-timeout=5"]).is_err());
        assert!(Cli::try_parse_from(["claimtrail", "--rate-limit=0/1s"]).is_err());
    }
}
