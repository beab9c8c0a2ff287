//! Meta's WhatsApp Cloud API webhook, `/webhooks/whatsapp/{tenant_id}`:
//! GET is the subscription handshake, POST a signed notification. The
//! signature check, storing and handing over live in
//! `services::cloud_webhook`; here is only HTTP.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{AppError, ErrorCode};
use crate::services::cloud_webhook::{self, Handshake};
use crate::state::AppState;

/// Meta's notifications are a few KiB; media arrive as ids, not bytes.
const BODY_LIMIT: usize = 256 * 1024;
const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/whatsapp/{tenant_id}")
            .route(web::get().to(verify))
            .route(web::post().to(receive)),
    );
}

async fn verify(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<Handshake>,
) -> Result<HttpResponse, AppError> {
    let challenge =
        cloud_webhook::verify(&state.db, &state.master_key, &path, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(challenge))
}

async fn receive(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    // Who it is for first: an unknown path costs no body.
    let webhook = cloud_webhook::webhook(&state.db, &state.master_key, &path).await?;
    let body = payload
        .to_bytes_limited(BODY_LIMIT)
        .await
        .map_err(|_| {
            AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("A notification may have at most {BODY_LIMIT} bytes."),
            )
        })?
        .map_err(|err| {
            AppError::new(
                ErrorCode::BadRequest,
                format!("Could not read the body: {err}"),
            )
        })?;
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    cloud_webhook::receive(state.bots.as_ref(), webhook, signature, &body).await?;
    Ok(HttpResponse::Ok().finish())
}
