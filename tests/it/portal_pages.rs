//! The tenant owner's portal pages and their JSON twins, driven the way a
//! browser does (portal session cookie, CSRF-checked forms, post/redirect/
//! get; JSON writes as `application/json` from our own origin). Sign-in
//! itself is skipped (`owner_browser`); `portal_sign_in` tests it.

use entity::enums::{Direction, MessageStatus, TenantStatus};
use entity::message_log;
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, NotSet, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Browser, Form, TestApp, csrf_of, datalist_of, decode_entities, error_near, eventually,
    flash_of, form, hours_form, id_of, input_has, input_value, is_checked, json_of, location,
    selected_option, spawn_app, spawn_app_with, textarea_text, with_field, without_field,
};

/// Open all week, so the bot answers whenever the test runs.
fn always_open() -> Value {
    let day = json!({"open": "00:00", "close": "24:00"});
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
}

/// The onboarding form as an owner fills it in.
fn request_form(number: &str, business: &str) -> Form {
    let mut fields = form(&[
        ("business_name", business),
        ("whatsapp_number", number),
        ("template_type", "BOOKING"),
        ("language", "en"),
        ("timezone", "UTC"),
        ("notes", "We open a second shop in May."),
    ]);
    fields.extend(hours_form(&always_open()));
    fields
}

/// Posts a portal form with the session's CSRF token.
async fn submit(browser: &Browser, path: &str, fields: &Form) -> reqwest::Response {
    let mut fields = fields.clone();
    fields.push(("csrf_token".to_owned(), browser.portal_csrf().await));
    browser.post_form(path, &fields).await
}

/// Sends the onboarding form; it must be accepted (303 to the status page).
async fn onboard(browser: &Browser, number: &str, business: &str) {
    let response = submit(
        browser,
        "/portal/onboarding",
        &request_form(number, business),
    )
    .await;
    let status = response.status();
    let to = response.headers().get("location").cloned();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::SEE_OTHER, "onboarding refused: {body}");
    assert_eq!(to.unwrap(), "/portal/status");
}

/// A JSON GET with the browser's portal session.
async fn get_json(browser: &Browser, path: &str) -> (StatusCode, Value) {
    json_of(browser.get(path).await).await
}

