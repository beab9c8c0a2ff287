//! WhatsApp Web (linked device) on the `whatsapp-rust` crate (=0.7.0): a
//! tenant's bot is a companion device of the owner's phone, linked by QR
//! code or by an 8-character pairing code, its keys in our database
//! (`store`).
//!
//! Owns: one `whatsapp_rust::Bot` at a time per tenant (a fresh one per
//! connection attempt, since the crate's QR codes run out for good on a
//! `Bot`), the reconnect policy, the "cannot reach WhatsApp" watchdog, and
//! wiping the keys on logout.
//!
//! How the crate's events map onto `TransportEvent` (see `map_event`):
//! - `PairingQrCode` → `Qr` (expiry = now + its timeout); `PairingCode` →
//!   `PairingCode`; `Connected` → `Connected { phone: "+<own number>" }`;
//! - `Messages`: text messages in one-to-one chats → `Message` (id = the
//!   WhatsApp message id, from = "+<number>", or the `…@lid` JID when
//!   WhatsApp hides the number); our own, group, status and channel
//!   messages are ignored;
//! - `LoggedOut` (device removed on the phone, 401/516) → keys wiped, `run`
//!   ends with `Err(LoggedOut)`;
//! - `PairingQrCodesExhausted` → `Err(QrTimeout)`;
//! - `StreamReplaced`, `ClientOutdated`, unrecoverable `ConnectFailure`s, a
//!   pairing code refused → `Err(Fatal(reason))`: retrying cannot help;
//! - `TemporaryBan`, a throttled pairing-code request (rate-overlimit) →
//!   `Disconnected { reason }` and a pause as long as WhatsApp asks, then a
//!   new connection — not a restart;
//! - any other end of the connection → `Disconnected { reason }` and a new
//!   connection after `reconnect_min`, doubling with jitter up to
//!   `reconnect_max` (reset by the next `Connected`; right away after a
//!   successful pairing, which WhatsApp ends with a restart on purpose).
//!
//! The crate's own reconnect loop is switched off (it backs off up to 900 s
//! and, offline, says nothing at all); this module's loop replaces it.
//! Until WhatsApp's servers were reached once in this run, a watchdog ends
//! `run` after `connect_timeout` with `Err(Fatal("cannot reach WhatsApp
//! servers: <last network error>"))`.
//!
//! Must not: keep keys anywhere but the database, spin (every retry waits),
//! outlive `cancel` (the crate's client is disconnected, then aborted), or
//! block the bot (events go through the bot's bounded channel).

pub mod store;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::client::Client;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::{Event, MessageBuilderExt, MessageExt, wa};
use whatsapp_rust::transport::{TokioWebSocketTransportFactory, TransportFactory};
use whatsapp_rust::{Jid, async_channel, wacore};

use super::{InboundMessage, PhoneMessage, Transport, TransportError, TransportEvent};
use crate::config::WhatsappWebSettings;
use crate::crypto::MasterKey;
use crate::domain::ids::TenantId;
use crate::domain::media;
use entity::enums::MessageKind;
use store::SeaOrmStore;

/// Crate events waiting for `run`, per connection.
const SIGNAL_CAPACITY: usize = 64;
/// How long a clean disconnect of the crate's client may take before its
/// task is aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Per HTTP request of the crate (version check, media).
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct WebTransport {
    db: DatabaseConnection,
    /// Seals the keys in the store.
    key: MasterKey,
    tenant: TenantId,
    /// E.164 ("+4915112345678"): link with a pairing code instead of a QR.
    pairing_phone: Option<String>,
    settings: WhatsappWebSettings,
    /// The connection's client while one runs (for `send_text`, `logout`).
    client: Mutex<Option<Arc<Client>>>,
}

impl WebTransport {
    pub fn new(
        db: DatabaseConnection,
        key: MasterKey,
        tenant: TenantId,
        pairing_phone: Option<String>,
        settings: WhatsappWebSettings,
    ) -> Self {
        Self {
            db,
            key,
            tenant,
            pairing_phone,
            settings,
            client: Mutex::new(None),
        }
    }

    fn current_client(&self) -> Option<Arc<Client>> {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_client(&self, client: Option<Arc<Client>>) {
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) = client;
    }

