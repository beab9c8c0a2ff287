//! The Cloud API transport against a fake Graph API (wiremock on loopback)
//! and signed webhook deliveries: credentials at rest, the verify
//! handshake, signatures, exactly-once answers, delivery statuses and each
//! Graph error code's behaviour.

use std::time::Duration;

use entity::enums::{Direction, MessageStatus, TenantStatus, WorkerStatus};
use entity::{message_log, transport_credential, worker_process};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::bots::{approve_always_open, approved_tenant, bot, wait_for_status};
use crate::helpers::{Browser, TestApp, decode_entities, eventually, spawn_app_with};

const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAG-test-access-token-7Q2Z";
const APP_SECRET: &str = "app-secret-4f1c2b";
const VERIFY_TOKEN: &str = "verify-me-81d3";
const CUSTOMER: &str = "4915112345678";

/// Graph's paths for our number.
fn number_path() -> String {
    format!("/v21.0/{PHONE_NUMBER_ID}")
}

fn messages_path() -> String {
    format!("/v21.0/{PHONE_NUMBER_ID}/messages")
}

/// A fake Graph API whose number lookup answers, and an app pointed at it.
async fn cloud_app() -> (TestApp, MockServer) {
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(number_path()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(number_found())
        .mount(&graph)
        .await;
    let base = graph.uri();
    let app = spawn_app_with(move |settings| {
        settings.cloud_api.graph_base_url = base.parse().unwrap();
        settings.cloud_api.retry_min = Duration::from_millis(10);
        settings.cloud_api.retry_max = Duration::from_millis(40);
    })
    .await;
    (app, graph)
}

/// Graph's answer to a lookup of our number.
fn number_found() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "display_phone_number": "+1 555-010-0000",
        "id": PHONE_NUMBER_ID,
    }))
}

/// From now on Graph answers every number lookup with `response`.
async fn number_lookup_answers(graph: &MockServer, response: ResponseTemplate) {
    graph.reset().await;
    Mock::given(method("GET"))
        .and(path(number_path()))
        .respond_with(response)
        .mount(graph)
        .await;
}

fn credentials() -> Value {
    json!({
        "kind": "cloud_api",
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    })
}

async fn set_transport(app: &TestApp, id: Uuid, body: &Value) -> (StatusCode, Value) {
    app.api_call(
        Method::PUT,
        &format!("/api/admin/tenants/{id}/transport"),
        Some(body),
    )
    .await
}

/// An approved tenant on the Cloud API, its bot started and online (ACTIVE).
async fn cloud_tenant(app: &TestApp, n: u32) -> Uuid {
    let id = approved_tenant(app, n).await;
    let (status, body) = set_transport(app, id, &credentials()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bot(app, id, "start").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for_status(app, id, TenantStatus::Active).await;
    id
}

fn text_notification(wamid: &str, from: &str, text: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": "15550100000",
                        "phone_number_id": PHONE_NUMBER_ID,
                    },
                    "contacts": [{ "profile": { "name": "Kerry" }, "wa_id": from }],
                    "messages": [{
                        "from": from,
                        "id": wamid,
                        "timestamp": "1763900000",
                        "type": "text",
                        "text": { "body": text },
                    }],
                },
            }],
        }],
    })
}

fn status_notification(wamid: &str, status: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": "15550100000",
                        "phone_number_id": PHONE_NUMBER_ID,
                    },
                    "statuses": [{
                        "id": wamid,
                        "status": status,
                        "timestamp": "1763900100",
                        "recipient_id": CUSTOMER,
                        "errors": if status == "failed" {
                            json!([{ "code": 131026, "title": "Message undeliverable" }])
                        } else {
                            json!([])
                        },
                    }],
                },
            }],
        }],
    })
}

