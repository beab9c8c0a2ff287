//! What is not a customer's text: photos, voice notes, documents… logged
//! with their kind and words (the bot says once that it reads text only,
//! and a person is needed), and what the business's own phone writes in a
//! chat (logged as the phone's; the chat goes to a person, the bot's own
//! sends are not mistaken for it). Through the sandbox, over the JSON API.

use entity::enums::MessageKind;
use flowhq::services::runtime::phone::PhoneMessage;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bots::{customer_writes, linked_tenant, outbox};
use crate::helpers::{TestApp, eventually, spawn_app};
use crate::inbox::{base, messages_when, settled};

const CUSTOMER: &str = "+4917600000077";

async fn sends(app: &TestApp, id: Uuid, body: Value) {
    let (status, answer) = app
        .api_post(&format!("/api/admin/tenants/{id}/sandbox/inbound"), &body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}: {answer}");
}

async fn conversation(app: &TestApp, id: Uuid) -> Value {
    eventually("the conversation listed", || async {
        let (_, body) = app.api_get(&base(id)).await;
        body["items"].as_array()?.first().cloned()
    })
    .await
}

async fn outbox_to_customer(app: &TestApp, id: Uuid) -> Vec<Value> {
    let mut sent = outbox(app, id).await;
    sent.retain(|m| m["to"] == CUSTOMER);
    sent
}

