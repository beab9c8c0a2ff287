//! kill -9 and a start on the same data: what the server acknowledged is
//! still there afterwards, and answered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use entity::enums::{Direction, MessageStatus};
use entity::message_log;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{ServerProcess, eventually, id_of, tenant_draft};

async fn admin(server: &ServerProcess, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = server.admin(method, &format!("/api/admin{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// A tenant of the server whose sandbox bot is running and linked.
async fn linked_sandbox_tenant(server: &ServerProcess) -> Uuid {
    let id = id_of(&admin(server, Method::POST, "/tenants", Some(tenant_draft(1))).await);
    let patch = json!({ "response_delay_ms": 0 });
    admin(
        server,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(patch),
    )
    .await;
    admin(
        server,
        Method::POST,
        &format!("/tenants/{id}/approve"),
        Some(json!({})),
    )
    .await;
    admin(
        server,
        Method::POST,
        &format!("/tenants/{id}/bot/start"),
        Some(json!({})),
    )
    .await;
    wait_for_link_state(server, id, "QR_READY").await;
    admin(
        server,
        Method::POST,
        &format!("/tenants/{id}/sandbox/scan"),
        Some(json!({})),
    )
    .await;
    wait_for_link_state(server, id, "CONNECTED").await;
    id
}

async fn wait_for_link_state(server: &ServerProcess, id: Uuid, state: &str) {
    eventually(&format!("the sandbox {state}"), || async {
        let qr = admin(server, Method::GET, &format!("/tenants/{id}/qr"), None).await;
        (qr["state"] == state).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sandbox_messages_acknowledged_before_a_kill_are_stored_and_answered_after_it() {
    // Slow commits (each batch waits 100 ms for more): a server that
    // answered 202 before its commit would have many messages in memory
    // only when it dies.
    let server =
        ServerProcess::start_on_test_database(&[("FLOWHQ__BOTS__LOG_FLUSH_INTERVAL", "100ms")])
            .await;
    let id = linked_sandbox_tenant(&server).await;

    // Customers keep writing, 16 at a time, while the process dies.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..16 {
        let (client, base) = (server.client.clone(), server.base.clone());
        let acknowledged = acknowledged.clone();
        senders.spawn(async move {
            for n in 0.. {
                let message_id = format!("crash-{sender}-{n}");
                let sent = client
                    .post(format!("{base}/api/admin/tenants/{id}/sandbox/inbound"))
                    .basic_auth(
                        crate::helpers::ADMIN_USERNAME,
                        Some(crate::helpers::ADMIN_PASSWORD),
                    )
                    .json(&json!({
                        "from": format!("+4917{sender:02}{n:07}"),
                        "text": "hello",
                        "id": message_id,
                    }))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == StatusCode::ACCEPTED => {
                        acknowledged.lock().unwrap().push(message_id);
                    }
                    // The process is gone (or going): nothing was promised.
                    _ => return,
                }
            }
        });
    }
    eventually("200 acknowledged messages", || async {
        (acknowledged.lock().unwrap().len() >= 200).then_some(())
    })
    .await;
    let server = server.restart().await; // kill -9 first
    while senders.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();

    let db = Database::connect(server.database_url()).await.unwrap();
    let stored: Vec<String> = message_log::Entity::find()
        .select_only()
        .column(message_log::Column::WaMessageId)
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::Direction.eq(Direction::In))
        .into_tuple()
        .all(&db)
        .await
        .unwrap();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged, then lost in the kill: {lost:?}"
    );
    eventually(
        "every acknowledged message answered after the restart",
        || async {
            let unanswered = message_log::Entity::find()
                .filter(message_log::Column::TenantId.eq(id))
                .filter(message_log::Column::Direction.eq(Direction::In))
                .filter(message_log::Column::WaMessageId.is_in(acknowledged.iter().cloned()))
                .filter(message_log::Column::Status.ne(MessageStatus::Answered))
                .all(&db)
                .await
                .unwrap();
            unanswered.is_empty().then_some(())
        },
    )
    .await;
    db.close().await.unwrap();
}

/// Meta's Graph API, faked on loopback: the number lookup answers, the
/// first send never does (the process dies inside that call), every later
/// one is accepted at once.
async fn graph_that_hangs_on_the_first_send() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PHONE_NUMBER_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "display_phone_number": "+1 555-010-0000",
            "id": PHONE_NUMBER_ID,
        })))
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path(graph_messages_path()))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path(graph_messages_path()))
        .respond_with(|_: &wiremock::Request| {
            ResponseTemplate::new(200).set_body_json(json!({
                "messaging_product": "whatsapp",
                "messages": [{ "id": format!("wamid.OUT-{}", Uuid::new_v4()) }],
            }))
        })
        .with_priority(2)
        .mount(&graph)
        .await;
    graph
}

const PHONE_NUMBER_ID: &str = "106540352242922";
const APP_SECRET: &str = "app-secret-crash";

fn graph_messages_path() -> String {
    format!("/v21.0/{PHONE_NUMBER_ID}/messages")
}

