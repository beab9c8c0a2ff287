//! Use cases write rows first and the runtime converges on them: what an
//! approval or a command leaves in the database is enough for any process
//! to act on, with or without the nudge that normally follows.

use chrono::Utc;
use entity::enums::{DesiredState, Direction, TenantStatus, WorkerStatus};
use entity::{audit_log, message_log, worker_process};
use flowhq::domain::TenantId;
use flowhq::domain::bot::BotCommand;
use flowhq::services::audit::Actor;
use flowhq::services::control::{BotControl, CustomerMessage, DeliveryReport, Receipt};
use flowhq::services::setup_requests::{self, Decision};
use reqwest::StatusCode;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use crate::bots::{approved_tenant, bot, linked_tenant, wait_for_status};
use crate::helpers::{TestApp, eventually, spawn_app};

/// A runtime that never acts: what a use case leaves behind when the
/// process dies right after its transaction, before any nudge.
struct DeadRuntime;

#[async_trait::async_trait]
impl BotControl for DeadRuntime {
    async fn nudge(&self, _: TenantId) {}
    fn is_running(&self, _: TenantId) -> bool {
        false
    }
    fn send_queued(&self, _: TenantId) {}
    fn changed(&self, _: TenantId) {}
    async fn receive(
        &self,
        _: TenantId,
        _: CustomerMessage,
    ) -> Result<Receipt, flowhq::error::AppError> {
        Ok(Receipt::Stored)
    }
    async fn report_delivery(
        &self,
        _: TenantId,
        _: DeliveryReport,
    ) -> Result<(), flowhq::error::AppError> {
        Ok(())
    }
}

async fn worker(app: &TestApp, id: impl Into<Uuid>) -> worker_process::Model {
    worker_process::Entity::find_by_id(id.into())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_approval_starts_the_bot_in_its_own_transaction_so_a_crash_after_it_loses_nothing() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let request = app
        .submit_setup_request(tenant, &crate::helpers::phone(1))
        .await;

    // The approval's transaction commits; the process "dies" before the
    // runtime hears of it.
    setup_requests::decide(
        app.db(),
        &DeadRuntime,
        &Actor::Admin("admin".to_owned()),
        "admin",
        request,
        Decision::Approve,
        None,
    )
    .await
    .unwrap();
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::QrPending);
    assert_eq!(
        worker(&app, tenant).await.desired_state,
        DesiredState::Running
    );
    assert!(!app.state.bots.is_running(tenant.into()));

    // The next process start converges on the rows: the bot runs.
    let app = app.restart().await;
    assert!(app.state.bots.is_running(tenant.into()));
    let events: Vec<String> = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant))
        .order_by_asc(audit_log::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.event_type)
        .filter(|event| event.starts_with("bot.") || event.starts_with("setup_request."))
        .collect();
    assert_eq!(
        events,
        [
            "setup_request.submitted",
            "setup_request.approved",
            "bot.started"
        ]
    );
}

#[tokio::test]
async fn a_bot_restarts_when_its_restart_generation_goes_up_without_any_in_process_call() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 2).await;
    let first_start = worker(&app, id).await.started_at.unwrap();

    // Another process (or a lost nudge) wrote the intent; only the rows say so.
    worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::RestartGeneration,
            Expr::col(worker_process::Column::RestartGeneration).add(1),
        )
        .filter(worker_process::Column::TenantId.eq(id))
        .exec(app.db())
        .await
        .unwrap();
    let converged = app.registry.reconcile().await.unwrap();
    assert_eq!(converged, 1, "only the tenant whose row changed");
    eventually("the bot to run again from a new start", || async {
        let w = worker(&app, id).await;
        (w.status == WorkerStatus::Running && w.started_at > Some(first_start)).then_some(())
    })
    .await;
    // Nothing else differs now: a second pass converges nothing.
    assert_eq!(app.registry.reconcile().await.unwrap(), 0);
}

