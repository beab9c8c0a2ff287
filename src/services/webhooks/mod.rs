//! Outbound webhooks: a tenant's endpoints (use cases), the events queued
//! for them (`events`), where they may be sent (`target`), how they are
//! signed (`signing`) and the worker that delivers them (`delivery`).
//!
//! Owns: every read and write of `webhook_endpoint`, `webhook_event` and
//! `webhook_attempt`; opening the sealed signing secrets. The same use
//! cases serve `/api/portal/webhooks…` (the session's tenant),
//! `/api/admin/tenants/{id}/webhooks…` and `/api/v1/webhooks…` (the key's):
//! the tenant always scopes the lookup, so another tenant's endpoint is a
//! 404 `webhook_not_found`.
//! Must not: send anything itself except "send a test event" (through
//! `delivery`), or show a secret anywhere but the answer that created it.

pub mod delivery;
pub mod events;
pub mod signing;
pub mod target;

use chrono::{DateTime, Utc};
use entity::{webhook_attempt, webhook_endpoint, webhook_event};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::crypto::MasterKey;
use crate::domain::ids::{TenantId, WebhookId};
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::audit::{self, Actor};
use events::EventType;
use target::{TargetError, TargetPolicy};

/// Endpoints one tenant may have.
pub const MAX_ENDPOINTS: u64 = 10;
/// Deliveries of one endpoint in flight at once: 1 keeps strict order.
pub const CONCURRENCY: std::ops::RangeInclusive<i32> = 1..=4;
/// How long a rotated-out secret keeps signing, unless the caller says.
pub const DEFAULT_ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// The longest overlap a rotation may ask for.
pub const MAX_ROTATION_OVERLAP: chrono::Duration = chrono::Duration::days(7);

/// An event row's states.
pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";

/// An endpoint as every API shows it (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    /// A UUID.
    #[schema(value_type = String)]
    pub id: WebhookId,
    pub url: String,
    /// The event types it wants (`message.received`, …).
    #[schema(value_type = Vec<String>)]
    pub events: Vec<&'static str>,
    /// Off: nothing is queued for it.
    pub enabled: bool,
    /// Deliveries in flight at once (1–4; 1 keeps strict order).
    pub concurrency: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Since when every attempt has failed (`None`: healthy).
    pub failing_since: Option<DateTime<Utc>>,
    /// When an event last ran out of attempts.
    pub flagged_at: Option<DateTime<Utc>>,
    /// Why the platform disabled it, when it did.
    pub disabled_reason: Option<String>,
    /// Until when the previous secret also signs (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl From<webhook_endpoint::Model> for Endpoint {
    fn from(row: webhook_endpoint::Model) -> Self {
        let now = Utc::now();
        Self {
            id: row.id.into(),
            url: row.url,
            events: events::types_of(row.event_mask)
                .into_iter()
                .map(EventType::as_str)
                .collect(),
            enabled: row.enabled,
            concurrency: row.concurrency,
            created_at: row.created_at,
            updated_at: row.updated_at,
            failing_since: row.failing_since,
            flagged_at: row.flagged_at,
            disabled_reason: row.disabled_reason,
            previous_secret_expires_at: row.previous_secret_until.filter(|until| *until > now),
        }
    }
}

/// The answer of a creation or a rotation: the endpoint and its new secret,
/// shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_…` (Standard Webhooks): verify signatures with it. Shown
    /// only in this answer.
    pub secret: String,
}

/// `POST …/webhooks`: `{url, events, enabled?, concurrency?}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// https (http only where the platform allows it); a host resolving to
    /// a private, loopback, link-local or metadata address is refused.
    #[serde(default)]
    pub url: String,
    /// At least one event type.
    #[serde(default)]
    pub events: Vec<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// 1–4, default 1.
    #[serde(default)]
    pub concurrency: Option<i32>,
}

/// `PATCH …/webhooks/{wid}`: what is given changes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub concurrency: Option<i32>,
}

/// `POST …/webhooks/{wid}/rotate-secret`: `{overlap_hours?}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How long the previous secret keeps signing too (default 24, at
    /// most 168).
    #[serde(default)]
    pub overlap_hours: Option<i64>,
}

fn parse_events(raw: &[String], fields: &mut FieldErrors) -> i64 {
    let mut types = Vec::new();
    for name in raw {
        match EventType::parse(name.trim()) {
            Some(t) => types.push(t),
            None => {
                fields.insert(
                    "events".into(),
                    format!(
                        "unknown event type {name:?}; one of: {}",
                        EventType::ALL.map(EventType::as_str).join(", ")
                    ),
                );
            }
        }
    }
    if raw.is_empty() {
        fields.insert("events".into(), "choose at least one event".into());
    }
    events::mask_of(&types)
}

