//! `/portal/status`: where the tenant stands (a sentence), its setup
//! request (with the reviewer's note and a way to resubmit when rejected),
//! the WhatsApp connection (worker, session, linked phone, restarts, last
//! problem in plain words), the business's settings and, while a scan is
//! awaited, the QR code, first. Statuses read as owners' words, not codes;
//! times are in the tenant's zone. The connection card says which way the
//! bot reaches WhatsApp (sandbox, WhatsApp Web, Cloud API), and while a link
//! by phone number is awaited the QR panel shows the pairing code instead.
//!
//! Owns: the element ids `static/portal.js` updates in place (`bot-worker`,
//! `bot-session`, `bot-offline`, `bot-linked`, `bot-restarts`, `bot-error`, `qr-panel`,
//! `qr-img`, `qr-expires`, and the pairing block of `views::transport`),
//! the page key (`data-key`, and `page_key` in the live JSON: the script
//! reloads when they differ), and the words it shows for the worker's and
//! the session's codes (`data-labels`). Complete without the script.

use entity::enums::{SessionState, SetupRequestStatus, TenantStatus, TransportKind, WorkerStatus};
use maud::{Markup, html};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::lifecycle::status_name;
use crate::services::portal::{QrView, StatusView, TenantSettings};
use crate::urls::PortalUrl;
use crate::views::assets;
use crate::views::components::{self, Zone, enum_name};
use crate::views::layout::{self, PortalChrome};
use crate::views::transport;

/// What changes the page beyond what the script updates in place: the
/// tenant's status, the request's, the transport and whether it links by
/// code or QR. The page carries it in `data-key`, the live JSON in
/// `page_key` (`live`); the script reloads when they differ. Computed here
/// only: a second definition in the script drifted once and reloaded the
/// page on every poll.
pub fn page_key(status: &StatusView) -> String {
    let request = status
        .setup_request
        .as_ref()
        .map(|r| enum_name(&r.status))
        .unwrap_or_else(|| "NONE".to_owned());
    let link = if status.transport.pairing_by_phone {
        "code"
    } else {
        "qr"
    };
    format!(
        "{} {request} {} {link}",
        status_name(status.tenant.status),
        components::enum_name(&status.transport.kind)
    )
}

/// `GET /api/portal/tenant/current/status`: the status view and the page
/// key of the status page it would render.
#[derive(Debug, Serialize)]
pub struct LiveStatus<'a> {
    #[serde(flatten)]
    pub status: &'a StatusView,
    pub page_key: String,
}

pub fn live(status: &StatusView) -> LiveStatus<'_> {
    LiveStatus {
        status,
        page_key: page_key(status),
    }
}

/// Whether the latest setup request was rejected.
fn rejected(status: &StatusView) -> bool {
    status
        .setup_request
        .as_ref()
        .is_some_and(|r| r.status == SetupRequestStatus::Rejected)
}

/// One sentence on where the tenant stands and what comes next.
fn summary(status: &StatusView) -> Markup {
    html! {
        @match status.tenant.status {
            TenantStatus::New if rejected(status) => {
                "Your setup request was not approved. Read the note below, then "
                a href=(PortalUrl::Onboarding) { "change it and send it again" } "."
            }
            TenantStatus::New => {
                "Tell us about your business to get your WhatsApp bot: "
                a href=(PortalUrl::Onboarding) { "set up your bot" } "."
            }
            TenantStatus::Pending => "Your setup request is waiting for review by the Flow HQ team.",
            TenantStatus::Approved => "Your request was approved. Your bot is starting.",
            TenantStatus::QrPending => (link_step(status)),
            TenantStatus::Active => "Your bot is answering your customers on WhatsApp.",
            TenantStatus::Paused => "The Flow HQ team paused your bot: it keeps your messages but does not answer.",
            TenantStatus::Error => "Your bot stopped after a problem (see below). The Flow HQ team can restart it.",
        }
    }
}

/// What linking takes with this transport.
fn link_step(status: &StatusView) -> &'static str {
    match status.transport.kind {
        TransportKind::CloudApi => "Your bot is connecting to the WhatsApp Cloud API.",
        _ if status.transport.pairing_by_phone => {
            "Link your WhatsApp number: type the pairing code shown below on the business phone."
        }
        _ => "Link your WhatsApp number: scan the QR code with the business phone.",
    }
}

