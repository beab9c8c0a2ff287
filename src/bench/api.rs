//! `flowhq bench --api`: the tenant API (`/api/v1`) over HTTP on the served
//! app, each tenant with an API key made by `services::api_keys`.
//!
//! Two figures: the throughput of `GET /api/v1/status` from concurrent
//! clients whose requests are spread over 50 keys, against the same with
//! one key (per-key verification and limiting should cost nothing: the
//! ratio is ~100 %); and the latency of `POST /api/v1/messages` (with an
//! `Idempotency-Key`) at a fixed offered rate to running sandbox bots,
//! timed from each request's scheduled start (so a slow answer delays no
//! later request's clock), plus how long until the bot sent it.
//!
//! Must not: touch the app's state but to create keys and read outboxes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::served::{BENCH_API_RATE_PER_MINUTE, Served};
use super::{figure, line, quantile};
use crate::config::Settings;
use crate::domain::ids::TenantId;
use crate::services::api_keys::{self, NewKey, NewKeyInput};
use crate::services::audit::Actor;

#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// Measure the tenant API (/api/v1) on the served app.
    #[arg(long)]
    pub api: bool,
    /// Tenants of the API run, each with a running sandbox bot and a key.
    #[arg(long, default_value_t = 1_000)]
    pub api_tenants: u32,
    /// Concurrent clients of the read throughput runs…
    #[arg(long, default_value_t = 32)]
    pub api_clients: u32,
    /// …each run lasting this many seconds.
    #[arg(long, default_value_t = 5)]
    pub api_seconds: u32,
    /// Offered sends/s of the POST /api/v1/messages latency run…
    #[arg(long, default_value_t = 200)]
    pub api_rate: u32,
    /// …for this many seconds.
    #[arg(long, default_value_t = 10)]
    pub api_send_seconds: u32,
}

/// Keys the "spread" throughput run spreads its requests over.
const SPREAD_KEYS: usize = 50;

/// A tenant and its key (the secret, as a client holds it).
struct Key {
    tenant: TenantId,
    secret: String,
}

pub(super) async fn run(
    base: &Settings,
    server_url: Option<&str>,
    args: &ApiArgs,
) -> anyhow::Result<()> {
    println!(
        "\nTenant API: {} tenants with a running sandbox bot and an API key each",
        args.api_tenants
    );
    let served = Served::start(base, server_url, args.api_tenants.max(1), |_| {}).await?;
    let result = measure(&served, args).await;
    served.stop().await;
    result
}

