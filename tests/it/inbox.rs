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

/// A chat a person took over goes back to the bot once nobody wrote for
/// the tenant's `human_idle_timeout`, when that is due: the inbox shows it,
/// the thread records why, endpoints hear of it, and the bot answers the
/// customer's next message. A chat whose person wrote within the timeout
/// stays with them.
#[tokio::test]
async fn a_chat_nobody_answered_for_the_idle_timeout_goes_back_to_the_bot_on_its_own() {
    use entity::conversation;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    let server = crate::webhooks::receiver(200).await;
    crate::webhooks::endpoint(&app, id, &server.uri(), &["conversation.mode_changed"]).await;
    const OTHER: &str = "+4917600000043";
    let mut cids = Vec::new();
    for (chat, n) in [(CUSTOMER, 1), (OTHER, 2)] {
        customer_writes(
            &app,
            id,
            chat,
            "I want to talk to a human",
            &format!("idle-{n}"),
        )
        .await;
        let cid = eventually("the chat with a person", || async {
            conversations(&app, id, "?filter=human")
                .await
                .into_iter()
                .find(|c| c["chat"] == chat)
                .map(|c| c["id"].clone())
        })
        .await;
        messages_when(&app, id, &cid, "the handoff answered", |m| settled(m, 1)).await;
        cids.push(cid);
    }
    // The first went to a person 13 hours ago (the default timeout is 12);
    // in the second a person wrote an hour ago.
    let hours_ago = |h| chrono::Utc::now() - chrono::Duration::hours(h);
    for (chat, since, person) in [(CUSTOMER, 13, None), (OTHER, 13, Some(1))] {
        conversation::Entity::update_many()
            .col_expr(
                conversation::Column::ModeSince,
                Expr::value(hours_ago(since)),
            )
            .col_expr(
                conversation::Column::LastHumanAt,
                Expr::value(person.map(hours_ago)),
            )
            .filter(conversation::Column::TenantId.eq(id))
            .filter(conversation::Column::ChatId.eq(chat))
            .exec(app.db())
            .await
            .unwrap();
    }

    let returned = flowhq::services::inbox::return_idle_chats(
        app.db(),
        app.state.bots.as_ref(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(returned, 1);
    let (_, first) = app.api_get(&format!("{}/{}", base(id), cids[0])).await;
    assert_eq!(
        (first["mode"].as_str(), first["needs_human"].as_bool()),
        (Some("BOT"), Some(false)),
        "{first}"
    );
    assert_eq!(first["mode_reason"], "idle_timeout", "{first}");
    let (_, second) = app.api_get(&format!("{}/{}", base(id), cids[1])).await;
    assert_eq!(second["mode"], "HUMAN", "{second}");
    let switches = mode_switches(&app, id).await;
    assert_eq!(
        switches.last(),
        Some(&("BOT".to_owned(), "idle_timeout".to_owned())),
        "{switches:?}"
    );
    let told = eventually("the endpoint told", || async {
        crate::webhooks::received(&server)
            .await
            .into_iter()
            .map(|(_, body)| body)
            .find(|body| body["data"]["reason"] == "idle_timeout")
    })
    .await;
    assert_eq!(told["data"]["mode"], "BOT", "{told}");

    // Nothing more is due: a second sweep changes nothing.
    let again = flowhq::services::inbox::return_idle_chats(
        app.db(),
        app.state.bots.as_ref(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);

    // The bot answers the customer's next message.
    customer_writes(&app, id, CUSTOMER, "opening hours?", "idle-3").await;
    let thread = messages_when(&app, id, &cids[0], "the bot answering again", |m| {
        settled(m, 2)
    })
    .await;
    assert_eq!(thread.last().unwrap()["author"], "bot", "{thread:?}");
    assert_eq!(thread.last().unwrap()["status"], "SENT", "{thread:?}");
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
    // waited its turn in its chat (or tenant), 400 ms after the one before
    // was allowed. The times are taken as the sends happen, so a send the
    // busy machine ran late (the first, say) leaves a shorter gap behind
    // it; the k-th still goes no sooner than k turns after the first, less
    // the 200 ms such a delay may take off. Without the limit they all go
    // within milliseconds.
    for (k, at) in times.iter().enumerate().skip(1) {
        let after = (*at - times[0]).num_milliseconds();
        let turns = i64::try_from(k).unwrap() * 400;
        assert!(
            after >= turns - 200,
            "send {k} went {after} ms after the first: {sent:?}"
        );
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
