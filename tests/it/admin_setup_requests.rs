//! The setup-request queue: what waits comes first, approving and rejecting
//! move the tenant (a rejection needs a note the owner will read), a request
//! is decided once, and the console's forms do the same as the API.

use entity::enums::{SetupRequestStatus, TenantStatus};
use flowhq::services::setup_requests;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, flash_of, form, id_of, location, phone, spawn_app};

/// A NEW tenant `n` with a setup request waiting: (tenant, request).
async fn waiting(app: &TestApp, n: u32) -> (Uuid, Uuid) {
    let tenant = app.new_tenant(n).await;
    let request = app.submit_setup_request(tenant, &phone(n)).await;
    (tenant, request)
}

async fn decide(app: &TestApp, request: Uuid, decision: &str, body: Value) -> (StatusCode, Value) {
    app.api_post(
        &format!("/api/admin/setup-requests/{request}/{decision}"),
        &body,
    )
    .await
}

#[tokio::test]
async fn the_queue_lists_submitted_requests_first() {
    let app = spawn_app().await;
    let (_, first) = waiting(&app, 1).await;
    let (_, second) = waiting(&app, 2).await;
    let (_, third) = waiting(&app, 3).await;
    // Decided last, so the most recently changed: it must still sort last.
    let (status, _) = decide(&app, second, "approve", json!({})).await;
    assert_eq!(status, StatusCode::OK);

    let (status, queue) = app.api_get("/api/admin/setup-requests").await;

    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["total"], 3);
    let items = queue["items"].as_array().unwrap();
    let order: Vec<(Uuid, &str)> = items
        .iter()
        .map(|item| (id_of(item), item["status"].as_str().unwrap()))
        .collect();
    assert_eq!(order.len(), 3);
    assert_eq!(order[2], (second, "APPROVED"), "{queue}");
    let mut waiting_ids = vec![order[0], order[1]];
    waiting_ids.sort();
    let mut expected = vec![(first, "SUBMITTED"), (third, "SUBMITTED")];
    expected.sort();
    assert_eq!(waiting_ids, expected);
    assert_eq!(
        items[0]["tenant_name"]
            .as_str()
            .map(|n| n.starts_with("Salon")),
        Some(true)
    );

    let (_, only_waiting) = app
        .api_get("/api/admin/setup-requests?status=SUBMITTED")
        .await;
    assert_eq!(only_waiting["total"], 2);
}

#[tokio::test]
async fn approving_moves_the_tenant_from_pending_to_approved_and_records_the_reviewer() {
    let app = spawn_app().await;
    let (tenant, request) = waiting(&app, 1).await;
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::Pending);

    let (status, decided) = decide(&app, request, "approve", json!({"note": "Welcome!"})).await;

    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(id_of(&decided), request);
    assert_eq!(decided["status"], "APPROVED");
    assert_eq!(decided["reviewed_by"], "admin");
    assert!(decided["reviewed_at"].is_string(), "{decided}");
    assert_eq!(decided["review_note"], "Welcome!");
    // Approved, and the approval started the bot: APPROVED → QR_PENDING.
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::QrPending);
    assert!(
        app.state.bots.is_running(tenant.into()),
        "approval starts the bot"
    );
    let (_, audit) = app
        .api_get(&format!("/api/admin/audit?tenant_id={tenant}"))
        .await;
    let approved = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "setup_request.approved")
        .expect("the approval is audited");
    assert_eq!(approved["payload"]["to"], "APPROVED");
}

#[tokio::test]
async fn rejecting_without_a_note_is_refused_with_422_on_the_note() {
    let app = spawn_app().await;
    let (tenant, request) = waiting(&app, 1).await;

    for body in [json!({}), json!({"note": "   "})] {
        let (status, refused) = decide(&app, request, "reject", body.clone()).await;

        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {refused}"
        );
        assert_eq!(refused["error"], "validation_failed");
        assert!(refused["fields"]["note"].is_string(), "{refused}");
    }
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::Pending);
    let stored = setup_requests::for_tenant(app.db(), tenant.into())
        .await
        .unwrap();
    assert_eq!(stored[0].status, SetupRequestStatus::Submitted);
}

#[tokio::test]
async fn rejecting_with_a_note_sends_the_tenant_back_to_new_and_keeps_the_note_for_the_owner() {
    let app = spawn_app().await;
    let (tenant, request) = waiting(&app, 1).await;
    let note = "Please use the number of your business, not a private one.";

    let (status, decided) = decide(&app, request, "reject", json!({"note": note})).await;

    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "REJECTED");
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::New);
    let stored = setup_requests::for_tenant(app.db(), tenant.into())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, request);
    assert_eq!(stored[0].status, SetupRequestStatus::Rejected);
    assert_eq!(stored[0].review_note.as_deref(), Some(note));
    assert_eq!(stored[0].reviewed_by.as_deref(), Some("admin"));
}

