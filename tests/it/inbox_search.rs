//! Inbox search by number, name or the customer's words through the
//! trigram index
//! (FTS5 on SQLite, pg_trgm on PostgreSQL), kept current by the database
//! itself as conversations are written and changed.

use chrono::Utc;
use entity::conversation;
use entity::enums::ConversationMode;
use flowhq::services::inbox::{InboxQuery, matching};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryTrait, Set,
};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// A conversation whose customer last wrote `said`.
async fn add(app: &TestApp, tenant: Uuid, chat: &str, name: Option<&str>, said: &str) {
    let now = Utc::now();
    conversation::Entity::insert(conversation::ActiveModel {
        tenant_id: Set(tenant),
        chat_id: Set(chat.to_owned()),
        contact_name: Set(name.map(str::to_owned)),
        first_seen_at: Set(now),
        last_message_at: Set(now),
        preview: Set(said.to_owned()),
        last_in_text: Set(Some(said.to_owned())),
        unread: Set(0),
        mode: Set(ConversationMode::Bot),
        needs_human: Set(false),
        ..Default::default()
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();
}

async fn found(app: &TestApp, tenant: Uuid, q: &str) -> Vec<String> {
    let path = format!(
        "/api/admin/tenants/{tenant}/conversations?q={}",
        urlencoding(q)
    );
    let (status, body) = app.api_get(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut chats: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["chat"].as_str().unwrap().to_owned())
        .collect();
    chats.sort();
    chats
}

fn urlencoding(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn search_finds_a_number_a_name_or_words_and_follows_changes() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let other = app.new_tenant(2).await;
    add(
        &app,
        tenant,
        "+4917611112222",
        Some("Kerry Müller"),
        "Do you sell GIFT cards?",
    )
    .await;
    add(
        &app,
        tenant,
        "+4917633334444",
        None,
        "opening hours on Sunday",
    )
    .await;
    add(
        &app,
        other,
        "+4917611115555",
        Some("Kerry Other"),
        "gift cards please",
    )
    .await;

    let ana = || vec!["+4917611112222".to_owned()];
    assert_eq!(found(&app, tenant, "1111").await, ana(), "middle digits");
    assert_eq!(found(&app, tenant, "+49176111").await, ana());
    assert_eq!(found(&app, tenant, "gift card").await, ana(), "any case");
    assert_eq!(
        found(&app, tenant, "kerry").await,
        ana(),
        "another tenant's stays out"
    );
    assert_eq!(found(&app, tenant, "müller").await, ana());
    assert_eq!(
        found(&app, tenant, "ho").await,
        vec!["+4917633334444".to_owned()],
        "short"
    );
    assert!(
        found(&app, tenant, "\"OR gift").await.is_empty(),
        "no query syntax"
    );
    assert!(found(&app, tenant, "50%").await.is_empty(), "no wildcards");

    // A reply changes the preview, not what is searched: the customer's
    // words are.
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::Preview,
            Expr::value("our opening hours are 9 to 5"),
        )
        .filter(conversation::Column::ChatId.eq("+4917611112222"))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(
        found(&app, tenant, "opening hours").await,
        vec!["+4917633334444".to_owned()],
        "the bot's words are not searched"
    );
    assert_eq!(found(&app, tenant, "gift card").await, ana());

    // A new customer message and a new name are found at once; the old
    // ones not.
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::LastInText,
            Expr::value("see you tomorrow"),
        )
        .col_expr(
            conversation::Column::ContactName,
            Expr::value("Kerry Schmidt"),
        )
        .filter(conversation::Column::ChatId.eq("+4917611112222"))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(found(&app, tenant, "tomorrow").await, ana());
    assert_eq!(found(&app, tenant, "schmidt").await, ana());
    assert!(found(&app, tenant, "gift").await.is_empty());
    assert!(found(&app, tenant, "müller").await.is_empty());
}

