//! Tenant isolation in the portal: the tenant always comes from the
//! session. Owner B tries every portal page and JSON route with owner A's
//! ids and parameters (path segments, query strings, form and JSON fields)
//! and never sees nor changes anything of A's.

use entity::{message_log, setup_request, tenant, tenant_config, user};
use flowhq::fake_google::FakeGoogle;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Browser, TestApp, eventually, google_browser, hours_form, id_of, json_of, spawn_app_with_google,
};

const A_EMAIL: &str = "alice@alpha.example";
const A_BUSINESS: &str = "Alpha Secret Patisserie";
const A_NUMBER: &str = "+4915111111111";
const A_NOTES: &str = "alpha-private-notes";
const A_CUSTOMER: &str = "+4917622222222";
const A_MESSAGE: &str = "alpha customer asks about opening hours";
const B_EMAIL: &str = "bob@beta.example";
const B_NUMBER: &str = "+4915133333333";

/// Owner A, signed in through the fake Google, with an approved setup
/// request and a running bot (then a QR code; after `link_and_chat`, a
/// linked phone and a logged chat).
struct OwnerA {
    browser: Browser,
    user_id: Uuid,
    tenant_id: Uuid,
    request_id: Uuid,
}

fn request_body(business: &str, number: &str, notes: &str) -> Value {
    let day = json!({"open": "00:00", "close": "24:00"});
    json!({
        "template_type": "BOOKING",
        "business_name": business,
        "whatsapp_number": number,
        "language": "en",
        "timezone": "UTC",
        "hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day},
        "notes": notes,
    })
}

