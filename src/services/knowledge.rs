//! What the bot knows, as use cases: read and replace a tenant's knowledge
//! (facts, services, FAQ, the owner's wording of the built-in answers),
//! reword / reset / restore one answer (the last 20 versions of each are
//! kept), the questions the bot could not answer, and "try your bot": the
//! tenant's real reply engine at a chosen time, without sending or logging.
//!
//! Every change is a row first (the document, in one transaction with the
//! worker's intent version), then a nudge: a running bot reloads at once.
//! The functions take a `TenantId` and plain inputs, so the portal, the
//! admin API and (later) `/api/v1` call the same ones.
//!
//! Must not: match or render answers itself (that is `replies`), or reach
//! the runtime other than through `BotControl`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone, Utc};
use entity::{knowledge_answer_version, tenant, tenant_knowledge, unanswered_question};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;
use serde_json::json;

use crate::domain::ids::TenantId;
use crate::domain::knowledge::{AnswerKey, Knowledge, KnowledgeInput, parse_answer_text};
use crate::domain::language::Language;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::replies::{self, CompiledKnowledge, Rule};
use crate::services::audit::{self, Actor};
use crate::services::control::BotControl;
use crate::services::runtime::worker;
use crate::services::tenants::tenant_not_found;

/// Versions kept per answer and language.
pub const VERSIONS_KEPT: usize = 20;

/// Unanswered questions listed at most (the most asked first).
pub const UNANSWERED_LISTED: u64 = 100;

async fn ensure_tenant(db: &impl ConnectionTrait, tenant: TenantId) -> Result<(), AppError> {
    tenant::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant::Column::Id)
        .into_tuple::<TenantId>()
        .one(db)
        .await?
        .map(|_| ())
        .ok_or_else(tenant_not_found)
}

