//! The bot on the tenant detail page: the Bot card (worker status with the
//! STALE badge, controls), the QR panel and the sandbox chat.
//!
//! Owns: which controls apply in which state (`controls`), shared by the
//! page and its live JSON so `admin.js` knows when the buttons changed, and
//! the element ids `static/admin.js` updates in place (`bot-worker`,
//! `bot-offline`, `qr-img`, `chat`, …). Must not: read the database or the registry; the
//! handler hands over the facts.

use chrono::{DateTime, Utc};
use entity::enums::{
    DesiredState, Direction, SessionState, TenantStatus, TransportKind, WorkerStatus,
};
use maud::{Markup, html};

use crate::domain::bot::BotCommand;
use crate::domain::lifecycle::{LifecycleAction, allowed_actions};
use crate::error::FieldErrors;
use crate::services::messages::MessageView;
use crate::services::tenants::TenantDetail;
use crate::urls::AdminUrl;
use crate::views::components::{self, Field, enum_name};
use crate::views::transport;

/// The number the sandbox chat form suggests for the customer.
pub const DEFAULT_CUSTOMER: &str = "+4917600000000";

/// What the stored rows do not say about the bot.
#[derive(Debug, Clone, Copy)]
pub struct BotFacts {
    /// The registry runs a task for the tenant.
    pub running: bool,
    /// The worker says RUNNING, but its heartbeat is older than `bots.stale_after`.
    pub stale: bool,
}

/// A button of the Bot card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Approve,
    Bot(BotCommand),
}

/// The controls that make sense now: Approve for a NEW tenant; Force restart
/// after a failure; Start when the bot could run but does not; Stop and
/// Restart while it runs.
pub fn controls(detail: &TenantDetail, facts: BotFacts) -> Vec<Control> {
    let status = detail.tenant.status;
    let failed = status == TenantStatus::Error || detail.worker.status == WorkerStatus::Error;
    let unapproved = matches!(status, TenantStatus::New | TenantStatus::Pending);
    let mut controls = Vec::new();
    if status == TenantStatus::New {
        controls.push(Control::Approve);
    }
    if facts.running {
        controls.push(Control::Bot(BotCommand::Stop));
        controls.push(Control::Bot(BotCommand::Restart));
    } else if !failed && !unapproved {
        controls.push(Control::Bot(BotCommand::Start));
    }
    if failed && !unapproved {
        controls.push(Control::Bot(BotCommand::ForceRestart));
    }
    controls
}

/// Every button the detail page shows, as one string ("stop restart
/// pause"): when the live JSON's differs from the page's, the page reloads.
pub fn controls_key(detail: &TenantDetail, facts: BotFacts) -> String {
    let lifecycle = allowed_actions(detail.tenant.status);
    let header = [
        (LifecycleAction::Pause, "pause"),
        (LifecycleAction::Resume, "resume"),
    ]
    .into_iter()
    .filter(|(action, _)| lifecycle.contains(action))
    .map(|(_, name)| name);
    controls(detail, facts)
        .into_iter()
        .map(|control| match control {
            Control::Approve => "approve",
            Control::Bot(command) => command.as_str(),
        })
        .chain(header)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The worker's badge: STALE instead of RUNNING when the heartbeat is old.
fn worker_badge(status: WorkerStatus, stale: bool) -> Markup {
    if stale {
        components::badge("STALE")
    } else {
        components::badge(&enum_name(&status))
    }
}

/// `12:34:56`, the clock time (UTC) the QR panel and the chat show.
fn clock(at: &DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%H:%M:%S")) } }
}

/// Why the transport is offline while it retries ("cannot reach Meta: …,
/// retrying"), as the runtime recorded it: a row shown only while there is
/// one (`bot-offline`; `admin.js` shows and hides it).
fn offline_reason(reason: Option<&str>) -> Markup {
    html! {
        dt hidden[reason.is_none()] { "Offline because" }
        dd #bot-offline hidden[reason.is_none()] { (reason.unwrap_or_default()) }
    }
}

/// Worker status, desired state, restarts, last error, linked phone,
/// transport, and the controls that apply. `data-live` tells `admin.js`
/// where to poll.
pub fn bot_card(csrf: &str, detail: &TenantDetail, facts: BotFacts) -> Markup {
    let id = detail.tenant.id;
    let worker = &detail.worker;
    html! {
        section.card #bot aria-labelledby="bot-title"
            data-live=(AdminUrl::TenantLive(id)) data-controls=(controls_key(detail, facts)) {
            h2 #bot-title { "Bot" }
            dl.props {
                dt { "Worker" }
                dd #bot-worker { (worker_badge(worker.status, facts.stale)) }
                dt { "Should be" }
                dd { @match worker.desired_state {
                    DesiredState::Running => "running",
                    DesiredState::Stopped => "stopped",
                } }
                dt { "WhatsApp session" }
                dd #bot-session { (components::badge(&enum_name(&detail.session.state))) }
                (offline_reason(detail.session.offline_reason.as_deref()))
                dt { "Linked phone" }
                dd #bot-linked class=[detail.session.linked_phone.is_none().then_some("muted")] {
                    (detail.session.linked_phone.as_deref().unwrap_or("—"))
                }
                dt { "Transport" } dd #bot-transport { a href="#transport" { (transport::label(detail.config.transport)) } }
                dt { "Restarts" } dd #bot-restarts { (worker.restart_count) }
                dt { "Last heartbeat" } dd {
                    @match &worker.last_heartbeat_at {
                        Some(at) => (components::datetime(at)),
                        None => span.muted { "never" },
                    }
                }
                dt { "Last error" }
                dd #bot-error class=[worker.last_error.is_none().then_some("muted")] {
                    (worker.last_error.as_deref().unwrap_or("none"))
                }
            }
            div.actions {
                @for control in controls(detail, facts) {
                    @match control {
                        Control::Approve => (components::action_button(
                            &AdminUrl::TenantApprove(id).to_string(), csrf, "Approve", "primary")),
                        Control::Bot(command) => (components::action_button(
                            &AdminUrl::TenantBot(id, command).to_string(), csrf,
                            command_label(command), command_class(command))),
                    }
                }
            }
        }
    }
}