/// The tenant's status in a few words, for the badge next to its name.
fn tenant_label(status: &StatusView) -> &'static str {
    match status.tenant.status {
        TenantStatus::New if rejected(status) => "Not approved",
        TenantStatus::New => "Not set up yet",
        TenantStatus::Pending => "Waiting for review",
        TenantStatus::Approved => "Starting",
        TenantStatus::QrPending => "Waiting for WhatsApp",
        TenantStatus::Active => "Active",
        TenantStatus::Paused => "Paused",
        TenantStatus::Error => "Stopped after a problem",
    }
}

fn request_label(status: SetupRequestStatus) -> &'static str {
    match status {
        SetupRequestStatus::Submitted => "Waiting for review",
        SetupRequestStatus::Approved => "Approved",
        SetupRequestStatus::Rejected => "Not approved",
    }
}

/// Whether the tenant's bot has not run yet (no approved request): a
/// stopped worker and a disconnected session are then no failure.
fn before_start(tenant: TenantStatus) -> bool {
    matches!(tenant, TenantStatus::New | TenantStatus::Pending)
}

/// The worker's status in words (`STALE`: running, but silent).
fn worker_label(tenant: TenantStatus, worker: &str) -> &'static str {
    match worker {
        "STOPPED" if before_start(tenant) => "Not started yet",
        "STOPPED" if tenant == TenantStatus::Approved => "About to start",
        "STOPPED" if tenant == TenantStatus::Paused => "Paused",
        "STOPPED" => "Stopped",
        "STARTING" => "Starting",
        "RUNNING" => "Running",
        "RESTARTING" => "Restarting",
        "ERROR" => "Stopped after a problem",
        "STALE" => "Not responding",
        _ => "Unknown",
    }
}

/// The WhatsApp session's state in words: the Cloud API connects rather
/// than links; a link by phone number waits for a code, not a scan.
fn session_label(status: &LabelContext, session: SessionState) -> &'static str {
    let tenant = status.tenant;
    let cloud = status.kind == TransportKind::CloudApi;
    match session {
        SessionState::Disconnected if cloud && before_start(tenant) => "Not connected yet",
        SessionState::Disconnected if cloud => "Not connected",
        SessionState::Connected if cloud => "Connected",
        SessionState::QrReady if status.pairing_by_phone => "Waiting for the code to be typed",
        SessionState::Disconnected
            if before_start(tenant)
                || matches!(tenant, TenantStatus::Approved | TenantStatus::QrPending) =>
        {
            "Not linked yet"
        }
        SessionState::Disconnected => "Disconnected",
        SessionState::Connecting => "Connecting",
        SessionState::QrReady => "Waiting for the scan",
        SessionState::Connected => "Linked",
        SessionState::LoggedOut => "Logged out on the phone",
    }
}

const WORKER_CODES: [WorkerStatus; 5] = [
    WorkerStatus::Stopped,
    WorkerStatus::Starting,
    WorkerStatus::Running,
    WorkerStatus::Restarting,
    WorkerStatus::Error,
];

const SESSION_CODES: [SessionState; 5] = [
    SessionState::Disconnected,
    SessionState::Connecting,
    SessionState::QrReady,
    SessionState::Connected,
    SessionState::LoggedOut,
];

/// What the words for the codes depend on; each is part of the page key,
/// so its change reloads the page.
#[derive(Debug, Clone, Copy)]
struct LabelContext {
    tenant: TenantStatus,
    kind: TransportKind,
    pairing_by_phone: bool,
}

impl LabelContext {
    fn of(status: &StatusView) -> Self {
        Self {
            tenant: status.tenant.status,
            kind: status.transport.kind,
            pairing_by_phone: status.transport.pairing_by_phone,
        }
    }
}

/// `{"worker": {code: words}, "session": {code: words}}` for the script,
/// which updates the badges in place with the same words as the page. The
/// words depend on the page key only, whose change reloads the page.
fn live_labels(context: LabelContext) -> String {
    let tenant = context.tenant;
    let worker: Map<String, Value> = WORKER_CODES
        .iter()
        .map(enum_name)
        .chain(["STALE".to_owned()])
        .map(|code| {
            let label = worker_label(tenant, &code);
            (code, Value::from(label))
        })
        .collect();
    let session: Map<String, Value> = SESSION_CODES
        .iter()
        .map(|state| {
            (
                enum_name(state),
                Value::from(session_label(&context, *state)),
            )
        })
        .collect();
    serde_json::json!({ "worker": worker, "session": session }).to_string()
}

