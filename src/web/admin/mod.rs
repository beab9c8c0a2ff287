//! The admin console (maud pages under `/admin`). Every handler but the
//! sign-in page takes an `AdminSession`; every POST takes a `CsrfForm`.
//!
//! Owns: the routes and the few things every console handler does the same
//! way (the page chrome, HTML responses, flash-then-redirect). Handlers
//! parse, call a service and render; they never touch `entity::*` models.

mod audit;
mod bots;
mod dashboard;
mod inbox;
mod knowledge;
mod login;
mod plans;
mod setup_requests;
mod tenants;
mod tokens;
mod transport;
mod webhooks;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use maud::Markup;

use crate::error::AppError;
use crate::services::sessions::Flash;
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::views::layout::{AdminChrome, Section};
use crate::web::auth::AdminSession;

/// One resource per path, so a wrong method is a 405, not a 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/login")
            .route(web::get().to(login::show))
            .route(web::post().to(login::submit)),
    )
    .service(web::resource("/admin/logout").post(login::logout))
    .service(web::resource("/admin").get(dashboard::show))
    .service(
        web::resource("/admin/tenants")
            .get(tenants::list)
            .post(tenants::create),
    )
    // Before `/admin/tenants/{id}`: resources match in registration order.
    .service(web::resource("/admin/tenants/new").get(tenants::new))
    .service(
        web::resource("/admin/tenants/{id}")
            .get(tenants::show)
            .post(tenants::update),
    )
    .service(web::resource("/admin/tenants/{id}/pause").post(tenants::pause))
    .service(web::resource("/admin/tenants/{id}/resume").post(tenants::resume))
    .service(web::resource("/admin/tenants/{id}/approve").post(bots::approve))
    .service(web::resource("/admin/tenants/{id}/bot/{action}").post(bots::command))
    .service(web::resource("/admin/tenants/{id}/live").get(bots::live))
    .service(web::resource("/admin/tenants/{id}/bot").get(knowledge::page))
    .service(web::resource("/admin/tenants/{id}/inbox").get(inbox::list))
    .service(web::resource("/admin/tenants/{id}/inbox/{cid}").get(inbox::thread))
    .service(web::resource("/admin/tenants/{id}/inbox/{cid}/reply").post(inbox::reply))
    .service(web::resource("/admin/tenants/{id}/inbox/{cid}/take-over").post(inbox::take_over))
    .service(web::resource("/admin/tenants/{id}/inbox/{cid}/hand-back").post(inbox::hand_back))
    .service(
        web::resource("/admin/tenants/{id}/webhooks")
            .get(webhooks::list)
            .post(webhooks::create),
    )
    .service(web::resource("/admin/tenants/{id}/webhooks/{wid}").get(webhooks::show))
    .service(web::resource("/admin/tenants/{id}/webhooks/{wid}/toggle").post(webhooks::toggle))
    .service(web::resource("/admin/tenants/{id}/webhooks/{wid}/rotate").post(webhooks::rotate))
    .service(web::resource("/admin/tenants/{id}/webhooks/{wid}/test").post(webhooks::test))
    .service(web::resource("/admin/tenants/{id}/webhooks/{wid}/delete").post(webhooks::delete))
    .service(
        web::resource("/admin/tenants/{id}/webhooks/{wid}/events/{event}/resend")
            .post(webhooks::resend),
    )
    .service(web::resource("/admin/tenants/{id}/sandbox/scan").post(bots::scan))
    .service(web::resource("/admin/tenants/{id}/sandbox/inbound").post(bots::inbound))
    .service(web::resource("/admin/tenants/{id}/transport").post(transport::set))
    .service(web::resource("/admin/tenants/{id}/pairing").post(transport::pairing))
    .service(web::resource("/admin/tenants/{id}/plan").post(plans::set_plan))
    .service(web::resource("/admin/tenants/{id}/ai-budget").post(plans::set_ai_budget))
    .service(
        web::resource("/admin/tenants/{id}/delete")
            .get(tenants::confirm_delete)
            .post(tenants::delete),
    )
    .service(web::resource("/admin/setup-requests").get(setup_requests::list))
    .service(web::resource("/admin/setup-requests/{id}/approve").post(setup_requests::approve))
    .service(web::resource("/admin/setup-requests/{id}/reject").post(setup_requests::reject))
    .service(
        web::resource("/admin/plans")
            .get(plans::list)
            .post(plans::create),
    )
    .service(web::resource("/admin/plans/{code}").post(plans::update))
    .service(web::resource("/admin/audit").get(audit::list))
    .service(
        web::resource("/admin/tokens")
            .get(tokens::list)
            .post(tokens::create),
    )
    .service(web::resource("/admin/tokens/{id}/revoke").post(tokens::revoke));
}

/// The page shell's view of the signed-in admin, with the flash message
/// this request took from the session.
fn chrome(session: &AdminSession, section: Section) -> AdminChrome<'_> {
    AdminChrome {
        username: &session.admin.username,
        csrf_token: &session.session.csrf_token,
        flash: session.session.flash.as_ref(),
        section,
    }
}

fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(header::ContentType::html())
        .body(markup.into_string())
}

/// Post/redirect/get: leave `flash` for the next page, then 303 to `to`.
async fn flash_redirect(
    state: &AppState,
    session: &AdminSession,
    flash: Flash,
    to: AdminUrl,
) -> Result<HttpResponse, AppError> {
    session.flash(state, flash).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish())
}
