//! The sandbox: a simulated WhatsApp inside Flow HQ. It shows real QR codes
//! that expire like WhatsApp Web's (the first after 60 s, then every 20 s, at
//! most 6, then it gives up), links when a scan is simulated, takes customer
//! messages from the admin UI/API and keeps what the bot sent in an outbox.
//! It is how a newcomer sees the whole product, how tests drive bots and how
//! the benchmark loads them.
//!
//! The `SandboxHub` (one per app, in `AppState`) is the other end of every
//! sandbox: the HTTP API pushes scans and messages into a tenant's bounded
//! inbox and reads its outbox. Whether a sandbox is linked is kept by the
//! bot in the database, so a link survives a restart; the transport is told
//! at construction.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use dashmap::DashMap;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{InboundMessage, PhoneMessage, Transport, TransportError, TransportEvent};
use crate::crypto;
use crate::domain::ids::TenantId;
use crate::services::sandbox::{SandboxPhone, SandboxRefusal, SandboxSent};

/// Messages waiting for a sandbox bot; more are refused, never dropped.
const INBOX_CAPACITY: usize = 256;
/// The outbox shows the last this many messages the bot sent.
const OUTBOX_CAPACITY: usize = 1000;

/// WhatsApp Web's QR rhythm, shortened in tests.
#[derive(Debug, Clone, Copy)]
pub struct QrSchedule {
    pub first: Duration,
    pub next: Duration,
    pub max_codes: u32,
}

impl Default for QrSchedule {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(60),
            next: Duration::from_secs(20),
            max_codes: 6,
        }
    }
}

/// What the bot sent, as the sandbox's outbox shows it.
pub type OutboxEntry = SandboxSent;

#[derive(Debug)]
enum Input {
    Scan {
        phone: String,
    },
    /// Boxed to keep the always-allocated inbox block small.
    Message(Box<InboundMessage>),
    /// The linked phone itself wrote to a customer.
    Phone(Box<PhoneMessage>),
    Logout,
}

/// Why the sandbox refused (shared with the use cases).
pub type SandboxError = SandboxRefusal;

/// One tenant's sandbox, shared by its transport and the HTTP API.
struct Sandbox {
    inbox_tx: mpsc::Sender<Input>,
    inbox_rx: Mutex<mpsc::Receiver<Input>>,
    running: AtomicBool,
    showing_qr: AtomicBool,
    linked_phone: std::sync::Mutex<Option<String>>,
    outbox: std::sync::Mutex<VecDeque<OutboxEntry>>,
}

impl Sandbox {
    fn new() -> Self {
        let (inbox_tx, inbox_rx) = mpsc::channel(INBOX_CAPACITY);
        Self {
            inbox_tx,
            inbox_rx: Mutex::new(inbox_rx),
            running: AtomicBool::new(false),
            showing_qr: AtomicBool::new(false),
            linked_phone: std::sync::Mutex::new(None),
            outbox: std::sync::Mutex::new(VecDeque::new()),
        }
    }

    fn linked_phone(&self) -> Option<String> {
        self.linked_phone.lock().map(|p| p.clone()).unwrap_or(None)
    }

    fn set_linked_phone(&self, phone: Option<String>) {
        if let Ok(mut guard) = self.linked_phone.lock() {
            *guard = phone;
        }
    }

    fn push(&self, input: Input) -> Result<(), SandboxError> {
        self.inbox_tx.try_send(input).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => SandboxError::InboxFull,
            mpsc::error::TrySendError::Closed(_) => SandboxError::NotRunning,
        })
    }
}

/// Every tenant's sandbox end, keyed by tenant.
#[derive(Default)]
pub struct SandboxHub {
    tenants: DashMap<TenantId, Arc<Sandbox>>,
}

impl SandboxHub {
    fn sandbox(&self, tenant: TenantId) -> Arc<Sandbox> {
        // INVARIANT: the entry guard is dropped at the end of this statement.
        self.tenants
            .entry(tenant)
            .or_insert_with(|| Arc::new(Sandbox::new()))
            .clone()
    }

