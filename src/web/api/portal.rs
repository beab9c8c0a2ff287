//! `/api/portal`: the JSON twin of the portal, on the portal's session
//! cookie (401 JSON when signed out). The tenant is always
//! `session.tenant_id()`: no route has a tenant in its path, and a
//! `tenant_id` in a query or body is ignored. Everything but `/me` is the
//! owner's (`OwnerSession`: 403 `forbidden` for STAFF).
//!
//! Writes are CSRF-checked before their body is read (`PortalJson`:
//! `check_json_write`, i.e. `application/json` from our own origin). Answers
//! are the explicit views of `services::portal`, never entity models.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::resource;
use crate::error::AppError;
use crate::services::PageRequest;
use crate::services::portal::{self, SetupRequestDraft};
use crate::services::setup_requests::NewSetupRequest;
use crate::services::{bots, sandbox};
use crate::state::AppState;
use crate::views::portal::status as status_view;
use crate::web::auth::{OwnerPoll, OwnerSession, PortalSession, check_json_write};

const SETUP_REQUEST_PATH: &str = "/api/portal/setup-request";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/portal/me").route(web::get().to(me)))
        .service(
            resource("/portal/setup-request")
                .route(web::get().to(setup_request))
                .route(web::post().to(submit_setup_request)),
        )
        .service(resource("/portal/tenant/current/status").route(web::get().to(status)))
        .service(resource("/portal/tenant/current/qr").route(web::get().to(qr)))
        .service(resource("/portal/tenant/current/logs").route(web::get().to(logs)))
        .service(
            resource("/portal/tenant/current/bot/new-code").route(web::post().to(new_link_code)),
        )
        .service(
            resource("/portal/tenant/current/sandbox/scan").route(web::post().to(sandbox_scan)),
        )
        .service(
            resource("/portal/tenant/current/sandbox/inbound")
                .route(web::post().to(sandbox_inbound)),
        )
        .service(
            resource("/portal/tenant/current/sandbox/outbox").route(web::get().to(sandbox_outbox)),
        );
}

/// A JSON body of a state-changing portal request: refused with 403
/// `csrf_rejected` unless `check_json_write` passes, before the body is
/// read; then parsed like any `web::Json` of the `/api` scope.
pub(super) struct PortalJson<T>(pub(super) T);

impl<T: DeserializeOwned + 'static> FromRequest for PortalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = match req.app_data::<web::Data<AppState>>() {
            Some(state) => check_json_write(req, state),
            None => Err(AppError::internal(anyhow::anyhow!(
                "AppState is not registered"
            ))),
        };
        if let Err(err) = checked {
            return Box::pin(async move { Err(err.into()) });
        }
        let json = web::Json::<T>::from_request(req, payload);
        Box::pin(async move { json.await.map(|json| PortalJson(json.into_inner())) })
    }
}

/// An owner's data stays out of shared caches, and polled answers change
/// every few seconds.
pub(super) fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

async fn me(state: web::Data<AppState>, session: PortalSession) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(portal::me(&state.db, &session.user).await?))
}

/// The latest setup request, or `null` when none was sent.
async fn setup_request(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let latest = portal::latest_request(&state.db, session.tenant_id()).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(latest))
}

/// `POST /api/portal/setup-request`: the fields of `SetupRequestDraft`, and
/// no others, except a `tenant_id`, which is ignored (the session decides).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupRequestBody {
    #[serde(default)]
    template_type: String,
    #[serde(default)]
    business_name: String,
    #[serde(default)]
    whatsapp_number: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    hours: Option<serde_json::Value>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default, rename = "tenant_id")]
    _tenant_id: Option<IgnoredAny>,
}

impl From<SetupRequestBody> for SetupRequestDraft {
    // No `..Default::default()`: a field added to the draft must be added here.
    fn from(body: SetupRequestBody) -> Self {
        SetupRequestDraft {
            template_type: body.template_type,
            business_name: body.business_name,
            whatsapp_number: body.whatsapp_number,
            language: body.language,
            timezone: body.timezone,
            hours: body.hours,
            notes: body.notes,
        }
    }
}

async fn submit_setup_request(
    state: web::Data<AppState>,
    session: OwnerSession,
    body: PortalJson<SetupRequestBody>,
) -> Result<HttpResponse, AppError> {
    let request = NewSetupRequest::try_from(SetupRequestDraft::from(body.0))?;
    let created = portal::submit_request(&state.db, &session.user, request).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, SETUP_REQUEST_PATH))
        .json(created))
}

async fn status(
    state: web::Data<AppState>,
    OwnerPoll(session): OwnerPoll,
) -> Result<HttpResponse, AppError> {
    let view = portal::status(
        &state.db,
        session.tenant_id(),
        state.settings.bots.stale_after,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(status_view::live(&view)))
}

async fn qr(
    state: web::Data<AppState>,
    OwnerPoll(session): OwnerPoll,
) -> Result<HttpResponse, AppError> {
    let view = portal::qr(&state.db, session.tenant_id()).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(view))
}

async fn logs(
    state: web::Data<AppState>,
    session: OwnerSession,
    page: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let page = portal::logs(&state.db, session.tenant_id(), page.into_inner()).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(page))
}

/// The owner's "Show a new QR code": `{status}` once the bot starts over.
async fn new_link_code(
    state: web::Data<AppState>,
    session: OwnerSession,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let detail = bots::owner_new_link_code(
        &state.db,
        state.bots.as_ref(),
        &state.new_link_codes,
        &session.actor(),
        session.tenant_id(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(serde_json::json!({ "status": detail.tenant.status })))
}

/// The sandbox's simulated scan, with the tenant's own number.
async fn sandbox_scan(
    state: web::Data<AppState>,
    session: OwnerSession,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let phone = sandbox::scan(&state.db, state.sandbox.as_ref(), session.tenant_id(), None).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "scanned_by": phone })))
}

/// The owner plays a sandbox customer `{from, text, id?}`: stored as any
/// customer's message (logged, answered by the running bot), so the whole
/// bot can be tried without an admin. 202 once stored.
async fn sandbox_inbound(
    state: web::Data<AppState>,
    session: OwnerSession,
    body: PortalJson<sandbox::CustomerDraft>,
) -> Result<HttpResponse, AppError> {
    let written = sandbox::customer_writes(
        &state.db,
        state.bots.as_ref(),
        state.sandbox.as_ref(),
        session.tenant_id(),
        body.0,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "id": written.id })))
}

/// What the bot sent to the tenant's sandbox customers.
async fn sandbox_outbox(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let sent = sandbox::outbox(&state.db, state.sandbox.as_ref(), session.tenant_id()).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(sent))
}