async fn measure(served: &Served, args: &ApiArgs) -> anyhow::Result<()> {
    let keys = create_keys(served).await?;
    // Keys of one tenant: against one key, the only difference is the
    // key's verification (the tenant's rows read are the same).
    let first = served
        .tenants
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no tenant to create keys for"))?;
    let mut own_keys = Vec::with_capacity(SPREAD_KEYS);
    for _ in 0..SPREAD_KEYS {
        own_keys.push(create_key(served, first).await?.secret);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.api_clients as usize)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{}/api/v1/status", served.base_url());
    let spread: Vec<&str> = keys
        .iter()
        .take(SPREAD_KEYS)
        .map(|k| k.secret.as_str())
        .collect();
    let one: Vec<&str> = spread.iter().take(1).copied().collect();
    let one_tenants: Vec<&str> = own_keys.iter().map(String::as_str).collect();
    let seconds = Duration::from_secs(u64::from(args.api_seconds.max(1)));
    // Warm-up (connections, caches), then the two cases twice, interleaved,
    // so a neighbour's load on the cores falls on both alike.
    reads(
        &client,
        &url,
        &spread,
        args.api_clients,
        Duration::from_secs(1),
    )
    .await?;
    let mut spread_runs = Reads::default();
    let mut own_runs = Reads::default();
    let mut one_runs = Reads::default();
    for _ in 0..2 {
        spread_runs.add(&reads(&client, &url, &spread, args.api_clients, seconds).await?);
        own_runs.add(&reads(&client, &url, &one_tenants, args.api_clients, seconds).await?);
        one_runs.add(&reads(&client, &url, &one, args.api_clients, seconds).await?);
    }
    let sends = sends(served, &client, &keys, args).await?;

    println!();
    figure(
        "  per-key rate limit lifted: plan BENCH",
        format!("{BENCH_API_RATE_PER_MINUTE} req/min"),
    );
    let (spread_rate, own_rate, one_rate) = (spread_runs.rate(), own_runs.rate(), one_runs.rate());
    figure(
        &format!("GET /api/v1/status, {} clients, 1 key", args.api_clients),
        format!("{one_rate:.0} req/s"),
    );
    figure(
        &format!(
            "GET /api/v1/status, {} clients, {} keys of 1 tenant",
            args.api_clients,
            one_tenants.len()
        ),
        format!("{own_rate:.0} req/s"),
    );
    let ratio = own_rate / one_rate.max(f64::MIN_POSITIVE) * 100.0;
    line(
        &format!(
            "  {} keys vs 1 key, same tenant (key verification)",
            one_tenants.len()
        ),
        format!("{ratio:.0} %"),
        ">= 90 %",
        ratio >= 90.0,
    );
    figure(
        &format!(
            "GET /api/v1/status, {} clients, {} keys of {} tenants",
            args.api_clients,
            spread.len(),
            spread.len()
        ),
        format!("{spread_rate:.0} req/s"),
    );
    figure(
        "  vs 1 key (also reads other tenants' rows)",
        format!(
            "{:.0} %",
            spread_rate / one_rate.max(f64::MIN_POSITIVE) * 100.0
        ),
    );
    let errors = spread_runs.errors + own_runs.errors + one_runs.errors;
    line(
        "  status reads not answered 200",
        format!("{errors}"),
        "0",
        errors == 0,
    );
    let label = format!(
        "POST /api/v1/messages at {:.0} req/s offered",
        sends.offered
    );
    figure(&format!("{label}: p50"), format!("{:.1} ms", ms(sends.p50)));
    line(
        &format!("{label}: p99"),
        format!("{:.1} ms", ms(sends.p99)),
        "<= 50 ms",
        sends.p99 <= Duration::from_millis(50),
    );
    let refused: u64 = sends
        .statuses
        .iter()
        .filter(|(code, _)| **code != 202)
        .map(|(_, n)| n)
        .sum();
    line(
        "  sends not answered 202",
        if refused == 0 {
            "0".to_owned()
        } else {
            format!("{refused} {:?}", sends.statuses)
        },
        "0",
        refused == 0,
    );
    figure(
        "  accepted → sent by the sandbox bot: p50 / p99",
        format!("{:.1} / {:.1} ms", ms(sends.sent_p50), ms(sends.sent_p99)),
    );
    line(
        "  accepted sends the bots sent",
        format!("{} of {}", sends.sent, sends.accepted),
        "all",
        sends.sent == sends.accepted,
    );
    println!(
        "(the API over HTTP/1.1 keep-alive from this process; sends carry an Idempotency-Key and go to running sandbox bots)"
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One key per tenant, made as an owner's portal makes them.
async fn create_keys(served: &Served) -> anyhow::Result<Vec<Key>> {
    let mut keys = Vec::with_capacity(served.tenants.len());
    for tenant in &served.tenants {
        keys.push(create_key(served, *tenant).await?);
    }
    Ok(keys)
}

/// A key of `tenant` that reads conversations and sends messages.
async fn create_key(served: &Served, tenant: TenantId) -> anyhow::Result<Key> {
    let new = NewKey::parse(
        &NewKeyInput {
            name: "bench".to_owned(),
            scopes: vec!["conversations:read".to_owned(), "messages:send".to_owned()],
            expires_at: None,
        },
        Utc::now(),
    )
    .map_err(|err| anyhow::anyhow!("{err}"))?;
    let created = api_keys::create(&served.state.db, &Actor::System, tenant, &new)
        .await
        .map_err(|err| anyhow::anyhow!("creating an API key: {err}"))?;
    Ok(Key {
        tenant,
        secret: created.key,
    })
}

/// Requests answered, those not answered 200, and the time they took.
#[derive(Default)]
struct Reads {
    requests: u64,
    errors: u64,
    elapsed: Duration,
}

impl Reads {
    fn add(&mut self, other: &Self) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// `clients` clients GET `url` back to back for `length`; client `c`'s
/// `i`-th request uses key `(c + i) % keys.len()`.
async fn reads(
    client: &reqwest::Client,
    url: &str,
    keys: &[&str],
    clients: u32,
    length: Duration,
) -> anyhow::Result<Reads> {
    let requests = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let until = began + length;
    let mut set = tokio::task::JoinSet::new();
    for c in 0..clients as usize {
        let (client, url) = (client.clone(), url.to_owned());
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let (requests, errors) = (requests.clone(), errors.clone());
        set.spawn(async move {
            let mut i = c;
            while Instant::now() < until {
                let key = &keys[i % keys.len()];
                let ok = match client.get(&url).bearer_auth(key).send().await {
                    Ok(response) => {
                        let ok = response.status() == reqwest::StatusCode::OK;
                        response.bytes().await.is_ok() && ok
                    }
                    Err(_) => false,
                };
                requests.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done?;
    }
    Ok(Reads {
        requests: requests.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed: began.elapsed(),
    })
}

struct Sends {
    offered: f64,
    p50: Duration,
    p99: Duration,
    /// Answers by HTTP status (0: no answer).
    statuses: BTreeMap<u16, u64>,
    accepted: u64,
    sent: u64,
    sent_p50: Duration,
    sent_p99: Duration,
}

/// `api_rate` sends/s for `api_send_seconds`, each to its own customer of
/// the next tenant in turn, each with a fresh `Idempotency-Key`.
async fn sends(
    served: &Served,
    client: &reqwest::Client,
    keys: &[Key],
    args: &ApiArgs,
) -> anyhow::Result<Sends> {
    let stats = served.registry.writer().stats();
    let sent0 = stats.sent.load(Ordering::Relaxed);
    let total = args.api_rate.max(1) * args.api_send_seconds.max(1);
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.api_rate.max(1)));
    let url = format!("{}/api/v1/messages", served.base_url());
    let mut scheduled: HashMap<(TenantId, String), chrono::DateTime<Utc>> = HashMap::new();
    let mut set = tokio::task::JoinSet::new();
    let begin = tokio::time::Instant::now();
    for k in 0..total {
        // Paced by the clock; each request on its own task (open loop).
        let at = begin + interval * k;
        tokio::time::sleep_until(at).await;
        let key = &keys[k as usize % keys.len()];
        let to = format!("+4917{k:09}");
        scheduled.insert((key.tenant, to.clone()), Utc::now());
        let request = client
            .post(&url)
            .bearer_auth(&key.secret)
            .header("Idempotency-Key", format!("bench-{k}"))
            .json(&serde_json::json!({ "to": to, "text": format!("Your order {k} has shipped.") }));
        set.spawn(async move {
            let status = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            (status, at.elapsed())
        });
    }
    let offered = f64::from(total) / begin.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(total as usize);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (status, took) = done?;
        *statuses.entry(status).or_default() += 1;
        latencies.push(took);
    }
    latencies.sort();
    let accepted = statuses.get(&202).copied().unwrap_or(0);
    // Then until the bots sent what was accepted (or 60 s).
    let waited = Instant::now();
    while stats.sent.load(Ordering::Relaxed) < sent0 + accepted
        && waited.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut sent_latencies = Vec::with_capacity(total as usize);
    let tenants: std::collections::HashSet<TenantId> =
        scheduled.keys().map(|(tenant, _)| *tenant).collect();
    for tenant in tenants {
        for entry in served.state.sandbox.outbox(tenant) {
            if let Some(at) = scheduled.get(&(tenant, entry.to.clone())) {
                sent_latencies.push((entry.sent_at - *at).to_std().unwrap_or_default());
            }
        }
    }
    sent_latencies.sort();
    Ok(Sends {
        offered,
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
        statuses,
        accepted,
        sent: sent_latencies.len() as u64,
        sent_p50: quantile(&sent_latencies, 0.50),
        sent_p99: quantile(&sent_latencies, 0.99),
    })
}
