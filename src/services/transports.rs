//! Which transport a tenant's bot uses, and the Cloud API credentials.
//!
//! Secrets (access token, app secret, verify token) are sealed with the
//! master key before they reach the database, bound to their tenant and
//! field, and never leave this module in full: views show the last four
//! characters of the token. Nothing here logs a secret.

use chrono::Utc;
use entity::enums::{SessionState, TransportKind};
use entity::{tenant_config, transport_credential, whatsapp_session};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, Set,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Actor};
use super::control::BotControl;
use super::runtime::worker;
use super::tenants::tenant_not_found;
use crate::crypto::MasterKey;
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode, FieldErrors};

/// A tenant's Cloud API credentials, decrypted (for its transport and
/// webhook only).
pub struct CloudCredentials {
    pub phone_number_id: String,
    pub access_token: SecretString,
    pub app_secret: SecretString,
    pub verify_token: SecretString,
}

/// `PUT /api/admin/tenants/{id}/transport` and the transport forms. For
/// `cloud_api` a secret may be left out when one is stored already (forms
/// say "leave empty to keep").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportInput {
    pub kind: TransportKind,
    #[serde(default)]
    pub phone_number_id: Option<String>,
    #[serde(default)]
    pub access_token: Option<SecretString>,
    #[serde(default)]
    pub app_secret: Option<SecretString>,
    #[serde(default)]
    pub verify_token: Option<SecretString>,
}

/// What admins and owners see of a tenant's transport: never a secret.
#[derive(Debug, Clone, Serialize)]
pub struct TransportView {
    pub kind: TransportKind,
    /// Cloud API: the number's id at Meta, when credentials are stored.
    pub phone_number_id: Option<String>,
    /// Cloud API: "…" and the token's last four characters.
    pub access_token_hint: Option<String>,
    pub credentials_stored: bool,
    /// WhatsApp Web: the number a pairing code is requested for.
    pub pairing_phone: Option<String>,
}

const FIELDS: [&str; 3] = ["access_token", "app_secret", "verify_token"];

/// Associated data binding a sealed secret to its tenant and field.
fn place(tenant: TenantId, field: &str) -> Vec<u8> {
    crate::crypto::place("transport_credential", tenant, field)
}

