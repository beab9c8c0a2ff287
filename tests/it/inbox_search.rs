//! Inbox search by number, name or text through the trigram index
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

async fn add(app: &TestApp, tenant: Uuid, chat: &str, name: Option<&str>, preview: &str) {
    let now = Utc::now();
    conversation::Entity::insert(conversation::ActiveModel {
        tenant_id: Set(tenant),
        chat_id: Set(chat.to_owned()),
        contact_name: Set(name.map(str::to_owned)),
        first_seen_at: Set(now),
        last_message_at: Set(now),
        preview: Set(preview.to_owned()),
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

    // A new last message and a new name are found at once; the old ones not.
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::Preview,
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
            preview: Set(if n == 9_900 {
                "Do you sell gift cards?".to_owned()
            } else {
                format!("see you at {n}")
            }),
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
