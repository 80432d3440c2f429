//! The command line: `claimtrail [serve|migrate|openapi|seed|generate|explain|keys create]`.

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
    /// Load `seeds/` into the database (idempotent).
    Seed,
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
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
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
        Command::Seed => {
            let db = Db::connect(&settings.database_url, 2)?;
            let report = crate::seed::load(&db)?;
            println!("{report}");
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
