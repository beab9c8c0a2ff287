//! Email to a tenant's people when one of its chats needs a person, and
//! the notice outbox (`notices`: rows written with their cause, e.g. 80 %
//! of the month's messages used, a webhook endpoint disabled) emailed to
//! its owners by the same worker, polled every few seconds.
//!
//! ```text
//! bot ── chat_needs_person(tenant, conversation) ──▶ bounded queue (full: dropped, warned)
//!                                                        │
//!   worker (one tracked task): recipients? ─▶ claim (one conditional UPDATE on
//!   conversation.notified_at) ─▶ load contact + last messages ─▶ compose (`email`)
//!   ─▶ send (`smtp`) ─▶ on failure or shutdown: release the claim
//! ```
//!
//! Owns: the `Notifier` handle (in `AppState`, cheap to clone, for the bot
//! runtime too), its queue and worker, and the rule "at most one email per
//! chat per `smtp.notify_interval`", kept by the claim in the database so
//! that restarts and replicas keep it as well.
//! Must not: block or fail its caller (the bot's hot path), decide whether a
//! chat needs a person (the handoff rules do; this only tells people),
//! write any conversation column but `notified_at`, or log the SMTP
//! password.

mod email;
pub mod notices;
mod smtp;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use smtp::{Mailer, MailerError};

use crate::config::{Settings, SmtpTls};
use crate::domain::ids::TenantId;

/// Requests waiting for the worker. Each is a few database statements and
/// at most one email; a burst larger than this means the mail server is
/// failing, and dropping (with a warning) beats holding memory for it.
const QUEUE_CAPACITY: usize = 1024;

/// How often the worker looks for due notices in the outbox (`notices`):
/// one indexed query; notices are rare and a few seconds late is fine.
const NOTICE_POLL: Duration = Duration::from_secs(2);

/// Tells a tenant's people that a chat needs a person. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    /// `None` when email is off.
    queue: Option<mpsc::Sender<Request>>,
    /// Requests the worker finished with, whatever came of them.
    handled: Arc<AtomicU64>,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    tenant: TenantId,
    conversation_id: i64,
}

impl Notifier {
    /// The notifier `[smtp]` describes: with email on, its worker runs on
    /// `tasks` until `shutdown`. Fails only on settings `validate` refuses.
    pub fn start(
        db: DatabaseConnection,
        settings: &Settings,
        public_url: Arc<str>,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<Self, MailerError> {
        let smtp = &settings.smtp;
        let hello = settings
            .server
            .public_url
            .as_ref()
            .and_then(|url| url.host_str());
        let Some(mailer) = Mailer::from_settings(smtp, hello)? else {
            tracing::info!("email notifications are off (smtp.host is not set)");
            return Ok(Self::disabled());
        };
        if smtp.tls == SmtpTls::None && !smtp::is_loopback(&smtp.host) {
            tracing::warn!(
                host = %smtp.host,
                "smtp.tls is \"none\": mail and the SMTP password cross the network unencrypted"
            );
        }
        tracing::info!(
            host = %smtp.host,
            port = smtp.port,
            tls = ?smtp.tls,
            from = %mailer.from(),
            "email notifications are on"
        );
        let (queue, requests) = mpsc::channel(QUEUE_CAPACITY);
        let handled = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            db,
            mailer,
            public_url,
            interval: smtp.notify_interval,
            handled: handled.clone(),
            shutdown,
        };
        tasks.spawn(worker.run(requests));
        Ok(Self {
            queue: Some(queue),
            handled,
        })
    }

