//! What Flow HQ tells a tenant on its own: `bot.status_changed` for every
//! state its worker records, `usage.quota_reached` and the owners' emails
//! at 80 % and 100 % of the month's messages (once a month, even with
//! concurrent writers), and the email when the platform disables a failing
//! webhook endpoint. Real HTTP receivers on loopback (wiremock), a real
//! SMTP server (`SmtpSink`), the real app.

use std::time::Duration;

use entity::{notice, usage_month, webhook_event};
use flowhq::config::SmtpTls;
use flowhq::domain::ids::TenantId;
use flowhq::services::usage;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::bots::{approve_always_open, approved_tenant, bot, customer_writes, start_and_link};
use crate::helpers::{SmtpSink, TestApp, eventually, spawn_app, spawn_app_with};
use crate::webhooks::{endpoint, received, receiver, verify};

const CUSTOMER: &str = "+4917600000066";

/// An app mailing to `sink`, with `more` settings on top.
async fn app_mailing_to(
    sink: &SmtpSink,
    more: impl FnOnce(&mut flowhq::config::Settings),
) -> TestApp {
    let port = sink.port();
    spawn_app_with(move |settings| {
        settings.smtp.host = "127.0.0.1".to_owned();
        settings.smtp.port = port;
        settings.smtp.tls = SmtpTls::None;
        settings.smtp.from = "Flow HQ <flowhq@example.com>".to_owned();
        more(settings);
    })
    .await
}

/// This month's row of the tenant (after its first message).
async fn month_row(app: &TestApp, tenant: Uuid) -> Option<usage_month::Model> {
    usage_month::Entity::find_by_id((tenant, usage::month_key(chrono::Utc::now())))
        .one(app.db())
        .await
        .unwrap()
}

/// Sets this month's bot replies so that `messages` are used; the marks
/// (warned, quota reached) stay as they are.
async fn set_month_messages(app: &TestApp, tenant: Uuid, messages: i64) {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    match month_row(app, tenant).await {
        Some(row) => {
            let others = row.human_replies + row.api_sends;
            let mut row = row.into_active_model();
            row.bot_replies = Set(messages - others);
            row.update(app.db()).await.unwrap();
        }
        None => {
            usage_month::ActiveModel {
                tenant_id: Set(tenant),
                month: Set(usage::month_key(chrono::Utc::now())),
                inbound: Set(0),
                bot_replies: Set(messages),
                human_replies: Set(0),
                api_sends: Set(0),
                ai_tokens: Set(0),
                warned_at: Set(None),
                quota_reached_at: Set(None),
            }
            .insert(app.db())
            .await
            .unwrap();
        }
    }
}

async fn notices(app: &TestApp, tenant: Uuid, kind: &str) -> Vec<notice::Model> {
    notice::Entity::find()
        .filter(notice::Column::TenantId.eq(tenant))
        .filter(notice::Column::Kind.eq(kind))
        .all(app.db())
        .await
        .unwrap()
}

