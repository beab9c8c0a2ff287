//! A fake Google: a tiny OpenID Connect provider for the integration tests
//! and for trying the portal locally (`flowhq fake-google`). It is NOT an
//! identity provider: anyone can sign in as anyone by typing an email.
//!
//! It speaks just enough of the authorization code flow for Flow HQ's real
//! sign-in code (`crate::oauth`) to run against it unchanged:
//! - `GET /authorize` shows a form (email, name, "email verified"); posting
//!   it issues a one-time code bound to the client, the redirect URI, the
//!   PKCE challenge (S256 only) and the identity typed in;
//! - `POST /token` checks the client (HTTP Basic or form fields), the code
//!   (unused, unexpired, same client and redirect URI) and the PKCE verifier,
//!   then answers a bearer token;
//! - `GET /userinfo` answers `{sub, email, email_verified, name}` for it.
//!
//! Tests can make the token endpoint fail (`fail_token_endpoint`) and
//! userinfo refuse tokens (`fail_userinfo`); `stop` makes it refuse
//! connections.
//!
//! State lives in memory behind a `Mutex` inside the handle (no statics), so
//! every test runs its own provider. The subject is derived from the email:
//! signing in twice with one email is the same Google account.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use crate::crypto;

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// How long an access token is good for.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Refusals kept for tests to inspect (the oldest are dropped).
const MAX_REFUSALS: usize = 100;

/// The one client the fake knows.
#[derive(Debug, Clone)]
pub struct FakeGoogleConfig {
    pub client_id: String,
    pub client_secret: String,
}

/// A running fake provider. Dropping it stops the server too; `stop`
/// also waits until it has stopped.
pub struct FakeGoogle {
    address: SocketAddr,
    auth_url: Url,
    token_url: Url,
    userinfo_url: Url,
    shared: Arc<Shared>,
    server: actix_web::dev::ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The Google subject the fake gives an email: the same every time.
pub fn subject_for(email: &str) -> String {
    let hex = crypto::sha256_hex(&email.trim().to_lowercase());
    format!("fake-{}", &hex[..24])
}

/// BASE64URL(SHA256(verifier)), the S256 code challenge (RFC 7636).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl FakeGoogle {
    /// Binds `address` (port 0 picks a free one) and serves on the current
    /// Tokio runtime until stopped or dropped.
    pub async fn start(address: SocketAddr, config: FakeGoogleConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address)?;
        let address = listener.local_addr()?;
        let url = |path: &str| {
            Url::parse(&format!("http://{address}{path}")).map_err(std::io::Error::other)
        };
        let (auth_url, token_url, userinfo_url) =
            (url("/authorize")?, url("/token")?, url("/userinfo")?);
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State::default()),
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/authorize", web::get().to(authorize_page))
                .route("/authorize", web::post().to(authorize_submit))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        Ok(Self {
            address,
            auth_url,
            token_url,
            userinfo_url,
            shared,
            server: handle,
            task: Some(tokio::spawn(server)),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn auth_url(&self) -> Url {
        self.auth_url.clone()
    }

    pub fn token_url(&self) -> Url {
        self.token_url.clone()
    }

    pub fn userinfo_url(&self) -> Url {
        self.userinfo_url.clone()
    }

    pub fn client_id(&self) -> &str {
        &self.shared.config.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.config.client_secret
    }

    /// The `FLOWHQ__GOOGLE__*` variables that point Flow HQ at this provider.
    pub fn env_lines(&self) -> Vec<String> {
        vec![
            format!("FLOWHQ__GOOGLE__AUTH_URL={}", self.auth_url),
            format!("FLOWHQ__GOOGLE__TOKEN_URL={}", self.token_url),
            format!("FLOWHQ__GOOGLE__USERINFO_URL={}", self.userinfo_url),
            format!("FLOWHQ__GOOGLE__CLIENT_ID={}", self.client_id()),
            format!("FLOWHQ__GOOGLE__CLIENT_SECRET={}", self.client_secret()),
        ]
    }

    /// From now on the token endpoint answers every request with this HTTP
    /// status and an OAuth error body (`server_error`); `None` heals it.
    pub fn fail_token_endpoint(&self, status: Option<u16>) {
        self.shared.lock().fail_token = status;
    }

    /// From now on the userinfo endpoint answers every request with this
    /// HTTP status and an OAuth error body (`invalid_token`), as Google does
    /// for a token it does not accept; `None` heals it.
    pub fn fail_userinfo(&self, status: Option<u16>) {
        self.shared.lock().fail_userinfo = status;
    }

    /// Why the token endpoint refused requests so far (`error_description`s,
    /// oldest first), e.g. a PKCE verifier that does not match.
    pub fn token_refusals(&self) -> Vec<String> {
        self.shared.lock().refusals.clone()
    }

    /// How many access tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.lock().issued
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.server.stop(false).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        // The command is sent right away; awaiting it is optional.
        drop(self.server.stop(false));
    }
}

