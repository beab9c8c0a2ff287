//! The inbox's figures: one tenant with `conversations` chats and
//! `messages` messages (100,000 and 10 million by default), then the
//! queries its pages run, each timed as the median of a few runs: the
//! first page of the list (all, and "needs a person"), a search by number
//! and by text, and the latest page of one thread.

use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use entity::conversation;
use entity::enums::{ConversationMode, Direction, MessageStatus};
use sea_orm::sea_query::Query;
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection, EntityTrait, Set};

use crate::domain::ids::{ConversationId, TenantId};
use crate::services::inbox::{self, InboxFilter, InboxQuery};

const WORDS: [&str; 12] = [
    "haircut", "colour", "tomorrow", "price", "booking", "cancel", "thanks", "where", "open",
    "gift", "card", "parking",
];

/// What the inbox queries took (median of `RUNS`).
pub struct InboxFigures {
    pub seeded_in: Duration,
    pub timings: Vec<(&'static str, Duration)>,
}

const RUNS: usize = 5;

pub async fn run(
    db: &DatabaseConnection,
    tenant: TenantId,
    conversations: u32,
    messages: u64,
) -> anyhow::Result<InboxFigures> {
    let began = Instant::now();
    seed(db, tenant, conversations, messages).await?;
    let seeded_in = began.elapsed();
    let mut timings = Vec::new();
    let list = |filter, q: Option<&str>| InboxQuery {
        filter,
        q: q.map(str::to_owned),
        cursor: None,
        limit: None,
    };
    let queries: [(&'static str, InboxQuery); 4] = [
        ("inbox first page", list(InboxFilter::All, None)),
        (
            "inbox first page, needs a person",
            list(InboxFilter::NeedsHuman, None),
        ),
        (
            "inbox search by number",
            list(InboxFilter::All, Some("4917712345")),
        ),
        (
            "inbox search by text",
            list(InboxFilter::All, Some("parking gift")),
        ),
    ];
    for (what, query) in queries {
        let took = median(|| async { inbox::list(db, tenant, &query).await.map(|_| ()) }).await?;
        timings.push((what, took));
    }
    let newest = inbox::list(db, tenant, &list(InboxFilter::All, None)).await?;
    let thread = newest
        .items
        .first()
        .map(|item| item.id)
        .unwrap_or(ConversationId::new(0));
    let took = median(|| async {
        inbox::messages(db, tenant, thread, None, None)
            .await
            .map(|_| ())
    })
    .await?;
    timings.push(("a thread's latest messages", took));
    Ok(InboxFigures { seeded_in, timings })
}

async fn median<F, Fut>(mut query: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::error::AppError>>,
{
    let mut took = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let began = Instant::now();
        query().await.map_err(|err| anyhow::anyhow!("{err}"))?;
        took.push(began.elapsed());
    }
    took.sort();
    Ok(took[RUNS / 2])
}

/// Conversations spread over the last 90 days (a tenth waiting for a
/// person, a fifth with one), each with its share of the messages, in
/// large transactions of multi-row statements.
async fn seed(
    db: &DatabaseConnection,
    tenant: TenantId,
    conversations: u32,
    messages: u64,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let per_chat = (messages / u64::from(conversations.max(1))).max(1);
    let chat = |c: u32| format!("+49177{:08}", 12_340_000 + c);
    let text = |n: u64| {
        let w = |k: u64| WORDS[usize::try_from((n / k) % WORDS.len() as u64).unwrap_or(0)];
        format!("{} {} {} #{n}", w(1), w(7), w(49))
    };
    let at = |c: u32, m: u64| {
        now - Span::minutes(
            i64::from(conversations - c) * 90 * 24 * 60 / i64::from(conversations.max(1)),
        ) + Span::seconds(i64::try_from(m).unwrap_or(0) * 5)
    };
    let chunk = 500u32;
    for start in (0..conversations).step_by(chunk as usize) {
        let txn = crate::db::begin_write(db).await?;
        let end = (start + chunk).min(conversations);
        conversation::Entity::insert_many((start..end).map(|c| {
            let needs = c % 10 == 0;
            let human = c % 5 == 0;
            let last = at(c, per_chat);
            conversation::ActiveModel {
                tenant_id: Set(tenant.into()),
                chat_id: Set(chat(c)),
                contact_name: Set(Some(format!("Customer {c}"))),
                first_seen_at: Set(at(c, 0)),
                last_in_at: Set(Some(last)),
                last_out_at: Set(Some(last)),
                last_message_at: Set(last),
                preview: Set(text(u64::from(c) * per_chat + per_chat - 1)),
                // The customer's last: messages alternate, in first.
                last_in_text: Set(Some(text(u64::from(c) * per_chat + (per_chat - 1) / 2 * 2))),
                unread: Set(i32::from(needs)),
                first_message_id: Set(None),
                mode: Set(if human {
                    ConversationMode::Human
                } else {
                    ConversationMode::Bot
                }),
                mode_reason: Set(None),
                mode_since: Set(None),
                needs_human: Set(needs),
                needs_human_since: Set(needs.then_some(last)),
                last_human_at: Set(None),
                notified_at: Set(None),
                text_only_notice_at: Set(None),
                out_of_hours_notice_at: Set(None),
                ..Default::default()
            }
        }))
        .exec_without_returning(&txn)
        .await?;
        // Messages of these chats, 1,000 rows a statement.
        let rows: Vec<(u32, u64)> = (start..end)
            .flat_map(|c| (0..per_chat).map(move |m| (c, m)))
            .collect();
        for part in rows.chunks(1000) {
            let mut insert = Query::insert();
            insert.into_table(entity::message_log::Entity).columns([
                entity::message_log::Column::TenantId,
                entity::message_log::Column::Direction,
                entity::message_log::Column::ChatId,
                entity::message_log::Column::Sender,
                entity::message_log::Column::Recipient,
                entity::message_log::Column::Text,
                entity::message_log::Column::WaMessageId,
                entity::message_log::Column::Status,
                entity::message_log::Column::CreatedAt,
            ]);
            for &(c, m) in part {
                let inbound = m % 2 == 0;
                let (direction, status) = if inbound {
                    (Direction::In, MessageStatus::Answered)
                } else {
                    (Direction::Out, MessageStatus::Sent)
                };
                let n = u64::from(c) * per_chat + m;
                insert
                    .values([
                        tenant.into(),
                        direction.to_value().into(),
                        chat(c).into(),
                        chat(c).into(),
                        "bot".into(),
                        text(n).into(),
                        format!("wamid.inbox-{n}").into(),
                        status.to_value().into(),
                        at(c, m).into(),
                    ])
                    .map_err(|err| anyhow::anyhow!("{err}"))?;
            }
            let statement = txn.get_database_backend().build(&insert);
            txn.execute_raw(statement).await?;
        }
        txn.commit().await?;
    }
    // What autovacuum does within a minute of such a load on PostgreSQL:
    // without it the planner still believes the tenant has a few dozen
    // conversations and reads its whole inbox for a search (70 ms here).
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE conversation, message_log")
            .await?;
    }
    Ok(())
}
