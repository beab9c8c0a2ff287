//! `flowhq bench`: the load benchmark of the bot runtime. It boots the real
//! registry (the same code `serve` runs) on a scratch database, starts N
//! linked sandbox bots, drives messages through the whole pipeline and prints
//! the figures the README quotes, each next to its target where it has one.
//!
//! `--api` and `--webhooks` add the tenant API and the outbound webhooks,
//! each on the whole served app (`served`); `--skip-runtime` leaves out the
//! runtime figures above so those parts run alone.
//!
//! Nothing here is used by `serve`; it only reads the runtime from outside.
mod api;
mod inbox;
mod replies;
mod served;
mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use entity::enums::{
    DesiredState, Direction, MessageStatus, SessionState, TemplateType, TenantStatus,
    TransportKind, WorkerStatus,
};
use entity::{message_log, tenant, tenant_config, whatsapp_session, worker_process};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::bots::BotRegistry;
use crate::bots::deps::TransportHubs;
use crate::bots::transport::InboundMessage;
use crate::bots::transport::cloud_api::CloudHub;
use crate::bots::transport::sandbox::{SandboxError, SandboxHub};
use crate::config::Settings;
use crate::crypto::MasterKey;
use crate::db;
use crate::domain::hours::BusinessHours;
use crate::domain::ids::TenantId;
use crate::services::runtime::worker::BotIntent;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Bots to start.
    #[arg(long, default_value_t = 10_000)]
    pub tenants: u32,
    /// Messages for the throughput run.
    #[arg(long, default_value_t = 200_000)]
    pub messages: u32,
    /// Distinct customer chats per tenant in the throughput run.
    #[arg(long, default_value_t = 4)]
    pub chats_per_tenant: u32,
    /// Offered load (messages/s) of the latency run…
    #[arg(long, default_value_t = 5_000)]
    pub rate: u32,
    /// …for this many seconds (long enough to include the WAL's own
    /// checkpoints on SQLite, which come every few seconds at that load).
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
    /// Rows for the raw batched insert comparison.
    #[arg(long, default_value_t = 200_000)]
    pub raw_rows: u32,
    /// Conversations of the one tenant whose inbox is timed…
    #[arg(long, default_value_t = 100_000)]
    pub inbox_conversations: u32,
    /// …and its messages (0 skips the inbox figures).
    #[arg(long, default_value_t = 10_000_000)]
    pub inbox_messages: u64,
    /// FAQ entries of the tenant whose reply engine is timed…
    #[arg(long, default_value_t = 500)]
    pub reply_faq: usize,
    /// …its services…
    #[arg(long, default_value_t = 200)]
    pub reply_services: usize,
    /// …and the messages answered (0 skips the reply engine figures).
    #[arg(long, default_value_t = 200_000)]
    pub reply_iterations: usize,
    /// Database: a scratch SQLite file by default; a postgres:// server URL
    /// gets a fresh database created (and dropped afterwards) on it.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Leave out the runtime figures (bots, throughput, latency, inbox,
    /// reply engine): run only `--api` and/or `--webhooks`.
    #[arg(long)]
    pub skip_runtime: bool,
    #[command(flatten)]
    pub api: api::ApiArgs,
    #[command(flatten)]
    pub webhooks: webhooks::WebhookArgs,
}

/// The scratch database, removed when the benchmark ends.
enum Scratch {
    Sqlite(std::path::PathBuf),
    Postgres { server: String, name: String },
}

impl Scratch {
    async fn create(server: Option<&str>) -> anyhow::Result<(Self, String)> {
        match server {
            Some(url) if url.starts_with("postgres") => {
                let name = format!("flowhq_bench_{}", Uuid::new_v4().simple());
                let conn = Database::connect(url).await?;
                conn.execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
                    .await?;
                conn.close().await?;
                let mut db_url = url::Url::parse(url)?;
                db_url.set_path(&name);
                Ok((
                    Self::Postgres {
                        server: url.to_owned(),
                        name,
                    },
                    db_url.to_string(),
                ))
            }
            Some(url) => anyhow::bail!(
                "--database-url must be a postgres:// URL (SQLite is the default), got {url}"
            ),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("flowhq-bench-{}", Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}", dir.join("bench.db").display());
                Ok((Self::Sqlite(dir), url))
            }
        }
    }

    async fn remove(self) {
        match self {
            Self::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres { server, name } => {
                if let Ok(conn) = Database::connect(&server).await {
                    let _ = conn
                        .execute_unprepared(&format!(
                            r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                        ))
                        .await;
                    let _ = conn.close().await;
                }
            }
        }
    }
}

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn line(label: &str, value: String, target: &str, ok: bool) {
    let mark = if ok { "ok" } else { "MISSED" };
    println!("{label:<56} {value:>22}   target {target:<16} {mark}");
}

