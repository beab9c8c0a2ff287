//! Questions the bot could not answer, recorded by the log writer in the
//! batch that stores the help-menu reply: ONE upsert per batch (per
//! `ROWS_PER_STATEMENT` questions), no statement of its own per message.
//! Rows are grouped by the question's normalised text (`key`), counted,
//! and keep the latest wording as the sample the owner reads.
//! Must not: decide what is unanswered (the reply engine does).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::unanswered_question;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};

use super::log_batch::ROWS_PER_STATEMENT;
use crate::domain::ids::TenantId;

/// The longest key kept: longer questions group by their start.
pub const KEY_CHARS: usize = 200;

/// A customer's message the bot answered with its help menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnansweredAsk {
    pub tenant_id: TenantId,
    /// The message normalised (`replies::normalise`), cut to `KEY_CHARS`.
    pub key: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

impl UnansweredAsk {
    /// `None` for a message with no word in it (nothing to group by).
    pub fn new(tenant_id: TenantId, text: &str, at: DateTime<Utc>) -> Option<Self> {
        let key: String = crate::replies::normalise(text)
            .chars()
            .take(KEY_CHARS)
            .collect();
        let key = key.trim_end().to_owned();
        (!key.is_empty()).then(|| Self {
            tenant_id,
            key,
            text: text.trim().chars().take(1000).collect(),
            at,
        })
    }
}

/// One row's share of a batch.
struct Folded<'a> {
    count: i32,
    sample: &'a str,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
}

/// Upserts a batch's unanswered questions (folded per key first: a
/// PostgreSQL upsert may not touch one row twice; key order in every
/// statement, so batches side by side never deadlock).
pub async fn record(conn: &impl ConnectionTrait, asks: &[UnansweredAsk]) -> Result<(), DbErr> {
    if asks.is_empty() {
        return Ok(());
    }
    let mut folded: BTreeMap<(TenantId, &str), Folded> = BTreeMap::new();
    for ask in asks {
        folded
            .entry((ask.tenant_id, ask.key.as_str()))
            .and_modify(|f| {
                f.count += 1;
                f.first_at = f.first_at.min(ask.at);
                if ask.at >= f.last_at {
                    f.last_at = ask.at;
                    f.sample = &ask.text;
                }
            })
            .or_insert(Folded {
                count: 1,
                sample: &ask.text,
                first_at: ask.at,
                last_at: ask.at,
            });
    }
    let rows: Vec<_> = folded.into_iter().collect();
    let backend = conn.get_database_backend();
    let later = match backend {
        sea_orm::DatabaseBackend::Postgres => "GREATEST",
        _ => "MAX",
    };
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert = Query::insert();
        insert.into_table(unanswered_question::Entity).columns([
            unanswered_question::Column::TenantId,
            unanswered_question::Column::Key,
            unanswered_question::Column::Sample,
            unanswered_question::Column::Count,
            unanswered_question::Column::FirstAt,
            unanswered_question::Column::LastAt,
        ]);
        for ((tenant, key), f) in chunk {
            insert
                .values([
                    (*tenant).into(),
                    (*key).into(),
                    f.sample.into(),
                    f.count.into(),
                    f.first_at.into(),
                    f.last_at.into(),
                ])
                .map_err(|err| DbErr::Custom(err.to_string()))?;
        }
        insert.on_conflict(
            OnConflict::columns([
                unanswered_question::Column::TenantId,
                unanswered_question::Column::Key,
            ])
            .values([
                (
                    unanswered_question::Column::Count,
                    Expr::cust("unanswered_question.count + excluded.count"),
                ),
                (
                    unanswered_question::Column::Sample,
                    Expr::cust(
                        "CASE WHEN excluded.last_at >= unanswered_question.last_at \
                         THEN excluded.sample ELSE unanswered_question.sample END",
                    ),
                ),
                (
                    unanswered_question::Column::LastAt,
                    Expr::cust(format!(
                        "{later}(unanswered_question.last_at, excluded.last_at)"
                    )),
                ),
            ])
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
    fn a_question_is_keyed_by_its_normalised_words() {
        let tenant = TenantId::new_random();
        let now = Utc::now();
        let a = UnansweredAsk::new(tenant, "Do you sell GIFT cards?!", now).unwrap();
        let b = UnansweredAsk::new(tenant, "  do you sell gift cards ", now).unwrap();
        assert_eq!(a.key, "do you sell gift cards");
        assert_eq!(a.key, b.key);
        assert_eq!(a.text, "Do you sell GIFT cards?!");
        assert!(UnansweredAsk::new(tenant, " ?! ", now).is_none());
        let long = "word ".repeat(100);
        assert!(
            UnansweredAsk::new(tenant, &long, now)
                .unwrap()
                .key
                .chars()
                .count()
                <= KEY_CHARS
        );
    }
}
