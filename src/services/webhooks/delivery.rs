//! The delivery worker: sends queued webhook events, signed, per endpoint
//! in order, and records every attempt.
//!
//! Owns: claiming due events (a lease in `webhook_event.lease_until`; on
//! PostgreSQL under `FOR UPDATE SKIP LOCKED`, so workers of several
//! processes share the queue; SQLite has one process, hence one worker),
//! the HTTP call (no redirects, 10 s, answers read up to 64 KiB, addresses
//! checked again), the retry schedule, and marking an endpoint failing,
//! flagged or disabled.
//!
//! Order: an endpoint's `concurrency` oldest PENDING events are its only
//! candidates, so with concurrency 1 the oldest blocks the later ones until
//! it is delivered or has failed for good.
//! Crash safety: nothing is in memory only. A crash (kill -9 included)
//! leaves claimed events PENDING with a lease that expires; they are sent
//! again then (at most the ones in flight are sent twice; receivers
//! deduplicate by `webhook-id`).
//! Must not: hold a transaction across an HTTP call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::{webhook_attempt, webhook_endpoint, webhook_event};
use rand::Rng;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement, Value,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::target::{TargetPolicy, delivery_client, is_public};
use super::{DELIVERED, FAILED, PENDING};
use crate::config::WebhooksSettings;
use crate::crypto::MasterKey;
use crate::domain::ids::{TenantId, WebhookId};
use crate::services::audit::{self, Actor};

/// Answers are read up to this many bytes (the rest is dropped).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The first bytes of an answer kept in the delivery log.
pub const LOGGED_RESPONSE_BYTES: usize = 1024;
/// A claim lasts this long past the delivery timeout (which bounds the
/// whole request, answer included): then another worker, or this one after
/// a restart, may take the event again.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Waits before recording an attempt's outcome again when the database
/// refused it (SQLite's write lock held past its busy timeout), as long as
/// the lease lasts.
const RECORD_RETRIES: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
];

/// Wakes the worker when events were committed (a cheap `Notify`; the
/// worker's timer is the backstop, rows are the truth).
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    async fn woken(&self) {
        self.0.notified().await;
    }
}

/// Everything a delivery needs.
#[derive(Clone)]
pub struct Deliverer {
    db: DatabaseConnection,
    key: MasterKey,
    client: reqwest::Client,
    policy: TargetPolicy,
    settings: Arc<WebhooksSettings>,
    /// Deliveries a slot makes in a row for one endpoint
    /// ([`Self::deliver_in_turn`]).
    in_turn: usize,
}

/// Counters (the benchmark reads them).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub delivered: std::sync::atomic::AtomicU64,
    pub failed_attempts: std::sync::atomic::AtomicU64,
}

impl Deliverer {
    pub fn new(
        db: DatabaseConnection,
        key: MasterKey,
        settings: WebhooksSettings,
    ) -> anyhow::Result<Self> {
        let policy = TargetPolicy {
            allow_private: settings.allow_private_targets,
        };
        let client = delivery_client(policy, settings.timeout)?;
        let in_turn = if db.get_database_backend() == DatabaseBackend::Postgres {
            IN_TURN
        } else {
            1
        };
        Ok(Self {
            in_turn,
            db,
            key,
            client,
            policy,
            settings: Arc::new(settings),
        })
    }

    fn lease(&self) -> Duration {
        self.settings.timeout + LEASE_MARGIN
    }
}

/// Starts the worker (tracked); it stops when `shutdown` is cancelled,
/// after the deliveries in flight (each bounded by the timeout).
pub fn spawn(
    deliverer: Deliverer,
    waker: Waker,
    stats: Arc<DeliveryStats>,
    shutdown: CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) {
    tracker.spawn(purge_old_events(
        deliverer.db.clone(),
        deliverer.settings.retention,
        shutdown.clone(),
    ));
    tracker.spawn(run(deliverer, waker, stats, shutdown));
}

/// How often finished events past the retention are looked for; the first
/// look comes a minute after start, off the busy start-up.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
const FIRST_PURGE_AFTER: Duration = Duration::from_secs(60);