async fn owner_a(app: &TestApp, fake: &FakeGoogle) -> OwnerA {
    let browser = google_browser(app, fake, A_EMAIL).await;
    let (status, me) = json_of(browser.get("/api/portal/me").await).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, request) = json_of(
        browser
            .portal_json(
                Method::POST,
                "/api/portal/setup-request",
                &request_body(A_BUSINESS, A_NUMBER, A_NOTES),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let owner = OwnerA {
        browser,
        user_id: id_of(&me["user"]),
        tenant_id: id_of(&me["tenant"]),
        request_id: id_of(&request),
    };
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{}/approve", owner.request_id),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    owner
}

/// A's QR code as A's portal shows it.
async fn qr_of(owner: &OwnerA) -> String {
    eventually("A's QR code", || async {
        let (_, qr) = json_of(owner.browser.get("/api/portal/tenant/current/qr").await).await;
        (qr["state"] == "QR_READY").then(|| qr["qr"].as_str().unwrap().to_owned())
    })
    .await
}

/// Links A's bot and has a customer write to it; waits for the answer.
async fn link_and_chat(app: &TestApp, owner: &OwnerA) {
    let id = owner.tenant_id;
    let (status, body) = app
        .api_post(&format!("/api/admin/tenants/{id}/sandbox/scan"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("A ACTIVE", || async {
        let row = tenant::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()?;
        (row.status == entity::enums::TenantStatus::Active).then_some(())
    })
    .await;
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({"from": A_CUSTOMER, "text": A_MESSAGE, "id": "wamid.alpha-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("A's customer answered", || async {
        let (_, logs) = json_of(owner.browser.get("/api/portal/tenant/current/logs").await).await;
        logs["items"]
            .as_array()?
            .iter()
            .any(|m| m["direction"] == "OUT")
            .then_some(())
    })
    .await;
}

/// Everything of A's that must never appear in an answer to B.
fn secrets(owner: &OwnerA, qr: &str) -> Vec<(String, &'static str)> {
    vec![
        (A_EMAIL.to_owned(), "A's email"),
        (A_BUSINESS.to_owned(), "A's business name"),
        (A_NUMBER.to_owned(), "A's WhatsApp number"),
        (A_NOTES.to_owned(), "A's notes"),
        (A_CUSTOMER.to_owned(), "A's customer"),
        (A_MESSAGE.to_owned(), "A's customer's message"),
        (owner.user_id.to_string(), "A's user id"),
        // A piece of the QR image, past the common `data:…;base64,` prefix.
        (qr[40..120].to_owned(), "A's QR code"),
    ]
}

/// B's GETs: every portal page and JSON route, with A's ids in the query
/// (as `tenant_id`, `id`, `user_id`…) and as path segments.
fn probes(owner: &OwnerA) -> Vec<String> {
    let (a, r, u) = (owner.tenant_id, owner.request_id, owner.user_id);
    let query = format!("tenant_id={a}&tenant={a}&id={a}&user_id={u}&request_id={r}");
    let mut paths = Vec::new();
    for path in [
        "/portal",
        "/portal/onboarding",
        "/portal/status",
        "/portal/logs",
        "/portal/settings",
        "/api/portal/me",
        "/api/portal/setup-request",
        "/api/portal/tenant/current/status",
        "/api/portal/tenant/current/qr",
        "/api/portal/tenant/current/logs",
    ] {
        paths.push(path.to_owned());
        paths.push(format!("{path}?{query}"));
    }
    paths.push(format!("/portal/logs?page=1&per_page=100&{query}"));
    paths.push(format!(
        "/api/portal/tenant/current/logs?page=1&per_page=100&{query}"
    ));
    for kind in ["status", "qr", "logs"] {
        paths.push(format!("/api/portal/tenant/{a}/{kind}"));
    }
    for path in [
        format!("/api/portal/setup-request/{r}"),
        format!("/api/portal/tenants/{a}"),
        format!("/portal/{a}"),
        format!("/portal/status/{a}"),
        format!("/portal/tenants/{a}/logs"),
        format!("/api/portal/users/{u}"),
    ] {
        paths.push(path);
    }
    paths
}

/// B requests every probe (following `/portal`'s redirect); no answer may
/// hold any of A's secrets, and the routes that exist answer with B's data.
async fn b_probes_everything(b: &Browser, b_tenant: Uuid, owner: &OwnerA, qr: &str) {
    let secrets = secrets(owner, qr);
    for path in probes(owner) {
        let response = b.get(&path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        for (secret, what) in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "GET {path} as B ({status}) shows {what}: {body}"
            );
        }
        let names_a = path.contains(&format!("/{}", owner.tenant_id))
            || path.contains(&format!("/{}", owner.request_id))
            || path.contains(&format!("/{}", owner.user_id));
        if names_a {
            assert_eq!(status, StatusCode::NOT_FOUND, "GET {path} as B: {body}");
        } else if path.starts_with("/portal?") || path == "/portal" {
            assert_eq!(status, StatusCode::SEE_OTHER, "GET {path} as B");
        } else {
            assert_eq!(status, StatusCode::OK, "GET {path} as B: {body}");
            // An A-id may only be echoed by B's own request; A's tenant id
            // is not in any of B's answers.
            assert!(
                !body.contains(&owner.tenant_id.to_string()),
                "GET {path} as B names A's tenant: {body}"
            );
        }
        if path.starts_with("/api/portal/me") {
            assert!(
                body.contains(&b_tenant.to_string()),
                "B's own tenant: {body}"
            );
        }
    }
}

/// The rows of A's that B's writes must leave exactly as they were.
#[derive(Debug, PartialEq)]
struct Snapshot {
    tenant: tenant::Model,
    config: tenant_config::Model,
    requests: Vec<setup_request::Model>,
    user: user::Model,
    messages: u64,
}

async fn snapshot(app: &TestApp, owner: &OwnerA) -> Snapshot {
    let db = app.db();
    Snapshot {
        tenant: tenant::Entity::find_by_id(owner.tenant_id)
            .one(db)
            .await
            .unwrap()
            .unwrap(),
        config: tenant_config::Entity::find_by_id(owner.tenant_id)
            .one(db)
            .await
            .unwrap()
            .unwrap(),
        requests: setup_request::Entity::find()
            .filter(setup_request::Column::TenantId.eq(owner.tenant_id))
            .all(db)
            .await
            .unwrap(),
        user: user::Entity::find_by_id(owner.user_id)
            .one(db)
            .await
            .unwrap()
            .unwrap(),
        messages: message_log::Entity::find()
            .filter(message_log::Column::TenantId.eq(owner.tenant_id))
            .count(db)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn an_owner_never_sees_another_tenants_data_whatever_ids_they_send() {
    let (app, fake) = spawn_app_with_google().await;
    let a = owner_a(&app, &fake).await;
    let b = google_browser(&app, &fake, B_EMAIL).await;
    let (_, b_me) = json_of(b.get("/api/portal/me").await).await;
    let b_tenant = id_of(&b_me["tenant"]);
    assert_ne!(b_tenant, a.tenant_id);

    // While A's QR code waits for a scan…
    let qr = qr_of(&a).await;
    b_probes_everything(&b, b_tenant, &a, &qr).await;
    let (_, b_qr) = json_of(b.get("/api/portal/tenant/current/qr").await).await;
    assert_eq!(b_qr["qr"], Value::Null, "B has no QR code: {b_qr}");

    // …and once A's bot is linked and has talked to a customer.
    link_and_chat(&app, &a).await;
    b_probes_everything(&b, b_tenant, &a, &qr).await;
    let (_, b_logs) = json_of(b.get("/api/portal/tenant/current/logs").await).await;
    assert_eq!(b_logs["total"], 0, "B's tenant has no messages: {b_logs}");
    let (_, b_status) = json_of(b.get("/api/portal/tenant/current/status").await).await;
    assert_eq!(b_status["tenant"]["id"], b_tenant.to_string());
    assert_eq!(b_status["tenant"]["status"], "NEW");
    assert_eq!(b_status["session"]["linked_phone"], Value::Null);

    // A still sees all of it: the probes' silence is isolation, not breakage.
    let (_, a_logs) = json_of(a.browser.get("/api/portal/tenant/current/logs").await).await;
    assert!(a_logs.to_string().contains(A_MESSAGE), "{a_logs}");
    let (_, a_request) = json_of(a.browser.get("/api/portal/setup-request").await).await;
    assert_eq!(a_request["business_name"], A_BUSINESS, "{a_request}");
    let a_page = a.browser.page("/portal/logs").await;
    assert!(a_page.contains(A_CUSTOMER), "{a_page}");
}

#[tokio::test]
async fn an_owner_cannot_change_another_tenant_whatever_ids_they_send() {
    let (app, fake) = spawn_app_with_google().await;
    let a = owner_a(&app, &fake).await;
    qr_of(&a).await;
    let b = google_browser(&app, &fake, B_EMAIL).await;
    let (_, b_me) = json_of(b.get("/api/portal/me").await).await;
    let b_tenant = id_of(&b_me["tenant"]);
    let before = snapshot(&app, &a).await;
    let a_id = a.tenant_id.to_string();

    // A's number for B, with A's tenant id in the body: B's own request,
    // answered like any other (an owner never learns whose number is
    // whose), and saying nothing of A. The admin's approval would refuse
    // the number; here the admin rejects the request.
    let mut taken = request_body("Beta Bakery", A_NUMBER, "mine now");
    taken["tenant_id"] = json!(a_id);
    let (status, body) = json_of(
        b.portal_json(Method::POST, "/api/portal/setup-request", &taken)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!body.to_string().contains(A_BUSINESS), "{body}");
    assert!(!body.to_string().contains(A_EMAIL), "{body}");
    let request = id_of(&body);
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{request}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "phone_number_taken", "{body}");
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{request}/reject"),
            &json!({ "note": "That number is taken." }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Onboarding form naming A: B's own request, for B's tenant.
    let page = b.page("/portal/onboarding").await;
    let mut fields = vec![
        ("csrf_token".to_owned(), crate::helpers::csrf_of(&page)),
        ("tenant_id".to_owned(), a_id.clone()),
        ("template_type".to_owned(), "SUPPORT".to_owned()),
        ("business_name".to_owned(), "Beta Hijack".to_owned()),
        ("whatsapp_number".to_owned(), B_NUMBER.to_owned()),
        ("language".to_owned(), "de".to_owned()),
        ("timezone".to_owned(), "Europe/Berlin".to_owned()),
        ("notes".to_owned(), "hijack".to_owned()),
    ];
    fields.extend(hours_form(&Value::Null));
    let response = b
        .post_form(&format!("/portal/onboarding?tenant_id={a_id}"), &fields)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The JSON twin naming A, in the query and the body: B already has an
    // open request, so 409 — about B's request, never A's.
    let mut hijack = request_body("Beta Hijack 2", B_NUMBER, "hijack");
    hijack["tenant_id"] = json!(a_id);
    let (status, body) = json_of(
        b.portal_json(
            Method::POST,
            &format!("/api/portal/setup-request?tenant_id={a_id}"),
            &hijack,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(!body.to_string().contains(A_BUSINESS), "{body}");

    // Settings naming A in the query and the form.
    let page = b.page("/portal/settings").await;
    let mut fields = vec![
        ("csrf_token".to_owned(), crate::helpers::csrf_of(&page)),
        ("tenant_id".to_owned(), a_id.clone()),
        ("welcome_message".to_owned(), "Hijacked welcome".to_owned()),
        ("template_type".to_owned(), "SUPPORT".to_owned()),
        ("language".to_owned(), "de".to_owned()),
        ("timezone".to_owned(), "Europe/Berlin".to_owned()),
    ];
    fields.extend(hours_form(&Value::Null));
    let response = b
        .post_form(&format!("/portal/settings?tenant_id={a_id}"), &fields)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Writes to paths that name A do not exist.
    for (method, path) in [
        (Method::POST, format!("/api/portal/tenant/{a_id}/status")),
        (
            Method::POST,
            format!("/api/portal/setup-request/{}", a.request_id),
        ),
        (Method::PATCH, format!("/api/portal/tenant/{a_id}")),
        (Method::DELETE, format!("/api/portal/tenant/{a_id}")),
        (Method::POST, format!("/portal/settings/{a_id}")),
    ] {
        let response = b
            .portal_json(method.clone(), &path, &json!({"welcome_message": "x"}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }

    assert_eq!(snapshot(&app, &a).await, before, "A's rows are untouched");
    // B's writes went to B's tenant.
    let b_config = tenant_config::Entity::find_by_id(b_tenant)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b_config.welcome_message, "Hijacked welcome");
    let b_requests = setup_request::Entity::find()
        .filter(setup_request::Column::TenantId.eq(b_tenant))
        .order_by_asc(setup_request::Column::CreatedAt)
        .all(app.db())
        .await
        .unwrap();
    let names: Vec<&str> = b_requests
        .iter()
        .map(|r| r.business_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Beta Bakery", "Beta Hijack"],
        "both B's, the first rejected"
    );
    // And A's session still shows A's own tenant.
    let (_, a_me) = json_of(a.browser.get("/api/portal/me").await).await;
    assert_eq!(a_me["tenant"]["id"], a_id);
}

// ---- the admin console's inbox of one tenant ----

/// Every route of the console's inbox of `tenant` that names the
/// conversation `cid`: the pages and their forms, and the JSON the page's
/// script reads.
fn admin_inbox_routes(tenant: Uuid, cid: &Value) -> Vec<(Method, String)> {
    let inbox = format!("/admin/tenants/{tenant}/inbox");
    let json = format!("/api/admin/tenants/{tenant}/conversations");
    vec![
        (Method::GET, format!("{inbox}/{cid}")),
        (Method::POST, format!("{inbox}/{cid}/reply")),
        (Method::POST, format!("{inbox}/{cid}/take-over")),
        (Method::POST, format!("{inbox}/{cid}/hand-back")),
        (Method::GET, format!("{json}/{cid}")),
        (Method::GET, format!("{json}/{cid}/messages")),
    ]
}

/// The routes of the console's inbox of `tenant` that name no conversation.
fn admin_inbox_tenant_routes(tenant: Uuid) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/admin/tenants/{tenant}/inbox")),
        (Method::GET, format!("/api/admin/tenants/{tenant}/events")),
        (
            Method::GET,
            format!("/api/admin/tenants/{tenant}/conversations"),
        ),
    ]
}

/// A request as the console's pages make it: GETs, and POSTs of a form
/// with `csrf_token` and a reply's text.
async fn console_request(
    browser: &Browser,
    method: &Method,
    path: &str,
    csrf: &str,
) -> (StatusCode, String, Option<String>) {
    let response = if *method == Method::GET {
        browser.get(path).await
    } else {
        browser
            .post_form(path, &[("csrf_token", csrf), ("text", "leak?")])
            .await
    };
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned());
    // An event stream that opened would never end: its head is enough.
    let body = if status == StatusCode::OK && path.ends_with("/events") {
        String::new()
    } else {
        response.text().await.unwrap()
    };
    (status, body, location)
}

/// A's conversation as it stands: its mode and how many messages it has.
async fn conversation_state(app: &TestApp, tenant: Uuid, cid: &Value) -> (Value, usize) {
    let base = format!("/api/admin/tenants/{tenant}/conversations/{cid}");
    let (status, conversation) = app.api_get(&base).await;
    assert_eq!(status, StatusCode::OK, "{conversation}");
    let (_, messages) = app.api_get(&format!("{base}/messages")).await;
    (
        conversation["mode"].clone(),
        messages["items"].as_array().map_or(0, Vec::len),
    )
}

/// A customer of `tenant` writes; the id of their conversation once listed.
async fn a_conversation(app: &TestApp, tenant: Uuid) -> Value {
    crate::bots::customer_writes(app, tenant, A_CUSTOMER, A_MESSAGE, "wamid.alpha-9").await;
    let cid = eventually("the conversation", || async {
        let (_, body) = app
            .api_get(&format!("/api/admin/tenants/{tenant}/conversations"))
            .await;
        body["items"].as_array()?.first().map(|c| c["id"].clone())
    })
    .await;
    crate::inbox::messages_when(app, tenant, &cid, "the customer answered", |m| {
        crate::inbox::settled(m, 1)
    })
    .await;
    cid
}

#[tokio::test]
async fn the_console_inbox_under_one_tenant_s_id_never_reaches_another_tenant_s_chat() {
    let app = crate::helpers::spawn_app().await;
    let a = crate::bots::linked_tenant(&app, 61).await;
    let b = crate::bots::approved_tenant(&app, 62).await;
    let cid = a_conversation(&app, a).await;
    let before = conversation_state(&app, a, &cid).await;
    let admin = app.signed_in_browser().await;
    let csrf = admin.csrf().await;

    // A's conversation under B's id: not found on every route, nothing shown.
    for (method, path) in admin_inbox_routes(b, &cid) {
        let (status, body, _) = console_request(&admin, &method, &path, &csrf).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert!(
            !body.contains(A_CUSTOMER),
            "{method} {path} shows A's customer"
        );
        assert!(
            !body.contains(A_MESSAGE),
            "{method} {path} shows A's message"
        );
    }
    // B's own inbox and stream: B's, without A's chat.
    for (method, path) in admin_inbox_tenant_routes(b) {
        let (status, body, _) = console_request(&admin, &method, &path, &csrf).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {body}");
        assert!(
            !body.contains(A_CUSTOMER),
            "{method} {path} shows A's customer"
        );
    }
    // A tenant that does not exist: every route is a 404.
    let unknown = Uuid::new_v4();
    let mut routes = admin_inbox_routes(unknown, &cid);
    routes.extend(admin_inbox_tenant_routes(unknown));
    for (method, path) in routes {
        let (status, body, _) = console_request(&admin, &method, &path, &csrf).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    assert_eq!(
        conversation_state(&app, a, &cid).await,
        before,
        "A's chat is untouched"
    );
    // The same routes under A's id work: the 404s are isolation, not breakage.
    let page = admin.page(&format!("/admin/tenants/{a}/inbox/{cid}")).await;
    assert!(page.contains(A_MESSAGE), "{page}");
}

#[tokio::test]
async fn a_portal_session_gets_no_console_inbox_not_even_of_its_own_tenant() {
    let app = crate::helpers::spawn_app().await;
    let (owner, user) = app.owner_browser(A_EMAIL).await;
    let tenant: Uuid = user.tenant_id.into();
    crate::bots::approve_always_open(&app, tenant).await;
    crate::bots::start_and_link(&app, tenant).await;
    let cid = a_conversation(&app, tenant).await;
    let before = conversation_state(&app, tenant, &cid).await;
    let csrf = owner.portal_csrf().await;

    let mut routes = admin_inbox_routes(tenant, &cid);
    routes.extend(admin_inbox_tenant_routes(tenant));
    for (method, path) in routes {
        let (status, body, location) = console_request(&owner, &method, &path, &csrf).await;
        if path.starts_with("/api/") {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        } else {
            assert_eq!(status, StatusCode::SEE_OTHER, "{method} {path}: {body}");
            let location = location.unwrap_or_default();
            assert!(
                location.starts_with("/admin/login"),
                "{method} {path} → {location}"
            );
        }
        assert!(
            !body.contains(A_CUSTOMER),
            "{method} {path} shows the customer"
        );
        assert!(
            !body.contains(A_MESSAGE),
            "{method} {path} shows the message"
        );
    }
    assert_eq!(
        conversation_state(&app, tenant, &cid).await,
        before,
        "the chat is untouched"
    );
    // The owner's own inbox has it: the refusals are about the console.
    let page = owner.page(&format!("/portal/inbox/{cid}")).await;
    assert!(page.contains(A_MESSAGE), "{page}");
}

/// The inbox's pages and JSON twins: B's session, naming A's conversation,
/// reads nothing of it (404) and cannot reply in it, take it over or hand
/// it back; B's own inbox lists nothing of A's, whatever B searches.
#[tokio::test]
async fn an_owner_reaches_none_of_another_tenants_conversations() {
    let (app, fake) = spawn_app_with_google().await;
    let a = owner_a(&app, &fake).await;
    let qr = qr_of(&a).await;
    link_and_chat(&app, &a).await;
    let (_, a_list) = json_of(a.browser.get("/api/portal/conversations").await).await;
    let cid = a_list["items"][0]["id"].as_i64().expect("A's conversation");
    let thread_path = format!("/api/portal/conversations/{cid}/messages");
    // Every part of the bot's answer sent: the thread no longer changes.
    let a_before = eventually("A's thread settled", || async {
        let (_, thread) = json_of(a.browser.get(&thread_path).await).await;
        let settled = thread["items"].as_array().is_some_and(|items| {
            items
                .iter()
                .all(|m| m["status"] != "SENDING" && m["status"] != "QUEUED")
        });
        settled.then_some(thread)
    })
    .await;
    let b = google_browser(&app, &fake, B_EMAIL).await;
    let secrets = secrets(&a, &qr);

    let mut reads: Vec<(String, StatusCode)> = [
        format!("/portal/inbox/{cid}"),
        format!("/api/portal/conversations/{cid}"),
        format!("/api/portal/conversations/{cid}/messages"),
    ]
    .into_iter()
    .map(|path| (path, StatusCode::NOT_FOUND))
    .collect();
    // Parts of A's customer's number and words (the page repeats B's own
    // search, so the whole number would be found in it).
    for search in ["", "?q=7622222", "?q=opening", "?filter=bot"] {
        reads.push((format!("/portal/inbox{search}"), StatusCode::OK));
        reads.push((format!("/api/portal/conversations{search}"), StatusCode::OK));
    }
    for (path, expected) in &reads {
        let response = b.get(path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, *expected, "GET {path} as B: {body}");
        for (secret, what) in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "GET {path} as B shows {what}: {body}"
            );
        }
    }
    let (_, b_list) = json_of(b.get("/api/portal/conversations").await).await;
    assert_eq!(b_list["items"], json!([]), "{b_list}");

    for path in [
        format!("/api/portal/conversations/{cid}/messages"),
        format!("/api/portal/conversations/{cid}/take-over"),
        format!("/api/portal/conversations/{cid}/hand-back"),
    ] {
        let (status, body) = json_of(
            b.portal_json(Method::POST, &path, &json!({ "text": "hijacked" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "POST {path} as B: {body}");
    }
    let csrf = crate::helpers::csrf_of(&b.page("/portal/settings").await);
    for action in ["reply", "take-over", "hand-back"] {
        let path = format!("/portal/inbox/{cid}/{action}");
        let response = b
            .post_form(
                &path,
                &[
                    ("csrf_token".to_owned(), csrf.clone()),
                    ("text".to_owned(), "hijacked".to_owned()),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path} as B");
    }

    // A's conversation is as it was: nothing sent, still with the bot.
    let (_, a_after) = json_of(a.browser.get(&thread_path).await).await;
    assert_eq!(a_after, a_before);
    assert!(!a_after.to_string().contains("hijacked"), "{a_after}");
    let (_, a_conversation) = json_of(
        a.browser
            .get(&format!("/api/portal/conversations/{cid}"))
            .await,
    )
    .await;
    assert_eq!(a_conversation["mode"], "BOT", "{a_conversation}");
    let hijacks = message_log::Entity::find()
        .filter(message_log::Column::Text.eq("hijacked"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(hijacks, 0);
}
