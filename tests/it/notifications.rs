//! Email to a tenant's people when a chat needs a person: real mail through
//! lettre to a real SMTP server on loopback (`SmtpSink`), read back; at
//! most one per chat per interval, kept by the claim in the database.

use chrono::Utc;
use entity::enums::{ConversationMode, Direction, MessageKind, MessageStatus, UserRole};
use entity::{conversation, message_log, user};
use flowhq::config::SmtpTls;
use flowhq::domain::ids::TenantId;
use sea_orm::{ActiveModelTrait, EntityTrait, NotSet, Set};
use uuid::Uuid;

use crate::helpers::{SmtpSink, TestApp, eventually, flowhq_command, spawn_app_with};

const CHAT: &str = "+4915112345678";

/// An app that sends its notifications to the SMTP server on `port`.
async fn app_mailing_to(port: u16) -> TestApp {
    spawn_app_with(|settings| {
        settings.smtp.host = "127.0.0.1".to_owned();
        settings.smtp.port = port;
        settings.smtp.tls = SmtpTls::None;
        settings.smtp.from = "Flow HQ <flowhq@example.com>".to_owned();
    })
    .await
}

async fn add_user(app: &TestApp, tenant: Uuid, email: &str, role: UserRole) {
    user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.to_owned()),
        google_subject: Set(None),
        name: Set(email.to_owned()),
        role: Set(role),
        tenant_id: Set(tenant),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
    }
    .insert(app.db())
    .await
    .unwrap();
}

/// Kerry's chat, needing a person, with six messages (the email shows the
/// last five); its conversation id.
async fn waiting_chat(app: &TestApp, tenant: Uuid) -> i64 {
    let start = Utc::now() - chrono::Duration::minutes(10);
    let messages = [
        (Direction::In, None, "Hello, this is the oldest message"),
        (Direction::Out, None, "Welcome to Salon 1!"),
        (Direction::In, None, "Do you have time on Friday?"),
        (Direction::Out, None, "We are open 9:00-18:00."),
        (Direction::In, None, "I want to talk to a human"),
        (
            Direction::Out,
            Some("Anna"),
            "Anna here, one moment please.",
        ),
    ];
    for (n, (direction, author, text)) in messages.into_iter().enumerate() {
        let (sender, recipient) = match direction {
            Direction::In => (CHAT, "+4915100000001"),
            Direction::Out => ("+4915100000001", CHAT),
        };
        message_log::ActiveModel {
            id: NotSet,
            tenant_id: Set(tenant),
            direction: Set(direction),
            chat_id: Set(CHAT.to_owned()),
            sender: Set(sender.to_owned()),
            recipient: Set(recipient.to_owned()),
            text: Set(text.to_owned()),
            wa_message_id: Set(Some(format!("wa-{n}"))),
            status: Set(MessageStatus::Answered),
            error: Set(None),
            created_at: Set(start + chrono::Duration::minutes(i64::try_from(n).unwrap())),
            author: Set(author.map(str::to_owned)),
            kind: Set(MessageKind::Text),
        }
        .insert(app.db())
        .await
        .unwrap();
    }
    let row = conversation::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant),
        chat_id: Set(CHAT.to_owned()),
        contact_name: Set(Some("Kerry".to_owned())),
        first_seen_at: Set(start),
        last_in_at: Set(Some(start + chrono::Duration::minutes(4))),
        last_out_at: Set(Some(start + chrono::Duration::minutes(5))),
        last_message_at: Set(start + chrono::Duration::minutes(5)),
        preview: Set("I want to talk to a human".to_owned()),
        last_in_text: Set(Some("I want to talk to a human".to_owned())),
        unread: Set(1),
        first_message_id: Set(None),
        mode: Set(ConversationMode::Human),
        mode_reason: Set(Some("customer asked".to_owned())),
        mode_since: Set(Some(start + chrono::Duration::minutes(4))),
        needs_human: Set(true),
        needs_human_since: Set(Some(start + chrono::Duration::minutes(4))),
        last_human_at: Set(None),
        notified_at: Set(None),
        text_only_notice_at: Set(None),
        out_of_hours_notice_at: Set(None),
    }
    .insert(app.db())
    .await
    .unwrap();
    row.id
}