/// Deletes finished events past `retention`, hourly, until `shutdown`.
async fn purge_old_events(
    db: DatabaseConnection,
    retention: Duration,
    shutdown: CancellationToken,
) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut wait = FIRST_PURGE_AFTER;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
        wait = PURGE_EVERY;
        let cutoff = Utc::now()
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        match tokio::select! {
            () = shutdown.cancelled() => break,
            done = purge_finished(&db, cutoff) => done,
        } {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "old webhook events deleted"),
            Err(err) => tracing::warn!(error = %err, "deleting old webhook events failed"),
        }
    }
}

/// Deletes the DELIVERED and FAILED events created before `cutoff` (their
/// attempts go with them); PENDING ones stay. Ids follow creation, so the
/// old events are the lowest ids: they are read in id order (a read, no
/// lock) until the first one past the cutoff, and deleted a range of ids
/// at a time, each a short statement of its own, so the message log's
/// writer never waits long. Returns how many went.
pub async fn purge_finished(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    const CHUNK: u64 = 1000;
    let mut deleted = 0;
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, DateTime<Utc>)> = webhook_event::Entity::find()
            .select_only()
            .columns([webhook_event::Column::Id, webhook_event::Column::CreatedAt])
            .filter(webhook_event::Column::Id.gt(after))
            .order_by_asc(webhook_event::Column::Id)
            .limit(CHUNK)
            .into_tuple()
            .all(db)
            .await?;
        let old = rows.iter().take_while(|(_, at)| *at < cutoff).count();
        let Some(&(last, _)) = rows[..old].last() else {
            return Ok(deleted);
        };
        deleted += crate::db::write_alone(
            db,
            webhook_event::Entity::delete_many()
                .filter(webhook_event::Column::Id.gt(after))
                .filter(webhook_event::Column::Id.lte(last))
                .filter(webhook_event::Column::CreatedAt.lt(cutoff))
                .filter(webhook_event::Column::Status.ne(PENDING))
                .exec(db),
        )
        .await?
        .rows_affected;
        if old < rows.len() {
            return Ok(deleted);
        }
        after = last;
    }
}

async fn run(
    deliverer: Deliverer,
    waker: Waker,
    stats: Arc<DeliveryStats>,
    shutdown: CancellationToken,
) {
    let max = usize::try_from(deliverer.settings.max_in_flight.get()).unwrap_or(32);
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut floors_raised: Option<Instant> = None;
    loop {
        if floors_raised.is_none_or(|at| at.elapsed() >= RAISE_FLOORS_EVERY) {
            floors_raised = Some(Instant::now());
            if let Err(err) = raise_floors(&deliverer.db).await {
                tracing::warn!(error = %err, "raising the webhook queue floors failed");
            }
        }
        let free = max.saturating_sub(in_flight.len());
        if free > 0 && !shutdown.is_cancelled() {
            match claim(&deliverer.db, free, deliverer.lease()).await {
                Ok(claimed) => {
                    for event in claimed {
                        let deliverer = deliverer.clone();
                        let stats = stats.clone();
                        let shutdown = shutdown.clone();
                        in_flight.spawn(async move {
                            deliverer.deliver_in_turn(event, &stats, &shutdown).await;
                        });
                    }
                }
                Err(err) => tracing::warn!(error = %err, "claiming webhook events failed"),
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = waker.woken() => {}
            () = tokio::time::sleep(deliverer.settings.poll_interval) => {}
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                // Every delivery finished by now, so one claim fills all
                // the free slots instead of one claim per delivery.
                let mut done = Some(done);
                while let Some(result) = done {
                    if let Err(err) = result {
                        tracing::error!(error = %err, "a webhook delivery panicked; its lease will expire");
                    }
                    done = in_flight.try_join_next();
                }
            }
        }
    }
    // Deliveries in flight finish (each is bounded by the timeout); one
    // cut short stays claimed until its lease expires, then is sent again.
    let bound = deliverer.settings.timeout + Duration::from_secs(1);
    let _ = tokio::time::timeout(bound, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    in_flight.abort_all();
    tracing::debug!("webhook delivery worker stopped");
}

/// A claimed event.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub row: webhook_event::Model,
}

/// Claims up to `limit` due events: for each enabled endpoint, among its
/// `concurrency` oldest PENDING events, those due and not claimed.
pub async fn claim(
    db: &DatabaseConnection,
    limit: usize,
    lease: Duration,
) -> Result<Vec<Claimed>, DbErr> {
    claim_from(db, limit, lease, None).await
}

