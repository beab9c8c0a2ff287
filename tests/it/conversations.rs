//! The durable conversation record: one row per (tenant, chat), written by
//! the message log writer, and "first contact" taken from it.

use entity::conversation;
use entity::enums::{ConversationMode, Direction};
use entity::message_log;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use crate::bots::linked_tenant;
use crate::helpers::{TestApp, eventually, spawn_app};

async fn say(app: &TestApp, id: Uuid, from: &str, text: &str, msg_id: &str) {
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({ "from": from, "text": text, "id": msg_id }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

/// One chat's message log rows one way, in the order they were stored
/// (the parts of one reply share their time, not their order).
async fn log_rows(
    app: &TestApp,
    id: Uuid,
    direction: Direction,
    chat: &str,
) -> Vec<message_log::Model> {
    message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::Direction.eq(direction))
        .filter(message_log::Column::ChatId.eq(chat))
        .order_by_asc(message_log::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

/// The texts the bot sent to `chat`, oldest first, once there are `n`.
async fn replies_to(app: &TestApp, id: Uuid, chat: &str, n: usize) -> Vec<String> {
    eventually(&format!("{n} replies to {chat}"), || async {
        let rows = log_rows(app, id, Direction::Out, chat).await;
        (rows.len() >= n).then(|| rows.into_iter().map(|r| r.text).collect())
    })
    .await
}

async fn conversations(app: &TestApp, id: Uuid) -> Vec<conversation::Model> {
    conversation::Entity::find()
        .filter(conversation::Column::TenantId.eq(id))
        .order_by_asc(conversation::Column::ChatId)
        .all(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_restart_does_not_greet_a_known_customer_again() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    let welcome = app.tenant(id).await["config"]["welcome_message"]
        .as_str()
        .unwrap()
        .to_owned();
    let chat = "+4917600000001";
    say(&app, id, chat, "opening hours?", "m-1").await;
    let first = replies_to(&app, id, chat, 2).await;
    assert_eq!(first[0], welcome, "a new customer is welcomed first");

    let app = app.restart().await;
    eventually("the bot back after the restart", || async {
        app.state.bots.is_running(id.into()).then_some(())
    })
    .await;
    // The session row may still read CONNECTED from before the restart
    // while the new bot links: the sandbox takes the message once linked.
    eventually("the sandbox linked again", || async {
        let (status, _) = app
            .api_post(
                &format!("/api/admin/tenants/{id}/sandbox/inbound"),
                &json!({ "from": chat, "text": "opening hours?", "id": "m-2" }),
            )
            .await;
        (status == StatusCode::ACCEPTED).then_some(())
    })
    .await;
    let all = replies_to(&app, id, chat, first.len() + 1).await;
    let after: Vec<&String> = all[first.len()..].iter().collect();
    assert!(
        after.iter().all(|text| **text != welcome),
        "welcomed again after the restart: {after:?}"
    );

    // A customer the bot has not met is still welcomed.
    say(&app, id, "+4917600000002", "opening hours?", "m-3").await;
    let other = replies_to(&app, id, "+4917600000002", 1).await;
    assert_eq!(other[0], welcome);
}

#[tokio::test]
async fn the_log_writer_keeps_one_conversation_per_chat_with_its_counts_and_times() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 2).await;
    let (ana, ben) = ("+4917600000011", "+4917600000012");
    say(&app, id, ana, "hello", "a-1").await;
    say(&app, id, ana, "opening hours?\nplease", "a-2").await;
    say(&app, id, ben, "prices?", "b-1").await;
    // A repeat of a message counts once.
    say(&app, id, ana, "opening hours?\nplease", "a-2").await;
    replies_to(&app, id, ben, 1).await;
    let rows = eventually("both conversations answered", || async {
        let rows = conversations(&app, id).await;
        (rows.len() == 2 && rows.iter().all(|c| c.last_out_at.is_some())).then_some(rows)
    })
    .await;
    let (a, b) = (&rows[0], &rows[1]);
    assert_eq!((a.chat_id.as_str(), b.chat_id.as_str()), (ana, ben));
    assert_eq!(a.unread, 2, "two distinct messages from Ana");
    assert_eq!(b.unread, 1);
    // The last message either way (here the bot's multi-line answer on
    // opening hours), on one line.
    let last_reply = replies_to(&app, id, ana, 1).await.pop().unwrap();
    assert!(last_reply.contains('\n'), "{last_reply}");
    assert_eq!(
        a.preview,
        flowhq::services::runtime::conversation_batch::preview(&last_reply)
    );
    // The inbox searches what the customer wrote, not the bot's answer.
    assert_eq!(a.last_in_text.as_deref(), Some("opening hours? please"));
    assert_eq!(b.last_in_text.as_deref(), Some("prices?"));
    assert_eq!(a.mode, ConversationMode::Bot);
    assert!(a.last_in_at.unwrap() >= a.first_seen_at);
    assert!(a.last_out_at.unwrap() >= a.last_in_at.unwrap());
    let first_in = message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::WaMessageId.eq("a-1"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.first_message_id, Some(first_in.id));
    // Another tenant's customers are another tenant's conversations.
    let other = linked_tenant(&app, 3).await;
    say(&app, other, ana, "hello", "a-1").await;
    eventually("the other tenant's conversation", || async {
        (conversations(&app, other).await.len() == 1).then_some(())
    })
    .await;
    assert_eq!(conversations(&app, id).await.len(), 2);
}

/// A customer's message as WhatsApp Web delivers it: through the
/// transport, stored by the bot itself, not by a receiver (the sandbox API
/// and the Cloud API webhook store first).
fn through_the_linked_device(app: &TestApp, id: Uuid, from: &str, text: &str, msg_id: &str) {
    let message = flowhq::bots::transport::InboundMessage {
        id: msg_id.to_owned(),
        from: from.to_owned(),
        text: text.to_owned(),
        kind: entity::enums::MessageKind::Text,
        at: chrono::Utc::now(),
        contact_name: Some("Ana".to_owned()),
        stored: None,
    };
    app.registry
        .sandbox()
        .inbound(id.into(), message)
        .expect("the sandbox takes the message");
}

#[tokio::test]
async fn a_message_the_bot_stores_itself_is_answered_once_even_when_delivered_again_after_a_restart()
 {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 4).await;
    let welcome = app.tenant(id).await["config"]["welcome_message"]
        .as_str()
        .unwrap()
        .to_owned();
    let chat = "+4917600000021";
    through_the_linked_device(&app, id, chat, "opening hours?", "wa-1");
    let replies = replies_to(&app, id, chat, 2).await;
    assert_eq!(replies[0], welcome, "a new customer is welcomed first");
    // Stored and answered, in the conversation its commit opened.
    let stored = log_rows(&app, id, Direction::In, chat).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].status,
        entity::enums::MessageStatus::Answered,
        "{stored:?}"
    );
    let rows = conversations(&app, id).await;
    assert_eq!(rows.len(), 1);
    let c = &rows[0];
    assert_eq!(c.first_message_id, Some(stored[0].id));
    assert_eq!(c.unread, 1);
    assert_eq!(c.contact_name.as_deref(), Some("Ana"));
    assert_eq!(
        c.preview,
        flowhq::services::runtime::conversation_batch::preview(replies.last().unwrap())
    );
    assert!(c.last_out_at.unwrap() >= c.last_in_at.unwrap());

    // After a restart (the in-memory dedup forgets), WhatsApp delivering
    // the same message again gets no second answer: the stored row says
    // it was answered, and nothing of the new answer is written.
    let app = app.restart().await;
    eventually("the bot linked again", || async {
        app.registry
            .sandbox()
            .accepts_messages(id.into())
            .is_ok()
            .then_some(())
    })
    .await;
    through_the_linked_device(&app, id, chat, "opening hours?", "wa-1");
    through_the_linked_device(&app, id, chat, "prices?", "wa-2");
    // The chat's messages are answered in order: once "prices?" has its
    // answer, the repeat before it was dealt with.
    let all = replies_to(&app, id, chat, replies.len() + 1).await;
    let stored = log_rows(&app, id, Direction::In, chat).await;
    assert_eq!(
        stored
            .iter()
            .map(|r| r.wa_message_id.as_deref())
            .collect::<Vec<_>>(),
        [Some("wa-1"), Some("wa-2")]
    );
    assert_eq!(
        all.len(),
        replies.len() + 1,
        "one answer to the repeat: {all:?}"
    );
    assert!(all[replies.len()..].iter().all(|text| *text != welcome));
    let rows = conversations(&app, id).await;
    assert_eq!(rows[0].unread, 2, "the repeat is not counted");
}