    async fn build_bot(
        &self,
        store: &Arc<SeaOrmStore>,
        network: &Arc<NetworkLog>,
        signals: mpsc::Sender<Mapped>,
    ) -> Result<Bot, TransportError> {
        let mut builder = Bot::builder()
            .with_backend_arc(store.clone())
            .with_transport_factory(RecordingTransportFactory {
                inner: TokioWebSocketTransportFactory::new(),
                log: network.clone(),
            })
            .with_http_client(ReqwestHttp::new(network.clone())?)
            // A bot answers what comes in; old chats are not its business.
            .skip_history_sync()
            .on_event(move |event, _client| {
                let mapped = map_event(&event);
                let signals = signals.clone();
                async move {
                    for signal in mapped {
                        // Closed only when `run` is gone.
                        if signals.send(signal).await.is_err() {
                            break;
                        }
                    }
                }
            });
        if let Some(phone) = &self.pairing_phone {
            // Skipped by the crate when the device is linked already.
            builder = builder.with_pair_code(PairCodeOptions {
                phone_number: phone.trim_start_matches('+').to_owned(),
                ..Default::default()
            });
        }
        builder
            .build()
            .await
            .map_err(|err| TransportError::Failed(format!("starting WhatsApp Web: {err}")))
    }

    /// Runs one connection (one crate `Bot`) until it ends; what next.
    async fn connection(
        &self,
        bot: Bot,
        mut signals: mpsc::Receiver<Mapped>,
        events: &mpsc::Sender<TransportEvent>,
        cancel: &CancellationToken,
        run: &mut RunState,
    ) -> Next {
        let client = bot.client();
        // INVARIANT: auto-reconnect off before the first connect: when this
        // connection ends, `handle` resolves and the loop in `run` decides.
        client
            .enable_auto_reconnect
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let mut handle = bot.spawn();
        self.set_client(Some(client.clone()));
        let mut session = Session::default();
        let watchdog = (!run.reached).then_some(run.watchdog);
        let watchdog_sleep = async {
            match watchdog {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(watchdog_sleep);

        let next = loop {
            tokio::select! {
                () = cancel.cancelled() => break Next::Stop,
                () = &mut watchdog_sleep, if !run.reached => break Next::Unreachable,
                () = &mut handle => {
                    // The connection is over; take what it said last.
                    let mut last = None;
                    while last.is_none() && let Ok(signal) = signals.try_recv() {
                        last = self.on_signal(signal, &client, events, &mut session, run).await;
                    }
                    break last.unwrap_or_else(|| session.outcome());
                }
                signal = signals.recv() => {
                    let Some(signal) = signal else { break session.outcome() };
                    if let Some(next) = self.on_signal(signal, &client, events, &mut session, run).await {
                        break next;
                    }
                }
            }
        };
        self.set_client(None);
        shut_down(&client, handle).await;
        next
    }

    /// Handles one crate event; `Some` when the connection must end now.
    async fn on_signal(
        &self,
        signal: Mapped,
        client: &Arc<Client>,
        events: &mpsc::Sender<TransportEvent>,
        session: &mut Session,
        run: &mut RunState,
    ) -> Option<Next> {
        let event = match signal {
            Mapped::Qr { .. } if self.pairing_phone.is_some() => {
                // Linking by phone number: the crate shows QR codes too, but
                // the code to type is what the owner asked for (a QR would
                // replace it on the page).
                run.reached = true;
                return None;
            }
            Mapped::Qr { code, ttl } => {
                run.reached = true;
                TransportEvent::Qr {
                    code,
                    expires_at: expiry(ttl),
                }
            }
            Mapped::PairingCode { code, ttl } => {
                run.reached = true;
                TransportEvent::PairingCode {
                    code,
                    expires_at: expiry(ttl),
                }
            }
            Mapped::Connected => {
                run.reached = true;
                run.backoff.reset();
                let phone = client
                    .pn()
                    .map(|jid| format!("+{}", jid.user))
                    .unwrap_or_default();
                TransportEvent::Connected { phone }
            }
            Mapped::Message(message) => TransportEvent::Message(message),
            Mapped::PhoneWrote(message) => TransportEvent::PhoneWrote(message),
            Mapped::PairSuccess => {
                session.paired = true;
                return None;
            }
            Mapped::Disconnected(reason) => {
                session.disconnect = Some(reason);
                return None;
            }
            Mapped::LoggedOut => return Some(Next::LoggedOut),
            Mapped::QrExhausted { disconnected } => {
                // With a pairing code outstanding the connection stays up
                // for it; otherwise the crate hangs up itself.
                if disconnected || self.pairing_phone.is_none() {
                    return Some(Next::QrTimeout);
                }
                return None;
            }
            Mapped::Pause { reason, wait } => {
                run.reached = true;
                return Some(Next::Pause { reason, wait });
            }
            Mapped::PairCodeThrottled { wait } => {
                run.reached = true;
                return Some(Next::Pause {
                    reason: "WhatsApp asked to slow down pairing-code requests (rate-overlimit)"
                        .to_owned(),
                    wait: wait.unwrap_or(self.settings.reconnect_max),
                });
            }
            Mapped::Fatal(reason) => return Some(Next::Fatal(reason)),
        };
        if events.send(event).await.is_err() {
            // The bot is gone.
            return Some(Next::Stop);
        }
        None
    }
}

/// What one connection ended with.
enum Next {
    Stop,
    LoggedOut,
    QrTimeout,
    Unreachable,
    Fatal(String),
    Pause { reason: String, wait: Duration },
    Reconnect { reason: String, at_once: bool },
}

/// What one connection saw.
#[derive(Default)]
struct Session {
    paired: bool,
    disconnect: Option<String>,
}

/// What outlives a connection within one `run`.
struct RunState {
    /// Until WhatsApp answered once (a QR, a code, a connection), `run`
    /// ends at this instant.
    watchdog: tokio::time::Instant,
    reached: bool,
    backoff: Backoff,
}

impl Session {
    fn outcome(&self) -> Next {
        Next::Reconnect {
            reason: self
                .disconnect
                .clone()
                .unwrap_or_else(|| "connection to WhatsApp lost".to_owned()),
            // Pairing ends with a deliberate restart by the server.
            at_once: self.paired,
        }
    }
}

/// Disconnects the crate's client (flushing its state), aborting it if
/// that takes too long.
async fn shut_down(client: &Arc<Client>, mut handle: BotHandle) {
    let clean = tokio::time::timeout(SHUTDOWN_GRACE, async {
        client.disconnect().await;
        (&mut handle).await;
    })
    .await;
    if clean.is_err() {
        tracing::warn!("WhatsApp Web client did not stop in time; aborting it");
        handle.abort();
    }
}

fn expiry(ttl: Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60))
}

