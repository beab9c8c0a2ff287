//! Google sign-in over the `oauth2` crate: the authorization code flow with
//! PKCE (S256), then the profile from the OpenID userinfo endpoint.
//!
//! Built once into `AppState` when `[google]` is configured. Every endpoint
//! comes from the configuration, so tests and local trials point it at a
//! fake provider (`crate::fake_google`) through this same code.

use std::error::Error as _;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpClientError, HttpRequest, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;
use url::Url;

use crate::config::GoogleSettings;
use crate::error::causes;
use crate::services::users::GoogleProfile;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// How long a call to the provider may take before sign-in fails.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

pub struct GoogleClient {
    client: Client,
    userinfo_url: Url,
    http: reqwest::Client,
}

/// Where to send the browser, and what to remember until it comes back.
pub struct AuthorizationStart {
    pub url: Url,
    pub state: String,
    pub pkce_verifier: String,
}

/// Which of the provider's endpoints a sign-in failed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Userinfo,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Token => "the token endpoint",
            Self::Userinfo => "the userinfo endpoint",
        })
    }
}

/// Why a sign-in failed, in three kinds the owner is told apart, each
/// with its `cause` for the log: the HTTP status and the provider's error
/// code, or what went wrong on the way ("connection refused", a timeout).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider answered and refused this sign-in: an OAuth error at the
    /// token endpoint (the code expired or was used, a wrong verifier…), or
    /// userinfo not accepting the token (401, 403).
    #[error("{endpoint} refused the sign-in: {cause}")]
    Refused { endpoint: Endpoint, cause: String },
    /// The provider answered but failed: a 5xx or its `server_error`, an
    /// answer that cannot be read.
    #[error("{endpoint} failed: {cause}")]
    Failed { endpoint: Endpoint, cause: String },
    /// The provider could not be reached: connection refused, no such
    /// host, no answer in time.
    #[error("{endpoint} could not be reached: {cause}")]
    Unreachable { endpoint: Endpoint, cause: String },
}

type TokenError = RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>;

/// The token exchange's failure. `status`: the HTTP status of the answer,
/// if there was one (the oauth2 crate reads the error body, not the status).
fn token_error(err: TokenError, status: Option<StatusCode>) -> SignInError {
    let endpoint = Endpoint::Token;
    let http = |detail: String| match status {
        Some(status) => format!("HTTP {status}, {detail}"),
        None => detail,
    };
    match err {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref().to_owned();
            let cause = http(provider_error(&code, response.error_description()));
            // The provider's own trouble (RFC 6749 §5.2 extensions Google
            // uses), not a refusal of this sign-in.
            if matches!(code.as_str(), "server_error" | "temporarily_unavailable") {
                SignInError::Failed { endpoint, cause }
            } else {
                SignInError::Refused { endpoint, cause }
            }
        }
        RequestTokenError::Request(HttpClientError::Reqwest(err)) => {
            transport_error(endpoint, &err)
        }
        RequestTokenError::Request(err) => SignInError::Failed {
            endpoint,
            cause: causes(&err),
        },
        RequestTokenError::Parse(err, _) => SignInError::Failed {
            endpoint,
            cause: http(format!("unreadable answer: {err}")),
        },
        RequestTokenError::Other(text) => SignInError::Failed {
            endpoint,
            cause: http(text),
        },
    }
}

/// "error invalid_grant: the code has expired".
fn provider_error(code: &str, description: Option<&String>) -> String {
    match description {
        Some(description) => format!("error {code}: {description}"),
        None => format!("error {code}"),
    }
}

/// The provider's error code in an error answer's JSON body: OAuth's
/// `{"error": "invalid_token", "error_description": …}` or Google APIs'
/// `{"error": {"status": "UNAUTHENTICATED", "message": …}}`.
fn provider_error_in(body: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = body.get("error")?;
    let text =
        |value: Option<&serde_json::Value>| value.and_then(|v| v.as_str()).map(str::to_owned);
    match error {
        serde_json::Value::String(code) => Some(provider_error(
            code,
            text(body.get("error_description")).as_ref(),
        )),
        serde_json::Value::Object(_) => {
            let code =
                text(error.get("status")).or_else(|| error.get("code").map(|c| c.to_string()))?;
            Some(provider_error(&code, text(error.get("message")).as_ref()))
        }
        _ => None,
    }
}