    /// The transport for a tenant's bot; `linked_phone` is what the database
    /// remembers of an earlier link.
    pub fn transport(
        &self,
        tenant: TenantId,
        linked_phone: Option<String>,
        schedule: QrSchedule,
    ) -> SandboxTransport {
        let sandbox = self.sandbox(tenant);
        sandbox.set_linked_phone(linked_phone);
        SandboxTransport {
            tenant,
            sandbox,
            schedule,
        }
    }

    /// Simulates scanning the QR code with a phone.
    pub fn scan(&self, tenant: TenantId, phone: &str) -> Result<(), SandboxError> {
        let sandbox = self.sandbox(tenant);
        if !sandbox.running.load(Ordering::Acquire) {
            return Err(SandboxError::NotRunning);
        }
        if !sandbox.showing_qr.load(Ordering::Acquire) {
            return Err(SandboxError::NotWaitingForScan);
        }
        sandbox.push(Input::Scan {
            phone: phone.to_owned(),
        })
    }

    /// Delivers a customer message to the tenant's bot the way WhatsApp
    /// does: through the transport, which stores nothing (the bot stores
    /// it). The benchmark loads bots this way; the sandbox API stores
    /// first (`services::sandbox::customer_writes`).
    pub fn inbound(&self, tenant: TenantId, message: InboundMessage) -> Result<(), SandboxError> {
        self.accepts_messages(tenant)?;
        self.sandbox(tenant).push(Input::Message(Box::new(message)))
    }

    /// Simulates the business's own phone writing to a customer (WhatsApp
    /// Web delivers those to the linked device too).
    pub fn phone_writes(
        &self,
        tenant: TenantId,
        message: PhoneMessage,
    ) -> Result<(), SandboxError> {
        self.accepts_messages(tenant)?;
        self.sandbox(tenant).push(Input::Phone(Box::new(message)))
    }

    /// Running and linked: a customer can write.
    pub fn accepts_messages(&self, tenant: TenantId) -> Result<(), SandboxError> {
        let sandbox = self.sandbox(tenant);
        if !sandbox.running.load(Ordering::Acquire) {
            return Err(SandboxError::NotRunning);
        }
        if sandbox.linked_phone().is_none() {
            return Err(SandboxError::NotLinked);
        }
        Ok(())
    }

    /// Simulates removing the linked device from the phone.
    pub fn unlink(&self, tenant: TenantId) -> Result<(), SandboxError> {
        let sandbox = self.sandbox(tenant);
        if !sandbox.running.load(Ordering::Acquire) {
            return Err(SandboxError::NotRunning);
        }
        sandbox.push(Input::Logout)
    }

    /// What the bot sent, oldest first (the last 1000).
    pub fn outbox(&self, tenant: TenantId) -> Vec<OutboxEntry> {
        self.tenants
            .get(&tenant)
            .map(|sandbox| {
                sandbox
                    .outbox
                    .lock()
                    .map(|o| o.iter().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Drops a deleted tenant's sandbox.
    pub fn forget(&self, tenant: TenantId) {
        self.tenants.remove(&tenant);
    }
}

impl SandboxPhone for SandboxHub {
    fn scan(&self, tenant: TenantId, phone: &str) -> Result<(), SandboxRefusal> {
        SandboxHub::scan(self, tenant, phone)
    }

    fn accepts_messages(&self, tenant: TenantId) -> Result<(), SandboxRefusal> {
        SandboxHub::accepts_messages(self, tenant)
    }

    fn outbox(&self, tenant: TenantId) -> Vec<SandboxSent> {
        SandboxHub::outbox(self, tenant)
    }

    fn phone_writes(&self, tenant: TenantId, message: PhoneMessage) -> Result<(), SandboxRefusal> {
        SandboxHub::phone_writes(self, tenant, message)
    }
}

pub struct SandboxTransport {
    tenant: TenantId,
    sandbox: Arc<Sandbox>,
    schedule: QrSchedule,
}

/// Clears the running flags however `run` ends.
struct RunningGuard<'a>(&'a Sandbox);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.showing_qr.store(false, Ordering::Release);
        self.0.running.store(false, Ordering::Release);
    }
}

impl SandboxTransport {
    fn qr_content(&self, n: u32) -> String {
        format!(
            "flowhq-sandbox:{}:{n}:{}",
            self.tenant,
            crypto::random_token(12)
        )
    }