#[async_trait::async_trait]
impl Transport for WebTransport {
    async fn run(
        &self,
        events: mpsc::Sender<TransportEvent>,
        cancel: CancellationToken,
    ) -> Result<(), TransportError> {
        let store = Arc::new(SeaOrmStore::new(
            self.db.clone(),
            self.key.clone(),
            self.tenant,
        ));
        let network = Arc::new(NetworkLog::default());
        let mut run = RunState {
            watchdog: tokio::time::Instant::now() + self.settings.connect_timeout,
            reached: false,
            backoff: Backoff::new(self.settings.reconnect_min, self.settings.reconnect_max),
        };
        loop {
            let (signal_tx, signal_rx) = mpsc::channel(SIGNAL_CAPACITY);
            let bot = self.build_bot(&store, &network, signal_tx).await?;
            let next = self
                .connection(bot, signal_rx, &events, &cancel, &mut run)
                .await;
            let wait = match next {
                Next::Stop => return Ok(()),
                Next::LoggedOut => {
                    if let Err(err) = store::wipe(&self.db, self.tenant).await {
                        tracing::error!(tenant = %self.tenant, error = %err, "wiping WhatsApp Web keys after logout failed");
                    }
                    return Err(TransportError::LoggedOut);
                }
                Next::QrTimeout => return Err(TransportError::QrTimeout),
                Next::Fatal(reason) => return Err(TransportError::Fatal(reason)),
                Next::Unreachable => {
                    return Err(unreachable(&network, self.settings.connect_timeout));
                }
                Next::Pause { reason, wait } => {
                    let _ = events.send(TransportEvent::Disconnected { reason }).await;
                    // Never a hot loop, even when WhatsApp names no wait.
                    wait.max(self.settings.reconnect_min)
                }
                Next::Reconnect { at_once: true, .. } => Duration::ZERO,
                Next::Reconnect { reason, .. } => {
                    // Quiet until WhatsApp answered once: the watchdog speaks then.
                    if run.reached {
                        let _ = events.send(TransportEvent::Disconnected { reason }).await;
                    }
                    run.backoff.next_wait()
                }
            };
            let until_watchdog = if run.reached {
                None
            } else {
                Some(
                    run.watchdog
                        .saturating_duration_since(tokio::time::Instant::now()),
                )
            };
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(until_watchdog.map_or(wait, |left| left.min(wait))) => {}
            }
            if !run.reached && tokio::time::Instant::now() >= run.watchdog {
                return Err(unreachable(&network, self.settings.connect_timeout));
            }
        }
    }

    async fn send_text(&self, chat: &str, text: &str) -> Result<String, TransportError> {
        let client = self.current_client().ok_or(TransportError::NotConnected)?;
        if !client.is_logged_in() {
            return Err(TransportError::NotConnected);
        }
        let to = chat_jid(chat)?;
        let sent = client
            .send_message(to, wa::Message::text(text))
            .await
            .map_err(|err| {
                TransportError::Failed(format!("WhatsApp did not take the message: {err}"))
            })?;
        Ok(sent.message_id)
    }

    async fn logout(&self) -> Result<(), TransportError> {
        // Unlinks on the phone when online (the crate's logout is best
        // effort); the keys go either way, so the next start links anew.
        if let Some(client) = self.current_client() {
            client.logout().await;
        }
        store::wipe(&self.db, self.tenant)
            .await
            .map_err(|err| TransportError::Failed(format!("wiping the WhatsApp Web keys: {err}")))
    }
}