async fn conversation(app: &TestApp, id: i64) -> conversation::Model {
    conversation::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Writes the set columns of a conversation, as the bot or the inbox would.
async fn change(app: &TestApp, row: conversation::ActiveModel) {
    row.update(app.db()).await.unwrap();
}

/// Asks for a notification and waits until the worker has finished with it.
async fn notify_and_wait(app: &TestApp, tenant: Uuid, id: i64) {
    let before = app.state.notifier.handled();
    app.state
        .notifier
        .chat_needs_person(TenantId::from_uuid(tenant), id);
    eventually("the notification request handled", || async {
        (app.state.notifier.handled() > before).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_chat_that_needs_a_person_is_emailed_to_the_tenants_people_once_per_interval() {
    let smtp = SmtpSink::start().await;
    let app = app_mailing_to(smtp.port()).await;
    assert!(app.state.notifier.delivers());
    let tenant = app.new_tenant(1).await;
    add_user(&app, tenant, "owner@salon1.example.com", UserRole::Owner).await;
    add_user(&app, tenant, "staff@salon1.example.com", UserRole::Staff).await;
    let id = waiting_chat(&app, tenant).await;

    notify_and_wait(&app, tenant, id).await;
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.from, "flowhq@example.com");
    assert_eq!(
        mail.to,
        ["owner@salon1.example.com", "staff@salon1.example.com"]
    );
    assert_eq!(
        mail.subject(),
        "[Flow HQ] Kerry (+4915112345678) is waiting for a person — Salon 1 GmbH"
    );
    let text = mail.text();
    let link = format!("{}/portal/inbox/{id}", app.state.public_url);
    assert!(text.contains(&link), "no link {link} in:\n{text}");
    let shown = [
        "Bot: Welcome to Salon 1!",
        "Kerry: Do you have time on Friday?",
        "Bot: We are open 9:00-18:00.",
        "Kerry: I want to talk to a human",
        "Anna: Anna here, one moment please.",
    ];
    // The thread's lines without their times: the last five, oldest first.
    let thread: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split_once("] ").map(|(_, message)| message))
        .collect();
    assert_eq!(thread, shown, "in:\n{text}");
    let claimed = conversation(&app, id).await.notified_at;
    assert!(claimed.is_some(), "the email is recorded on the chat");

    // Asked again at once: handled, and no second email.
    notify_and_wait(&app, tenant, id).await;
    assert_eq!(smtp.received().len(), 1, "one email per chat per interval");
    assert_eq!(conversation(&app, id).await.notified_at, claimed);

    // The interval has passed: the next request emails again.
    change(
        &app,
        conversation::ActiveModel {
            id: Set(id),
            notified_at: Set(Some(Utc::now() - chrono::Duration::minutes(16))),
            ..Default::default()
        },
    )
    .await;
    notify_and_wait(&app, tenant, id).await;
    let second = smtp.wait_for(2).await.remove(1);
    assert_eq!(second.subject(), mail.subject());
}

#[tokio::test]
async fn an_unreachable_mail_server_gives_the_claim_back_and_a_later_request_sends() {
    // A port nobody listens on (until the mail server starts on it below).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app_mailing_to(port).await;
    let tenant = app.new_tenant(1).await;
    add_user(&app, tenant, "owner@salon1.example.com", UserRole::Owner).await;
    let id = waiting_chat(&app, tenant).await;

    notify_and_wait(&app, tenant, id).await;
    assert_eq!(
        conversation(&app, id).await.notified_at,
        None,
        "a failed send does not count as the chat's email"
    );

    let smtp = SmtpSink::start_on(port).await;
    notify_and_wait(&app, tenant, id).await;
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.to, ["owner@salon1.example.com"]);
    assert!(conversation(&app, id).await.notified_at.is_some());
}

#[tokio::test]
async fn nobody_is_emailed_about_a_settled_chat_another_tenants_chat_or_by_a_tenant_without_people()
{
    let smtp = SmtpSink::start().await;
    let app = app_mailing_to(smtp.port()).await;
    let tenant = app.new_tenant(1).await;
    let other = app.new_tenant(2).await;
    add_user(&app, other, "owner@salon2.example.com", UserRole::Owner).await;
    let id = waiting_chat(&app, tenant).await;

    // The tenant has nobody to tell.
    notify_and_wait(&app, tenant, id).await;
    // Another tenant's id with this chat: its people never hear of it.
    notify_and_wait(&app, other, id).await;
    // The chat no longer needs a person.
    add_user(&app, tenant, "owner@salon1.example.com", UserRole::Owner).await;
    change(
        &app,
        conversation::ActiveModel {
            id: Set(id),
            needs_human: Set(false),
            ..Default::default()
        },
    )
    .await;
    notify_and_wait(&app, tenant, id).await;

    assert!(smtp.received().is_empty(), "{:?}", smtp.received());
    assert_eq!(conversation(&app, id).await.notified_at, None);
}

#[tokio::test]
async fn with_email_off_the_notifier_says_it_cannot_deliver() {
    let app = spawn_app_with(|_| {}).await;
    assert!(!app.state.notifier.delivers());
    // Asking anyway is harmless (the bot asks without checking).
    app.state
        .notifier
        .chat_needs_person(TenantId::new_random(), 1);
}

#[test]
fn the_smtp_settings_are_read_from_their_environment_variables() {
    let run = |envs: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        flowhq_command(dir.path())
            .arg("migrate")
            .envs(envs.iter().copied())
            .output()
            .unwrap()
    };
    let good = [
        ("FLOWHQ__SMTP__HOST", "smtp.example.com"),
        ("FLOWHQ__SMTP__PORT", "2525"),
        ("FLOWHQ__SMTP__FROM", "Flow HQ <flowhq@example.com>"),
    ];
    let output = run(&good);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (var, value, key) in [
        ("FLOWHQ__SMTP__FROM", "flowhq", "smtp.from"),
        ("FLOWHQ__SMTP__PORT", "smtp", "smtp.port"),
        ("FLOWHQ__SMTP__TLS", "ssl", "smtp.tls"),
        ("FLOWHQ__SMTP__HOST", "smtp://smtp.example.com", "smtp.host"),
        ("FLOWHQ__SMTP__PASSWORD", "hunter2", "smtp.username"),
    ] {
        let mut envs = good.to_vec();
        envs.retain(|(name, _)| *name != var);
        envs.push((var, value));
        let output = run(&envs);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{var}={value} was accepted");
        assert!(
            stderr.contains(&format!("configuration error: {key}")),
            "{var}={value}: expected a line naming {key}, got: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[tokio::test]
async fn a_customer_asking_for_a_person_gets_a_promise_and_the_owner_an_email() {
    let smtp = SmtpSink::start().await;
    let app = app_mailing_to(smtp.port()).await;
    let tenant = crate::bots::linked_tenant(&app, 31).await;
    add_user(&app, tenant, "owner31@example.com", UserRole::Owner).await;

    crate::bots::customer_writes(&app, tenant, CHAT, "I want to talk to a human", "n-1").await;
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["owner31@example.com".to_owned()]);
    assert!(
        mail[0].text().contains("I want to talk to a human"),
        "{}",
        mail[0].text()
    );
    assert!(
        mail[0].text().contains("/portal/inbox/"),
        "{}",
        mail[0].text()
    );
    // Email works: the bot promised a quick answer.
    let promise = eventually("the bot's promise", || async {
        let (_, outbox) = app
            .api_get(&format!("/api/admin/tenants/{tenant}/sandbox/outbox"))
            .await;
        outbox
            .as_array()?
            .iter()
            .filter_map(|m| m["text"].as_str())
            .find(|text| text.starts_with("Thanks"))
            .map(str::to_owned)
    })
    .await;
    assert!(promise.contains("as soon as possible"), "{promise}");
}

#[tokio::test]
async fn without_email_the_bot_does_not_promise_a_quick_answer() {
    let app = crate::helpers::spawn_app().await;
    let tenant = crate::bots::linked_tenant(&app, 32).await;
    crate::bots::customer_writes(&app, tenant, CHAT, "I want to talk to a human", "n-2").await;
    let promise = eventually("the bot's answer", || async {
        let (_, outbox) = app
            .api_get(&format!("/api/admin/tenants/{tenant}/sandbox/outbox"))
            .await;
        outbox
            .as_array()?
            .iter()
            .filter_map(|m| m["text"].as_str())
            .find(|text| text.starts_with("Thanks"))
            .map(str::to_owned)
    })
    .await;
    assert!(!promise.contains("as soon as possible"), "{promise}");
    assert!(promise.contains("when they read it"), "{promise}");
}
