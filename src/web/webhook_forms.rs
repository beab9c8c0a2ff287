//! The webhook pages' forms, the same for the portal (the owner's tenant)
//! and the console's pages of one tenant: the "Add endpoint" form read into
//! the service's draft (its refusals next to their fields), the endpoint
//! page's buttons, and the flashes they leave.

use crate::domain::ids::{TenantId, WebhookId};
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::audit::Actor;
use crate::services::sessions::Flash;
use crate::services::webhooks::{self, events::EventType};
use crate::state::AppState;
use crate::web::auth::AnyForm;

/// A webhook list page as a form left it: the endpoints, the form as
/// typed with its errors, and the endpoint just made with its secret.
pub struct WebhookList {
    pub status: actix_web::http::StatusCode,
    pub endpoints: Vec<webhooks::Endpoint>,
    pub made: Option<webhooks::WithSecret>,
    pub url: String,
    pub events: Vec<EventType>,
    pub errors: FieldErrors,
}

impl WebhookList {
    pub fn page(&self) -> crate::views::webhooks::ListPage<'_> {
        crate::views::webhooks::ListPage {
            endpoints: &self.endpoints,
            url: &self.url,
            events: &self.events,
            errors: &self.errors,
            secret: self
                .made
                .as_ref()
                .map(|made| (&made.endpoint, made.secret.as_str())),
        }
    }
}

/// The tenant's endpoints under a blank form ("message.received" ticked).
pub async fn webhook_list(state: &AppState, tenant: TenantId) -> Result<WebhookList, AppError> {
    Ok(WebhookList {
        status: actix_web::http::StatusCode::OK,
        endpoints: webhooks::list(&state.db, tenant).await?,
        made: None,
        url: String::new(),
        events: vec![EventType::MessageReceived],
        errors: FieldErrors::new(),
    })
}

/// The form's checkboxes are `event:<type>`.
fn checked_events(form: &AnyForm) -> Vec<String> {
    EventType::ALL
        .into_iter()
        .map(EventType::as_str)
        .filter(|name| form.contains_key(&format!("event:{name}")))
        .map(str::to_owned)
        .collect()
}

/// The "Add endpoint" form: the endpoint made (its secret shown once), or
/// the form again with what is wrong next to its fields.
pub async fn create_webhook(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    form: &AnyForm,
) -> Result<WebhookList, AppError> {
    let input = webhooks::NewEndpoint {
        url: form.get("url").cloned().unwrap_or_default(),
        events: checked_events(form),
        enabled: None,
        concurrency: None,
    };
    let made = webhooks::create(
        &state.db,
        &state.master_key,
        state.webhook_policy(),
        actor,
        tenant,
        &input,
    )
    .await;
    let (status, made, errors) = match made {
        Ok(made) => (
            actix_web::http::StatusCode::OK,
            Some(made),
            FieldErrors::new(),
        ),
        Err(err)
            if matches!(
                err.code(),
                ErrorCode::ValidationFailed | ErrorCode::Conflict
            ) =>
        {
            let mut errors = err.fields().clone();
            errors
                .entry("url".to_owned())
                .or_insert_with(|| err.message().to_owned());
            (err.code().status(), None, errors)
        }
        Err(err) => return Err(err),
    };
    Ok(WebhookList {
        status,
        endpoints: webhooks::list(&state.db, tenant).await?,
        url: if made.is_some() {
            String::new()
        } else {
            input.url
        },
        events: input
            .events
            .iter()
            .filter_map(|name| EventType::parse(name))
            .collect(),
        errors,
        made,
    })
}

/// One endpoint's page: the endpoint, its delivery log, and the secret
/// when it was just rotated.
pub struct WebhookPage {
    pub endpoint: webhooks::Endpoint,
    pub attempts: Vec<webhooks::AttemptItem>,
    pub secret: Option<String>,
}

impl WebhookPage {
    pub fn page(&self) -> crate::views::webhooks::EndpointPage<'_> {
        crate::views::webhooks::EndpointPage {
            endpoint: &self.endpoint,
            attempts: &self.attempts,
            secret: self.secret.as_deref(),
        }
    }
}

pub async fn webhook_page(
    state: &AppState,
    tenant: TenantId,
    wid: WebhookId,
) -> Result<WebhookPage, AppError> {
    let latest = webhooks::AttemptQuery::default();
    let (endpoint, attempts) = tokio::try_join!(
        webhooks::get(&state.db, tenant, wid),
        webhooks::attempts(&state.db, tenant, wid, &latest),
    )?;
    Ok(WebhookPage {
        endpoint,
        attempts: attempts.items,
        secret: None,
    })
}

/// "Rotate secret": the page with the new secret, shown this once.
pub async fn rotate_webhook(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    wid: WebhookId,
) -> Result<WebhookPage, AppError> {
    let rotated = webhooks::rotate_secret(
        &state.db,
        &state.master_key,
        actor,
        tenant,
        wid,
        &webhooks::Rotation::default(),
    )
    .await?;
    let attempts =
        webhooks::attempts(&state.db, tenant, wid, &webhooks::AttemptQuery::default()).await?;
    Ok(WebhookPage {
        endpoint: rotated.endpoint,
        attempts: attempts.items,
        secret: Some(rotated.secret),
    })
}

/// "Enable" / "Disable": flips the endpoint, worded for the flash.
pub async fn toggle_webhook(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    wid: WebhookId,
) -> Result<Flash, AppError> {
    let enabled = !webhooks::get(&state.db, tenant, wid).await?.enabled;
    let change = webhooks::EndpointChange {
        enabled: Some(enabled),
        ..Default::default()
    };
    webhooks::update(
        &state.db,
        state.webhook_policy(),
        actor,
        tenant,
        wid,
        &change,
    )
    .await?;
    Ok(Flash::success(if enabled {
        "Endpoint enabled: waiting events go out now."
    } else {
        "Endpoint disabled: events wait until it is enabled again."
    }))
}

/// "Send a test event": queued, worded for the flash.
pub async fn test_webhook(
    state: &AppState,
    tenant: TenantId,
    wid: WebhookId,
) -> Result<Flash, AppError> {
    webhooks::send_test(&state.db, &state.webhooks, tenant, wid).await?;
    Ok(Flash::success(
        "Test event queued: it shows in the log below once sent.",
    ))
}

/// "Delete": the endpoint goes, with its waiting events and its log.
pub async fn delete_webhook(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    wid: WebhookId,
) -> Result<Flash, AppError> {
    webhooks::delete(&state.db, actor, tenant, wid).await?;
    Ok(Flash::success(
        "Endpoint deleted, with its waiting events and its log.",
    ))
}

/// "Send again" for one event of the endpoint.
pub async fn resend_webhook_event(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    wid: WebhookId,
    event: i64,
) -> Result<Flash, AppError> {
    webhooks::resend(&state.db, &state.webhooks, actor, tenant, wid, event).await?;
    Ok(Flash::success("Queued to be sent again."))
}
