//! Google sign-in for tenant owners, against the fake provider on loopback:
//! the app's real code (`flowhq::oauth`, the oauth2 crate) does the
//! authorization code flow with PKCE and reads the userinfo endpoint.
//! First sign-in provisions, later ones match the subject; state is
//! one-time and bound to the browser; PKCE is checked by the provider;
//! failures end on a clear page without a session.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use entity::enums::{TenantStatus, UserRole};
use entity::{audit_log, oauth_login, tenant, tenant_config, user, web_session};
use flowhq::config::PortalSettings;
use flowhq::crypto;
use flowhq::fake_google::{s256_challenge, subject_for};
use flowhq::services::users::{self, GoogleProfile};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use crate::helpers::{
    Browser, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FakeAccount, TestApp, consent_at_fake, fake_code,
    finish_google_sign_in, google_browser, google_sign_in, json_of, location, spawn_app,
    spawn_app_with_google, spawn_app_with_google_and, start_google_sign_in, status_and_text,
};

const ANN: &str = "ann@example.com";

fn ann() -> FakeAccount<'static> {
    FakeAccount {
        email: ANN,
        name: "Ann Owner",
        verified: true,
    }
}

async fn users_of(app: &TestApp) -> Vec<user::Model> {
    user::Entity::find().all(app.db()).await.unwrap()
}

async fn tenant_count(app: &TestApp) -> u64 {
    tenant::Entity::find().count(app.db()).await.unwrap()
}

async fn audit_events(app: &TestApp, event: &str) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq(event))
        .all(app.db())
        .await
        .unwrap()
}

/// A refused sign-in: the error page with `code`, no session, nobody created.
async fn assert_refused(
    app: &TestApp,
    browser: &Browser,
    response: reqwest::Response,
    status: StatusCode,
    code: &str,
) -> String {
    let (got, html) = status_and_text(response).await;
    assert_eq!(got, status, "{html}");
    assert!(html.contains(code), "error code {code} on the page: {html}");
    assert!(
        html.contains("<html"),
        "a page for people, not JSON: {html}"
    );
    assert_eq!(browser.portal_cookie(), None, "no portal session");
    assert!(users_of(app).await.is_empty(), "nobody was signed up");
    assert_eq!(tenant_count(app).await, 0, "no tenant was created");
    html
}

#[tokio::test]
async fn a_first_google_sign_in_creates_a_new_tenant_and_its_owner_and_lands_on_the_portal() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = app.browser();

    let request = start_google_sign_in(&browser, None).await;
    assert!(request.url.as_str().starts_with(fake.auth_url().as_str()));
    assert_eq!(request.param("response_type"), "code");
    assert_eq!(request.param("client_id"), FAKE_CLIENT_ID);
    assert_eq!(
        request.param("redirect_uri"),
        app.url("/auth/google/callback")
    );
    assert_eq!(request.param("code_challenge_method"), "S256");
    assert_eq!(request.param("scope"), "openid email profile");
    assert!(
        browser.oauth_cookie().is_some(),
        "the sign-in is bound to the browser"
    );
    let callback = consent_at_fake(&request, &ann()).await;
    let response = finish_google_sign_in(&browser, &callback).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal");
    assert!(browser.portal_cookie().is_some(), "a portal session cookie");
    assert_eq!(
        browser.oauth_cookie(),
        None,
        "the sign-in cookie is dropped"
    );
    let pending = oauth_login::Entity::find().count(app.db()).await.unwrap();
    assert_eq!(pending, 0, "the one-time state is used up");

    let users = users_of(&app).await;
    assert_eq!(users.len(), 1);
    let owner = &users[0];
    assert_eq!(owner.email, ANN);
    assert_eq!(owner.name, "Ann Owner");
    assert_eq!(owner.role, UserRole::Owner);
    assert_eq!(
        owner.google_subject.as_deref(),
        Some(subject_for(ANN).as_str())
    );
    assert!(owner.last_login_at.is_some());
    let tenants = tenant::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].id, owner.tenant_id);
    assert_eq!(tenants[0].status, TenantStatus::New);
    let config = tenant_config::Entity::find_by_id(owner.tenant_id)
        .one(app.db())
        .await
        .unwrap()
        .expect("the new tenant has a complete configuration");
    assert!(
        !config.welcome_message.is_empty(),
        "default welcome message"
    );
    for event in ["tenant.created", "user.signed_up"] {
        let rows = audit_events(&app, event).await;
        assert_eq!(rows.len(), 1, "one {event} entry");
        assert_eq!(rows[0].tenant_id, Some(owner.tenant_id));
        assert_eq!(rows[0].actor, format!("user:{ANN}"), "{event}");
    }

    // The session is the owner's: the portal knows them, and sends them to onboarding.
    let (status, me) = json_of(browser.get("/api/portal/me").await).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["email"], ANN);
    assert_eq!(me["tenant"]["id"], owner.tenant_id.to_string());
    let response = browser.get("/portal").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal/onboarding");
}

