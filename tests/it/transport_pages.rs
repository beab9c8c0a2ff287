//! Choosing a tenant's transport in the admin console and the portal (the
//! HTML forms, not the JSON API): what the pages show of a Cloud API set-up
//! (the token's hint and the webhook URL, never a secret), refused forms
//! keeping what was typed, linking WhatsApp Web by phone number, the
//! pairing code shown instead of the QR code, an owner's plain words for a
//! rejected token, and owners kept to their own tenant.

use chrono::Utc;
use entity::enums::{SessionState, TransportKind, WorkerStatus};
use entity::{tenant_config, whatsapp_session, worker_process};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{
    Browser, Form, TestApp, csrf_of, error_near, flash_of, form, input_value, json_of, location,
    spawn_app,
};

const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAG-test-access-token-7Q2Z";
const APP_SECRET: &str = "app-secret-4f1c2b";
const VERIFY_TOKEN: &str = "verify-me-81d3";

fn cloud_form() -> Form {
    form(&[
        ("kind", "cloud_api"),
        ("phone_number_id", PHONE_NUMBER_ID),
        ("access_token", TOKEN),
        ("app_secret", APP_SECRET),
        ("verify_token", VERIFY_TOKEN),
    ])
}

fn tenant_page(id: Uuid) -> String {
    format!("/admin/tenants/{id}")
}

/// Posts a console form of the tenant page with the CSRF token the page carries.
async fn admin_submit(browser: &Browser, id: Uuid, path: &str, fields: &Form) -> reqwest::Response {
    let mut fields = fields.clone();
    fields.push((
        "csrf_token".to_owned(),
        csrf_of(&browser.page(&tenant_page(id)).await),
    ));
    browser.post_form(path, &fields).await
}

/// Posts a portal form with the session's CSRF token.
async fn portal_submit(browser: &Browser, path: &str, fields: &Form) -> reqwest::Response {
    let mut fields = fields.clone();
    fields.push(("csrf_token".to_owned(), browser.portal_csrf().await));
    browser.post_form(path, &fields).await
}