fn check_concurrency(value: i32, fields: &mut FieldErrors) {
    if !CONCURRENCY.contains(&value) {
        fields.insert(
            "concurrency".into(),
            format!(
                "must be between {} and {}",
                CONCURRENCY.start(),
                CONCURRENCY.end()
            ),
        );
    }
}

async fn check_url(policy: TargetPolicy, raw: &str, fields: &mut FieldErrors) -> String {
    match policy.check(raw).await {
        Ok(url) => url.to_string(),
        Err(err) => {
            fields.insert("url".into(), url_message(&err));
            String::new()
        }
    }
}

fn url_message(err: &TargetError) -> String {
    err.to_string()
}

fn place(tenant: TenantId, endpoint: WebhookId, field: &str) -> Vec<u8> {
    crate::crypto::place("webhook_endpoint", format!("{tenant}/{endpoint}"), field)
}

fn seal(
    key: &MasterKey,
    tenant: TenantId,
    endpoint: WebhookId,
    secret: &SecretString,
) -> Result<Vec<u8>, AppError> {
    key.seal(
        secret.expose_secret().as_bytes(),
        &place(tenant, endpoint, "secret"),
    )
    .map_err(AppError::internal)
}

/// The keys that sign for an endpoint now: its secret, and the previous one
/// while its overlap lasts.
pub fn signing_keys(
    key: &MasterKey,
    row: &webhook_endpoint::Model,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let tenant = TenantId::from(row.tenant_id);
    let id = WebhookId::from(row.id);
    let open = |sealed: &[u8]| -> anyhow::Result<Vec<u8>> {
        let plain = key.open(sealed, &place(tenant, id, "secret"))?;
        let secret = SecretString::from(String::from_utf8(plain)?);
        signing::key_bytes(&secret).ok_or_else(|| anyhow::anyhow!("a stored secret is malformed"))
    };
    let mut keys = vec![open(&row.secret)?];
    if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_secret_until)
        && until > now
    {
        keys.push(open(previous)?);
    }
    Ok(keys)
}

fn not_found() -> AppError {
    AppError::not_found(
        ErrorCode::WebhookNotFound,
        "There is no such webhook endpoint.",
    )
}

async fn find(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: WebhookId,
) -> Result<webhook_endpoint::Model, AppError> {
    webhook_endpoint::Entity::find_by_id(id.as_uuid())
        .filter(webhook_endpoint::Column::TenantId.eq(tenant))
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

/// The tenant's endpoints, oldest first.
pub async fn list(db: &DatabaseConnection, tenant: TenantId) -> Result<Vec<Endpoint>, AppError> {
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::TenantId.eq(tenant))
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Endpoint::from)
        .collect())
}

pub async fn get(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: WebhookId,
) -> Result<Endpoint, AppError> {
    Ok(find(db, tenant, id).await?.into())
}

/// A new endpoint with a new secret (in the answer only).
pub async fn create(
    db: &DatabaseConnection,
    key: &MasterKey,
    policy: TargetPolicy,
    actor: &Actor,
    tenant: TenantId,
    input: &NewEndpoint,
) -> Result<WithSecret, AppError> {
    let mut fields = FieldErrors::new();
    let mask = parse_events(&input.events, &mut fields);
    let concurrency = input.concurrency.unwrap_or(1);
    check_concurrency(concurrency, &mut fields);
    let url = check_url(policy, &input.url, &mut fields).await;
    if !fields.is_empty() {
        return Err(AppError::validation(fields));
    }
    let txn = crate::db::begin_write(db).await?;
    let count = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::TenantId.eq(tenant))
        .count(&txn)
        .await?;
    if count >= MAX_ENDPOINTS {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("A business may have at most {MAX_ENDPOINTS} webhook endpoints."),
        ));
    }
    let id = WebhookId::new_random();
    let secret = signing::new_secret();
    let now = Utc::now();
    let row = webhook_endpoint::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(tenant.into()),
        url: Set(url),
        event_mask: Set(mask),
        enabled: Set(input.enabled.unwrap_or(true)),
        concurrency: Set(concurrency),
        secret: Set(seal(key, tenant, id, &secret)?),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        failing_since: Set(None),
        flagged_at: Set(None),
        disabled_reason: Set(None),
        queue_floor: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "webhook.created",
        serde_json::json!({ "webhook": id, "url": row.url }),
    )
    .await?;
    txn.commit().await?;
    Ok(WithSecret {
        endpoint: row.into(),
        secret: secret.expose_secret().to_owned(),
    })
}