#[tokio::test]
async fn signing_in_again_matches_the_google_subject_and_creates_nothing_new() {
    let (app, fake) = spawn_app_with_google().await;
    let first = google_browser(&app, &fake, ANN).await;
    let (_, me_first) = json_of(first.get("/api/portal/me").await).await;

    let second = app.browser();
    let response = google_sign_in(&second, &fake, ANN, "Ann Renamed", true).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal");
    let (status, me_second) = json_of(second.get("/api/portal/me").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_second["user"]["id"], me_first["user"]["id"]);
    assert_eq!(me_second["tenant"]["id"], me_first["tenant"]["id"]);
    assert_eq!(users_of(&app).await.len(), 1, "the same user");
    assert_eq!(tenant_count(&app).await, 1, "the same tenant");
    assert_eq!(audit_events(&app, "user.signed_up").await.len(), 1);
    assert_eq!(audit_events(&app, "tenant.created").await.len(), 1);
    assert_eq!(fake.tokens_issued(), 2, "both sign-ins went through Google");
}

#[tokio::test]
async fn a_callback_with_a_wrong_or_missing_state_is_refused_without_a_session() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = app.browser();
    let request = start_google_sign_in(&browser, None).await;
    let callback = consent_at_fake(&request, &ann()).await;
    let mut forged = reqwest::Url::parse(&callback).unwrap();
    let code = forged
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();

    forged
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "not-the-state-we-sent");
    let response = finish_google_sign_in(&browser, forged.as_str()).await;
    assert_refused(
        &app,
        &browser,
        response,
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
    )
    .await;

    forged.query_pairs_mut().clear().append_pair("code", &code);
    let response = finish_google_sign_in(&browser, forged.as_str()).await;
    assert_refused(
        &app,
        &browser,
        response,
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
    )
    .await;
    assert_eq!(fake.tokens_issued(), 0, "the code was never exchanged");

    // The genuine callback still works: the refusals were about the state.
    let response = finish_google_sign_in(&browser, &callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser.portal_cookie().is_some());
}

#[tokio::test]
async fn a_replayed_callback_is_refused_even_with_the_sign_in_cookie() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = app.browser();
    let request = start_google_sign_in(&browser, None).await;
    let binding = browser.oauth_cookie().expect("the sign-in cookie");
    let callback = consent_at_fake(&request, &ann()).await;
    let response = finish_google_sign_in(&browser, &callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The same callback again, from a browser holding the binding cookie
    // (the app dropped it; an attacker who copied it would still have it).
    let replay = app.browser();
    replay.add_cookie("flowhq_oauth", &binding);
    let response = finish_google_sign_in(&replay, &callback).await;

    let (status, html) = status_and_text(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("sign_in_failed"), "{html}");
    assert!(html.contains("already used"), "{html}");
    assert_eq!(replay.portal_cookie(), None);
    assert_eq!(fake.tokens_issued(), 1, "the replay never reached Google");
    let sessions = web_session::Entity::find().count(app.db()).await.unwrap();
    assert_eq!(sessions, 1, "only the genuine sign-in has a session");
}

