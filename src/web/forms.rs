//! Reading HTML forms (a flat map of strings) into the services' drafts, the
//! same way for the admin console and the portal: the hours grid becomes the
//! hours JSON, number fields become numbers, and what cannot be read becomes
//! a field error next to its field, merged with the service's own 422.
//! The transport forms (console tenant page, portal settings) are read and
//! applied here too, so both word the outcome alike.

use entity::enums::TransportKind;
use secrecy::SecretString;

use crate::domain::hours::BusinessHours;
use crate::domain::ids::TenantId;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::audit::Actor;
use crate::services::sessions::Flash;
use crate::services::tenants::TenantDetail;
use crate::services::transports::{self, TransportInput, TransportView};
use crate::state::AppState;
use crate::views::transport::label;
use crate::web::auth::AnyForm;

/// The hours grid as the JSON the services parse. `None` when the form has
/// no hours fields at all (a create gets the default hours, an edit keeps
/// them); a grid that does not read puts its message under `hours`.
pub fn form_hours(form: &AnyForm, errors: &mut FieldErrors) -> Option<serde_json::Value> {
    if !form.keys().any(|key| key.starts_with("hours_")) {
        return None;
    }
    match BusinessHours::from_form(|key| form.get(key).cloned()) {
        Ok(hours) => Some(hours.to_json()),
        Err(message) => {
            errors.insert("hours".to_owned(), message);
            None
        }
    }
}

/// A number field: absent stays `None`, present must be a whole number.
pub fn whole_number(form: &AnyForm, key: &str, errors: &mut FieldErrors) -> Option<i64> {
    let raw = form.get(key)?;
    match raw.trim().parse::<i64>() {
        Ok(number) => Some(number),
        Err(_) => {
            errors.insert(key.to_owned(), "must be a whole number".to_owned());
            None
        }
    }
}

/// Adds the errors found while reading the form to those of the service's
/// parse, as one 422. (The form-level fields were left out of the draft, so
/// the parse never reports them itself.)
pub fn with_field_errors<T>(
    parsed: Result<T, AppError>,
    mut errors: FieldErrors,
) -> Result<T, AppError> {
    if errors.is_empty() {
        return parsed;
    }
    match parsed {
        Ok(_) => {}
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            errors.extend(err.fields().clone());
        }
        Err(err) => return Err(err),
    }
    Err(AppError::validation(errors))
}

/// The transport form as the service's input. The Cloud API fields are
/// always in the form (hidden unless chosen), so for other transports they
/// are dropped; an empty secret means "keep the stored one".
pub fn transport_input(form: &AnyForm) -> Result<TransportInput, AppError> {
    // The JSON API's names (`sandbox`, `whatsapp_web`, `cloud_api`).
    let kind = form
        .get("kind")
        .and_then(|kind| {
            serde_json::from_value::<TransportKind>(serde_json::Value::String(
                kind.trim().to_owned(),
            ))
            .ok()
        })
        .ok_or_else(|| {
            AppError::validation(FieldErrors::from([(
                "kind".to_owned(),
                "Choose how the bot connects to WhatsApp.".to_owned(),
            )]))
        })?;
    if kind != TransportKind::CloudApi {
        return Ok(TransportInput {
            kind,
            phone_number_id: None,
            access_token: None,
            app_secret: None,
            verify_token: None,
        });
    }
    let secret = |key: &str| {
        form.get(key)
            .filter(|value| !value.trim().is_empty())
            .map(|value| SecretString::from(value.clone()))
    };
    Ok(TransportInput {
        kind,
        phone_number_id: form
            .get("phone_number_id")
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty()),
        access_token: secret("access_token"),
        app_secret: secret("app_secret"),
        verify_token: secret("verify_token"),
    })
}

/// Saves the transport form for `tenant` and restarts its bot if it runs.
/// A refusal the form shows is a 422 (`ValidationFailed`).
pub async fn apply_transport(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    form: &AnyForm,
) -> Result<Flash, AppError> {
    let input = transport_input(form)?;
    let was_running = state.bots.is_running(tenant);
    let view = transports::set(
        &state.db,
        &state.master_key,
        state.bots.as_ref(),
        actor,
        tenant,
        input,
    )
    .await?;
    let then = if was_running {
        "The bot restarted to use it."
    } else {
        "The bot uses it when it next starts."
    };
    Ok(Flash::success(format!(
        "Transport saved: {}. {then}",
        label(view.kind)
    )))
}