/// Changes what is given; re-enabling clears the platform's "disabled"
/// note and the failure record.
pub async fn update(
    db: &DatabaseConnection,
    policy: TargetPolicy,
    actor: &Actor,
    tenant: TenantId,
    id: WebhookId,
    change: &EndpointChange,
) -> Result<Endpoint, AppError> {
    let mut fields = FieldErrors::new();
    let mask = change
        .events
        .as_ref()
        .map(|events| parse_events(events, &mut fields));
    if let Some(concurrency) = change.concurrency {
        check_concurrency(concurrency, &mut fields);
    }
    let url = match &change.url {
        Some(url) => Some(check_url(policy, url, &mut fields).await),
        None => None,
    };
    // An unknown endpoint is a 404 before its fields are judged.
    let row = find(db, tenant, id).await?;
    if !fields.is_empty() {
        return Err(AppError::validation(fields));
    }
    let txn = crate::db::begin_write(db).await?;
    let mut active: webhook_endpoint::ActiveModel = row.clone().into();
    if let Some(url) = url {
        active.url = Set(url);
    }
    if let Some(mask) = mask {
        active.event_mask = Set(mask);
    }
    if let Some(concurrency) = change.concurrency {
        active.concurrency = Set(concurrency);
    }
    if let Some(enabled) = change.enabled {
        active.enabled = Set(enabled);
        if enabled && !row.enabled {
            active.disabled_reason = Set(None);
            active.failing_since = Set(None);
        }
    }
    active.updated_at = Set(Utc::now());
    let row = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "webhook.updated",
        serde_json::json!({ "webhook": id, "url": row.url, "enabled": row.enabled }),
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}

/// Deletes the endpoint with its queue and delivery log.
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    tenant: TenantId,
    id: WebhookId,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let row = find(&txn, tenant, id).await?;
    webhook_endpoint::Entity::delete_by_id(row.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "webhook.deleted",
        serde_json::json!({ "webhook": id, "url": row.url }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A new secret (in the answer only); the old one keeps signing, beside
/// the new, for the overlap (default 24 h), so receivers can switch.
pub async fn rotate_secret(
    db: &DatabaseConnection,
    key: &MasterKey,
    actor: &Actor,
    tenant: TenantId,
    id: WebhookId,
    rotation: &Rotation,
) -> Result<WithSecret, AppError> {
    let overlap = match rotation.overlap_hours {
        None => DEFAULT_ROTATION_OVERLAP,
        Some(hours) if (0..=MAX_ROTATION_OVERLAP.num_hours()).contains(&hours) => {
            chrono::Duration::hours(hours)
        }
        Some(_) => {
            let mut fields = FieldErrors::new();
            fields.insert(
                "overlap_hours".into(),
                format!("must be between 0 and {}", MAX_ROTATION_OVERLAP.num_hours()),
            );
            return Err(AppError::validation(fields));
        }
    };
    let txn = crate::db::begin_write(db).await?;
    let row = find(&txn, tenant, id).await?;
    let secret = signing::new_secret();
    let now = Utc::now();
    let mut active: webhook_endpoint::ActiveModel = row.clone().into();
    active.previous_secret = Set((overlap > chrono::Duration::zero()).then(|| row.secret.clone()));
    active.previous_secret_until = Set((overlap > chrono::Duration::zero()).then(|| now + overlap));
    active.secret = Set(seal(key, tenant, id, &secret)?);
    active.updated_at = Set(now);
    let row = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "webhook.secret_rotated",
        serde_json::json!({ "webhook": id, "overlap_hours": overlap.num_hours() }),
    )
    .await?;
    txn.commit().await?;
    Ok(WithSecret {
        endpoint: row.into(),
        secret: secret.expose_secret().to_owned(),
    })
}

/// One line of an endpoint's delivery log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptItem {
    pub id: i64,
    /// The queued event (for "send again").
    pub event: i64,
    pub event_id: String,
    pub event_type: String,
    /// PENDING, DELIVERED or FAILED: where the event is now.
    pub event_status: String,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    /// The first bytes of the answer.
    pub response: Option<String>,
    pub error: Option<String>,
}

/// A page of the delivery log, newest first; `next_cursor` pages back.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptPage {
    pub items: Vec<AttemptItem>,
    pub next_cursor: Option<String>,
}

/// `?cursor=&limit=` of the delivery log.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptQuery {
    /// `next_cursor` of the page before (older attempts).
    #[serde(default)]
    pub cursor: Option<String>,
    /// At most 200 (default 50).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// The endpoint's attempts, newest first (`cursor`: the last id seen).
