//! The audit trail of the admin console: every change an admin makes (and
//! every sign-in attempt) leaves a row naming the admin, the event and the
//! tenant, whichever surface (JSON API or console form) made it.

use entity::enums::TenantStatus;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    ADMIN_USERNAME, TestApp, form, id_of, location, phone, sign_in_as, spawn_app, tenant_draft,
    tenant_form,
};

const ACTOR: &str = "admin:admin";

/// The audit entries `GET /api/admin/audit?{query}` lists (one page of 100).
async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app
        .api_get(&format!("/api/admin/audit?per_page=100&{query}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The one entry of `event` about `tenant` (None: about no tenant), by the
/// bootstrap admin.
fn entry<'a>(entries: &'a [Value], event: &str, tenant: Option<Uuid>) -> &'a Value {
    let tenant = tenant.map_or(Value::Null, |id| json!(id));
    let found: Vec<&Value> = entries
        .iter()
        .filter(|e| e["event_type"] == event && e["tenant_id"] == tenant)
        .collect();
    assert_eq!(found.len(), 1, "one {event} for {tenant} in {entries:#?}");
    assert_eq!(found[0]["actor"], ACTOR, "{event}");
    found[0]
}

#[tokio::test]
async fn signing_in_and_failing_to_are_audited() {
    let app = spawn_app().await;
    let browser = app.browser();
    let failed = sign_in_as(&browser, ADMIN_USERNAME, "not-the-password").await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let signed_in = sign_in_as(&browser, ADMIN_USERNAME, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);

    let entries = audit(&app, "").await;

    entry(&entries, "admin.sign_in_failed", None);
    entry(&entries, "admin.signed_in", None);
    let password_logged = entries
        .iter()
        .any(|e| e["payload"].to_string().contains("not-the-password"));
    assert!(!password_logged, "no password in the audit trail");
}

