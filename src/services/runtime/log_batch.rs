//! The message log's write side: one batch of the log writer in ONE
//! transaction (inbound rows with durable dedup, outbound rows, status
//! updates, the bots it marks running or online), and the recovery query
//! for messages stored but never answered. Per-message writes go through
//! `flush_log_batch` only.

use chrono::{DateTime, Utc};
use entity::enums::{Direction, MessageStatus, SessionState, WorkerStatus};
use entity::{conversation, message_log, tenant, whatsapp_session, worker_process};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::conversation_batch::{self, Activity, Arrival};
use super::link::session_without_qr;

use crate::domain::ids::TenantId;

/// Which of `ids` are tenants that still exist.
pub async fn existing_tenants(
    db: &DatabaseConnection,
    ids: &[TenantId],
) -> Result<std::collections::HashSet<TenantId>, DbErr> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let rows: Vec<TenantId> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .filter(tenant::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// A stored inbound message: its row, and whether it opened its
/// conversation (the bot then greets with the welcome message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    pub first_contact: bool,
}

/// An inbound message persisted but never answered.
#[derive(Debug, Clone)]
pub struct Unanswered {
    pub stored: Stored,
    pub wa_message_id: String,
    pub chat_id: String,
    pub text: String,
    pub contact_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Inbound messages persisted but never answered (a crash or a shutdown
/// past the drain bound), oldest first: by the time the message was sent,
/// as ids follow the key order of the log writer's batches, not arrival.
pub async fn unanswered(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<Vec<Unanswered>, DbErr> {
    let rows = message_log::Entity::find()
        .find_also_related(conversation::Entity)
        .filter(message_log::Column::Status.eq(MessageStatus::Received))
        .filter(message_log::Column::TenantId.eq(tenant_id))
        .filter(message_log::Column::Direction.eq(Direction::In))
        .order_by_asc(message_log::Column::CreatedAt)
        .order_by_asc(message_log::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(row, conversation)| {
            let (first_contact, contact_name) = match conversation {
                Some(c) => (c.first_message_id == Some(row.id), c.contact_name),
                None => (false, None),
            };
            Unanswered {
                stored: Stored {
                    id: row.id,
                    first_contact,
                },
                wa_message_id: row.wa_message_id.unwrap_or_default(),
                chat_id: row.chat_id,
                text: row.text,
                contact_name,
                created_at: row.created_at,
            }
        })
        .collect())
}

/// An inbound message to persist (dedup by the unique index).
#[derive(Debug, Clone)]
pub struct InboundRow {
    pub tenant_id: TenantId,
    pub wa_message_id: String,
    pub chat_id: String,
    /// The business's number the customer wrote to ("bot" before a link).
    pub to: String,
    pub text: String,
    /// WhatsApp's push name, kept on the conversation.
    pub contact_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A sent (or failed) reply to log.
#[derive(Debug, Clone)]
pub struct OutboundRow {
    pub tenant_id: TenantId,
    pub wa_message_id: Option<String>,
    pub chat_id: String,
    pub from: String,
    pub text: String,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Bots that came up (RUNNING on `node`) or came online (session
/// CONNECTED) since the last batch: a few statements for any number of bots,
/// where starting 10,000 bots would otherwise cost 20,000 transactions.
#[derive(Debug, Clone, Default)]
pub struct WorkerMarks {
    pub node: String,
    pub running: Vec<TenantId>,
    pub online: Vec<TenantId>,
}

/// IN lists stay well under every backend's bind-parameter limit.
const IN_LIST_CHUNK: usize = 1000;

async fn mark_workers(conn: &impl ConnectionTrait, marks: &WorkerMarks) -> Result<(), DbErr> {
    let now = Utc::now();
    for chunk in marks.running.chunks(IN_LIST_CHUNK) {
        worker_process::Entity::update_many()
            .col_expr(
                worker_process::Column::Status,
                WorkerStatus::Running.to_value().into(),
            )
            .col_expr(worker_process::Column::StartedAt, Expr::value(now))
            .col_expr(worker_process::Column::LastHeartbeatAt, Expr::value(now))
            .col_expr(
                worker_process::Column::OwnerNode,
                Expr::value(marks.node.clone()),
            )
            .col_expr(worker_process::Column::UpdatedAt, Expr::value(now))
            .filter(worker_process::Column::TenantId.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    for chunk in marks.online.chunks(IN_LIST_CHUNK) {
        session_without_qr(SessionState::Connected, now)
            .col_expr(whatsapp_session::Column::LastSeenAt, Expr::value(now))
            .filter(whatsapp_session::Column::TenantId.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// The final status of an inbound row.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub id: i64,
    pub status: MessageStatus,
    pub error: Option<String>,
}

/// A delivery report for an outbound row, by its WhatsApp id.
#[derive(Debug, Clone)]
pub struct DeliveryUpdate {
    pub tenant_id: TenantId,
    pub wa_message_id: String,
    /// DELIVERED, READ or FAILED; others are ignored.
    pub status: MessageStatus,
    pub error: Option<String>,
}

/// The statuses a report may move an outbound row from: forward only
/// (SENT → DELIVERED → READ; FAILED from SENT or DELIVERED), so reports
/// arriving out of order never step back.
fn delivery_steps_from(status: MessageStatus) -> &'static [MessageStatus] {
    match status {
        MessageStatus::Delivered => &[MessageStatus::Sent],
        MessageStatus::Read => &[MessageStatus::Sent, MessageStatus::Delivered],
        MessageStatus::Failed => &[MessageStatus::Sent, MessageStatus::Delivered],
        _ => &[],
    }
}

/// Rows per INSERT: SQLite allows 32,766 bound values per statement, and
/// one size of statement is prepared once and reused.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// One batch of the log writer.
#[derive(Debug, Default)]
pub struct LogBatch {
    pub inbound: Vec<InboundRow>,
    pub outbound: Vec<OutboundRow>,
    pub updates: Vec<StatusUpdate>,
    pub deliveries: Vec<DeliveryUpdate>,
    pub marks: WorkerMarks,
}

/// Writes one batch in ONE transaction. Returns, for each inbound row in
/// order, what was stored, or `None` when it was a duplicate (already
/// stored, or repeated within the batch).
pub async fn flush_log_batch(
    db: &DatabaseConnection,
    batch: &LogBatch,
) -> Result<Vec<Option<Stored>>, DbErr> {
    let LogBatch {
        inbound,
        outbound,
        updates,
        deliveries,
        marks,
    } = batch;
    let txn = crate::db::begin_write(db).await?;
    mark_workers(&txn, marks).await?;
    // Inserted in one key order in every batch: batches committed side by
    // side (PostgreSQL) then wait for each other on a repeated message
    // instead of deadlocking. Stable, so a repeat inside the batch stays
    // behind its first occurrence.
    let mut order: Vec<usize> = (0..inbound.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&inbound[a], &inbound[b]);
        (a.tenant_id, &a.wa_message_id).cmp(&(b.tenant_id, &b.wa_message_id))
    });
    let mut ids = vec![None; inbound.len()];
    for chunk in order.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<&InboundRow> = chunk.iter().map(|&i| &inbound[i]).collect();
        for (&i, id) in chunk.iter().zip(insert_inbound(&txn, &rows).await?) {
            ids[i] = id;
        }
    }
    let arrivals: Vec<Arrival> = inbound
        .iter()
        .zip(&ids)
        .filter_map(|(row, id)| {
            id.map(|id| Arrival {
                id,
                tenant: row.tenant_id,
                chat: &row.chat_id,
                text: &row.text,
                contact_name: row.contact_name.as_deref(),
                at: row.created_at,
            })
        })
        .collect();
    let outbound_activity = outbound.iter().map(|row| {
        (
            (row.tenant_id, row.chat_id.clone()),
            Activity::outbound(&row.text, row.created_at),
        )
    });
    let opened = conversation_batch::record(
        &txn,
        &conversation_batch::fold(&arrivals, outbound_activity),
    )
    .await?;
    let stored = inbound
        .iter()
        .zip(ids)
        .map(|(row, id)| {
            id.map(|id| Stored {
                id,
                first_contact: opened
                    .get(&(row.tenant_id, row.chat_id.clone()))
                    .is_some_and(|first| *first == Some(id)),
            })
        })
        .collect();
    for rows in outbound.chunks(ROWS_PER_STATEMENT) {
        let rows = rows.iter().map(|row| message_log::ActiveModel {
            tenant_id: Set(row.tenant_id.into()),
            direction: Set(Direction::Out),
            chat_id: Set(row.chat_id.clone()),
            sender: Set(row.from.clone()),
            recipient: Set(row.chat_id.clone()),
            text: Set(row.text.clone()),
            wa_message_id: Set(row.wa_message_id.clone()),
            status: Set(row.status),
            error: Set(row.error.clone()),
            created_at: Set(row.created_at),
            ..Default::default()
        });
        // A message id the transport reported twice must not cost the
        // batch (every tenant's rows in it): the first row stands.
        message_log::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    message_log::Column::TenantId,
                    message_log::Column::Direction,
                    message_log::Column::WaMessageId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    // Usually all ANSWERED without error: one statement.
    let mut groups: Vec<(MessageStatus, &Option<String>, Vec<i64>)> = Vec::new();
    for update in updates {
        match groups
            .iter_mut()
            .find(|(s, e, _)| *s == update.status && **e == update.error)
        {
            Some((_, _, ids)) => ids.push(update.id),
            None => groups.push((update.status, &update.error, vec![update.id])),
        }
    }
    for (status, error, ids) in groups {
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            message_log::Entity::update_many()
                .col_expr(message_log::Column::Status, status.to_value().into())
                .col_expr(message_log::Column::Error, Expr::value(error.clone()))
                .filter(message_log::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    record_deliveries(&txn, deliveries).await?;
    txn.commit().await?;
    Ok(stored)
}

/// Delivery reports, one statement per (tenant, status, error): the rows of
/// a report that would step back (or an unknown id) are left alone.
async fn record_deliveries(
    conn: &impl ConnectionTrait,
    deliveries: &[DeliveryUpdate],
) -> Result<(), DbErr> {
    let mut groups: Vec<(TenantId, MessageStatus, &Option<String>, Vec<&str>)> = Vec::new();
    for report in deliveries {
        if delivery_steps_from(report.status).is_empty() {
            continue;
        }
        let key = (report.tenant_id, report.status, &report.error);
        match groups.iter_mut().find(|(t, s, e, _)| (*t, *s, *e) == key) {
            Some((_, _, _, ids)) => ids.push(&report.wa_message_id),
            None => groups.push((key.0, key.1, key.2, vec![&report.wa_message_id])),
        }
    }
    for (tenant, status, error, ids) in groups {
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            message_log::Entity::update_many()
                .col_expr(message_log::Column::Status, status.to_value().into())
                .col_expr(message_log::Column::Error, Expr::value(error.clone()))
                .filter(message_log::Column::TenantId.eq(tenant))
                .filter(message_log::Column::Direction.eq(Direction::Out))
                .filter(message_log::Column::WaMessageId.is_in(chunk.iter().copied()))
                .filter(
                    message_log::Column::Status
                        .is_in(delivery_steps_from(status).iter().map(ActiveEnum::to_value)),
                )
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

async fn insert_inbound(
    conn: &impl ConnectionTrait,
    rows: &[&InboundRow],
) -> Result<Vec<Option<i64>>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // A repeat inside the batch is a duplicate of its first occurrence.
    let mut first: std::collections::HashMap<(TenantId, &str), usize> =
        std::collections::HashMap::new();
    let mut insert = Query::insert();
    insert.into_table(message_log::Entity).columns([
        message_log::Column::TenantId,
        message_log::Column::Direction,
        message_log::Column::ChatId,
        message_log::Column::Sender,
        message_log::Column::Recipient,
        message_log::Column::Text,
        message_log::Column::WaMessageId,
        message_log::Column::Status,
        message_log::Column::CreatedAt,
    ]);
    for (i, row) in rows.iter().enumerate() {
        if first.contains_key(&(row.tenant_id, row.wa_message_id.as_str())) {
            continue;
        }
        first.insert((row.tenant_id, row.wa_message_id.as_str()), i);
        insert
            .values([
                row.tenant_id.into(),
                Direction::In.to_value().into(),
                row.chat_id.clone().into(),
                row.chat_id.clone().into(),
                row.to.clone().into(),
                row.text.clone().into(),
                row.wa_message_id.clone().into(),
                MessageStatus::Received.to_value().into(),
                row.created_at.into(),
            ])
            .map_err(|err| DbErr::Custom(err.to_string()))?;
    }
    insert
        .on_conflict(
            OnConflict::columns([
                message_log::Column::TenantId,
                message_log::Column::Direction,
                message_log::Column::WaMessageId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .returning(Query::returning().columns([
            message_log::Column::Id,
            message_log::Column::TenantId,
            message_log::Column::WaMessageId,
        ]));
    let statement = conn.get_database_backend().build(&insert);
    let inserted = conn.query_all_raw(statement).await?;
    let mut ids = vec![None; rows.len()];
    for row in inserted {
        let id: i64 = row.try_get("", "id")?;
        let tenant_id: TenantId = row.try_get("", "tenant_id")?;
        let wa: String = row.try_get("", "wa_message_id")?;
        if let Some(&i) = first.get(&(tenant_id, wa.as_str())) {
            ids[i] = Some(id);
        }
    }
    Ok(ids)
}