pub async fn attempts(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: WebhookId,
    query: &AttemptQuery,
) -> Result<AttemptPage, AppError> {
    find(db, tenant, id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let mut select = webhook_attempt::Entity::find()
        .find_also_related(webhook_event::Entity)
        .filter(webhook_attempt::Column::EndpointId.eq(id.as_uuid()))
        .filter(webhook_attempt::Column::TenantId.eq(tenant))
        .order_by_desc(webhook_attempt::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = query.cursor.as_deref().filter(|c| !c.is_empty()) {
        let before: i64 = cursor.parse().map_err(|_| {
            AppError::new(ErrorCode::BadRequest, "The cursor is not one we gave out.")
        })?;
        select = select.filter(webhook_attempt::Column::Id.lt(before));
    }
    let mut rows = select.all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| rows.last().map(|(attempt, _)| attempt.id.to_string()))
        .flatten();
    let items = rows
        .into_iter()
        .map(|(attempt, event)| {
            let (event_id, event_type, event_status) = event
                .map(|e| (e.event_id, e.event_type, e.status))
                .unwrap_or_default();
            AttemptItem {
                id: attempt.id,
                event: attempt.event_row_id,
                event_id,
                event_type,
                event_status,
                attempt: attempt.attempt,
                attempted_at: attempt.attempted_at,
                status_code: attempt.status_code,
                duration_ms: attempt.duration_ms,
                response: attempt.response,
                error: attempt.error,
            }
        })
        .collect();
    Ok(AttemptPage { items, next_cursor })
}

/// What "send again" and "send a test event" answer: the queued event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// The queued row (the delivery log's `event`).
    pub event: i64,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
}

/// "Send again": the event goes to the end of the endpoint's queue once
/// more, with the same id and body (receivers deduplicate by the id).
pub async fn resend(
    db: &DatabaseConnection,
    waker: &delivery::Waker,
    actor: &Actor,
    tenant: TenantId,
    id: WebhookId,
    event: i64,
) -> Result<Queued, AppError> {
    let txn = events::begin_in_turn(db, tenant).await?;
    find(&txn, tenant, id).await?;
    let original = webhook_event::Entity::find_by_id(event)
        .filter(webhook_event::Column::EndpointId.eq(id.as_uuid()))
        .filter(webhook_event::Column::TenantId.eq(tenant))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                ErrorCode::NotFound,
                "There is no such event for this endpoint.",
            )
        })?;
    let queued = queue_one(
        &txn,
        tenant,
        id,
        original.event_id.clone(),
        original.event_type.clone(),
        original.payload.clone(),
    )
    .await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "webhook.resent",
        serde_json::json!({ "webhook": id, "event_id": original.event_id }),
    )
    .await?;
    txn.commit().await?;
    waker.wake();
    Ok(queued)
}

/// "Send a test event": a `webhook.test` event queued for this endpoint
/// only, whatever it subscribed to.
pub async fn send_test(
    db: &DatabaseConnection,
    waker: &delivery::Waker,
    tenant: TenantId,
    id: WebhookId,
) -> Result<Queued, AppError> {
    let txn = events::begin_in_turn(db, tenant).await?;
    find(&txn, tenant, id).await?;
    let event_id = events::new_event_id();
    let body = events::envelope_json(
        &event_id,
        events::TEST_EVENT_TYPE,
        tenant,
        Utc::now(),
        &events::TestEventV1 {
            message: "A test event from Flow HQ: your endpoint is reachable.".into(),
        },
    );
    let queued = queue_one(
        &txn,
        tenant,
        id,
        event_id,
        events::TEST_EVENT_TYPE.to_owned(),
        body,
    )
    .await?;
    txn.commit().await?;
    waker.wake();
    Ok(queued)
}

async fn queue_one(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: WebhookId,
    event_id: String,
    event_type: String,
    payload: String,
) -> Result<Queued, AppError> {
    let now = Utc::now();
    let row = webhook_event::ActiveModel {
        tenant_id: Set(tenant.into()),
        endpoint_id: Set(id.as_uuid()),
        event_id: Set(event_id),
        event_type: Set(event_type),
        payload: Set(payload),
        created_at: Set(now),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        delivered_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(Queued {
        event: row.id,
        event_id: row.event_id,
        event_type: row.event_type,
        status: row.status,
    })
}

/// Counts of an endpoint's queue (for the page and the benchmark).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QueueCounts {
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
}

pub async fn queue_counts(
    db: &impl ConnectionTrait,
    endpoint: WebhookId,
) -> Result<QueueCounts, sea_orm::DbErr> {
    let rows: Vec<(String, i64)> = webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::Status)
        .column_as(
            Expr::from(Func::count(Expr::col(webhook_event::Column::Id))),
            "n",
        )
        .filter(webhook_event::Column::EndpointId.eq(endpoint.as_uuid()))
        .group_by(webhook_event::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = QueueCounts::default();
    for (status, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match status.as_str() {
            PENDING => counts.pending = n,
            DELIVERED => counts.delivered = n,
            _ => counts.failed += n,
        }
    }
    Ok(counts)
}