/// The stored document; a tenant that never saved one knows nothing yet.
async fn stored(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Knowledge, AppError> {
    let Some(row) = tenant_knowledge::Entity::find_by_id(tenant).one(db).await? else {
        return Ok(Knowledge::default());
    };
    Knowledge::from_json(row.document).map_err(|err| {
        AppError::internal(anyhow::anyhow!(
            "tenant {tenant}: stored knowledge is invalid: {err}"
        ))
    })
}

/// The tenant's knowledge compiled for its bot (at every settings load). A
/// document that no longer parses is logged and the bot answers with the
/// built-in texts rather than not at all.
/// `document`: the stored row's, read with the rest of the bot's settings
/// (`None`: the tenant has told the bot nothing yet).
pub fn compiled(tenant: TenantId, document: Option<serde_json::Value>) -> CompiledKnowledge {
    let doc = match document.map(Knowledge::from_json) {
        None => Knowledge::default(),
        Some(Ok(doc)) => doc,
        Some(Err(err)) => {
            tracing::error!(%tenant, error = %err, "stored knowledge is invalid: the bot answers without it");
            Knowledge::default()
        }
    };
    CompiledKnowledge::compile(doc)
}

/// `GET …/knowledge`.
pub async fn get(db: &DatabaseConnection, tenant: TenantId) -> Result<Knowledge, AppError> {
    ensure_tenant(db, tenant).await?;
    stored(db, tenant).await
}

/// `PUT …/knowledge`: the whole document at once. 422 names every field
/// that is wrong (`services[1].price`, `answers.hours.en` with an unknown
/// placeholder). Reworded answers get a version each.
pub async fn replace(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    tenant: TenantId,
    input: KnowledgeInput,
) -> Result<Knowledge, AppError> {
    let doc = input.parse().map_err(AppError::validation)?;
    save(db, bots, actor, tenant, "knowledge.updated", |stored| {
        *stored = doc;
        Ok(())
    })
    .await
}

/// Applies `edit` to the stored document and writes it with the versions
/// of the answers it changed, records the reload for the running bot,
/// commits, then nudges it. The tenant's row is locked first (PostgreSQL;
/// SQLite's write transaction is exclusive anyway), so two edits at once
/// never lose one another.
async fn save(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    tenant: TenantId,
    event: &str,
    edit: impl FnOnce(&mut Knowledge) -> Result<(), AppError>,
) -> Result<Knowledge, AppError> {
    let txn = crate::db::begin_write(db).await?;
    tenant::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant::Column::Id)
        .lock_exclusive()
        .into_tuple::<TenantId>()
        .one(&txn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let before = stored(&txn, tenant).await.unwrap_or_default();
    let mut doc = before.clone();
    edit(&mut doc)?;
    let now = Utc::now();
    tenant_knowledge::Entity::insert(tenant_knowledge::ActiveModel {
        tenant_id: Set(tenant.into()),
        document: Set(doc.to_json()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(tenant_knowledge::Column::TenantId)
            .update_columns([
                tenant_knowledge::Column::Document,
                tenant_knowledge::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(&txn)
    .await?;
    let mut changed = Vec::new();
    for key in AnswerKey::ALL {
        for language in Language::ALL {
            let (old, new) = (before.answer(key, language), doc.answer(key, language));
            if old != new {
                record_version(&txn, actor, tenant, key, language, new, now).await?;
                changed.push(format!("{}.{language}", key.as_str()));
            }
        }
    }
    worker::record_change(&txn, tenant, worker::Change::Reload).await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        event,
        json!({
            "services": doc.services.len(),
            "faq": doc.faq.len(),
            "answers_changed": changed,
        }),
    )
    .await?;
    txn.commit().await?;
    bots.nudge(tenant).await;
    Ok(doc)
}

async fn record_version(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    tenant: TenantId,
    key: AnswerKey,
    language: Language,
    text: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    knowledge_answer_version::Entity::insert(knowledge_answer_version::ActiveModel {
        tenant_id: Set(tenant.into()),
        answer_key: Set(key.as_str().to_owned()),
        language: Set(language.code().to_owned()),
        text: Set(text.map(str::to_owned)),
        author: Set(Some(actor.label())),
        created_at: Set(at),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    let of_answer = || {
        knowledge_answer_version::Entity::find()
            .filter(knowledge_answer_version::Column::TenantId.eq(tenant))
            .filter(knowledge_answer_version::Column::AnswerKey.eq(key.as_str()))
            .filter(knowledge_answer_version::Column::Language.eq(language.code()))
    };
    // Pruned at every save: at most one more than kept is read.
    let ids: Vec<i64> = of_answer()
        .select_only()
        .column(knowledge_answer_version::Column::Id)
        .order_by_desc(knowledge_answer_version::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let old: Vec<i64> = ids.into_iter().skip(VERSIONS_KEPT).collect();
    if !old.is_empty() {
        knowledge_answer_version::Entity::delete_many()
            .filter(knowledge_answer_version::Column::TenantId.eq(tenant))
            .filter(knowledge_answer_version::Column::Id.is_in(old))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// One editable answer in one language, with its history.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerView {
    pub key: AnswerKey,
    pub label: &'static str,
    pub language: Language,
    /// The built-in text (with the tenant's template and data as they are).
    pub default: String,
    /// The owner's text; `None`: the default is used.
    pub text: Option<String>,
    /// Newest first.
    pub versions: Vec<AnswerVersion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnswerVersion {
    pub id: i64,
    /// `None`: reset to the default.
    pub text: Option<String>,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What an answer falls back to without the owner's wording: for the
/// welcome, the Settings page's welcome message when it is set (the bot
/// greets with it in every language it has no "welcome" wording for), else
/// the built-in text.
fn default_answer(
    key: AnswerKey,
    language: Language,
    config: &worker::BotConfig,
    doc: &Knowledge,
) -> String {
    match config.welcome_message.trim() {
        settings if key == AnswerKey::Welcome && !settings.is_empty() => settings.to_owned(),
        _ => replies::default_answer(key, language, config.template, doc),
    }
}

/// Every editable answer in every language (`GET …/knowledge/answers`).
pub async fn answers(
    db: &DatabaseConnection,
    tenant: TenantId,
) -> Result<Vec<AnswerView>, AppError> {
    ensure_tenant(db, tenant).await?;
    let doc = stored(db, tenant).await?;
    let config = worker::load_bot_config(db, tenant).await?;
    let rows = knowledge_answer_version::Entity::find()
        .filter(knowledge_answer_version::Column::TenantId.eq(tenant))
        .order_by_desc(knowledge_answer_version::Column::Id)
        .all(db)
        .await?;
    let mut versions: BTreeMap<(String, String), Vec<AnswerVersion>> = BTreeMap::new();
    for row in rows {
        versions
            .entry((row.answer_key, row.language))
            .or_default()
            .push(AnswerVersion {
                id: row.id,
                text: row.text,
                author: row.author,
                created_at: row.created_at,
            });
    }
    let mut out = Vec::new();
    for key in AnswerKey::ALL {
        for language in Language::ALL {
            out.push(AnswerView {
                key,
                label: key.label(),
                language,
                default: default_answer(key, language, &config, &doc),
                text: doc.answer(key, language).map(str::to_owned),
                versions: versions
                    .remove(&(key.as_str().to_owned(), language.code().to_owned()))
                    .unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// Rewords one answer (`Some`), or resets it to the default (`None`).
pub async fn set_answer(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    tenant: TenantId,
    key: AnswerKey,
    language: Language,
    text: Option<&str>,
) -> Result<Knowledge, AppError> {
    save(db, bots, actor, tenant, "knowledge.answer_changed", |doc| {
        match text {
            Some(text) => {
                let text = parse_answer_text(key, text, &|name| doc.knows_placeholder(name))
                    .map_err(|err| {
                        let mut fields = FieldErrors::new();
                        fields.insert("text".to_owned(), err);
                        AppError::validation(fields)
                    })?;
                doc.answers.entry(key).or_default().insert(language, text);
            }
            None => {
                if let Some(by_language) = doc.answers.get_mut(&key) {
                    by_language.remove(&language);
                    if by_language.is_empty() {
                        doc.answers.remove(&key);
                    }
                }
            }
        }
        Ok(())
    })
    .await
}

/// Brings back a saved version of an answer (a version of another tenant
/// is not found).
pub async fn restore_version(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    tenant: TenantId,
    version: i64,
) -> Result<Knowledge, AppError> {
    let row = knowledge_answer_version::Entity::find_by_id(version)
        .filter(knowledge_answer_version::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "There is no such version."))?;
    let key =
        AnswerKey::parse(&row.answer_key).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let language =
        Language::parse(&row.language).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    set_answer(db, bots, actor, tenant, key, language, row.text.as_deref()).await
}

/// A question customers asked that the bot answered with its help menu.
#[derive(Debug, Clone, Serialize)]
pub struct UnansweredView {
    pub id: i64,
    /// The latest wording.
    pub text: String,
    /// What similar questions share (normalised).
    pub key: String,
    pub count: i32,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

/// The questions the bot could not answer, the most asked first; those an
/// FAQ entry (or a built-in answer) answers by now are left out.
pub async fn unanswered(
    db: &DatabaseConnection,
    tenant: TenantId,
) -> Result<Vec<UnansweredView>, AppError> {
    ensure_tenant(db, tenant).await?;
    let config = worker::load_bot_config(db, tenant).await?;
    let rows = unanswered_question::Entity::find()
        .filter(unanswered_question::Column::TenantId.eq(tenant))
        .order_by_desc(unanswered_question::Column::Count)
        .order_by_desc(unanswered_question::Column::LastAt)
        .limit(UNANSWERED_LISTED * 2)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| replies::falls_through(&config.knowledge, config.language, &row.key))
        .take(UNANSWERED_LISTED as usize)
        .map(|row| UnansweredView {
            id: row.id,
            text: row.sample,
            key: row.key,
            count: row.count,
            first_at: row.first_at,
            last_at: row.last_at,
        })
        .collect())
}

/// Takes a question off the list (the owner does not want to answer it).
pub async fn dismiss_unanswered(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: i64,
) -> Result<(), AppError> {
    let done = crate::db::write_alone(
        db,
        unanswered_question::Entity::delete_many()
            .filter(unanswered_question::Column::TenantId.eq(tenant))
            .filter(unanswered_question::Column::Id.eq(id))
            .exec(db),
    )
    .await?;
    if done.rows_affected == 0 {
        return Err(AppError::not_found(
            ErrorCode::NotFound,
            "There is no such question.",
        ));
    }
    Ok(())
}

/// What "try your bot" answered.
#[derive(Debug, Clone, Serialize)]
pub struct TryReply {
    pub replies: Vec<String>,
    /// `faq`, `intent`, `ai` or `help_menu`.
    pub rule: &'static str,
    /// The FAQ entry's question, the intent's name, or what the AI did
    /// (`answer`, `clarify`, `handoff`, `held_back`, `failed`).
    pub detail: Option<String>,
    /// Why the AI's answer was not sent, when it was asked and was not.
    pub ai_note: Option<String>,
    /// The local time the engine answered at (RFC 3339, tenant time zone).
    pub at: String,
    /// Open at that time?
    pub open: bool,
}

/// Runs the tenant's real reply engine on `text` with its current settings
/// at `at` (RFC 3339, a local "YYYY-MM-DDTHH:MM", or "HH:MM" today in the
/// tenant's time zone; now when absent), as a new conversation's second
/// message would be answered. Nothing is sent or logged; with AI on, the
/// model is asked as the bot would ask it, and its tokens count against
/// the month's budget (they cost the same).
pub async fn try_reply(
    db: &DatabaseConnection,
    ai: Option<&crate::services::ai::Ai>,
    tenant: TenantId,
    text: &str,
    at: Option<&str>,
    people_notified: bool,
) -> Result<TryReply, AppError> {
    let invalid = |field: &str, message: &str| {
        let mut fields = FieldErrors::new();
        fields.insert(field.to_owned(), message.to_owned());
        AppError::validation(fields)
    };
    if text.trim().is_empty() {
        return Err(invalid("text", "is required"));
    }
    if text.chars().count() > 4096 {
        return Err(invalid("text", "is longer than 4096 characters"));
    }
    ensure_tenant(db, tenant).await?;
    let config = worker::load_bot_config(db, tenant).await?;
    let now = match at.map(str::trim).filter(|a| !a.is_empty()) {
        None => Utc::now(),
        Some(at) => parse_local_time(at, config.timezone, Utc::now()).ok_or_else(|| {
            invalid(
                "at",
                "must be a time such as 23:00, 2026-12-07T12:00 or an RFC 3339 timestamp",
            )
        })?,
    };
    let ctx = config.reply_context(false, people_notified, true);
    let mut answer = replies::reply(&ctx, text, now);
    let mut ai_step = None;
    if let Some(ai) = crate::services::ai::wanted(ai, &config, &answer) {
        let budget =
            crate::services::ai::budget_left(db, tenant, config.monthly_ai_tokens, now).await?;
        if budget.allows() {
            let step = crate::services::ai::step(
                ai,
                crate::services::ai::StepInput {
                    ctx: &ctx,
                    profile: &config.knowledge.doc().ai,
                    fallback: &answer,
                    history: &[],
                    question: text,
                    now,
                },
            )
            .await;
            let txn = crate::db::begin_write(db).await?;
            crate::services::ai::count_tokens(&txn, tenant, &step.record).await?;
            txn.commit().await?;
            answer = step.answer.clone();
            ai_step = Some(step);
        }
    }
    let local = now.with_timezone(&config.timezone);
    let detail = match (answer.rule, &ai_step) {
        (_, Some(step)) => Some(step.record.outcome.to_owned()),
        (Rule::Faq(i), None) => config
            .knowledge
            .doc()
            .faq
            .get(i)
            .map(|f| f.question.clone()),
        (Rule::Intent(intent), None) => Some(intent.as_str().to_owned()),
        (Rule::HelpMenu | Rule::Ai, None) => None,
    };
    Ok(TryReply {
        replies: answer.parts,
        rule: match &ai_step {
            Some(step) if step.record.note.is_none() => "ai",
            _ => answer.rule.kind(),
        },
        ai_note: ai_step.and_then(|step| step.record.note),
        detail,
        at: local.to_rfc3339(),
        open: config.hours.is_open_at(local),
    })
}

/// "23:00" (today, local), "2026-12-07T12:00" (local) or RFC 3339.
fn parse_local_time(at: &str, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(at) {
        return Some(t.with_timezone(&Utc));
    }
    let local = if let Ok(time) = NaiveTime::parse_from_str(at, "%H:%M") {
        now.with_timezone(&tz).date_naive().and_time(time)
    } else {
        NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S"))
            .ok()?
    };
    // A time the clocks skip (spring forward) does not exist: refused.
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use chrono_tz::Europe::Berlin;

    use super::*;

    #[test]
    fn try_times_are_read_in_the_tenant_time_zone() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 7, 10, 0, 0)
            .single()
            .unwrap();
        let at = |s| parse_local_time(s, Berlin, now).map(|t| t.to_rfc3339());
        assert_eq!(at("23:00").as_deref(), Some("2026-12-07T22:00:00+00:00"));
        assert_eq!(
            at("2026-12-08T12:00").as_deref(),
            Some("2026-12-08T11:00:00+00:00")
        );
        assert_eq!(
            at("2026-12-08T12:00:00Z").as_deref(),
            Some("2026-12-08T12:00:00+00:00")
        );
        // 02:30 does not exist in Berlin on 2026-03-29.
        assert_eq!(at("2026-03-29T02:30"), None);
        assert_eq!(at("noon"), None);
        assert_eq!(at("25:00"), None);
    }
}
