//! The inbox over the JSON API: conversations listed and filtered, a
//! customer asking for a person, the bot stepping aside, a person's reply
//! going out through the tenant's own transport, hand back, and every
//! route scoped to its tenant.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bots::{customer_writes, linked_tenant, outbox};
use crate::helpers::{TestApp, eventually, spawn_app, spawn_app_with};

const CUSTOMER: &str = "+4917600000042";

pub(crate) fn base(id: Uuid) -> String {
    format!("/api/admin/tenants/{id}/conversations")
}

/// The conversations of the tenant, with `query` (e.g. `?filter=human`).
async fn conversations(app: &TestApp, id: Uuid, query: &str) -> Vec<Value> {
    let (status, body) = app.api_get(&format!("{}{query}", base(id))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// The thread's messages once `done` holds for them.
pub(crate) async fn messages_when(
    app: &TestApp,
    id: Uuid,
    cid: &Value,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    eventually(what, || async {
        let (status, body) = app.api_get(&format!("{}/{cid}/messages", base(id))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        done(&items).then_some(items)
    })
    .await
}

pub(crate) fn settled(items: &[Value], inbound: usize) -> bool {
    let ins = items.iter().filter(|m| m["direction"] == "IN").count();
    let waiting = items
        .iter()
        .any(|m| m["status"] == "RECEIVED" || m["status"] == "QUEUED" || m["status"] == "SENDING");
    ins == inbound && !waiting
}

async fn sandbox_outbox(app: &TestApp, id: Uuid) -> Vec<String> {
    let (_, body) = app
        .api_get(&format!("/api/admin/tenants/{id}/sandbox/outbox"))
        .await;
    body.as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["to"] == CUSTOMER)
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_customer_who_asks_for_a_person_gets_one_and_the_bot_steps_aside_until_handed_back() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;

    customer_writes(&app, id, CUSTOMER, "hello", "in-1").await;
    let listed = eventually("the conversation listed", || async {
        conversations(&app, id, "").await.first().cloned()
    })
    .await;
    assert_eq!(listed["chat"], CUSTOMER);
    assert_eq!(listed["mode"], "BOT");
    assert_eq!(listed["needs_human"], false);
    let cid = listed["id"].clone();
    messages_when(&app, id, &cid, "the greeting answered", |m| settled(m, 1)).await;

    // Asking for a person: the bot says a person will answer, and steps aside.
    customer_writes(&app, id, CUSTOMER, "I want to talk to a human", "in-2").await;
    let thread = messages_when(&app, id, &cid, "the handoff answered", |m| settled(m, 2)).await;
    let promise = thread.last().unwrap();
    assert_eq!(promise["author"], "bot");
    assert!(
        promise["text"].as_str().unwrap().contains("person"),
        "{promise}"
    );
    let flagged = conversations(&app, id, "?filter=needs_human").await;
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0]["mode"], "HUMAN");
    assert_eq!(flagged[0]["mode_reason"], "customer_asked");
    assert!(conversations(&app, id, "?filter=bot").await.is_empty());

    // With a person, the bot is silent: logged, not answered.
    let sent_before = sandbox_outbox(&app, id).await.len();
    customer_writes(&app, id, CUSTOMER, "hello? anyone?", "in-3").await;
    let thread = messages_when(&app, id, &cid, "the third message logged", |m| {
        m.iter().any(|m| m["status"] == "SKIPPED")
    })
    .await;
    assert_eq!(thread.last().unwrap()["text"], "hello? anyone?");
    assert_eq!(sandbox_outbox(&app, id).await.len(), sent_before);

    // A person answers from the inbox: through the bot's transport, signed.
    let (status, body) = app
        .api_post(
            &format!("{}/{cid}/messages", base(id)),
            &json!({ "text": "Hi, Ana here. How can I help?" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "QUEUED");
    let thread = messages_when(&app, id, &cid, "the person's reply sent", |m| {
        m.last().is_some_and(|m| m["status"] == "SENT")
    })
    .await;
    let reply = thread.last().unwrap();
    assert_eq!(reply["author"], "admin (admin)");
    assert_eq!(reply["text"], "Hi, Ana here. How can I help?");
    assert_eq!(
        sandbox_outbox(&app, id).await.last().map(String::as_str),
        Some("Hi, Ana here. How can I help?")
    );
    let (_, conversation) = app.api_get(&format!("{}/{cid}", base(id))).await;
    assert_eq!(conversation["needs_human"], false, "{conversation}");
    assert_eq!(conversation["mode"], "HUMAN");

    // Handed back: the bot answers again.
    let (status, body) = app
        .api_post(&format!("{}/{cid}/hand-back", base(id)), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mode"], "BOT");
    customer_writes(&app, id, CUSTOMER, "opening hours?", "in-4").await;
    let thread = messages_when(&app, id, &cid, "the bot answering again", |m| settled(m, 4)).await;
    assert_eq!(thread.last().unwrap()["author"], "bot");
    assert_eq!(thread.last().unwrap()["status"], "SENT");

    // Every switch, and why, is recorded.
    let events: Vec<(String, String)> = mode_switches(&app, id).await;
    assert_eq!(
        events,
        vec![
            ("HUMAN".to_owned(), "customer_asked".to_owned()),
            ("BOT".to_owned(), "handed_back".to_owned()),
        ]
    );
}

/// (mode, reason) of the tenant's conversation events, oldest first.
async fn mode_switches(app: &TestApp, id: Uuid) -> Vec<(String, String)> {
    use entity::conversation_event;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    conversation_event::Entity::find()
        .filter(conversation_event::Column::TenantId.eq(id))
        .order_by_asc(conversation_event::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (format!("{:?}", e.mode).to_uppercase(), e.reason))
        .collect()
}

#[tokio::test]
async fn taking_over_silences_the_bot_and_a_reply_needs_a_running_bot() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 2).await;
    customer_writes(&app, id, CUSTOMER, "hello", "t-1").await;
    let cid = eventually("the conversation", || async {
        conversations(&app, id, "")
            .await
            .first()
            .map(|c| c["id"].clone())
    })
    .await;
    messages_when(&app, id, &cid, "answered", |m| settled(m, 1)).await;

    let (status, body) = app
        .api_post(&format!("{}/{cid}/take-over", base(id)), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mode"], "HUMAN");
    assert_eq!(body["needs_human"], false);
    assert_eq!(conversations(&app, id, "?filter=human").await.len(), 1);
    customer_writes(&app, id, CUSTOMER, "opening hours?", "t-2").await;
    messages_when(&app, id, &cid, "the message left for a person", |m| {
        m.last().is_some_and(|m| m["status"] == "SKIPPED")
    })
    .await;
    // Waiting for a person again.
    assert_eq!(
        conversations(&app, id, "?filter=needs_human").await.len(),
        1
    );

    // Empty text: 422 naming the field; bot stopped: 409 bot_not_running.
    let (status, body) = app
        .api_post(
            &format!("{}/{cid}/messages", base(id)),
            &json!({ "text": "  " }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["text"].is_string(), "{body}");
    let (status, _) = crate::bots::bot(&app, id, "stop").await;
    assert_eq!(status, StatusCode::OK);
    eventually("the bot stopped", || async {
        (!app.state.bots.is_running(id.into())).then_some(())
    })
    .await;
    let (status, body) = app
        .api_post(
            &format!("{}/{cid}/messages", base(id)),
            &json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "bot_not_running");
}

#[tokio::test]
async fn another_tenant_s_conversation_is_not_found_on_any_inbox_route() {
    let app = spawn_app().await;
    let a = linked_tenant(&app, 3).await;
    let b = linked_tenant(&app, 4).await;
    customer_writes(&app, a, CUSTOMER, "hello", "x-1").await;
    let cid = eventually("A's conversation", || async {
        conversations(&app, a, "")
            .await
            .first()
            .map(|c| c["id"].clone())
    })
    .await;
    assert!(conversations(&app, b, "").await.is_empty());
    let other = base(b);
    for (method, path) in [
        (reqwest::Method::GET, format!("{other}/{cid}")),
        (reqwest::Method::GET, format!("{other}/{cid}/messages")),
        (reqwest::Method::POST, format!("{other}/{cid}/messages")),
        (reqwest::Method::POST, format!("{other}/{cid}/take-over")),
        (reqwest::Method::POST, format!("{other}/{cid}/hand-back")),
    ] {
        let (status, body) = app
            .api_call(method.clone(), &path, Some(&json!({ "text": "leak?" })))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error"], "conversation_not_found", "{method} {path}");
    }
    // Nothing of A's changed.
    let (_, conversation) = app.api_get(&format!("{}/{cid}", base(a))).await;
    assert_eq!(conversation["mode"], "BOT");
    let unknown = Uuid::new_v4();
    let (status, body) = app.api_get(&base(unknown)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "tenant_not_found");
}

/// People's replies go out under the same limits as the bot's answers: one
/// reply per 400 ms (no burst) per chat, or per tenant across its chats.
async fn replies_spaced_by(limit: fn(&mut flowhq::config::Settings), chats: &[&str]) {
    let app = spawn_app_with(limit).await;
    let id = linked_tenant(&app, 1).await;
    let mut ids = Vec::new();
    for (k, chat) in chats.iter().enumerate() {
        customer_writes(&app, id, chat, "hello", &format!("spaced-{k}")).await;
        let cid = eventually("the conversation", || async {
            conversations(&app, id, "")
                .await
                .iter()
                .find(|c| c["chat"] == *chat)
                .map(|c| c["id"].clone())
        })
        .await;
        messages_when(&app, id, &cid, "the greeting answered", |m| settled(m, 1)).await;
        ids.push(cid);
    }
    for k in 0..4 {
        let cid = &ids[k % ids.len()];
        let (status, body) = app
            .api_post(
                &format!("{}/{cid}/messages", base(id)),
                &json!({ "text": format!("reply {k}") }),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let sent = eventually("the four replies sent", || async {
        let sent = outbox(&app, id).await;
        (sent.len() == chats.len() + 4).then_some(sent)
    })
    .await;
    let mut times: Vec<chrono::DateTime<chrono::Utc>> = sent
        .iter()
        .map(|m| m["sent_at"].as_str().unwrap().parse().unwrap())
        .collect();
    times.sort();
    // The greetings and the replies, in the order they went out: each
    // waited for the one before in its chat (or tenant).
    for pair in times.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(gap >= 350, "sent {gap} ms apart: {sent:?}");
    }
}

#[tokio::test]
async fn a_person_s_replies_keep_to_the_chat_s_rate_limit() {
    replies_spaced_by(
        |s| {
            s.bots.chat_rate_per_minute = std::num::NonZeroU32::new(150).unwrap();
            s.bots.chat_burst = std::num::NonZeroU32::new(1).unwrap();
        },
        &[CUSTOMER],
    )
    .await;
}

#[tokio::test]
async fn people_s_replies_in_several_chats_keep_to_the_tenant_s_rate_limit() {
    replies_spaced_by(
        |s| {
            s.bots.tenant_rate_per_minute = std::num::NonZeroU32::new(150).unwrap();
            s.bots.tenant_burst = std::num::NonZeroU32::new(1).unwrap();
        },
        &[CUSTOMER, "+4917600000043"],
    )
    .await;
}
