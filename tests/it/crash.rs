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