#[tokio::test]
async fn tenant_changes_through_the_api_and_the_console_are_audited_with_the_tenant() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    // Created in the console, edited and resumed through the API, paused in the console.
    let response = browser
        .submit("/admin/tenants", &tenant_form(&tenant_draft(1)))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let tenant = app
        .tenant(
            location(&response)
                .trim_start_matches("/admin/tenants/")
                .parse()
                .unwrap(),
        )
        .await;
    let id = id_of(&tenant);
    let (status, _) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{id}"),
            Some(&json!({"auto_reply": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.set_tenant_status(id, TenantStatus::Active).await;
    let response = browser
        .submit(&format!("/admin/tenants/{id}/pause"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.tenant_status(id).await, TenantStatus::Paused);
    let (status, _) = app
        .api_post(&format!("/api/admin/tenants/{id}/resume"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let entries = audit(&app, "").await;

    for event in [
        "tenant.created",
        "tenant.updated",
        "tenant.paused",
        "tenant.resumed",
    ] {
        entry(&entries, event, Some(id));
    }
    assert_eq!(
        entry(&entries, "tenant.paused", Some(id))["payload"]["to"],
        "PAUSED"
    );
}

#[tokio::test]
async fn deleting_a_tenant_is_audited_without_the_tenant_but_with_its_name() {
    let app = spawn_app().await;
    let by_api = app.new_tenant(1).await;
    let by_form = app.new_tenant(2).await;
    let browser = app.signed_in_browser().await;

    let (status, _) = app
        .api_call(
            Method::DELETE,
            &format!("/api/admin/tenants/{by_api}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = browser
        .submit(&format!("/admin/tenants/{by_form}/delete"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let entries = audit(&app, "").await;
    let deleted: Vec<&Value> = entries
        .iter()
        .filter(|e| e["event_type"] == "tenant.deleted")
        .collect();
    assert_eq!(deleted.len(), 2, "{entries:#?}");
    for (id, name) in [(by_api, "Salon 1"), (by_form, "Salon 2")] {
        let row = deleted
            .iter()
            .find(|e| e["payload"]["name"] == name)
            .unwrap_or_else(|| panic!("no deletion naming {name}: {deleted:#?}"));
        assert_eq!(row["actor"], ACTOR);
        assert!(row["tenant_id"].is_null(), "the tenant row is gone: {row}");
        assert_eq!(row["payload"]["tenant_id"], id.to_string());
    }
}

#[tokio::test]
async fn setup_request_decisions_are_audited_with_the_tenant() {
    let app = spawn_app().await;
    let approved = app.new_tenant(1).await;
    let rejected = app.new_tenant(2).await;
    let to_approve = app.submit_setup_request(approved, &phone(1)).await;
    let to_reject = app.submit_setup_request(rejected, &phone(2)).await;
    let browser = app.signed_in_browser().await;

    let response = browser
        .submit(
            &format!("/admin/setup-requests/{to_approve}/approve"),
            &form(&[]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = app
        .api_post(
            &format!("/api/admin/setup-requests/{to_reject}/reject"),
            &json!({"note": "Wrong number."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let entries = audit(&app, "").await;

    let approval = entry(&entries, "setup_request.approved", Some(approved));
    assert_eq!(
        approval["payload"]["setup_request_id"],
        to_approve.to_string()
    );
    let rejection = entry(&entries, "setup_request.rejected", Some(rejected));
    assert_eq!(rejection["payload"]["note"], "Wrong number.");
}

#[tokio::test]
async fn api_token_creation_and_revocation_are_audited() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    // One token made in the console and revoked through the API, one the other way round.
    let response = browser
        .submit("/admin/tokens", &form(&[("name", "from the console")]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, from_api) = app
        .api_post("/api/admin/tokens", &json!({"name": "from the api"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, tokens) = app.api_get("/api/admin/tokens").await;
    let console_token = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "from the console")
        .map(id_of)
        .expect("the console's token is listed");
    let (status, _) = app
        .api_call(
            Method::DELETE,
            &format!("/api/admin/tokens/{console_token}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = browser
        .submit(&format!("/admin/tokens/{}/revoke", id_of(&from_api)), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let entries = audit(&app, "").await;

    for (event, name) in [
        ("api_token.created", "from the console"),
        ("api_token.created", "from the api"),
        ("api_token.revoked", "from the console"),
        ("api_token.revoked", "from the api"),
    ] {
        let row = entries
            .iter()
            .find(|e| e["event_type"] == event && e["payload"]["name"] == name)
            .unwrap_or_else(|| panic!("no {event} for {name}: {entries:#?}"));
        assert_eq!(row["actor"], ACTOR);
        assert!(row["tenant_id"].is_null());
        assert!(
            !row["payload"].to_string().contains("fhq_"),
            "no secret in the audit trail"
        );
    }
}

#[tokio::test]
async fn the_audit_filters_by_tenant_in_the_api_and_on_the_page() {
    let app = spawn_app().await;
    let watched = app.new_tenant(1).await;
    let other = app.new_tenant(2).await;
    app.set_tenant_status(watched, TenantStatus::Active).await;
    let (status, _) = app
        .api_post(&format!("/api/admin/tenants/{watched}/pause"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let request = app.submit_setup_request(other, &phone(2)).await;
    let (status, _) = app
        .api_post(
            &format!("/api/admin/setup-requests/{request}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let entries = audit(&app, &format!("tenant_id={watched}")).await;
    let events: Vec<&str> = entries
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["tenant.paused", "tenant.created"], "newest first");
    assert!(
        entries
            .iter()
            .all(|e| e["tenant_id"] == watched.to_string())
    );

    let browser = app.signed_in_browser().await;
    let page = browser
        .page(&format!("/admin/audit?tenant_id={watched}"))
        .await;
    assert!(page.contains("tenant.paused"));
    assert!(page.contains("tenant.created"));
    assert!(page.contains(ACTOR));
    assert!(page.contains(&format!("href=\"/admin/tenants/{watched}\"")));
    assert!(
        !page.contains("setup_request.approved"),
        "other tenants are left out"
    );
    assert!(
        !page.contains("admin.signed_in"),
        "entries without a tenant are left out"
    );
    let everything = browser.page("/admin/audit").await;
    assert!(everything.contains("setup_request.approved"));
    assert!(everything.contains("admin.signed_in"));
}