fn unreachable(network: &NetworkLog, timeout: Duration) -> TransportError {
    let cause = network
        .last_error()
        .unwrap_or_else(|| format!("no answer within {}", in_words(timeout)));
    TransportError::Fatal(format!("cannot reach WhatsApp servers: {cause}"))
}

/// "2h 5m", "40s": for reasons people read.
fn in_words(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) if s == 0 => format!("{m}m"),
        (0, _) => format!("{m}m {s}s"),
        _ if m == 0 => format!("{h}h"),
        _ => format!("{h}h {m}m"),
    }
}

/// The JID of a chat as the bot names it: "+4915…" (or digits), or a full
/// JID such as "1234…@lid" for customers whose number WhatsApp hides.
pub fn chat_jid(chat: &str) -> Result<Jid, TransportError> {
    if chat.contains('@') {
        return chat
            .parse()
            .map_err(|err| TransportError::Failed(format!("not a WhatsApp chat {chat:?}: {err}")));
    }
    let digits = chat.trim_start_matches('+');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TransportError::Failed(format!(
            "not a phone number: {chat:?}"
        )));
    }
    Ok(Jid::pn(digits))
}

/// A crate event, reduced to what `run` acts on. Public for the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    Qr {
        code: String,
        ttl: Duration,
    },
    PairingCode {
        code: String,
        ttl: Duration,
    },
    Connected,
    PairSuccess,
    Message(Box<InboundMessage>),
    PhoneWrote(Box<PhoneMessage>),
    Disconnected(String),
    LoggedOut,
    QrExhausted {
        disconnected: bool,
    },
    /// Wait this long, then connect again.
    Pause {
        reason: String,
        wait: Duration,
    },
    PairCodeThrottled {
        wait: Option<Duration>,
    },
    Fatal(String),
}