/// A figure without a target of its own (context for the others).
fn figure(label: &str, value: String) {
    println!("{label:<56} {value:>22}");
}

pub async fn run(base: Settings, args: BenchArgs) -> anyhow::Result<()> {
    if args.skip_runtime && !args.api.api && !args.webhooks.webhooks {
        anyhow::bail!("--skip-runtime leaves nothing to run: add --api and/or --webhooks");
    }
    if !args.skip_runtime {
        let (scratch, url) = Scratch::create(args.database_url.as_deref()).await?;
        let result = bench(base.clone(), &args, &url).await;
        scratch.remove().await;
        result?;
    }
    // Each on an app of its own, on its own scratch database.
    if args.api.api {
        api::run(&base, args.database_url.as_deref(), &args.api).await?;
    }
    if args.webhooks.webhooks {
        webhooks::run(&base, args.database_url.as_deref(), &args.webhooks).await?;
    }
    Ok(())
}

async fn bench(base: Settings, args: &BenchArgs, url: &str) -> anyhow::Result<()> {
    let mut settings = Settings::for_tests(url);
    settings.database.max_connections = base.database.max_connections.max(8);
    settings.database.sqlite_cache_mib = base.database.sqlite_cache_mib;
    // The writer's batching follows the configuration, to compare settings.
    settings.bots.log_batch_size = base.bots.log_batch_size;
    settings.bots.log_flush_interval = base.bots.log_flush_interval;
    // Shutdown is measured against the configured drain.
    settings.bots.drain_timeout = base.bots.drain_timeout;
    // Heartbeats and reconciles are driven by hand below.
    settings.bots.heartbeat_interval = Duration::from_secs(3600);
    settings.bots.stale_after = Duration::from_secs(7200);
    settings.bots.reconcile_interval = Duration::from_secs(3600);
    settings.bots.dedup_capacity =
        std::num::NonZeroU32::new(1_000_000).unwrap_or(std::num::NonZeroU32::MIN);
    let db = db::connect(&settings.database).await?;
    db::migrate(&db).await?;
    let sqlite = url.starts_with("sqlite");
    let kind = if sqlite { "SQLite" } else { "PostgreSQL" };
    println!(
        "Flow HQ bench on {kind}: {} bots, {} messages",
        args.tenants, args.messages
    );

    let tenants = seed(&db, args.tenants, crate::services::plans::DEFAULT_PLAN)
        .await
        .context("seeding tenants")?;
    let listing = list_timings(&db).await?;

    let sandbox = Arc::new(SandboxHub::default());
    let writers = db::connect_log_writer(&settings.database).await?;
    let master_key = MasterKey::generate();
    let cloud = Arc::new(CloudHub::new(
        db.clone(),
        master_key.clone(),
        settings.cloud_api.clone(),
    )?);
    let registry = BotRegistry::new(
        db.clone(),
        writers.clone(),
        settings.bots.clone(),
        TransportHubs {
            sandbox: sandbox.clone(),
            cloud,
            whatsapp_web: settings.whatsapp_web.clone(),
            master_key,
            factory: None,
            notifier: crate::services::notifications::Notifier::disabled(),
            ai: None,
        },
    );
    let n = tenants.len();
    // Two waves: the first 10 % also warms what every process pays once
    // (pool connections, SQLite page caches, allocator arenas); RSS per bot
    // is measured over the second wave.
    let warm = (n / 10).max(1).min(n);
    let started_at = Instant::now();
    let wave = |from: usize, to: usize| {
        for tenant in &tenants[from..to] {
            registry.start(&BotIntent {
                tenant: *tenant,
                desired: DesiredState::Running,
                version: 0,
                restart_generation: 0,
            });
        }
    };
    let wait_connected = |count: usize| {
        let registry = registry.clone();
        async move {
            while registry.deps().connected.load(Ordering::Relaxed) < count {
                if started_at.elapsed() > Duration::from_secs(120) {
                    anyhow::bail!("bots did not all connect within 120 s");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            anyhow::Ok(())
        }
    };
    wave(0, warm);
    wait_connected(warm).await?;
    let first_wave = started_at.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = rss_bytes().unwrap_or(0);
    let second = Instant::now();
    wave(warm, n);
    wait_connected(n).await?;
    let start_time = first_wave + second.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_after = rss_bytes().unwrap_or(0);
    let per_bot = rss_after.saturating_sub(rss_before) / (n - warm).max(1) as u64;

    // Heartbeat: one ping round, then the recording tick.
    registry.heartbeat().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tick = registry.heartbeat().await?;

    // The ceiling, measured just before the pipeline runs on the same table,
    // through the log writer's own connections while the bots are idle.
    let raw = raw_insert_rate(
        &writers,
        &tenants,
        args.raw_rows,
        settings.bots.log_batch_size.get(),
    )
    .await?;
    let throughput = drive(&registry, &sandbox, &tenants, args).await?;
    let commits_before = registry.writer().stats().commit_histogram();
    let (p50, p99, offered) = latency(&registry, &sandbox, &tenants, args).await?;
    let commits = histogram_since(
        &commits_before,
        &registry.writer().stats().commit_histogram(),
    );
    let write_backs = registry
        .writer()
        .stats()
        .write_backs
        .load(Ordering::Relaxed);
    let stop_started = Instant::now();
    registry.shutdown().await;
    let stop_time = stop_started.elapsed();
    let still_running = worker_process::Entity::find()
        .filter(worker_process::Column::Status.eq(WorkerStatus::Running))
        .count(&db)
        .await?;
    let inbox_figures = match tenants.first() {
        Some(tenant) if args.inbox_messages > 0 => {
            Some(inbox::run(&db, *tenant, args.inbox_conversations, args.inbox_messages).await?)
        }
        _ => None,
    };
    db.close().await?;

    println!();
    line(
        "bots started (all linked)",
        format!("{n}"),
        ">= 10000",
        n >= 10_000,
    );
    line(
        "time to start all bots",
        format!("{:.2} s", start_time.as_secs_f64()),
        "<= 5 s",
        start_time <= Duration::from_secs(5),
    );
    line(
        "RSS per idle bot",
        format!("{:.1} KB", per_bot as f64 / 1024.0),
        "<= 16 KB",
        per_bot <= 16 * 1024,
    );
    line(
        "DB statements per heartbeat tick",
        format!("{} for {} bots", tick.statements, tick.recorded),
        "O(1)",
        tick.statements == 1 && tick.recorded == n as u64,
    );
    line(
        "end-to-end messages/s",
        format!("{:.0} msg/s", throughput.messages_per_s),
        ">= 20000",
        throughput.messages_per_s >= 20_000.0,
    );
    figure(
        "  message_log rows/s in that run",
        format!("{:.0} rows/s", throughput.rows_per_s),
    );
    figure(
        &format!(
            "  log commits in that run (batch size {})",
            settings.bots.log_batch_size
        ),
        format!(
            "{}, mean {:.0} ops",
            throughput.batches, throughput.ops_per_batch
        ),
    );
    let busy: u64 = throughput.phases.iter().sum();
    figure(
        "  writer busy in that run (all its connections)",
        format!(
            "{:.0} % of {:.2} s",
            busy as f64 / 1e4 / throughput.seconds,
            throughput.seconds
        ),
    );
    for (phase, micros) in crate::services::runtime::log_batch::PHASES
        .iter()
        .zip(throughput.phases)
    {
        figure(
            &format!("    {phase}"),
            format!("{:.0} %", micros as f64 * 100.0 / busy.max(1) as f64),
        );
    }
    figure(
        &format!(
            "raw batched insert rate ({} connection{})",
            writers.parallel,
            if writers.parallel == 1 { "" } else { "s" }
        ),
        format!("{raw:.0} rows/s"),
    );
    let share = throughput.rows_per_s / raw * 100.0;
    line(
        "end-to-end rows/s vs raw insert rate",
        format!("{share:.0} %"),
        ">= 50 %",
        share >= 50.0,
    );
    figure(
        &format!("latency p50 at {offered:.0} msg/s offered"),
        format!("{:.1} ms", p50.as_secs_f64() * 1000.0),
    );
    line(
        &format!("latency p99 at {offered:.0} msg/s offered"),
        format!("{:.1} ms", p99.as_secs_f64() * 1000.0),
        "<= 50 ms",
        p99 <= Duration::from_millis(50),
    );
    figure(
        "  log commits in that run: p50 / p99 / slowest",
        format!(
            "<= {} / {} / {} ms",
            bucket_ms(&commits, 0.50),
            bucket_ms(&commits, 0.99),
            bucket_ms(&commits, 1.0)
        ),
    );
    if sqlite {
        figure(
            "  checkpoints written back to disk early",
            format!("{write_backs}"),
        );
    }
    line(
        "shutdown: time to stop every bot",
        format!("{:.2} s", stop_time.as_secs_f64()),
        &format!("< {:?} (drain timeout)", settings.bots.drain_timeout),
        stop_time < settings.bots.drain_timeout,
    );
    line(
        "  bots still recorded RUNNING after it",
        format!("{still_running}"),
        "0",
        still_running == 0,
    );
    for (what, took) in &listing {
        line(
            &format!("admin tenant list ({n} tenants): {what}"),
            format!("{:.1} ms", took.as_secs_f64() * 1000.0),
            "<= 50 ms",
            *took <= Duration::from_millis(50),
        );
    }
    if let Some(figures) = &inbox_figures {
        figure(
            &format!(
                "inbox data: {} conversations, {} messages, seeded in",
                args.inbox_conversations, args.inbox_messages
            ),
            format!("{:.0} s", figures.seeded_in.as_secs_f64()),
        );
        for (what, took) in &figures.timings {
            line(
                what,
                format!("{:.1} ms", took.as_secs_f64() * 1000.0),
                "<= 50 ms",
                *took <= Duration::from_millis(50),
            );
        }
    }
    if args.reply_iterations > 0 {
        let figures = replies::run(args.reply_faq, args.reply_services, args.reply_iterations)?;
        let what = format!(
            "reply engine, {} FAQ + {} services",
            args.reply_faq, args.reply_services
        );
        figure(
            &format!("{what}: compiled in"),
            format!("{:.1} ms", figures.compile.as_secs_f64() * 1000.0),
        );
        line(
            &format!("{what}: mean per message"),
            format!("{:.1} µs", figures.per_message.as_secs_f64() * 1e6),
            "<= 50 µs",
            figures.per_message <= Duration::from_micros(50),
        );
        figure(
            &format!("{what}: p99 per message"),
            format!("{:.1} µs", figures.p99.as_secs_f64() * 1e6),
        );
    }
    println!(
        "\n(end to end = inbound persisted → reply stored SENDING with the ANSWERED mark → sent by the sandbox → SENT committed; rate limits lifted, no typing delay)"
    );
    Ok(())
}

/// The commits counted between two readings of the writer's histogram.
fn histogram_since(before: &[u64], after: &[u64]) -> Vec<u64> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// The upper bound, in ms, of the histogram bucket holding quantile `q`.
fn bucket_ms(buckets: &[u64], q: f64) -> String {
    let total: u64 = buckets.iter().sum();
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            let upper_us = 1u64 << (i + 1);
            return format!("{:.1}", upper_us as f64 / 1000.0);
        }
    }
    "-".to_owned()
}

