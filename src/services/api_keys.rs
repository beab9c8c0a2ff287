//! Tenant API keys: creating (the secret shown once), listing, revoking,
//! and verifying a presented key.
//!
//! Owns: the key format (`fhq_live_` + 32 random bytes, base64url), what is
//! stored (SHA-256 of the whole key, never the key: the secret has 256 bits
//! of entropy, so a fast unsalted hash is as strong as a slow one and lets
//! a key be found by an index lookup; a stolen table cannot be replayed),
//! and the cache of verified keys (`KeyCache`): a busy integration costs
//! no query per request, and a revocation is seen within `CACHE_TTL` (1 s)
//! on every replica, at once on this one. A cached key is trusted for
//! `CACHE_TTL` after it was verified or after a check of ALL cached keys
//! against the database (`recheck`, every `RECHECK_EVERY`) found it
//! still good, whichever is later: one query per 1,000 keys each half
//! second, not a lookup per key each second.
//! `last_used_at` is written at most once per `LAST_USED_PRECISION` per key,
//! on a cache miss: never a statement per request.
//! Must not: know HTTP (the `ApiKey` extractor in `web::auth` does), or
//! take a tenant from anywhere but the caller (owner's session, admin path).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::api_key;
use mini_moka::sync::Cache;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Actor};
use crate::crypto;
use crate::domain::api_scope::{Scope, Scopes};
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::limits::ActionLimiter;

/// Every key starts with this (secret scanners can find leaked ones).
pub const KEY_PREFIX: &str = "fhq_live_";
/// Random bytes in a key.
const SECRET_BYTES: usize = 32;
/// Characters of the secret kept in clear, to tell keys apart in lists.
const SHOWN_CHARS: usize = 6;
/// How long a verified key is trusted without asking the database: the
/// longest a revocation on another replica takes to bite.
pub const CACHE_TTL: Duration = Duration::from_secs(1);
/// How often every cached key is checked against the database: twice per
/// `CACHE_TTL`, so a check that takes a while still lands in time.
pub const RECHECK_EVERY: Duration = Duration::from_millis(500);
/// A key not used for this long leaves the cache.
const CACHE_IDLE: Duration = Duration::from_secs(600);
/// Verified keys kept at most (one per active integration).
const CACHE_CAPACITY: u64 = 100_000;
/// `last_used_at` is at most this stale.
const LAST_USED_PRECISION: chrono::Duration = chrono::Duration::seconds(60);
const MAX_NAME_CHARS: usize = 100;

/// A key as lists show it: never the secret or its hash.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    pub name: String,
    pub scopes: Vec<&'static str>,
    /// `fhq_live_` and the first characters of the secret.
    pub prefix: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Usable now: neither revoked nor expired.
    pub active: bool,
}

impl From<api_key::Model> for ApiKeyView {
    fn from(row: api_key::Model) -> Self {
        let now = Utc::now();
        Self {
            id: row.id.into(),
            active: row.revoked_at.is_none() && row.expires_at.is_none_or(|at| at > now),
            name: row.name,
            scopes: Scopes::from_stored(&row.scopes).names(),
            prefix: row.prefix,
            created_by: row.created_by,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A new key: its view and the key itself, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    pub key: String,
}

/// `{name, scopes, expires_at?}` as a client sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A checked `NewKeyInput`.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub scopes: Scopes,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewKey {
    pub fn parse(input: &NewKeyInput, now: DateTime<Utc>) -> Result<Self, AppError> {
        let mut fields = FieldErrors::new();
        let name = input.name.trim();
        if name.is_empty() {
            fields.insert("name".to_owned(), "Give the key a name.".to_owned());
        } else if name.chars().count() > MAX_NAME_CHARS {
            fields.insert(
                "name".to_owned(),
                format!("must be at most {MAX_NAME_CHARS} characters"),
            );
        }
        let scopes = Scopes::parse(input.scopes.iter().map(String::as_str));
        if let Err(problem) = &scopes {
            fields.insert("scopes".to_owned(), problem.clone());
        }
        if input.expires_at.is_some_and(|at| at <= now) {
            fields.insert("expires_at".to_owned(), "must be in the future".to_owned());
        }
        match scopes {
            Ok(scopes) if fields.is_empty() => Ok(Self {
                name: name.to_owned(),
                scopes,
                expires_at: input.expires_at,
            }),
            _ => Err(AppError::validation(fields)),
        }
    }
}

/// The tenant's keys, newest first (revoked ones too, marked).
pub async fn list(db: &DatabaseConnection, tenant: TenantId) -> Result<Vec<ApiKeyView>, AppError> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant))
        .order_by_desc(api_key::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(ApiKeyView::from)
        .collect())
}

