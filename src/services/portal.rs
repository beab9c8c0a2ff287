//! What a tenant owner sees of their own tenant, for the portal's pages and
//! `/api/portal` alike: explicit view structs built field by field, and the
//! onboarding draft (the setup request as typed) with its parse.
//!
//! Owns: the choice of what an owner may see. Must not: serialize an entity
//! model or `TenantDetail` (the WhatsApp session row will hold transport
//! secrets; the worker row names our nodes), nor take a tenant id from
//! anywhere but the caller, who takes it from the session.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::{
    SessionState, SetupRequestStatus, TemplateType, TenantStatus, TransportKind, UserRole,
    WorkerStatus,
};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::setup_requests::{self, NewSetupRequest, SetupRequestView};
use super::tenants::{self, NewTenant, TenantDetail, TenantDraft};
use super::users::PortalUser;
use super::{Page, PageRequest, messages};
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode, FieldErrors};

/// The longest note an owner may leave for the reviewer.
pub const MAX_NOTES_CHARS: usize = 2000;

/// `GET /api/portal/me`.
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    pub user: MeUser,
    pub tenant: TenantBrief,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: UserRole,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantBrief {
    pub id: TenantId,
    pub name: String,
    pub status: TenantStatus,
}

/// The owner's own setup request (the reviewer's username stays with the
/// admins; the note is for the owner).
#[derive(Debug, Clone, Serialize)]
pub struct OwnSetupRequest {
    pub id: Uuid,
    pub status: SetupRequestStatus,
    pub template_type: TemplateType,
    pub business_name: String,
    pub whatsapp_number: String,
    pub language: String,
    pub timezone: String,
    pub hours: Value,
    pub notes: Option<String>,
    pub review_note: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<SetupRequestView> for OwnSetupRequest {
    fn from(view: SetupRequestView) -> Self {
        Self {
            id: view.id,
            status: view.status,
            template_type: view.template_type,
            business_name: view.business_name,
            whatsapp_number: view.whatsapp_number,
            language: view.language,
            timezone: view.timezone,
            hours: view.hours,
            notes: view.notes,
            review_note: view.review_note,
            reviewed_at: view.reviewed_at,
            created_at: view.created_at,
        }
    }
}

/// The latest request in the status view: where it stands and why.
#[derive(Debug, Clone, Serialize)]
pub struct RequestBrief {
    pub id: Uuid,
    pub status: SetupRequestStatus,
    pub review_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerView {
    pub status: WorkerStatus,
    pub restart_count: i32,
    /// In plain words (`plain_error`), never the raw cause.
    pub last_error: Option<String>,
    /// RUNNING, but its heartbeat is older than `bots.stale_after`.
    pub stale: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub state: SessionState,
    pub linked_phone: Option<String>,
    /// Why the bot is offline while it retries on its own, in plain words
    /// (`plain_offline_reason`); `None` otherwise.
    pub offline_reason: Option<String>,
}

/// `GET /api/portal/tenant/current/status` and the status page.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub tenant: TenantBrief,
    pub setup_request: Option<RequestBrief>,
    pub worker: WorkerView,
    pub session: SessionView,
    pub transport: TransportStatus,
}

/// Which way the bot reaches WhatsApp and how far the link is. Never a
/// credential: the settings page shows the token's hint, nothing here.
#[derive(Debug, Clone, Serialize)]
pub struct TransportStatus {
    pub kind: TransportKind,
    pub link: LinkState,
    /// WhatsApp Web links with a pairing code typed on this phone
    /// (instead of a QR code).
    pub pairing_by_phone: bool,
}

/// The link in one word, for scripts: `awaiting_pairing_code` means the
/// 8-character code (the QR view's `pairing_code`) waits to be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    NotLinked,
    Connecting,
    AwaitingQrScan,
    AwaitingPairingCode,
    Linked,
    LoggedOut,
}

impl LinkState {
    pub fn of(state: SessionState, pairing_code: Option<&str>) -> Self {
        match state {
            SessionState::Disconnected => Self::NotLinked,
            SessionState::Connecting => Self::Connecting,
            SessionState::QrReady if pairing_code.is_some() => Self::AwaitingPairingCode,
            SessionState::QrReady => Self::AwaitingQrScan,
            SessionState::Connected => Self::Linked,
            SessionState::LoggedOut => Self::LoggedOut,
        }
    }
}

/// `GET /api/portal/tenant/current/qr`: `qr` is a `data:` URI while the
/// state is QR_READY, else `null`; `pairing_code` replaces it when the
/// owner links by phone number.
#[derive(Debug, Clone, Serialize)]
pub struct QrView {
    pub state: SessionState,
    pub qr: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Left out unless a code is shown: the JSON stays `{state, qr, expires_at}`
    /// for a QR-code link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairing_code: Option<String>,
}

