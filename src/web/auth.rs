//! Who is calling: extractors for the admin console (cookie session) and the
//! admin API (HTTP Basic or a bearer token), and the CSRF-checked form.
//!
//! Handlers ask for what they need in their signature — `AdminSession`,
//! `ApiAdmin`, `AdminReader` / `AdminWriter` (the API, or a console
//! page's script on the session cookie), `PortalSession` (owner or
//! staff), `OwnerSession` (owner only), `CsrfForm<T>` — and cannot forget
//! a check: without a valid session the extractor fails (401; pages turn
//! that into a redirect to the sign-in page), without the right CSRF token
//! a form fails with 403.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entity::enums::{SessionKind, UserRole};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, ErrorCode};
use crate::limits::LoginKey;
use crate::services::admins::{self, Admin};
use crate::services::audit::Actor;
use crate::services::sessions::{self, Flash, Session};
use crate::services::users::{self, PortalUser};
use crate::state::AppState;

pub const ADMIN_COOKIE: &str = "flowhq_admin";
/// The tenant owner's session (portal and `/api/portal`).
pub const PORTAL_COOKIE: &str = "flowhq_portal";
/// The admin sign-in form's double-submit cookie.
pub const LOGIN_CSRF_COOKIE: &str = "flowhq_login_csrf";
/// A started Google sign-in's browser binding.
pub const OAUTH_COOKIE: &str = "flowhq_oauth";

/// A cookie's name as this install uses it. Under https the names carry
/// the prefixes browsers enforce: `__Host-` for the session cookies (only
/// set Secure, for Path=/, without Domain, so neither a plain-http page nor
/// a sibling subdomain can plant or shadow a session), `__Secure-` for the
/// path-scoped sign-in cookies.
pub fn cookie_name(state: &AppState, name: &'static str) -> &'static str {
    if !state.settings.serves_https() {
        return name;
    }
    match name {
        ADMIN_COOKIE => "__Host-flowhq_admin",
        PORTAL_COOKIE => "__Host-flowhq_portal",
        LOGIN_CSRF_COOKIE => "__Secure-flowhq_login_csrf",
        OAUTH_COOKIE => "__Secure-flowhq_oauth",
        other => other,
    }
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState is not registered")))
}

/// The client address used for throttling and the audit log: the TCP
/// peer, or behind `server.trusted_proxies` the client they name
/// (`domain::client_address`).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Some(peer);
    };
    let values = |name| {
        req.headers()
            .get_all(name)
            .filter_map(|value| value.to_str().ok())
    };
    Some(crate::domain::client_address::resolve(
        peer,
        values(actix_web::http::header::X_FORWARDED_FOR),
        values(actix_web::http::header::FORWARDED),
        &state.settings.server.trusted_proxies,
    ))
}

/// A session cookie as the browser should keep it.
pub fn session_cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(cookie_name(state, name), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.serves_https())
        .finish()
}

/// The same cookie, expired: the browser drops it.
pub fn removal_cookie(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut cookie = session_cookie(state, name, String::new());
    cookie.set_max_age(time::Duration::ZERO);
    cookie
}

/// A signed-in admin in the browser. The session is also left in the
/// request's extensions, where `CsrfForm` finds it.
#[derive(Clone)]
pub struct AdminSession {
    pub admin: Admin,
    pub session: Session,
}

impl AdminSession {
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.admin.username.clone())
    }

    /// Leaves a message for the next page.
    pub async fn flash(&self, state: &AppState, flash: Flash) -> Result<(), AppError> {
        sessions::set_flash(&state.db, &self.session.id, flash).await
    }
}

impl FromRequest for AdminSession {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(load_admin(req.clone(), sessions::Access::Interactive))
    }
}

/// A signed-in admin's page polling in the background (the tenant page's
/// live view): the session is checked but not refreshed, its flash untouched.
pub struct AdminPoll(pub AdminSession);

impl FromRequest for AdminPoll {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            load_admin(req, sessions::Access::Background)
                .await
                .map(AdminPoll)
        })
    }
}

