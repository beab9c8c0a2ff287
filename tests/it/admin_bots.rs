//! The bot on the admin tenant page: its controls, the QR panel, the sandbox
//! chat and the live JSON the page polls, driven the way a browser does
//! (session cookie, CSRF-checked forms, post/redirect/get).

use std::time::Duration;

use chrono::Utc;
use entity::enums::WorkerStatus;
use entity::worker_process;
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Browser, TestApp, eventually, flash_of, form, id_of, location, spawn_app, spawn_app_with,
    tenant_draft,
};

/// A NEW tenant answering without typing delay.
async fn new_tenant(app: &TestApp, n: u32) -> Uuid {
    let id = id_of(&app.create_tenant(&tenant_draft(n)).await);
    let (status, body) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{id}"),
            Some(&json!({ "response_delay_ms": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// An APPROVED tenant whose bot has not started.
async fn approved_tenant(app: &TestApp, n: u32) -> Uuid {
    let id = new_tenant(app, n).await;
    let (status, body) = app
        .api_post(&format!("/api/admin/tenants/{id}/approve"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

fn page_of(id: Uuid) -> String {
    format!("/admin/tenants/{id}")
}

/// Posts one of the page's forms (with the session's CSRF token) and
/// follows the 303 back to the tenant page: its flash.
async fn act(browser: &Browser, id: Uuid, path: &str, fields: &[(&str, &str)]) -> (String, String) {
    let response = browser
        .submit(&format!("{}/{path}", page_of(id)), &form(fields))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
    assert_eq!(location(&response), page_of(id), "POST {path}");
    let page = browser.page(&page_of(id)).await;
    flash_of(&page).unwrap_or_else(|| panic!("no flash after POST {path}"))
}

async fn live(browser: &Browser, id: Uuid) -> Value {
    let response = browser.get(&format!("{}/live", page_of(id))).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Whether the page offers the form posting to `/admin/tenants/{id}/{path}`.
fn offers(page: &str, id: Uuid, path: &str) -> bool {
    page.contains(&format!(r#"action="/admin/tenants/{id}/{path}""#))
}

fn qr_panel_hidden(page: &str) -> bool {
    page.contains(r#"id="qr-panel" hidden"#)
}

#[tokio::test]
async fn a_new_tenant_is_approved_from_its_page_and_then_offers_to_start_its_bot() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = new_tenant(&app, 1).await;

    let page = browser.page(&page_of(id)).await;
    assert!(offers(&page, id, "approve"), "a NEW tenant can be approved");
    assert!(
        !offers(&page, id, "bot/start"),
        "not started before approval"
    );

    let (kind, message) = act(&browser, id, "approve", &[]).await;
    assert_eq!(kind, "success", "{message}");
    let page = browser.page(&page_of(id)).await;
    assert!(!offers(&page, id, "approve"));
    assert!(offers(&page, id, "bot/start"));
    assert!(!offers(&page, id, "bot/stop"), "nothing runs yet");
    assert!(!offers(&page, id, "bot/force-restart"));
}

#[tokio::test]
async fn the_bot_is_started_linked_chatted_with_and_stopped_from_the_tenant_page() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = approved_tenant(&app, 2).await;
    let page = browser.page(&page_of(id)).await;
    assert!(offers(&page, id, "bot/start"));
    assert!(qr_panel_hidden(&page), "no QR code before the start");
    assert!(
        page.contains(r#"id="chat""#),
        "a sandbox tenant has the chat"
    );

    let (kind, message) = act(&browser, id, "bot/start", &[]).await;
    assert_eq!(kind, "success", "{message}");
    let page = eventually("the QR panel", || async {
        let page = browser.page(&page_of(id)).await;
        (!qr_panel_hidden(&page)).then_some(page)
    })
    .await;
    assert!(
        page.contains(r#"id="qr-img" src="data:image/svg+xml;base64,"#),
        "the QR code is an inline SVG image"
    );
    assert!(page.contains(r#"alt="QR code to link WhatsApp""#));
    assert!(offers(&page, id, "sandbox/scan"));
    assert!(offers(&page, id, "bot/stop") && offers(&page, id, "bot/restart"));
    assert!(!offers(&page, id, "bot/start"), "it runs already");

    let state = live(&browser, id).await;
    assert_eq!(state["session_state"], "QR_READY", "{state}");
    assert!(
        state["qr"]
            .as_str()
            .is_some_and(|qr| qr.starts_with("data:image/svg+xml")),
        "{state}"
    );
    assert!(state["expires_at"].is_string(), "{state}");
    assert_eq!(state["running"], true);
    assert_eq!(state["tenant_status"], "QR_PENDING");

    let (kind, message) = act(&browser, id, "sandbox/scan", &[]).await;
    assert_eq!(kind, "success", "{message}");
    let state = eventually("the link", || async {
        let state = live(&browser, id).await;
        (state["tenant_status"] == "ACTIVE" && state["session_state"] == "CONNECTED")
            .then_some(state)
    })
    .await;
    assert_eq!(state["qr"], Value::Null, "{state}");
    assert_eq!(state["linked_phone"], "+4915100000002", "{state}");
    assert!(qr_panel_hidden(&browser.page(&page_of(id)).await));

    let (kind, message) = act(
        &browser,
        id,
        "sandbox/inbound",
        &[
            ("from", "+4917600000001"),
            ("text", "What are your opening hours?"),
        ],
    )
    .await;
    assert_eq!(kind, "success", "{message}");
    let state = eventually("the bot's reply", || async {
        let state = live(&browser, id).await;
        let messages = state["messages"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .any(|m| m["direction"] == "OUT")
            .then_some(state)
    })
    .await;
    let messages = state["messages"].as_array().unwrap();
    assert_eq!(messages[0]["direction"], "IN", "oldest first: {state}");
    assert_eq!(messages[0]["from"], "+4917600000001");
    assert_eq!(messages[0]["text"], "What are your opening hours?");
    let reply = messages.iter().find(|m| m["direction"] == "OUT").unwrap();
    assert_eq!(reply["to"], "+4917600000001");
    assert!(reply["created_at"].is_string() && reply["status"].is_string());
    let page = browser.page(&page_of(id)).await;
    assert!(page.contains(r#"class="msg in""#) && page.contains(r#"class="msg out""#));

    let (kind, message) = act(&browser, id, "bot/stop", &[]).await;
    assert_eq!(kind, "success", "{message}");
    let state = eventually("the stopped worker", || async {
        let state = live(&browser, id).await;
        (state["worker_status"] == "STOPPED").then_some(state)
    })
    .await;
    assert_eq!(state["running"], false, "{state}");
    assert!(offers(&browser.page(&page_of(id)).await, id, "bot/start"));
}

#[tokio::test]
async fn a_bot_action_the_tenant_does_not_allow_is_a_flash_not_an_error_page() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = new_tenant(&app, 3).await;

    let (kind, message) = act(&browser, id, "bot/start", &[]).await;
    assert_eq!(kind, "error");
    assert!(message.contains("not approved yet"), "{message}");
    assert!(!app.state.bots.is_running(id.into()));

    let response = browser
        .submit(&format!("{}/bot/dance", page_of(id)), &[])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sandbox_refusals_come_back_as_flash_messages() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = approved_tenant(&app, 4).await;

    let (kind, message) = act(
        &browser,
        id,
        "sandbox/inbound",
        &[("from", "+4917600000001"), ("text", "hello")],
    )
    .await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("error", "The bot is not running: start it first.")
    );
    let (kind, _) = act(&browser, id, "sandbox/scan", &[]).await;
    assert_eq!(kind, "error");
    let (kind, message) = act(
        &browser,
        id,
        "sandbox/inbound",
        &[("from", "not a number"), ("text", "hello")],
    )
    .await;
    assert_eq!(kind, "error");
    assert!(message.starts_with("Customer number"), "{message}");
}

#[tokio::test]
async fn bot_forms_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = approved_tenant(&app, 5).await;

    for path in ["bot/start", "approve", "sandbox/scan", "sandbox/inbound"] {
        let response = browser
            .post_form(&format!("{}/{path}", page_of(id)), &[("text", "hi")])
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    assert!(!app.state.bots.is_running(id.into()));
}

#[tokio::test]
async fn the_live_state_needs_a_signed_in_admin() {
    let app = spawn_app().await;
    let id = approved_tenant(&app, 6).await;

    let response = app.browser().get(&format!("{}/live", page_of(id))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/admin/login?next="),
        "{}",
        location(&response)
    );
}

#[tokio::test]
async fn the_tenant_page_alone_loads_the_live_script() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = approved_tenant(&app, 7).await;

    let page = browser.page(&page_of(id)).await;
    let start = page
        .find("/static/admin.js?v=")
        .expect("the tenant page loads admin.js");
    let src = &page[start..start + page[start..].find('"').unwrap()];
    assert!(page.contains(&format!(r#"data-live="/admin/tenants/{id}/live""#)));
    assert!(!browser.page("/admin/tenants").await.contains("admin.js"));

    let script = app.get(src).await;
    assert_eq!(script.status(), StatusCode::OK);
    let kind = script.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/javascript"), "{kind}");
    assert!(script.text().await.unwrap().contains("/live"));
}

#[tokio::test]
async fn a_running_worker_whose_heartbeat_is_an_hour_old_shows_as_stale() {
    // No heartbeat tick or stale sweep during the test: it would refresh or
    // stop the bot under us.
    let app = spawn_app_with(|settings| {
        settings.bots.heartbeat_interval = Duration::from_secs(600);
        settings.bots.stale_after = Duration::from_secs(1800);
    })
    .await;
    let browser = app.signed_in_browser().await;
    let id = approved_tenant(&app, 8).await;
    let (status, body) = app
        .api_post(&format!("/api/admin/tenants/{id}/bot/start"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("a running worker", || async {
        let worker = worker_process::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()?;
        (worker.status == WorkerStatus::Running && worker.last_heartbeat_at.is_some()).then_some(())
    })
    .await;
    let page = browser.page(&page_of(id)).await;
    assert!(
        !page.contains("badge-stale"),
        "a fresh heartbeat is not stale"
    );
    assert_eq!(live(&browser, id).await["stale"], false);

    worker_process::ActiveModel {
        tenant_id: Set(id),
        last_heartbeat_at: Set(Some(Utc::now() - chrono::Duration::hours(1))),
        ..Default::default()
    }
    .update(app.db())
    .await
    .unwrap();

    let page = browser.page(&page_of(id)).await;
    assert!(
        page.contains(r#"<span class="badge badge-stale">STALE</span>"#),
        "the worker badge says STALE"
    );
    let state = live(&browser, id).await;
    assert_eq!(state["stale"], true, "{state}");
    assert_eq!(state["worker_status"], "RUNNING", "{state}");
}

#[tokio::test]
async fn polling_the_live_view_neither_eats_a_flash_nor_counts_as_activity() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = id_of(&app.create_tenant(&tenant_draft(77)).await);

    // A refused pause leaves a flash for the next page.
    let response = browser
        .submit(&format!("/admin/tenants/{id}/pause"), &[])
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    for _ in 0..3 {
        let live = browser.get(&format!("/admin/tenants/{id}/live")).await;
        assert_eq!(live.status(), reqwest::StatusCode::OK);
    }
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    let (kind, _) = flash_of(&page).expect("the flash survived the polls");
    assert_eq!(kind, "error");

    // An hour-old last_seen_at: polls do not refresh it, so the session ends.
    let old = chrono::Utc::now() - chrono::Duration::hours(1);
    entity::web_session::Entity::update_many()
        .col_expr(
            entity::web_session::Column::LastSeenAt,
            sea_orm::sea_query::Expr::value(old),
        )
        .exec(app.db())
        .await
        .unwrap();
    let live = browser.get(&format!("/admin/tenants/{id}/live")).await;
    assert_eq!(
        live.status(),
        reqwest::StatusCode::SEE_OTHER,
        "an idle session must end"
    );
}

#[tokio::test]
async fn the_live_state_carries_the_recent_messages_card_as_the_page_renders_it() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let id = approved_tenant(&app, 31).await;
    crate::bots::start_and_link(&app, id).await;
    crate::bots::customer_writes(
        &app,
        id,
        "+4917600000031",
        "Do you sell gift cards?",
        "m-31",
    )
    .await;

    // Once the answer is in, the live card and the page's are the same HTML.
    eventually(
        "the page and the live state to show the same card",
        || async {
            let live = live(&browser, id).await;
            let recent = live["recent_messages"].as_str()?.to_owned();
            let page = browser.page(&page_of(id)).await;
            (recent.contains("Do you sell gift cards?")
                && recent.contains("badge-out")
                && page.contains(&format!(
                    r#"id="recent-messages" aria-live="polite">{recent}</div>"#
                )))
            .then_some(())
        },
    )
    .await;
}