#[tokio::test]
async fn a_stop_written_to_the_rows_stops_the_bot_on_the_next_reconcile() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 3).await;
    let txn_stop = flowhq::services::runtime::worker::request(
        app.db(),
        &Actor::System,
        id.into(),
        BotCommand::Stop,
    );
    txn_stop.await.unwrap();
    assert!(app.state.bots.is_running(id.into()), "no nudge yet");
    app.registry.reconcile().await.unwrap();
    eventually("the bot to stop", || async {
        (!app.state.bots.is_running(id.into())).then_some(())
    })
    .await;
    let w = worker(&app, id).await;
    assert_eq!(w.status, WorkerStatus::Stopped);
}

#[tokio::test]
async fn each_bot_command_writes_one_audit_row() {
    let app = spawn_app().await;
    let id = approved_tenant(&app, 4).await;
    for action in ["start", "restart", "stop"] {
        let (status, body) = bot(&app, id, action).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    // Into ERROR by hand, then the only way out.
    app.set_tenant_status(id, TenantStatus::Error).await;
    let (status, body) = bot(&app, id, "force-restart").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(id))
        .filter(audit_log::Column::EventType.starts_with("bot."))
        .order_by_asc(audit_log::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    let events: Vec<&str> = rows.iter().map(|row| row.event_type.as_str()).collect();
    assert_eq!(
        events,
        [
            "bot.started",
            "bot.restarted",
            "bot.stopped",
            "bot.force_restarted"
        ]
    );
    // The ones that moved the tenant say from where to where.
    assert_eq!(rows[0].payload["from"], "APPROVED");
    assert_eq!(rows[0].payload["to"], "QR_PENDING");
    assert_eq!(rows[3].payload["from"], "ERROR");
}

#[tokio::test]
async fn a_paused_tenant_whose_bot_fails_comes_back_paused_after_a_new_link() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 5).await;
    let (status, body) = app
        .api_post(&format!("/api/admin/tenants/{id}/pause"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The phone removes the linked device: the bot stops in ERROR.
    app.registry.deps().sandbox.unlink(id.into()).unwrap();
    wait_for_status(&app, id, TenantStatus::Error).await;

    let (status, body) = bot(&app, id, "force-restart").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "QR_PENDING");
    eventually("a QR code", || async {
        let (_, qr) = app.api_get(&format!("/api/admin/tenants/{id}/qr")).await;
        (qr["state"] == "QR_READY").then_some(())
    })
    .await;
    let (status, body) = app
        .api_post(&format!("/api/admin/tenants/{id}/sandbox/scan"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_for_status(&app, id, TenantStatus::Paused).await;

    // Once back, a later failure of a tenant that is not paused is ACTIVE
    // after its link again: the memory was of this one failure only.
    let (status, _) = app
        .api_post(&format!("/api/admin/tenants/{id}/resume"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.registry.deps().sandbox.unlink(id.into()).unwrap();
    wait_for_status(&app, id, TenantStatus::Error).await;
    bot(&app, id, "force-restart").await;
    eventually("a QR code", || async {
        let (_, qr) = app.api_get(&format!("/api/admin/tenants/{id}/qr")).await;
        (qr["state"] == "QR_READY").then_some(())
    })
    .await;
    app.api_post(&format!("/api/admin/tenants/{id}/sandbox/scan"), &json!({}))
        .await;
    wait_for_status(&app, id, TenantStatus::Active).await;
}

#[tokio::test]
async fn a_sandbox_message_over_4096_characters_is_refused_by_the_json_api_as_by_the_form() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 6).await;
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({ "from": "+4917600000001", "text": "a".repeat(4097) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"]["text"], "must have at most 4096 characters");
    let (status, _) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({ "from": "+4917600000001", "text": "é".repeat(4096) }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let stored = message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::Direction.eq(Direction::In))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "the refused one was not stored");
}

#[tokio::test]
async fn a_sandbox_message_is_stored_before_the_api_acknowledges_it() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 7).await;
    let before = Utc::now();
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({ "from": "+4917600000001", "text": "hello", "id": "m-stored" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // No waiting: the 202 came after the commit.
    let row = message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(id))
        .filter(message_log::Column::WaMessageId.eq("m-stored"))
        .one(app.db())
        .await
        .unwrap()
        .expect("stored by the time the API answered");
    assert!(row.created_at >= before);
}
