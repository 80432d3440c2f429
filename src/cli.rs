//! The command line: `claimtrail [serve|migrate|openapi|seed|generate|explain|keys create|export|import]`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::auth::{self, Scope};
use crate::config::{LogFormat, Settings};
use crate::db::write::{Actor, Change};
use crate::db::{Db, DbOptions, write_tx};
use crate::startup::{Application, openapi_document};
use crate::transfer::{History, Keys};

#[derive(Debug, Parser)]
#[command(name = "claimtrail", version, about = "Claims, their sources, and where they come from.")]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Load the seed data into the database (idempotent: records already
    /// there are left as they are).
    Seed {
        /// Load from this directory (laid out like `seeds/`) instead of the
        /// copy compiled into the binary.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Write the whole database as NDJSON (to stdout unless `--output`), for
    /// `claimtrail import` on another server or backend. API keys are left
    /// out unless `--with-keys`.
    Export {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Also export the API keys (their SHA-256 hashes, never the
        /// secrets), so that the same tokens work after the import. Keep
        /// such a file as safe as the database itself.
        #[arg(long)]
        with_keys: bool,
        /// Leave out the revisions: the current state only.
        #[arg(long)]
        without_history: bool,
    },
    /// Load an NDJSON export into the database in one transaction: all or
    /// nothing. Ids, versions and timestamps are kept; an id already stored
    /// is an error.
    Import {
        /// The file to read; `-` reads stdin.
        file: PathBuf,
        /// Check every line and report the bad ones, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fill the database with synthetic agents, sources and claims, for
    /// benchmarks (`--claims 1000000` takes minutes on SQLite).
    Generate {
        /// How many claims to make.
        #[arg(long)]
        claims: usize,
        /// Seed of the random generator: the same seed makes the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the query plan of a claim list, e.g.
    /// `claimtrail explain 'q=fuel&publisher_id=…&sort=relevance'`.
    Explain {
        /// The query string of `GET /v1/claims`, without the `?`.
        query: String,
    },
    /// Copy a SQLite database to FILE while the server runs: a consistent
    /// snapshot (`VACUUM INTO`), checked (integrity_check, foreign keys,
    /// records counted) before it gets its name. To restore, stop the
    /// server and put the copy in the database's place (see the README).
    Backup {
        /// Where to write the copy; it must not exist yet.
        file: PathBuf,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it; it is shown this once and stored only as a hash.
    Create {
        /// What the key is for, e.g. `newsroom-frontend`.
        #[arg(long)]
        name: String,
        /// What the key may do.
        #[arg(long, value_enum)]
        scope: Scope,
    },
    /// List the keys: id, scope, when made, last used and revoked; never a secret.
    List,
    /// Revoke a key: it is refused (401) from its next request on.
    Revoke {
        /// The key's id (`claimtrail keys list` shows it).
        id: String,
    },
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // The request middleware opens one span per request, holding its id,
    // method, route and status; closing it writes the request's log line,
    // and every event inside it carries its fields.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        // Colours only for a terminal: a log file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    init_logging(&settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped().await?;
            Ok(())
        }),
        Command::Migrate => {
            Db::connect(&settings.database_url, 1)?;
            println!("The database at {} is up to date.", settings.database_url);
            Ok(())
        }
        Command::Openapi => {
            println!("{}", openapi_document().to_pretty_json()?);
            Ok(())
        }
        Command::Seed { dir } => {
            let db = Db::connect(&settings.database_url, 2)?;
            let report = match dir {
                Some(dir) => crate::seed::load_dir(&db, &dir)?,
                None => crate::seed::load(&db)?,
            };
            println!("{report}");
            Ok(())
        }
        Command::Export { output, with_keys, without_history } => {
            let db = Db::connect(&settings.database_url, 1)?;
            let mut conn = db.get()?;
            let keys = if with_keys { Keys::Include } else { Keys::Leave };
            let history = if without_history { History::Leave } else { History::Include };
            let counts = match &output {
                Some(path) => {
                    let mut out = BufWriter::new(File::create(path)?);
                    crate::transfer::export(&mut conn, &mut out, keys, history)?
                }
                None => {
                    let mut out = BufWriter::new(std::io::stdout().lock());
                    crate::transfer::export(&mut conn, &mut out, keys, history)?
                }
            };
            eprintln!("Exported {counts}.");
            Ok(())
        }
        Command::Import { file, dry_run } => {
            let input: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(BufReader::new(File::open(&file)?))
            };
            let options = DbOptions { durability: settings.durability, ..DbOptions::new(1) };
            let db = Db::connect_with(&settings.database_url, &options)?;
            let mut conn = db.get()?;
            let report = crate::transfer::import(&mut conn, input, dry_run, Change::now(Actor::Import))?;
            let mut stderr = std::io::stderr().lock();
            for error in &report.errors {
                writeln!(stderr, "line {}: {}", error.line, error.message)?;
            }
            if report.errors_not_listed > 0 {
                writeln!(stderr, "... and {} more bad lines", report.errors_not_listed)?;
            }
            if !report.errors.is_empty() {
                anyhow::bail!("{} problems in {}; nothing was imported", report.error_count(), file.display());
            }
            if dry_run {
                println!("Dry run: every line is good; an import would write {}.", report.imported);
            } else {
                println!("Imported {}.", report.imported);
            }
            Ok(())
        }
        Command::Generate { claims, seed } => {
            let db = Db::connect(&settings.database_url, 1)?;
            let report = crate::generate::generate(&db, claims, seed)?;
            println!("{report}");
            Ok(())
        }
        Command::Explain { query } => {
            let db = Db::connect(&settings.database_url, 1)?;
            let query: crate::claims::model::ClaimQuery = serde_urlencoded::from_str(&query)?;
            let mut conn = db.get()?;
            for line in crate::claims::listing::explain(&mut conn, query)? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Backup { file } => {
            let report = crate::backup::backup(&settings.database_url, &file)?;
            println!("Backed up {} to {report}.", settings.database_url);
            Ok(())
        }
        Command::Keys { command } => keys(&settings, command),
    }
}

/// `claimtrail keys create|list|revoke`.
fn keys(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 1)?;
    let mut conn = db.get()?;
    match command {
        KeysCommand::Create { name, scope } => {
            let key = auth::create_key(&mut conn, &name, scope)?;
            eprintln!("Created key {} ({}, scope {}). It is shown only now:", key.id, name, scope.as_str());
            println!("{}", key.token);
        }
        KeysCommand::List => {
            println!("{:<14} {:<6} {:<20} {:<20} {:<20} name", "id", "scope", "created", "last used", "revoked");
            let mut cursor = None;
            loop {
                let page = auth::list_keys(&mut conn, cursor.as_deref(), 200)?;
                for key in &page.items {
                    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                        t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    };
                    println!(
                        "{:<14} {:<6} {:<20} {:<20} {:<20} {}",
                        key.id,
                        key.scope.as_str(),
                        at(Some(key.created_at)),
                        at(key.last_used_at),
                        at(key.revoked_at),
                        key.name
                    );
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        KeysCommand::Revoke { id } => {
            let key = write_tx(&mut conn, Change::now(Actor::Cli), |tx| auth::revoke_key(tx, &id))?;
            eprintln!("Revoked key {} ({}); it is refused from now on.", key.id, key.name);
        }
    }
    Ok(())
}
