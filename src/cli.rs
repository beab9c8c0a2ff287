//! The command line: `flowhq [serve]`, `flowhq migrate`, the admin
//! account commands `flowhq admin create|reset-password|create-token`,
//! `flowhq backup FILE` (a live copy of the SQLite database), `flowhq
//! bench` and `flowhq fake-google` (a fake sign-in provider for local
//! trials of the portal).
//!
//! The admin commands connect to the database and migrate it, do their one
//! thing through `services::admins` and exit: they never start the HTTP
//! server nor create the bootstrap admin. Results go to stdout, plainly; an
//! error is one line on stderr and exit code 1.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::app::App;
use crate::config::Settings;
use crate::error::{AppError, ErrorCode};
use crate::fake_google::{FakeGoogle, FakeGoogleConfig};
use crate::services::admins;
use crate::services::audit::{self, Actor};
use crate::{crypto, db, telemetry};

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
    /// Manage admin accounts and API tokens (without starting the server).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Copy the SQLite database into a new file, safely while the server
    /// runs (VACUUM INTO). PostgreSQL: use pg_dump.
    Backup {
        /// The new file (it must not exist yet).
        to: std::path::PathBuf,
    },
    /// Load-test the bot runtime on a scratch database and print the figures.
    Bench(crate::bench::BenchArgs),
    /// Run a fake Google sign-in provider on 127.0.0.1 (local trials only).
    #[command(long_about = FAKE_GOOGLE_HELP)]
    FakeGoogle(FakeGoogleArgs),
}

const FAKE_GOOGLE_HELP: &str = "Run a fake Google sign-in provider (OpenID Connect) on \
    127.0.0.1 in the foreground, for trying the tenant portal locally without a Google \
    project. FOR LOCAL TRIALS ONLY: anyone can sign in as any email address. It prints the \
    FLOWHQ__GOOGLE__* variables to start Flow HQ against it; stop it with Ctrl-C.";

#[derive(Debug, clap::Args)]
struct FakeGoogleArgs {
    /// The port to listen on (127.0.0.1 only; 0 picks a free one).
    #[arg(long, default_value_t = 9090)]
    port: u16,
    /// The OAuth client id Flow HQ must present.
    #[arg(long, default_value = "flowhq-local")]
    client_id: String,
    /// The OAuth client secret Flow HQ must present.
    #[arg(long, default_value = "local-secret")]
    client_secret: String,
}

/// How a password reaches `create` and `reset-password`.
const PASSWORD_HELP: &str = "The password is read from the first line of stdin when stdin is \
    not a terminal (e.g. `printf '%s\\n' \"$PASSWORD\" | flowhq admin create alice`); \
    in a terminal a random one is generated and printed once.";

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin account.
    #[command(after_help = PASSWORD_HELP)]
    Create {
        /// 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'.
        username: String,
    },
    /// Set a new password for an admin and end all of their sessions.
    #[command(after_help = PASSWORD_HELP)]
    ResetPassword { username: String },
    /// Create an API token for an admin (for /api/admin); printed once.
    CreateToken {
        username: String,
        /// What the token is for, e.g. "deploy script".
        name: String,
    },
}

/// `flowhq bench`'s log filter when `RUST_LOG` is not set.
const BENCH_LOG_FILTER: &str = "warn";

/// Parses the command line, loads settings and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    // The benchmark's output is its table: the app it boots would log every
    // request and bot start at INFO. `RUST_LOG` still wins (telemetry::init).
    if matches!(cli.command, Some(Command::Bench(_))) {
        settings.telemetry.filter = BENCH_LOG_FILTER.to_owned();
    }
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
    // Admin commands talk to a person at a shell: their error is the one
    // line on stderr, not also a log line on stdout.
    let log_errors = !matches!(cli.command, Some(Command::Admin(_)));
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => App::build(settings).await?.run_until_stopped().await,
            Command::Migrate => migrate(settings).await,
            Command::Admin(command) => admin(settings, command).await,
            Command::Backup { to } => backup(settings, &to).await,
            Command::Bench(args) => crate::bench::run(settings, args).await,
            Command::FakeGoogle(args) => fake_google(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if log_errors {
                tracing::error!("{err:#}");
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Serves the fake provider in the foreground until Ctrl-C.
async fn fake_google(args: FakeGoogleArgs) -> anyhow::Result<()> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let fake = FakeGoogle::start(
        address,
        FakeGoogleConfig {
            client_id: args.client_id,
            client_secret: args.client_secret,
        },
    )
    .await
    .map_err(|err| anyhow::anyhow!("cannot listen on {address}: {err}"))?;
    println!(
        "Fake Google listening on {} (local trials only: anyone can sign in as anyone).",
        fake.base_url()
    );
    println!("Start Flow HQ against it with:");
    for line in fake.env_lines() {
        println!("{line}");
    }
    println!("Stop with Ctrl-C.");
    // SIGTERM ends the process as usual; there is nothing to save.
    tokio::signal::ctrl_c().await?;
    fake.stop().await;
    Ok(())
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

async fn backup(settings: Settings, to: &std::path::Path) -> anyhow::Result<()> {
    let db = db::connect(&settings.database).await?;
    let result = db::backup_into(&db, to).await;
    db.close().await?;
    result?;
    println!(
        "{}: copied into {}",
        settings.database.redacted_url(),
        to.display()
    );
    Ok(())
}

/// A password for `create`/`reset-password`, and whether it must be shown
/// (it was generated, so nobody knows it yet).
struct NewPassword {
    value: String,
    generated: bool,
}

/// From stdin when it is piped (first line, without its line ending; an
/// empty one is refused), generated when stdin is a terminal. Checked
/// against the password rules before anything touches the database.
fn new_password() -> anyhow::Result<NewPassword> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        NewPassword {
            value: crypto::random_token(15),
            generated: true,
        }
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|err| anyhow::anyhow!("cannot read the password from stdin: {err}"))?;
        let value = line.strip_suffix('\n').unwrap_or(&line);
        let value = value.strip_suffix('\r').unwrap_or(value);
        if value.is_empty() {
            anyhow::bail!(
                "no password on stdin: pipe one in, or run the command in a terminal to generate one"
            );
        }
        NewPassword {
            value: value.to_owned(),
            generated: false,
        }
    };
    admins::check_password(&password.value).map_err(cli_error)?;
    Ok(password)
}

