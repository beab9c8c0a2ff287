//! Google sign-in for tenant owners: `/auth/google/login` starts it,
//! `/auth/google/callback` finishes it, `/auth/logout` ends the session.
//!
//! The one-time `state` and the PKCE verifier stay on the server
//! (`services::users::begin_login`); the browser only gets a random cookie
//! binding the sign-in to itself, so a callback link cannot be replayed or
//! finished in another browser (login CSRF). Success rotates the session.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{FromRequest, HttpRequest, HttpResponse, http::header, web};
use serde::Deserialize;

use crate::crypto;
use crate::error::{AppError, ErrorCode};
use crate::oauth::SignInError;
use crate::services::sessions::{self, Subject};
use crate::services::users;
use crate::state::AppState;
use crate::urls::safe_portal_next;
use crate::web::auth::{
    AnyForm, OAUTH_COOKIE, PORTAL_COOKIE, PortalSession, client_ip, cookie_name, csrf_rejected,
    removal_cookie, session_cookie,
};

/// The configured Google client, or the plain "not configured" page.
fn google(state: &AppState) -> Result<&crate::oauth::GoogleClient, AppError> {
    state.google.as_deref().ok_or_else(|| {
        AppError::new(
            ErrorCode::GoogleNotConfigured,
            "Google sign-in is not configured on this server yet.",
        )
    })
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let google = google(&state)?;
    if let Some(ip) = client_ip(&req) {
        state
            .sign_in_starts
            .check(&ip)
            .map_err(AppError::rate_limited)?;
    }
    let start = google.start();
    let browser = crypto::random_token(32);
    let next = safe_portal_next(query.next.as_deref());
    let lifetime = state.settings.google.login_timeout;
    users::begin_login(
        &state.db,
        &start.state,
        &browser,
        &start.pkce_verifier,
        Some(&next),
        lifetime,
    )
    .await?;
    let cookie = Cookie::build(cookie_name(&state, OAUTH_COOKIE), browser)
        .path("/auth/google")
        .http_only(true)
        // Lax: the provider's redirect back is a top-level GET, which carries it.
        .same_site(SameSite::Lax)
        .secure(state.settings.serves_https())
        .max_age(time::Duration::seconds(
            i64::try_from(lifetime.as_secs()).unwrap_or(600),
        ))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, start.url.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn failed(message: &'static str) -> AppError {
    AppError::new(ErrorCode::SignInFailed, message)
}

pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let google = google(&state)?;
    let Some(oauth_state) = query.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(failed(
            "This sign-in link is incomplete. Start again from the sign-in page.",
        ));
    };
    let browser = req.cookie(cookie_name(&state, OAUTH_COOKIE));
    let pending = users::take_login(
        &state.db,
        oauth_state,
        browser.as_ref().map(|cookie| cookie.value()),
    )
    .await?
    .ok_or_else(|| {
        failed("This sign-in has expired, was already used, or was started in another browser. Please sign in again.")
    })?;
    if let Some(error) = &query.error {
        tracing::info!(%error, "the provider ended the sign-in");
        return Err(failed(
            "Google did not sign you in (the request was cancelled or refused). You can try again.",
        ));
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(failed(
            "Google sent no authorization code. Please try again.",
        ));
    };
    let profile = google
        .finish(code, pending.pkce_verifier)
        .await
        .map_err(|err| match err {
            SignInError::Refused { .. } => {
                failed("Google refused the sign-in. Please try again.").with_source(err)
            }
            SignInError::Failed { .. } => AppError::new(
                ErrorCode::SignInUnavailable,
                "Google could not complete the sign-in just now. Please try again in a moment.",
            )
            .with_source(err),
            SignInError::Unreachable { .. } => AppError::new(
                ErrorCode::SignInUnavailable,
                "Google could not be reached to complete the sign-in. Please try again in a moment.",
            )
            .with_source(err),
        })?;
    let (user, created) = users::sign_in(&state.db, &profile, &state.settings.portal).await?;
    // Rotation: whatever session this browser had ends here.
    if let Some(old) = req.cookie(cookie_name(&state, PORTAL_COOKIE)) {
        sessions::destroy(&state.db, old.value()).await?;
    }
    let (cookie, _) = sessions::create(
        &state.db,
        Subject::User(user.id),
        state.settings.portal.session_absolute_timeout,
    )
    .await?;
    tracing::info!(user = %user.id, tenant = %user.tenant_id, created, "tenant owner signed in");
    let mut oauth_removal = removal_cookie(&state, OAUTH_COOKIE);
    oauth_removal.set_path("/auth/google");
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            safe_portal_next(pending.next_path.as_deref()),
        ))
        .cookie(session_cookie(&state, PORTAL_COOKIE, cookie))
        .cookie(oauth_removal)
        .finish())
}

/// Ends the portal session: a form post carrying the session's CSRF token.
/// Without a live session (expired, signed out in another tab) there is
/// nothing to protect: the cookie is cleared and the owner sent home.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<AnyForm>,
) -> Result<HttpResponse, AppError> {
    if let Ok(session) = PortalSession::extract(&req).await {
        let token = form.get("csrf_token").map_or("", String::as_str);
        if !session.session.csrf_matches(token) {
            return Err(csrf_rejected());
        }
        if let Some(cookie) = req.cookie(cookie_name(&state, PORTAL_COOKIE)) {
            sessions::destroy(&state.db, cookie.value()).await?;
        }
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/?signed_out=1"))
        .cookie(removal_cookie(&state, PORTAL_COOKIE))
        .finish())
}
