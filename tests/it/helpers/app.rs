//! `spawn_app()`: the real application, booted the way `main` boots it, on a
//! database nobody else uses; `restart` boots it again on the same data.

use std::net::SocketAddr;

use std::sync::Arc;

use flowhq::app::App;
use flowhq::bots::BotRegistry;
use flowhq::config::Settings;
use flowhq::state::AppState;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

/// The bootstrap admin every test app starts with.
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-123";

pub struct TestApp {
    pub address: SocketAddr,
    pub state: AppState,
    /// The bot runtime itself, for what handlers cannot reach.
    pub registry: Arc<BotRegistry>,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    /// The running server; awaited by `restart`.
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub(super) settings: Settings,
    // Dropped last: the database outlives the server that uses it.
    database: Option<TestDatabase>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// The database this app runs on, for other processes to open.
    pub fn database_url(&self) -> String {
        use secrecy::ExposeSecret;
        self.settings.database.url.expose_secret().to_owned()
    }

    /// The SQLite file this app runs on (`None` on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self.settings.database.sqlite_path()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }
}

/// Boots the app on a fresh database with the test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Boots the app on a fresh database after `configure` adjusted the settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_tracing();
    let database = TestDatabase::create().await;
    let mut settings = Settings::for_tests(&database.url);
    settings.admin.bootstrap_password = Some(SecretString::from(ADMIN_PASSWORD));
    configure(&mut settings);
    boot(settings, database).await
}

async fn boot(settings: Settings, database: TestDatabase) -> TestApp {
    let app = App::build(settings.clone())
        .await
        .expect("the app failed to build");
    let address = app.address();
    let state = app.state().clone();
    let registry = app.registry().clone();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        state,
        registry,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        shutdown,
        server: Some(server),
        settings,
        database: Some(database),
    }
}

impl TestApp {
    /// Stops the app gracefully (as SIGTERM does) and boots a new one on
    /// the same database: what a process restart does.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server
                .await
                .unwrap()
                .expect("the app stopped with an error");
        }
        let database = self.database.take().unwrap();
        boot(self.settings.clone(), database).await
    }
}

/// `TEST_LOG=1 cargo test` shows the app's logs.
fn init_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
}

/// A database of one test's own, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

impl TestDatabase {
    pub async fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(server_url) if !server_url.is_empty() => Self::postgres(server_url).await,
            _ => Self::sqlite(),
        }
    }

    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("flowhq.db").display());
        Self {
            url,
            kind: Kind::Sqlite(dir),
        }
    }

    async fn postgres(server_url: String) -> Self {
        let name = format!("flowhq_test_{}", uuid::Uuid::new_v4().simple());
        let server = Database::connect(&server_url)
            .await
            .expect("TEST_DATABASE_URL: cannot connect");
        server
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .unwrap();
        server.close().await.unwrap();
        let mut url = url::Url::parse(&server_url).expect("TEST_DATABASE_URL is not a URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            kind: Kind::Postgres { server_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Kind::Postgres { server_url, name } = &self.kind else {
            return;
        };
        let (server_url, name) = (server_url.clone(), name.clone());
        let label = name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // drop the database from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let server = Database::connect(&server_url).await?;
                server
                    .execute_unprepared(&format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    ))
                    .await?;
                server.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {label}: {dropped:?}");
        }
    }
}

/// Polls `check` until it yields `Some`, for at most 15 s; panics naming
/// `what` otherwise. For state that other tasks (bots, the log writer) reach.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