/// A JSON POST as the portal's own pages send it (same Origin).
async fn post_json(browser: &Browser, path: &str, body: &Value) -> (StatusCode, Value) {
    json_of(
        browser
            .portal_json(Method::POST, path, body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The tenant's setup requests as the admin API lists them.
async fn setup_requests_of(app: &TestApp, tenant: Uuid) -> Vec<Value> {
    let (status, body) = app.api_get("/api/admin/setup-requests?per_page=100").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["tenant_id"] == json!(tenant))
        .cloned()
        .collect()
}

/// An admin decides the tenant's latest setup request through the API
/// (`approve` or `reject`, with this note); it must succeed.
async fn decide_latest(app: &TestApp, tenant: Uuid, decision: &str, note: &str) {
    let request = id_of(&setup_requests_of(app, tenant).await[0]);
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{request}/{decision}"),
            &json!({ "note": note }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decision}: {body}");
}

async fn audit_events(app: &TestApp, tenant: Uuid) -> Vec<Value> {
    let (status, body) = app
        .api_get(&format!("/api/admin/audit?tenant_id={tenant}&per_page=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn outbox(app: &TestApp, id: Uuid) -> Vec<Value> {
    let (status, body) = app
        .api_get(&format!("/api/admin/tenants/{id}/sandbox/outbox"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

/// A customer's message to the sandbox bot; waits for its answer and
/// returns the texts the bot sent in reply.
async fn customer_says(app: &TestApp, id: Uuid, text: &str, msg_id: &str) -> Vec<String> {
    let before = outbox(app, id).await.len();
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({ "from": "+4917600000001", "text": text, "id": msg_id }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("the bot's answer", || async {
        let sent = outbox(app, id).await;
        (sent.len() > before).then(|| {
            sent[before..]
                .iter()
                .map(|m| m["text"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
    })
    .await
}

// ---- redirects and sign-in -------------------------------------------------

#[tokio::test]
async fn portal_sends_a_new_owner_to_onboarding_and_after_a_request_to_status() {
    let app = spawn_app().await;
    let (browser, _) = app.owner_browser("ana@example.com").await;

    let response = browser.get("/portal").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal/onboarding");
    let page = browser.page("/portal/onboarding").await;
    assert!(
        page.contains(r#"action="/portal/onboarding""#),
        "the form is offered"
    );
    assert_eq!(
        input_value(&page, "business_name").as_deref(),
        Some(""),
        "the business is not prefilled with the owner's own name"
    );

    onboard(&browser, "+4915100000001", "Salon Ana").await;
    let response = browser.get("/portal").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal/status");
}

#[tokio::test]
async fn signed_out_pages_redirect_to_google_sign_in_and_json_answers_401() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.get("/portal/status").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/auth/google/login?next=%2Fportal%2Fstatus"
    );

    let (status, body) = get_json(&browser, "/api/portal/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized", "{body}");
    assert!(body["request_id"].is_string(), "{body}");
}

#[tokio::test]
async fn a_portal_session_opens_neither_the_admin_console_nor_the_admin_api() {
    let app = spawn_app().await;
    let (browser, _) = app.owner_browser("ana@example.com").await;

    let response = browser.get("/admin").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/admin/login"));
    let (status, body) = get_json(&browser, "/api/admin/tenants").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = get_json(&browser, "/api/admin/setup-requests").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_home_page_invites_tenant_owners_to_sign_in_with_google() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Tenant owners: sign in with Google"),
        "{page}"
    );
    assert!(
        page.contains("Tenant sign-in is not set up yet"),
        "tests run without Google: the page says so"
    );
    assert!(
        !page.contains(r#"href="/auth/google/login""#),
        "and offers no sign-in button that cannot work: {page}"
    );

    let page = app.get("/?signed_out=1").await.text().await.unwrap();
    assert_eq!(
        flash_of(&page),
        Some(("info".to_owned(), "You are signed out.".to_owned()))
    );
}

#[tokio::test]
async fn the_admin_dashboard_explains_how_to_configure_google_sign_in_until_it_is() {
    let app = spawn_app().await;
    let admin = app.signed_in_browser().await;
    let page = admin.page("/admin").await;
    assert!(page.contains("Google sign-in is not configured"), "{page}");
    assert!(page.contains("FLOWHQ__GOOGLE__CLIENT_ID"));
    assert!(page.contains("FLOWHQ__GOOGLE__CLIENT_SECRET"));
    assert!(
        page.contains(&app.url("/auth/google/callback")),
        "the redirect URL of this instance: {page}"
    );

    let configured = spawn_app_with(|settings| {
        settings.google.client_id = "client-123".to_owned();
        settings.google.client_secret = Some("secret-456".to_owned().into());
    })
    .await;
    let admin = configured.signed_in_browser().await;
    let page = admin.page("/admin").await;
    assert!(!page.contains("Google sign-in is not configured"), "{page}");
    let home = configured.get("/").await.text().await.unwrap();
    assert!(!home.contains("Tenant sign-in is not set up yet"));
    assert!(
        home.contains(r#"href="/auth/google/login""#),
        "the home page offers Google sign-in once configured: {home}"
    );
}

// ---- onboarding ------------------------------------------------------------

#[tokio::test]
async fn the_onboarding_form_refuses_bad_input_next_to_each_field_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;

    let fields = request_form("0151 2345", "Salon Ana");
    let fields = with_field(fields, "timezone", "Mars/Olympus");
    let fields = with_field(fields, "hours_tue_open", "19:00");
    let fields = with_field(fields, "hours_tue_close", "09:00");
    let response = submit(&browser, "/portal/onboarding", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();

    let number_error = error_near(&page, "whatsapp_number").expect("an error at the number");
    assert!(
        number_error.starts_with("WhatsApp number "),
        "{number_error}"
    );
    assert!(
        number_error.contains("+"),
        "says the format: {number_error}"
    );
    assert_eq!(
        error_near(&page, "business_name"),
        None,
        "a valid field has no error"
    );
    assert!(error_near(&page, "timezone").is_some_and(|e| e.contains("Time zone")));
    assert!(
        error_near(&page, "hours_sun_open").is_some_and(|e| e.starts_with("Business hours: tue"))
    );
    assert_eq!(
        error_near(&page, "language"),
        None,
        "a valid field has no error"
    );
    assert_eq!(
        input_value(&page, "whatsapp_number").as_deref(),
        Some("0151 2345"),
        "what was typed is kept"
    );
    assert_eq!(
        input_value(&page, "timezone").as_deref(),
        Some("Mars/Olympus")
    );
    assert_eq!(
        input_value(&page, "hours_tue_open").as_deref(),
        Some("19:00")
    );
    assert_eq!(
        textarea_text(&page, "notes").as_deref(),
        Some("We open a second shop in May.")
    );
    assert_eq!(flash_of(&page).unwrap().0, "error");

    let blank_name = with_field(request_form("+4915100000001", "x"), "business_name", "   ");
    let response = submit(&browser, "/portal/onboarding", &blank_name).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert_eq!(
        error_near(&page, "business_name").as_deref(),
        Some("Business name is required"),
        "the admin form's message"
    );

    assert_eq!(
        app.tenant_status(user.tenant_id.into()).await,
        TenantStatus::New
    );
    assert!(
        setup_requests_of(&app, user.tenant_id.into())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn submitting_onboarding_makes_the_tenant_pending_with_its_request_config_and_audit_entry() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;

    let page = browser.page("/portal/onboarding").await;
    assert_eq!(
        selected_option(&page, "template_type").as_deref(),
        Some("SUPPORT"),
        "the form starts from the tenant's defaults"
    );
    onboard(&browser, "+49 151 0000 0002", "Salon Ana").await;

    let status_page = browser.page("/portal/status").await;
    let (kind, message) = flash_of(&status_page).expect("a flash after submitting");
    assert_eq!(kind, "success", "{message}");
    assert!(status_page.contains("waiting for review"), "{status_page}");

    assert_eq!(
        app.tenant_status(user.tenant_id.into()).await,
        TenantStatus::Pending
    );
    let requests = setup_requests_of(&app, user.tenant_id.into()).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request["status"], "SUBMITTED");
    assert_eq!(request["whatsapp_number"], "+4915100000002");
    assert_eq!(request["business_name"], "Salon Ana");
    assert_eq!(request["notes"], "We open a second shop in May.");
    assert_eq!(request["hours"]["sun"]["open"], "00:00");

    let tenant = app.tenant(user.tenant_id.into()).await;
    assert_eq!(
        tenant["phone_number"],
        Value::Null,
        "the number is the tenant's only once approved"
    );
    assert_eq!(tenant["config"]["business_name"], "Salon Ana");
    assert_eq!(tenant["config"]["template_type"], "BOOKING");
    assert_eq!(tenant["name"], "Salon Ana", "named after the business now");
    assert!(
        tenant["config"]["welcome_message"]
            .as_str()
            .unwrap()
            .starts_with("Hi! Welcome to Salon Ana."),
        "the sign-up's default welcome follows the requested business: {tenant}"
    );

    let events = audit_events(&app, user.tenant_id.into()).await;
    let submitted = events
        .iter()
        .find(|e| e["event_type"] == "setup_request.submitted")
        .unwrap_or_else(|| panic!("no audit entry: {events:?}"));
    assert_eq!(submitted["actor"], "user:ana@example.com");
}

#[tokio::test]
async fn a_welcome_message_the_owner_wrote_survives_the_setup_request() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ben@example.com").await;
    let mine = "Moin! Schreib uns einfach.";
    let mut settings = form(&[
        ("welcome_message", mine),
        ("auto_reply", "on"),
        ("template_type", "SUPPORT"),
        ("language", "de"),
        ("timezone", "UTC"),
    ]);
    settings.extend(hours_form(&always_open()));
    let response = submit(&browser, "/portal/settings", &settings).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    onboard(&browser, "+49 151 0000 0003", "Laden Ben").await;
    let tenant = app.tenant(user.tenant_id.into()).await;
    assert_eq!(tenant["config"]["business_name"], "Laden Ben");
    assert_eq!(tenant["config"]["welcome_message"], mine);
}

#[tokio::test]
async fn a_second_request_is_refused_while_the_first_waits_for_review() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    onboard(&browser, "+4915100000003", "Salon Ana").await;

    let page = browser.page("/portal/onboarding").await;
    assert!(page.contains("waiting for review"), "{page}");
    assert_eq!(
        input_value(&page, "business_name"),
        None,
        "no form while waiting"
    );

    let response = submit(
        &browser,
        "/portal/onboarding",
        &request_form("+4915100000003", "Salon Ana Again"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    let (kind, message) = flash_of(&page).expect("the refusal is shown on the page");
    assert_eq!(kind, "error");
    assert!(message.contains("already waiting"), "{message}");
    assert!(page.contains("waiting for review"));

    let (status, body) = post_json(
        &browser,
        "/api/portal/setup-request",
        &json!({"template_type": "BOOKING", "business_name": "Again",
                "whatsapp_number": "+4915100000003", "language": "en"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "conflict");
    assert_eq!(
        setup_requests_of(&app, user.tenant_id.into()).await.len(),
        1
    );
}

#[tokio::test]
async fn an_owner_cannot_learn_whose_number_is_whose_and_the_admin_cannot_approve_a_taken_one() {
    let app = spawn_app().await;
    let other = app.new_tenant(1).await;
    let taken = app.tenant(other).await["phone_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let (browser, user) = app.owner_browser("ana@example.com").await;

    // Taken or free, the owner's request is accepted alike.
    onboard(&browser, &taken, "Salon Ana").await;
    let status = browser.get("/portal/status").await.text().await.unwrap();
    assert!(!status.contains("already used"), "{status}");
    let tenant = user.tenant_id.into();
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::Pending);

    // The admin decides, and the number's owner is told there.
    let request = id_of(&setup_requests_of(&app, tenant).await[0]);
    let (code, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{request}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "phone_number_taken", "{body}");
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::Pending);
    assert_eq!(
        setup_requests_of(&app, tenant).await[0]["status"],
        "SUBMITTED"
    );
}

#[tokio::test]
async fn a_requested_number_is_reserved_only_when_an_admin_approves_it() {
    let app = spawn_app().await;
    let (ana, ana_user) = app.owner_browser("ana@example.com").await;
    let (ben, ben_user) = app.owner_browser("ben@example.com").await;
    let number = "+4915100000009";
    onboard(&ana, number, "Salon Ana").await;
    decide_latest(
        &app,
        ana_user.tenant_id.into(),
        "reject",
        "Not your number.",
    )
    .await;

    // A rejected (or merely waiting) request holds nothing: Ben may ask too.
    onboard(&ben, number, "Laden Ben").await;
    let bens = id_of(&setup_requests_of(&app, ben_user.tenant_id.into()).await[0]);
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{bens}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.tenant(ben_user.tenant_id.into()).await["phone_number"],
        number
    );
    assert_eq!(
        app.tenant(ana_user.tenant_id.into()).await["phone_number"],
        Value::Null
    );

    // Now it is Ben's: Ana may ask again (she is not told whose it is),
    // but the approval refuses it.
    onboard(&ana, number, "Salon Ana").await;
    let anas = id_of(&setup_requests_of(&app, ana_user.tenant_id.into()).await[0]);
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{anas}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn after_a_rejection_the_owner_reads_the_note_and_resubmits_a_prefilled_form() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    onboard(&browser, "+4915100000004", "Salon Ana").await;
    let tenant = user.tenant_id.into();
    decide_latest(&app, tenant, "reject", "Please use the shop's legal name.").await;

    let page = browser.page("/portal/status").await;
    assert!(
        page.contains("Please use the shop&#39;s legal name.")
            || page.contains("Please use the shop's legal name."),
        "{page}"
    );
    assert!(
        page.contains(r#"href="/portal/onboarding""#),
        "a way to resubmit"
    );
    let (_, json) = get_json(&browser, "/api/portal/tenant/current/status").await;
    assert_eq!(json["setup_request"]["status"], "REJECTED", "{json}");
    assert_eq!(
        json["setup_request"]["review_note"],
        "Please use the shop's legal name."
    );

    let page = browser.page("/portal/onboarding").await;
    assert!(page.contains("legal name"), "the note is above the form");
    assert_eq!(
        input_value(&page, "business_name").as_deref(),
        Some("Salon Ana")
    );
    assert_eq!(
        input_value(&page, "whatsapp_number").as_deref(),
        Some("+4915100000004")
    );
    assert_eq!(input_value(&page, "timezone").as_deref(), Some("UTC"));

    onboard(&browser, "+4915100000004", "Salon Ana GmbH").await;
    assert_eq!(
        app.tenant_status(user.tenant_id.into()).await,
        TenantStatus::Pending
    );
    let requests = setup_requests_of(&app, user.tenant_id.into()).await;
    assert_eq!(requests.len(), 2);
    let (_, latest) = get_json(&browser, "/api/portal/setup-request").await;
    assert_eq!(latest["status"], "SUBMITTED", "{latest}");
    assert_eq!(latest["business_name"], "Salon Ana GmbH");
}

// ---- form CSRF ---------------------------------------------------------------

#[tokio::test]
async fn portal_forms_without_the_sessions_csrf_token_are_refused() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;

    let response = browser
        .post_form(
            "/portal/onboarding",
            &request_form("+4915100000005", "Salon Ana"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("csrf_rejected"));

    let forged = with_field(
        request_form("+4915100000005", "Salon Ana"),
        "csrf_token",
        "forged",
    );
    let response = browser.post_form("/portal/onboarding", &forged).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let settings = form(&[("welcome_message", "Hacked"), ("language", "en")]);
    let response = browser.post_form("/portal/settings", &settings).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = browser.post_form("/auth/logout", &form(&[])).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "sign-out too");

    assert_eq!(
        app.tenant_status(user.tenant_id.into()).await,
        TenantStatus::New
    );
    assert_ne!(
        app.tenant(user.tenant_id.into()).await["config"]["welcome_message"],
        "Hacked"
    );
}

#[tokio::test]
async fn signing_out_from_the_portal_ends_the_session() {
    let app = spawn_app().await;
    let (browser, _) = app.owner_browser("ana@example.com").await;
    let page = browser.page("/portal/status").await;
    assert!(
        page.contains(r#"action="/auth/logout""#),
        "the nav has a sign-out form"
    );

    let response = submit(&browser, "/auth/logout", &form(&[])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser.get("/portal/status").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/auth/google/login"));
}

#[tokio::test]
async fn signing_out_of_an_expired_session_just_clears_the_cookie() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    let csrf = browser.portal_csrf().await;
    // The session ends elsewhere (expiry, another tab's sign-out).
    entity::web_session::Entity::delete_many()
        .filter(entity::web_session::Column::UserId.eq(user.id))
        .exec(app.db())
        .await
        .unwrap();

    let response = browser
        .post_form("/auth/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/?signed_out=1");
    assert_eq!(browser.portal_cookie(), None, "the stale cookie is gone");
}

// ---- status, QR, settings on a running bot -------------------------------------

#[tokio::test]
async fn settings_saved_in_the_portal_reach_the_running_bot_without_a_restart() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    let tenant = user.tenant_id;
    onboard(&browser, "+4915100000006", "Salon Ana").await;
    let (status, body) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{tenant}"),
            Some(&json!({ "response_delay_ms": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, latest) = get_json(&browser, "/api/portal/setup-request").await;
    let request = id_of(&latest);
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{request}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The QR code, live in the portal while a scan is awaited.
    let qr = eventually("a QR code in the portal", || async {
        let (_, qr) = get_json(&browser, "/api/portal/tenant/current/qr").await;
        (qr["state"] == "QR_READY").then_some(qr)
    })
    .await;
    let code = qr["qr"].as_str().unwrap();
    assert!(code.starts_with("data:image/"), "{qr}");
    assert!(qr["expires_at"].is_string(), "{qr}");
    let page = browser.page("/portal/status").await;
    assert!(
        !page.contains(r#"id="qr-panel" hidden"#),
        "the QR panel shows"
    );
    assert!(page.contains(r#"id="qr-img" src="data:image/"#), "{page}");
    assert!(
        page.contains("/static/portal.js"),
        "the page polls for new codes"
    );
    assert!(page.contains(r#"data-qr="/api/portal/tenant/current/qr""#));
    let script = app.get("/static/portal.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("getAttribute('data-qr')"),
        "the script polls where the page says"
    );

    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{tenant}/sandbox/scan"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let live = eventually("the tenant ACTIVE", || async {
        let (_, live) = get_json(&browser, "/api/portal/tenant/current/status").await;
        (live["tenant"]["status"] == "ACTIVE").then_some(live)
    })
    .await;
    assert_eq!(live["session"]["state"], "CONNECTED", "{live}");
    assert_eq!(live["session"]["linked_phone"], "+4915100000006");
    let (_, qr) = get_json(&browser, "/api/portal/tenant/current/qr").await;
    assert_eq!(qr["qr"], Value::Null, "no code once linked: {qr}");
    let page = browser.page("/portal/status").await;
    assert!(
        page.contains(r#"id="qr-panel" hidden"#),
        "the QR panel is gone"
    );
    assert!(page.contains("+4915100000006"), "the linked phone shows");

    let stored = app.tenant(tenant.into()).await["config"]["welcome_message"].clone();
    let before = customer_says(&app, tenant.into(), "hi", "m-1").await;
    assert_eq!(
        json!(before),
        json!([stored]),
        "the stored welcome before the change"
    );

    let page = browser.page("/portal/settings").await;
    let mut fields = form(&[
        ("csrf_token", &csrf_of(&page)),
        (
            "welcome_message",
            "Willkommen bei Ana! Fragen Sie nach Terminen.",
        ),
        ("auto_reply", "on"),
        ("template_type", "BOOKING"),
        ("language", "de"),
        ("timezone", "UTC"),
    ]);
    fields.extend(hours_form(&always_open()));
    let response = browser.post_form("/portal/settings", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal/settings");
    let page = browser.page("/portal/settings").await;
    assert_eq!(flash_of(&page).unwrap().0, "success");
    assert_eq!(
        textarea_text(&page, "welcome_message").as_deref(),
        Some("Willkommen bei Ana! Fragen Sie nach Terminen.")
    );
    assert_eq!(selected_option(&page, "language").as_deref(), Some("de"));
    assert!(is_checked(&page, "auto_reply"));

    let after = customer_says(&app, tenant.into(), "hallo", "m-2").await;
    assert_eq!(after, ["Willkommen bei Ana! Fragen Sie nach Terminen."]);
    let (_, live) = get_json(&browser, "/api/portal/tenant/current/status").await;
    assert_eq!(live["worker"]["restart_count"], 0, "no restart: {live}");
    assert_eq!(live["worker"]["status"], "RUNNING");
    assert_eq!(live["session"]["state"], "CONNECTED", "still linked");
    let events = audit_events(&app, tenant.into()).await;
    assert!(
        events
            .iter()
            .any(|e| e["event_type"] == "tenant.updated" && e["actor"] == "user:ana@example.com"),
        "{events:?}"
    );

    // The conversation is in the owner's log, newest first.
    let logs = browser.page("/portal/logs").await;
    let newest = logs
        .find("Willkommen bei Ana")
        .expect("the reply is logged");
    let oldest = logs.find(">hi<").expect("the first message is logged");
    assert!(newest < oldest, "newest first");
}

#[tokio::test]
async fn the_settings_form_refuses_bad_input_next_to_each_field_and_saves_nothing() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    let before = app.tenant(user.tenant_id.into()).await["config"].clone();

    let page = browser.page("/portal/settings").await;
    let mut fields = form(&[
        ("csrf_token", &csrf_of(&page)),
        ("welcome_message", "  "),
        ("template_type", "BOOKING"),
        ("language", "en"),
        ("timezone", "Europe/Nowhere"),
    ]);
    fields.extend(hours_form(&always_open()));
    let fields = without_field(fields, "hours_wed_close");
    let response = browser.post_form("/portal/settings", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert_eq!(
        error_near(&page, "welcome_message").as_deref(),
        Some("Welcome message is required")
    );
    assert_eq!(error_near(&page, "template_type"), None);
    assert!(error_near(&page, "timezone").is_some());
    assert!(
        error_near(&page, "hours_sun_open").is_some_and(|e| e.starts_with("Business hours: wed"))
    );
    assert_eq!(
        input_value(&page, "timezone").as_deref(),
        Some("Europe/Nowhere")
    );
    assert!(
        !is_checked(&page, "auto_reply"),
        "the unticked box stays unticked"
    );

    let page = browser.page("/portal/settings").await;
    let fields = form(&[
        ("csrf_token", &csrf_of(&page)),
        ("welcome_message", "Hello!"),
        ("template_type", "WEATHER"),
        ("language", "en"),
    ]);
    let response = browser.post_form("/portal/settings", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(error_near(&page, "template_type").is_some_and(|e| e.contains("BOOKING")));

    assert_eq!(
        app.tenant(user.tenant_id.into()).await["config"],
        before,
        "nothing saved"
    );
}

// ---- logs ----------------------------------------------------------------------

async fn log_message(app: &TestApp, tenant: Uuid, n: i64, text: &str) {
    message_log::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant),
        direction: Set(Direction::In),
        chat_id: Set("+4917600000009".to_owned()),
        sender: Set("+4917600000009".to_owned()),
        recipient: Set("+4915100000007".to_owned()),
        text: Set(text.to_owned()),
        wa_message_id: Set(Some(format!("wa-{tenant}-{n}"))),
        status: Set(MessageStatus::Answered),
        error: Set(None),
        created_at: Set(chrono::Utc::now() - chrono::Duration::minutes(100 - n)),
        author: Set(None),
        kind: Set(entity::enums::MessageKind::Text),
    }
    .insert(app.db())
    .await
    .unwrap();
}

#[tokio::test]
async fn the_logs_page_shows_the_owners_messages_newest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    let stranger = app.new_tenant(2).await;
    for n in 1..=30 {
        log_message(
            &app,
            user.tenant_id.into(),
            n,
            &format!("question number {n:02}"),
        )
        .await;
    }
    log_message(&app, stranger, 99, "another tenant's secret").await;

    let page = browser.page("/portal/logs").await;
    assert!(
        page.contains("question number 30"),
        "the newest is on page 1"
    );
    assert!(
        !page.contains("question number 05"),
        "the oldest are on page 2"
    );
    let newest = page.find("question number 30").unwrap();
    let older = page.find("question number 29").unwrap();
    assert!(newest < older, "newest first");
    assert!(page.contains("30 in all"), "{page}");
    assert!(
        page.contains(r#"href="/portal/logs?page=2&amp;per_page=25""#),
        "{page}"
    );
    assert!(
        !page.contains("another tenant"),
        "only the owner's own messages"
    );

    let page = browser.page("/portal/logs?page=2").await;
    assert!(page.contains("question number 01"));
    assert!(!page.contains("question number 30"));

    let (status, body) = get_json(
        &browser,
        &format!("/api/portal/tenant/current/logs?page=1&per_page=10&tenant_id={stranger}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["total"], 30,
        "a tenant_id parameter is ignored: {body}"
    );
    assert_eq!(body["per_page"], 10);
    assert_eq!(body["page"], 1);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(items[0]["text"], "question number 30");
    assert_eq!(items[0]["direction"], "IN");
}

// ---- JSON twins ------------------------------------------------------------------

#[tokio::test]
async fn the_json_twins_describe_the_owners_own_tenant() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;

    let (status, me) = get_json(&browser, "/api/portal/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["id"], json!(user.id));
    assert_eq!(me["user"]["email"], "ana@example.com");
    assert_eq!(me["user"]["name"], "Owner ana@example.com");
    assert_eq!(me["user"]["role"], "OWNER");
    assert_eq!(me["tenant"]["id"], json!(user.tenant_id));
    assert_eq!(me["tenant"]["status"], "NEW");
    assert!(me["tenant"]["name"].is_string());

    let (status, none) = get_json(&browser, "/api/portal/setup-request").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none, Value::Null, "no request yet");

    let (status, live) = get_json(&browser, "/api/portal/tenant/current/status").await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(live["tenant"]["status"], "NEW");
    assert_eq!(live["setup_request"], Value::Null);
    assert_eq!(live["worker"]["status"], "STOPPED");
    assert_eq!(live["worker"]["restart_count"], 0);
    assert_eq!(live["worker"]["last_error"], Value::Null);
    assert_eq!(live["worker"]["stale"], false);
    assert_eq!(live["session"]["state"], "DISCONNECTED");
    assert_eq!(live["session"]["linked_phone"], Value::Null);
    assert!(
        live["session"].get("session_data").is_none() && live["session"].get("last_qr").is_none(),
        "only the view's fields: {live}"
    );

    let (status, qr) = get_json(&browser, "/api/portal/tenant/current/qr").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        qr,
        json!({"state": "DISCONNECTED", "qr": null, "expires_at": null})
    );

    let body = json!({
        "template_type": "ECOMMERCE",
        "business_name": "Ana's Shop",
        "whatsapp_number": "+4915100000008",
        "language": "es",
        "timezone": "Europe/Madrid",
        "hours": always_open(),
        "notes": "Hola",
        "tenant_id": Uuid::new_v4(),
    });
    let (status, created) = post_json(&browser, "/api/portal/setup-request", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "SUBMITTED");
    assert_eq!(created["template_type"], "ECOMMERCE");
    assert_eq!(created["whatsapp_number"], "+4915100000008");
    assert_eq!(created["timezone"], "Europe/Madrid");
    assert!(created.get("reviewed_by").is_none(), "{created}");
    assert_eq!(
        app.tenant_status(user.tenant_id.into()).await,
        TenantStatus::Pending,
        "the session's tenant, whatever tenant_id said"
    );

    let (_, latest) = get_json(&browser, "/api/portal/setup-request").await;
    assert_eq!(latest["id"], created["id"]);
    let (_, live) = get_json(&browser, "/api/portal/tenant/current/status").await;
    assert_eq!(live["tenant"]["status"], "PENDING");
    assert_eq!(live["setup_request"]["status"], "SUBMITTED");
}

#[tokio::test]
async fn a_json_setup_request_with_bad_fields_is_a_422_naming_each_field() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    let (status, body) = post_json(
        &browser,
        "/api/portal/setup-request",
        &json!({"template_type": "WEATHER", "business_name": "",
                "whatsapp_number": "12", "language": "xx",
                "hours": {"mon": {"open": "25:00", "close": "18:00"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "validation_failed");
    for field in [
        "template_type",
        "business_name",
        "whatsapp_number",
        "language",
        "hours",
    ] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
    assert!(body["fields"].get("name").is_none(), "{body}");
    assert!(body["fields"].get("phone_number").is_none(), "{body}");
    assert_eq!(
        app.tenant_status(user.tenant_id.into()).await,
        TenantStatus::New
    );
}

#[tokio::test]
async fn json_writes_that_are_not_json_or_come_from_another_site_are_refused() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    let body = json!({"template_type": "BOOKING", "business_name": "Salon Ana",
                      "whatsapp_number": "+4915100000010", "language": "en"});
    let url = browser.url("/api/portal/setup-request");

    let as_text = browser
        .client
        .post(&url)
        .header(CONTENT_TYPE, "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(as_text).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"], "csrf_rejected");

    let as_form = browser
        .client
        .post(&url)
        .form(&[("business_name", "Salon Ana")])
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(as_form).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"], "csrf_rejected");

    let foreign = browser
        .client
        .post(&url)
        .header(ORIGIN, "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(foreign).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"], "csrf_rejected");

    let cross_site = browser
        .client
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        app.tenant_status(user.tenant_id.into()).await,
        TenantStatus::New
    );
    assert!(
        setup_requests_of(&app, user.tenant_id.into())
            .await
            .is_empty()
    );

    let (status, answer) = post_json(&browser, "/api/portal/setup-request", &body).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the same request from our own page: {answer}"
    );
}

#[tokio::test]
async fn owners_read_why_a_message_failed_in_plain_words_not_the_raw_cause() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("ana@example.com").await;
    let raw = "reply not sent: sandbox transport: connection reset by peer (node-7f3a)";
    message_log::ActiveModel {
        id: NotSet,
        tenant_id: Set(user.tenant_id.into()),
        direction: Set(Direction::In),
        chat_id: Set("+4917600000009".to_owned()),
        sender: Set("+4917600000009".to_owned()),
        recipient: Set("+4915100000007".to_owned()),
        text: Set("Hallo?".to_owned()),
        wa_message_id: Set(Some("wa-failed".to_owned())),
        status: Set(MessageStatus::Failed),
        error: Set(Some(raw.to_owned())),
        created_at: Set(chrono::Utc::now()),
        author: Set(None),
        kind: Set(entity::enums::MessageKind::Text),
    }
    .insert(app.db())
    .await
    .unwrap();

    let (status, json) = get_json(&browser, "/api/portal/tenant/current/logs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["items"][0]["error"], "The reply could not be sent.");
    let page = browser.page("/portal/logs").await;
    assert!(page.contains("The reply could not be sent."), "{page}");
    assert!(!page.contains("node-7f3a") && !json.to_string().contains("node-7f3a"));

    // The admins still see the cause.
    let (_, admin) = app
        .api_get(&format!("/api/admin/tenants/{}/logs", user.tenant_id))
        .await;
    assert_eq!(admin["items"][0]["error"], raw);
}

/// The owner links the sandbox alone: "Simulate the scan" while a code
/// shows; when the codes ran out, "Show a new QR code" (audited as theirs,
/// limited per tenant) and a scan again.
#[tokio::test]
async fn an_owner_whose_codes_ran_out_gets_a_new_one_and_links_the_sandbox_alone() {
    let app = spawn_app_with(|settings| {
        // One code per round, long enough to be scanned on a busy machine.
        settings.bots.qr_first_ttl = std::time::Duration::from_millis(1500);
        settings.bots.qr_max_codes = std::num::NonZeroU32::new(1).unwrap();
    })
    .await;
    let (browser, user) = app.owner_browser("lea@example.com").await;
    let tenant = user.tenant_id;
    onboard(&browser, "+4915100000041", "Studio Lea").await;
    let (_, latest) = get_json(&browser, "/api/portal/setup-request").await;
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{}/approve", id_of(&latest)),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The one code expires unscanned: the bot stops in ERROR.
    eventually("the bot in ERROR", || async {
        (app.tenant_status(tenant.into()).await == TenantStatus::Error).then_some(())
    })
    .await;
    let page = browser.page("/portal/status").await;
    assert!(page.contains("Show a new QR code"), "{page}");
    assert!(!page.contains("Simulate the scan"), "no code to scan now");
    assert!(page.contains("Choose “Show a new QR code”"), "{page}");

    let response = submit(&browser, "/portal/status/new-code", &form(&[])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // The session row may say QR_READY while the code itself is not (yet,
    // or any more) there to show: wait for both.
    eventually("a new code on the status page", || async {
        let page = browser.page("/portal/status").await;
        (page.contains("Simulate the scan") && page.contains(r#"id="qr-img" src="data:image/"#))
            .then_some(())
    })
    .await;
    let response = submit(&browser, "/portal/status/sandbox-scan", &form(&[])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    eventually("the tenant ACTIVE", || async {
        (app.tenant_status(tenant.into()).await == TenantStatus::Active).then_some(())
    })
    .await;
    let events = audit_events(&app, tenant.into()).await;
    let restart = events
        .iter()
        .find(|e| e["event_type"] == "bot.force_restarted")
        .expect("the owner's restart is audited");
    assert_eq!(restart["actor"], "user:lea@example.com");

    // Linked now: nothing to renew.
    let (status, body) = post_json(
        &browser,
        "/api/portal/tenant/current/bot/new-code",
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn an_owner_may_ask_for_a_few_new_codes_in_a_row_then_waits() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("max@example.com").await;
    onboard(&browser, "+4915100000042", "Studio Max").await;
    let tenant = user.tenant_id;
    let mut asked = 0;
    let refused = loop {
        // Back into ERROR by hand: only the limit may refuse now.
        app.set_tenant_status(tenant.into(), TenantStatus::Error)
            .await;
        let (status, body) = post_json(
            &browser,
            "/api/portal/tenant/current/bot/new-code",
            &json!({}),
        )
        .await;
        if status != StatusCode::OK {
            break (status, body);
        }
        asked += 1;
        assert!(asked <= 3, "more than three new codes in a row");
    };
    assert_eq!(asked, 3);
    assert_eq!(refused.0, StatusCode::TOO_MANY_REQUESTS, "{}", refused.1);
    assert_eq!(refused.1["error"], "rate_limited");
}

/// The `data-key` the status page was rendered with.
fn page_key_of(html: &str) -> String {
    let start = html
        .find(r#"data-key=""#)
        .expect("the status page has a key")
        + 10;
    decode_entities(&html[start..start + html[start..].find('"').unwrap()])
}

#[tokio::test]
async fn the_live_status_names_the_same_page_key_as_the_status_page_in_every_state() {
    let app = spawn_app().await;
    let (browser, user) = app.owner_browser("kim@example.com").await;
    let tenant: Uuid = user.tenant_id.into();
    let keys = || async {
        let page = page_key_of(&browser.page("/portal/status").await);
        let (_, live) = get_json(&browser, "/api/portal/tenant/current/status").await;
        (
            page,
            live["page_key"].as_str().unwrap_or_default().to_owned(),
        )
    };

    let (new_page, new_live) = keys().await;
    assert_eq!(new_live, new_page, "a NEW tenant");
    onboard(&browser, "+4915100000031", "Kim's Studio").await;
    let (pending_page, pending_live) = keys().await;
    assert_eq!(pending_live, pending_page, "a PENDING tenant");
    assert_ne!(pending_page, new_page, "another state, another key");
    decide_latest(&app, tenant, "reject", "Which number?").await;
    let (rejected_page, rejected_live) = keys().await;
    assert_eq!(rejected_live, rejected_page, "a rejected request");
    assert_ne!(rejected_page, pending_page);
}

/// The stylesheet the pages link to.
async fn stylesheet(app: &TestApp, page: &str) -> String {
    let start = page
        .find("/static/app.css?v=")
        .expect("the page links app.css");
    let href = &page[start..start + page[start..].find('"').unwrap()];
    app.get(href).await.text().await.unwrap()
}

#[tokio::test]
async fn a_multi_line_message_is_rendered_in_elements_that_keep_its_line_breaks() {
    let app = spawn_app().await;
    let (owner, user) = app.owner_browser("lin@example.com").await;
    let tenant: Uuid = user.tenant_id.into();
    let text = "Our opening hours:\nMonday: 09:00–18:00\nTuesday: closed";
    log_message(&app, tenant, 1, text).await;
    let admin = app.signed_in_browser().await;

    let logs = owner.page("/portal/logs").await;
    assert!(
        logs.contains(&format!(r#"<td class="m-text">{text}</td>"#)),
        "{logs}"
    );
    let detail = admin.page(&format!("/admin/tenants/{tenant}")).await;
    assert!(
        detail.contains(&format!(r#"<td class="m-text">{text}</td>"#)),
        "Recent messages: {detail}"
    );
    assert!(
        detail.contains(&format!(r#"<span class="msg-text">{text}</span>"#)),
        "the sandbox chat: {detail}"
    );
    let css = stylesheet(&app, &detail).await;
    assert!(
        css.contains(".m-text, .msg-text { white-space: pre-line; }"),
        "both keep line breaks"
    );
}

#[tokio::test]
async fn only_a_first_setup_request_still_on_the_default_zone_may_take_the_browsers() {
    let app = spawn_app().await;
    let (ann, _) = app.owner_browser("ann@example.com").await;
    let onboarding = ann.page("/portal/onboarding").await;
    assert_eq!(
        datalist_of(&onboarding, "timezone").len(),
        chrono_tz::TZ_VARIANTS.len()
    );
    assert_eq!(input_value(&onboarding, "timezone").as_deref(), Some("UTC"));
    assert!(input_has(&onboarding, "timezone", "data-browser-zone"));
    assert!(onboarding.contains("/static/zone.js?v="));
    let settings = ann.page("/portal/settings").await;
    assert!(!datalist_of(&settings, "timezone").is_empty());
    assert!(
        !input_has(&settings, "timezone", "data-browser-zone"),
        "settings are stored"
    );

    // A zone an admin set before the first request is a choice: it stays.
    let (ben, ben_user) = app.owner_browser("ben@example.com").await;
    let (status, body) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{}", ben_user.tenant_id),
            Some(&json!({ "timezone": "Europe/Vienna" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let onboarding = ben.page("/portal/onboarding").await;
    assert_eq!(
        input_value(&onboarding, "timezone").as_deref(),
        Some("Europe/Vienna")
    );
    assert!(!input_has(&onboarding, "timezone", "data-browser-zone"));

    // So does the zone of a rejected request the owner sends again.
    onboard(&ben, "+4915100000032", "Ben's Bakery").await;
    decide_latest(&app, ben_user.tenant_id.into(), "reject", "Which city?").await;
    let again = ben.page("/portal/onboarding").await;
    assert_eq!(input_value(&again, "timezone").as_deref(), Some("UTC"));
    assert!(
        !input_has(&again, "timezone", "data-browser-zone"),
        "a sent request's zone"
    );
}