struct Shared {
    config: FakeGoogleConfig,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Handlers never panic while holding it; if one did, the maps are
        // still consistent (every change is a single insert or remove).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct State {
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, (Identity, Instant)>,
    fail_token: Option<u16>,
    fail_userinfo: Option<u16>,
    refusals: Vec<String>,
    issued: usize,
}

impl State {
    fn refuse(&mut self, reason: &str) {
        if self.refusals.len() == MAX_REFUSALS {
            self.refusals.remove(0);
        }
        self.refusals.push(reason.to_owned());
    }
}

#[derive(Clone)]
struct Identity {
    email: String,
    name: String,
    email_verified: bool,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    identity: Identity,
    issued_at: Instant,
}

/// The authorization request, as a query (GET) or hidden fields (POST).
#[derive(Deserialize)]
struct AuthorizeParams {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    #[serde(default)]
    scope: String,
}

impl AuthorizeParams {
    /// The redirect URI when the request is acceptable, else why not.
    fn check(&self, config: &FakeGoogleConfig) -> Result<Url, &'static str> {
        if self.client_id != config.client_id {
            return Err("unknown client_id");
        }
        let redirect = Url::parse(&self.redirect_uri)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or("redirect_uri must be an absolute http(s) URL")?;
        if self.response_type != "code" {
            return Err("response_type must be code");
        }
        if self.code_challenge.is_empty() {
            return Err("code_challenge is required (PKCE)");
        }
        if self.code_challenge_method != "S256" {
            return Err("code_challenge_method must be S256");
        }
        if !self.scope.split(' ').any(|scope| scope == "openid") {
            return Err("scope must include openid");
        }
        Ok(redirect)
    }
}

fn shell(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Fake Google" }
                style { "body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}\
                         label{display:block;margin:.8rem 0}input[type=text],input[type=email]{width:100%;padding:.4rem}\
                         .warn{background:#fff3cd;padding:.6rem;border-radius:4px}" }
            }
            body {
                p.warn { "Fake Google for tests and local trials: anyone can sign in as anyone." }
                (content)
            }
        }
    }
}

fn bad_request(reason: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(
            shell(
                "Invalid request",
                html! { h1 { "Invalid authorization request" } p { (reason) } },
            )
            .into_string(),
        )
}

async fn authorize_page(
    shared: web::Data<Shared>,
    params: web::Query<AuthorizeParams>,
) -> HttpResponse {
    if let Err(reason) = params.check(&shared.config) {
        return bad_request(reason);
    }
    let hidden = [
        ("response_type", &params.response_type),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("state", &params.state),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("scope", &params.scope),
    ];
    let page = shell(
        "Sign in",
        html! {
            h1 { "Sign in with Fake Google" }
            form method="post" action="/authorize" {
                @for (name, value) in hidden {
                    input type="hidden" name=(name) value=(value);
                }
                label { "Email " input type="email" name="email" required; }
                label { "Name " input type="text" name="name"; }
                label { input type="checkbox" name="email_verified" value="on" checked; " Email verified" }
                button type="submit" { "Sign in" }
                " "
                button type="submit" name="deny" value="1" formnovalidate { "Cancel" }
            }
        },
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.into_string())
}

#[derive(Deserialize)]
struct AuthorizeForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email_verified: Option<String>,
    #[serde(default)]
    deny: Option<String>,
}