#[tokio::test]
async fn a_photo_is_logged_with_its_caption_and_the_bot_says_once_that_it_reads_text_only() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;

    sends(
        &app,
        id,
        json!({"from": CUSTOMER, "kind": "image", "text": "is this colour in stock?", "id": "p-1"}),
    )
    .await;
    let listed = conversation(&app, id).await;
    let cid = listed["id"].clone();
    let thread = messages_when(&app, id, &cid, "the photo answered", |m| settled(m, 1)).await;
    let photo = &thread[0];
    assert_eq!(photo["kind"], "IMAGE", "{photo}");
    assert_eq!(photo["text"], "is this colour in stock?");
    assert_eq!(photo["status"], "ANSWERED");
    let notice = thread.last().unwrap();
    assert_eq!(notice["author"], "bot");
    assert!(
        notice["text"].as_str().unwrap().contains("only read text"),
        "{notice}"
    );
    let (_, listed) = app.api_get(&format!("{}/{cid}", base(id))).await;
    assert_eq!(listed["needs_human"], true, "{listed}");

    // A voice note and a document later: logged, no second notice.
    sends(
        &app,
        id,
        json!({"from": CUSTOMER, "kind": "audio", "id": "p-2"}),
    )
    .await;
    sends(
        &app,
        id,
        json!({"from": CUSTOMER, "kind": "document", "file_name": "order.pdf", "id": "p-3"}),
    )
    .await;
    let thread = messages_when(&app, id, &cid, "both logged", |m| settled(m, 3)).await;
    let kinds: Vec<(&str, &str, &str)> = thread
        .iter()
        .filter(|m| m["direction"] == "IN")
        .map(|m| {
            (
                m["kind"].as_str().unwrap(),
                m["text"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("IMAGE", "is this colour in stock?", "ANSWERED"),
            ("AUDIO", "", "SKIPPED"),
            ("DOCUMENT", "order.pdf", "SKIPPED"),
        ]
    );
    let notices = outbox_to_customer(&app, id)
        .await
        .into_iter()
        .filter(|m| m["text"].as_str().unwrap_or("").contains("only read text"))
        .count();
    assert_eq!(notices, 1, "told once per conversation");
    let (_, listed) = app.api_get(&format!("{}/{cid}", base(id))).await;
    assert_eq!(listed["preview"], "[Document] order.pdf", "in plain words");

    // Text is still answered.
    customer_writes(&app, id, CUSTOMER, "what are your opening hours?", "p-4").await;
    let thread = messages_when(&app, id, &cid, "the text answered", |m| settled(m, 4)).await;
    let last_in = thread.iter().rfind(|m| m["direction"] == "IN").unwrap();
    assert_eq!(last_in["status"], "ANSWERED", "{last_in}");

    // The old text shape and an unknown kind: the one still works, the
    // other is refused naming its field.
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({"from": CUSTOMER, "kind": "hologram", "id": "p-5"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["kind"].is_string(), "{body}");
}

#[tokio::test]
async fn the_owner_writing_from_the_phone_takes_the_chat_and_the_bot_s_own_sends_do_not() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 2).await;
    customer_writes(&app, id, CUSTOMER, "hello", "h-1").await;
    let cid = conversation(&app, id).await["id"].clone();
    messages_when(&app, id, &cid, "the greeting sent", |m| {
        settled(m, 1) && m.iter().any(|m| m["direction"] == "OUT")
    })
    .await;

    // The bot's own reply, handed back by WhatsApp as the phone's: ignored.
    let bot_sent = outbox_to_customer(&app, id).await;
    let echoed = &bot_sent[0];
    app.state
        .sandbox
        .phone_writes(
            id.into(),
            PhoneMessage {
                id: echoed["id"].as_str().unwrap().to_owned(),
                chat: CUSTOMER.to_owned(),
                text: echoed["text"].as_str().unwrap().to_owned(),
                kind: MessageKind::Text,
                at: chrono::Utc::now(),
            },
        )
        .unwrap();
    // The owner writes from the phone.
    app.state
        .sandbox
        .phone_writes(
            id.into(),
            PhoneMessage {
                id: "phone-1".to_owned(),
                chat: CUSTOMER.to_owned(),
                text: "Hi, it's Maria. I'll call you in 5 minutes.".to_owned(),
                kind: MessageKind::Text,
                at: chrono::Utc::now(),
            },
        )
        .unwrap();
    let listed = eventually("the chat with a person", || async {
        let (_, c) = app.api_get(&format!("{}/{cid}", base(id))).await;
        (c["mode"] == "HUMAN").then_some(c)
    })
    .await;
    assert_eq!(listed["mode_reason"], "owner_phone");
    assert_eq!(listed["needs_human"], false, "the owner is answering");
    let thread = messages_when(&app, id, &cid, "the phone's message logged", |m| {
        m.iter().any(|m| m["author"] == "Phone")
    })
    .await;
    let outs: Vec<&Value> = thread.iter().filter(|m| m["direction"] == "OUT").collect();
    assert_eq!(
        outs.len(),
        bot_sent.len() + 1,
        "the echo of the bot's send is not logged again: {outs:?}"
    );
    let phone = outs.last().unwrap();
    assert_eq!(phone["text"], "Hi, it's Maria. I'll call you in 5 minutes.");
    assert_eq!(phone["status"], "SENT");

    // The bot now stays silent in that chat.
    let sent_before = outbox_to_customer(&app, id).await.len();
    customer_writes(&app, id, CUSTOMER, "ok thanks", "h-2").await;
    let thread = messages_when(&app, id, &cid, "the answer logged", |m| settled(m, 2)).await;
    assert_eq!(
        thread.iter().rfind(|m| m["direction"] == "IN").unwrap()["status"],
        "SKIPPED"
    );
    assert_eq!(outbox_to_customer(&app, id).await.len(), sent_before);
}

#[tokio::test]
async fn the_owners_own_text_only_wording_answers_a_voice_note() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    let (status, body) = app
        .api_call(
            reqwest::Method::PUT,
            &format!("/api/admin/tenants/{id}/knowledge/answers/text_only/en"),
            Some(&json!({"text": "{business} reads text only: please write to us."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    sends(
        &app,
        id,
        json!({"from": CUSTOMER, "kind": "audio", "id": "v-1"}),
    )
    .await;
    let cid = conversation(&app, id).await["id"].clone();
    let thread = messages_when(&app, id, &cid, "the voice note answered", |m| settled(m, 1)).await;
    let notice = thread.last().unwrap();
    assert_eq!(notice["author"], "bot", "{thread:?}");
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .ends_with("reads text only: please write to us."),
        "{notice}"
    );
}
