//! The conversation rows the log writer keeps: ONE upsert per batch (per
//! `ROWS_PER_STATEMENT` conversations), in the batch's own transaction, so
//! a conversation is never behind the message log, not even after a crash.
//!
//! What a batch did to each conversation (its messages in and out) is
//! folded first: PostgreSQL refuses an upsert that touches a row twice, and
//! one row per conversation is less work anyway. The upsert creates the
//! conversation of a chat seen for the first time, adds to the unread
//! count, moves the times forward only (batches may commit in any order on
//! PostgreSQL) and answers which message opened each conversation ("first
//! contact"). Rows are written in one key order in every statement:
//! batches committed side by side wait for each other instead of
//! deadlocking.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use entity::conversation;
use entity::enums::{ConversationMode, MessageKind};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseBackend, DbErr, QueryResult};

use super::log_batch::ROWS_PER_STATEMENT;
use crate::domain::handoff::HandoffState;
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
    pub kind: MessageKind,
    pub contact_name: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Which conversation: (tenant, customer chat).
pub type ConversationKey = (TenantId, String);

/// What one batch did to one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The customer's earliest message in the batch (time, log id): it
    /// opens the conversation if none exists yet.
    pub first_in: Option<(DateTime<Utc>, i64)>,
    /// Customer messages in.
    pub unread: i32,
    pub last_in_at: Option<DateTime<Utc>>,
    pub last_out_at: Option<DateTime<Utc>>,
    /// The newest message either way, with its preview.
    pub last_at: DateTime<Utc>,
    pub preview: String,
    /// The preview of the customer's newest message in the batch (at
    /// `last_in_at`): the text the inbox search reads.
    pub last_in_text: Option<String>,
    pub contact_name: Option<String>,
}

impl Activity {
    /// A customer's message, stored as log row `id`.
    pub fn inbound(arrival: &Arrival<'_>) -> Self {
        let (text, contact_name, at) = (arrival.text, arrival.contact_name, arrival.at);
        let preview = preview(&crate::domain::media::summary(arrival.kind, text));
        Self {
            first_in: Some((at, arrival.id)),
            unread: 1,
            last_in_at: Some(at),
            last_out_at: None,
            last_at: at,
            last_in_text: Some(preview.clone()),
            preview,
            contact_name: contact_name.map(str::to_owned),
        }
    }

    /// A message to the customer.
    pub fn outbound(text: &str, at: DateTime<Utc>) -> Self {
        Self {
            first_in: None,
            unread: 0,
            last_in_at: None,
            last_out_at: Some(at),
            last_at: at,
            preview: preview(text),
            last_in_text: None,
            contact_name: None,
        }
    }

    /// Folds `later` (or earlier: the order does not matter) into this.
    pub fn merge(&mut self, other: Activity) {
        self.first_in = match (self.first_in, other.first_in) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.unread = self.unread.saturating_add(other.unread);
        if other.last_in_at.is_some() && other.last_in_at >= self.last_in_at {
            self.last_in_text = other.last_in_text;
        }
        self.last_in_at = self.last_in_at.max(other.last_in_at);
        self.last_out_at = self.last_out_at.max(other.last_out_at);
        if other.last_at >= self.last_at {
            self.last_at = other.last_at;
            self.preview = other.preview;
        }
        if other.contact_name.is_some() {
            self.contact_name = other.contact_name;
        }
    }
}

/// `GREATEST` on PostgreSQL, the two-argument `MAX` on SQLite (timestamps
/// are stored as RFC 3339 text there in one fixed zone, so they compare as
/// text).
fn greatest(backend: DatabaseBackend, a: &str, b: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("GREATEST({a}, {b})"),
        _ => format!("MAX({a}, {b})"),
    }
}

/// Folds what a batch stored (customer messages in, messages out) per
/// conversation, in key order.
pub fn fold(
    arrivals: &[Arrival<'_>],
    outbound: impl IntoIterator<Item = (ConversationKey, Activity)>,
) -> Vec<(ConversationKey, Activity)> {
    let mut folded: HashMap<ConversationKey, Activity> = HashMap::new();
    let inbound = arrivals
        .iter()
        .map(|a| ((a.tenant, a.chat.to_owned()), Activity::inbound(a)));
    for (key, activity) in inbound.chain(outbound) {
        match folded.entry(key) {
            Entry::Occupied(mut slot) => slot.get_mut().merge(activity),
            Entry::Vacant(slot) => {
                slot.insert(activity);
            }
        }
    }
    let mut folded: Vec<_> = folded.into_iter().collect();
    folded.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    folded
}

/// A conversation as a batch left it: the message that opened it (or
/// `None` while the business has written but the customer not yet: a
/// message is its conversation's first contact when that id is its own),
/// and its handoff state (does the bot answer in it?).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub first_message_id: Option<i64>,
    pub conversation: ConversationState,
}