/// Migration 21 moved the search from the last message to the customer's
/// last message: conversations written before it take that text from the
/// message log, and the migration rolls back and forward.
#[tokio::test]
async fn conversations_from_before_the_search_change_are_found_by_the_customers_words() {
    use entity::enums::{Direction, MessageKind, MessageStatus};
    use entity::message_log;
    use migration::{Migrator, MigratorTrait};

    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let chat = "+4917655556666";
    add(&app, tenant, chat, None, "placeholder").await;
    let now = Utc::now();
    let said = [
        (Direction::In, "is the terrace open?", 0),
        (Direction::In, "table for four tonight", 1),
        (Direction::Out, "See you at eight!", 2),
    ];
    for (n, (direction, text, seconds)) in said.into_iter().enumerate() {
        message_log::Entity::insert(message_log::ActiveModel {
            tenant_id: Set(tenant),
            direction: Set(direction),
            chat_id: Set(chat.to_owned()),
            sender: Set(chat.to_owned()),
            recipient: Set("bot".to_owned()),
            text: Set(text.to_owned()),
            wa_message_id: Set(Some(format!("before-{n}"))),
            status: Set(MessageStatus::Answered),
            created_at: Set(now + chrono::Duration::seconds(seconds)),
            kind: Set(MessageKind::Text),
            ..Default::default()
        })
        .exec_without_returning(app.db())
        .await
        .unwrap();
    }
    conversation::Entity::update_many()
        .col_expr(conversation::Column::LastInAt, Expr::value(now))
        .filter(conversation::Column::ChatId.eq(chat))
        .exec(app.db())
        .await
        .unwrap();

    // Undo the migration under test and the ones after it.
    let after = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261207_000021_search_the_customers_words")
        .unwrap();
    Migrator::down(app.db(), Some(u32::try_from(after + 1).unwrap()))
        .await
        .unwrap();
    Migrator::up(app.db(), None).await.unwrap();
    assert_eq!(
        found(&app, tenant, "four tonight").await,
        vec![chat.to_owned()],
        "the customer's latest message"
    );
    assert!(
        found(&app, tenant, "terrace").await.is_empty(),
        "an older one"
    );
    assert!(
        found(&app, tenant, "at eight").await.is_empty(),
        "the reply"
    );
    assert!(found(&app, tenant, "placeholder").await.is_empty());
    assert_eq!(found(&app, tenant, "55556").await, vec![chat.to_owned()]);
}

#[tokio::test]
async fn a_search_uses_the_trigram_index_instead_of_scanning() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let backend = app.db().get_database_backend();
    // An inbox of 10,000 chats, one of them about gift cards, with the
    // statistics the planner weighs (on PostgreSQL it could read the
    // tenant's activity index instead and test every row).
    let now = Utc::now();
    let rows: Vec<conversation::ActiveModel> = (0..10_000)
        .map(|n| conversation::ActiveModel {
            tenant_id: Set(tenant),
            chat_id: Set(format!("+49151{n:08}")),
            first_seen_at: Set(now),
            last_message_at: Set(now - chrono::Duration::minutes(n)),
            preview: Set(format!("see you at {n}")),
            last_in_text: Set(Some(if n == 9_900 {
                "Do you sell gift cards?".to_owned()
            } else {
                format!("see you at {n}")
            })),
            unread: Set(0),
            mode: Set(ConversationMode::Bot),
            needs_human: Set(false),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(500) {
        conversation::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
    if backend == DatabaseBackend::Postgres {
        app.db()
            .execute_unprepared("ANALYZE conversation")
            .await
            .unwrap();
    }
    let query = InboxQuery {
        q: Some("gift cards".to_owned()),
        ..InboxQuery::default()
    };
    // The list's own query.
    let select = matching(backend, tenant.into(), &query).build(backend);
    let index = match backend {
        DatabaseBackend::Postgres => "idx_conversation_search",
        _ => "conversation_search VIRTUAL TABLE INDEX",
    };
    crate::helpers::assert_plan_reads(&app, select, index).await;
}

#[tokio::test]
async fn the_needs_a_person_and_with_a_person_lists_read_their_partial_indexes() {
    use flowhq::services::inbox::InboxFilter;
    use sea_orm::QueryOrder;

    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let backend = app.db().get_database_backend();
    for (filter, index) in [
        (
            InboxFilter::NeedsHuman,
            "idx_conversation_tenant_needs_human",
        ),
        (InboxFilter::Human, "idx_conversation_tenant_human"),
    ] {
        let query = InboxQuery {
            filter,
            ..InboxQuery::default()
        };
        let select = matching(backend, tenant.into(), &query)
            .order_by_desc(conversation::Column::LastMessageAt)
            .build(backend);
        crate::helpers::assert_plan_reads(&app, select, index).await;
    }
}