async fn load_admin(req: HttpRequest, access: sessions::Access) -> Result<AdminSession, AppError> {
    if let Some(found) = req.extensions().get::<AdminSession>() {
        return Ok(found.clone());
    }
    let state = state(&req)?;
    let idle = state.settings.admin.session_idle_timeout;
    let session = live_session(&req, &state, SessionKind::Admin, idle, access).await?;
    let sessions::Subject::Admin(admin_id) = session.subject else {
        return Err(signed_out());
    };
    let admin = admins::find(&state.db, admin_id)
        .await?
        .ok_or_else(signed_out)?;
    let found = AdminSession { admin, session };
    req.extensions_mut().insert(found.clone());
    req.extensions_mut().insert(found.session.clone());
    Ok(found)
}

fn signed_out() -> AppError {
    AppError::unauthorized("Please sign in.")
}

/// The live session of `kind` behind this request's cookie, or 401.
async fn live_session(
    req: &HttpRequest,
    state: &AppState,
    kind: SessionKind,
    idle: std::time::Duration,
    access: sessions::Access,
) -> Result<Session, AppError> {
    let name = match kind {
        SessionKind::Admin => ADMIN_COOKIE,
        SessionKind::Portal => PORTAL_COOKIE,
    };
    let cookie = req
        .cookie(cookie_name(state, name))
        .ok_or_else(signed_out)?;
    sessions::load(&state.db, kind, cookie.value(), idle, access)
        .await?
        .ok_or_else(signed_out)
}

/// A signed-in portal user, OWNER or STAFF (the inbox; owner-only routes
/// take `OwnerSession`). The tenant is `user.tenant_id`, from the session:
/// never from the request.
#[derive(Clone)]
pub struct PortalSession {
    pub user: PortalUser,
    pub session: Session,
}

impl PortalSession {
    pub fn actor(&self) -> Actor {
        self.user.actor()
    }

    pub fn tenant_id(&self) -> crate::domain::ids::TenantId {
        self.user.tenant_id
    }

    /// Leaves a message for the next page.
    pub async fn flash(&self, state: &AppState, flash: Flash) -> Result<(), AppError> {
        sessions::set_flash(&state.db, &self.session.id, flash).await
    }
}

impl FromRequest for PortalSession {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(load_portal(req.clone(), sessions::Access::Interactive))
    }
}

/// A portal page polling in the background (live status and QR): checked,
/// not refreshed, flash untouched.
pub struct PortalPoll(pub PortalSession);

impl FromRequest for PortalPoll {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            load_portal(req, sessions::Access::Background)
                .await
                .map(PortalPoll)
        })
    }
}

async fn load_portal(
    req: HttpRequest,
    access: sessions::Access,
) -> Result<PortalSession, AppError> {
    if let Some(found) = req.extensions().get::<PortalSession>() {
        return Ok(found.clone());
    }
    let state = state(&req)?;
    let idle = state.settings.portal.session_idle_timeout;
    let session = live_session(&req, &state, SessionKind::Portal, idle, access).await?;
    let sessions::Subject::User(user_id) = session.subject else {
        return Err(signed_out());
    };
    let user = users::find(&state.db, user_id)
        .await?
        .ok_or_else(signed_out)?;
    let found = PortalSession { user, session };
    req.extensions_mut().insert(found.clone());
    req.extensions_mut().insert(found.session.clone());
    Ok(found)
}

/// A signed-in OWNER. Every portal page and `/api/portal` route other than
/// the inbox takes this instead of `PortalSession`, so a handler cannot
/// forget the check: STAFF get 403 `forbidden` (a page, or the JSON body).
/// Derefs to the `PortalSession` it wraps.
pub struct OwnerSession(pub PortalSession);

impl std::ops::Deref for OwnerSession {
    type Target = PortalSession;

    fn deref(&self) -> &PortalSession {
        &self.0
    }
}