/// Creates a key for `tenant`; the answer holds the key, which is never
/// stored and cannot be shown again.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    tenant: TenantId,
    new: &NewKey,
) -> Result<CreatedKey, AppError> {
    let key = format!("{KEY_PREFIX}{}", crypto::random_token(SECRET_BYTES));
    let prefix: String = key.chars().take(KEY_PREFIX.len() + SHOWN_CHARS).collect();
    // The tenant must exist (admins name it in the path).
    super::tenants::get(db, tenant).await?;
    let txn = crate::db::begin_write(db).await?;
    let row = api_key::ActiveModel {
        id: Set(ApiKeyId::new_random().into()),
        tenant_id: Set(tenant.into()),
        name: Set(new.name.clone()),
        prefix: Set(prefix),
        secret_hash: Set(crypto::sha256_hex(&key)),
        scopes: Set(new.scopes.to_stored()),
        created_by: Set(actor.label()),
        created_at: Set(Utc::now()),
        expires_at: Set(new.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "api_key.created",
        json!({ "api_key_id": row.id, "name": row.name, "scopes": new.scopes.names(), "expires_at": row.expires_at }),
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedKey {
        view: row.into(),
        key,
    })
}

/// Revokes a key of `tenant`: it stops working at once here and within
/// `CACHE_TTL` on other replicas. Revoking a revoked key changes nothing.
pub async fn revoke(
    db: &DatabaseConnection,
    cache: &KeyCache,
    actor: &Actor,
    tenant: TenantId,
    id: ApiKeyId,
) -> Result<ApiKeyView, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let row = api_key::Entity::find_by_id(id.as_uuid())
        .filter(api_key::Column::TenantId.eq(tenant))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::ApiKeyNotFound, "No such API key."))?;
    if row.revoked_at.is_some() {
        return Ok(row.into());
    }
    let now = Utc::now();
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "api_key.revoked",
        json!({ "api_key_id": row.id, "name": row.name }),
    )
    .await?;
    txn.commit().await?;
    cache.forget(&row.secret_hash);
    let mut view = ApiKeyView::from(row);
    view.revoked_at = Some(now);
    view.active = false;
    Ok(view)
}

/// A key that checked out: who it is and what it may do.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    pub id: ApiKeyId,
    pub tenant: TenantId,
    pub name: String,
    pub scopes: Scopes,
    pub expires_at: Option<DateTime<Utc>>,
    /// The tenant's plan's API requests a minute (a burst of as many).
    pub requests_per_minute: NonZeroU32,
}

impl VerifiedKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.id.to_string())
    }

    /// How its messages are signed in a thread.
    pub fn author(&self) -> String {
        format!("API key {}", self.name)
    }
}

/// Why a presented key does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a key we issued (or malformed).
    Invalid,
    Revoked,
    Expired,
}

/// Verified keys by the hash of the key (with when they were verified),
/// when the last check of all of them started, and each key's requests
/// this minute.
#[derive(Clone)]
pub struct KeyCache {
    keys: Cache<String, (Arc<VerifiedKey>, Instant)>,
    checked: Arc<std::sync::Mutex<Option<Instant>>>,
    rates: Arc<KeyRates>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            keys: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_idle(CACHE_IDLE)
                .build(),
            checked: Arc::default(),
            rates: Arc::default(),
        }
    }
}

