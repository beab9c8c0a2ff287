//! Who may use the admin console and its API: sign-in (cookie flags,
//! throttling, rotation), sign-out, the redirect of signed-out browsers, the
//! API's 401s, API tokens, and CSRF on every form.

use std::num::NonZeroU32;

use entity::enums::TenantStatus;
use flowhq::web::auth::ADMIN_COOKIE;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    ADMIN_USERNAME, TestApp, form, id_of, json_of, location, sign_in, sign_in_as, spawn_app,
    spawn_app_with, tenant_draft, tenant_form, with_field,
};

/// The `Set-Cookie` header that sets `name`, if any.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
}

/// Asserts a redirect of a signed-out browser to the sign-in page, coming
/// back to `path` afterwards.
fn assert_sent_to_sign_in(response: &Response, path: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
    let location = location(response);
    assert!(
        location.starts_with("/admin/login?"),
        "GET {path} went to {location}"
    );
    let url = url::Url::parse(&format!("http://localhost{location}")).unwrap();
    let next = url
        .query_pairs()
        .find(|(key, _)| key == "next")
        .map(|(_, value)| value.into_owned());
    assert_eq!(next.as_deref(), Some(path), "next of {location}");
}

/// Whether a cookie header alone still opens the console.
async fn signed_in_with(app: &TestApp, cookie_value: &str) -> bool {
    let response = app
        .get_with_cookie("/admin", &format!("{ADMIN_COOKIE}={cookie_value}"))
        .await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert!(location(&response).starts_with("/admin/login"));
            false
        }
        other => panic!("GET /admin answered {other}"),
    }
}

async fn assert_error_page(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    assert!(html.contains(code), "the page names {code}: {html}");
    html
}

#[tokio::test]
async fn signing_in_sets_an_http_only_same_site_lax_cookie_and_lands_on_the_dashboard() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = sign_in(&browser).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    let cookie = set_cookie(&response, ADMIN_COOKIE).expect("a session cookie is set");
    let lower = cookie.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{cookie}");
    assert!(lower.contains("samesite=lax"), "{cookie}");
    let dashboard = browser.page("/admin").await;
    assert!(
        dashboard.contains(ADMIN_USERNAME),
        "the console names who is signed in"
    );
}

#[tokio::test]
async fn a_wrong_password_answers_401_with_the_form_and_starts_no_session() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = sign_in_as(&browser, ADMIN_USERNAME, "not-the-password").await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let cookie = set_cookie(&response, ADMIN_COOKIE);
    assert!(
        cookie
            .as_ref()
            .is_none_or(|c| c.starts_with(&format!("{ADMIN_COOKIE}=;"))),
        "no session cookie: {cookie:?}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Wrong username or password"), "{html}");
    assert!(
        html.contains("name=\"password\""),
        "the form is shown again"
    );
    assert_sent_to_sign_in(&browser.get("/admin").await, "/admin");
}

#[tokio::test]
async fn after_five_failed_attempts_even_the_right_password_is_refused_with_429() {
    let app = spawn_app().await;
    let browser = app.browser();
    for attempt in 1..=5 {
        let response = sign_in_as(&browser, ADMIN_USERNAME, "not-the-password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "failed attempt {attempt}"
        );
    }

    let response = sign_in(&browser).await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()[reqwest::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1, "{retry_after}");
    assert!(set_cookie(&response, ADMIN_COOKIE).is_none_or(|c| c.contains("=;")));
    let html = response.text().await.unwrap();
    assert!(html.contains("Too many attempts"), "{html}");
    assert_sent_to_sign_in(&browser.get("/admin").await, "/admin");
}

#[tokio::test]
async fn signing_in_again_rotates_the_session_and_the_old_cookie_stops_working() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let old = browser.cookie(ADMIN_COOKIE).expect("a session cookie");
    assert!(signed_in_with(&app, &old).await);

    let response = sign_in(&browser).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let new = browser.cookie(ADMIN_COOKIE).expect("a session cookie");
    assert_ne!(new, old, "signing in issues a new session id");
    assert!(!signed_in_with(&app, &old).await, "the old session ended");
    assert!(signed_in_with(&app, &new).await);
}

#[tokio::test]
async fn signing_out_ends_the_session_and_the_old_cookie_stops_working() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let cookie = browser.cookie(ADMIN_COOKIE).expect("a session cookie");

    let response = browser.submit("/admin/logout", &[]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/admin/login"));
    assert!(!signed_in_with(&app, &cookie).await, "the session ended");
    assert_sent_to_sign_in(&browser.get("/admin").await, "/admin");
}