fn hint(token: &str) -> String {
    if token.chars().count() < 12 {
        return "…".to_owned();
    }
    let tail: String = token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

fn non_blank(value: Option<&SecretString>) -> Option<&str> {
    value
        .map(|secret| secret.expose_secret().trim())
        .filter(|secret| !secret.is_empty())
}

/// Sets the tenant's transport (and Cloud API credentials). A change of
/// kind forgets the old link: the new transport links afresh. A running
/// bot restarts on it.
pub async fn set(
    db: &DatabaseConnection,
    key: &MasterKey,
    bots: &dyn BotControl,
    actor: &Actor,
    tenant_id: TenantId,
    input: TransportInput,
) -> Result<TransportView, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let config = tenant_config::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let stored = transport_credential::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?;
    let mut fields = FieldErrors::new();
    let given_credentials = input.phone_number_id.is_some()
        || input.access_token.is_some()
        || input.app_secret.is_some()
        || input.verify_token.is_some();
    if input.kind == TransportKind::CloudApi {
        let phone_number_id = input
            .phone_number_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .or_else(|| stored.as_ref().map(|row| row.phone_number_id.clone()));
        match &phone_number_id {
            None => {
                fields.insert(
                    "phone_number_id".to_owned(),
                    "Enter the phone number ID from Meta's WhatsApp → API Setup page.".to_owned(),
                );
            }
            Some(id) if id.len() > 64 || !id.chars().all(|c| c.is_ascii_digit()) => {
                fields.insert(
                    "phone_number_id".to_owned(),
                    "The phone number ID is a number (digits only), not the phone number itself."
                        .to_owned(),
                );
            }
            Some(_) => {}
        }
        let secrets = [&input.access_token, &input.app_secret, &input.verify_token];
        for (field, value) in FIELDS.iter().zip(secrets) {
            match non_blank(value.as_ref()) {
                Some(secret) if secret.len() > 4096 => {
                    fields.insert((*field).to_owned(), "This is too long.".to_owned());
                }
                Some(_) => {}
                None if stored.is_none() => {
                    fields.insert((*field).to_owned(), "This is required.".to_owned());
                }
                None => {}
            }
        }
        if !fields.is_empty() {
            return Err(AppError::validation(fields));
        }
        let now = Utc::now();
        let seal = |field: &str, value: Option<&SecretString>, old: Option<&Vec<u8>>| {
            match (non_blank(value), old) {
                (Some(secret), _) => key
                    .seal(secret.as_bytes(), &place(tenant_id, field))
                    .map_err(AppError::internal),
                (None, Some(old)) => Ok(old.clone()),
                // Checked above: a secret is given or stored.
                (None, None) => Err(AppError::internal(anyhow::anyhow!("{field} missing"))),
            }
        };
        let row = transport_credential::ActiveModel {
            tenant_id: Set(tenant_id.into()),
            phone_number_id: Set(phone_number_id.unwrap_or_default()),
            access_token: Set(seal(
                "access_token",
                input.access_token.as_ref(),
                stored.as_ref().map(|row| &row.access_token),
            )?),
            app_secret: Set(seal(
                "app_secret",
                input.app_secret.as_ref(),
                stored.as_ref().map(|row| &row.app_secret),
            )?),
            verify_token: Set(seal(
                "verify_token",
                input.verify_token.as_ref(),
                stored.as_ref().map(|row| &row.verify_token),
            )?),
            updated_at: Set(now),
        };
        if stored.is_some() {
            row.update(&txn).await?;
        } else {
            row.insert(&txn).await?;
        }
    } else if given_credentials {
        fields.insert(
            "kind".to_owned(),
            "Only the cloud_api transport takes credentials.".to_owned(),
        );
        return Err(AppError::validation(fields));
    }

    let changed = config.transport != input.kind;
    if changed {
        let mut active = config.into_active_model();
        active.transport = Set(input.kind);
        active.updated_at = Set(Utc::now());
        active.update(&txn).await?;
        forget_link(&txn, tenant_id).await?;
    }
    audit::record(
        &txn,
        actor,
        Some(tenant_id),
        "tenant.transport_set",
        json!({ "kind": input.kind, "credentials_changed": given_credentials }),
    )
    .await?;
    worker::record_change(&txn, tenant_id, worker::Change::Restart).await?;
    txn.commit().await?;
    bots.nudge(tenant_id).await;
    view(db, key, tenant_id).await
}

