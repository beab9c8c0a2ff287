//! The conversation rows a log batch touches: ONE upsert for the
//! conversations its new inbound messages belong to (creating those seen
//! for the first time), and ONE for the conversations its replies went to.
//!
//! Rows of one conversation are folded together first: PostgreSQL refuses
//! an upsert that touches the same row twice in one statement, and one row
//! per conversation is less work anyway. A batch with more conversations
//! than `ROWS_PER_STATEMENT` takes one statement per that many (bind
//! parameter limits).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::conversation;
use entity::enums::ConversationMode;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseBackend, DbErr};

use super::log_batch::ROWS_PER_STATEMENT;
use crate::domain::ids::TenantId;

/// The longest preview kept (the inbox shows one line).
pub const PREVIEW_CHARS: usize = 120;

/// The start of a message, on one line, for the inbox list.
pub fn preview(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// A newly stored inbound message, as its conversation sees it.
pub struct Arrival<'a> {
    pub id: i64,
    pub tenant: TenantId,
    pub chat: &'a str,
    pub text: &'a str,
    pub contact_name: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// One conversation's share of a batch.
struct Fold<'a> {
    first_seen: DateTime<Utc>,
    first_id: i64,
    last_at: DateTime<Utc>,
    last_text: &'a str,
    contact_name: Option<&'a str>,
    count: i32,
}

/// `GREATEST` on PostgreSQL, the two-argument `MAX` on SQLite (timestamps
/// are stored as text there in one fixed format, so they compare as text).
fn greatest(backend: DatabaseBackend, a: &str, b: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("GREATEST({a}, {b})"),
        _ => format!("MAX({a}, {b})"),
    }
}

/// Upserts the conversations of `arrivals` and answers, per conversation,
/// the id of the message that opened it: a message is its conversation's
/// first contact when that id is its own.
pub async fn record_arrivals(
    conn: &impl ConnectionTrait,
    arrivals: &[Arrival<'_>],
) -> Result<HashMap<(TenantId, String), Option<i64>>, DbErr> {
    let mut folds: HashMap<(TenantId, &str), Fold> = HashMap::new();
    for arrival in arrivals {
        let fold = folds.entry((arrival.tenant, arrival.chat)).or_insert(Fold {
            first_seen: arrival.at,
            first_id: arrival.id,
            last_at: arrival.at,
            last_text: arrival.text,
            contact_name: None,
            count: 0,
        });
        if (arrival.at, arrival.id) < (fold.first_seen, fold.first_id) {
            fold.first_seen = arrival.at;
            fold.first_id = arrival.id;
        }
        if arrival.at >= fold.last_at {
            fold.last_at = arrival.at;
            fold.last_text = arrival.text;
        }
        if arrival.contact_name.is_some() {
            fold.contact_name = arrival.contact_name;
        }
        fold.count += 1;
    }
    let mut opened = HashMap::with_capacity(folds.len());
    if folds.is_empty() {
        return Ok(opened);
    }
    let backend = conn.get_database_backend();
    // One key order in every batch: batches committed side by side on
    // PostgreSQL wait for each other instead of deadlocking.
    let mut folds: Vec<_> = folds.into_iter().collect();
    folds.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let newer = |column: &str| {
        greatest(
            backend,
            &format!("conversation.{column}"),
            &format!("excluded.{column}"),
        )
    };
    for chunk in folds.chunks(ROWS_PER_STATEMENT) {
        let mut insert = Query::insert();
        insert.into_table(conversation::Entity).columns([
            conversation::Column::TenantId,
            conversation::Column::ChatId,
            conversation::Column::ContactName,
            conversation::Column::FirstSeenAt,
            conversation::Column::LastInAt,
            conversation::Column::LastMessageAt,
            conversation::Column::Preview,
            conversation::Column::Unread,
            conversation::Column::FirstMessageId,
            conversation::Column::Mode,
        ]);
        for ((tenant, chat), fold) in chunk {
            insert
                .values([
                    (*tenant).into(),
                    (*chat).into(),
                    fold.contact_name.map(str::to_owned).into(),
                    fold.first_seen.into(),
                    fold.last_at.into(),
                    fold.last_at.into(),
                    preview(fold.last_text).into(),
                    fold.count.into(),
                    fold.first_id.into(),
                    ConversationMode::Bot.to_value().into(),
                ])
                .map_err(|err| DbErr::Custom(err.to_string()))?;
        }
        insert
            .on_conflict(
                OnConflict::columns([conversation::Column::TenantId, conversation::Column::ChatId])
                    .values([
                        (
                            conversation::Column::ContactName,
                            Expr::cust(
                                "COALESCE(excluded.contact_name, conversation.contact_name)",
                            ),
                        ),
                        (
                            conversation::Column::LastInAt,
                            Expr::cust(greatest(
                                backend,
                                "COALESCE(conversation.last_in_at, excluded.last_in_at)",
                                "excluded.last_in_at",
                            )),
                        ),
                        (
                            conversation::Column::Preview,
                            Expr::cust(
                                "CASE WHEN excluded.last_message_at >= conversation.last_message_at \
                                 THEN excluded.preview ELSE conversation.preview END",
                            ),
                        ),
                        (
                            conversation::Column::LastMessageAt,
                            Expr::cust(newer("last_message_at")),
                        ),
                        (
                            conversation::Column::Unread,
                            Expr::cust("conversation.unread + excluded.unread"),
                        ),
                    ])
                    .to_owned(),
            )
            .returning(Query::returning().columns([
                conversation::Column::TenantId,
                conversation::Column::ChatId,
                conversation::Column::FirstMessageId,
            ]));
        for row in conn.query_all_raw(backend.build(&insert)).await? {
            let tenant: TenantId = row.try_get("", "tenant_id")?;
            let chat: String = row.try_get("", "chat_id")?;
            let first: Option<i64> = row.try_get("", "first_message_id")?;
            opened.insert((tenant, chat), first);
        }
    }
    Ok(opened)
}

/// A reply (or any message to a customer) going out, as its conversation
/// sees it.
pub struct Departure<'a> {
    pub tenant: TenantId,
    pub chat: &'a str,
    pub text: &'a str,
    pub at: DateTime<Utc>,
}