#[tokio::test]
async fn a_callback_finished_in_another_browser_is_refused() {
    let (app, fake) = spawn_app_with_google().await;
    let first = app.browser();
    let request = start_google_sign_in(&first, None).await;
    let first_callback = consent_at_fake(&request, &ann()).await;

    // A victim lured to the attacker's callback: with no sign-in of their own…
    let victim = app.browser();
    let response = finish_google_sign_in(&victim, &first_callback).await;
    assert_refused(
        &app,
        &victim,
        response,
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
    )
    .await;

    // …or in the middle of their own sign-in (their own binding cookie).
    let attacker = app.browser();
    let request = start_google_sign_in(&attacker, None).await;
    let callback = consent_at_fake(&request, &ann()).await;
    let victim = app.browser();
    start_google_sign_in(&victim, None).await;
    assert!(victim.oauth_cookie().is_some());
    let response = finish_google_sign_in(&victim, &callback).await;
    assert_refused(
        &app,
        &victim,
        response,
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
    )
    .await;
    assert_eq!(fake.tokens_issued(), 0, "no token for a lured victim");

    // Neither attempt used up the sign-in of the browser that started it.
    let response = finish_google_sign_in(&first, &first_callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(fake.tokens_issued(), 1);
}

/// The code in a callback URL.
fn code_of(callback: &str) -> String {
    reqwest::Url::parse(callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {callback}"))
}

/// The PKCE verifier the app keeps for a started sign-in (server-side only).
async fn verifier_of(app: &TestApp, state: &str) -> String {
    oauth_login::Entity::find_by_id(crypto::sha256_hex(state))
        .one(app.db())
        .await
        .unwrap()
        .expect("the sign-in is remembered")
        .pkce_verifier
}

async fn exchange(
    fake: &flowhq::fake_google::FakeGoogle,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> (StatusCode, Value) {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(verifier) = verifier {
        fields.push(("code_verifier", verifier));
    }
    let response = reqwest::Client::new()
        .post(fake.token_url())
        .basic_auth(FAKE_CLIENT_ID, Some(FAKE_CLIENT_SECRET))
        .form(&fields)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

#[tokio::test]
async fn the_fake_provider_checks_the_pkce_verifier_with_s256() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = app.browser();
    let request = start_google_sign_in(&browser, None).await;
    let verifier = verifier_of(&app, request.param("state")).await;
    // What the app sent is the S256 challenge of the verifier it kept.
    assert_eq!(request.param("code_challenge"), s256_challenge(&verifier));
    let redirect_uri = request.param("redirect_uri").to_owned();

    // A wrong verifier: refused, and the code is spent.
    let code = code_of(&consent_at_fake(&request, &ann()).await);
    let wrong = "a-verifier-that-is-long-enough-but-not-the-one-0123456789";
    let (status, body) = exchange(&fake, &code, &redirect_uri, Some(wrong)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"],
        "code_verifier does not match the code_challenge (S256)"
    );
    let (status, body) = exchange(&fake, &code, &redirect_uri, Some(&verifier)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a code is one-time: {body}"
    );

    // No verifier at all: refused.
    let request = start_google_sign_in(&browser, None).await;
    let verifier = verifier_of(&app, request.param("state")).await;
    let code = code_of(&consent_at_fake(&request, &ann()).await);
    let (status, body) = exchange(&fake, &code, &redirect_uri, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");

    // The right verifier: a token, good for the userinfo endpoint.
    let request = start_google_sign_in(&browser, None).await;
    let verifier_2 = verifier_of(&app, request.param("state")).await;
    assert_ne!(verifier, verifier_2, "a fresh verifier per sign-in");
    let code = code_of(&consent_at_fake(&request, &ann()).await);
    let (status, token) = exchange(&fake, &code, &redirect_uri, Some(&verifier_2)).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    let access_token = token["access_token"].as_str().unwrap();
    let (status, info) = json_of(
        reqwest::Client::new()
            .get(fake.userinfo_url())
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["sub"], subject_for(ANN));
    assert_eq!(info["email"], ANN);
    assert_eq!(info["email_verified"], true);
    let (status, _) = json_of(
        reqwest::Client::new()
            .get(fake.userinfo_url())
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The provider refuses plain PKCE, no PKCE, and unknown clients.
    let request = start_google_sign_in(&browser, None).await;
    for (key, value) in [
        ("code_challenge_method", "plain"),
        ("code_challenge", ""),
        ("client_id", "someone-else"),
    ] {
        let response = reqwest::get(request.with_param(key, value).url)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{key}={value}");
    }
    // A wrong client secret is an invalid client.
    let code = code_of(&consent_at_fake(&request, &ann()).await);
    let response = reqwest::Client::new()
        .post(fake.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", FAKE_CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn a_tampered_code_challenge_makes_the_exchange_fail_and_signs_nobody_in() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = app.browser();
    let request = start_google_sign_in(&browser, None).await;
    // Someone swaps the challenge for one of a verifier they know.
    let tampered = request.with_param(
        "code_challenge",
        &s256_challenge("the-attackers-own-verifier-0123456789-abcdefghij"),
    );

    let callback = consent_at_fake(&tampered, &ann()).await;
    let response = finish_google_sign_in(&browser, &callback).await;

    let html = assert_refused(
        &app,
        &browser,
        response,
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
    )
    .await;
    assert!(html.contains("Google refused"), "{html}");
    assert_eq!(
        fake.token_refusals(),
        vec!["code_verifier does not match the code_challenge (S256)".to_owned()],
        "the provider refused the app's verifier"
    );
    assert_eq!(fake.tokens_issued(), 0);
}

#[tokio::test]
async fn an_unverified_google_email_is_refused_and_nobody_is_created() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = app.browser();

    let response = google_sign_in(&browser, &fake, ANN, "Ann", false).await;

    let html = assert_refused(&app, &browser, response, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(html.contains("not verified"), "{html}");
    assert!(audit_events(&app, "user.signed_up").await.is_empty());
}

/// Ann signs in through the fake, which must end on a refusal page
/// (`status`, `code`, see `assert_refused`): her browser and the page.
async fn refused_sign_in(
    app: &TestApp,
    fake: &flowhq::fake_google::FakeGoogle,
    status: StatusCode,
    code: &str,
) -> (Browser, String) {
    let browser = app.browser();
    let response = google_sign_in(&browser, fake, ANN, "Ann", true).await;
    let html = assert_refused(app, &browser, response, status, code).await;
    (browser, html)
}

#[tokio::test]
async fn a_failing_token_endpoint_ends_on_a_clear_page_without_a_session() {
    let (app, fake) = spawn_app_with_google().await;
    fake.fail_token_endpoint(Some(500));

    // `server_error` is the provider's trouble, not a refusal: a 502.
    let (browser, html) =
        refused_sign_in(&app, &fake, StatusCode::BAD_GATEWAY, "sign_in_unavailable").await;
    assert!(html.contains("try again"), "what to do next: {html}");
    assert!(
        !html.contains("server_error") && !html.contains("told to fail"),
        "the provider's words stay in the log: {html}"
    );

    // Once Google works again, so does signing in.
    fake.fail_token_endpoint(None);
    let response = google_sign_in(&browser, &fake, ANN, "Ann", true).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser.portal_cookie().is_some());
}

#[tokio::test]
async fn an_unreachable_provider_ends_on_a_502_page_without_a_session() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = app.browser();
    let request = start_google_sign_in(&browser, None).await;
    let callback = consent_at_fake(&request, &ann()).await;
    fake.stop().await;

    let response = finish_google_sign_in(&browser, &callback).await;

    let html = assert_refused(
        &app,
        &browser,
        response,
        StatusCode::BAD_GATEWAY,
        "sign_in_unavailable",
    )
    .await;
    assert!(html.contains("could not be reached"), "{html}");
}

#[tokio::test]
async fn a_userinfo_401_tells_the_owner_google_refused_the_sign_in() {
    let (app, fake) = spawn_app_with_google().await;
    fake.fail_userinfo(Some(401));

    let (_, html) = refused_sign_in(&app, &fake, StatusCode::BAD_REQUEST, "sign_in_failed").await;
    assert!(
        html.contains("Google refused the sign-in. Please try again."),
        "{html}"
    );
    assert!(
        !html.contains("could not be reached"),
        "Google was reached: {html}"
    );
    assert!(
        !html.contains("invalid_token"),
        "the provider's words stay in the log"
    );
}

/// What the log says of a failed sign-in: the error `finish` returns, which
/// the callback logs as the cause (`AppError::with_source`).
async fn sign_in_error(app: &TestApp, code: String, verifier: String) -> String {
    let google = app.state.google.as_deref().unwrap();
    let err = google.finish(&code, verifier).await.unwrap_err();
    err.to_string()
}

#[tokio::test]
async fn a_failed_sign_in_logs_the_endpoint_and_the_real_cause() {
    let (app, fake) = spawn_app_with_google().await;

    fake.fail_userinfo(Some(401));
    let (code, verifier) = fake_code(&app).await;
    assert_eq!(
        sign_in_error(&app, code, verifier).await,
        "the userinfo endpoint refused the sign-in: HTTP 401 Unauthorized, error invalid_token: \
         the fake provider was told to refuse userinfo"
    );
    fake.fail_userinfo(None);

    let (code, verifier) = fake_code(&app).await;
    let google = app.state.google.as_deref().unwrap();
    google.finish(&code, verifier.clone()).await.unwrap();
    assert_eq!(
        sign_in_error(&app, code, verifier).await,
        "the token endpoint refused the sign-in: HTTP 400 Bad Request, error invalid_grant: \
         unknown or already used code"
    );

    fake.fail_token_endpoint(Some(503));
    let (code, verifier) = fake_code(&app).await;
    assert_eq!(
        sign_in_error(&app, code, verifier).await,
        "the token endpoint failed: HTTP 503 Service Unavailable, error server_error: \
         the fake provider was told to fail its token endpoint"
    );

    // A provider that is gone. A fresh app: this one's client may hold a
    // kept-alive connection to the old fake, which would break off instead.
    let (app, fake) = spawn_app_with_google().await;
    let (code, verifier) = fake_code(&app).await;
    fake.stop().await;
    assert_eq!(
        sign_in_error(&app, code, verifier).await,
        "the token endpoint could not be reached: connection refused"
    );
}

#[tokio::test]
async fn a_sign_in_cancelled_at_the_provider_is_refused_politely() {
    let (app, _fake) = spawn_app_with_google().await;
    let browser = app.browser();
    let request = start_google_sign_in(&browser, None).await;
    let mut fields = request.params.clone();
    fields.push(("deny".to_owned(), "1".to_owned()));
    let mut post_url = request.url.clone();
    post_url.set_query(None);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(post_url)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = location(&response);
    assert!(callback.contains("error=access_denied"), "{callback}");

    let response = finish_google_sign_in(&browser, &callback).await;

    let html = assert_refused(
        &app,
        &browser,
        response,
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
    )
    .await;
    assert!(html.contains("cancelled"), "{html}");
}

#[tokio::test]
async fn sign_up_can_be_limited_to_email_domains_and_invited_emails() {
    let (app, fake) = spawn_app_with_google_and(|settings| {
        settings.portal.allowed_email_domains = vec!["allowed.example".to_owned()];
        settings.portal.invited_emails = vec!["guest@invited.example".to_owned()];
    })
    .await;

    for refused in ["stranger@other.example", "friend@invited.example"] {
        let browser = app.browser();
        let response = google_sign_in(&browser, &fake, refused, "Someone", true).await;
        let html =
            assert_refused(&app, &browser, response, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(html.contains("invit"), "says why: {html}");
    }

    for allowed in ["ann@allowed.example", "guest@invited.example"] {
        let browser = app.browser();
        let response = google_sign_in(&browser, &fake, allowed, "Someone", true).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{allowed}");
        assert!(browser.portal_cookie().is_some(), "{allowed}");
    }
    let mut emails: Vec<String> = users_of(&app).await.into_iter().map(|u| u.email).collect();
    emails.sort();
    assert_eq!(emails, ["ann@allowed.example", "guest@invited.example"]);
    assert_eq!(tenant_count(&app).await, 2);
}

#[tokio::test]
async fn an_existing_owner_still_signs_in_after_sign_up_was_closed_to_them() {
    let (app, fake) = spawn_app_with_google_and(|settings| {
        settings.portal.invited_emails = vec!["someone-else@example.com".to_owned()];
    })
    .await;
    // Signed up while sign-up was open (the same service the callback uses).
    let open = PortalSettings {
        allowed_email_domains: vec![],
        invited_emails: vec![],
        ..app.state.settings.portal.clone()
    };
    let profile = GoogleProfile {
        subject: subject_for(ANN),
        email: ANN.to_owned(),
        email_verified: true,
        name: Some("Ann".to_owned()),
    };
    let (existing, created) = users::sign_in(app.db(), &profile, &open).await.unwrap();
    assert!(created);

    let browser = app.browser();
    let response = google_sign_in(&browser, &fake, ANN, "Ann", true).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, me) = json_of(browser.get("/api/portal/me").await).await;
    assert_eq!(me["user"]["id"], existing.id.to_string());
    assert_eq!(users_of(&app).await.len(), 1);
}

#[tokio::test]
async fn without_google_configured_the_sign_in_page_says_so() {
    let app = spawn_app().await;
    assert!(app.state.google.is_none());

    for path in ["/auth/google/login", "/auth/google/callback?code=x&state=y"] {
        let response = app.get(path).await;
        let (status, html) = status_and_text(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {html}");
        assert!(html.contains("google_not_configured"), "{html}");
        assert!(html.contains("not configured"), "{html}");
    }
}

#[tokio::test]
async fn signing_in_rotates_the_session_so_the_old_cookie_stops_working() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = google_browser(&app, &fake, ANN).await;
    let old = browser.portal_cookie().unwrap();
    let old_header = format!("flowhq_portal={old}");
    let response = app.get_with_cookie("/api/portal/me", &old_header).await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = google_sign_in(&browser, &fake, ANN, "Ann", true).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let new = browser.portal_cookie().unwrap();
    assert_ne!(new, old, "a new session id");
    let response = app.get_with_cookie("/api/portal/me", &old_header).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let gone = web_session::Entity::find_by_id(crypto::sha256_hex(&old))
        .one(app.db())
        .await
        .unwrap();
    assert!(
        gone.is_none(),
        "the old session is deleted, not just replaced"
    );
    let (status, me) = json_of(browser.get("/api/portal/me").await).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["email"], ANN);
}

#[tokio::test]
async fn logging_out_ends_the_portal_session() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = google_browser(&app, &fake, ANN).await;
    let cookie = format!("flowhq_portal={}", browser.portal_cookie().unwrap());

    // Without the form's CSRF token nothing happens.
    let response = browser
        .post_form("/auth/logout", &[("csrf_token", "forged")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/api/portal/me").await.status(), StatusCode::OK);

    let csrf = browser.portal_csrf().await;
    let response = browser
        .post_form("/auth/logout", &[("csrf_token", csrf.as_str())])
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/?signed_out=1");
    assert_eq!(browser.portal_cookie(), None, "the cookie is dropped");
    let response = app.get_with_cookie("/portal", &cookie).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/auth/google/login?next="),
        "{}",
        location(&response)
    );
    let response = app.get_with_cookie("/api/portal/me", &cookie).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_portal_session_gives_no_access_to_the_admin_console_or_the_admin_api() {
    let (app, fake) = spawn_app_with_google().await;
    let browser = google_browser(&app, &fake, ANN).await;

    for path in ["/admin", "/admin/tenants", "/admin/setup-requests"] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&response).starts_with("/admin/login"), "{path}");
    }
    for path in [
        "/api/admin/tenants",
        "/api/admin/setup-requests",
        "/api/admin/audit",
    ] {
        let (status, body) = json_of(browser.get(path).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    // Nor can it post an admin form with its own CSRF token.
    let csrf = browser.portal_csrf().await;
    let response = browser
        .post_form(
            "/admin/tenants",
            &[("csrf_token", csrf.as_str()), ("name", "Sneaky")],
        )
        .await;
    let status = response.status();
    assert!(
        status == StatusCode::SEE_OTHER || status == StatusCode::FORBIDDEN,
        "{status}"
    );
    assert_eq!(
        tenant_count(&app).await,
        1,
        "no tenant created by a portal user"
    );
}

#[tokio::test]
async fn the_sign_in_returns_to_the_requested_portal_page_and_nowhere_else() {
    let (app, fake) = spawn_app_with_google().await;
    for (next, lands_on) in [
        ("/portal/logs?page=2", "/portal/logs?page=2"),
        ("https://evil.example/steal", "/portal"),
        ("//evil.example/portal", "/portal"),
        ("/admin", "/portal"),
    ] {
        let browser = app.browser();
        let request = start_google_sign_in(&browser, Some(next)).await;
        let callback = consent_at_fake(&request, &ann()).await;
        let response = finish_google_sign_in(&browser, &callback).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&response), lands_on, "next={next}");
    }
    assert_eq!(fake.tokens_issued(), 4);
}

/// A child process, killed when the test ends (passed or not).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_fake_google_command_prints_the_settings_that_point_flow_hq_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::helpers::flowhq_command(dir.path());
    command.args([
        "fake-google",
        "--port",
        "0",
        "--client-id",
        "cli-client",
        "--client-secret",
        "cli-secret",
    ]);
    let mut child = Running(
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    // Reads up to its last line; the pipe stays open (returned) until the
    // process is killed, so its printing never meets a closed stdout.
    let (lines, _stdout) = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            let done = line.starts_with("Stop with Ctrl-C");
            lines.push(line.trim_end().to_owned());
            line.clear();
            if done {
                break;
            }
        }
        (lines, reader)
    })
    .await
    .unwrap();
    let value = |key: &str| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix(&format!("FLOWHQ__GOOGLE__{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
            .to_owned()
    };
    assert_eq!(value("CLIENT_ID"), "cli-client");
    assert_eq!(value("CLIENT_SECRET"), "cli-secret");
    let auth_url = value("AUTH_URL");
    assert!(auth_url.starts_with("http://127.0.0.1:"), "{auth_url}");
    assert!(value("TOKEN_URL").ends_with("/token"));
    assert!(value("USERINFO_URL").ends_with("/userinfo"));
    assert!(
        lines.iter().any(|line| line.contains("local trials only")),
        "it says what it is for: {lines:?}"
    );

    // It serves: its sign-in page answers for the printed client.
    let mut url = reqwest::Url::parse(&auth_url).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "cli-client")
        .append_pair("redirect_uri", "http://127.0.0.1:8080/auth/google/callback")
        .append_pair("state", "s")
        .append_pair("code_challenge", &s256_challenge("v"))
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "openid email profile");
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    let html = response.text().await.unwrap();
    drop(child);
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("name=\"email\""), "{html}");
}