pub fn page(
    chrome: &PortalChrome<'_>,
    status: &StatusView,
    qr: &QrView,
    settings: &TenantSettings,
) -> Markup {
    let zone = Zone::named(&settings.timezone);
    let tenant = status.tenant.status;
    // The code to scan is what the owner came for: first, while it is
    // shown or about to be.
    let qr_first = tenant == TenantStatus::QrPending
        || showing_qr(qr).is_some()
        || showing_pairing(qr).is_some();
    layout::portal_page_with_scripts(
        "Status",
        chrome,
        &assets::portal_scripts(),
        html! {
            div #portal-status data-live=(PortalUrl::LiveStatus) data-qr=(PortalUrl::LiveQr)
                data-key=(page_key(status)) data-labels=(live_labels(LabelContext::of(status))) {
                div.page-header {
                    h1 {
                        (status.tenant.name) " "
                        span #tenant-status {
                            (components::badge_labeled(status_name(tenant), tenant_label(status)))
                        }
                    }
                }
                p.lead #status-summary { (summary(status)) }
                div.two-col {
                    @if qr_first {
                        div.col {
                            (qr_panel(qr, zone))
                            (bot_card(status, chrome.csrf_token))
                        }
                        div.col {
                            (request_card(status, zone))
                            (business_card(settings))
                        }
                    } @else {
                        div.col {
                            (request_card(status, zone))
                            (bot_card(status, chrome.csrf_token))
                        }
                        div.col {
                            (qr_panel(qr, zone))
                            (business_card(settings))
                        }
                    }
                }
            }
        },
    )
}

fn request_card(status: &StatusView, zone: Zone) -> Markup {
    html! {
        section.card #request aria-labelledby="request-title" {
            h2 #request-title { "Setup request" }
            @match &status.setup_request {
                None => {
                    p { "You have not sent a setup request yet." }
                    p { a.button.primary href=(PortalUrl::Onboarding) { "Set up your bot" } }
                }
                Some(request) => {
                    dl.props {
                        dt { "Status" }
                        dd {
                            (components::badge_labeled(&enum_name(&request.status),
                                request_label(request.status)))
                        }
                        dt { "Sent" } dd { (zone.datetime(&request.created_at)) }
                        @if let Some(at) = &request.reviewed_at {
                            dt { "Reviewed" } dd { (zone.datetime(at)) }
                        }
                    }
                    (zone.note())
                    @if request.status == SetupRequestStatus::Rejected {
                        @if let Some(note) = &request.review_note {
                            p { "The Flow HQ team wrote:" }
                            blockquote.review-note #review-note { (note) }
                        }
                        p { a.button.primary href=(PortalUrl::Onboarding) { "Change and resubmit" } }
                    } @else if request.status == SetupRequestStatus::Approved {
                        @if let Some(note) = &request.review_note {
                            p.muted { "The Flow HQ team wrote: " (note) }
                        }
                    }
                }
            }
        }
    }
}

/// What the bot answers with, and where to change it.
fn business_card(settings: &TenantSettings) -> Markup {
    html! {
        section.card #business aria-labelledby="business-title" {
            h2 #business-title { "Your business" }
            dl.props {
                dt { "Business" } dd { (settings.business_name) }
                dt { "WhatsApp number" }
                dd class=[settings.phone_number.is_none().then_some("muted")] {
                    (settings.phone_number.as_deref().unwrap_or("—"))
                }
                dt { "Template" } dd { (components::template_label(settings.template_type)) }
                dt { "Language" } dd { (components::language_label(&settings.language)) }
                dt { "Time zone" } dd { (settings.timezone) }
                dt { "Replies" } dd { @if settings.auto_reply { "automatic" } @else { "off" } }
            }
            p { a href=(PortalUrl::Settings) { "Change what the bot says and when" } }
        }
    }
}

/// The worker's badge: STALE instead of RUNNING when the heartbeat is old.
fn worker_badge(status: &StatusView) -> Markup {
    let code = if status.worker.stale {
        "STALE".to_owned()
    } else {
        enum_name(&status.worker.status)
    };
    components::badge_labeled(&code, worker_label(status.tenant.status, &code))
}

