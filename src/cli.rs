//! The command line: `claimtrail [serve|migrate|openapi|seed|generate|explain|keys create|export|import]`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::prelude::*;

use crate::auth::{self, Scope};
use crate::config::Settings;
use crate::db::write::{Actor, Change, StoreError};
use crate::db::{Db, DbConnection, DbOptions, FileUse, write_tx};
use crate::error::ApiError;
use crate::exit::{self, InputError};
use crate::progress::{Progress, Unit};
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

/// The program: parses the command line, runs it, and turns a failure into
/// one `error: ...` line and an exit code (see [`crate::exit`]); never a
/// backtrace, whatever `RUST_BACKTRACE` says.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // Help and version are not failures; clap's own usage code is 2.
            return ExitCode::from(if error.use_stderr() { exit::INPUT } else { exit::OK });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::code(&error))
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    crate::observability::init_logging(&settings);
    let url = settings.database_url.clone();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).await?;
            tracing::info!(
                version = crate::observability::VERSION,
                port = app.port(),
                metrics_port = app.metrics_port(),
                "listening"
            );
            app.run_until_stopped().await?;
            Ok(())
        }),
        Command::Migrate => {
            Db::connect(&url, 1)?;
            println!("The database at {} is up to date.", crate::db::redact(&url));
            Ok(())
        }
        Command::Openapi => {
            println!("{}", openapi_document().to_pretty_json()?);
            Ok(())
        }
        Command::Seed { dir } => {
            if let Some(dir) = &dir
                && !dir.is_dir()
            {
                return Err(InputError(format!(
                    "the seed directory {} does not exist; give a directory laid out like seeds/ with --dir",
                    dir.display()
                ))
                .into());
            }
            let db = Db::connect(&url, 2)?;
            let report = match dir {
                Some(dir) => crate::seed::load_dir(&db, &dir)?,
                None => crate::seed::load(&db)?,
            };
            println!("{report}");
            Ok(())
        }
        Command::Export { output, with_keys, without_history } => {
            let history = if without_history { History::Leave } else { History::Include };
            export(&url, output.as_deref(), with_keys, history)
        }
        Command::Import { file, dry_run } => {
            let options = DbOptions { durability: settings.durability, ..DbOptions::new(1) };
            import(&url, &options, &file, dry_run)
        }
        Command::Generate { claims, seed } => {
            let db = Db::connect(&url, 1)?;
            let progress = Progress::start("generate", Unit::Items("claims"), Some(claims as u64));
            let report = crate::generate::generate(&db, claims, seed)?;
            progress.finish();
            println!("{report}");
            Ok(())
        }
        Command::Explain { query } => {
            let parsed: crate::claims::model::ClaimQuery = serde_urlencoded::from_str(&query)
                .map_err(|e| InputError(format!("`{query}` is not a query of GET /v1/claims: {e}")))?;
            let db = Db::connect(&url, 1)?;
            let mut conn = db.get()?;
            let plan =
                crate::claims::listing::explain(&mut conn, parsed).map_err(|e| input_or_failure(e.into(), &query))?;
            for line in plan {
                println!("{line}");
            }
            Ok(())
        }
        Command::Backup { file } => {
            let report = crate::backup::backup(&settings.database_url, &file)?;
            println!("Backed up {} to {report}.", settings.database_url);
            Ok(())
        }
        Command::Keys { command } => keys(&url, command),
    }
}

/// `claimtrail keys create|list|revoke`.
fn keys(url: &str, command: KeysCommand) -> anyhow::Result<()> {
    let db = Db::connect(url, 1)?;
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
            let key =
                write_tx(&mut conn, Change::now(Actor::Cli), |tx| auth::revoke_key(tx, &id)).map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        InputError(format!("there is no API key {id}; see `claimtrail keys list`")).into()
                    }
                    other => anyhow::Error::from(other),
                })?;
            eprintln!("Revoked key {} ({}); it is refused from now on.", key.id, key.name);
        }
    }
    Ok(())
}