/// A request that got no (complete) answer: what went wrong on the way.
/// The URL stays out (it names only the configured endpoint).
fn transport_error(endpoint: Endpoint, err: &reqwest::Error) -> SignInError {
    let refused = std::iter::successors(err.source(), |&err| err.source()).any(|err| {
        err.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    let cause = if err.is_timeout() {
        format!("no answer within {} s", PROVIDER_TIMEOUT.as_secs())
    } else if refused {
        "connection refused".to_owned()
    } else if err.is_connect() {
        format!("cannot connect: {}", causes(err))
    } else if err.is_body() || err.is_decode() {
        return SignInError::Failed {
            endpoint,
            cause: format!("the answer broke off: {}", causes(err)),
        };
    } else {
        causes(err)
    };
    SignInError::Unreachable { endpoint, cause }
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    /// A boolean per OpenID Connect; some providers send the string "true".
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
}

impl GoogleClient {
    /// `None` when Google sign-in is not configured (no client id).
    pub fn from_settings(
        settings: &GoogleSettings,
        public_url: &str,
    ) -> anyhow::Result<Option<Self>> {
        if !settings.is_configured() {
            return Ok(None);
        }
        let redirect = match &settings.redirect_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("{public_url}/auth/google/callback"))?,
        };
        let mut client = BasicClient::new(ClientId::new(settings.client_id.trim().to_owned()))
            .set_auth_uri(AuthUrl::from_url(settings.auth_url.clone()))
            .set_token_uri(TokenUrl::from_url(settings.token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(redirect));
        if let Some(secret) = &settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        let http = reqwest::Client::builder()
            // Following redirects would open the token exchange to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(Some(Self {
            client,
            userinfo_url: settings.userinfo_url.clone(),
            http,
        }))
    }

    /// A fresh authorization URL with a random state and PKCE challenge.
    pub fn start(&self) -> AuthorizationStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".to_owned()))
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        AuthorizationStart {
            url,
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Exchanges the callback's code (with the PKCE verifier) for an access
    /// token and reads the profile with it.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: String,
    ) -> Result<GoogleProfile, SignInError> {
        // The oauth2 crate's reqwest client, but keeping the answer's status
        // for the log (an atomic: the closure must be `Fn`, and its future
        // stays `Send` like the crate's own).
        let status = AtomicU16::new(0);
        let http = |request: HttpRequest| {
            let status = &status;
            async move {
                let response = self
                    .http
                    .execute(request.try_into().map_err(Box::new)?)
                    .await
                    .map_err(Box::new)?;
                status.store(response.status().as_u16(), Ordering::Relaxed);
                let mut answer = oauth2::http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    answer = answer.header(name, value);
                }
                let body = response.bytes().await.map_err(Box::new)?.to_vec();
                answer.body(body).map_err(HttpClientError::Http)
            }
        };
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&http)
            .await
            .map_err(|err| {
                token_error(
                    err,
                    StatusCode::from_u16(status.load(Ordering::Relaxed)).ok(),
                )
            })?;
        let endpoint = Endpoint::Userinfo;
        let response = self
            .http
            .get(self.userinfo_url.clone())
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .map_err(|err| transport_error(endpoint, &err))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            let cause = match provider_error_in(&body) {
                Some(error) => format!("HTTP {status}, {error}"),
                None => format!("HTTP {status}"),
            };
            // Reached, and the token not accepted: a refusal, not an outage.
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    SignInError::Refused { endpoint, cause }
                }
                _ => SignInError::Failed { endpoint, cause },
            });
        }
        let info: UserInfo = response.json().await.map_err(|err| SignInError::Failed {
            endpoint,
            cause: format!("HTTP {status}, unreadable answer: {}", causes(&err)),
        })?;
        let email_verified = match info.email_verified {
            Some(serde_json::Value::Bool(verified)) => verified,
            Some(serde_json::Value::String(text)) => text.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Ok(GoogleProfile {
            subject: info.sub,
            email: info.email.unwrap_or_default(),
            email_verified,
            name: info.name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_provider_that_never_answers_is_a_timeout_not_a_client_error() {
        // Listening but never accepting: the request goes out, no answer comes.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/userinfo", silent.local_addr().unwrap());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let err = http.get(url).send().await.unwrap_err();

        let err = transport_error(Endpoint::Userinfo, &err);
        assert!(matches!(err, SignInError::Unreachable { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "the userinfo endpoint could not be reached: no answer within {} s",
                PROVIDER_TIMEOUT.as_secs()
            )
        );
    }

    #[test]
    fn the_providers_error_code_is_read_from_oauth_and_google_api_bodies() {
        let oauth = br#"{"error": "invalid_token", "error_description": "Invalid Credentials"}"#;
        assert_eq!(
            provider_error_in(oauth).as_deref(),
            Some("error invalid_token: Invalid Credentials")
        );
        let google = br#"{"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}"#;
        assert_eq!(
            provider_error_in(google).as_deref(),
            Some("error UNAUTHENTICATED: Request had invalid authentication credentials.")
        );
        assert_eq!(provider_error_in(b"<html>Bad Gateway</html>"), None);
    }
}
