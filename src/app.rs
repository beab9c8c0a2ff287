//! Boot: the same in production, tests and benchmarks (zero2prod's
//! `Application::build`). Connect, migrate, build `AppState` once, bind (port 0
//! is fine) and hand back a running server with its bound address.
//!
//! Shutdown is one `CancellationToken`: SIGTERM/SIGINT cancel it in
//! `run_until_stopped`, tests cancel it directly. Cancelling stops accepting
//! connections, lets in-flight requests finish within `server.shutdown_timeout`,
//! then closes the database pool.

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::middleware::{Logger, from_fn};
use actix_web::{App as ActixApp, HttpServer, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing_actix_web::TracingLogger;

use crate::bots::BotRegistry;
use crate::bots::deps::TransportHubs;
use crate::bots::transport::cloud_api::CloudHub;
use crate::bots::transport::sandbox::SandboxHub;
use crate::config::Settings;
use crate::crypto::MasterKey;
use crate::limits::{ActionLimiter, LoginLimiter, SignInStartLimiter};
use crate::oauth::GoogleClient;
use crate::services::notifications::Notifier;
use crate::services::{admins, sessions, users, webhooks};
use crate::state::AppState;
use crate::{db, web as routes};

/// What a page of ours may load and do: scripts, styles and requests from
/// this origin only (`static/`), images from here or `data:` URIs (the QR
/// codes, the favicon), no plugins, no `<base>` to redirect relative URLs,
/// forms posting only back here, never framed (clickjacking). No inline
/// script, style or `on…=`/`style=` attribute runs: an injected one
/// (however it got in) does nothing. The pages keep to it; the browser test
/// `pages_run_without_a_content_security_policy_violation` walks them.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers every response carries: the content security policy above, no
/// MIME sniffing, no framing by browsers that predate `frame-ancestors`, no
/// full URLs in the Referer sent to other sites, and nothing kept in a
/// cache unless the response says otherwise (only the static files do):
/// pages and JSON carry tenants' data, and one shows a new token's secret.
/// Behind https, browsers are also told to never use plain http again.
fn security_headers(https: bool) -> actix_web::middleware::DefaultHeaders {
    let headers = actix_web::middleware::DefaultHeaders::new()
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cache-Control", "no-store"));
    if https {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

/// Google sign-ins one client IP may start per minute (each stores a row
/// until finished or expired).
const SIGN_IN_STARTS_PER_MINUTE: NonZeroU32 = match NonZeroU32::new(20) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// New QR codes an owner may ask for in a row, then one more every
/// `NEW_LINK_CODE_EVERY` (each restarts the tenant's bot).
const NEW_LINK_CODES_BURST: NonZeroU32 = match NonZeroU32::new(3) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};
const NEW_LINK_CODE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

pub struct App {
    server: actix_web::dev::Server,
    address: SocketAddr,
    state: AppState,
    /// The bot runtime itself (handlers only see `state.bots`).
    registry: Arc<BotRegistry>,
    shutdown: CancellationToken,
    /// Background work owned by the app; awaited at shutdown.
    tasks: TaskTracker,
    /// Webhook deliveries made by this process (the benchmark reads them).
    webhook_stats: Arc<webhooks::delivery::DeliveryStats>,
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

        match admins::ensure_bootstrap_admin(&db, settings.admin.bootstrap_password.as_ref())
            .await
            .map_err(|err| anyhow::anyhow!("creating the first admin failed: {err}"))?
        {
            admins::Bootstrap::Existing => {}
            admins::Bootstrap::Configured => tracing::info!(
                username = admins::BOOTSTRAP_USERNAME,
                "first admin created with the password from admin.bootstrap_password"
            ),
            admins::Bootstrap::Generated(password) => tracing::warn!(
                "first admin created: username `{}`, password `{}` (shown only this once; \
                 change it with `flowhq admin reset-password {}`)",
                admins::BOOTSTRAP_USERNAME,
                password.expose_secret(),
                admins::BOOTSTRAP_USERNAME,
            ),
        }

        let admin = &settings.admin;
        let login_limiter = Arc::new(LoginLimiter::new(
            admin.login_attempts,
            admin.login_attempt_period,
        ));
        let sandbox = Arc::new(SandboxHub::default());
        let master_key = MasterKey::load_or_create(
            settings.security.master_key.as_ref(),
            &settings.security.master_key_file,
        )
        .context("loading the master key for secrets at rest")?;
        let cloud = Arc::new(
            CloudHub::new(db.clone(), master_key.clone(), settings.cloud_api.clone())
                .context("building the Cloud API client")?,
        );
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let public_url: Arc<str> = settings.public_url(address).into();
        // Before the bot runtime: its handoff path is to get a clone.
        let notifier = Notifier::start(
            db.clone(),
            &settings,
            public_url.clone(),
            shutdown.clone(),
            &tasks,
        )
        .map_err(|err| anyhow::anyhow!("configuration error: {}: {err}", err.key()))?;
        let writers = db::connect_log_writer(&settings.database).await?;
        let ai = crate::services::ai::Ai::from_settings(&settings.ai);
        let registry = BotRegistry::new(
            db.clone(),
            writers,
            settings.bots.clone(),
            TransportHubs {
                sandbox: sandbox.clone(),
                cloud,
                whatsapp_web: settings.whatsapp_web.clone(),
                master_key: master_key.clone(),
                factory: None,
                notifier: notifier.clone(),
                ai: ai.clone(),
            },
        );
        let google = GoogleClient::from_settings(&settings.google, &public_url)
            .context("building the Google sign-in client")?
            .map(Arc::new);
        let webhook_stats = Arc::new(webhooks::delivery::DeliveryStats::default());
        let state = AppState {
            ai,
            db,
            public_url,
            google,
            login_limiter,
            sign_in_starts: Arc::new(SignInStartLimiter::per_minute(SIGN_IN_STARTS_PER_MINUTE)),
            new_link_codes: Arc::new(ActionLimiter::new(
                NEW_LINK_CODES_BURST,
                NEW_LINK_CODE_EVERY,
            )),
            bots: Arc::new(registry.clone()),
            live: registry.writer().live().clone(),
            webhooks: registry.writer().webhook_waker().clone(),
            sandbox,
            master_key,
            notifier,
            api_keys: crate::services::api_keys::KeyCache::default(),
            settings: Arc::new(settings),
        };
        tasks.spawn(maintenance(state.clone(), shutdown.clone()));
        tasks.spawn(crate::services::api_keys::recheck_cached_keys(
            state.db.clone(),
            state.api_keys.clone(),
            shutdown.clone(),
        ));
        webhooks::delivery::spawn(
            webhooks::delivery::Deliverer::new(
                state.db.clone(),
                state.master_key.clone(),
                state.settings.webhooks.clone(),
            )
            .context("building the webhook delivery client")?,
            state.webhooks.clone(),
            webhook_stats.clone(),
            shutdown.clone(),
            &tasks,
        );
        // WhatsApp Web keys from before they were sealed, before a bot reads them.
        #[cfg(feature = "whatsapp-web")]
        match crate::bots::transport::whatsapp_web::store::seal_unsealed_rows(
            &state.db,
            &state.master_key,
        )
        .await
        .context("sealing the stored WhatsApp Web keys")?
        {
            0 => {}
            sealed => tracing::info!(sealed, "sealed WhatsApp Web keys stored before sealing"),
        }
        // Every bot that should run runs again (and answers what it missed).
        registry.release_orphans().await?;
        let started = registry.resume().await?;
        tracing::info!(started, "bots resumed");
        registry.spawn_loops(shutdown.clone(), &tasks);

        let data = web::Data::new(state.clone());
        let server = &state.settings.server;
        let https = state.settings.serves_https();
        let body_timeout = server.body_timeout;
        let slots = routes::client_limit::ClientSlots::new(
            usize::try_from(server.max_requests_per_client.get()).unwrap_or(usize::MAX),
        );
        // actix counts connections per worker thread.
        let workers = match server.workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        };
        let connections =
            inbound_connection_cap(u64::from(server.max_connections.get()), open_file_limit());
        let per_worker = (usize::try_from(connections).unwrap_or(usize::MAX) / workers).max(1);
        let http = HttpServer::new(move || {
            ActixApp::new()
                .app_data(data.clone())
                .configure(routes::routes)
                .wrap(from_fn(routes::errors::render_errors))
                .wrap(from_fn(move |req, next| {
                    routes::body_deadline::bound(body_timeout, req, next)
                }))
                .wrap(from_fn({
                    let slots = slots.clone();
                    move |req, next| routes::client_limit::limit(slots.clone(), req, next)
                }))
                .wrap(security_headers(https))
                // The path only (%U): queries may carry one-time sign-in codes
                // and webhook verify tokens.
                .wrap(
                    Logger::new("%{METHOD}xi %U %s %Dms")
                        .custom_request_replace("METHOD", |req| req.method().to_string())
                        .exclude("/healthz"),
                )
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
        })
        .listen(listener)?
        .shutdown_signal(shutdown.clone().cancelled_owned())
        .shutdown_timeout(server.shutdown_timeout.as_secs().max(1))
        .max_connections(per_worker)
        .workers(workers);

        tracing::info!(%address, public_url = %state.public_url, "Flow HQ is listening");
        Ok(Self {
            server: http.run(),
            address,
            state,
            registry,
            shutdown,
            tasks,
            webhook_stats,
        })
    }

    /// The delivery worker's counters (the benchmark reads them while
    /// `run_until_stopped` owns the app).
    pub fn webhook_stats(&self) -> Arc<webhooks::delivery::DeliveryStats> {
        self.webhook_stats.clone()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The bot runtime (tests and the benchmark drive it directly).
    pub fn registry(&self) -> &Arc<BotRegistry> {
        &self.registry
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
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        tracing::info!(running = self.registry.running(), "stopping bots");
        self.registry.shutdown().await;
        tracing::info!("HTTP server stopped; closing the database");
        if let Err(err) = self.state.db.close_by_ref().await {
            tracing::warn!(error = %err, "closing the database pool failed");
        }
        served
    }
}

/// Once a minute: drop expired sessions and forget idle throttling keys.
async fn maintenance(state: AppState, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match sessions::sweep_expired(&state.db).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(n, "expired sessions removed"),
            Err(err) => tracing::warn!(error = %err, "sweeping sessions failed"),
        }
        match users::sweep_expired_logins(&state.db).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(n, "unfinished Google sign-ins removed"),
            Err(err) => tracing::warn!(error = %err, "sweeping sign-ins failed"),
        }
        let now = chrono::Utc::now();
        match crate::services::inbox::return_idle_chats(&state.db, state.bots.as_ref(), now).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(n, "idle chats handed back to their bots"),
            Err(err) => tracing::warn!(error = %err, "handing idle chats back failed"),
        }
        state.login_limiter.sweep();
        state.sign_in_starts.sweep();
        state.new_link_codes.sweep();
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