/// Whether a cached key may be used without asking the database at `now`:
/// it was verified, or found good by a check of all keys that started
/// after it was cached, less than `CACHE_TTL` ago.
fn trusted(verified_at: Instant, checked: Option<Instant>, now: Instant) -> bool {
    let latest = checked.map_or(verified_at, |checked| checked.max(verified_at));
    now.saturating_duration_since(latest) <= CACHE_TTL
}

impl KeyCache {
    fn forget(&self, hash: &str) {
        self.keys.invalidate(&hash.to_owned());
    }

    /// The key cached under `hash`, if it may be used without a query.
    fn get(&self, hash: &String) -> Option<Arc<VerifiedKey>> {
        let (key, verified_at) = self.keys.get(hash)?;
        let checked = *self.checked.lock().unwrap_or_else(|e| e.into_inner());
        trusted(verified_at, checked, Instant::now()).then_some(key)
    }

    /// Counts one request of `key` against its plan's rate; `Err(wait)`
    /// when it used up this minute's.
    pub fn count_request(&self, key: &VerifiedKey) -> Result<(), Duration> {
        self.rates.check(key.id, key.requests_per_minute)
    }
}

/// One keyed limiter per rate (plans are few): a key whose plan changed
/// counts in its new plan's buckets from the next verification (at most
/// `CACHE_TTL` later).
#[derive(Default)]
struct KeyRates(dashmap::DashMap<NonZeroU32, ActionLimiter<ApiKeyId>>);

impl KeyRates {
    fn check(&self, key: ApiKeyId, per_minute: NonZeroU32) -> Result<(), Duration> {
        let limiter = self.0.entry(per_minute).or_insert_with(|| {
            let period = Duration::from_secs(60) / per_minute.get();
            ActionLimiter::new(per_minute, period)
        });
        limiter.check(&key)
    }
}

/// The key behind `presented` (the bearer token as sent), or why not.
pub async fn verify(
    db: &DatabaseConnection,
    cache: &KeyCache,
    presented: &str,
) -> Result<Result<Arc<VerifiedKey>, Refusal>, AppError> {
    let presented = presented.trim();
    if !presented.starts_with(KEY_PREFIX) || presented.len() > 200 {
        return Ok(Err(Refusal::Invalid));
    }
    let hash = crypto::sha256_hex(presented);
    let now = Utc::now();
    if let Some(found) = cache.get(&hash) {
        if found.expires_at.is_some_and(|at| at <= now) {
            return Ok(Err(Refusal::Expired));
        }
        return Ok(Ok(found));
    }
    // Before the read: a revocation committed during it counts from here.
    let verified_at = Instant::now();
    let Some(row) = api_key::Entity::find()
        .filter(api_key::Column::SecretHash.eq(&hash))
        .one(db)
        .await?
    else {
        return Ok(Err(Refusal::Invalid));
    };
    // The index found the row by its hash; compare once more without
    // leaking where they differ (defence in depth, cheap).
    if !crypto::constant_time_eq(row.secret_hash.as_bytes(), hash.as_bytes()) {
        return Ok(Err(Refusal::Invalid));
    }
    if row.revoked_at.is_some() {
        return Ok(Err(Refusal::Revoked));
    }
    if row.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(Refusal::Expired));
    }
    if row
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_PRECISION)
    {
        crate::db::write_alone(
            db,
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
                .filter(api_key::Column::Id.eq(row.id))
                .exec(db),
        )
        .await?;
    }
    let plan = super::plans::of_tenant(db, row.tenant_id.into()).await?;
    let requests_per_minute = super::plans::api_rate(plan.api_requests_per_minute);
    let verified = Arc::new(VerifiedKey {
        id: row.id.into(),
        tenant: row.tenant_id.into(),
        name: row.name,
        scopes: Scopes::from_stored(&row.scopes),
        expires_at: row.expires_at,
        requests_per_minute,
    });
    cache.keys.insert(hash, (verified.clone(), verified_at));
    Ok(Ok(verified))
}