async fn queued_events(app: &TestApp, tenant: Uuid, event_type: &str) -> u64 {
    webhook_event::Entity::find()
        .filter(webhook_event::Column::TenantId.eq(tenant))
        .filter(webhook_event::Column::EventType.eq(event_type))
        .count(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn stopping_a_bot_tells_receivers_bot_status_changed_stopped_signed() {
    let app = spawn_app().await;
    let server = receiver(204).await;
    let tenant = approved_tenant(&app, 1).await;
    let (_, secret) = endpoint(
        &app,
        tenant,
        &format!("{}/hooks", server.uri()),
        &["bot.status_changed"],
    )
    .await;
    start_and_link(&app, tenant).await;
    eventually("RUNNING told", || async {
        received(&server)
            .await
            .iter()
            .any(|(_, body)| body["data"]["status"] == "RUNNING")
            .then_some(())
    })
    .await;

    let (status, body) = bot(&app, tenant, "stop").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = eventually("STOPPED told", || async {
        let got = received(&server).await;
        got.iter()
            .any(|(_, body)| body["data"]["status"] == "STOPPED")
            .then_some(got)
    })
    .await;
    for (request, body) in &got {
        verify(&secret, request);
        assert_eq!(body["type"], "bot.status_changed", "{body}");
        assert_eq!(body["tenant_id"], tenant.to_string());
    }
    let statuses: Vec<&str> = got
        .iter()
        .filter_map(|(_, body)| body["data"]["status"].as_str())
        .collect();
    assert_eq!(
        statuses.last(),
        Some(&"STOPPED"),
        "the new status comes last: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "STOPPED").count(),
        1,
        "one stop, one event: {statuses:?}"
    );
}

#[tokio::test]
async fn the_owner_is_warned_at_80_percent_and_told_at_the_limit_once_each() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let server = receiver(204).await;
    let (browser, owner) = app.owner_browser("owner@bakery.test").await;
    let tenant = owner.tenant_id.as_uuid();
    approve_always_open(&app, tenant).await;
    let (_, secret) = endpoint(
        &app,
        tenant,
        &format!("{}/hooks", server.uri()),
        &["usage.quota_reached"],
    )
    .await;
    start_and_link(&app, tenant).await;

    // The Starter plan's 1,000 messages: 799 used; the bot's answer passes 80 %.
    set_month_messages(&app, tenant, 799).await;
    customer_writes(&app, tenant, CUSTOMER, "hello", "u-1").await;
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].to, ["owner@bakery.test"]);
    assert!(
        mails[0]
            .subject()
            .contains("% of this month's messages used"),
        "{}",
        mails[0].subject()
    );
    let text = mails[0].text();
    assert!(text.contains("of the 1000 messages"), "{text}");
    assert!(text.contains("/portal/usage"), "{text}");
    let row = month_row(&app, tenant).await.unwrap();
    assert!(row.warned_at.is_some() && row.quota_reached_at.is_none());
    let page = browser.page("/portal/usage").await;
    assert!(page.contains("id=\"usage-warning\""), "{page}");

    // Another answer past 80 %: no second warning (the notice would be
    // written in the batch of the answer, which is committed by now).
    let before = row.bot_replies;
    customer_writes(&app, tenant, CUSTOMER, "and again", "u-2").await;
    eventually("the second answer counted", || async {
        (month_row(&app, tenant).await.unwrap().bot_replies > before).then_some(())
    })
    .await;
    assert_eq!(notices(&app, tenant, "usage.warning").await.len(), 1);

    // The limit: 999 used, one API send makes 1,000.
    set_month_messages(&app, tenant, 999).await;
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{tenant}/api-keys"),
            &json!({ "name": "shop", "scopes": ["messages:send"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["key"].as_str().unwrap().to_owned();
    let send = || async {
        app.client
            .post(app.url("/api/v1/messages"))
            .bearer_auth(&key)
            .json(&json!({ "to": CUSTOMER, "text": "Your order shipped" }))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(send().await, StatusCode::ACCEPTED);
    let got = eventually("usage.quota_reached delivered", || async {
        let got = received(&server).await;
        (!got.is_empty()).then_some(got)
    })
    .await;
    let (request, body) = &got[0];
    verify(&secret, request);
    assert_eq!(body["type"], "usage.quota_reached", "{body}");
    assert_eq!(body["data"]["counter"], "messages");
    assert_eq!(body["data"]["used"], 1000);
    assert_eq!(body["data"]["limit"], 1000);
    assert_eq!(body["data"]["period"], usage::month_key(chrono::Utc::now()));
    let mails = sink.wait_for(2).await;
    assert!(
        mails[1].subject().contains("used up"),
        "{}",
        mails[1].subject()
    );
    assert_eq!(mails[1].to, ["owner@bakery.test"]);

    // Refused at the limit: nothing counted, nothing told again.
    assert_eq!(send().await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(queued_events(&app, tenant, "usage.quota_reached").await, 1);
    assert_eq!(notices(&app, tenant, "usage.quota_reached").await.len(), 1);
    // The admin sees it too.
    let (_, all) = app.api_get("/api/admin/usage").await;
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tenant_id"] == json!(tenant)
                && r["quota_reached"] == true
                && r["quota_reached_at"].is_string()
                && r["warned_at"].is_string()),
        "{all}"
    );
    let (_, one) = app
        .api_get(&format!("/api/admin/tenants/{tenant}/usage"))
        .await;
    assert!(one["quota_reached_at"].is_string(), "{one}");
    let admin = app.signed_in_browser().await;
    let page = admin.page(&format!("/admin/tenants/{tenant}")).await;
    let shown = page
        .split("id=\"tenant-usage\"")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        shown.contains("1000 of 1000") && shown.contains("limit reached"),
        "the admin's tenant page: {shown}"
    );
}

#[tokio::test]
async fn concurrent_writers_reaching_the_limit_tell_it_exactly_once() {
    let app = spawn_app().await;
    let server = receiver(204).await;
    let tenant = approved_tenant(&app, 1).await;
    endpoint(
        &app,
        tenant,
        &format!("{}/hooks", server.uri()),
        &["usage.quota_reached"],
    )
    .await;
    set_month_messages(&app, tenant, 990).await;
    let writers: Vec<_> = (0..20)
        .map(|_| {
            let db = app.db().clone();
            tokio::spawn(async move {
                let txn = flowhq::db::begin_write(&db).await.unwrap();
                usage::add_one(
                    &txn,
                    TenantId::from(tenant),
                    usage::Counts {
                        api_sends: 1,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                txn.commit().await.unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let row = month_row(&app, tenant).await.unwrap();
    assert_eq!(row.bot_replies + row.human_replies + row.api_sends, 1010);
    assert!(row.quota_reached_at.is_some() && row.warned_at.is_some());
    assert_eq!(queued_events(&app, tenant, "usage.quota_reached").await, 1);
    assert_eq!(notices(&app, tenant, "usage.quota_reached").await.len(), 1);
    // The first writer past 80 % (990 was set without its mark) warned,
    // once, as well.
    assert_eq!(notices(&app, tenant, "usage.warning").await.len(), 1);
    let got = eventually("the one event delivered", || async {
        let got = received(&server).await;
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(got[0].1["data"]["limit"], 1000);
}

#[tokio::test]
async fn an_endpoint_disabled_after_failing_too_long_is_emailed_to_the_owner() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |settings| {
        settings.webhooks.disable_after = Duration::from_secs(1);
        settings.webhooks.retry_delays = vec![Duration::from_millis(1500); 5];
    })
    .await;
    let server = receiver(500).await;
    let (_browser, owner) = app.owner_browser("owner@shop.test").await;
    let tenant = owner.tenant_id.as_uuid();
    approve_always_open(&app, tenant).await;
    let url = format!("{}/hooks", server.uri());
    let (wid, _) = endpoint(&app, tenant, &url, &["bot.status_changed"]).await;
    start_and_link(&app, tenant).await;

    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].to, ["owner@shop.test"]);
    assert!(
        mails[0].subject().contains("webhook endpoint was disabled"),
        "{}",
        mails[0].subject()
    );
    let text = mails[0].text();
    assert!(text.contains(&url), "names the endpoint: {text}");
    assert!(
        text.contains("every delivery failed for 1s"),
        "says why: {text}"
    );
    assert!(text.contains("/portal/webhooks"), "{text}");
    let (status, body) = app
        .api_get(&format!("/api/admin/tenants/{tenant}/webhooks/{wid}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], false, "{body}");
    assert!(
        body["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("failed")),
        "{body}"
    );
    assert_eq!(notices(&app, tenant, "webhook.disabled").await.len(), 1);
}

/// A log writer batch can count thousands of tenants at once (10,000 bots
/// answering): the counters go in statements of bounded size. One
/// statement for all of them exceeded SQLite's 32,766 bound variables, and
/// the whole batch, messages included, was lost (found by `flowhq bench`).
#[tokio::test]
async fn a_batch_counting_thousands_of_tenants_is_written_whole() {
    use entity::tenant;
    use sea_orm::{Set, TransactionTrait};
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let ids: Vec<TenantId> = (0..5_000).map(|_| TenantId::new_random()).collect();
    for (n, chunk) in ids.chunks(500).enumerate() {
        tenant::Entity::insert_many(chunk.iter().enumerate().map(|(i, id)| tenant::ActiveModel {
            id: Set((*id).into()),
            name: Set(format!("Counted {}", n * 500 + i)),
            phone_number: Set(None),
            status: Set(entity::enums::TenantStatus::Active),
            plan: Set("STARTER".to_owned()),
            paused_before_error: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        }))
        .exec_without_returning(app.db())
        .await
        .unwrap();
    }
    let counts: std::collections::BTreeMap<TenantId, usage::Counts> = ids
        .iter()
        .map(|id| {
            let counts = usage::Counts {
                inbound: 1,
                bot_replies: 1,
                ..Default::default()
            };
            (*id, counts)
        })
        .collect();
    let txn = app.db().begin().await.unwrap();
    let totals = usage::add(&txn, now, &counts).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(totals.len(), 5_000);
    assert!(totals.iter().all(|(_, used)| *used == 1));
    let months = usage_month::Entity::find()
        .filter(usage_month::Column::Month.eq(usage::month_key(now)))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(months, 5_000);
    let days = entity::usage_day::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(days, 5_000);
}