fn owner_only(session: PortalSession) -> Result<PortalSession, AppError> {
    if session.user.role == UserRole::Owner {
        Ok(session)
    } else {
        Err(AppError::new(
            ErrorCode::Forbidden,
            "Only the business's owner can open this. Your account can use the inbox.",
        ))
    }
}

impl FromRequest for OwnerSession {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = load_portal(req, sessions::Access::Interactive).await?;
            owner_only(session).map(OwnerSession)
        })
    }
}

/// `PortalPoll` for the owner's pages (live status and QR).
pub struct OwnerPoll(pub PortalSession);

impl FromRequest for OwnerPoll {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = load_portal(req, sessions::Access::Background).await?;
            owner_only(session).map(OwnerPoll)
        })
    }
}

/// A JSON write to `/api/portal` from our own pages, not another site: the
/// body must be `application/json` (a cross-site form cannot send that
/// without a CORS preflight, which we never grant) and an `Origin`, when the
/// browser sends one, must be ours.
pub fn check_json_write(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(AppError::new(
            ErrorCode::CsrfRejected,
            "Send the request as application/json.",
        ));
    }
    if cross_site_write(req, state) {
        return Err(AppError::new(
            ErrorCode::CsrfRejected,
            "Cross-site requests are refused.",
        ));
    }
    Ok(())
}

/// An admin calling `/api/admin` with `Authorization: Bearer fhq_…` (an API
/// token) or `Authorization: Basic …` (username and password; failures are
/// throttled like sign-ins).
pub struct ApiAdmin(pub Admin);

impl ApiAdmin {
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.0.username.clone())
    }
}

fn api_unauthorized(message: &'static str) -> AppError {
    AppError::unauthorized(message).with_header(
        header::WWW_AUTHENTICATE,
        r#"Basic realm="Flow HQ admin API", charset="UTF-8""#,
    )
}

impl FromRequest for ApiAdmin {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| {
                    api_unauthorized("Authenticate with an API token (Bearer) or HTTP Basic.")
                })?;
            let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
            let credentials = credentials.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                return admins::authenticate_token(&state.db, credentials)
                    .await?
                    .map(ApiAdmin)
                    .ok_or_else(|| api_unauthorized("The API token is unknown or revoked."));
            }
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(api_unauthorized("Use Bearer or Basic authentication."));
            }
            let decoded = STANDARD
                .decode(credentials)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| api_unauthorized("Malformed Basic credentials."))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| api_unauthorized("Malformed Basic credentials."))?;
            if cross_site_write(&req, &state) {
                return Err(AppError::new(
                    ErrorCode::Forbidden,
                    "Cross-site requests with Basic credentials are refused; use an API token.",
                ));
            }
            let keys = login_keys(&req, username);
            let pause = state
                .login_limiter
                .check(&keys)
                .map_err(AppError::rate_limited)?;
            tokio::time::sleep(pause).await;
            match admins::authenticate(&state.db, username, password).await? {
                Some(admin) => {
                    state.login_limiter.record_success(&keys);
                    Ok(ApiAdmin(admin))
                }
                None => {
                    // Locks from the next attempt on; this one is a 401.
                    let _ = state.login_limiter.record_failure(&keys);
                    Err(api_unauthorized("Wrong username or password."))
                }
            }
        })
    }
}

/// An admin reading `/api/admin` JSON: with `Authorization` (an API token
/// or Basic, as `ApiAdmin`), or from a console page with the admin's
/// session cookie (the inbox's script reads the conversations this way).
/// Only for GET routes: a cookie alone never authorises a write to
/// `/api/admin` (the console's writes are forms with a CSRF token, or,
/// on the routes that take `AdminWriter`, checked JSON).
pub struct AdminReader {
    pub username: String,
}

/// What a console page's script does with `/api/admin` on the session
/// cookie.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ConsoleUse {
    /// Polls in the background: the session is checked, not refreshed.
    Read,
    /// A person acting: checked JSON (`check_json_write`), and activity.
    Write,
}

