//! Boot: the same in production, tests and benchmarks (zero2prod's
//! `Application::build`). Connect, migrate, build `AppState` once, bind (port 0
//! is fine) and hand back a running server with its bound address.
//!
//! Shutdown is one `CancellationToken`: SIGTERM/SIGINT cancel it in
//! `run_until_stopped`, tests cancel it directly. Cancelling stops accepting
//! connections, lets in-flight requests finish within `server.shutdown_timeout`,
//! then closes the database pool.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::middleware::{Logger, from_fn};
use actix_web::{App as ActixApp, HttpServer, web};
use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::state::AppState;
use crate::{db, web as routes};

pub struct App {
    server: actix_web::dev::Server,
    address: SocketAddr,
    state: AppState,
    shutdown: CancellationToken,
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        tracing::info!(database = %settings.database.redacted_url(), "connecting to the database");
        let db = db::connect(&settings.database).await?;
        let applied = db::migrate(&db).await?;
        tracing::info!(applied, "database schema is up to date");

        let bind = settings.bind_address();
        let listener =
            TcpListener::bind(&bind).with_context(|| format!("server: cannot listen on {bind}"))?;
        let address = listener.local_addr()?;

        let state = AppState {
            db,
            public_url: settings.public_url(address).into(),
            settings: Arc::new(settings),
        };
        let shutdown = CancellationToken::new();

        let data = web::Data::new(state.clone());
        let server = &state.settings.server;
        let mut http = HttpServer::new(move || {
            ActixApp::new()
                .app_data(data.clone())
                .configure(routes::routes)
                .wrap(from_fn(routes::errors::render_errors))
                .wrap(Logger::new("%r %s %Dms").exclude("/healthz"))
                .wrap(TracingLogger::default())
        })
        .listen(listener)?
        .shutdown_signal(shutdown.clone().cancelled_owned())
        .shutdown_timeout(server.shutdown_timeout.as_secs().max(1));
        if server.workers > 0 {
            http = http.workers(server.workers);
        }

        tracing::info!(%address, public_url = %state.public_url, "Flow HQ is listening");
        Ok(Self {
            server: http.run(),
            address,
            state,
            shutdown,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Cancel it to stop the app gracefully (what SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM/SIGINT or the shutdown token, then shuts down in order.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let signals = tokio::spawn(cancel_on_signal(self.shutdown.clone()));
        let served = self.server.await.context("server: stopped with an error");
        signals.abort();
        tracing::info!("HTTP server stopped; closing the database");
        if let Err(err) = self.state.db.close_by_ref().await {
            tracing::warn!(error = %err, "closing the database pool failed");
        }
        served
    }
}

async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received: shutting down"),
        () = terminate => tracing::info!("SIGTERM received: shutting down"),
        () = token.cancelled() => return,
    }
    token.cancel();
}