/// POSTs a notification as Meta does: signed with `secret`.
async fn deliver_signed(app: &TestApp, id: Uuid, body: &[u8], secret: &str) -> StatusCode {
    app.client
        .post(app.url(&format!("/webhooks/whatsapp/{id}")))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            flowhq::crypto::hub_signature(secret.as_bytes(), body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

async fn deliver(app: &TestApp, id: Uuid, notification: &Value) -> StatusCode {
    let body = serde_json::to_vec(notification).unwrap();
    deliver_signed(app, id, &body, APP_SECRET).await
}

async fn rows(app: &TestApp, id: Uuid, direction: Direction) -> Vec<message_log::Model> {
    message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::Direction.eq(direction))
        .order_by_asc(message_log::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

/// Waits until the inbound message `wamid` is settled (not RECEIVED) and
/// no reply of the tenant's is still QUEUED or SENDING.
///
/// The inbound row is read before and after the replies, and only an
/// unchanged one counts: a commit between two reads (the reply's row and
/// its ANSWERED, or its failure and FAILED, land together) would otherwise
/// pair an old inbound status with newer replies, or the reverse.
async fn settled(app: &TestApp, id: Uuid, wamid: &str) -> message_log::Model {
    let inbound = || async {
        rows(app, id, Direction::In)
            .await
            .into_iter()
            .find(|row| row.wa_message_id.as_deref() == Some(wamid))
            .filter(|row| row.status != MessageStatus::Received)
    };
    eventually(&format!("{wamid} settled"), || async {
        let before = inbound().await?;
        let replies = rows(app, id, Direction::Out).await;
        if replies
            .iter()
            .any(|row| matches!(row.status, MessageStatus::Queued | MessageStatus::Sending))
        {
            return None;
        }
        let after = inbound().await?;
        (after.status == before.status).then_some(after)
    })
    .await
}

/// Waits until `wamid` is ANSWERED, then checks that every reply Graph
/// received is logged as an outbound row.
async fn answered_with_every_reply_logged(
    app: &TestApp,
    graph: &MockServer,
    id: Uuid,
    wamid: &str,
) {
    assert_eq!(
        settled(app, id, wamid).await.status,
        MessageStatus::Answered
    );
    assert_eq!(
        sent_bodies(graph).await.len(),
        rows(app, id, Direction::Out).await.len()
    );
}

/// The bodies of the replies Graph received, in arrival order.
async fn sent_bodies(graph: &MockServer) -> Vec<Value> {
    graph
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|request| {
            request.method.as_str() == "POST" && request.url.path() == messages_path()
        })
        .map(|request| request.body_json::<Value>().unwrap())
        .collect()
}

/// Accepts every send with a fresh wamid (`wamid.OUT-<prefix>-<n>`), as Graph does.
struct Accept {
    prefix: &'static str,
    count: std::sync::atomic::AtomicUsize,
}

fn accept(prefix: &'static str) -> Accept {
    Accept {
        prefix,
        count: std::sync::atomic::AtomicUsize::new(0),
    }
}

impl wiremock::Respond for Accept {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        reply_ok(&format!("wamid.OUT-{}-{n}", self.prefix))
    }
}

fn reply_ok(wamid: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": CUSTOMER, "wa_id": CUSTOMER }],
        "messages": [{ "id": wamid }],
    }))
}

fn graph_error(status: u16, code: i64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": { "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Az8or" }
    }))
}