/// Inserts `n` ACTIVE tenants on `plan` whose sandbox is linked and whose
/// bot should run, with every row a real tenant has, in large transactions.
async fn seed(db: &DatabaseConnection, n: u32, plan: &str) -> anyhow::Result<Vec<TenantId>> {
    let now = Utc::now();
    let hours = BusinessHours::parse_json(&json!({
        "mon": {"open": "00:00", "close": "23:59"}, "tue": {"open": "00:00", "close": "23:59"},
        "wed": {"open": "00:00", "close": "23:59"}, "thu": {"open": "00:00", "close": "23:59"},
        "fri": {"open": "00:00", "close": "23:59"}, "sat": {"open": "00:00", "close": "23:59"},
        "sun": {"open": "00:00", "close": "23:59"}
    }))
    .map_err(anyhow::Error::msg)?
    .to_json();
    let ids: Vec<TenantId> = (0..n).map(|_| TenantId::new_random()).collect();
    for (chunk_no, chunk) in ids.chunks(500).enumerate() {
        let txn = crate::db::begin_write(db).await?;
        let base = chunk_no * 500;
        tenant::Entity::insert_many(chunk.iter().enumerate().map(|(i, id)| tenant::ActiveModel {
            id: Set((*id).into()),
            name: Set(format!("Bench tenant {}", base + i)),
            phone_number: Set(Some(format!("+4930{:09}", base + i))),
            status: Set(TenantStatus::Active),
            plan: Set(plan.to_owned()),
            paused_before_error: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        }))
        .exec_without_returning(&txn)
        .await?;
        tenant_config::Entity::insert_many(chunk.iter().map(|id| tenant_config::ActiveModel {
            tenant_id: Set((*id).into()),
            template_type: Set(TemplateType::Support),
            business_name: Set("Bench".into()),
            language: Set("en".into()),
            timezone: Set("UTC".into()),
            hours: Set(hours.clone()),
            welcome_message: Set(
                "Welcome to Bench! Ask about opening hours, prices or a person.".into(),
            ),
            auto_reply: Set(true),
            response_delay_ms: Set(0),
            max_message_length: Set(4096),
            transport: Set(TransportKind::Sandbox),
            rate_limit_per_minute: Set(None),
            chat_rate_limit_per_minute: Set(None),
            human_idle_timeout_minutes: Set(crate::domain::handoff::DEFAULT_HUMAN_IDLE_MINUTES),
            ai_monthly_tokens: Set(None),
            ai_budget_noticed_month: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }))
        .exec_without_returning(&txn)
        .await?;
        whatsapp_session::Entity::insert_many(chunk.iter().enumerate().map(|(i, id)| {
            whatsapp_session::ActiveModel {
                tenant_id: Set((*id).into()),
                state: Set(SessionState::Connected),
                last_qr: Set(None),
                qr_expires_at: Set(None),
                linked_phone: Set(Some(format!("+4930{:09}", base + i))),
                pairing_phone: Set(None),
                pairing_code: Set(None),
                last_seen_at: Set(Some(now)),
                offline_reason: Set(None),
                session_data: Set(Some(
                    json!({ "linked_phone": format!("+4930{:09}", base + i) }),
                )),
                updated_at: Set(now),
            }
        }))
        .exec_without_returning(&txn)
        .await?;
        worker_process::Entity::insert_many(chunk.iter().map(|id| worker_process::ActiveModel {
            tenant_id: Set((*id).into()),
            desired_state: Set(DesiredState::Running),
            status: Set(WorkerStatus::Stopped),
            restart_count: Set(0),
            last_error: Set(None),
            last_heartbeat_at: Set(None),
            started_at: Set(None),
            owner_node: Set(None),
            lease_expires_at: Set(None),
            intent_version: Set(0),
            restart_generation: Set(0),
            updated_at: Set(now),
        }))
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
    }
    Ok(ids)
}

