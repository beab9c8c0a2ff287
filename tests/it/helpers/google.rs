//! Google sign-in against the fake provider: the app's real sign-in code
//! (`flowhq::oauth`, the oauth2 crate) talks to a
//! `flowhq::fake_google::FakeGoogle` on loopback, the same path as production.

use std::net::SocketAddr;

use flowhq::config::Settings;
use reqwest::{Response, StatusCode};
use secrecy::SecretString;

use super::*;

pub const FAKE_CLIENT_ID: &str = "flowhq-test";
pub const FAKE_CLIENT_SECRET: &str = "fake-client-secret";

/// A fake Google on a free loopback port that knows the test client.
pub async fn spawn_fake_google() -> flowhq::fake_google::FakeGoogle {
    flowhq::fake_google::FakeGoogle::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        flowhq::fake_google::FakeGoogleConfig {
            client_id: FAKE_CLIENT_ID.to_owned(),
            client_secret: FAKE_CLIENT_SECRET.to_owned(),
        },
    )
    .await
    .expect("starting the fake Google")
}

/// Points the settings at the fake (the redirect URL stays the default:
/// the app's own `/auth/google/callback`).
pub fn use_fake_google(settings: &mut Settings, fake: &flowhq::fake_google::FakeGoogle) {
    settings.google.client_id = fake.client_id().to_owned();
    settings.google.client_secret = Some(SecretString::from(fake.client_secret().to_owned()));
    settings.google.auth_url = fake.auth_url();
    settings.google.token_url = fake.token_url();
    settings.google.userinfo_url = fake.userinfo_url();
}

/// An app whose Google sign-in goes to a fresh fake provider.
pub async fn spawn_app_with_google() -> (TestApp, flowhq::fake_google::FakeGoogle) {
    spawn_app_with_google_and(|_| {}).await
}

/// The same, after `configure` adjusted the other settings.
pub async fn spawn_app_with_google_and(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, flowhq::fake_google::FakeGoogle) {
    let fake = spawn_fake_google().await;
    let app = spawn_app_with(|settings| {
        use_fake_google(settings, &fake);
        configure(settings);
    })
    .await;
    (app, fake)
}

/// What the app sent the browser to the provider with: the redirect to
/// `/authorize` and its query.
pub struct AuthorizeRequest {
    pub url: reqwest::Url,
    pub params: Vec<(String, String)>,
}

impl AuthorizeRequest {
    pub fn param(&self, key: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in {}", self.url))
    }

    /// The same request with `key` replaced (to tamper with it).
    pub fn with_param(&self, key: &str, value: &str) -> AuthorizeRequest {
        let params: Vec<(String, String)> = self
            .params
            .iter()
            .map(|(k, v)| {
                let v = if k == key { value } else { v.as_str() };
                (k.clone(), v.to_owned())
            })
            .collect();
        let mut url = self.url.clone();
        url.query_pairs_mut().clear().extend_pairs(&params);
        AuthorizeRequest { url, params }
    }
}

/// Who signs in at the fake provider.
pub struct FakeAccount<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub verified: bool,
}

/// `GET /auth/google/login` (with `?next=` when given) in `browser`: the
/// redirect to the provider, checked and parsed.
pub async fn start_google_sign_in(browser: &Browser, next: Option<&str>) -> AuthorizeRequest {
    let path = match next {
        Some(next) => format!(
            "/auth/google/login?{}",
            serde_urlencoded::to_string([("next", next)]).unwrap()
        ),
        None => "/auth/google/login".to_owned(),
    };
    let response = browser.get(&path).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
    let url = reqwest::Url::parse(&location(&response)).unwrap();
    let params = url.query_pairs().into_owned().collect();
    AuthorizeRequest { url, params }
}

/// The person at the provider: loads its sign-in page for `request`, then
/// posts the form with the page's hidden fields and `account`. Returns the
/// provider's redirect back to the app (the callback URL).
pub async fn consent_at_fake(request: &AuthorizeRequest, account: &FakeAccount<'_>) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(request.url.clone()).send().await.unwrap();
    let status = response.status();
    let html = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "the fake's sign-in page: {html}");
    let mut fields: Form = [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scope",
    ]
    .into_iter()
    .map(|name| {
        let value = input_value(&html, name).unwrap_or_else(|| panic!("no {name} on {html}"));
        (name.to_owned(), value)
    })
    .collect();
    fields.push(("email".to_owned(), account.email.to_owned()));
    fields.push(("name".to_owned(), account.name.to_owned()));
    assert!(is_checked(&html, "email_verified"), "verified by default");
    if account.verified {
        fields.push(("email_verified".to_owned(), "on".to_owned()));
    }
    let mut post_url = request.url.clone();
    post_url.set_query(None);
    let response = client.post(post_url).form(&fields).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "posting the fake's form"
    );
    location(&response)
}

/// The browser comes back from the provider: GETs the callback URL.
pub async fn finish_google_sign_in(browser: &Browser, callback: &str) -> Response {
    browser
        .client
        .get(callback)
        .send()
        .await
        .expect("request failed")
}

/// The whole dance in `browser`: the app's login redirect, the fake's
/// form, the callback. Returns the app's answer to the callback.
pub async fn google_sign_in(
    browser: &Browser,
    fake: &flowhq::fake_google::FakeGoogle,
    email: &str,
    name: &str,
    verified: bool,
) -> Response {
    let request = start_google_sign_in(browser, None).await;
    assert!(
        request.url.as_str().starts_with(fake.auth_url().as_str()),
        "the app sends the browser to the fake: {}",
        request.url
    );
    let account = FakeAccount {
        email,
        name,
        verified,
    };
    let callback = consent_at_fake(&request, &account).await;
    finish_google_sign_in(browser, &callback).await
}

/// A browser signed in to the portal through the fake provider.
pub async fn google_browser(
    app: &TestApp,
    fake: &flowhq::fake_google::FakeGoogle,
    email: &str,
) -> Browser {
    let browser = app.browser();
    let response = google_sign_in(&browser, fake, email, &format!("Owner {email}"), true).await;
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "signing in {email}: {}",
        response.text().await.unwrap()
    );
    assert!(browser.portal_cookie().is_some(), "a portal session");
    browser
}

/// A code the fake issued to the app's own Google client, with the PKCE
/// verifier to exchange it: for calling `GoogleClient::finish` directly,
/// as the callback does, and reading the error it returns.
pub async fn fake_code(app: &TestApp) -> (String, String) {
    let google = app
        .state
        .google
        .as_deref()
        .expect("Google sign-in is configured");
    let start = google.start();
    let request = AuthorizeRequest {
        params: start.url.query_pairs().into_owned().collect(),
        url: start.url,
    };
    let account = FakeAccount {
        email: "ann@example.com",
        name: "Ann",
        verified: true,
    };
    let callback = reqwest::Url::parse(&consent_at_fake(&request, &account).await).unwrap();
    let code = callback
        .query_pairs()
        .find_map(|(key, value)| (key == "code").then(|| value.into_owned()))
        .expect("the fake's code");
    (code, start.pkce_verifier)
}