/// Claims the next due event of ONE endpoint (the claim's query for that
/// endpoint alone: its `concurrency` oldest PENDING events, through the
/// same index), in a transaction of its own. The worker makes the same
/// claim inside the transaction that records a delivery that went through
/// ([`Deliverer::deliver_in_turn`]); this standalone form is for tests and
/// tools.
pub async fn claim_next(
    db: &DatabaseConnection,
    endpoint: uuid::Uuid,
    lease: Duration,
) -> Result<Option<Claimed>, DbErr> {
    claim_from(db, 1, lease, Some(endpoint))
        .await
        .map(|mut claimed| claimed.pop())
}

async fn claim_from(
    db: &DatabaseConnection,
    limit: usize,
    lease: Duration,
    endpoint: Option<uuid::Uuid>,
) -> Result<Vec<Claimed>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let claimed = claim_in(&txn, limit, lease, endpoint).await?;
    txn.commit().await?;
    Ok(claimed)
}

/// The claim, in the caller's transaction.
async fn claim_in(
    txn: &impl ConnectionTrait,
    limit: usize,
    lease: Duration,
    endpoint: Option<uuid::Uuid>,
) -> Result<Vec<Claimed>, DbErr> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
    let backend = txn.get_database_backend();
    let mut values = vec![
        Value::from(now),
        Value::from(i64::try_from(limit).unwrap_or(i64::MAX)),
    ];
    let sql = match endpoint {
        Some(endpoint) => {
            values.push(Value::from(endpoint));
            claim_sql_for(backend, true)
        }
        None => claim_sql(backend),
    };
    let ids: Vec<i64> = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .into_iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Still PENDING, as the rows are now that they are locked (a statement
    // sees the latest commits): one delivered meanwhile is not taken.
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::LeaseUntil, Expr::value(until))
        .filter(webhook_event::Column::Id.is_in(ids.iter().copied()))
        .filter(webhook_event::Column::Status.eq(PENDING))
        .exec(txn)
        .await?;
    let mut rows = webhook_event::Entity::find()
        .filter(webhook_event::Column::Id.is_in(ids.iter().copied()))
        .filter(webhook_event::Column::Status.eq(PENDING))
        .all(txn)
        .await?;
    rows.sort_by_key(|row| row.id);
    Ok(rows.into_iter().map(|row| Claimed { row }).collect())
}

/// How often the worker raises the endpoints' `queue_floor`s.
const RAISE_FLOORS_EVERY: Duration = Duration::from_secs(1);

/// Moves each enabled endpoint's `queue_floor` up to just below its
/// oldest PENDING event, found from the floor on (where it is already);
/// answers how many moved.
///
/// Without it a claim read the queue index from the endpoint's first event
/// on. On PostgreSQL a delivered event's PENDING entry stays in that index
/// until VACUUM removes it, so with autovacuum off or behind every claim
/// walked every event the endpoint ever had delivered (84 ms a claim after
/// 35,000). The worker raises the floors once a second
/// (`RAISE_FLOORS_EVERY`), not at every claim, which would double a
/// claim's reads: a claim then walks at most a second's deliveries.
///
/// Safe because an endpoint's events become PENDING only as new rows, in
/// id order (`events::take_turn`), and leave PENDING for good: the oldest
/// PENDING event this statement sees stays the oldest. Only a floor that
/// moves is written, so an idle endpoint's row is not. Workers racing on
/// one endpoint wait for each other's row lock and then keep the higher
/// floor.
pub async fn raise_floors(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let txn = crate::db::begin_write(db).await?;
    let raised = txn
        .execute_raw(Statement::from_string(backend, raise_floors_sql(backend)))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(raised)
}

fn raise_floors_sql(backend: DatabaseBackend) -> &'static str {
    if backend == DatabaseBackend::Postgres {
        "UPDATE webhook_endpoint e SET queue_floor = f.first - 1 \
         FROM (SELECT e2.id, head.id AS first FROM webhook_endpoint e2 \
               CROSS JOIN LATERAL ( \
                 SELECT h.id FROM webhook_event h \
                 WHERE h.status = 'PENDING' AND h.endpoint_id = e2.id \
                   AND h.id > e2.queue_floor \
                 ORDER BY h.id LIMIT 1) head \
               WHERE e2.enabled) f \
         WHERE e.id = f.id AND e.queue_floor < f.first - 1"
    } else {
        "UPDATE webhook_endpoint SET queue_floor = f.first - 1 \
         FROM (SELECT e.id, (SELECT min(h.id) FROM webhook_event h \
                 WHERE h.status = 'PENDING' AND h.endpoint_id = e.id \
                   AND h.id > e.queue_floor) AS first \
               FROM webhook_endpoint e WHERE e.enabled) f \
         WHERE webhook_endpoint.id = f.id AND webhook_endpoint.queue_floor < f.first - 1"
    }
}