/// The admin tenant list over all seeded tenants: the first page, a later
/// page, a text search and a status filter (each the median of 5 runs).
async fn list_timings(db: &DatabaseConnection) -> anyhow::Result<Vec<(&'static str, Duration)>> {
    use crate::services::PageRequest;
    use crate::services::tenants::{TenantFilter, list};
    let cases: [(&str, TenantFilter, u64); 4] = [
        ("first page", TenantFilter::default(), 1),
        ("page 200", TenantFilter::default(), 200),
        (
            "search \"tenant 77\"",
            TenantFilter {
                q: Some("tenant 77".into()),
                status: None,
            },
            1,
        ),
        (
            "status filter",
            TenantFilter {
                q: None,
                status: Some(TenantStatus::Active),
            },
            3,
        ),
    ];
    let mut out = Vec::new();
    for (what, filter, page) in cases {
        let mut runs = Vec::new();
        for _ in 0..5 {
            let begin = Instant::now();
            list(db, &filter, PageRequest { page, per_page: 25 })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            runs.push(begin.elapsed());
        }
        runs.sort();
        out.push((what, runs[2]));
    }
    Ok(out)
}

/// Delivers a message, waiting while the tenant's inbox is full.
async fn deliver(
    sandbox: &SandboxHub,
    tenant: TenantId,
    message: InboundMessage,
) -> anyhow::Result<()> {
    loop {
        match sandbox.inbound(tenant, message.clone()) {
            Ok(()) => return Ok(()),
            Err(SandboxError::InboxFull) => tokio::task::yield_now().await,
            Err(err) => anyhow::bail!("delivering to {tenant}: {err}"),
        }
    }
}

