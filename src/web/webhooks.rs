//! Meta's WhatsApp Cloud API webhook, `/webhooks/whatsapp/{tenant_id}`:
//! GET is the subscription handshake, POST a signed notification. The
//! signature check, storing and handing over live in
//! `services::cloud_webhook`; here is only HTTP.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;
use crate::services::cloud_webhook::{self, Handshake};
use crate::state::AppState;

/// Meta's notifications are a few KiB; media arrive as ids, not bytes.
const BODY_LIMIT: usize = 256 * 1024;
const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/whatsapp/{tenant_id}")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
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
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    cloud_webhook::receive(
        &state.db,
        &state.master_key,
        state.bots.as_ref(),
        &path,
        signature,
        &body,
    )
    .await?;
    Ok(HttpResponse::Ok().finish())
}