/// The admin behind an `/api/admin` request: with `Authorization`, the
/// API's own answer (`ApiAdmin`, so a request with no credentials at all
/// gets its 401 with `WWW-Authenticate`); without it but with the admin's
/// session cookie, a console page's script, used as `usage` says.
fn api_or_console_admin(
    req: &HttpRequest,
    payload: &mut Payload,
    usage: ConsoleUse,
) -> LocalFuture<String> {
    let console = !req.headers().contains_key(header::AUTHORIZATION)
        && state(req).is_ok_and(|state| req.cookie(cookie_name(&state, ADMIN_COOKIE)).is_some());
    if !console {
        let api = ApiAdmin::from_request(req, payload);
        return Box::pin(async move { api.await.map(|ApiAdmin(admin)| admin.username) });
    }
    let (checked, access) = match usage {
        ConsoleUse::Read => (Ok(()), sessions::Access::Background),
        // Checked before the first await: with the extractor ahead of the
        // body among a handler's arguments, a refused write is this 403
        // whatever its body (not the body extractor's 400).
        ConsoleUse::Write => (
            state(req).and_then(|state| check_json_write(req, &state)),
            sessions::Access::Interactive,
        ),
    };
    let req = req.clone();
    Box::pin(async move {
        checked?;
        Ok(load_admin(req, access).await?.admin.username)
    })
}

impl FromRequest for AdminReader {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admin = api_or_console_admin(req, payload, ConsoleUse::Read);
        Box::pin(async move {
            Ok(AdminReader {
                username: admin.await?,
            })
        })
    }
}

/// An admin writing `/api/admin` JSON: with `Authorization` (as
/// `ApiAdmin`), or from a console page's script with the admin's session
/// cookie, where the write must pass `check_json_write` as the portal's do
/// (`application/json`, our own `Origin`): a cross-site form or a form
/// post with only the cookie is refused (403 `csrf_rejected`) before the
/// body is read. Only the routes a console script writes to take this (the
/// "Bot" page's `…/knowledge…` and `…/try`); the others keep `ApiAdmin`.
pub struct AdminWriter {
    pub username: String,
}

impl AdminWriter {
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.username.clone())
    }
}

impl FromRequest for AdminWriter {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admin = api_or_console_admin(req, payload, ConsoleUse::Write);
        Box::pin(async move {
            Ok(AdminWriter {
                username: admin.await?,
            })
        })
    }
}

/// A state-changing request a browser sent from another site. Browsers
/// cache Basic credentials and replay them cross-site; scripts (curl, CI)
/// send no Origin and are unaffected. Bearer tokens are never replayed.
fn cross_site_write(req: &HttpRequest, state: &AppState) -> bool {
    if matches!(
        *req.method(),
        actix_web::http::Method::GET
            | actix_web::http::Method::HEAD
            | actix_web::http::Method::OPTIONS
    ) {
        return false;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    header("origin").is_some_and(|origin| origin.trim_end_matches('/') != &*state.public_url)
}

/// The throttling keys of a sign-in attempt.
pub fn login_keys(req: &HttpRequest, username: &str) -> Vec<LoginKey> {
    let mut keys = vec![LoginKey::Username(username.trim().to_lowercase())];
    if let Some(ip) = client_ip(req) {
        keys.push(LoginKey::Ip(ip));
    }
    keys
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf_token: String,
}

/// A form whose fields a handler reads by name (or ignores).
pub type AnyForm = std::collections::HashMap<String, String>;

/// A urlencoded form whose `csrf_token` field matched the session's token.
/// Works with or without a session extractor among the handler's arguments.
pub struct CsrfForm<T>(pub T);

pub fn csrf_rejected() -> AppError {
    AppError::new(
        ErrorCode::CsrfRejected,
        "This form has expired or did not come from Flow HQ. Go back, reload the page and try again.",
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|err| {
                AppError::new(ErrorCode::BadRequest, "The form could not be read.")
                    .with_source(anyhow::anyhow!("{err}"))
            })?;
            let found = req.extensions().get::<Session>().cloned();
            // actix polls a handler's extractors together, so the session
            // extractor may not have finished yet: look the session up here
            // too (the portal's for portal and sign-out paths).
            let portal = req.path().starts_with("/portal") || req.path().starts_with("/auth");
            let session = match found {
                Some(session) => Some(session),
                None if portal => PortalSession::extract(&req)
                    .await
                    .ok()
                    .map(|found| found.session),
                None => AdminSession::extract(&req)
                    .await
                    .ok()
                    .map(|found| found.session),
            };
            let submitted: CsrfField =
                serde_urlencoded::from_bytes(&body).map_err(|_| csrf_rejected())?;
            match session {
                Some(session) if session.csrf_matches(&submitted.csrf_token) => {}
                _ => return Err(csrf_rejected()),
            }
            serde_urlencoded::from_bytes(&body)
                .map(CsrfForm)
                .map_err(|err| {
                    AppError::new(
                        ErrorCode::BadRequest,
                        format!("The form is malformed: {err}"),
                    )
                })
        })
    }
}