struct Throughput {
    messages_per_s: f64,
    rows_per_s: f64,
    /// Log writer commits during the run, and their mean size in
    /// operations (rows and status updates).
    batches: u64,
    ops_per_batch: f64,
    /// The run's length, and the writer's time in each phase of its
    /// batches during it (summed over its connections).
    seconds: f64,
    phases: crate::services::runtime::log_batch::PhaseMicros,
}

/// Waits until `answered_target` messages are ANSWERED (their replies
/// stored) and every stored reply is SENT: then every message so far went
/// all the way through.
async fn wait_for_answers(
    registry: &BotRegistry,
    answered_target: u64,
    limit: Duration,
) -> anyhow::Result<()> {
    let stats = registry.writer().stats();
    let begin = Instant::now();
    loop {
        let answered = stats.answered.load(Ordering::Relaxed);
        let (stored, sent) = (
            stats.outbound.load(Ordering::Relaxed),
            stats.sent.load(Ordering::Relaxed),
        );
        if answered >= answered_target && sent >= stored {
            return Ok(());
        }
        if begin.elapsed() > limit {
            anyhow::bail!(
                "only {answered} of {answered_target} messages answered, {sent} of {stored} replies sent after {limit:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn drive(
    registry: &BotRegistry,
    sandbox: &Arc<SandboxHub>,
    tenants: &[TenantId],
    args: &BenchArgs,
) -> anyhow::Result<Throughput> {
    let stats = registry.writer().stats();
    let (out0, st0, in0, batches0) = (
        stats.outbound.load(Ordering::Relaxed),
        stats.status_updates.load(Ordering::Relaxed),
        stats.inbound.load(Ordering::Relaxed),
        stats.batches.load(Ordering::Relaxed),
    );
    let m = u64::from(args.messages);
    let phases0 = stats.phase_totals();
    let begin = Instant::now();
    // Feed from a few tasks so the feeder is not the bottleneck.
    let feeders = 4u32;
    let mut set = tokio::task::JoinSet::new();
    for f in 0..feeders {
        let sandbox = sandbox.clone();
        let tenants = tenants.to_vec();
        let (total, chats) = (args.messages, args.chats_per_tenant.max(1));
        set.spawn(async move {
            let mut k = f;
            while k < total {
                let tenant = tenants[(k as usize) % tenants.len()];
                let chat = (k / tenants.len() as u32) % chats;
                let message = InboundMessage {
                    id: format!("tp-{k}"),
                    kind: entity::enums::MessageKind::Text,
                    from: format!("+4917{chat:09}"),
                    text: "tell me more".to_owned(),
                    at: Utc::now(),
                    contact_name: None,
                    stored: None,
                };
                deliver(&sandbox, tenant, message).await?;
                k += feeders;
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = set.join_next().await {
        result??;
    }
    let answered0 = stats.answered.load(Ordering::Relaxed);
    wait_for_answers(registry, answered0 + m, Duration::from_secs(600)).await?;
    let elapsed = begin.elapsed().as_secs_f64();
    let rows = (stats.inbound.load(Ordering::Relaxed) - in0)
        + (stats.outbound.load(Ordering::Relaxed) - out0);
    let updates = stats.status_updates.load(Ordering::Relaxed) - st0;
    let batches = stats.batches.load(Ordering::Relaxed) - batches0;
    let phases1 = stats.phase_totals();
    Ok(Throughput {
        seconds: elapsed,
        phases: std::array::from_fn(|i| phases1[i] - phases0[i]),
        messages_per_s: m as f64 / elapsed,
        rows_per_s: rows as f64 / elapsed,
        batches,
        ops_per_batch: (rows + updates) as f64 / batches.max(1) as f64,
    })
}

/// Offers `rate` messages/s for `seconds`, each from its own chat, and
/// measures inbound → reply sent.
async fn latency(
    registry: &BotRegistry,
    sandbox: &Arc<SandboxHub>,
    tenants: &[TenantId],
    args: &BenchArgs,
) -> anyhow::Result<(Duration, Duration, f64)> {
    let stats = registry.writer().stats();
    let answered0 = stats.answered.load(Ordering::Relaxed);
    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let mut sent_at: HashMap<(TenantId, String), chrono::DateTime<Utc>> =
        HashMap::with_capacity(total as usize);
    let begin = tokio::time::Instant::now();
    for k in 0..total {
        // Paced by the clock, not by sleeps adding up.
        tokio::time::sleep_until(begin + interval * k).await;
        let tenant = tenants[(k as usize * 7919) % tenants.len()];
        let chat = format!("+4916{k:09}");
        let now = Utc::now();
        sent_at.insert((tenant, chat.clone()), now);
        deliver(
            sandbox,
            tenant,
            InboundMessage {
                id: format!("lat-{k}"),
                kind: entity::enums::MessageKind::Text,
                from: chat,
                text: "tell me more".into(),
                at: now,
                contact_name: None,
                stored: None,
            },
        )
        .await?;
    }
    let offered = f64::from(total) / begin.elapsed().as_secs_f64();
    wait_for_answers(
        registry,
        answered0 + u64::from(total),
        Duration::from_secs(120),
    )
    .await?;
    let mut latencies: Vec<Duration> = Vec::with_capacity(total as usize);
    let mut seen: std::collections::HashSet<TenantId> = std::collections::HashSet::new();
    for (tenant, _) in sent_at.keys() {
        if !seen.insert(*tenant) {
            continue;
        }
        for entry in sandbox.outbox(*tenant) {
            if let Some(at) = sent_at.get(&(*tenant, entry.to.clone())) {
                latencies.push((entry.sent_at - *at).to_std().unwrap_or_default());
            }
        }
    }
    latencies.sort();
    Ok((
        quantile(&latencies, 0.50),
        quantile(&latencies, 0.99),
        offered,
    ))
}

/// Quantile `q` of `sorted` (ascending); zero when it is empty.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// message_log rows/s with plain batched inserts (`batch` rows per
/// transaction in statements of `ROWS_PER_STATEMENT`, like the log writer's
/// batches), on as many connections at once as the log writer commits on:
/// the ceiling the pipeline is compared with.
async fn raw_insert_rate(
    writers: &db::WriterPool,
    tenants: &[TenantId],
    rows: u32,
    batch: u32,
) -> anyhow::Result<f64> {
    let begin = Instant::now();
    let parallel = u32::try_from(writers.parallel.max(1))?;
    let mut set = tokio::task::JoinSet::new();
    for lane in 0..parallel {
        let db = writers.db.clone();
        let tenants = tenants.to_vec();
        set.spawn(async move {
            // Lane `lane` writes every `parallel`-th batch.
            let mut k = lane * batch;
            while k < rows {
                let end = (k + batch).min(rows);
                insert_raw(&db, &tenants, k..end).await?;
                k += parallel * batch;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(f64::from(rows) / begin.elapsed().as_secs_f64())
}

async fn insert_raw(
    db: &DatabaseConnection,
    tenants: &[TenantId],
    rows: std::ops::Range<u32>,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let per_statement = u32::try_from(crate::services::runtime::log_batch::ROWS_PER_STATEMENT)?;
    let txn = crate::db::begin_write(db).await?;
    let mut first = rows.start;
    while first < rows.end {
        let last = (first + per_statement).min(rows.end);
        let chunk = (first..last).map(|i| message_log::ActiveModel {
            tenant_id: Set(tenants[i as usize % tenants.len()].into()),
            direction: Set(Direction::In),
            chat_id: Set(format!("+4915{i:09}")),
            sender: Set(format!("+4915{i:09}")),
            recipient: Set("bot".into()),
            text: Set("tell me more".into()),
            wa_message_id: Set(Some(format!("raw-{i}"))),
            status: Set(MessageStatus::Received),
            error: Set(None),
            created_at: Set(now),
            ..Default::default()
        });
        message_log::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
        first = last;
    }
    txn.commit().await?;
    Ok(())
}