/// The link belonged to the previous transport: a WhatsApp Web device's
/// keys go too (a return to WhatsApp Web links afresh).
async fn forget_link(conn: &impl ConnectionTrait, tenant_id: TenantId) -> Result<(), AppError> {
    forget_web_keys(conn, tenant_id).await?;
    whatsapp_session::Entity::update_many()
        .col_expr(
            whatsapp_session::Column::State,
            SessionState::Disconnected.to_value().into(),
        )
        .col_expr(
            whatsapp_session::Column::LastQr,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            whatsapp_session::Column::PairingCode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            whatsapp_session::Column::LinkedPhone,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            whatsapp_session::Column::SessionData,
            Expr::value(Option::<serde_json::Value>::None),
        )
        .col_expr(whatsapp_session::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes a tenant's WhatsApp Web device keys (the link is gone).
pub async fn forget_web_keys(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<(), sea_orm::DbErr> {
    entity::wa_key::Entity::delete_many()
        .filter(entity::wa_key::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    entity::wa_device::Entity::delete_many()
        .filter(entity::wa_device::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the WhatsApp Web device keys unless the tenant's transport is
/// WhatsApp Web now (after its old bot stopped: a client saves state while
/// it disconnects).
pub async fn forget_web_keys_unless_current(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<(), sea_orm::DbErr> {
    let kind = tenant_config::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .map(|config| config.transport);
    if kind != Some(TransportKind::WhatsappWeb) {
        let txn = crate::db::begin_write(db).await?;
        forget_web_keys(&txn, tenant_id).await?;
        txn.commit().await?;
    }
    Ok(())
}

pub async fn view(
    db: &impl ConnectionTrait,
    key: &MasterKey,
    tenant_id: TenantId,
) -> Result<TransportView, AppError> {
    let config = tenant_config::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or_else(tenant_not_found)?;
    let session = whatsapp_session::Entity::find_by_id(tenant_id)
        .one(db)
        .await?;
    let credentials = match config.transport {
        TransportKind::CloudApi => cloud_credentials(db, key, tenant_id).await?,
        _ => None,
    };
    Ok(TransportView {
        kind: config.transport,
        phone_number_id: credentials
            .as_ref()
            .map(|creds| creds.phone_number_id.clone()),
        access_token_hint: credentials
            .as_ref()
            .map(|creds| hint(creds.access_token.expose_secret())),
        credentials_stored: credentials.is_some(),
        pairing_phone: session.and_then(|session| session.pairing_phone),
    })
}

/// The credentials the webhook checks against: only while the tenant's
/// transport is the Cloud API.
pub async fn webhook_credentials(
    db: &impl ConnectionTrait,
    key: &MasterKey,
    tenant_id: TenantId,
) -> Result<Option<CloudCredentials>, AppError> {
    let kind = tenant_config::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .map(|config| config.transport);
    if kind != Some(TransportKind::CloudApi) {
        return Ok(None);
    }
    cloud_credentials(db, key, tenant_id).await
}

/// The tenant's Cloud API credentials, decrypted; `None` when none are stored.
pub async fn cloud_credentials(
    db: &impl ConnectionTrait,
    key: &MasterKey,
    tenant_id: TenantId,
) -> Result<Option<CloudCredentials>, AppError> {
    let Some(row) = transport_credential::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let open = |field: &str, sealed: &[u8]| {
        key.open(sealed, &place(tenant_id, field))
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(SecretString::from)
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!(
                    "tenant {tenant_id}: the stored Cloud API {field} cannot be decrypted \
                     (was the master key changed?)"
                ))
            })
    };
    Ok(Some(CloudCredentials {
        phone_number_id: row.phone_number_id,
        access_token: open("access_token", &row.access_token)?,
        app_secret: open("app_secret", &row.app_secret)?,
        verify_token: open("verify_token", &row.verify_token)?,
    }))
}

/// Link by phone number (pairing code) instead of a QR code; `None` goes
/// back to the QR. WhatsApp Web only (409 otherwise). The caller restarts
/// a running bot.
pub async fn set_pairing_phone(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    tenant_id: TenantId,
    phone: Option<&crate::domain::phone::PhoneNumber>,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let config = tenant_config::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .ok_or_else(tenant_not_found)?;
    if config.transport != TransportKind::WhatsappWeb {
        return Err(AppError::new(
            ErrorCode::Conflict,
            "Linking by phone number is for the WhatsApp Web transport: choose it first.",
        ));
    }
    let result = whatsapp_session::Entity::update_many()
        .col_expr(
            whatsapp_session::Column::PairingPhone,
            Expr::value(phone.map(|phone| phone.as_str().to_owned())),
        )
        .col_expr(
            whatsapp_session::Column::PairingCode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(whatsapp_session::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(tenant_not_found());
    }
    audit::record(
        &txn,
        actor,
        Some(tenant_id),
        "tenant.pairing_phone_set",
        json!({ "by_phone_number": phone.is_some() }),
    )
    .await?;
    worker::record_change(&txn, tenant_id, worker::Change::Restart).await?;
    txn.commit().await?;
    bots.nudge(tenant_id).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_only_the_last_four_characters() {
        assert_eq!(hint("EAAGsecretABCD"), "…ABCD");
        assert_eq!(hint("short"), "…");
    }
}