    /// Shows QR codes until one is scanned (Ok(Some(phone))), the codes run
    /// out (Err(QrTimeout)) or the bot is cancelled (Ok(None)).
    async fn link(
        &self,
        inbox: &mut mpsc::Receiver<Input>,
        events: &mpsc::Sender<TransportEvent>,
        cancel: &CancellationToken,
    ) -> Result<Option<String>, TransportError> {
        let _qr = QrFlag::raise(&self.sandbox);
        for n in 0..self.schedule.max_codes {
            let ttl = if n == 0 {
                self.schedule.first
            } else {
                self.schedule.next
            };
            let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
            let event = TransportEvent::Qr {
                code: self.qr_content(n),
                expires_at,
            };
            if events.send(event).await.is_err() {
                return Ok(None);
            }
            let expired = tokio::time::sleep(ttl);
            tokio::pin!(expired);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return Ok(None),
                    () = &mut expired => break,
                    input = inbox.recv() => match input {
                        Some(Input::Scan { phone }) => return Ok(Some(phone)),
                        // Not linked: nothing can arrive or be unlinked yet.
                        Some(Input::Message(_) | Input::Phone(_) | Input::Logout) => {}
                        None => return Ok(None),
                    },
                }
            }
        }
        Err(TransportError::QrTimeout)
    }
}

/// `showing_qr` is true exactly while `link` runs.
struct QrFlag<'a>(&'a Sandbox);

impl<'a> QrFlag<'a> {
    fn raise(sandbox: &'a Sandbox) -> Self {
        sandbox.showing_qr.store(true, Ordering::Release);
        Self(sandbox)
    }
}

impl Drop for QrFlag<'_> {
    fn drop(&mut self) {
        self.0.showing_qr.store(false, Ordering::Release);
    }
}

