//! AI replies: when a tenant turned them on and the rules fell through, the
//! platform's model (`[ai]`, any OpenAI-compatible chat-completions API)
//! answers from the tenant's own facts, services and FAQ.
//!
//! ```text
//! rules fell through ─▶ budget left? ─▶ ask (timeout) ─▶ structured answer?
//!      │ no                 │ no            │ error/slow       │ answer/clarify ─▶ figures grounded? ─▶ send it
//!      ▼                    ▼               ▼                  │ handoff ─▶ the handoff answer + a person
//!   help menu          help menu       help menu, why noted    └ neither ─▶ help menu, why noted
//! ```
//!
//! Owns: the model client (`Ai`), the prompt (`prompt`), the guardrail on
//! figures (`grounding`), the outcome of one step (`step`) the bot and "Try
//! your bot" both use, and the monthly token budget.
//! Must not: send the provider's text to a customer unless it passed the
//! guardrail (errors never), block the chat longer than `[ai] timeout`, or
//! decide handoffs itself (a handoff goes through `domain::handoff`).

mod grounding;
mod prompt;

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequestArgs, ResponseFormat, ResponseFormatJsonSchema,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;

pub use grounding::unsupported_figures;
pub use prompt::{Kind, Turn};

use crate::config::AiSettings;
use crate::domain::ids::TenantId;
use crate::domain::knowledge::AiProfile;
use crate::replies::{Answer, Intent, ReplyContext, Rule, knowledge_sheet, reply_by, reply_with};
use crate::services::usage;

/// The platform's model. Cheap to clone.
#[derive(Clone)]
pub struct Ai {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
    max_output_tokens: u32,
    /// Earlier messages of the conversation the model sees.
    pub history_messages: u16,
    /// A customer's messages this close together are answered once.
    pub burst_window: Duration,
}

impl std::fmt::Debug for Ai {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ai")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why the model's answer was not used (shown to the tenant's people,
/// never to the customer; the provider's own error text only goes to the
/// log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Timeout(Duration),
    Provider(String),
    Malformed,
}

impl Failure {
    fn note(&self) -> String {
        match self {
            Failure::Timeout(after) => format!(
                "the AI did not answer within {}s: the rule answer was sent",
                after.as_secs_f32()
            ),
            Failure::Provider(_) => {
                "the AI service failed (see the server log): the rule answer was sent".to_owned()
            }
            Failure::Malformed => {
                "the AI's answer was not in the expected form: the rule answer was sent".to_owned()
            }
        }
    }
}

/// What one request to the model came to, with the tokens it cost.
#[derive(Debug, Clone)]
pub struct Asked {
    pub answer: Result<prompt::Structured, Failure>,
    pub tokens_in: i64,
    pub tokens_out: i64,
}

impl Ai {
    /// The model `[ai]` configures; `None` when AI replies are off.
    pub fn from_settings(settings: &AiSettings) -> Option<Self> {
        if !settings.is_configured() {
            return None;
        }
        // The key is the configured one or none: never OPENAI_API_KEY from
        // the environment behind the operator's back.
        let key = settings
            .api_key
            .as_ref()
            .map(|key| key.expose_secret().to_owned())
            .unwrap_or_default();
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim().trim_end_matches('/'))
            .with_api_key(key);
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        Some(Self {
            client: Client::with_config(config).with_http_client(http),
            model: settings.model.trim().to_owned(),
            timeout: settings.timeout,
            max_output_tokens: settings.max_output_tokens,
            history_messages: settings.history_messages,
            burst_window: settings.burst_window,
        })
    }

    /// Asks the model, within `[ai] timeout` all retries included.
    pub async fn ask(&self, prompt: &prompt::Prompt<'_>) -> Asked {
        let failed = |failure| Asked {
            answer: Err(failure),
            tokens_in: 0,
            tokens_out: 0,
        };
        let mut messages: Vec<ChatCompletionRequestMessage> =
            vec![ChatCompletionRequestSystemMessage::from(prompt::system(prompt)).into()];
        for turn in prompt.history {
            messages.push(if turn.from_customer {
                ChatCompletionRequestUserMessage::from(turn.text.as_str()).into()
            } else {
                ChatCompletionRequestAssistantMessage::from(turn.text.as_str()).into()
            });
        }
        messages.push(ChatCompletionRequestUserMessage::from(prompt.question).into());
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.model.clone())
            .messages(messages)
            .max_completion_tokens(self.max_output_tokens)
            .response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: Some("The reply to the customer".to_owned()),
                    name: "reply".to_owned(),
                    schema: Some(prompt::answer_schema()),
                    strict: Some(true),
                },
            })
            .build();
        let request = match request {
            Ok(request) => request,
            Err(err) => return failed(Failure::Provider(err.to_string())),
        };
        let response =
            match tokio::time::timeout(self.timeout, self.client.chat().create(request)).await {
                Err(_) => return failed(Failure::Timeout(self.timeout)),
                Ok(Err(async_openai::error::OpenAIError::Reqwest(err))) if err.is_timeout() => {
                    return failed(Failure::Timeout(self.timeout));
                }
                Ok(Err(err)) => return failed(Failure::Provider(err.to_string())),
                Ok(Ok(response)) => response,
            };
        let (tokens_in, tokens_out) = response.usage.as_ref().map_or((0, 0), |u| {
            (i64::from(u.prompt_tokens), i64::from(u.completion_tokens))
        });
        let answer = response
            .choices
            .first()
            .and_then(|choice| choice.message.content.as_deref())
            .and_then(prompt::parse)
            .ok_or(Failure::Malformed);
        Asked {
            answer,
            tokens_in,
            tokens_out,
        }
    }
}

