//! Sign-in and sign-out of the admin console.
//!
//! The sign-in form has no session yet, so its CSRF token is a double-submit
//! cookie: the form's hidden field must equal the `flowhq_login_csrf` cookie.
//! Success rotates the session: any old session of this browser is ended
//! and a new id issued.

use actix_web::{FromRequest, HttpRequest, HttpResponse, http::header, web};
use serde::Deserialize;
use serde_json::json;

use crate::crypto;
use crate::error::AppError;
use crate::services::audit::{self, Actor};
use crate::services::{admins, sessions};
use crate::state::AppState;
use crate::urls::{AdminUrl, safe_admin_next};
use crate::views::admin::login::{LoginForm, page};
use crate::web::auth::{
    ADMIN_COOKIE, AdminSession, AnyForm, CsrfForm, LOGIN_CSRF_COOKIE, client_ip, cookie_name,
    login_keys, removal_cookie, session_cookie,
};

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    if AdminSession::extract(&req).await.is_ok() {
        return redirect(&safe_admin_next(query.next.as_deref()));
    }
    let notice = query.signed_out.as_ref().map(|_| "You are signed out.");
    render(
        &state,
        actix_web::http::StatusCode::OK,
        "",
        query.next.as_deref(),
        None,
        notice,
    )
}

fn render(
    state: &AppState,
    status: actix_web::http::StatusCode,
    username: &str,
    next: Option<&str>,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let csrf_token = crypto::random_token(24);
    let cookie = login_csrf_cookie(state, csrf_token.clone());
    HttpResponse::build(status)
        .cookie(cookie)
        .content_type(header::ContentType::html())
        .body(
            page(&LoginForm {
                csrf_token: &csrf_token,
                username,
                next,
                error,
                notice,
            })
            .into_string(),
        )
}

/// The sign-in form's double-submit cookie, scoped to the sign-in page.
fn login_csrf_cookie(state: &AppState, value: String) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(cookie_name(state, LOGIN_CSRF_COOKIE), value)
        .path(AdminUrl::Login.to_string())
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(state.settings.serves_https())
        .finish()
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[derive(Deserialize)]
pub struct LoginSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginSubmission>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let cookie_token = req
        .cookie(cookie_name(&state, LOGIN_CSRF_COOKIE))
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if cookie_token.is_empty()
        || !crypto::constant_time_eq(cookie_token.as_bytes(), form.csrf_token.as_bytes())
    {
        return Err(crate::web::auth::csrf_rejected());
    }
    let username = form.username.trim().to_owned();
    let next = form.next.as_deref();
    let keys = login_keys(&req, &username);
    let ip = client_ip(&req).map(|ip| ip.to_string());

    match state.login_limiter.check(&keys) {
        Err(wait) => return Ok(locked_out(&state, &username, next, wait)),
        Ok(pause) => tokio::time::sleep(pause).await,
    }
    let Some(admin) = admins::authenticate(&state.db, &username, &form.password).await? else {
        audit::record_alone(
            &state.db,
            &Actor::Admin(username.clone()),
            None,
            "admin.sign_in_failed",
            json!({ "username": username, "ip": ip }),
        )
        .await?;
        // The failure that uses up the allowance is still answered as a
        // wrong password; the lock shows from the next attempt on.
        let message = match state.login_limiter.record_failure(&keys) {
            Ok(()) => "Wrong username or password.".to_owned(),
            Err(wait) => format!(
                "Wrong username or password. Too many attempts: try again in {} s.",
                wait.as_secs().max(1)
            ),
        };
        return Ok(render(
            &state,
            actix_web::http::StatusCode::UNAUTHORIZED,
            &username,
            next,
            Some(&message),
            None,
        ));
    };

    state.login_limiter.record_success(&keys);
    // Rotation: whatever session this browser had ends here.
    if let Some(old) = req.cookie(cookie_name(&state, ADMIN_COOKIE)) {
        sessions::destroy(&state.db, old.value()).await?;
    }
    let (cookie, _) = sessions::create(
        &state.db,
        sessions::Subject::Admin(admin.id),
        state.settings.admin.session_absolute_timeout,
    )
    .await?;
    audit::record_alone(
        &state.db,
        &Actor::Admin(admin.username.clone()),
        None,
        "admin.signed_in",
        json!({ "ip": ip }),
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, safe_admin_next(next)))
        .cookie(session_cookie(&state, ADMIN_COOKIE, cookie))
        .cookie({
            // Removed with the same path it was set with, or it stays.
            let mut gone = login_csrf_cookie(&state, String::new());
            gone.make_removal();
            gone
        })
        .finish())
}

fn locked_out(
    state: &AppState,
    username: &str,
    next: Option<&str>,
    wait: std::time::Duration,
) -> HttpResponse {
    let secs = wait.as_secs().max(1);
    let mut response = render(
        state,
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        username,
        next,
        Some(&format!("Too many attempts. Try again in {secs} s.")),
        None,
    );
    if let Ok(value) = header::HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    _session: AdminSession,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(cookie) = req.cookie(cookie_name(&state, ADMIN_COOKIE)) {
        sessions::destroy(&state.db, cookie.value()).await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{}?signed_out=1", AdminUrl::Login),
        ))
        .cookie(removal_cookie(&state, ADMIN_COOKIE))
        .finish())
}
