//! `ServerProcess`: the `flowhq` binary serving in a directory of its own,
//! as an operator starts it, on a SQLite file other processes can open (or
//! the test database: PostgreSQL with `TEST_DATABASE_URL`); `kill` ends it
//! without a graceful stop and `restart` starts it again on the same data.
//! What it logs (stdout and stderr, over restarts) is in `log()`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use super::{ADMIN_PASSWORD, ADMIN_USERNAME, TestDatabase};

pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    dir: tempfile::TempDir,
    /// `None`: the SQLite file under `dir`'s `data/`.
    database: Option<TestDatabase>,
    /// Settings of the test's own (`FLOWHQ__…` pairs), kept over restarts.
    env: Vec<(String, String)>,
    /// Files it may open at once (soft and hard limit), when the test sets one.
    open_files: Option<u64>,
}

impl ServerProcess {
    /// Starts `flowhq serve` on a fresh SQLite file and waits for `/healthz`.
    pub async fn start() -> Self {
        Self::spawn(tempfile::tempdir().unwrap(), None, Vec::new(), None).await
    }

    /// Starts it on a fresh SQLite file allowed to open at most `open_files`
    /// files at once (as `ulimit -n`, hard and soft), with `env` on top.
    pub async fn start_with_open_files(open_files: u64, env: &[(&str, &str)]) -> Self {
        let env = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        Self::spawn(tempfile::tempdir().unwrap(), None, env, Some(open_files)).await
    }

    /// The same on the test database (PostgreSQL with `TEST_DATABASE_URL`),
    /// with `env` (`FLOWHQ__…` settings) on top.
    pub async fn start_on_test_database(env: &[(&str, &str)]) -> Self {
        let database = TestDatabase::create().await;
        let env = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        Self::spawn(tempfile::tempdir().unwrap(), Some(database), env, None).await
    }

    /// Kills it (if it still runs) and starts it again on the same data.
    pub async fn restart(mut self) -> Self {
        self.kill();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let database = self.database.take();
        let env = std::mem::take(&mut self.env);
        Self::spawn(dir, database, env, self.open_files).await
    }

    async fn spawn(
        dir: tempfile::TempDir,
        database: Option<TestDatabase>,
        env: Vec<(String, String)>,
        open_files: Option<u64>,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = match open_files {
            None => flowhq_command(dir.path()),
            Some(limit) => {
                // util-linux's `prlimit` runs the binary under the limit.
                let mut command = without_our_settings(Command::new("prlimit"), dir.path());
                command
                    .arg(format!("--nofile={limit}:{limit}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_flowhq"));
                command
            }
        };
        if let Some(database) = &database {
            command.env("FLOWHQ__DATABASE__URL", &database.url);
        }
        let child = command
            .envs(env.iter().map(|(key, value)| (key, value)))
            .env("FLOWHQ__SERVER__PORT", port.to_string())
            .env("FLOWHQ__ADMIN__BOOTSTRAP_PASSWORD", ADMIN_PASSWORD)
            // Replies as fast as the test sends, as in `Settings::for_tests`.
            .env("FLOWHQ__BOTS__TENANT_RATE_PER_MINUTE", "600000")
            .env("FLOWHQ__BOTS__TENANT_BURST", "10000")
            .stdout(log_file(dir.path()))
            .stderr(log_file(dir.path()))
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            dir,
            database,
            env,
            open_files,
        };
        for _ in 0..300 {
            if let Ok(response) = server.client.get(server.url("/healthz")).send().await
                && response.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("flowhq did not answer /healthz within 15 s");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything it logged so far, over restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(LOG_FILE)).unwrap_or_default()
    }

    /// The SQLite file it serves from.
    pub fn database_file(&self) -> PathBuf {
        self.dir.path().join("data").join("flowhq.db")
    }

    /// An admin API request with the bootstrap admin's password.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(ADMIN_USERNAME, Some(ADMIN_PASSWORD))
    }

    /// The database URL it serves from.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(database) => database.url.clone(),
            None => format!("sqlite://{}", self.database_file().display()),
        }
    }

    /// Runs another `flowhq` command on the same data.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = flowhq_command(self.dir.path());
        if let Some(database) = &self.database {
            command.env("FLOWHQ__DATABASE__URL", &database.url);
        }
        command.args(args);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    /// Ends it at once (SIGKILL): no drain, no final writes.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where a `ServerProcess` writes its stdout and stderr, in its directory.
const LOG_FILE: &str = "flowhq.log";

/// The log file in `dir`, appended to by every start.
fn log_file(dir: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))
        .unwrap()
}

/// The `flowhq` binary to run in `dir` (no config/local.toml, no ./data of
/// anyone else), with none of the caller's FLOWHQ__ variables.
pub fn flowhq_command(dir: &Path) -> Command {
    without_our_settings(Command::new(env!("CARGO_BIN_EXE_flowhq")), dir)
}

/// `command` run in `dir` with none of the caller's FLOWHQ__ variables.
fn without_our_settings(mut command: Command, dir: &Path) -> Command {
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("FLOWHQ__") {
            command.env_remove(key);
        }
    }
    command
}