/// Checks every cached key against the database, one query per
/// `IN_LIST_CHUNK` keys and one for their tenants' plans: keys revoked,
/// expired or deleted meanwhile, and keys whose plan's rate changed, leave
/// the cache (their next request is verified again); the others are
/// trusted for another `CACHE_TTL` from when the check started. (A key
/// whose lookup began before the check and ended after it took its list is
/// trusted from the check's start unchecked: at most one lookup's duration
/// more than `CACHE_TTL` after it was verified.)
pub async fn recheck(db: &DatabaseConnection, cache: &KeyCache) -> Result<(), DbErr> {
    let started = Instant::now();
    let now = Utc::now();
    let cached: Vec<(String, Arc<VerifiedKey>)> = cache
        .keys
        .iter()
        .map(|entry| (entry.key().clone(), entry.value().0.clone()))
        .collect();
    let mut good = std::collections::HashSet::new();
    let mut rates = std::collections::HashMap::new();
    for chunk in cached.chunks(crate::db::IN_LIST_CHUNK) {
        let still_good: Vec<uuid::Uuid> = api_key::Entity::find()
            .select_only()
            .column(api_key::Column::Id)
            .filter(api_key::Column::Id.is_in(chunk.iter().map(|(_, key)| key.id.as_uuid())))
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(
                sea_orm::Condition::any()
                    .add(api_key::Column::ExpiresAt.is_null())
                    .add(api_key::Column::ExpiresAt.gt(now)),
            )
            .into_tuple()
            .all(db)
            .await?;
        good.extend(still_good);
        let tenants: std::collections::BTreeSet<TenantId> =
            chunk.iter().map(|(_, key)| key.tenant).collect();
        rates.extend(super::plans::api_rates(db, &tenants).await?);
    }
    for (hash, key) in &cached {
        let rate_kept = rates.get(&key.tenant) == Some(&key.requests_per_minute);
        if !(good.contains(&key.id.as_uuid()) && rate_kept) {
            cache.keys.invalidate(hash);
        }
    }
    *cache.checked.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
    Ok(())
}

/// Runs [`recheck`] every `RECHECK_EVERY` until `shutdown`. While it
/// fails, cached keys fall back to being verified once per `CACHE_TTL`
/// each.
pub async fn recheck_cached_keys(
    db: DatabaseConnection,
    cache: KeyCache,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(RECHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(err) = recheck(&db, &cache).await {
            tracing::warn!(error = %err, "checking the cached API keys failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_key_is_trusted_for_the_ttl_after_its_verification_or_a_later_check() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let ttl = u64::try_from(CACHE_TTL.as_millis()).unwrap();
        // (verified at, last check started at, now) → trusted
        for (verified, checked, now, trusted_then) in [
            (0, None, 0, true),
            (0, None, ttl, true),
            (0, None, ttl + 1, false),
            // A check after the verification extends the trust…
            (0, Some(ttl - 100), ttl + 500, true),
            (0, Some(ttl - 100), 2 * ttl, false),
            // …one before it does not shorten it.
            (500, Some(0), ttl + 400, true),
            (500, Some(0), ttl + 600, false),
        ] {
            assert_eq!(
                trusted(at(verified), checked.map(at), at(now)),
                trusted_then,
                "verified {verified} ms, checked {checked:?} ms, now {now} ms"
            );
        }
    }

    #[test]
    fn a_new_key_needs_a_name_known_scopes_and_a_future_expiry() {
        let now = Utc::now();
        let ok = NewKey::parse(
            &NewKeyInput {
                name: " Shop ".into(),
                scopes: vec!["messages:send".into()],
                expires_at: Some(now + chrono::Duration::days(1)),
            },
            now,
        )
        .unwrap();
        assert_eq!(ok.name, "Shop");
        let err = NewKey::parse(
            &NewKeyInput {
                name: String::new(),
                scopes: vec!["root".into()],
                expires_at: Some(now - chrono::Duration::days(1)),
            },
            now,
        )
        .unwrap_err();
        let fields: Vec<&str> = err.fields().keys().map(String::as_str).collect();
        assert_eq!(fields, ["expires_at", "name", "scopes"]);
    }
}
