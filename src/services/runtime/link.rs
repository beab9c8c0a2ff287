//! Linking WhatsApp: the code a waiting session shows (QR or pairing code),
//! why a running transport is offline while it retries, and the view of it
//! that the admin page, the portal and the JSON APIs read.

use chrono::{DateTime, Utc};
use entity::enums::SessionState;
use entity::whatsapp_session;
use sea_orm::UpdateMany;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveEnum, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::domain::ids::TenantId;
use crate::error::AppError;
use crate::services::tenants::tenant_not_found;

/// A session UPDATE to `state` with no QR code showing and no offline
/// reason (a new state says what is true now: connected, stopped, failed);
/// callers add the columns of their own and the filter.
pub(super) fn session_without_qr(
    state: SessionState,
    now: DateTime<Utc>,
) -> UpdateMany<whatsapp_session::Entity> {
    session_update(state, None, now)
}

/// `session_without_qr` with an offline reason of its own.
fn session_update(
    state: SessionState,
    offline_reason: Option<&str>,
    now: DateTime<Utc>,
) -> UpdateMany<whatsapp_session::Entity> {
    whatsapp_session::Entity::update_many()
        .col_expr(whatsapp_session::Column::State, state.to_value().into())
        .col_expr(
            whatsapp_session::Column::OfflineReason,
            Expr::value(offline_reason.map(str::to_owned)),
        )
        .col_expr(
            whatsapp_session::Column::LastQr,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            whatsapp_session::Column::QrExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            whatsapp_session::Column::PairingCode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(whatsapp_session::Column::UpdatedAt, Expr::value(now))
}

/// The running transport lost (or never reached) WhatsApp and retries on
/// its own: the session is DISCONNECTED with `reason` ("cannot reach Meta:
/// …, retrying") until the next state change (connected, a new code,
/// stopped, failed) clears it.
pub async fn record_offline(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    reason: &str,
) -> Result<(), DbErr> {
    let update = session_update(SessionState::Disconnected, Some(reason), Utc::now())
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id));
    crate::db::write_alone(db, update.exec(db)).await?;
    Ok(())
}

/// What a session waiting to be linked shows (admin page, portal, JSON).
#[derive(Debug, Clone, Copy)]
pub enum LinkCode<'a> {
    /// A QR code, as a `data:` URI.
    Qr(&'a str),
    /// An 8-character code to type on the phone (linking by phone number).
    Pairing(&'a str),
}

/// A new code to link with, replacing the one before (of either kind).
pub async fn record_link_code(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    code: LinkCode<'_>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (qr, pairing) = match code {
        LinkCode::Qr(qr) => (Some(qr.to_owned()), None),
        LinkCode::Pairing(code) => (None, Some(code.to_owned())),
    };
    let update = whatsapp_session::Entity::update_many()
        .col_expr(
            whatsapp_session::Column::State,
            SessionState::QrReady.to_value().into(),
        )
        .col_expr(whatsapp_session::Column::LastQr, Expr::value(qr))
        .col_expr(whatsapp_session::Column::PairingCode, Expr::value(pairing))
        .col_expr(
            whatsapp_session::Column::OfflineReason,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            whatsapp_session::Column::QrExpiresAt,
            Expr::value(expires_at),
        )
        .col_expr(whatsapp_session::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id));
    crate::db::write_alone(db, update.exec(db)).await?;
    Ok(())
}

/// What the QR endpoints answer: `{state, qr, expires_at}`, `qr` being a
/// `data:image/svg+xml;base64,…` URI while the state is QR_READY. When the
/// link is by phone number, `pairing_code` (8 characters, to type on that
/// phone) takes the QR code's place and `expires_at` is its expiry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QrView {
    pub state: SessionState,
    pub qr: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub linked_phone: Option<String>,
    /// Left out unless a code is shown: the JSON stays `{state, qr, expires_at}`
    /// for a QR-code link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairing_code: Option<String>,
}

pub async fn qr_view(db: &DatabaseConnection, tenant_id: TenantId) -> Result<QrView, AppError> {
    let session = whatsapp_session::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or_else(tenant_not_found)?;
    let showing = session.state == SessionState::QrReady;
    Ok(QrView {
        state: session.state,
        qr: if showing { session.last_qr } else { None },
        expires_at: if showing { session.qr_expires_at } else { None },
        linked_phone: session.linked_phone,
        pairing_code: if showing { session.pairing_code } else { None },
    })
}