/// A tenant system calling `/api/v1` with `Authorization: Bearer
/// fhq_live_…`, holding scope `S`. The key is its tenant: handlers take the
/// tenant from here and nowhere else. A missing, unknown, revoked or
/// expired key is a 401 with its own code (`api_key_missing`,
/// `api_key_invalid`, `api_key_revoked`, `api_key_expired`); a key without
/// `S` is a 403 `insufficient_scope` naming it.
pub struct ApiKey<S> {
    pub key: std::sync::Arc<crate::services::api_keys::VerifiedKey>,
    scope: std::marker::PhantomData<S>,
}

impl<S> ApiKey<S> {
    pub fn tenant(&self) -> crate::domain::ids::TenantId {
        self.key.tenant
    }
}

/// The scope a route needs, as a type (`ApiKey<scope::MessagesSend>`), so
/// a handler cannot forget to ask for one.
pub trait RequiredScope {
    const SCOPE: crate::domain::api_scope::Scope;
}

/// One marker type per scope.
pub mod scope {
    use super::RequiredScope;
    use crate::domain::api_scope::Scope;

    macro_rules! scopes {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*};
    }
    scopes!(
        MessagesSend,
        ConversationsRead,
        ConversationsWrite,
        KnowledgeRead,
        KnowledgeWrite,
        UsageRead,
        WebhooksRead,
        WebhooksWrite
    );
}

fn api_key_refused(code: ErrorCode, message: &'static str) -> AppError {
    AppError::new(code, message)
        .with_header(header::WWW_AUTHENTICATE, r#"Bearer realm="Flow HQ API""#)
}

impl<S: RequiredScope + 'static> FromRequest for ApiKey<S> {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        use crate::services::api_keys::{self, Refusal};
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| {
                    let (scheme, token) = value.split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                })
                .ok_or_else(|| {
                    api_key_refused(
                        ErrorCode::ApiKeyMissing,
                        "Send your API key as `Authorization: Bearer fhq_live_…`.",
                    )
                })?;
            let key = match api_keys::verify(&state.db, &state.api_keys, presented).await? {
                Ok(key) => key,
                Err(Refusal::Invalid) => {
                    return Err(api_key_refused(
                        ErrorCode::ApiKeyInvalid,
                        "This API key is not valid.",
                    ));
                }
                Err(Refusal::Revoked) => {
                    return Err(api_key_refused(
                        ErrorCode::ApiKeyRevoked,
                        "This API key was revoked.",
                    ));
                }
                Err(Refusal::Expired) => {
                    return Err(api_key_refused(
                        ErrorCode::ApiKeyExpired,
                        "This API key has expired.",
                    ));
                }
            };
            if let Err(wait) = state.api_keys.count_request(&key) {
                return Err(AppError::rate_limited(wait));
            }
            if !key.allows(S::SCOPE) {
                return Err(AppError::new(
                    ErrorCode::InsufficientScope,
                    format!(
                        "This API key lacks the scope `{}`: create a key with it.",
                        S::SCOPE
                    ),
                ));
            }
            Ok(ApiKey {
                key,
                scope: std::marker::PhantomData,
            })
        })
    }
}