/// What the bot needs to know of a conversation to answer in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationState {
    pub id: i64,
    pub handoff: HandoffState,
    /// When the bot last said it reads text only.
    pub text_only_notice_at: Option<DateTime<Utc>>,
    /// When the bot last led an answer with its out-of-hours note.
    pub out_of_hours_notice_at: Option<DateTime<Utc>>,
}

impl ConversationState {
    /// The state of a stored row.
    pub fn of(row: &conversation::Model) -> Self {
        Self {
            id: row.id,
            handoff: HandoffState {
                mode: row.mode,
                needs_human: row.needs_human,
                mode_since: row.mode_since,
                last_human_at: row.last_human_at,
            },
            text_only_notice_at: row.text_only_notice_at,
            out_of_hours_notice_at: row.out_of_hours_notice_at,
        }
    }
}

/// Writes each conversation's share of a batch (see the module's text)
/// and answers, per conversation, what it now is.
pub async fn record(
    conn: &impl ConnectionTrait,
    activity: &[(ConversationKey, Activity)],
) -> Result<HashMap<ConversationKey, Recorded>, DbErr> {
    let backend = conn.get_database_backend();
    let newer = |column: &str| {
        greatest(
            backend,
            &format!("COALESCE(conversation.{column}, excluded.{column})"),
            &format!("COALESCE(excluded.{column}, conversation.{column})"),
        )
    };
    let mut opened = HashMap::with_capacity(activity.len());
    for chunk in activity.chunks(ROWS_PER_STATEMENT) {
        let mut insert = Query::insert();
        insert.into_table(conversation::Entity).columns([
            conversation::Column::TenantId,
            conversation::Column::ChatId,
            conversation::Column::ContactName,
            conversation::Column::FirstSeenAt,
            conversation::Column::LastInAt,
            conversation::Column::LastOutAt,
            conversation::Column::LastMessageAt,
            conversation::Column::Preview,
            conversation::Column::LastInText,
            conversation::Column::Unread,
            conversation::Column::FirstMessageId,
            conversation::Column::Mode,
        ]);
        for ((tenant, chat), activity) in chunk {
            let first_seen = activity.first_in.map_or(activity.last_at, |(at, _)| at);
            insert
                .values([
                    (*tenant).into(),
                    chat.clone().into(),
                    activity.contact_name.clone().into(),
                    first_seen.into(),
                    activity.last_in_at.into(),
                    activity.last_out_at.into(),
                    activity.last_at.into(),
                    activity.preview.clone().into(),
                    activity.last_in_text.clone().into(),
                    activity.unread.into(),
                    activity.first_in.map(|(_, id)| id).into(),
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
                            conversation::Column::FirstMessageId,
                            Expr::cust(
                                "COALESCE(conversation.first_message_id, excluded.first_message_id)",
                            ),
                        ),
                        (conversation::Column::LastInAt, Expr::cust(newer("last_in_at"))),
                        (conversation::Column::LastOutAt, Expr::cust(newer("last_out_at"))),
                        (
                            conversation::Column::Preview,
                            Expr::cust(
                                "CASE WHEN excluded.last_message_at >= conversation.last_message_at \
                                 THEN excluded.preview ELSE conversation.preview END",
                            ),
                        ),
                        // Only a newer customer message moves it: a reply
                        // leaves the search index as it was.
                        (
                            conversation::Column::LastInText,
                            Expr::cust(
                                "CASE WHEN excluded.last_in_at IS NOT NULL AND \
                                 (conversation.last_in_at IS NULL \
                                 OR excluded.last_in_at >= conversation.last_in_at) \
                                 THEN excluded.last_in_text ELSE conversation.last_in_text END",
                            ),
                        ),
                        (
                            conversation::Column::LastMessageAt,
                            Expr::cust(greatest(
                                backend,
                                "conversation.last_message_at",
                                "excluded.last_message_at",
                            )),
                        ),
                        (
                            conversation::Column::Unread,
                            Expr::cust("conversation.unread + excluded.unread"),
                        ),
                    ])
                    .to_owned(),
            )
            .returning(Query::returning().columns([
                conversation::Column::Id,
                conversation::Column::TenantId,
                conversation::Column::ChatId,
                conversation::Column::FirstMessageId,
                conversation::Column::Mode,
                conversation::Column::NeedsHuman,
                conversation::Column::ModeSince,
                conversation::Column::LastHumanAt,
                conversation::Column::TextOnlyNoticeAt,
                conversation::Column::OutOfHoursNoticeAt,
            ]));
        for row in conn.query_all_raw(backend.build(&insert)).await? {
            let (key, conversation) = keyed_state(&row)?;
            let recorded = Recorded {
                first_message_id: row.try_get("", "first_message_id")?,
                conversation,
            };
            opened.insert(key, recorded);
        }
    }
    Ok(opened)
}

/// The columns of [`ConversationState`] and its key, as `keyed_state`
/// reads them.
const STATE_COLUMNS: &str = "id, tenant_id, chat_id, mode, needs_human, mode_since, \
     last_human_at, text_only_notice_at, out_of_hours_notice_at";

