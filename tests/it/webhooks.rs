//! Outbound webhooks against a real HTTP receiver on loopback (wiremock):
//! every event the runtime emits arrives signed so that the Standard
//! Webhooks reference verifier (`standardwebhooks` crate) accepts it; a
//! receiver that fails then heals gets everything in order; a 400 is not
//! retried; private targets are refused when the platform does not allow
//! them; another tenant's endpoint is a 404 on every route.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::bots::{approved_tenant, customer_writes, linked_tenant, start_and_link};
use crate::helpers::{TestApp, eventually, json_of, spawn_app, spawn_app_with};

const CUSTOMER: &str = "+4917600000077";

pub(crate) fn hooks(id: Uuid) -> String {
    format!("/api/admin/tenants/{id}/webhooks")
}

/// A receiver answering `status` to everything.
pub(crate) async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_string("ok"))
        .mount(&server)
        .await;
    server
}

/// Creates an endpoint for `url` wanting `events`; returns (id, secret).
pub(crate) async fn endpoint(
    app: &TestApp,
    tenant: Uuid,
    url: &str,
    events: &[&str],
) -> (String, String) {
    let (status, body) = app
        .api_post(&hooks(tenant), &json!({ "url": url, "events": events }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (body["id"].as_str().unwrap().to_owned(), secret)
}

/// The received requests whose body parses, as (webhook-id, body).
pub(crate) async fn received(server: &MockServer) -> Vec<(Request, Value)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            (request, body)
        })
        .collect()
}

pub(crate) fn verify(secret: &str, request: &Request) {
    let verifier = standardwebhooks::Webhook::new(secret).unwrap();
    verifier
        .verify(&request.body, &request.headers)
        .unwrap_or_else(|err| panic!("the Standard Webhooks verifier refused it: {err:?}"));
}