fn command_label(command: BotCommand) -> &'static str {
    match command {
        BotCommand::Start => "Start bot",
        BotCommand::Stop => "Stop",
        BotCommand::Restart => "Restart",
        BotCommand::ForceRestart => "Force restart",
    }
}

fn command_class(command: BotCommand) -> &'static str {
    match command {
        BotCommand::Start | BotCommand::ForceRestart => "primary",
        BotCommand::Stop | BotCommand::Restart => "secondary",
    }
}

/// The QR code while the session waits for a scan, or instead of it the
/// pairing code when WhatsApp Web links by phone number. Always rendered
/// (hidden otherwise), so `admin.js` can show it again when a new code comes.
pub fn qr_panel(csrf: &str, detail: &TenantDetail) -> Markup {
    let session = &detail.session;
    let waiting = session.state == SessionState::QrReady;
    let pairing = session.pairing_code.as_deref().filter(|_| waiting);
    let qr = session
        .last_qr
        .as_deref()
        .filter(|_| waiting && pairing.is_none());
    let showing = qr.is_some() || pairing.is_some();
    let expires = session.qr_expires_at.filter(|_| showing);
    html! {
        section.card #qr-panel hidden[!showing] aria-labelledby="qr-title" {
            h2 #qr-title { "Link WhatsApp" }
            div.qr {
                img #qr-img src=[qr] alt="QR code to link WhatsApp" width="256" height="256"
                    hidden[pairing.is_some()];
                (transport::pairing_block(pairing))
                (transport::how_to(pairing.is_some(),
                    "On the business phone: WhatsApp → Settings → Linked devices → Link a device, \
                     then scan this code."))
                p.muted {
                    "This code expires at "
                    @match &expires {
                        Some(at) => span #qr-expires { (clock(at)) " UTC" },
                        None => span #qr-expires { "—" },
                    }
                    "; a new one replaces it."
                }
                @if detail.config.transport == TransportKind::Sandbox && pairing.is_none() {
                    (components::action_button(
                        &AdminUrl::TenantSandboxScan(detail.tenant.id).to_string(), csrf,
                        "Simulate scan (sandbox)", "secondary"))
                }
            }
        }
    }
}

/// The sandbox conversation (oldest first) and the form to play a customer.
pub fn chat_panel(csrf: &str, detail: &TenantDetail, messages: &[MessageView]) -> Markup {
    let no_errors = FieldErrors::new();
    html! {
        section.card #chat-panel aria-labelledby="chat-title" {
            h2 #chat-title { "Sandbox chat" }
            p.muted {
                "Play a customer: your messages reach the bot as WhatsApp messages from "
                "the number below; its replies appear on the right."
            }
            div.chat #chat role="log" aria-label="Conversation with the bot" {
                @for message in messages { (bubble(message)) }
                @if messages.is_empty() { p.muted.chat-empty { "No messages yet." } }
            }
            form.stack.chat-form method="post" action=(AdminUrl::TenantSandboxInbound(detail.tenant.id)) {
                (components::csrf_input(csrf))
                div.field-row {
                    (Field { name: "from", label: "Customer number", value: DEFAULT_CUSTOMER,
                             hint: None, errors: &no_errors }.input("tel", true))
                    (Field { name: "text", label: "Message", value: "",
                             hint: None, errors: &no_errors }.input("text", true))
                }
                button.primary type="submit" { "Send as customer" }
            }
        }
    }
}

/// One message: IN on the left (with the customer's number), OUT on the right.
fn bubble(message: &MessageView) -> Markup {
    let (class, who) = match message.direction {
        Direction::In => ("msg in", message.from.clone()),
        Direction::Out => ("msg out", format!("→ {}", message.to)),
    };
    html! {
        div class=(class) {
            span.msg-text { (message.text) }
            span.meta {
                (who) " · " (clock(&message.created_at)) " · "
                (enum_name(&message.status).to_lowercase())
            }
        }
    }
}