#[tokio::test]
async fn one_client_cannot_start_sign_ins_without_limit() {
    let (app, _fake) = spawn_app_with_google().await;
    let browser = app.browser();
    for n in 0..20 {
        let response = browser.get("/auth/google/login").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "start {n}");
    }
    let response = browser.get("/auth/google/login").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let remembered = oauth_login::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(remembered.len(), 20, "the refused start stored nothing");
}

#[tokio::test]
async fn a_google_account_whose_address_changed_keeps_its_tenant_under_the_new_address() {
    let app = spawn_app().await;
    let policy = PortalSettings {
        allowed_email_domains: vec![],
        invited_emails: vec![],
        session_idle_timeout: std::time::Duration::from_secs(60),
        session_absolute_timeout: std::time::Duration::from_secs(60),
    };
    let profile = |email: &str| GoogleProfile {
        subject: "google-subject-1".to_owned(),
        email: email.to_owned(),
        email_verified: true,
        name: Some("Ann".to_owned()),
    };
    let (first, created) = users::sign_in(app.db(), &profile("ann@old.example"), &policy)
        .await
        .unwrap();
    assert!(created);
    let (again, created) = users::sign_in(app.db(), &profile("Ann@New.example"), &policy)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(again.tenant_id, first.tenant_id);
    assert_eq!(again.email, "ann@new.example");
    let stored = user::Entity::find_by_id(first.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.email, "ann@new.example");
}