    /// A notifier that never sends (email off).
    pub fn disabled() -> Self {
        Self {
            queue: None,
            handled: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether email notifications can be sent at all (SMTP is configured):
    /// when not, the bot must not promise that a person answers soon.
    pub fn delivers(&self) -> bool {
        self.queue.is_some()
    }

    /// Tells the tenant's people that this chat needs a person, unless they
    /// were told within `smtp.notify_interval`. Never waits: the request is
    /// queued for the worker, or dropped with a warning when the queue is
    /// full (or the app is stopping).
    pub fn chat_needs_person(&self, tenant: TenantId, conversation_id: i64) {
        let Some(queue) = &self.queue else {
            return;
        };
        match queue.try_send(Request {
            tenant,
            conversation_id,
        }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => tracing::warn!(
                %tenant,
                conversation_id,
                "notification queue full: nobody is emailed about this chat now"
            ),
            Err(mpsc::error::TrySendError::Closed(_)) => tracing::debug!(
                %tenant,
                conversation_id,
                "notification worker stopped (shutting down): request dropped"
            ),
        }
    }

    /// Requests the worker has finished with (sent, not due, failed, …), in
    /// order: tests wait on it to know a request was processed.
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Acquire)
    }
}

/// Why one notification did not go out. Only logged: no person waits on it.
#[derive(Debug, thiserror::Error)]
enum NotifyError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("composing the email: {0}")]
    Compose(#[from] lettre::error::Error),
    #[error("sending through SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("the app stopped before the email went out")]
    ShutDown,
}

/// What came of one request.
#[derive(Debug)]
enum Outcome {
    Sent {
        recipients: usize,
    },
    /// The tenant has no people with an email address.
    NoRecipients,
    /// Emailed within the interval already, no longer needing a person, or gone.
    NotDue,
}

struct Worker {
    db: DatabaseConnection,
    mailer: Mailer,
    public_url: Arc<str>,
    interval: Duration,
    handled: Arc<AtomicU64>,
    shutdown: CancellationToken,
}