pub(crate) async fn attempts(app: &TestApp, tenant: Uuid, wid: &str) -> Vec<Value> {
    let (status, body) = app
        .api_get(&format!("{}/{wid}/attempts", hooks(tenant)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn every_event_the_runtime_emits_arrives_signed_for_the_standard_verifier() {
    let app = spawn_app().await;
    let server = receiver(204).await;
    let tenant = approved_tenant(&app, 1).await;
    let all = [
        "message.received",
        "message.sent",
        "message.status",
        "conversation.needs_human",
        "conversation.mode_changed",
        "bot.status_changed",
        "usage.quota_reached",
    ];
    let (wid, secret) = endpoint(&app, tenant, &format!("{}/hooks", server.uri()), &all).await;
    start_and_link(&app, tenant).await;
    customer_writes(&app, tenant, CUSTOMER, "I want to talk to a human", "in-1").await;
    let conversation = eventually("the conversation", || async {
        let (_, body) = app
            .api_get(&format!("/api/admin/tenants/{tenant}/conversations"))
            .await;
        body["items"][0]["id"].as_i64()
    })
    .await;
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{tenant}/conversations/{conversation}/hand-back"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let wanted = [
        "bot.status_changed",
        "message.received",
        "message.sent",
        "conversation.needs_human",
        "conversation.mode_changed",
    ];
    let got = eventually("every event type delivered", || async {
        let got = received(&server).await;
        let handed_back = got.iter().any(|(_, body)| {
            body["type"] == "conversation.mode_changed" && body["data"]["mode"] == "BOT"
        });
        (handed_back
            && wanted
                .iter()
                .all(|t| got.iter().any(|(_, body)| body["type"] == *t)))
        .then_some(got)
    })
    .await;
    for (request, body) in &got {
        verify(&secret, request);
        let id = request.headers.get("webhook-id").unwrap().to_str().unwrap();
        assert_eq!(body["id"], id);
        assert!(id.starts_with("msg_"));
        assert_eq!(body["version"], 1);
        assert_eq!(body["tenant_id"], tenant.to_string());
        assert!(body["timestamp"].is_string());
        let text = body.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("whsec_"),
            "{text}"
        );
    }
    let received_msg = got
        .iter()
        .find(|(_, b)| b["type"] == "message.received")
        .unwrap();
    assert_eq!(received_msg.1["data"]["chat"], CUSTOMER);
    assert_eq!(received_msg.1["data"]["text"], "I want to talk to a human");
    let modes: Vec<&Value> = got
        .iter()
        .filter(|(_, b)| b["type"] == "conversation.mode_changed")
        .map(|(_, b)| &b["data"]["mode"])
        .collect();
    assert!(
        modes.contains(&&json!("HUMAN")) && modes.contains(&&json!("BOT")),
        "{modes:?}"
    );
    // The delivery log has every attempt, answered 204.
    let log = attempts(&app, tenant, &wid).await;
    assert!(log.len() >= wanted.len(), "{log:?}");
    assert!(
        log.iter()
            .all(|a| a["status_code"] == 204 && a["event_status"] == "DELIVERED")
    );

    // "Send a test event" reaches it too, signed.
    let (status, body) = app
        .api_post(&format!("{}/{wid}/test", hooks(tenant)), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let test = eventually("the test event", || async {
        received(&server)
            .await
            .into_iter()
            .find(|(_, b)| b["type"] == "webhook.test")
    })
    .await;
    verify(&secret, &test.0);
}

#[tokio::test]
async fn a_rotated_secret_and_the_previous_one_both_sign_during_the_overlap() {
    let app = spawn_app().await;
    let server = receiver(200).await;
    let tenant = linked_tenant(&app, 1).await;
    let (wid, old) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let (status, rotated) = app
        .api_post(
            &format!("{}/{wid}/rotate-secret", hooks(tenant)),
            &json!({ "overlap_hours": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());
    // The secret is never shown again.
    let (_, listed) = app.api_get(&hooks(tenant)).await;
    assert!(!listed.to_string().contains("whsec_"), "{listed}");

    app.api_post(&format!("{}/{wid}/test", hooks(tenant)), &json!({}))
        .await;
    let (request, _) = eventually("the test event", || async {
        received(&server).await.into_iter().next()
    })
    .await;
    let signature = request
        .headers
        .get("webhook-signature")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    verify(new, &request);
    verify(&old, &request);
}

#[tokio::test]
async fn a_receiver_that_fails_then_heals_gets_every_event_in_order() {
    let app = spawn_app_with(|s| {
        s.webhooks.retry_delays = vec![Duration::from_millis(200); 7];
    })
    .await;
    let server = MockServer::start().await;
    // Down for the first three attempts, then up.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let tenant = linked_tenant(&app, 1).await;
    let (wid, secret) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let texts: Vec<String> = (1..=6).map(|n| format!("message number {n}")).collect();
    for (n, text) in texts.iter().enumerate() {
        customer_writes(&app, tenant, CUSTOMER, text, &format!("in-{n}")).await;
    }
    let got = eventually("all six delivered", || async {
        let got = received(&server).await;
        let delivered = got.len() >= texts.len() + 3;
        delivered.then_some(got)
    })
    .await;
    // In arrival order, each event until it succeeded, never a later one
    // before an earlier one (concurrency 1).
    let mut order: Vec<String> = Vec::new();
    for (request, body) in &got {
        verify(&secret, request);
        let text = body["data"]["text"].as_str().unwrap().to_owned();
        if order.last() != Some(&text) {
            assert!(
                !order.contains(&text),
                "{text} came again after a later one"
            );
            order.push(text);
        }
    }
    assert_eq!(order, texts);
    let log = attempts(&app, tenant, &wid).await;
    assert_eq!(
        log.iter().filter(|a| a["status_code"] == 503).count(),
        3,
        "{log:?}"
    );
    let (_, endpoint) = app.api_get(&format!("{}/{wid}", hooks(tenant))).await;
    assert_eq!(endpoint["failing_since"], Value::Null, "{endpoint}");
}

#[tokio::test]
async fn a_400_is_not_retried_the_event_fails_and_send_again_queues_it_once_more() {
    let app = spawn_app_with(|s| {
        s.webhooks.retry_delays = vec![Duration::from_millis(50); 7];
    })
    .await;
    let server = receiver(400).await;
    let tenant = linked_tenant(&app, 1).await;
    let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let (status, queued) = app
        .api_post(&format!("{}/{wid}/test", hooks(tenant)), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let log = eventually("the event failed", || async {
        let log = attempts(&app, tenant, &wid).await;
        (log.first()?["event_status"] == "FAILED").then_some(log)
    })
    .await;
    // FAILED is final: one attempt, one request.
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status_code"], 400);
    assert_eq!(log[0]["response"], "ok");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let (_, endpoint) = app.api_get(&format!("{}/{wid}", hooks(tenant))).await;
    assert!(endpoint["flagged_at"].is_string(), "{endpoint}");

    // "Send again": the same event id, once more.
    let event = log[0]["event"].as_i64().unwrap();
    let (status, again) = app
        .api_post(
            &format!("{}/{wid}/events/{event}/resend", hooks(tenant)),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["event_id"], queued["event_id"]);
    eventually("sent again", || async {
        (attempts(&app, tenant, &wid).await.len() == 2).then_some(())
    })
    .await;
    let ids: Vec<String> = received(&server)
        .await
        .iter()
        .map(|(r, _)| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn finished_events_past_the_retention_go_with_their_attempts_and_pending_ones_stay() {
    use entity::{webhook_attempt, webhook_event};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

    let app = spawn_app().await;
    let server = receiver(200).await;
    let tenant = linked_tenant(&app, 1).await;
    let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    for n in 0..4 {
        customer_writes(
            &app,
            tenant,
            CUSTOMER,
            &format!("hello {n}"),
            &format!("in-{n}"),
        )
        .await;
    }
    eventually("four delivered", || async {
        (attempts(&app, tenant, &wid).await.len() == 4).then_some(())
    })
    .await;
    let ids: Vec<i64> = webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 4);
    let now = chrono::Utc::now();
    let long_ago = now - chrono::Duration::days(40);
    // The first three are 40 days old; the third is still owed (PENDING,
    // its next attempt far off), the fourth is recent.
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::CreatedAt, Expr::value(long_ago))
        .filter(webhook_event::Column::Id.is_in(ids[..3].to_vec()))
        .exec(app.db())
        .await
        .unwrap();
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::Status, Expr::value("PENDING"))
        .col_expr(
            webhook_event::Column::NextAttemptAt,
            Expr::value(now + chrono::Duration::days(365)),
        )
        .filter(webhook_event::Column::Id.eq(ids[2]))
        .exec(app.db())
        .await
        .unwrap();

    let deleted = flowhq::services::webhooks::delivery::purge_finished(
        app.db(),
        now - chrono::Duration::days(30),
    )
    .await
    .unwrap();
    assert_eq!(deleted, 2);
    let left: Vec<i64> = webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, ids[2..].to_vec());
    let db = app.db();
    let attempts_of = |of: Vec<i64>| async move {
        webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::EventRowId.is_in(of))
            .count(db)
            .await
            .unwrap()
    };
    assert_eq!(
        attempts_of(ids[..2].to_vec()).await,
        0,
        "attempts outlived their events"
    );
    assert_eq!(attempts_of(ids[2..].to_vec()).await, 2);
    // Nothing more is old enough.
    let again = flowhq::services::webhooks::delivery::purge_finished(
        app.db(),
        now - chrono::Duration::days(30),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn a_purge_goes_through_a_history_many_chunks_long_and_stops_at_the_cutoff() {
    use entity::webhook_event;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

    let app = app_with_a_sleeping_worker().await;
    let tenant = approved_tenant(&app, 1).await;
    let (wid, _) = endpoint(
        &app,
        tenant,
        "http://127.0.0.1:9/hooks",
        &["message.received"],
    )
    .await;
    let now = chrono::Utc::now();
    let old = now - chrono::Duration::days(40);
    // 2,600 events in id order: 2,500 old (every 100th still PENDING), then
    // 100 recent. The purge reads 1,000 ids at a time.
    const OLD: usize = 2_500;
    const RECENT: usize = 100;
    let row = |n: usize| {
        let (created_at, status) = if n >= OLD {
            (now, "DELIVERED")
        } else if n.is_multiple_of(100) {
            (old, "PENDING")
        } else if n.is_multiple_of(2) {
            (old, "DELIVERED")
        } else {
            (old, "FAILED")
        };
        webhook_event::ActiveModel {
            tenant_id: Set(tenant),
            endpoint_id: Set(Uuid::parse_str(&wid).unwrap()),
            event_id: Set(format!("msg_purge{n}")),
            event_type: Set("message.received".to_owned()),
            payload: Set("{}".to_owned()),
            created_at: Set(created_at),
            status: Set(status.to_owned()),
            attempts: Set(1),
            next_attempt_at: Set(now + chrono::Duration::days(365)),
            lease_until: Set(None),
            delivered_at: Set(None),
            ..Default::default()
        }
    };
    let rows: Vec<_> = (0..OLD + RECENT).map(row).collect();
    for chunk in rows.chunks(500) {
        webhook_event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
    let db = app.db();
    let count = |status: &'static str| async move {
        webhook_event::Entity::find()
            .filter(webhook_event::Column::Status.eq(status))
            .count(db)
            .await
            .unwrap()
    };

    let deleted = flowhq::services::webhooks::delivery::purge_finished(
        app.db(),
        now - chrono::Duration::days(30),
    )
    .await
    .unwrap();
    let pending = (OLD / 100) as u64;
    assert_eq!(deleted, OLD as u64 - pending, "every old finished event");
    assert_eq!(count("PENDING").await, pending, "owed events stay");
    assert_eq!(count("FAILED").await, 0);
    assert_eq!(count("DELIVERED").await, RECENT as u64, "recent ones stay");
}

/// An app whose own delivery worker looks only when woken (hourly
/// otherwise): the test drives claims and deliveries itself.
pub(crate) async fn app_with_a_sleeping_worker() -> TestApp {
    spawn_app_with(|s| {
        s.webhooks.poll_interval = Duration::from_secs(3600);
    })
    .await
}

/// A test event queued for endpoint `wid`, due now.
pub(crate) async fn pending_event(
    app: &TestApp,
    tenant: Uuid,
    wid: &str,
    event_id: &str,
) -> entity::webhook_event::Model {
    use sea_orm::{ActiveModelTrait, Set};
    let now = chrono::Utc::now();
    entity::webhook_event::ActiveModel {
        tenant_id: Set(tenant),
        endpoint_id: Set(wid.parse().unwrap()),
        event_id: Set(event_id.to_owned()),
        event_type: Set("webhook.test".into()),
        payload: Set("{}".into()),
        created_at: Set(now),
        status: Set("PENDING".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
}

/// A delivery worker of the app's settings, driven by the test.
pub(crate) fn deliverer(app: &TestApp) -> flowhq::services::webhooks::delivery::Deliverer {
    flowhq::services::webhooks::delivery::Deliverer::new(
        app.db().clone(),
        app.state.master_key.clone(),
        app.state.settings.webhooks.clone(),
    )
    .unwrap()
}

/// Two batches of one tenant written side by side (PostgreSQL's writer
/// commits several at once): the first is held up after it began, the
/// second starts meanwhile. The delivery worker takes an endpoint's oldest
/// visible event, so the events must be queued in the order the batches
/// commit, with the messages' ids in that order too: the receiver then
/// sees the tenant's messages in order.
#[tokio::test]
async fn a_tenants_batches_written_side_by_side_queue_their_events_in_order() {
    use flowhq::services::runtime::log_batch::{InboundRow, LogBatch, flush_log_batch};
    use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, TransactionTrait};

    let app = app_with_a_sleeping_worker().await;
    let server = receiver(200).await;
    let tenant = app.new_tenant(1).await;
    endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let batch = |chat: &str, id: &str| LogBatch {
        inbound: vec![InboundRow {
            tenant_id: tenant.into(),
            wa_message_id: id.to_owned(),
            chat_id: chat.to_owned(),
            to: "bot".into(),
            text: format!("message {id}"),
            kind: entity::enums::MessageKind::Text,
            contact_name: None,
            created_at: chrono::Utc::now(),
        }],
        ..Default::default()
    };
    let (held_chat, other_chat) = ("+4917600000081", "+4917600000082");
    flush_log_batch(app.db(), &batch(held_chat, "order-0"))
        .await
        .unwrap();
    // Holds the held chat's conversation row: the first batch waits there,
    // after it began (on SQLite, before: one writer at a time).
    let holder = app.db().begin().await.unwrap();
    holder
        .execute_unprepared(&format!(
            "UPDATE conversation SET unread = unread WHERE chat_id = '{held_chat}'"
        ))
        .await
        .unwrap();
    let first = tokio::spawn({
        let (db, batch) = (app.db().clone(), batch(held_chat, "order-1"));
        async move { flush_log_batch(&db, &batch).await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tokio::spawn({
        let (db, batch) = (app.db().clone(), batch(other_chat, "order-2"));
        async move { flush_log_batch(&db, &batch).await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.commit().await.unwrap();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();

    let queued: Vec<i64> = entity::webhook_event::Entity::find()
        .order_by_asc(entity::webhook_event::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let payload: Value = serde_json::from_str(&row.payload).unwrap();
            payload["data"]["message_id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert!(
        queued.windows(2).all(|w| w[0] < w[1]),
        "the events, in the order they are delivered, name messages {queued:?}"
    );
}

/// A use case that records events (here a take-over) takes its turn behind
/// a transaction of the same business already recording theirs, as a log
/// writer batch does: otherwise its events could commit first with higher
/// ids while the other's lower ones are not visible yet, and the delivery
/// worker would send them out of order.
#[tokio::test]
async fn a_take_over_waits_for_the_business_s_transaction_in_flight_to_queue_its_events() {
    use flowhq::services::runtime::log_batch::{InboundRow, LogBatch, flush_log_batch};
    use flowhq::services::webhooks::events::take_turn;

    let app = app_with_a_sleeping_worker().await;
    let server = receiver(200).await;
    let tenant = app.new_tenant(1).await;
    let other = app.new_tenant(2).await;
    endpoint(&app, tenant, &server.uri(), &["conversation.mode_changed"]).await;
    endpoint(&app, other, &server.uri(), &["conversation.mode_changed"]).await;
    for id in [tenant, other] {
        let batch = LogBatch {
            inbound: vec![InboundRow {
                tenant_id: id.into(),
                wa_message_id: format!("turn-{id}"),
                chat_id: CUSTOMER.to_owned(),
                to: "bot".into(),
                text: "hello".into(),
                kind: entity::enums::MessageKind::Text,
                contact_name: None,
                created_at: chrono::Utc::now(),
            }],
            ..Default::default()
        };
        flush_log_batch(app.db(), &batch).await.unwrap();
    }
    let take_over = |id: Uuid| {
        let app = &app;
        async move {
            let (_, list) = app
                .api_get(&format!("/api/admin/tenants/{id}/conversations"))
                .await;
            let conversation = list["items"][0]["id"].as_i64().unwrap();
            app.api_post(
                &format!("/api/admin/tenants/{id}/conversations/{conversation}/take-over"),
                &json!({}),
            )
            .await
        }
    };

    // Another business's turn does not hold this one up (PostgreSQL; on
    // SQLite every write waits for the one writer anyway).
    let holder = flowhq::db::begin_write(app.db()).await.unwrap();
    take_turn(&holder, &[tenant.into()]).await.unwrap();
    if app.db().get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let (status, body) = take_over(other).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let waiting = take_over(tenant);
    tokio::pin!(waiting);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "the take-over did not wait for the transaction holding its business's turn"
    );
    holder.commit().await.unwrap();
    let (status, body) = waiting.await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mode"], "HUMAN", "{body}");
}

/// The owner writing from the phone hands the chat to a person: endpoints
/// hear of it as of any other switch.
#[tokio::test]
async fn the_owner_writing_from_the_phone_tells_endpoints_the_chat_went_to_a_person() {
    use flowhq::services::runtime::phone::PhoneMessage;

    let app = spawn_app().await;
    let server = receiver(204).await;
    let tenant = approved_tenant(&app, 1).await;
    endpoint(&app, tenant, &server.uri(), &["conversation.mode_changed"]).await;
    start_and_link(&app, tenant).await;
    customer_writes(&app, tenant, CUSTOMER, "hello", "phone-in-1").await;
    eventually("the conversation", || async {
        let (_, body) = app
            .api_get(&format!("/api/admin/tenants/{tenant}/conversations"))
            .await;
        body["items"][0]["id"].as_i64()
    })
    .await;
    app.state
        .sandbox
        .phone_writes(
            tenant.into(),
            PhoneMessage {
                id: "phone-out-1".to_owned(),
                chat: CUSTOMER.to_owned(),
                text: "Hi, it's Maria.".to_owned(),
                kind: entity::enums::MessageKind::Text,
                at: chrono::Utc::now(),
            },
        )
        .unwrap();
    let switched = eventually("the switch delivered", || async {
        received(&server)
            .await
            .into_iter()
            .find(|(_, body)| body["type"] == "conversation.mode_changed")
    })
    .await;
    let data = &switched.1["data"];
    assert_eq!(data["mode"], "HUMAN", "{data}");
    assert_eq!(data["reason"], "owner_phone", "{data}");
    assert_eq!(data["actor"], "Phone", "{data}");
}

#[tokio::test]
async fn an_outcome_that_comes_after_another_claim_took_the_event_is_not_recorded() {
    use entity::{webhook_attempt, webhook_event};
    use flowhq::services::webhooks::delivery::{self, DeliveryStats};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    let app = app_with_a_sleeping_worker().await;
    let server = receiver(200).await;
    let tenant = app.new_tenant(1).await;
    let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let event = pending_event(&app, tenant, &wid, "msg_takeover").await;

    // A slow first delivery: its lease runs out and a second claim takes
    // the event.
    let first = delivery::claim(app.db(), 1, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = delivery::claim(app.db(), 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "the expired lease is taken over");
    let deliverer = deliverer(&app);
    let stats = DeliveryStats::default();

    // The first delivery's outcome arrives late: not recorded.
    let lease = second[0].row.lease_until;
    deliverer.deliver(first[0].clone(), &stats).await;
    let row = webhook_event::Entity::find_by_id(event.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.status.as_str(), row.lease_until), ("PENDING", lease));
    let attempts = || async {
        webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::EventRowId.eq(event.id))
            .count(app.db())
            .await
            .unwrap()
    };
    assert_eq!(attempts().await, 0, "a stale outcome left an attempt row");

    // The claim that owns it records its own.
    deliverer.deliver(second[0].clone(), &stats).await;
    let row = webhook_event::Entity::find_by_id(event.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("DELIVERED", 1));
    assert_eq!(attempts().await, 1);
    // At least once: both deliveries went out.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// The claim reads an endpoint's queue from its `queue_floor` on (so that
/// on PostgreSQL it does not walk the index entries every delivered event
/// leaves until VACUUM), which the worker raises once a second. The floor
/// follows the oldest PENDING event: it never passes one that waits for a
/// retry, and a "send again" is queued above it.
#[tokio::test]
async fn the_claim_starts_below_the_oldest_pending_event_and_never_skips_one() {
    use entity::{webhook_endpoint, webhook_event};
    use flowhq::services::webhooks::delivery::{self, DeliveryStats};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let app = app_with_a_sleeping_worker().await;
    let server = receiver(200).await;
    let tenant = app.new_tenant(1).await;
    let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let endpoint_id: Uuid = wid.parse().unwrap();
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(pending_event(&app, tenant, &wid, &format!("msg_floor_{n}")).await);
    }
    let floor = || async {
        webhook_endpoint::Entity::find_by_id(endpoint_id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
            .queue_floor
    };
    // As the worker does: floors raised (it does so once a second), then a
    // claim.
    let claim = || async {
        delivery::raise_floors(app.db()).await.unwrap();
        delivery::claim(app.db(), 4, Duration::from_secs(60))
            .await
            .unwrap()
    };
    let deliverer = deliverer(&app);
    let stats = DeliveryStats::default();
    assert_eq!(floor().await, 0, "a new endpoint reads from the start");

    let first = claim().await;
    assert_eq!(first.len(), 1, "concurrency 1: the oldest only");
    assert_eq!(first[0].row.id, events[0].id);
    assert_eq!(floor().await, events[0].id - 1);
    deliverer.deliver(first[0].clone(), &stats).await;

    // The second waits for a retry: the third is not taken and the floor
    // stays below the second.
    let retry_at = chrono::Utc::now() + chrono::Duration::hours(1);
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::NextAttemptAt, Expr::value(retry_at))
        .filter(webhook_event::Column::Id.eq(events[1].id))
        .exec(app.db())
        .await
        .unwrap();
    assert!(claim().await.is_empty(), "the third overtook the second");
    assert_eq!(floor().await, events[1].id - 1);
    assert!(claim().await.is_empty());
    assert_eq!(floor().await, events[1].id - 1, "the floor passed a retry");

    // Due again: the second, then the third.
    webhook_event::Entity::update_many()
        .col_expr(
            webhook_event::Column::NextAttemptAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(webhook_event::Column::Id.eq(events[1].id))
        .exec(app.db())
        .await
        .unwrap();
    for expected in &events[1..] {
        let claimed = claim().await;
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].row.id, expected.id);
        deliverer.deliver(claimed[0].clone(), &stats).await;
    }
    assert_eq!(floor().await, events[2].id - 1);
    assert!(claim().await.is_empty(), "all delivered");

    // "Send again" of the first queues it above the floor: sent.
    let (status, body) = app
        .api_post(
            &format!("{}/{wid}/events/{}/resend", hooks(tenant), events[0].id),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let resent = body["event"].as_i64().unwrap();
    assert!(resent > events[2].id, "{body}");
    // "Send again" wakes the app's own worker, whose claim takes it.
    eventually("the resent event delivered", || async {
        let row = webhook_event::Entity::find_by_id(resent)
            .one(app.db())
            .await
            .unwrap()?;
        (row.status == "DELIVERED").then_some(())
    })
    .await;
    assert!(floor().await < resent, "the floor passed the resent event");
}

/// Several delivery workers share the queue (on PostgreSQL `FOR UPDATE
/// SKIP LOCKED`, and each claim raises the endpoints' floors under their
/// row locks): three workers and three endpoints with 40 events each
/// deliver every event exactly once, each endpoint's in the order queued,
/// and none of them waits on another for good.
#[tokio::test]
async fn three_workers_deliver_every_event_once_and_each_endpoint_s_in_order() {
    use flowhq::services::webhooks::delivery::{self, DeliveryStats};

    let app = app_with_a_sleeping_worker().await;
    let server = receiver(200).await;
    let tenant = app.new_tenant(1).await;
    const PER_ENDPOINT: usize = 40;
    let mut endpoints = Vec::new();
    for n in 0..3 {
        let url = format!("{}/endpoint-{n}", server.uri());
        endpoints.push(endpoint(&app, tenant, &url, &["message.received"]).await.0);
    }
    // Interleaved, as a business's events are.
    for k in 0..PER_ENDPOINT {
        for (n, wid) in endpoints.iter().enumerate() {
            pending_event(&app, tenant, wid, &format!("msg_{n}_{k:02}")).await;
        }
    }
    let total = endpoints.len() * PER_ENDPOINT;
    let workers = (0..3).map(|_| {
        let db = app.db().clone();
        let deliverer = deliverer(&app);
        let server = &server;
        async move {
            let stats = DeliveryStats::default();
            loop {
                let claimed = delivery::claim(&db, 8, Duration::from_secs(60))
                    .await
                    .unwrap();
                for event in claimed {
                    deliverer.deliver(event, &stats).await;
                }
                if server.received_requests().await.unwrap().len() >= total {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(workers),
    )
    .await
    .expect("the workers did not finish");

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), total, "an event sent twice or lost");
    for n in 0..endpoints.len() {
        let ids: Vec<String> = requests
            .iter()
            .filter(|r| r.url.path() == format!("/endpoint-{n}"))
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..PER_ENDPOINT)
            .map(|k| format!("msg_{n}_{k:02}"))
            .collect();
        assert_eq!(ids, expected, "endpoint {n}");
    }
}

/// Deleting an endpoint while a delivery records its outcome. The delete
/// locks the endpoint, then (its cascade) the endpoint's events; the record
/// once locked the event, then the endpoint (the attempt's foreign key),
/// and PostgreSQL broke that deadlock by failing one side: when it failed
/// the delete, the owner got a 500. A third transaction lines the two up
/// here: it holds the event's row while the record and then the delete
/// start, and lets go. Which side PostgreSQL fails could be a race, so
/// four rounds; before the fix the first round's delete answered 500 in
/// each of three runs.
#[tokio::test]
async fn deleting_an_endpoint_while_a_delivery_records_its_outcome_fails_neither() {
    use entity::{webhook_attempt, webhook_event};
    use flowhq::services::webhooks::delivery::{self, DeliveryStats};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};

    let app = app_with_a_sleeping_worker().await;
    let server = receiver(200).await;
    let tenant = app.new_tenant(1).await;
    let deliverer = deliverer(&app);
    let stats = DeliveryStats::default();
    for round in 0..4 {
        let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
        let endpoint_id: Uuid = wid.parse().unwrap();
        let event = pending_event(&app, tenant, &wid, &format!("msg_deleted_{round}")).await;
        let claimed = delivery::claim(app.db(), 1, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);

        let holder = app.db().begin().await.unwrap();
        webhook_event::Entity::update_many()
            .col_expr(
                webhook_event::Column::Attempts,
                Expr::col(webhook_event::Column::Attempts),
            )
            .filter(webhook_event::Column::Id.eq(event.id))
            .exec(&holder)
            .await
            .unwrap();
        let path = format!("{}/{wid}", hooks(tenant));
        let (_, (status, body), ()) = tokio::join!(
            deliverer.deliver(claimed[0].clone(), &stats),
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                app.api_call(Method::DELETE, &path, None).await
            },
            async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                holder.commit().await.unwrap();
            },
        );
        assert_eq!(status, StatusCode::NO_CONTENT, "round {round}: {body}");
        let (status, _) = app.api_get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let events = webhook_event::Entity::find()
            .filter(webhook_event::Column::EndpointId.eq(endpoint_id))
            .count(app.db())
            .await
            .unwrap();
        let attempts = webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::EndpointId.eq(endpoint_id))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(
            (events, attempts),
            (0, 0),
            "the endpoint's events and attempts go with it"
        );
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn the_claim_reads_each_endpoints_queue_heads_not_its_history() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};

    let app = spawn_app().await;
    let server = receiver(200).await;
    let tenant = linked_tenant(&app, 1).await;
    let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let (status, body) = app
        .api_post(&format!("{}/{wid}/test", hooks(tenant)), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("the test event delivered", || async {
        (attempts(&app, tenant, &wid).await.len() == 1).then_some(())
    })
    .await;
    // A history of 3,000 delivered events, and one still owed.
    let backend = app.db().get_database_backend();
    app.db()
        .execute_unprepared(
            "INSERT INTO webhook_event (tenant_id, endpoint_id, event_id, event_type, payload, \
               created_at, status, attempts, next_attempt_at) \
             SELECT tenant_id, endpoint_id, event_id, event_type, payload, created_at, \
               CASE WHEN n.i = 3001 THEN 'PENDING' ELSE 'DELIVERED' END, 1, next_attempt_at \
             FROM webhook_event, (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL \
               SELECT i + 1 FROM s WHERE i < 3001) SELECT i FROM s) n",
        )
        .await
        .unwrap();
    let sql = flowhq::services::webhooks::delivery::claim_sql(backend);
    let txn = app.db().begin().await.unwrap();
    let explain = match backend {
        DatabaseBackend::Postgres => {
            // The planner as it runs in production: with statistics.
            txn.execute_unprepared("ANALYZE webhook_event, webhook_endpoint")
                .await
                .unwrap();
            "EXPLAIN ANALYZE"
        }
        _ => "EXPLAIN QUERY PLAN",
    };
    let plan: Vec<String> = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!("{explain} {sql}"),
            [
                sea_orm::Value::from(chrono::Utc::now()),
                sea_orm::Value::from(32i64),
            ],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            row.try_get_by_index::<String>(if backend == DatabaseBackend::Postgres {
                0
            } else {
                3
            })
            .unwrap()
        })
        .collect();
    match backend {
        DatabaseBackend::Postgres => {
            // No step of the plan returns, or reads and drops, more than a
            // few rows.
            let figure = |line: &str, after: &str| -> Option<f64> {
                let rest = line.split(after).nth(1)?;
                rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .next()?
                    .parse()
                    .ok()
            };
            let returned = plan
                .iter()
                .filter_map(|line| figure(line.split("(actual").nth(1)?, "rows="));
            let dropped = plan
                .iter()
                .filter_map(|line| figure(line, "Rows Removed by Filter: "));
            let most = returned.chain(dropped).fold(0.0, f64::max);
            assert!(most <= 4.0, "a step handled {most} rows: {plan:#?}");
        }
        _ => {
            // Only the queue index's heads and rowid lookups: no scan of
            // the events, nor of one endpoint's whole history.
            for line in plan.iter().filter(|line| {
                line.contains(" w ")
                    || line.contains(" h ")
                    || line.ends_with(" w")
                    || line.ends_with(" h")
            }) {
                assert!(
                    line.contains("PRIMARY KEY")
                        || line.contains(
                            "idx_webhook_event_queue (status=? AND endpoint_id=? AND id>?)"
                        ),
                    "{line}: {plan:#?}"
                );
            }
            assert!(
                plan.iter().any(|l| l.contains("idx_webhook_event_queue")),
                "{plan:#?}"
            );
        }
    }
}

/// PostgreSQL keeps a delivered event's PENDING entry in the queue index
/// until VACUUM removes it. The claim reads an endpoint's queue from its
/// `queue_floor` on, so those entries are not read again and again: with
/// 20,000 delivered events and no VACUUM, the claim reads a fraction of the
/// index pages it read from the start of the endpoint's range (before the
/// floor, a claim after 35,000 deliveries took 84 ms and a backlog never
/// drained with autovacuum off). SQLite removes index entries at once;
/// `the_claim_reads_each_endpoints_queue_heads_not_its_history` checks its
/// plan.
#[tokio::test]
async fn the_claim_skips_the_index_entries_delivered_events_leave_on_postgres() {
    use flowhq::services::webhooks::delivery;
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

    let app = app_with_a_sleeping_worker().await;
    let backend = app.db().get_database_backend();
    if backend != DatabaseBackend::Postgres {
        eprintln!("PostgreSQL only: run with TEST_DATABASE_URL");
        return;
    }
    let server = receiver(200).await;
    let tenant = app.new_tenant(1).await;
    let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let db = app.db();
    db.execute_unprepared("ALTER TABLE webhook_event SET (autovacuum_enabled = false)")
        .await
        .unwrap();
    // 20,000 events queued, then delivered: each leaves a dead PENDING
    // entry behind. Then one owed.
    db.execute_unprepared(&format!(
        "INSERT INTO webhook_event (tenant_id, endpoint_id, event_id, event_type, payload, \
           created_at, status, attempts, next_attempt_at) \
         SELECT '{tenant}', '{wid}', 'msg_' || i, 'webhook.test', '{{}}', now(), 'PENDING', 0, now() \
         FROM generate_series(1, 20000) i"
    ))
    .await
    .unwrap();
    db.execute_unprepared("UPDATE webhook_event SET status = 'DELIVERED', attempts = 1")
        .await
        .unwrap();
    let owed = pending_event(&app, tenant, &wid, "msg_owed").await;
    db.execute_unprepared("ANALYZE webhook_event, webhook_endpoint")
        .await
        .unwrap();

    // Index pages the claim's query reads (EXPLAIN's buffers, summed over
    // the plan's top node).
    let pages_read = || async {
        let sql = flowhq::services::webhooks::delivery::claim_sql(backend);
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"),
                [
                    sea_orm::Value::from(chrono::Utc::now()),
                    sea_orm::Value::from(32i64),
                ],
            ))
            .await
            .unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect();
        let buffers = plan
            .iter()
            .find(|line| line.trim_start().starts_with("Buffers:"))
            .unwrap_or_else(|| panic!("no buffers in {plan:#?}"));
        buffers
            .split_whitespace()
            .filter_map(|part| part.split('=').nth(1)?.parse::<u64>().ok())
            .sum::<u64>()
    };
    // Read twice: the first read marks the dead entries, as PostgreSQL
    // does; the second is what every later claim costs.
    pages_read().await;
    let from_the_start = pages_read().await;

    assert_eq!(delivery::raise_floors(db).await.unwrap(), 1);
    let claimed = delivery::claim(db, 32, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].row.id, owed.id);
    let from_the_floor = pages_read().await;
    eprintln!("claim: {from_the_start} pages from the start, {from_the_floor} from the floor");
    assert!(
        from_the_floor * 4 <= from_the_start,
        "the claim read {from_the_floor} pages from the floor, {from_the_start} from the start"
    );
}

#[tokio::test]
async fn private_and_plain_http_targets_are_refused_at_save_by_default() {
    let app = spawn_app_with(|s| s.webhooks.allow_private_targets = false).await;
    let tenant = approved_tenant(&app, 1).await;
    for url in [
        "https://localhost:8443/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/",
        "https://10.0.0.8/hook",
        "http://example.com/hook",
        "ftp://example.com/",
    ] {
        let (status, body) = app
            .api_post(
                &hooks(tenant),
                &json!({ "url": url, "events": ["message.received"] }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["error"], "validation_failed");
        assert!(body["fields"]["url"].is_string(), "{body}");
    }
    let (status, body) = app
        .api_post(
            &hooks(tenant),
            &json!({ "url": "https://example.com/", "events": ["nope"], "concurrency": 9 }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["events"].is_string() && body["fields"]["concurrency"].is_string());
}

#[tokio::test]
async fn another_tenants_endpoint_is_a_404_on_every_route() {
    let app = spawn_app().await;
    let (owner_a, user_a) = app.owner_browser("alice@alpha.example").await;
    let (owner_b, _) = app.owner_browser("bob@beta.example").await;
    let (status, created) = json_of(
        owner_a
            .portal_json(
                Method::POST,
                "/api/portal/webhooks",
                &json!({ "url": "https://example.com/hook", "events": ["message.sent"] }),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let wid = created["id"].as_str().unwrap();
    let (_, listed) = json_of(owner_b.get("/api/portal/webhooks").await).await;
    assert_eq!(listed["items"], json!([]));
    for (verb, path, body) in [
        (Method::GET, format!("/api/portal/webhooks/{wid}"), None),
        (
            Method::PATCH,
            format!("/api/portal/webhooks/{wid}"),
            Some(json!({ "enabled": false })),
        ),
        (
            Method::DELETE,
            format!("/api/portal/webhooks/{wid}"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/api/portal/webhooks/{wid}/attempts"),
            None,
        ),
        (
            Method::POST,
            format!("/api/portal/webhooks/{wid}/test"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/portal/webhooks/{wid}/rotate-secret"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/portal/webhooks/{wid}/events/1/resend"),
            Some(json!({})),
        ),
    ] {
        let response = match body {
            Some(body) => owner_b
                .portal_json(verb.clone(), &path, &body)
                .send()
                .await
                .unwrap(),
            None => owner_b.get(&path).await,
        };
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{verb} {path}: {body}");
        assert_eq!(body["error"], "webhook_not_found", "{verb} {path}");
    }
    // Nor through the admin API under another tenant's id.
    let other = approved_tenant(&app, 3).await;
    let (status, body) = app.api_get(&format!("{}/{wid}", hooks(other))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A's endpoint is untouched.
    let (status, mine) = json_of(owner_a.get(&format!("/api/portal/webhooks/{wid}")).await).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["enabled"], true);
    assert_eq!(mine["url"], "https://example.com/hook");
    let _ = user_a;
}

#[tokio::test]
async fn kill_9_mid_delivery_loses_no_event_and_resends_at_most_the_one_in_flight() {
    use crate::helpers::ServerProcess;
    let server = ServerProcess::start_on_test_database(&[
        ("FLOWHQ__WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
        ("FLOWHQ__WEBHOOKS__TIMEOUT", "2s"),
    ])
    .await;
    // A slow receiver: each delivery takes 150 ms, so the kill lands mid-way.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(150)))
        .mount(&receiver)
        .await;
    let admin = |method: Method, path: String, body: Value| {
        let request = server.admin(method, &path).json(&body);
        async move {
            let (status, body) = json_of(request.send().await.unwrap()).await;
            assert!(status.is_success(), "{path}: {status} {body}");
            body
        }
    };
    let tenant = crate::helpers::id_of(
        &admin(
            Method::POST,
            "/api/admin/tenants".into(),
            crate::helpers::tenant_draft(1),
        )
        .await,
    );
    admin(
        Method::POST,
        format!("{}/approve", tenant_path(tenant)),
        json!({}),
    )
    .await;
    admin(
        Method::POST,
        format!("{}/bot/start", tenant_path(tenant)),
        json!({}),
    )
    .await;
    eventually("the QR code", || async {
        let qr = admin(
            Method::GET,
            format!("{}/qr", tenant_path(tenant)),
            Value::Null,
        )
        .await;
        (qr["state"] == "QR_READY").then_some(())
    })
    .await;
    admin(
        Method::POST,
        format!("{}/sandbox/scan", tenant_path(tenant)),
        json!({}),
    )
    .await;
    admin(
        Method::POST,
        hooks(tenant),
        json!({ "url": receiver.uri(), "events": ["message.received"] }),
    )
    .await;
    let texts: Vec<String> = (1..=15).map(|n| format!("before the crash {n}")).collect();
    for (n, text) in texts.iter().enumerate() {
        admin(
            Method::POST,
            format!("{}/sandbox/inbound", tenant_path(tenant)),
            json!({ "from": CUSTOMER, "text": text, "id": format!("crash-{n}") }),
        )
        .await;
    }
    eventually("some deliveries under way", || async {
        (receiver.received_requests().await?.len() >= 3).then_some(())
    })
    .await;
    let server = server.restart().await;
    let got = eventually("every event after the restart", || async {
        let got = received(&receiver).await;
        let distinct: std::collections::HashSet<String> = got
            .iter()
            .map(|(_, b)| b["data"]["text"].as_str().unwrap().to_owned())
            .collect();
        (distinct.len() == texts.len()).then_some(got)
    })
    .await;
    let mut order: Vec<String> = Vec::new();
    for (_, body) in &got {
        let text = body["data"]["text"].as_str().unwrap().to_owned();
        if order.last() != Some(&text) {
            assert!(!order.contains(&text), "{text} again after a later one");
            order.push(text);
        }
    }
    assert_eq!(order, texts);
    // Concurrency 1: at most the one in flight was sent twice.
    assert!(got.len() <= texts.len() + 1, "{} requests", got.len());
    drop(server);
}

fn tenant_path(id: Uuid) -> String {
    format!("/api/admin/tenants/{id}")
}

#[tokio::test]
async fn the_owner_adds_an_endpoint_reads_its_delivery_log_and_sends_an_event_again_in_the_browser()
{
    use crate::helpers::Chromium;
    let app = spawn_app().await;
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    // 400: never retried, so the second request can only be "Send again".
    let server = receiver(400).await;
    chromium.sign_in_owner(&app, "hook@example.com").await;
    chromium.goto("/portal/webhooks").await;
    chromium
        .type_into("#url", &format!("{}/flowhq", server.uri()))
        .await;
    chromium
        .click(r#"form[action="/portal/webhooks"] button[type=submit]"#)
        .await;
    let secret = chromium
        .wait_until(
            "the new endpoint's secret, shown once",
            "(document.getElementById('webhook-secret') || {}).textContent",
        )
        .await;
    let secret = secret.as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Not on the page again.
    chromium.goto("/portal/webhooks").await;
    assert!(!chromium.page_text().await.contains("whsec_"));
    chromium.click("#webhook-endpoints a").await;
    chromium
        .wait_until(
            "the endpoint's page",
            "location.pathname.startsWith('/portal/webhooks/')",
        )
        .await;
    let page = chromium.js("return location.pathname;").await;
    let page = page.as_str().unwrap().to_owned();
    chromium
        .click(r#"form[action$="/test"] button[type=submit]"#)
        .await;
    // The log shows the failed attempt (400) once it happened.
    eventually("the attempt in the delivery log", || async {
        chromium.goto(&page).await;
        let text = chromium.page_text().await;
        (text.contains("webhook.test") && text.contains("400") && text.contains("FAILED"))
            .then_some(())
    })
    .await;
    chromium
        .click(r#"#webhook-attempts form[action$="/resend"] button[type=submit]"#)
        .await;
    chromium
        .wait_until(
            "the 'queued again' flash",
            "(document.querySelector('.flash-success') || {textContent: ''}).textContent.includes('sent again')",
        )
        .await;
    let requests = eventually("the event sent again", || async {
        let got = received(&server).await;
        (got.len() >= 2).then_some(got)
    })
    .await;
    assert_eq!(requests.len(), 2);
    let ids: Vec<&str> = requests
        .iter()
        .map(|(r, _)| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    for (request, _) in &requests {
        verify(&secret, request);
    }
    eventually("both attempts in the log", || async {
        chromium.goto(&page).await;
        let rows = chromium
            .js("return document.querySelectorAll('#webhook-attempts tbody tr').length;")
            .await;
        (rows.as_u64()? >= 2).then_some(())
    })
    .await;
}

/// The `href`s on `page` that start with `prefix`, in page order.
fn links_under(page: &str, prefix: &str) -> Vec<String> {
    use crate::helpers::attribute_values;
    attribute_values(page, "a", "href")
        .into_iter()
        .chain(attribute_values(page, "form", "action"))
        .filter(|url| url.starts_with(prefix))
        .collect()
}

/// An admin works a tenant's endpoints from the console, as the owner does
/// on the portal: add one (the secret shown once), send a test event, read
/// the attempt in the delivery log, send it again, disable it, delete it;
/// every form needs the console's token, and another tenant's endpoint
/// under this tenant's id is a 404.
#[tokio::test]
async fn an_admin_works_a_tenants_endpoints_and_delivery_log_from_the_console() {
    use crate::helpers::{csrf_of, flash_of, location};
    let app = spawn_app().await;
    let tenant = approved_tenant(&app, 81).await;
    let other = approved_tenant(&app, 82).await;
    let (others_endpoint, _) = endpoint(
        &app,
        other,
        "https://example.com/hook",
        &["message.received"],
    )
    .await;
    // 400: never retried, so a second request can only be "Send again".
    let server = receiver(400).await;
    let admin = app.signed_in_browser().await;
    let list_url = format!("/admin/tenants/{tenant}/webhooks");

    let tenant_page = admin.page(&format!("/admin/tenants/{tenant}")).await;
    assert!(
        tenant_page.contains(&format!("href=\"{list_url}\"")),
        "no link to the webhooks"
    );
    let list = admin.page(&list_url).await;
    assert!(list.contains("Add an endpoint"), "{list}");
    let form = [
        ("csrf_token", csrf_of(&list)),
        ("url", format!("{}/console", server.uri())),
        ("event:message.received", "on".to_owned()),
    ];
    let forged = admin
        .post_form(&list_url, &[("csrf_token", "forged"), ("url", &form[1].1)])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let made = admin.post_form(&list_url, &form).await;
    assert_eq!(made.status(), StatusCode::OK);
    let made = made.text().await.unwrap();
    assert!(
        made.contains("webhook-secret") && made.contains("whsec_"),
        "{made}"
    );
    let again = admin.page(&list_url).await;
    assert!(!again.contains("whsec_"), "the secret was shown twice");
    let endpoint_url = links_under(&again, &format!("{list_url}/"))
        .into_iter()
        .next()
        .expect("the endpoint's link");
    let wid = endpoint_url.rsplit('/').next().unwrap().to_owned();
    let (_, listed) = app.api_get(&hooks(tenant)).await;
    assert_eq!(listed["items"][0]["id"], wid.as_str(), "{listed}");

    // A test event: its failed attempt shows in the log.
    let page = admin.page(&endpoint_url).await;
    let token = csrf_of(&page);
    let sent = admin
        .post_form(&format!("{endpoint_url}/test"), &[("csrf_token", &token)])
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&sent), endpoint_url);
    let page = eventually("the attempt in the delivery log", || async {
        let page = admin.page(&endpoint_url).await;
        (page.contains("webhook.test") && page.contains("400") && page.contains("FAILED"))
            .then_some(page)
    })
    .await;
    let resend = links_under(&page, &format!("{endpoint_url}/events/"))
        .into_iter()
        .find(|action| action.ends_with("/resend"))
        .expect("a Send again button");
    let again = admin.post_form(&resend, &[("csrf_token", &token)]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let page = admin.page(&endpoint_url).await;
    assert_eq!(
        flash_of(&page),
        Some(("success".to_owned(), "Queued to be sent again.".to_owned()))
    );
    let requests = eventually("the event sent again", || async {
        let got = received(&server).await;
        (got.len() >= 2).then_some(got)
    })
    .await;
    assert_eq!(
        requests[0].0.headers["webhook-id"], requests[1].0.headers["webhook-id"],
        "the same event, sent again"
    );

    // Disabled, then deleted, from the console.
    let off = admin
        .post_form(&format!("{endpoint_url}/toggle"), &[("csrf_token", &token)])
        .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    let (_, shown) = app.api_get(&format!("{}/{wid}", hooks(tenant))).await;
    assert_eq!(shown["enabled"], false, "{shown}");
    let gone = admin
        .post_form(&format!("{endpoint_url}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(location(&gone), list_url);
    let (_, listed) = app.api_get(&hooks(tenant)).await;
    assert_eq!(listed["items"], json!([]), "{listed}");

    // Another tenant's endpoint under this tenant's id, and an unknown
    // tenant: 404, and the other endpoint is untouched.
    let theirs = format!("{list_url}/{others_endpoint}");
    assert_eq!(admin.get(&theirs).await.status(), StatusCode::NOT_FOUND);
    for action in ["toggle", "test", "rotate", "delete"] {
        let response = admin
            .post_form(&format!("{theirs}/{action}"), &[("csrf_token", &token)])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    // Signed out, the console's pages lead to its sign-in.
    let stranger = app.browser().get(&list_url).await;
    assert_eq!(stranger.status(), StatusCode::SEE_OTHER);
    assert!(location(&stranger).starts_with("/admin/login"));
    let unknown = format!("/admin/tenants/{}/webhooks", Uuid::new_v4());
    assert_eq!(admin.get(&unknown).await.status(), StatusCode::NOT_FOUND);
    let (status, still) = app
        .api_get(&format!("{}/{others_endpoint}", hooks(other)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(still["enabled"], true, "{still}");
}

/// A delivery that went through claims its endpoint's next due event in
/// the transaction that records it (one query of that endpoint's queue)
/// and sends it: a backlog drains at the receiver's pace, without a claim
/// over every endpoint between two deliveries. In order; it stops at an
/// event that must wait for a retry, leaves other endpoints' events to the
/// worker's claim, and gives its slot back after a run of 50 with nothing
/// left claimed.
#[tokio::test]
async fn on_postgres_a_delivery_that_went_through_sends_its_endpoints_next_event_itself() {
    use entity::webhook_event;
    use flowhq::services::webhooks::delivery::{self, DeliveryStats};
    use sea_orm::EntityTrait;
    use wiremock::matchers::header;

    let app = app_with_a_sleeping_worker().await;
    // PostgreSQL only: on SQLite each delivery leaves the next event to
    // the worker's claim (see `delivery::IN_TURN`).
    let in_turn = app.db().get_database_backend() == sea_orm::DatabaseBackend::Postgres;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("webhook-id", "msg_a3"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let tenant = app.new_tenant(1).await;
    let (a, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let (b, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let mut a_events = Vec::new();
    for n in 1..=4 {
        a_events.push(pending_event(&app, tenant, &a, &format!("msg_a{n}")).await);
    }
    let b1 = pending_event(&app, tenant, &b, "msg_b1").await;
    let lease = Duration::from_secs(60);
    let first = delivery::claim_next(app.db(), a.parse().unwrap(), lease)
        .await
        .unwrap()
        .expect("A's oldest");
    assert_eq!(first.row.id, a_events[0].id);
    assert!(
        delivery::claim_next(app.db(), a.parse().unwrap(), lease)
            .await
            .unwrap()
            .is_none(),
        "A's next while its head is in flight (concurrency 1)"
    );

    let stats = DeliveryStats::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    deliverer(&app)
        .deliver_in_turn(first, &stats, &shutdown)
        .await;
    let ids: Vec<String> = received(&server)
        .await
        .iter()
        .map(|(r, _)| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    if !in_turn {
        assert_eq!(ids, ["msg_a1"], "SQLite: one delivery per claim");
        return;
    }
    assert_eq!(
        ids,
        ["msg_a1", "msg_a2", "msg_a3"],
        "in order, up to the failure"
    );
    let db = app.db().clone();
    let row = |id| {
        let db = db.clone();
        async move {
            webhook_event::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let a3 = row(a_events[2].id).await;
    assert_eq!((a3.status.as_str(), a3.attempts), ("PENDING", 1));
    assert!(
        a3.next_attempt_at > chrono::Utc::now(),
        "a3 waits for its retry"
    );
    let a4 = row(a_events[3].id).await;
    assert_eq!(
        (a4.status.as_str(), a4.attempts),
        ("PENDING", 0),
        "a4 waits behind a3"
    );
    let b1 = row(b1.id).await;
    assert_eq!(
        (b1.status.as_str(), b1.attempts, b1.lease_until),
        ("PENDING", 0, None)
    );

    // A long backlog: 50 in a row, then the slot goes back to the claim
    // with no 51st claimed.
    let (c, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    let mut c_events = Vec::new();
    for n in 0..52 {
        c_events.push(pending_event(&app, tenant, &c, &format!("msg_c{n:02}")).await);
    }
    let head = delivery::claim_next(app.db(), c.parse().unwrap(), lease)
        .await
        .unwrap()
        .unwrap();
    deliverer(&app)
        .deliver_in_turn(head, &stats, &shutdown)
        .await;
    let mut states = Vec::new();
    for event in &c_events {
        let r = row(event.id).await;
        states.push((r.status, r.lease_until.is_some()));
    }
    assert!(
        states[..50].iter().all(|(s, _)| s == "DELIVERED"),
        "{states:?}"
    );
    assert_eq!(
        states[50..],
        [("PENDING".to_owned(), false), ("PENDING".to_owned(), false)],
        "the rest left to the worker's claim"
    );
}
