//! The command line: `claimtrail [serve|migrate|openapi|seed|keys create]`.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::auth::{self, Scope};
use crate::config::{LogFormat, Settings};
use crate::db::Db;
use crate::startup::{Application, openapi_document};

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
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // The request middleware opens one span per request, holding its id,
    // method, route and status; closing it writes the request's log line,
    // and every event inside it carries its fields.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
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
        Command::Keys { command: KeysCommand::Create { name, scope } } => {
            let db = Db::connect(&settings.database_url, 1)?;
            let mut conn = db.get()?;
            let key = auth::create_key(&mut conn, &name, scope)?;
            eprintln!("Created key {} ({}, scope {}). It is shown only now:", key.id, name, scope.as_str());
            println!("{}", key.token);
            Ok(())
        }
    }
}