/// The claim's query. Per enabled endpoint, its `concurrency` oldest
/// PENDING events are read from `idx_webhook_event_queue` (status,
/// endpoint, id) from its `queue_floor` on, and nothing else: the cost
/// follows the endpoints and the heads, never the events an endpoint had
/// or is owed. Each backend gets the form its planner runs that way:
/// PostgreSQL a LATERAL join (a correlated `IN` would be a filter over the
/// whole table there), SQLite, which has no LATERAL, a correlated `IN` it
/// answers with rowid lookups.
/// PostgreSQL re-evaluates only the locked table's conditions on a row
/// another worker changed meanwhile (one that just recorded its delivery,
/// say), and the heads' PENDING is not among them: `claim` checks the
/// status again as it leases the rows it locked. Not in this query: there
/// it let the plan cached for the statement (made while the table was
/// nearly empty) start from every PENDING event, a second per claim in the
/// bench's catch-up.
pub fn claim_sql(backend: DatabaseBackend) -> String {
    claim_sql_for(backend, false)
}

/// [`claim_sql`], or with `one_endpoint` the same for the endpoint bound
/// third.
fn claim_sql_for(backend: DatabaseBackend, one_endpoint: bool) -> String {
    const DUE: &str = "w.next_attempt_at <= {now} \
         AND (w.lease_until IS NULL OR w.lease_until < {now})";
    if backend == DatabaseBackend::Postgres {
        format!(
            "SELECT w.id FROM webhook_endpoint e \
             CROSS JOIN LATERAL ( \
               SELECT h.id FROM webhook_event h \
               WHERE h.status = 'PENDING' AND h.endpoint_id = e.id \
                 AND h.id > e.queue_floor \
               ORDER BY h.id LIMIT e.concurrency) heads \
             JOIN webhook_event w ON w.id = heads.id \
             WHERE e.enabled {} AND {} \
             ORDER BY w.id LIMIT $2 FOR UPDATE OF w SKIP LOCKED",
            if one_endpoint { "AND e.id = $3" } else { "" },
            DUE.replace("{now}", "$1")
        )
    } else {
        // SQLite's LIMIT cannot name an outer column: the 4 oldest (the
        // most any endpoint may have in flight), ranked down to
        // `concurrency`.
        format!(
            "WITH candidates AS ( \
               SELECT w.id, w.endpoint_id, e.concurrency \
               FROM webhook_endpoint e, webhook_event w \
               WHERE e.enabled {one} AND w.id IN ( \
                 SELECT h.id FROM webhook_event h \
                 WHERE h.status = 'PENDING' AND h.endpoint_id = e.id \
                   AND h.id > e.queue_floor \
                 ORDER BY h.id LIMIT {max}) \
             ), heads AS ( \
               SELECT id FROM ( \
                 SELECT id, concurrency, \
                   ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY id) AS rn \
                 FROM candidates) ranked \
               WHERE rn <= concurrency \
             ) \
             SELECT w.id FROM webhook_event w \
             WHERE w.id IN (SELECT id FROM heads) AND {} \
             ORDER BY w.id LIMIT ?2",
            DUE.replace("{now}", "?1"),
            max = super::CONCURRENCY.end(),
            one = if one_endpoint { "AND e.id = ?3" } else { "" },
        )
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status_code: Option<u16>,
    pub response: Option<String>,
    pub error: Option<String>,
    pub duration: Duration,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }

    /// Whether trying again may help: no answer, 5xx, 3xx, or one of the
    /// 4xx that say "later" (408, 409, 425, 429).
    pub fn retryable(&self) -> bool {
        match self.status_code {
            None => true,
            Some(code) if (400..500).contains(&code) => matches!(code, 408 | 409 | 425 | 429),
            Some(_) => true,
        }
    }
}

