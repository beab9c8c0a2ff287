//! `flowhq bench --webhooks`: outbound webhooks from the served app to a
//! local receiver (an actix server on 127.0.0.1:0) that checks every
//! delivery's Standard Webhooks signature with the product's own
//! `signing::verify` and records, per endpoint, what came in what order.
//!
//! Each tenant has one endpoint (`message.received`, concurrency 1: strict
//! order); customers write through the sandbox service (`customer_writes`,
//! what the sandbox API calls), so every event comes from a message that
//! went through a real bot and the log writer. Two runs:
//! - sustained: messages at a fixed rate; deliveries/s against messages/s,
//!   and event created (the message received) → delivery received;
//! - catch-up: the receiver answers 503 while a backlog is produced, then
//!   answers again; the time to drain it, and nothing lost, out of order or
//!   badly signed.
//!
//! Must not: read the delivery worker's internals (only `DeliveryStats`).

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::served::Served;
use super::{figure, line, quantile};
use crate::config::Settings;
use crate::domain::ids::{TenantId, WebhookId};
use crate::services::audit::Actor;
use crate::services::sandbox::{self, CustomerDraft};
use crate::services::webhooks::{self, NewEndpoint, signing};
use crate::state::AppState;

#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// Measure outbound webhooks on the served app.
    #[arg(long)]
    pub webhooks: bool,
    /// Tenants with a running sandbox bot and one endpoint each.
    #[arg(long, default_value_t = 100)]
    pub webhook_tenants: u32,
    /// Messages/s the bots receive in the sustained run…
    #[arg(long, default_value_t = 200)]
    pub webhook_rate: u32,
    /// …for this many seconds.
    #[arg(long, default_value_t = 10)]
    pub webhook_seconds: u32,
    /// The catch-up run: the receiver is down for what this many seconds
    /// of `webhook_rate` produce (made as fast as the bots take them), then
    /// drains them while that rate goes on.
    #[arg(long, default_value_t = 600)]
    pub webhook_outage_seconds: u32,
    /// Deliveries in flight at once (`webhooks.max_in_flight`); the
    /// product's default when not given.
    #[arg(long)]
    pub webhook_max_in_flight: Option<std::num::NonZeroU32>,
}

/// The bench's retry schedule (production: 5 s, 5 min, 30 min, … over a
/// day): short waits, so the catch-up starts within seconds of the
/// receiver's return, then 5 s ones for an hour in all, so that no event
/// runs out of attempts while the backlog is produced. (It was 84 s in
/// all: on PostgreSQL, where making a 10-minute backlog takes minutes,
/// heads ran out of attempts and the bench counted them lost.)
const RETRY_DELAYS_MS: [u64; 4] = [200, 500, 1000, 2000];
const RETRY_THEN_MS: u64 = 5000;
const RETRY_FOR: Duration = Duration::from_secs(3600);