#[tokio::test]
async fn a_request_is_decided_once_and_an_unknown_one_is_not_found() {
    let app = spawn_app().await;
    let (tenant, request) = waiting(&app, 1).await;
    let (status, _) = decide(&app, request, "approve", json!({})).await;
    assert_eq!(status, StatusCode::OK);

    let (again, body) = decide(&app, request, "approve", json!({})).await;
    assert_eq!(again, StatusCode::CONFLICT, "{body}");
    let (reject, body) = decide(&app, request, "reject", json!({"note": "Changed my mind"})).await;
    assert_eq!(reject, StatusCode::CONFLICT, "{body}");
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::QrPending);
    let stored = setup_requests::for_tenant(app.db(), tenant.into())
        .await
        .unwrap();
    assert_eq!(stored[0].status, SetupRequestStatus::Approved);
    assert_eq!(stored[0].review_note, None);

    let (missing, body) = decide(&app, Uuid::new_v4(), "approve", json!({})).await;
    assert_eq!(missing, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn the_console_queue_shows_requests_and_its_forms_approve_and_reject() {
    let app = spawn_app().await;
    let (approved_tenant, to_approve) = waiting(&app, 1).await;
    let (rejected_tenant, to_reject) = waiting(&app, 2).await;
    let browser = app.signed_in_browser().await;
    let queue = browser.page("/admin/setup-requests").await;
    for (tenant_name, request) in [("Salon 1", to_approve), ("Salon 2", to_reject)] {
        assert!(queue.contains(tenant_name), "{tenant_name} is listed");
        for decision in ["approve", "reject"] {
            let action = format!("action=\"/admin/setup-requests/{request}/{decision}\"");
            assert!(
                queue.contains(&action),
                "a {decision} form for {tenant_name}"
            );
        }
    }
    assert!(queue.contains("Requested Business"));
    assert!(queue.contains(&phone(1)));

    let response = browser
        .submit(
            &format!("/admin/setup-requests/{to_approve}/approve"),
            &form(&[]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/setup-requests");
    let (kind, _) = flash_of(&browser.page("/admin/setup-requests").await).expect("a flash");
    assert_eq!(kind, "success");
    assert_eq!(
        app.tenant_status(approved_tenant).await,
        TenantStatus::QrPending,
        "approved, and its bot started"
    );

    // Without a note: back to the queue with the reason, nothing decided.
    let response = browser
        .submit(
            &format!("/admin/setup-requests/{to_reject}/reject"),
            &form(&[("note", "")]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/setup-requests");
    let (kind, message) = flash_of(&browser.page("/admin/setup-requests").await).expect("a flash");
    assert_eq!(kind, "error", "{message}");
    assert_eq!(
        app.tenant_status(rejected_tenant).await,
        TenantStatus::Pending
    );

    let response = browser
        .submit(
            &format!("/admin/setup-requests/{to_reject}/reject"),
            &form(&[("note", "The business name is missing.")]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let queue = browser.page("/admin/setup-requests").await;
    let (kind, _) = flash_of(&queue).expect("a flash");
    assert_eq!(kind, "success");
    assert_eq!(app.tenant_status(rejected_tenant).await, TenantStatus::New);
    assert!(
        queue.contains("The business name is missing."),
        "the review note is shown for decided requests"
    );
    for request in [to_approve, to_reject] {
        let action = format!("action=\"/admin/setup-requests/{request}/approve\"");
        assert!(!queue.contains(&action), "decided requests have no forms");
    }
}

#[tokio::test]
async fn two_simultaneous_submits_leave_exactly_one_open_request() {
    use flowhq::domain::hours::{BusinessHours, parse_timezone};
    use flowhq::domain::language::Language;
    use flowhq::domain::phone::PhoneNumber;
    use flowhq::services::audit::Actor;
    use flowhq::services::setup_requests::NewSetupRequest;

    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let request = |n: u32| NewSetupRequest {
        template_type: entity::enums::TemplateType::Support,
        business_name: format!("Business {n}"),
        whatsapp_number: PhoneNumber::parse(&phone(1)).unwrap(),
        language: Language::En,
        timezone: parse_timezone("UTC").unwrap(),
        hours: BusinessHours::default(),
        notes: None,
    };
    let owner = Actor::User("owner@example.com".to_owned());
    let (a, b) = tokio::join!(
        setup_requests::submit(app.db(), &owner, tenant.into(), None, request(1)),
        setup_requests::submit(app.db(), &owner, tenant.into(), None, request(2)),
    );
    let refused: Vec<_> = [&a, &b]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert_eq!(refused.len(), 1, "exactly one submit wins: {a:?} / {b:?}");
    // 409 either way: the open request, or (PostgreSQL, when the winner
    // committed between the loser's two reads) the tenant no longer NEW.
    assert!(
        matches!(
            refused[0].code().as_str(),
            "conflict" | "illegal_transition"
        ),
        "{}",
        refused[0].message()
    );
    let open = setup_requests::for_tenant(app.db(), tenant.into())
        .await
        .unwrap();
    assert_eq!(
        open.iter()
            .filter(|r| r.status == SetupRequestStatus::Submitted)
            .count(),
        1
    );
}
