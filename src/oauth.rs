//! Google sign-in over the `oauth2` crate: the authorization code flow with
//! PKCE (S256), then the profile from the OpenID userinfo endpoint.
//!
//! Built once into `AppState` when `[google]` is configured. Every endpoint
//! comes from the configuration, so tests and local trials point it at a
//! fake provider (`crate::fake_google`) through this same code.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use url::Url;

use crate::config::GoogleSettings;
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

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider refused the code (expired, replayed, wrong verifier…).
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the provider could not be reached: {0}")]
    Unavailable(String),
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
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|err| match err {
                RequestTokenError::ServerResponse(response) => {
                    let code = response.error().as_ref().to_owned();
                    let reason = match response.error_description() {
                        Some(description) => format!("{code}: {description}"),
                        None => code.clone(),
                    };
                    // The provider's own trouble (RFC 6749 §5.2 extensions
                    // Google uses), not a refusal of this sign-in.
                    if matches!(code.as_str(), "server_error" | "temporarily_unavailable") {
                        SignInError::Unavailable(reason)
                    } else {
                        SignInError::Refused(reason)
                    }
                }
                RequestTokenError::Request(err) => SignInError::Unavailable(err.to_string()),
                RequestTokenError::Parse(err, _) => {
                    SignInError::Unavailable(format!("unreadable token response: {err}"))
                }
                RequestTokenError::Other(err) => SignInError::Unavailable(err),
            })?;
        let response = self
            .http
            .get(self.userinfo_url.clone())
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .map_err(|err| SignInError::Unavailable(format!("userinfo: {err}")))?;
        if !response.status().is_success() {
            return Err(SignInError::Unavailable(format!(
                "userinfo answered {}",
                response.status()
            )));
        }
        let info: UserInfo = response
            .json()
            .await
            .map_err(|err| SignInError::Unavailable(format!("unreadable userinfo: {err}")))?;
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
