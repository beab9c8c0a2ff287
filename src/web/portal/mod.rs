//! The tenant's portal: Google sign-in, the owner's self-service pages and
//! the inbox. Every handler takes the tenant from the session, never from
//! the request: a user can only ever reach their own tenant. STAFF may use
//! the inbox (`PortalSession`); every other page takes `OwnerSession`.
//!
//! Owns: the routes and what every portal handler does the same way (the
//! page chrome, HTML responses, flash-then-redirect).

mod api_keys;
mod inbox;
mod pages;
mod sign_in;
mod team;
mod transport;
mod webhooks;

pub use inbox::person;
pub(crate) use inbox::{refusal, refusal_text};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use entity::enums::UserRole;
use maud::Markup;

use crate::error::AppError;
use crate::services::sessions::Flash;
use crate::state::AppState;
use crate::urls::PortalUrl;
use crate::views::layout::{PortalChrome, PortalSection};
use crate::web::auth::PortalSession;

/// One resource per path, so a wrong method is a 405, not a 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/google/login").get(sign_in::login))
        .service(web::resource("/auth/google/callback").get(sign_in::callback))
        .service(web::resource("/auth/logout").post(sign_in::logout))
        .service(web::resource("/portal").get(pages::home))
        .service(
            web::resource("/portal/onboarding")
                .get(pages::onboarding)
                .post(pages::submit_onboarding),
        )
        .service(web::resource("/portal/status").get(pages::status))
        .service(web::resource("/portal/status/new-code").post(pages::new_link_code))
        .service(web::resource("/portal/status/sandbox-scan").post(pages::sandbox_scan))
        .service(web::resource("/portal/logs").get(pages::logs))
        .service(web::resource("/portal/inbox").get(inbox::list))
        .service(web::resource("/portal/inbox/{cid}").get(inbox::thread))
        .service(web::resource("/portal/inbox/{cid}/reply").post(inbox::reply))
        .service(web::resource("/portal/inbox/{cid}/take-over").post(inbox::take_over))
        .service(web::resource("/portal/inbox/{cid}/hand-back").post(inbox::hand_back))
        .service(
            web::resource("/portal/settings")
                .get(pages::settings)
                .post(pages::save_settings),
        )
        .service(web::resource("/portal/settings/transport").post(transport::set))
        .service(web::resource("/portal/settings/pairing").post(transport::pairing))
        .service(web::resource("/portal/bot").get(bot))
        .service(web::resource("/portal/team").get(team::show))
        .service(web::resource("/portal/team/invite").post(team::invite))
        .service(web::resource("/portal/team/members/{id}/remove").post(team::remove_member))
        .service(
            web::resource("/portal/team/invitations/{id}/revoke").post(team::revoke_invitation),
        )
        .service(web::resource("/portal/join/{token}").get(team::join))
        .service(
            web::resource("/portal/webhooks")
                .get(webhooks::list)
                .post(webhooks::create),
        )
        .service(web::resource("/portal/webhooks/{wid}").get(webhooks::show))
        .service(web::resource("/portal/webhooks/{wid}/toggle").post(webhooks::toggle))
        .service(web::resource("/portal/webhooks/{wid}/rotate").post(webhooks::rotate))
        .service(web::resource("/portal/webhooks/{wid}/test").post(webhooks::test))
        .service(web::resource("/portal/webhooks/{wid}/delete").post(webhooks::delete))
        .service(
            web::resource("/portal/webhooks/{wid}/events/{event}/resend").post(webhooks::resend),
        )
        .service(web::resource("/portal/api-keys").get(api_keys::show))
        .service(web::resource("/portal/api-keys/create").post(api_keys::create))
        .service(web::resource("/portal/api-keys/{id}/revoke").post(api_keys::revoke))
        .service(web::resource("/portal/usage").get(api_keys::usage));
}

/// The page shell's view of the signed-in owner, with the flash message
/// this request took from the session.
fn chrome(session: &PortalSession, section: PortalSection) -> PortalChrome<'_> {
    PortalChrome {
        email: &session.user.email,
        csrf_token: &session.session.csrf_token,
        flash: session.session.flash.as_ref(),
        section,
        owner: session.user.role == UserRole::Owner,
    }
}

fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(header::ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

fn redirect(to: PortalUrl) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// Post/redirect/get: leave `flash` for the next page, then 303 to `to`.
async fn flash_redirect(
    state: &AppState,
    session: &PortalSession,
    flash: Flash,
    to: PortalUrl,
) -> Result<HttpResponse, AppError> {
    session.flash(state, flash).await?;
    Ok(redirect(to))
}

/// `/portal/bot`: the frame `bot.js` fills from `/api/portal/knowledge`.
async fn bot(
    state: actix_web::web::Data<AppState>,
    session: crate::web::auth::OwnerSession,
) -> HttpResponse {
    html(
        StatusCode::OK,
        crate::views::portal::bot::page(&chrome(&session, PortalSection::Bot), state.ai.is_some()),
    )
}