#[async_trait::async_trait]
impl Transport for SandboxTransport {
    async fn run(
        &self,
        events: mpsc::Sender<TransportEvent>,
        cancel: CancellationToken,
    ) -> Result<(), TransportError> {
        // One run at a time per tenant: the inbox has one reader.
        let mut inbox = self.sandbox.inbox_rx.lock().await;
        self.sandbox.running.store(true, Ordering::Release);
        let _running = RunningGuard(&self.sandbox);

        let phone = match self.sandbox.linked_phone() {
            Some(phone) => phone,
            None => match Box::pin(self.link(&mut inbox, &events, &cancel)).await? {
                Some(phone) => {
                    self.sandbox.set_linked_phone(Some(phone.clone()));
                    phone
                }
                None => return Ok(()),
            },
        };
        if events
            .send(TransportEvent::Connected { phone })
            .await
            .is_err()
        {
            return Ok(());
        }
        loop {
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                input = inbox.recv() => match input {
                    Some(Input::Message(message)) => {
                        if events.send(TransportEvent::Message(message)).await.is_err() {
                            return Ok(());
                        }
                    }
                    Some(Input::Phone(message)) => {
                        if events.send(TransportEvent::PhoneWrote(message)).await.is_err() {
                            return Ok(());
                        }
                    }
                    Some(Input::Logout) => {
                        self.sandbox.set_linked_phone(None);
                        let _ = events.send(TransportEvent::LoggedOut).await;
                        return Err(TransportError::LoggedOut);
                    }
                    Some(Input::Scan { .. }) => {}
                    None => return Ok(()),
                },
            }
        }
    }

    async fn send_text(&self, chat: &str, text: &str) -> Result<String, TransportError> {
        if self.sandbox.linked_phone().is_none() {
            return Err(TransportError::NotConnected);
        }
        let id = format!("sandbox.{}", Uuid::new_v4().simple());
        let entry = OutboxEntry {
            to: chat.to_owned(),
            text: text.to_owned(),
            id: id.clone(),
            sent_at: Utc::now(),
        };
        if let Ok(mut outbox) = self.sandbox.outbox.lock() {
            if outbox.len() == OUTBOX_CAPACITY {
                outbox.pop_front();
            }
            outbox.push_back(entry);
        }
        Ok(id)
    }

    async fn logout(&self) -> Result<(), TransportError> {
        self.sandbox.set_linked_phone(None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> QrSchedule {
        QrSchedule {
            first: Duration::from_millis(200),
            next: Duration::from_millis(50),
            max_codes: 3,
        }
    }

    fn message(id: &str) -> InboundMessage {
        InboundMessage {
            id: id.to_owned(),
            kind: entity::enums::MessageKind::Text,
            from: "4915100000001".to_owned(),
            text: "hello".to_owned(),
            at: Utc::now(),
            contact_name: None,
            stored: None,
        }
    }

    #[tokio::test]
    async fn unscanned_codes_are_replaced_then_the_link_gives_up() {
        let hub = SandboxHub::default();
        let tenant = TenantId::new_random();
        let transport = hub.transport(tenant, None, fast());
        let (tx, mut rx) = mpsc::channel(16);
        let result = transport.run(tx, CancellationToken::new()).await;
        assert!(
            matches!(result, Err(TransportError::QrTimeout)),
            "{result:?}"
        );
        let mut codes = Vec::new();
        while let Ok(event) = rx.try_recv() {
            match event {
                TransportEvent::Qr { code, .. } => codes.push(code),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(codes.len(), 3);
        codes.dedup();
        assert_eq!(codes.len(), 3, "every code is new");
        assert_eq!(hub.scan(tenant, "+491"), Err(SandboxError::NotRunning));
    }

    #[tokio::test]
    async fn a_scan_links_and_messages_flow_both_ways() {
        let hub = Arc::new(SandboxHub::default());
        let tenant = TenantId::new_random();
        let transport = Arc::new(hub.transport(tenant, None, fast()));
        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let transport = transport.clone();
            let cancel = cancel.clone();
            async move { transport.run(tx, cancel).await }
        });

        assert!(matches!(rx.recv().await, Some(TransportEvent::Qr { .. })));
        assert_eq!(
            hub.inbound(tenant, message("m0")),
            Err(SandboxError::NotLinked)
        );
        hub.scan(tenant, "+4915100000009").unwrap();
        assert_eq!(
            rx.recv().await,
            Some(TransportEvent::Connected {
                phone: "+4915100000009".into()
            })
        );
        assert_eq!(
            hub.scan(tenant, "+49"),
            Err(SandboxError::NotWaitingForScan)
        );

        hub.inbound(tenant, message("m1")).unwrap();
        match rx.recv().await {
            Some(TransportEvent::Message(m)) => {
                assert_eq!((m.id.as_str(), m.text.as_str()), ("m1", "hello"))
            }
            other => panic!("expected the message, got {other:?}"),
        }

        let id = transport
            .send_text("4915100000001", "hi there")
            .await
            .unwrap();
        let outbox = hub.outbox(tenant);
        assert_eq!(outbox.len(), 1);
        assert_eq!(
            (outbox[0].id.as_str(), outbox[0].text.as_str()),
            (id.as_str(), "hi there")
        );

        hub.unlink(tenant).unwrap();
        assert_eq!(rx.recv().await, Some(TransportEvent::LoggedOut));
        assert!(matches!(run.await.unwrap(), Err(TransportError::LoggedOut)));
        assert!(matches!(
            transport.send_text("4915100000001", "x").await,
            Err(TransportError::NotConnected)
        ));
        let _ = cancel;
    }

    #[tokio::test]
    async fn a_remembered_link_connects_without_a_qr_code() {
        let hub = SandboxHub::default();
        let tenant = TenantId::new_random();
        let transport = hub.transport(tenant, Some("+4915100000007".into()), fast());
        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        cancel.cancel();
        // Cancelled right away: it still reports the link first.
        let run = transport.run(tx, cancel).await;
        assert!(run.is_ok());
        assert_eq!(
            rx.recv().await,
            Some(TransportEvent::Connected {
                phone: "+4915100000007".into()
            })
        );
    }
}
