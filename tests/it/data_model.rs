//! The schema's promises: cascades and the message_log dedup index, checked
//! through the entities on whichever backend the tests run on.

use chrono::Utc;
use entity::enums::*;
use entity::{
    admin_account, audit_log, conversation, message_log, setup_request, tenant, tenant_config,
    user, whatsapp_session, worker_process,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::spawn_app;

async fn insert_tenant_with_every_row(db: &DatabaseConnection, phone: &str) -> Uuid {
    let now = Utc::now();
    let id = Uuid::new_v4();
    tenant::ActiveModel {
        id: Set(id),
        name: Set(format!("Tenant {phone}")),
        phone_number: Set(Some(phone.to_owned())),
        status: Set(TenantStatus::New),
        plan: Set("STARTER".to_owned()),
        paused_before_error: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    tenant_config::ActiveModel {
        tenant_id: Set(id),
        template_type: Set(TemplateType::Booking),
        business_name: Set("Salon".into()),
        language: Set("en".into()),
        timezone: Set("Europe/Berlin".into()),
        hours: Set(json!({})),
        welcome_message: Set("Hi".into()),
        auto_reply: Set(true),
        response_delay_ms: Set(500),
        max_message_length: Set(4096),
        transport: Set(TransportKind::Sandbox),
        rate_limit_per_minute: Set(None),
        chat_rate_limit_per_minute: Set(None),
        human_idle_timeout_minutes: Set(720),
        ai_monthly_tokens: Set(None),
        ai_budget_noticed_month: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    whatsapp_session::ActiveModel {
        tenant_id: Set(id),
        state: Set(SessionState::Disconnected),
        last_qr: Set(None),
        qr_expires_at: Set(None),
        linked_phone: Set(None),
        pairing_phone: Set(None),
        pairing_code: Set(None),
        last_seen_at: Set(None),
        offline_reason: Set(None),
        session_data: Set(Some(json!({"linked": false}))),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    worker_process::ActiveModel {
        tenant_id: Set(id),
        desired_state: Set(DesiredState::Stopped),
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
    }
    .insert(db)
    .await
    .unwrap();
    let user_id = Uuid::new_v4();
    user::ActiveModel {
        id: Set(user_id),
        email: Set(format!("owner-{id}@example.com")),
        google_subject: Set(Some(format!("sub-{id}"))),
        name: Set("Owner".into()),
        role: Set(UserRole::Owner),
        tenant_id: Set(id),
        created_at: Set(now),
        last_login_at: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    setup_request::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(id),
        user_id: Set(Some(user_id)),
        template_type: Set(TemplateType::Booking),
        whatsapp_number: Set(phone.to_owned()),
        business_name: Set("Salon".into()),
        language: Set("en".into()),
        timezone: Set("Europe/Berlin".into()),
        hours: Set(json!({})),
        notes: Set(None),
        status: Set(SetupRequestStatus::Submitted),
        review_note: Set(None),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    log_message(db, id, Direction::In, Some("wamid.1"))
        .await
        .unwrap();
    log_message(db, id, Direction::Out, Some("wamid.2"))
        .await
        .unwrap();
    conversation::ActiveModel {
        tenant_id: Set(id),
        chat_id: Set("+4915112345678".into()),
        contact_name: Set(Some("Ana".into())),
        first_seen_at: Set(now),
        last_in_at: Set(Some(now)),
        last_out_at: Set(None),
        last_message_at: Set(now),
        preview: Set("hello".into()),
        unread: Set(1),
        first_message_id: Set(None),
        mode: Set(ConversationMode::Bot),
        mode_reason: Set(None),
        mode_since: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    audit_log::ActiveModel {
        tenant_id: Set(Some(id)),
        actor: Set("admin".into()),
        event_type: Set("tenant.created".into()),
        payload: Set(json!({})),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    id
}

async fn log_message(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    direction: Direction,
    wa_message_id: Option<&str>,
) -> Result<message_log::Model, sea_orm::DbErr> {
    message_log::ActiveModel {
        tenant_id: Set(tenant_id),
        direction: Set(direction),
        chat_id: Set("4915112345678".into()),
        sender: Set("4915112345678".into()),
        recipient: Set("bot".into()),
        text: Set("hello".into()),
        wa_message_id: Set(wa_message_id.map(str::to_owned)),
        status: Set(MessageStatus::Received),
        error: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Rows of every tenant-owned table that belong to `tenant_id`.
async fn rows_of(db: &DatabaseConnection, tenant_id: Uuid) -> [(&'static str, usize); 9] {
    [
        (
            "tenant",
            tenant::Entity::find_by_id(tenant_id)
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "tenant_config",
            tenant_config::Entity::find_by_id(tenant_id)
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "whatsapp_session",
            whatsapp_session::Entity::find_by_id(tenant_id)
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "worker_process",
            worker_process::Entity::find_by_id(tenant_id)
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "message_log",
            message_log::Entity::find()
                .filter(message_log::Column::TenantId.eq(tenant_id))
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "conversation",
            conversation::Entity::find()
                .filter(conversation::Column::TenantId.eq(tenant_id))
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "user",
            user::Entity::find()
                .filter(user::Column::TenantId.eq(tenant_id))
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "setup_request",
            setup_request::Entity::find()
                .filter(setup_request::Column::TenantId.eq(tenant_id))
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
        (
            "audit_log",
            audit_log::Entity::find()
                .filter(audit_log::Column::TenantId.eq(tenant_id))
                .all(db)
                .await
                .unwrap()
                .len(),
        ),
    ]
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_rows_from_every_table_and_nothing_else() {
    let app = spawn_app().await;
    let db = app.db();
    let doomed = insert_tenant_with_every_row(db, "+4915100000001").await;
    let kept = insert_tenant_with_every_row(db, "+4915100000002").await;
    for (table, count) in rows_of(db, doomed).await {
        assert!(
            count > 0,
            "{table} has rows of the tenant before the delete"
        );
    }

    tenant::Entity::delete_by_id(doomed).exec(db).await.unwrap();

    for (table, count) in rows_of(db, doomed).await {
        assert_eq!(count, 0, "{table} still holds rows of the deleted tenant");
    }
    for (table, count) in rows_of(db, kept).await {
        assert!(count > 0, "{table} lost rows of the other tenant");
    }
}

#[tokio::test]
async fn message_log_refuses_a_second_row_with_the_same_tenant_direction_and_message_id() {
    let app = spawn_app().await;
    let db = app.db();
    let tenant = insert_tenant_with_every_row(db, "+4915100000003").await;
    let other = insert_tenant_with_every_row(db, "+4915100000004").await;

    log_message(db, tenant, Direction::In, Some("wamid.X"))
        .await
        .unwrap();
    let duplicate = log_message(db, tenant, Direction::In, Some("wamid.X")).await;
    assert!(
        matches!(
            duplicate.as_ref().map_err(|err| err.sql_err()),
            Err(Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
        ),
        "a repeated inbound message id must violate the unique index: {duplicate:?}"
    );

    // Same id the other way, for another tenant, or without an id: all fine.
    log_message(db, tenant, Direction::Out, Some("wamid.X"))
        .await
        .unwrap();
    log_message(db, other, Direction::In, Some("wamid.X"))
        .await
        .unwrap();
    log_message(db, tenant, Direction::In, None).await.unwrap();
    log_message(db, tenant, Direction::In, None).await.unwrap();
}

#[tokio::test]
async fn user_email_google_subject_and_tenant_phone_are_unique() {
    let app = spawn_app().await;
    let db = app.db();
    let tenant_id = insert_tenant_with_every_row(db, "+4915100000005").await;
    let existing = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await
        .unwrap()
        .unwrap();

    let clash = |email: String, subject: Option<String>| user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email),
        google_subject: Set(subject),
        name: Set("Someone".into()),
        role: Set(UserRole::Staff),
        tenant_id: Set(tenant_id),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
    };
    let same_email = clash(existing.email.clone(), None).insert(db).await;
    assert!(same_email.is_err(), "duplicate email accepted");
    let same_subject = clash("new@example.com".into(), existing.google_subject.clone())
        .insert(db)
        .await;
    assert!(same_subject.is_err(), "duplicate Google subject accepted");

    let now = Utc::now();
    let same_phone = tenant::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Copy".into()),
        phone_number: Set(Some("+4915100000005".into())),
        status: Set(TenantStatus::New),
        plan: Set("STARTER".to_owned()),
        paused_before_error: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await;
    assert!(same_phone.is_err(), "duplicate tenant phone accepted");

    let admin = |name: &str| admin_account::ActiveModel {
        id: Set(Uuid::new_v4()),
        username: Set(name.into()),
        password_hash: Set("$argon2id$placeholder".into()),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
    };
    admin("root").insert(db).await.unwrap();
    assert!(
        admin("root").insert(db).await.is_err(),
        "duplicate admin username accepted"
    );
}