/// An `AppError` as one line for the operator: the per-field messages when
/// there are some ("password: must have at least 12 characters"), else the
/// message. The operator owns the database, so an internal error's cause
/// is shown too.
fn cli_error(err: AppError) -> anyhow::Error {
    let line = if !err.fields().is_empty() {
        err.fields()
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        match (err.code(), err.log_detail()) {
            (ErrorCode::Internal | ErrorCode::ServiceUnavailable, Some(detail)) => {
                format!("{} ({detail})", err.message())
            }
            _ => err.message().to_owned(),
        }
    };
    anyhow::anyhow!(line)
}

async fn admin(settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    // The password comes first: a bad one fails before the database is touched.
    match command {
        AdminCommand::Create { username } => {
            let password = new_password()?;
            with_db(&settings, async |db| {
                create_admin(db, &username, &password).await
            })
            .await
        }
        AdminCommand::ResetPassword { username } => {
            let password = new_password()?;
            with_db(&settings, async |db| {
                reset_password(db, &username, &password).await
            })
            .await
        }
        AdminCommand::CreateToken { username, name } => {
            with_db(&settings, async |db| {
                create_token(db, &username, &name).await
            })
            .await
        }
    }
}

/// Connects, migrates, runs `work` and closes the pool.
async fn with_db<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&DatabaseConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let db = db::connect(&settings.database).await?;
    db::migrate(&db).await?;
    let result = work(&db).await;
    let closed = db.close().await;
    let value = result?;
    closed?;
    Ok(value)
}

async fn create_admin(
    db: &DatabaseConnection,
    username: &str,
    password: &NewPassword,
) -> anyhow::Result<()> {
    let admin = admins::create(db, username, &password.value)
        .await
        .map_err(cli_error)?;
    audit::record_alone(
        db,
        &Actor::System,
        None,
        "admin.created",
        json!({ "username": admin.username, "via": "cli" }),
    )
    .await
    .map_err(cli_error)?;
    println!("admin {} created", admin.username);
    print_generated(password);
    Ok(())
}

async fn reset_password(
    db: &DatabaseConnection,
    username: &str,
    password: &NewPassword,
) -> anyhow::Result<()> {
    let admin = admins::reset_password(db, username, &password.value)
        .await
        .map_err(cli_error)?;
    audit::record_alone(
        db,
        &Actor::System,
        None,
        "admin.password_reset",
        json!({ "username": admin.username, "via": "cli" }),
    )
    .await
    .map_err(cli_error)?;
    println!(
        "password of admin {} reset; their sessions are signed out",
        admin.username
    );
    print_generated(password);
    Ok(())
}

async fn create_token(db: &DatabaseConnection, username: &str, name: &str) -> anyhow::Result<()> {
    let admin = admins::find_by_name(db, username)
        .await
        .map_err(cli_error)?
        .ok_or_else(|| anyhow::anyhow!("There is no admin named {username}."))?;
    let (token, secret) = admins::create_token(db, &admin, name)
        .await
        .map_err(cli_error)?;
    println!(
        "API token \"{}\" created for admin {} (id {})",
        token.name, admin.username, token.id
    );
    println!("token (shown once): {secret}");
    Ok(())
}

fn print_generated(password: &NewPassword) {
    if password.generated {
        println!("password: {}", password.value);
    }
}