fn keyed_state(row: &QueryResult) -> Result<(ConversationKey, ConversationState), DbErr> {
    let tenant: TenantId = row.try_get("", "tenant_id")?;
    let chat: String = row.try_get("", "chat_id")?;
    let mode: String = row.try_get("", "mode")?;
    let state = ConversationState {
        id: row.try_get("", "id")?,
        handoff: HandoffState {
            mode: ConversationMode::try_from_value(&mode)?,
            needs_human: row.try_get("", "needs_human")?,
            mode_since: row.try_get("", "mode_since")?,
            last_human_at: row.try_get("", "last_human_at")?,
        },
        text_only_notice_at: row.try_get("", "text_only_notice_at")?,
        out_of_hours_notice_at: row.try_get("", "out_of_hours_notice_at")?,
    };
    Ok(((tenant, chat), state))
}

/// The conversations of `keys` as they are stored now (absent: none
/// yet), read by their unique key in one statement per chunk.
pub async fn states(
    conn: &impl ConnectionTrait,
    keys: &[(TenantId, &str)],
) -> Result<HashMap<ConversationKey, ConversationState>, DbErr> {
    let backend = conn.get_database_backend();
    let mut states = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(chunk.len() * 2);
        for (tenant, chat) in chunk {
            values.push(sea_orm::Value::from(*tenant));
            values.push(sea_orm::Value::from((*chat).to_owned()));
        }
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM conversation \
             WHERE (tenant_id, chat_id) IN (VALUES {})",
            crate::db::values_placeholders(backend, chunk.len(), 2)
        );
        let statement = sea_orm::Statement::from_sql_and_values(backend, sql, values);
        for row in conn.query_all_raw(statement).await? {
            let (key, state) = keyed_state(&row)?;
            states.insert(key, state);
        }
    }
    Ok(states)
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

    #[test]
    fn a_photo_or_a_voice_note_shows_in_the_list_as_what_it_is() {
        let tenant = TenantId::from(uuid::Uuid::new_v4());
        let arrival = |kind, text| Arrival {
            id: 1,
            tenant,
            chat: "+4917600000001",
            text,
            kind,
            contact_name: None,
            at: Utc::now(),
        };
        let photo = Activity::inbound(&arrival(MessageKind::Image, "our shop front"));
        assert_eq!(photo.preview, "[Photo] our shop front");
        let voice = Activity::inbound(&arrival(MessageKind::Audio, ""));
        assert_eq!(voice.preview, "[Voice note]");
    }

    #[test]
    fn a_batch_folds_to_one_row_per_conversation_whatever_the_order() {
        let t0 = Utc::now();
        let at = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
        let tenant = TenantId::from(uuid::Uuid::new_v4());
        let arrival = |id, chat, text, name, ms| Arrival {
            id,
            tenant,
            chat,
            text,
            kind: MessageKind::Text,
            contact_name: name,
            at: at(ms),
        };
        let ana = "+4917600000001";
        let arrivals = [
            arrival(7, ana, "second", None, 20),
            arrival(5, ana, "first", Some("Ana"), 0),
            arrival(9, "+4917600000002", "hi", None, 5),
        ];
        let reply = (
            (tenant, ana.to_owned()),
            Activity::outbound("reply", at(10)),
        );
        let only_out = (
            (tenant, "+4917600000003".to_owned()),
            Activity::outbound("your order shipped", at(30)),
        );
        let mut backward = arrivals
            .iter()
            .rev()
            .map(|a| Arrival { ..*a })
            .collect::<Vec<_>>();
        backward.rotate_left(1);
        for arrivals in [&arrivals[..], &backward[..]] {
            let folded = fold(arrivals, [reply.clone(), only_out.clone()]);
            assert_eq!(folded.len(), 3, "one row per conversation");
            assert!(folded.windows(2).all(|w| w[0].0 < w[1].0), "key order");
            let (_, a) = folded.iter().find(|(k, _)| k.1 == ana).unwrap();
            assert_eq!(a.first_in, Some((at(0), 5)), "the earliest opens it");
            assert_eq!(a.unread, 2);
            assert_eq!(a.last_in_at, Some(at(20)));
            assert_eq!(a.last_out_at, Some(at(10)));
            assert_eq!(a.last_at, at(20));
            assert_eq!(a.preview, "second", "the newest either way");
            assert_eq!(
                a.last_in_text.as_deref(),
                Some("second"),
                "the customer's newest"
            );
            assert_eq!(a.contact_name.as_deref(), Some("Ana"));
            let (_, out) = folded.iter().find(|(k, _)| k.1.ends_with('3')).unwrap();
            assert_eq!(
                (out.first_in, out.unread),
                (None, 0),
                "the business wrote first"
            );
            assert_eq!(out.preview, "your order shipped");
            assert_eq!(out.last_in_text, None, "a reply is not searched");
        }
    }
}