/// What is stored with the reply the model was asked for (`ai_reply`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiRecord {
    /// `answer`, `clarify`, `handoff`, `held_back`, `failed`.
    pub outcome: &'static str,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// Why the model's answer was not sent.
    pub note: Option<String>,
}

/// The outcome of the AI step.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the bot sends: the AI's answer framed like any answer, the
    /// handoff answer, or the rule answer it fell back to.
    pub answer: Answer,
    pub record: AiRecord,
    /// The model handed the chat to a person.
    pub handoff: bool,
}

/// What one AI step needs besides the model.
#[derive(Debug, Clone, Copy)]
pub struct StepInput<'a> {
    pub ctx: &'a ReplyContext<'a>,
    pub profile: &'a AiProfile,
    /// The rule answer (help menu) sent when the model's is not used.
    pub fallback: &'a Answer,
    pub history: &'a [Turn],
    /// The customer's message(s).
    pub question: &'a str,
    pub now: DateTime<Utc>,
}

/// Asks the model and decides what the bot sends.
pub async fn step(ai: &Ai, input: StepInput<'_>) -> Step {
    let ctx = input.ctx;
    let now = input.now;
    let sheet = knowledge_sheet(ctx, now);
    let prompt = prompt::Prompt {
        profile: input.profile,
        business_name: ctx.business_name,
        language: ctx.language,
        local_time: now.with_timezone(&ctx.timezone),
        sheet: &sheet,
        history: input.history,
        question: input.question,
    };
    let asked = ai.ask(&prompt).await;
    let record = |outcome, note| AiRecord {
        outcome,
        tokens_in: asked.tokens_in,
        tokens_out: asked.tokens_out,
        note,
    };
    let fallback = |outcome, note: String| Step {
        answer: input.fallback.clone(),
        record: record(outcome, Some(note)),
        handoff: false,
    };
    match &asked.answer {
        Err(failure) => {
            if let Failure::Provider(err) = failure {
                tracing::warn!(error = %err, "AI request failed: the rule answer was sent");
            }
            fallback("failed", failure.note())
        }
        Ok(structured) if structured.kind == Kind::Handoff => Step {
            answer: reply_by(ctx, Rule::Intent(Intent::Human), now),
            record: record("handoff", None),
            handoff: true,
        },
        Ok(structured) => {
            // The customer's own words and the owner's rules may be echoed.
            let customer: Vec<&str> = input
                .history
                .iter()
                .filter(|turn| turn.from_customer)
                .map(|turn| turn.text.as_str())
                .chain([input.question])
                .collect();
            let rules = input.profile.rules.join("\n");
            let mut sources = vec![sheet.as_str(), rules.as_str()];
            sources.extend(customer);
            let unsupported = unsupported_figures(&structured.text, &sources);
            if unsupported.is_empty() {
                let outcome = if structured.kind == Kind::Clarify {
                    "clarify"
                } else {
                    "answer"
                };
                Step {
                    answer: reply_with(ctx, &structured.text, now),
                    record: record(outcome, None),
                    handoff: false,
                }
            } else {
                fallback(
                    "held_back",
                    format!(
                        "the AI's answer was not sent: it named {}, which is not in your facts, \
                         services or FAQ; the rule answer was sent",
                        unsupported.join(", ")
                    ),
                )
            }
        }
    }
}