#[tokio::test]
async fn a_first_message_asking_for_a_person_flags_the_conversation_it_opens() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 5).await;
    let chat = "+4917600000031";
    through_the_linked_device(&app, id, chat, "I want to talk to a human", "wa-h");
    let promise = replies_to(&app, id, chat, 2).await.pop().unwrap();
    assert!(promise.contains("person"), "{promise}");
    let c = eventually("the conversation flagged", || async {
        conversations(&app, id)
            .await
            .pop()
            .filter(|c| c.needs_human)
    })
    .await;
    assert_eq!(c.mode, ConversationMode::Human);
    assert_eq!(c.mode_reason.as_deref(), Some("customer_asked"));
    let switches = entity::conversation_event::Entity::find()
        .filter(entity::conversation_event::Column::ConversationId.eq(c.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(switches.len(), 1, "{switches:?}");
    assert_eq!(switches[0].mode, ConversationMode::Human);

    // With a person now, the bot stays silent in that chat.
    through_the_linked_device(&app, id, chat, "hello?", "wa-h2");
    left_for_a_person(&app, id, chat, "wa-h2").await;
    assert_eq!(replies_to(&app, id, chat, 2).await.len(), 2, "no answer");
}

/// Waits until the bot has dealt with message `wa` of `chat`, and checks
/// it left it for a person (logged, not answered).
async fn left_for_a_person(app: &TestApp, id: Uuid, chat: &str, wa: &str) {
    let row = eventually(&format!("message {wa} dealt with"), || async {
        log_rows(app, id, Direction::In, chat)
            .await
            .into_iter()
            .find(|r| {
                r.wa_message_id.as_deref() == Some(wa)
                    && r.status != entity::enums::MessageStatus::Received
            })
    })
    .await;
    assert_eq!(row.status, entity::enums::MessageStatus::Skipped);
    assert_eq!(row.error.as_deref(), Some(flowhq::bots::bot::WITH_A_PERSON));
}

/// The bot answers a plain question in ONE commit with the message, from
/// the conversation as its chat's worker last saw it. A person taking the
/// chat meanwhile is seen by that commit: the message is stored without
/// the answer worked out before, and left to the person.
#[tokio::test]
async fn a_chat_taken_over_between_two_messages_is_not_answered_from_what_the_bot_saw_before() {
    use std::sync::atomic::Ordering::Relaxed;

    let app = spawn_app().await;
    let id = linked_tenant(&app, 6).await;
    let chat = "+4917600000041";
    let stats = app.registry.writer().stats();
    through_the_linked_device(&app, id, chat, "opening hours?", "wa-t1");
    let replies = replies_to(&app, id, chat, 2).await;
    // The tenant's first message of this run may have been stored first:
    // the plan's count of messages was not in the bot's book yet.
    let at_once = stats.answered_at_once.load(Relaxed);
    through_the_linked_device(&app, id, chat, "prices?", "wa-t2");
    let replies = replies_to(&app, id, chat, replies.len() + 1).await;
    assert_eq!(
        stats.answered_at_once.load(Relaxed),
        at_once + 1,
        "the next message in one commit"
    );
    let answered = log_rows(&app, id, Direction::In, chat).await;
    assert!(
        answered
            .iter()
            .all(|r| r.status == entity::enums::MessageStatus::Answered),
        "{answered:?}"
    );

    let cid = conversations(&app, id).await[0].id;
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/conversations/{cid}/take-over"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    through_the_linked_device(&app, id, chat, "what about tomorrow?", "wa-t3");
    left_for_a_person(&app, id, chat, "wa-t3").await;
    assert_eq!(stats.stale_at_once.load(Relaxed), 1, "seen by its commit");
    assert_eq!(stats.answered_at_once.load(Relaxed), at_once + 1);
    assert_eq!(
        log_rows(&app, id, Direction::Out, chat).await.len(),
        replies.len(),
        "nothing sent in the person's chat"
    );
}