/// The texts Graph was asked to send, in arrival order.
async fn graph_sends(graph: &wiremock::MockServer) -> Vec<String> {
    graph
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == graph_messages_path())
        .map(|r| {
            r.body_json::<Value>().unwrap()["text"]["body"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// A customer's text, signed as Meta signs its webhook deliveries.
async fn deliver_text(server: &ServerProcess, id: Uuid, wamid: &str, from: &str, text: &str) {
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550100000", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": "Kerry" }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": "1763900000",
                           "type": "text", "text": { "body": text } }],
        } }] }],
    }))
    .unwrap();
    let response = server
        .client
        .post(server.url(&format!("/webhooks/whatsapp/{id}")))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            flowhq::crypto::hub_signature(APP_SECRET.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn outbound(db: &sea_orm::DatabaseConnection, id: Uuid) -> Vec<message_log::Model> {
    use sea_orm::QueryOrder;
    message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::Direction.eq(Direction::Out))
        .order_by_asc(message_log::Column::Id)
        .all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reply_interrupted_inside_the_send_by_a_kill_is_never_sent_twice_and_the_rest_goes_out() {
    let graph = graph_that_hangs_on_the_first_send().await;
    let server = ServerProcess::start_on_test_database(&[(
        "FLOWHQ__CLOUD_API__GRAPH_BASE_URL",
        graph.uri().as_str(),
    )])
    .await;
    let id = id_of(&admin(&server, Method::POST, "/tenants", Some(tenant_draft(1))).await);
    // Open around the clock (00:00-24:00 UTC), and a welcome that goes out
    // in three parts: the first contact's answer is a multi-part reply.
    let every_day = json!({ "open": "00:00", "close": "24:00" });
    let hours: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| ((*day).to_owned(), every_day.clone()))
        .collect();
    let welcome: Vec<String> = (1..=18)
        .map(|n| format!("Line {n} of our welcome."))
        .collect();
    let welcome = welcome.join(" ");
    let patch = json!({
        "response_delay_ms": 0,
        "timezone": "UTC",
        "hours": hours,
        "welcome_message": welcome,
        "max_message_length": 160,
    });
    admin(
        &server,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(patch),
    )
    .await;
    admin(
        &server,
        Method::POST,
        &format!("/tenants/{id}/approve"),
        Some(json!({})),
    )
    .await;
    let credentials = json!({
        "kind": "cloud_api",
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": "EAAG-crash-token",
        "app_secret": APP_SECRET,
        "verify_token": "verify-crash",
    });
    admin(
        &server,
        Method::PUT,
        &format!("/tenants/{id}/transport"),
        Some(credentials),
    )
    .await;
    admin(
        &server,
        Method::POST,
        &format!("/tenants/{id}/bot/start"),
        Some(json!({})),
    )
    .await;
    wait_for_tenant_status(&server, id, "ACTIVE").await;
    // The one minute a day these hours are closed would give a one-part
    // answer: let it pass.
    let now = chrono::Utc::now().time();
    if now >= chrono::NaiveTime::from_hms_opt(23, 58, 30).unwrap() {
        tokio::time::sleep(Duration::from_secs(100)).await;
    }

    deliver_text(&server, id, "wamid.IN-crash-1", "4915112345678", "hello").await;
    let first = eventually("the first part inside Graph's send call", || async {
        graph_sends(&graph).await.first().cloned()
    })
    .await;
    let server = server.restart().await; // kill -9 inside the call

    // A second customer after the restart: once their reply is out, the
    // bot has been through its recovery and anything it would send again
    // would have gone before.
    wait_for_tenant_status(&server, id, "ACTIVE").await;
    deliver_text(&server, id, "wamid.IN-crash-2", "4915187654321", "hello").await;
    let db = Database::connect(server.database_url()).await.unwrap();
    let rows = eventually("every reply settled after the restart", || async {
        let rows = outbound(&db, id).await;
        let to_second = rows
            .iter()
            .filter(|r| r.chat_id.ends_with("87654321"))
            .count();
        let open = rows
            .iter()
            .any(|r| matches!(r.status, MessageStatus::Queued | MessageStatus::Sending));
        (to_second == 3 && !open).then_some(rows)
    })
    .await;
    let to_first: Vec<&message_log::Model> = rows
        .iter()
        .filter(|r| r.chat_id.ends_with("12345678"))
        .collect();
    assert_eq!(to_first.len(), 3, "one reply of three parts: {to_first:?}");
    assert_eq!(to_first[0].text, first);
    // The part inside the call: UNKNOWN, visible, not sent again.
    assert_eq!(to_first[0].status, MessageStatus::Unknown, "{to_first:?}");
    assert!(
        to_first[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("may or may not"),
        "{to_first:?}"
    );
    // The parts that never started: sent after the restart, once each.
    assert!(
        to_first[1..]
            .iter()
            .all(|r| r.status == MessageStatus::Sent),
        "{to_first:?}"
    );
    let sends = graph_sends(&graph).await;
    for part in &to_first {
        let times = sends.iter().filter(|text| **text == part.text).count();
        // Parts of both customers' welcomes are the same texts.
        assert_eq!(times, 2, "{:?} sent {times} times: {sends:?}", part.text);
    }
    assert_eq!(sends.len(), 6, "{sends:?}");
    // And the message itself was not answered again.
    let answered: Vec<MessageStatus> = message_log::Entity::find()
        .select_only()
        .column(message_log::Column::Status)
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::Direction.eq(Direction::In))
        .into_tuple()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(answered, vec![MessageStatus::Answered; 2]);
    // The log the admin reads says so.
    let logs = admin(&server, Method::GET, &format!("/tenants/{id}/logs"), None).await;
    assert!(logs.to_string().contains("UNKNOWN"), "{logs}");
    db.close().await.unwrap();
}

async fn wait_for_tenant_status(server: &ServerProcess, id: Uuid, status: &str) {
    eventually(&format!("the tenant {status}"), || async {
        let tenant = admin(server, Method::GET, &format!("/tenants/{id}"), None).await;
        (tenant["status"] == status).then_some(())
    })
    .await;
}