/// What a crate event means for the transport; most mean nothing.
pub fn map_event(event: &Event) -> Vec<Mapped> {
    let one = match event {
        Event::PairingQrCode(qr) => Mapped::Qr {
            code: qr.code.clone(),
            ttl: qr.timeout,
        },
        Event::PairingCode(code) => Mapped::PairingCode {
            code: code.code.clone(),
            ttl: code.timeout,
        },
        Event::Connected(_) => Mapped::Connected,
        Event::PairSuccess(_) => Mapped::PairSuccess,
        Event::Messages(batch) => {
            return batch.messages.iter().filter_map(inbound).collect();
        }
        Event::Disconnected(disconnected) => Mapped::Disconnected(disconnected.reason.to_string()),
        Event::LoggedOut(_) => Mapped::LoggedOut,
        Event::PairingQrCodesExhausted(exhausted) => Mapped::QrExhausted {
            disconnected: exhausted.disconnected,
        },
        Event::StreamReplaced(_) => Mapped::Fatal(
            "another WhatsApp Web session with this link took over (is the bot running twice?)"
                .to_owned(),
        ),
        Event::TemporaryBan(ban) => Mapped::Pause {
            reason: format!(
                "temporarily banned by WhatsApp ({}): paused for {}",
                ban.code,
                in_words(ban.expire.to_std().unwrap_or(Duration::ZERO))
            ),
            wait: ban.expire.to_std().unwrap_or(Duration::ZERO),
        },
        Event::ClientOutdated(_) => Mapped::Fatal(
            "WhatsApp rejected this client version as outdated: update Flow HQ".to_owned(),
        ),
        Event::ConnectFailure(failure) if !failure.reason.should_reconnect() => {
            Mapped::Fatal(format!(
                "WhatsApp refused the connection ({:?}){}",
                failure.reason,
                failure
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ))
        }
        Event::PairingCodeError(error) => match error.rejection {
            Some(rejection) if rejection.is_throttled() => Mapped::PairCodeThrottled {
                wait: error.backoff,
            },
            _ => Mapped::Fatal(format!(
                "WhatsApp gave no pairing code for this number: {}",
                error.error
            )),
        },
        _ => return Vec::new(),
    };
    vec![one]
}

/// A one-to-one chat's message: a customer's (text, or what else they
/// sent), or one the business's own phone sent to a customer; `None` for
/// groups, broadcasts and what is no message to a person (reactions,
/// receipts of protocol changes, key distribution).
fn inbound(message: &wacore::types::events::InboundMessage) -> Option<Mapped> {
    let info = &message.info;
    let source = &info.source;
    if source.is_group || !(source.chat.is_pn() || source.chat.is_lid()) {
        return None;
    }
    let (kind, text) = content(&message.message)?;
    if source.is_from_me {
        // The customer is the chat.
        let chat = customer_chat(source, &[Some(&source.chat), source.recipient_alt.as_ref()]);
        return Some(Mapped::PhoneWrote(Box::new(PhoneMessage {
            id: info.id.clone(),
            chat,
            text,
            kind,
            at: info.timestamp,
        })));
    }
    let from = customer_chat(
        source,
        &[
            Some(&source.chat),
            Some(&source.sender),
            source.sender_alt.as_ref(),
        ],
    );
    Some(Mapped::Message(Box::new(InboundMessage {
        id: info.id.clone(),
        from,
        text,
        kind,
        at: info.timestamp,
        contact_name: Some(info.push_name.trim())
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
        stored: None,
    })))
}

/// The customer's chat as the log names it: the first phone number among
/// `candidates` when WhatsApp tells one, else the hidden-number JID.
fn customer_chat(
    source: &wacore::types::message::MessageSource,
    candidates: &[Option<&Jid>],
) -> String {
    candidates
        .iter()
        .flatten()
        .find(|jid| jid.is_pn())
        .map_or_else(
            || source.chat.to_non_ad().to_string(),
            |jid| format!("+{}", jid.user),
        )
}