fn retry_delays() -> Vec<Duration> {
    let first = RETRY_DELAYS_MS.iter().map(|ms| Duration::from_millis(*ms));
    let then = Duration::from_millis(RETRY_THEN_MS);
    let more = RETRY_FOR.as_millis() / u128::from(RETRY_THEN_MS);
    first
        .chain(std::iter::repeat_n(
            then,
            usize::try_from(more).unwrap_or(0),
        ))
        .collect()
}
/// How often the worker looks for due retries (production: 1 s).
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Signatures older or newer than this are refused (the spec's tolerance).
const TIMESTAMP_TOLERANCE_S: i64 = 300;

pub(super) async fn run(
    base: &Settings,
    server_url: Option<&str>,
    args: &WebhookArgs,
) -> anyhow::Result<()> {
    println!(
        "\nOutbound webhooks: {} tenants, one message.received endpoint each (concurrency 1)",
        args.webhook_tenants
    );
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let receiver_address = listener.local_addr()?;
    let served = Served::start(base, server_url, args.webhook_tenants.max(1), |settings| {
        // The receiver is on loopback.
        settings.webhooks.allow_private_targets = true;
        settings.webhooks.retry_delays = retry_delays();
        settings.webhooks.poll_interval = POLL_INTERVAL;
        if let Some(max) = args.webhook_max_in_flight {
            settings.webhooks.max_in_flight = max;
        }
    })
    .await?;
    let result = measure(&served, listener, receiver_address, args).await;
    served.stop().await;
    result
}

async fn measure(
    served: &Served,
    listener: TcpListener,
    address: std::net::SocketAddr,
    args: &WebhookArgs,
) -> anyhow::Result<()> {
    let mut keys = Vec::with_capacity(served.tenants.len());
    let mut endpoints = Vec::with_capacity(served.tenants.len());
    for (n, tenant) in served.tenants.iter().enumerate() {
        let created = webhooks::create(
            &served.state.db,
            &served.state.master_key,
            served.state.webhook_policy(),
            &Actor::System,
            *tenant,
            &NewEndpoint {
                url: format!("http://{address}/hook/{n}"),
                events: vec!["message.received".to_owned()],
                enabled: None,
                concurrency: None,
            },
        )
        .await
        .map_err(|err| anyhow::anyhow!("creating a webhook endpoint: {err}"))?;
        let key = signing::key_bytes(&SecretString::from(created.secret))
            .ok_or_else(|| anyhow::anyhow!("a new endpoint's secret is not whsec_…"))?;
        keys.push(key);
        endpoints.push(created.endpoint.id);
    }
    let receiver = Arc::new(Receiver {
        up: AtomicBool::new(true),
        keys,
        ledger: Mutex::new(Ledger::new(served.tenants.len())),
    });
    let data = web::Data::from(receiver.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/hook/{n}", web::post().to(hook))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    let result = runs(served, &receiver, &endpoints, args).await;
    handle.stop(true).await;
    let _ = task.await;
    result
}

async fn runs(
    served: &Served,
    receiver: &Receiver,
    endpoints: &[WebhookId],
    args: &WebhookArgs,
) -> anyhow::Result<()> {
    let sustained = sustained(served, receiver, args).await?;
    let catch_up = catch_up(served, receiver, endpoints, args).await?;

    println!();
    figure(
        "  deliveries in flight at once (webhooks.max_in_flight)",
        args.webhook_max_in_flight
            .map_or_else(|| "the default".to_owned(), |n| n.to_string()),
    );
    figure(
        "  retry waits (bench setting) / due retries polled every",
        format!(
            "{} ms, {} ms, 1 s, 2 s, then 5 s / {} ms",
            RETRY_DELAYS_MS[0],
            RETRY_DELAYS_MS[1],
            POLL_INTERVAL.as_millis()
        ),
    );
    figure(
        &format!(
            "sustained: messages/s through the bots ({} s)",
            args.webhook_seconds
        ),
        format!("{:.0} msg/s", sustained.messages_per_s),
    );
    figure(
        "sustained: message.received deliveries/s",
        format!("{:.0} /s", sustained.deliveries_per_s),
    );
    let share =
        sustained.deliveries_per_s / sustained.messages_per_s.max(f64::MIN_POSITIVE) * 100.0;
    line(
        "  deliveries/s vs messages/s (same run)",
        format!("{share:.0} %"),
        ">= 95 %",
        share >= 95.0,
    );
    figure(
        "  event created → received: p50",
        format!("{:.1} ms", ms(sustained.p50)),
    );
    line(
        "  event created → received: p99",
        format!("{:.1} ms", ms(sustained.p99)),
        "<= 1000 ms",
        sustained.p99 <= Duration::from_secs(1),
    );
    line(
        "  events not received",
        format!("{} of {}", sustained.missing, sustained.messages),
        "0",
        sustained.missing == 0,
    );
    let outage = Duration::from_secs(u64::from(args.webhook_outage_seconds.max(1)));
    figure(
        &format!(
            "catch-up: {} s down at {} msg/s = {} events, produced while it answered 503 in",
            outage.as_secs(),
            args.webhook_rate,
            catch_up.events
        ),
        format!("{:.2} s", catch_up.produced_in.as_secs_f64()),
    );
    figure(
        "  failed attempts while it was down",
        format!("{}", catch_up.failed_attempts),
    );
    line(
        &format!(
            "  time to drain once it answers again ({} more events came meanwhile)",
            catch_up.live
        ),
        format!("{:.2} s", catch_up.drain.as_secs_f64()),
        &format!("< {} s (the outage)", outage.as_secs()),
        catch_up.drain < outage,
    );
    figure(
        "  drain rate (backlog and new events) / rate coming in",
        format!(
            "{:.0} /s / {} /s",
            (catch_up.events + catch_up.live) as f64
                / catch_up.drain.as_secs_f64().max(f64::MIN_POSITIVE),
            args.webhook_rate
        ),
    );
    line(
        "  lost (not received; FAILED in the queue)",
        format!("{} ({} FAILED)", catch_up.lost, catch_up.failed_rows),
        "0",
        catch_up.lost == 0 && catch_up.failed_rows == 0,
    );
    let ledger = receiver.lock();
    line(
        "out of order (both runs, per endpoint)",
        format!("{}", ledger.out_of_order),
        "0",
        ledger.out_of_order == 0,
    );
    line(
        "bad signatures (both runs)",
        format!("{}", ledger.bad_signatures),
        "0",
        ledger.bad_signatures == 0,
    );
    figure(
        "deliveries received twice (same webhook-id)",
        format!("{}", ledger.duplicates),
    );
    println!(
        "(messages written through the sandbox service into running bots; webhooks.allow_private_targets = true for the loopback receiver)"
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Sustained {
    messages: u64,
    messages_per_s: f64,
    deliveries_per_s: f64,
    missing: u64,
    p50: Duration,
    p99: Duration,
}

/// `webhook_rate` messages/s for `webhook_seconds`, each to the next
/// tenant in turn; waits (up to 60 s) for their events.
async fn sustained(
    served: &Served,
    receiver: &Receiver,
    args: &WebhookArgs,
) -> anyhow::Result<Sustained> {
    let total = args.webhook_rate.max(1) * args.webhook_seconds.max(1);
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.webhook_rate.max(1)));
    let received0 = receiver.lock().received;
    let mut set = tokio::task::JoinSet::new();
    let begin = tokio::time::Instant::now();
    for k in 0..total {
        tokio::time::sleep_until(begin + interval * k).await;
        let tenant = served.tenants[k as usize % served.tenants.len()];
        spawn_write(&mut set, served, tenant, "sustained", u64::from(k));
    }
    let fed = begin.elapsed();
    while let Some(done) = set.join_next().await {
        done??;
    }
    let expected = received0 + u64::from(total);
    let last = receiver.wait_for(expected, Duration::from_secs(60)).await;
    let ledger = receiver.lock();
    let received = ledger.received - received0;
    let span = last.map_or(fed, |at| at.duration_since(begin.into_std()));
    let mut latencies = ledger.latencies.clone();
    latencies.sort();
    Ok(Sustained {
        messages: u64::from(total),
        messages_per_s: f64::from(total) / fed.as_secs_f64(),
        deliveries_per_s: received as f64 / span.as_secs_f64().max(f64::MIN_POSITIVE),
        missing: u64::from(total).saturating_sub(received),
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
    })
}

struct CatchUp {
    /// The backlog: made while the receiver was down.
    events: u64,
    produced_in: Duration,
    failed_attempts: u64,
    /// Made at `webhook_rate` while the backlog drained.
    live: u64,
    drain: Duration,
    lost: u64,
    failed_rows: u64,
}

/// The receiver answers 503 while `webhook_rate` × `webhook_outage_seconds`
/// messages come in (at least 2 s, so the worker meets it), then 2xx again
/// while messages go on coming at `webhook_rate`: drained when it has
/// received everything made so far (waits up to 30 min).
async fn catch_up(
    served: &Served,
    receiver: &Receiver,
    endpoints: &[WebhookId],
    args: &WebhookArgs,
) -> anyhow::Result<CatchUp> {
    let rate = args.webhook_rate.max(1);
    let total = u64::from(rate) * u64::from(args.webhook_outage_seconds.max(1));
    let failed0 = served.webhook_stats.failed_attempts.load(Ordering::Relaxed);
    let received0 = receiver.lock().received;
    receiver.up.store(false, Ordering::Relaxed);
    let began = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    // Every business at once, each one's messages one after another (the
    // next written once the last is stored): a business's messages then
    // have an order of their own, which its endpoint must keep (messages
    // written side by side have none).
    let step = served.tenants.len() as u64;
    for (first, tenant) in served.tenants.iter().enumerate() {
        let (state, tenant) = (served.state.clone(), *tenant);
        set.spawn(async move {
            let mut k = first as u64;
            while k < total {
                write(&state, tenant, "backlog", k).await?;
                k += step;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    // Stored with their events (one transaction) once each write returned.
    let produced_in = began.elapsed();
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(produced_in)).await;
    let failed_attempts = served.webhook_stats.failed_attempts.load(Ordering::Relaxed) - failed0;
    receiver.up.store(true, Ordering::Relaxed);
    let up_at = tokio::time::Instant::now();
    // The load goes on: one message every 1/rate s, each stored (with its
    // event) before it counts as made.
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let limit = Duration::from_secs(1800);
    let mut made = 0u64;
    let mut check = tokio::time::interval(Duration::from_millis(20));
    // Whether the drain keeps its pace as the backlog shrinks: what came
    // in each 10 s, and what was left.
    let mut progress = tokio::time::interval_at(up_at + PROGRESS_EVERY, PROGRESS_EVERY);
    let mut received_before = receiver.lock().received;
    let drain = loop {
        let next = up_at + interval * u32::try_from(made).unwrap_or(u32::MAX);
        tokio::select! {
            () = tokio::time::sleep_until(next) => {
                let tenant = served.tenants[made as usize % served.tenants.len()];
                spawn_write(&mut set, served, tenant, "live", made);
                made += 1;
            }
            Some(done) = set.join_next(), if !set.is_empty() => done??,
            _ = check.tick() => {
                let stored = made - set.len() as u64;
                if receiver.lock().received - received0 >= total + stored {
                    break up_at.elapsed();
                }
            }
            _ = progress.tick() => {
                let received = receiver.lock().received;
                let left = (total + made).saturating_sub(received - received0);
                println!(
                    "    after {:>4.0} s: {:.0} deliveries/s in the last {} s, {left} events left",
                    up_at.elapsed().as_secs_f64(),
                    (received - received_before) as f64 / PROGRESS_EVERY.as_secs_f64(),
                    PROGRESS_EVERY.as_secs()
                );
                received_before = received;
            }
        }
        if up_at.elapsed() > limit {
            break up_at.elapsed();
        }
    };
    while let Some(done) = set.join_next().await {
        done??;
    }
    receiver
        .wait_for(received0 + total + made, Duration::from_secs(60))
        .await;
    let received = receiver.lock().received - received0;
    let mut failed_rows = 0;
    for endpoint in endpoints {
        failed_rows += webhooks::queue_counts(&served.state.db, *endpoint)
            .await?
            .failed;
    }
    Ok(CatchUp {
        events: total,
        produced_in,
        failed_attempts,
        live: made,
        drain,
        lost: (total + made).saturating_sub(received),
        failed_rows,
    })
}

/// How often the catch-up prints its pace.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// `write` in a task of `set`.
fn spawn_write(
    set: &mut tokio::task::JoinSet<anyhow::Result<()>>,
    served: &Served,
    tenant: TenantId,
    run: &'static str,
    k: u64,
) {
    let state = served.state.clone();
    set.spawn(async move { write(&state, tenant, run, k).await });
}

/// A customer of `tenant` writes message `k` of `run` to its bot, through
/// the sandbox service (stored, then handed to the running bot); returns
/// once stored. Its WhatsApp id is zero-padded: a business's rows of one
/// log batch get their ids in WhatsApp-id order (the writer's
/// deadlock-free insert order), so they sort as they were sent.
async fn write(state: &AppState, tenant: TenantId, run: &str, k: u64) -> anyhow::Result<()> {
    let id = format!("{run}-{k:09}");
    let draft = CustomerDraft {
        from: "+4917000000001".to_owned(),
        text: format!("order status {id}"),
        id: Some(id),
        ..CustomerDraft::default()
    };
    sandbox::customer_writes(
        &state.db,
        state.bots.as_ref(),
        state.sandbox.as_ref(),
        tenant,
        draft,
    )
    .await
    .map(drop)
    .map_err(|err| anyhow::anyhow!("a sandbox customer's message was refused: {err}"))
}

/// The local receiver: up (2xx) or down (503), the endpoints' keys by
/// their index in the URL, and what came in.
struct Receiver {
    up: AtomicBool,
    keys: Vec<Vec<u8>>,
    ledger: Mutex<Ledger>,
}

impl Receiver {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `count` distinct events were received, or `limit`;
    /// answers when the last one came in, if they all did.
    async fn wait_for(&self, count: u64, limit: Duration) -> Option<Instant> {
        let began = Instant::now();
        loop {
            {
                let ledger = self.lock();
                if ledger.received >= count {
                    return ledger.last_at;
                }
            }
            if began.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// What the receiver saw.
struct Ledger {
    /// Per endpoint: the highest message id received, and the webhook ids.
    last_message: Vec<i64>,
    seen: Vec<HashSet<String>>,
    /// Distinct events received.
    received: u64,
    last_at: Option<Instant>,
    duplicates: u64,
    out_of_order: u64,
    bad_signatures: u64,
    /// Event created (its envelope's timestamp) → received.
    latencies: Vec<Duration>,
}

impl Ledger {
    fn new(endpoints: usize) -> Self {
        Self {
            last_message: vec![i64::MIN; endpoints],
            seen: vec![HashSet::new(); endpoints],
            received: 0,
            last_at: None,
            duplicates: 0,
            out_of_order: 0,
            bad_signatures: 0,
            latencies: Vec::new(),
        }
    }

    /// One correctly signed delivery to `endpoint`. An endpoint's events
    /// are its tenant's messages in the order they were logged: their
    /// message ids must only grow.
    fn record(&mut self, endpoint: usize, webhook_id: &str, message_id: i64, latency: Duration) {
        let (Some(seen), Some(last)) = (
            self.seen.get_mut(endpoint),
            self.last_message.get_mut(endpoint),
        ) else {
            self.bad_signatures += 1;
            return;
        };
        if !seen.insert(webhook_id.to_owned()) {
            self.duplicates += 1;
            return;
        }
        if message_id < *last {
            self.out_of_order += 1;
        }
        *last = (*last).max(message_id);
        self.received += 1;
        self.last_at = Some(Instant::now());
        self.latencies.push(latency);
    }
}

/// The part of an envelope the receiver reads.
#[derive(serde::Deserialize)]
struct Envelope {
    timestamp: DateTime<Utc>,
    data: EventData,
}

#[derive(serde::Deserialize)]
struct EventData {
    message_id: i64,
}

async fn hook(
    endpoint: web::Path<usize>,
    request: HttpRequest,
    body: web::Bytes,
    receiver: web::Data<Receiver>,
) -> HttpResponse {
    if !receiver.up.load(Ordering::Relaxed) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let endpoint = endpoint.into_inner();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, signature) = (header("webhook-id"), header("webhook-signature"));
    let timestamp: Option<i64> = header("webhook-timestamp").parse().ok();
    let now = Utc::now();
    let signed = match (receiver.keys.get(endpoint), timestamp) {
        (Some(key), Some(ts)) => {
            (now.timestamp() - ts).abs() <= TIMESTAMP_TOLERANCE_S
                && signing::verify(key, &id, ts, &body, &signature)
        }
        _ => false,
    };
    let envelope: Option<Envelope> = serde_json::from_slice(&body).ok();
    let mut ledger = receiver.lock();
    match envelope {
        Some(envelope) if signed => {
            let latency = (now - envelope.timestamp).to_std().unwrap_or_default();
            ledger.record(endpoint, &id, envelope.data.message_id, latency);
            HttpResponse::NoContent().finish()
        }
        _ => {
            ledger.bad_signatures += 1;
            HttpResponse::Unauthorized().finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_receiver_counts_repeats_and_messages_out_of_order() {
        let mut ledger = Ledger::new(2);
        ledger.record(0, "msg_a", 10, Duration::ZERO);
        ledger.record(0, "msg_b", 12, Duration::ZERO);
        ledger.record(1, "msg_c", 11, Duration::ZERO);
        ledger.record(0, "msg_b", 12, Duration::ZERO);
        ledger.record(0, "msg_d", 11, Duration::ZERO);
        ledger.record(5, "msg_e", 1, Duration::ZERO);
        assert_eq!(ledger.received, 4);
        assert_eq!(ledger.duplicates, 1);
        assert_eq!(ledger.out_of_order, 1);
        assert_eq!(ledger.bad_signatures, 1);
    }
}