impl Worker {
    async fn run(self, mut requests: mpsc::Receiver<Request>) {
        // An interval, not a sleep per turn: a stream of requests must not
        // starve the outbox.
        let mut poll = tokio::time::interval(NOTICE_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let request = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return,
                request = requests.recv() => match request {
                    Some(request) => request,
                    None => return,
                },
                _ = poll.tick() => {
                    self.send_notices().await;
                    continue;
                }
            };
            let Request {
                tenant,
                conversation_id,
            } = request;
            match self.handle(request).await {
                Ok(Outcome::Sent { recipients }) => tracing::info!(
                    %tenant,
                    conversation_id,
                    recipients,
                    "emailed the tenant's people: a chat needs a person"
                ),
                Ok(Outcome::NoRecipients) => tracing::debug!(
                    %tenant,
                    conversation_id,
                    "a chat needs a person, but nobody of the tenant has an email address"
                ),
                Ok(Outcome::NotDue) => tracing::debug!(
                    %tenant,
                    conversation_id,
                    "no email: already sent within the interval, or the chat no longer needs a person"
                ),
                Err(err) => tracing::warn!(
                    %tenant,
                    conversation_id,
                    error = %err,
                    "the needs-a-person email did not go out; a later request may retry"
                ),
            }
            self.handled.fetch_add(1, Ordering::Release);
        }
    }

    async fn handle(&self, request: Request) -> Result<Outcome, NotifyError> {
        let Request {
            tenant,
            conversation_id,
        } = request;
        let recipients: Vec<Mailbox> = store::recipients(&self.db, tenant)
            .await?
            .into_iter()
            .filter_map(|email| match email.parse() {
                Ok(mailbox) => Some(mailbox),
                Err(err) => {
                    tracing::warn!(
                        %tenant,
                        %email,
                        error = %err,
                        "a user's email address is unusable: skipped"
                    );
                    None
                }
            })
            .collect();
        if recipients.is_empty() {
            return Ok(Outcome::NoRecipients);
        }
        let Some(claim) = store::claim(
            &self.db,
            tenant,
            conversation_id,
            chrono::Utc::now(),
            self.interval,
        )
        .await?
        else {
            return Ok(Outcome::NotDue);
        };
        // INVARIANT: from here on every way out either sent the email or
        // gives the claim back, so a failure never silences the chat for
        // a whole interval.
        let sent = tokio::select! {
            sent = self.compose_and_send(tenant, conversation_id, recipients) => sent,
            () = self.shutdown.cancelled() => Err(NotifyError::ShutDown),
        };
        match sent {
            Ok(Some(recipients)) => Ok(Outcome::Sent { recipients }),
            Ok(None) => {
                self.release(tenant, conversation_id, claim).await;
                Ok(Outcome::NotDue)
            }
            Err(err) => {
                self.release(tenant, conversation_id, claim).await;
                Err(err)
            }
        }
    }

    /// The email, sent; `None` when the conversation is gone.
    async fn compose_and_send(
        &self,
        tenant: TenantId,
        conversation_id: i64,
        recipients: Vec<Mailbox>,
    ) -> Result<Option<usize>, NotifyError> {
        let link = email::inbox_link(&self.public_url, conversation_id);
        let Some(waiting) =
            store::waiting(&self.db, tenant, conversation_id, link, self.interval).await?
        else {
            return Ok(None);
        };
        let count = recipients.len();
        let from = self.mailer.from().clone();
        let mut message = Message::builder()
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4().simple(),
                from.email.domain()
            )))
            .from(from)
            .subject(email::subject(&waiting));
        for recipient in recipients {
            message = message.to(recipient);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(email::body(&waiting))?;
        self.mailer.send(message).await?;
        Ok(Some(count))
    }

    /// Sends the outbox's due notices to their tenants' owners.
    async fn send_notices(&self) {
        let now = chrono::Utc::now();
        let due = match notices::claim(&self.db, now).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(error = %err, "reading the notice outbox failed");
                return;
            }
        };
        for notice in due {
            let sent = tokio::select! {
                sent = self.send_notice(&notice) => sent,
                () = self.shutdown.cancelled() => Err(NotifyError::ShutDown),
            };
            let now = chrono::Utc::now();
            let recorded = match &sent {
                Ok(Some(recipients)) => {
                    tracing::info!(tenant = %notice.tenant, kind = %notice.kind, recipients, "emailed a notice to the owners");
                    notices::sent(&self.db, notice.id, now).await
                }
                Ok(None) => {
                    tracing::info!(tenant = %notice.tenant, kind = %notice.kind, "a notice for owners without an email address: not sent");
                    notices::failed(&self.db, &notice, "no owner has an email address", now).await
                }
                Err(err) => {
                    tracing::warn!(tenant = %notice.tenant, kind = %notice.kind, error = %err, "a notice email did not go out; it is tried again later");
                    notices::failed(&self.db, &notice, &err.to_string(), now).await
                }
            };
            if let Err(err) = recorded {
                tracing::warn!(error = %err, "recording a notice's outcome failed; its claim expires");
            }
        }
    }

    /// One notice, sent; `None` when no owner has a usable address.
    async fn send_notice(&self, notice: &notices::Due) -> Result<Option<usize>, NotifyError> {
        let (emails, business) = notices::owners(&self.db, notice.tenant).await?;
        let recipients: Vec<Mailbox> = emails
            .iter()
            .filter_map(|email| email.parse().ok())
            .collect();
        if recipients.is_empty() {
            return Ok(None);
        }
        let count = recipients.len();
        let from = self.mailer.from().clone();
        let mut message = Message::builder()
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4().simple(),
                from.email.domain()
            )))
            .from(from)
            .subject(email::notice_subject(&notice.subject, &business));
        for recipient in recipients {
            message = message.to(recipient);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(notices::with_link(
                &notice.kind,
                &notice.body,
                &self.public_url,
            ))?;
        self.mailer.send(message).await?;
        Ok(Some(count))
    }

    async fn release(&self, tenant: TenantId, conversation_id: i64, claim: store::Claim) {
        match store::release(&self.db, tenant, conversation_id, claim).await {
            Ok(_) => {}
            Err(err) => tracing::warn!(
                %tenant,
                conversation_id,
                error = %err,
                "giving back the email claim failed: no email about this chat for one interval"
            ),
        }
    }
}