/// The process's open-file limit, first raised to its hard limit (the soft
/// default is often 1,024 while the hard one allows far more). `None` when
/// the platform cannot tell.
fn open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit");
            None
        }
    }
}

/// Connections accepted at once: `server.max_connections`, but at most half
/// of the process's file descriptors. The other half stays for what the
/// process must keep opening while a flood holds every connection: the
/// database's files and connections, calls to Meta, SMTP, WhatsApp Web's
/// sockets. A cap above the limit would let a flood of idle connections
/// exhaust the descriptors ("Too many open files"): then nothing, not even
/// the database, can open a file. At the cap actix stops accepting; the
/// kernel's backlog holds the rest until a slot frees (the body deadline
/// frees stalled ones).
fn inbound_connection_cap(configured: u64, open_files: Option<u64>) -> u64 {
    let Some(open_files) = open_files else {
        return configured;
    };
    let budget = (open_files / 2).max(MIN_CONNECTIONS);
    if configured > budget {
        tracing::warn!(
            configured,
            accepted = budget,
            open_files,
            "server.max_connections lowered to half the open-file limit; raise `ulimit -n` to accept more"
        );
        return budget;
    }
    configured
}

/// A floor for tiny limits, where halving would leave next to nothing.
const MIN_CONNECTIONS: u64 = 16;

#[cfg(test)]
mod tests {
    use super::inbound_connection_cap;

    #[test]
    fn connections_take_at_most_half_the_file_descriptors() {
        assert_eq!(inbound_connection_cap(10_000, Some(1_024)), 512);
        assert_eq!(inbound_connection_cap(10_000, Some(1_048_576)), 10_000);
        assert_eq!(inbound_connection_cap(300, Some(1_024)), 300);
        assert_eq!(inbound_connection_cap(10_000, Some(20)), 16, "a floor");
        assert_eq!(inbound_connection_cap(10_000, None), 10_000);
    }
}