/// What an owner can do about the link themselves: a new code when theirs
/// ran out (the bot in ERROR, or waiting for a link without a code), and on
/// the sandbox the simulated scan while a code shows.
fn owner_actions(status: &StatusView, csrf: &str) -> Markup {
    let tenant = status.tenant.status;
    let waiting = status.session.state == SessionState::QrReady;
    let new_code = tenant == TenantStatus::Error || (tenant == TenantStatus::QrPending && !waiting);
    let scan = waiting && status.transport.kind == TransportKind::Sandbox;
    html! {
        @if new_code || scan {
            div.actions #owner-actions {
                @if new_code {
                    form method="post" action=(PortalUrl::StatusNewCode) {
                        (components::csrf_input(csrf))
                        button.button.primary type="submit" { "Show a new QR code" }
                    }
                }
                @if scan {
                    form method="post" action=(PortalUrl::StatusSandboxScan) {
                        (components::csrf_input(csrf))
                        button.button type="submit" { "Simulate the scan" }
                    }
                    p.muted { "The sandbox is Flow HQ's built-in test WhatsApp: this links it as if your phone had scanned the code." }
                }
            }
        }
    }
}

fn bot_card(status: &StatusView, csrf: &str) -> Markup {
    let worker = &status.worker;
    let session = &status.session;
    html! {
        section.card #bot aria-labelledby="bot-title" {
            h2 #bot-title { "WhatsApp connection" }
            dl.props {
                dt { "Connected through" }
                dd #bot-transport {
                    (transport::label(status.transport.kind)) " "
                    a href=(PortalUrl::Settings) { "Change" }
                }
                dt { "Bot" } dd #bot-worker { (worker_badge(status)) }
                dt { "WhatsApp" }
                dd #bot-session {
                    (components::badge_labeled(&enum_name(&session.state),
                        session_label(&LabelContext::of(status), session.state)))
                }
                dt hidden[session.offline_reason.is_none()] { "Offline because" }
                dd #bot-offline hidden[session.offline_reason.is_none()] {
                    (session.offline_reason.as_deref().unwrap_or_default())
                }
                dt { "Linked phone" }
                dd #bot-linked class=[session.linked_phone.is_none().then_some("muted")] {
                    (session.linked_phone.as_deref().unwrap_or("—"))
                }
                dt { "Restarts" } dd #bot-restarts { (worker.restart_count) }
                dt { "Last problem" }
                dd #bot-error class=[worker.last_error.is_none().then_some("muted")] {
                    (worker.last_error.as_deref().unwrap_or("none"))
                }
            }
            (owner_actions(status, csrf))
        }
    }
}

/// The code to scan, if the session waits for a scan (and no pairing code
/// replaces it).
fn showing_qr(qr: &QrView) -> Option<&str> {
    qr.qr
        .as_deref()
        .filter(|_| qr.state == SessionState::QrReady && qr.pairing_code.is_none())
}

/// The pairing code to type, if the session waits for it.
fn showing_pairing(qr: &QrView) -> Option<&str> {
    qr.pairing_code
        .as_deref()
        .filter(|_| qr.state == SessionState::QrReady)
}

/// The QR code (or the pairing code) while the session waits for a link.
/// Always rendered (hidden otherwise), so the script can show it when a
/// code comes. `qr-expires` names the zone the script shows the newest
/// expiry in.
fn qr_panel(qr: &QrView, zone: Zone) -> Markup {
    let code = showing_qr(qr);
    let pairing = showing_pairing(qr);
    let showing = code.is_some() || pairing.is_some();
    html! {
        section.card #qr-panel hidden[!showing] aria-labelledby="qr-title" {
            h2 #qr-title { "Link WhatsApp" }
            div.qr {
                img #qr-img src=[code] alt="QR code to link WhatsApp" width="256" height="256"
                    hidden[pairing.is_some()];
                (transport::pairing_block(pairing))
                (transport::how_to(pairing.is_some(),
                    "On the business phone: WhatsApp → Settings → Linked devices → Link a device, \
                     then scan this code. The phone cannot scan its own screen, so keep this page \
                     open on another one, such as a computer."))
                p.muted {
                    "This code expires at "
                    span #qr-expires data-tz=(zone.name()) {
                        @match &qr.expires_at {
                            Some(at) => { (zone.clock(at)) " (" (zone.name()) ")" },
                            None => "—",
                        }
                    }
                    "; a new one replaces it."
                }
                noscript { p.muted { "Reload the page to see the newest code." } }
            }
        }
    }
}