/// What the settings page edits (and onboarding starts from).
#[derive(Debug, Clone)]
pub struct TenantSettings {
    pub business_name: String,
    pub phone_number: Option<String>,
    pub template_type: TemplateType,
    pub language: String,
    pub timezone: String,
    pub hours: Value,
    pub welcome_message: String,
    pub auto_reply: bool,
    pub human_idle_timeout_minutes: i32,
}

fn brief(detail: &TenantDetail) -> TenantBrief {
    TenantBrief {
        id: detail.tenant.id,
        name: detail.tenant.name.clone(),
        status: detail.tenant.status,
    }
}

pub async fn me(db: &DatabaseConnection, user: &PortalUser) -> Result<Me, AppError> {
    let detail = tenants::get(db, user.tenant_id).await?;
    Ok(Me {
        user: MeUser {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
        },
        tenant: brief(&detail),
    })
}

/// The tenant's newest setup request, if it ever sent one.
pub async fn latest_request(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<Option<OwnSetupRequest>, AppError> {
    Ok(setup_requests::for_tenant(db, tenant_id)
        .await?
        .into_iter()
        .next()
        .map(OwnSetupRequest::from))
}

pub async fn status(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    stale_after: Duration,
) -> Result<StatusView, AppError> {
    let (detail, request) =
        tokio::try_join!(tenants::get(db, tenant_id), latest_request(db, tenant_id))?;
    let worker = &detail.worker;
    let stale_after = chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
    let stale = worker.status == WorkerStatus::Running
        && worker
            .last_heartbeat_at
            .is_some_and(|at| Utc::now().signed_duration_since(at) > stale_after);
    Ok(StatusView {
        tenant: brief(&detail),
        setup_request: request.map(|r| RequestBrief {
            id: r.id,
            status: r.status,
            review_note: r.review_note,
            created_at: r.created_at,
            reviewed_at: r.reviewed_at,
        }),
        worker: WorkerView {
            status: worker.status,
            restart_count: worker.restart_count,
            last_error: worker.last_error.as_deref().map(plain_error),
            stale,
        },
        session: SessionView {
            state: detail.session.state,
            linked_phone: detail.session.linked_phone.clone(),
            offline_reason: detail
                .session
                .offline_reason
                .as_deref()
                .map(plain_offline_reason),
        },
        transport: TransportStatus {
            kind: detail.config.transport,
            link: LinkState::of(detail.session.state, detail.session.pairing_code.as_deref()),
            pairing_by_phone: detail.session.pairing_phone.is_some(),
        },
    })
}

pub async fn qr(db: &DatabaseConnection, tenant_id: TenantId) -> Result<QrView, AppError> {
    let view = super::runtime::link::qr_view(db, tenant_id).await?;
    Ok(QrView {
        state: view.state,
        qr: view.qr,
        expires_at: view.expires_at,
        pairing_code: view.pairing_code,
    })
}

pub async fn settings(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<TenantSettings, AppError> {
    let detail = tenants::get(db, tenant_id).await?;
    let config = detail.config;
    Ok(TenantSettings {
        business_name: config.business_name,
        phone_number: detail.tenant.phone_number,
        template_type: config.template_type,
        language: config.language,
        timezone: config.timezone,
        hours: config.hours,
        welcome_message: config.welcome_message,
        auto_reply: config.auto_reply,
        human_idle_timeout_minutes: config.human_idle_timeout_minutes,
    })
}

/// The tenant's message log, newest first.
pub async fn logs(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    page: PageRequest,
) -> Result<Page<messages::MessageView>, AppError> {
    let mut page = messages::list(db, tenant_id, page).await?;
    for message in &mut page.items {
        message.error = message.error.as_deref().map(plain_message_error);
    }
    Ok(page)
}

/// A message's failure in words for the owner: the raw cause (transport
/// errors, internal names) stays with the admins.
pub fn plain_message_error(raw: &str) -> String {
    if raw.starts_with("chat queue full") {
        "Too many messages at once in this chat: this one was not answered.".to_owned()
    } else if raw.starts_with("interrupted while sending") {
        "Flow HQ restarted while this was being sent: it may or may not have reached the \
         customer, and it was not sent again."
            .to_owned()
    } else if raw.starts_with("not sent: an earlier part") {
        "Not sent, because the part before it could not be sent.".to_owned()
    } else if raw.starts_with("reply not sent") {
        "The reply could not be sent.".to_owned()
    } else if raw.starts_with("more than 24 hours since the customer's last message") {
        "Not sent: the customer wrote more than 24 hours ago, and WhatsApp then only allows \
         pre-approved template messages."
            .to_owned()
    } else if raw.starts_with("WhatsApp did not deliver it") {
        "WhatsApp could not deliver this message to the customer.".to_owned()
    } else {
        "Not answered because of a technical problem.".to_owned()
    }
}

/// Sends the owner's setup request for their tenant. A taken number is
/// reported under `whatsapp_number`, the field the owner typed it in.
pub async fn submit_request(
    db: &DatabaseConnection,
    user: &PortalUser,
    request: NewSetupRequest,
) -> Result<OwnSetupRequest, AppError> {
    setup_requests::submit(db, &user.actor(), user.tenant_id, Some(user.id), request)
        .await
        .map(OwnSetupRequest::from)
        .map_err(|err| {
            if err.code() == ErrorCode::PhoneNumberTaken {
                let fields = rename_field(err.fields().clone(), "phone_number", "whatsapp_number");
                err.with_fields(fields)
            } else {
                err
            }
        })
}

/// A bot's last error as an owner can act on it. The raw text is for the
/// admins (it may carry technical causes); known reasons get their own words.
pub fn plain_error(raw: &str) -> String {
    let raw = raw.trim();
    if raw.starts_with("the QR code was not scanned in time") {
        "The QR code was not scanned in time. Choose “Show a new QR code” for a new one.".to_owned()
    } else if raw.starts_with("logged out from the phone") {
        "WhatsApp was logged out on the phone. Choose “Show a new QR code”, then link it again."
            .to_owned()
    } else if raw.starts_with("stale") {
        "The bot stopped responding, so it was stopped.".to_owned()
    } else if raw.starts_with("access token rejected") {
        "Meta rejected the Cloud API access token (it expired or was revoked). Enter a new \
         access token under Settings → WhatsApp connection, then ask the Flow HQ team to \
         restart your bot."
            .to_owned()
    } else if raw.starts_with("Cloud API credentials are missing") {
        "The WhatsApp Cloud API details are missing. Enter them under Settings → WhatsApp \
         connection, then ask the Flow HQ team to restart your bot."
            .to_owned()
    } else if raw.starts_with("cannot read the stored Cloud API credentials") {
        "Your saved WhatsApp Cloud API details can no longer be read. Enter all of them again \
         under Settings → WhatsApp connection, then ask the Flow HQ team to restart your bot."
            .to_owned()
    } else if raw.starts_with("cannot reach WhatsApp servers") {
        "The bot cannot reach WhatsApp's servers (no internet connection, or WhatsApp is down). \
         Ask the Flow HQ team to restart your bot once the connection is back."
            .to_owned()
    } else if raw.starts_with("the whatsapp_web transport is not available") {
        "Linking through WhatsApp Web is not available on this Flow HQ yet. Choose another \
         connection under Settings → WhatsApp connection, or ask the Flow HQ team."
            .to_owned()
    } else {
        "The bot ran into a technical problem. The Flow HQ team can see the details.".to_owned()
    }
}

/// Why the bot is offline for now, as an owner reads it: what cannot be
/// reached and that it retries by itself. The cause itself (an HTTP status,
/// a network error) is for the admins.
pub fn plain_offline_reason(raw: &str) -> String {
    if raw.starts_with("cannot reach Meta") {
        "Cannot reach Meta (the WhatsApp Cloud API) right now. The bot keeps retrying by itself \
         and answers again as soon as Meta does."
            .to_owned()
    } else {
        "WhatsApp cannot be reached right now. The bot keeps reconnecting by itself.".to_owned()
    }
}

fn rename_field(mut fields: FieldErrors, from: &str, to: &str) -> FieldErrors {
    if let Some(message) = fields.remove(from) {
        fields.insert(to.to_owned(), message);
    }
    fields
}

/// A setup request as typed (the onboarding form, the JSON body). Both fill
/// this, so they validate identically, and like the admin's tenant form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SetupRequestDraft {
    #[serde(default)]
    pub template_type: String,
    #[serde(default)]
    pub business_name: String,
    #[serde(default)]
    pub whatsapp_number: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub timezone: Option<String>,
    /// `{"mon": {"open": "09:00", "close": "18:00"}, …}`; the default week when absent.
    #[serde(default)]
    pub hours: Option<Value>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl TryFrom<SetupRequestDraft> for NewSetupRequest {
    type Error = AppError;

    /// The admin's tenant parse does the work (same rules, same messages):
    /// the business name stands in for the tenant name, whose errors would
    /// only repeat it, and the number's errors move to `whatsapp_number`.
    fn try_from(draft: SetupRequestDraft) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let notes = draft
            .notes
            .map(|notes| notes.trim().to_owned())
            .filter(|notes| !notes.is_empty());
        if notes
            .as_ref()
            .is_some_and(|notes| notes.chars().count() > MAX_NOTES_CHARS)
        {
            errors.insert(
                "notes".to_owned(),
                format!("must be at most {MAX_NOTES_CHARS} characters"),
            );
        }
        let parsed = NewTenant::try_from(TenantDraft {
            name: draft.business_name.clone(),
            phone_number: draft.whatsapp_number,
            template_type: draft.template_type,
            business_name: draft.business_name,
            language: draft.language,
            timezone: draft.timezone,
            hours: draft.hours,
        });
        match parsed {
            Ok(tenant) if errors.is_empty() => Ok(NewSetupRequest {
                template_type: tenant.template_type,
                business_name: tenant.business_name,
                whatsapp_number: tenant.phone_number,
                language: tenant.language,
                timezone: tenant.timezone,
                hours: tenant.hours,
                notes,
            }),
            Ok(_) => Err(AppError::validation(errors)),
            Err(err) if err.code() == ErrorCode::ValidationFailed => {
                let mut fields =
                    rename_field(err.fields().clone(), "phone_number", "whatsapp_number");
                fields.remove("name");
                errors.extend(fields);
                Err(AppError::validation(errors))
            }
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transport_problem_has_its_own_plain_words() {
        let generic = plain_error("something nobody planned for");
        for (raw, words) in [
            (
                "access token rejected: enter a new Cloud API access token",
                "Meta rejected",
            ),
            (
                "Cloud API credentials are missing: enter them in the tenant's transport settings",
                "details are missing",
            ),
            (
                "cannot read the stored Cloud API credentials (was the master key changed?): enter them again",
                "can no longer be read",
            ),
            (
                "cannot reach WhatsApp servers: connect timeout",
                "cannot reach WhatsApp",
            ),
            (
                "logged out from the phone: link the bot again",
                "logged out on the phone",
            ),
            (
                "the whatsapp_web transport is not available in this build yet",
                "not available",
            ),
        ] {
            let plain = plain_error(raw);
            assert_ne!(plain, generic, "{raw}");
            assert!(plain.contains(words), "{raw}: {plain}");
            assert!(!plain.contains(raw), "the raw text stays with the admins");
        }
        for (raw, words) in [
            (
                "more than 24 hours since the customer's last message: WhatsApp only allows approved template messages now",
                "24 hours",
            ),
            ("WhatsApp did not deliver it: 131026", "could not deliver"),
        ] {
            assert!(plain_message_error(raw).contains(words), "{raw}");
        }
    }

    fn draft() -> SetupRequestDraft {
        SetupRequestDraft {
            template_type: "BOOKING".to_owned(),
            business_name: "Salon Luna".to_owned(),
            whatsapp_number: "+4915112345678".to_owned(),
            language: "de".to_owned(),
            timezone: Some("Europe/Berlin".to_owned()),
            hours: None,
            notes: Some("  ".to_owned()),
        }
    }

    #[test]
    fn a_valid_draft_parses_with_blank_notes_left_out() {
        let parsed = NewSetupRequest::try_from(draft()).unwrap();
        assert_eq!(parsed.whatsapp_number.as_str(), "+4915112345678");
        assert_eq!(parsed.business_name, "Salon Luna");
        assert_eq!(parsed.notes, None);
    }

    #[test]
    fn errors_are_named_after_the_setup_request_fields() {
        let bad = SetupRequestDraft {
            business_name: String::new(),
            whatsapp_number: "0151".to_owned(),
            notes: Some("x".repeat(MAX_NOTES_CHARS + 1)),
            ..draft()
        };
        let err = NewSetupRequest::try_from(bad).unwrap_err();
        let fields = err.fields();
        assert_eq!(
            fields.keys().map(String::as_str).collect::<Vec<_>>(),
            ["business_name", "notes", "whatsapp_number"]
        );
        assert_eq!(fields["business_name"], "is required");
    }

    #[test]
    fn known_bot_errors_get_plain_words_and_others_hide_their_cause() {
        assert!(
            plain_error("the QR code was not scanned in time: start again").contains("QR code")
        );
        let hidden =
            plain_error("cannot read the tenant's settings: connection refused at 10.0.0.3");
        assert!(!hidden.contains("10.0.0.3"), "{hidden}");
    }
}