/// The wait before retry number `attempt` (1 after the first failure):
/// the configured delay ±10 %; `None` when there is no retry left.
pub fn retry_delay(delays: &[Duration], attempt: usize) -> Option<Duration> {
    let base = *delays.get(attempt.checked_sub(1)?)?;
    let jitter = rand::rng().random_range(0.9..=1.1);
    Some(base.mul_f64(jitter))
}

/// Deliveries one slot of the worker makes in a row for one endpoint
/// ([`Deliverer::deliver_in_turn`]) before it goes back to the claim over
/// every endpoint, so a long backlog does not keep a slot from the others.
///
/// PostgreSQL only. There the claim over every endpoint is what a backlog
/// waits for (a probe of each endpoint's queue, 17–26 ms over 100
/// endpoints, finding the few whose delivery just ended), and taking the
/// next event in the recording transaction drained the bench's 2-minute
/// backlog at 727/s against 452/s. On SQLite, whose one writer serializes
/// every claim and record anyway, the same drained at 373–473/s against
/// 422–665/s, so it delivers one event per claim there.
const IN_TURN: usize = 50;

impl Deliverer {
    /// Sends `claimed`, then, while each goes through, its endpoint's next
    /// due events (up to [`IN_TURN`] in all, on PostgreSQL), each claimed in the
    /// transaction that records the one before: a backlog drains at the
    /// pace of the receiver, with no more transactions than one claim and
    /// one record per delivery.
    pub async fn deliver_in_turn(
        &self,
        claimed: Claimed,
        stats: &DeliveryStats,
        shutdown: &CancellationToken,
    ) {
        let mut next = Some(claimed);
        let mut sent = 0;
        while let Some(claimed) = next.take() {
            sent += 1;
            let more = sent < self.in_turn && !shutdown.is_cancelled();
            next = self.deliver_then(claimed, stats, more).await.1;
        }
    }

    /// Sends one claimed event and records the outcome; answers whether it
    /// went through and that was recorded.
    pub async fn deliver(&self, claimed: Claimed, stats: &DeliveryStats) -> bool {
        self.deliver_then(claimed, stats, false).await.0
    }