/// What a message is and its words: its text, or the caption, file name,
/// place or names of what else it is (files are not downloaded). `None`:
/// nothing a person should see.
pub fn content(message: &wa::Message) -> Option<(MessageKind, String)> {
    if let Some(text) = message.text_content().filter(|t| !t.trim().is_empty()) {
        return Some((MessageKind::Text, text.to_owned()));
    }
    let base = message.get_base_message();
    let words = |parts: &[Option<&str>]| {
        parts
            .iter()
            .flatten()
            .map(|part| part.trim())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(": ")
    };
    let (kind, text) = if let Some(m) = base.image_message.as_option() {
        (MessageKind::Image, words(&[m.caption.as_deref()]))
    } else if let Some(m) = base.audio_message.as_option() {
        let _ = m;
        (MessageKind::Audio, String::new())
    } else if let Some(m) = base
        .video_message
        .as_option()
        .or(base.ptv_message.as_option())
    {
        (MessageKind::Video, words(&[m.caption.as_deref()]))
    } else if let Some(m) = base.document_message.as_option() {
        (
            MessageKind::Document,
            words(&[m.file_name.as_deref(), m.caption.as_deref()]),
        )
    } else if base.sticker_message.is_set() {
        (MessageKind::Sticker, String::new())
    } else if let Some(m) = base.location_message.as_option() {
        let at = match (m.degrees_latitude, m.degrees_longitude) {
            (Some(lat), Some(long)) => Some(format!("{lat}, {long}")),
            _ => None,
        };
        let text = [m.name.as_deref(), m.address.as_deref(), at.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
        (MessageKind::Location, text)
    } else if let Some(m) = base.live_location_message.as_option() {
        let at = match (m.degrees_latitude, m.degrees_longitude) {
            (Some(lat), Some(long)) => Some(format!("{lat}, {long}")),
            _ => None,
        };
        (
            MessageKind::Location,
            words(&[m.caption.as_deref(), at.as_deref()]),
        )
    } else if let Some(m) = base.contact_message.as_option() {
        (MessageKind::Contacts, words(&[m.display_name.as_deref()]))
    } else if let Some(m) = base.contacts_array_message.as_option() {
        let names: Vec<&str> = m
            .contacts
            .iter()
            .filter_map(|c| c.display_name.as_deref())
            .collect();
        (MessageKind::Contacts, names.join(", "))
    } else if let Some(m) = base.template_button_reply_message.as_option() {
        (
            MessageKind::Button,
            words(&[m.selected_display_text.as_deref()]),
        )
    } else if let Some(m) = base.list_response_message.as_option() {
        (MessageKind::Button, words(&[m.title.as_deref()]))
    } else if let Some(m) = base.buttons_response_message.as_option() {
        (
            MessageKind::Button,
            words(&[m.selected_button_id.as_deref()]),
        )
    } else if base.interactive_response_message.is_set() {
        (MessageKind::Button, String::new())
    } else {
        return None;
    };
    Some((kind, media::detail(&text)))
}

/// Waits between connection attempts: from `min`, doubling up to `max`,
/// each wait drawn from [half, full] so bots that dropped together do not
/// come back together.
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            current: min,
        }
    }

    pub fn next_wait(&mut self) -> Duration {
        let full = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = full / 2;
        half + rand::rng().random_range(Duration::ZERO..=full - half)
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

/// The last network failure of the crate's connections, for the message
/// that says why WhatsApp cannot be reached.
#[derive(Default)]
struct NetworkLog {
    last_error: Mutex<Option<String>>,
}

impl NetworkLog {
    fn record(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The crate's WebSocket transport, noting why a connection failed.
struct RecordingTransportFactory {
    inner: TokioWebSocketTransportFactory,
    log: Arc<NetworkLog>,
}

#[async_trait::async_trait]
impl TransportFactory for RecordingTransportFactory {
    async fn create_transport(
        &self,
    ) -> Result<
        (
            Arc<dyn whatsapp_rust::transport::Transport>,
            async_channel::Receiver<whatsapp_rust::transport::TransportEvent>,
        ),
        whatsapp_rust::anyhow::Error,
    > {
        let result = self.inner.create_transport().await;
        if let Err(err) = &result {
            self.log.record(format!("{err:#}"));
        }
        result
    }
}

/// The crate's HTTP client trait on our reqwest (rustls), instead of the
/// crate's ureq. Any status is an answer (the crate reads 4xx itself);
/// only exchanges that did not happen are errors.
struct ReqwestHttp {
    client: reqwest::Client,
    log: Arc<NetworkLog>,
}

impl ReqwestHttp {
    fn new(log: Arc<NetworkLog>) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|err| TransportError::Failed(format!("building the HTTP client: {err}")))?;
        Ok(Self { client, log })
    }

    async fn exchange(&self, request: HttpRequest) -> whatsapp_rust::anyhow::Result<HttpResponse> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body.to_vec());
        }
        // Without the URL: media URLs carry tokens in their query.
        let response = builder.send().await.map_err(reqwest::Error::without_url)?;
        let status_code = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(reqwest::Error::without_url)?
            .to_vec();
        Ok(HttpResponse { status_code, body })
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestHttp {
    async fn execute(&self, request: HttpRequest) -> whatsapp_rust::anyhow::Result<HttpResponse> {
        let url = request.url.clone();
        let result = self.exchange(request).await;
        if let Err(err) = &result {
            // Without the query: media URLs carry tokens.
            let target = url.split('?').next().unwrap_or_default();
            self.log.record(format!("{target}: {err:#}"));
        }
        result
    }
}
