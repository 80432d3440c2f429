//! Settings, read from command-line flags or `CLAIMTRAIL_*` environment
//! variables (flags win), with defaults that serve a local SQLite file.

use clap::{Args, ValueEnum};

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
    #[arg(long, env = "CLAIMTRAIL_REQUIRE_KEY_FOR_READS", global = true)]
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

    /// Do not load the seed data into an empty database at start.
    #[arg(long, env = "CLAIMTRAIL_NO_SEED", global = true)]
    pub no_seed: bool,

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
            no_seed: true,
            log: "warn".to_string(),
            log_format: LogFormat::Text,
            metrics: Default::default(),
        }
    }
}