/// Records when the business last wrote in each conversation of
/// `departures`, creating the conversation when the business writes first.
pub async fn record_departures(
    conn: &impl ConnectionTrait,
    departures: &[Departure<'_>],
) -> Result<(), DbErr> {
    let mut last: HashMap<(TenantId, &str), (DateTime<Utc>, &str)> = HashMap::new();
    for departure in departures {
        let entry = last
            .entry((departure.tenant, departure.chat))
            .or_insert((departure.at, departure.text));
        if departure.at >= entry.0 {
            *entry = (departure.at, departure.text);
        }
    }
    if last.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let mut last: Vec<_> = last.into_iter().collect();
    last.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for chunk in last.chunks(ROWS_PER_STATEMENT) {
        let mut insert = Query::insert();
        insert.into_table(conversation::Entity).columns([
            conversation::Column::TenantId,
            conversation::Column::ChatId,
            conversation::Column::FirstSeenAt,
            conversation::Column::LastOutAt,
            conversation::Column::LastMessageAt,
            conversation::Column::Preview,
            conversation::Column::Unread,
            conversation::Column::Mode,
        ]);
        for ((tenant, chat), (at, text)) in chunk {
            insert
                .values([
                    (*tenant).into(),
                    (*chat).into(),
                    (*at).into(),
                    (*at).into(),
                    (*at).into(),
                    preview(text).into(),
                    0.into(),
                    ConversationMode::Bot.to_value().into(),
                ])
                .map_err(|err| DbErr::Custom(err.to_string()))?;
        }
        insert.on_conflict(
            OnConflict::columns([conversation::Column::TenantId, conversation::Column::ChatId])
                .value(
                    conversation::Column::LastOutAt,
                    Expr::cust(greatest(
                        backend,
                        "COALESCE(conversation.last_out_at, excluded.last_out_at)",
                        "excluded.last_out_at",
                    )),
                )
                .to_owned(),
        );
        conn.execute_raw(backend.build(&insert)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_is_one_line_and_cut_at_a_character_boundary() {
        assert_eq!(preview("Hello\nthere,   friend"), "Hello there, friend");
        let long = "é".repeat(PREVIEW_CHARS + 10);
        let cut = preview(&long);
        assert_eq!(cut.chars().count(), PREVIEW_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            preview(&"a".repeat(PREVIEW_CHARS)),
            "a".repeat(PREVIEW_CHARS)
        );
    }
}