async fn authorize_submit(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let Ok(form) = serde_urlencoded::from_bytes::<AuthorizeForm>(&body) else {
        return bad_request("the form could not be read");
    };
    let mut redirect = match form.params.check(&shared.config) {
        Ok(redirect) => redirect,
        Err(reason) => return bad_request(reason),
    };
    let email = form.email.trim().to_lowercase();
    {
        let mut query = redirect.query_pairs_mut();
        if form.deny.is_some() {
            query.append_pair("error", "access_denied");
        } else {
            if !email.contains('@') {
                return bad_request("enter an email address");
            }
            let code = crypto::random_token(24);
            let name = form.name.trim();
            let grant = Grant {
                client_id: form.params.client_id.clone(),
                redirect_uri: form.params.redirect_uri.clone(),
                code_challenge: form.params.code_challenge.clone(),
                scope: form.params.scope.clone(),
                identity: Identity {
                    name: if name.is_empty() {
                        email.clone()
                    } else {
                        name.to_owned()
                    },
                    email,
                    email_verified: form.email_verified.is_some(),
                },
                issued_at: Instant::now(),
            };
            let mut state = shared.lock();
            state
                .codes
                .retain(|_, grant| grant.issued_at.elapsed() < CODE_LIFETIME);
            state.codes.insert(code.clone(), grant);
            query.append_pair("code", &code);
        }
        if !form.params.state.is_empty() {
            query.append_pair("state", &form.params.state);
        }
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, redirect.to_string()))
        .finish()
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    code_verifier: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": error, "error_description": description }))
}

/// The client's credentials: HTTP Basic (each part form-urlencoded, RFC 6749
/// §2.3.1) or the `client_id`/`client_secret` form fields.
fn client_credentials(req: &HttpRequest, form: &TokenForm) -> Option<(String, String)> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if let Some(decoded) = basic {
        let (id, secret) = decoded.split_once(':')?;
        return Some((form_decode(id), form_decode(secret)));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

async fn token(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let failing = shared.lock().fail_token;
    if let Some(status) = failing {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return oauth_error(
            status,
            "server_error",
            "the fake provider was told to fail its token endpoint",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unreadable form",
        );
    };
    let config = &shared.config;
    let client_ok = client_credentials(&req, &form).is_some_and(|(id, secret)| {
        id == config.client_id
            && crypto::constant_time_eq(secret.as_bytes(), config.client_secret.as_bytes())
    });
    let mut state = shared.lock();
    if !client_ok {
        state.refuse("invalid client credentials");
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="fake-google""#))
            .json(json!({ "error": "invalid_client", "error_description": "unknown client or wrong secret" }));
    }
    if form.grant_type != "authorization_code" {
        state.refuse("unsupported grant_type");
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code is supported",
        );
    }
    // One-time: a code is gone after its first exchange, whatever the outcome.
    let Some(grant) = state.codes.remove(&form.code) else {
        return refuse_grant(&mut state, "unknown or already used code");
    };
    let reason = if grant.issued_at.elapsed() >= CODE_LIFETIME {
        Some("the code has expired")
    } else if grant.client_id != config.client_id {
        Some("the code was issued to another client")
    } else if grant.redirect_uri != form.redirect_uri {
        Some("redirect_uri does not match the authorization request")
    } else if form.code_verifier.is_empty() {
        Some("code_verifier is missing")
    } else if !crypto::constant_time_eq(
        s256_challenge(&form.code_verifier).as_bytes(),
        grant.code_challenge.as_bytes(),
    ) {
        Some("code_verifier does not match the code_challenge (S256)")
    } else {
        None
    };
    if let Some(reason) = reason {
        return refuse_grant(&mut state, reason);
    }
    let access_token = crypto::random_token(32);
    state
        .tokens
        .retain(|_, (_, expires)| *expires > Instant::now());
    state.tokens.insert(
        access_token.clone(),
        (grant.identity, Instant::now() + TOKEN_LIFETIME),
    );
    state.issued += 1;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME.as_secs(),
            "scope": grant.scope,
        }))
}

fn refuse_grant(state: &mut State, reason: &str) -> HttpResponse {
    state.refuse(reason);
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", reason)
}

async fn userinfo(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let failing = shared.lock().fail_userinfo;
    if let Some(status) = failing {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
        return HttpResponse::build(status)
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#))
            .json(json!({
                "error": "invalid_token",
                "error_description": "the fake provider was told to refuse userinfo",
            }));
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let identity = token.and_then(|token| {
        let state = shared.lock();
        state
            .tokens
            .get(&token)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(identity, _)| identity.clone())
    });
    match identity {
        Some(identity) => HttpResponse::Ok().json(json!({
            "sub": subject_for(&identity.email),
            "email": identity.email,
            "email_verified": identity.email_verified,
            "name": identity.name,
        })),
        None => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#))
            .json(json!({ "error": "invalid_token" })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_subject_is_stable_per_email_and_differs_between_emails() {
        assert_eq!(
            subject_for("Ann@Example.com"),
            subject_for("ann@example.com ")
        );
        assert_ne!(
            subject_for("ann@example.com"),
            subject_for("bob@example.com")
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c"), "a:b c");
        assert_eq!(form_decode("local-secret"), "local-secret");
    }
}