    /// [`Self::deliver`]; with `claim_next`, once it went through, also
    /// claims the endpoint's next due event in the recording transaction.
    async fn deliver_then(
        &self,
        claimed: Claimed,
        stats: &DeliveryStats,
        claim_next: bool,
    ) -> (bool, Option<Claimed>) {
        let event = claimed.row;
        let outcome = match webhook_endpoint::Entity::find_by_id(event.endpoint_id)
            .one(&self.db)
            .await
        {
            Ok(Some(endpoint)) => self.send(&endpoint, &event).await,
            // Deleted meanwhile: its events went with it.
            Ok(None) => return (false, None),
            Err(err) => {
                tracing::warn!(error = %err, "reading a webhook endpoint failed; retried after the lease");
                return (false, None);
            }
        };
        if outcome.succeeded() {
            stats
                .delivered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            stats
                .failed_attempts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // The event went out: an unrecorded outcome would send it again
        // when the lease ends, so a busy database is waited for, while the
        // lease lasts (a record after it is refused, see `record`).
        let mut waits = RECORD_RETRIES.iter();
        loop {
            let err = match self.record(&event, &outcome, claim_next).await {
                Ok(next) => return (outcome.succeeded(), next),
                Err(err) => err,
            };
            let within_lease = |wait: &&Duration| {
                let after = Utc::now() + chrono::Duration::from_std(**wait).unwrap_or_default();
                event.lease_until.is_some_and(|until| after < until)
            };
            let Some(wait) = waits.next().filter(within_lease) else {
                tracing::warn!(error = %err, event = event.id, "recording a webhook attempt failed; sent again after the lease");
                return (false, None);
            };
            tracing::debug!(error = %err, event = event.id, "recording a webhook attempt failed; trying again");
            tokio::time::sleep(*wait).await;
        }
    }

    async fn send(
        &self,
        endpoint: &webhook_endpoint::Model,
        event: &webhook_event::Model,
    ) -> Outcome {
        let began = Instant::now();
        let failed = |error: String| Outcome {
            status_code: None,
            response: None,
            error: Some(error),
            duration: began.elapsed(),
        };
        // The URL again, and a literal address (which the resolver never
        // sees) against the rules; names are checked by the resolver.
        let url = match self.policy.parse_url(&endpoint.url) {
            Ok(url) => url,
            Err(err) => return failed(format!("refused: {err}")),
        };
        if !self.policy.allow_private {
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = literal.filter(|ip| !is_public(*ip)) {
                return failed(format!("refused: {ip} is not a public address"));
            }
        }
        let now = Utc::now();
        let keys = match super::signing_keys(&self.key, endpoint, now) {
            Ok(keys) => keys,
            Err(err) => {
                tracing::error!(error = %err, endpoint = %endpoint.id, "cannot open a webhook secret");
                return failed("the signing secret cannot be read".into());
            }
        };
        let timestamp = now.timestamp();
        let signature = super::signing::signature_header(
            &keys,
            &event.event_id,
            timestamp,
            event.payload.as_bytes(),
        );
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(event.payload.clone());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => return failed(describe(&err)),
        };
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let mut error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= MAX_RESPONSE_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    error = Some(format!("reading the answer failed: {}", describe(&err)));
                    break;
                }
            }
        }
        body.truncate(LOGGED_RESPONSE_BYTES);
        let text = String::from_utf8_lossy(&body).into_owned();
        Outcome {
            status_code: Some(status),
            response: (!text.is_empty()).then_some(text),
            error: error.or_else(|| {
                (!(200..300).contains(&status)).then(|| format!("answered HTTP {status}"))
            }),
            duration: began.elapsed(),
        }
    }

    /// The attempt's row, the event's new state and the endpoint's health,
    /// in one transaction; with `claim_next`, when the event went through,
    /// the endpoint's next due event is claimed in it too.
    async fn record(
        &self,
        event: &webhook_event::Model,
        outcome: &Outcome,
        claim_next: bool,
    ) -> Result<Option<Claimed>, DbErr> {
        let now = Utc::now();
        let attempt = event.attempts + 1;
        let txn = crate::db::begin_write(&self.db).await?;
        // The endpoint first, then the event: the order in which deleting
        // the endpoint takes them (its cascade), so the two wait for each
        // other instead of deadlocking (PostgreSQL would fail one of them:
        // a delete answered 500). SQLite has one writer and no row locks.
        let _: Option<uuid::Uuid> = webhook_endpoint::Entity::find_by_id(event.endpoint_id)
            .select_only()
            .column(webhook_endpoint::Column::Id)
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .into_tuple()
            .one(&txn)
            .await?;
        let mut update = webhook_event::Entity::update_many()
            .col_expr(webhook_event::Column::Attempts, Expr::value(attempt))
            .col_expr(
                webhook_event::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
        let retry = if outcome.succeeded() || !outcome.retryable() {
            None
        } else {
            retry_delay(
                &self.settings.retry_delays,
                usize::try_from(attempt).unwrap_or(usize::MAX),
            )
        };
        if outcome.succeeded() {
            update = update
                .col_expr(webhook_event::Column::Status, Expr::value(DELIVERED))
                .col_expr(webhook_event::Column::DeliveredAt, Expr::value(now));
        } else if let Some(wait) = retry {
            let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
            update = update.col_expr(webhook_event::Column::NextAttemptAt, Expr::value(next));
        } else {
            update = update.col_expr(webhook_event::Column::Status, Expr::value(FAILED));
        }
        // Only while the event is still ours: pending under the lease we
        // claimed. Once the lease ran out and another claim took it, that
        // claim records its own attempt; this one leaves no trace.
        let ours = update
            .filter(webhook_event::Column::Id.eq(event.id))
            .filter(webhook_event::Column::Status.eq(PENDING))
            .filter(webhook_event::Column::LeaseUntil.eq(event.lease_until))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !ours {
            tracing::debug!(
                event = event.id,
                "a webhook outcome came after its lease was taken over; not recorded"
            );
            txn.commit().await?;
            return Ok(None);
        }
        webhook_attempt::ActiveModel {
            tenant_id: Set(event.tenant_id),
            endpoint_id: Set(event.endpoint_id),
            event_row_id: Set(event.id),
            attempt: Set(attempt),
            attempted_at: Set(now),
            status_code: Set(outcome.status_code.map(i32::from)),
            duration_ms: Set(i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX)),
            response: Set(outcome.response.clone()),
            error: Set(outcome.error.as_ref().map(|e| truncate(e, 500))),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let mut next = None;
        if outcome.succeeded() {
            webhook_endpoint::Entity::update_many()
                .col_expr(
                    webhook_endpoint::Column::FailingSince,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(webhook_endpoint::Column::Id.eq(event.endpoint_id))
                .filter(webhook_endpoint::Column::FailingSince.is_not_null())
                .exec(&txn)
                .await?;
            if claim_next {
                next = claim_in(&txn, 1, self.lease(), Some(event.endpoint_id))
                    .await?
                    .pop();
            }
        } else {
            let mut health = webhook_endpoint::Entity::update_many().col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::from(Func::coalesce([
                    Expr::col(webhook_endpoint::Column::FailingSince),
                    Expr::value(now),
                ])),
            );
            if retry.is_none() {
                health = health.col_expr(webhook_endpoint::Column::FlaggedAt, Expr::value(now));
            }
            health
                .filter(webhook_endpoint::Column::Id.eq(event.endpoint_id))
                .exec(&txn)
                .await?;
            self.disable_if_failing_too_long(&txn, event, now).await?;
        }
        txn.commit().await?;
        Ok(next)
    }

    /// An endpoint whose every attempt failed for `disable_after` is
    /// disabled (its events wait, PENDING, until it is enabled again).
    async fn disable_if_failing_too_long(
        &self,
        txn: &impl ConnectionTrait,
        event: &webhook_event::Model,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        let limit = chrono::Duration::from_std(self.settings.disable_after)
            .unwrap_or(chrono::Duration::days(5));
        let reason = format!(
            "disabled by the platform: every delivery failed for {}",
            humantime_serde::re::humantime::format_duration(self.settings.disable_after)
        );
        let disabled = webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(reason.clone()),
            )
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.eq(event.endpoint_id))
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .filter(webhook_endpoint::Column::FailingSince.lte(now - limit))
            .exec(txn)
            .await?
            .rows_affected;
        if disabled > 0 {
            tracing::warn!(endpoint = %event.endpoint_id, tenant = %event.tenant_id, "webhook endpoint disabled after failing too long");
            audit::record(
                txn,
                &Actor::System,
                Some(TenantId::from(event.tenant_id)),
                "webhook.disabled",
                serde_json::json!({ "webhook": WebhookId::from(event.endpoint_id) }),
            )
            .await
            .map_err(|err| DbErr::Custom(err.message().to_owned()))?;
            // The owner is told, by the notice outbox, in this transaction.
            let url: Option<String> = webhook_endpoint::Entity::find_by_id(event.endpoint_id)
                .select_only()
                .column(webhook_endpoint::Column::Url)
                .into_tuple()
                .one(txn)
                .await?;
            crate::services::notifications::notices::queue(
                txn,
                TenantId::from(event.tenant_id),
                crate::services::notifications::notices::NoticeKind::WebhookDisabled,
                crate::services::notifications::notices::webhook_disabled(
                    url.as_deref().unwrap_or("(unknown)"),
                    &reason,
                ),
                now,
            )
            .await?;
        }
        Ok(())
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A transport error in a sentence, with its causes (refused addresses
/// come from our resolver).
fn describe(err: &reqwest::Error) -> String {
    use std::error::Error;
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: Option<u16>) -> Outcome {
        Outcome {
            status_code: code,
            response: None,
            error: None,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn only_later_saying_4xx_are_retried() {
        for code in [408, 409, 425, 429, 500, 502, 503, 301] {
            assert!(outcome(Some(code)).retryable(), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 413, 422] {
            assert!(!outcome(Some(code)).retryable(), "{code}");
        }
        assert!(outcome(None).retryable());
        assert!(outcome(Some(204)).succeeded());
        assert!(!outcome(Some(302)).succeeded());
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_and_end() {
        let delays = [Duration::from_secs(5), Duration::from_secs(300)];
        for _ in 0..100 {
            let first = retry_delay(&delays, 1).unwrap();
            assert!(first >= Duration::from_millis(4500) && first <= Duration::from_millis(5500));
        }
        let second = retry_delay(&delays, 2).unwrap();
        assert!(second >= Duration::from_secs(270) && second <= Duration::from_secs(330));
        assert_eq!(retry_delay(&delays, 3), None);
        assert_eq!(retry_delay(&delays, 0), None);
    }
}