#[tokio::test]
async fn credentials_are_stored_encrypted_and_never_shown_back() {
    let (app, _graph) = cloud_app().await;
    let id = approved_tenant(&app, 1).await;

    let (status, body) = set_transport(&app, id, &json!({ "kind": "cloud_api" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for field in [
        "phone_number_id",
        "access_token",
        "app_secret",
        "verify_token",
    ] {
        assert!(
            body["fields"][field].is_string(),
            "{field} not flagged: {body}"
        );
    }
    let mut bad = credentials();
    bad["phone_number_id"] = json!("+1 555 0100");
    let (status, body) = set_transport(&app, id, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["phone_number_id"].is_string(), "{body}");
    let (status, body) = set_transport(
        &app,
        id,
        &json!({ "kind": "sandbox", "access_token": TOKEN }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = set_transport(&app, id, &credentials()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["transport"]["kind"], "cloud_api");
    assert_eq!(body["transport"]["phone_number_id"], PHONE_NUMBER_ID);
    assert_eq!(body["transport"]["access_token_hint"], "…7Q2Z");
    assert_eq!(
        body["webhook_url"],
        app.url(&format!("/webhooks/whatsapp/{id}"))
    );
    let shown = body.to_string();
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(!shown.contains(secret), "a secret was shown back: {shown}");
    }

    // Leaving the secrets out keeps them; the id can change alone.
    let (status, body) = set_transport(
        &app,
        id,
        &json!({ "kind": "cloud_api", "phone_number_id": "106540352242999" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["transport"]["phone_number_id"], "106540352242999");
    assert_eq!(body["transport"]["access_token_hint"], "…7Q2Z");

    // In the database: ciphertext only, in the row and in the audit trail.
    let row = transport_credential::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    for (sealed, secret) in [
        (&row.access_token, TOKEN),
        (&row.app_secret, APP_SECRET),
        (&row.verify_token, VERIFY_TOKEN),
    ] {
        assert!(sealed.len() > secret.len(), "not sealed");
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} stored in plain text"
        );
    }
    let (status, audit) = app.api_get("/api/admin/audit?per_page=100").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert!(
        audit.to_string().contains("tenant.transport_set"),
        "{audit}"
    );
    // And nowhere in the SQLite files (database and write-ahead log).
    if let Some(file) = app.state.settings.database.sqlite_path() {
        for suffix in ["", "-wal"] {
            let path = format!("{}{suffix}", file.display());
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} readable in {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_verify_handshake_answers_only_the_right_token() {
    let (app, _graph) = cloud_app().await;
    let id = approved_tenant(&app, 1).await;
    let handshake = |token: &str, mode: &str| {
        app.url(&format!(
            "/webhooks/whatsapp/{id}?hub.mode={mode}&hub.verify_token={token}&hub.challenge=1158201444"
        ))
    };
    // Not a Cloud API tenant (yet): nothing here.
    let response = app
        .client
        .get(handshake(VERIFY_TOKEN, "subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let (status, body) = set_transport(&app, id, &credentials()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = app
        .client
        .get(handshake(VERIFY_TOKEN, "subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "1158201444");

    let response = app
        .client
        .get(handshake("guess", "subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .client
        .get(handshake(VERIFY_TOKEN, "unsubscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let other = app
        .client
        .get(app.url(&format!(
            "/webhooks/whatsapp/{}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1",
            Uuid::new_v4()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_signed_message_is_answered_exactly_once_even_when_meta_delivers_it_twice() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(reply_ok("wamid.OUT-1"))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    let tenant = app.tenant(id).await;
    assert_eq!(
        tenant["session"]["linked_phone"], "+15550100000",
        "{tenant}"
    );

    let hello = text_notification("wamid.IN-1", CUSTOMER, "hello");
    assert_eq!(deliver(&app, id, &hello).await, StatusCode::OK);
    assert_eq!(deliver(&app, id, &hello).await, StatusCode::OK);
    let inbound = settled(&app, id, "wamid.IN-1").await;
    assert_eq!(inbound.status, MessageStatus::Answered);
    assert_eq!(inbound.chat_id, format!("+{CUSTOMER}"));
    assert_eq!(inbound.recipient, "+15550100000");

    // A third copy after the answer: still nothing new.
    assert_eq!(deliver(&app, id, &hello).await, StatusCode::OK);
    let outbound = eventually("the reply logged", || async {
        let rows = rows(&app, id, Direction::Out).await;
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(rows(&app, id, Direction::In).await.len(), 1);
    assert_eq!(outbound.len(), 1, "{outbound:?}");
    assert_eq!(outbound[0].wa_message_id.as_deref(), Some("wamid.OUT-1"));
    assert_eq!(outbound[0].status, MessageStatus::Sent);
    let sent = sent_bodies(&graph).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], CUSTOMER);
    assert_eq!(sent[0]["messaging_product"], "whatsapp");
    assert_eq!(sent[0]["type"], "text");
    assert_eq!(sent[0]["text"]["body"], outbound[0].text.as_str());
}

#[tokio::test]
async fn bad_signatures_are_refused_before_anything_is_read() {
    let (app, _graph) = cloud_app().await;
    let id = cloud_tenant(&app, 1).await;
    let body = serde_json::to_vec(&text_notification("wamid.IN-X", CUSTOMER, "hi")).unwrap();

    assert_eq!(
        deliver_signed(&app, id, &body, "not-the-app-secret").await,
        StatusCode::UNAUTHORIZED
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let signature = flowhq::crypto::hub_signature(APP_SECRET.as_bytes(), &body);
    let response = app
        .client
        .post(app.url(&format!("/webhooks/whatsapp/{id}")))
        .header("X-Hub-Signature-256", signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let unsigned = app
        .client
        .post(app.url(&format!("/webhooks/whatsapp/{id}")))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    // Signed garbage is a 400 with a reason, never a panic.
    assert_eq!(
        deliver_signed(&app, id, b"{\"object\": 42", APP_SECRET).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        deliver_signed(&app, id, b"{\"entry\": []}", APP_SECRET).await,
        StatusCode::BAD_REQUEST
    );
    assert!(rows(&app, id, Direction::In).await.is_empty());
}

#[tokio::test]
async fn delivery_statuses_move_the_reply_forward_only() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(reply_ok("wamid.OUT-7"))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    assert_eq!(
        deliver(
            &app,
            id,
            &text_notification("wamid.IN-7", CUSTOMER, "hello")
        )
        .await,
        StatusCode::OK
    );
    settled(&app, id, "wamid.IN-7").await;
    let status_of = || async {
        eventually("the reply logged", || async {
            rows(&app, id, Direction::Out).await.into_iter().next()
        })
        .await
        .status
    };
    assert_eq!(status_of().await, MessageStatus::Sent);
    for (report, expected) in [
        ("delivered", MessageStatus::Delivered),
        ("read", MessageStatus::Read),
        // Late and out of order: READ stays.
        ("delivered", MessageStatus::Read),
        ("failed", MessageStatus::Read),
    ] {
        assert_eq!(
            deliver(&app, id, &status_notification("wamid.OUT-7", report)).await,
            StatusCode::OK
        );
        assert_eq!(status_of().await, expected, "after {report}");
    }
    // Another tenant's report cannot touch this tenant's rows.
    let other = cloud_tenant(&app, 2).await;
    assert_eq!(
        deliver(&app, other, &status_notification("wamid.OUT-7", "failed")).await,
        StatusCode::OK
    );
    assert_eq!(status_of().await, MessageStatus::Read);
}

#[tokio::test]
async fn a_failed_delivery_report_explains_itself() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(reply_ok("wamid.OUT-8"))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    deliver(
        &app,
        id,
        &text_notification("wamid.IN-8", CUSTOMER, "hello"),
    )
    .await;
    settled(&app, id, "wamid.IN-8").await;
    eventually("the reply logged", || async {
        rows(&app, id, Direction::Out).await.into_iter().next()
    })
    .await;
    let stats = app.registry.writer().stats();
    let updates_before = stats
        .status_updates
        .load(std::sync::atomic::Ordering::Relaxed);
    deliver(&app, id, &status_notification("wamid.OUT-8", "failed")).await;
    // Meta got its 200 after the report was committed, by the log
    // writer's batches (not one statement per report beside them).
    let row = rows(&app, id, Direction::Out).await.remove(0);
    assert_eq!(row.status, MessageStatus::Failed);
    let error = row.error.unwrap_or_default();
    assert!(error.contains("Message undeliverable"), "{error}");
    assert_eq!(
        stats
            .status_updates
            .load(std::sync::atomic::Ordering::Relaxed),
        updates_before + 1,
        "the report went through the log writer"
    );
}

#[tokio::test]
async fn throughput_errors_are_retried_and_the_chat_keeps_its_order() {
    let (app, graph) = cloud_app().await;
    // The first send hits the throughput limit twice, the pair limit once.
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(graph_error(400, 130_429, "Rate limit hit"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(graph_error(400, 131_056, "Pair rate limit hit"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(accept("R"))
        .with_priority(3)
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    // Same chat, one after the other: a greeting, then a question on hours.
    deliver(
        &app,
        id,
        &text_notification("wamid.IN-A", CUSTOMER, "hello"),
    )
    .await;
    deliver(
        &app,
        id,
        &text_notification("wamid.IN-B", CUSTOMER, "when are you open?"),
    )
    .await;
    assert_eq!(
        settled(&app, id, "wamid.IN-A").await.status,
        MessageStatus::Answered
    );
    assert_eq!(
        settled(&app, id, "wamid.IN-B").await.status,
        MessageStatus::Answered
    );

    let sent = sent_bodies(&graph).await;
    // 3 refused attempts + one accepted per reply part.
    let outbound = rows(&app, id, Direction::Out).await;
    assert_eq!(sent.len(), 3 + outbound.len(), "{sent:?}");
    assert!(outbound.iter().all(|row| row.status == MessageStatus::Sent));
    // The retried attempts repeat the first reply; the accepted ones come
    // in the chat's order.
    let first = &sent[0]["text"]["body"];
    assert!(sent[..4].iter().all(|body| &body["text"]["body"] == first));
    let accepted: Vec<&str> = sent[3..]
        .iter()
        .map(|body| body["text"]["body"].as_str().unwrap())
        .collect();
    let logged: Vec<&str> = outbound.iter().map(|row| row.text.as_str()).collect();
    assert_eq!(accepted, logged);
}

#[tokio::test]
async fn a_closed_24_hour_window_fails_the_reply_without_retrying() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(graph_error(400, 131_047, "Re-engagement message"))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    deliver(
        &app,
        id,
        &text_notification("wamid.IN-W", CUSTOMER, "hello"),
    )
    .await;
    let inbound = settled(&app, id, "wamid.IN-W").await;
    assert_eq!(inbound.status, MessageStatus::Failed);
    let reason = inbound.error.unwrap_or_default();
    assert!(reason.contains("24 hours"), "{reason}");
    let outbound = rows(&app, id, Direction::Out).await;
    assert_eq!(outbound.len(), 1);
    assert_eq!(outbound[0].status, MessageStatus::Failed);
    assert_eq!(sent_bodies(&graph).await.len(), 1, "retried");
    // The bot itself carries on; the customer got no answer, so the chat
    // goes to a person and waits for one.
    assert_eq!(app.tenant_status(id).await, TenantStatus::Active);
    let conversation = eventually("the chat handed to a person", || async {
        let row = conversation_row(&app, id).await;
        (row.mode == entity::enums::ConversationMode::Human).then_some(row)
    })
    .await;
    assert_eq!(conversation.mode_reason.as_deref(), Some("bot_failed"));
    assert!(conversation.needs_human);
}

/// WhatsApp takes free-form messages only within 24 hours of the
/// customer's last one: later, a person's reply and an API send are
/// refused up front (409 `outside_window`), not sent to fail at Meta.
#[tokio::test]
async fn a_person_s_reply_and_an_api_send_after_the_24_hour_window_are_refused_up_front() {
    use sea_orm::sea_query::Expr;
    let (app, graph, id) = answering_cloud_tenant("W").await;
    customer_says(&app, id, "wamid.IN-W1", "hello").await;
    let cid = conversation_row(&app, id).await.id;
    let key = crate::tenant_api::key_for(&app, id, &["messages:send"]).await;
    let reply = format!("/api/admin/tenants/{id}/conversations/{cid}/messages");
    let send = json!({ "to": format!("+{CUSTOMER}"), "text": "Your order has shipped." });
    let last_in = |hours: i64| {
        let app = &app;
        async move {
            entity::conversation::Entity::update_many()
                .col_expr(
                    entity::conversation::Column::LastInAt,
                    Expr::value(chrono::Utc::now() - chrono::Duration::hours(hours)),
                )
                .filter(entity::conversation::Column::Id.eq(cid))
                .exec(app.db())
                .await
                .unwrap();
        }
    };

    // A person's reply and an API send, answered (status, error code).
    let both = || async {
        let (person, body) = app
            .api_post(&reply, &json!({ "text": "Sorry for the wait!" }))
            .await;
        let person_error = body["error"].as_str().map(str::to_owned);
        let (api, body, _) = crate::tenant_api::v1(
            &app,
            &key,
            Method::POST,
            "/api/v1/messages",
            Some(&send),
            None,
        )
        .await;
        let api_error = body["error"].as_str().map(str::to_owned);
        [(person, person_error), (api, api_error)]
    };
    last_in(25).await;
    let sent_before = sent_bodies(&graph).await.len();
    let refused = (StatusCode::CONFLICT, Some("outside_window".to_owned()));
    assert_eq!(both().await, [refused.clone(), refused]);
    assert_eq!(sent_bodies(&graph).await.len(), sent_before, "sent anyway");

    // Within the window both go out.
    last_in(23).await;
    let accepted = (StatusCode::ACCEPTED, None);
    assert_eq!(both().await, [accepted.clone(), accepted]);
    eventually("both sent", || async {
        (sent_bodies(&graph).await.len() == sent_before + 2).then_some(())
    })
    .await;
}

async fn worker(app: &TestApp, id: Uuid) -> worker_process::Model {
    worker_process::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_rejected_token_stops_the_bot_and_its_messages_wait_for_a_new_token() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(graph_error(401, 190, "Error validating access token"))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    deliver(
        &app,
        id,
        &text_notification("wamid.IN-T", CUSTOMER, "hello"),
    )
    .await;
    wait_for_status(&app, id, TenantStatus::Error).await;
    let worker = worker(&app, id).await;
    let error = worker.last_error.unwrap_or_default();
    assert!(error.starts_with("access token rejected"), "{error}");
    assert_eq!(worker.restart_count, 0, "restarted instead of stopping");
    assert_eq!(sent_bodies(&graph).await.len(), 1);
    // Not failed for good: the reply waits, QUEUED, for a working token.
    let waiting = eventually("the refused reply queued again", || async {
        let out = rows(&app, id, Direction::Out).await;
        out.iter()
            .all(|row| row.status == MessageStatus::Queued)
            .then_some(out)
    })
    .await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let queued_text = waiting[0].text.clone();

    // A new token, a force restart: answered once.
    number_lookup_answers(
        &graph,
        ResponseTemplate::new(200).set_body_json(json!({
            "display_phone_number": "+1 555-010-0000",
        })),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", "Bearer EAAG-new-token-0000"))
        .respond_with(accept("T"))
        .mount(&graph)
        .await;
    let (status, body) = set_transport(
        &app,
        id,
        &json!({ "kind": "cloud_api", "access_token": "EAAG-new-token-0000" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bot(&app, id, "force-restart").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    answered_with_every_reply_logged(&app, &graph, id, "wamid.IN-T").await;
    // The stored reply went out, once: not a second answer to the message.
    let sent = rows(&app, id, Direction::Out).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].status, MessageStatus::Sent);
    assert_eq!(
        sent_bodies(&graph).await[0]["text"]["body"],
        queued_text.as_str()
    );
}

#[tokio::test]
async fn a_wrong_phone_number_id_stops_the_bot_with_a_reason_instead_of_retrying() {
    let (app, graph) = cloud_app().await;
    number_lookup_answers(
        &graph,
        graph_error(
            400,
            100,
            "Unsupported get request. Object with ID does not exist",
        ),
    )
    .await;
    let id = approved_tenant(&app, 1).await;
    set_transport(&app, id, &credentials()).await;
    bot(&app, id, "start").await;
    wait_for_status(&app, id, TenantStatus::Error).await;
    let error = worker(&app, id).await.last_error.unwrap_or_default();
    assert!(
        error.starts_with("Meta refused the Cloud API settings (error 100"),
        "{error}"
    );
}

#[tokio::test]
async fn an_item_of_an_unexpected_shape_does_not_cost_the_rest_of_the_notification() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(accept("L"))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    let mut notification = text_notification("wamid.IN-L", CUSTOMER, "hello");
    let messages = &mut notification["entry"][0]["changes"][0]["value"]["messages"];
    for odd in [
        json!({ "type": "text", "text": { "body": "no id, no sender" } }),
        // What WhatsApp never sends: an empty sender, a 100 KB id.
        json!({ "id": "wamid.EMPTY-FROM", "from": "", "type": "text", "text": { "body": "hi" } }),
        json!({ "id": "w".repeat(100_000), "from": "4917600000009", "type": "text", "text": { "body": "hi" } }),
    ] {
        messages.as_array_mut().unwrap().insert(0, odd);
    }
    notification["entry"][0]["changes"][0]["value"]["statuses"] =
        json!([{ "status": "delivered" }]);
    assert_eq!(deliver(&app, id, &notification).await, StatusCode::OK);
    assert_eq!(
        settled(&app, id, "wamid.IN-L").await.status,
        MessageStatus::Answered
    );
    assert_eq!(rows(&app, id, Direction::In).await.len(), 1);
}

#[tokio::test]
async fn a_token_refused_at_start_stops_the_bot_in_error() {
    let graph_and_app = cloud_app().await;
    let (app, graph) = graph_and_app;
    number_lookup_answers(&graph, graph_error(401, 190, "Invalid OAuth access token")).await;
    let id = approved_tenant(&app, 1).await;
    let hooks = crate::webhooks::receiver(204).await;
    let (_, secret) = crate::webhooks::endpoint(
        &app,
        id,
        &format!("{}/hooks", hooks.uri()),
        &["bot.status_changed"],
    )
    .await;
    set_transport(&app, id, &credentials()).await;
    bot(&app, id, "start").await;
    wait_for_status(&app, id, TenantStatus::Error).await;
    let error = worker(&app, id).await.last_error.unwrap_or_default();
    assert!(error.starts_with("access token rejected"), "{error}");
    // Receivers are told, signed, with the reason.
    let (request, body) = eventually("bot.status_changed ERROR told", || async {
        crate::webhooks::received(&hooks)
            .await
            .into_iter()
            .find(|(_, body)| body["data"]["status"] == "ERROR")
    })
    .await;
    crate::webhooks::verify(&secret, &request);
    assert_eq!(body["type"], "bot.status_changed");
    assert!(
        body["data"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("access token rejected")),
        "{body}"
    );
}

#[tokio::test]
async fn messages_received_while_the_bot_is_stopped_are_answered_at_its_start() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(accept("S"))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    let (status, body) = bot(&app, id, "stop").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        deliver(
            &app,
            id,
            &text_notification("wamid.IN-S", CUSTOMER, "hello")
        )
        .await,
        StatusCode::OK
    );
    // Stored at once, not answered while stopped.
    let stored = rows(&app, id, Direction::In).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, MessageStatus::Received);
    assert!(sent_bodies(&graph).await.is_empty());

    bot(&app, id, "start").await;
    answered_with_every_reply_logged(&app, &graph, id, "wamid.IN-S").await;
}

#[tokio::test]
async fn switching_back_to_the_sandbox_closes_the_webhook() {
    let (app, _graph) = cloud_app().await;
    let id = cloud_tenant(&app, 1).await;
    let (status, body) = set_transport(&app, id, &json!({ "kind": "sandbox" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["transport"]["kind"], "sandbox");
    assert_eq!(
        deliver(
            &app,
            id,
            &text_notification("wamid.IN-Z", CUSTOMER, "hello")
        )
        .await,
        StatusCode::NOT_FOUND
    );
    // The running bot restarted on the sandbox: it shows a QR code.
    eventually("a sandbox QR code", || async {
        let (_, qr) = app.api_get(&format!("/api/admin/tenants/{id}/qr")).await;
        (qr["state"] == "QR_READY").then_some(())
    })
    .await;
}

#[tokio::test]
async fn linking_by_phone_number_through_the_api_is_for_whatsapp_web_only() {
    let (app, _graph) = cloud_app().await;
    let id = approved_tenant(&app, 1).await;
    let pairing = |phone: Value| {
        let app = &app;
        async move {
            app.api_call(
                Method::PUT,
                &format!("/api/admin/tenants/{id}/whatsapp/pairing"),
                Some(&json!({ "phone": phone })),
            )
            .await
        }
    };
    let (status, body) = pairing(json!("+4915112345678")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, body) = set_transport(&app, id, &json!({ "kind": "whatsapp_web" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = pairing(json!("0151 not a number")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = pairing(json!("+4915112345678")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["transport"]["pairing_phone"], "+4915112345678");
    assert!(body["webhook_url"].is_null(), "{body}");
    let (status, body) = pairing(Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["transport"]["pairing_phone"].is_null(), "{body}");
}

/// The text of the element with this id when the page shows it (`None`
/// when it is `hidden` or missing).
fn shown(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!(r#"id="{id}""#))?;
    let tag_end = at + html[at..].find('>')?;
    let tag_start = html[..at].rfind('<')?;
    if html[tag_start..tag_end].contains(" hidden") {
        return None;
    }
    let text_end = tag_end + html[tag_end..].find('<')?;
    Some(decode_entities(&html[tag_end + 1..text_end]))
}

/// Why the tenant's bot is offline, as the admin's JSON, the admin's page,
/// the owner's JSON and the owner's page say it.
async fn offline_reasons(
    app: &TestApp,
    admin: &Browser,
    owner: &Browser,
    id: Uuid,
) -> [Option<String>; 4] {
    let (_, tenant) = app.api_get(&format!("/api/admin/tenants/{id}")).await;
    let (_, status) =
        crate::helpers::json_of(owner.get("/api/portal/tenant/current/status").await).await;
    [
        tenant["session"]["offline_reason"]
            .as_str()
            .map(str::to_owned),
        shown(
            &admin.page(&format!("/admin/tenants/{id}")).await,
            "bot-offline",
        ),
        status["session"]["offline_reason"]
            .as_str()
            .map(str::to_owned),
        shown(&owner.page("/portal/status").await, "bot-offline"),
    ]
}

#[tokio::test]
async fn while_meta_cannot_be_reached_the_console_and_the_portal_say_so_until_it_answers() {
    let (app, graph) = cloud_app().await;
    // Meta's side is down: every number lookup answers 503 (Graph code 2).
    number_lookup_answers(
        &graph,
        graph_error(503, 2, "Service temporarily unavailable"),
    )
    .await;
    let (owner, user) = app.owner_browser("meta-down@example.com").await;
    let id: Uuid = user.tenant_id.into();
    approve_always_open(&app, id).await;
    let (status, body) = set_transport(&app, id, &credentials()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bot(&app, id, "start").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin = app.signed_in_browser().await;

    let [api, page, portal_api, portal_page] =
        eventually("the reason on every page while the bot retries", || async {
            let reasons = offline_reasons(&app, &admin, &owner, id).await;
            reasons.iter().all(Option::is_some).then_some(reasons)
        })
        .await
        .map(Option::unwrap_or_default);
    assert_eq!(
        api,
        "cannot reach Meta: Graph API error 2: Service temporarily unavailable, retrying"
    );
    assert_eq!(page, api, "the console shows the reason as recorded");
    assert!(
        portal_api.starts_with("Cannot reach Meta") && portal_api.contains("retrying"),
        "the owner reads it in plain words: {portal_api}"
    );
    assert_eq!(portal_page, portal_api);
    assert_eq!(
        worker(&app, id).await.status,
        WorkerStatus::Running,
        "still retrying"
    );

    // Meta answers again: the bot comes online and the reason goes.
    number_lookup_answers(&graph, number_found()).await;
    wait_for_status(&app, id, TenantStatus::Active).await;
    eventually("no reason on any page once Meta answers", || async {
        let reasons = offline_reasons(&app, &admin, &owner, id).await;
        reasons.iter().all(Option::is_none).then_some(())
    })
    .await;
}

/// A notification with one customer message of any kind (`message` holds
/// its `type` and the object of that type).
fn message_notification(wamid: &str, mut message: Value) -> Value {
    let mut notification = text_notification(wamid, CUSTOMER, "");
    message["from"] = json!(CUSTOMER);
    message["id"] = json!(wamid);
    message["timestamp"] = json!("1763900000");
    notification["entry"][0]["changes"][0]["value"]["messages"] = json!([message]);
    notification
}

/// What the WhatsApp Business app on the same number sent to the customer.
fn echo_notification(wamid: &str, text: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "smb_message_echoes",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": "15550100000",
                        "phone_number_id": PHONE_NUMBER_ID,
                    },
                    "message_echoes": [{
                        "from": "15550100000",
                        "to": CUSTOMER,
                        "id": wamid,
                        "timestamp": "1763900200",
                        "type": "text",
                        "text": { "body": text },
                    }],
                },
            }],
        }],
    })
}

/// A Cloud API tenant whose sends Graph accepts (`wamid.OUT-<prefix>-n`).
async fn answering_cloud_tenant(prefix: &'static str) -> (TestApp, MockServer, Uuid) {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(accept(prefix))
        .mount(&graph)
        .await;
    let id = cloud_tenant(&app, 1).await;
    (app, graph, id)
}

/// The customer's text, delivered and settled.
async fn customer_says(app: &TestApp, id: Uuid, wamid: &str, text: &str) -> message_log::Model {
    let notification = text_notification(wamid, CUSTOMER, text);
    assert_eq!(deliver(app, id, &notification).await, StatusCode::OK);
    settled(app, id, wamid).await
}

async fn conversation_row(app: &TestApp, id: Uuid) -> entity::conversation::Model {
    entity::conversation::Entity::find()
        .filter(entity::conversation::Column::TenantId.eq(id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn photos_places_and_button_taps_are_logged_and_the_bot_says_once_it_reads_text_only() {
    use entity::enums::MessageKind;
    let (app, graph, id) = answering_cloud_tenant("M").await;
    for (wamid, message) in [
        (
            "wamid.IN-M1",
            json!({"type": "image", "image": {"id": "media-1", "caption": "this one please"}}),
        ),
        (
            "wamid.IN-M2",
            json!({"type": "location", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Home"}}),
        ),
        (
            "wamid.IN-M3",
            json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes, book it"}}}),
        ),
    ] {
        assert_eq!(
            deliver(&app, id, &message_notification(wamid, message)).await,
            StatusCode::OK
        );
        settled(&app, id, wamid).await;
    }
    let inbound: Vec<(MessageKind, String, MessageStatus)> = rows(&app, id, Direction::In)
        .await
        .into_iter()
        .map(|row| (row.kind, row.text, row.status))
        .collect();
    assert_eq!(
        inbound,
        vec![
            (
                MessageKind::Image,
                "this one please".to_owned(),
                MessageStatus::Answered
            ),
            (
                MessageKind::Location,
                "Home · 52.52, 13.405".to_owned(),
                MessageStatus::Skipped
            ),
            (
                MessageKind::Button,
                "Yes, book it".to_owned(),
                MessageStatus::Skipped
            ),
        ]
    );
    let sent = sent_bodies(&graph).await;
    assert_eq!(sent.len(), 1, "one notice for the conversation: {sent:?}");
    assert!(
        sent[0]["text"]["body"]
            .as_str()
            .unwrap()
            .contains("only read text"),
        "{sent:?}"
    );
    assert!(conversation_row(&app, id).await.needs_human);
}

#[tokio::test]
async fn what_the_business_app_sends_on_the_number_hands_the_chat_to_a_person() {
    let (app, graph, id) = answering_cloud_tenant("E").await;
    customer_says(&app, id, "wamid.IN-E1", "hello").await;
    let replies = rows(&app, id, Direction::Out).await;
    let bot_reply = replies[0].wa_message_id.clone().unwrap();

    // An echo of the bot's own reply changes nothing.
    assert_eq!(
        deliver(&app, id, &echo_notification(&bot_reply, "whatever")).await,
        StatusCode::OK
    );
    assert_eq!(rows(&app, id, Direction::Out).await.len(), replies.len());
    assert_eq!(
        conversation_row(&app, id).await.mode,
        entity::enums::ConversationMode::Bot
    );

    // The owner answers from the Business app (twice delivered by Meta).
    let echo = echo_notification("wamid.APP-1", "Maria here, see you at 3!");
    assert_eq!(deliver(&app, id, &echo).await, StatusCode::OK);
    assert_eq!(deliver(&app, id, &echo).await, StatusCode::OK);
    let outbound = rows(&app, id, Direction::Out).await;
    assert_eq!(outbound.len(), replies.len() + 1, "{outbound:?}");
    let phone = outbound.last().unwrap();
    assert_eq!(phone.author.as_deref(), Some("Phone"));
    assert_eq!(phone.text, "Maria here, see you at 3!");
    assert_eq!(phone.status, MessageStatus::Sent);
    assert_eq!(phone.chat_id, format!("+{CUSTOMER}"));
    let conversation = conversation_row(&app, id).await;
    assert_eq!(conversation.mode, entity::enums::ConversationMode::Human);
    assert_eq!(conversation.mode_reason.as_deref(), Some("owner_phone"));

    // The bot stays silent in that chat now.
    let sent_before = sent_bodies(&graph).await.len();
    let answer = customer_says(&app, id, "wamid.IN-E2", "great").await;
    assert_eq!(answer.status, MessageStatus::Skipped);
    assert_eq!(sent_bodies(&graph).await.len(), sent_before);
}

#[tokio::test]
async fn delivery_reports_reach_receivers_as_signed_message_status_events_forward_only() {
    let (app, graph) = cloud_app().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(accept("status"))
        .mount(&graph)
        .await;
    let hooks = crate::webhooks::receiver(204).await;
    let id = cloud_tenant(&app, 1).await;
    let (_, secret) = crate::webhooks::endpoint(
        &app,
        id,
        &format!("{}/hooks", hooks.uri()),
        &["message.status"],
    )
    .await;
    assert_eq!(
        deliver(
            &app,
            id,
            &text_notification("wamid.IN-S1", CUSTOMER, "hello")
        )
        .await,
        StatusCode::OK
    );
    settled(&app, id, "wamid.IN-S1").await;
    let reply = rows(&app, id, Direction::Out).await.remove(0);
    let wamid = reply.wa_message_id.clone().unwrap();
    let statuses = || async {
        let got = crate::webhooks::received(&hooks).await;
        for (request, body) in &got {
            crate::webhooks::verify(&secret, request);
            assert_eq!(body["type"], "message.status", "{body}");
        }
        got.into_iter()
            .filter(|(_, body)| body["data"]["wa_message_id"] == wamid.as_str())
            .map(|(_, body)| {
                body["data"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    for (report, told) in [("delivered", "DELIVERED"), ("read", "READ")] {
        assert_eq!(
            deliver(&app, id, &status_notification(&wamid, report)).await,
            StatusCode::OK
        );
        eventually(&format!("{told} told"), || async {
            statuses()
                .await
                .last()
                .is_some_and(|s| s == told)
                .then_some(())
        })
        .await;
    }
    // A late "delivered" moves nothing, so it tells nothing: a later
    // message's answer (committed after it) comes first.
    assert_eq!(
        deliver(&app, id, &status_notification(&wamid, "delivered")).await,
        StatusCode::OK
    );
    assert_eq!(
        deliver(
            &app,
            id,
            &text_notification("wamid.IN-S2", CUSTOMER, "thanks")
        )
        .await,
        StatusCode::OK
    );
    settled(&app, id, "wamid.IN-S2").await;
    let queued = entity::webhook_event::Entity::find()
        .filter(entity::webhook_event::Column::TenantId.eq(id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(queued.len(), 2, "DELIVERED and READ only: {queued:?}");
    assert_eq!(statuses().await, ["DELIVERED", "READ"]);
}
