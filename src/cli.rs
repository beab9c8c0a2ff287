//! The command line: `flowhq [serve]`, `flowhq migrate`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::Settings;
use crate::{db, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "flowhq",
    version,
    about = "Flow HQ: self-hosted multi-tenant WhatsApp bots",
    long_about = "Flow HQ: self-hosted multi-tenant WhatsApp bots.\n\n\
        Configuration comes from config/default.toml (built in), config/local.toml \
        and FLOWHQ__SECTION__KEY environment variables."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

/// Parses the command line, loads settings and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.telemetry);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => App::build(settings).await?.run_until_stopped().await,
            Command::Migrate => migrate(settings).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = db::connect(&settings.database).await?;
    let applied = db::migrate(&db).await?;
    println!(
        "{}: {applied} migration(s) applied, schema up to date",
        settings.database.redacted_url()
    );
    db.close().await?;
    Ok(())
}