/// The transport as the JSON API reports it.
async fn transport_of(app: &TestApp, id: Uuid) -> Value {
    let (status, body) = app
        .api_get(&format!("/api/admin/tenants/{id}/transport"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["transport"].clone()
}

async fn kind_in_db(app: &TestApp, id: Uuid) -> TransportKind {
    tenant_config::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .transport
}

/// The value of the checked radio button named `name` (maud writes
/// `name="…" value="…" checked`, in that order).
fn checked_radio(html: &str, name: &str) -> Option<String> {
    html.split("<input").find_map(|tag| {
        let tag = &tag[..tag.find('>')?];
        if !tag.contains(&format!(r#"name="{name}""#)) || !tag.contains(" checked") {
            return None;
        }
        let value = &tag[tag.find(r#"value=""#)? + 7..];
        Some(value[..value.find('"')?].to_owned())
    })
}

/// The text of the element with `id` (up to its first child tag's end).
fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!(r#"id="{id}""#))?;
    let body = &html[at..];
    let body = &body[body.find('>')? + 1..];
    Some(body[..body.find('<')?].to_owned())
}

/// A WhatsApp Web tenant whose session waits for the pairing code `code`
/// to be typed, as the runtime records it (no QR code meanwhile).
async fn awaiting_pairing_code(app: &TestApp, id: Uuid, code: &str) {
    tenant_config::ActiveModel {
        tenant_id: Set(id),
        transport: Set(TransportKind::WhatsappWeb),
        ..Default::default()
    }
    .update(app.db())
    .await
    .unwrap();
    whatsapp_session::ActiveModel {
        tenant_id: Set(id),
        state: Set(SessionState::QrReady),
        last_qr: Set(None),
        pairing_phone: Set(Some("+4915112345678".to_owned())),
        pairing_code: Set(Some(code.to_owned())),
        qr_expires_at: Set(Some(Utc::now() + chrono::Duration::seconds(160))),
        ..Default::default()
    }
    .update(app.db())
    .await
    .unwrap();
}

fn assert_no_secret(text: &str) {
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(!text.contains(secret), "a secret leaked: {secret}");
    }
}

#[tokio::test]
async fn admin_sets_the_cloud_api_through_the_form_and_sees_the_hint_and_webhook_url_but_no_secret()
{
    let app = spawn_app().await;
    let id = app.new_tenant(1).await;
    let browser = app.signed_in_browser().await;

    let page = browser.page(&tenant_page(id)).await;
    assert!(
        page.contains("<strong>Sandbox (test mode)</strong>"),
        "the current transport in words"
    );
    assert_eq!(checked_radio(&page, "kind").as_deref(), Some("sandbox"));

    let response = admin_submit(
        &browser,
        id,
        &format!("/admin/tenants/{id}/transport"),
        &cloud_form(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), tenant_page(id));

    let page = browser.page(&tenant_page(id)).await;
    let (kind, flash) = flash_of(&page).unwrap();
    assert_eq!(kind, "success");
    assert!(flash.contains("WhatsApp Cloud API"), "{flash}");
    assert!(page.contains("<strong>WhatsApp Cloud API</strong>"));
    assert_eq!(text_of(&page, "token-hint").as_deref(), Some("…7Q2Z"));
    let webhook = flowhq::urls::webhook_url(&app.state.public_url, id.into());
    assert_eq!(
        text_of(&page, "webhook-url").as_deref(),
        Some(webhook.as_str())
    );
    assert!(
        page.contains("WhatsApp → Configuration"),
        "where the URL goes at Meta"
    );
    assert_eq!(checked_radio(&page, "kind").as_deref(), Some("cloud_api"));
    assert_eq!(
        input_value(&page, "phone_number_id").as_deref(),
        Some(PHONE_NUMBER_ID)
    );
    for secret in ["access_token", "app_secret", "verify_token"] {
        assert_eq!(input_value(&page, secret).as_deref(), Some(""), "{secret}");
    }
    assert!(page.contains(r#"placeholder="stored — leave empty to keep""#));
    assert_no_secret(&page);

    let stored = transport_of(&app, id).await;
    assert_eq!(stored["kind"], "cloud_api");
    assert_eq!(stored["phone_number_id"], PHONE_NUMBER_ID);
    assert_eq!(stored["credentials_stored"], true);

    // Saving again with the secrets left empty keeps them.
    let keep = form(&[
        ("kind", "cloud_api"),
        ("phone_number_id", "999000111"),
        ("access_token", ""),
        ("app_secret", ""),
        ("verify_token", ""),
    ]);
    let response = admin_submit(
        &browser,
        id,
        &format!("/admin/tenants/{id}/transport"),
        &keep,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let stored = transport_of(&app, id).await;
    assert_eq!(stored["phone_number_id"], "999000111");
    assert_eq!(stored["access_token_hint"], "…7Q2Z");
}

#[tokio::test]
async fn a_refused_transport_form_keeps_what_was_typed_except_secrets_and_says_why_per_field() {
    let app = spawn_app().await;
    let id = app.new_tenant(2).await;
    let browser = app.signed_in_browser().await;
    let typed = form(&[
        ("kind", "cloud_api"),
        ("phone_number_id", "+49 151 1234"),
        ("access_token", TOKEN),
        ("app_secret", ""),
        ("verify_token", ""),
    ]);
    let response = admin_submit(
        &browser,
        id,
        &format!("/admin/tenants/{id}/transport"),
        &typed,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();

    assert_eq!(flash_of(&page).unwrap().0, "error");
    assert_eq!(checked_radio(&page, "kind").as_deref(), Some("cloud_api"));
    assert_eq!(
        input_value(&page, "phone_number_id").as_deref(),
        Some("+49 151 1234")
    );
    assert!(
        error_near(&page, "phone_number_id")
            .unwrap()
            .contains("digits only"),
        "{page}"
    );
    assert_eq!(
        error_near(&page, "app_secret").as_deref(),
        Some("This is required.")
    );
    assert_eq!(
        error_near(&page, "verify_token").as_deref(),
        Some("This is required.")
    );
    assert!(
        !page.contains(r#"id="access_token-error""#),
        "the token was given"
    );
    assert_eq!(input_value(&page, "access_token").as_deref(), Some(""));
    assert_no_secret(&page);
    assert_eq!(kind_in_db(&app, id).await, TransportKind::Sandbox);

    // An unknown transport is refused next to the choice.
    let response = admin_submit(
        &browser,
        id,
        &format!("/admin/tenants/{id}/transport"),
        &form(&[("kind", "telegram")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"id="kind-error""#), "{page}");
}

#[tokio::test]
async fn linking_whatsapp_web_by_phone_number_stores_the_number_and_a_qr_code_can_come_back() {
    let app = spawn_app().await;
    let id = app.new_tenant(3).await;
    let browser = app.signed_in_browser().await;
    let transport = format!("/admin/tenants/{id}/transport");
    let pairing = format!("/admin/tenants/{id}/pairing");

    // Only WhatsApp Web links by phone number.
    let page = browser.page(&tenant_page(id)).await;
    assert!(!page.contains(&format!(r#"action="{pairing}""#)));
    let response = admin_submit(
        &browser,
        id,
        &pairing,
        &form(&[("phone", "+4915112345678")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        flash_of(&browser.page(&tenant_page(id)).await).unwrap().0,
        "error"
    );
    assert_eq!(transport_of(&app, id).await["pairing_phone"], Value::Null);

    let response = admin_submit(&browser, id, &transport, &form(&[("kind", "whatsapp_web")])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(kind_in_db(&app, id).await, TransportKind::WhatsappWeb);
    let page = browser.page(&tenant_page(id)).await;
    assert!(
        page.contains(&format!(r#"action="{pairing}""#)),
        "the pairing form"
    );
    assert!(!page.contains("Use a QR code instead"));

    let response = admin_submit(&browser, id, &pairing, &form(&[("phone", "0151 1234")])).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(
        error_near(&page, "phone")
            .unwrap()
            .contains("international format"),
        "{page}"
    );
    assert_eq!(input_value(&page, "phone").as_deref(), Some("0151 1234"));

    let response = admin_submit(
        &browser,
        id,
        &pairing,
        &form(&[("phone", "+49 151 1234 5678")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        transport_of(&app, id).await["pairing_phone"],
        "+4915112345678"
    );
    let page = browser.page(&tenant_page(id)).await;
    assert_eq!(flash_of(&page).unwrap().0, "success");
    assert!(page.contains("a pairing code typed on +4915112345678"));
    assert!(page.contains("Use a QR code instead"));

    let response = admin_submit(&browser, id, &pairing, &form(&[("use_qr", "1")])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(transport_of(&app, id).await["pairing_phone"], Value::Null);
}

#[tokio::test]
async fn a_pairing_code_is_shown_instead_of_the_qr_code_in_console_and_portal() {
    let app = spawn_app().await;
    let (owner, user) = app.owner_browser("pairing@example.com").await;
    let id = user.tenant_id;
    awaiting_pairing_code(&app, id.into(), "ABCD2345").await;

    let admin = app.signed_in_browser().await;
    let page = admin.page(&tenant_page(id.into())).await;
    assert!(!page.contains(r#"id="qr-panel" hidden"#), "the panel shows");
    assert_eq!(text_of(&page, "pairing-code").as_deref(), Some("ABCD-2345"));
    assert!(page.contains(r#"id="qr-pairing""#));
    assert!(!page.contains(r#"id="qr-pairing" hidden"#));
    assert!(
        page.contains(
            r#"<img id="qr-img" alt="QR code to link WhatsApp" width="256" height="256" hidden>"#
        ),
        "{page}"
    );
    assert!(page.contains("Link with phone number instead"));
    assert!(
        !page.contains("Simulate scan"),
        "no sandbox scan for a code"
    );
    let (_, live) = json_of(admin.get(&format!("/admin/tenants/{id}/live")).await).await;
    assert_eq!(live["pairing_code"], "ABCD2345");
    assert_eq!(live["qr"], Value::Null);

    let page = owner.page("/portal/status").await;
    assert!(!page.contains(r#"id="qr-panel" hidden"#));
    assert_eq!(text_of(&page, "pairing-code").as_deref(), Some("ABCD-2345"));
    assert!(!page.contains(r#"id="qr-img" src="#));
    let (_, qr) = json_of(owner.get("/api/portal/tenant/current/qr").await).await;
    assert_eq!(qr["pairing_code"], "ABCD2345");
    assert_eq!(qr["qr"], Value::Null);
    assert!(qr["expires_at"].is_string());
    let (_, status) = json_of(owner.get("/api/portal/tenant/current/status").await).await;
    assert_eq!(status["transport"]["link"], "awaiting_pairing_code");
    assert_eq!(status["transport"]["pairing_by_phone"], true);
}

#[tokio::test]
async fn an_owner_chooses_the_cloud_api_and_reads_a_rejected_token_in_plain_words() {
    let app = spawn_app().await;
    let (owner, user) = app.owner_browser("cloud-owner@example.com").await;
    let id = user.tenant_id;

    let page = owner.page("/portal/settings").await;
    assert!(page.contains("WhatsApp connection"));
    assert!(page.contains(r#"action="/portal/settings/transport""#));
    let response = portal_submit(&owner, "/portal/settings/transport", &cloud_form()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal/settings");
    let page = owner.page("/portal/settings").await;
    assert_eq!(flash_of(&page).unwrap().0, "success");
    assert_eq!(text_of(&page, "token-hint").as_deref(), Some("…7Q2Z"));
    assert!(page.contains(&format!("/webhooks/whatsapp/{id}")));
    assert_no_secret(&page);
    assert_eq!(kind_in_db(&app, id.into()).await, TransportKind::CloudApi);

    // A refused form comes back on the settings page, typed id kept.
    let response = portal_submit(
        &owner,
        "/portal/settings/transport",
        &form(&[("kind", "cloud_api"), ("phone_number_id", "abc")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert_eq!(
        input_value(&page, "phone_number_id").as_deref(),
        Some("abc")
    );
    assert!(error_near(&page, "phone_number_id").is_some(), "{page}");

    worker_process::ActiveModel {
        tenant_id: Set(id.into()),
        status: Set(WorkerStatus::Error),
        last_error: Set(Some(
            "access token rejected: enter a new Cloud API access token".to_owned(),
        )),
        ..Default::default()
    }
    .update(app.db())
    .await
    .unwrap();

    let page = owner.page("/portal/status").await;
    assert!(
        page.contains("Meta rejected the Cloud API access token"),
        "{page}"
    );
    assert!(
        !page.contains("access token rejected:"),
        "not the raw cause"
    );
    assert!(
        page.contains("WhatsApp Cloud API"),
        "which way the bot connects"
    );
    let (_, status) = json_of(owner.get("/api/portal/tenant/current/status").await).await;
    assert_eq!(status["transport"]["kind"], "cloud_api");
    assert_eq!(status["transport"]["link"], "not_linked");
    assert!(
        status["worker"]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("Meta rejected the Cloud API access token"),
        "{status}"
    );
    assert_no_secret(&status.to_string());
}

#[tokio::test]
async fn an_owner_cannot_touch_another_tenants_transport() {
    let app = spawn_app().await;
    let other = app.new_tenant(4).await;
    let (owner, user) = app.owner_browser("neighbour@example.com").await;

    // The portal's form has no tenant field: a smuggled one is ignored.
    let mut fields = form(&[("kind", "whatsapp_web"), ("tenant_id", &other.to_string())]);
    fields.push(("id".to_owned(), other.to_string()));
    let response = portal_submit(&owner, "/portal/settings/transport", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        kind_in_db(&app, user.tenant_id.into()).await,
        TransportKind::WhatsappWeb
    );
    assert_eq!(kind_in_db(&app, other).await, TransportKind::Sandbox);

    let response = portal_submit(
        &owner,
        "/portal/settings/pairing",
        &form(&[
            ("phone", "+4915112345678"),
            ("tenant_id", &other.to_string()),
        ]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        transport_of(&app, other).await["pairing_phone"],
        Value::Null
    );

    // The console's forms are not the owner's.
    let csrf = owner.portal_csrf().await;
    for path in [
        format!("/admin/tenants/{other}/transport"),
        format!("/admin/tenants/{other}/pairing"),
    ] {
        let response = owner
            .post_form(
                &path,
                &form(&[
                    ("kind", "cloud_api"),
                    ("phone", "+4915112345678"),
                    ("csrf_token", &csrf),
                ]),
            )
            .await;
        // Sent to the console's sign-in, as any signed-out browser.
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&response).starts_with("/admin/login"), "{path}");
    }
    assert_eq!(kind_in_db(&app, other).await, TransportKind::Sandbox);
    assert_eq!(
        transport_of(&app, other).await["pairing_phone"],
        Value::Null
    );
}

#[tokio::test]
async fn staff_cannot_change_how_the_bot_connects() {
    let app = spawn_app().await;
    let (staff, user) = app.owner_browser("staff@example.com").await;
    let mut row: entity::user::ActiveModel = entity::user::Entity::find()
        .filter(entity::user::Column::Email.eq("staff@example.com"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .into();
    row.role = Set(entity::enums::UserRole::Staff);
    row.update(app.db()).await.unwrap();

    let response = portal_submit(&staff, "/portal/settings/transport", &cloud_form()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = portal_submit(
        &staff,
        "/portal/settings/pairing",
        &form(&[("phone", "+4915112345678")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        kind_in_db(&app, user.tenant_id.into()).await,
        TransportKind::Sandbox
    );
}
