//! `/portal/status`: where the tenant stands (a sentence), its setup
//! request (with the reviewer's note and a way to resubmit when rejected),
//! the bot (worker, WhatsApp session, linked phone, restarts, last problem
//! in plain words) and, while a scan is awaited, the QR code.
//!
//! Owns: the element ids `static/portal.js` updates in place (`tenant-status`,
//! `bot-worker`, `bot-session`, `bot-linked`, `bot-restarts`, `bot-error`,
//! `qr-panel`, `qr-img`, `qr-expires`) and the page key it compares with the
//! live JSON to know when to reload. Complete without the script.

use chrono::{DateTime, Utc};
use entity::enums::{SessionState, SetupRequestStatus, TenantStatus};
use maud::{Markup, html};

use crate::domain::lifecycle::status_name;
use crate::services::portal::{QrView, StatusView, TenantSettings};
use crate::services::tenants::template_name;
use crate::views::assets;
use crate::views::components::{self, enum_name};
use crate::views::layout::{self, PortalChrome};
use crate::web::urls::PortalUrl;

/// What changes the page beyond what the script updates in place: the
/// tenant's status and the request's. The script reloads when it differs.
pub fn page_key(status: &StatusView) -> String {
    let request = status
        .setup_request
        .as_ref()
        .map(|r| enum_name(&r.status))
        .unwrap_or_else(|| "NONE".to_owned());
    format!("{} {request}", status_name(status.tenant.status))
}

/// One sentence on where the tenant stands and what comes next.
fn summary(status: &StatusView) -> Markup {
    let rejected = status
        .setup_request
        .as_ref()
        .is_some_and(|r| r.status == SetupRequestStatus::Rejected);
    html! {
        @match status.tenant.status {
            TenantStatus::New if rejected => {
                "Your setup request was not approved. Read the note below, then "
                a href=(PortalUrl::Onboarding) { "change it and send it again" } "."
            }
            TenantStatus::New => {
                "Tell us about your business to get your WhatsApp bot: "
                a href=(PortalUrl::Onboarding) { "set up your bot" } "."
            }
            TenantStatus::Pending => "Your setup request is waiting for review by the Flow HQ team.",
            TenantStatus::Approved => "Your request was approved. Your bot is starting.",
            TenantStatus::QrPending => "Link your WhatsApp number: scan the QR code with the business phone.",
            TenantStatus::Active => "Your bot is answering your customers on WhatsApp.",
            TenantStatus::Paused => "The Flow HQ team paused your bot: it keeps your messages but does not answer.",
            TenantStatus::Error => "Your bot stopped after a problem (see below). The Flow HQ team can restart it.",
        }
    }
}

pub fn page(
    chrome: &PortalChrome<'_>,
    status: &StatusView,
    qr: &QrView,
    settings: &TenantSettings,
) -> Markup {
    layout::portal_page_with_scripts(
        "Status",
        chrome,
        &assets::portal_scripts(),
        html! {
            div #portal-status data-live=(PortalUrl::LiveStatus) data-qr=(PortalUrl::LiveQr)
                data-key=(page_key(status)) {
                div.page-header {
                    h1 {
                        (status.tenant.name) " "
                        span #tenant-status { (components::badge(status_name(status.tenant.status))) }
                    }
                }
                p.lead #status-summary { (summary(status)) }
                div.two-col {
                    div.col {
                        (request_card(status))
                        (bot_card(status))
                    }
                    div.col {
                        (qr_panel(qr))
                        (business_card(settings))
                    }
                }
            }
        },
    )
}

fn request_card(status: &StatusView) -> Markup {
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
                        dt { "Status" } dd { (components::badge(&enum_name(&request.status))) }
                        dt { "Sent" } dd { (components::datetime(&request.created_at)) }
                        @if let Some(at) = &request.reviewed_at {
                            dt { "Reviewed" } dd { (components::datetime(at)) }
                        }
                    }
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
            h2 #business-title { "Your bot" }
            dl.props {
                dt { "Business" } dd { (settings.business_name) }
                dt { "WhatsApp number" }
                dd class=[settings.phone_number.is_none().then_some("muted")] {
                    (settings.phone_number.as_deref().unwrap_or("—"))
                }
                dt { "Template" } dd { (template_name(settings.template_type)) }
                dt { "Language" } dd { (settings.language) }
                dt { "Time zone" } dd { (settings.timezone) }
                dt { "Replies" } dd { @if settings.auto_reply { "automatic" } @else { "off" } }
            }
            p { a href=(PortalUrl::Settings) { "Change what the bot says and when" } }
        }
    }
}

/// The worker's badge: STALE instead of RUNNING when the heartbeat is old.
fn worker_badge(status: &StatusView) -> Markup {
    if status.worker.stale {
        components::badge("STALE")
    } else {
        components::badge(&enum_name(&status.worker.status))
    }
}

fn bot_card(status: &StatusView) -> Markup {
    let worker = &status.worker;
    let session = &status.session;
    html! {
        section.card #bot aria-labelledby="bot-title" {
            h2 #bot-title { "Bot" }
            dl.props {
                dt { "Bot" } dd #bot-worker { (worker_badge(status)) }
                dt { "WhatsApp" } dd #bot-session { (components::badge(&enum_name(&session.state))) }
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
        }
    }
}

/// `12:34:56`, the clock time (UTC) of the QR code's expiry.
fn clock(at: &DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%H:%M:%S")) } }
}

/// The QR code while the session waits for a scan. Always rendered (hidden
/// otherwise), so the script can show it when a code comes.
fn qr_panel(qr: &QrView) -> Markup {
    let code = qr
        .qr
        .as_deref()
        .filter(|_| qr.state == SessionState::QrReady);
    let showing = code.is_some();
    html! {
        section.card #qr-panel hidden[!showing] aria-labelledby="qr-title" {
            h2 #qr-title { "Link WhatsApp" }
            div.qr {
                img #qr-img src=[code] alt="QR code to link WhatsApp" width="256" height="256";
                p.muted {
                    "On the business phone: WhatsApp → Settings → Linked devices → Link a device, "
                    "then scan this code. It expires at "
                    @match &qr.expires_at {
                        Some(at) => span #qr-expires { (clock(at)) " UTC" },
                        None => span #qr-expires { "—" },
                    }
                    "; a new one replaces it."
                }
                noscript { p.muted { "Reload the page to see the newest code." } }
            }
        }
    }
}
