//! HTTP: routes and the middleware every request goes through. Handlers parse
//! the request, call a service and render; they never touch `entity::*`.

mod admin;
pub mod api;
pub mod auth;
pub mod body_deadline;
pub mod client_limit;
pub mod errors;
mod forms;
mod health;
mod home;
mod portal;
mod static_files;
mod webhook_forms;
mod webhooks;

use actix_web::web;

use crate::error::{AppError, ErrorCode};

/// Every route of the app. The paths are the contract of DESIGN.md.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(admin::routes)
        .configure(api::routes)
        .configure(portal::routes)
        .configure(webhooks::routes)
        .service(web::resource("/").get(home::index))
        .service(web::resource("/healthz").get(health::healthz))
        .service(web::resource("/readyz").get(health::readyz))
        .service(
            web::resource("/static/{file}")
                .route(web::get().to(static_files::serve))
                .route(web::head().to(static_files::serve)),
        )
        .default_service(web::to(not_found));
}

/// Whether errors on this path are answered in JSON (APIs, webhooks) rather than HTML.
pub fn wants_json(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path.starts_with("/webhooks/")
        || path == "/healthz"
        || path == "/readyz"
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::not_found(
        ErrorCode::NotFound,
        "There is nothing at this address.",
    ))
}