/// The conversation the model sees: the chat's text messages before
/// `before` (a message id), since it last went back to the bot (`since`),
/// the latest `limit`, oldest first.
pub async fn history(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    chat: &str,
    since: Option<DateTime<Utc>>,
    before: i64,
    limit: u16,
) -> Result<Vec<Turn>, DbErr> {
    use entity::enums::{Direction, MessageKind};
    use entity::message_log::{Column, Entity};
    use sea_orm::{QueryOrder, QuerySelect};
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut query = Entity::find()
        .select_only()
        .columns([Column::Direction, Column::Text])
        .filter(Column::TenantId.eq(tenant))
        .filter(Column::ChatId.eq(chat))
        .filter(Column::Id.lt(before))
        .filter(Column::Kind.eq(MessageKind::Text));
    if let Some(since) = since {
        query = query.filter(Column::CreatedAt.gte(since));
    }
    let mut rows: Vec<(Direction, String)> = query
        .order_by_desc(Column::Id)
        .limit(u64::from(limit))
        .into_tuple()
        .all(conn)
        .await?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|(direction, text)| Turn {
            from_customer: direction == Direction::In,
            text,
        })
        .collect())
}

/// Stores what the AI steps of a batch's replies came to (in the message
/// log writer's transaction): (reply id, tenant, record).
pub async fn record_replies<'a>(
    conn: &impl ConnectionTrait,
    replies: impl Iterator<Item = (i64, TenantId, &'a AiRecord)>,
) -> Result<(), DbErr> {
    use entity::ai_reply;
    use sea_orm::Set;
    let now = Utc::now();
    let rows: Vec<ai_reply::ActiveModel> = replies
        .map(|(id, tenant, record)| ai_reply::ActiveModel {
            message_id: Set(id),
            tenant_id: Set(tenant.into()),
            outcome: Set(record.outcome.to_owned()),
            tokens_in: Set(record.tokens_in),
            tokens_out: Set(record.tokens_out),
            note: Set(record.note.clone()),
            created_at: Set(now),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    ai_reply::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

/// The model, when this answer is one for it: the rules fell through, the
/// platform has a model and the tenant turned AI on.
pub fn wanted<'a>(
    ai: Option<&'a Ai>,
    config: &crate::services::runtime::worker::BotConfig,
    answer: &Answer,
) -> Option<&'a Ai> {
    ai.filter(|_| answer.fell_through() && config.knowledge.doc().ai.enabled)
}

/// Counts a step's tokens in the month's usage (the bot's replies count
/// theirs in the message log writer's batch instead).
pub async fn count_tokens(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    record: &AiRecord,
) -> Result<(), DbErr> {
    let tokens = record.tokens_in + record.tokens_out;
    if tokens == 0 {
        return Ok(());
    }
    let counts = std::collections::BTreeMap::from([(
        tenant,
        usage::Counts {
            ai_tokens: tokens,
            ..Default::default()
        },
    )]);
    usage::add(conn, Utc::now(), &counts).await.map(|_| ())
}

/// Whether the tenant may spend AI tokens this month: its budget (`None`:
/// unlimited) against what this month used. At the limit the first caller
/// of the month claims the notice (one conditional UPDATE) and says so:
/// the caller tells the owner once.
pub async fn budget_left(
    db: &sea_orm::DatabaseConnection,
    tenant: TenantId,
    budget: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Budget, DbErr> {
    let Some(budget) = budget else {
        return Ok(Budget::Left);
    };
    let used = usage::this_month(db, tenant, now).await?.ai_tokens;
    if used < budget {
        return Ok(Budget::Left);
    }
    let month = usage::month_key(now);
    use entity::tenant_config::{Column, Entity};
    // The claim and the owners' email notice commit together.
    let txn = crate::db::begin_write(db).await?;
    let claimed = Entity::update_many()
        .col_expr(Column::AiBudgetNoticedMonth, Expr::value(month.clone()))
        .filter(Column::TenantId.eq(tenant))
        .filter(
            sea_orm::Condition::any()
                .add(Column::AiBudgetNoticedMonth.is_null())
                .add(Column::AiBudgetNoticedMonth.ne(month.clone())),
        )
        .exec(&txn)
        .await?;
    let just_spent = claimed.rows_affected == 1;
    if just_spent {
        use crate::services::notifications::notices;
        let text = notices::ai_budget_reached(used, budget, &month);
        notices::queue(
            &txn,
            tenant,
            notices::NoticeKind::AiBudgetReached,
            text,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(if just_spent {
        Budget::JustSpent { used, budget }
    } else {
        Budget::Spent
    })
}

/// `budget_left`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Left,
    /// Used up, and this caller is the first to notice this month.
    JustSpent {
        used: i64,
        budget: i64,
    },
    Spent,
}

impl Budget {
    pub fn allows(self) -> bool {
        self == Budget::Left
    }
}