/// A refusal of the user's input (4xx) as an input error naming `what`;
/// anything else as it is.
fn input_or_failure(error: ApiError, what: &str) -> anyhow::Error {
    if error.status().is_client_error() {
        let fields: Vec<String> = error.field_errors().iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        let detail = if fields.is_empty() { error.detail().to_string() } else { fields.join("; ") };
        InputError(format!("{what}: {detail}")).into()
    } else {
        error.into()
    }
}

/// How many lines an export of this database writes: its records, and
/// the header and end lines.
fn export_lines(conn: &mut DbConnection, keys: Keys, history: History) -> QueryResult<u64> {
    use crate::db::schema::{agents, api_keys, attributions, claims, revisions, sources};
    let mut records: i64 = agents::table.count().get_result::<i64>(conn)?
        + sources::table.count().get_result::<i64>(conn)?
        + claims::table.count().get_result::<i64>(conn)?
        + attributions::table.count().get_result::<i64>(conn)?;
    if keys == Keys::Include {
        records += api_keys::table.count().get_result::<i64>(conn)?;
    }
    if history == History::Include {
        records += revisions::table.count().get_result::<i64>(conn)?;
    }
    Ok(records.unsigned_abs() + 2)
}

/// `claimtrail export`: to a file or stdout, with a progress report on stderr.
fn export(url: &str, output: Option<&Path>, with_keys: bool, history: History) -> anyhow::Result<()> {
    let db = Db::connect(url, 1)?;
    let mut conn = db.get()?;
    let keys = if with_keys { Keys::Include } else { Keys::Leave };
    let lines = export_lines(&mut conn, keys, history)?;
    let (target, out): (String, Box<dyn Write>) = match output {
        Some(path) => {
            let file = File::create(path).map_err(|e| {
                anyhow::anyhow!("cannot write the export to {} ({e}); choose another --output", path.display())
            })?;
            (path.display().to_string(), Box::new(file))
        }
        None => ("stdout".to_string(), Box::new(std::io::stdout().lock())),
    };
    let progress = Progress::start("export", Unit::Items("records"), Some(lines));
    let mut out = BufWriter::new(progress.line_writer(out));
    let counts = crate::transfer::export(&mut conn, &mut out, keys, history)?;
    out.flush().with_context(|| format!("cannot write the export to {target}"))?;
    progress.finish();
    eprintln!("Exported {counts}.");
    Ok(())
}

/// `claimtrail import`: a file or stdin, all or nothing, with a progress
/// report on stderr.
fn import(url: &str, options: &DbOptions, file: &Path, dry_run: bool) -> anyhow::Result<()> {
    let name = if file.as_os_str() == "-" { "stdin".to_string() } else { file.display().to_string() };
    // `Send`: the import reads it on a thread of its own.
    let (input, size): (Box<dyn BufRead + Send>, Option<u64>) = if file.as_os_str() == "-" {
        (Box::new(BufReader::new(std::io::stdin())), None)
    } else {
        let opened = File::open(file).map_err(|e| InputError(format!("cannot open the import file {name} ({e})")))?;
        let size = opened.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::new(opened)), size)
    };
    let input = crate::transfer::require_header(input).map_err(|e| input_or_failure(e, &name))?;
    let db = Db::connect_with(url, options)?;
    let mut conn = db.get()?;
    let progress = Progress::start("import", Unit::Bytes, size);
    let report =
        crate::transfer::import(&mut conn, progress.reader(input), dry_run, Change::now(Actor::Import), FileUse::Sole)?;
    progress.finish();
    let mut stderr = std::io::stderr().lock();
    for error in &report.errors {
        writeln!(stderr, "line {}: {}", error.line, error.message)?;
    }
    if report.errors_not_listed > 0 {
        writeln!(stderr, "... and {} more bad lines", report.errors_not_listed)?;
    }
    if !report.errors.is_empty() {
        return Err(InputError(format!("{} problems in {name}; nothing was imported", report.error_count())).into());
    }
    if dry_run {
        println!("Dry run: every line is good; an import would write {}.", report.imported);
    } else {
        println!("Imported {}.", report.imported);
    }
    Ok(())
}
