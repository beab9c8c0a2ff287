//! `ServerProcess`: the release path for real — the `flowhq` binary serving
//! in a directory of its own, as an operator starts it, on a SQLite file
//! other processes can open; `kill` ends it without a graceful stop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::{ADMIN_PASSWORD, ADMIN_USERNAME};

pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `flowhq serve` on a fresh SQLite file and waits for `/healthz`.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = flowhq_command(dir.path());
        let child = command
            .env("FLOWHQ__SERVER__PORT", port.to_string())
            .env("FLOWHQ__ADMIN__BOOTSTRAP_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            dir,
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

    /// Runs another `flowhq` command on the same data.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = flowhq_command(self.dir.path());
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

/// `flowhq` in `dir`, with none of the caller's FLOWHQ__ variables.
fn flowhq_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowhq"));
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("FLOWHQ__") {
            command.env_remove(key);
        }
    }
    command
}