/// Saves the "link with phone number" form (or its "use a QR code
/// instead", which sends `use_qr`) and restarts the bot if it runs. Only
/// WhatsApp Web links by phone number; for another transport the answer
/// is an error flash, not a field error. A mistyped number is a 422 on
/// `phone`. `shown_at` says where the reader finds the code ("on the
/// Status page").
pub async fn apply_pairing(
    state: &AppState,
    actor: &Actor,
    detail: &TenantDetail,
    form: &AnyForm,
    shown_at: &str,
) -> Result<Flash, AppError> {
    let phone = if form.contains_key("use_qr") {
        None
    } else {
        let typed = form.get("phone").map_or("", String::as_str);
        let phone = PhoneNumber::parse(typed).map_err(|message| {
            AppError::validation(FieldErrors::from([("phone".to_owned(), message)]))
        })?;
        Some(phone)
    };
    let tenant = detail.tenant.id;
    let was_running = state.bots.is_running(tenant);
    let set = transports::set_pairing_phone(
        &state.db,
        state.bots.as_ref(),
        actor,
        tenant,
        phone.as_ref(),
    )
    .await;
    match set {
        Ok(()) => {}
        // Not on WhatsApp Web: said as a flash, not a field error.
        Err(err) if err.code() == ErrorCode::Conflict => {
            return Ok(Flash::error(err.message().to_owned()));
        }
        Err(err) => return Err(err),
    }
    let when = if was_running {
        "The bot restarted and shows"
    } else {
        "Once the bot runs, it shows"
    };
    Ok(Flash::success(match phone {
        Some(phone) => format!(
            "Linking by phone number {phone}. {when} the code to type on that phone {shown_at}."
        ),
        None => format!("Linking by QR code again. {when} the QR code {shown_at}."),
    }))
}

/// The transport as a page shows it. Credentials that cannot be decrypted
/// (the master key changed) must not take the page down: the form is how
/// they get fixed. They then read as not stored, with `true` for "enter
/// them again".
pub async fn transport_view(
    state: &AppState,
    detail: &TenantDetail,
) -> Result<(TransportView, bool), AppError> {
    match transports::view(&state.db, &state.master_key, detail.tenant.id).await {
        Ok(view) => Ok((view, false)),
        Err(err) if detail.config.transport == TransportKind::CloudApi => {
            tracing::warn!(
                tenant = %detail.tenant.id,
                error = %err.log_detail().unwrap_or_else(|| err.message().to_owned()),
                "showing the transport without its unreadable credentials"
            );
            let view = TransportView {
                kind: detail.config.transport,
                phone_number_id: None,
                access_token_hint: None,
                credentials_stored: false,
                pairing_phone: detail.session.pairing_phone.clone(),
            };
            Ok((view, true))
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn typed(secret: Option<&SecretString>) -> Option<&str> {
        secret.map(|secret| secret.expose_secret())
    }

    fn form(pairs: &[(&str, &str)]) -> AnyForm {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn other_transports_drop_the_cloud_fields_and_blank_secrets_are_kept() {
        let sandbox = transport_input(&form(&[
            ("kind", "sandbox"),
            ("phone_number_id", "123"),
            ("access_token", ""),
        ]))
        .unwrap();
        assert_eq!(sandbox.kind, TransportKind::Sandbox);
        assert!(sandbox.phone_number_id.is_none() && sandbox.access_token.is_none());

        let cloud = transport_input(&form(&[
            ("kind", "cloud_api"),
            ("phone_number_id", " 123 "),
            ("access_token", "EAAG-token"),
            ("app_secret", "  "),
        ]))
        .unwrap();
        assert_eq!(cloud.phone_number_id.as_deref(), Some("123"));
        assert_eq!(typed(cloud.access_token.as_ref()), Some("EAAG-token"));
        assert!(cloud.app_secret.is_none() && cloud.verify_token.is_none());

        let unknown = transport_input(&form(&[("kind", "telegram")])).unwrap_err();
        assert!(unknown.fields().contains_key("kind"));
    }
}