#[tokio::test]
async fn every_admin_page_sends_a_signed_out_browser_to_the_sign_in_page_and_back() {
    let app = spawn_app().await;
    let tenant = id_of(&app.create_tenant(&tenant_draft(1)).await);
    let browser = app.browser();
    let pages = [
        "/admin".to_owned(),
        "/admin/tenants".to_owned(),
        "/admin/tenants?q=salon&status=NEW".to_owned(),
        "/admin/tenants/new".to_owned(),
        format!("/admin/tenants/{tenant}"),
        format!("/admin/tenants/{tenant}/delete"),
        "/admin/setup-requests".to_owned(),
        "/admin/audit".to_owned(),
        format!("/admin/audit?tenant_id={tenant}"),
        "/admin/tokens".to_owned(),
    ];
    for page in pages {
        assert_sent_to_sign_in(&browser.get(&page).await, &page);
    }
}

/// Every admin API route with a body it would accept once authenticated.
fn api_routes(tenant: Uuid) -> Vec<(Method, String, Option<Value>)> {
    let other = Uuid::new_v4();
    let t = format!("/api/admin/tenants/{tenant}");
    vec![
        (Method::GET, "/api/admin/tenants".into(), None),
        (
            Method::POST,
            "/api/admin/tenants".into(),
            Some(tenant_draft(2)),
        ),
        (Method::GET, t.clone(), None),
        (Method::PATCH, t.clone(), Some(json!({"name": "Hijacked"}))),
        (Method::DELETE, t.clone(), None),
        (Method::POST, format!("{t}/pause"), None),
        (Method::POST, format!("{t}/resume"), None),
        (Method::GET, format!("{t}/logs"), None),
        (Method::GET, "/api/admin/setup-requests".into(), None),
        (
            Method::POST,
            format!("/api/admin/setup-requests/{other}/approve"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/admin/setup-requests/{other}/reject"),
            Some(json!({"note": "no"})),
        ),
        (Method::GET, "/api/admin/audit".into(), None),
        (Method::GET, "/api/admin/tokens".into(), None),
        (
            Method::POST,
            "/api/admin/tokens".into(),
            Some(json!({"name": "stolen"})),
        ),
        (Method::DELETE, format!("/api/admin/tokens/{other}"), None),
    ]
}

#[tokio::test]
async fn every_admin_api_route_answers_401_json_without_valid_credentials() {
    // Wrong Basic credentials count as failed sign-ins; this test makes many
    // on purpose, so the throttle must not answer 429 first.
    let app = spawn_app_with(|settings| {
        settings.admin.login_attempts = NonZeroU32::new(1000).unwrap();
    })
    .await;
    let tenant = id_of(&app.create_tenant(&tenant_draft(1)).await);
    let (status, token) = app
        .api_post("/api/admin/tokens", &json!({"name": "old"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let revoked = token["token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .api_call(
            Method::DELETE,
            &format!("/api/admin/tokens/{}", id_of(&token)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    type Auth = fn(reqwest::RequestBuilder, &str) -> reqwest::RequestBuilder;
    let ways: [(&str, Auth); 5] = [
        ("no credentials", |r, _| r),
        ("a wrong password", |r, _| {
            r.basic_auth(ADMIN_USERNAME, Some("not-the-password"))
        }),
        ("an unknown admin", |r, _| {
            r.basic_auth("nobody", Some("admin-password-123"))
        }),
        ("an unknown token", |r, _| {
            r.bearer_auth("fhq_thisTokenWasNeverIssued000000000")
        }),
        ("a revoked token", |r, revoked| r.bearer_auth(revoked)),
    ];
    for (method, path, body) in api_routes(tenant) {
        for (way, auth) in ways {
            let mut request = auth(app.client.request(method.clone(), app.url(&path)), &revoked);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let (status, answer) = json_of(request.send().await.unwrap()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {way}: {answer}"
            );
            assert_eq!(
                answer["error"], "unauthorized",
                "{method} {path} with {way}"
            );
        }
    }

    // Nothing of the above went through.
    let after = app.tenant(tenant).await;
    assert_eq!(after["name"], "Salon 1");
    let (_, list) = app.api_get("/api/admin/tenants").await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn an_api_token_works_as_bearer_until_it_is_revoked() {
    let app = spawn_app().await;
    let (status, created) = app
        .api_post("/api/admin/tokens", &json!({"name": "deploy script"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("fhq_"), "{secret}");
    assert_eq!(created["name"], "deploy script");
    let prefix = created["prefix"].as_str().unwrap();
    assert!(
        !prefix.is_empty() && secret.starts_with(prefix),
        "{created}"
    );
    assert!(created["created_at"].is_string());
    let id = id_of(&created);

    let bearer = |path: &str| app.client.get(app.url(path)).bearer_auth(&secret).send();
    let (status, list) = json_of(bearer("/api/admin/tenants").await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (_, tokens) = app.api_get("/api/admin/tokens").await;
    let listed = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| id_of(t) == id)
        .expect("the token is listed");
    assert!(listed["revoked_at"].is_null());
    assert!(
        listed.get("token").is_none(),
        "the secret is shown once only"
    );

    let (status, revoked) = app
        .api_call(Method::DELETE, &format!("/api/admin/tokens/{id}"), None)
        .await;

    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let (status, answer) = json_of(bearer("/api/admin/tenants").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"], "unauthorized");
}

#[tokio::test]
async fn a_form_without_or_with_a_wrong_csrf_token_is_refused_with_403_and_changes_nothing() {
    let app = spawn_app().await;
    let tenant = id_of(&app.create_tenant(&tenant_draft(1)).await);
    app.set_tenant_status(tenant, TenantStatus::Active).await;
    let browser = app.signed_in_browser().await;
    let new_tenant = tenant_form(&tenant_draft(2));
    let posts = [
        ("/admin/tenants".to_owned(), new_tenant),
        (
            format!("/admin/tenants/{tenant}"),
            with_field(tenant_form(&tenant_draft(1)), "name", "Renamed"),
        ),
        (format!("/admin/tenants/{tenant}/pause"), form(&[])),
        (format!("/admin/tenants/{tenant}/delete"), form(&[])),
        ("/admin/tokens".to_owned(), form(&[("name", "sneaky")])),
    ];

    for (path, fields) in posts {
        let missing = browser.post_form(&path, &fields).await;
        assert_error_page(missing, StatusCode::FORBIDDEN, "csrf_rejected").await;
        let wrong = with_field(fields, "csrf_token", "not-the-session-token");
        let wrong = browser.post_form(&path, &wrong).await;
        assert_error_page(wrong, StatusCode::FORBIDDEN, "csrf_rejected").await;
    }

    let (_, list) = app.api_get("/api/admin/tenants").await;
    assert_eq!(list["total"], 1, "no tenant created or deleted: {list}");
    assert_eq!(app.tenant(tenant).await["name"], "Salon 1");
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::Active);
    let (_, tokens) = app.api_get("/api/admin/tokens").await;
    assert_eq!(tokens, json!([]), "no token created");
}

#[tokio::test]
async fn the_sign_in_form_refuses_a_post_without_its_csrf_token() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = browser.login_form().await;
    let credentials = [
        ("username", ADMIN_USERNAME),
        ("password", crate::helpers::ADMIN_PASSWORD),
    ];

    let without = browser.post_form("/admin/login", &credentials).await;
    assert_error_page(without, StatusCode::FORBIDDEN, "csrf_rejected").await;

    // The right token from another browser: its cookie is missing here.
    let elsewhere = app.browser();
    let mut with_token = credentials.to_vec();
    with_token.push(("csrf_token", &token));
    let stolen = elsewhere.post_form("/admin/login", &with_token).await;
    assert_error_page(stolen, StatusCode::FORBIDDEN, "csrf_rejected").await;

    assert_sent_to_sign_in(&browser.get("/admin").await, "/admin");
    assert_sent_to_sign_in(&elsewhere.get("/admin").await, "/admin");
}

/// The `fhq_…` secret shown on a page.
fn token_in(html: &str) -> String {
    let start = html.find("fhq_").expect("a token on the page");
    html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect()
}

#[tokio::test]
async fn a_token_made_on_the_tokens_page_is_shown_once_and_can_be_revoked_there() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;

    let response = browser
        .submit("/admin/tokens", &form(&[("name", "backup job")]))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("will not be shown again"), "{html}");
    let secret = token_in(&html);
    assert!(secret.len() > 20, "{secret}");
    let bearer = || {
        app.client
            .get(app.url("/api/admin/tenants"))
            .bearer_auth(&secret)
            .send()
    };
    assert_eq!(bearer().await.unwrap().status(), StatusCode::OK);
    let list = browser.page("/admin/tokens").await;
    assert!(list.contains("backup job"));
    assert!(!list.contains(&secret), "the secret is shown once only");

    let (_, tokens) = app.api_get("/api/admin/tokens").await;
    let id = id_of(&tokens[0]);
    let response = browser
        .submit(&format!("/admin/tokens/{id}/revoke"), &[])
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/tokens");
    assert_eq!(bearer().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn basic_credentials_replayed_cross_site_cannot_change_anything() {
    let app = spawn_app().await;
    let id = crate::helpers::id_of(&app.create_tenant(&crate::helpers::tenant_draft(90)).await);
    let path = format!("/api/admin/tenants/{id}/approve");

    let cross = app
        .api(reqwest::Method::POST, &path)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let fetch = app
        .api(reqwest::Method::POST, &path)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(fetch.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.tenant_status(id).await,
        entity::enums::TenantStatus::New
    );

    // Reading stays allowed, and a script (no Origin) may write.
    let read = app
        .api(reqwest::Method::GET, &format!("/api/admin/tenants/{id}"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let script = app.api(reqwest::Method::POST, &path).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        app.tenant_status(id).await,
        entity::enums::TenantStatus::Approved
    );
}

/// `GET /api/admin/tenants` with Basic credentials, as a client a proxy
/// forwarded from `client`.
async fn api_as(app: &crate::helpers::TestApp, client: &str, password: &str) -> StatusCode {
    app.client
        .get(app.url("/api/admin/tenants"))
        .basic_auth(ADMIN_USERNAME, Some(password))
        .header("X-Forwarded-For", client)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_an_attacker_locks_only_their_own_address_not_the_admin() {
    let app = spawn_app_with(|settings| {
        settings.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let attacker = "203.0.113.9";
    for attempt in 1..=5 {
        assert_eq!(
            api_as(&app, attacker, "not-the-password").await,
            StatusCode::UNAUTHORIZED,
            "failed attempt {attempt}"
        );
    }
    assert_eq!(
        api_as(&app, attacker, crate::helpers::ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's address is locked"
    );
    // The admin, from their own address, still signs in (after a short
    // pause on the username).
    assert_eq!(
        api_as(&app, "198.51.100.7", crate::helpers::ADMIN_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_is_not_believed() {
    let app = spawn_app().await;
    for attempt in 1..=5 {
        // A new made-up address each time: it does not help.
        let spoofed = format!("203.0.113.{attempt}");
        assert_eq!(
            api_as(&app, &spoofed, "not-the-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        api_as(&app, "198.51.100.7", crate::helpers::ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "locked by the real peer address"
    );
}

#[tokio::test]
async fn under_https_the_session_cookie_is_a_host_cookie_and_the_plain_name_opens_nothing() {
    let app = spawn_app_with(|settings| {
        settings.server.public_url = Some("https://flowhq.example.com".parse().unwrap());
    })
    .await;
    // The client here speaks plain http to the test server, so cookies are
    // carried by hand (a browser keeps Secure cookies for https only).
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(app.url("/admin/login")).send().await.unwrap();
    let csrf_cookie =
        set_cookie(&page, "__Secure-flowhq_login_csrf").expect("a prefixed CSRF cookie");
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let csrf_value = csrf_cookie.split(';').next().unwrap().to_owned();
    let token = crate::helpers::csrf_of(&page.text().await.unwrap());

    let response = client
        .post(app.url("/admin/login"))
        .header(reqwest::header::COOKIE, &csrf_value)
        .form(&[
            ("username", ADMIN_USERNAME),
            ("password", crate::helpers::ADMIN_PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&response, "__Host-flowhq_admin").expect("a __Host- session cookie");
    assert!(
        session.contains("Secure") && session.contains("Path=/"),
        "{session}"
    );
    assert!(!session.to_lowercase().contains("domain="), "{session}");
    let value = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();

    let with = |cookie: String| {
        client
            .get(app.url("/admin"))
            .header(reqwest::header::COOKIE, cookie)
            .send()
    };
    let signed_in = with(format!("__Host-flowhq_admin={value}")).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    // The unprefixed name, as a plain-http page or a subdomain could plant it.
    let planted = with(format!("flowhq_admin={value}")).await.unwrap();
    assert_eq!(
        planted.status(),
        StatusCode::SEE_OTHER,
        "not a session under https"
    );
}
